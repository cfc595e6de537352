package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/container"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/root"
)

// ReadyFDEnv names the inherited descriptor a supervisor reports its first
// start on. Spawn sets it; Main reads and clears it.
const ReadyFDEnv = "BERTH_SUPERVISOR_READY_FD"

// readyMsg is the one line a supervisor writes to its parent.
type readyMsg struct {
	OK       bool   `json:"ok,omitempty"`
	Error    string `json:"error,omitempty"`
	ExitCode int    `json:"exitCode,omitempty"` // Docker's code for the failed start
	Class    string `json:"class,omitempty"`    // errdefs class: notfound, invalid, conflict, unavailable
}

// StartError is a failed start reported by a supervisor, rebuilt in the
// parent. ExitCode is what Docker records for it (127: command not found,
// 126: not executable, 128: other); Unwrap gives the errdefs class.
type StartError struct {
	Msg  string
	Code int
	kind error
}

func (e *StartError) Error() string { return e.Msg }

// ExitCode is Docker's exit code for the failed start.
func (e *StartError) ExitCode() int { return e.Code }

func (e *StartError) Unwrap() error { return e.kind }

var classes = []struct {
	name string
	err  error
}{
	{"notfound", errdefs.ErrNotFound},
	{"invalid", errdefs.ErrInvalid},
	{"conflict", errdefs.ErrConflict},
	{"unavailable", errdefs.ErrUnavailable},
	{"notimplemented", errdefs.ErrNotImplemented},
}

// Spawn starts `exe args...` — which must end up in Main — as a detached
// supervisor: its own session, stdio on /dev/null, the ready pipe on fd 3.
// It returns once the supervisor has reported its first start: the
// supervisor's PID, and nil or a *StartError. The supervisor outlives the
// caller. If ctx ends first Spawn returns ctx's error and leaves the
// supervisor to finish on its own.
func Spawn(ctx context.Context, exe string, args []string) (pid int, err error) {
	return spawn(ctx, exe, args, nil)
}

// spawn is Spawn with extra environment for the supervisor.
func spawn(ctx context.Context, exe string, args, extraEnv []string) (pid int, err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("spawn supervisor: %w", err)
	}
	defer r.Close()
	bin := exe
	if shim := shimPath(args); shim != "" {
		bin = shim
		extraEnv = append(extraEnv, shimExeEnv+"="+exe)
	}
	cmd := exec.Command(bin, args...)
	cmd.ExtraFiles = []*os.File{w} // fd 3
	// GOMAXPROCS=1 from the first instruction: an idle supervisor needs one
	// P, and fewer Ps mean fewer per-P caches and GC workers to keep resident.
	cmd.Env = append(withoutEnv(withoutEnv(withoutEnv(withoutEnv(os.Environ(), ReadyFDEnv), "GOMAXPROCS"), WaitAttachEnv), shimExeEnv), ReadyFDEnv+"=3", "GOMAXPROCS=1")
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/" // never pin the caller's working directory (and its mount)
	if err := cmd.Start(); err != nil {
		w.Close()
		return 0, fmt.Errorf("spawn supervisor: %w", err)
	}
	w.Close()
	pid = cmd.Process.Pid
	exited := make(chan error, 1)
	// Reap the supervisor if it ends while we still run (tests, a long
	// berth process); a CLI that exits first hands it to init.
	go func() { exited <- cmd.Wait() }()

	type result struct {
		data []byte
		err  error
	}
	got := make(chan result, 1)
	go func() {
		data, err := io.ReadAll(io.LimitReader(r, 1<<20))
		got <- result{data, err}
	}()
	var res result
	select {
	case res = <-got:
	case <-ctx.Done():
		return pid, ctx.Err()
	}
	if res.err != nil {
		return pid, fmt.Errorf("supervisor %d: read start report: %w", pid, res.err)
	}
	if len(res.data) == 0 {
		// Closed without a word: it died before starting the container.
		werr := <-exited
		return pid, fmt.Errorf("supervisor %d exited before starting the container (%v): %w", pid, werr, errdefs.ErrUnavailable)
	}
	var msg readyMsg
	if err := json.Unmarshal(res.data, &msg); err != nil {
		return pid, fmt.Errorf("supervisor %d: bad start report %q: %w", pid, res.data, err)
	}
	if msg.OK {
		return pid, nil
	}
	se := &StartError{Msg: msg.Error, Code: msg.ExitCode}
	for _, c := range classes {
		if c.name == msg.Class {
			se.kind = c.err
		}
	}
	return pid, se
}

func withoutEnv(env []string, key string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// Config is what the engine hands Main.
type Config struct {
	Root    root.Root
	Starter Starter
}

// Main is the body of `berth __supervise <id>`: args are the words after
// "__supervise". It returns the process exit code (0 once the container is
// finished, also after a start failure that was reported to the parent).
func Main(args []string, cfg Config) int {
	// Tune the runtime for a long idle life before anything allocates.
	// A supervisor's live heap is tiny and it allocates only while its
	// container writes output; a low GOGC keeps the heap near the live set.
	debug.SetGCPercent(20)
	runtime.GOMAXPROCS(1)

	readyFD := -1
	if v := os.Getenv(ReadyFDEnv); v != "" {
		if fd, err := strconv.Atoi(v); err == nil {
			readyFD = fd
			unix.CloseOnExec(fd) // the container must not inherit it
		}
		os.Unsetenv(ReadyFDEnv)
	}
	report := func(err error) {
		if readyFD < 0 {
			return
		}
		msg := readyMsg{OK: err == nil}
		if err != nil {
			msg.Error = err.Error()
			msg.ExitCode = exitUnknown
			var ec interface{ ExitCode() int }
			if errors.As(err, &ec) {
				msg.ExitCode = ec.ExitCode()
			}
			for _, c := range classes {
				if errors.Is(err, c.err) {
					msg.Class = c.name
					break
				}
			}
		}
		data, _ := json.Marshal(msg)
		f := os.NewFile(uintptr(readyFD), "ready")
		f.Write(append(data, '\n'))
		f.Close()
		readyFD = -1
		// Start-up garbage (config decoding, the runtime's start) is done
		// with; hand it back now rather than when the scavenger gets to it.
		debug.FreeOSMemory()
	}
	if len(args) != 1 || args[0] == "" {
		report(fmt.Errorf("usage: berth __supervise <container-id>: %w", errdefs.ErrInvalid))
		return 2
	}
	id := args[0]

	unix.Setsid() // already a session leader when Spawn started us: EPERM, fine
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		report(fmt.Errorf("supervisor: set child subreaper: %w", err))
		return 1
	}
	signal.Ignore(unix.SIGHUP, unix.SIGPIPE)

	store, err := container.Open(cfg.Root)
	if err != nil {
		report(err)
		return 1
	}
	// Our stderr is /dev/null; keep diagnostics (and a Go panic) next to the
	// container instead.
	logf := func(string, ...any) {}
	if f, err := os.OpenFile(filepath.Join(store.Dir(id), "supervisor.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_CLOEXEC, 0o600); err == nil {
		unix.Dup3(int(f.Fd()), 2, 0)
		f.Close()
		logf = func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }
	}

	stop := make(chan struct{})
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT)
	go func() {
		<-sigs
		close(stop)
	}()
	Run(context.Background(), Options{
		Store:      store,
		ID:         id,
		Starter:    cfg.Starter,
		Ready:      report,
		Stop:       stop,
		Logf:       logf,
		AttachDir:  filepath.Join(cfg.Root.Run, "attach"),
		WaitAttach: waitAttachFromEnv(),
	})
	return 0
}
