package e2e

// Soak and leaks (issue 6): 1,000 `run --rm` and 200 `run -d -p` + real TCP
// connect + `rm -f` cycles against one root. The host is snapshotted before,
// at checkpoints and after: mounts, links, berth's nft table and iptables
// chains, leases, cgroups in every hierarchy, processes (supervisors
// included) and every file under the root must come back to the baseline.
// berth's own memory is sampled on every cycle (peak RSS of each CLI process
// from wait4, VmRSS of each supervisor and of one long-lived one) and must
// not grow with the number of cycles.
//
// The machine these tests run on may be shared with other berth users, so
// what is asserted is what can be attributed to this test's root (its path,
// its bridge and table names, the IDs of its containers); machine-wide counts
// are logged beside it.

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The figures the issue names. BERTH_SOAK_RM / BERTH_SOAK_PUBLISH lower them
// for a quick local run; CI runs the defaults.
const (
	soakRmCycles      = 1000
	soakPublishCycles = 200
	soakBridgeEvery   = 5   // one `run --rm` in 5 on the default bridge, the rest --network none
	soakFailEvery     = 50  // two `run --rm` in 50 fail to start (no such command), one on each network
	soakCheckEvery    = 100 // host snapshot compared every this many cycles
	soakWindow        = 100 // first/last cycles whose median memory is compared
)

func soakCount(t *testing.T, env string, def int) int {
	t.Helper()
	s := os.Getenv(env)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", env, s)
	}
	t.Logf("%s=%d (the issue's figure is %d)", env, n, def)
	return n
}

