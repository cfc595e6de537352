package cli

import (
	"context"
	"errors"
	"os"
	"os/signal"

	"github.com/moby/term"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/container"
	"github.com/berth/berth/internal/engine"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/supervisor"
)

func newAttachCmd(a *app) *cobra.Command {
	var detachKeys string
	var noStdin, sigProxy bool
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, c, err := a.container(args[0])
			if err != nil {
				return err
			}
			o := engine.AttachOptions{Stdout: a.stdout, Stderr: a.stderr, DetachKeys: detachKeys}
			if !noStdin && c.Config.OpenStdin {
				o.Stdin = a.stdin
			}
			return a.attach(cmd.Context(), e, c, o, sigProxy, e.Attach)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	fl.BoolVar(&noStdin, "no-stdin", false, "Do not attach STDIN")
	fl.BoolVar(&sigProxy, "sig-proxy", true, "Proxy all received signals to the process")
	return cmd
}

// attach runs an attach session the way docker's CLI does: raw terminal
// and window size for a -t container, signals forwarded to a container
// without one, the container's exit code as ours, 0 after the detach keys.
// run is engine.Attach or engine.StartAttach.
func (a *app) attach(ctx context.Context, e *engine.Engine, c *container.Container, o engine.AttachOptions, sigProxy bool,
	run func(context.Context, string, engine.AttachOptions) (int, error)) error {
	inFd, inTerm := term.GetFdInfo(a.stdin)
	if c.Config.Tty {
		if o.Stdin != nil && !inTerm {
			return StatusError{Status: 1, Message: "the input device is not a TTY"}
		}
		if outFd, ok := term.GetFdInfo(a.stdout); ok && term.IsTerminal(outFd) {
			size := func() *supervisor.Size {
				ws, err := term.GetWinsize(outFd)
				if err != nil || ws.Width == 0 || ws.Height == 0 {
					return nil
				}
				return &supervisor.Size{Width: ws.Width, Height: ws.Height}
			}
			o.Size = size()
			winch := make(chan os.Signal, 1)
			signal.Notify(winch, unix.SIGWINCH)
			defer signal.Stop(winch)
			resize := make(chan supervisor.Size, 1)
			o.Resize = resize
			go func() {
				for range winch {
					if sz := size(); sz != nil {
						select {
						case resize <- *sz:
						default:
						}
					}
				}
			}()
		}
		if o.Stdin != nil && inTerm {
			if st, err := term.SetRawTerminal(inFd); err == nil {
				defer term.RestoreTerminal(inFd, st)
			}
		}
	}
	if sigProxy && !c.Config.Tty {
		// Signals go to the container instead of ending the attach.
		ctx = context.WithoutCancel(ctx)
		sigs := make(chan os.Signal, 8)
		signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
		defer signal.Stop(sigs)
		go func() {
			for s := range sigs {
				e.Kill(c.ID, s.(unix.Signal))
			}
		}()
	}
	code, err := run(ctx, c.ID, o)
	switch {
	case errors.Is(err, engine.ErrDetached):
		return nil
	case errors.Is(err, context.Canceled):
		return StatusError{Status: 130}
	case errdefs.IsConflict(err) || errdefs.IsInvalid(err):
		return StatusError{Status: 1, Message: userMessage(err)}
	case err != nil:
		return err
	case code != 0:
		return StatusError{Status: code}
	}
	return nil
}
