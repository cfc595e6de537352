package e2e

// save / load / export / import, against the real consumers: Docker 20.10
// (a private dockerd started by the test through scripts/dockerd.sh, which
// fails the test loudly if it cannot start), the containerd that dockerd
// runs (through ctr) and skopeo.

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// twoLayerImage makes a two-layer image (busybox + a committed change) in
// e and returns its reference.
func twoLayerImage(t *testing.T, e *Env, ref string) string {
	t.Helper()
	img := e.BusyboxImage()
	name := e.Name("sl")
	e.MustRun("run", "--name", name, img, "sh", "-c", "mkdir -p /srv && echo hello-from-berth > /srv/hello && ln -s hello /srv/link")
	e.MustRun("commit", "-c", "CMD [\"cat\", \"/srv/hello\"]", name, ref)
	e.MustRun("rm", name)
	return ref
}

func imageID(t *testing.T, e *Env, ref string) string {
	t.Helper()
	return strings.TrimSpace(e.MustRun("image", "inspect", "-f", "{{.Id}}", ref).Stdout)
}

func skopeo(t *testing.T, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("skopeo")
	if err != nil {
		t.Fatalf("skopeo is needed for the interop checks (scripts/deps.sh installs it): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, append([]string{"--insecure-policy"}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("skopeo %s: %v\n%s%s", strings.Join(args, " "), err, o.String(), e.String())
	}
	return o.String()
}

func TestSaveLoadDocker(t *testing.T) {
	d := isoStartDockerd(t)
	e := newEnv(t)
	dir := t.TempDir()
	ref := twoLayerImage(t, e, "saved/two:v1")
	e.MustRun("tag", ref, "127.0.0.1:5000/team/two:latest")
	id := imageID(t, e, ref)
	bbID := imageID(t, e, BusyboxRef)

	// berth save → docker load: both tags, an image saved by ID, and a run.
	archive := filepath.Join(dir, "berth.tar")
	e.MustRun("save", "-o", archive, ref, "127.0.0.1:5000/team/two", bbID[len("sha256:"):19])
	out := d.mustRun(t, "load", "-i", archive)
	for _, want := range []string{"Loaded image: saved/two:v1", "Loaded image: 127.0.0.1:5000/team/two:latest", "Loaded image ID: " + bbID} {
		if !strings.Contains(out, want) {
			t.Errorf("docker load of berth's archive: want %q in\n%s", want, out)
		}
	}
	if got := strings.TrimSpace(d.mustRun(t, "image", "inspect", "-f", "{{.Id}}", ref)); got != id {
		t.Errorf("docker sees image ID %s, berth %s", got, id)
	}
	if got := d.mustRun(t, "run", "--rm", "--network", "none", ref); got != "hello-from-berth\n" {
		t.Errorf("docker run of berth's image printed %q", got)
	}
	if got := d.mustRun(t, "run", "--rm", "--network", "none", ref, "readlink", "/srv/link"); got != "hello\n" {
		t.Errorf("symlink in berth's layer, as docker sees it: %q", got)
	}

	// containerd (the one this dockerd runs) imports the same archive with
	// the same names and manifests, and its export loads back in berth.
	ctrSock := filepath.Join(d.dir, "exec", "containerd", "containerd.sock")
	ctr := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("ctr", append([]string{"--address", ctrSock, "--namespace", "berth-e2e"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ctr %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	ctr("images", "import", archive)
	if got := ctr("images", "ls", "-q"); !strings.Contains(got, "docker.io/saved/two:v1") || !strings.Contains(got, "127.0.0.1:5000/team/two:latest") {
		t.Errorf("containerd import of berth's archive lists:\n%s", got)
	}
	if got := ctr("images", "check"); strings.Count(got, "complete") < 2 {
		t.Errorf("containerd images check:\n%s", got)
	}
	ctrTar := filepath.Join(dir, "ctr.tar")
	ctr("images", "export", ctrTar, "docker.io/saved/two:v1")
	c := newEnv(t)
	if r := c.MustRun("load", "-i", ctrTar); r.Stdout != "Loaded image: saved/two:v1\n" {
		t.Errorf("berth load of containerd's export printed %q", r.Stdout)
	}
	if got := imageID(t, c, ref); got != id {
		t.Errorf("berth → containerd → berth changed the image ID: %s, want %s", got, id)
	}

	// docker save (old format) → berth load, into an empty root, from a
	// file and, gzipped, from stdin; then run it.
	d.mustRun(t, "tag", ref, "from-docker:1")
	dockerTar := filepath.Join(dir, "docker.tar")
	d.mustRun(t, "save", "-o", dockerTar, "from-docker:1", "saved/two:v1")
	f := newEnv(t)
	r := f.MustRun("load", "-i", dockerTar)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	sort.Strings(lines)
	if want := []string{"Loaded image: from-docker:1", "Loaded image: saved/two:v1"}; strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("berth load of docker's archive printed %q, want %q", lines, want)
	}
	if got := imageID(t, f, "from-docker:1"); got != id {
		t.Errorf("image ID after berth load of docker save: %s, want %s", got, id)
	}
	if r := f.MustRun("run", "--rm", "from-docker:1"); r.Stdout != "hello-from-berth\n" {
		t.Errorf("berth run of docker's image printed %q", r.Stdout)
	}
	if r := f.MustRun("system", "check"); strings.TrimSpace(r.Stdout) != "ok" {
		t.Errorf("system check after load:\n%s", r)
	}

	g := newEnv(t)
	gz := filepath.Join(dir, "docker.tar.gz")
	if out, err := exec.Command("sh", "-c", "gzip -c "+dockerTar+" > "+gz).CombinedOutput(); err != nil {
		t.Fatalf("gzip: %v %s", err, out)
	}
	data, err := os.ReadFile(gz)
	if err != nil {
		t.Fatal(err)
	}
	r = g.RunStdin(string(data), "image", "load", "-q")
	if r.Code != 0 || !strings.Contains(r.Stdout, "Loaded image: from-docker:1") {
		t.Errorf("berth image load -q < docker.tar.gz:\n%s", r)
	}

	// A berth archive that went through docker and back keeps the image.
	rt := filepath.Join(dir, "roundtrip.tar")
	d.mustRun(t, "save", "-o", rt, "127.0.0.1:5000/team/two:latest")
	h := newEnv(t)
	h.MustRun("load", "-i", rt)
	if got := imageID(t, h, "127.0.0.1:5000/team/two:latest"); got != id {
		t.Errorf("berth → docker → berth changed the image ID: %s, want %s", got, id)
	}
}

func TestSaveSkopeo(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	ref := twoLayerImage(t, e, "skopeo/two:v2")
	id := imageID(t, e, ref)
	archive := filepath.Join(dir, "s.tar")
	e.MustRun("save", "-o", archive, ref)

	// Deterministic: the same image saved again (to stdout) is the same file.
	r := e.MustRun("save", ref)
	first, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	if r.Stdout != string(first) {
		t.Errorf("save -o and save > differ (%d vs %d bytes)", len(first), len(r.Stdout))
	}

	var diffIDs []string
	if err := json.Unmarshal([]byte(e.MustRun("image", "inspect", "-f", "{{json .RootFS.Layers}}", ref).Stdout), &diffIDs); err != nil {
		t.Fatal(err)
	}
	type inspect struct {
		Digest string
		Layers []string
	}
	for _, src := range []string{"oci-archive:" + archive, "oci-archive:" + archive + ":v2", "docker-archive:" + archive, "docker-archive:" + archive + ":skopeo/two:v2"} {
		var got inspect
		if err := json.Unmarshal([]byte(skopeo(t, "inspect", src)), &got); err != nil {
			t.Fatalf("skopeo inspect %s: %v", src, err)
		}
		// Local layers are stored uncompressed: blob digest = DiffID.
		if strings.Join(got.Layers, ",") != strings.Join(diffIDs, ",") {
			t.Errorf("skopeo inspect %s: layers %v, want %v", src, got.Layers, diffIDs)
		}
	}
	for _, src := range []string{"oci-archive:" + archive, "docker-archive:" + archive} {
		out := filepath.Join(dir, "dir-"+strings.Split(src, ":")[0])
		skopeo(t, "copy", "-q", src, "dir:"+out)
		if _, err := os.Stat(filepath.Join(out, strings.TrimPrefix(id, "sha256:"))); err != nil {
			t.Errorf("skopeo copy %s dir: has no config blob %s: %v", src, id, err)
		}
		for _, l := range diffIDs {
			if _, err := os.Stat(filepath.Join(out, strings.TrimPrefix(l, "sha256:"))); err != nil {
				t.Errorf("skopeo copy %s dir: has no layer %s: %v", src, l, err)
			}
		}
	}

	// skopeo's own OCI archive (gzip layers, its own manifest) loads in
	// berth and runs; so does its docker-archive.
	oci := filepath.Join(dir, "skopeo-oci.tar")
	skopeo(t, "copy", "-q", "--dest-compress", "docker-archive:"+archive, "oci-archive:"+oci+":from/skopeo:1")
	dock := filepath.Join(dir, "skopeo-docker.tar")
	skopeo(t, "copy", "-q", "oci-archive:"+archive, "docker-archive:"+dock+":from/skopeo:2")
	f := newEnv(t)
	if r := f.MustRun("load", "-i", oci); r.Stdout != "Loaded image: from/skopeo:1\n" {
		t.Errorf("load of skopeo's oci-archive printed %q", r.Stdout)
	}
	if r := f.MustRun("load", "-i", dock); r.Stdout != "Loaded image: from/skopeo:2\n" {
		t.Errorf("load of skopeo's docker-archive printed %q", r.Stdout)
	}
	for _, ref := range []string{"from/skopeo:1", "from/skopeo:2"} {
		if r := f.MustRun("run", "--rm", ref); r.Stdout != "hello-from-berth\n" {
			t.Errorf("run %s printed %q", ref, r.Stdout)
		}
	}
	// On a terminal, Docker's "Loading layer" bars; none with -q.
	g := newEnv(t)
	if r := g.RunPTY("", "load", "-i", archive); r.Code != 0 || !strings.Contains(r.Output, "Loading layer") || !strings.Contains(r.Output, "Loaded image: skopeo/two:v2") {
		t.Errorf("load on a terminal: %d %q", r.Code, r.Output)
	}
	if r := g.RunPTY("", "load", "-q", "-i", archive); r.Code != 0 || strings.Contains(r.Output, "Loading layer") || !strings.Contains(r.Output, "Loaded image: skopeo/two:v2") {
		t.Errorf("load -q on a terminal: %d %q", r.Code, r.Output)
	}

	// A bare OCI layout without a name loads untagged.
	bare := filepath.Join(dir, "bare.tar")
	skopeo(t, "copy", "-q", "docker-archive:"+archive, "oci-archive:"+bare)
	if r := f.MustRun("load", "-i", bare); !strings.HasPrefix(r.Stdout, "Loaded image ID: sha256:") {
		t.Errorf("load of an unnamed OCI archive printed %q", r.Stdout)
	}
	if r := f.MustRun("system", "check"); strings.TrimSpace(r.Stdout) != "ok" {
		t.Errorf("system check:\n%s", r)
	}
}

func TestSaveLoadErrors(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	dir := t.TempDir()

	if r := e.Run("save", "nosuch:1"); r.Code != 1 || !strings.Contains(r.Stderr, "No such image: nosuch:1") {
		t.Errorf("save of a missing image:\n%s", r)
	}
	out := filepath.Join(dir, "x.tar")
	if r := e.Run("save", "-o", out, img, "nosuch:1"); r.Code != 1 {
		t.Errorf("save with one missing image:\n%s", r)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a failed save left %s behind", out)
	}
	if r := e.Run("save"); r.Code == 0 || !strings.Contains(r.Stderr, "requires at least 1 argument") {
		t.Errorf("save without arguments:\n%s", r)
	}
	if r := e.RunPTY("", "save", img); r.Code == 0 || !strings.Contains(r.Output, "cowardly refusing to save to a terminal") {
		t.Errorf("save to a terminal: %d %q", r.Code, r.Output)
	}
	if r := e.RunPTY("", "load"); r.Code == 0 || !strings.Contains(r.Output, "requested load from stdin, but stdin is empty") {
		t.Errorf("load from a terminal: %d %q", r.Code, r.Output)
	}
	if r := e.Run("load", "-i", filepath.Join(dir, "missing.tar")); r.Code == 0 || !strings.Contains(r.Stderr, "no such file or directory") {
		t.Errorf("load of a missing file:\n%s", r)
	}

	// Hostile archives: an error naming the problem, nothing stored.
	f := newEnv(t)
	good := filepath.Join(dir, "good.tar")
	e.MustRun("save", "-o", good, img)
	goodBytes, _ := os.ReadFile(good)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"path leaving the archive", tarOf(t, tarFile{name: "../../etc/evil", body: "x"}, tarFile{name: "manifest.json", body: "[]"}), "leaves the archive"},
		{"symlink leaving the archive", tarOf(t, tarFile{name: "manifest.json", link: "../../../etc/passwd"}), "leaves the archive"},
		{"truncated", goodBytes[:len(goodBytes)*2/3], "truncated"},
		{"not an archive", bytes.Repeat([]byte("garbage!"), 200), "invalid archive"},
		{"digest mismatch", corruptBlob(t, goodBytes), "hashes to"},
	} {
		r := f.RunStdin(string(tc.data), "load")
		if r.Code != 1 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("load of an archive with %s: want exit 1 and %q:\n%s", tc.name, tc.want, r)
		}
	}
	if r := f.MustRun("images", "-a", "-q"); r.Stdout != "" {
		t.Errorf("hostile loads left images:\n%s", r.Stdout)
	}
	if r := f.MustRun("system", "check"); strings.TrimSpace(r.Stdout) != "ok" {
		t.Errorf("system check after hostile loads:\n%s", r)
	}
	if left := storeLeftovers(f.Root); len(left) > 0 {
		t.Errorf("hostile loads left in the stores:\n  %s", strings.Join(left, "\n  "))
	}
}

