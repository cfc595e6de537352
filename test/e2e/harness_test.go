// Package e2e drives the built berth binary the way a user does and checks
// what it leaves behind.
//
// The binary is not built here: `make` builds ./bin/berth, and BERTH_BIN may
// point elsewhere. Every test gets its own state root through newEnv(t); when
// the test ends, a leak checker fails it if that root still has mounts,
// processes or cgroups attached, cleans those up so later tests start from a
// clean machine, and removes the root.
//
// Reference answers recorded from Docker live in test/oracle/data (see its
// README); expectations in these tests should cite them.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// Names of the fixture images as the tests see them. busybox-imported matches
// the name used in test/oracle, so table output can be compared directly.
const (
	BusyboxRef = "busybox-imported:latest"
	DebianRef  = "debian-imported:latest"
)

// defaultTimeout bounds one berth invocation; a hung CLI fails the test
// instead of the whole run.
const defaultTimeout = 2 * time.Minute

// suite is what TestMain finds once for the whole test binary.
type suite struct {
	bin      string // absolute path of the berth binary
	repo     string // repository root, for scripts/
	fixtures string // per-run directory holding the fixture tars

	busybox tarOnce
	debian  tarOnce
}

type tarOnce struct {
	once sync.Once
	path string
	err  error
}

var the suite

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: locate repository root: %v\n", err)
		return 1
	}
	bin := os.Getenv("BERTH_BIN")
	if bin == "" {
		bin = filepath.Join(repo, "bin", "berth")
	}
	if bin, err = filepath.Abs(bin); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: BERTH_BIN: %v\n", err)
		return 1
	}
	st, err := os.Stat(bin)
	switch {
	case err != nil:
		fmt.Fprintf(os.Stderr, "e2e: FATAL: berth binary missing at %s: %v\n"+
			"e2e: build it with `make` (or point BERTH_BIN at one)\n", bin, err)
		return 1
	case st.IsDir() || st.Mode().Perm()&0o111 == 0:
		fmt.Fprintf(os.Stderr, "e2e: FATAL: %s is not an executable file\n", bin)
		return 1
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "e2e: FATAL: the e2e tests run containers and need root")
		return 1
	}
	dir, err := os.MkdirTemp("", "berth-e2e-fixtures-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: fixture dir: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	the = suite{bin: bin, repo: repo, fixtures: dir}
	return m.Run()
}

// fixtureTar runs a scripts/mkimage-*.sh script once per test binary run and
// returns the tar it wrote.
func fixtureTar(t *testing.T, o *tarOnce, script, name string) string {
	t.Helper()
	o.once.Do(func() {
		out := filepath.Join(the.fixtures, name)
		cmd := exec.Command(filepath.Join(the.repo, "scripts", script), out)
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Run(); err != nil {
			o.err = fmt.Errorf("scripts/%s: %w\n%s", script, err, buf.String())
			return
		}
		o.path = out
	})
	if o.err != nil {
		t.Fatalf("fixture %s: %v", name, o.err)
	}
	return o.path
}

// busyboxTar is the tiny busybox rootfs tar (scripts/mkimage-busybox.sh),
// built once per test binary run.
func busyboxTar(t *testing.T) string {
	return fixtureTar(t, &the.busybox, "mkimage-busybox.sh", "busybox.tar")
}

// debianTar is the Debian bookworm minbase rootfs tar (~170 MB,
// scripts/mkimage-debian.sh, cached across runs in /var/cache/berth-test).
func debianTar(t *testing.T) string {
	return fixtureTar(t, &the.debian, "mkimage-debian.sh", "debian.tar")
}

// Result is one finished berth invocation.
type Result struct {
	Args   []string // as passed after --root
	Stdout string
	Stderr string
	Code   int // exit status; 128+N when killed by signal N; -1 when it could not run or timed out
}

func (r Result) String() string {
	return fmt.Sprintf("berth %s\nexit: %d\nstdout:\n%s\nstderr:\n%s",
		strings.Join(r.Args, " "), r.Code, r.Stdout, r.Stderr)
}

