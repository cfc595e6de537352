package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/failpoint"
	"github.com/berth/berth/internal/fsutil"
	"github.com/berth/berth/internal/mount"
)

// Info describes a committed snapshot (an unpacked layer).
type Info struct {
	ChainID digest.Digest
	DiffID  digest.Digest // sha256 of the uncompressed layer tar
	Parent  digest.Digest // ChainID of the layer below; "" for a base layer
	Size    int64         // bytes of file content in the layer
	Path    string        // the layer's directory (read-only by contract)
	Created time.Time
}

// record is what index.json and meta.json hold for one snapshot.
type record struct {
	ID      string        `json:"id"`
	Key     string        `json:"key,omitempty"`     // active snapshots
	ChainID digest.Digest `json:"chainID,omitempty"` // committed snapshots
	DiffID  digest.Digest `json:"diffID,omitempty"`
	Parent  digest.Digest `json:"parent,omitempty"`
	Size    int64         `json:"size,omitempty"`
	Created time.Time     `json:"created"`
	// Ephemeral marks an active snapshot that need not survive a crash of
	// the machine (see Ephemeral): its records skip the fsyncs.
	Ephemeral bool `json:"ephemeral,omitempty"`
	// Init marks a committed snapshot that is the init layer on its parent
	// (see WithInitLayer); it lives as long as its parent does.
	Init bool `json:"init,omitempty"`
}

type index struct {
	NextID    uint64                    `json:"nextID"`
	Committed map[digest.Digest]*record `json:"committed"`
	Active    map[string]*record        `json:"active"`
}

// Store is a snapshot store rooted at one directory. Its methods are safe
// for concurrent use by many goroutines and processes.
type Store struct {
	dir         string
	lockTimeout time.Duration
}

const (
	indexFile  = "index.json"
	metaFile   = "meta.json"
	lockFile   = "lock"
	emptyDir   = "empty"
	newPrefix  = "new-"
	rmPrefix   = "rm-"
	fsDir      = "fs"
	workDir    = "work"
	dirPerm    = 0o700
	rootfsPerm = 0o755
)

// Open opens (creating if needed) the store in dir and removes what a
// crashed process left behind.
func Open(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("snapshot store %s: %w", dir, err)
	}
	// The directory ends up inside overlay's comma- and colon-separated
	// mount options, where these characters cannot be escaped.
	if strings.ContainsAny(abs, ",:") {
		return nil, fmt.Errorf("snapshot store %s: path must not contain ',' or ':': %w", abs, errdefs.ErrInvalid)
	}
	s := &Store{dir: abs, lockTimeout: fsutil.DefaultLockTimeout}
	if err := os.MkdirAll(filepath.Join(abs, emptyDir), dirPerm); err != nil {
		return nil, fmt.Errorf("snapshot store %s: %w", abs, err)
	}
	if err := os.Chmod(filepath.Join(abs, emptyDir), rootfsPerm); err != nil {
		return nil, fmt.Errorf("snapshot store %s: %w", abs, err)
	}
	if s.hasLeftovers() {
		// Best effort and without waiting: another process holding the lock
		// will not be kept waiting for, and the next Open tries again.
		if err := s.cleanup(0); err != nil && !errors.Is(err, errdefs.ErrUnavailable) {
			return nil, err
		}
	}
	return s, nil
}

// ChainID is the OCI image-spec ChainID of a layer with diffID on top of the
// layer whose ChainID is parent ("" for a base layer).
func ChainID(parent, diffID digest.Digest) digest.Digest {
	if parent == "" {
		return diffID
	}
	return digest.FromString(parent.String() + " " + diffID.String())
}

func (s *Store) lock() (func(), error) {
	return s.lockWithin(s.lockTimeout)
}

func (s *Store) lockWithin(timeout time.Duration) (func(), error) {
	unlock, err := fsutil.Lock(filepath.Join(s.dir, lockFile), timeout)
	if err != nil {
		return nil, fmt.Errorf("snapshot store: %w", err)
	}
	return unlock, nil
}

// readIndex reads the index. One that does not parse is rebuilt from the
// snapshots' meta.json files: only a power loss during a write that skipped
// the fsync (an ephemeral snapshot's) leaves it so, and every committed
// snapshot's meta.json was written durably. Check reports it; the next
// write of the index replaces it.
func (s *Store) readIndex() (*index, error) {
	idx, err := s.loadIndex()
	if errors.Is(err, fsutil.ErrCorrupt) {
		return s.rebuildIndex()
	}
	return idx, err
}

