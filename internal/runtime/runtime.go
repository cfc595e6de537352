package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/errdefs"
)

// Runtime runs containers from OCI specs. Both implementations (in-process
// libcontainer and an external runc binary) keep their state on disk, so a
// Runtime value made by one berth process can Kill, Delete, Pause or inspect
// containers started by another; only Process values (Wait, the stdio
// streams) are tied to the process that called Start or Exec.
type Runtime interface {
	// Start creates the container id from spec and starts its init process
	// (spec.Process). Relative paths in spec (root, bind-mount sources) are
	// resolved against bundle. The container is running when Start returns.
	Start(ctx context.Context, id string, spec *specs.Spec, bundle string, stdio IO) (Process, error)
	// Exec starts an additional process in the running container id.
	Exec(ctx context.Context, id string, p *specs.Process, stdio IO) (Process, error)
	// Kill sends sig to the container's init process, or to every process
	// of the container when all is set.
	Kill(id string, sig unix.Signal, all bool) error
	// Delete destroys the container: with force it first kills whatever
	// still runs; without force it refuses (errdefs.ErrConflict) to delete a
	// running or paused container. Its cgroups and state are removed.
	// Deleting a container that does not exist is not an error.
	Delete(id string, force bool) error
	// State reports the container's status; errdefs.ErrNotFound if the
	// runtime has no state for id.
	State(id string) (State, error)
	// Pause freezes every process of the container; Resume thaws them.
	Pause(id string) error
	Resume(id string) error
	// Processes lists the host PIDs of the container's processes.
	Processes(id string) ([]int, error)
	// Stats samples the container's resource usage.
	Stats(id string) (*Stats, error)
	// List returns the ids of all containers the runtime has state for.
	List() ([]string, error)
}

// Process is a process started by Start or Exec.
type Process interface {
	// Pid is the host PID of the process.
	Pid() int
	// Wait waits for the process to exit and for its output to be copied,
	// then returns its exit code: the exit status, or 128+N if signal N
	// killed it (what a shell, and Docker, report). It may be called more
	// than once and from several goroutines.
	Wait() (exitCode int, err error)
	// Signal sends sig to the process.
	Signal(sig os.Signal) error
	// Resize sets the terminal size; ErrNoTerminal if the process has none.
	Resize(width, height uint16) error
}

// IO connects a process's standard streams. A nil stream is connected to
// /dev/null. *os.File streams are handed to the process as they are; other
// readers and writers are served through pipes copied by the runtime.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Terminal allocates a pseudo-terminal for the process (inside the
	// container, like runc's --console-socket). Stdin is copied to it and
	// its output to Stdout (Stderr is unused), unless Console is set.
	Terminal bool
	// Console, if set with Terminal, receives the pty master instead and
	// then owns all copying; it may keep and close the file as it likes.
	Console func(pty *os.File)
}

// Status is a container's runtime status, as the OCI runtime-spec names it.
type Status string

const (
	StatusCreated Status = "created"
	StatusRunning Status = "running"
	StatusPaused  Status = "paused"
	StatusStopped Status = "stopped"
)

// State describes a container known to the runtime.
type State struct {
	ID     string
	Status Status
	// Pid is the host PID of the init process; 0 once it has stopped.
	Pid     int
	Bundle  string
	Created time.Time
}

// Stats is one sample of a container's resource usage: what `docker stats`
// shows. CPU times are cumulative; Docker's CPU percentage is the delta of
// CPUUsageNanos between two samples over the delta of SystemCPUNanos, times
// OnlineCPUs, times 100.
type Stats struct {
	Read time.Time

	CPUUsageNanos, CPUUserNanos, CPUSystemNanos uint64 // ns used by the container
	SystemCPUNanos                              uint64 // ns used by the whole host (/proc/stat)
	OnlineCPUs                                  uint32

	MemoryUsage uint64 // bytes charged, including page cache
	MemoryLimit uint64 // bytes; the host's memory if unlimited
	// MemoryInactiveFile is reclaimable page cache; Docker shows
	// MemoryUsage - MemoryInactiveFile.
	MemoryInactiveFile uint64

	Pids, PidsLimit uint64 // PidsLimit 0: unlimited

	BlockRead, BlockWrite uint64 // bytes
	NetRx, NetTx          uint64 // bytes over the container's interfaces except lo
}

// Errors of the exec class. A process whose executable cannot be found
// fails to start with ErrExecNotFound (Docker: exit code 127), one that
// cannot be executed with ErrExecPermission (126). The error's message is
// the one Docker users know, e.g. `exec: "foo": executable file not found in
// $PATH`.
var (
	ErrExecNotFound   = errors.New("executable not found")
	ErrExecPermission = errors.New("executable cannot be invoked")
	// ErrNoTerminal: Resize on a process without a terminal.
	ErrNoTerminal = errors.New("process has no terminal")
)

// ExitCode maps a Start or Exec error to the exit code Docker reports for
// it: 127 when the executable is missing, 126 when it cannot be invoked.
// ok is false for other errors (Docker's own failures use 125).
func ExitCode(err error) (code int, ok bool) {
	switch {
	case errors.Is(err, ErrExecNotFound):
		return 127, true
	case errors.Is(err, ErrExecPermission):
		return 126, true
	}
	return 0, false
}

// Options selects and configures a Runtime.
type Options struct {
	// StateDir holds all runtime state: root.RuntimeState().
	StateDir string
	// Binary, if set, is an OCI runtime binary (a name looked up in $PATH,
	// or a path) to shell out to instead of running libcontainer in-process.
	Binary string
}

// Open returns the Runtime opts describe.
func Open(opts Options) (Runtime, error) {
	if opts.StateDir == "" {
		return nil, fmt.Errorf("runtime: no state directory: %w", errdefs.ErrInvalid)
	}
	if opts.Binary != "" {
		return NewExternal(opts.Binary, opts.StateDir)
	}
	return New(opts.StateDir), nil
}

// exitCode converts a wait status into a shell-style exit code.
func exitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// processExitCode is exitCode for an os.ProcessState.
func processExitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
		return exitCode(ws)
	}
	return ps.ExitCode()
}
