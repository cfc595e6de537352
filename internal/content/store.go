package content

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/errdefs"
)

// ErrAlreadyExists is returned (wrapped) by Writer.Commit when the blob is
// already in the store. The ingest is dropped; callers that only want the
// blob to exist treat it as success. It is of the errdefs.ErrConflict class.
var ErrAlreadyExists = fmt.Errorf("already exists: %w", errdefs.ErrConflict)

// ErrCorrupt is returned (wrapped) by Verify when a blob's bytes no longer
// hash to its name (disk corruption or tampering).
var ErrCorrupt = errors.New("blob content does not match its digest")

// Info describes a committed blob.
type Info struct {
	Digest    digest.Digest
	Size      int64
	CreatedAt time.Time // commit time (the blob file's mtime)
}

// Store is a content store rooted at one directory. It holds no in-memory
// state beyond the path, so any number of Stores (in any number of processes)
// may share a directory.
type Store struct {
	dir string
}

// Open opens (creating if needed) the content store in dir.
func Open(dir string) (*Store, error) {
	for _, d := range []string{filepath.Join(dir, "blobs", "sha256"), filepath.Join(dir, "ingest")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("open content store: %w", err)
		}
	}
	return &Store{dir: dir}, nil
}

// Dir is the store's root directory.
func (s *Store) Dir() string { return s.dir }

// BlobPath is where blob d lives (whether or not it exists). Only for callers
// that need a file name (e.g. to hand a layer to another process); the file
// must be treated as read-only. The digest must be valid.
func (s *Store) BlobPath(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("content %q: %w: %v", d, errdefs.ErrInvalid, err)
	}
	return filepath.Join(s.dir, "blobs", d.Algorithm().String(), d.Encoded()), nil
}

func notFound(d digest.Digest) error {
	return fmt.Errorf("content %s: %w", d, errdefs.ErrNotFound)
}

// Info returns the size and commit time of blob d.
func (s *Store) Info(d digest.Digest) (Info, error) {
	p, err := s.BlobPath(d)
	if err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Info{}, notFound(d)
		}
		return Info{}, fmt.Errorf("content %s: %w", d, err)
	}
	return Info{Digest: d, Size: fi.Size(), CreatedAt: fi.ModTime()}, nil
}

// Exists reports whether blob d is in the store.
func (s *Store) Exists(d digest.Digest) bool {
	_, err := s.Info(d)
	return err == nil
}

// ReaderAt is an open blob. It is also an io.Reader from offset 0 and knows
// its size.
type ReaderAt interface {
	io.ReaderAt
	io.Reader
	io.Closer
	Size() int64
}

type blobReader struct {
	*io.SectionReader
	f *os.File
}

func (r *blobReader) Close() error { return r.f.Close() }

// Open opens blob d for reading.
func (s *Store) Open(d digest.Digest) (ReaderAt, error) {
	p, err := s.BlobPath(d)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, notFound(d)
		}
		return nil, fmt.Errorf("content %s: %w", d, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("content %s: %w", d, err)
	}
	return &blobReader{SectionReader: io.NewSectionReader(f, 0, fi.Size()), f: f}, nil
}

// maxReadBlob bounds ReadBlob: it is meant for manifests and configs, which
// registries cap at a few MiB; a layer read into memory by mistake would be
// a far worse failure than this error.
const maxReadBlob = 64 << 20

// ReadBlob returns the whole content of a small blob (manifest, config) and
// checks it against its digest, so a corrupt record never parses silently.
func (s *Store) ReadBlob(d digest.Digest) ([]byte, error) {
	r, err := s.Open(d)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if r.Size() > maxReadBlob {
		return nil, fmt.Errorf("content %s: %d bytes is too large to read into memory: %w", d, r.Size(), errdefs.ErrInvalid)
	}
	data := make([]byte, r.Size())
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, fmt.Errorf("content %s: read: %w", d, err)
	}
	if got := d.Algorithm().FromBytes(data); got != d {
		return nil, fmt.Errorf("content %s: %w (hashes to %s)", d, ErrCorrupt, got)
	}
	return data, nil
}

