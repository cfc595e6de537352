package e2e

// Concurrency (issue 6): one store, and everything at once against it —
// builds racing on the same cache entries and layers, runs racing for IP
// leases and host ports, pulls of the same layers, tags and rmi — twice,
// the second time on a warm cache. Afterwards nothing is lost or corrupt,
// no two live containers shared an IP or a port, and nothing hung: a round
// that passes its deadline dumps the berth processes, the flocks and every
// stuck berth's goroutines (SIGQUIT), then fails.

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The storm of one round, all started at once.
const (
	stormBuilds       = 20 // builds from one base, sharing their first steps
	stormRuns         = 20 // run --rm on the default bridge, each printing its IP
	stormWebs         = 4  // run -d -p 0:80, each serving its own name
	stormPulls        = 20 // 4 images, 5 pulls each, all sharing two layers
	stormTaggers      = 10 // tag base → keep, keep → tmp, rmi tmp
	stormDoomedBuilt  = 5  // storm builds made before the storm, tagged, untagged, removed in it
	stormDoomedPulled = 2  // the same for pulled images sharing the pulls' layers
	stormReaders      = 2  // images / ps -a in a loop
	stormPrunes       = 3  // image prune -f (dangling images) during the storm
	stormRounds       = 2
	// stormDeadline bounds one round; passing it is taken for a deadlock.
	stormDeadline = 4 * time.Minute
	// stormEpoch is SOURCE_DATE_EPOCH for the even builds: their common
	// steps then make byte-identical layers and images, so concurrent
	// builds race to write the very same layer, snapshot and image record.
	stormEpoch = "1700000000"
)

func TestConcurrencyStorm(t *testing.T) {
	start := time.Now()
	s := newStorm(t)
	for r := 1; r <= stormRounds; r++ {
		s.round(r)
		if t.Failed() {
			t.Fatalf("round %d failed; not starting another", r)
		}
	}
	t.Logf("%d rounds in %v", stormRounds, time.Since(start).Round(time.Second))
}

// storm is the state the rounds share: one env, one registry, and every
// reference that must still resolve (to the same image) when the test ends.
type storm struct {
	t      *testing.T
	e      *Env
	reg    *fakeRegistry
	base   string // busybox, the FROM of every build and the image of most runs
	baseID string
	dir    string
	// common and baseLayer are layers every registry image has, baseLayer
	// byte-identical to the base image's own: pulls race with builds and runs
	// on its snapshot, and with each other on both.
	baseLayer, common []byte
	apps              map[int]string    // registry image k → its ID
	want              map[string]string // ref → image ID
	gone              []string          // refs removed on purpose
}

func newStorm(t *testing.T) *storm {
	e := netEnv(t)
	s := &storm{t: t, e: e, reg: startFakeRegistry(t), dir: t.TempDir(), apps: map[int]string{}, want: map[string]string{}}
	s.base = e.BusyboxImage()
	s.baseID = e.Inspect(s.base, "{{.Id}}")
	s.baseLayer = savedLayer(t, e, s.base)
	s.common = layerTar(map[string][]byte{"common": []byte("common\n"), "common.bin": randomBytes(512 << 10)})
	e.MustRun("run", "--rm", s.base, "true") // the default network exists before the storm
	return s
}

// savedLayer is the base image's only layer as `save` writes it: the
// uncompressed tar, whose digest is the layer's DiffID.
func savedLayer(t *testing.T, e *Env, ref string) []byte {
	t.Helper()
	archive := filepath.Join(t.TempDir(), "base.tar")
	e.MustRun("save", "-o", archive, ref)
	files := readTarFiles(t, archive)
	var m []struct{ Layers []string }
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil || len(m) != 1 || len(m[0].Layers) != 1 {
		t.Fatalf("save of %s: want one image of one layer, manifest.json %s (%v)", ref, files["manifest.json"], err)
	}
	return files[m[0].Layers[0]]
}

