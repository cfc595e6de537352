package image

import (
	"fmt"
	"slices"

	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/fsutil"
)

// Discard ends the lease of an operation that failed and deletes what it
// leaves behind that nothing else needs: each blob and layer snapshot on
// the lease that no image record and no other live lease names (a snapshot
// also stays while another snapshot or a container's layer is built on it).
// Unlike GC it touches nothing else: partial ingests stay, so a failed pull
// resumes from them, and other garbage waits for the next prune. The lease
// is released whatever happens; the error is the clean-up's.
func (l *Lease) Discard() error {
	if l == nil || l.f == nil {
		return nil
	}
	l.mu.Lock()
	items := slices.Clone(l.items)
	l.mu.Unlock()
	l.Release()
	return l.s.discard(items)
}

func (s *Store) discard(items []digest.Digest) error {
	if len(items) == 0 {
		return nil
	}
	unlock, err := fsutil.Lock(s.gcLock(), fsutil.DefaultLockTimeout)
	if err != nil {
		return fmt.Errorf("discard: %w", err)
	}
	defer unlock()
	// As in GC: leases first, records second.
	keep, err := s.liveLeases()
	if err != nil {
		return fmt.Errorf("discard: %w", err)
	}
	refd, err := s.referenced()
	if err != nil {
		return fmt.Errorf("discard: %w", err)
	}
	for d := range refd {
		keep[d] = true
	}
	doomed := map[digest.Digest]bool{}
	for _, d := range items {
		if !keep[d] {
			doomed[d] = true
		}
	}
	if len(doomed) == 0 {
		return nil
	}
	for d := range doomed {
		if !s.cs.Exists(d) {
			continue
		}
		if err := s.cs.Delete(d); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("discard blob %s: %w", d, err)
		}
	}
	// The snapshot store collects whatever its keep set misses: keep every
	// committed snapshot but the doomed (what a concurrent operation commits
	// meanwhile is on its live lease, hence in keep already).
	infos, err := s.snaps.List()
	if err != nil {
		return fmt.Errorf("discard: %w", err)
	}
	for _, i := range infos {
		if !doomed[i.ChainID] {
			keep[i.ChainID] = true
		}
	}
	if _, _, err := s.snaps.GC(keep); err != nil {
		return fmt.Errorf("discard snapshots: %w", err)
	}
	return nil
}
