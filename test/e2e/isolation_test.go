package e2e

// The isolation proof: a static probe (test/e2e/probe) runs as PID 1 of a
// berth container and of a Docker container started with the same flags,
// and the two reports are compared key by key. berth may be stricter than
// Docker; it must never be looser. Docker here is Debian's docker.io
// (20.10.24, runc 1.1.5), started by this test through scripts/dockerd.sh in
// a private directory and stopped when the test ends. If it cannot start,
// the test fails: without the peer there is no proof.
//
// Set BERTH_ISOLATION_REPORT=FILE to also get the findings as Markdown.

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// isoProbeReport mirrors test/e2e/probe's Report.
type isoProbeReport struct {
	Status      map[string]string       `json:"status"`
	Ops         map[string]string       `json:"ops"`
	Syscalls    map[string]string       `json:"syscalls"`
	Paths       map[string]isoProbePath `json:"paths"`
	Dev         []string                `json:"dev"`
	Mounts      []isoProbeMount         `json:"mounts"`
	Namespaces  map[string]string       `json:"namespaces"`
	Procs       int                     `json:"procs"`
	PID         int                     `json:"pid"`
	Hostname    string                  `json:"hostname"`
	UID         int                     `json:"uid"`
	GID         int                     `json:"gid"`
	Groups      []int                   `json:"groups"`
	Rlimits     map[string][2]uint64    `json:"rlimits"`
	NetIfaces   []string                `json:"net_ifaces"`
	Sysctls     map[string]string       `json:"sysctls"`
	DevicesList []string                `json:"devices_list"`
	Errors      []string                `json:"errors"`
}

type isoProbePath struct {
	Exists    bool   `json:"exists"`
	Type      string `json:"type"`
	Read      string `json:"read"`
	WriteOpen string `json:"write_open"`
}

type isoProbeMount struct {
	Point     string `json:"point"`
	Root      string `json:"root"`
	FSType    string `json:"fstype"`
	Source    string `json:"source"`
	MountOpts string `json:"mount_opts"`
	SuperOpts string `json:"super_opts"`
}

// isolationConfigs are the `run` flag sets compared with Docker. Docker's
// --privileged cannot start on this host (root lacks CAP_SYS_RESOURCE and
// Docker 20.10 asks for every capability), so the most privileged
// comparable set is every capability but that one, unconfined.
var isolationConfigs = []struct {
	desc  string
	flags []string
	// berthOnly are extra flags for berth (its choice of runtime).
	berthOnly []string
	// rules also compares the seccomp rules each engine handed its
	// runtime, for every syscall (the sweep calls only some).
	rules bool
}{
	{"default", nil, nil, true},
	// The same spec through Debian's runc instead of the in-process
	// libcontainer: both must load the same filter.
	{"default, berth --runtime runc", nil, []string{"--runtime", "runc"}, false},
	{"cap-drop ALL", []string{"--cap-drop", "ALL"}, nil, true},
	{"read-only", []string{"--read-only"}, nil, false},
	{"user 1000", []string{"-u", "1000"}, nil, false},
	{"no-new-privileges", []string{"--security-opt", "no-new-privileges"}, nil, false},
	{"network none", []string{"--network", "none"}, nil, false},
	// Every capability with the default seccomp profile: proves the
	// profile's capability-gated rules.
	{"all caps, default seccomp", []string{"--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE"}, nil, true},
	{"all caps, unconfined", []string{"--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
		"--security-opt", "seccomp=unconfined", "--security-opt", "systempaths=unconfined"}, nil, false},
}

// Verdicts of one comparison.
const (
	isoEqual    = "equal"
	isoStricter = "stricter" // berth confines more than Docker
	isoLooser   = "LOOSER"   // berth confines less: a failure
	isoDiffers  = "differs"  // different, but neither more nor less confined
)

type isoFinding struct {
	key, verdict, berth, docker, why string
}

func TestIsolationNotLooserThanDocker(t *testing.T) {
	dir := t.TempDir()
	tarPath := isoBuildProbeImage(t, dir)
	dk := isoStartDockerd(t)
	const ref = "berth-probe:isolation"
	dk.mustRun(t, "import", tarPath, ref)
	// One berth root per configuration, so that each gets its own leak check.
	berthEnv := func(t *testing.T) *Env {
		e := newEnv(t)
		e.MustRun("import", tarPath, ref)
		return e
	}

	host := isoHostFacts(t)
	var all []isoConfigResult
	for _, c := range isolationConfigs {
		t.Run(c.desc, func(t *testing.T) {
			e := berthEnv(t)
			b := isoBerthProbe(t, e, append(slices.Clone(c.berthOnly), c.flags...), ref)
			d := dk.probe(t, c.flags, ref)
			fs := isoCompareReports(b, d, host)
			if c.rules {
				fs = append(fs, isoCompareSeccompRules(isoBerthSeccomp(t, e, c.flags, ref), dk.seccomp(t, c.flags, ref))...)
			}
			all = append(all, isoConfigResult{c.desc, c.flags, fs})
			isoLogFindings(t, fs)
			for _, f := range fs {
				if f.verdict == isoLooser {
					t.Errorf("berth is looser than Docker on %s: berth %q, docker %q (%s)", f.key, f.berth, f.docker, f.why)
				}
			}
			if c.desc == "all caps, unconfined" {
				// With neither filter nor masks, what the kernel answers
				// tells which sweep entries can tell a filter from the
				// kernel at all on this machine.
				var undiscriminating []string
				for name, r := range d.Syscalls {
					if isoIsBlocked(r) {
						undiscriminating = append(undiscriminating, name+"="+r)
					}
				}
				sort.Strings(undiscriminating)
				t.Logf("sweep entries the kernel itself answers EPERM/ENOSYS (filter not observable): %s", strings.Join(undiscriminating, " "))
			}
		})
	}
	t.Run("berth privileged", func(t *testing.T) { isoCheckPrivileged(t, berthEnv(t), ref, host) })
	isoWriteIsolationReport(t, all)
}

// ---- the probe image ---------------------------------------------------------

