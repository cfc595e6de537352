package volume

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fileCapNetRaw is a VFS_CAP_REVISION_2 security.capability value granting
// cap_net_raw+ep, like ping's.
func fileCapNetRaw() []byte {
	var b bytes.Buffer
	for _, v := range []uint32{0x02000000 | 1, 1 << 13, 0, 0, 0} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	return b.Bytes()
}

// imageTree builds an image directory exercising everything CopyUp must
// preserve, and returns it plus a path outside it that symlinks point to.
func imageTree(t *testing.T) (src, outside string) {
	t.Helper()
	base := t.TempDir()
	src = filepath.Join(base, "image/var/lib/app")
	outside = filepath.Join(base, "host-secret")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(outside, 0o700))
	must(os.WriteFile(filepath.Join(outside, "secret"), []byte("host data"), 0o600))
	must(os.MkdirAll(filepath.Join(src, "conf/deep"), 0o755))
	must(os.WriteFile(filepath.Join(src, "conf/app.conf"), []byte("key=value\n"), 0o640))
	must(os.Chown(filepath.Join(src, "conf/app.conf"), 1000, 1001))
	must(os.WriteFile(filepath.Join(src, "conf/deep/x"), []byte("x"), 0o644))
	must(os.WriteFile(filepath.Join(src, "suid"), []byte("#!/bin/sh\n"), 0o755))
	must(os.Chown(filepath.Join(src, "suid"), 0, 0))
	must(unix.Chmod(filepath.Join(src, "suid"), 0o4755))
	must(os.WriteFile(filepath.Join(src, "ping"), []byte("ELF"), 0o755))
	must(unix.Setxattr(filepath.Join(src, "ping"), "security.capability", fileCapNetRaw(), 0))
	must(unix.Setxattr(filepath.Join(src, "conf/app.conf"), "user.origin", []byte("image"), 0))
	must(os.Link(filepath.Join(src, "conf/app.conf"), filepath.Join(src, "hardlink")))
	must(os.Symlink("conf/app.conf", filepath.Join(src, "rel-link")))
	must(os.Symlink(outside, filepath.Join(src, "abs-escape")))
	must(os.Symlink("../../../../host-secret", filepath.Join(src, "rel-escape")))
	must(unix.Mkfifo(filepath.Join(src, "fifo"), 0o620))
	must(unix.Mknod(filepath.Join(src, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(os.Chmod(filepath.Join(src, "fifo"), 0o620)) // undo the umask
	must(os.Chmod(filepath.Join(src, "null"), 0o666))
	must(os.Mkdir(filepath.Join(src, "readonly-dir"), 0o755))
	must(os.WriteFile(filepath.Join(src, "readonly-dir/f"), []byte("f"), 0o444))
	must(os.Chmod(filepath.Join(src, "readonly-dir"), 0o555))
	must(os.Chown(filepath.Join(src, "conf"), 33, 33))
	old := time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC)
	must(os.Chtimes(filepath.Join(src, "conf/deep/x"), old, old))
	must(os.Chtimes(filepath.Join(src, "conf/deep"), old, old))
	must(os.Chown(src, 999, 998))
	must(os.Chmod(src, 0o750))
	return src, outside
}

func lstat(t *testing.T, p string) *unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatalf("lstat %s: %v", p, err)
	}
	return &st
}