// Env is one test's private berth installation: its own --root, fixtures
// imported on demand, and a leak check when the test ends.
type Env struct {
	t        *testing.T
	Root     string        // passed as --root to every invocation
	Timeout  time.Duration // per invocation; defaultTimeout unless changed
	ExtraEnv []string      // KEY=VALUE added to berth's environment

	imported     map[string]bool
	mu           *sync.Mutex     // guards seenIDs: Run may be called from several goroutines; shared with For's copies
	seenIDs      map[string]bool // container IDs seen, for cgroup attribution
	cgroupParent string          // unique per env, passed in CgroupParentEnv
	mntNSSelf    string
}

// CgroupParentEnv is the environment variable through which the harness
// asks berth to put this env's container cgroups under a parent of its own
// (a single path component, unique per env), so leaked cgroups can be told
// apart from those of other berth users on the machine. A berth that ignores
// it is still checked through the container IDs it showed.
const CgroupParentEnv = "BERTH_CGROUP_PARENT"

// newEnv makes a fresh state root for t and registers the leak check.
func newEnv(t *testing.T) *Env {
	t.Helper()
	// A short path on purpose: overlay mount options carry every lower dir
	// and are capped at one page.
	root, err := os.MkdirTemp("", "berth-e2e-")
	if err != nil {
		t.Fatalf("temp root: %v", err)
	}
	self, _ := os.Readlink("/proc/self/ns/mnt")
	e := &Env{
		t:            t,
		Root:         root,
		Timeout:      defaultTimeout,
		imported:     map[string]bool{},
		mu:           &sync.Mutex{},
		seenIDs:      map[string]bool{},
		cgroupParent: "berth-e2e-" + strings.TrimPrefix(filepath.Base(root), "berth-e2e-"),
		mntNSSelf:    self,
	}
	t.Cleanup(e.checkLeaksAndRemove)
	return e
}

// Cmd returns an unstarted berth command bound to this env's root, for tests
// that need a pty, a live stdin or a background process. The caller owns it.
func (e *Env) Cmd(ctx context.Context, args ...string) *exec.Cmd {
	full := append([]string{"--root", e.Root}, args...)
	cmd := exec.CommandContext(ctx, the.bin, full...)
	cmd.Env = append(cleanEnviron(), CgroupParentEnv+"="+e.cgroupParent)
	cmd.Env = append(cmd.Env, e.ExtraEnv...)
	// A berth that hands our stdout to a background process (a detached
	// container's supervisor) must not hang the test forever; Wait reports it.
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// cleanEnviron is the test process's environment without settings that
// would point berth at another root or daemon.
func cleanEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "BERTH_ROOT=") || strings.HasPrefix(kv, CgroupParentEnv+"=") ||
			strings.HasPrefix(kv, "DOCKER_HOST=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// Run runs berth with args and returns what happened. A timeout or a
// failure to start is reported as a test error and Code -1; a non-zero exit
// is not an error here (see MustRun).
func (e *Env) Run(args ...string) Result {
	e.t.Helper()
	return e.run(nil, args)
}

// RunStdin is Run with stdin fed from a string.
func (e *Env) RunStdin(stdin string, args ...string) Result {
	e.t.Helper()
	return e.run(strings.NewReader(stdin), args)
}

// MustRun is Run that fails the test unless berth exits 0.
func (e *Env) MustRun(args ...string) Result {
	e.t.Helper()
	r := e.run(nil, args)
	if r.Code != 0 {
		e.t.Fatalf("want exit 0:\n%s", r)
	}
	return r
}

// RunContext is Run bounded by ctx as well as by e.Timeout. Whichever ends
// first, berth gets SIGQUIT rather than SIGKILL, so a hung berth prints every
// goroutine's stack on its stderr (kept in the Result) before it dies.
func (e *Env) RunContext(ctx context.Context, args ...string) Result {
	e.t.Helper()
	return e.runContext(ctx, nil, args)
}

func (e *Env) run(stdin *strings.Reader, args []string) Result {
	e.t.Helper()
	return e.runContext(context.Background(), stdin, args)
}

func (e *Env) runContext(parent context.Context, stdin *strings.Reader, args []string) Result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(parent, e.Timeout)
	defer cancel()
	cmd := e.Cmd(ctx, args...)
	// The Go runtime's answer to SIGQUIT is a goroutine dump; WaitDelay
	// kills a berth that handles the signal instead (one proxying it to a
	// container).
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != nil {
		cmd.Stdin = stdin
	}
	start := time.Now()
	err := cmd.Run()
	r := Result{Args: args, Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.Code = -1
		e.t.Errorf("berth %s: timed out (%v; limit per command %v)\n%s", strings.Join(args, " "), context.Cause(ctx), e.Timeout, r)
	case errors.Is(err, exec.ErrWaitDelay):
		r.Code = cmd.ProcessState.ExitCode()
		e.t.Errorf("berth %s: exited but a child kept its stdout/stderr open", strings.Join(args, " "))
	case errors.As(err, &ee):
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			r.Code = 128 + int(ws.Signal())
		} else {
			r.Code = ws.ExitStatus()
		}
	case err != nil:
		r.Code = -1
		e.t.Errorf("berth %s: %v", strings.Join(args, " "), err)
	}
	e.noteIDs(r.Stdout)
	e.t.Logf("berth %s → %d (%v)", strings.Join(args, " "), r.Code, time.Since(start).Round(time.Millisecond))
	return r
}

