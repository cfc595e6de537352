package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	units "github.com/docker/go-units"
	"github.com/opencontainers/go-digest"
)

// The garbage-collection suite (issue 6): image prune, image prune -a,
// system prune and system prune -a --volumes reclaim exactly the blobs and
// snapshots no remaining image or container needs, never one in use, and
// system df's figures are what prune then frees.

// snapIndex is snapshots/index.json as the test reads it.
type snapIndex struct {
	Committed map[digest.Digest]struct {
		ID     string        `json:"id"`
		Parent digest.Digest `json:"parent"`
		Size   int64         `json:"size"`
		Init   bool          `json:"init"`
	} `json:"committed"`
	Active map[string]struct {
		ID     string        `json:"id"`
		Parent digest.Digest `json:"parent"`
	} `json:"active"`
}

func (e *Env) snapIndex() snapIndex {
	e.t.Helper()
	var idx snapIndex
	b, err := os.ReadFile(filepath.Join(e.Root, "snapshots", "index.json"))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		e.t.Fatal(err)
	}
	return idx
}

// expected is what the store must hold, computed from the image graph:
// every listed image's config, manifest and layer blobs and its layers'
// chain IDs (and its init layer, if a container made one), plus every
// container's snapshot and the chain below it.
type expected struct {
	blobs, chains, active map[string]bool
	imageChains           []string // the images' layers alone
}

