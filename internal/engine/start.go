package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/container"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/failpoint"
	"github.com/berth/berth/internal/fsutil"
	"github.com/berth/berth/internal/logs"
	"github.com/berth/berth/internal/mount"
	"github.com/berth/berth/internal/runtime"
	"github.com/berth/berth/internal/spec"
	"github.com/berth/berth/internal/supervisor"
)

// Stdio is what an attached start or exec connects to the process.
type Stdio struct {
	Stdin          io.Reader // nil unless -i
	Stdout, Stderr io.Writer
	TTY            bool
	// Console receives the pty master when TTY is set; the CLI copies it to the terminal.
	Console func(pty *os.File)
}

// Attached is a container (or exec) process this berth process waits for.
type Attached struct {
	proc   runtime.Process
	finish func(code int, waitErr error) (int, error)
}

// Pid is the process's host PID.
func (a *Attached) Pid() int { return a.proc.Pid() }

// Signal forwards sig to the process (foreground run proxies SIGINT/SIGTERM).
func (a *Attached) Signal(sig os.Signal) error { return a.proc.Signal(sig) }

// Wait blocks until the process exits, records the exit and cleans up; it
// returns the exit status Docker would report (128+N for a signal).
func (a *Attached) Wait() (int, error) {
	code, err := a.proc.Wait()
	return a.finish(code, err)
}

// PrepareStart is for a command that is about to start a container or a
// process in one (run, start, restart, exec): call it as soon as that is
// known, before flags are parsed. It begins paying a kernel wait that the
// start would otherwise pay on its critical path (see
// runtime.WarmCgroups), ~1.5 ms earlier than Create could.
func PrepareStart() { runtime.WarmCgroups() }

// Start starts a created or exited container detached: a supervisor process
// owns it from here on. Starting a running container is a no-op, as in Docker.
func (e *Engine) Start(ctx context.Context, ref string) (*container.Container, error) {
	c, err := e.Container(ref)
	if err != nil {
		return nil, err
	}
	if c.State.Running {
		return c, nil
	}
	if _, err := supervisor.Spawn(ctx, e.Exe, []string{"--root", e.Root.Lib, "__supervise", c.ID}); err != nil {
		return nil, classifyStartError(err)
	}
	return e.Containers.Get(c.ID)
}

// StartAttached starts the container with this process as its owner and
// stdio wired to the caller's; Wait finishes it (and removes it for --rm).
func (e *Engine) StartAttached(ctx context.Context, ref string, stdio Stdio) (*Attached, error) {
	c, err := e.Container(ref)
	if err != nil {
		return nil, err
	}
	if c.State.Running {
		return nil, fmt.Errorf("container %s is already running: %w", short(c.ID), errdefs.ErrConflict)
	}
	// TakeOwner, not HoldOwner: an rm or prune may be removing it (holding
	// the owner lock) since it was looked up; then it is "No such container".
	release, err := e.Containers.TakeOwner(c.ID, 10*time.Second)
	if err != nil {
		return nil, err
	}
	logger, err := e.openLog(c)
	if err != nil {
		release()
		return nil, err
	}
	rio := runtime.IO{Stdin: stdio.Stdin, Terminal: stdio.TTY, Console: stdio.Console}
	rio.Stdout = io.MultiWriter(stdio.Stdout, logger.Stdout())
	rio.Stderr = io.MultiWriter(stdio.Stderr, logger.Stderr())
	if stdio.TTY {
		rio.Stdout = logger.Stdout()
	}
	proc, err := e.launch(ctx, c, rio)
	if err != nil {
		e.recordStartFailure(c.ID, err)
	}
	if err == nil {
		failpoint.Hit("run.start.before-record")
		_, err = e.Containers.Update(c.ID, func(c *container.Container) error {
			c.State.SetRunning(proc.Pid(), time.Now().UTC())
			return nil
		})
		if err != nil {
			proc.Signal(sigkill)
			proc.Wait()
			e.teardown(c)
		}
	}
	if err != nil {
		logger.Close()
		release()
		return nil, err
	}
	return &Attached{proc: proc, finish: func(code int, waitErr error) (int, error) {
		defer release()
		defer logger.Close()
		return code, e.finish(c, code, waitErr, true)
	}}, nil
}

// recordStartFailure records a start that did not happen as Docker does:
// the exit code it would report (127, 126, else 128) and the error; a
// container that never ran stays "created".
func (e *Engine) recordStartFailure(id string, startErr error) {
	code := 128
	var ec interface{ ExitCode() int }
	if errors.As(startErr, &ec) {
		code = ec.ExitCode()
	}
	e.Containers.Update(id, func(c *container.Container) error {
		c.State.SetStopped(code, time.Time{})
		c.State.Error = startErr.Error()
		return nil
	})
}

func (e *Engine) openLog(c *container.Container) (*logs.Writer, error) {
	return logs.NewWriter(e.LogPath(c.ID), logs.Options{MaxSize: c.Host.LogMaxSize, MaxFiles: c.Host.LogMaxFiles})
}

