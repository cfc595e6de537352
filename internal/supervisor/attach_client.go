package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/berth/berth/internal/errdefs"
)

// WaitAttachEnv, set by SpawnWaitingForAttach, tells a new supervisor to
// hold the first start until an attach client has connected (a duration).
const WaitAttachEnv = "BERTH_SUPERVISOR_WAIT_ATTACH"

// SpawnWaitingForAttach is Spawn for `start -a`: the supervisor opens its
// attach socket and starts the container only once a client has connected
// there, or after wait, so that the client sees all of its output. The
// caller connects (DialAttach) while this call waits for the start report.
func SpawnWaitingForAttach(ctx context.Context, exe string, args []string, wait time.Duration) (int, error) {
	return spawn(ctx, exe, args, []string{WaitAttachEnv + "=" + wait.String()})
}

// waitAttachFromEnv reads and clears WaitAttachEnv.
func waitAttachFromEnv() time.Duration {
	v := os.Getenv(WaitAttachEnv)
	if v == "" {
		return 0
	}
	os.Unsetenv(WaitAttachEnv)
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0
	}
	return min(d, time.Minute)
}

// ErrAttachClosed is returned by Stream when the supervisor hung up without
// reporting an exit code (it was killed, or the supervision ended first).
var ErrAttachClosed = errors.New("attach: connection closed by the supervisor")

// AttachRequest is what a client asks of the supervisor.
type AttachRequest struct {
	Stdin, Stdout, Stderr bool
	// CloseStdin closes the container's stdin when the client's stdin
	// ends (Docker's StdinOnce); otherwise it stays open.
	CloseStdin bool
}

// AttachConn is a client's connection to a supervisor's attach socket.
type AttachConn struct {
	conn  *net.UnixConn
	tty   bool
	stdin bool
	wmu   sync.Mutex
}

// DialAttach connects to the attach socket at path (AttachSocket) and
// says hello. A socket nobody serves (the container is not running, its
// supervisor is gone) is an errdefs.ErrConflict error.
func DialAttach(ctx context.Context, path string, req AttachRequest) (*AttachConn, error) {
	conn, err := dialUnix(path)
	if err != nil {
		return nil, fmt.Errorf("attach: no supervisor listening (%v): %w", err, errdefs.ErrConflict)
	}
	deadline := time.Now().Add(10 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn.SetDeadline(deadline)
	hello := attachHello{Stdin: req.Stdin, Stdout: req.Stdout, Stderr: req.Stderr, CloseStdin: req.CloseStdin}
	if err := writeCtl(conn, ctlMsg{Hello: &hello}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("attach: send hello: %w", err)
	}
	var buf []byte
	kind, p, err := readFrame(conn, &buf)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("attach: no answer from the supervisor (%v): %w", err, errdefs.ErrConflict)
	}
	var m ctlMsg
	if kind != kindCtl || json.Unmarshal(p, &m) != nil {
		conn.Close()
		return nil, fmt.Errorf("attach: bad answer from the supervisor: %w", errdefs.ErrUnavailable)
	}
	if m.Error != "" {
		conn.Close()
		return nil, fmt.Errorf("attach: %s: %w", m.Error, errdefs.ErrConflict)
	}
	conn.SetDeadline(time.Time{})
	return &AttachConn{conn: conn, tty: m.TTY, stdin: m.Stdin}, nil
}

// TTY reports whether the container has a terminal (its output is then
// one raw stream, written to Stdout).
func (c *AttachConn) TTY() bool { return c.tty }

// StdinAttached reports whether the supervisor takes this client's input
// (the container was created with -i and the client asked for stdin).
func (c *AttachConn) StdinAttached() bool { return c.stdin }

// Close hangs up: the client detaches, the container goes on.
func (c *AttachConn) Close() error { return c.conn.Close() }

// Resize asks for a new terminal size (ignored without a terminal).
func (c *AttachConn) Resize(sz Size) error {
	return c.ctl(ctlMsg{Resize: &sz})
}

func (c *AttachConn) ctl(m ctlMsg) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return writeCtl(c.conn, m)
}

// Stream copies stdin to the container and its output to stdout and
// stderr until the container's main process exits, and returns its exit
// code. It returns early with ctx's error when ctx ends, and with the
// error of stdin's Read when that is not io.EOF (a detach key sequence);
// a connection lost without an exit report is ErrAttachClosed. The
// connection is closed when Stream returns. A goroutine blocked reading
// stdin may outlive the call.
func (c *AttachConn) Stream(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	defer c.conn.Close()
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 2)
	go func() {
		code, err := c.readOutput(stdout, stderr)
		done <- result{code, err}
	}()
	if stdin != nil && c.stdin {
		go func() {
			if err := c.copyInput(stdin); err != nil {
				done <- result{0, err}
			}
		}()
	}
	select {
	case r := <-done:
		return r.code, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (c *AttachConn) readOutput(stdout, stderr io.Writer) (int, error) {
	var buf []byte
	for {
		kind, p, err := readFrame(c.conn, &buf)
		if err != nil {
			return 0, ErrAttachClosed
		}
		switch kind {
		case kindStdout:
			if stdout != nil {
				stdout.Write(p)
			}
		case kindStderr:
			if stderr != nil {
				stderr.Write(p)
			}
		case kindCtl:
			var m ctlMsg
			if err := json.Unmarshal(p, &m); err == nil && m.Exit != nil {
				return *m.Exit, nil
			}
		}
	}
}

// copyInput sends stdin until it ends; it returns nil on EOF (after telling
// the supervisor) or on a broken connection, and stdin's own error else.
func (c *AttachConn) copyInput(stdin io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := stdin.Read(buf)
		if n > 0 {
			c.wmu.Lock()
			werr := writeFrame(c.conn, kindStdin, buf[:n])
			c.wmu.Unlock()
			if werr != nil {
				return nil
			}
		}
		if errors.Is(err, io.EOF) {
			c.ctl(ctlMsg{EOF: true})
			return nil
		}
		if err != nil {
			return err
		}
	}
}
