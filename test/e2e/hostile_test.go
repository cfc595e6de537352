package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// This file is the hostile-archive suite of issue 6: one table of crafted
// tars, every one of them fed through every entry point that unpacks a tar
// (import, load of a docker-save and of an OCI layout, pull from a registry,
// ADD of a local tar in a build, and a build context streamed on stdin that
// COPY then copies). After each: a victim directory outside the store is
// untouched, `system check` is clean, and a refused archive left no image,
// snapshot, blob or lease behind.

// hostileEntry is one tar member of a crafted archive.
type hostileEntry struct {
	name, linkname string
	typ            byte
	body           string
	size           int64             // header size when not len(body): a lie
	pax            map[string]string // extra PAX records
	major, minor   int64
}

func hostileTar(t *testing.T, entries []hostileEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, en := range entries {
		h := &tar.Header{Name: en.name, Linkname: en.linkname, Typeflag: en.typ, Mode: 0o644, Size: int64(len(en.body)),
			PAXRecords: en.pax, Devmajor: en.major, Devminor: en.minor, Format: tar.FormatPAX}
		if en.typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if en.typ == tar.TypeChar && en.major == 0 {
			h.Devmajor, h.Devminor = 1, 3
		}
		if en.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if en.body != "" {
			tw.Write([]byte(en.body))
		}
	}
	tw.Close()
	return buf.Bytes()
}