func (e *Env) expectedFromGraph() expected {
	e.t.Helper()
	x := expected{blobs: map[string]bool{}, chains: map[string]bool{}, active: map[string]bool{}}
	readBlob := func(d string, v any) {
		b, err := os.ReadFile(filepath.Join(e.Root, "content", "blobs", "sha256", strings.TrimPrefix(d, "sha256:")))
		if err != nil {
			e.t.Fatalf("blob %s of a listed image: %v", d, err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			e.t.Fatalf("blob %s: %v", d, err)
		}
	}
	for _, id := range strings.Fields(e.MustRun("images", "-a", "-q", "--no-trunc").Stdout) {
		x.blobs[id] = true
		var rec struct {
			Manifest string `json:"manifest"`
		}
		b, err := os.ReadFile(filepath.Join(e.Root, "images", "sha256", strings.TrimPrefix(id, "sha256:")+".json"))
		if err != nil {
			e.t.Fatalf("record of listed image %s: %v", id, err)
		}
		json.Unmarshal(b, &rec)
		x.blobs[rec.Manifest] = true
		var m struct {
			Layers []struct {
				Digest string `json:"digest"`
			} `json:"layers"`
		}
		readBlob(rec.Manifest, &m)
		for _, l := range m.Layers {
			x.blobs[l.Digest] = true
		}
		var cfg struct {
			RootFS struct {
				DiffIDs []digest.Digest `json:"diff_ids"`
			} `json:"rootfs"`
		}
		readBlob(id, &cfg)
		var chain digest.Digest
		for _, d := range cfg.RootFS.DiffIDs {
			if chain == "" {
				chain = d
			} else {
				chain = digest.FromString(chain.String() + " " + d.String())
			}
			x.chains[chain.String()] = true
			if !slices.Contains(x.imageChains, chain.String()) {
				x.imageChains = append(x.imageChains, chain.String())
			}
		}
	}
	idx := e.snapIndex()
	// An image's init layer (the containers' mount points) lives as long
	// as the image does.
	for c, r := range idx.Committed {
		if r.Init && x.chains[r.Parent.String()] {
			x.chains[c.String()] = true
		}
	}
	for _, id := range strings.Fields(e.MustRun("ps", "-a", "-q", "--no-trunc").Stdout) {
		x.active[id] = true
		a, ok := idx.Active[id]
		if !ok {
			e.t.Errorf("container %s: no snapshot", id)
			continue
		}
		for c := a.Parent; c != ""; c = idx.Committed[c].Parent {
			x.chains[c.String()] = true
			if _, ok := idx.Committed[c]; !ok {
				e.t.Errorf("container %s: layer %s below its snapshot is gone", id, c)
				break
			}
		}
	}
	return x
}

// wantExactly checks the store holds exactly the expected blobs, chains and
// active snapshots, and that every snapshot directory is one of those.
func (e *Env) wantExactly(step string, x expected) {
	e.t.Helper()
	s := e.storeState()
	diff := func(what string, got []string, want map[string]bool) {
		var extra, missing []string
		for _, g := range got {
			if !want[g] {
				extra = append(extra, g)
			}
		}
		for w := range want {
			if !slices.Contains(got, w) {
				missing = append(missing, w)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			e.t.Errorf("%s: %s in use but removed: %v", step, what, missing)
		}
		if len(extra) > 0 {
			e.t.Errorf("%s: %s unreferenced but kept: %v", step, what, extra)
		}
	}
	diff("blobs", s.Blobs, x.blobs)
	diff("snapshots", s.Chains, x.chains)
	diff("container snapshots", s.Active, x.active)
	if len(s.Ingests) > 0 {
		e.t.Errorf("%s: ingests left: %v", step, s.Ingests)
	}
	if n := len(x.chains) + len(x.active); len(s.SnapDirs) != n {
		e.t.Errorf("%s: %d snapshot directories for %d snapshots: %v", step, len(s.SnapDirs), n, s.SnapDirs)
	}
}

// dfRow is one row of `system df --format '{{json .}}'`.
type dfRow struct {
	Type, TotalCount, Active, Size, Reclaimable string
}

func (e *Env) df() map[string]dfRow {
	e.t.Helper()
	out := map[string]dfRow{}
	for _, line := range strings.Split(strings.TrimSpace(e.MustRun("system", "df", "--format", "{{json .}}").Stdout), "\n") {
		var r dfRow
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			e.t.Fatalf("system df line %q: %v", line, err)
		}
		out[r.Type] = r
	}
	return out
}

// chainSizes sums the content bytes of the given committed snapshots, as
// system df counts them.
func chainSizes(idx snapIndex, chains []string) int64 {
	var n int64
	for _, c := range chains {
		n += idx.Committed[digest.Digest(c)].Size
	}
	return n
}

// diskBytes is what the store's files take, per item: each blob's size
// and each snapshot directory's allocated blocks (hard links once) — the
// units prune's "Total reclaimed space" counts in.
func (e *Env) diskBytes() map[string]int64 {
	e.t.Helper()
	out := map[string]int64{}
	blobs := filepath.Join(e.Root, "content", "blobs", "sha256")
	ents, _ := os.ReadDir(blobs)
	for _, ent := range ents {
		if fi, err := ent.Info(); err == nil {
			out["blob "+ent.Name()] = fi.Size()
		}
	}
	snaps := filepath.Join(e.Root, "snapshots")
	ents, _ = os.ReadDir(snaps)
	for _, ent := range ents {
		if !ent.IsDir() || ent.Name() == "empty" {
			continue
		}
		seen := map[uint64]bool{}
		var n int64
		filepath.WalkDir(filepath.Join(snaps, ent.Name()), func(p string, d os.DirEntry, err error) error {
			var st syscall.Stat_t
			if err == nil && syscall.Lstat(p, &st) == nil && !seen[st.Ino] {
				seen[st.Ino] = true
				n += st.Blocks * 512
			}
			return nil
		})
		out["snapshot "+ent.Name()] = n
	}
	// Volumes in content bytes, as Docker counts them.
	vols := filepath.Join(e.Root, "volumes")
	ents, _ = os.ReadDir(vols)
	for _, ent := range ents {
		if ent.IsDir() {
			out["volume "+ent.Name()] = contentBytes(filepath.Join(vols, ent.Name(), "_data"))
		}
	}
	return out
}

// contentBytes sums the regular files' sizes under dir (system df's unit
// for container and image sizes).
func contentBytes(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// pruneFreed runs a prune and checks that the space it reports reclaimed
// is what the blobs and snapshot directories it deleted took.
func (e *Env) pruneFreed(args ...string) {
	e.t.Helper()
	before := e.diskBytes()
	out := e.MustRun(args...).Stdout
	after := e.diskBytes()
	var freed int64
	var items []string
	for k, n := range before {
		if _, ok := after[k]; !ok {
			freed += n
			items = append(items, k)
		}
	}
	want := "Total reclaimed space: " + units.HumanSize(float64(freed))
	if !strings.Contains(out, want) {
		sort.Strings(items)
		e.t.Errorf("%s: reports %q; the %d items it deleted took %d bytes (%s):\n  %s",
			strings.Join(args, " "), lastLine(out), len(items), freed, want, strings.Join(items, "\n  "))
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func TestGCExact(t *testing.T) {
	e := newEnv(t)
	bb := e.BusyboxImage()
	build := func(tag string, steps ...string) {
		t.Helper()
		dir := t.TempDir()
		df := "FROM " + bb + "\n" + strings.Join(steps, "\n") + "\n"
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
			t.Fatal(err)
		}
		e.MustRun("build", "-q", "-t", tag, dir)
	}
	// a and b share the busybox layer; b has an intermediate image (its
	// first RUN) that is build cache, not dangling.
	build("a:1", "RUN echo a > /a")
	build("b:1", "RUN echo b > /b", "RUN head -c 300000 /dev/urandom > /b2")
	// Rebuilding a:1 leaves the old a:1 dangling.
	oldA := e.Inspect("a:1", "{{.Id}}")
	build("a:1", "RUN head -c 200000 /dev/urandom > /a")
	// c is used by a stopped container, d by a running one.
	build("c:1", "RUN echo c > /c")
	build("d:1", "RUN echo d > /d")
	e.MustRun("run", "--name", "stopped", "-v", "/vol", "c:1", "sh", "-c", "echo data > /written; echo volume-data > /vol/x")
	// Re-tagging c:1 leaves the stopped container's image dangling, but in
	// use: no prune may take it while the container exists.
	build("c:1", "RUN echo c2 > /c")
	e.RunDetached("running", "d:1", "sleep", "1000")
	// An image pulled from a registry: compressed layer blob, unpacked
	// snapshot.
	reg := startFakeRegistry(t)
	reg.addImage("pulled/img", "v1", makeTestImage(t, 100000))
	pulled := reg.Host() + "/pulled/img:v1"
	e.MustRun("pull", pulled)
	// e's image was force-removed while a stopped container uses it: the
	// container's layers must survive every prune.
	build("e:1", "RUN echo e > /e")
	e.MustRun("create", "--name", "orphan", "e:1", "cat", "/e")
	e.MustRun("rmi", "-f", "e:1")
	// An anonymous volume of the stopped container, one of no container.
	e.MustRun("volume", "create", "loose")
	// A container on the oldest image, whose layer the newer unused images
	// share: that layer is not reclaimable, whichever image df meets first.
	e.MustRun("create", "--name", "base", bb, "true")
	// The newest image (df meets it first) is unused and shares the
	// busybox layer with images in use.
	build("z:1", "RUN echo z > /z")

	e.mustCheckClean("setup")
	e.wantExactly("setup", e.expectedFromGraph())

	// Everything in use must keep working after each step.
	stillWorks := func(step string) {
		t.Helper()
		if out := e.MustRun("start", "-a", "orphan").Stdout; strings.TrimSpace(out) != "e" {
			t.Errorf("%s: orphan container: %q", step, out)
		}
		if st := e.Inspect("running", "{{.State.Running}}"); st != "true" {
			t.Errorf("%s: running container: %s", step, st)
		}
		for _, ref := range strings.Fields(e.MustRun("images", "--format", "{{.Repository}}:{{.Tag}}").Stdout) {
			if strings.Contains(ref, "<none>") {
				continue
			}
			e.MustRun("run", "--rm", ref, "true")
		}
		e.mustCheckClean(step)
	}

	// image prune: the dangling old a:1 goes (and its layer); nothing else.
	before := e.storeState()
	idx := e.snapIndex()
	imagesBefore := strings.Fields(e.MustRun("images", "-a", "-q", "--no-trunc").Stdout)
	e.pruneFreed("image", "prune", "-f")
	e.wantExactly("image prune", e.expectedFromGraph())
	// Exactly the dangling image: not b's intermediate (build cache), not
	// busybox under the images built on it, not the dangling old c:1 the
	// stopped container uses.
	if gone := minus(imagesBefore, strings.Fields(e.MustRun("images", "-a", "-q", "--no-trunc").Stdout)); len(gone) != 1 || gone[0] != oldA {
		t.Errorf("image prune removed images %v, want only the dangling %s", gone, oldA)
	}
	gone := minus(before.Chains, e.storeState().Chains)
	if len(gone) != 1 {
		t.Errorf("image prune removed %d layers, want the dangling image's 1: %v", len(gone), gone)
	}
	stillWorks("image prune")

	// system df: the images' layers, and what image prune -a will free.
	df := e.df()
	before, idx = e.storeState(), e.snapIndex()
	if want := units.HumanSize(float64(chainSizes(idx, e.expectedFromGraph().imageChains))); df["Images"].Size != want {
		t.Errorf("system df said images take %s; their layers hold %s", df["Images"].Size, want)
	}
	e.pruneFreed("image", "prune", "-a", "-f")
	// Only the images containers use stay (busybox by "base", the old c:1
	// by "stopped", d by "running"), with no intermediate left over.
	left := strings.Fields(e.MustRun("images", "-a", "--format", "{{.Repository}}:{{.Tag}}").Stdout)
	sort.Strings(left)
	if got := strings.Join(left, " "); got != "<none>:<none> "+BusyboxRef+" d:1" {
		t.Errorf("image prune -a left %q, want the images in use only", got)
	}
	x := e.expectedFromGraph()
	e.wantExactly("image prune -a", x)
	gone = minus(before.Chains, e.storeState().Chains)
	if want := fmt.Sprintf("%s (", units.HumanSize(float64(chainSizes(idx, gone)))); !strings.HasPrefix(df["Images"].Reclaimable, want) {
		t.Errorf("system df said %q reclaimable for images; image prune -a freed layers of %s", df["Images"].Reclaimable, want)
	}
	t.Logf("before image prune -a: system df %+v; prune freed %d layers", df, len(gone))
	stillWorks("image prune -a")

	// system prune: stopped containers go, then what only they used. df's
	// container figure is what their writable layers hold.
	df = e.df()
	idx = e.snapIndex()
	var stoppedRW int64
	for _, name := range []string{"stopped", "orphan", "base"} {
		id := e.Inspect(name, "{{.Id}}")
		stoppedRW += contentBytes(filepath.Join(e.Root, "snapshots", idx.Active[id].ID, "fs"))
	}
	if want := units.HumanSize(float64(stoppedRW)) + " ("; !strings.HasPrefix(df["Containers"].Reclaimable, want) {
		t.Errorf("system df said %q reclaimable for containers; their writable layers hold %s", df["Containers"].Reclaimable, want)
	}
	e.pruneFreed("system", "prune", "-f")
	e.wantExactly("system prune", e.expectedFromGraph())
	if out := e.MustRun("ps", "-a", "--format", "{{.Names}}").Stdout; strings.TrimSpace(out) != "running" {
		t.Errorf("system prune left containers %q, want only the running one", out)
	}
	// The old c:1 went with its container; tagged images stay.
	left = strings.Fields(e.MustRun("images", "-a", "--format", "{{.Repository}}:{{.Tag}}").Stdout)
	sort.Strings(left)
	if got := strings.Join(left, " "); got != BusyboxRef+" d:1" {
		t.Errorf("system prune left images %q, want busybox and d:1", got)
	}
	if st := e.Inspect("running", "{{.State.Running}}"); st != "true" {
		t.Errorf("system prune: running container: %s", st)
	}

	// A pull in flight holds a lease on what it has written so far: a
	// prune meanwhile takes none of it, and the pull completes.
	two := makeTestImage(t, 200000)
	reg.addImage("pulled/two", "v1", two)
	stalled, release := make(chan struct{}), make(chan struct{})
	var once, releaseOnce sync.Once
	releaseAll := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(releaseAll) // before the registry's: its Close waits for the handler
	reg.setHook(func(w http.ResponseWriter, r *http.Request, d digest.Digest, data []byte) bool {
		if d == two.layerDigest && r.Method == http.MethodGet {
			// Half the layer, flushed, then wait: the ingest exists.
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
			w.Write(data[:len(data)/2])
			w.(http.Flusher).Flush()
			once.Do(func() { close(stalled) })
			<-release
			w.Write(data[len(data)/2:])
			return true
		}
		return false
	})
	pull := e.Cmd(context.Background(), "pull", reg.Host()+"/pulled/two:v1")
	var pullOut bytes.Buffer
	pull.Stdout, pull.Stderr = &pullOut, &pullOut
	if err := pull.Start(); err != nil {
		t.Fatal(err)
	}
	pullDone := make(chan error, 1)
	go func() { pullDone <- pull.Wait() }()
	select {
	case <-stalled:
	case err := <-pullDone:
		t.Fatalf("pull ended before its layer: %v\n%s", err, pullOut.String())
	}
	e.pruneFreed("system", "prune", "-a", "-f")
	if s := e.storeState(); len(s.Ingests) == 0 {
		t.Errorf("prune removed the ingest of the pull in flight")
	}
	releaseAll()
	if err := <-pullDone; err != nil {
		t.Fatalf("pull during prune: %v\n%s", err, pullOut.String())
	}
	e.MustRun("run", "--rm", reg.Host()+"/pulled/two:v1", "test", "-f", "/big.bin")
	e.wantExactly("pull during prune", e.expectedFromGraph())

	// system prune -a --volumes: only the running container's image stays,
	// and the stopped container's anonymous volume goes.
	anon := strings.TrimSpace(strings.ReplaceAll(e.MustRun("volume", "ls", "-q").Stdout, "loose", ""))
	if want := units.HumanSize(float64(len("volume-data\n"))) + " ("; !strings.HasPrefix(e.df()["Local Volumes"].Reclaimable, want) {
		t.Errorf("system df said %q reclaimable for volumes, want %s", e.df()["Local Volumes"].Reclaimable, want)
	}
	e.pruneFreed("system", "prune", "-a", "--volumes", "-f")
	if out := e.MustRun("volume", "ls", "-q").Stdout; anon == "" || strings.Contains(out, anon) {
		t.Errorf("anonymous volume %q of the pruned container: volume ls %q", anon, out)
	}
	e.wantExactly("system prune -a --volumes", e.expectedFromGraph())
	// d:1's parent (busybox) loses its tag but stays as d:1's
	// intermediate image, as in Docker.
	if out := e.MustRun("images", "--format", "{{.Repository}}:{{.Tag}}").Stdout; strings.TrimSpace(out) != "d:1" {
		t.Errorf("system prune -a left images %q, want d:1 only", out)
	}
	e.MustRun("exec", "running", "cat", "/d")
	e.MustRun("rm", "-f", "running")
	e.pruneFreed("system", "prune", "-a", "-f")
	e.wantExactly("all removed", e.expectedFromGraph())
	if s := e.storeState(); len(s.Blobs)+len(s.Chains)+len(s.Active)+len(s.SnapDirs) != 0 {
		t.Errorf("empty store still holds:\n%s", s)
	}
	// The build step cache named the removed images only.
	var entries []string
	filepath.WalkDir(filepath.Join(e.Root, "build", "cache"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			entries = append(entries, p)
		}
		return nil
	})
	if len(entries) > 0 {
		t.Errorf("build cache entries of removed images kept: %v", entries)
	}
}

// TestGCDuringBuild prunes everything while a build is in the middle of a
// RUN step: the build holds the images it stands on (on its lease), so it
// completes, its image runs, and the store is consistent and exact.
func TestGCDuringBuild(t *testing.T) {
	e := newEnv(t)
	bb := e.BusyboxImage()
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(started) })
		<-release
		io.WriteString(w, "from-test\n")
	}))
	var releaseOnce sync.Once
	releaseAll := func() { releaseOnce.Do(func() { close(release) }) }
	defer srv.Close()
	defer releaseAll() // never leave the handler hanging
	dir := t.TempDir()
	df := fmt.Sprintf("FROM %s\nRUN echo one > /one\nRUN wget -q -O /two %s/\n", bb, srv.URL)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	b := e.Cmd(context.Background(), "build", "--network", "host", "-t", "built:1", dir)
	var out bytes.Buffer
	b.Stdout, b.Stderr = &out, &out
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	buildDone := make(chan error, 1)
	go func() { buildDone <- b.Wait() }()
	select {
	case <-started:
	case err := <-buildDone:
		t.Fatalf("build ended before its RUN step: %v\n%s", err, out.String())
	}
	e.MustRun("image", "prune", "-a", "-f")
	e.MustRun("system", "prune", "-a", "-f")
	releaseAll()
	if err := <-buildDone; err != nil {
		t.Fatalf("build during prune: %v\n%s", err, out.String())
	}
	e.mustCheckClean("after the build")
	if got := e.MustRun("run", "--rm", "built:1", "cat", "/one", "/two").Stdout; got != "one\nfrom-test\n" {
		t.Errorf("built image: %q", got)
	}
	// What the build's lease held past the prunes (the pruned base and
	// step images' manifests and configs) is garbage now, for the next GC.
	e.MustRun("image", "prune", "-f")
	e.wantExactly("after the build and a prune", e.expectedFromGraph())
	e.MustRun("system", "prune", "-a", "-f")
	if s := e.storeState(); len(s.Blobs)+len(s.Chains)+len(s.Active)+len(s.SnapDirs) != 0 {
		t.Errorf("empty store still holds:\n%s", s)
	}
}

// TestPruneDuringBuildKeepsItsNetwork: system prune repairs network state
// of containers that are gone; a build step on the default network is no
// container, and must keep its interface and address meanwhile.
func TestPruneDuringBuildKeepsItsNetwork(t *testing.T) {
	e := newEnv(t)
	bb := e.BusyboxImage()
	dir := t.TempDir()
	// The step marks that it runs, waits for the prune (a few seconds at
	// most: a slow prune only makes the test pass without proving much),
	// and fails without its interface.
	df := "FROM " + bb + "\nRUN touch /started && sleep 3 && test -e /sys/class/net/eth0 && ip -o -4 addr show eth0 | grep -q inet\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	b := e.Cmd(context.Background(), "build", "-t", "netbuild:1", dir)
	var out bytes.Buffer
	b.Stdout, b.Stderr = &out, &out
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	e.Eventually("the RUN step to start", func() bool {
		m, _ := filepath.Glob(filepath.Join(e.Root, "snapshots", "*", "fs", "started"))
		return len(m) > 0
	})
	e.MustRun("system", "prune", "-f")
	if err := b.Wait(); err != nil {
		t.Fatalf("build whose RUN ran through a system prune: %v\n%s", err, out.String())
	}
	e.mustCheckClean("after the build")
}
