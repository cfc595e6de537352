package engine

import (
	"context"
	"io"
	"os"

	"github.com/berth/berth/internal/container"
	"github.com/berth/berth/internal/root"
	"github.com/berth/berth/internal/runtime"
	"github.com/berth/berth/internal/supervisor"
)

// Supervise is the body of `berth __supervise ID`: this process becomes the
// container's owner until it has exited for good.
func (e *Engine) Supervise(ctx context.Context, id string) int {
	return supervisor.Main([]string{id}, supervisor.Config{Root: e.Root, Starter: starter{e}})
}

// HelperMain serves the helper commands a supervisor shim runs this binary
// with (`--root LIB __launch|__probe|__cleanup ID`, see the supervisor
// package): the engine's own starter does the work, outside the CLI so
// that the helpers start fast. ok is false for any other command line.
func HelperMain(args []string) (code int, ok bool) {
	return supervisor.HelperMain(args, func(r root.Root) (supervisor.Starter, error) {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		e, err := Open(r, exe)
		if err != nil {
			return nil, err
		}
		return starter{e}, nil
	})
}

// starter lets the supervisor start, probe and clean up containers without
// knowing about snapshots, specs or the runtime.
type starter struct{ e *Engine }

func (s starter) Start(ctx context.Context, c *container.Container, stdout, stderr io.Writer) (supervisor.Proc, error) {
	// A -t container gets its pty here too; its output (with the
	// terminal's \r\n) goes to the log as stdout, as in Docker.
	return s.e.launch(ctx, c, runtime.IO{Stdout: stdout, Stderr: stderr, Terminal: c.Config.Tty})
}

func (s starter) Exec(ctx context.Context, c *container.Container, args []string, out io.Writer) (int, error) {
	att, err := s.e.Exec(ctx, c.ID, ExecOptions{Cmd: args}, Stdio{Stdout: out, Stderr: out})
	if err != nil {
		return -1, err
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			att.Signal(sigkill)
		case <-done:
		}
	}()
	code, err := att.Wait()
	close(done)
	return code, err
}

func (s starter) Cleanup(ctx context.Context, c *container.Container, remove bool) error {
	return s.e.cleanup(ctx, c, remove)
}

// cleanup releases a finished container's runtime state and mounts; with
// remove (--rm) also its snapshot and anonymous volumes. The record itself
// is left to the caller (the supervisor deletes it).
func (e *Engine) cleanup(ctx context.Context, c *container.Container, remove bool) error {
	e.teardown(c)
	if !remove {
		return nil
	}
	return e.removeOwned(c, true)
}