func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak")
	}
	start := time.Now()
	rmCycles := soakCount(t, "BERTH_SOAK_RM", soakRmCycles)
	pubCycles := soakCount(t, "BERTH_SOAK_PUBLISH", soakPublishCycles)
	e := netEnv(t)
	// berth's temporary files go to a directory of the soak's own, which
	// must be empty at every checkpoint: nothing left outside the root.
	tmp := t.TempDir()
	e.ExtraEnv = append(e.ExtraEnv, "TMPDIR="+tmp)
	img := e.BusyboxImage()
	s := &soaker{e: e, t: t, ids: map[string]bool{}, tmp: tmp}

	// Warm up: the default network (bridge, table, chains), the installed
	// supervisor binary and the seccomp cache exist from here on, and are
	// part of the baseline.
	s.mustRun("run", "--rm", img, "true")
	s.publishCycle(img, -1)
	base := s.snapshot()
	t.Logf("baseline: %s", base.summary())

	// A long-lived published container beside every cycle: its lease, rule,
	// veth and supervisor must survive 1,200 neighbours untouched, and its
	// supervisor must neither grow nor gather file descriptors.
	keep := e.Name("soak-keep")
	keepID := e.RunDetached(keep, "-p", "0:80", img, "httpd", "-f", "-p", "80", "-h", "/etc")
	s.ids[keepID] = true
	keepPort := s.hostPort(keepID)
	s.connect(keepPort, keepID)
	s.keepShim = supervisorPid(keepID)
	if s.keepShim <= 1 {
		t.Fatalf("no supervisor for %s", keepID)
	}
	baseKeep := s.snapshot()
	s.keepRSS0, s.keepFDs0 = procRSS(s.keepShim), procFDs(s.keepShim)
	t.Logf("with %s: %s; its supervisor %d: VmRSS %d KiB, %d fds", keep, baseKeep.summary(), s.keepShim, s.keepRSS0, s.keepFDs0)

	// Phase 1: run --rm, mostly --network none, one in soakBridgeEvery on the
	// default bridge. The container prints the mount of its /etc/hostname,
	// whose source names its full ID (its cgroup path does not: a private
	// cgroup namespace shows it as /): the cgroup check below and the
	// harness's leak check use it.
	// Two cycles in soakFailEvery run a command that does not exist, so the
	// failed-start cleanup path is soaked too (berth names the container's
	// ID in its error).
	var rssNone, rssBridge []int64
	var rssAll []int64
	failed := 0
	idLine := regexp.MustCompile(`/([0-9a-f]{64})/hostname /etc/hostname `)
	p1 := time.Now()
	window := p1
	for i := 0; i < rmCycles; i++ {
		bridge := i%soakBridgeEvery == soakBridgeEvery-1
		fail := i%soakFailEvery == soakFailEvery-2 || i%soakFailEvery == soakFailEvery/2-1
		cmd := []string{"grep", " /etc/hostname ", "/proc/self/mountinfo"}
		if fail {
			cmd = []string{"/no/such/soak-command"}
		}
		args := []string{"run", "--rm", "--network", "none", img}
		if bridge {
			args = []string{"run", "--rm", img}
		}
		r, rss := s.run(append(args, cmd...)...)
		if fail {
			id := idPattern.FindString(r.Stderr)
			if r.Code != 127 || id == "" {
				t.Fatalf("cycle %d: want exit 127 and an error naming the container:\n%s", i, r)
			}
			s.ids[id] = true
			failed++
		} else {
			if r.Code != 0 {
				t.Fatalf("cycle %d: %s", i, r)
			}
			m := idLine.FindStringSubmatch(r.Stdout)
			if m == nil {
				t.Fatalf("cycle %d: no container ID in the mount of /etc/hostname:\n%s", i, r)
			}
			s.ids[m[1]] = true
		}
		rssAll = append(rssAll, rss)
		if bridge {
			rssBridge = append(rssBridge, rss)
		} else {
			rssNone = append(rssNone, rss)
		}
		if (i+1)%soakCheckEvery == 0 || i == rmCycles-1 {
			s.checkpoint(fmt.Sprintf("run --rm cycle %d (window %v)", i+1, time.Since(window).Round(time.Millisecond)), baseKeep)
			window = time.Now()
		}
	}
	phase1 := time.Since(p1)
	t.Logf("run --rm: %d cycles (%d --network none, %d bridge; %d of them failed starts) in %v",
		rmCycles, len(rssNone), len(rssBridge), failed, phase1.Round(time.Millisecond))
	s.flat("berth run --rm --network none, peak RSS", rssNone)
	s.flat("berth run --rm (bridge), peak RSS", rssBridge)
	s.flat("berth run --rm (all), peak RSS", rssAll)

	// Phase 2: run -d -p + TCP connect through loopback + rm -f.
	p2 := time.Now()
	window = p2
	for i := 0; i < pubCycles; i++ {
		s.publishCycle(img, i)
		if (i+1)%(soakCheckEvery/2) == 0 || i == pubCycles-1 {
			s.checkpoint(fmt.Sprintf("publish cycle %d (window %v)", i+1, time.Since(window).Round(time.Millisecond)), baseKeep)
			window = time.Now()
		}
	}
	phase2 := time.Since(p2)
	t.Logf("run -d -p / connect / rm -f: %d cycles in %v", pubCycles, phase2.Round(time.Millisecond))
	s.connect(keepPort, keepID) // still served after all its neighbours came and went
	t.Logf("publish cycle medians (informative, not asserted): run -d %v, port %v, connect %v, rm -f %v",
		medianDur(s.steps[0]), medianDur(s.steps[1]), medianDur(s.steps[2]), medianDur(s.steps[3]))
	s.flat("berth run -d -p, peak RSS", s.rssRunD)
	s.flat("berth rm -f, peak RSS", s.rssRm)
	s.flat("berth port, peak RSS", s.rssPort)
	s.flat("supervisor (berth-shim) VmRSS", s.shimRSS)
	s.flat("supervisor (berth-shim) VmHWM", s.shimHWM)
	if len(s.keepRSS) == 0 {
		t.Errorf("no sample of the long-lived supervisor %d (gone?)", s.keepShim)
	} else if last := s.keepRSS[len(s.keepRSS)-1]; !withinBound(s.keepRSS0, last) {
		t.Errorf("long-lived supervisor grew: VmRSS %d KiB at the start, %d KiB after %d cycles", s.keepRSS0, last, rmCycles+pubCycles)
	}

	s.mustRun("rm", "-f", keep)
	s.keepShim = 0
	end := s.checkpoint("end", base)
	t.Logf("end: %s", end.summary())
	if r := s.mustRun("system", "check"); strings.TrimSpace(r.Stdout) != "" {
		t.Logf("system check: %s", strings.TrimSpace(r.Stdout))
	}
	t.Logf("store on disk: %d files, %d bytes before; %d files, %d bytes after",
		len(base.files), base.fileBytes, len(end.files), end.fileBytes)
	t.Logf("CPU time of %d berth invocations (with the containers they reaped): %v", s.calls, s.cpu.Round(time.Millisecond))
	t.Logf("soak wall time %v (run --rm phase %v, publish phase %v)", time.Since(start).Round(time.Millisecond),
		phase1.Round(time.Millisecond), phase2.Round(time.Millisecond))
}

