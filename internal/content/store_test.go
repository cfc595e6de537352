package content

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/errdefs"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCommitChecks is the conformance table for Commit: every refusal leaves
// no visible blob, and every success leaves a correct one.
func TestCommitChecks(t *testing.T) {
	data := []byte("hello, blob")
	good := digest.FromBytes(data)
	for _, tc := range []struct {
		desc      string
		size      int64
		expected  digest.Digest
		wantErr   error
		wantBlob  bool
		keepsData bool // the ingest survives (resumable)
	}{
		{desc: "exact size and digest", size: int64(len(data)), expected: good, wantBlob: true},
		{desc: "unknown size and digest", size: 0, expected: "", wantBlob: true},
		{desc: "digest only", size: 0, expected: good, wantBlob: true},
		{desc: "short write: size mismatch keeps the ingest", size: int64(len(data)) + 5, expected: good, wantErr: errdefs.ErrInvalid, keepsData: true},
		{desc: "wrong digest drops the ingest", size: int64(len(data)), expected: digest.FromString("other"), wantErr: errdefs.ErrInvalid},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			s := newStore(t)
			w, err := s.Writer("ref-1")
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if _, err := w.Write(data); err != nil {
				t.Fatal(err)
			}
			err = w.Commit(tc.size, tc.expected)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Commit = %v, want %v", err, tc.wantErr)
			}
			if got := s.Exists(good); got != tc.wantBlob {
				t.Fatalf("blob visible = %v, want %v", got, tc.wantBlob)
			}
			if tc.wantBlob {
				if err := s.Verify(good); err != nil {
					t.Fatal(err)
				}
				b, err := s.ReadBlob(good)
				if err != nil || !bytes.Equal(b, data) {
					t.Fatalf("ReadBlob = %q, %v", b, err)
				}
			}
			w.Close()
			ing, _ := s.ListIngests()
			if (len(ing) == 1) != tc.keepsData {
				t.Fatalf("ingests after commit = %v, want kept=%v", ing, tc.keepsData)
			}
		})
	}
}

func TestCommitExisting(t *testing.T) {
	s := newStore(t)
	data := []byte("same")
	d, err := s.WriteBlob(data, "")
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Writer("again")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	err = w.Commit(int64(len(data)), d)
	if !errors.Is(err, ErrAlreadyExists) || !errdefs.IsConflict(err) {
		t.Fatalf("Commit of existing blob = %v, want ErrAlreadyExists", err)
	}
	if ing, _ := s.ListIngests(); len(ing) != 0 {
		t.Fatalf("ingest not dropped: %v", ing)
	}
	// WriteBlob treats it as success.
	if d2, err := s.WriteBlob(data, d); err != nil || d2 != d {
		t.Fatalf("WriteBlob existing = %s, %v", d2, err)
	}
}

func TestNotFound(t *testing.T) {
	s := newStore(t)
	d := digest.FromString("missing")
	for name, fn := range map[string]func() error{
		"Info":     func() error { _, err := s.Info(d); return err },
		"Open":     func() error { _, err := s.Open(d); return err },
		"ReadBlob": func() error { _, err := s.ReadBlob(d); return err },
		"Delete":   func() error { return s.Delete(d) },
		"Verify":   func() error { return s.Verify(d) },
	} {
		err := fn()
		if !errdefs.IsNotFound(err) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
		if want := "content " + d.String() + ": not found"; err == nil || err.Error() != want {
			t.Errorf("%s: message %q, want %q", name, err, want)
		}
	}
	if _, err := s.Info("sha256:nothex"); !errdefs.IsInvalid(err) {
		t.Errorf("invalid digest: %v, want ErrInvalid", err)
	}
}

func TestResume(t *testing.T) {
	s := newStore(t)
	data := randomBytes(t, 1<<20)
	d := digest.FromBytes(data)
	w, err := s.Writer("resumable")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data[:300000])
	w.Close() // pause, as after a dropped connection

	w, err = s.Writer("resumable")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if w.Offset() != 300000 {
		t.Fatalf("resumed at %d, want 300000", w.Offset())
	}
	w.Write(data[300000:])
	if w.Digest() != d {
		t.Fatalf("digest after resume %s, want %s", w.Digest(), d)
	}
	if err := w.Commit(int64(len(data)), d); err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(d)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Size() != int64(len(data)) {
		t.Fatalf("size %d", r.Size())
	}
	buf := make([]byte, 10)
	if _, err := r.ReadAt(buf, 500000); err != nil || !bytes.Equal(buf, data[500000:500010]) {
		t.Fatalf("ReadAt: %v", err)
	}
}