// LogPath is the container's json-file log.
func (e *Engine) LogPath(id string) string {
	return filepath.Join(e.Containers.Dir(id), id+"-json.log")
}

// launch mounts the rootfs, writes the bundle and starts the container's
// init; on error everything it did is undone. The caller records the start.
func (e *Engine) launch(ctx context.Context, c *container.Container, rio runtime.IO) (_ runtime.Process, err error) {
	runtime.WarmCgroups()
	bundle := e.bundleDir(c.ID)
	rootfs := filepath.Join(bundle, "rootfs")
	if err := os.MkdirAll(rootfs, 0o700); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			e.teardown(c)
		}
	}()
	mounts, err := e.Snapshots.Mounts(c.Snapshot)
	if err != nil {
		return nil, fmt.Errorf("container %s: rootfs: %w", short(c.ID), err)
	}
	if c.Host.AutoRemove {
		mounts = volatile(mounts)
	}
	failpoint.Hit("run.launch.before-mount")
	if !mount.IsMountPoint(rootfs) {
		if err := mount.All(mounts, rootfs); err != nil {
			return nil, fmt.Errorf("mount rootfs: %w", err)
		}
	}
	for _, m := range c.Mounts {
		if m.Type == "volume" {
			if _, err := e.Volumes.CopyUpInRoot(m.Name, rootfs, m.Destination); err != nil {
				return nil, err
			}
		}
	}
	failpoint.Hit("run.launch.after-mount")
	sn, err := e.attachNetwork(ctx, c)
	if err != nil {
		return nil, err
	}
	failpoint.Hit("run.launch.after-network")
	s, err := e.generateSpec(c, rootfs, sn)
	if err != nil {
		return nil, err
	}
	rt := e.rt(c)
	// config.json is for readers: exec loads the spec from it, and an
	// external runtime writes its own copy in Start. The in-process runtime
	// never reads it, so it is written while the runtime starts the
	// container (whose init keeps this process waiting for ~15 ms), and it
	// is in place before launch returns, so before the record says
	// running. Both only read s. The writer runs on a thread of its own at
	// the lowest CPU priority: on a machine with few CPUs its marshal
	// otherwise competes with the container's init, which the start waits
	// for (~1 ms of a `run --rm` on 2 CPUs); the thread ends with it.
	var wrote chan error
	if _, inProcess := rt.(*runtime.Libcontainer); inProcess {
		wrote = make(chan error, 1)
		go func() {
			goruntime.LockOSThread()                   // never unlocked: the niced thread exits with the goroutine
			unix.Setpriority(unix.PRIO_PROCESS, 0, 19) // 0: this thread
			wrote <- writeBundleConfig(bundle, s)
		}()
	} else if err := writeBundleConfig(bundle, s); err != nil {
		return nil, err
	}
	failpoint.Hit("run.launch.before-runtime-start")
	proc, err := rt.Start(ctx, c.ID, s, bundle, rio)
	if wrote != nil {
		if werr := <-wrote; werr != nil && err == nil {
			proc.Signal(sigkill)
			proc.Wait()
			return nil, werr
		}
	}
	if err != nil {
		return nil, classifyStartError(err)
	}
	failpoint.Hit("run.launch.after-runtime-start")
	return proc, nil
}

// writeBundleConfig writes the spec as the bundle's config.json. The bundle
// lives in the runtime dir, which a reboot wipes: atomic is enough, durable
// would only make every start wait for the disk.
func writeBundleConfig(bundle string, s *specs.Spec) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := fsutil.ReplaceFile(filepath.Join(bundle, "config.json"), data, 0o600); err != nil {
		return fmt.Errorf("write bundle config: %w", err)
	}
	return nil
}

func classifyStartError(err error) error {
	switch {
	case errors.Is(err, runtime.ErrExecNotFound):
		return startFailure{fmt.Errorf("%w: %w", ErrCommandNotFound, err), 127}
	case errors.Is(err, runtime.ErrExecPermission):
		return startFailure{fmt.Errorf("%w: %w", ErrCommandNotExecutable, err), 126}
	}
	return err
}

// startFailure carries Docker's exit code for a start that failed (127, 126)
// across the supervisor's ready line, where error identity is lost.
type startFailure struct {
	error
	code int
}

func (s startFailure) ExitCode() int { return s.code }
func (s startFailure) Unwrap() error { return s.error }