// soaker runs one soak: invocations with their peak RSS, samples, and the
// container IDs it has seen.
type soaker struct {
	e   *Env
	t   *testing.T
	ids map[string]bool // every container ID the soak made
	tmp string          // berth's TMPDIR

	rssRunD, rssRm, rssPort []int64       // KiB, per publish cycle
	shimRSS, shimHWM        []int64       // KiB, the cycle's supervisor after the connect
	cpu                     time.Duration // user+system time of every berth CLI (and what it reaped)
	calls                   int
	steps                   [4][]time.Duration // publish cycle: run -d, port, connect, rm -f (for the log)
	keepShim                int                // the long-lived container's supervisor
	keepRSS0                int64              // KiB, its VmRSS at the start
	keepFDs0                int                // its open fds at the start
	keepRSS                 []int64            // KiB, its VmRSS at checkpoints
}

// run is Env.Run without its per-invocation log line (thousands of them
// would bury the figures) and with the process's peak RSS in KiB: wait4's
// ru_maxrss, which covers berth and the descendants it reaped (a --rm
// container's init).
func (s *soaker) run(args ...string) (Result, int64) {
	s.t.Helper()
	e := s.e
	ctx, cancel := context.WithTimeout(context.Background(), e.Timeout)
	defer cancel()
	cmd := e.Cmd(ctx, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := Result{Args: args, Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.Code = -1
		s.t.Fatalf("berth %s: timed out after %v\n%s", strings.Join(args, " "), e.Timeout, r)
	case errors.Is(err, exec.ErrWaitDelay):
		s.t.Fatalf("berth %s: exited but a child kept its stdout/stderr open", strings.Join(args, " "))
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case err != nil:
		s.t.Fatalf("berth %s: %v", strings.Join(args, " "), err)
	}
	e.noteIDs(r.Stdout + r.Stderr) // a failed start names its container on stderr
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss // KiB on Linux
		s.cpu += time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime))
		s.calls++
	}
	return r, rss
}

func (s *soaker) mustRun(args ...string) Result {
	s.t.Helper()
	r, _ := s.run(args...)
	if r.Code != 0 {
		s.t.Fatalf("want exit 0:\n%s", r)
	}
	return r
}

// publishCycle runs a detached httpd with a published port (and a UDP one),
// fetches /hostname through 127.0.0.1:PORT — the DNAT path — checks that the
// answer is that container's, samples its supervisor's memory and removes
// it. i < 0 is the warm-up, not sampled.
func (s *soaker) publishCycle(img string, i int) {
	s.t.Helper()
	t0 := time.Now()
	r, rssRun := s.run("run", "-d", "-p", "0:80", "-p", "53/udp", img, "httpd", "-f", "-p", "80", "-h", "/etc")
	t1 := time.Now()
	if r.Code != 0 {
		s.t.Fatalf("publish cycle %d: %s", i, r)
	}
	id := strings.TrimSpace(r.Stdout)
	if !idPattern.MatchString(id) {
		s.t.Fatalf("publish cycle %d: run -d printed %q", i, id)
	}
	s.ids[id] = true
	pr, rssPort := s.run("port", id, "80")
	if pr.Code != 0 {
		s.t.Fatalf("publish cycle %d: %s", i, pr)
	}
	port := portOf(s.t, pr.Stdout)
	t2 := time.Now()
	s.connect(port, id)
	t3 := time.Now()
	shim := supervisorPid(id)
	if shim <= 1 {
		s.t.Fatalf("publish cycle %d: no supervisor for %s", i, id)
	}
	rss, hwm := procRSS(shim), procStatus(shim, "VmHWM")
	t4 := time.Now()
	rr, rssRm := s.run("rm", "-f", id)
	if rr.Code != 0 {
		s.t.Fatalf("publish cycle %d: %s", i, rr)
	}
	if i < 0 {
		return
	}
	s.steps[0] = append(s.steps[0], t1.Sub(t0))
	s.steps[1] = append(s.steps[1], t2.Sub(t1))
	s.steps[2] = append(s.steps[2], t3.Sub(t2))
	s.steps[3] = append(s.steps[3], time.Since(t4))
	s.rssRunD = append(s.rssRunD, rssRun)
	s.rssPort = append(s.rssPort, rssPort)
	s.rssRm = append(s.rssRm, rssRm)
	s.shimRSS = append(s.shimRSS, rss)
	s.shimHWM = append(s.shimHWM, hwm)
}

