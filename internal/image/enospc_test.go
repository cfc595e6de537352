package image

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReserveOnFullDisk: on a full disk, rmi can still rewrite the
// references (the root's reserve gives its blocks back) and its space
// comes back; tag, which only adds, may not use the reserve.
func TestReserveOnFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (tmpfs)")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=4m"); err != nil {
		t.Skipf("tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	e := newEnvIn(t, dir)
	if _, err := os.Stat(e.root.Reserve()); err != nil {
		t.Fatalf("Open made no reserve: %v", err)
	}
	e.importTar(t, smallTar(t, "a", "a layer"), "a:1")
	// Fill what is left.
	f, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := f.Write(make([]byte, 4096)); err != nil {
			break
		}
	}
	f.Close()
	if err := e.is.Tag("a:1", "b:1"); !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("tag on a full disk: %v, want ENOSPC", err)
	}
	if _, err := os.Stat(e.root.Reserve()); err != nil {
		t.Fatalf("tag used the reserve: %v", err)
	}
	if _, err := e.is.Remove("a:1", RemoveOptions{}); err != nil {
		t.Fatalf("rmi on a full disk: %v", err)
	}
	if _, err := os.Stat(e.root.Reserve()); !os.IsNotExist(err) {
		t.Fatalf("rmi did not need the reserve? %v", err)
	}
	if _, err := e.is.Get("a:1"); err == nil {
		t.Fatal("a:1 still there")
	}
	e.mustCheck(t)
}
