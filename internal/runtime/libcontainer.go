package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	// Lets cgroup managers apply device rules; runc's main imports it too.
	_ "github.com/opencontainers/cgroups/devices"
	// The C constructor that sets up namespaces in "berth init" before the
	// Go runtime starts; a no-op in every other invocation of the binary.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"

	"github.com/berth/berth/internal/errdefs"
)

// Libcontainer runs containers with runc's libcontainer inside the calling
// process; container inits are the dedicated init binary embedded in berth
// (see initBinary), or else the calling binary re-executed as "init" (see
// Init). It is safe for concurrent use.
type Libcontainer struct {
	root    string // libcontainer's state root: one directory per container
	seccomp *seccompCache
	init    initBinary
	// initCompilesSeccomp leaves the compilation of seccomp profiles to
	// the container init, as stock runc does; tests and benchmarks compare
	// the two paths.
	initCompilesSeccomp bool

	// started holds the handles of the containers this process started,
	// so that their Delete need not reload (and decode) state.json: the
	// owner of a container deletes it right after its exit, and a --rm
	// run pays that load on its critical path. Delete takes the handle out.
	startedMu sync.Mutex
	started   map[string]*libcontainer.Container
}

// New returns an in-process runtime keeping its state under stateDir.
func New(stateDir string) *Libcontainer {
	return &Libcontainer{
		root:    filepath.Join(stateDir, "libcontainer"),
		seccomp: newSeccompCache(filepath.Join(stateDir, "seccomp")),
		init:    newInitBinary(stateDir),
	}
}

// Init runs the container init when the binary was executed by
// libcontainer as "<argv0> init": cmd/berth-init always, and berth itself
// when it embeds no init binary. main must call it first thing, before any
// other work; it never returns.
func Init() {
	libcontainer.Init()
}

// Start implements Runtime.
func (r *Libcontainer) Start(ctx context.Context, id string, spec *specs.Spec, bundle string, stdio IO) (Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := validateID(id); err != nil {
		return nil, err
	}
	WarmCgroups() // overlaps the kernel's wait with the work below
	config, err := newConfig(id, spec, bundle)
	if err != nil {
		return nil, err
	}
	if config.Seccomp != nil && !r.initCompilesSeccomp {
		prog, key, err := r.seccomp.program(config.Seccomp)
		if err != nil {
			return nil, fmt.Errorf("container %s: %w", id, err)
		}
		// The program is all the init needs: dropping the ~400 rules keeps
		// the config the init decodes (and state.json, which every later
		// call reads) small. The label names the profile instead.
		config.Seccomp.Program, config.Seccomp.Syscalls = prog, nil
		config.Labels = append(config.Labels, "berth.seccomp.profile=sha256:"+key)
	}
	lp, err := newProcess(spec.Process, true)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	lp.InitPath = r.init.path()
	c, err := libcontainer.Create(r.root, id, config)
	if err != nil {
		return nil, fmt.Errorf("create container %s: %w", id, libcontainerErr(err))
	}
	p, err := r.run(c, lp, stdio)
	if err != nil {
		// libcontainer has already killed the init and removed its cgroup.
		if derr := c.Destroy(); derr != nil {
			err = fmt.Errorf("%w (cleanup: %v)", err, derr)
		}
		return nil, fmt.Errorf("start container %s: %w", id, err)
	}
	r.startedMu.Lock()
	if r.started == nil {
		r.started = map[string]*libcontainer.Container{}
	}
	r.started[id] = c
	r.startedMu.Unlock()
	return p, nil
}

// Exec implements Runtime.
func (r *Libcontainer) Exec(ctx context.Context, id string, proc *specs.Process, stdio IO) (Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if proc == nil {
		return nil, fmt.Errorf("exec in container %s: no process: %w", id, errdefs.ErrInvalid)
	}
	WarmCgroups()
	lp, err := newProcess(proc, false)
	if err != nil {
		return nil, fmt.Errorf("exec in container %s: %w", id, err)
	}
	lp.InitPath = r.init.path()
	c, err := r.load(id)
	if err != nil {
		return nil, err
	}
	// As runc exec: a process joining a frozen cgroup would hang the start.
	switch status, err := c.Status(); {
	case err != nil:
		return nil, fmt.Errorf("exec in container %s: %w", id, err)
	case status == libcontainer.Stopped || status == libcontainer.Paused:
		return nil, fmt.Errorf("exec in container %s: it is %s: %w", id, status, errdefs.ErrConflict)
	}
	p, err := r.run(c, lp, stdio)
	if err != nil {
		return nil, fmt.Errorf("exec in container %s: %w", id, err)
	}
	return p, nil
}