// BusyboxImage imports the busybox fixture into this env (once) and returns
// its reference.
func (e *Env) BusyboxImage() string {
	e.t.Helper()
	return e.importOnce(busyboxTar(e.t), BusyboxRef)
}

// DebianImage imports the Debian minbase fixture into this env (once) and
// returns its reference.
func (e *Env) DebianImage() string {
	e.t.Helper()
	return e.importOnce(debianTar(e.t), DebianRef)
}

func (e *Env) importOnce(tar, ref string) string {
	e.t.Helper()
	if !e.imported[ref] {
		e.MustRun("import", tar, ref)
		e.imported[ref] = true
	}
	return ref
}

// ---- leak checking ------------------------------------------------------

// settle is how long the leak checker waits for things that are on their way
// out (a reaped process, a cgroup removed after its last task exits).
const settle = 5 * time.Second

// checkLeaksAndRemove fails the test for anything still attached to its
// root, then tears those leftovers down and removes the root, so that one
// leaky test does not poison the next.
func (e *Env) checkLeaksAndRemove() {
	t := e.t
	if procs := waitEmpty(func() []proc { return e.processesOfRoot() }); len(procs) > 0 {
		var lines []string
		var pids []int
		for _, p := range procs {
			lines = append(lines, fmt.Sprintf("  pid %d (%s): %s", p.pid, p.why, p.cmdline))
			pids = append(pids, p.pid)
		}
		// Their descendants too (a container's children, a shell's sleep),
		// found before killing, while the parent links still hold.
		for _, pid := range withDescendants(pids) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		t.Errorf("leak: processes still running for root %s:\n%s", e.Root, strings.Join(lines, "\n"))
	}
	if mounts := waitEmpty(func() []string { return mountsUnder(e.Root) }); len(mounts) > 0 {
		t.Errorf("leak: mounts under %s:\n  %s", e.Root, strings.Join(mounts, "\n  "))
		// Deepest first; detach so a busy mount cannot block the cleanup.
		sort.Sort(sort.Reverse(sort.StringSlice(mounts)))
		for _, m := range mounts {
			_ = syscall.Unmount(m, syscall.MNT_DETACH)
		}
	}
	e.noteIDs("")
	if cgs := waitEmpty(e.cgroupsOfEnv); len(cgs) > 0 {
		t.Errorf("leak: cgroups of this root still exist:\n  %s", strings.Join(cgs, "\n  "))
		for i := len(cgs) - 1; i >= 0; i-- { // children sort after parents
			_ = os.Remove(cgs[i])
		}
	}
	// Bridges, nft table and iptables chains are named after the root and
	// outlive it unless removed (network_test.go).
	removeRootNetwork(e)
	if err := os.RemoveAll(e.Root); err != nil {
		t.Errorf("remove root %s: %v", e.Root, err)
	}
}

