package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReserveRetry: a rewrite that fails on a full disk succeeds once the
// reserve gives its blocks back; without a reserve the error stands.
func TestReserveRetry(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (tmpfs)")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=512k"); err != nil {
		t.Skipf("tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	r := Reserve{Path: filepath.Join(dir, "reserve"), Size: 64 << 10}
	r.Ensure()
	if fi, err := os.Stat(r.Path); err != nil || fi.Size() != r.Size {
		t.Fatalf("reserve: %v %v", fi, err)
	}
	r.Ensure() // present: a no-op
	// One cut short (by a crash) is made again.
	os.Truncate(r.Path, 0)
	r.Ensure()
	if fi, err := os.Stat(r.Path); err != nil || fi.Size() != r.Size {
		t.Fatalf("reserve after a short one: %v %v", fi, err)
	}
	fillUp(t, filepath.Join(dir, "fill"))
	target := filepath.Join(dir, "refs.json")
	write := func() error { return WriteFileAtomic(target, make([]byte, 8192), 0o600) }
	if err := write(); !isENOSPC(err) {
		t.Fatalf("disk not full: %v", err)
	}
	if err := r.Retry(write); err != nil {
		t.Fatalf("Retry with a reserve: %v", err)
	}
	if _, err := os.Stat(r.Path); !os.IsNotExist(err) {
		t.Fatalf("reserve not released: %v", err)
	}
	fillUp(t, filepath.Join(dir, "fill2"))
	target = filepath.Join(dir, "other.json")
	if err := r.Retry(write); !isENOSPC(err) {
		t.Fatalf("Retry without a reserve: %v", err)
	}
	r.Ensure() // no room: no reserve, no stray file
	if _, err := os.Stat(r.Path); !os.IsNotExist(err) {
		t.Fatalf("reserve made on a full disk: %v", err)
	}
}

func isENOSPC(err error) bool { return errors.Is(err, unix.ENOSPC) }

// fillUp writes name until the filesystem is full.
func fillUp(t *testing.T, name string) {
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for {
		if _, err := f.Write(make([]byte, 4096)); err != nil {
			return
		}
	}
}