// loadIndex reads the index as it is on disk.
func (s *Store) loadIndex() (*index, error) {
	idx := &index{}
	err := fsutil.ReadJSON(filepath.Join(s.dir, indexFile), idx)
	if err != nil && !errdefs.IsNotFound(err) {
		return nil, fmt.Errorf("snapshot store: %w", err)
	}
	if idx.Committed == nil {
		idx.Committed = map[digest.Digest]*record{}
	}
	if idx.Active == nil {
		idx.Active = map[string]*record{}
	}
	return idx, nil
}

// writeIndex replaces the index; durable waits for the disk, which every
// change but an ephemeral snapshot's does (see readIndex for the rest).
func (s *Store) writeIndex(idx *index, durable bool) error {
	if err := fsutil.WriteJSON(filepath.Join(s.dir, indexFile), idx, 0o600, durable); err != nil {
		return fmt.Errorf("snapshot store: write index: %w", err)
	}
	return nil
}

func (s *Store) path(id string, elem ...string) string {
	return filepath.Join(append([]string{s.dir, id}, elem...)...)
}

func (s *Store) info(r *record) Info {
	return Info{ChainID: r.ChainID, DiffID: r.DiffID, Parent: r.Parent, Size: r.Size, Path: s.path(r.ID, fsDir), Created: r.Created}
}

// allocID returns the next free numeric ID. A dir with that name can only be
// an orphan of a crash (the index never named it), so it is skipped.
func (s *Store) allocID(idx *index) string {
	for {
		idx.NextID++
		id := strconv.FormatUint(idx.NextID, 10)
		if _, err := os.Lstat(s.path(id)); errors.Is(err, os.ErrNotExist) {
			return id
		}
	}
}

// tempDir is a new-* build directory, flocked while in use so Cleanup in
// another process can tell it from a crashed one's.
type tempDir struct {
	path string
	fd   int
}

// newTempDir makes and flocks a new-* dir. Cleanup (under the store lock)
// takes every unlocked new-* dir for a crashed one's, so the dir must not
// exist unlocked outside the store lock: callers that do not hold it pass
// locked=false and newTempDir takes it for the two steps.
func (s *Store) newTempDir(locked bool) (*tempDir, error) {
	if !locked {
		unlock, err := s.lock()
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	p, err := os.MkdirTemp(s.dir, newPrefix)
	if err != nil {
		return nil, fmt.Errorf("snapshot store: %w", err)
	}
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == nil {
		err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
	}
	if err != nil {
		os.RemoveAll(p)
		return nil, fmt.Errorf("snapshot store: lock %s: %w", p, err)
	}
	return &tempDir{path: p, fd: fd}, nil
}

// release drops the flock and deletes the dir if it is still a temp dir
// (after a successful rename its path no longer exists).
func (t *tempDir) release() {
	os.RemoveAll(t.path)
	unix.Close(t.fd)
}

// Apply unpacks the uncompressed layer tar r (whiteouts in OCI form) as a
// committed snapshot on top of parent ("" for a base layer) and returns it.
// The DiffID is computed from the stream while it is read. If the resulting
// ChainID exists already (another process won a race, or the layer is
// shared), the new copy is discarded and the existing snapshot returned.
func (s *Store) Apply(ctx context.Context, parent digest.Digest, r io.Reader) (Info, error) {
	return s.apply(ctx, parent, r, false)
}

func (s *Store) apply(ctx context.Context, parent digest.Digest, r io.Reader, init bool) (Info, error) {
	if parent != "" {
		if _, err := s.Stat(parent); err != nil {
			return Info{}, fmt.Errorf("apply layer: parent: %w", err)
		}
	}
	tmp, err := s.newTempDir(false)
	if err != nil {
		return Info{}, err
	}
	defer tmp.release()
	fs := filepath.Join(tmp.path, fsDir)
	if err := mkdirMode(fs, rootfsPerm); err != nil {
		return Info{}, fmt.Errorf("apply layer: %w", err)
	}
	digester := digest.SHA256.Digester()
	tee := io.TeeReader(r, digester.Hash())
	what := "apply base layer"
	if parent != "" {
		what = "apply layer on " + parent.String()
	}
	size, err := archive.Apply(ctx, fs, tee, archive.ApplyOptions{Whiteouts: archive.WhiteoutOverlay})
	if err != nil {
		return Info{}, fmt.Errorf("%s: %w", what, err)
	}
	// The DiffID covers the whole stream, end-of-archive padding included.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return Info{}, fmt.Errorf("%s: read: %w", what, err)
	}
	diffID := digester.Digest()
	chainID := ChainID(parent, diffID)
	if err := syncFS(tmp.fd); err != nil {
		return Info{}, fmt.Errorf("apply layer %s: sync: %w", diffID, err)
	}

	unlock, err := s.lock()
	if err != nil {
		return Info{}, err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return Info{}, err
	}
	if existing, ok := idx.Committed[chainID]; ok {
		if init && !existing.Init {
			// The same layer, committed by a berth that did not flag init
			// layers (or flagged in a meta.json an index rebuild predates).
			existing.Init = true
			if err := s.writeIndex(idx, true); err != nil {
				return Info{}, err
			}
		}
		return s.info(existing), nil
	}
	if parent != "" && idx.Committed[parent] == nil {
		return Info{}, fmt.Errorf("apply layer %s: parent %s was removed meanwhile: %w", diffID, parent, errdefs.ErrNotFound)
	}
	failpoint.Hit("snapshot.apply.before-commit")
	rec := &record{ID: s.allocID(idx), ChainID: chainID, DiffID: diffID, Parent: parent, Size: size, Created: time.Now().UTC(), Init: init}
	if err := s.commitDir(tmp, rec); err != nil {
		return Info{}, fmt.Errorf("apply layer %s: %w", diffID, err)
	}
	failpoint.Hit("snapshot.apply.before-index")
	idx.Committed[chainID] = rec
	if err := s.writeIndex(idx, true); err != nil {
		os.RemoveAll(s.path(rec.ID))
		return Info{}, err
	}
	return s.info(rec), nil
}

