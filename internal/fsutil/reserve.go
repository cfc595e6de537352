package fsutil

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// Reserve is a file of allocated blocks a store keeps so that it can still
// replace a small file atomically on a full disk. Freeing space (rmi,
// prune) starts with such a rewrite — temp + rename needs a new block
// before the old ones are released — and would otherwise fail exactly when
// it is needed most. Ensure it while there is room; Retry releases it when
// a write fails for want of space.
type Reserve struct {
	Path string
	Size int64
}

// Ensure creates the reserve if it is missing. Best effort: on a disk too
// full for it, or a filesystem without fallocate, there is no reserve.
func (r Reserve) Ensure() {
	fi, err := os.Stat(r.Path)
	if err == nil && fi.Size() >= r.Size {
		return
	}
	if err == nil {
		// Cut short by a crash (made in place, not renamed into place, so
		// that no temp file is ever left for nobody to remove): again.
		os.Remove(r.Path)
	}
	f, err := os.OpenFile(r.Path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return
	}
	err = unix.Fallocate(int(f.Fd()), 0, 0, r.Size)
	f.Close()
	if err != nil {
		os.Remove(r.Path)
	}
}

// Retry runs write and, if it failed with ENOSPC and the reserve was
// there to give back, runs it once more.
func (r Reserve) Retry(write func() error) error {
	err := write()
	if errors.Is(err, unix.ENOSPC) && os.Remove(r.Path) == nil {
		err = write()
	}
	return err
}
