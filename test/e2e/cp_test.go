package e2e

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// `berth cp` against what Docker 20.10 (docker.io 20.10.24, this machine)
// did with the same trees: the archive names of `cp C:SRC -`, where a copy
// lands for each shape of SRC and DEST, ownership, errors and their exit
// codes; and, berth's own requirement, that no path ever leaves the
// container's root in either direction.

// cpTree is the tree the tests copy from, made inside a container.
const cpTree = `mkdir -p /d/sub && echo a > /d/f && echo b > /d/sub/g && ln -s /etc /d/etclink && ln -s f /d/flink && ln -s / /d/rootlink && chown 1000:1000 /d/f`

func cpTarNames(t *testing.T, data string) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(strings.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatalf("not a tar: %v", err)
		}
		names = append(names, hdr.Name)
	}
}

func cpTarFile(t *testing.T, data, name string) (string, *tar.Header) {
	t.Helper()
	tr := tar.NewReader(strings.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("%s not in the tar: %v", name, err)
		}
		if hdr.Name == name {
			b, _ := io.ReadAll(tr)
			return string(b), hdr
		}
	}
}

// TestCpArchiveNames: `cp C:SRC -` writes docker's tar for each form of SRC
// (recorded from docker 20.10), running or stopped.
func TestCpArchiveNames(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	running := e.Name("cp-names-run")
	e.RunDetached(running, img, "sleep", "600")
	e.MustRun("exec", running, "sh", "-c", cpTree)
	stopped := e.Name("cp-names-stopped")
	e.RemoveOnCleanup(stopped)
	e.MustRun("run", "--name", stopped, img, "sh", "-c", cpTree)

	dTree := []string{"etclink", "f", "flink", "rootlink", "sub/", "sub/g"}
	prefixed := func(p string, names []string) []string {
		out := []string{p}
		for _, n := range names {
			out = append(out, p+n)
		}
		return out
	}
	cases := []struct {
		src  string
		want []string
	}{
		{"/d", prefixed("d/", dTree)},
		{"/d/", prefixed("d/", dTree)},
		{"/d/.", prefixed("./", dTree)},
		{"d", prefixed("d/", dTree)}, // relative to the container's root
		{"/d/f", []string{"f"}},
		{"/d/flink", []string{"flink"}},
		{"/d/etclink", []string{"etclink"}},
		{"/d/sub/../f", []string{"f"}},
	}
	for _, ctr := range []string{running, stopped} {
		for _, c := range cases {
			t.Run(ctr+":"+c.src, func(t *testing.T) {
				r := e.For(t).MustRun("cp", ctr+":"+c.src, "-")
				if got := cpTarNames(t, r.Stdout); !slices.Equal(got, c.want) {
					t.Fatalf("names %q, want %q", got, c.want)
				}
			})
		}
		t.Run(ctr+": a directory reached through a symlink with a trailing slash", func(t *testing.T) {
			r := e.For(t).MustRun("cp", ctr+":/d/etclink/", "-")
			names := cpTarNames(t, r.Stdout)
			if names[0] != "etclink/" || !slices.Contains(names, "etclink/passwd") {
				t.Fatalf("names %q", names)
			}
		})
		t.Run(ctr+": the root", func(t *testing.T) {
			r := e.For(t).MustRun("cp", ctr+":/", "-")
			names := cpTarNames(t, r.Stdout)
			if names[0] != "/" || !slices.Contains(names, "/bin/busybox") || !slices.Contains(names, "/d/f") {
				t.Fatalf("names %q...", names[:min(len(names), 5)])
			}
		})
	}
	r := e.MustRun("cp", running+":/d/f", "-")
	if body, hdr := cpTarFile(t, r.Stdout, "f"); body != "a\n" || hdr.Uid != 1000 || hdr.Gid != 1000 {
		t.Fatalf("f: %q uid %d gid %d", body, hdr.Uid, hdr.Gid)
	}
}

