package container

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/failpoint"
	"github.com/berth/berth/internal/fsutil"
	"github.com/berth/berth/internal/names"
	"github.com/berth/berth/internal/root"
)

const (
	recordFile  = "container.json"
	namesDir    = ".names"
	trashPrefix = ".trash-"
	// maxNameRetries bounds generated-name attempts; with ~25,000 bare names
	// and ten times that with a digit, running out means something is wrong.
	maxNameRetries = 20
)

// Store is the container store of one berth root. It keeps no state in
// memory, so any number of berth processes may use the same root at once.
type Store struct {
	dir   string // root.Containers()
	locks string // root.Locks()
	// LockTimeout bounds every wait for another berth process (default fsutil.DefaultLockTimeout).
	LockTimeout time.Duration
}

// Open returns the store under r, creating its directories.
func Open(r root.Root) (*Store, error) {
	s := &Store{dir: r.Containers(), locks: r.Locks(), LockTimeout: fsutil.DefaultLockTimeout}
	for _, d := range []string{filepath.Join(s.dir, namesDir), s.locks} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("open container store: %w", err)
		}
	}
	return s, nil
}

// NewID returns a random 64-hex-digit container ID. Like Docker it rejects
// IDs whose 12-character short form is all digits: such a short ID would be
// taken for a number (as a hostname, or by tools that parse it).
func NewID() string {
	b := make([]byte, 32)
	for {
		if _, err := rand.Read(b); err != nil {
			panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on Linux ≥ 3.17
		}
		id := hex.EncodeToString(b)
		if _, err := strconv.ParseUint(id[:12], 10, 64); err == nil {
			continue
		}
		return id
	}
}

// Dir is container id's directory (it exists once Create has returned).
func (s *Store) Dir(id string) string { return filepath.Join(s.dir, id) }

// LogPath is container id's json-file log, where Docker keeps it: <dir>/<id>-json.log.
func (s *Store) LogPath(id string) string { return filepath.Join(s.dir, id, id+"-json.log") }

func (s *Store) recordPath(id string) string { return filepath.Join(s.dir, id, recordFile) }
func (s *Store) namePath(name string) string { return filepath.Join(s.dir, namesDir, name) }
func (s *Store) lockPath(id string) string   { return filepath.Join(s.locks, "container-"+id+".lock") }
func (s *Store) storeLockPath() string       { return filepath.Join(s.locks, "containers.lock") }
func (s *Store) ownerLockPath(id string) string {
	return filepath.Join(s.locks, id+".owner")
}

// Lock takes container id's lock, which every read-modify-write of its
// record holds. Do not call Update or Rename on the same container while
// holding it (flock is per open file, so that would wait on itself); use
// Load and Save instead. Never hold it across supervisor.Spawn: the
// supervisor needs it to record the start.
func (s *Store) Lock(id string) (unlock func(), err error) {
	if !IsID(id) {
		return nil, notFound(id)
	}
	unlock, err = fsutil.Lock(s.lockPath(id), s.LockTimeout)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	return unlock, nil
}

func (s *Store) lockStore() (func(), error) {
	unlock, err := fsutil.Lock(s.storeLockPath(), s.LockTimeout)
	if err != nil {
		return nil, fmt.Errorf("container store: %w", err)
	}
	return unlock, nil
}

// Create stores a new container and reserves its name. An empty c.ID gets
// NewID(); an empty c.Name gets a generated adjective_surname. A taken name
// fails with errdefs.ErrConflict and Docker's message naming the holder.
func (s *Store) Create(c *Container) error {
	if c.ID == "" {
		c.ID = NewID()
	}
	if !IsID(c.ID) {
		return fmt.Errorf("container ID %q is not 64 hex digits: %w", c.ID, errdefs.ErrInvalid)
	}
	c.Name = strings.TrimPrefix(c.Name, "/")
	if c.Name != "" {
		if err := ValidateName(c.Name); err != nil {
			return err
		}
	}
	if c.Created.IsZero() {
		c.Created = time.Now().UTC()
	}
	if c.State.Status == "" {
		c.State.Status = StatusCreated
	}
	unlock, err := s.lockStore()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Lstat(s.Dir(c.ID)); err == nil {
		return fmt.Errorf("container %s already exists: %w", c.ID, errdefs.ErrConflict)
	}
	if c.Name == "" {
		for retry := 0; ; retry++ {
			if retry == maxNameRetries {
				return fmt.Errorf("could not generate a free container name after %d attempts: %w", retry, errdefs.ErrUnavailable)
			}
			n := names.Generate(retry)
			if holder, err := s.nameHolder(n); err != nil {
				return err
			} else if holder == "" {
				c.Name = n
				break
			}
		}
	} else if holder, err := s.nameHolder(c.Name); err != nil {
		return err
	} else if holder != "" {
		return &nameConflictError{name: c.Name, holder: holder}
	}
	// Name first, record second: a crash in between leaves a reservation
	// without a record, which nameHolder treats as free. A --rm container
	// is removed anyway if the machine crashes, so its records do not wait
	// for the disk; what a power loss leaves of them (nothing, or empty
	// files) is skipped by List and cleared by system check.
	durable := !c.Host.AutoRemove
	if err := fsutil.WriteFile(s.namePath(c.Name), []byte(c.ID), 0o600, durable); err != nil {
		return fmt.Errorf("reserve name %q: %w", c.Name, err)
	}
	failpoint.Hit("container.create.after-name")
	if err := os.Mkdir(s.Dir(c.ID), 0o700); err != nil {
		os.Remove(s.namePath(c.Name))
		return fmt.Errorf("create container directory: %w", err)
	}
	failpoint.Hit("container.create.before-record")
	if err := s.save(c, durable); err != nil {
		os.RemoveAll(s.Dir(c.ID))
		os.Remove(s.namePath(c.Name))
		return err
	}
	return nil
}

