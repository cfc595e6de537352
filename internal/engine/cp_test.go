package engine

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/errdefs"
)

func TestSplitCpArg(t *testing.T) {
	tests := []struct {
		desc, arg, container, path string
	}{
		{"container path", "web:/etc/hosts", "web", "/etc/hosts"},
		{"relative container path", "web:etc", "web", "etc"},
		{"absolute local path with a colon", "/tmp/a:b", "", "/tmp/a:b"},
		{"explicit relative local path with a colon", "./a:b", "", "./a:b"},
		{"local path without a colon", "file", "", "file"},
		{"stdin/stdout", "-", "", "-"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			c, p := splitCpArg(tt.arg)
			if c != tt.container || p != tt.path {
				t.Fatalf("splitCpArg(%q) = %q, %q", tt.arg, c, p)
			}
		})
	}
}

func TestCopyPathRules(t *testing.T) {
	preserve := []struct{ cleaned, original, want string }{
		{"/a/b", "a/b/", "/a/b/"},
		{"/a/b", "a/b/.", "/a/b/."},
		{"/", "/", "/"},
		{"/", ".", "/."},
		{"/a", "a", "/a"},
	}
	for _, tt := range preserve {
		if got := preserveTrailingDotOrSeparator(tt.cleaned, tt.original); got != tt.want {
			t.Errorf("preserve(%q, %q) = %q, want %q", tt.cleaned, tt.original, got, tt.want)
		}
	}
	rebase := []struct{ path, resolved, wantPath, wantName string }{
		{"/a/link", "/etc", "/etc", "link"},
		{"/a/link/", "/etc", "/etc/", "link"},
		{"/a/link/.", "/etc", "/etc/.", ""},
		{"/a/same", "/b/same", "/b/same", ""},
	}
	for _, tt := range rebase {
		p, n := getRebaseName(tt.path, tt.resolved)
		if p != tt.wantPath || n != tt.wantName {
			t.Errorf("getRebaseName(%q, %q) = %q, %q", tt.path, tt.resolved, p, n)
		}
	}
}

func TestPrepareArchiveCopy(t *testing.T) {
	tests := []struct {
		desc      string
		src, dst  copyInfo
		wantDir   string
		wantNames []string
		wantErr   error
	}{
		{"into an existing directory", copyInfo{Path: "/s/d", IsDir: true}, copyInfo{Path: "/x", Exists: true, IsDir: true}, "/x", []string{"d/", "d/f"}, nil},
		{"directory to a new name", copyInfo{Path: "/s/d", IsDir: true}, copyInfo{Path: "/x/new"}, "/x", []string{"new/", "new/f"}, nil},
		{"file over a file", copyInfo{Path: "/s/d"}, copyInfo{Path: "/x/old", Exists: true}, "/x", []string{"old/", "old/f"}, nil},
		{"directory over a file", copyInfo{Path: "/s/d", IsDir: true}, copyInfo{Path: "/x/old", Exists: true}, "", nil, errCannotCopyDir},
		{"file to a missing directory", copyInfo{Path: "/s/d"}, copyInfo{Path: "/x/new/"}, "", nil, errDirNotExists},
		{"rebased source", copyInfo{Path: "/s/d", IsDir: true, RebaseName: "d"}, copyInfo{Path: "/x/n"}, "/x", []string{"n/", "n/f"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			tw.WriteHeader(&tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755})
			tw.WriteHeader(&tar.Header{Name: "d/f", Typeflag: tar.TypeReg, Mode: 0o644})
			tw.Close()
			dir, rc, err := prepareArchiveCopy(&buf, tt.src, tt.dst)
			if err != tt.wantErr {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			defer rc.Close()
			if dir != tt.wantDir {
				t.Fatalf("dir %q, want %q", dir, tt.wantDir)
			}
			if got := names(t, rc); !slices.Equal(got, tt.wantNames) {
				t.Fatalf("names %q, want %q", got, tt.wantNames)
			}
		})
	}
}

func names(t *testing.T, r io.Reader) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, hdr.Name)
	}
}