// commitDir writes rec's meta.json into tmp and renames tmp to rec.ID,
// durably. An ephemeral snapshot gets neither: meta.json is for rebuilding
// a lost index, which only a power loss loses, and that ends an ephemeral
// snapshot anyway (without its record it is a leftover, and removed).
func (s *Store) commitDir(tmp *tempDir, rec *record) error {
	if !rec.Ephemeral {
		if err := fsutil.WriteJSONAtomic(filepath.Join(tmp.path, metaFile), rec, 0o600); err != nil {
			return err
		}
	}
	failpoint.Hit("snapshot.commit.before-rename")
	if err := os.Rename(tmp.path, s.path(rec.ID)); err != nil {
		return err
	}
	failpoint.Hit("snapshot.commit.after-rename")
	if rec.Ephemeral {
		return nil
	}
	return fsutil.SyncDir(s.dir)
}

// mkdirMode makes dir with exactly perm, whatever the process umask.
func mkdirMode(dir string, perm os.FileMode) error {
	if err := os.Mkdir(dir, perm); err != nil {
		return err
	}
	return os.Chmod(dir, perm)
}

func syncFS(fd int) error {
	return unix.Syncfs(fd)
}

// Stat returns the committed snapshot chainID, or an errdefs.ErrNotFound error.
func (s *Store) Stat(chainID digest.Digest) (Info, error) {
	idx, err := s.readIndex()
	if err != nil {
		return Info{}, err
	}
	r, ok := idx.Committed[chainID]
	if !ok {
		return Info{}, fmt.Errorf("snapshot %s: %w", chainID, errdefs.ErrNotFound)
	}
	return s.info(r), nil
}

// List returns every committed snapshot, oldest first.
func (s *Store) List() ([]Info, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, r := range idx.Committed {
		out = append(out, s.info(r))
	}
	sort.Slice(out, func(i, j int) bool {
		return idLess(filepath.Base(filepath.Dir(out[i].Path)), filepath.Base(filepath.Dir(out[j].Path)))
	})
	return out, nil
}

func idLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// Active returns the keys of all active snapshots, sorted.
func (s *Store) Active() ([]string, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(idx.Active))
	for k := range idx.Active {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, nil
}

