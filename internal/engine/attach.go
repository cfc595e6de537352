package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/moby/term"

	"github.com/berth/berth/internal/container"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/runtime"
	"github.com/berth/berth/internal/supervisor"
)

// StartIO makes starter a supervisor.IOStarter: the supervisor keeps the
// container's stdin pipe (-i) and pty master (-t) and serves `berth attach`.
func (s starter) StartIO(ctx context.Context, c *container.Container, stdio supervisor.IO) (supervisor.Proc, error) {
	rio := runtime.IO{Stdout: stdio.Stdout, Stderr: stdio.Stderr, Terminal: c.Config.Tty, Console: stdio.Console}
	if stdio.Stdin != nil { // never a typed nil in the interface
		rio.Stdin = stdio.Stdin
	}
	return s.e.launch(ctx, c, rio)
}

// DefaultDetachKeys is Docker's detach sequence.
const DefaultDetachKeys = "ctrl-p,ctrl-q"

// ErrDetached is what Attach returns when the client typed the detach keys:
// the container goes on running.
var ErrDetached = errors.New("detached from the container")

// AttachOptions are docker attach's streams and flags.
type AttachOptions struct {
	// Stdin is sent to the container's stdin if it was created with -i;
	// nil attaches no input (--no-stdin).
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// DetachKeys ends the attach without stopping the container; empty
	// means DefaultDetachKeys. Docker's format: "ctrl-p,ctrl-q", "a,b".
	DetachKeys string
	// Size is the client terminal's size for a -t container (nil: leave
	// the container's as it is); Resize brings later changes (SIGWINCH).
	Size   *supervisor.Size
	Resize <-chan supervisor.Size
	// CloseStdin closes the container's stdin when Stdin ends (Docker's
	// StdinOnce: `start -ai` of a container created with -i).
	CloseStdin bool
}

// attachDir holds the supervisors' attach sockets.
func (e *Engine) attachDir() string { return filepath.Join(e.Root.Run, "attach") }

// Attach connects to a running container's supervisor: its output to
// o.Stdout/o.Stderr (one raw stream for a -t container), o.Stdin to the
// container. It returns the container's exit code once its main process
// exits, or ErrDetached after the detach keys (the container keeps
// running), or ctx's error.
func (e *Engine) Attach(ctx context.Context, ref string, o AttachOptions) (int, error) {
	keys, err := detachKeys(o.DetachKeys)
	if err != nil {
		return 0, err
	}
	c, err := e.Container(ref)
	if err != nil {
		return 0, err
	}
	switch {
	case c.State.Paused:
		return 0, fmt.Errorf("You cannot attach to a paused container, unpause it first: %w", errdefs.ErrConflict)
	case c.State.Restarting:
		return 0, fmt.Errorf("You cannot attach to a restarting container, wait until it is running: %w", errdefs.ErrConflict)
	case !c.State.Running:
		return 0, fmt.Errorf("You cannot attach to a stopped container, start it first: %w", errdefs.ErrConflict)
	}
	conn, err := supervisor.DialAttach(ctx, supervisor.AttachSocket(e.attachDir(), c.ID), attachRequest(o))
	if err != nil {
		if errdefs.IsConflict(err) {
			// Its supervisor is gone, or the run ended meanwhile.
			return 0, fmt.Errorf("You cannot attach to a stopped container, start it first (%v): %w", err, errdefs.ErrConflict)
		}
		return 0, err
	}
	return e.stream(ctx, c.ID, conn, o, keys)
}

// StartAttach is `start -a`: it starts the created or exited container
// under a supervisor, as Start does, but attaches before the container's
// first instruction so no output is lost; detaching (the detach keys)
// leaves the container running under its supervisor. A running container
// is simply attached to.
func (e *Engine) StartAttach(ctx context.Context, ref string, o AttachOptions) (int, error) {
	keys, err := detachKeys(o.DetachKeys)
	if err != nil {
		return 0, err
	}
	c, err := e.Container(ref)
	if err != nil {
		return 0, err
	}
	if c.State.Running {
		return e.Attach(ctx, ref, o)
	}
	const wait = 10 * time.Second
	started := make(chan error, 1)
	go func() {
		_, err := supervisor.SpawnWaitingForAttach(ctx, e.Exe, []string{"--root", e.Root.Lib, "__supervise", c.ID}, wait)
		started <- err
	}()
	sock := supervisor.AttachSocket(e.attachDir(), c.ID)
	deadline := time.Now().Add(wait)
	var conn *supervisor.AttachConn
	for conn == nil {
		// The supervisor removes a stale socket before it listens; until
		// it listens, dialing fails and is retried.
		conn, err = supervisor.DialAttach(ctx, sock, attachRequest(o))
		if err == nil {
			break
		}
		select {
		case serr := <-started:
			if serr != nil {
				return 0, classifyStartError(serr)
			}
			// Started without us (we were too slow): attach to what runs.
			return e.Attach(ctx, c.ID, o)
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("container %s: attach: %w", short(c.ID), err)
		}
	}
	if err := <-started; err != nil {
		conn.Close()
		return 0, classifyStartError(err)
	}
	return e.stream(ctx, c.ID, conn, o, keys)
}

func attachRequest(o AttachOptions) supervisor.AttachRequest {
	return supervisor.AttachRequest{Stdin: o.Stdin != nil, Stdout: o.Stdout != nil, Stderr: o.Stderr != nil, CloseStdin: o.CloseStdin}
}

func detachKeys(s string) ([]byte, error) {
	if s == "" {
		s = DefaultDetachKeys
	}
	keys, err := term.ToBytes(s)
	if err != nil {
		return nil, fmt.Errorf("Invalid detach keys (%s) provided: %w", s, errdefs.ErrInvalid)
	}
	return keys, nil
}

// stream runs an attach session on conn until exit, detach or ctx.
func (e *Engine) stream(ctx context.Context, id string, conn *supervisor.AttachConn, o AttachOptions, keys []byte) (int, error) {
	var stdin io.Reader
	if o.Stdin != nil && conn.StdinAttached() {
		// The detach keys are looked for in the client's input, with or
		// without a terminal.
		stdin = term.NewEscapeProxy(o.Stdin, keys)
	}
	if conn.TTY() {
		if o.Size != nil {
			// Resize to one row more first, then to the real size: the
			// shell sees a SIGWINCH and redraws its prompt, which a
			// newly attached client would otherwise not see.
			conn.Resize(supervisor.Size{Width: o.Size.Width, Height: o.Size.Height + 1})
			conn.Resize(*o.Size)
		}
		if o.Resize != nil {
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				for {
					select {
					case sz := <-o.Resize:
						conn.Resize(sz)
					case <-stop:
						return
					}
				}
			}()
		}
	}
	code, err := conn.Stream(ctx, stdin, o.Stdout, o.Stderr)
	var esc term.EscapeError
	switch {
	case errors.As(err, &esc):
		return 0, ErrDetached
	case errors.Is(err, supervisor.ErrAttachClosed):
		// The supervisor went away without a word (killed, or its run
		// ended as we came): the record has the answer.
		return e.Wait(ctx, id)
	}
	return code, err
}