// TestCpToHost: where `cp C:SRC DEST` puts things, by the shapes of SRC and
// DEST (docker's rules), with -L, for a running container.
func TestCpToHost(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	name := e.Name("cp-host")
	e.RunDetached(name, img, "sleep", "600")
	e.MustRun("exec", name, "sh", "-c", cpTree)

	type check struct {
		path string // relative to the test's directory
		kind string // "file:CONTENT", "dir", "link:TARGET"
	}
	cases := []struct {
		desc  string
		pre   func(dir string)
		src   string
		dst   string // relative to the test's directory
		flags []string
		want  []check
	}{
		{"a file to a new name", nil, "/d/f", "new", nil, []check{{"new", "file:a\n"}}},
		{"a file into an existing directory", func(d string) { os.Mkdir(filepath.Join(d, "x"), 0o755) }, "/d/f", "x", nil, []check{{"x/f", "file:a\n"}}},
		{"a file over an existing file", func(d string) { os.WriteFile(filepath.Join(d, "old"), []byte("old"), 0o644) }, "/d/f", "old", nil, []check{{"old", "file:a\n"}}},
		{"a directory to a new name", nil, "/d", "copy", nil, []check{{"copy/f", "file:a\n"}, {"copy/sub/g", "file:b\n"}, {"copy/etclink", "link:/etc"}}},
		{"a directory into an existing directory", func(d string) { os.Mkdir(filepath.Join(d, "x"), 0o755) }, "/d", "x", nil, []check{{"x/d/f", "file:a\n"}}},
		{"a directory's content into an existing directory", func(d string) { os.Mkdir(filepath.Join(d, "x"), 0o755) }, "/d/.", "x", nil, []check{{"x/f", "file:a\n"}, {"x/sub", "dir"}}},
		{"a symlink as a symlink", nil, "/d/flink", "l", nil, []check{{"l", "link:f"}}},
		{"-L: the file a symlink points to", nil, "/d/flink", "l", []string{"-L"}, []check{{"l", "file:a\n"}}},
		{"-L: the directory a symlink points to (the container's /etc)", nil, "/d/etclink", "e", []string{"-L"}, []check{{"e/passwd", "file:" + "root:x:0:0:root:/root:/bin/sh\n"}}},
		{"a path through a symlink to / stays in the container", nil, "/d/rootlink/etc/passwd", "pw", nil, []check{{"pw", "file:root:x:0:0:root:/root:/bin/sh\n"}}},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			dir := t.TempDir()
			if c.pre != nil {
				c.pre(dir)
			}
			args := append(append([]string{"cp"}, c.flags...), name+":"+c.src, filepath.Join(dir, c.dst))
			e.For(t).MustRun(args...)
			for _, w := range c.want {
				p := filepath.Join(dir, w.path)
				kind, arg, _ := strings.Cut(w.kind, ":")
				fi, err := os.Lstat(p)
				if err != nil {
					t.Fatalf("%s: %v", w.path, err)
				}
				switch kind {
				case "file":
					got, _ := os.ReadFile(p)
					if !fi.Mode().IsRegular() || (arg != "" && !strings.HasPrefix(string(got), arg)) {
						t.Errorf("%s: %v %q, want a file starting %q", w.path, fi.Mode(), got, arg)
					}
				case "dir":
					if !fi.IsDir() {
						t.Errorf("%s: %v, want a directory", w.path, fi.Mode())
					}
				case "link":
					if target, _ := os.Readlink(p); target != arg {
						t.Errorf("%s: link to %q, want %q", w.path, target, arg)
					}
				}
			}
		})
	}
	t.Run("files land owned by the caller; -a keeps the container's owner", func(t *testing.T) {
		dir := t.TempDir()
		e.For(t).MustRun("cp", name+":/d/f", filepath.Join(dir, "plain"))
		e.For(t).MustRun("cp", "-a", name+":/d/f", filepath.Join(dir, "archive"))
		for file, uid := range map[string]uint32{"plain": uint32(os.Getuid()), "archive": 1000} {
			fi, err := os.Stat(filepath.Join(dir, file))
			if err != nil {
				t.Fatal(err)
			}
			if st := fi.Sys().(*syscall.Stat_t); st.Uid != uid {
				t.Errorf("%s: uid %d, want %d", file, st.Uid, uid)
			}
		}
	})
}

