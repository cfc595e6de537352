package image

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/failpoint"
	"github.com/berth/berth/internal/fsutil"
)

// Lease protects the blobs and snapshots an in-flight operation has written
// (or is about to reuse) from GC until the operation's image record exists.
// It lives as long as the process holds it: a process killed mid-operation
// leaves a lease file nobody holds, which the next GC deletes.
// A Lease is safe for concurrent use by the goroutines of one operation.
type Lease struct {
	s    *Store
	path string
	f    *os.File

	mu    sync.Mutex
	items []digest.Digest // what Add recorded, for Discard
}

func (s *Store) leaseDir() string { return filepath.Join(s.root.Run, "leases") }
func (s *Store) gcLock() string   { return filepath.Join(s.root.Locks(), "gc.lock") }

// NewLease starts a lease. Release it when the operation's records are
// written (or it failed); a deferred Release is the usual pattern.
func (s *Store) NewLease() (*Lease, error) {
	if err := os.MkdirAll(s.leaseDir(), 0o700); err != nil {
		return nil, fmt.Errorf("create lease: %w", err)
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	name := fmt.Sprintf("%d-%s", os.Getpid(), hex.EncodeToString(rnd[:]))
	path := filepath.Join(s.leaseDir(), name)
	// Created under a dot name and renamed once flocked: GC must never see
	// a lease file that exists but is not yet held, or it would delete it.
	tmp := filepath.Join(s.leaseDir(), "."+name)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create lease: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("create lease: lock: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("create lease: %w", err)
	}
	failpoint.Hit("image.lease.after-create")
	return &Lease{s: s, path: path, f: f}, nil
}

// Add records digests (blob digests or snapshot chain IDs) on the lease.
// Call it before relying on an item: before committing a blob, before
// treating an existing blob or snapshot as reusable. It waits for a running
// GC to finish, so that GC sees either the item on the lease or the item
// gone (and the caller then writes it again).
func (l *Lease) Add(ds ...digest.Digest) error {
	if len(ds) == 0 {
		return nil
	}
	unlock, err := fsutil.RLock(l.s.gcLock(), fsutil.DefaultLockTimeout)
	if err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	defer unlock()
	var b strings.Builder
	for _, d := range ds {
		if d != "" {
			b.WriteString(d.String())
			b.WriteByte('\n')
		}
	}
	if _, err := l.f.WriteString(b.String()); err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	l.mu.Lock()
	l.items = append(l.items, ds...)
	l.mu.Unlock()
	return nil
}

// Release ends the lease. Items not referenced by a record by then become
// garbage for the next GC.
func (l *Lease) Release() {
	if l == nil || l.f == nil {
		return
	}
	os.Remove(l.path) // before unlocking, so GC never sees it unheld
	l.f.Close()
	l.f = nil
}

// liveLeases returns the union of items on leases held by live processes and
// deletes the files of dead ones. The caller holds the GC lock exclusively.
func (s *Store) liveLeases() (map[digest.Digest]bool, error) {
	keep := map[digest.Digest]bool{}
	ents, err := os.ReadDir(s.leaseDir())
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return keep, nil
		}
		return nil, fmt.Errorf("read leases: %w", err)
	}
	for _, e := range ents {
		path := filepath.Join(s.leaseDir(), e.Name())
		if strings.HasPrefix(e.Name(), ".") {
			// A lease being created. Only a crash between create and
			// rename leaves one behind; remove those once clearly old.
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Minute {
				if f, err := os.Open(path); err == nil {
					if unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB) == nil {
						os.Remove(path)
					}
					f.Close()
				}
			}
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			continue // released meanwhile: its records exist already
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB) == nil {
			// Nobody holds it: its process died mid-operation.
			os.Remove(path)
			f.Close()
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if d := digest.Digest(strings.TrimSpace(sc.Text())); d.Validate() == nil {
				keep[d] = true
			}
		}
		f.Close()
	}
	return keep, nil
}
