package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/container"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/failpoint"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/opts"
	"github.com/berth/berth/internal/runtime"
	"github.com/berth/berth/internal/supervisor"
)

// Container looks a container up by ID, ID prefix or name and reconciles
// its record with reality first: a record that says "running" whose owner
// (supervisor or foreground berth) is gone — killed, or lost in a reboot —
// is finished here, so every command sees the truth.
func (e *Engine) Container(ref string) (*container.Container, error) {
	c, err := e.Containers.Get(ref)
	if err != nil {
		return nil, err
	}
	return e.reconcile(c)
}

// Containers lists every container, reconciled.
func (e *Engine) List() ([]*container.Container, error) {
	return supervisor.Reconcile(context.Background(), e.Containers, supervisor.ReconcileOptions{Cleanup: e.cleanup})
}

// reconcile finishes a record whose owner died: nobody collects the exit
// status or the logs of what may still run, so it is stopped and recorded
// as killed (see supervisor.ReconcileOne).
func (e *Engine) reconcile(c *container.Container) (*container.Container, error) {
	return supervisor.ReconcileOne(context.Background(), e.Containers, c, supervisor.ReconcileOptions{Cleanup: e.cleanup})
}

// Stop sends the stop signal, waits up to timeout, then kills. A nil timeout
// means the container's --stop-timeout, else 10 s, as in Docker.
func (e *Engine) Stop(ctx context.Context, ref string, timeout *int) error {
	c, err := e.Container(ref)
	if err != nil {
		return err
	}
	if !c.State.Running {
		return nil
	}
	if _, err := e.Containers.Update(c.ID, func(c *container.Container) error {
		c.State.StoppedByUser = true
		return nil
	}); err != nil && !stopAnyway(c, err) {
		return err
	}
	t := 10
	if c.Config.StopTimeout != nil {
		t = *c.Config.StopTimeout
	}
	if timeout != nil {
		t = *timeout
	}
	sig := unix.SIGTERM
	if c.Config.StopSignal != "" {
		if s, err := opts.ParseSignal(c.Config.StopSignal); err == nil {
			sig = s
		}
	}
	if e.frozen(c) {
		e.rt(c).Resume(c.ID)
	}
	if t != 0 {
		if err := e.rt(c).Kill(c.ID, sig, false); err == nil {
			if t < 0 {
				return e.waitStopped(ctx, c.ID, -1)
			}
			if e.waitStopped(ctx, c.ID, time.Duration(t)*time.Second) == nil {
				return nil
			}
		}
	}
	e.rt(c).Kill(c.ID, unix.SIGKILL, true)
	return e.waitStopped(ctx, c.ID, 30*time.Second)
}

// stopAnyway says whether Stop may go on although the record could not
// note that the user stopped the container: when the disk is full (a
// container filling it is what one then stops) and no restart policy would
// bring the container back for want of that note.
func stopAnyway(c *container.Container, err error) bool {
	p := c.Host.RestartPolicy.Name
	return errors.Is(err, unix.ENOSPC) && (p == "" || p == "no")
}

// Kill sends sig to the container's main process.
func (e *Engine) Kill(ref string, sig unix.Signal) error {
	c, err := e.Container(ref)
	if err != nil {
		return err
	}
	if !c.State.Running {
		return fmt.Errorf("Cannot kill container: %s: Container %s is not running: %w", ref, c.ID, errdefs.ErrConflict)
	}
	if sig == unix.SIGKILL || sig == unix.SIGTERM {
		e.Containers.Update(c.ID, func(c *container.Container) error {
			c.State.StoppedByUser = true
			return nil
		})
	}
	if sig == unix.SIGKILL && e.frozen(c) {
		defer e.rt(c).Resume(c.ID)
	}
	return e.rt(c).Kill(c.ID, sig, false)
}

// frozen reports whether c's processes are frozen: paused, or left frozen
// by a commit that died before resuming them (the record does not say so),
// in which case no signal would ever be handled.
func (e *Engine) frozen(c *container.Container) bool {
	if c.State.Paused {
		return true
	}
	st, err := e.rt(c).State(c.ID)
	return err == nil && st.Status == runtime.StatusPaused
}