func readTarFiles(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			out[h.Name] = b
		}
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// app is the registry image pulls of slot k fetch (made on first use):
// base, common and a layer of its own with /marker.
func (s *storm) app(k int) (ref, id, marker string) {
	repo := fmt.Sprintf("c/app%d", k)
	ref = s.reg.Host() + "/" + repo + ":latest"
	marker = fmt.Sprintf("pulled-%d", k)
	if s.apps[k] == "" {
		own := layerTar(map[string][]byte{"marker": []byte(marker + "\n"), "own.bin": randomBytes(256 << 10)})
		s.apps[k] = s.reg.addLayers(repo, "latest", s.baseLayer, s.common, own).String()
	}
	return ref, s.apps[k], marker
}

// buildSpec is one storm build: its Dockerfile and what `cat` of its files
// must print in a container.
type buildSpec struct {
	tag, dir, want string
	epoch          bool
}

// buildSpecs writes the round's build contexts. All start FROM base with
// ENV SHARED=1; most then RUN the same step; they differ only after that.
// Round 2 repeats the even ones exactly (a full cache hit) and adds a last
// step to the odd ones (new steps on cached parents).
func (s *storm) buildSpecs(r int) []buildSpec {
	var out []buildSpec
	for i := 0; i < stormBuilds; i++ {
		dir := filepath.Join(s.dir, fmt.Sprintf("build-%d-%d", r, i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			s.t.Fatal(err)
		}
		id := fmt.Sprintf("b-%d", i)
		df := "FROM " + s.base + "\nENV SHARED=1\n"
		want := id + "\n"
		if i%4 != 2 {
			df += "RUN echo shared > /shared\n"
			want += "shared\n"
		}
		switch i % 4 {
		case 0:
			df += "RUN echo " + id + " > /id\n"
		case 1:
			df += "COPY id /id\n"
		case 2:
			df += fmt.Sprintf("LABEL n=%d\nCOPY id /id\n", i)
		case 3:
			df += fmt.Sprintf("ENV ID=%d\nRUN echo b-$ID > /id\n", i)
		}
		if r > 1 && i%2 == 1 {
			df += fmt.Sprintf("RUN echo round-%d > /round\n", r)
			want += fmt.Sprintf("round-%d\n", r)
		}
		for name, body := range map[string]string{"Dockerfile": df, "id": id + "\n"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				s.t.Fatal(err)
			}
		}
		out = append(out, buildSpec{tag: fmt.Sprintf("b-%d-%d:latest", r, i), dir: dir, want: want, epoch: i%2 == 0})
	}
	return out
}

const catFiles = "cat /id /shared /round /marker /common 2>/dev/null; true"

// stormResults is what every storm command returned, by kind and index.
type stormResults struct {
	builds, runs, webs, pulls []Result
	taggers                   [][]Result // tag, tag, rmi
	doomed                    [][]Result // tag alias, rmi, rmi alias
	inuse, prunes, readers    []Result
}

// doomedImage is made before the storm and removed in it.
type doomedImage struct {
	ref, alias, id string
	// shared: a storm build ends on the same image, and when it tags it
	// first, the last rmi only untags.
	shared bool
}