// isoBuildProbeImage compiles the probe statically and packs it alone into a
// rootfs tar that both engines import.
func isoBuildProbeImage(t *testing.T, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(dir, "probe")
	cmd := exec.Command(goBin, "build", "-trimpath", "-o", bin, "./test/e2e/probe")
	cmd.Dir = the.repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build probe: %v\n%s", err, out)
	}
	probe, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	tarPath := filepath.Join(dir, "probe.tar")
	f, err := os.Create(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	now := time.Unix(1700000000, 0)
	entries := []struct {
		name string
		mode int64
		data []byte
	}{
		{"./", 0o755 | int64(os.ModeDir), nil},
		{"dev/", 0o755 | int64(os.ModeDir), nil},
		{"etc/", 0o755 | int64(os.ModeDir), nil},
		{"proc/", 0o755 | int64(os.ModeDir), nil},
		{"sys/", 0o755 | int64(os.ModeDir), nil},
		{"tmp/", 0o1777 | int64(os.ModeDir), nil},
		{"etc/passwd", 0o644, []byte("root:x:0:0:root:/:/probe\n")},
		{"etc/group", 0o644, []byte("root:x:0:\n")},
		{"probe", 0o755, probe},
	}
	for _, en := range entries {
		h := &tar.Header{Name: en.name, Mode: en.mode & 0o7777, ModTime: now, Format: tar.FormatPAX}
		if strings.HasSuffix(en.name, "/") {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(en.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(en.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return tarPath
}

func isoParseProbe(t *testing.T, who, out string) *isoProbeReport {
	t.Helper()
	var r isoProbeReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%s: probe output is not its JSON report: %v\n%s", who, err, out)
	}
	if len(r.Errors) > 0 {
		t.Errorf("%s: probe reported errors: %s", who, strings.Join(r.Errors, "; "))
	}
	return &r
}

func isoBerthProbe(t *testing.T, e *Env, flags []string, ref string) *isoProbeReport {
	t.Helper()
	// The Docker peer runs without a bridge (scripts/dockerd.sh start), so
	// its containers' default network has only lo; berth's default is its
	// bridge. Compare like with like.
	if !slices.Contains(flags, "--network") {
		flags = append([]string{"--network", "none"}, flags...)
	}
	args := append(append([]string{"run", "--rm"}, flags...), ref, "/probe")
	r := e.Run(args...)
	if r.Code != 0 {
		t.Fatalf("berth probe failed:\n%s", r)
	}
	return isoParseProbe(t, "berth", r.Stdout)
}

// ---- Docker, the reference ------------------------------------------------------

type isoDockerd struct {
	cli  string
	host string // DOCKER_HOST
	dir  string // BERTH_DOCKERD_DIR: data, exec root, socket
}

// isoStartDockerd starts a private dockerd (no bridge, no iptables) for this
// test and stops it, with everything it made, when the test ends. It never
// touches another instance: its directory is its own.
func isoStartDockerd(t *testing.T) *isoDockerd {
	t.Helper()
	dir, err := os.MkdirTemp("/var/tmp", "berth-iso-")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(the.repo, "scripts", "dockerd.sh")
	env := append(cleanEnviron(), "BERTH_DOCKERD_DIR="+dir)
	t.Cleanup(func() {
		cmd := exec.Command(script, "stop")
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("stop dockerd: %v\n%s", err, out)
		}
		_ = os.RemoveAll(dir)
	})
	cmd := exec.Command(script, "start")
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("Docker, the reference of this test, did not start (scripts/dockerd.sh start: %v):\n%s%s",
			err, stdout.String(), stderr.String())
	}
	m := regexp.MustCompile(`DOCKER_HOST=(\S+)`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("scripts/dockerd.sh start printed no DOCKER_HOST:\n%s", stdout.String())
	}
	// The CLI shipped with the daemon speaks its API version exactly.
	cli := "/usr/bin/docker"
	if _, err := os.Stat(cli); err != nil {
		if cli, err = exec.LookPath("docker"); err != nil {
			t.Fatalf("no docker CLI: %v", err)
		}
	}
	return &isoDockerd{cli: cli, host: m[1], dir: dir}
}

func (d *isoDockerd) run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.cli, args...)
	cmd.Env = append(cleanEnviron(), "DOCKER_HOST="+d.host)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	start := time.Now()
	err = cmd.Run()
	t.Logf("docker %s → %v (%v)", strings.Join(args, " "), err, time.Since(start).Round(time.Millisecond))
	return o.String(), e.String(), err
}

func (d *isoDockerd) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	o, e, err := d.run(t, args...)
	if err != nil {
		t.Fatalf("docker %s: %v\n%s%s", strings.Join(args, " "), err, o, e)
	}
	return o
}

func (d *isoDockerd) probe(t *testing.T, flags []string, ref string) *isoProbeReport {
	t.Helper()
	args := append(append([]string{"run", "--rm"}, flags...), ref, "/probe")
	return isoParseProbe(t, "docker", d.mustRun(t, args...))
}

// ---- seccomp rules as handed to the runtime ----------------------------------------

// seccomp runs the probe image idle with flags and returns the seccomp
// section of the OCI spec dockerd gave containerd (the bundle's config.json
// under its exec root), then removes the container.
func (d *isoDockerd) seccomp(t *testing.T, flags []string, ref string) *specs.LinuxSeccomp {
	t.Helper()
	args := append(append([]string{"run", "-d"}, flags...), ref, "/probe", "sleep")
	id := strings.TrimSpace(d.mustRun(t, args...))
	defer d.run(t, "rm", "-f", id)
	return isoSeccompInBundle(t, filepath.Join(d.dir, "exec"), id)
}

// isoBerthSeccomp does the same with berth: the spec it wrote in the
// container's bundle directory under its root.
func isoBerthSeccomp(t *testing.T, e *Env, flags []string, ref string) *specs.LinuxSeccomp {
	t.Helper()
	args := append(append([]string{"run", "-d"}, flags...), ref, "/probe", "sleep")
	id := strings.TrimSpace(e.MustRun(args...).Stdout)
	defer e.Run("rm", "-f", id)
	return isoSeccompInBundle(t, e.Root, id)
}

// isoSeccompInBundle finds <id>/config.json under root (layout-agnostic:
// bundles live wherever the engine keeps them) and returns its seccomp.
func isoSeccompInBundle(t *testing.T, root, id string) *specs.LinuxSeccomp {
	t.Helper()
	var found string
	_ = filepath.WalkDir(root, func(p string, de os.DirEntry, err error) error {
		if err != nil || found != "" {
			return filepath.SkipDir
		}
		if de.IsDir() {
			switch de.Name() {
			case "rootfs", "content", "snapshots", "overlay2", "image", "volumes":
				return filepath.SkipDir
			}
			return nil
		}
		if de.Name() == "config.json" && filepath.Base(filepath.Dir(p)) == id {
			found = p
		}
		return nil
	})
	if found == "" {
		t.Fatalf("no %s/config.json under %s: cannot read the spec the runtime got", id, root)
	}
	data, err := os.ReadFile(found)
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("%s: %v", found, err)
	}
	if s.Linux == nil || s.Linux.Seccomp == nil {
		t.Fatalf("%s has no seccomp profile", found)
	}
	return s.Linux.Seccomp
}

