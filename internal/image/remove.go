package image

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/failpoint"
)

// Usage is one container using an image, as the container store reports it.
type Usage struct {
	ContainerID string
	Running     bool
}

// Deleted is one line of `docker rmi` output: exactly one field is set.
type Deleted struct {
	Untagged string `json:"Untagged,omitempty"`
	Deleted  string `json:"Deleted,omitempty"`
}

// Tag points target (name[:tag]) at the image source names, moving the tag
// away from any image that had it, and sets the image's LastTagTime.
func (s *Store) Tag(source, target string) error {
	ref, err := ParseTag(target)
	if err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	refs, err := s.readRefs()
	if err != nil {
		return err
	}
	id, err := s.resolve(source, refs)
	if err != nil {
		return err
	}
	rec, err := s.readRecord(id)
	if err != nil {
		return err
	}
	rec.LastTagTime = s.now().UTC()
	failpoint.Hit("image.tag.before-refs")
	refs[ref.String()] = id
	if err := s.writeRefs(refs); err != nil {
		return err
	}
	failpoint.Hit("image.tag.after-refs")
	// After the reference: a crash in between only loses the tag time.
	return s.writeRecord(id, rec)
}

// RemoveOptions are `docker rmi`'s.
type RemoveOptions struct {
	Force   bool
	NoPrune bool // keep untagged parents (--no-prune)
	// InUse returns the containers using an image ID; nil means none do.
	InUse func(imageID string) []Usage
}

// Remove implements `docker rmi ref` with Docker's rules (moby's
// ImageDelete): a name untags first and deletes the image only with its
// last name; an ID deletes when at most one name (per repository) points
// at it, or with Force. Containers using the image refuse the removal
// (stopped ones only without Force), as do child images. Untagged parents
// are pruned unless NoPrune. Blobs and snapshots stay until GC.
func (s *Store) Remove(ref string, opts RemoveOptions) ([]Deleted, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	t, err := s.begin(opts.InUse)
	if err != nil {
		return nil, err
	}
	out, err := t.remove(ref, opts.Force, !opts.NoPrune)
	if cerr := t.commit(); cerr != nil && err == nil {
		err = cerr
	}
	return out, err
}

// PruneOptions are `docker image prune`'s.
type PruneOptions struct {
	All    bool              // -a: every unused image, not only dangling ones
	Filter func(*Image) bool // until=/label= filters; nil keeps all candidates
	InUse  func(string) []Usage
	// KeepChains are extra snapshots GC must keep (see GC).
	KeepChains map[digest.Digest]bool
}

// Prune removes dangling images (or, with All, every image no container
// uses), as moby's ImagesPrune does, then collects the garbage. It returns
// what was untagged/deleted and the bytes reclaimed.
func (s *Store) Prune(opts PruneOptions) ([]Deleted, int64, error) {
	imgs, err := s.List()
	if err != nil {
		return nil, 0, err
	}
	byID := map[string]*Image{}
	for _, img := range imgs {
		byID[img.ID] = img
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, 0, err
	}
	t, err := s.begin(opts.InUse)
	if err != nil {
		unlock()
		return nil, 0, err
	}
	var out []Deleted
	for _, id := range t.sortedIDs() {
		img := byID[id]
		if img == nil {
			continue // unreadable: Check's business
		}
		refs := t.refsTo(id)
		hasChildren := len(t.children(id)) > 0
		if !opts.All && hasChildren {
			continue // only heads can be dangling
		}
		if len(refs) == 0 && hasChildren {
			continue // an intermediate image goes with its last child
		}
		if opts.Filter != nil && !opts.Filter(img) {
			continue
		}
		if _, ok := t.records[id]; !ok {
			continue // already pruned as someone's parent
		}
		var deleted []Deleted
		if len(refs) > 0 {
			del := opts.All
			if !del {
				del = true
				for _, r := range refs {
					if _, ok := r.(reference.NamedTagged); ok {
						del = false
					}
				}
			}
			if del {
				for _, r := range refs {
					d, err := t.remove(r.String(), false, true)
					if err != nil && ignorable(err) {
						continue
					}
					if err != nil {
						t.commit()
						unlock()
						return out, 0, err
					}
					deleted = append(deleted, d...)
				}
			}
		} else {
			d, err := t.remove(strings.TrimPrefix(id, "sha256:"), false, true)
			if err != nil && !ignorable(err) {
				t.commit()
				unlock()
				return out, 0, err
			}
			deleted = d
		}
		out = append(out, deleted...)
	}
	err = t.commit()
	unlock()
	if err != nil {
		return out, 0, err
	}
	reclaimed, err := s.GC(opts.KeepChains)
	return out, reclaimed, err
}

