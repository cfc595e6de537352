package snapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/sys/mountinfo"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/fsutil"
)

// hasLeftovers is a lock-free peek for anything Cleanup would remove, so
// that Open (run by every command) takes the lock only when needed.
func (s *Store) hasLeftovers() bool {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, rmPrefix) || strings.HasPrefix(n, newPrefix) {
			return true
		}
	}
	return false
}

// leftover says whether directory entry name is garbage: an rm-* or
// new-* dir no live process holds, a stale temp file of an atomic write, or
// a snapshot dir the index does not name. The caller holds the store lock.
func (s *Store) leftover(idx *index, referenced map[string]bool, name string) bool {
	switch {
	case name == indexFile || name == lockFile || name == emptyDir:
		return false
	case strings.HasPrefix(name, rmPrefix), strings.HasPrefix(name, newPrefix):
		return !inUse(filepath.Join(s.dir, name))
	case strings.HasPrefix(name, "."+indexFile+".tmp-"):
		return true
	}
	if _, err := strconv.ParseUint(name, 10, 64); err == nil {
		return !referenced[name]
	}
	return false // not ours: leave it alone
}

// inUse reports whether a new-* or rm-* dir is flocked by a live process
// (an Apply or Prepare building it, a Remove or GC deleting it).
func inUse(p string) bool {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return true
	}
	return false
}

func referencedIDs(idx *index) map[string]bool {
	ids := map[string]bool{}
	for _, r := range idx.Committed {
		ids[r.ID] = true
	}
	for _, r := range idx.Active {
		ids[r.ID] = true
	}
	return ids
}

// Cleanup removes what crashed processes left: unfinished new-* dirs,
// half-deleted rm-* dirs and snapshot dirs the index never named.
func (s *Store) Cleanup() error {
	return s.cleanup(s.lockTimeout)
}

func (s *Store) cleanup(timeout time.Duration) error {
	unlock, err := s.lockWithin(timeout)
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	_, err = s.removeLeftovers(idx, true)
	return err
}

func (s *Store) removeLeftovers(idx *index, remove bool) ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("snapshot store: %w", err)
	}
	refs := referencedIDs(idx)
	var found []string
	var mounted map[string]bool // the upper dirs of mounted overlays, read once if needed
	for _, e := range entries {
		if !s.leftover(idx, refs, e.Name()) {
			continue
		}
		if _, err := strconv.ParseUint(e.Name(), 10, 64); err == nil {
			if mounted == nil {
				mounted = mountedUppers()
			}
			if mounted[s.path(e.Name(), fsDir)] {
				// An index that lost it (a power loss took an ephemeral
				// layer's record) while its container still runs: the
				// container's removal, or a check after it, finishes it.
				continue
			}
		}
		found = append(found, "leftover "+e.Name())
		if remove {
			if err := os.RemoveAll(filepath.Join(s.dir, e.Name())); err != nil {
				return found, fmt.Errorf("snapshot store: remove %s: %w", e.Name(), err)
			}
		}
	}
	return found, nil
}

// Check verifies the store: a readable index, every snapshot's directory
// present, every parent chain complete, no leftovers. It returns one line
// per problem. With repair, it fixes what it found: a corrupt index is
// rebuilt from the snapshots' meta.json files, broken records are dropped
// (with their directories) and leftovers removed.
func (s *Store) Check(repair bool) ([]string, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	var problems []string
	idx, err := s.loadIndex()
	if err != nil {
		problems = append(problems, err.Error())
		if !repair {
			return problems, nil
		}
		if idx, err = s.rebuildIndex(); err != nil {
			return problems, err
		}
		if err := s.writeIndex(idx, true); err != nil {
			return problems, err
		}
	}
	// A record is broken if its dir is gone or its parent is broken or
	// missing; iterate so a whole chain above a lost layer is reported.
	broken := map[digest.Digest]string{}
	for grew := true; grew; {
		grew = false
		for c, r := range idx.Committed {
			if _, done := broken[c]; done {
				continue
			}
			why := ""
			if _, err := os.Stat(s.path(r.ID, fsDir)); err != nil {
				why = "missing its directory"
			} else if _, bad := broken[r.Parent]; r.Parent != "" && (bad || idx.Committed[r.Parent] == nil) {
				why = "parent " + r.Parent.String() + " is missing or broken"
			} else if r.ChainID != c {
				why = "record names chain " + r.ChainID.String()
			}
			if why != "" {
				broken[c] = why
				grew = true
			}
		}
	}
	for c, why := range broken {
		problems = append(problems, fmt.Sprintf("snapshot %s (%s): %s", c, idx.Committed[c].ID, why))
	}
	changed := false
	if repair {
		for c := range broken {
			delete(idx.Committed, c)
			changed = true
		}
	}
	for k, r := range idx.Active {
		why := ""
		if _, err := os.Stat(s.path(r.ID, fsDir)); err != nil {
			why = "missing its upper directory"
		} else if _, err := os.Stat(s.path(r.ID, workDir)); err != nil {
			why = "missing its work directory"
		} else if _, bad := broken[r.Parent]; r.Parent != "" && (bad || idx.Committed[r.Parent] == nil) {
			why = "parent " + r.Parent.String() + " is missing or broken"
		}
		if why != "" {
			problems = append(problems, fmt.Sprintf("active snapshot %s (%s): %s", k, r.ID, why))
			if repair {
				delete(idx.Active, k)
				changed = true
			}
		}
	}
	if repair && changed {
		if err := s.writeIndex(idx, true); err != nil {
			return problems, err
		}
	}
	sort.Strings(problems)
	left, err := s.removeLeftovers(idx, repair)
	return append(problems, left...), err
}

// rebuildIndex recreates the index from the meta.json in each snapshot dir
// (in memory; the caller writes it if it holds the store lock).
func (s *Store) rebuildIndex() (*index, error) {
	idx := &index{Committed: map[digest.Digest]*record{}, Active: map[string]*record{}}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		n, err := strconv.ParseUint(e.Name(), 10, 64)
		if err != nil {
			continue
		}
		idx.NextID = max(idx.NextID, n)
		var r record
		if err := fsutil.ReadJSON(s.path(e.Name(), metaFile), &r); err != nil || r.ID != e.Name() {
			continue
		}
		switch {
		case r.Key != "":
			idx.Active[r.Key] = &r
		case r.ChainID != "":
			idx.Committed[r.ChainID] = &r
		}
	}
	return idx, nil
}

// upperMounted reports whether an overlay in this mount namespace uses upper.
func upperMounted(upper string) bool { return mountedUppers()[upper] }

// mountedUppers returns the upper dirs of the overlays mounted in this
// mount namespace.
func mountedUppers() map[string]bool {
	uppers := map[string]bool{}
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("overlay"))
	if err != nil {
		return uppers
	}
	for _, m := range mounts {
		for _, o := range strings.Split(m.VFSOptions, ",") {
			if u, ok := strings.CutPrefix(o, "upperdir="); ok {
				uppers[u] = true
			}
		}
	}
	return uppers
}
