package supervisor

import (
	"context"
	"fmt"

	"github.com/berth/berth/internal/container"
	"github.com/berth/berth/internal/errdefs"
)

// ReconcileOptions inject how to tell a live owner and how to clean up.
type ReconcileOptions struct {
	// OwnerAlive reports whether container id's supervisor (or foreground
	// owner) lives. Default: Store.OwnerAlive, the owner flock.
	OwnerAlive func(id string) bool
	// Cleanup kills whatever is left of the container and releases its
	// runtime state (Starter.Cleanup). It is called with the container lock
	// held, so it must not Update the record. nil skips it.
	Cleanup func(ctx context.Context, c *container.Container, remove bool) error
}

// ExitOwnerDied is the exit code recorded for a container whose supervisor
// died while it ran: Docker's code for SIGKILL, which is what becomes of it.
const ExitOwnerDied = 137

// Reconcile lists the containers, first turning every record that claims
// to be running, restarting or paused but has no live owner into an exited
// one (see the package doc). It costs one flock probe per such record, so
// ps can call it every time. Containers with --rm whose owner died are
// removed and left out of the result.
func Reconcile(ctx context.Context, s *container.Store, o ReconcileOptions) ([]*container.Container, error) {
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, c := range all {
		nc, err := ReconcileOne(ctx, s, c, o)
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, nc)
	}
	return out, nil
}

// ReconcileOne is Reconcile for one record (for inspect, stop, start...).
// It returns the up-to-date record, or errdefs.ErrNotFound if reconciling
// removed it (--rm).
func ReconcileOne(ctx context.Context, s *container.Store, c *container.Container, o ReconcileOptions) (*container.Container, error) {
	if o.OwnerAlive == nil {
		o.OwnerAlive = s.OwnerAlive
	}
	if !claimsOwner(c) || o.OwnerAlive(c.ID) {
		return c, nil
	}
	unlock, err := s.Lock(c.ID)
	if err != nil {
		return nil, err
	}
	cur, err := s.Load(c.ID)
	if err != nil || !claimsOwner(cur) || o.OwnerAlive(c.ID) {
		unlock()
		return cur, err // changed meanwhile: someone else's record now
	}
	if o.Cleanup != nil {
		if err := o.Cleanup(ctx, cur, false); err != nil {
			unlock()
			return nil, fmt.Errorf("container %s: clean up after its supervisor died: %w", cur.ID, err)
		}
	}
	code, msg := cur.State.ExitCode, ""
	if !cur.State.Restarting {
		// It was running: whatever it would have exited with is lost.
		code = ExitOwnerDied
		msg = fmt.Sprintf("supervisor (pid %d) died; container killed, exit status unknown", cur.State.SupervisorPid)
	}
	finished := cur.State.FinishedAt
	if !cur.State.Restarting || finished.IsZero() {
		finished = timeNow()
	}
	cur.State.SetStopped(code, finished)
	cur.State.Error = msg
	cur.State.SupervisorPid = 0
	if cur.State.Health != nil {
		cur.State.Health.Status = container.HealthUnhealthy
	}
	err = s.Save(cur)
	unlock()
	if err != nil {
		return nil, err
	}
	if cur.Host.AutoRemove {
		if o.Cleanup != nil {
			if err := o.Cleanup(ctx, cur, true); err != nil {
				return cur, fmt.Errorf("container %s: remove: %w", cur.ID, err)
			}
		}
		if err := s.Delete(cur.ID); err != nil {
			return cur, err
		}
		return nil, fmt.Errorf("container %s was removed (--rm): %w", cur.ID, errdefs.ErrNotFound)
	}
	return cur, nil
}

// claimsOwner: records in these states are only true while an owner lives.
func claimsOwner(c *container.Container) bool {
	return c.State.Running || c.State.Restarting || c.State.Paused
}
