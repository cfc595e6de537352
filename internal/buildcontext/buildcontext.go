package buildcontext

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/errdefs"
)

// LoadOptions says where the build context and the Dockerfile come from.
type LoadOptions struct {
	// Path is the CONTEXT argument: a directory, or "-" to read a tar
	// (plain, gzip, bzip2 or xz) or a bare Dockerfile (no context) from Stdin.
	Path  string
	Stdin io.Reader
	// Dockerfile is -f: "" (CONTEXT/Dockerfile, or CONTEXT/dockerfile), a
	// path relative to the working directory that may lie outside the
	// context, or "-" (Stdin, with a directory context). With a tar
	// context it names a file inside the tar, as with Docker.
	Dockerfile string
	// CacheDir, when set, holds the persistent stat cache (path, size,
	// mtime, ctime, inode → content hash) that makes re-hashing an
	// unchanged context cheap. It must not be inside the context: nothing
	// is ever written there.
	CacheDir string
	// TempDir is where a stdin context is unpacked ("" = os.TempDir()).
	TempDir string
}

// Context is a loaded build context. Close removes any temp directory and
// saves the stat cache.
type Context struct {
	src Source
	tmp string
}

// maxDockerfile bounds a Dockerfile read into memory (Docker has no limit;
// this only stops a runaway stdin from eating the machine).
const maxDockerfile = 64 << 20

// Load resolves o into a Context and the Dockerfile's bytes. Errors use
// Docker's wording: a missing context is `unable to prepare context: path
// "X" not found`, a file given as context `unable to prepare context:
// context must be a directory: X`, a missing Dockerfile `unable to prepare
// context: unable to evaluate symlinks in Dockerfile path: lstat ...`.
func Load(ctx context.Context, o LoadOptions) (_ *Context, _ []byte, retErr error) {
	if o.Path == "" {
		return nil, nil, newClassed(errdefs.ErrInvalid, "build context: no context path given")
	}
	if o.Path == "-" && o.Dockerfile == "-" {
		return nil, nil, newClassed(errdefs.ErrInvalid, "invalid argument: can't use stdin for both build context and dockerfile")
	}
	c := &Context{}
	defer func() {
		if retErr != nil {
			c.Close()
		}
	}()
	var root string
	var df []byte
	var err error
	if o.Path == "-" {
		root, df, err = c.loadStdin(ctx, o)
	} else {
		root, df, err = loadDir(o)
	}
	if err != nil {
		return nil, nil, err
	}
	pm, err := readDockerignore(root)
	if err != nil {
		return nil, nil, err
	}
	s := &source{root: root, pm: pm, context: true}
	if o.CacheDir != "" {
		s.cache = openStatCache(o.CacheDir, root)
	}
	c.src = Source{s: s}
	return c, df, nil
}

// loadDir loads a directory context: CONTEXT must be a directory and the
// Dockerfile comes from -f, stdin or CONTEXT/Dockerfile.
func loadDir(o LoadOptions) (string, []byte, error) {
	abs, err := filepath.Abs(o.Path)
	if err != nil {
		return "", nil, fmt.Errorf("unable to prepare context: %w", err)
	}
	fi, err := os.Stat(abs)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil, withClass(errdefs.ErrNotFound, fmt.Errorf("unable to prepare context: path %q not found", o.Path))
	}
	if err != nil {
		return "", nil, fmt.Errorf("unable to prepare context: %w", err)
	}
	if !fi.IsDir() {
		return "", nil, withClass(errdefs.ErrInvalid, fmt.Errorf("unable to prepare context: context must be a directory: %s", abs))
	}
	// The context's own path may be a symlink; everything below resolves
	// in the real directory so "outside the context" means what it says.
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return "", nil, fmt.Errorf("unable to prepare context: %w", err)
	}
	if o.Dockerfile == "-" {
		if o.Stdin == nil {
			return "", nil, newClassed(errdefs.ErrInvalid, "build: Dockerfile from stdin but no stdin")
		}
		df, err := readLimited(o.Stdin)
		return abs, df, err
	}
	dfPath := o.Dockerfile
	if dfPath == "" {
		dfPath = filepath.Join(abs, "Dockerfile")
		// Docker also takes a lowercase "dockerfile", but only when
		// "Dockerfile" is absent.
		if _, err := os.Lstat(dfPath); errors.Is(err, os.ErrNotExist) {
			if _, err := os.Lstat(filepath.Join(abs, "dockerfile")); err == nil {
				dfPath = filepath.Join(abs, "dockerfile")
			}
		}
	} else if dfPath, err = filepath.Abs(dfPath); err != nil {
		return "", nil, fmt.Errorf("unable to prepare context: %w", err)
	}
	real, err := filepath.EvalSymlinks(dfPath)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) && errors.Is(err, os.ErrNotExist) {
			return "", nil, withClass(errdefs.ErrNotFound, fmt.Errorf("unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat %s: no such file or directory", pe.Path))
		}
		return "", nil, fmt.Errorf("unable to prepare context: unable to evaluate symlinks in Dockerfile path: %w", err)
	}
	f, err := os.Open(real)
	if err != nil {
		return "", nil, fmt.Errorf("unable to prepare context: %w", err)
	}
	defer f.Close()
	df, err := readLimited(f)
	return abs, df, err
}

func readLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxDockerfile+1))
	if err != nil {
		return nil, fmt.Errorf("read Dockerfile: %w", err)
	}
	if len(b) > maxDockerfile {
		return nil, withClass(errdefs.ErrInvalid, fmt.Errorf("read Dockerfile: larger than %d bytes", maxDockerfile))
	}
	return b, nil
}

// loadStdin reads "-": a tar (any compression Decompress knows) becomes a
// context unpacked into a temp dir; anything else is a bare Dockerfile and
// the context is empty, as `docker build - < Dockerfile`.
func (c *Context) loadStdin(ctx context.Context, o LoadOptions) (string, []byte, error) {
	if o.Stdin == nil {
		return "", nil, newClassed(errdefs.ErrInvalid, "build context: \"-\" but no stdin")
	}
	tmp, err := os.MkdirTemp(o.TempDir, "berth-context-")
	if err != nil {
		return "", nil, fmt.Errorf("build context: %w", err)
	}
	c.tmp = tmp
	root := filepath.Join(tmp, "context")
	if err := os.Mkdir(root, 0o755); err != nil {
		return "", nil, fmt.Errorf("build context: %w", err)
	}
	br := bufio.NewReaderSize(o.Stdin, 64<<10)
	if !isArchive(br) {
		// Docker's CLI makes a context of just this Dockerfile.
		df, err := readLimited(br)
		if err != nil {
			return "", nil, err
		}
		if err := os.WriteFile(filepath.Join(root, "Dockerfile"), df, 0o644); err != nil {
			return "", nil, fmt.Errorf("build context: %w", err)
		}
		return root, df, nil
	}
	rc, err := archive.Decompress(br)
	if err != nil {
		return "", nil, fmt.Errorf("build context from stdin: %w", err)
	}
	defer rc.Close()
	if _, err := archive.Apply(ctx, root, rc, archive.ApplyOptions{NoDevices: true}); err != nil {
		return "", nil, fmt.Errorf("build context from stdin: %w", err)
	}
	name := o.Dockerfile
	if name == "" {
		name = "Dockerfile"
		if _, err := os.Lstat(filepath.Join(root, name)); errors.Is(err, os.ErrNotExist) {
			if _, err := os.Lstat(filepath.Join(root, "dockerfile")); err == nil {
				name = "dockerfile"
			}
		}
	}
	// The Dockerfile is inside the (hostile) tar: resolve it confined.
	p, err := scopedPath(root, name)
	if err != nil {
		return "", nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return "", nil, withClass(errdefs.ErrNotFound, fmt.Errorf("unable to prepare context: Cannot locate specified Dockerfile: %s", name))
	}
	defer f.Close()
	df, err := readLimited(f)
	return root, df, err
}

// isArchive is Docker's CLI test for a stdin context (DetectArchiveReader):
// any compression magic number means an archive; otherwise the first 1024
// bytes must hold a tar header.
func isArchive(br *bufio.Reader) bool {
	head, _ := br.Peek(1024)
	if len(head) == 0 {
		return false
	}
	if archive.DetectCompression(head) != archive.Uncompressed {
		return true
	}
	_, err := tar.NewReader(bytes.NewReader(head)).Next()
	return err == nil
}

// readDockerignore parses CONTEXT/.dockerignore (absent is fine).
func readDockerignore(root string) (*patternmatcher.PatternMatcher, error) {
	f, err := os.Open(filepath.Join(root, ".dockerignore"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read .dockerignore: %w", err)
	}
	defer f.Close()
	return parseDockerignore(f)
}

func parseDockerignore(r io.Reader) (*patternmatcher.PatternMatcher, error) {
	patterns, err := ignorefile.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read .dockerignore: %w", err)
	}
	if len(patterns) == 0 {
		return nil, nil
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, withClass(errdefs.ErrInvalid, fmt.Errorf("parse .dockerignore: %v", err))
	}
	return pm, nil
}

// Close saves the stat cache and removes the temp directory a stdin
// context was unpacked into.
func (c *Context) Close() error {
	var errs []error
	if c.src.s != nil && c.src.s.cache != nil {
		errs = append(errs, c.src.s.cache.save())
	}
	if c.tmp != "" {
		errs = append(errs, os.RemoveAll(c.tmp))
		c.tmp = ""
	}
	return errors.Join(errs...)
}

// Root is the context directory (an empty temp dir for a bare Dockerfile
// on stdin).
func (c *Context) Root() string { return c.src.s.root }

// Source is the context as a COPY/ADD source, .dockerignore applied.
func (c *Context) Source() Source { return c.src }

// Excluded says whether .dockerignore excludes the context-relative path
// rel (slash-separated).
func (c *Context) Excluded(rel string) bool { return c.src.s.excluded(rel) }

// scopedPath resolves rel inside root as if root were "/", following
// symlinks but never out of root.
func scopedPath(root, rel string) (string, error) {
	p, err := scopedJoin(root, rel)
	if err != nil {
		return "", fmt.Errorf("resolve %s in %s: %w", rel, root, err)
	}
	return p, nil
}