// waitEmpty polls f until it returns nothing or settle has passed, and
// returns its last answer.
func waitEmpty[T any](f func() []T) []T {
	deadline := time.Now().Add(settle)
	for {
		got := f()
		if len(got) == 0 || time.Now().After(deadline) {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type proc struct {
	pid     int
	cmdline string
	why     string
}

// processesOfRoot finds processes that belong to this env: those whose
// command line names the root (berth itself, its supervisors), and
// container processes, recognised by a mount namespace other than ours whose
// mount table names the root (the rootfs overlay's lower/upper dirs or a
// bind source under it).
func (e *Env) processesOfRoot() []proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		e.t.Errorf("read /proc: %v", err)
		return nil
	}
	// Never this process, its ancestors or PID 1: the leak check kills what it
	// finds together with every descendant.
	spare := map[int]bool{1: true}
	for pid := os.Getpid(); pid > 1 && !spare[pid]; pid = parentPID(pid) {
		spare[pid] = true
	}
	var out []proc
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || spare[pid] {
			continue
		}
		dir := filepath.Join("/proc", ent.Name())
		raw, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil || len(raw) == 0 { // gone, or a kernel thread
			continue
		}
		cmdline := strings.TrimSpace(strings.ReplaceAll(string(raw), "\x00", " "))
		if strings.Contains(cmdline, e.Root) {
			out = append(out, proc{pid, cmdline, "command line names the root"})
			continue
		}
		ns, err := os.Readlink(filepath.Join(dir, "ns", "mnt"))
		if err != nil || ns == e.mntNSSelf {
			continue
		}
		if mi, err := os.ReadFile(filepath.Join(dir, "mountinfo")); err == nil && rootMountNames(mi, e.Root) {
			out = append(out, proc{pid, cmdline, "its mount namespace uses the root"})
		}
	}
	return out
}

// rootMountNames tells whether the "/" of a mount table (a process's
// mountinfo) names root: a container of the root has its rootfs overlay
// there. Matching anywhere in the table is not enough: the init of any
// other container on the machine, between its unshare and pivot_root, holds
// a copy of the host's table, which lists this root's mounts — and the leak
// check would SIGKILL another test's container mid-start.
func rootMountNames(mountinfo []byte, root string) bool {
	for _, line := range strings.Split(string(mountinfo), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == "/" && strings.Contains(line, root+"/") {
			return true
		}
	}
	return false
}

// parentPID reads pid's parent from /proc (0 when it is gone).
func parentPID(pid int) int {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	// The command name may hold spaces and parentheses: parse after the last ')'.
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}

// withDescendants returns pids plus every process descending from them.
func withDescendants(pids []int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name in parentheses may hold spaces; ppid is the
		// second field after its closing parenthesis.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil {
			children[ppid] = append(children[ppid], pid)
		}
	}
	seen := map[int]bool{}
	var out []int
	queue := append([]int(nil), pids...)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
		queue = append(queue, children[p]...)
	}
	return out
}

// mountsUnder lists mount points in our mount table at or below dir.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return []string{"cannot read /proc/self/mountinfo: " + err.Error()}
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountinfo(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for space...).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cgroupsOfEnv returns the cgroup directories, in every mounted hierarchy
// (each cgroup v1 controller and the unified v2 tree, a few levels deep),
// that belong to this env: those under its private cgroup parent (see
// CgroupParentEnv) and those named after a container ID it has seen. Other
// berth cgroups on the machine (another test binary, another root) are never
// reported nor touched.
func (e *Env) cgroupsOfEnv() []string {
	var out []string
	for _, hier := range cgroupHierarchies() {
		_ = filepath.WalkDir(hier, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(hier, path)
			if rel == "." {
				return nil
			}
			if strings.Count(rel, "/") >= 5 {
				return filepath.SkipDir
			}
			if slices.Contains(strings.Split(rel, "/"), e.cgroupParent) {
				out = append(out, path)
				return nil
			}
			base := filepath.Base(path)
			e.mu.Lock()
			defer e.mu.Unlock()
			for _, id := range idPattern.FindAllString(base, -1) {
				if e.seenIDs[id] {
					out = append(out, path)
					break
				}
			}
			return nil
		})
	}
	sort.Strings(out)
	return out
}