// isoSyscallRules is what one profile says about one syscall.
type isoSyscallRules struct {
	allowAll bool            // an ALLOW rule without argument conditions
	allowIf  map[string]bool // ALLOW rules with conditions, canonical form
	errno    string          // an explicit ERRNO rule's errno, "" if none
}

func isoRulesByName(p *specs.LinuxSeccomp) map[string]*isoSyscallRules {
	out := map[string]*isoSyscallRules{}
	for _, r := range p.Syscalls {
		for _, n := range r.Names {
			sr := out[n]
			if sr == nil {
				sr = &isoSyscallRules{allowIf: map[string]bool{}}
				out[n] = sr
			}
			switch {
			case r.Action == specs.ActAllow && len(r.Args) == 0:
				sr.allowAll = true
			case r.Action == specs.ActAllow:
				var conds []string
				for _, a := range r.Args {
					conds = append(conds, fmt.Sprintf("arg%d %s %#x/%#x", a.Index, a.Op, a.Value, a.ValueTwo))
				}
				sort.Strings(conds)
				sr.allowIf[strings.Join(conds, " && ")] = true
			case r.Action == specs.ActErrno:
				e := uint(1)
				if r.ErrnoRet != nil {
					e = *r.ErrnoRet
				}
				sr.errno = unix.ErrnoName(syscall.Errno(e))
			default:
				sr.errno = string(r.Action)
			}
		}
	}
	return out
}

func (r *isoSyscallRules) String() string {
	if r == nil {
		return "default"
	}
	var parts []string
	if r.allowAll {
		parts = append(parts, "allow")
	}
	for _, c := range slices.Sorted(maps.Keys(r.allowIf)) {
		parts = append(parts, "allow if "+c)
	}
	if r.errno != "" {
		parts = append(parts, "errno "+r.errno)
	}
	return strings.Join(parts, "; ")
}

// isoCompareSeccompRules compares, syscall by syscall, the rules the two
// engines gave their runtimes. berth must not allow a call, or a set of
// arguments, that Docker's rules do not.
func isoCompareSeccompRules(b, d *specs.LinuxSeccomp) []isoFinding {
	var fs []isoFinding
	add := func(key, verdict, bv, dv, why string) { fs = append(fs, isoFinding{key, verdict, bv, dv, why}) }
	errnoOf := func(p *specs.LinuxSeccomp) string {
		e := uint(1) // runc's default for SCMP_ACT_ERRNO without a number
		if p.DefaultErrnoRet != nil {
			e = *p.DefaultErrnoRet
		}
		return string(p.DefaultAction) + " " + unix.ErrnoName(syscall.Errno(e))
	}
	if bv, dv := errnoOf(b), errnoOf(d); bv == dv {
		add("seccomp.default", isoEqual, bv, dv, "")
	} else {
		add("seccomp.default", isoDiffers, bv, dv, "default action")
	}
	var extraArch []string
	for _, a := range b.Architectures {
		if !slices.Contains(d.Architectures, a) {
			extraArch = append(extraArch, string(a))
		}
	}
	if len(extraArch) > 0 {
		add("seccomp.architectures", isoLooser, fmt.Sprint(b.Architectures), fmt.Sprint(d.Architectures), "filters architectures Docker refuses outright: "+strings.Join(extraArch, ","))
	} else {
		add("seccomp.architectures", isoEqual, fmt.Sprint(b.Architectures), fmt.Sprint(d.Architectures), "")
	}
	br, dr := isoRulesByName(b), isoRulesByName(d)
	for _, n := range isoUnionKeys(br, dr) {
		bs, ds := br[n], dr[n]
		bv, dv := bs.String(), ds.String()
		key := "rule." + n
		var bAll, dAll bool
		bIf, dIf := map[string]bool{}, map[string]bool{}
		if bs != nil {
			bAll, bIf = bs.allowAll, bs.allowIf
		}
		if ds != nil {
			dAll, dIf = ds.allowAll, ds.allowIf
		}
		var extraIf []string
		for c := range bIf {
			if !dIf[c] {
				extraIf = append(extraIf, c)
			}
		}
		switch {
		case bv == dv:
			add(key, isoEqual, bv, dv, "")
		case bAll && !dAll:
			add(key, isoLooser, bv, dv, "berth allows it unconditionally, Docker does not")
		case !dAll && len(extraIf) > 0:
			add(key, isoLooser, bv, dv, "berth allows arguments Docker's rules do not")
		case dAll && !bAll:
			add(key, isoStricter, bv, dv, "Docker allows it unconditionally, berth only with conditions or not at all")
		case !bAll && len(bIf) < len(dIf):
			add(key, isoStricter, bv, dv, "fewer argument sets allowed")
		case ds == nil && bs.errno == "ENOSYS" && len(bIf) == 0:
			add(key, isoDiffers, bv, dv, "denied by both: Docker's runc answers ENOSYS for syscalls newer than its profile's newest, berth names that errno")
		default:
			add(key, isoDiffers, bv, dv, "same allowance, other errno")
		}
	}
	return fs
}

// ---- the host ------------------------------------------------------------------

type isoHostInfo struct {
	ns     map[string]string // /proc/self/ns links of the test process
	capBnd uint64
}

func isoHostFacts(t *testing.T) isoHostInfo {
	t.Helper()
	h := isoHostInfo{ns: map[string]string{}}
	ents, err := os.ReadDir("/proc/self/ns")
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range ents {
		if l, err := os.Readlink("/proc/self/ns/" + en.Name()); err == nil {
			h.ns[en.Name()] = l
		}
	}
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			h.capBnd, _ = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return h
}

// ---- comparison ------------------------------------------------------------------

var isoCapNames = [...]string{
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
	"SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
	"IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
	"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
	"LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
	"WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
}

const isoCapSysAdmin = 21

// isoSplitFromSysAdmin are the capabilities carved out of CAP_SYS_ADMIN
// (Linux 5.8/5.9): every kernel check for them also accepts CAP_SYS_ADMIN
// (perfmon_capable, bpf_capable, checkpoint_restore_ns_capable), so holding
// one of them next to CAP_SYS_ADMIN grants nothing more. Docker 20.10 does
// not know them; newer Docker and berth grant them with "ALL".
var isoSplitFromSysAdmin = map[int]bool{38: true, 39: true, 40: true}

