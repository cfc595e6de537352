package buildcontext

import (
	"context"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/errdefs"
)

// LoadOptions says where the build context and the Dockerfile come from.
type LoadOptions struct {
	// Path is the CONTEXT argument: a directory, or "-" to read a tar (or a
	// bare Dockerfile, with no context) from Stdin.
	Path  string
	Stdin io.Reader
	// Dockerfile is -f: "" (CONTEXT/Dockerfile), a path relative to the
	// working directory (may lie outside the context), or "-" (Stdin).
	Dockerfile string
	// CacheDir, when set, holds the persistent stat cache (path, size,
	// mtime, ctime, inode → content hash) that makes re-hashing an unchanged
	// context cheap. It is never inside the context.
	CacheDir string
	// TempDir is where a tar context from stdin is unpacked ("" = os.TempDir).
	TempDir string
}

// Context is a loaded build context. Close removes any temp directory.
type Context struct {
	src Source
	tmp string
}

// Load resolves o into a Context and the Dockerfile's bytes.
func Load(ctx context.Context, o LoadOptions) (*Context, []byte, error) {
	return nil, nil, fmt.Errorf("build context: %w", errdefs.ErrNotImplemented)
}

// Close removes the temp directory a stdin context was unpacked into.
func (c *Context) Close() error { return nil }

// Source is the context as a COPY/ADD source, .dockerignore applied.
func (c *Context) Source() Source { return c.src }

// Source is a tree files are copied from: the build context (with its
// .dockerignore excludes) or a mounted rootfs (COPY --from).
type Source struct {
	root string
}

// DirSource is a mounted rootfs (another stage's or an image's) as a COPY
// --from source: no excludes.
func DirSource(root string) Source { return Source{root: root} }

// CopyOptions is one COPY or ADD instruction, after variable expansion.
type CopyOptions struct {
	Sources    []string
	Dest       string
	WorkingDir string
	Chown      string
	Chmod      string
	// Add turns on ADD's extras: local tar archives are extracted, URLs
	// downloaded.
	Add bool
	// Checksum is ADD --checksum (sha256:...), for URL sources.
	Checksum string
}

// Plan is a resolved COPY/ADD: what goes where, ready to digest and apply.
type Plan struct{}

// NewPlan resolves wildcards, validates the sources against Docker's rules
// and downloads URL sources.
func NewPlan(ctx context.Context, src Source, o CopyOptions) (*Plan, error) {
	return nil, fmt.Errorf("copy: %w", errdefs.ErrNotImplemented)
}

// Digest is the cache key of the plan's content.
func (p *Plan) Digest() digest.Digest { return "" }

// Describe is the "file:<hex>"/"dir:<hex>"/"multi:<hex>" form for history.
func (p *Plan) Describe() string { return "" }

// Apply copies the plan into the mounted rootfs dstRoot.
func (p *Plan) Apply(dstRoot string) error {
	return fmt.Errorf("copy: %w", errdefs.ErrNotImplemented)
}

// Close removes downloaded files.
func (p *Plan) Close() error { return nil }