// idPattern matches a full container ID.
var idPattern = regexp.MustCompile(`[0-9a-f]{64}`)

// noteIDs remembers the container IDs this env has shown: the entries of
// its containers directory and any full ID berth printed. Called after every
// invocation, so the leak checker can attribute cgroups named after them.
func (e *Env) noteIDs(stdout string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, id := range idPattern.FindAllString(stdout, -1) {
		e.seenIDs[id] = true
	}
	ents, _ := os.ReadDir(filepath.Join(e.Root, "containers"))
	for _, ent := range ents {
		if idPattern.MatchString(ent.Name()) {
			e.seenIDs[idPattern.FindString(ent.Name())] = true
		}
	}
}

// cgroupHierarchies lists the mount points of cgroup and cgroup2 filesystems.
func cgroupHierarchies() []string {
	raw, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(raw), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		fields, typ := strings.Fields(pre), strings.Fields(post)
		if len(fields) >= 5 && len(typ) >= 1 && (typ[0] == "cgroup" || typ[0] == "cgroup2") {
			out = append(out, unescapeMountinfo(fields[4]))
		}
	}
	return out
}

// ---- sample tests -------------------------------------------------------
// Expected texts come from test/oracle/data/empty-cases.json (Docker 20.10).

func TestVersionAndUnknownVerb(t *testing.T) {
	cases := []struct {
		desc     string
		args     []string
		wantCode int
		check    func(t *testing.T, r Result)
	}{
		{
			desc:     "version prints something and exits 0",
			args:     []string{"version"},
			wantCode: 0,
			check: func(t *testing.T, r Result) {
				if strings.TrimSpace(r.Stdout) == "" {
					t.Errorf("version printed nothing on stdout:\n%s", r)
				}
			},
		},
		{
			desc:     "an unknown verb exits 1 and says so on stderr, like docker",
			args:     []string{"nosuchverb"},
			wantCode: 1,
			check: func(t *testing.T, r Result) {
				if !strings.Contains(r.Stderr, "nosuchverb") {
					t.Errorf("stderr does not name the verb:\n%s", r)
				}
			},
		},
	}
	e := newEnv(t)
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			r := e.Run(c.args...)
			if r.Code != c.wantCode {
				t.Fatalf("want exit %d:\n%s", c.wantCode, r)
			}
			c.check(t, r)
		})
	}
}

func TestListingsOnEmptyRoot(t *testing.T) {
	cases := []struct {
		desc string
		args []string
		want string
	}{
		{"images prints only the header", []string{"images"},
			"REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n"},
		{"images -q prints nothing", []string{"images", "-q"}, ""},
		{"ps -a prints only the header", []string{"ps", "-a"},
			"CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n"},
		{"ps -a with a json template prints nothing", []string{"ps", "-a", "--format", "{{json .}}"}, ""},
	}
	e := newEnv(t)
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			r := e.MustRun(c.args...)
			if r.Stdout != c.want {
				t.Errorf("stdout = %q, want %q\n%s", r.Stdout, c.want, r)
			}
		})
	}
}

func TestImportBusyboxListsIt(t *testing.T) {
	e := newEnv(t)
	ref := e.BusyboxImage()
	r := e.MustRun("images", "--format", "{{.Repository}}:{{.Tag}}")
	if strings.TrimSpace(r.Stdout) != ref {
		t.Errorf("images shows %q, want %q", strings.TrimSpace(r.Stdout), ref)
	}
}

// ---- helpers shared by the e2e tests -----------------------------------

// For returns a view of e that reports to t, for use inside t.Run: a
// subtest must not call FailNow on its parent. The copy shares the root,
// the imported fixtures and the seen container IDs with e.
func (e *Env) For(t *testing.T) *Env {
	c := *e
	c.t = t
	return &c
}

// nameSeq makes names unique within the test binary.
var nameSeq struct {
	sync.Mutex
	n int
}

// Name returns a container (or image, volume) name unique to this run,
// starting with prefix.
func (e *Env) Name(prefix string) string {
	nameSeq.Lock()
	defer nameSeq.Unlock()
	nameSeq.n++
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid()%100000, nameSeq.n)
}