func isoCapList(mask uint64) string {
	var out []string
	for i := 0; i < 64; i++ {
		if mask&(1<<i) != 0 {
			if i < len(isoCapNames) {
				out = append(out, isoCapNames[i])
			} else {
				out = append(out, "cap"+strconv.Itoa(i))
			}
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ",")
}

func isoParseMask(s string) uint64 {
	v, _ := strconv.ParseUint(s, 16, 64)
	return v
}

// isoIsBlocked tells a filter's answer from the kernel's: Docker's profile
// answers EPERM (or ENOSYS for syscalls it predates); the probe's
// arguments make a kernel that sees the call answer something else.
func isoIsBlocked(r string) bool { return r == "EPERM" || r == "ENOSYS" }

func isoIsOK(r string) bool { return r == "OK" || strings.HasPrefix(r, "OK:") }

// isoCompareReports applies the per-key "looser" rules.
func isoCompareReports(b, d *isoProbeReport, host isoHostInfo) []isoFinding {
	var fs []isoFinding
	add := func(key, verdict, bv, dv, why string) {
		fs = append(fs, isoFinding{key, verdict, bv, dv, why})
	}

	// Capabilities: berth may hold a subset of Docker's.
	for _, k := range []string{"CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"} {
		bm, dm := isoParseMask(b.Status[k]), isoParseMask(d.Status[k])
		extra, missing := bm&^dm, dm&^bm
		var implied uint64
		if dm&(1<<isoCapSysAdmin) != 0 {
			for c := range isoSplitFromSysAdmin {
				implied |= extra & (1 << c)
			}
		}
		extra &^= implied
		key := "status." + k
		switch {
		case extra != 0:
			add(key, isoLooser, b.Status[k], d.Status[k], "berth also holds "+isoCapList(extra))
		case missing != 0:
			add(key, isoStricter, b.Status[k], d.Status[k], "berth lacks "+isoCapList(missing))
		case implied != 0:
			add(key, isoDiffers, b.Status[k], d.Status[k], "berth also holds "+isoCapList(implied)+", which CAP_SYS_ADMIN implies")
		default:
			add(key, isoEqual, b.Status[k], d.Status[k], "")
		}
	}
	cmpNum := func(key, bv, dv string, higherIsStricter bool, why string) {
		bn, _ := strconv.Atoi(bv)
		dn, _ := strconv.Atoi(dv)
		switch {
		case bn == dn:
			add(key, isoEqual, bv, dv, "")
		case (bn > dn) == higherIsStricter:
			add(key, isoStricter, bv, dv, why)
		default:
			add(key, isoLooser, bv, dv, why)
		}
	}
	cmpNum("status.NoNewPrivs", b.Status["NoNewPrivs"], d.Status["NoNewPrivs"], true, "no_new_privs")
	cmpNum("status.Seccomp", b.Status["Seccomp"], d.Status["Seccomp"], true, "seccomp mode (0 none, 2 filter)")
	switch bf, df := b.Status["Seccomp_filters"], d.Status["Seccomp_filters"]; {
	case bf == df:
		add("status.Seccomp_filters", isoEqual, bf, df, "")
	case bf == "0":
		add("status.Seccomp_filters", isoLooser, bf, df, "no filter loaded")
	default:
		add("status.Seccomp_filters", isoDiffers, bf, df, "number of stacked filters")
	}

	// Operations: berth must not succeed where Docker fails.
	for _, k := range isoUnionKeys(b.Ops, d.Ops) {
		bv, dv := b.Ops[k], d.Ops[k]
		switch {
		case bv == dv:
			add("ops."+k, isoEqual, bv, dv, "")
		case isoIsOK(bv) && !isoIsOK(dv):
			add("ops."+k, isoLooser, bv, dv, "succeeds under berth only")
		case !isoIsOK(bv) && isoIsOK(dv):
			add("ops."+k, isoStricter, bv, dv, "succeeds under Docker only")
		default:
			add("ops."+k, isoDiffers, bv, dv, "same outcome, other errno")
		}
	}

	// The seccomp sweep: a call Docker's filter stops must not reach
	// berth's kernel.
	for _, k := range isoUnionKeys(b.Syscalls, d.Syscalls) {
		bv, dv := b.Syscalls[k], d.Syscalls[k]
		key := "syscall." + k
		switch {
		case bv == dv:
			add(key, isoEqual, bv, dv, "")
		case !isoIsBlocked(bv) && isoIsBlocked(dv):
			add(key, isoLooser, bv, dv, "reaches the kernel under berth, blocked under Docker")
		case isoIsBlocked(bv) && !isoIsBlocked(dv):
			add(key, isoStricter, bv, dv, "blocked under berth, reaches the kernel under Docker")
		case isoIsBlocked(bv) && isoIsBlocked(dv):
			add(key, isoDiffers, bv, dv, "blocked by both with another errno (ENOSYS lets callers fall back, EPERM does not)")
		default:
			add(key, isoDiffers, bv, dv, "reaches the kernel in both, other answer")
		}
	}

	// Sensitive paths: masked stays masked, read-only stays read-only.
	for _, k := range isoUnionKeys(b.Paths, d.Paths) {
		bp, dp := b.Paths[k], d.Paths[k]
		bm, dm := isoPathMasked(bp), isoPathMasked(dp)
		key := "path." + k
		switch {
		case dm && !bm:
			add(key+" (read)", isoLooser, bp.Read, dp.Read, "hidden under Docker, readable under berth")
		case bm && !dm:
			add(key+" (read)", isoStricter, bp.Read, dp.Read, "readable under Docker, hidden under berth")
		default:
			add(key+" (read)", isoEqual, bp.Read, dp.Read, "")
		}
		if (bp.WriteOpen == "" && dp.WriteOpen == "") || (bm && !dm) {
			// Opening berth's /dev/null mask for writing grants nothing.
			continue
		}
		switch bw, dw := isoIsOK(bp.WriteOpen), isoIsOK(dp.WriteOpen); {
		case bp.WriteOpen == dp.WriteOpen:
			add(key+" (write)", isoEqual, bp.WriteOpen, dp.WriteOpen, "")
		case bw && !dw:
			add(key+" (write)", isoLooser, bp.WriteOpen, dp.WriteOpen, "writable under berth only")
		case !bw && dw:
			add(key+" (write)", isoStricter, bp.WriteOpen, dp.WriteOpen, "writable under Docker only")
		default:
			add(key+" (write)", isoDiffers, bp.WriteOpen, dp.WriteOpen, "not writable in either, other errno")
		}
	}

	fs = append(fs, isoCompareDev(b.Dev, d.Dev)...)
	fs = append(fs, isoCompareMounts(b.Mounts, d.Mounts)...)

	// Namespaces: whatever Docker unshares, berth unshares.
	for _, k := range isoUnionKeys(b.Namespaces, d.Namespaces) {
		bp, dp := b.Namespaces[k] != host.ns[k], d.Namespaces[k] != host.ns[k]
		desc := func(private bool) string {
			if private {
				return "private"
			}
			return "host"
		}
		switch {
		case bp == dp:
			add("ns."+k, isoEqual, desc(bp), desc(dp), "")
		case dp:
			add("ns."+k, isoLooser, desc(bp), desc(dp), "shares the host's namespace")
		default:
			add("ns."+k, isoStricter, desc(bp), desc(dp), "")
		}
	}

	cmpNum("procs.visible", strconv.Itoa(b.Procs), strconv.Itoa(d.Procs), false, "processes visible in /proc")

	// Identity.
	switch {
	case b.UID == d.UID && b.GID == d.GID:
		add("id.uid_gid", isoEqual, fmt.Sprint(b.UID, ":", b.GID), fmt.Sprint(d.UID, ":", d.GID), "")
	case b.UID == 0 && d.UID != 0 || b.GID == 0 && d.GID != 0:
		add("id.uid_gid", isoLooser, fmt.Sprint(b.UID, ":", b.GID), fmt.Sprint(d.UID, ":", d.GID), "root under berth only")
	default:
		add("id.uid_gid", isoDiffers, fmt.Sprint(b.UID, ":", b.GID), fmt.Sprint(d.UID, ":", d.GID), "")
	}
	bg, dg := isoIntSet(b.Groups), isoIntSet(d.Groups)
	switch {
	case slices.Equal(bg, dg):
		add("id.groups", isoEqual, fmt.Sprint(bg), fmt.Sprint(dg), "")
	case isoSubset(bg, dg):
		add("id.groups", isoStricter, fmt.Sprint(bg), fmt.Sprint(dg), "")
	default:
		add("id.groups", isoLooser, fmt.Sprint(bg), fmt.Sprint(dg), "supplementary groups Docker does not give")
	}
	hostnameRe := regexp.MustCompile(`^[0-9a-f]{12}$`)
	if hostnameRe.MatchString(b.Hostname) && hostnameRe.MatchString(d.Hostname) {
		add("uts.hostname", isoEqual, "<12 hex>", "<12 hex>", "")
	} else {
		add("uts.hostname", isoDiffers, b.Hostname, d.Hostname, "")
	}

	// Resource limits: no hard (or soft) limit above Docker's.
	for _, k := range isoUnionKeys(b.Rlimits, d.Rlimits) {
		bl, dl := b.Rlimits[k], d.Rlimits[k]
		key := "rlimit." + k
		bv, dv := fmt.Sprint(bl), fmt.Sprint(dl)
		switch {
		case bl == dl:
			add(key, isoEqual, bv, dv, "")
		case bl[1] > dl[1] || bl[0] > dl[0]:
			add(key, isoLooser, bv, dv, "higher limit under berth")
		default:
			add(key, isoStricter, bv, dv, "")
		}
	}

	// Network: no interface Docker does not give.
	switch bi, di := b.NetIfaces, d.NetIfaces; {
	case slices.Equal(bi, di):
		add("net.ifaces", isoEqual, strings.Join(bi, ","), strings.Join(di, ","), "")
	case isoSubsetStr(bi, di):
		add("net.ifaces", isoStricter, strings.Join(bi, ","), strings.Join(di, ","), "")
	default:
		add("net.ifaces", isoLooser, strings.Join(bi, ","), strings.Join(di, ","), "interfaces Docker does not show")
	}
	for _, k := range []string{"net/ipv4/ping_group_range", "net/ipv4/ip_unprivileged_port_start"} {
		bv, dv := b.Sysctls[k], d.Sysctls[k]
		key := "sysctl." + k
		if bv == dv {
			add(key, isoEqual, bv, dv, "")
			continue
		}
		looser := false
		if k == "net/ipv4/ping_group_range" {
			looser = isoRangeWidth(bv) > isoRangeWidth(dv)
		} else {
			bn, _ := strconv.Atoi(bv)
			dn, _ := strconv.Atoi(dv)
			looser = bn < dn
		}
		if looser {
			add(key, isoLooser, bv, dv, "more permissive sysctl")
		} else {
			add(key, isoStricter, bv, dv, "")
		}
	}

	// Device cgroup: no rule Docker does not have.
	bl, dl := isoSetOf(b.DevicesList), isoSetOf(d.DevicesList)
	var extra, missing []string
	for r := range bl {
		if !dl[r] {
			extra = append(extra, r)
		}
	}
	for r := range dl {
		if !bl[r] {
			missing = append(missing, r)
		}
	}
	sort.Strings(extra)
	sort.Strings(missing)
	switch {
	case len(extra) > 0:
		add("cgroup.devices.list", isoLooser, strings.Join(extra, "; "), strings.Join(missing, "; "), "device cgroup rules only berth has (berth column) / only Docker has (docker column)")
	case len(missing) > 0:
		add("cgroup.devices.list", isoStricter, "", strings.Join(missing, "; "), "rules only Docker has")
	default:
		add("cgroup.devices.list", isoEqual, strings.Join(b.DevicesList, "; "), strings.Join(d.DevicesList, "; "), "")
	}
	return fs
}

// isoPathMasked: the path cannot be read, reads as empty, or is an empty
// directory (Docker masks files with /dev/null and directories with an
// empty read-only tmpfs).
func isoPathMasked(p isoProbePath) bool {
	r := p.Read
	if strings.HasPrefix(r, "open:") {
		return r != "open:OK"
	}
	return !isoIsOK(r) || r == "OK:0" || r == "OK:0 entries"
}

// isoCompareDev: berth must not expose a device node (by type and number)
// that Docker does not; other /dev entries may differ.
func isoCompareDev(b, d []string) []isoFinding {
	nodes := func(list []string) (map[string]string, map[string]bool) {
		byNum, other := map[string]string{}, map[string]bool{}
		for _, e := range list {
			f := strings.Fields(e)
			if len(f) == 3 && (f[1] == "char" || f[1] == "block") {
				byNum[f[1]+" "+f[2]] = f[0]
				continue
			}
			other[e] = true
		}
		return byNum, other
	}
	bn, bo := nodes(b)
	dn, do := nodes(d)
	var fs []isoFinding
	for _, k := range isoUnionKeys(bn, dn) {
		bp, dp := bn[k], dn[k]
		switch {
		case bp != "" && dp != "":
			fs = append(fs, isoFinding{"dev." + k, isoEqual, bp, dp, ""})
		case bp != "":
			fs = append(fs, isoFinding{"dev." + k, isoLooser, bp, "-", "device node only berth has"})
		default:
			fs = append(fs, isoFinding{"dev." + k, isoStricter, "-", dp, "device node only Docker has"})
		}
	}
	for _, k := range isoUnionKeys(bo, do) {
		if bo[k] != do[k] {
			fs = append(fs, isoFinding{"dev.entry " + k, isoDiffers, fmt.Sprint(bo[k]), fmt.Sprint(do[k]), "non-device /dev entry"})
		}
	}
	return fs
}

type isoMountFlags struct {
	fstype, super                   string
	ro, nosuid, nodev, noexec, mask bool
}

func isoFlagsOf(m isoProbeMount) isoMountFlags {
	opts := isoSetOf(strings.Split(m.MountOpts, ","))
	super := strings.Split(m.SuperOpts, ",")
	f := isoMountFlags{
		fstype: m.FSType,
		ro:     opts["ro"] || (len(super) > 0 && super[0] == "ro"),
		nosuid: opts["nosuid"], nodev: opts["nodev"], noexec: opts["noexec"],
	}
	// A masked path: /dev/null bound over a file, or an empty read-only
	// tmpfs over a directory.
	f.mask = m.Root == "/null" || (m.FSType == "tmpfs" && f.ro && (strings.HasPrefix(m.Point, "/proc/") || strings.HasPrefix(m.Point, "/sys/")))
	switch m.FSType {
	case "overlay", "cgroup", "cgroup2":
		// Layer paths and per-controller options are not policy.
	default:
		f.super = m.SuperOpts
	}
	return f
}

// isoCompareMounts keys mounts by mount point (the topmost one wins).
func isoCompareMounts(b, d []isoProbeMount) []isoFinding {
	index := func(ms []isoProbeMount) map[string]isoProbeMount {
		out := map[string]isoProbeMount{}
		for _, m := range ms {
			out[m.Point] = m
		}
		return out
	}
	bi, di := index(b), index(d)
	var fs []isoFinding
	desc := func(m isoProbeMount) string { return m.FSType + " " + m.MountOpts + " " + m.SuperOpts }
	for _, p := range isoUnionKeys(bi, di) {
		bm, inB := bi[p]
		dm, inD := di[p]
		key := "mount." + p
		switch {
		case !inB:
			df := isoFlagsOf(dm)
			if df.ro || df.mask {
				fs = append(fs, isoFinding{key, isoLooser, "-", desc(dm), "Docker mounts it read-only or masks it; berth does not"})
			} else {
				fs = append(fs, isoFinding{key, isoDiffers, "-", desc(dm), "mount only Docker has"})
			}
			continue
		case !inD:
			bf := isoFlagsOf(bm)
			switch {
			case bf.ro || bf.mask:
				fs = append(fs, isoFinding{key, isoStricter, desc(bm), "-", "extra read-only or masking mount"})
			case strings.HasPrefix(p, "/proc") || strings.HasPrefix(p, "/sys"):
				fs = append(fs, isoFinding{key, isoLooser, desc(bm), "-", "extra writable kernel filesystem mount"})
			default:
				fs = append(fs, isoFinding{key, isoDiffers, desc(bm), "-", "mount only berth has"})
			}
			continue
		}
		bf, df := isoFlagsOf(bm), isoFlagsOf(dm)
		var looser, stricter []string
		for _, c := range []struct {
			name string
			b, d bool
		}{{"ro", bf.ro, df.ro}, {"nosuid", bf.nosuid, df.nosuid}, {"nodev", bf.nodev, df.nodev}, {"noexec", bf.noexec, df.noexec}, {"masked", bf.mask, df.mask}} {
			switch {
			case c.d && !c.b:
				looser = append(looser, "lacks "+c.name)
			case c.b && !c.d:
				stricter = append(stricter, "adds "+c.name)
			}
		}
		switch {
		case len(looser) > 0:
			fs = append(fs, isoFinding{key, isoLooser, desc(bm), desc(dm), strings.Join(append(looser, stricter...), ", ")})
		case len(stricter) > 0:
			fs = append(fs, isoFinding{key, isoStricter, desc(bm), desc(dm), strings.Join(stricter, ", ")})
		case bf.fstype != df.fstype || bf.super != df.super:
			fs = append(fs, isoFinding{key, isoDiffers, desc(bm), desc(dm), "same flags, other filesystem options"})
		default:
			fs = append(fs, isoFinding{key, isoEqual, desc(bm), desc(dm), ""})
		}
	}
	return fs
}

// ---- berth --privileged ------------------------------------------------------

// isoCheckPrivileged: Docker's --privileged cannot run here, so berth's is
// checked against what --privileged means: the host's bounding set, no
// seccomp, no masks, writable /sys, every host device and device access.
func isoCheckPrivileged(t *testing.T, e *Env, ref string, host isoHostInfo) {
	r := isoBerthProbe(t, e, []string{"--privileged"}, ref)
	for _, k := range []string{"CapBnd", "CapEff", "CapPrm"} {
		if got := isoParseMask(r.Status[k]); got != host.capBnd {
			t.Errorf("--privileged %s = %s, want the host's bounding set %x", k, isoCapList(got), host.capBnd)
		}
	}
	if r.Status["Seccomp"] != "0" {
		t.Errorf("--privileged Seccomp = %s, want 0", r.Status["Seccomp"])
	}
	for _, op := range []string{"mount_tmpfs", "unshare_newns_newuser", "sethostname_same", "setns_pid1_net", "clone_newuser"} {
		if !isoIsOK(r.Ops[op]) {
			t.Errorf("--privileged: %s = %s, want OK", op, r.Ops[op])
		}
	}
	// The device cgroup allows everything: opening a node may still fail
	// for want of a driver (ENXIO), never with EPERM.
	for _, op := range []string{"open_mknod_mem", "open_mknod_kmsg", "open_mknod_fuse", "open_mknod_loop0"} {
		if r.Ops[op] == "EPERM" || strings.HasPrefix(r.Ops[op], "mknod:") {
			t.Errorf("--privileged: %s = %s, want the device cgroup to allow it", op, r.Ops[op])
		}
	}
	for _, p := range []string{"/proc/sys/kernel/hostname", "/sys/kernel/mm/transparent_hugepage/enabled"} {
		if pi := r.Paths[p]; pi.Exists && !isoIsOK(pi.WriteOpen) {
			t.Errorf("--privileged: %s not writable: %s", p, pi.WriteOpen)
		}
	}
	for _, m := range r.Mounts {
		if f := isoFlagsOf(m); f.mask {
			t.Errorf("--privileged: %s is still masked", m.Point)
		}
		if (m.Point == "/sys" || m.FSType == "cgroup") && isoFlagsOf(m).ro {
			t.Errorf("--privileged: %s is read-only", m.Point)
		}
	}
	if !slices.Contains(r.DevicesList, "a *:* rwm") {
		t.Errorf("--privileged device cgroup = %v, want a *:* rwm", r.DevicesList)
	}
	// Every host device node is there.
	have := map[string]bool{}
	for _, en := range r.Dev {
		have[en] = true
	}
	_ = filepath.Walk("/dev", func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		if fi.IsDir() {
			switch fi.Name() {
			case "pts", "shm", "fd", "mqueue":
				return filepath.SkipDir
			}
			return nil
		}
		// Skipped like Docker skips them: the console, and ptmx, which the
		// runtime makes a link to pts/ptmx.
		if fi.Mode()&os.ModeDevice == 0 || fi.Name() == "console" || fi.Name() == "ptmx" || strings.HasPrefix(p, "/dev/.") {
			return nil
		}
		want := fmt.Sprintf("%s %s %s", p, map[bool]string{true: "char", false: "block"}[fi.Mode()&os.ModeCharDevice != 0], isoDevNum(fi))
		if !have[want] {
			t.Errorf("--privileged: host device %s missing", want)
		}
		return nil
	})
	t.Logf("--privileged: caps %s, seccomp %s, %d device entries", isoCapList(isoParseMask(r.Status["CapEff"])), r.Status["Seccomp"], len(r.Dev))
}