// hostileTree makes a root with symlinks that point out of it, absolutely
// and with "..", and a file of the same name outside.
func hostileTree(t *testing.T) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{root + "/etc", root + "/d", outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(root+"/etc/secret", []byte("inside\n"), 0o644)
	os.WriteFile(outside+"/secret", []byte("OUTSIDE\n"), 0o644)
	os.Symlink(outside, root+"/d/abs")            // absolute, out of the root on the host
	os.Symlink("../../outside", root+"/d/rel")    // climbs above the root
	os.Symlink("/etc", root+"/d/etc")             // the root's /etc
	os.Symlink("../../../../..", root+"/d/top")   // the root itself, however high
	os.Symlink(outside+"/secret", root+"/d/file") // a file outside
	return root, outside
}

func openView(t *testing.T, dir string) fsView {
	t.Helper()
	f, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return fsView{root: f}
}

func TestFSViewStaysInRoot(t *testing.T) {
	root, outside := hostileTree(t)
	v := openView(t, root)
	tests := []struct {
		desc       string
		path       string
		wantErr    bool
		wantTarget string // LinkTarget of a symlink
		wantBody   string // content of "secret" in the archive, if any
	}{
		{"absolute symlink is the root's path", "/d/abs", false, outside, ""},
		{"symlink to /etc", "/d/etc", false, "/etc", ""},
		{"through an absolute symlink", "/d/abs/secret", true, "", ""},
		{"through a symlink climbing out", "/d/rel/secret", true, "", ""},
		{"through a symlink to /etc", "/d/etc/secret", false, "", "inside\n"},
		{"through .. above the root", "/d/top/etc/secret", false, "", "inside\n"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			st, err := v.stat(containerAbs(tt.path))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("stat %s: %+v, want an error (it is outside)", tt.path, st)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantTarget != "" && st.LinkTarget != tt.wantTarget {
				t.Fatalf("LinkTarget %q, want %q", st.LinkTarget, tt.wantTarget)
			}
			var buf bytes.Buffer
			if err := v.archive(context.Background(), &buf, containerAbs(tt.path), st); err != nil {
				t.Fatal(err)
			}
			tr := tar.NewReader(&buf)
			for {
				hdr, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(tr)
				if strings.Contains(string(body), "OUTSIDE") {
					t.Fatalf("%s: read outside the root", hdr.Name)
				}
				if tt.wantBody != "" && hdr.Name == "secret" && string(body) != tt.wantBody {
					t.Fatalf("secret %q", body)
				}
			}
		})
	}
}

// TestPrivateMountNS: the view's mounts exist only for it: the host's mount
// table never shows them, and they are gone when it stops.
func TestPrivateMountNS(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root")
	}
	root := t.TempDir()
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "v"), []byte("volume\n"), 0o644)
	os.Symlink("/", filepath.Join(root, "up")) // the destination's parent is a symlink to /

	var view *os.File
	stop, err := inPrivateMountNS(func() error {
		fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		view = os.NewFile(uintptr(fd), "root")
		if err := bindInto(view, bindMount{source: src, dest: "/up/data", rw: false}); err != nil {
			return err
		}
		return bindInto(view, bindMount{source: filepath.Join(src, "v"), dest: "/up/etc/hosts", rw: true})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer view.Close()
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), root) {
		t.Fatalf("the view's mounts show in the host's mount table")
	}
	if _, err := os.Stat("/data"); err == nil {
		t.Fatal("the mount point was made outside the root")
	}
	v := fsView{root: view}
	for _, p := range []string{"/data/v", "/etc/hosts"} {
		f, err := v.lookup(p)
		if err != nil {
			t.Fatalf("%s through the view: %v", p, err)
		}
		data, _ := os.ReadFile(fdPath(f))
		f.Close()
		if string(data) != "volume\n" {
			t.Fatalf("%s: %q", p, data)
		}
	}
	// Read-only bind: writing through the view fails.
	d, _ := v.lookup("/data")
	err = unix.Mkdirat(int(d.Fd()), "x", 0o755)
	d.Close()
	if err != unix.EROFS {
		t.Fatalf("mkdir in a read-only bind: %v, want EROFS", err)
	}
	stop()
	view.Close()
	if entries, _ := os.ReadDir(filepath.Join(root, "data")); len(entries) != 0 {
		t.Fatalf("mount still there after stop: %v", entries)
	}
}

func TestNoSuchPathError(t *testing.T) {
	err := error(&NoSuchPathError{"web", "/x"})
	if err.Error() != "No such container:path: web:/x" || !errdefs.IsNotFound(err) {
		t.Fatalf("%v", err)
	}
}
