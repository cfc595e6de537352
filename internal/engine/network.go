package engine

import (
	"context"
	"fmt"

	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/spec"
)

// sandboxNetwork gives a process that is not a container record (a build's
// RUN step, id a fresh random ID) the network mode asks for: "host", "none",
// "bridge" or a network name. release undoes everything it set up.
func (e *Engine) sandboxNetwork(ctx context.Context, id, mode string) (_ spec.Network, release func(), err error) {
	switch mode {
	case "host", "none":
		return spec.Network{Mode: mode}, func() {}, nil
	}
	return spec.Network{}, nil, fmt.Errorf("network %s: not available yet: %w", mode, errdefs.ErrUnavailable)
}