// ---- report --------------------------------------------------------------------

type isoConfigResult struct {
	desc     string
	flags    []string
	findings []isoFinding
}

func isoLogFindings(t *testing.T, fs []isoFinding) {
	t.Helper()
	count := map[string]int{}
	var lines []string
	for _, f := range fs {
		count[f.verdict]++
		if f.verdict != isoEqual {
			lines = append(lines, fmt.Sprintf("  %-8s %-45s berth=%q docker=%q %s", f.verdict, f.key, f.berth, f.docker, f.why))
		}
	}
	sort.Strings(lines)
	t.Logf("%d keys: %d equal, %d stricter, %d differ, %d LOOSER\n%s", len(fs), count[isoEqual], count[isoStricter],
		count[isoDiffers], count[isoLooser], strings.Join(lines, "\n"))
}

// isoWriteIsolationReport logs which syscalls differ in any configuration
// and writes the whole comparison as Markdown when BERTH_ISOLATION_REPORT
// names a file.
func isoWriteIsolationReport(t *testing.T, all []isoConfigResult) {
	diff := map[string][]string{}
	for _, c := range all {
		for _, f := range c.findings {
			if name, ok := strings.CutPrefix(f.key, "syscall."); ok && f.verdict != isoEqual {
				diff[name] = append(diff[name], fmt.Sprintf("%s: %s berth=%s docker=%s", c.desc, f.verdict, f.berth, f.docker))
			}
		}
	}
	var names []string
	for n := range diff {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "  %s\n    %s\n", n, strings.Join(diff[n], "\n    "))
	}
	t.Logf("syscalls whose result differs from Docker's in some configuration (%d):\n%s", len(names), b.String())

	out := os.Getenv("BERTH_ISOLATION_REPORT")
	if out == "" {
		return
	}
	var md strings.Builder
	md.WriteString("# berth vs Docker isolation\n\n")
	for _, c := range all {
		fmt.Fprintf(&md, "## %s (`%s`)\n\n| verdict | key | berth | docker | why |\n|---|---|---|---|---|\n", c.desc, strings.Join(c.flags, " "))
		for _, f := range c.findings {
			if f.verdict != isoEqual {
				fmt.Fprintf(&md, "| %s | %s | %s | %s | %s |\n", f.verdict, f.key, f.berth, f.docker, f.why)
			}
		}
		n := 0
		for _, f := range c.findings {
			if f.verdict == isoEqual {
				n++
			}
		}
		fmt.Fprintf(&md, "\n%d further keys equal.\n\n", n)
	}
	if err := os.WriteFile(out, []byte(md.String()), 0o644); err != nil {
		t.Errorf("write %s: %v", out, err)
	}
}