// Delete removes blob d. Deleting a missing blob is ErrNotFound.
func (s *Store) Delete(d digest.Digest) error {
	p, err := s.BlobPath(d)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return notFound(d)
		}
		return fmt.Errorf("delete content %s: %w", d, err)
	}
	return nil
}

// Walk calls fn for every committed blob, in no particular order. Files that
// are not blobs (temporary names) are skipped. fn may delete the blob it is
// given.
func (s *Store) Walk(fn func(Info) error) error {
	algs, err := os.ReadDir(filepath.Join(s.dir, "blobs"))
	if err != nil {
		return fmt.Errorf("walk content: %w", err)
	}
	for _, alg := range algs {
		if !alg.IsDir() {
			continue
		}
		dir := filepath.Join(s.dir, "blobs", alg.Name())
		ents, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("walk content: %w", err)
		}
		for _, e := range ents {
			d := digest.NewDigestFromEncoded(digest.Algorithm(alg.Name()), e.Name())
			if d.Validate() != nil || !e.Type().IsRegular() {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue // deleted under us
				}
				return fmt.Errorf("walk content: %w", err)
			}
			if err := fn(Info{Digest: d, Size: fi.Size(), CreatedAt: fi.ModTime()}); err != nil {
				return err
			}
		}
	}
	return nil
}

// List returns every committed blob, sorted by digest.
func (s *Store) List() ([]Info, error) {
	var out []Info
	err := s.Walk(func(i Info) error {
		out = append(out, i)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Digest < out[j].Digest })
	return out, err
}

// Verify re-hashes blob d and reports ErrCorrupt if it no longer matches.
func (s *Store) Verify(d digest.Digest) error {
	r, err := s.Open(d)
	if err != nil {
		return err
	}
	defer r.Close()
	v := d.Verifier()
	if _, err := io.Copy(v, r); err != nil {
		return fmt.Errorf("verify content %s: %w", d, err)
	}
	if !v.Verified() {
		return fmt.Errorf("content %s: %w", d, ErrCorrupt)
	}
	return nil
}

// WriteBlob stores data as one blob. expected may be empty (the digest is
// computed); if it is given and does not match, nothing is stored. A blob
// that already exists is success.
func (s *Store) WriteBlob(data []byte, expected digest.Digest) (digest.Digest, error) {
	d := digest.FromBytes(data)
	if expected != "" && expected != d {
		return "", fmt.Errorf("content %s: data hashes to %s: %w", expected, d, errdefs.ErrInvalid)
	}
	if s.Exists(d) {
		return d, nil
	}
	// A unique ref: the data is in memory, so there is nothing to resume,
	// and two goroutines writing the same blob must not collide on a ref.
	w, err := s.Writer(fmt.Sprintf("write-%s-%d-%d", d.Encoded(), os.Getpid(), time.Now().UnixNano()))
	if err != nil {
		return "", err
	}
	defer w.Abort()
	if _, err := w.Write(data); err != nil {
		return "", err
	}
	if err := w.Commit(int64(len(data)), d); err != nil && !errors.Is(err, ErrAlreadyExists) {
		return "", err
	}
	return d, nil
}

// Ingest copies r into the store under ref and commits it with the given
// size (0 = unknown) and digest (empty = whatever r hashes to). A resumed ref
// is restarted from scratch because r cannot be rewound. A blob that already
// exists is success. It returns the committed digest.
func (s *Store) Ingest(ref string, r io.Reader, size int64, expected digest.Digest) (digest.Digest, error) {
	if expected != "" && s.Exists(expected) {
		return expected, nil
	}
	w, err := s.Writer(ref)
	if err != nil {
		return "", err
	}
	defer w.Close()
	if err := w.Truncate(0); err != nil {
		return "", err
	}
	if _, err := io.Copy(w, r); err != nil {
		return "", fmt.Errorf("write content %s: %w", ref, err)
	}
	d := w.Digest()
	if err := w.Commit(size, expected); err != nil && !errors.Is(err, ErrAlreadyExists) {
		return "", err
	}
	return d, nil
}