// run starts lp in c with stdio connected.
func (r *Libcontainer) run(c *libcontainer.Container, lp *libcontainer.Process, stdio IO) (*lcProcess, error) {
	s, err := newStdio(stdio)
	if err != nil {
		return nil, err
	}
	// Assign only real files: a typed nil in the interface would look
	// like a stream to exec.Cmd.
	if s.stdin != nil {
		lp.Stdin = s.stdin
	}
	if s.stdout != nil {
		lp.Stdout = s.stdout
	}
	if s.stderr != nil {
		lp.Stderr = s.stderr
	}
	lp.ConsoleSocket = s.consoleChild
	if err := c.Run(lp); err != nil {
		s.abort()
		return nil, classifyStartError(libcontainerErr(err))
	}
	if err := s.started(); err != nil {
		_ = lp.Signal(unix.SIGKILL)
		_, _ = lp.Wait()
		s.abort()
		return nil, err
	}
	pid, _ := lp.Pid()
	return &lcProcess{p: lp, pid: pid, stdio: s}, nil
}

// lcProcess is a Process started through libcontainer by this process.
type lcProcess struct {
	p     *libcontainer.Process
	pid   int
	stdio *stdio

	once sync.Once
	code int
	err  error
}

func (p *lcProcess) Pid() int { return p.pid }

func (p *lcProcess) Wait() (int, error) {
	p.once.Do(func() {
		ps, err := p.p.Wait()
		p.stdio.wait()
		if ps == nil {
			p.code, p.err = -1, fmt.Errorf("wait for pid %d: %w", p.pid, err)
			return
		}
		p.code = processExitCode(ps)
	})
	return p.code, p.err
}

func (p *lcProcess) Signal(sig os.Signal) error {
	if err := p.p.Signal(sig); err != nil {
		return fmt.Errorf("signal pid %d: %w", p.pid, err)
	}
	return nil
}

func (p *lcProcess) Resize(width, height uint16) error { return p.stdio.resize(width, height) }

// Kill implements Runtime.
func (r *Libcontainer) Kill(id string, sig unix.Signal, all bool) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	if !all {
		if err := c.Signal(sig); err != nil {
			return fmt.Errorf("kill container %s: %w", id, libcontainerErr(err))
		}
		return nil
	}
	pids, err := c.Processes()
	if err != nil {
		return fmt.Errorf("kill container %s: %w", id, libcontainerErr(err))
	}
	for _, pid := range pids {
		if err := unix.Kill(pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("kill container %s: pid %d: %w", id, pid, err)
		}
	}
	return nil
}

