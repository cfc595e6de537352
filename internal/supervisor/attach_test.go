package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/berth/berth/internal/container"
	"github.com/berth/berth/internal/errdefs"
)

// ioHostStarter is hostStarter with StartIO: the "container" reads the
// supervisor's stdin pipe, or runs on a pty (creack/pty) when c.Config.Tty.
type ioHostStarter struct{ hostStarter }

func (s ioHostStarter) StartIO(ctx context.Context, c *container.Container, stdio IO) (Proc, error) {
	cmd := exec.Command(c.Path, c.Args...)
	if c.Config.Tty {
		master, slave, err := pty.Open()
		if err != nil {
			return nil, err
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
		err = cmd.Start()
		slave.Close()
		if err != nil {
			master.Close()
			return nil, err
		}
		stdio.Console(master)
		return &hostProc{cmd: cmd}, nil
	}
	if stdio.Stdin != nil {
		cmd.Stdin = stdio.Stdin
	}
	cmd.Stdout, cmd.Stderr = stdio.Stdout, stdio.Stderr
	if err := cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return nil, codeError{fmt.Errorf("exec: %q: executable file not found in $PATH", c.Path), 127}
		}
		return nil, err
	}
	return &hostProc{cmd: cmd}, nil
}

// syncBuffer is a bytes.Buffer safe for one writer and polling readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func waitContains(t *testing.T, what string, b *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q does not contain %q", what, b.String(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// superviseAsync runs the supervision of c in the background with an
// attach socket in dir; the channel yields Run's error when it is over.
func (e *env) superviseAsync(t *testing.T, c *container.Container, dir string, wait time.Duration) (ready, done chan error) {
	t.Helper()
	ready, done = make(chan error, 1), make(chan error, 1)
	over := make(chan struct{})
	go func() {
		defer close(over)
		done <- Run(context.Background(), Options{
			Store: e.store, ID: c.ID, Starter: ioHostStarter{e.starter},
			Ready: func(err error) { ready <- err }, Logf: t.Logf,
			AttachDir: dir, WaitAttach: wait,
		})
	}()
	t.Cleanup(func() {
		select {
		case <-over:
		case <-time.After(10 * time.Second):
			t.Error("supervision still running at the end of the test")
		}
	})
	return ready, done
}

