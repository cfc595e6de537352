package content

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/failpoint"
	"github.com/berth/berth/internal/fsutil"
)

// Writer streams one blob into an ingest file. It is not safe for
// concurrent use; Close it (after Commit, or to pause) to release the ref.
type Writer struct {
	s        *Store
	ref      string
	dir      string
	f        *os.File
	lock     *os.File
	digester digest.Digester
	offset   int64
	flushed  int64 // bytes already handed to writeback (see Write)
	started  time.Time
	closed   bool
}

// Status describes an in-progress ingest.
type Status struct {
	Ref       string
	Offset    int64 // bytes written so far
	StartedAt time.Time
	UpdatedAt time.Time
}

func (s *Store) ingestDir(ref string) string {
	return filepath.Join(s.dir, "ingest", digest.FromString(ref).Encoded())
}

// Writer opens the ingest named ref for writing. If an ingest with that ref
// exists (an interrupted write), the Writer continues at its end: Offset
// tells where, and the digest covers the bytes already there. Only one
// Writer per ref may be open at a time, across all processes; a second one
// fails at once with ErrUnavailable naming the holder.
func (s *Store) Writer(ref string) (*Writer, error) {
	if ref == "" {
		return nil, fmt.Errorf("content writer: empty ref: %w", errdefs.ErrInvalid)
	}
	dir := s.ingestDir(ref)
	lock, err := lockIngest(dir, ref)
	if err != nil {
		return nil, err
	}
	w := &Writer{s: s, ref: ref, dir: dir, lock: lock, digester: digest.Canonical.Digester()}
	ok := false
	defer func() {
		if !ok {
			w.release()
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, "ref"), []byte(ref), 0o600); err != nil {
		return nil, fmt.Errorf("content ingest %s: %w", ref, err)
	}
	startedPath := filepath.Join(dir, "startedat")
	if b, err := os.ReadFile(startedPath); err == nil {
		w.started, _ = time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
	}
	if w.started.IsZero() {
		w.started = time.Now()
		os.WriteFile(startedPath, []byte(w.started.Format(time.RFC3339Nano)), 0o600)
	}
	f, err := os.OpenFile(filepath.Join(dir, "data"), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("content ingest %s: %w", ref, err)
	}
	w.f = f
	failpoint.Hit("content.ingest.after-create")
	// Resume: re-hash what an earlier writer left, so Digest and Commit
	// cover the whole blob and not just this session's bytes.
	n, err := io.Copy(w.digester.Hash(), f)
	if err != nil {
		return nil, fmt.Errorf("content ingest %s: resume: %w", ref, err)
	}
	w.offset, w.flushed = n, n
	ok = true
	return w, nil
}

// lockIngest creates dir if needed and takes its flock without waiting. The
// kernel drops it when the holder dies, which is what makes an ingest
// "stale" for Cleanup. After locking it checks that the lock file is still
// the one in dir: a Commit or Cleanup in another process may have removed
// the directory between our open and our flock, and a lock on an unlinked
// file protects nothing.
func lockIngest(dir, ref string) (*os.File, error) {
	for attempt := 0; ; attempt++ {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("content ingest %s: %w", ref, err)
		}
		path := filepath.Join(dir, "lock")
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && attempt < 10 {
				continue // dir removed between MkdirAll and open
			}
			return nil, fmt.Errorf("content ingest %s: %w", ref, err)
		}
		if err := flockBriefly(f); err != nil {
			f.Close()
			if err == unix.EWOULDBLOCK {
				return nil, fmt.Errorf("content ingest %s: %w", ref, busyError(dir))
			}
			return nil, fmt.Errorf("content ingest %s: lock: %w", ref, err)
		}
		var held, onDisk unix.Stat_t
		if unix.Fstat(int(f.Fd()), &held) == nil && unix.Stat(path, &onDisk) == nil &&
			held.Ino == onDisk.Ino && held.Dev == onDisk.Dev {
			f.Truncate(0)
			f.WriteAt([]byte(strconv.Itoa(os.Getpid())+" "+time.Now().Format(time.RFC3339)), 0)
			return f, nil
		}
		f.Close()
		if attempt >= 10 {
			return nil, fmt.Errorf("content ingest %s: directory keeps disappearing: %w", ref, errdefs.ErrUnavailable)
		}
	}
}