func (s *storm) round(r int) {
	t, e := s.t, s.e
	t.Logf("---- storm round %d ----", r)
	roundStart := time.Now()

	// Before the storm: the images it removes, and one a container uses.
	// The built doomed images are storm builds made early: in the storm,
	// those builds hit the cache on every step of an image being removed.
	builds := s.buildSpecs(r)
	doomed := make([]doomedImage, stormDoomedBuilt)
	var prep sync.WaitGroup
	for k := range doomed {
		prep.Add(1)
		go func() {
			defer prep.Done()
			ref := fmt.Sprintf("doomed-%d-%d:latest", r, k)
			out := e.Run("build", "-q", "-t", ref, builds[2*k+1].dir)
			if out.Code != 0 {
				t.Errorf("build %s:\n%s", ref, out)
			}
			doomed[k] = doomedImage{ref, fmt.Sprintf("alias-%d-%d:latest", r, k), strings.TrimSpace(out.Stdout), true}
		}()
	}
	prep.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for k := 0; k < stormDoomedPulled; k++ {
		repo := fmt.Sprintf("c/doomed-%d-%d", r, k)
		own := layerTar(map[string][]byte{"doomed": randomBytes(64 << 10)})
		id := s.reg.addLayers(repo, "latest", s.baseLayer, s.common, own)
		ref := s.reg.Host() + "/" + repo + ":latest"
		e.MustRun("pull", "-q", ref)
		doomed = append(doomed, doomedImage{ref, fmt.Sprintf("alias-%d-p%d:latest", r, k), id.String(), false})
	}
	inuseDir := filepath.Join(s.dir, fmt.Sprintf("inuse-%d", r))
	os.MkdirAll(inuseDir, 0o755)
	os.WriteFile(filepath.Join(inuseDir, "Dockerfile"), []byte(fmt.Sprintf("FROM %s\nLABEL inuse=%d\n", s.base, r)), 0o644)
	inuse := fmt.Sprintf("inuse-%d:latest", r)
	inuseID := strings.TrimSpace(e.MustRun("build", "-q", "-t", inuse, inuseDir).Stdout)
	inuseCtr := fmt.Sprintf("inuse-%d", r)
	e.MustRun("run", "-d", "--name", inuseCtr, inuse, "sleep", "100000")

	type pull struct{ ref, id, marker string }
	var pulls []pull
	for i := 0; i < stormPulls; i++ {
		ref, id, marker := s.app(i%4 + r - 1)
		pulls = append(pulls, pull{ref, id, marker})
	}
	syncDir := filepath.Join(s.dir, fmt.Sprintf("sync-%d", r))
	if err := os.MkdirAll(syncDir, 0o777); err != nil {
		t.Fatal(err)
	}
	webs := make([]string, stormWebs)
	for i := range webs {
		webs[i] = fmt.Sprintf("web-%d-%d", r, i)
	}
	// Epoch builds see SOURCE_DATE_EPOCH; the copy shares the root and the
	// leak bookkeeping.
	eEpoch := *e
	eEpoch.ExtraEnv = append(slices.Clone(e.ExtraEnv), "SOURCE_DATE_EPOCH="+stormEpoch)

	// The storm. Commands run under cmdCtx, cancelled (SIGQUIT: goroutine
	// dumps) only after the watchdog has recorded the processes and locks.
	cmdCtx, cancelCmds := context.WithCancel(context.Background())
	defer cancelCmds()
	watchCtx, stopWatch := context.WithTimeout(context.Background(), stormDeadline)
	defer stopWatch()
	stormDone := make(chan struct{})
	go func() {
		select {
		case <-stormDone:
		case <-watchCtx.Done():
			if watchCtx.Err() == context.DeadlineExceeded {
				s.dumpStuck(fmt.Sprintf("round %d passed its %v deadline (deadlock?)", r, stormDeadline))
			}
			cancelCmds()
		}
	}()
	res := stormResults{
		builds: make([]Result, stormBuilds), runs: make([]Result, stormRuns), webs: make([]Result, stormWebs),
		pulls: make([]Result, stormPulls), taggers: make([][]Result, stormTaggers), doomed: make([][]Result, len(doomed)),
		inuse: make([]Result, 2), prunes: make([]Result, stormPrunes), readers: make([]Result, 0),
	}
	var readersMu sync.Mutex
	runDone := make([]chan struct{}, stormRuns)
	websDone := make(chan struct{})
	var wg, webWG sync.WaitGroup
	goRun := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}
	for i, b := range builds {
		goRun(func() {
			env := e
			if b.epoch {
				env = &eEpoch
			}
			res.builds[i] = env.RunContext(cmdCtx, "build", "-q", "-t", b.tag, b.dir)
		})
	}
	for i := range stormRuns {
		runDone[i] = make(chan struct{})
		img := s.base
		if r > 1 && i%2 == 0 { // round 2 also runs round 1's builds
			img = fmt.Sprintf("b-%d-%d", r-1, i)
		}
		// Each holds its lease until all have one (or gave up), so every
		// IP printed was live at the same moment as every other.
		script := fmt.Sprintf(`ip=$(ip -4 -o addr show eth0 | sed 's/.* inet \([0-9.]*\)\/.*/\1/') && echo "$ip" > /sync/ip-%[1]d.tmp && mv /sync/ip-%[1]d.tmp /sync/ip-%[1]d; `+
			`n=0; while [ ! -e /sync/go ] && [ $n -lt 900 ]; do sleep 0.2; n=$((n+1)); done; echo "$ip"`, i)
		goRun(func() {
			defer close(runDone[i])
			res.runs[i] = e.RunContext(cmdCtx, "run", "--rm", "-v", syncDir+":/sync", img, "sh", "-c", script)
		})
	}
	for i, name := range webs {
		webWG.Add(1)
		goRun(func() {
			defer webWG.Done()
			res.webs[i] = e.RunContext(cmdCtx, "run", "-d", "--name", name, "-p", "0:80", s.base,
				"sh", "-c", "mkdir /www && echo "+name+" > /www/index.html && exec httpd -f -p 80 -h /www")
		})
	}
	go func() {
		webWG.Wait()
		close(websDone)
	}()
	for i, p := range pulls {
		goRun(func() { res.pulls[i] = e.RunContext(cmdCtx, "pull", "-q", p.ref) })
	}
	for i := range stormTaggers {
		goRun(func() {
			keep, tmp := fmt.Sprintf("keep-%d-%d", r, i), fmt.Sprintf("tmp-%d-%d", r, i)
			res.taggers[i] = []Result{
				e.RunContext(cmdCtx, "tag", s.base, keep),
				e.RunContext(cmdCtx, "tag", keep, tmp),
				e.RunContext(cmdCtx, "rmi", tmp),
			}
		})
	}
	for i, d := range doomed {
		goRun(func() {
			// Spread over the storm: a removal between a build's cache
			// probe and its tag is the race that once failed builds.
			time.Sleep(time.Duration(i) * 700 * time.Millisecond)
			res.doomed[i] = []Result{
				e.RunContext(cmdCtx, "tag", d.ref, d.alias),
				e.RunContext(cmdCtx, "rmi", d.ref),
				e.RunContext(cmdCtx, "rmi", d.alias),
			}
		})
	}
	for i, ref := range []string{inuse, inuseID} {
		goRun(func() { res.inuse[i] = e.RunContext(cmdCtx, "rmi", ref) })
	}
	// Dangling-image prunes, spread over the storm: every build step is
	// dangling until the build tags its last one.
	for i := range res.prunes {
		goRun(func() {
			time.Sleep(time.Duration(i) * 1500 * time.Millisecond)
			res.prunes[i] = e.RunContext(cmdCtx, "image", "prune", "-f")
		})
	}
	for range stormReaders {
		goRun(func() {
			for _, args := range [][]string{{"images", "-a"}, {"ps", "-a"}, {"images"}, {"ps", "-a", "-s"}, {"system", "df"}} {
				rr := e.RunContext(cmdCtx, args...)
				readersMu.Lock()
				res.readers = append(res.readers, rr)
				readersMu.Unlock()
			}
		})
	}

	// The barrier: once every held run has an IP (or ended) and the web
	// containers run, read the detached containers' IPs — all of these
	// leases are live now — then let the held runs go.
	ips := map[string]string{} // IP → who
	dupIP := func(ip, who string) {
		if net.ParseIP(ip).To4() == nil {
			t.Errorf("round %d: %s: no IPv4 address (%q)", r, who, ip)
			return
		}
		if other, ok := ips[ip]; ok {
			t.Errorf("round %d: duplicate IP %s: %s and %s", r, ip, other, who)
		}
		ips[ip] = who
	}
	if s.waitBarrier(cmdCtx, syncDir, runDone, websDone) {
		for i, name := range append(slices.Clone(webs), inuseCtr) {
			if i < len(webs) && res.webs[i].Code != 0 {
				continue
			}
			ip := strings.TrimSpace(e.RunContext(cmdCtx, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", name).Stdout)
			dupIP(ip, name)
		}
	}
	if err := os.WriteFile(filepath.Join(syncDir, "go"), nil, 0o644); err != nil {
		t.Error(err)
	}
	wg.Wait()
	close(stormDone)
	t.Logf("round %d: storm of %d commands took %v", r, stormBuilds+stormRuns+stormWebs+stormPulls+3*stormTaggers+3*len(doomed)+2+stormPrunes+len(res.readers),
		time.Since(roundStart).Round(time.Millisecond))
	if watchCtx.Err() == context.DeadlineExceeded {
		t.Fatalf("round %d: deadline passed", r)
	}

	// Every command did what it should.
	for i, b := range builds {
		if br := res.builds[i]; br.Code != 0 || !regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`).MatchString(br.Stdout) {
			t.Errorf("round %d: build %s:\n%s", r, b.tag, br)
		} else {
			s.want[b.tag] = strings.TrimSpace(br.Stdout)
		}
	}
	for i, rr := range res.runs {
		if rr.Code != 0 {
			t.Errorf("round %d: run --rm #%d:\n%s", r, i, rr)
			continue
		}
		dupIP(strings.TrimSpace(rr.Stdout), fmt.Sprintf("run --rm #%d", i))
	}
	ports := map[string]string{}
	for i, name := range webs {
		if wr := res.webs[i]; wr.Code != 0 || !idPattern.MatchString(wr.Stdout) {
			t.Errorf("round %d: run -d -p %s:\n%s", r, name, wr)
			continue
		}
		hp := strings.TrimSpace(e.MustRun("port", name, "80").Stdout)
		_, port, err := net.SplitHostPort(hp)
		if err != nil || port == "0" {
			t.Errorf("round %d: %s: port 80 published on %q", r, name, hp)
			continue
		}
		if other, ok := ports[port]; ok {
			t.Errorf("round %d: host port %s given to %s and %s", r, port, other, name)
		}
		ports[port] = name
		var body string
		e.Eventually(name+" answers on its port", func() bool {
			body, _ = httpGet("http://127.0.0.1:" + port + "/")
			return strings.TrimSpace(body) == name
		})
	}
	t.Logf("round %d: %d live containers at once, all on distinct IPs; %d distinct host ports", r, len(ips), len(ports))
	for i, p := range pulls {
		if pr := res.pulls[i]; pr.Code != 0 {
			t.Errorf("round %d: pull #%d:\n%s", r, i, pr)
		} else {
			s.want[p.ref] = p.id
		}
	}
	for i, trs := range res.taggers {
		tmp := fmt.Sprintf("tmp-%d-%d:latest", r, i)
		if trs[0].Code != 0 || trs[1].Code != 0 || trs[2].Code != 0 || trs[2].Stdout != "Untagged: "+tmp+"\n" {
			t.Errorf("round %d: tag, tag, rmi:\n%s\n%s\n%s", r, trs[0], trs[1], trs[2])
		}
		s.want[fmt.Sprintf("keep-%d-%d:latest", r, i)] = s.baseID
		s.gone = append(s.gone, tmp)
	}
	for i, d := range doomed {
		drs := res.doomed[i]
		// A pulled image also loses its repo@digest name; a built one may
		// take untagged parents with it.
		if drs[0].Code != 0 || drs[1].Code != 0 || drs[2].Code != 0 ||
			!strings.HasPrefix(drs[1].Stdout, "Untagged: "+d.ref+"\n") || strings.Contains(drs[1].Stdout, "Deleted:") ||
			!strings.HasPrefix(drs[2].Stdout, "Untagged: "+d.alias+"\n") ||
			(!d.shared && !strings.Contains(drs[2].Stdout, "Deleted: "+d.id+"\n")) {
			t.Errorf("round %d: tag %s %s, rmi both:\n%s\n%s\n%s", r, d.ref, d.alias, drs[0], drs[1], drs[2])
		}
		s.gone = append(s.gone, d.ref, d.alias)
	}
	for i, ir := range res.inuse {
		if ir.Code != 1 || ir.Stdout != "" || !strings.Contains(ir.Stderr, "conflict") || !strings.Contains(ir.Stderr, "container") {
			t.Errorf("round %d: rmi of the image container %s uses (#%d) must fail with a conflict:\n%s", r, inuseCtr, i, ir)
		}
	}
	for _, rr := range res.prunes {
		if rr.Code != 0 {
			t.Errorf("round %d: image prune:\n%s", r, rr)
		}
		t.Logf("round %d: image prune deleted %d image(s)", r, strings.Count(rr.Stdout, "deleted: "))
	}
	for _, rr := range res.readers {
		if rr.Code != 0 {
			t.Errorf("round %d: reader:\n%s", r, rr)
		}
	}

	// The store: every reference there, right, verifiable, runnable.
	s.want[inuse] = inuseID
	s.checkStore(r)
	var newRefs []string
	wantOut := map[string]string{}
	for _, b := range builds {
		newRefs = append(newRefs, b.tag)
		wantOut[b.tag] = b.want
	}
	for _, p := range pulls {
		if !slices.Contains(newRefs, p.ref) {
			newRefs = append(newRefs, p.ref)
			wantOut[p.ref] = p.marker + "\ncommon\n"
		}
	}
	s.runEach(newRefs, wantOut)

	// The round's containers go; the in-use image can go with them.
	e.MustRun(append([]string{"rm", "-f", inuseCtr}, webs...)...)
	e.MustRun("rmi", inuse)
	delete(s.want, inuse)
	s.gone = append(s.gone, inuse)
	waitCounts(e, netCounts{})
	if ids := strings.Fields(e.MustRun("ps", "-aq").Stdout); len(ids) > 0 {
		t.Errorf("round %d: containers left: %v", r, ids)
	}
	t.Logf("round %d took %v", r, time.Since(roundStart).Round(time.Millisecond))
}

// waitBarrier waits until every held run has written its IP or ended and
// the detached runs have returned. False when the storm was cancelled.
func (s *storm) waitBarrier(ctx context.Context, syncDir string, runDone []chan struct{}, websDone chan struct{}) bool {
	for {
		ready := true
		for i, done := range runDone {
			select {
			case <-done:
				continue
			default:
			}
			if _, err := os.Stat(filepath.Join(syncDir, fmt.Sprintf("ip-%d", i))); err != nil {
				ready = false
				break
			}
		}
		select {
		case <-websDone:
		default:
			ready = false
		}
		if ready {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// checkStore compares the listing, inspect and `system check` with what
// the storms so far must have left.
func (s *storm) checkStore(r int) {
	t, e := s.t, s.e
	listed := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(e.MustRun("images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").Stdout), "\n") {
		if ref, id, ok := strings.Cut(l, " "); ok {
			listed[ref] = id
		}
	}
	var refs []string
	for ref, id := range s.want {
		refs = append(refs, ref)
		if got, ok := listed[ref]; !ok {
			t.Errorf("round %d: %s is not listed (lost tag)", r, ref)
		} else if got != id {
			t.Errorf("round %d: %s lists image %s, want %s", r, ref, got, id)
		}
	}
	for _, ref := range s.gone {
		if _, ok := listed[ref]; ok {
			t.Errorf("round %d: %s was removed but is listed", r, ref)
		}
	}
	slices.Sort(refs)
	out := e.MustRun(append([]string{"image", "inspect", "-f", "{{.Id}}"}, refs...)...).Stdout
	if got := strings.Fields(out); len(got) != len(refs) {
		t.Errorf("round %d: image inspect of %d refs printed %d IDs", r, len(refs), len(got))
	} else {
		for i, ref := range refs {
			if got[i] != s.want[ref] {
				t.Errorf("round %d: image inspect %s: %s, want %s", r, ref, got[i], s.want[ref])
			}
		}
	}
	if cr := e.Run("system", "check"); cr.Code != 0 || cr.Stdout != "ok\n" {
		t.Errorf("round %d: system check after the storm:\n%s", r, cr)
	}
}

// runEach runs a container of each ref (a few at a time) and compares
// what it shows of its files.
func (s *storm) runEach(refs []string, want map[string]string) {
	sem := make(chan struct{}, 6)
	var wg sync.WaitGroup
	for _, ref := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if rr := s.e.Run("run", "--rm", ref, "sh", "-c", catFiles); rr.Code != 0 || rr.Stdout != want[ref] {
				s.t.Errorf("a container of %s: want %q:\n%s", ref, want[ref], rr)
			}
		}()
	}
	wg.Wait()
}

// dumpStuck records why a storm hangs: the env's processes with their
// kernel wait channels, the flocks held and wanted, the lock files, and
// this test's goroutines (which berth commands it still waits for).
// Stuck berths dump their own goroutines when cancelled (RunContext).
func (s *storm) dumpStuck(why string) {
	e := s.e
	var pids []string
	for _, p := range withDescendants(pidsOf(e.processesOfRoot())) {
		pids = append(pids, strconv.Itoa(p))
	}
	var ps []byte
	if len(pids) > 0 {
		ps, _ = exec.Command("ps", "-o", "pid,ppid,stat,etime,wchan:32,args", "-p", strings.Join(pids, ",")).CombinedOutput()
	}
	locks, _ := os.ReadFile("/proc/locks")
	lockFiles, _ := exec.Command("ls", "-li", filepath.Join(e.Root, "run", "locks")).CombinedOutput()
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	s.t.Errorf("%s\n--- processes:\n%s\n--- /proc/locks:\n%s\n--- lock files (inode numbers as in /proc/locks):\n%s\n--- test goroutines:\n%s",
		why, ps, locks, lockFiles, buf)
}

func pidsOf(ps []proc) []int {
	var out []int
	for _, p := range ps {
		out = append(out, p.pid)
	}
	return out
}

// TestConcurrencyBuildCacheHitVsRmi: builds that hit the cache on every
// step of an image while that image is removed. The rmi prunes the steps
// the builds stand on; the builds must still succeed, tagged, with a
// complete image (they failed with "No such image" at the final tag).
func TestConcurrencyBuildCacheHitVsRmi(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	df := "FROM " + e.BusyboxImage() + "\nENV A=1\nRUN echo x > /x\nLABEL last=1\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	const rounds, builds = 8, 5
	for i := range rounds {
		e.MustRun("build", "-q", "--network", "none", "-t", "victim", dir)
		res := make([]Result, builds+1)
		var wg sync.WaitGroup
		for j := range res {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if j == builds {
					res[j] = e.Run("rmi", "victim")
				} else {
					res[j] = e.Run("build", "-q", "--network", "none", "-t", fmt.Sprintf("hit-%d-%d", i, j), dir)
				}
			}()
		}
		wg.Wait()
		for j, r := range res {
			if r.Code != 0 {
				t.Errorf("round %d, #%d:\n%s", i, j, r)
			}
		}
		for j := range builds {
			tag := fmt.Sprintf("hit-%d-%d", i, j)
			if r := e.Run("run", "--rm", "--network", "none", tag, "cat", "/x"); r.Code != 0 || r.Stdout != "x\n" {
				t.Errorf("a container of %s:\n%s", tag, r)
			}
		}
	}
	if r := e.Run("system", "check"); r.Code != 0 || r.Stdout != "ok\n" {
		t.Errorf("system check:\n%s", r)
	}
}

// TestConcurrencyRunVsRmi: containers created from an image while it is
// removed. Either the container wins (it runs and the rmi is refused, or
// the image goes but the container keeps its layers) or the rmi does (the
// run says "No such image"); never a half-made container or an obscure
// "parent not found" or "manifest: content ... not found" (which it was:
// GC took the layers between the lookup and the container's snapshot, or
// the manifest between reading the image's record and its blobs).
func TestConcurrencyRunVsRmi(t *testing.T) {
	e := newEnv(t)
	base := e.BusyboxImage()
	const rounds, runs = 10, 2
	for i := range rounds {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+base+"\nCOPY f /f\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "f"), []byte(fmt.Sprintf("f-%d\n", i)), 0o644)
		tag := fmt.Sprintf("rvr-%d", i)
		id := strings.TrimPrefix(strings.TrimSpace(e.MustRun("build", "-q", "-t", tag, dir).Stdout), "sha256:")
		res := make([]Result, runs+1)
		var wg sync.WaitGroup
		for j := range res {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if j == runs {
					res[j] = e.Run("rmi", tag)
				} else {
					// By ID: a missing image is "No such image", not a pull.
					res[j] = e.Run("run", "--rm", "--network", "none", id, "cat", "/f")
				}
			}()
		}
		wg.Wait()
		rmi := res[runs]
		if rmi.Code != 0 && !(rmi.Code == 1 && strings.Contains(rmi.Stderr, "conflict")) {
			t.Errorf("round %d: rmi:\n%s", i, rmi)
		}
		for _, r := range res[:runs] {
			ran := r.Code == 0 && r.Stdout == fmt.Sprintf("f-%d\n", i)
			lost := r.Code == 125 && rmi.Code == 0 && strings.Contains(r.Stderr, "No such image")
			if !ran && !lost {
				t.Errorf("round %d: run during rmi (rmi exit %d):\n%s", i, rmi.Code, r)
			}
		}
		if rmi.Code != 0 {
			e.MustRun("rmi", tag)
		}
	}
	if r := e.MustRun("ps", "-aq"); r.Stdout != "" {
		t.Errorf("containers left:\n%s", r)
	}
	if r := e.Run("system", "check"); r.Code != 0 || r.Stdout != "ok\n" {
		t.Errorf("system check:\n%s", r)
	}
}

// TestConcurrencyPruneVsStarts: `system prune` while containers start and
// builds run their RUN steps. Prune may take a container that was created
// but not yet started (its run then says "No such container", as Docker's
// can), but never what a process is in charge of: it used to tear down the
// bundle, rootfs and network namespace of containers being started and of
// build sandboxes, which then failed in a dozen obscure ways.
func TestConcurrencyPruneVsStarts(t *testing.T) {
	e := netEnv(t)
	base := e.BusyboxImage()
	e.MustRun("run", "--rm", base, "true") // the default network exists
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+base+"\nRUN echo one > /x\nRUN echo two >> /x\n"), 0o644)
	const rounds, runs, builds, prunes = 3, 5, 3, 3
	for i := range rounds {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var results []Result
		do := func(args ...string) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.Run(args...)
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			}()
		}
		for range runs {
			do("run", "--rm", base, "true")
			do("run", "-d", base, "sleep", "1")
		}
		for j := range builds {
			do("build", "-q", "--no-cache", "-t", fmt.Sprintf("pvs-%d-%d", i, j), dir)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range prunes {
				r := e.Run("system", "prune", "-f")
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			}
		}()
		wg.Wait()
		for _, r := range results {
			pruned := r.Args[0] == "run" && r.Code == 125 && strings.Contains(r.Stderr, "No such container")
			if r.Code != 0 && !pruned {
				t.Errorf("round %d:\n%s", i, r)
			}
		}
	}
	for j := range builds {
		if r := e.Run("run", "--rm", fmt.Sprintf("pvs-%d-%d", rounds-1, j), "cat", "/x"); r.Code != 0 || r.Stdout != "one\ntwo\n" {
			t.Errorf("a container of a build:\n%s", r)
		}
	}
	e.Eventually("the detached containers exit", func() bool {
		return strings.TrimSpace(e.MustRun("ps", "-q").Stdout) == ""
	})
	e.MustRun("system", "prune", "-f")
	if r := e.Run("system", "check"); r.Code != 0 || r.Stdout != "ok\n" {
		t.Errorf("system check:\n%s", r)
	}
	waitCounts(e, netCounts{})
}