// hostPort asks berth which host port publishes id's port 80.
func (s *soaker) hostPort(id string) int {
	s.t.Helper()
	return portOf(s.t, s.mustRun("port", id, "80").Stdout)
}

func portOf(t *testing.T, out string) int {
	t.Helper()
	line, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	_, p, ok := strings.Cut(line, ":")
	n, err := strconv.Atoi(p)
	if !ok || err != nil || n <= 0 {
		t.Fatalf("port printed %q, want ADDR:PORT", out)
	}
	return n
}

// connect fetches /hostname from the container's httpd through
// 127.0.0.1:port and checks the answer names the container (its hostname is
// its short ID). The container's httpd may not listen yet when run -d
// returns: retry until it answers, within a bound that only guards a hang.
func (s *soaker) connect(port int, id string) {
	s.t.Helper()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for {
		body, err := httpGetRaw(addr, "/hostname")
		if err == nil && strings.TrimSpace(body) == id[:12] {
			return
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("answer %q, want %q", body, id[:12])
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("TCP connect to %s (container %s): %s", addr, id[:12], last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// httpGetRaw is one HTTP/1.0 GET on a fresh TCP connection, returning the
// body (no client connection pool: every cycle must open its own
// connection through the NAT rule).
func httpGetRaw(addr, path string) (string, error) {
	c, err := net.DialTimeout("tcp4", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: soak\r\n\r\n", path); err != nil {
		return "", err
	}
	raw, err := io.ReadAll(c)
	if err != nil {
		return "", err
	}
	head, body, ok := strings.Cut(string(raw), "\r\n\r\n")
	if !ok || !strings.Contains(head, " 200 ") {
		return "", fmt.Errorf("not a 200 answer: %q", raw)
	}
	return body, nil
}

// ---- host snapshots -----------------------------------------------------

// hostSnap is what the host holds for the soak's root at one moment.
type hostSnap struct {
	mounts    []string // every mount whose line names the root (point, source, overlay dirs)
	links     []string // the root's bridges and every link enslaved to them
	nft       string   // berth's nft table of the root, as listed
	ipt       []string // iptables rules (filter and nat) naming the root's chains or bridge
	leases    []string // endpoints in the network records (IPAM state)
	procs     []string // processes of the root (supervisors, containers, CLIs)
	files     map[string]int64
	dirs      int
	cgroups   []string // cgroups in any hierarchy named after a container of the soak
	veths     []string // host links named after a container of the soak, wherever enslaved
	netns     int      // RUN/netns entries
	tmp       []string // entries of berth's TMPDIR
	fileBytes int64    // apparent size of the regular files under the root

	allMounts, allLinks int // machine-wide, for the log only
}

func (h hostSnap) summary() string {
	return fmt.Sprintf("%d root mounts (%d on the machine), %d links of the root (%d on the machine), %d nft lines, "+
		"%d iptables rules, %d leases, %d netns, %d processes, %d cgroups, %d files (%d bytes) + %d dirs",
		len(h.mounts), h.allMounts, len(h.links), h.allLinks, strings.Count(h.nft, "\n"), len(h.ipt),
		len(h.leases), h.netns, len(h.procs), len(h.cgroups), len(h.files), h.fileBytes, h.dirs)
}

func (s *soaker) snapshot() hostSnap {
	s.t.Helper()
	e := s.e
	root := e.Root
	tag := rootTag(root)
	var h hostSnap

	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		s.t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(mi)), "\n") {
		h.allMounts++
		if strings.Contains(unescapeMountinfo(line), root) {
			f := strings.Fields(line)
			// Mount and parent IDs change with every mount: keep the rest.
			h.mounts = append(h.mounts, strings.Join(f[4:], " "))
		}
	}
	sort.Strings(h.mounts)

	bridges := map[string]bool{"berth" + tag: true}
	for _, b := range rootBridges(e) {
		bridges[b] = true
	}
	veths := map[string]bool{}
	nets := netRecords(e)
	for id := range s.ids {
		for _, n := range nets {
			veths[hostVethName(id, n.ID)] = true
		}
	}
	out, err := exec.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		s.t.Fatalf("ip link: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		h.allLinks++
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		master := ""
		if i := slices.Index(f, "master"); i >= 0 && i+1 < len(f) {
			master = f[i+1]
		}
		if bridges[name] || bridges[master] {
			h.links = append(h.links, name+" master "+master)
		}
		if veths[name] {
			h.veths = append(h.veths, name+" master "+master)
		}
	}
	sort.Strings(h.links)

	if out, err := exec.Command("nft", "list", "table", "ip", "berth-"+tag).Output(); err == nil {
		h.nft = string(out)
	}
	for _, table := range []string{"filter", "nat"} {
		out, err := exec.Command("iptables", "-w", "-t", table, "-S").Output()
		if err != nil {
			s.t.Fatalf("iptables -t %s -S: %v", table, err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "BERTH-"+tag) || strings.Contains(line, "berth"+tag) {
				h.ipt = append(h.ipt, table+": "+line)
			}
		}
	}
	for _, n := range nets {
		for id := range n.Endpoints {
			h.leases = append(h.leases, n.Name+"/"+id)
		}
	}
	sort.Strings(h.leases)

	for _, p := range e.processesOfRoot() {
		h.procs = append(h.procs, fmt.Sprintf("pid %d: %s", p.pid, p.cmdline))
	}
	sort.Strings(h.procs)

	h.files = map[string]int64{}
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			h.dirs++
			// A running container's rootfs is a mount (checked above), not
			// files of the store.
			if m, _ := filepath.Match("run/bundles/*/rootfs", rel); m {
				return filepath.SkipDir
			}
			return nil
		}
		var size int64
		if fi, err := d.Info(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
			h.fileBytes += size
		}
		h.files[rel] = size
		return nil
	})
	ents, _ := os.ReadDir(filepath.Join(root, "run", "netns"))
	h.netns = len(ents)
	ents, _ = os.ReadDir(s.tmp)
	for _, ent := range ents {
		h.tmp = append(h.tmp, ent.Name())
	}

	for _, hier := range cgroupHierarchies() {
		_ = filepath.WalkDir(hier, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if rel, _ := filepath.Rel(hier, path); strings.Count(rel, "/") >= 8 {
				return filepath.SkipDir
			}
			if s.ids[d.Name()] {
				h.cgroups = append(h.cgroups, path)
			}
			return nil
		})
	}
	sort.Strings(h.cgroups)
	return h
}

