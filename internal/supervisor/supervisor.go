package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/berth/berth/internal/container"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/failpoint"
	"github.com/berth/berth/internal/logs"
)

// Starter is what the supervisor needs from the runtime. The engine
// implements it; tests use a fake that runs host processes.
type Starter interface {
	// Start launches the container's main process with stdout/stderr wired
	// to the given writers and returns it. An error may implement
	// ExitCode() int to give Docker's code for the failure (127, 126);
	// otherwise 128 is recorded.
	Start(ctx context.Context, c *container.Container, stdout, stderr io.Writer) (Proc, error)
	// Exec runs args inside the running container (a health probe) with
	// stdout and stderr to out, and returns its exit code. It must stop the
	// process and return when ctx ends.
	Exec(ctx context.Context, c *container.Container, args []string, out io.Writer) (exitCode int, err error)
	// Cleanup runs after the main process has exited (or, from Reconcile,
	// after its owner died): kill whatever is left, delete the runtime
	// state, unmount. remove=true (--rm) also removes what the container
	// owns (rootfs snapshot, anonymous volumes); the supervisor deletes the
	// record itself afterwards. It must be idempotent.
	Cleanup(ctx context.Context, c *container.Container, remove bool) error
}

// Proc is a started container's main process.
type Proc interface {
	Pid() int
	// Wait blocks until the process has exited and all its output has been
	// written to the writers given to Start, and returns Docker's exit code
	// (128+N for a signal).
	Wait() (exitCode int, err error)
}

// Options configure one supervision (Run).
type Options struct {
	Store   *container.Store
	ID      string
	Starter Starter
	// Ready is called exactly once, after the first start attempt: nil when
	// the container is running (and recorded as such), else the start error.
	Ready func(error)
	// Stop, when closed, cancels restarts: the container is left to exit
	// and is not started again (SIGTERM to the supervisor process).
	Stop <-chan struct{}
	// Logf receives diagnostics that have no caller to return to.
	Logf func(format string, args ...any)
	// AttachDir, when set and Starter is an IOStarter, is where the attach
	// socket is served (see attach.go); empty: no attach.
	AttachDir string
	// WaitAttach, when positive, delays the first start until an attach
	// client has connected or this long has passed (`start -a`).
	WaitAttach time.Duration
}

// exitUnknown is what Docker records when a start fails for a reason
// without a more specific code.
const exitUnknown = 128