// rawHeader is a lone ustar header block with a valid checksum, for the
// fields archive/tar refuses to write (a size in the terabytes, an
// extended header of many MiB).
func rawHeader(name string, typ byte, size int64) []byte {
	b := make([]byte, 512)
	copy(b[0:100], name)
	copy(b[100:108], "0000644\x00")
	copy(b[108:116], "0000000\x00")
	copy(b[116:124], "0000000\x00")
	copy(b[124:136], fmt.Sprintf("%011o\x00", size))
	copy(b[136:148], "00000000000\x00")
	b[156] = typ
	copy(b[257:265], "ustar\x0000")
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// hostileCase is one crafted archive. Paths in it aim at victim, a
// directory outside the store, by absolute name, by climbing with "..", or
// through symlinks and hard links the archive makes.
type hostileCase struct {
	desc string
	tar  []byte
	// refuse: every tar-unpacking entry point must fail with a clear error;
	// otherwise berth (like Docker) accepts the archive and confines it.
	// Entry points that copy the archive rather than unpack it (ADD of
	// something that is not a tar) are handled in the table of outcomes.
	refuse bool
	// lands are paths (relative to the layer root) the archive must have
	// put inside the image when accepted: proof of where an escape went.
	lands []string
	// docker is what Docker 20.10 (overlay2) answered to `docker import`
	// of the same tar on this machine, where recorded; for the report.
	docker string
	// notTar: the first header does not read, so ADD copies the file as
	// it is instead of extracting it, as Docker's isArchivePath decides.
	notTar bool
	// viaRoot: the entry goes through a symlink to "/", so when the archive
	// is unpacked into a rootfs (ADD) it lands from the rootfs's root, not
	// under the destination (Docker: chrootarchive.UntarWithRoot, same).
	viaRoot bool
	// device: a device node, which a build context drops (berth unpacks
	// contexts with NoDevices; nothing of it reaches COPY).
	device bool
}

func hostileCases(t *testing.T, victim string) []hostileCase {
	v := victim[1:] // the victim without its leading "/"
	up := strings.Repeat("../", 12)
	pad := func(n int, seg string) string { // a path of about n bytes
		var b strings.Builder
		for b.Len() < n {
			b.WriteString(seg + "/")
		}
		return b.String() + "f"
	}
	truncated := hostileTar(t, []hostileEntry{{name: "big", typ: tar.TypeReg, body: strings.Repeat("y", 4096)}})
	hugePAX := append(rawHeader("PaxHeaders/x", tar.TypeXHeader, 16<<20),
		bytes.Repeat([]byte("z"), 16<<20)...) // 16 MiB of extended header, no valid record (not hex: the harness scans output for IDs)
	hugePAX = append(hugePAX, hostileTar(t, []hostileEntry{{name: "after", typ: tar.TypeReg, body: "x"}})...)
	terabytes := append(rawHeader("huge", tar.TypeReg, 2<<40), make([]byte, 4096)...) // 2 TiB claimed, 4 KiB given
	return []hostileCase{
		{desc: "dot-dot path", tar: hostileTar(t, []hostileEntry{{name: up + v + "/dotdot", typ: tar.TypeReg, body: "x"}}),
			refuse: true, docker: "accepted, confined: .. stops at the layer root (chroot); berth refuses"},
		{desc: "dot-dot in the middle", tar: hostileTar(t, []hostileEntry{{name: "a/../../" + up + v + "/mid", typ: tar.TypeReg, body: "x"}}),
			refuse: true, docker: "accepted, confined (chroot); berth refuses"},
		{desc: "absolute path", tar: hostileTar(t, []hostileEntry{{name: victim + "/absolute", typ: tar.TypeReg, body: "x"}}),
			lands: []string{v + "/absolute"}, docker: "accepted, re-rooted in the layer"},
		{desc: "absolute symlink then file through it", tar: hostileTar(t, []hostileEntry{
			{name: "escape", linkname: victim, typ: tar.TypeSymlink},
			{name: "escape/through-symlink", typ: tar.TypeReg, body: "x"},
		}), refuse: true, docker: "refused: no such directory (chroot resolves the link inside)"},
		{desc: "relative symlink climbing out then file through it", tar: hostileTar(t, []hostileEntry{
			{name: "up", linkname: up + v, typ: tar.TypeSymlink},
			{name: "up/through-relative", typ: tar.TypeReg, body: "x"},
		}), refuse: true, docker: "refused: no such directory (chroot resolves the link inside)"},
		{desc: "symlink to victim then directory through it", tar: hostileTar(t, []hostileEntry{
			{name: "dl", linkname: victim, typ: tar.TypeSymlink},
			{name: "dl/newdir/", typ: tar.TypeDir},
		}), refuse: true, docker: "refused: no such directory (chroot)"},
		{desc: "symlink to / then file through it, re-rooted", tar: hostileTar(t, []hostileEntry{
			{name: v + "/", typ: tar.TypeDir},
			{name: "rootlink", linkname: "/", typ: tar.TypeSymlink},
			{name: "rootlink/" + v + "/via-root", typ: tar.TypeReg, body: "x"},
		}), lands: []string{v + "/via-root"}, viaRoot: true, docker: "accepted, written inside the layer (chroot)"},
		{desc: "hardlink to a host file", tar: hostileTar(t, []hostileEntry{{name: "passwd-link", linkname: "/etc/passwd", typ: tar.TypeLink}}),
			refuse: true, docker: "refused: link target missing in the layer"},
		{desc: "hardlink climbing out", tar: hostileTar(t, []hostileEntry{{name: "keep-link", linkname: up + v + "/keep", typ: tar.TypeLink}}),
			refuse: true, docker: "refused: breakout error"},
		{desc: "hardlink through symlink", tar: hostileTar(t, []hostileEntry{
			{name: "hostetc", linkname: "/etc", typ: tar.TypeSymlink},
			{name: "shadow", linkname: "hostetc/shadow", typ: tar.TypeLink},
		}), refuse: true, docker: "refused: link target missing in the layer"},
		{desc: "hardlink to a later entry", tar: hostileTar(t, []hostileEntry{
			{name: "early", linkname: "late", typ: tar.TypeLink},
			{name: "late", typ: tar.TypeReg, body: "x"},
		}), refuse: true, docker: "refused: link target does not exist yet"},
		{desc: "whiteout aimed outside", tar: hostileTar(t, []hostileEntry{{name: up + v + "/.wh.keep", typ: tar.TypeReg}}),
			refuse: true, docker: "accepted, confined (chroot); berth refuses"},
		{desc: "whiteout of dot-dot", tar: hostileTar(t, []hostileEntry{{name: "sub/", typ: tar.TypeDir}, {name: "sub/.wh...", typ: tar.TypeReg}}),
			refuse: true, docker: "refused: failed to mknod(\"/\")"},
		{desc: "whiteout through a symlink to the victim", tar: hostileTar(t, []hostileEntry{
			{name: "wl", linkname: victim, typ: tar.TypeSymlink},
			{name: "wl/.wh.keep", typ: tar.TypeReg},
		}), refuse: true, docker: "refused: mknod /wl/keep: no such file or directory"},
		{desc: "opaque whiteout at root", tar: hostileTar(t, []hostileEntry{{name: ".wh..wh..opq", typ: tar.TypeReg}, {name: "kept", typ: tar.TypeReg, body: "x"}}),
			lands: []string{"kept"}, docker: "accepted: the layer's root is opaque (nothing below it in a one-layer image)"},
		{desc: "opaque whiteout through a symlink to the victim", tar: hostileTar(t, []hostileEntry{
			{name: "ol", linkname: victim, typ: tar.TypeSymlink},
			{name: "ol/.wh..wh..opq", typ: tar.TypeReg},
		}), refuse: true, docker: "refused: no such directory (chroot)"},
		{desc: "character device", tar: hostileTar(t, []hostileEntry{{name: "dev/mem-copy", typ: tar.TypeChar, major: 1, minor: 1}}),
			lands: []string{"dev/mem-copy"}, device: true, docker: "accepted: the node is made in the layer (run confines it: not in the container's device cgroup)"},
		{desc: "block device", tar: hostileTar(t, []hostileEntry{{name: "disk", typ: tar.TypeBlock, major: 8, minor: 0}}),
			lands: []string{"disk"}, device: true, docker: "accepted: as above"},
		{desc: "symlink loop", tar: hostileTar(t, []hostileEntry{
			{name: "loop", linkname: "loop", typ: tar.TypeSymlink},
			{name: "loop/f", typ: tar.TypeReg, body: "x"},
		}), refuse: true, docker: "refused: too many levels of symbolic links"},
		{desc: "file replacing a directory holding an escaping symlink", tar: hostileTar(t, []hostileEntry{
			{name: "d/", typ: tar.TypeDir},
			{name: "d/l", linkname: victim, typ: tar.TypeSymlink},
			{name: "d/rl", linkname: up + v, typ: tar.TypeSymlink},
			{name: "d", typ: tar.TypeReg, body: "now a file"},
		}), lands: []string{"d"}, docker: "refused: duplicates of file paths not supported; berth accepts, the directory removed without following its links"},
		{desc: "duplicate entries", tar: hostileTar(t, []hostileEntry{
			{name: "dup", typ: tar.TypeReg, body: "first"},
			{name: "dup", typ: tar.TypeReg, body: "second"},
			{name: "dup2", linkname: victim, typ: tar.TypeSymlink},
			{name: "dup2", typ: tar.TypeReg, body: "replaces the link, not written through it"},
		}), lands: []string{"dup", "dup2"}, docker: "refused: duplicates of file paths not supported; berth accepts, the last entry wins"},
		{desc: "truncated content", tar: truncated[:700], refuse: true, docker: "refused: unexpected EOF"},
		{desc: "truncated header", tar: truncated[:300], refuse: true, notTar: true, docker: "refused: unexpected EOF"},
		{desc: "huge PAX header (16 MiB)", tar: hugePAX, refuse: true, notTar: true, docker: "refused: archive/tar: header field too long"},
		{desc: "name of 64 KiB", tar: hostileTar(t, []hostileEntry{{name: pad(64<<10, "n"), typ: tar.TypeReg, body: "x"}}),
			refuse: true, docker: "refused: file name too long"},
		{desc: "size field claiming 2 TiB", tar: terabytes, refuse: true, docker: "refused: unexpected EOF"},
		{desc: "not a tar", tar: bytes.Repeat([]byte("garbage!"), 200), refuse: true, notTar: true, docker: "refused"},
	}
}

// victimState lists everything under dir with its content, to prove it
// unchanged.
func victimState(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", p, err)
			return nil
		}
		info, _ := d.Info()
		fmt.Fprintf(&b, "%s %v", p, info.Mode())
		if info.Mode().IsRegular() {
			data, _ := os.ReadFile(p)
			fmt.Fprintf(&b, " %q", data)
		}
		b.WriteString("\n")
		return nil
	})
	return b.String()
}

