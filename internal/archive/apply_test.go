package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/errdefs"
)

type errKind int

const (
	errNone    errKind = iota
	errAny             // any error (I/O class, e.g. ELOOP)
	errInvalid         // an errdefs.ErrInvalid error
)

func isRoot() bool { return os.Geteuid() == 0 }

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (chown, mknod, trusted xattrs)")
	}
}

// TestApplyHostile feeds archives built to escape the destination. Each must
// leave everything outside root untouched and either fail with a clear
// error or land inside root.
func TestApplyHostile(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		desc    string
		tar     func(s *sandbox) []byte
		opts    ApplyOptions
		wantErr errKind
		check   func(t *testing.T, s *sandbox)
	}{
		{
			desc:    "dot-dot file name",
			tar:     func(s *sandbox) []byte { return mkTar(t, ent{name: "../outside/secret", body: "pwned"}) },
			wantErr: errInvalid,
		},
		{
			desc:    "dot-dot in the middle",
			tar:     func(s *sandbox) []byte { return mkTar(t, ent{name: "a/../../sibling", body: "pwned"}) },
			wantErr: errInvalid,
		},
		{
			desc: "absolute name is taken relative to root",
			tar:  func(s *sandbox) []byte { return mkTar(t, ent{name: s.outside + "/secret", body: "pwned"}) },
			check: func(t *testing.T, s *sandbox) {
				if b, _ := os.ReadFile(filepath.Join(s.root, s.outside, "secret")); string(b) != "pwned" {
					t.Fatalf("file not re-rooted: %q", b)
				}
			},
		},
		{
			desc: "relative symlink then file through it",
			tar: func(s *sandbox) []byte {
				return mkTar(t, ent{name: "outside/", typ: tar.TypeDir}, ent{name: "link", typ: tar.TypeSymlink, link: "../outside"}, ent{name: "link/pwned", body: "x"})
			},
			check: func(t *testing.T, s *sandbox) {
				if !exists(filepath.Join(s.root, "outside", "pwned")) {
					t.Fatal("file through symlink should land at root/outside/pwned")
				}
			},
		},
		{
			desc: "absolute symlink to the real outside then file through it",
			tar: func(s *sandbox) []byte {
				return mkTar(t, ent{name: s.outside + "/", typ: tar.TypeDir}, ent{name: "link", typ: tar.TypeSymlink, link: s.outside}, ent{name: "link/secret", body: "pwned"})
			},
			check: func(t *testing.T, s *sandbox) {
				if b, _ := os.ReadFile(filepath.Join(s.root, s.outside, "secret")); string(b) != "pwned" {
					t.Fatalf("expected in-root resolution, got %q", b)
				}
			},
		},
		{
			desc: "symlink to / then dot-dot climbing through it",
			tar: func(s *sandbox) []byte {
				return mkTar(t, ent{name: "up", typ: tar.TypeSymlink, link: "/../../../.."}, ent{name: "up/sibling", body: "pwned"})
			},
			check: func(t *testing.T, s *sandbox) {
				if !exists(filepath.Join(s.root, "sibling")) {
					t.Fatal("expected root/sibling")
				}
			},
		},
		{
			desc: "symlink then directory entry through it",
			tar: func(s *sandbox) []byte {
				return mkTar(t, ent{name: "link", typ: tar.TypeSymlink, link: s.outside},
					ent{name: "link/dir/", typ: tar.TypeDir, mode: 0o777, uid: 1234})
			},
			wantErr: errAny, // the symlink dangles inside root: no parent to create it in
		},
		{
			desc: "file through a dangling in-root symlink",
			tar: func(s *sandbox) []byte {
				return mkTar(t, ent{name: "link", typ: tar.TypeSymlink, link: "../outside"}, ent{name: "link/pwned", body: "x"})
			},
			wantErr: errAny,
		},
		{
			desc: "file replacing an escaping symlink is not written through",
			tar: func(s *sandbox) []byte {
				return mkTar(t, ent{name: "esc", typ: tar.TypeSymlink, link: s.outside + "/secret"}, ent{name: "esc", body: "pwned"})
			},
			check: func(t *testing.T, s *sandbox) {
				if st := lstat(t, filepath.Join(s.root, "esc")); st.Mode&unix.S_IFMT != unix.S_IFREG {
					t.Fatal("esc should now be a regular file")
				}
			},
		},
		{
			desc: "hardlink pointing outside",
			tar: func(s *sandbox) []byte {
				return mkTar(t, ent{name: "hl", typ: tar.TypeLink, link: "../outside/secret"})
			},
			wantErr: errInvalid,
		},
		{
			desc: "hardlink through an escaping symlink",
			tar: func(s *sandbox) []byte {
				return mkTar(t, ent{name: "l", typ: tar.TypeSymlink, link: s.outside}, ent{name: "hl", typ: tar.TypeLink, link: "l/secret"})
			},
			wantErr: errInvalid, // resolves to root/<outside>/secret, which does not exist
		},
		{
			desc: "hardlink to a symlink that escapes links the symlink, and a write to it replaces it",
			tar: func(s *sandbox) []byte {
				return mkTar(t,
					ent{name: "esc", typ: tar.TypeSymlink, link: s.outside + "/secret"},
					ent{name: "hl", typ: tar.TypeLink, link: "esc"},
					ent{name: "hl", body: "pwned"})
			},
			check: func(t *testing.T, s *sandbox) {
				if l, _ := os.Readlink(filepath.Join(s.root, "esc")); l != s.outside+"/secret" {
					t.Fatalf("esc = %q", l)
				}
			},
		},
		{
			desc: "hardlink to a directory",
			tar: func(s *sandbox) []byte {
				return mkTar(t, ent{name: "d/", typ: tar.TypeDir}, ent{name: "hl", typ: tar.TypeLink, link: "d"})
			},
			wantErr: errInvalid,
		},
		{
			desc: "device node is created inside only",
			tar: func(s *sandbox) []byte {
				return mkTar(t, ent{name: s.outside + "/", typ: tar.TypeDir}, ent{name: "l", typ: tar.TypeSymlink, link: s.outside}, ent{name: "l/null", typ: tar.TypeChar, major: 1, minor: 3, mode: 0o666})
			},
			check: func(t *testing.T, s *sandbox) {
				st := lstat(t, filepath.Join(s.root, s.outside, "null"))
				if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 {
					t.Fatalf("device: mode %o rdev %d", st.Mode, st.Rdev)
				}
			},
		},
		{
			desc:    "device node outside",
			tar:     func(s *sandbox) []byte { return mkTar(t, ent{name: "../outside/dev", typ: tar.TypeBlock, major: 8}) },
			wantErr: errInvalid,
		},
		{
			desc: "NoDevices skips device nodes",
			tar:  func(s *sandbox) []byte { return mkTar(t, ent{name: "null", typ: tar.TypeChar, major: 1, minor: 3}) },
			opts: ApplyOptions{NoDevices: true},
			check: func(t *testing.T, s *sandbox) {
				if exists(filepath.Join(s.root, "null")) {
					t.Fatal("device created despite NoDevices")
				}
			},
		},
		{
			desc:    "whiteout of dot-dot",
			tar:     func(s *sandbox) []byte { return mkTar(t, ent{name: ".wh..."}) },
			opts:    ApplyOptions{Whiteouts: WhiteoutApply},
			wantErr: errInvalid,
		},
		{
			desc:    "whiteout in a parent outside",
			tar:     func(s *sandbox) []byte { return mkTar(t, ent{name: "../outside/.wh.secret"}) },
			opts:    ApplyOptions{Whiteouts: WhiteoutApply},
			wantErr: errInvalid,
		},
		{
			desc: "whiteout through an escaping symlink deletes nothing outside",
			tar: func(s *sandbox) []byte {
				return mkTar(t, ent{name: "l", typ: tar.TypeSymlink, link: s.outside}, ent{name: "l/.wh.secret"}, ent{name: "l/.wh.dir"})
			},
			opts: ApplyOptions{Whiteouts: WhiteoutApply},
		},
		{
			desc: "opaque whiteout through an escaping symlink clears nothing outside",
			tar: func(s *sandbox) []byte {
				return mkTar(t, ent{name: "l", typ: tar.TypeSymlink, link: s.outside}, ent{name: "l/.wh..wh..opq"})
			},
			opts: ApplyOptions{Whiteouts: WhiteoutApply},
		},
		{
			desc: "overlay whiteout through an escaping symlink stays inside",
			tar: func(s *sandbox) []byte {
				return mkTar(t, ent{name: "outside/", typ: tar.TypeDir}, ent{name: "l", typ: tar.TypeSymlink, link: "../outside"}, ent{name: "l/.wh.secret"}, ent{name: "l/.wh..wh..opq"})
			},
			opts: ApplyOptions{Whiteouts: WhiteoutOverlay},
			check: func(t *testing.T, s *sandbox) {
				if st := lstat(t, filepath.Join(s.root, "outside", "secret")); st.Mode&unix.S_IFMT != unix.S_IFCHR {
					t.Fatal("whiteout device not made inside")
				}
			},
		},
		{
			desc: "symlink loop as a parent",
			tar: func(s *sandbox) []byte {
				return mkTar(t, ent{name: "a", typ: tar.TypeSymlink, link: "a"}, ent{name: "a/b", body: "x"})
			},
			wantErr: errAny, // ELOOP
		},
		{
			desc: "truncated content",
			tar: func(s *sandbox) []byte {
				b := mkTar(t, ent{name: "big", body: strings.Repeat("x", 4096)})
				return b[:512+1000]
			},
			wantErr: errInvalid,
		},
		{
			desc: "truncated header",
			tar: func(s *sandbox) []byte {
				return mkTar(t, ent{name: "a", body: "x"})[:1024+100]
			},
			wantErr: errInvalid,
		},
		{
			desc: "huge PAX header",
			tar: func(s *sandbox) []byte {
				// A PAX extended header of 2 MiB, then a file: the reader must
				// refuse the header rather than buffer it.
				b := mkTar(t, ent{name: "PaxHeaders/x", body: "a=" + strings.Repeat("y", 2<<20) + "\n"}, ent{name: "x", body: "x"})
				b[156] = tar.TypeXHeader
				copy(b[148:156], "        ")
				sum := 0
				for _, c := range b[:512] {
					sum += int(c)
				}
				copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
				return b
			},
			wantErr: errInvalid,
		},
		{
			desc:    "garbage",
			tar:     func(s *sandbox) []byte { return bytes.Repeat([]byte("not a tar "), 100) },
			wantErr: errInvalid,
		},
		{
			desc: "overlay xattrs from the tar are dropped",
			tar: func(s *sandbox) []byte {
				return mkTar(t, ent{name: "d/", typ: tar.TypeDir, xattrs: map[string]string{"trusted.overlay.redirect": "/etc", "user.ok": "1"}})
			},
			check: func(t *testing.T, s *sandbox) {
				if _, err := unix.Lgetxattr(filepath.Join(s.root, "d"), "trusted.overlay.redirect", nil); !errors.Is(err, unix.ENODATA) {
					t.Fatalf("overlay xattr kept: %v", err)
				}
				if _, err := unix.Lgetxattr(filepath.Join(s.root, "d"), "user.ok", nil); err != nil {
					t.Fatalf("user xattr lost: %v", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			s := newSandbox(t)
			_, err := Apply(context.Background(), s.root, bytes.NewReader(tt.tar(s)), tt.opts)
			switch {
			case tt.wantErr == errNone && err != nil:
				t.Fatalf("Apply: %v", err)
			case tt.wantErr != errNone && err == nil:
				t.Fatal("expected an error")
			case tt.wantErr == errInvalid && !errors.Is(err, errdefs.ErrInvalid):
				t.Errorf("error %v is not ErrInvalid", err)
			case err != nil:
				t.Logf("error (expected): %v", err)
			}
			s.assertOutsideUntouched(t)
			if tt.check != nil && err == nil {
				tt.check(t, s)
			}
		})
	}
}

func TestApplyPreservesMetadata(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	xa := map[string]string{"user.comment": "hi", "trusted.t": "v", "security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"}
	data := mkTar(t,
		ent{name: "./", typ: tar.TypeDir, mode: 0o700},
		ent{name: "bin/", typ: tar.TypeDir, mode: 0o755, uid: 10, gid: 20},
		ent{name: "bin/su", body: "#!", mode: 0o4755, uid: 0, gid: 0, xattrs: xa},
		ent{name: "bin/sg", body: "", mode: 0o2711, uid: 5, gid: 6},
		ent{name: "bin/ln", typ: tar.TypeLink, link: "bin/su"},
		ent{name: "bin/sym", typ: tar.TypeSymlink, link: "su", uid: 7, gid: 8},
		ent{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		ent{name: "tmp/fifo", typ: tar.TypeFifo, mode: 0o640, uid: 3},
		ent{name: "dev/null", typ: tar.TypeChar, major: 1, minor: 3, mode: 0o666},
		ent{name: "implicit/parent/file", body: "deep"},
	)
	size, err := Apply(context.Background(), root, bytes.NewReader(data), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if size != 6 {
		t.Errorf("size = %d, want 6", size)
	}
	tests := []struct {
		desc     string
		path     string
		typ      uint32
		perm     uint32
		uid, gid uint32
	}{
		{"dir owner", "bin", unix.S_IFDIR, 0o755, 10, 20},
		{"setuid survives chown", "bin/su", unix.S_IFREG, 0o4755, 0, 0},
		{"setgid", "bin/sg", unix.S_IFREG, 0o2711, 5, 6},
		{"symlink owner", "bin/sym", unix.S_IFLNK, 0o777, 7, 8},
		{"sticky", "tmp", unix.S_IFDIR, 0o1777, 0, 0},
		{"fifo", "tmp/fifo", unix.S_IFIFO, 0o640, 3, 0},
		{"device", "dev/null", unix.S_IFCHR, 0o666, 0, 0},
		{"implicit parent", "implicit/parent", unix.S_IFDIR, 0o755, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			st := lstat(t, filepath.Join(root, tt.path))
			if st.Mode&unix.S_IFMT != tt.typ || st.Mode&0o7777 != tt.perm || st.Uid != tt.uid || st.Gid != tt.gid {
				t.Fatalf("mode %o uid %d gid %d", st.Mode, st.Uid, st.Gid)
			}
		})
	}
	if st := lstat(t, filepath.Join(root, "bin")); st.Mtim.Sec != epoch.Unix() {
		t.Errorf("dir mtime %d, want %d (fixed after content)", st.Mtim.Sec, epoch.Unix())
	}
	if st := lstat(t, filepath.Join(root, "bin/sym")); st.Mtim.Sec != epoch.Unix() {
		t.Errorf("symlink mtime %d", st.Mtim.Sec)
	}
	if a, b := lstat(t, filepath.Join(root, "bin/su")), lstat(t, filepath.Join(root, "bin/ln")); a.Ino != b.Ino || a.Nlink != 2 {
		t.Error("hard link not preserved")
	}
	for k, v := range xa {
		buf := make([]byte, 64)
		n, err := unix.Lgetxattr(filepath.Join(root, "bin/su"), k, buf)
		if err != nil || string(buf[:n]) != v {
			t.Errorf("xattr %s = %q, %v", k, buf[:max(n, 0)], err)
		}
	}
	if st := lstat(t, root); st.Mode&0o777 == 0o700 {
		t.Error("root's own mode was changed by the ./ entry")
	}
}

func TestApplyReplacesExisting(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		desc  string
		setup func(root string)
		tar   []byte
		check func(t *testing.T, root string)
	}{
		{
			desc:  "file over directory",
			setup: func(root string) { os.MkdirAll(filepath.Join(root, "x/y"), 0o755) },
			tar:   mkTar(t, ent{name: "x", body: "file"}),
			check: func(t *testing.T, root string) {
				if b, _ := os.ReadFile(filepath.Join(root, "x")); string(b) != "file" {
					t.Fatal("not replaced")
				}
			},
		},
		{
			desc: "directory merges into directory",
			setup: func(root string) {
				os.MkdirAll(filepath.Join(root, "d"), 0o700)
				os.WriteFile(filepath.Join(root, "d/keep"), nil, 0o644)
			},
			tar: mkTar(t, ent{name: "d/", typ: tar.TypeDir, mode: 0o751}, ent{name: "d/new", body: "n"}),
			check: func(t *testing.T, root string) {
				if !exists(filepath.Join(root, "d/keep")) || !exists(filepath.Join(root, "d/new")) {
					t.Fatal("merge lost content")
				}
				if st := lstat(t, filepath.Join(root, "d")); st.Mode&0o777 != 0o751 {
					t.Fatalf("mode %o", st.Mode)
				}
			},
		},
		{
			desc:  "directory over file",
			setup: func(root string) { os.WriteFile(filepath.Join(root, "d"), nil, 0o644) },
			tar:   mkTar(t, ent{name: "d/", typ: tar.TypeDir}),
			check: func(t *testing.T, root string) {
				if st := lstat(t, filepath.Join(root, "d")); st.Mode&unix.S_IFMT != unix.S_IFDIR {
					t.Fatal("not a dir")
				}
			},
		},
		{
			desc:  "hard link onto itself is a no-op",
			setup: func(root string) { os.WriteFile(filepath.Join(root, "f"), []byte("f"), 0o644) },
			tar:   mkTar(t, ent{name: "f", typ: tar.TypeLink, link: "f"}),
			check: func(t *testing.T, root string) {
				if b, _ := os.ReadFile(filepath.Join(root, "f")); string(b) != "f" {
					t.Fatal("content lost")
				}
			},
		},
		{
			desc: "absolute symlink in the tree resolves in root (cp into /var/run)",
			setup: func(root string) {
				os.MkdirAll(filepath.Join(root, "run"), 0o755)
				os.MkdirAll(filepath.Join(root, "var"), 0o755)
				os.Symlink("/run", filepath.Join(root, "var/run"))
			},
			tar: mkTar(t, ent{name: "var/run/x.pid", body: "1"}),
			check: func(t *testing.T, root string) {
				if !exists(filepath.Join(root, "run/x.pid")) {
					t.Fatal("not written through in-root symlink")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			root := t.TempDir()
			tt.setup(root)
			if _, err := Apply(context.Background(), root, bytes.NewReader(tt.tar), ApplyOptions{}); err != nil {
				t.Fatal(err)
			}
			tt.check(t, root)
		})
	}
}

func TestApplyChown(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	data := mkTar(t, ent{name: "d/", typ: tar.TypeDir, uid: 5}, ent{name: "d/f", uid: 6, body: "x"})
	if _, err := Apply(context.Background(), root, bytes.NewReader(data), ApplyOptions{Chown: &Owner{UID: 1000, GID: 1001}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"d", "d/f"} {
		if st := lstat(t, filepath.Join(root, p)); st.Uid != 1000 || st.Gid != 1001 {
			t.Errorf("%s owned by %d:%d", p, st.Uid, st.Gid)
		}
	}
}

func TestApplyWhiteouts(t *testing.T) {
	requireRoot(t)
	lower := func(root string) {
		os.MkdirAll(filepath.Join(root, "etc/sub"), 0o755)
		os.WriteFile(filepath.Join(root, "etc/passwd"), nil, 0o644)
		os.WriteFile(filepath.Join(root, "etc/sub/old"), nil, 0o644)
		os.MkdirAll(filepath.Join(root, "opq/keepdir/inner"), 0o755)
		os.WriteFile(filepath.Join(root, "opq/old"), nil, 0o644)
		os.WriteFile(filepath.Join(root, "opq/keepdir/old"), nil, 0o644)
		os.WriteFile(filepath.Join(root, "gone"), nil, 0o644)
	}
	tests := []struct {
		desc  string
		opts  ApplyOptions
		tar   []byte
		check func(t *testing.T, root string)
	}{
		{
			desc: "apply: delete file and directory",
			opts: ApplyOptions{Whiteouts: WhiteoutApply},
			tar:  mkTar(t, ent{name: ".wh.gone"}, ent{name: "etc/.wh.sub"}, ent{name: "etc/.wh.missing"}, ent{name: "nodir/.wh.x"}),
			check: func(t *testing.T, root string) {
				for _, p := range []string{"gone", "etc/sub"} {
					if exists(filepath.Join(root, p)) {
						t.Errorf("%s not deleted", p)
					}
				}
				if !exists(filepath.Join(root, "etc/passwd")) || exists(filepath.Join(root, "nodir")) {
					t.Error("collateral change")
				}
			},
		},
		{
			desc: "apply: opaque first keeps the layer's own entries",
			opts: ApplyOptions{Whiteouts: WhiteoutApply},
			tar:  mkTar(t, ent{name: "opq/", typ: tar.TypeDir}, ent{name: "opq/.wh..wh..opq"}, ent{name: "opq/new", body: "n"}, ent{name: "opq/keepdir/new", body: "n"}),
			check: func(t *testing.T, root string) {
				want := map[string]bool{"opq/new": true, "opq/keepdir/new": true, "opq/old": false, "opq/keepdir/old": false, "opq/keepdir/inner": false}
				for p, w := range want {
					if exists(filepath.Join(root, p)) != w {
						t.Errorf("%s exists=%v, want %v", p, !w, w)
					}
				}
			},
		},
		{
			desc: "apply: opaque last keeps the layer's own entries",
			opts: ApplyOptions{Whiteouts: WhiteoutApply},
			tar:  mkTar(t, ent{name: "opq/new", body: "n"}, ent{name: "opq/keepdir/new", body: "n"}, ent{name: "opq/.wh..wh..opq"}),
			check: func(t *testing.T, root string) {
				want := map[string]bool{"opq/new": true, "opq/keepdir/new": true, "opq/old": false, "opq/keepdir/old": false, "opq/keepdir/inner": false}
				for p, w := range want {
					if exists(filepath.Join(root, p)) != w {
						t.Errorf("%s exists=%v, want %v", p, !w, w)
					}
				}
			},
		},
		{
			desc: "overlay: whiteout device and opaque xattr",
			opts: ApplyOptions{Whiteouts: WhiteoutOverlay},
			tar:  mkTar(t, ent{name: ".wh.gone", uid: 3}, ent{name: "opq/", typ: tar.TypeDir}, ent{name: "opq/.wh..wh..opq"}, ent{name: "new/.wh..wh..opq"}),
			check: func(t *testing.T, root string) {
				st := lstat(t, filepath.Join(root, "gone"))
				if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 || st.Uid != 3 {
					t.Errorf("gone: mode %o rdev %d uid %d", st.Mode, st.Rdev, st.Uid)
				}
				for _, d := range []string{"opq", "new"} {
					buf := make([]byte, 4)
					n, err := unix.Lgetxattr(filepath.Join(root, d), overlayOpaque, buf)
					if err != nil || string(buf[:n]) != "y" {
						t.Errorf("%s opaque xattr: %q %v", d, buf[:max(n, 0)], err)
					}
				}
				if !exists(filepath.Join(root, "opq/old")) {
					t.Error("overlay mode must not delete lower content")
				}
			},
		},
		{
			desc: "literal: whiteouts are plain files",
			tar:  mkTar(t, ent{name: ".wh.gone"}, ent{name: "opq/.wh..wh..opq"}),
			check: func(t *testing.T, root string) {
				if !exists(filepath.Join(root, ".wh.gone")) || !exists(filepath.Join(root, "gone")) || !exists(filepath.Join(root, "opq/.wh..wh..opq")) {
					t.Error("literal mode changed the tree")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			root := t.TempDir()
			lower(root)
			if _, err := Apply(context.Background(), root, bytes.NewReader(tt.tar), tt.opts); err != nil {
				t.Fatal(err)
			}
			tt.check(t, root)
		})
	}
}

func TestApplyCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Apply(ctx, t.TempDir(), bytes.NewReader(mkTar(t, ent{name: "a", body: "x"})), ApplyOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}