type tarFile struct{ name, body, link string }

func tarOf(t *testing.T, files ...tarFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg}
		if f.link != "" {
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, f.link, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(f.body))
	}
	tw.Close()
	return buf.Bytes()
}

// corruptBlob flips bytes inside the largest blob of a berth archive,
// keeping the tar structure intact.
func corruptBlob(t *testing.T, archive []byte) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(archive))
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var biggest int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Size > biggest {
			biggest = h.Size
		}
	}
	tr = tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		data, _ := io.ReadAll(tr)
		if h.Size == biggest {
			data[len(data)/2] ^= 0xff
		}
		tw.WriteHeader(h)
		tw.Write(data)
	}
	tw.Close()
	return buf.Bytes()
}

// TestLoadKilled kills -9 `berth load` of a Debian archive while it
// streams: no image appears, system check is clean (or made so by
// --repair), and the same load then works.
func TestLoadKilled(t *testing.T) {
	src := newEnv(t)
	img := src.DebianImage()
	archive := filepath.Join(t.TempDir(), "debian.tar")
	src.MustRun("save", "-o", archive, img)
	st, err := os.Stat(archive)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	killWhenIngested(t, e, st.Size()/2, "load", "-i", archive)
	if r := e.MustRun("images", "-a", "-q"); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("a killed load left an image listed:\n%s", r)
	}
	if r := e.Run("system", "check"); r.Code != 0 {
		t.Logf("system check after the kill reports problems (allowed if --repair fixes them):\n%s", r)
		e.MustRun("system", "check", "--repair")
		if r := e.Run("system", "check"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "ok" {
			t.Errorf("system check still not clean after --repair:\n%s", r)
		}
	}
	if r := e.MustRun("load", "-i", archive); r.Stdout != "Loaded image: "+img+"\n" {
		t.Errorf("load after the kill printed %q", r.Stdout)
	}
	if r := e.Run("run", "--rm", img, "cat", "/etc/debian_version"); r.Code != 0 || !strings.HasPrefix(r.Stdout, "12.") {
		t.Errorf("run from the loaded image:\n%s", r)
	}
	if r := e.Run("system", "check"); strings.TrimSpace(r.Stdout) != "ok" {
		t.Errorf("system check after the load:\n%s", r)
	}
	e.MustRun("rmi", img)
	e.MustRun("system", "prune", "-a", "-f")
	if left := storeLeftovers(e.Root); len(left) > 0 {
		t.Errorf("after rmi and prune, the stores still hold:\n  %s", strings.Join(left, "\n  "))
	}
}

