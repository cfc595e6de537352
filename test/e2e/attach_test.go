package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// `berth attach` to a detached container: its supervisor serves the output
// and (with -i) the stdin of the container on a socket; ctrl-p ctrl-q (or
// --detach-keys) ends the attach and leaves the container running.

// liveOutput collects a running command's output for polling.
type liveOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *liveOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *liveOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitOutput waits until out contains want.
func waitOutput(t *testing.T, what string, out *liveOutput, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: output %q does not contain %q", what, out.String(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exitCode waits for cmd and returns its exit status (-1: it hung).
func exitCode(t *testing.T, cmd *exec.Cmd, done <-chan error) int {
	t.Helper()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("%v: %v", cmd.Args, err)
		}
		return 0
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("%v did not exit", cmd.Args)
		return -1
	}
}

// attachPipes starts `berth attach args...` with stdin and stdout on pipes.
func attachPipes(t *testing.T, e *Env, args ...string) (stdin io.WriteCloser, out *liveOutput, cmd *exec.Cmd, done chan error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd = e.Cmd(ctx, append([]string{"attach"}, args...)...)
	out = &liveOutput{}
	cmd.Stdout, cmd.Stderr = out, out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done = make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return stdin, out, cmd, done
}

// TestAttachInteractive: `run -d -i busybox sh`, attach, talk to the shell,
// detach with ctrl-p ctrl-q (also without a terminal in berth; Docker
// honours the keys only on a tty), attach again and let the shell exit:
// attach exits with the container's code.
func TestAttachInteractive(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	name := e.Name("attach-i")
	e.RunDetached(name, "-i", img, "sh")

	stdin, out, cmd, done := attachPipes(t, e, name)
	io.WriteString(stdin, "echo hi\n")
	waitOutput(t, "attach", out, "hi\n")
	io.WriteString(stdin, "\x10\x11")
	if code := exitCode(t, cmd, done); code != 0 {
		t.Fatalf("detach: exit %d, output %q", code, out.String())
	}
	if got := e.Inspect(name, "{{.State.Running}}"); got != "true" {
		t.Fatalf("container not running after detach: %s", got)
	}

	// Output written while nobody was attached is in the log only.
	stdin, out, cmd, done = attachPipes(t, e, name)
	io.WriteString(stdin, "echo second; exit 3\n")
	if code := exitCode(t, cmd, done); code != 3 {
		t.Fatalf("attach: exit %d, want the container's 3; output %q", code, out.String())
	}
	if !strings.Contains(out.String(), "second\n") {
		t.Fatalf("attach output %q", out.String())
	}
	if got := e.Inspect(name, "{{.State.Status}} {{.State.ExitCode}}"); got != "exited 3" {
		t.Fatalf("state %s", got)
	}
	if r := e.MustRun("logs", name); r.Stdout != "hi\nsecond\n" {
		t.Fatalf("logs %q", r.Stdout)
	}
}

func TestAttachFlags(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()

	t.Run("--detach-keys", func(t *testing.T) {
		e := e.For(t)
		name := e.Name("attach-keys")
		e.RunDetached(name, "-i", img, "sh")
		stdin, out, cmd, done := attachPipes(t, e, "--detach-keys", "ctrl-a,x", name)
		// The default keys are passed to the container now; the shell
		// sees them as part of a word.
		io.WriteString(stdin, "\x10\x11echo one\n")
		waitOutput(t, "attach", out, "not found")
		io.WriteString(stdin, "echo two\n")
		waitOutput(t, "attach", out, "two\n")
		io.WriteString(stdin, "\x01x")
		if code := exitCode(t, cmd, done); code != 0 {
			t.Fatalf("detach: exit %d, output %q", code, out.String())
		}
		if got := e.Inspect(name, "{{.State.Running}}"); got != "true" {
			t.Fatalf("not running after detach: %s", got)
		}
	})

	t.Run("--no-stdin", func(t *testing.T) {
		e := e.For(t)
		name := e.Name("attach-nostdin")
		e.RunDetached(name, "-i", img, "sh", "-c", "read l; echo got $l; sleep 1; echo done")
		stdin, out, cmd, done := attachPipes(t, e, "--no-stdin", name)
		io.WriteString(stdin, "ignored\n")
		stdin.Close()
		time.Sleep(300 * time.Millisecond)
		if strings.Contains(out.String(), "got") {
			t.Fatalf("--no-stdin input reached the container: %q", out.String())
		}
		// Another client feeds it; the --no-stdin one sees the output.
		e.MustRun("exec", name, "true") // the container is up
		r := e.RunStdin("fed\n", "attach", name)
		if code := exitCode(t, cmd, done); code != 0 {
			t.Fatalf("attach --no-stdin: exit %d, output %q", code, out.String())
		}
		if !strings.Contains(out.String(), "got fed\n") || !strings.Contains(out.String(), "done\n") || r.Code != 0 {
			t.Fatalf("outputs %q and %s", out.String(), r)
		}
	})

	t.Run("invalid detach keys", func(t *testing.T) {
		e := e.For(t)
		name := e.Name("attach-badkeys")
		e.RunDetached(name, img, "sleep", "60")
		r := e.Run("attach", "--detach-keys", "ctrl-", name)
		if r.Code != 1 || !strings.Contains(r.Stderr, "Invalid detach keys (ctrl-) provided") {
			t.Fatalf("%s", r)
		}
	})
}