// Prepare creates the active (writable) snapshot key on top of the committed
// snapshot parent ("" for an empty base, as for FROM scratch) and returns
// the overlay mount that shows it. A key in use is an errdefs.ErrConflict
// error; a missing parent errdefs.ErrNotFound.
func (s *Store) Prepare(key string, parent digest.Digest, opts ...PrepareOpt) ([]mount.Mount, error) {
	var o prepareOpts
	for _, opt := range opts {
		opt(&o)
	}
	for try := 0; ; try++ {
		ms, err := s.prepare(key, parent, o)
		if !errors.Is(err, errNoInitLayer) {
			return ms, err
		}
		if try == 2 { // made, and gone again each time: its image is being removed
			return nil, fmt.Errorf("prepare snapshot %s: parent %s: %w", key, parent, errdefs.ErrNotFound)
		}
		// The image's first container: make its init layer (as any layer,
		// outside the lock) and try again.
		if err := s.makeInitLayer(parent); err != nil {
			return nil, fmt.Errorf("prepare snapshot %s: %w", key, err)
		}
	}
}

// PrepareOpt is an option of Prepare.
type PrepareOpt func(*prepareOpts)

type prepareOpts struct{ ephemeral, init bool }

// Ephemeral is for a writable layer that is to be deleted anyway if the
// machine crashes: a --rm container's, a build step's. Its records are
// written without waiting for the disk (Prepare and Remove issue seven
// fsyncs otherwise, a tenth of a `run --rm` on a slow disk). After a power
// loss the index may have forgotten it (its directory is then a leftover
// that Check and Cleanup remove) or still name it without its directory
// (Check reports it; its container's removal finishes it).
func Ephemeral() PrepareOpt { return func(o *prepareOpts) { o.ephemeral = true } }

// WithInitLayer puts the layer on parent's init layer (see init.go)
// instead of on parent itself: a container's, whose runtime bind-mounts
// files over /etc/hostname, /etc/hosts and /etc/resolv.conf.
func WithInitLayer() PrepareOpt { return func(o *prepareOpts) { o.init = true } }