func TestCopyUp(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (chown, mknod, security.capability)")
	}
	src, outside := imageTree(t)
	s := newStore(t)
	v, _, err := s.Create("appdata", CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	copied, err := s.CopyUp("appdata", src)
	if err != nil || !copied {
		t.Fatalf("CopyUp = %v, %v", copied, err)
	}
	dst := v.Mountpoint

	t.Run("contents, owners and modes", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(dst, "conf/app.conf"))
		if err != nil || string(data) != "key=value\n" {
			t.Fatalf("app.conf = %q %v", data, err)
		}
		for _, c := range []struct {
			path     string
			uid, gid uint32
			mode     uint32
		}{
			{"conf/app.conf", 1000, 1001, unix.S_IFREG | 0o640},
			{"conf", 33, 33, unix.S_IFDIR | 0o755},
			{"suid", 0, 0, unix.S_IFREG | 0o4755},
			{"readonly-dir", 0, 0, unix.S_IFDIR | 0o555},
			{"readonly-dir/f", 0, 0, unix.S_IFREG | 0o444},
			{"fifo", 0, 0, unix.S_IFIFO | 0o620},
			{"null", 0, 0, unix.S_IFCHR | 0o666},
		} {
			st := lstat(t, filepath.Join(dst, c.path))
			if st.Uid != c.uid || st.Gid != c.gid || st.Mode != c.mode {
				t.Errorf("%s: uid %d gid %d mode %o, want %d %d %o", c.path, st.Uid, st.Gid, st.Mode, c.uid, c.gid, c.mode)
			}
		}
		if st := lstat(t, filepath.Join(dst, "null")); st.Rdev != unix.Mkdev(1, 3) {
			t.Errorf("null device %x", st.Rdev)
		}
	})

	t.Run("volume root takes the image dir's owner and mode", func(t *testing.T) {
		st := lstat(t, dst)
		if st.Uid != 999 || st.Gid != 998 || st.Mode&0o7777 != 0o750 {
			t.Errorf("root: uid %d gid %d mode %o", st.Uid, st.Gid, st.Mode&0o7777)
		}
	})

	t.Run("xattrs including file capabilities", func(t *testing.T) {
		buf := make([]byte, 64)
		n, err := unix.Lgetxattr(filepath.Join(dst, "ping"), "security.capability", buf)
		if err != nil || !bytes.Equal(buf[:n], fileCapNetRaw()) {
			t.Errorf("security.capability = %x %v", buf[:max(n, 0)], err)
		}
		n, err = unix.Lgetxattr(filepath.Join(dst, "conf/app.conf"), "user.origin", buf)
		if err != nil || string(buf[:n]) != "image" {
			t.Errorf("user.origin = %q %v", buf[:max(n, 0)], err)
		}
	})

	t.Run("hard links stay hard links", func(t *testing.T) {
		a, b := lstat(t, filepath.Join(dst, "conf/app.conf")), lstat(t, filepath.Join(dst, "hardlink"))
		if a.Ino != b.Ino || a.Nlink != 2 {
			t.Errorf("inodes %d %d nlink %d", a.Ino, b.Ino, a.Nlink)
		}
	})

	t.Run("symlinks copied as links, never followed", func(t *testing.T) {
		for name, target := range map[string]string{"rel-link": "conf/app.conf", "abs-escape": outside, "rel-escape": "../../../../host-secret"} {
			got, err := os.Readlink(filepath.Join(dst, name))
			if err != nil || got != target {
				t.Errorf("%s -> %q (%v), want %q", name, got, err, target)
			}
		}
		if _, err := os.Lstat(filepath.Join(dst, "secret")); !os.IsNotExist(err) {
			t.Errorf("content from outside the image appeared: %v", err)
		}
	})

	t.Run("timestamps", func(t *testing.T) {
		for _, p := range []string{"conf/deep/x", "conf/deep"} {
			st := lstat(t, filepath.Join(dst, p))
			want := time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC)
			if got := time.Unix(st.Mtim.Unix()); !got.Equal(want) {
				t.Errorf("%s mtime %v, want %v", p, got, want)
			}
		}
	})

	t.Run("not copied again once the volume has content", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(src, "new-in-image"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		copied, err := s.CopyUp("appdata", src)
		if err != nil || copied {
			t.Fatalf("second CopyUp = %v, %v", copied, err)
		}
		if _, err := os.Lstat(filepath.Join(dst, "new-in-image")); !os.IsNotExist(err) {
			t.Fatalf("second copy happened: %v", err)
		}
	})
}

