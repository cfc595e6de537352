package buildcontext

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
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

// cacheVersion changes whenever the hash definition or the file format
// does, so an old file is ignored rather than trusted. It is also the
// file's first line.
const cacheVersion = "berth-buildcontext-statcache-v3"

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
	// A corrupt or foreign file is only a lost cache: start empty.
	if entries, err := decodeStatCache(bufio.NewReader(f)); err == nil {
		c.entries = entries
	}
	return c
}

// The file is the version line, then per entry: the path and the sum as
// length-prefixed strings and the stat fields as varints. A hand-written
// format rather than encoding/gob, whose package init alone costs every
// berth process ~0.2 ms (berth's CLI start is on `run`'s critical path).

func encodeStatCache(w *bufio.Writer, entries map[string]cacheEntry) error {
	var buf []byte
	buf = append(buf, cacheVersion+"\n"...)
	buf = binary.AppendUvarint(buf, uint64(len(entries)))
	for rel, e := range entries {
		buf = appendString(buf, rel)
		buf = binary.AppendUvarint(buf, e.Dev)
		buf = binary.AppendUvarint(buf, e.Ino)
		buf = binary.AppendVarint(buf, e.Size)
		buf = binary.AppendVarint(buf, e.Mtime)
		buf = binary.AppendVarint(buf, e.Ctime)
		buf = binary.AppendUvarint(buf, uint64(e.Mode))
		buf = binary.AppendUvarint(buf, uint64(e.UID))
		buf = binary.AppendUvarint(buf, uint64(e.GID))
		buf = appendString(buf, e.Sum)
		if len(buf) > 64<<10 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	_, err := w.Write(buf)
	return err
}

func appendString(buf []byte, s string) []byte {
	return append(binary.AppendUvarint(buf, uint64(len(s))), s...)
}

func decodeStatCache(r *bufio.Reader) (map[string]cacheEntry, error) {
	line, err := r.ReadString('\n')
	if err != nil || line != cacheVersion+"\n" {
		return nil, errors.New("not a stat cache of this version")
	}
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	entries := make(map[string]cacheEntry, min(n, 1<<16))
	for range n {
		var e cacheEntry
		rel, err := readString(r)
		if err != nil {
			return nil, err
		}
		var u [5]uint64
		var v [3]int64
		for i := range 2 {
			if u[i], err = binary.ReadUvarint(r); err != nil {
				return nil, err
			}
		}
		for i := range v {
			if v[i], err = binary.ReadVarint(r); err != nil {
				return nil, err
			}
		}
		for i := 2; i < 5; i++ {
			if u[i], err = binary.ReadUvarint(r); err != nil {
				return nil, err
			}
		}
		if e.Sum, err = readString(r); err != nil {
			return nil, err
		}
		e.Dev, e.Ino, e.Size, e.Mtime, e.Ctime = u[0], u[1], v[0], v[1], v[2]
		e.Mode, e.UID, e.GID = uint32(u[2]), uint32(u[3]), uint32(u[4])
		entries[rel] = e
	}
	return entries, nil
}

// readString reads a length-prefixed string; the length is checked against
// what a path or a sum can be before anything is allocated.
func readString(r *bufio.Reader) (string, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return "", err
	}
	if n > 1<<16 {
		return "", errors.New("stat cache entry too long")
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return string(b), nil
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
	err = encodeStatCache(w, c.entries)
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