// RemoveOnCleanup force-removes a container when the test ends, before the
// leak check runs (cleanups run last-registered first).
func (e *Env) RemoveOnCleanup(ref string) {
	t := e.t
	t.Cleanup(func() {
		r := e.For(t).Run("rm", "-f", "-v", ref)
		if r.Code != 0 && !strings.Contains(r.Stderr, "No such container") {
			t.Logf("cleanup: rm -f %s: %s", ref, r)
		}
	})
}

// RunDetached runs `berth run -d --name NAME args...`, registers its removal
// and returns the full ID.
func (e *Env) RunDetached(name string, args ...string) string {
	e.t.Helper()
	e.RemoveOnCleanup(name)
	r := e.MustRun(append([]string{"run", "-d", "--name", name}, args...)...)
	id := strings.TrimSpace(r.Stdout)
	if !idPattern.MatchString(id) {
		e.t.Fatalf("run -d printed %q, want a 64-hex container ID\n%s", id, r)
	}
	return id
}

// Inspect evaluates a Go template on one object with `inspect -f`.
func (e *Env) Inspect(ref, tmpl string) string {
	e.t.Helper()
	return strings.TrimSpace(e.MustRun("inspect", "-f", tmpl, ref).Stdout)
}

// Eventually polls cond until it holds, for states reached asynchronously
// (a restart policy running its course). The deadline only guards against a
// hang; nothing is asserted about how long it took.
func (e *Env) Eventually(desc string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("gave up waiting for: %s", desc)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// oracleCase is one recorded Docker invocation (test/oracle/data/cases.json).
type oracleCase struct {
	Name   string   `json:"name"`
	Args   []string `json:"args"`
	Exit   int      `json:"exit"`
	Stdout string   `json:"stdout"`
	Stderr string   `json:"stderr"`
}

// oracleCases loads a cases file under test/oracle/data by name.
func oracleCases(t *testing.T, file string) map[string]oracleCase {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(the.repo, "test", "oracle", "data", file))
	if err != nil {
		t.Fatalf("oracle: %v", err)
	}
	var list []oracleCase
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatalf("oracle %s: %v", file, err)
	}
	out := map[string]oracleCase{}
	for _, c := range list {
		out[c.Name] = c
	}
	return out
}

// oracleJSON loads a JSON file under test/oracle/data.
func oracleJSON(t *testing.T, file string) any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(the.repo, "test", "oracle", "data", file))
	if err != nil {
		t.Fatalf("oracle: %v", err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("oracle %s: %v", file, err)
	}
	return v
}

// dockerToBerth rewrites Docker's wording of a message into berth's: the
// program name, and the names and IDs the oracle run used.
func dockerToBerth(s string, repl ...string) string {
	s = strings.ReplaceAll(s, "docker", "berth")
	return strings.NewReplacer(repl...).Replace(s)
}

// PTYResult is a berth invocation run on a pseudo-terminal.
type PTYResult struct {
	Output string // everything written to the terminal
	Code   int
}

// RunPTY runs berth with its stdin, stdout and stderr on a new pty, writes
// input to the terminal, and collects what berth printed until it exits.
func (e *Env) RunPTY(input string, args ...string) PTYResult {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e.Timeout)
	defer cancel()
	cmd := e.Cmd(ctx, args...)
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		e.t.Fatalf("start on pty: %v", err)
	}
	defer ptmx.Close()
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(&out, ptmx) // ends with EIO once the last slave fd closes
		close(copied)
	}()
	if input != "" {
		_, _ = ptmx.Write([]byte(input))
	}
	err = cmd.Wait()
	select {
	case <-copied:
	case <-time.After(5 * time.Second): // a container child kept the slave open
	}
	r := PTYResult{Output: out.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.Code = -1
		e.t.Errorf("berth %s on a pty: timed out\n%s", strings.Join(args, " "), r.Output)
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case err != nil:
		r.Code = -1
		e.t.Errorf("berth %s on a pty: %v", strings.Join(args, " "), err)
	}
	e.noteIDs(r.Output)
	e.t.Logf("berth %s (pty) → %d: %q", strings.Join(args, " "), r.Code, r.Output)
	return r
}
