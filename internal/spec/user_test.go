package spec

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/berth/berth/internal/errdefs"
)

const testPasswd = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
alice:x:1000:1000:Alice:/home/alice:/bin/sh
bob:x:1001:100::/home/bob:/bin/sh
`

const testGroup = `root:x:0:
daemon:x:1:
users:x:100:alice
staff:x:50:alice,bob
alice:x:1000:
wheel:x:10:root
`

// newTestRootfs makes a rootfs with /etc/passwd and /etc/group.
func newTestRootfs(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "etc/passwd"), testPasswd)
	writeFile(t, filepath.Join(root, "etc/group"), testGroup)
	return root
}

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestResolveUser(t *testing.T) {
	root := newTestRootfs(t)
	tests := []struct {
		desc     string
		user     string
		groupAdd []string
		uid, gid uint32
		addl     []uint32
		home     string
		errText  string
	}{
		{desc: "empty is root", user: "", uid: 0, gid: 0, addl: []uint32{0, 10}, home: "/root"},
		{desc: "root by name gets its member groups", user: "root", addl: []uint32{0, 10}, home: "/root"},
		{desc: "by name", user: "alice", uid: 1000, gid: 1000, addl: []uint32{1000, 100, 50}, home: "/home/alice"},
		{desc: "by uid finds passwd entry", user: "1000", uid: 1000, gid: 1000, addl: []uint32{1000, 100, 50}, home: "/home/alice"},
		{desc: "name:group overrides gid, no supplementary groups", user: "alice:staff", uid: 1000, gid: 50, addl: []uint32{50}, home: "/home/alice"},
		{desc: "uid:gid numeric", user: "1001:1001", uid: 1001, gid: 1001, addl: []uint32{1001}, home: "/home/bob"},
		{desc: "unknown numeric uid is allowed", user: "4242", uid: 4242, gid: 0, addl: []uint32{0}, home: ""},
		{desc: "unknown numeric uid:gid", user: "4242:4343", uid: 4242, gid: 4343, addl: []uint32{4343}, home: ""},
		{desc: "group-add by name and number", user: "bob", groupAdd: []string{"wheel", "777"}, uid: 1001, gid: 100, addl: []uint32{100, 50, 10, 777}, home: "/home/bob"},
		{desc: "unknown user name", user: "foo", errText: "unable to find user foo: no matching entries in passwd file"},
		{desc: "unknown group name", user: "alice:nogroup", errText: "unable to find group nogroup: no matching entries in group file"},
		{desc: "unknown --group-add", user: "alice", groupAdd: []string{"nosuch"}, errText: "unable to find group nosuch: no matching entries in group file"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			u, home, err := resolveUser(root, tc.user, tc.groupAdd)
			if tc.errText != "" {
				if err == nil || err.Error() != tc.errText || !errors.Is(err, errdefs.ErrInvalid) {
					t.Fatalf("err = %v, want %q (ErrInvalid)", err, tc.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.UID != tc.uid || u.GID != tc.gid || !slices.Equal(u.AdditionalGids, tc.addl) || home != tc.home {
				t.Fatalf("got uid=%d gid=%d addl=%v home=%q, want %d %d %v %q", u.UID, u.GID, u.AdditionalGids, home, tc.uid, tc.gid, tc.addl, tc.home)
			}
		})
	}
}

func TestResolveUserNoPasswd(t *testing.T) {
	root := t.TempDir() // scratch-like image: no /etc at all
	u, home, err := ResolveUser(root, "")
	if err != nil || u.UID != 0 || u.GID != 0 || home != "" {
		t.Fatalf("root in scratch: %+v %q %v", u, home, err)
	}
	if _, _, err := ResolveUser(root, "65534:65534"); err != nil {
		t.Fatalf("numeric user in scratch: %v", err)
	}
	_, _, err = ResolveUser(root, "nobody")
	if err == nil || err.Error() != "unable to find user nobody: no matching entries in passwd file" {
		t.Fatalf("named user in scratch: %v", err)
	}
}

// TestResolveUserSymlinkStaysInRootfs: an image whose /etc/passwd is an
// absolute symlink (or climbs with ..) must be resolved inside the rootfs,
// never against the host's files.
func TestResolveUserSymlinkStaysInRootfs(t *testing.T) {
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "passwd"), "hostonly:x:4000:4000::/host:/bin/sh\n")

	tests := []struct {
		desc   string
		target string
	}{
		{"absolute symlink to a host file", filepath.Join(outside, "passwd")},
		{"relative symlink climbing out", "../../../../../../../.." + filepath.Join(outside, "passwd")},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(tc.target, filepath.Join(root, "etc/passwd")); err != nil {
				t.Fatal(err)
			}
			if _, _, err := ResolveUser(root, "hostonly"); err == nil {
				t.Fatal("resolved a user from a file outside the rootfs")
			}
		})
	}

	t.Run("symlink inside the rootfs is followed", func(t *testing.T) {
		root := t.TempDir()
		writeFile(t, filepath.Join(root, "usr/share/passwd"), "carol:x:3000:3000::/home/carol:/bin/sh\n")
		if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/usr/share/passwd", filepath.Join(root, "etc/passwd")); err != nil {
			t.Fatal(err)
		}
		u, home, err := ResolveUser(root, "carol")
		if err != nil || u.UID != 3000 || home != "/home/carol" {
			t.Fatalf("got %+v %q %v", u, home, err)
		}
	})

	t.Run("passwd that is a directory", func(t *testing.T) {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "etc/passwd"), 0o755); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ResolveUser(root, "root"); !errors.Is(err, errdefs.ErrInvalid) {
			t.Fatalf("err = %v, want ErrInvalid", err)
		}
	})
}
