// Package fsutil holds the file primitives every berth store relies on:
// atomic replacement of a file (temp + fsync + rename), cross-process
// locks (flock on a lock file), and a reserve of disk blocks that lets an
// atomic rewrite that frees space succeed on a full disk (reserve.go). It
// owns no state of its own.
package fsutil

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/errdefs"
)

// WriteFileAtomic replaces path with data so that readers see either the old
// or the new content, never a torn file, even after a crash or power loss.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return writeAtomic(path, data, perm, true)
}

// ReplaceFile is WriteFileAtomic without the fsyncs: atomic against a
// crash of any process (kill -9), but after a power loss the file may hold
// the previous version or, on a filesystem that does not write a file's
// data before a rename of it (ext4 without a journal), nothing at all. For
// records of volatile state — a container's running or exited status is
// reconciled after a reboot anyway, a --rm container is removed — where a
// start should not wait for the disk. Their readers treat ErrCorrupt as
// a power loss's leftover.
func ReplaceFile(path string, data []byte, perm os.FileMode) error {
	return writeAtomic(path, data, perm, false)
}

func writeAtomic(path string, data []byte, perm os.FileMode, durable bool) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if durable {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if !durable {
		return nil
	}
	return SyncDir(dir)
}

// WriteFile writes data with WriteFileAtomic if durable, ReplaceFile
// otherwise.
func WriteFile(path string, data []byte, perm os.FileMode, durable bool) error {
	return writeAtomic(path, data, perm, durable)
}

// WriteJSONAtomic marshals v and writes it with WriteFileAtomic.
func WriteJSONAtomic(path string, v any, perm os.FileMode) error {
	return WriteJSON(path, v, perm, true)
}

// WriteJSON marshals v and writes it with WriteFileAtomic if durable,
// ReplaceFile otherwise.
func WriteJSON(path string, v any, perm os.FileMode, durable bool) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeAtomic(path, data, perm, durable)
}

// ErrCorrupt marks a record ReadJSON could not parse: a bug, a hand edit,
// or a power loss that caught a ReplaceFile (see there).
var ErrCorrupt = errors.New("corrupt record")

// ReadJSON reads path into v. A missing file is reported as errdefs.ErrNotFound.
func ReadJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return fmt.Errorf("%s: %w", path, errdefs.ErrNotFound)
		}
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w: %w", path, ErrCorrupt, err)
	}
	return nil
}

// SyncDir fsyncs a directory so a rename inside it is durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// DefaultLockTimeout bounds how long a berth command waits for another one.
const DefaultLockTimeout = 30 * time.Second

// Lock takes an exclusive flock on path (created if missing) and returns the
// function that releases it. The holder's PID is written into the file so a
// waiter that times out can say who holds it. The kernel drops the lock when
// the holder dies, so a kill -9 never leaves a stale lock behind.
func Lock(path string, timeout time.Duration) (unlock func(), err error) {
	return lock(path, unix.LOCK_EX, timeout)
}

// RLock takes a shared flock on path; see Lock.
func RLock(path string, timeout time.Duration) (unlock func(), err error) {
	return lock(path, unix.LOCK_SH, timeout)
}

func lock(path string, how int, timeout time.Duration) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(timeout)
	// Poll rather than block: a blocking flock cannot honour the timeout.
	// Holders keep these locks for a few ms, so the waits stay short (a long
	// back-off made 20 parallel removals queue for tens of ms each).
	delay := 100 * time.Microsecond
	for {
		err = unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			break
		}
		if err != unix.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			holder := readHolder(path)
			f.Close()
			return nil, fmt.Errorf("%s is locked by %s (waited %s): %w", path, holder, timeout, errdefs.ErrUnavailable)
		}
		time.Sleep(delay)
		if delay < 2*time.Millisecond {
			delay *= 2
		}
	}
	if how == unix.LOCK_EX {
		// One fixed-width write instead of truncate + write: a truncate
		// frees the file's block and the write allocates a new one, which
		// costs ~0.1 ms per lock on ext4, and a run takes six of these.
		// Every PID fits the width, so no longer number can show through.
		f.WriteAt([]byte(fmt.Sprintf("%-*d\n", pidWidth, os.Getpid())), 0)
	}
	return func() {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

// pidWidth is wider than any PID (Linux caps them at 2^22).
const pidWidth = 10

func readHolder(path string) string {
	data, _ := os.ReadFile(path)
	if pid := strings.TrimSpace(string(data)); pid != "" {
		return "PID " + pid
	}
	return "another berth process"
}
