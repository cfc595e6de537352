package snapshot

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/errdefs"
)

// TestRemoveOnFullDisk: a container that filled the disk must still be
// removable, although the index rewrite has no room until its layer is
// gone; ActiveUsage tells beforehand what Remove gives back.
func TestRemoveOnFullDisk(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	s, err := Open(filepath.Join(dir, "snapshots"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prepare("hog", ""); err != nil {
		t.Fatal(err)
	}
	upper, _ := s.UpperDir("hog")
	f, err := os.Create(filepath.Join(upper, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, unix.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	f.Close()
	if err := os.WriteFile(filepath.Join(dir, "probe"), chunk, 0o600); !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("disk not full: %v", err)
	}
	used, err := s.ActiveUsage("hog")
	if err != nil || used < 512<<10 {
		t.Fatalf("ActiveUsage = %d, %v; want the filler's size", used, err)
	}
	if err := s.Remove("hog"); err != nil {
		t.Fatalf("Remove on a full disk: %v", err)
	}
	if _, err := s.UpperDir("hog"); !errdefs.IsNotFound(err) {
		t.Fatalf("hog still in the index: %v", err)
	}
	if keys, _ := s.Active(); len(keys) != 0 {
		t.Fatalf("Active = %v", keys)
	}
	problems, err := s.Check(false)
	if err != nil || len(problems) != 0 {
		t.Fatalf("Check: %v %v", problems, err)
	}
}