// newVictim makes the directory hostile archives aim at.
func newVictim(t *testing.T) string {
	t.Helper()
	victim := t.TempDir()
	if err := os.WriteFile(filepath.Join(victim, "keep"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(victim, "keepdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(victim, "keepdir", "f"), []byte("f"), 0o644); err != nil {
		t.Fatal(err)
	}
	return victim
}

// dockerSave writes the layer as `docker save` would: manifest.json, the
// config and DIR/layer.tar (uncompressed).
func dockerSave(t *testing.T, layer []byte, ref string) []byte {
	t.Helper()
	img := layerImage(layer)
	dir := img.diffID.Encoded()
	manifest, _ := json.Marshal([]any{map[string]any{
		"Config": img.configDigest.Encoded() + ".json", "RepoTags": []string{ref}, "Layers": []string{dir + "/layer.tar"}}})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	tw.WriteHeader(&tar.Header{Name: dir + "/", Mode: 0o755, Typeflag: tar.TypeDir})
	add(dir+"/layer.tar", layer)
	add(img.configDigest.Encoded()+".json", img.config)
	add("manifest.json", manifest)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// imageFiles lists the paths in the root filesystem of ref as unpacked
// (not the layer blobs, which keep the archive as it came), read from
// `export` of a container created from it.
func imageFiles(t *testing.T, e *Env, ref string) []string {
	t.Helper()
	id := strings.TrimSpace(e.MustRun("create", ref, "x").Stdout)
	defer e.MustRun("rm", id)
	r := e.MustRun("export", id)
	tr := tar.NewReader(strings.NewReader(r.Stdout))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("export of %s: %v", ref, err)
		}
		names = append(names, strings.TrimSuffix(strings.TrimPrefix(path.Clean("/"+h.Name), "/"), "/"))
	}
	return names
}

// hostileEntryPoint feeds one archive to berth and returns what it said and
// the image it made (when it did).
type hostileEntryPoint struct {
	name string
	// prefix is where the archive's entries land in the image.
	prefix string
	// add: the entry point is ADD, which copies what is not a tar.
	add bool
	// context: the archive is a build context (devices dropped).
	context bool
	feed    func(t *testing.T, e *Env, c hostileCase, ref string) Result
}

func hostileEntryPoints(t *testing.T) []hostileEntryPoint {
	fake := startFakeRegistry(t)
	return []hostileEntryPoint{
		{name: "import", feed: func(t *testing.T, e *Env, c hostileCase, ref string) Result {
			return e.RunStdin(string(c.tar), "import", "-", ref)
		}},
		{name: "load docker-save", feed: func(t *testing.T, e *Env, c hostileCase, ref string) Result {
			return e.RunStdin(string(dockerSave(t, c.tar, ref)), "load")
		}},
		{name: "load OCI layout", feed: func(t *testing.T, e *Env, c hostileCase, ref string) Result {
			p := filepath.Join(t.TempDir(), "oci.tar")
			layerImage(c.tar).ociArchive(t, p)
			r := e.Run("load", "-i", p)
			if r.Code == 0 {
				// The layout names its image "latest": give it the case's ref.
				if id := strings.TrimSpace(strings.TrimPrefix(r.Stdout, "Loaded image ID: ")); strings.HasPrefix(id, "sha256:") {
					e.MustRun("tag", id, ref)
				} else {
					e.MustRun("tag", strings.TrimSpace(strings.TrimPrefix(r.Stdout, "Loaded image: ")), ref)
					e.MustRun("rmi", strings.TrimSpace(strings.TrimPrefix(r.Stdout, "Loaded image: ")))
				}
			}
			return r
		}},
		{name: "pull", feed: func(t *testing.T, e *Env, c hostileCase, ref string) Result {
			repo := "hostile/" + strings.ReplaceAll(strings.Split(ref, ":")[0], "_", "-")
			fake.addImage(repo, "latest", layerImage(c.tar))
			r := e.Run("pull", "-q", fake.Host()+"/"+repo+":latest")
			if r.Code == 0 {
				e.MustRun("tag", fake.Host()+"/"+repo+":latest", ref)
				e.MustRun("rmi", fake.Host()+"/"+repo+":latest")
			}
			return r
		}},
		{name: "build ADD local.tar", prefix: "dst/", add: true, feed: func(t *testing.T, e *Env, c hostileCase, ref string) Result {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nADD local.tar /dst/\n"), 0o644)
			os.WriteFile(filepath.Join(dir, "local.tar"), c.tar, 0o644)
			return e.Run("build", "-q", "-t", ref, dir)
		}},
		{name: "build context on stdin, COPY", prefix: "dst/", context: true, feed: func(t *testing.T, e *Env, c hostileCase, ref string) Result {
			// The Dockerfile first, then the hostile entries as they are.
			df := hostileTar(t, []hostileEntry{{name: "Dockerfile", typ: tar.TypeReg, body: "FROM scratch\nCOPY . /dst/\n"}})
			stream := append(df[:len(df)-1024:len(df)-1024], c.tar...)
			return e.RunStdin(string(stream), "build", "-q", "-t", ref, "-")
		}},
	}
}

// TestHostileArchives runs every hostile archive through every entry point.
func TestHostileArchives(t *testing.T) {
	victim := newVictim(t)
	before := victimState(t, victim)
	cases := hostileCases(t, victim)
	tried := 0
	var table []string
	for _, ep := range hostileEntryPoints(t) {
		t.Run(ep.name, func(t *testing.T) {
			e := newEnv(t)
			e.ExtraEnv = append(e.ExtraEnv, "DOCKER_CONFIG="+t.TempDir())
			baseline := storeLeftovers(e.Root)
			for i, c := range cases {
				t.Run(c.desc, func(t *testing.T) {
					e := e.For(t)
					ref := fmt.Sprintf("hostile-%d:latest", i)
					r := ep.feed(t, e, c, ref)
					refuse, lands, prefix := c.refuse, c.lands, ep.prefix
					switch {
					case ep.add && c.notTar:
						refuse, lands = false, []string{"local.tar"}
					case ep.add && c.viaRoot:
						prefix = ""
					case ep.context && c.device:
						lands = nil
					}
					tried++
					if got := victimState(t, victim); got != before {
						t.Fatalf("%s wrote outside the store: victim now\n%s\n%s", ep.name, got, r)
					}
					// build prints its steps first, as docker build -q does on
					// failure; the error is the last line.
					lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
					msg := lines[len(lines)-1]
					outcome := "accepted"
					if r.Code != 0 {
						outcome = "refused: " + msg
					}
					table = append(table, fmt.Sprintf("%-30s %-55s %s", ep.name, c.desc, outcome))
					switch {
					case r.Code != 0:
						if r.Code != 1 || msg == "" || (!ep.add && !strings.HasPrefix(ep.name, "build") && len(lines) != 1) {
							t.Errorf("a refusal is exit 1 and one line of error:\n%s", r)
						}
						if len(msg) > 600 {
							t.Errorf("error of %d bytes: not the clear one line wanted", len(msg))
						}
						if out := e.MustRun("images", "-a", "-q").Stdout; strings.TrimSpace(out) != "" {
							t.Errorf("refused archive left images: %q", out)
						}
						if left := storeLeftovers(e.Root); !slices.Equal(left, baseline) {
							t.Errorf("refused archive left in the store:\n  %s", strings.Join(left, "\n  "))
						}
						if refuse {
							return
						}
						t.Errorf("want accepted (Docker: %s):\n%s", c.docker, r)
					default:
						if refuse {
							t.Errorf("want refused (Docker: %s), got exit 0:\n%s", c.docker, r)
						}
						files := imageFiles(t, e, ref)
						for _, l := range lands {
							if !slices.Contains(files, prefix+l) {
								t.Errorf("accepted, but %s is not in the image: %q", prefix+l, files)
							}
						}
						e.MustRun("rmi", ref)
					}
					if out := e.MustRun("system", "check").Stdout; strings.TrimSpace(out) != "ok" {
						t.Errorf("store inconsistent after %s:\n%s", c.desc, out)
					}
				})
			}
		})
	}
	sort.Strings(table)
	t.Logf("%d hostile inputs tried (%d archives x %d entry points):\n%s", tried, len(cases), tried/max(len(cases), 1), strings.Join(table, "\n"))
}

// TestHostileContextSymlinks: a build context directory holding symlinks to
// the host (a directory, a file), to "/" and climbing with "..". COPY and
// ADD resolve sources inside the context, as Docker does: a link is copied
// as a link, a path through one that leaves the context is not found, and
// no byte of a host file outside the context reaches the image.
func TestHostileContextSymlinks(t *testing.T) {
	e := newEnv(t)
	victim := newVictim(t)
	before := victimState(t, victim)
	ctx := t.TempDir()
	for link, target := range map[string]string{"hostdir": victim, "hostfile": filepath.Join(victim, "keep"), "up": "../../../../../..", "rootlink": "/"} {
		if err := os.Symlink(target, filepath.Join(ctx, link)); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		step string
		ok   bool // whether the build succeeds; Docker 20.10's classic builder, run on this machine, answered the same for each
	}{
		{"COPY . /dst/", true},
		{"COPY hostfile /x", false},
		{"COPY hostdir/keep /x", false},
		{"COPY hostdir/ /x/", false},
		{"COPY up" + victim + "/keep /x", false},
		{"COPY rootlink" + victim + "/keep /x", false},
		{"ADD hostfile /x", false},
		{"ADD hostdir /x/", false},
	}
	for i, c := range cases {
		t.Run(c.step, func(t *testing.T) {
			e := e.For(t)
			ref := fmt.Sprintf("ctxlinks-%d:latest", i)
			os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM scratch\n"+c.step+"\n"), 0o644)
			r := e.Run("build", "-q", "-t", ref, ctx)
			if got := victimState(t, victim); got != before {
				t.Fatalf("the build changed the victim:\n%s", got)
			}
			if (r.Code == 0) != c.ok {
				t.Fatalf("want success %v:\n%s", c.ok, r)
			}
			if r.Code != 0 {
				last := strings.TrimSpace(r.Stderr[strings.LastIndex(strings.TrimSpace(r.Stderr), "\n")+1:])
				// Docker's words: "COPY failed: file not found in build
				// context or excluded by .dockerignore: stat hostfile: file does not exist".
				if !strings.HasPrefix(last, strings.Fields(c.step)[0]+" failed: file not found in build context") {
					t.Errorf("want Docker's not-found error, got %q", last)
				}
				return
			}
			id := strings.TrimSpace(e.MustRun("create", ref, "x").Stdout)
			exp := e.MustRun("export", id).Stdout
			e.MustRun("rm", id)
			e.MustRun("rmi", ref)
			tr := tar.NewReader(strings.NewReader(exp))
			links := map[string]string{}
			for {
				h, err := tr.Next()
				if err != nil {
					break
				}
				if h.Typeflag == tar.TypeSymlink {
					links[strings.TrimPrefix(h.Name, "/")] = h.Linkname
				}
				if body, _ := io.ReadAll(tr); string(body) == "keep" {
					t.Errorf("%s holds the host's file", h.Name)
				}
			}
			if links["dst/hostdir"] != victim || links["dst/rootlink"] != "/" {
				t.Errorf("links not copied as links: %v", links)
			}
		})
	}
}

// TestHostileTopLayer: a good base layer under a hostile one, pulled and
// loaded. The base is unpacked before the top one is refused; nothing of
// either may stay (no blob, no snapshot, no lease), and a second attempt
// fails the same way.
func TestHostileTopLayer(t *testing.T) {
	victim := newVictim(t)
	before := victimState(t, victim)
	base := hostileTar(t, []hostileEntry{{name: "etc/", typ: tar.TypeDir}, {name: "etc/base", typ: tar.TypeReg, body: "base layer"}})
	top := hostileTar(t, []hostileEntry{{name: "escape", linkname: victim, typ: tar.TypeSymlink}, {name: "escape/pwned", typ: tar.TypeReg, body: "x"}})
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	layers := [][]byte{gz(base), gz(top)}
	config, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []digest.Digest{digest.FromBytes(base), digest.FromBytes(top)}},
	})
	var descs []any
	for _, l := range layers {
		descs = append(descs, map[string]any{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(l), "digest": digest.FromBytes(l)})
	}
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
		"config": map[string]any{"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config), "digest": digest.FromBytes(config)},
		"layers": descs,
	})
	check := func(t *testing.T, e *Env, r Result) {
		t.Helper()
		if r.Code != 1 || !strings.Contains(r.Stderr, "escape/pwned") {
			t.Errorf("want exit 1 naming the entry:\n%s", r)
		}
		if got := victimState(t, victim); got != before {
			t.Fatalf("victim changed:\n%s", got)
		}
		if left := storeLeftovers(e.Root); len(left) > 0 {
			t.Errorf("left in the store:\n  %s", strings.Join(left, "\n  "))
		}
		if out := e.MustRun("system", "check").Stdout; strings.TrimSpace(out) != "ok" {
			t.Errorf("system check:\n%s", out)
		}
	}

	t.Run("pull", func(t *testing.T) {
		fake := startFakeRegistry(t)
		fake.addManifest("two/layers", "latest", "application/vnd.docker.distribution.manifest.v2+json", manifest)
		fake.mu.Lock()
		fake.blobs[digest.FromBytes(config)] = config
		for _, l := range layers {
			fake.blobs[digest.FromBytes(l)] = l
		}
		fake.mu.Unlock()
		e := regEnv(t, "")
		for range 2 {
			check(t, e, e.Run("pull", "-q", fake.Host()+"/two/layers:latest"))
		}
	})
	t.Run("load", func(t *testing.T) {
		e := newEnv(t)
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		add := func(name string, data []byte) {
			tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
			tw.Write(data)
		}
		add("base/layer.tar", base)
		add("top/layer.tar", top)
		add("config.json", config)
		m, _ := json.Marshal([]any{map[string]any{"Config": "config.json", "RepoTags": []string{"two/layers:latest"}, "Layers": []string{"base/layer.tar", "top/layer.tar"}}})
		add("manifest.json", m)
		tw.Close()
		for range 2 {
			check(t, e, e.RunStdin(buf.String(), "load"))
		}
	})
}
