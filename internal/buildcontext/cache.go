package buildcontext

import (
	"bufio"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// statCache remembers, per context path, the stat fields that change
// whenever a file's bytes or metadata do (device, inode, size, mtime and
// ctime to the nanosecond, mode, owner) and the hash computed for them, so
// a rebuild of an unchanged context reads no file content. It lives in a
// file under the caller's cache directory, one per context directory,
// never in the context. All methods are safe on a nil *statCache.
type statCache struct {
	file    string
	mu      sync.Mutex
	entries map[string]cacheEntry
	dirty   bool
	// seen and fullWalk let save drop entries of files that are gone:
	// once the whole context has been hashed in this run, an entry no
	// lookup asked for belongs to a deleted or ignored file.
	seen     map[string]bool
	fullWalk bool
}

type cacheEntry struct {
	Dev, Ino     uint64
	Size         int64
	Mtime, Ctime int64
	Mode         uint32
	UID, GID     uint32
	Sum          string
}

// cacheVersion changes whenever the hash definition does, so an old file
// is ignored rather than trusted.
const cacheVersion = "berth-buildcontext-statcache-v2"

func openStatCache(dir, root string) *statCache {
	key := sha256.Sum256([]byte(cacheVersion + "\x00" + root))
	c := &statCache{
		file:    filepath.Join(dir, hex.EncodeToString(key[:16])+".statcache"),
		entries: map[string]cacheEntry{},
		seen:    map[string]bool{},
	}
	f, err := os.Open(c.file)
	if err != nil {
		return c
	}
	defer f.Close()
	var v struct {
		Version string
		Entries map[string]cacheEntry
	}
	// A corrupt or foreign file is only a lost cache: start empty.
	if gob.NewDecoder(bufio.NewReader(f)).Decode(&v) == nil && v.Version == cacheVersion && v.Entries != nil {
		c.entries = v.Entries
	}
	return c
}

func entryFor(n *node) cacheEntry {
	return cacheEntry{
		Dev: uint64(n.st.Dev), Ino: n.st.Ino, Size: n.st.Size,
		Mtime: n.st.Mtim.Nano(), Ctime: n.st.Ctim.Nano(),
		Mode: n.st.Mode, UID: n.st.Uid, GID: n.st.Gid,
	}
}

func (c *statCache) lookup(n *node) (string, bool) {
	if c == nil {
		return "", false
	}
	want := entryFor(n)
	c.mu.Lock()
	e, ok := c.entries[n.rel]
	c.seen[n.rel] = true
	c.mu.Unlock()
	if !ok || e.Sum == "" {
		return "", false
	}
	want.Sum = e.Sum
	if e != want {
		return "", false
	}
	return e.Sum, true
}

func (c *statCache) store(n *node, sum string) {
	if c == nil {
		return
	}
	e := entryFor(n)
	e.Sum = sum
	c.mu.Lock()
	c.entries[n.rel] = e
	c.seen[n.rel] = true
	c.dirty = true
	c.mu.Unlock()
}

// save writes the cache atomically if anything changed.
func (c *statCache) save() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fullWalk {
		for rel := range c.entries {
			if !c.seen[rel] {
				delete(c.entries, rel)
				c.dirty = true
			}
		}
	}
	if !c.dirty {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(c.file), 0o700); err != nil {
		return fmt.Errorf("save build context stat cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.file), ".statcache-*")
	if err != nil {
		return fmt.Errorf("save build context stat cache: %w", err)
	}
	w := bufio.NewWriter(tmp)
	err = gob.NewEncoder(w).Encode(struct {
		Version string
		Entries map[string]cacheEntry
	}{cacheVersion, c.entries})
	err = errors.Join(err, w.Flush(), tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), c.file)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("save build context stat cache: %w", err)
	}
	c.dirty = false
	return nil
}

// walkedAll records that every file of the context was hashed this run.
func (c *statCache) walkedAll() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.fullWalk = true
	c.mu.Unlock()
}

func (c *statCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