func dial(t *testing.T, sock string, req AttachRequest) *AttachConn {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		a, err := DialAttach(context.Background(), sock, req)
		if err == nil {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("attach %s: %v", sock, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAttachPipe(t *testing.T) {
	tests := []struct {
		desc string
		dir  func(e *env) string
	}{
		{"socket in the runtime directory", func(e *env) string { return filepath.Join(e.root.Run, "attach") }},
		{"socket path longer than sockaddr_un", func(e *env) string {
			return filepath.Join(e.root.Run, strings.Repeat("d", 60), strings.Repeat("e", 40), "attach")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			e := newEnv(t)
			c := e.create(t, `while read l; do echo "out $l"; echo "err $l" >&2; done; exit 3`,
				func(c *container.Container) { c.Config.OpenStdin = true })
			dir := tt.dir(e)
			ready, done := e.superviseAsync(t, c, dir, 0)
			if err := <-ready; err != nil {
				t.Fatal(err)
			}
			sock := AttachSocket(dir, c.ID)

			// A first client talks to the container and detaches.
			a1 := dial(t, sock, AttachRequest{Stdin: true, Stdout: true, Stderr: true})
			if a1.TTY() || !a1.StdinAttached() {
				t.Fatalf("tty %v stdin %v", a1.TTY(), a1.StdinAttached())
			}
			pr, pw := io.Pipe()
			var out1, err1 syncBuffer
			res1 := make(chan error, 1)
			go func() { _, err := a1.Stream(context.Background(), pr, &out1, &err1); res1 <- err }()
			pw.Write([]byte("one\n"))
			waitContains(t, "stdout", &out1, "out one\n")
			waitContains(t, "stderr", &err1, "err one\n")
			a1.Close()
			if err := <-res1; !errors.Is(err, ErrAttachClosed) {
				t.Fatalf("detached stream: %v", err)
			}
			pw.Close()
			time.Sleep(100 * time.Millisecond)
			if got, _ := e.store.Load(c.ID); !got.State.Running {
				t.Fatalf("container stopped after detach: %+v", got.State)
			}

			// A second one ends the container's stdin (StdinOnce) and gets its exit code.
			a2 := dial(t, sock, AttachRequest{Stdin: true, Stdout: true, CloseStdin: true})
			var out2 syncBuffer
			code, err := a2.Stream(context.Background(), strings.NewReader("two\n"), &out2, nil)
			if err != nil || code != 3 {
				t.Fatalf("Stream = %d, %v", code, err)
			}
			if out2.String() != "out two\n" {
				t.Fatalf("second client got %q", out2.String())
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("socket left behind: %v", err)
			}
			if out, errs := e.logs(t, c.ID); out != "out one\nout two\n" || errs != "err one\nerr two\n" {
				t.Fatalf("log %q %q", out, errs)
			}
			if _, err := DialAttach(context.Background(), sock, AttachRequest{Stdout: true}); !errdefs.IsConflict(err) {
				t.Fatalf("attach after exit: %v, want conflict", err)
			}
		})
	}
}

func TestAttachTerminal(t *testing.T) {
	e := newEnv(t)
	c := e.create(t, `printf 'prompt> '; read l; echo "got $l"; stty size; exit 5`, func(c *container.Container) {
		c.Config.OpenStdin, c.Config.Tty = true, true
	})
	dir := filepath.Join(e.root.Run, "attach")
	// The supervisor holds the start until we are attached: the prompt is ours.
	ready, done := e.superviseAsync(t, c, dir, 10*time.Second)
	a := dial(t, AttachSocket(dir, c.ID), AttachRequest{Stdin: true, Stdout: true, Stderr: true})
	if !a.TTY() {
		t.Fatal("no tty")
	}
	// Asked for as the container starts: the size waits for the terminal
	// if it is not there yet.
	if err := a.Resize(Size{Width: 100, Height: 40}); err != nil {
		t.Fatal(err)
	}
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	var out syncBuffer
	type result struct {
		code int
		err  error
	}
	res := make(chan result, 1)
	go func() { code, err := a.Stream(context.Background(), pr, &out, nil); res <- result{code, err} }()
	waitContains(t, "terminal", &out, "prompt> ")
	pw.Write([]byte("hello\n"))
	r := <-res
	if r.err != nil || r.code != 5 {
		t.Fatalf("Stream = %d, %v (output %q)", r.code, r.err, out.String())
	}
	// The terminal echoes the input and turns \n into \r\n.
	for _, want := range []string{"hello\r\n", "got hello\r\n", "40 100\r\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("terminal output %q lacks %q", out.String(), want)
		}
	}
	<-done
	if logged, _ := e.logs(t, c.ID); !strings.Contains(logged, "got hello") {
		t.Fatalf("log %q", logged)
	}
}

func TestAttachRefusals(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		desc string
		sock string
	}{
		{"no socket", filepath.Join(e.root.Run, "attach", "nope.sock")},
		{"stale socket file", func() string {
			p := filepath.Join(t.TempDir(), "stale.sock")
			ln, err := listenUnix(p)
			if err != nil {
				t.Fatal(err)
			}
			ln.Close() // the file stays, nobody listens
			return p
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if _, err := DialAttach(context.Background(), tt.sock, AttachRequest{Stdout: true}); !errdefs.IsConflict(err) {
				t.Fatalf("DialAttach = %v, want conflict", err)
			}
		})
	}
}

// TestSupervisorMemoryWithAttach measures an idle supervisor that serves an
// attach socket and holds a stdin pipe, for comparison with
// TestSupervisorMemory.
func TestSupervisorMemoryWithAttach(t *testing.T) {
	e := newEnv(t)
	e.spawnEnv(t)
	t.Setenv("BERTH_TEST_IO", "1")
	c := e.create(t, "exec sleep 30", func(c *container.Container) { c.Config.OpenStdin = true })
	pid, err := Spawn(context.Background(), os.Args[0], []string{"__supervise", c.ID})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	sock := AttachSocket(filepath.Join(e.root.Run, "attach"), c.ID)
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("no attach socket after start: %v", err)
	}
	time.Sleep(1500 * time.Millisecond)
	pss, rss := smapsRollup(t, pid)
	t.Logf("idle supervisor with attach socket pid %d: Pss %d kB, Rss %d kB", pid, pss, rss)
	if pss > 8<<10 && !raceEnabled {
		t.Fatalf("idle supervisor PSS %d kB is far above the 2 MB target", pss)
	}
}