// ignorable are the failures prune skips silently (moby's
// imageDeleteFailed): an image in use, or already gone.
func ignorable(err error) bool {
	return errdefs.IsConflict(err) || errdefs.IsNotFound(err)
}

// txn is a view of all records and references, changed in memory under the
// store lock and written back by commit.
type txn struct {
	s       *Store
	refs    map[string]string
	records map[string]record
	deleted []string
	dirty   bool
	inUse   func(string) []Usage
}

func (s *Store) begin(inUse func(string) []Usage) (*txn, error) {
	refs, err := s.readRefs()
	if err != nil {
		return nil, err
	}
	ids, err := s.ids()
	if err != nil {
		return nil, err
	}
	t := &txn{s: s, refs: refs, records: map[string]record{}, inUse: inUse}
	for _, id := range ids {
		if rec, err := s.readRecord(id); err == nil {
			t.records[id] = rec
		}
	}
	if t.inUse == nil {
		t.inUse = func(string) []Usage { return nil }
	}
	return t, nil
}

// commit writes the references first, then deletes the records: a crash in
// between leaves untagged images, never names of missing ones.
func (t *txn) commit() error {
	if t.dirty {
		if err := t.s.writeRefsFreeing(t.refs); err != nil {
			return err
		}
		t.dirty = false
	}
	failpoint.Hit("image.remove.after-refs")
	for _, id := range t.deleted {
		if err := os.Remove(t.s.recordPath(id)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("delete image record %s: %w", ShortID(id), err)
		}
	}
	t.deleted = nil
	return nil
}

