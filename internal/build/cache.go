package build

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/failpoint"
	"github.com/berth/berth/internal/fsutil"
)

// cache maps a step's key to the image it produced, one small file per
// key under dir (ROOT/build/cache). A file appears (atomically) only after
// its image was committed, so a build killed at any point leaves no entry
// that points at half an image; an entry whose image was removed since is
// simply a miss.
type cache struct{ dir string }

// stepKey is everything that decides a step's result: the parent image,
// the step as the history records it (expanded, with the build args a RUN
// sees), the resulting config and author, for COPY/ADD the digest of what
// is copied, and SOURCE_DATE_EPOCH (it changes timestamps and mtimes).
func stepKey(parent, createdBy string, cfg v1.Config, author string, content digest.Digest, epoch string) string {
	h := sha256.New()
	cj, _ := json.Marshal(cfg)
	for _, part := range []string{"berth-build-v1", parent, createdBy, author, string(content), epoch, string(cj)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (c *cache) path(key string) string { return filepath.Join(c.dir, key[:2], key) }

// get returns the image ID remembered for key, or "".
func (c *cache) get(key string) string {
	if c == nil || c.dir == "" {
		return ""
	}
	b, err := os.ReadFile(c.path(key))
	if err != nil {
		return ""
	}
	id := strings.TrimSpace(string(b))
	if !strings.HasPrefix(id, "sha256:") {
		return ""
	}
	return id
}

// put remembers key → id. A failure only costs a future cache miss.
func (c *cache) put(key, id string) {
	if c == nil || c.dir == "" {
		return
	}
	p := c.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return
	}
	// Atomic, not durable: losing an entry to a crash is a cache miss.
	failpoint.Hit("build.cache.before-put")
	_ = fsutil.ReplaceFile(p, []byte(id+"\n"), 0o600)
}

// PruneCache deletes the entries of the step cache in dir whose image is
// gone (exists reports whether an image ID is still in the store), and the
// subdirectories they leave empty. It returns how many it deleted. Such
// entries are only misses for later builds, but nothing else would ever
// remove them, so `system prune` calls this after removing images.
func PruneCache(dir string, exists func(id string) bool) (int, error) {
	subs, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("prune build cache: %w", err)
	}
	c := &cache{dir: dir}
	n := 0
	for _, sub := range subs {
		if !sub.IsDir() {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(dir, sub.Name()))
		if err != nil {
			continue
		}
		for _, ent := range ents {
			key := ent.Name()
			if len(key) < 2 || key[:2] != sub.Name() {
				continue // a temp file of a put in flight, or not ours
			}
			if id := c.get(key); id == "" || !exists(id) {
				if os.Remove(c.path(key)) == nil {
					n++
				}
			}
		}
		os.Remove(filepath.Join(dir, sub.Name())) // only if now empty
	}
	return n, nil
}