// TestAttachTerminal: attach on a pty to `run -d -it busybox sh` shows the
// shell's prompt, runs a command, resizes, and detaches with ctrl-p ctrl-q.
func TestAttachTerminal(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	name := e.Name("attach-t")
	e.RunDetached(name, "-it", img, "sh")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := e.Cmd(ctx, "attach", name)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	out := &liveOutput{}
	go io.Copy(out, ptmx)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	// The attach makes the shell redraw its prompt, without any input.
	waitOutput(t, "prompt", out, "/ # ")
	ptmx.Write([]byte("stty size\r"))
	waitOutput(t, "window size", out, "30 100")
	pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 120})
	time.Sleep(200 * time.Millisecond) // SIGWINCH reaches berth, then the container
	ptmx.Write([]byte("stty size\r"))
	waitOutput(t, "resized window", out, "40 120")
	ptmx.Write([]byte{0x10, 0x11})
	if code := exitCode(t, cmd, done); code != 0 {
		t.Fatalf("detach: exit %d, output %q", code, out.String())
	}
	if got := e.Inspect(name, "{{.State.Running}}"); got != "true" {
		t.Fatalf("container not running after detach: %s", got)
	}
	if r := e.MustRun("logs", name); !strings.Contains(r.Stdout, "30 100") {
		t.Fatalf("a -t container's terminal output is its log: %q", r.Stdout)
	}
}

func TestAttachRefused(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	stopped := e.Name("attach-stopped")
	e.RemoveOnCleanup(stopped)
	e.MustRun("create", "--name", stopped, img, "true")
	paused := e.Name("attach-paused")
	e.RunDetached(paused, img, "sleep", "60")
	e.MustRun("pause", paused)
	tty := e.Name("attach-tty")
	e.RunDetached(tty, "-it", img, "sh")
	cases := []struct {
		desc   string
		args   []string
		stderr string
	}{
		{"a stopped container", []string{"attach", stopped}, "You cannot attach to a stopped container, start it first\n"},
		{"a paused container", []string{"attach", paused}, "You cannot attach to a paused container, unpause it first\n"},
		{"no such container", []string{"attach", "nosuch-attach"}, "Error: No such container: nosuch-attach\n"},
		{"a -t container from a pipe", []string{"attach", tty}, "the input device is not a TTY\n"},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			r := e.For(t).RunStdin("", c.args...)
			if r.Code != 1 || r.Stderr != c.stderr {
				t.Fatalf("want exit 1 and %q:\n%s", c.stderr, r)
			}
		})
	}
	e.MustRun("unpause", paused)
}

// TestAttachSocketGoesAway: the supervisor's socket lives in the runtime
// directory only while the container runs.
func TestAttachSocketGoesAway(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	name := e.Name("attach-sock")
	id := e.RunDetached(name, img, "sleep", "60")
	sock := e.Root + "/run/attach/" + id + ".sock"
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("no attach socket while running: %v", err)
	}
	e.MustRun("stop", "-t", "0", name)
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("attach socket left after stop: %v", err)
	}
}
