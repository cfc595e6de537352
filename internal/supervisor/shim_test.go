package supervisor

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/container"
)

// In these tests the test process plays berth-shim: Run with a
// remoteStarter, as a child subreaper, and the test binary re-executed as
// `--root R __launch ...` plays the full berth binary (HelperMain in
// TestMain) with the host-process starter of fake_test.go. So the launch
// helper really exits and hands the "container" over, output, stdin and pty
// master really cross processes, and probes and cleanups are helpers.

// helperStarter is the Starter of a helper process.
func helperStarter() Starter {
	s := ioHostStarter{hostStarter{marks: os.Getenv("BERTH_TEST_MARKS")}}
	if p := os.Getenv("BERTH_TEST_HOLD"); p != "" {
		return holdingStarter{s, p}
	}
	return s
}

// holdingStarter leaves a listening socket open in the launch helper, as
// the networking code leaves a published port's socket: it must live as
// long as the container, in the shim.
type holdingStarter struct {
	ioHostStarter
	path string
}

var keep []*net.UnixListener

func (s holdingStarter) StartIO(ctx context.Context, c *container.Container, stdio IO) (Proc, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: s.path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(false)
	keep = append(keep, ln)
	return s.ioHostStarter.StartIO(ctx, c, stdio)
}

func (e *env) remote(t *testing.T) *remoteStarter {
	t.Helper()
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("BERTH_TEST_MARKS", e.marks)
	return &remoteStarter{exe: exe, root: e.root}
}

// superviseWith is superviseAsync with any starter.
func (e *env) superviseWith(t *testing.T, c *container.Container, st Starter, dir string) (ready, done chan error) {
	t.Helper()
	ready, done = make(chan error, 1), make(chan error, 1)
	go func() {
		done <- Run(context.Background(), Options{
			Store: e.store, ID: c.ID, Starter: st,
			Ready: func(err error) { ready <- err }, Logf: t.Logf, AttachDir: dir,
		})
	}()
	return ready, done
}

func TestShimRunsThroughHelpers(t *testing.T) {
	e := newEnv(t)
	st := e.remote(t)
	c := e.create(t, "echo hi; echo oops >&2; printf tail; exit 3", nil)
	ready, done := e.superviseWith(t, c, st, filepath.Join(e.root.Run, "attach"))
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, err := e.store.Get(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st := got.State; st.Status != container.StatusExited || st.ExitCode != 3 || st.Error != "" {
		t.Fatalf("state after exit: %+v", st)
	}
	if out, errs := e.logs(t, c.ID); out != "hi\ntail" || errs != "oops\n" {
		t.Fatalf("logs stdout %q stderr %q", out, errs)
	}
	if m := e.marksOf(c.ID); m != "cleanup remove=false\n" {
		t.Fatalf("cleanup helper calls %q", m)
	}
	if e.store.OwnerAlive(c.ID) {
		t.Fatal("owner lock still held")
	}
}

func TestShimSignalExit(t *testing.T) {
	e := newEnv(t)
	st := e.remote(t)
	c := e.create(t, "exec sleep 30", nil)
	ready, done := e.superviseWith(t, c, st, "")
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	got, _ := e.store.Load(c.ID)
	syscall.Kill(got.State.Pid, syscall.SIGTERM)
	<-done
	if got, _ := e.store.Load(c.ID); got.State.ExitCode != 128+int(syscall.SIGTERM) {
		t.Fatalf("exit code %d, want %d", got.State.ExitCode, 128+int(syscall.SIGTERM))
	}
}

func TestShimStartFailure(t *testing.T) {
	e := newEnv(t)
	st := e.remote(t)
	c := e.create(t, "", func(c *container.Container) { c.Path = "/nonexistent/cmd" })
	ready, done := e.superviseWith(t, c, st, "")
	readyErr := <-ready
	var se *StartError
	if !errors.As(readyErr, &se) || se.ExitCode() != 127 || !strings.Contains(se.Error(), "not found") {
		t.Fatalf("ready %v, want the helper's 127 start error", readyErr)
	}
	<-done
	got, _ := e.store.Load(c.ID)
	if got.State.ExitCode != 127 || got.State.Status != container.StatusCreated {
		t.Fatalf("state after failed start: %+v", got.State)
	}
}

func TestShimRestartsAndProbes(t *testing.T) {
	e := newEnv(t)
	st := e.remote(t)
	runs := filepath.Join(t.TempDir(), "runs")
	c := e.create(t, "echo run >> "+runs+"; echo run; exit 1", func(c *container.Container) {
		c.Host.RestartPolicy = container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}
	})
	ready, done := e.superviseWith(t, c, st, filepath.Join(e.root.Run, "attach"))
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	<-done
	got, _ := e.store.Load(c.ID)
	if data, _ := os.ReadFile(runs); strings.Count(string(data), "\n") != 3 || got.RestartCount != 2 || got.State.ExitCode != 1 {
		t.Fatalf("runs %q RestartCount %d exit %d; want 3 runs, 2 restarts, exit 1", data, got.RestartCount, got.State.ExitCode)
	}
	if m := e.marksOf(c.ID); m != strings.Repeat("cleanup remove=false\n", 3) {
		t.Fatalf("cleanups %q", m)
	}

	flag := filepath.Join(t.TempDir(), "healthy")
	c = e.create(t, "exec sleep 30", func(c *container.Container) {
		c.Config.Healthcheck = &v1.HealthConfig{Test: []string{"CMD-SHELL", "echo probing; test -f " + flag}, Interval: 30 * time.Millisecond, Retries: 2}
	})
	ready, done = e.superviseWith(t, c, st, "")
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	waitState := func(what string, cond func(*container.Container) bool) *container.Container {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if got, err := e.store.Load(c.ID); err == nil && cond(got) {
				return got
			}
		}
		got, _ := e.store.Load(c.ID)
		t.Fatalf("timed out waiting for %s: %+v", what, got.State)
		return nil
	}
	got = waitState("unhealthy", func(c *container.Container) bool {
		return c.State.Health != nil && c.State.Health.Status == container.HealthUnhealthy
	})
	if l := got.State.Health.Log[0]; l.ExitCode != 1 || l.Output != "probing\n" {
		t.Fatalf("probe result through the helper: %+v", l)
	}
	os.WriteFile(flag, nil, 0o600)
	got = waitState("healthy", func(c *container.Container) bool { return c.State.Health.Status == container.HealthHealthy })
	syscall.Kill(got.State.Pid, syscall.SIGKILL)
	<-done
}