func (s *Store) prepare(key string, parent digest.Digest, o prepareOpts) ([]mount.Mount, error) {
	if key == "" {
		return nil, fmt.Errorf("prepare snapshot: empty key: %w", errdefs.ErrInvalid)
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	if _, ok := idx.Active[key]; ok {
		return nil, fmt.Errorf("snapshot %s: already exists: %w", key, errdefs.ErrConflict)
	}
	if parent != "" && idx.Committed[parent] == nil {
		return nil, fmt.Errorf("prepare snapshot %s: parent %s: %w", key, parent, errdefs.ErrNotFound)
	}
	if o.init {
		if parent, err = s.initLayerOf(idx, parent); err != nil {
			return nil, err
		}
	}
	tmp, err := s.newTempDir(true)
	if err != nil {
		return nil, err
	}
	defer tmp.release()
	rec := &record{ID: s.allocID(idx), Key: key, Parent: parent, Created: time.Now().UTC(), Ephemeral: o.ephemeral}
	if err := s.makeActiveDirs(tmp.path, idx, parent); err != nil {
		return nil, fmt.Errorf("prepare snapshot %s: %w", key, err)
	}
	if err := s.commitDir(tmp, rec); err != nil {
		return nil, fmt.Errorf("prepare snapshot %s: %w", key, err)
	}
	failpoint.Hit("snapshot.prepare.before-index")
	idx.Active[key] = rec
	if err := s.writeIndex(idx, !o.ephemeral); err != nil {
		os.RemoveAll(s.path(rec.ID))
		return nil, err
	}
	return s.mounts(idx, rec)
}

// makeActiveDirs creates fs (the upper dir) and work. The upper dir's root
// takes the mode and owner of the image's root: overlayfs shows the upper
// root's attributes as the container's "/".
func (s *Store) makeActiveDirs(tmp string, idx *index, parent digest.Digest) error {
	upper := filepath.Join(tmp, fsDir)
	if err := mkdirMode(upper, rootfsPerm); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(tmp, workDir), dirPerm); err != nil {
		return err
	}
	if parent == "" {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Stat(s.path(idx.Committed[parent].ID, fsDir), &st); err != nil {
		return err
	}
	if err := os.Lchown(upper, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	return os.Chmod(upper, os.FileMode(st.Mode&0o777))
}

// lowers returns the fs dirs of parent and its ancestors, top first.
func (s *Store) lowers(idx *index, parent digest.Digest) ([]string, error) {
	var out []string
	for p := parent; p != ""; {
		r, ok := idx.Committed[p]
		if !ok {
			return nil, fmt.Errorf("snapshot %s: broken parent chain: %w", p, errdefs.ErrNotFound)
		}
		out = append(out, s.path(r.ID, fsDir))
		p = r.Parent
		if len(out) > 1000 {
			return nil, fmt.Errorf("snapshot %s: parent chain loops", parent)
		}
	}
	return out, nil
}

func (s *Store) mounts(idx *index, rec *record) ([]mount.Mount, error) {
	lowers, err := s.lowers(idx, rec.Parent)
	if err != nil {
		return nil, err
	}
	if len(lowers) == 0 {
		lowers = []string{filepath.Join(s.dir, emptyDir)}
	}
	opts := overlayOptions()
	opts = append(opts,
		"lowerdir="+strings.Join(lowers, ":"),
		"upperdir="+s.path(rec.ID, fsDir),
		"workdir="+s.path(rec.ID, workDir),
	)
	return []mount.Mount{{Type: "overlay", Source: "overlay", Options: opts}}, nil
}

// overlayOptions turns off the overlayfs features that would make an upper
// dir unfit to be a layer: metacopy leaves data-less files in it,
// redirect_dir renames as xattrs, and index ties lowers to one mount. Each
// is named only when the running kernel has it switched on, since an old
// kernel refuses options it does not know.
func overlayOptions() []string {
	opts := []string{"index=off"}
	for _, p := range []string{"redirect_dir", "metacopy"} {
		b, err := os.ReadFile("/sys/module/overlay/parameters/" + p)
		if err != nil {
			continue
		}
		if v := strings.TrimSpace(string(b)); v == "Y" || v == "on" || v == "follow" || v == "nofollow" {
			opts = append(opts, p+"=off")
		}
	}
	return opts
}

func (s *Store) active(key string) (*index, *record, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, nil, err
	}
	r, ok := idx.Active[key]
	if !ok {
		return nil, nil, fmt.Errorf("snapshot %s: %w", key, errdefs.ErrNotFound)
	}
	return idx, r, nil
}

// Mounts returns the overlay mount of the existing active snapshot key.
func (s *Store) Mounts(key string) ([]mount.Mount, error) {
	idx, r, err := s.active(key)
	if err != nil {
		return nil, err
	}
	return s.mounts(idx, r)
}

// UpperDir returns the writable directory of active snapshot key.
func (s *Store) UpperDir(key string) (string, error) {
	_, r, err := s.active(key)
	if err != nil {
		return "", err
	}
	return s.path(r.ID, fsDir), nil
}

// ActiveUsage returns the disk space (allocated blocks) active snapshot
// key takes: what Remove(key) gives back.
func (s *Store) ActiveUsage(key string) (int64, error) {
	_, r, err := s.active(key)
	if err != nil {
		return 0, err
	}
	n, err := diskUsage(s.path(r.ID))
	if err != nil {
		return 0, fmt.Errorf("usage of snapshot %s: %w", key, err)
	}
	return n, nil
}

// Remove deletes active snapshot key. It refuses (errdefs.ErrConflict)
// while an overlay using its upper dir is mounted in this mount namespace.
func (s *Store) Remove(key string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	idx, r, err := s.active(key)
	if err != nil {
		unlock()
		return err
	}
	if upperMounted(s.path(r.ID, fsDir)) {
		unlock()
		return fmt.Errorf("snapshot %s: still mounted: %w", key, errdefs.ErrConflict)
	}
	delete(idx.Active, key)
	if err := s.writeIndex(idx, !r.Ephemeral); err != nil {
		if !errors.Is(err, unix.ENOSPC) {
			unlock()
			return err
		}
		// The disk is so full that the new index has no room, and removing
		// a container is how a user gets space back: delete the layer's
		// files first, then write the index. A crash in between leaves an
		// index naming an empty, unusable snapshot that the next Remove of
		// key finishes.
		s.moveAside(r.ID).remove()
		if err := s.writeIndex(idx, !r.Ephemeral); err != nil {
			unlock()
			return err
		}
	}
	// Committed: the index no longer names the dir. Move it out of the way
	// under the lock so allocID cannot hand its ID out while it is deleted.
	failpoint.Hit("snapshot.remove.after-index")
	doomed := s.moveAside(r.ID)
	unlock()
	// Past the commit point: a failure here leaves an rm-* dir for Cleanup.
	failpoint.Hit("snapshot.remove.before-delete")
	doomed.remove()
	return nil
}

// doomedDir is a snapshot dir moved aside to be deleted outside the store
// lock. It stays flocked until it is gone, so that Check and Cleanup (which
// take the store lock) tell it from one a crashed process left behind.
type doomedDir struct {
	path string
	fd   int // the flocked dir, or -1
}

// moveAside flocks snapshot dir id and renames it to an rm-* name. The
// caller holds the store lock, so the dir is never seen unlocked under its
// rm-* name while its deleter lives.
func (s *Store) moveAside(id string) doomedDir {
	d := doomedDir{path: s.path(id), fd: -1}
	if fd, err := unix.Open(d.path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
		if unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) == nil {
			d.fd = fd
		} else {
			unix.Close(fd)
		}
	}
	doomed := filepath.Join(s.dir, rmPrefix+id+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if err := os.Rename(d.path, doomed); err == nil {
		d.path = doomed
	}
	return d
}

// remove deletes the dir, then lets go of its lock.
func (d doomedDir) remove() {
	os.RemoveAll(d.path)
	if d.fd >= 0 {
		unix.Close(d.fd)
	}
}

// Diff writes the changes in active snapshot key (its upper dir) as an OCI
// layer tar: overlay whiteouts become .wh. entries. opts.Overlay is implied.
func (s *Store) Diff(ctx context.Context, key string, w io.Writer, opts archive.TarOptions) error {
	upper, err := s.UpperDir(key)
	if err != nil {
		return err
	}
	opts.Overlay = true
	if err := archive.Tar(ctx, upper, w, opts); err != nil {
		return fmt.Errorf("diff snapshot %s: %w", key, err)
	}
	return nil
}

// GC removes committed snapshots that are neither in keep nor an ancestor
// of a kept snapshot or of an active snapshot's parent. It returns how many
// it removed and the disk space they used.
//
// keep must be computed by the caller under whatever lock makes it
// complete: a layer applied after keep was computed and before GC runs is
// removed like any other unreferenced one.
func (s *Store) GC(keep map[digest.Digest]bool) (removed int, reclaimed int64, err error) {
	unlock, err := s.lock()
	if err != nil {
		return 0, 0, err
	}
	idx, err := s.readIndex()
	if err != nil {
		unlock()
		return 0, 0, err
	}
	live := map[digest.Digest]bool{}
	mark := func(c digest.Digest) {
		for c != "" && !live[c] {
			r, ok := idx.Committed[c]
			if !ok {
				return
			}
			live[c] = true
			c = r.Parent
		}
	}
	for c := range keep {
		mark(c)
	}
	for _, r := range idx.Active {
		mark(r.Parent)
	}
	for c, r := range idx.Committed {
		if r.Init && r.Parent != "" && live[r.Parent] {
			live[c] = true
		}
	}
	var doomed []*record
	for c, r := range idx.Committed {
		if !live[c] {
			doomed = append(doomed, r)
			delete(idx.Committed, c)
		}
	}
	if len(doomed) == 0 {
		unlock()
		return 0, 0, nil
	}
	if err := s.writeIndex(idx, true); err != nil {
		unlock()
		return 0, 0, err
	}
	failpoint.Hit("snapshot.gc.after-index")
	var dirs []doomedDir
	for _, r := range doomed {
		dirs = append(dirs, s.moveAside(r.ID))
	}
	unlock()
	failpoint.Hit("snapshot.gc.before-delete")
	// Past the commit point: measure and delete without the lock held.
	for _, d := range dirs {
		n, _ := diskUsage(d.path)
		reclaimed += n
		d.remove()
	}
	return len(doomed), reclaimed, nil
}

// Usage returns the disk space (allocated blocks) used by committed snapshot
// chainID's own layer, not counting its parents.
func (s *Store) Usage(chainID digest.Digest) (int64, error) {
	info, err := s.Stat(chainID)
	if err != nil {
		return 0, err
	}
	n, err := diskUsage(info.Path)
	if err != nil {
		return 0, fmt.Errorf("usage of snapshot %s: %w", chainID, err)
	}
	return n, nil
}

// diskUsage is du: allocated bytes under dir, each inode counted once.
func diskUsage(dir string) (int64, error) {
	seen := map[[2]uint64]bool{}
	var total int64
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return nil
		}
		key := [2]uint64{st.Dev, st.Ino}
		if !seen[key] {
			seen[key] = true
			total += st.Blocks * 512
		}
		return nil
	})
	return total, err
}