// nameHolder returns the ID of the container that owns name, or "" when the
// name is free (never reserved, or reserved by a container whose record is
// gone or now carries another name). Call with the store lock held for an
// answer that stays true.
func (s *Store) nameHolder(name string) (string, error) {
	data, err := os.ReadFile(s.namePath(name))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read name index: %w", err)
	}
	id := string(bytes.TrimSpace(data))
	if !IsID(id) {
		return "", nil
	}
	c, err := s.Load(id)
	if errdefs.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if c.Name != name {
		return "", nil
	}
	return id, nil
}

// Get finds a container by full ID, name (with or without the leading "/")
// or unique ID prefix, in that order, as Docker does. A miss is
// errdefs.ErrNotFound with Docker's message "No such container: ref"; an
// ambiguous prefix is errdefs.ErrInvalid.
func (s *Store) Get(ref string) (*Container, error) {
	if ref == "" {
		return nil, notFound(ref)
	}
	if IsID(ref) {
		c, err := s.Load(ref)
		if err == nil || !errdefs.IsNotFound(err) {
			return c, err
		}
	}
	if name := strings.TrimPrefix(ref, "/"); ValidateName(name) == nil {
		id, err := s.nameHolder(name)
		if err != nil {
			return nil, err
		}
		if id != "" {
			c, err := s.Load(id)
			if err == nil || !errdefs.IsNotFound(err) {
				return c, err
			}
		}
	}
	if isHex(ref) && len(ref) < 64 {
		ids, err := s.ids()
		if err != nil {
			return nil, err
		}
		var match []string
		for _, id := range ids {
			if strings.HasPrefix(id, ref) {
				match = append(match, id)
			}
		}
		switch len(match) {
		case 1:
			c, err := s.Load(match[0])
			if errdefs.IsNotFound(err) {
				return nil, notFound(ref)
			}
			return c, err
		case 0:
		default:
			return nil, fmt.Errorf("Multiple IDs found with provided prefix: %s: %w", ref, errdefs.ErrInvalid)
		}
	}
	return nil, notFound(ref)
}

// Load reads container id's record without locking. Most callers want Get;
// Load is for code that holds Lock(id) and for exact-ID reads.
func (s *Store) Load(id string) (*Container, error) {
	if !IsID(id) {
		return nil, notFound(id)
	}
	var c Container
	if err := fsutil.ReadJSON(s.recordPath(id), &c); err != nil {
		if errdefs.IsNotFound(err) {
			return nil, notFound(id)
		}
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	c.Host.hydrateLog()
	return &c, nil
}

// Save replaces c's record atomically and durably. The caller holds
// Lock(c.ID) (or has just created the container); Update does both for you.
func (s *Store) Save(c *Container) error { return s.save(c, true) }

// save writes the record; state changes (Update) skip the fsync, since a
// container's run state is reconciled after a power loss anyway and every
// start and exit would otherwise wait for the disk.
func (s *Store) save(c *Container, durable bool) error {
	c.Host.foldLog()
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := fsutil.WriteFile(s.recordPath(c.ID), data, 0o600, durable); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return notFound(c.ID) // removed meanwhile
		}
		return fmt.Errorf("write container %s: %w", c.ID, err)
	}
	return nil
}