// TestExportImportRoundTrip: a container's filesystem exported, imported
// as an image and exported again from a container of that image is the
// same tree (names, types, modes, owners, times, link targets, contents).
func TestExportImportRoundTrip(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	dir := t.TempDir()
	c1 := e.Name("exp")
	e.MustRun("run", "--name", c1, img, "sh", "-c",
		"mkdir -p /data/sub && echo one > /data/f && ln -s f /data/link && ln /data/f /data/hard && "+
			"chmod 0750 /data/sub && chmod 4755 /data/f && chown 1000:1000 /data/sub && touch -d '2001-02-03 04:05:06' /data/f && rm /bin/ls")
	t.Cleanup(func() { e.Run("rm", "-f", c1) })
	first := filepath.Join(dir, "first.tar")
	e.MustRun("export", "-o", first, c1)
	e.MustRun("import", first, "reimported:1")
	c2 := e.Name("exp")
	e.MustRun("run", "--name", c2, "reimported:1", "true")
	t.Cleanup(func() { e.Run("rm", "-f", c2) })
	second := filepath.Join(dir, "second.tar")
	e.MustRun("export", "-o", second, c2)

	a, b := tarListing(t, first), tarListing(t, second)
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("export → import → export changed the tree:\n--- first\n%s\n--- second\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
	for _, want := range []string{"data/f 104755 0:0", "data/sub/ 40750 1000:1000", "data/link 120777 0:0 -> f"} {
		found := false
		for _, l := range a {
			if strings.HasPrefix(l, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("export lacks %q", want)
		}
	}
	for _, l := range a {
		if strings.HasPrefix(l, "bin/ls ") {
			t.Errorf("a deleted file is in the export: %s", l)
		}
	}
	if r := e.MustRun("run", "--rm", "reimported:1", "cat", "/data/hard"); r.Stdout != "one\n" {
		t.Errorf("hard link in the imported image: %q", r.Stdout)
	}
}

// tarListing describes every entry of a tar, except the files the engine
// writes per container (/etc/hostname, hosts, resolv.conf).
func tarListing(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	var out []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(h.Name, "./")
		switch name {
		case "etc/hostname", "etc/hosts", "etc/resolv.conf":
			continue
		}
		sum := sha256.New()
		io.Copy(sum, tr)
		mode := fmt.Sprintf("%o", h.Mode|int64(typeBits(h.Typeflag)))
		line := fmt.Sprintf("%s %s %d:%d %s %d %s", name, mode, h.Uid, h.Gid, h.ModTime.UTC().Format(time.RFC3339), h.Size, hex.EncodeToString(sum.Sum(nil))[:12])
		if h.Linkname != "" {
			line = fmt.Sprintf("%s %s %d:%d -> %s", name, mode, h.Uid, h.Gid, h.Linkname)
		}
		out = append(out, line)
	}
	sort.Strings(out)
	return out
}

func typeBits(typ byte) int {
	switch typ {
	case tar.TypeDir:
		return 0o40000
	case tar.TypeSymlink:
		return 0o120000
	case tar.TypeReg:
		return 0o100000
	}
	return 0
}