// waitStopped polls the record until the owner has recorded the exit
// (timeout < 0: forever). A dead owner is reconciled on the way.
func (e *Engine) waitStopped(ctx context.Context, id string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	delay := time.Millisecond
	for {
		c, err := e.Container(id)
		if err != nil {
			return err
		}
		if !c.State.Running {
			return nil
		}
		if timeout >= 0 && time.Now().After(deadline) {
			return fmt.Errorf("container %s did not stop within %s: %w", short(id), timeout, errdefs.ErrUnavailable)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		if delay < 5*time.Millisecond {
			delay *= 2
		}
	}
}

// Wait blocks until the container stops and returns its exit code.
func (e *Engine) Wait(ctx context.Context, ref string) (int, error) {
	c, err := e.Container(ref)
	if err != nil {
		return 0, err
	}
	if err := e.waitStopped(ctx, c.ID, -1); err != nil {
		return 0, err
	}
	c, err = e.Containers.Get(c.ID)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return 0, nil // --rm removed it
		}
		return 0, err
	}
	return c.State.ExitCode, nil
}

// Restart stops (if running) and starts the container again.
func (e *Engine) Restart(ctx context.Context, ref string, timeout *int) error {
	if err := e.Stop(ctx, ref, timeout); err != nil {
		return err
	}
	_, err := e.Start(ctx, ref)
	return err
}

// Remove deletes a container: its record, snapshot and (with volumes) its
// anonymous volumes. A running container needs force, which kills it first.
func (e *Engine) Remove(ctx context.Context, ref string, force, volumes bool) error {
	c, err := e.Container(ref)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		if c, err = e.settle(ctx, c); err != nil {
			return err
		}
		if c.State.Running {
			break
		}
		err = e.removeUnowned(c, volumes)
		if !errors.Is(err, errOwned) || attempt == 3 {
			return err
		}
		// A start took the container between settle and here: look again.
		if c, err = e.Container(c.ID); err != nil {
			return err
		}
	}
	// Running: only with force, which kills it first.
	if !force {
		if c.State.Paused {
			return fmt.Errorf("cannot remove container %q: container is paused and must be unpaused first: %w", c.Name, errdefs.ErrConflict)
		}
		return fmt.Errorf("You cannot remove a running container %s. Stop the container before attempting removal or force remove: %w", c.ID, errdefs.ErrConflict)
	}
	e.Containers.Update(c.ID, func(c *container.Container) error {
		c.State.StoppedByUser = true
		c.State.RemovalInProgress = true
		c.Host.AutoRemove = false // this rm does the removal
		return nil
	})
	if e.frozen(c) {
		e.rt(c).Resume(c.ID)
	}
	failpoint.Hit("rm.after-mark")
	e.rt(c).Kill(c.ID, unix.SIGKILL, true)
	if err := e.waitStopped(ctx, c.ID, 30*time.Second); err != nil {
		return err
	}
	if c, err = e.Containers.Get(c.ID); err != nil {
		return err
	}
	return e.removeStopped(c, volumes)
}

// live reports whether a process is in charge of c: it runs, or its owner
// (supervisor or foreground run) is still starting it, restarting it or
// recording its exit. Only a container no one is in charge of may be torn
// down by another process (rm, prune, repair).
func (e *Engine) live(c *container.Container) bool {
	return c.State.Running || e.Containers.OwnerAlive(c.ID)
}

