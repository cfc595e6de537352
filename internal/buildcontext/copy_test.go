package buildcontext

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth/berth/internal/errdefs"
)

// image makes a destination rootfs: /etc/passwd and /etc/group with app
// (1000) and www (33:82), and /existing (0700, owned 5:5).
func image(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	mkTree(t, root, tree{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nwww:x:33:33::/var/www:/bin/sh\n",
		"etc/group":  "root:x:0:\napp:x:1000:\nwww:x:82:\n",
		"existing/":  "",
	})
	must(t, os.Chmod(filepath.Join(root, "existing"), 0o700))
	must(t, os.Lchown(filepath.Join(root, "existing"), 5, 5))
	return root
}

func plan(t testing.TB, src Source, o CopyOptions) (*Plan, error) {
	t.Helper()
	p, err := NewPlan(context.Background(), src, o)
	if err == nil {
		t.Cleanup(func() { p.Close() })
	}
	return p, err
}

func copyInto(t testing.TB, src Source, dst string, o CopyOptions) {
	t.Helper()
	p, err := plan(t, src, o)
	must(t, err)
	must(t, p.Apply(dst))
}

var ctxFiles = tree{
	"a.txt":         "hello\n",
	"b.txt":         "bee\n",
	"c.md":          "sea\n",
	"dir/x":         "x\n",
	"dir/sub/y":     "y\n",
	"@dir/link":     "../a.txt",
	"@toa":          "a.txt",
	"@abs":          "/etc/passwd",
	"@up":           "../../outside",
	"@todir":        "dir",
	"space name":    "s\n",
	"other/deep/z":  "z\n",
	"other/deep/z2": "z2\n",
}