// flockBriefly takes f's exclusive flock, retrying for a moment: Cleanup
// holds a stale ingest's lock for the instant it takes to delete it, which
// must not fail a writer; a live writer holds it far longer.
func flockBriefly(f *os.File) error {
	var err error
	for i := 0; i < 10; i++ {
		if err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != unix.EWOULDBLOCK {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
	return err
}

func busyError(dir string) error {
	b, _ := os.ReadFile(filepath.Join(dir, "lock"))
	fields := strings.Fields(string(b))
	holder := "another process"
	if len(fields) > 0 {
		holder = "PID " + fields[0]
	}
	if len(fields) > 1 {
		if t, err := time.Parse(time.RFC3339, fields[1]); err == nil {
			holder += fmt.Sprintf(" for %s", time.Since(t).Round(time.Second))
		}
	}
	return fmt.Errorf("ref is locked by %s: %w", holder, errdefs.ErrUnavailable)
}

// writebackChunk is how much a Writer buffers before starting writeback.
const writebackChunk = 8 << 20

// Ref is the ingest's name.
func (w *Writer) Ref() string { return w.ref }

// Offset is how many bytes the ingest holds.
func (w *Writer) Offset() int64 { return w.offset }

// Digest is the digest of the bytes written so far.
func (w *Writer) Digest() digest.Digest { return w.digester.Digest() }

// Status reports the ingest's progress.
func (w *Writer) Status() Status {
	return Status{Ref: w.ref, Offset: w.offset, StartedAt: w.started, UpdatedAt: time.Now()}
}

// Write appends p to the ingest.
func (w *Writer) Write(p []byte) (int, error) {
	if w.closed {
		return 0, fmt.Errorf("content ingest %s: write after close: %w", w.ref, os.ErrClosed)
	}
	n, err := w.f.Write(p)
	w.digester.Hash().Write(p[:n])
	w.offset += int64(n)
	if err != nil {
		return n, fmt.Errorf("content ingest %s: %w", w.ref, err)
	}
	// Start writeback of each full chunk now, without waiting for it, so
	// the fsync in Commit finds little left to do: a big layer's fsync
	// would otherwise stall the end of an import for the whole disk write.
	if w.offset-w.flushed >= writebackChunk {
		unix.SyncFileRange(int(w.f.Fd()), w.flushed, w.offset-w.flushed, unix.SYNC_FILE_RANGE_WRITE)
		w.flushed = w.offset
	}
	return n, nil
}

// Truncate discards the ingest beyond size; only 0 is supported (restart),
// because the digest of a prefix cannot be recovered without re-reading.
func (w *Writer) Truncate(size int64) error {
	if size != 0 {
		return fmt.Errorf("content ingest %s: truncate to %d: %w", w.ref, size, errdefs.ErrNotImplemented)
	}
	if w.offset == 0 {
		return nil
	}
	if err := w.f.Truncate(0); err != nil {
		return fmt.Errorf("content ingest %s: %w", w.ref, err)
	}
	if _, err := w.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("content ingest %s: %w", w.ref, err)
	}
	w.digester = digest.Canonical.Digester()
	w.offset, w.flushed = 0, 0
	return nil
}

// Commit makes the ingest visible as a blob. size (when > 0) and expected
// (when not empty) must match what was written. Steps, in containerd's
// order: fsync, size check, digest check, refuse if the blob exists (the
// ingest is then dropped and ErrAlreadyExists returned), read-only chmod,
// atomic rename, directory fsync. A size mismatch keeps the ingest (the
// write may be resumed); a digest mismatch drops it (its bytes are wrong).
// The Writer is closed afterwards either way, except after a size mismatch.
func (w *Writer) Commit(size int64, expected digest.Digest) error {
	if w.closed {
		return fmt.Errorf("content ingest %s: commit after close: %w", w.ref, os.ErrClosed)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("content ingest %s: sync: %w", w.ref, err)
	}
	fi, err := w.f.Stat()
	if err != nil {
		return fmt.Errorf("content ingest %s: %w", w.ref, err)
	}
	if fi.Size() != w.offset {
		// Someone wrote to our file behind the lock's back; never trust it.
		w.abort()
		return fmt.Errorf("content ingest %s: file is %d bytes but %d were written: %w", w.ref, fi.Size(), w.offset, ErrCorrupt)
	}
	if size > 0 && size != w.offset {
		return fmt.Errorf("content ingest %s: unexpected commit size %d, expected %d: %w", w.ref, w.offset, size, errdefs.ErrInvalid)
	}
	got := w.digester.Digest()
	if expected != "" && expected != got {
		w.abort()
		return fmt.Errorf("content ingest %s: unexpected commit digest %s, expected %s: %w", w.ref, got, expected, errdefs.ErrInvalid)
	}
	target, err := w.s.BlobPath(got)
	if err != nil {
		return err
	}
	if _, err := os.Stat(target); err == nil {
		w.abort()
		return fmt.Errorf("content %s: %w", got, ErrAlreadyExists)
	}
	// Read-only, and for berth alone: a private image's layers are no
	// other host user's business (issue 6: state is 0700/0600).
	if err := w.f.Chmod(0o400); err != nil {
		return fmt.Errorf("content ingest %s: %w", w.ref, err)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return fmt.Errorf("content ingest %s: %w", w.ref, err)
	}
	failpoint.Hit("content.commit.before-rename")
	if err := os.Rename(filepath.Join(w.dir, "data"), target); err != nil {
		return fmt.Errorf("content ingest %s: commit: %w", w.ref, err)
	}
	// Committed. What follows is tidying: failures must not turn a
	// successful commit into an error.
	failpoint.Hit("content.commit.after-rename")
	fsutil.SyncDir(filepath.Dir(target))
	w.abort()
	return nil
}

// abort removes the ingest directory and closes the writer.
func (w *Writer) abort() {
	os.RemoveAll(w.dir) // while still holding the lock
	w.release()
}

// Close releases the ref without committing; the ingest stays on disk so a
// later Writer with the same ref resumes it (or Cleanup removes it).
func (w *Writer) Close() error {
	w.release()
	return nil
}

func (w *Writer) release() {
	if w.closed {
		return
	}
	w.closed = true
	if w.f != nil {
		w.f.Close()
	}
	if w.lock != nil {
		unix.Flock(int(w.lock.Fd()), unix.LOCK_UN)
		w.lock.Close()
	}
}

// Abort discards the ingest (and closes the Writer).
func (w *Writer) Abort() {
	if !w.closed {
		w.abort()
	}
}

// ListIngests reports the ingests on disk, including ones held by live
// writers in other processes.
func (s *Store) ListIngests() ([]Status, error) {
	ents, err := os.ReadDir(filepath.Join(s.dir, "ingest"))
	if err != nil {
		return nil, fmt.Errorf("list ingests: %w", err)
	}
	var out []Status
	for _, e := range ents {
		dir := filepath.Join(s.dir, "ingest", e.Name())
		ref, err := os.ReadFile(filepath.Join(dir, "ref"))
		if err != nil {
			continue
		}
		st := Status{Ref: string(ref)}
		if fi, err := os.Stat(filepath.Join(dir, "data")); err == nil {
			st.Offset, st.UpdatedAt = fi.Size(), fi.ModTime()
		}
		if b, err := os.ReadFile(filepath.Join(dir, "startedat")); err == nil {
			st.StartedAt, _ = time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
		}
		out = append(out, st)
	}
	return out, nil
}

// Cleanup removes ingests that no live process holds and that were last
// written more than olderThan ago (0 = any age). An ingest whose writer died
// (kill -9, crash) is therefore reclaimed, while a live pull's is never
// touched. It returns how many were removed and the bytes freed.
func (s *Store) Cleanup(olderThan time.Duration) (removed int, reclaimed int64, err error) {
	base := filepath.Join(s.dir, "ingest")
	ents, err := os.ReadDir(base)
	if err != nil {
		return 0, 0, fmt.Errorf("clean ingests: %w", err)
	}
	for _, e := range ents {
		dir := filepath.Join(base, e.Name())
		lf, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			// No lock file: a Writer is between MkdirAll and creating it,
			// or one crashed right there. Only the latter gets old.
			if fi, serr := os.Stat(dir); errors.Is(err, fs.ErrNotExist) && serr == nil && time.Since(fi.ModTime()) > time.Minute {
				if os.RemoveAll(dir) == nil {
					removed++
				}
			}
			continue
		}
		if unix.Flock(int(lf.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
			lf.Close()
			continue // a live writer
		}
		var size int64
		last := time.Time{}
		if fi, err := os.Stat(filepath.Join(dir, "data")); err == nil {
			size, last = fi.Size(), fi.ModTime()
		} else if fi, err := os.Stat(dir); err == nil {
			last = fi.ModTime()
		}
		if olderThan <= 0 || time.Since(last) > olderThan {
			if os.RemoveAll(dir) == nil {
				removed++
				reclaimed += size
			}
		}
		lf.Close()
	}
	return removed, reclaimed, nil
}