// TestCpToContainer: `cp SRC C:DEST` and `cp - C:DEST` into a running and
// a stopped container, and what the container sees afterwards.
func TestCpToContainer(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "own"), []byte("x\n"), 0o640)
	os.Chown(filepath.Join(src, "own"), 1234, 2345)
	os.MkdirAll(filepath.Join(src, "tree", "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "tree", "sub", "leaf"), []byte("leaf\n"), 0o644)

	running := e.Name("cp-in-run")
	e.RunDetached(running, img, "sleep", "600")
	stopped := e.Name("cp-in-stopped")
	e.RemoveOnCleanup(stopped)
	e.MustRun("create", "--name", stopped, img, "sleep", "600")

	for _, ctr := range []string{running, stopped} {
		t.Run(ctr, func(t *testing.T) {
			e := e.For(t)
			e.MustRun("cp", filepath.Join(src, "own"), ctr+":/tmp/own1")
			e.MustRun("cp", "-a", filepath.Join(src, "own"), ctr+":/tmp/own2")
			e.MustRun("cp", filepath.Join(src, "tree"), ctr+":/tmp/")         // into /tmp: /tmp/tree
			e.MustRun("cp", filepath.Join(src, "tree"), ctr+":/tmp/renamed")  // a new name
			e.MustRun("cp", filepath.Join(src, "tree")+"/.", ctr+":/tmp/own") // tree's content as new /tmp/own
			var tb bytes.Buffer
			tw := tar.NewWriter(&tb)
			tw.WriteHeader(&tar.Header{Name: "streamed/", Typeflag: tar.TypeDir, Mode: 0o755})
			tw.WriteHeader(&tar.Header{Name: "streamed/s", Typeflag: tar.TypeReg, Mode: 0o600, Size: 3, Uid: 7, Gid: 8})
			tw.Write([]byte("s!\n"))
			tw.Close()
			e.MustRun("cp", "-", ctr+":/tmp") // an empty stream copies nothing
			r := e.RunStdin(tb.String(), "cp", "-", ctr+":/tmp")
			if r.Code != 0 {
				t.Fatalf("cp - :\n%s", r)
			}
			if ctr == stopped {
				e.MustRun("start", ctr)
				e.RemoveOnCleanup(ctr)
			}
			got := e.MustRun("exec", ctr, "sh", "-c",
				"stat -c '%n %u:%g %a' /tmp/own1 /tmp/own2 /tmp/streamed/s; cat /tmp/tree/sub/leaf /tmp/renamed/sub/leaf /tmp/own/sub/leaf /tmp/streamed/s").Stdout
			// Docker keeps the numeric owner of the source in both modes
			// (-a would use the container's --user, none here).
			want := "/tmp/own1 1234:2345 640\n/tmp/own2 1234:2345 640\n/tmp/streamed/s 7:8 600\nleaf\nleaf\nleaf\ns!\n"
			if got != want {
				t.Fatalf("in the container:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestCpMounts: volumes and bind mounts are copied to and from where the
// container sees them, running or not; read-only ones (and a read-only
// rootfs) refuse writes with docker's messages.
func TestCpMounts(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	vol := e.Name("cp-vol")
	e.MustRun("volume", "create", vol)
	t.Cleanup(func() { e.Run("volume", "rm", vol) })
	bind := t.TempDir()
	os.WriteFile(filepath.Join(bind, "b.txt"), []byte("bound\n"), 0o644)
	file := filepath.Join(t.TempDir(), "h.txt")
	os.WriteFile(file, []byte("hello\n"), 0o644)

	name := e.Name("cp-mounts")
	e.RunDetached(name, "-v", vol+":/data", "-v", bind+":/bind:ro", img, "sleep", "600")
	e.MustRun("cp", file, name+":/data/")
	if got := e.MustRun("exec", name, "cat", "/data/h.txt").Stdout; got != "hello\n" {
		t.Fatalf("running: volume file %q", got)
	}
	r := e.MustRun("cp", name+":/bind/b.txt", "-")
	if body, _ := cpTarFile(t, r.Stdout, "b.txt"); body != "bound\n" {
		t.Fatalf("bind file %q", body)
	}
	r = e.Run("cp", file, name+":/bind/")
	if r.Code != 1 || r.Stderr != "mounted volume is marked read-only\n" {
		t.Fatalf("write to a read-only bind:\n%s", r)
	}
	if _, err := os.Stat(filepath.Join(bind, "h.txt")); err == nil {
		t.Fatal("the read-only bind source was written")
	}

	e.MustRun("stop", "-t", "0", name)
	e.MustRun("cp", file, name+":/data/h2.txt")
	r = e.MustRun("cp", name+":/data/h2.txt", "-")
	if body, _ := cpTarFile(t, r.Stdout, "h2.txt"); body != "hello\n" {
		t.Fatalf("stopped: volume file %q", body)
	}
	e.MustRun("start", name)
	if got := e.MustRun("exec", name, "cat", "/data/h2.txt").Stdout; got != "hello\n" {
		t.Fatalf("copied into the stopped container's volume: %q", got)
	}

	ro := e.Name("cp-ro")
	e.RunDetached(ro, "--read-only", "-v", vol+":/data", img, "sleep", "600")
	r = e.Run("cp", file, ro+":/tmp/")
	if r.Code != 1 || r.Stderr != "container rootfs is marked read-only\n" {
		t.Fatalf("write to a read-only rootfs:\n%s", r)
	}
	e.MustRun("cp", file, ro+":/data/h3.txt") // a volume of it is writable
}

// TestCpSymlinkEscapes: a container's symlinks resolve inside the container,
// whichever way the copy goes and whether or not it runs; a tar stream
// cannot climb out of its destination either.
func TestCpSymlinkEscapes(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	marker := "berth-cp-escape-" + e.Name("m")
	hostTmp := filepath.Join(os.TempDir(), marker)
	t.Cleanup(func() { os.RemoveAll(hostTmp) })
	file := filepath.Join(t.TempDir(), marker)
	os.WriteFile(file, []byte("inside\n"), 0o644)
	hostPasswd, _ := os.ReadFile("/etc/passwd")

	name := e.Name("cp-escape")
	e.RunDetached(name, img, "sleep", "600")
	e.MustRun("exec", name, "sh", "-c", cpTree+" && ln -s ../../../../../.. /d/up && ln -s /tmp /d/tmplink")
	stopped := e.Name("cp-escape-stopped")
	e.RemoveOnCleanup(stopped)
	e.MustRun("run", "--name", stopped, img, "sh", "-c", cpTree+" && ln -s ../../../../../.. /d/up && ln -s /tmp /d/tmplink")

	for _, ctr := range []string{name, stopped} {
		t.Run(ctr, func(t *testing.T) {
			e := e.For(t)
			// Reading: symlinks to /etc and / are the container's.
			for _, p := range []string{"/d/etclink/passwd", "/d/rootlink/etc/passwd", "/d/up/etc/passwd", "/d/up/../../etc/passwd"} {
				r := e.MustRun("cp", ctr+":"+p, "-")
				body, _ := cpTarFile(t, r.Stdout, "passwd")
				if body == string(hostPasswd) || !strings.HasPrefix(body, "root:x:0:0:root:/root:/bin/sh\n") {
					t.Errorf("%s gave %q", p, body)
				}
			}
			r := e.MustRun("cp", "-L", ctr+":/d/etclink", "-")
			if names := cpTarNames(t, r.Stdout); slices.Contains(names, "etclink/shadow") {
				t.Errorf("-L through /d/etclink reached the host's /etc: %q", names)
			}
			// Writing: a parent that is a symlink to / (or to /tmp, or
			// climbing with ..) is the container's root; ".." is lexical, as in docker.
			for _, dst := range []string{"/d/rootlink/tmp/", "/d/tmplink/", "/d/up/tmp/", "/d/up/../../../tmp/"} {
				e.MustRun("cp", file, ctr+":"+dst)
				if _, err := os.Stat(hostTmp); err == nil {
					t.Fatalf("cp into %s wrote the host's %s", dst, hostTmp)
				}
			}
			e.MustRun("cp", file, ctr+":/d/etclink/")
			if _, err := os.Stat(filepath.Join("/etc", marker)); err == nil {
				os.Remove(filepath.Join("/etc", marker))
				t.Fatal("cp into /d/etclink/ wrote the host's /etc")
			}
			// A tar that makes a symlink to / and writes through it, or
			// climbs with ..: nothing outside the destination.
			var tb bytes.Buffer
			tw := tar.NewWriter(&tb)
			tw.WriteHeader(&tar.Header{Name: "esc", Typeflag: tar.TypeSymlink, Linkname: "/", Mode: 0o777})
			tw.WriteHeader(&tar.Header{Name: "esc/tmp/" + marker, Typeflag: tar.TypeReg, Mode: 0o644, Size: 3})
			tw.Write([]byte("x!\n"))
			tw.Close()
			e.RunStdin(tb.String(), "cp", "-", ctr+":/d/sub")
			tb.Reset()
			tw = tar.NewWriter(&tb)
			tw.WriteHeader(&tar.Header{Name: "../../../../../tmp/" + marker, Typeflag: tar.TypeReg, Mode: 0o644, Size: 3})
			tw.Write([]byte("x!\n"))
			tw.Close()
			if r := e.RunStdin(tb.String(), "cp", "-", ctr+":/d/sub"); r.Code == 0 {
				t.Errorf("a tar climbing out with .. was accepted:\n%s", r)
			}
			if _, err := os.Stat(hostTmp); err == nil {
				t.Fatal("a tar stream wrote the host's /tmp")
			}
		})
	}
	// The container saw the copies where it should.
	got := e.MustRun("exec", name, "sh", "-c", "ls /tmp/"+marker+" /etc/"+marker).Stdout
	if got != "/etc/"+marker+"\n/tmp/"+marker+"\n" {
		t.Fatalf("in the container: %q", got)
	}
}

// TestCpErrors: docker 20.10's messages and exit codes.
func TestCpErrors(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	name := e.Name("cp-err")
	e.RunDetached(name, img, "sleep", "600")
	e.MustRun("exec", name, "sh", "-c", cpTree)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "file"), []byte("f"), 0o644)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	cases := []struct {
		desc   string
		args   []string
		stderr string
	}{
		{"missing container path", []string{name + ":/nonexist", dir}, "Error: No such container:path: " + name + ":/nonexist\n"},
		{"missing container", []string{"nosuch-cp:/x", dir}, "Error: No such container:path: nosuch-cp:/x\n"},
		{"missing host source", []string{filepath.Join(dir, "nonexist"), name + ":/tmp"}, "lstat " + filepath.Join(dir, "nonexist") + ": no such file or directory\n"},
		{"host destination's directory missing", []string{name + ":/d/f", filepath.Join(dir, "nodir", "x")}, "invalid output path: directory \"" + filepath.Join(dir, "nodir") + "\" does not exist\n"},
		{"container destination's directory missing", []string{filepath.Join(dir, "file"), name + ":/nodir/x"}, "Error: No such container:path: " + name + ":/nodir\n"},
		{"a directory onto a file", []string{filepath.Join(dir, "sub"), name + ":/d/f"}, "cannot copy directory\n"},
		{"a file to a directory that does not exist", []string{filepath.Join(dir, "file"), name + ":/newdir/"}, "no such directory\n"},
		{"a file to a host directory that does not exist", []string{name + ":/d/f", filepath.Join(dir, "newdir") + "/"}, "no such directory\n"},
		{"extraction point not a directory", []string{"-", name + ":/d/f"}, "destination \"" + name + ":/d/f\" must be a directory\n"},
		{"two host paths", []string{"/tmp/a", "/tmp/b"}, "must specify at least one container source\n"},
		{"two containers", []string{name + ":/a", name + ":/b"}, "copying between containers is not supported\n"},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			r := e.For(t).RunStdin("", append([]string{"cp"}, c.args...)...)
			if r.Code != 1 || r.Stderr != c.stderr {
				t.Fatalf("want exit 1 and %q:\n%s", c.stderr, r)
			}
		})
	}
}

// TestCpSymlinksBothWays (issue 6): a container whose tree holds symlinks to
// "/", climbing with "..", and naming host paths, copied from and into, and
// host destinations and sources that are symlinks. Container paths resolve
// in the container (a link naming a host path means the container's path of
// that name); host paths follow docker cp: a destination that is a symlink
// is followed once, a source symlink is copied as a link unless -L. Nothing
// outside the container's rootfs changes, and no host file reaches it.
func TestCpSymlinksBothWays(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	victim := newVictim(t)
	before := victimState(t, victim)
	secret := filepath.Join(victim, "keep")
	name := e.Name("cp-links")
	e.RunDetached(name, img, "sleep", "600")
	e.MustRun("exec", name, "sh", "-c", "mkdir -p /h /in && echo inside > /h/f && ln -s / /h/root && ln -s ../../../../../.. /h/up && "+
		"ln -s "+victim+" /h/hostdir && ln -s "+secret+" /h/hostfile && ln -s .. /h/parent")
	untouched := func(t *testing.T) {
		t.Helper()
		if got := victimState(t, victim); got != before {
			t.Fatalf("the host's victim directory changed:\n%s", got)
		}
	}

	t.Run("container to host: links arrive as links, never followed on the host", func(t *testing.T) {
		e := e.For(t)
		dir := t.TempDir()
		e.MustRun("cp", name+":/h", filepath.Join(dir, "out"))
		for link, target := range map[string]string{"root": "/", "up": "../../../../../..", "hostdir": victim, "hostfile": secret, "parent": ".."} {
			if got, err := os.Readlink(filepath.Join(dir, "out", link)); err != nil || got != target {
				t.Errorf("out/%s: link %q (%v), want %q", link, got, err, target)
			}
		}
		untouched(t)
	})
	t.Run("container to host: a path through a link naming a host path is the container's", func(t *testing.T) {
		e := e.For(t)
		dir := t.TempDir()
		for _, src := range []string{"/h/hostdir/keep", "/h/up" + victim + "/keep", "/h/root" + secret} {
			r := e.Run("cp", name+":"+src, filepath.Join(dir, "x"))
			if r.Code != 1 || !strings.Contains(r.Stderr, "No such container:path") {
				t.Errorf("cp %s: want the container's missing path:\n%s", src, r)
			}
		}
		r := e.Run("cp", "-L", name+":/h/hostfile", filepath.Join(dir, "y"))
		if r.Code == 0 {
			if b, _ := os.ReadFile(filepath.Join(dir, "y")); string(b) == "keep" {
				t.Fatalf("-L through /h/hostfile copied the host's file")
			}
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("failed copies left %v", ents)
		}
		untouched(t)
	})
	t.Run("host destination that is a symlink is followed once, as docker cp does", func(t *testing.T) {
		e := e.For(t)
		dir := t.TempDir()
		target := filepath.Join(dir, "target")
		os.Mkdir(target, 0o755)
		os.Symlink(target, filepath.Join(dir, "todir"))
		os.WriteFile(filepath.Join(dir, "tfile"), []byte("old"), 0o644)
		os.Symlink("tfile", filepath.Join(dir, "tofile"))
		e.MustRun("cp", name+":/h/f", filepath.Join(dir, "todir"))
		if b, _ := os.ReadFile(filepath.Join(target, "f")); string(b) != "inside\n" {
			t.Errorf("copy into a symlink to a directory: target/f = %q", b)
		}
		e.MustRun("cp", name+":/h/f", filepath.Join(dir, "tofile"))
		if b, _ := os.ReadFile(filepath.Join(dir, "tfile")); string(b) != "inside\n" {
			t.Errorf("copy onto a symlink to a file: tfile = %q", b)
		}
		if l, _ := os.Readlink(filepath.Join(dir, "tofile")); l != "tfile" {
			t.Errorf("the destination link itself changed: %q", l)
		}
		// A directory copied onto a link to a directory lands inside it;
		// its own links stay links (nothing written through them).
		e.MustRun("cp", name+":/h", filepath.Join(dir, "todir"))
		if l, _ := os.Readlink(filepath.Join(target, "h", "hostdir")); l != victim {
			t.Errorf("target/h/hostdir = %q", l)
		}
		untouched(t)
	})
	t.Run("host to container: destinations through links stay in the rootfs", func(t *testing.T) {
		e := e.For(t)
		src := filepath.Join(t.TempDir(), "payload")
		os.WriteFile(src, []byte("payload\n"), 0o644)
		for _, dst := range []string{"/h/hostdir/", "/h/up" + victim + "/", "/h/root" + victim + "/"} {
			r := e.Run("cp", src, name+":"+dst)
			if r.Code == 0 {
				t.Errorf("cp into %s: the container has no such directory, want an error:\n%s", dst, r)
			}
		}
		// A destination that is a link is followed (once) in the container,
		// like docker cp: to the container's path of that name, whose
		// directory does not exist there (Docker's very error), or to
		// one that does.
		r := e.Run("cp", src, name+":/h/hostfile")
		if r.Code != 1 || r.Stderr != "Error: No such container:path: "+name+":"+victim+"\n" {
			t.Errorf("cp onto a link naming a host file: want docker's error:\n%s", r)
		}
		e.MustRun("exec", name, "ln", "-s", "/in/viafile", "/h/infile")
		e.MustRun("cp", src, name+":/h/infile")
		e.MustRun("cp", src, name+":/h/parent/in/")
		got := e.MustRun("exec", name, "sh", "-c", "cat /in/payload /in/viafile; readlink /h/hostfile; readlink /h/infile").Stdout
		if got != "payload\npayload\n"+secret+"\n/in/viafile\n" {
			t.Errorf("in the container: %q", got)
		}
		untouched(t)
	})
	t.Run("host source links are copied as links, not followed", func(t *testing.T) {
		e := e.For(t)
		dir := t.TempDir()
		os.Symlink(secret, filepath.Join(dir, "tohost"))
		os.Mkdir(filepath.Join(dir, "tree"), 0o755)
		os.Symlink(victim, filepath.Join(dir, "tree", "vdir"))
		os.Symlink("/etc", filepath.Join(dir, "tree", "etc"))
		e.MustRun("cp", filepath.Join(dir, "tohost"), name+":/in/tohost")
		e.MustRun("cp", filepath.Join(dir, "tree"), name+":/in/tree")
		got := e.MustRun("exec", name, "sh", "-c", "readlink /in/tohost; readlink /in/tree/vdir; readlink /in/tree/etc; cat /in/tohost 2>/dev/null; true").Stdout
		if want := secret + "\n" + victim + "\n/etc\n"; got != want {
			t.Errorf("in the container: %q, want the links %q and no host content", got, want)
		}
		untouched(t)
	})
}