func TestShimAttach(t *testing.T) {
	t.Run("pipe", func(t *testing.T) {
		e := newEnv(t)
		st := e.remote(t)
		c := e.create(t, `while read l; do echo "out $l"; echo "err $l" >&2; done; exit 3`,
			func(c *container.Container) { c.Config.OpenStdin = true })
		dir := filepath.Join(e.root.Run, "attach")
		ready, done := e.superviseWith(t, c, st, dir)
		if err := <-ready; err != nil {
			t.Fatal(err)
		}
		a := dial(t, AttachSocket(dir, c.ID), AttachRequest{Stdin: true, Stdout: true, Stderr: true, CloseStdin: true})
		var out, errb syncBuffer
		code, err := a.Stream(context.Background(), strings.NewReader("one\n"), &out, &errb)
		if err != nil || code != 3 || out.String() != "out one\n" || errb.String() != "err one\n" {
			t.Fatalf("Stream = %d, %v; out %q err %q", code, err, out.String(), errb.String())
		}
		<-done
	})
	t.Run("terminal", func(t *testing.T) {
		e := newEnv(t)
		st := e.remote(t)
		c := e.create(t, `printf 'prompt> '; read l; echo "got $l"; stty size; exit 5`, func(c *container.Container) {
			c.Config.OpenStdin, c.Config.Tty = true, true
		})
		dir := filepath.Join(e.root.Run, "attach")
		ready, done := e.superviseWith(t, c, st, dir)
		if err := <-ready; err != nil {
			t.Fatal(err)
		}
		a := dial(t, AttachSocket(dir, c.ID), AttachRequest{Stdin: true, Stdout: true})
		if !a.TTY() {
			t.Fatal("no tty")
		}
		a.Resize(Size{Width: 100, Height: 40})
		pr, pw := io.Pipe()
		defer pw.Close()
		var out syncBuffer
		res := make(chan int, 1)
		go func() { code, _ := a.Stream(context.Background(), pr, &out, nil); res <- code }()
		// The prompt may have gone out before we attached: it is in the log.
		time.Sleep(200 * time.Millisecond)
		pw.Write([]byte("hello\n"))
		if code := <-res; code != 5 {
			t.Fatalf("exit %d (output %q)", code, out.String())
		}
		for _, want := range []string{"got hello\r\n", "40 100\r\n"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("terminal output %q lacks %q", out.String(), want)
			}
		}
		<-done
	})
}

func TestShimHoldsLaunchSockets(t *testing.T) {
	e := newEnv(t)
	st := e.remote(t)
	sock := filepath.Join(t.TempDir(), "port.sock")
	t.Setenv("BERTH_TEST_HOLD", sock)
	c := e.create(t, "exec sleep 30", nil)
	ready, done := e.superviseWith(t, c, st, "")
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("the launch's socket died with the launch helper: %v", err)
	}
	conn.Close()
	got, _ := e.store.Load(c.ID)
	syscall.Kill(got.State.Pid, syscall.SIGKILL)
	<-done
	if conn, err := net.Dial("unix", sock); err == nil {
		conn.Close()
		t.Fatal("the launch's socket outlived the container")
	}
}

// A descriptor the shim inherited (from whoever ran `berth run -d`) at one
// of the launch helper's fd numbers must not become the container's stdin.
func TestShimIgnoresStrayDescriptors(t *testing.T) {
	e := newEnv(t)
	e.remote(t) // BERTH_TEST_MARKS for the helpers
	c := e.create(t, "head -c 4 | wc -c", nil)
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "__shimstray", c.ID)
	cmd.Env = append(os.Environ(), "BERTH_TEST_ROOT="+e.root.Lib)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 3 {
		t.Skip("fd 6 is in use in a fresh test process")
	}
	if err != nil {
		t.Fatalf("shim: %v\n%s", err, out)
	}
	if got, _ := e.logs(t, c.ID); strings.TrimSpace(got) != "0" {
		t.Fatalf("the container read %q bytes of a stray descriptor as its stdin", strings.TrimSpace(got))
	}
}