// hostVethName is internal/network's name for the host side of container
// id's veth on network netID ("bv" + 12 hex of sha256(id/netID)).
func hostVethName(id, netID string) string {
	sum := sha256.Sum256([]byte(id + "/" + netID))
	return "bv" + hex.EncodeToString(sum[:6])
}

// diff lists what differs between the baseline and now. The live
// container sets (processes, leases) are expected to be equal, whatever
// they hold; cgroups and veths named after soak containers must not exist
// except for those the baseline has (the long-lived one's).
func (h hostSnap) diff(base hostSnap) []string {
	var out []string
	list := func(what string, got, want []string) {
		if extra, missing := minus(got, want), minus(want, got); len(extra)+len(missing) > 0 {
			out = append(out, fmt.Sprintf("%s: new %s, gone %s", what, few(extra), few(missing)))
		}
	}
	list("mounts naming the root", h.mounts, base.mounts)
	list("links of the root's bridges", h.links, base.links)
	list("veths of soak containers", h.veths, base.veths)
	list("iptables rules", h.ipt, base.ipt)
	list("leases", h.leases, base.leases)
	// Processes may only go (a transient one caught in the baseline);
	// the long-lived container is checked by connecting to it at the end.
	if extra := minus(h.procs, base.procs); len(extra) > 0 {
		out = append(out, fmt.Sprintf("processes: new %q", extra))
	}
	list("cgroups of soak containers", h.cgroups, base.cgroups)
	list("berth's TMPDIR", h.tmp, base.tmp)
	if h.nft != base.nft {
		list("nft table lines", strings.Split(h.nft, "\n"), strings.Split(base.nft, "\n"))
		if len(out) == 0 || !strings.HasPrefix(out[len(out)-1], "nft") {
			out = append(out, fmt.Sprintf("nft table: baseline\n%s\nnow\n%s", base.nft, h.nft))
		}
	}
	if h.netns != base.netns {
		out = append(out, fmt.Sprintf("netns files: %d, baseline %d", h.netns, base.netns))
	}
	var extra, missing []string
	for p := range h.files {
		if _, ok := base.files[p]; !ok {
			extra = append(extra, p)
		}
	}
	for p := range base.files {
		if _, ok := h.files[p]; !ok {
			missing = append(missing, p)
		}
	}
	sort.Strings(extra)
	sort.Strings(missing)
	if len(extra)+len(missing) > 0 || h.dirs != base.dirs {
		out = append(out, fmt.Sprintf("files under the root: new %s, gone %s; %d dirs, baseline %d", few(extra), few(missing), h.dirs, base.dirs))
	}
	// Files that stay may change size only a little (counters in index
	// files grow a digit); anything that grows per container is a leak.
	if d := h.fileBytes - base.fileBytes; d > 1024 || d < -1024 {
		var grown []string
		for p, n := range h.files {
			if b, ok := base.files[p]; ok && b != n {
				grown = append(grown, fmt.Sprintf("%s %d→%d", p, b, n))
			}
		}
		sort.Strings(grown)
		out = append(out, fmt.Sprintf("store size: %d bytes, baseline %d (changed: %s)", h.fileBytes, base.fileBytes, strings.Join(grown, ", ")))
	}
	return out
}