func TestOneWriterPerRef(t *testing.T) {
	s := newStore(t)
	w, err := s.Writer("busy")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Writer("busy")
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), fmt.Sprintf("PID %d", os.Getpid())) {
		t.Fatalf("second writer: %v, want ErrUnavailable naming our PID", err)
	}
	// Cleanup must not touch a held ingest.
	if n, _, _ := s.Cleanup(0); n != 0 {
		t.Fatalf("Cleanup removed a live ingest")
	}
	w.Close()
	w2, err := s.Writer("busy")
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	w2.Close()
}

// TestCleanupAfterKill: an ingest whose writer process was SIGKILLed is
// stale (its flock died with it) and Cleanup removes it; no blob appears.
func TestCleanupAfterKill(t *testing.T) {
	if os.Getenv("CONTENT_HELPER_DIR") != "" {
		s, err := Open(os.Getenv("CONTENT_HELPER_DIR"))
		if err != nil {
			os.Exit(2)
		}
		w, err := s.Writer("killed")
		if err != nil {
			os.Exit(3)
		}
		w.Write([]byte("partial data"))
		os.Stdout.WriteString("ready\n")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	s := newStore(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCleanupAfterKill$")
	cmd.Env = append(os.Environ(), "CONTENT_HELPER_DIR="+s.Dir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	buf := make([]byte, 6)
	if _, err := io.ReadFull(out, buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("helper: %q %v", buf, err)
	}
	if _, err := s.Writer("killed"); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("ref held by live helper: %v", err)
	}
	if n, _, _ := s.Cleanup(0); n != 0 {
		t.Fatal("Cleanup removed the live helper's ingest")
	}
	cmd.Process.Kill()
	cmd.Wait()
	if n, _, _ := s.Cleanup(time.Hour); n != 0 {
		t.Fatal("Cleanup ignored olderThan")
	}
	n, freed, err := s.Cleanup(0)
	if err != nil || n != 1 || freed != int64(len("partial data")) {
		t.Fatalf("Cleanup = %d, %d, %v; want 1 stale ingest", n, freed, err)
	}
	if blobs, _ := s.List(); len(blobs) != 0 {
		t.Fatalf("blobs after kill: %v", blobs)
	}
}

func TestConcurrentSameBlob(t *testing.T) {
	s := newStore(t)
	data := randomBytes(t, 256<<10)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.WriteBlob(data, "")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	list, _ := s.List()
	if len(list) != 1 || list[0].Size != int64(len(data)) {
		t.Fatalf("List = %v", list)
	}
	if ing, _ := s.ListIngests(); len(ing) != 0 {
		t.Fatalf("leftover ingests %v", ing)
	}
}

func TestVerifyDetectsCorruption(t *testing.T) {
	s := newStore(t)
	d, err := s.WriteBlob([]byte("pristine"), "")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.BlobPath(d)
	if fi, _ := os.Stat(p); fi.Mode().Perm()&0o222 != 0 {
		t.Errorf("blob is writable: %v", fi.Mode())
	}
	os.Chmod(p, 0o644)
	os.WriteFile(p, []byte("tampered"), 0o444)
	if err := s.Verify(d); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Verify = %v, want ErrCorrupt", err)
	}
	if _, err := s.ReadBlob(d); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReadBlob = %v, want ErrCorrupt", err)
	}
}

func TestWalkAndDelete(t *testing.T) {
	s := newStore(t)
	want := map[digest.Digest]bool{}
	for i := 0; i < 5; i++ {
		d, err := s.WriteBlob([]byte(fmt.Sprint("blob", i)), "")
		if err != nil {
			t.Fatal(err)
		}
		want[d] = true
	}
	// Junk in the blob dir (a temp file) is not a blob.
	os.WriteFile(filepath.Join(s.Dir(), "blobs", "sha256", ".tmp-123"), nil, 0o600)
	list, err := s.List()
	if err != nil || len(list) != 5 {
		t.Fatalf("List = %v, %v", list, err)
	}
	for _, i := range list {
		if !want[i.Digest] {
			t.Fatalf("unexpected %s", i.Digest)
		}
		if err := s.Delete(i.Digest); err != nil {
			t.Fatal(err)
		}
	}
	if list, _ := s.List(); len(list) != 0 {
		t.Fatalf("after delete: %v", list)
	}
}

func TestIngest(t *testing.T) {
	s := newStore(t)
	data := randomBytes(t, 100000)
	d, err := s.Ingest("stream", bytes.NewReader(data), int64(len(data)), "")
	if err != nil || d != digest.FromBytes(data) {
		t.Fatalf("Ingest = %s, %v", d, err)
	}
	if _, err := s.Ingest("stream", bytes.NewReader(data[:10]), 0, digest.FromString("x")); !errdefs.IsInvalid(err) {
		t.Fatalf("Ingest wrong digest = %v", err)
	}
	if s.Exists(digest.FromBytes(data[:10])) {
		t.Fatal("wrong-digest ingest became visible")
	}
}
