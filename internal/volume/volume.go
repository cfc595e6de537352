package volume

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/fsutil"
	"github.com/berth/berth/internal/root"
)

const (
	// Driver and Scope are the only ones berth has.
	Driver = "local"
	Scope  = "local"
	// AnonymousLabel marks volumes created for a container's anonymous
	// mounts (image VOLUME, `-v /path`); Docker ≥23 prunes only these
	// unless --all. The value is always "".
	AnonymousLabel = "com.docker.volume.anonymous"

	dataDir    = "_data"
	recordFile = "volume.json"
	// Temporary entries start with "." so they can never be volume names.
	newPrefix  = ".new-"
	gonePrefix = ".gone-"
)

// Volume is a volume's record, shaped like `docker volume inspect`.
type Volume struct {
	CreatedAt  time.Time         `json:"CreatedAt"`
	Driver     string            `json:"Driver"`
	Labels     map[string]string `json:"Labels"`
	Mountpoint string            `json:"Mountpoint"`
	Name       string            `json:"Name"`
	Options    map[string]string `json:"Options"`
	Scope      string            `json:"Scope"`
}

// Anonymous reports whether the volume was created for an anonymous mount.
func (v *Volume) Anonymous() bool {
	_, ok := v.Labels[AnonymousLabel]
	return ok
}

// CreateOptions are `docker volume create` flags.
type CreateOptions struct {
	Labels map[string]string
	// Options are --opt driver options. The local driver accepts type,
	// device and o (mount(8) options); they are recorded for the runtime,
	// which is the one that mounts.
	Options map[string]string
	// Anonymous adds AnonymousLabel (a container's unnamed volume).
	Anonymous bool
}

// Store manages the volumes under one root.
type Store struct {
	dir     string // root.Volumes()
	locks   string // root.Locks()
	timeout time.Duration
}

// New returns the store for r. Nothing is created until the first Create.
func New(r root.Root) *Store {
	return &Store{dir: r.Volumes(), locks: r.Locks(), timeout: fsutil.DefaultLockTimeout}
}

// lock takes the store-wide lock that serializes create, remove and prune.
func (s *Store) lock() (func(), error) {
	return fsutil.Lock(filepath.Join(s.locks, "volumes.lock"), s.timeout)
}

// lockVolume takes one volume's lock: CopyUp holds it while copying so a
// concurrent Remove waits instead of deleting under it. Always taken after
// the store lock, never before.
func (s *Store) lockVolume(name string) (func(), error) {
	return fsutil.Lock(filepath.Join(s.locks, "volume-"+name+".lock"), s.timeout)
}

// ValidName checks a volume name with the local driver's rule,
// [a-zA-Z0-9][a-zA-Z0-9_.-]+ (so at least two characters).
func ValidName(name string) error {
	ok := len(name) >= 2
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		ok = alnum || (i > 0 && (c == '_' || c == '.' || c == '-'))
	}
	if !ok {
		return invalid("create", name, fmt.Errorf("%q includes invalid characters for a local volume name, only %q are allowed. If you intended to pass a host directory, use absolute path", name, "[a-zA-Z0-9][a-zA-Z0-9_.-]"))
	}
	return nil
}

// NewName returns a random 64-hex-digit name, as Docker gives anonymous
// volumes and `docker volume create` without a name.
func NewName() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on Linux
	}
	return hex.EncodeToString(b)
}

func validateOptions(name string, opts map[string]string) error {
	for k := range opts {
		switch k {
		case "type", "device", "o":
		case "size":
			return invalid("create", name, errors.New("quota size requested but no quota support"))
		default:
			return invalid("create", name, fmt.Errorf("invalid option: %q", k))
		}
	}
	return nil
}