// settle waits while c's owner is between states (starting the container,
// or recording its exit), as Docker's rm waits for the container's lock,
// and returns the record as it then is.
func (e *Engine) settle(ctx context.Context, c *container.Container) (*container.Container, error) {
	deadline := time.Now().Add(30 * time.Second)
	for !c.State.Running && e.Containers.OwnerAlive(c.ID) {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("container %s is being started or stopped by another process: %w", short(c.ID), errdefs.ErrUnavailable)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		var err error
		if c, err = e.Container(c.ID); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// errOwned is removeUnowned's answer when a process took charge of the
// container first.
var errOwned = errors.New("the container is being started by another process")

// removeUnowned removes a container no process is in charge of, holding
// its owner lock meanwhile: a start cannot begin on what is being torn down
// (one that loses the race finds no container).
func (e *Engine) removeUnowned(c *container.Container, volumes bool) error {
	release, err := e.Containers.HoldOwner(c.ID)
	if errdefs.IsConflict(err) {
		return fmt.Errorf("remove container %s: %w: %w", short(c.ID), errOwned, errdefs.ErrConflict)
	}
	if err != nil {
		return err
	}
	defer release()
	// As it is now that nothing else can start it.
	if c, err = e.Containers.Get(c.ID); err != nil {
		return err
	}
	if c.State.Running {
		return fmt.Errorf("remove container %s: %w: %w", short(c.ID), errOwned, errdefs.ErrConflict)
	}
	return e.removeStopped(c, volumes)
}

func (e *Engine) removeStopped(c *container.Container, volumes bool) error {
	if !c.State.RemovalInProgress {
		// Marked first, as Docker does: a removal that dies midway (its
		// rootfs already gone) is then completed by system check --repair,
		// not mistaken for a container to keep.
		// On a full disk the mark cannot be written, and removing the
		// container is how the user gets space back: go on without it.
		if _, err := e.Containers.Update(c.ID, func(rec *container.Container) error {
			rec.State.RemovalInProgress = true
			return nil
		}); err != nil && !errdefs.IsNotFound(err) && !errors.Is(err, unix.ENOSPC) {
			return err
		}
	}
	e.teardown(c)
	if err := e.removeOwned(c, volumes); err != nil {
		return err
	}
	failpoint.Hit("rm.before-delete")
	return e.Containers.Delete(c.ID)
}

// removeOwned deletes what a container owns besides its record: the
// read-write snapshot and, with volumes, its anonymous volumes.
func (e *Engine) removeOwned(c *container.Container, volumes bool) error {
	if err := e.Snapshots.Remove(c.Snapshot); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove rootfs of %s: %w", short(c.ID), err)
	}
	if volumes {
		// c's record still exists at this point; it must not count as a
		// user of its own volumes, or none would ever be removed.
		othersUsing := func(name string) []string {
			var ids []string
			for _, id := range e.VolumeUsers(name) {
				if id != c.ID {
					ids = append(ids, id)
				}
			}
			return ids
		}
		for _, m := range c.Mounts {
			if m.Type == "volume" && isAnonymous(m.Name) {
				e.Volumes.Remove(m.Name, othersUsing)
			}
		}
	}
	return nil
}

func isAnonymous(name string) bool {
	if len(name) != 64 {
		return false
	}
	for _, r := range name {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// VolumeUsers lists the containers that mount volume name.
func (e *Engine) VolumeUsers(name string) []string {
	all, _ := e.Containers.List()
	var ids []string
	for _, c := range all {
		for _, m := range c.Mounts {
			if m.Type == "volume" && m.Name == name {
				ids = append(ids, c.ID)
			}
		}
	}
	return ids
}

// RemoveMany removes containers in parallel (rm -f of many is a benchmark).
func (e *Engine) RemoveMany(ctx context.Context, refs []string, force, volumes bool) []error {
	errs := make([]error, len(refs))
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.Remove(ctx, ref, force, volumes)
		}()
	}
	wg.Wait()
	return errs
}

// Pause freezes every process of the container.
func (e *Engine) Pause(ref string) error {
	return e.setPaused(ref, true)
}

// Unpause thaws a paused container.
func (e *Engine) Unpause(ref string) error {
	return e.setPaused(ref, false)
}

func (e *Engine) setPaused(ref string, paused bool) error {
	c, err := e.Container(ref)
	if err != nil {
		return err
	}
	if !c.State.Running {
		return fmt.Errorf("container %s is not running: %w", c.ID, errdefs.ErrConflict)
	}
	if c.State.Paused == paused {
		if paused {
			return fmt.Errorf("container %s is already paused: %w", c.ID, errdefs.ErrConflict)
		}
		return fmt.Errorf("container %s is not paused: %w", c.ID, errdefs.ErrConflict)
	}
	if paused {
		err = e.rt(c).Pause(c.ID)
	} else {
		err = e.rt(c).Resume(c.ID)
	}
	if err != nil {
		return err
	}
	_, err = e.Containers.Update(c.ID, func(c *container.Container) error {
		c.State.Paused = paused
		c.State.Status = container.StatusRunning
		if paused {
			c.State.Status = container.StatusPaused
		}
		return nil
	})
	return err
}

// ImageUsage reports which containers use image id, for rmi and prune.
func (e *Engine) ImageUsage(id string) []image.Usage {
	all, _ := e.List()
	var out []image.Usage
	for _, c := range all {
		if c.Image == id {
			out = append(out, image.Usage{ContainerID: c.ID, Running: c.State.Running})
		}
	}
	return out
}