// ---- small helpers ---------------------------------------------------------------

func isoUnionKeys[V any](a, b map[string]V) []string {
	seen := map[string]bool{}
	for k := range a {
		seen[k] = true
	}
	for k := range b {
		seen[k] = true
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func isoSetOf(list []string) map[string]bool {
	out := map[string]bool{}
	for _, s := range list {
		if s != "" {
			out[s] = true
		}
	}
	return out
}

func isoIntSet(in []int) []int {
	out := slices.Clone(in)
	sort.Ints(out)
	return slices.Compact(out)
}

func isoSubset(a, b []int) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func isoSubsetStr(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func isoRangeWidth(s string) int64 {
	f := strings.Fields(s)
	if len(f) != 2 {
		return -1
	}
	lo, _ := strconv.ParseInt(f[0], 10, 64)
	hi, _ := strconv.ParseInt(f[1], 10, 64)
	return hi - lo
}

// isoDevNum formats a device node's number as the probe does ("1:3").
func isoDevNum(fi os.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "?"
	}
	return fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
}

// TestIsolationCompareRules checks the "looser" rules themselves on
// hand-made reports, so that a pass of the real comparison means something.
func TestIsolationCompareRules(t *testing.T) {
	host := isoHostInfo{ns: map[string]string{"net": "net:[1]", "pid": "pid:[2]"}}
	base := func() *isoProbeReport {
		return &isoProbeReport{
			Status: map[string]string{"CapEff": "00000000a80425fb", "CapBnd": "00000000a80425fb",
				"NoNewPrivs": "0", "Seccomp": "2", "Seccomp_filters": "1"},
			Ops:        map[string]string{"mount_tmpfs": "EPERM"},
			Syscalls:   map[string]string{"keyctl": "EPERM", "clone3": "ENOSYS"},
			Paths:      map[string]isoProbePath{"/proc/keys": {Exists: true, Type: "char", Read: "OK:0", WriteOpen: "OK"}, "/proc/sys": {Exists: true, Type: "dir", Read: "OK:9 entries"}},
			Dev:        []string{"/dev/null char 1:3", "/dev/pts dir"},
			Mounts:     []isoProbeMount{{Point: "/sys", FSType: "sysfs", MountOpts: "ro,nosuid,nodev,noexec", SuperOpts: "ro"}, {Point: "/proc/keys", Root: "/null", FSType: "tmpfs", MountOpts: "rw,nosuid", SuperOpts: "rw"}},
			Namespaces: map[string]string{"net": "net:[10]", "pid": "pid:[20]"},
			Procs:      1, Hostname: "0123456789ab", Groups: []int{0},
			Rlimits:     map[string][2]uint64{"NOFILE": {1024, 4096}},
			NetIfaces:   []string{"lo"},
			Sysctls:     map[string]string{"net/ipv4/ip_unprivileged_port_start": "0", "net/ipv4/ping_group_range": "0 2147483647"},
			DevicesList: []string{"c 1:3 rwm"},
		}
	}
	cases := []struct {
		desc    string
		mutate  func(b *isoProbeReport) // applied to berth's copy only
		key     string
		verdict string
	}{
		{"identical reports are equal", func(*isoProbeReport) {}, "status.CapEff", isoEqual},
		{"an extra effective capability is looser", func(b *isoProbeReport) { b.Status["CapEff"] = "00000000a82425fb" }, "status.CapEff", isoLooser},
		{"a missing capability is stricter", func(b *isoProbeReport) { b.Status["CapEff"] = "00000000a80425fa" }, "status.CapEff", isoStricter},
		{"no seccomp where Docker filters is looser", func(b *isoProbeReport) { b.Status["Seccomp"] = "0" }, "status.Seccomp", isoLooser},
		{"no_new_privs set is stricter", func(b *isoProbeReport) { b.Status["NoNewPrivs"] = "1" }, "status.NoNewPrivs", isoStricter},
		{"an operation only berth allows is looser", func(b *isoProbeReport) { b.Ops["mount_tmpfs"] = "OK" }, "ops.mount_tmpfs", isoLooser},
		{"a syscall reaching the kernel under berth only is looser", func(b *isoProbeReport) { b.Syscalls["keyctl"] = "EOPNOTSUPP" }, "syscall.keyctl", isoLooser},
		{"EPERM where Docker says ENOSYS differs", func(b *isoProbeReport) { b.Syscalls["clone3"] = "EPERM" }, "syscall.clone3", isoDiffers},
		{"a masked file readable under berth is looser", func(b *isoProbeReport) {
			b.Paths["/proc/keys"] = isoProbePath{Exists: true, Type: "file", Read: "OK:120", WriteOpen: "EACCES"}
		}, "path./proc/keys (read)", isoLooser},
		{"a missing mask mount is looser", func(b *isoProbeReport) { b.Mounts = b.Mounts[:1] }, "mount./proc/keys", isoLooser},
		{"a writable /sys is looser", func(b *isoProbeReport) {
			b.Mounts[0] = isoProbeMount{Point: "/sys", FSType: "sysfs", MountOpts: "rw,nosuid,nodev,noexec", SuperOpts: "rw"}
		}, "mount./sys", isoLooser},
		{"the host's network namespace is looser", func(b *isoProbeReport) { b.Namespaces["net"] = "net:[1]" }, "ns.net", isoLooser},
		{"an extra device node is looser", func(b *isoProbeReport) { b.Dev = append(b.Dev, "/dev/mem char 1:1") }, "dev.char 1:1", isoLooser},
		{"more visible processes is looser", func(b *isoProbeReport) { b.Procs = 90 }, "procs.visible", isoLooser},
		{"a higher hard rlimit is looser", func(b *isoProbeReport) { b.Rlimits["NOFILE"] = [2]uint64{1024, 8192} }, "rlimit.NOFILE", isoLooser},
		{"an extra interface is looser", func(b *isoProbeReport) { b.NetIfaces = []string{"eth0", "lo"} }, "net.ifaces", isoLooser},
		{"an extra device cgroup rule is looser", func(b *isoProbeReport) { b.DevicesList = append(b.DevicesList, "a *:* rwm") }, "cgroup.devices.list", isoLooser},
		{"the same uid is equal", func(b *isoProbeReport) { b.UID = 0 }, "id.uid_gid", isoEqual},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			b, d := base(), base()
			c.mutate(b)
			var got []string
			for _, f := range isoCompareReports(b, d, host) {
				if f.key == c.key {
					got = append(got, f.verdict)
				}
			}
			if len(got) != 1 || got[0] != c.verdict {
				t.Errorf("%s: verdicts %v, want [%s]", c.key, got, c.verdict)
			}
		})
	}
	// Seccomp rules as handed to the runtimes.
	enosys := uint(unix.ENOSYS)
	rulesCases := []struct {
		desc        string
		berth, dock []specs.LinuxSyscall
		verdict     string
	}{
		{"same allow", []specs.LinuxSyscall{{Names: []string{"x"}, Action: specs.ActAllow}}, []specs.LinuxSyscall{{Names: []string{"x"}, Action: specs.ActAllow}}, isoEqual},
		{"allowed by berth only", []specs.LinuxSyscall{{Names: []string{"x"}, Action: specs.ActAllow}}, nil, isoLooser},
		{"unconditional where Docker filters arguments", []specs.LinuxSyscall{{Names: []string{"x"}, Action: specs.ActAllow}},
			[]specs.LinuxSyscall{{Names: []string{"x"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}}}}, isoLooser},
		{"an argument value Docker does not allow", []specs.LinuxSyscall{{Names: []string{"x"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 9, Op: specs.OpEqualTo}}}},
			[]specs.LinuxSyscall{{Names: []string{"x"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}}}}, isoLooser},
		{"argument conditions where Docker allows all", []specs.LinuxSyscall{{Names: []string{"x"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}}}},
			[]specs.LinuxSyscall{{Names: []string{"x"}, Action: specs.ActAllow}}, isoStricter},
		{"explicit ENOSYS where Docker has no rule", []specs.LinuxSyscall{{Names: []string{"x"}, Action: specs.ActErrno, ErrnoRet: &enosys}}, nil, isoDiffers},
	}
	for _, c := range rulesCases {
		b := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: c.berth}
		d := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: c.dock}
		for _, f := range isoCompareSeccompRules(b, d) {
			if f.key == "rule.x" && f.verdict != c.verdict {
				t.Errorf("rules, %s: %s, want %s", c.desc, f.verdict, c.verdict)
			}
		}
	}

	// Docker's side as non-root makes berth's root looser.
	b, d := base(), base()
	d.UID, d.GID = 1000, 1000
	for _, f := range isoCompareReports(b, d, host) {
		if f.key == "id.uid_gid" && f.verdict != isoLooser {
			t.Errorf("root under berth, uid 1000 under Docker: %s, want %s", f.verdict, isoLooser)
		}
	}
	// CAP_BPF and friends next to CAP_SYS_ADMIN grant nothing more.
	b, d = base(), base()
	b.Status["CapEff"], d.Status["CapEff"] = "000001fffeffffff", "0000003ffeffffff"
	for _, f := range isoCompareReports(b, d, host) {
		if f.key == "status.CapEff" && f.verdict != isoDiffers {
			t.Errorf("PERFMON/BPF/CHECKPOINT_RESTORE beside SYS_ADMIN: %s, want %s", f.verdict, isoDiffers)
		}
	}
}