// Create makes a volume, or returns the existing one of that name unchanged
// (Docker's create is idempotent; labels and options of a repeated create
// are ignored). An empty name gets NewName(). created tells which happened.
func (s *Store) Create(name string, opts CreateOptions) (v *Volume, created bool, err error) {
	if name == "" {
		name = NewName()
	}
	if err := ValidName(name); err != nil {
		return nil, false, err
	}
	if err := validateOptions(name, opts.Options); err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(s.dir, 0o701); err != nil {
		return nil, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	defer unlock()
	s.sweep()

	if existing, err := s.load(name); err == nil {
		return existing, false, nil
	} else if !errdefs.IsNotFound(err) {
		return nil, false, err
	}

	v = &Volume{
		CreatedAt:  time.Now().Truncate(time.Second),
		Driver:     Driver,
		Labels:     cloneMap(opts.Labels),
		Mountpoint: filepath.Join(s.dir, name, dataDir),
		Name:       name,
		Options:    cloneMap(opts.Options),
		Scope:      Scope,
	}
	if opts.Anonymous {
		if v.Labels == nil {
			v.Labels = map[string]string{}
		}
		v.Labels[AnonymousLabel] = ""
	}

	// Build the whole volume in a temporary directory and rename it into
	// place: a crash leaves only a ".new-" directory that sweep removes.
	tmp, err := os.MkdirTemp(s.dir, newPrefix)
	if err != nil {
		return nil, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	defer os.RemoveAll(tmp) // no-op after the rename
	// Only berth goes through it (a container gets _data bind-mounted);
	// the record may hold driver options such as a mount password.
	if err := os.Chmod(tmp, 0o700); err != nil {
		return nil, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	if err := os.Mkdir(filepath.Join(tmp, dataDir), 0o755); err != nil {
		return nil, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	if err := fsutil.WriteJSONAtomic(filepath.Join(tmp, recordFile), v, 0o600); err != nil {
		return nil, false, fmt.Errorf("create volume %s: write record: %w", name, err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, name)); err != nil {
		return nil, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	if err := fsutil.SyncDir(s.dir); err != nil {
		return nil, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	return v, true, nil
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// load reads one record. Mountpoint is recomputed from the store's
// directory so a moved root stays consistent.
func (s *Store) load(name string) (*Volume, error) {
	var v Volume
	if err := fsutil.ReadJSON(filepath.Join(s.dir, name, recordFile), &v); err != nil {
		if errdefs.IsNotFound(err) {
			return nil, notFound("get", name)
		}
		return nil, fmt.Errorf("volume %s: %w", name, err)
	}
	v.Name = name
	v.Mountpoint = filepath.Join(s.dir, name, dataDir)
	return &v, nil
}

// Get returns the volume called name; a missing one is ErrNoSuchVolume
// (errdefs.ErrNotFound), worded "get NAME: no such volume" like Docker.
func (s *Store) Get(name string) (*Volume, error) {
	if ValidName(name) != nil {
		return nil, notFound("get", name)
	}
	return s.load(name)
}

// List returns every volume, sorted by name. It takes no lock: volumes
// appear and disappear by rename, so a listing never sees half of one.
func (s *Store) List() ([]*Volume, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list volumes: %w", err)
	}
	var out []*Volume
	for _, e := range entries {
		if !e.IsDir() || ValidName(e.Name()) != nil {
			continue
		}
		v, err := s.load(e.Name())
		if err != nil {
			if errdefs.IsNotFound(err) {
				continue // removed meanwhile
			}
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Remove deletes a volume that no container uses. inUse returns the IDs of
// the containers that reference the volume; any makes Remove fail with
// "remove NAME: volume is in use - [ID, ...]" (errdefs.ErrConflict).
// Callers implementing `rm -f` ignore errdefs.ErrNotFound.
func (s *Store) Remove(name string, inUse func(name string) []string) error {
	if ValidName(name) != nil {
		return notFound("get", name)
	}
	unlock, err := s.lock()
	if err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	defer unlock()
	if _, err := s.load(name); err != nil {
		return err
	}
	if refs := callInUse(inUse, name); len(refs) > 0 {
		return &OpError{Op: "remove", Name: name, Err: ErrVolumeInUse, Refs: refs, class: errdefs.ErrConflict}
	}
	return s.removeLocked(name)
}

func callInUse(inUse func(string) []string, name string) []string {
	if inUse == nil {
		return nil
	}
	return inUse(name)
}

// removeLocked retires the volume by renaming it to a tombstone (the commit
// point), then deletes the tombstone. The store lock must be held.
func (s *Store) removeLocked(name string) error {
	unlockVol, err := s.lockVolume(name)
	if err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	defer unlockVol()
	gone := filepath.Join(s.dir, gonePrefix+name+"-"+NewName()[:8])
	if err := os.Rename(filepath.Join(s.dir, name), gone); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return notFound("get", name)
		}
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	if err := fsutil.SyncDir(s.dir); err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	// After the commit point a failure only leaves a tombstone for sweep.
	os.RemoveAll(gone)
	return nil
}

// sweep deletes leftovers of crashed creates and removes. Creates and
// removes run under the store lock, which the caller holds, so every
// temporary entry seen here is stale.
func (s *Store) sweep() {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), newPrefix) || strings.HasPrefix(e.Name(), gonePrefix) {
			os.RemoveAll(filepath.Join(s.dir, e.Name()))
		}
	}
}

// PruneOptions select what Prune removes.
type PruneOptions struct {
	// All removes unused named volumes too (docker volume prune --all);
	// otherwise only anonymous ones, like Docker ≥23.
	All bool
	// Filter, when set, must accept a volume for it to be removed
	// (the CLI's --filter label=...).
	Filter func(*Volume) bool
}

// PruneReport is what `docker volume prune` prints.
type PruneReport struct {
	VolumesDeleted []string
	SpaceReclaimed uint64
}

// Prune removes every unused volume that opts selects.
func (s *Store) Prune(opts PruneOptions, inUse func(name string) []string) (PruneReport, error) {
	var rep PruneReport
	if _, err := os.Stat(s.dir); errors.Is(err, fs.ErrNotExist) {
		return rep, nil
	}
	unlock, err := s.lock()
	if err != nil {
		return rep, fmt.Errorf("prune volumes: %w", err)
	}
	defer unlock()
	s.sweep()
	vols, err := s.List()
	if err != nil {
		return rep, err
	}
	for _, v := range vols {
		if !opts.All && !v.Anonymous() {
			continue
		}
		if opts.Filter != nil && !opts.Filter(v) {
			continue
		}
		if len(callInUse(inUse, v.Name)) > 0 {
			continue
		}
		size, _ := dirSize(v.Mountpoint)
		if err := s.removeLocked(v.Name); err != nil {
			return rep, err
		}
		rep.VolumesDeleted = append(rep.VolumesDeleted, v.Name)
		rep.SpaceReclaimed += uint64(size)
	}
	return rep, nil
}

// Size returns the bytes used by the volume's data (regular files, each
// hard-linked inode counted once), as `docker system df -v` shows.
func (s *Store) Size(name string) (int64, error) {
	v, err := s.Get(name)
	if err != nil {
		return 0, err
	}
	return dirSize(v.Mountpoint)
}

func dirSize(dir string) (int64, error) {
	type key struct{ dev, ino uint64 }
	seen := map[key]bool{}
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := statT(fi); ok {
			k := key{st.dev, st.ino}
			if seen[k] {
				return nil
			}
			seen[k] = true
		}
		total += fi.Size()
		return nil
	})
	return total, err
}