func (e *Engine) generateSpec(c *container.Container, rootfs string, sn spec.Network) (*specs.Spec, error) {
	dir := e.Containers.Dir(c.ID)
	o := spec.Options{
		Rootfs:      rootfs,
		CgroupsPath: "berth/" + c.ID,
		Process: spec.Process{
			Args:       append([]string{c.Path}, c.Args...),
			Env:        c.Config.Env,
			WorkingDir: c.Config.WorkingDir,
			User:       c.Config.User,
			Tty:        c.Config.Tty,
		},
		Security: spec.Security{
			Privileged:  c.Host.Privileged,
			CapAdd:      c.Host.CapAdd,
			CapDrop:     c.Host.CapDrop,
			SecurityOpt: c.Host.SecurityOpt,
		},
		Resources: spec.Resources{
			Memory:    c.Host.Memory,
			NanoCPUs:  c.Host.NanoCPUs,
			PidsLimit: c.Host.PidsLimit,
		},
		Network:    sn,
		Namespaces: spec.Namespaces{Cgroup: c.Host.CgroupnsMode},
		Mounts: spec.Mounts{
			ReadonlyRootfs: c.Host.ReadonlyRootfs,
			Tmpfs:          c.Host.Tmpfs,
			HostnamePath:   filepath.Join(dir, "hostname"),
			HostsPath:      filepath.Join(dir, "hosts"),
			ResolvConfPath: filepath.Join(dir, "resolv.conf"),
		},
		Host: e.host(),
	}
	if other, ok := strings.CutPrefix(c.Host.NetworkMode, "container:"); ok {
		// One network stack, one view of names, as in Docker.
		o.Mounts.HostsPath = filepath.Join(e.Containers.Dir(other), "hosts")
		o.Mounts.ResolvConfPath = filepath.Join(e.Containers.Dir(other), "resolv.conf")
	}
	if c.Host.Init {
		o.Process.InitBinary = e.Exe
	}
	for _, m := range c.Mounts {
		o.Mounts.Binds = append(o.Mounts.Binds, spec.Mount{Source: m.Source, Destination: m.Destination, ReadOnly: !m.RW, Propagation: m.Propagation})
	}
	return spec.Generate(o)
}

// finish releases what a container's run held (the runtime state, the
// rootfs mount and the bundle) and records its exit; with --rm (and remove)
// it removes the container instead.
func (e *Engine) finish(c *container.Container, code int, waitErr error, allowRemove bool) error {
	failpoint.Hit("run.finish.before-teardown")
	e.teardown(c)
	failpoint.Hit("run.finish.before-record")
	id := c.ID
	if allowRemove && c.Host.AutoRemove {
		if removed, err := e.autoRemove(id); removed || err != nil {
			return err
		}
	}
	_, err := e.Containers.Update(id, func(c *container.Container) error {
		c.State.SetStopped(code, time.Now().UTC())
		if waitErr != nil {
			c.State.Error = waitErr.Error()
		}
		return nil
	})
	if err != nil {
		if errdefs.IsNotFound(err) {
			return nil // removed meanwhile (rm -f)
		}
		return err
	}
	failpoint.Hit("run.finish.after-record")
	return nil
}

// autoRemove removes an exited --rm container without recording its exit
// first: the record is about to go, and writing it would cost a marshal, a
// write and a new inode on every `run --rm`. It holds the record's lock
// throughout so that an `rm -f` (which clears AutoRemove to do the removal
// itself) cannot slip in between the check and the removal; it reports
// false, having done nothing, when the record no longer asks for it. A
// crash before the removal leaves a "running" record whose owner is gone,
// which the next command's reconcile removes (supervisor.ReconcileOne).
func (e *Engine) autoRemove(id string) (bool, error) {
	unlock, err := e.Containers.Lock(id)
	if err != nil {
		return false, err
	}
	defer unlock()
	cur, err := e.Containers.Load(id)
	if errdefs.IsNotFound(err) {
		return true, nil // removed meanwhile (rm -f)
	}
	if err != nil || !cur.Host.AutoRemove {
		return false, err
	}
	if err := e.removeOwned(cur, true); err != nil {
		return true, err
	}
	failpoint.Hit("run.finish.before-delete")
	return true, e.Containers.Delete(id)
}

// teardown undoes launch: idempotent, so rm -f and the owner may both call it.
func (e *Engine) teardown(c *container.Container) {
	bundle := e.bundleDir(c.ID)
	e.rt(c).Delete(c.ID, true)
	failpoint.Hit("teardown.after-runtime-delete")
	mount.Unmount(filepath.Join(bundle, "rootfs"))
	failpoint.Hit("teardown.after-unmount")
	os.RemoveAll(bundle)
	failpoint.Hit("teardown.before-network")
	e.detachNetwork(c)
}

var sigkill = unix.SIGKILL

// volatile marks the overlay of a --rm container volatile: its upper dir is
// thrown away after the run, so the unmount need not sync the filesystem
// (which otherwise costs up to tens of ms when other writers dirtied it).
func volatile(mounts []mount.Mount) []mount.Mount {
	out := make([]mount.Mount, len(mounts))
	for i, m := range mounts {
		if m.Type == "overlay" {
			m.Options = append(append([]string(nil), m.Options...), "volatile")
		}
		out[i] = m
	}
	return out
}