// few quotes up to 20 entries of a list and counts the rest.
func few(l []string) string {
	if len(l) <= 20 {
		return fmt.Sprintf("%q", l)
	}
	return fmt.Sprintf("%q and %d more", l[:20], len(l)-20)
}

// checkpoint waits for the host to come back to base (veths and cgroups go
// asynchronously after their namespace or last task) and fails the test
// with the differences if it does not.
func (s *soaker) checkpoint(what string, base hostSnap) hostSnap {
	s.t.Helper()
	deadline := time.Now().Add(settle)
	for {
		h := s.snapshot()
		d := h.diff(base)
		if len(d) == 0 {
			s.t.Logf("%s: host back to baseline (%d mounts, %d links on the machine; load %s)", what, h.allMounts, h.allLinks, loadAvg())
			s.sampleKeep(what)
			return h
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: leftovers:\n  %s", what, strings.Join(d, "\n  "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sampleKeep records the long-lived supervisor's VmRSS and checks it
// holds no more file descriptors than at the start.
func (s *soaker) sampleKeep(what string) {
	s.t.Helper()
	if s.keepShim <= 1 || syscall.Kill(s.keepShim, 0) != nil {
		return
	}
	rss, fds := procRSS(s.keepShim), procFDs(s.keepShim)
	s.keepRSS = append(s.keepRSS, rss)
	s.t.Logf("%s: long-lived supervisor VmRSS %d KiB (RssAnon %d, RssFile %d), %d fds", what, rss,
		procStatus(s.keepShim, "RssAnon"), procStatus(s.keepShim, "RssFile"), fds)
	if fds > s.keepFDs0 {
		s.t.Errorf("%s: long-lived supervisor %d holds %d fds, %d at the start", what, s.keepShim, fds, s.keepFDs0)
	}
}

// ---- memory -------------------------------------------------------------

// flat logs the first and last soakWindow samples' medians and fails if the
// last is meaningfully above the first (see withinBound).
func (s *soaker) flat(what string, kib []int64) {
	s.t.Helper()
	if len(kib) == 0 {
		return
	}
	w := min(soakWindow, len(kib)/2)
	if w == 0 {
		w = 1
	}
	first, last := median(kib[:w]), median(kib[len(kib)-w:])
	lo, hi := slices.Min(kib), slices.Max(kib)
	s.t.Logf("memory: %s over %d cycles: median first %d = %d KiB, last %d = %d KiB (min %d, max %d)",
		what, len(kib), w, first, w, last, lo, hi)
	if !withinBound(first, last) {
		s.t.Errorf("memory grows: %s: median of the last %d cycles %d KiB, of the first %d %d KiB", what, w, last, w, first)
	}
}

// withinBound is the "not meaningfully above" test: 10% plus 2 MiB over the
// first figure. Noise (GC timing, page-cache luck) moves a median by far
// less; a leak of even 10 KiB per cycle adds 9 MiB over 1,000 cycles.
func withinBound(first, last int64) bool {
	return last <= first+first/10+2048
}

func median(v []int64) int64 {
	c := slices.Clone(v)
	slices.Sort(c)
	return c[len(c)/2]
}

// loadAvg is the machine's 1-minute load average, logged beside timings.
func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

func medianDur(v []time.Duration) time.Duration {
	if len(v) == 0 {
		return 0
	}
	c := slices.Clone(v)
	slices.Sort(c)
	return c[len(c)/2].Round(time.Millisecond)
}

// procStatus reads a "Key:   N kB" line of /proc/PID/status (0 if gone).
func procStatus(pid int, key string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && k == key {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func procRSS(pid int) int64 { return procStatus(pid, "VmRSS") }

// procFDs counts pid's open file descriptors.
func procFDs(pid int) int {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(ents)
}