// Run supervises container o.ID until it has exited for good: start,
// wait, restart per policy, health checks, cleanup. It returns the start
// error if the first start fails, else nil once the container is finished.
func Run(ctx context.Context, o Options) error {
	ready := o.Ready
	if ready == nil {
		ready = func(error) {}
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	// Not found: removed (rm, prune) before it could start.
	release, err := o.Store.TakeOwner(o.ID, 10*time.Second)
	if errdefs.IsConflict(err) {
		err = fmt.Errorf("container %s is already running: %w", o.ID, errdefs.ErrConflict)
	}
	if err != nil {
		ready(err)
		return err
	}
	defer release()
	c, err := o.Store.Update(o.ID, func(c *container.Container) error {
		c.State.SupervisorPid = os.Getpid()
		c.State.StoppedByUser = false
		c.RestartCount = 0 // a start resets the policy's count, as in Docker
		return nil
	})
	if err != nil {
		ready(err)
		return err
	}
	failpoint.Hit("supervisor.start.after-owner")
	logw, err := logs.NewWriter(o.Store.LogPath(o.ID), logs.Options{MaxSize: c.Host.LogMaxSize, MaxFiles: c.Host.LogMaxFiles})
	if err != nil {
		err = fmt.Errorf("container %s: %w", o.ID, err)
		o.fail(ctx, c, err, exitUnknown)
		ready(err)
		return err
	}
	defer logw.Close()

	s := &supervision{o: o, logw: logw, rm: restartManager{policy: c.Host.RestartPolicy}}
	s.openAttach(c)
	defer s.closeAttach()
	first := true
	for {
		proc, err := s.startRun(ctx, c)
		if err != nil {
			logw.Flush()
			code := exitUnknown
			var ec interface{ ExitCode() int }
			if errors.As(err, &ec) {
				code = ec.ExitCode()
			}
			o.fail(ctx, c, err, code)
			if first {
				ready(err)
				return err
			}
			o.Logf("restart of container %s failed: %v", o.ID, err)
			return nil
		}
		rec, err := s.recordStart(proc.Pid(), !first)
		if errors.Is(err, errStopped) {
			// `stop` came while this restart was starting: undo it.
			o.Starter.Cleanup(ctx, c, false)
			code, werr := proc.Wait()
			logw.Flush()
			s.finish(ctx, code, werr, time.Now().UTC())
			return nil
		}
		if err != nil {
			// The record is gone (rm -f won the race) or unwritable: nobody
			// could see or stop this run, so end it now.
			o.Logf("record start of %s: %v", o.ID, err)
			o.Starter.Cleanup(ctx, c, false)
			proc.Wait()
			logw.Flush()
			if first {
				ready(err)
				return err
			}
			return nil
		}
		failpoint.Hit("supervisor.start.after-record")
		c = rec
		if first {
			ready(nil)
			first = false
		}
		health := startHealth(ctx, o, c)
		code, werr := proc.Wait()
		health.stop()
		if err := logw.Flush(); err != nil {
			o.Logf("log of container %s: %v", o.ID, err)
		}
		finished := time.Now().UTC()
		next, restart := s.afterExit(ctx, c, code, werr, finished)
		if !restart {
			return nil
		}
		c = next
	}
}

// supervision is the state of one Run across restarts.
type supervision struct {
	o    Options
	logw *logs.Writer
	rm   restartManager
	att  *attachServer // nil: no attach socket
}

// recordStart records a running main process. On a restart it refuses
// (errStopped) if the container was stopped meanwhile, rather than
// overwrite the stop.
func (s *supervision) recordStart(pid int, restart bool) (*container.Container, error) {
	return s.o.Store.Update(s.o.ID, func(c *container.Container) error {
		if restart && c.State.StoppedByUser {
			return errStopped
		}
		c.State.SetRunning(pid, time.Now())
		c.State.SupervisorPid = os.Getpid()
		if hasProbe(c) {
			if c.State.Health == nil {
				c.State.Health = &container.Health{Log: []container.HealthLog{}}
			}
			c.State.Health.Status = container.HealthStarting
			c.State.Health.FailingStreak = 0
		}
		return nil
	})
}

// afterExit records an exit and decides on a restart; when it restarts it
// returns the fresh record after the backoff.
func (s *supervision) afterExit(ctx context.Context, c *container.Container, code int, werr error, finished time.Time) (*container.Container, bool) {
	o := s.o
	cur, err := o.Store.Load(o.ID)
	if err != nil {
		// Removed while running (rm -f): only the runtime state is left.
		o.Starter.Cleanup(ctx, c, false)
		s.notifyExit(code)
		return nil, false
	}
	restart, delay := s.rm.shouldRestart(code, cur.State.StoppedByUser || closed(o.Stop), finished.Sub(cur.State.StartedAt))
	if restart {
		cur, err = o.Store.Update(o.ID, func(c *container.Container) error {
			if c.State.StoppedByUser {
				return errStopped
			}
			c.State.SetRestarting(code, finished)
			c.State.Error = errText(werr)
			c.RestartCount = s.rm.count
			if c.State.Health != nil {
				c.State.Health.Status = container.HealthUnhealthy
			}
			return nil
		})
		if err == nil {
			s.notifyExit(code)
			o.Starter.Cleanup(ctx, cur, false)
			cur, err = s.backoff(ctx, delay)
			if err != nil {
				return nil, false // removed during the backoff
			}
			if !cur.State.StoppedByUser && !closed(o.Stop) && ctx.Err() == nil {
				return cur, true
			}
		} else if !errors.Is(err, errStopped) {
			o.Logf("record exit of %s: %v", o.ID, err)
			return nil, false
		}
	}
	s.finish(ctx, code, werr, finished)
	return nil, false
}

var errStopped = errors.New("stopped by user")

// backoffPoll is how often a pending restart looks for an explicit stop:
// `stop` marks the record and need not know about the supervisor.
const backoffPoll = 100 * time.Millisecond

// backoff waits delay before a restart, ending early when the container is
// stopped (record or SIGTERM) or removed; it returns the fresh record.
func (s *supervision) backoff(ctx context.Context, delay time.Duration) (*container.Container, error) {
	deadline := time.Now().Add(delay)
	for {
		wait := min(time.Until(deadline), backoffPoll)
		if wait > 0 {
			select {
			case <-time.After(wait):
			case <-s.o.Stop:
			case <-ctx.Done():
			}
		}
		cur, err := s.o.Store.Load(s.o.ID)
		if err != nil || cur.State.StoppedByUser || closed(s.o.Stop) || ctx.Err() != nil || !time.Now().Before(deadline) {
			return cur, err
		}
	}
}

// finish ends a supervision: cleanup (and --rm), then the exit record.
func (s *supervision) finish(ctx context.Context, code int, werr error, finished time.Time) {
	o := s.o
	cur, err := o.Store.Load(o.ID)
	if err != nil {
		return
	}
	if cur.Host.AutoRemove {
		if err := o.Starter.Cleanup(ctx, cur, true); err != nil {
			o.Logf("remove container %s: %v", o.ID, err)
		}
		failpoint.Hit("supervisor.exit.before-delete")
		if err := o.Store.Delete(o.ID); err != nil {
			o.Logf("remove container %s: %v", o.ID, err)
		}
		s.notifyExit(code)
		return
	}
	// rm -f tears the container down itself once the exit is on record.
	failpoint.Hit("supervisor.exit.before-cleanup")
	if !cur.State.RemovalInProgress {
		if err := o.Starter.Cleanup(ctx, cur, false); err != nil {
			o.Logf("clean up container %s: %v", o.ID, err)
		}
	}
	failpoint.Hit("supervisor.exit.before-record")
	_, err = o.Store.Update(o.ID, func(c *container.Container) error {
		c.State.SetStopped(code, finished)
		c.State.Error = errText(werr)
		c.State.SupervisorPid = 0
		if c.State.Health != nil {
			c.State.Health.Status = container.HealthUnhealthy // Docker's rule once monitoring stops
		}
		return nil
	})
	if err != nil && !errdefs.IsNotFound(err) {
		o.Logf("record exit of %s: %v", o.ID, err)
	}
	s.notifyExit(code)
}

// fail records a start that did not happen and releases what it left.
func (o Options) fail(ctx context.Context, c *container.Container, startErr error, code int) {
	cur, err := o.Store.Update(o.ID, func(c *container.Container) error {
		finished := time.Now()
		if c.State.StartedAt.IsZero() {
			finished = time.Time{} // never ran: Docker leaves FinishedAt unset
		}
		c.State.SetStopped(code, finished)
		c.State.Error = startErr.Error()
		c.State.SupervisorPid = 0
		return nil
	})
	if err != nil {
		cur = c
	}
	remove := cur.Host.AutoRemove
	if err := o.Starter.Cleanup(ctx, cur, remove); err != nil {
		o.Logf("clean up container %s: %v", o.ID, err)
	}
	if remove {
		o.Store.Delete(o.ID)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func closed(ch <-chan struct{}) bool {
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// timeNow is the wall clock in UTC, as records store it.
func timeNow() time.Time { return time.Now().UTC() }