func (t *txn) sortedIDs() []string {
	ids := make([]string, 0, len(t.records))
	for id := range t.records {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func (t *txn) refsTo(id string) []reference.Named {
	var out []reference.Named
	for r, target := range t.refs {
		if target != id {
			continue
		}
		if named, err := reference.ParseNormalizedNamed(r); err == nil {
			out = append(out, named)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func (t *txn) children(id string) []string {
	var out []string
	for c, rec := range t.records {
		if rec.Parent == id {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

func (t *txn) untag(ref reference.Named) Deleted {
	delete(t.refs, ref.String())
	t.dirty = true
	return Deleted{Untagged: Familiar(ref)}
}

// isImageIDPrefix is moby's: was the image named by (a prefix of) its ID?
func isImageIDPrefix(imageID, possiblePrefix string) bool {
	if strings.HasPrefix(imageID, possiblePrefix) {
		return true
	}
	if i := strings.IndexRune(imageID, ':'); i >= 0 {
		return strings.HasPrefix(imageID[i+1:], possiblePrefix)
	}
	return false
}

// isSingleReference is moby's: at most one tag, and every digest reference
// in the same repository as it.
func isSingleReference(refs []reference.Named) bool {
	if len(refs) <= 1 {
		return len(refs) == 1
	}
	var single reference.Named
	canonical := map[string]struct{}{}
	for _, r := range refs {
		if _, ok := r.(reference.Canonical); ok {
			canonical[r.Name()] = struct{}{}
		} else if single == nil {
			single = r
		} else {
			return false
		}
	}
	if single == nil {
		single = refs[0]
	}
	_, ok := canonical[single.Name()]
	return len(canonical) == 1 && ok
}

// remove is moby's ImageDelete over the transaction.
func (t *txn) remove(ref string, force, prune bool) ([]Deleted, error) {
	exists := func(id string) bool { _, ok := t.records[id]; return ok }
	ids := func() ([]string, error) { return t.sortedIDs(), nil }
	id, err := resolveIn(ref, t.refs, exists, ids)
	if err != nil {
		return nil, err
	}
	repoRefs := t.refsTo(id)
	var out []Deleted
	removedRepositoryRef := false
	if !isImageIDPrefix(id, ref) {
		// A name: untag it. Without force, refuse to leave a container's
		// image nameless.
		if !force && isSingleReference(repoRefs) {
			if u := t.inUse(id); len(u) > 0 {
				return nil, conflictMsg(fmt.Sprintf("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s",
					ref, ShortID(u[0].ContainerID), ShortID(id)))
			}
		}
		named, err := ParseReference(ref)
		if err != nil {
			return nil, err
		}
		if t.refs[named.String()] != id {
			return nil, &NotFoundError{Ref: Familiar(named)}
		}
		out = append(out, t.untag(named))
		repoRefs = t.refsTo(id)
		// The last tag of a repository takes its digest references along.
		if _, isCanonical := named.(reference.Canonical); !isCanonical {
			tagLeft := false
			for _, r := range repoRefs {
				if _, c := r.(reference.Canonical); !c && r.Name() == named.Name() {
					tagLeft = true
					break
				}
			}
			if !tagLeft {
				var remaining []reference.Named
				for _, r := range repoRefs {
					if _, c := r.(reference.Canonical); c && r.Name() == named.Name() {
						out = append(out, t.untag(r))
					} else {
						remaining = append(remaining, r)
					}
				}
				repoRefs = remaining
			}
		}
		if len(repoRefs) > 0 {
			return out, nil
		}
		removedRepositoryRef = true
	} else if isSingleReference(repoRefs) {
		// An ID with a single name: the name goes with the image.
		mask := conflictHard
		if !force {
			mask |= conflictSoft &^ conflictActiveReference
		}
		if c := t.conflict(id, mask); c != nil {
			return nil, c
		}
		for _, r := range repoRefs {
			out = append(out, t.untag(r))
		}
	}
	err = t.deleteHelper(id, &out, force, prune, removedRepositoryRef)
	return out, err
}

// deleteHelper is moby's imageDeleteHelper.
func (t *txn) deleteHelper(id string, out *[]Deleted, force, prune, quiet bool) error {
	mask := conflictHard
	if !force {
		mask |= conflictSoft
	}
	if c := t.conflict(id, mask); c != nil {
		if quiet && (!t.dangling(id) || c.used) {
			return nil // the name went; the image stays for its users
		}
		return c
	}
	parent := t.records[id].Parent
	for _, r := range t.refsTo(id) {
		*out = append(*out, t.untag(r))
	}
	delete(t.records, id)
	t.deleted = append(t.deleted, id)
	*out = append(*out, Deleted{Deleted: id})
	if !prune || parent == "" {
		return nil
	}
	if _, ok := t.records[parent]; !ok {
		return nil
	}
	return t.deleteHelper(parent, out, false, true, true)
}

func (t *txn) dangling(id string) bool {
	return len(t.refsTo(id)) == 0 && len(t.children(id)) == 0
}

type conflictType int

const (
	conflictDependentChild conflictType = 1 << iota
	conflictRunningContainer
	conflictActiveReference
	conflictStoppedContainer
	conflictHard = conflictDependentChild | conflictRunningContainer
	conflictSoft = conflictActiveReference | conflictStoppedContainer
)

// ConflictError is why an image cannot be deleted, in Docker's words. It is
// of the errdefs.ErrConflict class.
type ConflictError struct {
	ImageID string
	Hard    bool // cannot be forced
	Message string
	used    bool
}

func (e *ConflictError) Error() string {
	force := "must be forced"
	if e.Hard {
		force = "cannot be forced"
	}
	return fmt.Sprintf("conflict: unable to delete %s (%s) - %s", ShortID(e.ImageID), force, e.Message)
}

func (e *ConflictError) Unwrap() error { return errdefs.ErrConflict }

// conflict is moby's checkImageDeleteConflict.
func (t *txn) conflict(id string, mask conflictType) *ConflictError {
	if mask&conflictDependentChild != 0 && len(t.children(id)) > 0 {
		return &ConflictError{ImageID: id, Hard: true, Message: "image has dependent child images"}
	}
	usage := t.inUse(id)
	if mask&conflictRunningContainer != 0 {
		for _, u := range usage {
			if u.Running {
				return &ConflictError{ImageID: id, Hard: true, used: true,
					Message: "image is being used by running container " + ShortID(u.ContainerID)}
			}
		}
	}
	if mask&conflictActiveReference != 0 && len(t.refsTo(id)) > 0 {
		return &ConflictError{ImageID: id, Message: "image is referenced in multiple repositories"}
	}
	if mask&conflictStoppedContainer != 0 {
		for _, u := range usage {
			if !u.Running {
				return &ConflictError{ImageID: id, used: true,
					Message: "image is being used by stopped container " + ShortID(u.ContainerID)}
			}
		}
	}
	return nil
}

// conflictMsg is a conflict whose whole text is Docker's.
type conflictMsg string

func (e conflictMsg) Error() string { return string(e) }
func (e conflictMsg) Unwrap() error { return errdefs.ErrConflict }
