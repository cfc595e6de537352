package imagearchive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/errdefs"
)

// Limits of a load: files beyond the memory ones are spooled to ingests
// instead; an archive beyond the others is refused.
const (
	maxEntries   = 1 << 20  // tar entries
	smallFile    = 4 << 20  // files up to this size are kept in memory...
	memBudget    = 64 << 20 // ...while the total stays under this
	maxLinkDepth = 16       // symlink/hardlink chain length
	headLen      = 8        // bytes kept for compression sniffing
)

// file is one regular file of the archive, or a link to one.
type file struct {
	name   string
	data   []byte          // the content, when kept in memory
	w      *content.Writer // else the uncommitted ingest holding it
	digest digest.Digest
	size   int64
	head   []byte
	link   string // a symlink's or hardlink's target (archive path)

	committed bool // w committed to the content store (once)
	streamed  bool // stored (blob and snapshot) while the archive was read
}

// streamFunc may take a large file as it is read (a layer whose place in
// an image is already known) instead of spooling it; it returns nil when
// it does not.
type streamFunc func(c *contents, name string, size int64, r io.Reader) (*file, error)

// contents is a whole archive read once.
type contents struct {
	files map[string]*file
	mem   int64
}

// invalid wraps an archive problem as errdefs.ErrInvalid.
func invalid(format string, a ...any) error {
	return fmt.Errorf("invalid archive: %s: %w", fmt.Sprintf(format, a...), errdefs.ErrInvalid)
}

// readArchive reads every entry of the (possibly compressed) tar stream r.
// Large files stream into ingests of cs; the caller must release them with
// close (which aborts every ingest not committed).
func readArchive(ctx context.Context, cs *content.Store, r io.Reader, stream streamFunc) (*contents, error) {
	c := &contents{files: map[string]*file{}}
	dec, err := archive.Decompress(r)
	if err != nil {
		return c, fmt.Errorf("load: %w", err)
	}
	defer dec.Close()
	cr := &countReader{r: ctxReader{ctx, dec}}
	tr := tar.NewReader(cr)
	var lastEnd int64 // where the last entry's data ends in the stream
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			// archive/tar takes an end of data right after an entry for
			// the end of the archive; a complete one has zero blocks
			// there.
			if n > 0 && cr.n <= lastEnd {
				return c, invalid("truncated (no end-of-archive marker)")
			}
			break
		}
		if err != nil {
			return c, readError(err)
		}
		lastEnd = cr.n
		switch hdr.Typeflag {
		case tar.TypeLink, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeDir, tar.TypeFifo:
		default:
			lastEnd += (hdr.Size + 511) &^ 511
		}
		if n >= maxEntries {
			return c, invalid("more than %d entries", maxEntries)
		}
		name, err := cleanName(hdr.Name)
		if err != nil {
			return c, err
		}
		if name == "" {
			continue // the root directory itself
		}
		var f *file
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			if f, err = c.readFile(cs, name, hdr.Size, tr, stream); err != nil {
				return c, err
			}
		case tar.TypeSymlink:
			if path.IsAbs(hdr.Linkname) {
				return c, invalid("symlink %s -> %s leaves the archive", name, hdr.Linkname)
			}
			target, err := cleanName(path.Join(path.Dir(name), hdr.Linkname))
			if err != nil || target == "" {
				return c, invalid("symlink %s -> %s leaves the archive", name, hdr.Linkname)
			}
			f = &file{name: name, link: target}
		case tar.TypeLink:
			target, err := cleanName(hdr.Linkname)
			if err != nil || target == "" {
				return c, invalid("hard link %s -> %s leaves the archive", name, hdr.Linkname)
			}
			f = &file{name: name, link: target}
		default:
			continue // directories, devices, fifos: nothing a loader reads
		}
		if old := c.files[name]; old != nil {
			old.abort()
			c.mem -= int64(len(old.data))
		}
		c.files[name] = f
	}
	return c, nil
}

// readError turns tar and decompression errors into messages about the
// archive.
func readError(err error) error {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("truncated (unexpected end of data)")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, tar.ErrHeader), errors.Is(err, tar.ErrFieldTooLong), errors.Is(err, tar.ErrInsecurePath):
		return invalid("%v", err)
	}
	return fmt.Errorf("invalid archive: %w", err)
}

// cleanName normalises an archive path; "" is the archive root. Absolute
// paths and paths leaving the archive are refused.
func cleanName(name string) (string, error) {
	if strings.HasPrefix(name, "/") {
		return "", invalid("absolute path %q", name)
	}
	clean := path.Clean(name)
	if clean == "." {
		return "", nil
	}
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", invalid("path %q leaves the archive", name)
	}
	return clean, nil
}

func (c *contents) readFile(cs *content.Store, name string, size int64, r io.Reader, stream streamFunc) (*file, error) {
	f := &file{name: name, size: size}
	if size <= smallFile && c.mem+size <= memBudget {
		buf := make([]byte, size)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, readError(err)
		}
		f.data, f.digest = buf, digest.FromBytes(buf)
		f.head = buf[:min(len(buf), headLen)]
		c.mem += size
		return f, nil
	}
	if stream != nil {
		if f, err := stream(c, name, size, r); f != nil || err != nil {
			return f, err
		}
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	w, err := cs.Writer("load-" + hex.EncodeToString(rnd[:]))
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	f.w = w
	h := &headWriter{}
	n, err := io.Copy(io.MultiWriter(w, h), r)
	if err != nil {
		w.Abort()
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, invalid("truncated in %s (%d of %d bytes)", name, n, size)
		}
		return nil, readError(err)
	}
	f.digest, f.head = w.Digest(), h.b
	return f, nil
}

// headWriter keeps the first headLen bytes written to it.
type headWriter struct{ b []byte }

func (h *headWriter) Write(p []byte) (int, error) {
	if need := headLen - len(h.b); need > 0 {
		h.b = append(h.b, p[:min(need, len(p))]...)
	}
	return len(p), nil
}

// lookup finds a regular file by archive path, following links inside
// the archive.
func (c *contents) lookup(name, what string) (*file, error) {
	clean, err := cleanName(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	for i := 0; i <= maxLinkDepth; i++ {
		f := c.files[clean]
		if f == nil {
			return nil, invalid("%s: %s is missing from the archive", what, name)
		}
		if f.link == "" {
			return f, nil
		}
		clean = f.link
	}
	return nil, invalid("%s: %s: too many levels of links", what, name)
}

// bytes returns a file's content, which must be in memory (metadata).
func (f *file) bytes(what string) ([]byte, error) {
	if f.w != nil || f.streamed {
		return nil, invalid("%s %s is too large (%d bytes)", what, f.name, f.size)
	}
	return f.data, nil
}

// reader reads a file kept in memory.
func (f *file) reader() io.Reader { return bytes.NewReader(f.data) }

func (f *file) abort() {
	if f.w != nil && !f.committed {
		f.w.Abort()
	}
}

// close drops every ingest that was not committed.
func (c *contents) close() {
	for _, f := range c.files {
		f.abort()
	}
}

// ctxReader stops reading when ctx is done (Ctrl-C mid-load).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