func TestCopyUpNothingToCopy(t *testing.T) {
	base := t.TempDir()
	if err := os.WriteFile(filepath.Join(base, "file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(base, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "real/f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(base, "real"), filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc string
		src  string
	}{
		{"missing source", filepath.Join(base, "nope")},
		{"source is a file", filepath.Join(base, "file")},
		{"source is a symlink (caller must resolve it in the rootfs)", filepath.Join(base, "link")},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			s := newStore(t)
			v, _, err := s.Create("v1", CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			copied, err := s.CopyUp("v1", tc.src)
			if err != nil || copied {
				t.Fatalf("CopyUp = %v, %v", copied, err)
			}
			if entries, _ := os.ReadDir(v.Mountpoint); len(entries) != 0 {
				t.Fatalf("volume not empty: %v", entries)
			}
		})
	}

	t.Run("empty source", func(t *testing.T) {
		s := newStore(t)
		if _, _, err := s.Create("v1", CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		empty := t.TempDir()
		if copied, err := s.CopyUp("v1", empty); err != nil || !copied {
			t.Fatalf("CopyUp = %v, %v", copied, err)
		}
	})

	t.Run("missing volume", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.CopyUp("nosuch", base); err == nil || err.Error() != "get nosuch: no such volume" {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestSize(t *testing.T) {
	s := newStore(t)
	v, _, err := s.Create("sized", CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(v.Mountpoint, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, n := range map[string]int{"a": 100, "d/b": 23} {
		if err := os.WriteFile(filepath.Join(v.Mountpoint, name), make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(v.Mountpoint, "l")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Size("sized"); err != nil || got != 123 {
		t.Fatalf("Size = %d, %v", got, err)
	}
}

// TestCopyUpInRoot: the mount path is resolved inside the rootfs, so an
// image whose mount path (or a parent of it) is a symlink to a host
// directory copies nothing from the host.
func TestCopyUpInRoot(t *testing.T) {
	base := t.TempDir()
	hostDir := filepath.Join(base, "host")
	rootfs := filepath.Join(base, "rootfs")
	for _, d := range []string{hostDir, filepath.Join(rootfs, "real/sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		filepath.Join(hostDir, "secret"):         "host",
		filepath.Join(rootfs, "real/sub/in-img"): "image",
	}
	for p, data := range files {
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"abs-to-host":  hostDir,                        // absolute: host path, re-rooted
		"rel-to-host":  "../../../../../../" + hostDir, // climbs: clamped at the rootfs root
		"parent-link":  hostDir,                        // used as /parent-link/x
		"abs-in-image": "/real",                        // legitimately followed inside the image
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(rootfs, name)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		desc     string
		path     string
		copied   bool
		wantFile string
	}{
		{"absolute symlink to a host dir", "/abs-to-host", false, ""},
		{"relative symlink climbing out", "/rel-to-host", false, ""},
		{"parent component is a symlink", "/parent-link/x", false, ""},
		{"symlink within the image is followed", "/abs-in-image/sub", true, "in-img"},
		{"plain directory", "/real", true, "sub/in-img"},
		{"missing path", "/nope", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			s := newStore(t)
			v, _, err := s.Create("v1", CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			copied, err := s.CopyUpInRoot("v1", rootfs, tc.path)
			if err != nil || copied != tc.copied {
				t.Fatalf("CopyUpInRoot = %v, %v; want %v", copied, err, tc.copied)
			}
			if _, err := os.Stat(filepath.Join(v.Mountpoint, "secret")); !os.IsNotExist(err) {
				t.Fatalf("host file copied into the volume: %v", err)
			}
			if tc.wantFile != "" {
				if data, err := os.ReadFile(filepath.Join(v.Mountpoint, tc.wantFile)); err != nil || string(data) != "image" {
					t.Fatalf("%s = %q %v", tc.wantFile, data, err)
				}
			}
		})
	}
}