// ids lists the IDs that have a directory (records may still be missing).
func (s *Store) ids() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list containers: %w", err)
	}
	ids := make([]string, 0, len(ents))
	for _, e := range ents {
		if e.IsDir() && IsID(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// List returns every container, newest first (the order of `docker ps -a`).
// Directories without a record (a Create in progress, a crash) are skipped,
// and so are unreadable records (a power loss; see Scan), as Docker's
// daemon skips a container it cannot load.
func (s *Store) List() ([]*Container, error) {
	cs, _, err := s.Scan()
	return cs, err
}

// Scan is List that also returns the containers whose record does not
// parse, each with the reason. Only a power loss that caught a write which
// does not wait for the disk (a state change, a --rm container's creation)
// leaves one; Delete removes such a container.
func (s *Store) Scan() (_ []*Container, unreadable map[string]error, _ error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("list containers: %w", err)
	}
	out := make([]*Container, 0, len(ents))
	unreadable = map[string]error{}
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, trashPrefix) {
			// Left behind by a Delete that crashed after its commit rename.
			s.removeTree(filepath.Join(s.dir, name))
			continue
		}
		if !e.IsDir() || !IsID(name) {
			continue
		}
		c, err := s.Load(name)
		if errdefs.IsNotFound(err) {
			continue
		}
		if errors.Is(err, fsutil.ErrCorrupt) {
			unreadable[name] = err
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, unreadable, nil
}

// Update runs fn on container id's record under its lock and writes the
// result atomically; an error from fn leaves the record untouched.
func (s *Store) Update(id string, fn func(c *Container) error) (*Container, error) {
	unlock, err := s.Lock(id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	c, err := s.Load(id)
	if err != nil {
		return nil, err
	}
	if err := fn(c); err != nil {
		return nil, err
	}
	if err := s.save(c, false); err != nil {
		return nil, err
	}
	return c, nil
}

// Rename gives the container ref the name newName, as `docker rename` does.
func (s *Store) Rename(ref, newName string) error {
	newName = strings.TrimPrefix(newName, "/")
	if ref == "" || newName == "" {
		return fmt.Errorf("Neither old nor new names may be empty: %w", errdefs.ErrInvalid)
	}
	if err := ValidateName(newName); err != nil {
		return err
	}
	c, err := s.Get(ref)
	if err != nil {
		return err
	}
	unlockC, err := s.Lock(c.ID)
	if err != nil {
		return err
	}
	defer unlockC()
	unlock, err := s.lockStore()
	if err != nil {
		return err
	}
	defer unlock()
	if c, err = s.Load(c.ID); err != nil {
		return err
	}
	if c.Name == newName {
		return fmt.Errorf("Renaming a container with the same name as its current name: %w", errdefs.ErrInvalid)
	}
	if holder, err := s.nameHolder(newName); err != nil {
		return err
	} else if holder != "" {
		return &nameConflictError{name: newName, holder: holder}
	}
	oldName := c.Name
	// New name, then record, then drop the old name: every crash point leaves
	// at most a stale reservation, never a record without its name.
	if err := fsutil.WriteFileAtomic(s.namePath(newName), []byte(c.ID), 0o600); err != nil {
		return fmt.Errorf("reserve name %q: %w", newName, err)
	}
	c.Name = newName
	if err := s.Save(c); err != nil {
		os.Remove(s.namePath(newName))
		return err
	}
	s.dropName(oldName, c.ID)
	return nil
}

// dropName removes name's reservation if it still points at id.
func (s *Store) dropName(name, id string) {
	if name == "" {
		return
	}
	if data, err := os.ReadFile(s.namePath(name)); err == nil && string(bytes.TrimSpace(data)) == id {
		os.Remove(s.namePath(name))
	}
}

// Delete removes container id: its record, its directory and its name. It
// is idempotent. It takes the store lock only; a caller that must keep
// others from updating the record meanwhile holds Lock(id) around it. It
// refuses (errdefs.ErrConflict) while anything is mounted inside the
// directory, so it can never delete through a mount into an image or volume.
func (s *Store) Delete(id string) error {
	if !IsID(id) {
		return fmt.Errorf("container ID %q: %w", id, errdefs.ErrInvalid)
	}
	dir := s.Dir(id)
	if mounts := mountsUnder(dir); len(mounts) > 0 {
		return fmt.Errorf("container %s: %s is still mounted: %w", id, mounts[0], errdefs.ErrConflict)
	}
	unlock, err := s.lockStore()
	if err != nil {
		return err
	}
	name := ""
	if c, err := s.Load(id); err == nil {
		name = c.Name
	}
	// The rename is the commit: from here on the container is gone for every
	// reader, and a crash leaves only a trash directory List sweeps away.
	failpoint.Hit("container.delete.before-rename")
	trash := filepath.Join(s.dir, trashPrefix+id)
	if err := os.Rename(dir, trash); err != nil && !errors.Is(err, os.ErrNotExist) {
		unlock()
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	failpoint.Hit("container.delete.after-rename")
	s.dropName(name, id)
	unlock()
	s.removeTree(trash)
	os.Remove(s.lockPath(id))
	return nil
}

// removeTree deletes a former container directory unless something got
// mounted inside it; post-commit, so failures are not reported.
func (s *Store) removeTree(dir string) {
	if len(mountsUnder(dir)) > 0 {
		return
	}
	os.RemoveAll(dir)
}

// mountsUnder lists the mount points at or below dir (from /proc/self/mountinfo).
func mountsUnder(dir string) []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMountinfo(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for space...).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// TakeOwner is HoldOwner for a process about to start container id. The
// lock may be held for a moment by a process removing the container (rm
// and prune take it so no start begins on what they tear down): that one
// gets up to wait to finish, and then the container is gone (ErrNotFound).
// A live owner still there after wait is ErrConflict.
func (s *Store) TakeOwner(id string, wait time.Duration) (release func(), err error) {
	deadline := time.Now().Add(wait)
	for {
		release, err = s.HoldOwner(id)
		if err == nil {
			// The remover may have finished just before.
			if _, err := s.Get(id); err != nil {
				release()
				return nil, err
			}
			return release, nil
		}
		if !errdefs.IsConflict(err) || time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(10 * time.Millisecond)
		if _, gerr := s.Get(id); gerr != nil {
			return nil, gerr
		}
	}
}

// HoldOwner marks this process as the owner of container id — the one
// process (supervisor, or a foreground berth run) that will record its exit.
// The flock dies with the process, so OwnerAlive needs no PID checks and is
// immune to PID reuse; a reboot forgets it with the run directory. It fails
// with errdefs.ErrConflict when another live process already owns id.
func (s *Store) HoldOwner(id string) (release func(), err error) {
	if !IsID(id) {
		return nil, notFound(id)
	}
	// A releasing owner unlinks the file before closing it, so the lock we
	// win may be on a file that is already gone; lock the file at the path.
	for attempt := 0; ; attempt++ {
		f, err := os.OpenFile(s.ownerLockPath(id), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return nil, fmt.Errorf("container %s: owner lock: %w", id, err)
		}
		// OwnerAlive probes with a momentary shared lock; retry past such a probe.
		for i := 0; ; i++ {
			err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
			if err == nil || i == 50 || err != unix.EWOULDBLOCK {
				break
			}
			time.Sleep(time.Millisecond)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("container %s is already owned by another berth process: %w", id, errdefs.ErrConflict)
		}
		if sameFile(f) || attempt == 10 {
			return func() {
				os.Remove(f.Name())
				f.Close()
			}, nil
		}
		f.Close()
	}
}

// sameFile reports whether f is still the file at its path (not unlinked
// or replaced since it was opened).
func sameFile(f *os.File) bool {
	var open, named unix.Stat_t
	if unix.Fstat(int(f.Fd()), &open) != nil || unix.Stat(f.Name(), &named) != nil {
		return false
	}
	return open.Dev == named.Dev && open.Ino == named.Ino
}

// OwnerAlive reports whether some live process holds container id's owner lock.
func (s *Store) OwnerAlive(id string) bool {
	f, err := os.OpenFile(s.ownerLockPath(id), os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return err == unix.EWOULDBLOCK
	}
	unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}

// ValidateName applies Docker's rule for container names:
// [a-zA-Z0-9][a-zA-Z0-9_.-]+ (so at least two characters), after an optional "/".
func ValidateName(name string) error {
	n := strings.TrimPrefix(name, "/")
	ok := len(n) >= 2
	for i := 0; ok && i < len(n); i++ {
		ch := n[i]
		alnum := ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9'
		ok = alnum || i > 0 && (ch == '_' || ch == '.' || ch == '-')
	}
	if !ok {
		return fmt.Errorf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed: %w", name, errdefs.ErrInvalid)
	}
	return nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return s != ""
}

// IsID reports whether s is a full container ID (64 lowercase hex digits).
func IsID(s string) bool { return len(s) == 64 && isHex(s) }

// notFoundError carries Docker's exact wording and the not-found class.
type notFoundError struct{ ref string }

func notFound(ref string) error        { return &notFoundError{ref: ref} }
func (e *notFoundError) Error() string { return "No such container: " + e.ref }
func (e *notFoundError) Unwrap() error { return errdefs.ErrNotFound }

// nameConflictError carries Docker's exact wording and the conflict class.
type nameConflictError struct{ name, holder string }

func (e *nameConflictError) Error() string {
	return fmt.Sprintf("Conflict. The container name \"/%s\" is already in use by container \"%s\". "+
		"You have to remove (or rename) that container to be able to reuse that name.", e.name, e.holder)
}
func (e *nameConflictError) Unwrap() error { return errdefs.ErrConflict }
