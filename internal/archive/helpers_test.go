package archive

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ent is one tar entry for tests; zero fields get sensible defaults.
type ent struct {
	name   string
	typ    byte
	body   string
	link   string
	mode   int64
	uid    int
	gid    int
	major  int64
	minor  int64
	mtime  time.Time
	xattrs map[string]string
}

var epoch = time.Unix(1700000000, 0)

func mkTar(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{
			Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode,
			Uid: e.uid, Gid: e.gid, Devmajor: e.major, Devminor: e.minor, ModTime: e.mtime,
		}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.ModTime.IsZero() {
			h.ModTime = epoch
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		for k, v := range e.xattrs {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords["SCHILY.xattr."+k] = v
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("header %s: %v", e.name, err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sandbox is a base directory holding root/ (where tars are applied) next
// to outside/ (sentinels that must never change).
type sandbox struct {
	base, root, outside string
	before              map[string]string
}

func newSandbox(t testing.TB) *sandbox {
	t.Helper()
	return newSandboxIn(t, "")
}

// newSandboxIn makes the sandbox under parent ("" = the test's temp dir)
// and removes it at cleanup.
func newSandboxIn(t testing.TB, parent string) *sandbox {
	t.Helper()
	var base string
	if parent == "" {
		base = t.TempDir()
	} else {
		var err error
		if base, err = os.MkdirTemp(parent, "sb-"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(base) })
	}
	s := &sandbox{base: base, root: filepath.Join(base, "root"), outside: filepath.Join(base, "outside")}
	for _, d := range []string{s.root, s.outside, filepath.Join(s.outside, "dir")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(s.outside, "secret"), []byte("secret"), 0o600)
	os.WriteFile(filepath.Join(s.outside, "dir", "file"), []byte("file"), 0o644)
	os.Symlink("secret", filepath.Join(s.outside, "link"))
	os.WriteFile(filepath.Join(base, "sibling"), []byte("sibling"), 0o644)
	s.before = s.snapshot(t)
	return s
}

// snapshot describes everything under base except root/.
func (s *sandbox) snapshot(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(s.base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == s.root {
			return filepath.SkipDir
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		desc := fmt.Sprintf("mode=%o uid=%d gid=%d nlink=%d size=%d", st.Mode, st.Uid, st.Gid, st.Nlink, st.Size)
		if p != s.base {
			desc += fmt.Sprintf(" mtime=%d", st.Mtim.Sec)
		}
		if d.Type()&fs.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			desc += " -> " + l
		} else if d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			desc += " content=" + string(b)
		}
		var xbuf [1024]byte
		n, _ := unix.Llistxattr(p, xbuf[:])
		if n > 0 {
			desc += " xattrs=" + string(xbuf[:n])
		}
		out[p] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (s *sandbox) assertOutsideUntouched(t testing.TB) {
	t.Helper()
	after := s.snapshot(t)
	for p, d := range s.before {
		if after[p] != d {
			t.Errorf("outside changed: %s\n before: %s\n after:  %s", p, d, after[p])
		}
	}
	for p, d := range after {
		if _, ok := s.before[p]; !ok {
			t.Errorf("outside created: %s (%s)", p, d)
		}
	}
}

func lstat(t testing.TB, p string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatalf("lstat %s: %v", p, err)
	}
	return st
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
