package build

import (
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestPruneCache(t *testing.T) {
	dir := t.TempDir()
	c := &cache{dir: dir}
	keep := stepKey("sha256:p", "RUN keep", v1.Config{}, "", "", "")
	drop := stepKey("sha256:p", "RUN drop", v1.Config{}, "", "", "")
	c.put(keep, "sha256:kept")
	c.put(drop, "sha256:gone")
	// A put in flight (its temp file) and a foreign file stay untouched.
	tmp := filepath.Join(dir, keep[:2], "."+keep+".tmp-1")
	os.WriteFile(tmp, []byte("x"), 0o600)
	n, err := PruneCache(dir, func(id string) bool { return id == "sha256:kept" })
	if err != nil || n != 1 {
		t.Fatalf("PruneCache = %d, %v; want 1", n, err)
	}
	if c.get(keep) != "sha256:kept" || c.get(drop) != "" {
		t.Fatalf("after prune: keep=%q drop=%q", c.get(keep), c.get(drop))
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Fatalf("temp file of a put in flight removed: %v", err)
	}
	if keep[:2] != drop[:2] {
		if _, err := os.Stat(filepath.Join(dir, drop[:2])); !os.IsNotExist(err) {
			t.Fatalf("empty cache subdir kept: %v", err)
		}
	}
	if n, err := PruneCache(filepath.Join(dir, "missing"), nil); n != 0 || err != nil {
		t.Fatalf("missing dir: %d %v", n, err)
	}
}
