package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/container"
	"github.com/berth/berth/internal/root"
)

// hostStarter is the fake Starter of these tests: the "container" is a
// plain host process (c.Path, c.Args), a probe runs on the host, and
// Cleanup appends "cleanup remove=<bool>" to marks/<id>.
type hostStarter struct{ marks string }

type hostProc struct{ cmd *exec.Cmd }

func (p *hostProc) Pid() int { return p.cmd.Process.Pid }

func (p *hostProc) Wait() (int, error) {
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return 0, err
}

type codeError struct {
	error
	code int
}

func (e codeError) ExitCode() int { return e.code }

func (s hostStarter) Start(ctx context.Context, c *container.Container, stdout, stderr io.Writer) (Proc, error) {
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return nil, codeError{fmt.Errorf("exec: %q: executable file not found in $PATH", c.Path), 127}
		}
		return nil, err
	}
	return &hostProc{cmd: cmd}, nil
}

func (s hostStarter) Exec(ctx context.Context, c *container.Container, args []string, out io.Writer) (int, error) {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	return 0, err
}

func (s hostStarter) Cleanup(ctx context.Context, c *container.Container, remove bool) error {
	if c.State.Pid > 0 {
		syscall.Kill(c.State.Pid, syscall.SIGKILL) // what the runtime's forced delete does
	}
	f, err := os.OpenFile(filepath.Join(s.marks, c.ID), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "cleanup remove=%v\n", remove)
	return err
}

// TestMain lets the test binary play `berth`: Spawn re-executes it as
// `<test binary> __supervise <id>` (and `__spawn <id>` for a parent that
// exits right after spawning).
func TestMain(m *testing.M) {
	// `<test binary> --root R __launch|__probe|__cleanup ID`: the full
	// berth binary's helpers, run by a remoteStarter (shim_test.go).
	if code, ok := HelperMain(os.Args[1:], func(root.Root) (Starter, error) { return helperStarter(), nil }); ok {
		os.Exit(code)
	}
	if len(os.Args) > 2 {
		r := root.New(os.Getenv("BERTH_TEST_ROOT"))
		var starter Starter = hostStarter{marks: os.Getenv("BERTH_TEST_MARKS")}
		if os.Getenv("BERTH_TEST_IO") != "" {
			starter = ioHostStarter{hostStarter{marks: os.Getenv("BERTH_TEST_MARKS")}}
		}
		switch os.Args[1] {
		case "__supervise":
			os.Exit(Main(os.Args[2:], Config{Root: r, Starter: starter}))
		case "__shimstray":
			// A shim that inherited a stray descriptor at fd 6 (the launch
			// helper's stdin slot): TestShimIgnoresStrayDescriptors.
			// Raw syscalls: os.Open would start the netpoller, whose
			// epoll descriptor could land on fd 6 after the check.
			zero, err := unix.Open("/dev/zero", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				os.Exit(4)
			}
			if _, err := unix.FcntlInt(6, unix.F_GETFD, 0); err == nil {
				os.Exit(3)
			}
			if unix.Dup3(zero, 6, 0) != nil {
				os.Exit(4)
			}
			unix.Close(zero)
			unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
			exe, _ := os.Executable()
			store, err := container.Open(r)
			if err != nil {
				os.Exit(5)
			}
			if err := Run(context.Background(), Options{Store: store, ID: os.Args[2], Starter: &remoteStarter{exe: exe, root: r}}); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			os.Exit(0)
		case "__spawn":
			if _, err := Spawn(context.Background(), os.Args[0], []string{"__supervise", os.Args[2]}); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			os.Exit(0)
		}
	}
	os.Exit(m.Run())
}