// Delete implements Runtime.
func (r *Libcontainer) Delete(id string, force bool) error {
	c, err := r.takeStarted(id)
	if errdefs.IsNotFound(err) {
		// An aborted start may leave a directory without state.json.
		if err := os.RemoveAll(filepath.Join(r.root, id)); err != nil {
			return fmt.Errorf("delete container %s: %w", id, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	status, err := c.Status()
	if err != nil {
		return fmt.Errorf("delete container %s: %w", id, err)
	}
	if status != libcontainer.Stopped {
		if !force && status != libcontainer.Created {
			return fmt.Errorf("delete container %s: it is %s: %w", id, status, errdefs.ErrConflict)
		}
		if err := killAndWait(c); err != nil {
			return fmt.Errorf("delete container %s: %w", id, err)
		}
	}
	if err := c.Destroy(); err != nil {
		return fmt.Errorf("delete container %s: %w", id, err)
	}
	return nil
}

// killAndWait SIGKILLs the container and waits for its init to be gone
// (dead or a zombie), as `runc delete --force` does but polling faster.
func killAndWait(c *libcontainer.Container) error {
	if err := c.Signal(unix.SIGKILL); err != nil && !errors.Is(err, libcontainer.ErrNotRunning) {
		return err
	}
	delay := time.Millisecond
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if err := c.Signal(unix.Signal(0)); err != nil {
			return nil
		}
		time.Sleep(delay)
		delay = min(2*delay, 50*time.Millisecond)
	}
	return fmt.Errorf("init still running 10s after SIGKILL: %w", errdefs.ErrUnavailable)
}

// State implements Runtime.
func (r *Libcontainer) State(id string) (State, error) {
	c, err := r.load(id)
	if err != nil {
		return State{}, err
	}
	status, err := c.Status()
	if err != nil {
		return State{}, fmt.Errorf("container %s: %w", id, err)
	}
	st, err := c.State()
	if err != nil {
		return State{}, fmt.Errorf("container %s: %w", id, err)
	}
	s := State{ID: id, Status: Status(status.String()), Created: st.Created}
	if status != libcontainer.Stopped {
		s.Pid = st.InitProcessPid
	}
	for _, l := range st.Config.Labels {
		if b, ok := strings.CutPrefix(l, "bundle="); ok {
			s.Bundle = b
		}
	}
	return s, nil
}

// Pause implements Runtime.
func (r *Libcontainer) Pause(id string) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	if err := c.Pause(); err != nil {
		return fmt.Errorf("pause container %s: %w", id, libcontainerErr(err))
	}
	return nil
}

// Resume implements Runtime.
func (r *Libcontainer) Resume(id string) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	if err := c.Resume(); err != nil {
		return fmt.Errorf("resume container %s: %w", id, libcontainerErr(err))
	}
	return nil
}

// Processes implements Runtime.
func (r *Libcontainer) Processes(id string) ([]int, error) {
	c, err := r.load(id)
	if err != nil {
		return nil, err
	}
	pids, err := c.Processes()
	if err != nil {
		return nil, fmt.Errorf("container %s: processes: %w", id, libcontainerErr(err))
	}
	return pids, nil
}

// Stats implements Runtime.
func (r *Libcontainer) Stats(id string) (*Stats, error) {
	c, err := r.load(id)
	if err != nil {
		return nil, err
	}
	st, err := c.Stats()
	if err != nil {
		return nil, fmt.Errorf("container %s: stats: %w", id, libcontainerErr(err))
	}
	s := &Stats{Read: time.Now()}
	if cg := st.CgroupStats; cg != nil {
		fromCgroupStats(s, cg)
	}
	if state, err := c.State(); err == nil && state.InitProcessPid > 0 {
		s.NetRx, s.NetTx = netDev(state.InitProcessPid)
	}
	fillHost(s)
	return s, nil
}

// List implements Runtime.
func (r *Libcontainer) List() ([]string, error) {
	entries, err := os.ReadDir(r.root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(r.root, e.Name(), "state.json")); err == nil {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// takeStarted returns the handle Start kept for container id (removing
// it: a handle is used for one Delete), or loads the container's state.
// A kept handle is as good as a fresh load for Delete: its status is
// re-read from the live process and cgroup, and its config (cgroup paths,
// namespaces) is the one state.json was written from.
func (r *Libcontainer) takeStarted(id string) (*libcontainer.Container, error) {
	r.startedMu.Lock()
	c := r.started[id]
	delete(r.started, id)
	r.startedMu.Unlock()
	if c != nil {
		return c, nil
	}
	return r.load(id)
}

// load opens the state of container id.
func (r *Libcontainer) load(id string) (*libcontainer.Container, error) {
	c, err := libcontainer.Load(r.root, id)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", id, libcontainerErr(err))
	}
	return c, nil
}

// libcontainerErr adds berth's error class to libcontainer's sentinels.
func libcontainerErr(err error) error {
	switch {
	case errors.Is(err, libcontainer.ErrNotExist):
		return fmt.Errorf("%w: %w", errdefs.ErrNotFound, err)
	case errors.Is(err, libcontainer.ErrExist):
		return fmt.Errorf("%w: %w", errdefs.ErrConflict, err)
	case errors.Is(err, libcontainer.ErrInvalidID):
		return fmt.Errorf("%w: %w", errdefs.ErrInvalid, err)
	case errors.Is(err, libcontainer.ErrNotRunning), errors.Is(err, libcontainer.ErrPaused),
		errors.Is(err, libcontainer.ErrRunning), errors.Is(err, libcontainer.ErrNotPaused):
		return fmt.Errorf("%w: %w", errdefs.ErrConflict, err)
	}
	return err
}