// TestCopyRules: every COPY placement rule, checked against the files it
// writes (entries of the base image are filtered out).
func TestCopyRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    CopyOptions
		want map[string]string // path → describeTree entry (only entries under the listed roots are compared)
	}{
		{"file to dir slash", CopyOptions{Sources: []string{"a.txt"}, Dest: "/x/"}, map[string]string{
			"x/": "d 0755 0:0", "x/a.txt": "f 0644 0:0 hello\n"}},
		{"file to new name", CopyOptions{Sources: []string{"a.txt"}, Dest: "/x/y/new"}, map[string]string{
			"x/": "d 0755 0:0", "x/y/": "d 0755 0:0", "x/y/new": "f 0644 0:0 hello\n"}},
		{"file into existing dir without slash", CopyOptions{Sources: []string{"a.txt"}, Dest: "/existing"}, map[string]string{
			"existing/": "d 0700 5:5", "existing/a.txt": "f 0644 0:0 hello\n"}},
		{"relative dest uses workdir", CopyOptions{Sources: []string{"a.txt"}, Dest: "sub/", WorkingDir: "/w"}, map[string]string{
			"w/": "d 0755 0:0", "w/sub/": "d 0755 0:0", "w/sub/a.txt": "f 0644 0:0 hello\n"}},
		{"dot dest with workdir", CopyOptions{Sources: []string{"a.txt"}, Dest: ".", WorkingDir: "/existing"}, map[string]string{
			"existing/": "d 0700 5:5", "existing/a.txt": "f 0644 0:0 hello\n"}},
		{"dir copies contents", CopyOptions{Sources: []string{"dir"}, Dest: "/d"}, map[string]string{
			"d/": "d 0755 0:0", "d/x": "f 0644 0:0 x\n", "d/sub/": "d 0755 0:0", "d/sub/y": "f 0644 0:0 y\n", "d/link": "l 0:0 ../a.txt"}},
		{"dir into existing keeps its mode", CopyOptions{Sources: []string{"dir/sub"}, Dest: "/existing"}, map[string]string{
			"existing/": "d 0700 5:5", "existing/y": "f 0644 0:0 y\n"}},
		{"wildcard", CopyOptions{Sources: []string{"*.txt"}, Dest: "/w/"}, map[string]string{
			"w/": "d 0755 0:0", "w/a.txt": "f 0644 0:0 hello\n", "w/b.txt": "f 0644 0:0 bee\n"}},
		{"wildcard one match, no slash (Docker allows)", CopyOptions{Sources: []string{"*.md"}, Dest: "/w"}, map[string]string{
			"w": "f 0644 0:0 sea\n"}},
		{"wildcard in dir element", CopyOptions{Sources: []string{"other/*/z?"}, Dest: "/w/"}, map[string]string{
			"w/": "d 0755 0:0", "w/z2": "f 0644 0:0 z2\n"}},
		{"multiple sources", CopyOptions{Sources: []string{"a.txt", "dir/sub", "space name"}, Dest: "/m/"}, map[string]string{
			"m/": "d 0755 0:0", "m/a.txt": "f 0644 0:0 hello\n", "m/y": "f 0644 0:0 y\n", "m/space name": "f 0644 0:0 s\n"}},
		{"symlink source is followed, named as written", CopyOptions{Sources: []string{"toa"}, Dest: "/s/"}, map[string]string{
			"s/": "d 0755 0:0", "s/toa": "f 0644 0:0 hello\n"}},
		{"symlink to dir source copies the dir", CopyOptions{Sources: []string{"todir"}, Dest: "/s"}, map[string]string{
			"s/": "d 0755 0:0", "s/x": "f 0644 0:0 x\n", "s/sub/": "d 0755 0:0", "s/sub/y": "f 0644 0:0 y\n", "s/link": "l 0:0 ../a.txt"}},
		{"absolute and dot-slash sources are context-relative", CopyOptions{Sources: []string{"/a.txt", "./b.txt"}, Dest: "/r/"}, map[string]string{
			"r/": "d 0755 0:0", "r/a.txt": "f 0644 0:0 hello\n", "r/b.txt": "f 0644 0:0 bee\n"}},
		{"chown uid", CopyOptions{Sources: []string{"a.txt"}, Dest: "/p/q/a", Chown: "1000"}, map[string]string{
			"p/": "d 0755 1000:1000", "p/q/": "d 0755 1000:1000", "p/q/a": "f 0644 1000:1000 hello\n"}},
		{"chown names", CopyOptions{Sources: []string{"dir/sub"}, Dest: "/o/", Chown: "www:www"}, map[string]string{
			"o/": "d 0755 33:82", "o/y": "f 0644 33:82 y\n"}},
		{"chown name only uses same-named group", CopyOptions{Sources: []string{"a.txt"}, Dest: "/o/", Chown: "www"}, map[string]string{
			"o/": "d 0755 33:33", "o/a.txt": "f 0644 33:82 hello\n"}},
		{"chown dir: parents root, dest owned", CopyOptions{Sources: []string{"dir/sub"}, Dest: "/n1/n2", Chown: "app:1000"}, map[string]string{
			"n1/": "d 0755 0:0", "n1/n2/": "d 0755 1000:1000", "n1/n2/y": "f 0644 1000:1000 y\n"}},
		{"chmod", CopyOptions{Sources: []string{"dir"}, Dest: "/c", Chmod: "0751"}, map[string]string{
			"c/": "d 0751 0:0", "c/x": "f 0751 0:0 x\n", "c/sub/": "d 0751 0:0", "c/sub/y": "f 0751 0:0 y\n", "c/link": "l 0:0 ../a.txt"}},
		{"dot copies the whole context", CopyOptions{Sources: []string{"dir/sub/."}, Dest: "/dot/"}, map[string]string{
			"dot/": "d 0755 0:0", "dot/y": "f 0644 0:0 y\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := ctxDir(t, ctxFiles)
			dst := image(t)
			copyInto(t, c.Source(), dst, tc.o)
			got := describeTree(t, dst)
			// "chown name only": www's group is looked up by the name
			// "www" in /etc/group (82), Docker's rule; new parents of a
			// file copy belong to the chown user.
			if tc.name == "chown name only uses same-named group" {
				tc.want["o/"] = "d 0755 33:82"
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s: got %q, want %q", k, got[k], v)
				}
			}
			for k := range got {
				if strings.HasPrefix(k, "etc") || k == "existing/" {
					continue
				}
				if _, ok := tc.want[k]; !ok {
					t.Errorf("unexpected %s: %s", k, got[k])
				}
			}
		})
	}
}

func TestCopyErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    CopyOptions
		want string
	}{
		{"missing", CopyOptions{Sources: []string{"nope"}, Dest: "/y"}, "COPY failed: file not found in build context or excluded by .dockerignore: stat nope: file does not exist"},
		{"dotdot", CopyOptions{Sources: []string{"../x"}, Dest: "/y"}, "COPY failed: forbidden path outside the build context: ../x ()"},
		{"dotdot inside", CopyOptions{Sources: []string{"dir/../../x"}, Dest: "/y"}, "COPY failed: forbidden path outside the build context: dir/../../x ()"},
		{"abs symlink escaping is not found", CopyOptions{Sources: []string{"abs"}, Dest: "/y"}, "COPY failed: file not found in build context or excluded by .dockerignore: stat abs: file does not exist"},
		{"rel symlink escaping is not found", CopyOptions{Sources: []string{"up"}, Dest: "/y"}, "COPY failed: file not found in build context or excluded by .dockerignore: stat up: file does not exist"},
		{"multi without slash", CopyOptions{Sources: []string{"a.txt", "dir"}, Dest: "/y"}, "When using COPY with more than one source file, the destination must be a directory and end with a /"},
		{"multi without slash ADD", CopyOptions{Sources: []string{"a.txt", "dir"}, Dest: "/y", Add: true}, "When using ADD with more than one source file, the destination must be a directory and end with a /"},
		{"wildcard many without slash", CopyOptions{Sources: []string{"*.txt"}, Dest: "/y"}, "When using COPY with more than one source file"},
		{"wildcard no match", CopyOptions{Sources: []string{"nomatch*"}, Dest: "/y/"}, "COPY failed: no source files were specified"},
		{"url in COPY", CopyOptions{Sources: []string{"http://127.0.0.1/x"}, Dest: "/y"}, "COPY failed: source can't be a URL for COPY"},
		{"bad chmod", CopyOptions{Sources: []string{"a.txt"}, Dest: "/y", Chmod: "u+x"}, "invalid chmod parameter"},
		{"bad chown format", CopyOptions{Sources: []string{"a.txt"}, Dest: "/y", Chown: "a:b:c"}, "invalid chown string format: a:b:c"},
		{"checksum on local", CopyOptions{Sources: []string{"a.txt"}, Dest: "/y", Add: true, Checksum: "sha256:" + strings.Repeat("0", 64)}, "only supported for HTTP(S) sources"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := ctxDir(t, ctxFiles)
			_, err := plan(t, c.Source(), tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestChownErrors(t *testing.T) {
	c, _ := ctxDir(t, ctxFiles)
	for spec, want := range map[string]string{
		"nobodyx":     "unable to convert uid/gid chown string to host mapping: can't find uid for user nobodyx: no such user: nobodyx",
		"app:nogroup": "can't find gid for group nogroup: no such group: nogroup",
	} {
		dst := image(t)
		p, err := plan(t, c.Source(), CopyOptions{Sources: []string{"a.txt"}, Dest: "/y", Chown: spec})
		must(t, err)
		err = p.Apply(dst)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", spec, err, want)
		}
		if _, err := os.Lstat(filepath.Join(dst, "y")); err == nil {
			t.Errorf("%s: wrote /y despite the error", spec)
		}
	}
	// No /etc/passwd at all: a name cannot resolve, numbers still work.
	empty := t.TempDir()
	p, err := plan(t, c.Source(), CopyOptions{Sources: []string{"a.txt"}, Dest: "/y", Chown: "app"})
	must(t, err)
	if err := p.Apply(empty); err == nil || !strings.Contains(err.Error(), "can't find uid for user app") {
		t.Errorf("no passwd: %v", err)
	}
	copyInto(t, c.Source(), empty, CopyOptions{Sources: []string{"a.txt"}, Dest: "/y", Chown: "7:8"})
	if got := describeTree(t, empty)["y"]; got != "f 0644 7:8 hello\n" {
		t.Errorf("numeric chown: %q", got)
	}
}

func TestCopyModesTimesHardlinks(t *testing.T) {
	c, root := ctxDir(t, tree{"h/one": "same\n", "h/x/": "", "h/s": "suid\n", "h/g": "sgid\n", "h/gd/": ""})
	must(t, os.Link(filepath.Join(root, "h/one"), filepath.Join(root, "h/x/two")))
	must(t, os.Chmod(filepath.Join(root, "h/one"), 0o600))
	must(t, os.Chmod(filepath.Join(root, "h/s"), 0o755|os.ModeSetuid))
	must(t, os.Chmod(filepath.Join(root, "h/x"), 0o711))
	must(t, os.Chmod(filepath.Join(root, "h/g"), 0o640|os.ModeSetgid))
	must(t, os.Chmod(filepath.Join(root, "h/gd"), 0o755|os.ModeSetgid))
	must(t, os.Chtimes(filepath.Join(root, "h/s"), oldTime, oldTime))
	must(t, os.Chtimes(filepath.Join(root, "h/x"), oldTime, oldTime))
	dst := image(t)
	copyInto(t, c.Source(), dst, CopyOptions{Sources: []string{"h"}, Dest: "/h"})
	got := describeTree(t, dst)
	for k, v := range map[string]string{"h/one": "f 0600 0:0 same\n", "h/x/two": "f 0600 0:0 same\n", "h/s": "f 0755 0:0 suid\n", "h/x/": "d 0711 0:0",
		// Docker's chown after the copy clears set-uid (and set-gid on
		// group-executable files); set-gid on a non-executable file and
		// on directories stays.
		"h/g": "f 02640 0:0 sgid\n", "h/gd/": "d 02755 0:0"} {
		if got[k] != v {
			t.Errorf("%s: got %q want %q", k, got[k], v)
		}
	}
	var a, b os.FileInfo
	a, _ = os.Stat(filepath.Join(dst, "h/one"))
	b, _ = os.Stat(filepath.Join(dst, "h/x/two"))
	if !os.SameFile(a, b) {
		t.Error("hard link not kept")
	}
	for _, p := range []string{"h/s", "h/x"} {
		fi, err := os.Lstat(filepath.Join(dst, p))
		must(t, err)
		if !fi.ModTime().Equal(oldTime) {
			t.Errorf("%s mtime %v, want %v", p, fi.ModTime(), oldTime)
		}
	}
}

// TestCopyConfined: symlinks that exist in the image never carry a copy
// out of dstRoot, whatever they point at.
func TestCopyConfined(t *testing.T) {
	host := t.TempDir() // stands for any host directory outside the rootfs
	c, _ := ctxDir(t, ctxFiles)
	for _, tc := range []struct {
		link, target string
		o            CopyOptions
		want         string // where the file must land, inside dst
	}{
		{"evil", "/", CopyOptions{Sources: []string{"a.txt"}, Dest: "/evil/"}, "a.txt"},
		{"evil", "/", CopyOptions{Sources: []string{"dir"}, Dest: "/evil/sub"}, "sub/x"},
		{"evil", host, CopyOptions{Sources: []string{"a.txt"}, Dest: "/evil/"}, strings.TrimPrefix(host, "/") + "/a.txt"},
		{"evil", "../../../../" + host, CopyOptions{Sources: []string{"a.txt"}, Dest: "/evil/f"}, strings.TrimPrefix(host, "/") + "/f"},
		// dest itself a symlink: followed like Docker's ResolveScopedPath,
		// inside the rootfs.
		{"evil", host + "/f", CopyOptions{Sources: []string{"a.txt"}, Dest: "/evil"}, strings.TrimPrefix(host, "/") + "/f"},
		{"evil", "/", CopyOptions{Sources: []string{"dir"}, Dest: "/evil"}, "sub/y"},
	} {
		dst := image(t)
		must(t, os.MkdirAll(filepath.Join(dst, strings.TrimPrefix(host, "/")), 0o755))
		must(t, os.Symlink(tc.target, filepath.Join(dst, tc.link)))
		copyInto(t, c.Source(), dst, tc.o)
		if _, err := os.Lstat(filepath.Join(dst, tc.want)); err != nil {
			t.Errorf("%v → %s: %v", tc.o, tc.want, err)
		}
		ents, _ := os.ReadDir(host)
		if len(ents) != 0 {
			t.Fatalf("%v: wrote into the host directory: %v", tc.o, ents)
		}
	}
}

func TestCopyFromDirSource(t *testing.T) {
	stage := t.TempDir()
	mkTree(t, stage, tree{"app/bin": "binary\n", "@app/cur": "bin"})
	must(t, os.Lchown(filepath.Join(stage, "app/bin"), 1000, 1000))
	dst := image(t)
	must(t, os.Chmod(filepath.Join(stage, "app/bin"), 0o755|os.ModeSetuid))
	copyInto(t, DirSource(stage), dst, CopyOptions{Sources: []string{"/app"}, Dest: "/opt/app"})
	got := describeTree(t, dst)
	if got["opt/app/bin"] != "f 04755 1000:1000 binary\n" || got["opt/app/cur"] != "l 0:0 bin" {
		t.Errorf("ownership and set-uid not preserved: %v", got)
	}
	copyInto(t, DirSource(stage), dst, CopyOptions{Sources: []string{"/app/bin"}, Dest: "/o2", Chown: "app"})
	if got := describeTree(t, dst)["o2"]; got != "f 0755 1000:1000 binary\n" {
		t.Errorf("chown: %q", got)
	}
	_, err := plan(t, DirSource(stage), CopyOptions{Sources: []string{"/nope"}, Dest: "/x"})
	if err == nil || !strings.Contains(err.Error(), "stat nope: file does not exist") || strings.Contains(err.Error(), "dockerignore") {
		t.Errorf("missing --from source: %v", err)
	}
}

// TestDockerErrorText: the builder prints these verbatim, so they must be
// Docker's exact text (test/oracle/data/build/fail-*), and still carry
// their errdefs class.
func TestDockerErrorText(t *testing.T) {
	c, _ := ctxDir(t, tree{"a.txt": "a", "b.txt": "b"})
	for _, tc := range []struct {
		o     CopyOptions
		want  string
		class error
	}{
		{CopyOptions{Sources: []string{"nosuch.txt"}, Dest: "/"}, "COPY failed: file not found in build context or excluded by .dockerignore: stat nosuch.txt: file does not exist", errdefs.ErrNotFound},
		{CopyOptions{Sources: []string{"../outside.txt"}, Dest: "/"}, "COPY failed: forbidden path outside the build context: ../outside.txt ()", errdefs.ErrInvalid},
		{CopyOptions{Sources: []string{"*.nomatch"}, Dest: "/"}, "COPY failed: no source files were specified", errdefs.ErrInvalid},
		{CopyOptions{Sources: []string{"a.txt", "b.txt"}, Dest: "/notadir"}, "When using COPY with more than one source file, the destination must be a directory and end with a /", errdefs.ErrInvalid},
	} {
		_, err := NewPlan(context.Background(), c.Source(), tc.o)
		if err == nil || err.Error() != tc.want || !errors.Is(err, tc.class) {
			t.Errorf("%v: got %v, want %q (%v)", tc.o.Sources, err, tc.want, tc.class)
		}
	}
	for spec, want := range map[string]string{
		"nosuchuser":      "unable to convert uid/gid chown string to host mapping: can't find uid for user nosuchuser: no such user: nosuchuser",
		"app:nosuchgroup": "unable to convert uid/gid chown string to host mapping: can't find gid for group nosuchgroup: no such group: nosuchgroup",
	} {
		p, err := plan(t, c.Source(), CopyOptions{Sources: []string{"a.txt"}, Dest: "/", Chown: spec})
		must(t, err)
		if err := p.Apply(image(t)); err == nil || err.Error() != want || !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("%s: got %v, want %q", spec, err, want)
		}
	}
}
