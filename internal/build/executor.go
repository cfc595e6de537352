package build

import (
	"context"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth/berth/internal/image"
)

// Executor is what a build needs from the engine. Every method that
// creates an image leaves nothing behind on error: no sandbox, mount,
// snapshot or half-written image.
type Executor interface {
	// BaseImage resolves FROM (and COPY --from=IMAGE), pulling when the
	// engine can and must.
	BaseImage(ctx context.Context, ref string, o BaseOptions) (*image.Image, error)
	// Image returns the local image id, or an errdefs.ErrNotFound error:
	// the cache's check that a remembered step still exists.
	Image(id string) (*image.Image, error)
	// Commit creates a child of parent (nil: scratch) without a layer.
	Commit(ctx context.Context, parent *image.Image, c Commit) (*image.Image, error)
	// Run runs r in a throwaway sandbox on parent's rootfs and commits its
	// changes as a layer (none if it changed nothing). A non-zero exit is
	// an *ExitError and commits nothing.
	Run(ctx context.Context, parent *image.Image, r RunSpec, c Commit) (*image.Image, error)
	// Write mounts a writable layer on parent, lets fn change it, and
	// commits the changes (COPY, ADD, WORKDIR).
	Write(ctx context.Context, parent *image.Image, fn func(rootfs string) error, c Commit) (*image.Image, error)
	// Mount shows img's filesystem (nil: empty) for COPY --from until
	// release is called.
	Mount(ctx context.Context, img *image.Image) (rootfs string, release func(), err error)
}

// BaseOptions tune BaseImage.
type BaseOptions struct {
	Pull     bool   // --pull
	Platform string // FROM --platform or --platform
	Out      io.Writer
}

// Commit is the metadata of a step's image.
type Commit struct {
	Config    v1.Config
	Author    string // MAINTAINER
	CreatedBy string // the history entry, as the legacy builder writes it
	Created   time.Time
	// SourceDateEpoch clamps file mtimes in the new layer.
	SourceDateEpoch *time.Time
}

// RunSpec is one RUN step's process.
type RunSpec struct {
	ID         string // the sandbox's ID; its first 12 digits are the hostname
	Args       []string
	Env        []string
	User       string
	WorkingDir string
	Network    string   // bridge|host|none
	Volumes    []string // the image's VOLUMEs: changes below them are discarded, as in Docker
	Stdout     io.Writer
	Stderr     io.Writer
}

// ExitError is a RUN whose process exited non-zero.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return "non-zero exit" }
