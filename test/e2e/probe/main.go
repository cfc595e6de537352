// Command probe reports, as one JSON document on stdout, how confined the
// process it runs in is: capabilities, no_new_privs and seccomp state, which
// privileged operations succeed, a seccomp syscall sweep, the /dev tree, the
// mount table, the namespaces, the visible processes, identity and rlimits.
//
// It is built statically by test/e2e/isolation_test.go, put alone into a
// rootfs tar and run as PID 1 of a berth container and of a Docker
// container, so that the two reports can be compared key by key.
//
// Everything it tries is harmless even with every capability and no
// seccomp filter: operations that would change the host (clock_settime,
// kexec, module loading, swapon, reboot outside a PID namespace...) are
// called with arguments the kernel rejects after its permission checks, so
// the answer still tells "the filter stopped it" (EPERM/ENOSYS) from "the
// kernel saw it" (EINVAL, EFAULT, EBADF, ENOENT...). Files are opened for
// writing but never written; what it creates (a tmpfs mount, device nodes,
// a test file) lives in the container and is removed again.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Report is the probe's output. Results of operations and syscalls are "OK"
// (it succeeded, optionally "OK:detail") or the errno's name ("EPERM").
type Report struct {
	// Status holds CapInh, CapPrm, CapEff, CapBnd, CapAmb (hex),
	// NoNewPrivs, Seccomp and Seccomp_filters from /proc/self/status.
	Status map[string]string `json:"status"`
	// Ops are the privileged operations, by name (see ops()).
	Ops map[string]string `json:"ops"`
	// Syscalls is the seccomp sweep, by syscall (see sweep()).
	Syscalls map[string]string `json:"syscalls"`
	// Paths describes sensitive paths (masked, read-only, writable).
	Paths map[string]PathInfo `json:"paths"`
	// Dev lists every entry under /dev: "path type" plus major:minor for
	// device nodes and the target for symlinks.
	Dev []string `json:"dev"`
	// Mounts is /proc/self/mountinfo, parsed.
	Mounts []MountInfo `json:"mounts"`
	// Namespaces maps a /proc/self/ns entry to its link ("pid:[4026...]").
	Namespaces map[string]string `json:"namespaces"`
	// Procs is the number of /proc/[0-9]* entries (processes visible).
	Procs    int    `json:"procs"`
	PID      int    `json:"pid"`
	Hostname string `json:"hostname"`
	UID      int    `json:"uid"`
	GID      int    `json:"gid"`
	Groups   []int  `json:"groups"`
	// Rlimits maps a resource ("NOFILE") to [soft, hard].
	Rlimits map[string][2]uint64 `json:"rlimits"`
	// NetIfaces are the network interfaces of its network namespace.
	NetIfaces []string `json:"net_ifaces"`
	// Sysctls are a few namespaced sysctls runtimes set for containers.
	Sysctls map[string]string `json:"sysctls"`
	// DevicesList is the v1 device cgroup allow list the container sees at
	// /sys/fs/cgroup/devices/devices.list (nil if absent).
	DevicesList []string `json:"devices_list"`
	// Errors are probe failures unrelated to confinement (a parse error...).
	Errors []string `json:"errors,omitempty"`
}

// PathInfo is what the probe could do with one path.
type PathInfo struct {
	Exists bool `json:"exists"`
	// Type is "dir", "file", "char", "block", "link" or "other".
	Type string `json:"type,omitempty"`
	// Read is "OK:<bytes>" (at most 4096 read) or "OK:<n> entries" for a
	// directory, or an errno; "" when reading was not attempted.
	Read string `json:"read,omitempty"`
	// WriteOpen is the result of open(O_WRONLY) (files only, never written).
	WriteOpen string `json:"write_open,omitempty"`
}

// MountInfo is one /proc/self/mountinfo line.
type MountInfo struct {
	Point     string `json:"point"`
	Root      string `json:"root"`
	FSType    string `json:"fstype"`
	Source    string `json:"source"`
	MountOpts string `json:"mount_opts"`
	SuperOpts string `json:"super_opts"`
}

func main() {
	if len(os.Args) > 1 {
		helper(os.Args[1]) // never returns
	}
	r := &Report{
		Status:     map[string]string{},
		Ops:        map[string]string{},
		Syscalls:   map[string]string{},
		Paths:      map[string]PathInfo{},
		Namespaces: map[string]string{},
		Rlimits:    map[string][2]uint64{},
		Sysctls:    map[string]string{},
	}
	r.status()
	r.identity()
	r.namespaces()
	r.procs()
	r.mounts()
	r.dev()
	r.paths()
	r.rlimits()
	r.net()
	r.ops()
	r.sweep()
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(r); err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}

func (r *Report) fail(format string, args ...any) {
	r.Errors = append(r.Errors, fmt.Sprintf(format, args...))
}

// result names the outcome of a call: "OK" or the errno's name.
func result(err error) string {
	if err == nil {
		return "OK"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if errno == 0 {
			return "OK"
		}
		if name := unix.ErrnoName(errno); name != "" {
			return name
		}
		return "errno" + strconv.Itoa(int(errno))
	}
	return "ERR:" + err.Error()
}

// ---- /proc/self/status, identity, namespaces, processes ---------------------

func (r *Report) status() {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		r.fail("status: %v", err)
		return
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch k {
		case "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Seccomp_filters":
			r.Status[k] = strings.TrimSpace(v)
		}
	}
}

func (r *Report) identity() {
	r.PID = os.Getpid()
	r.UID, r.GID = os.Getuid(), os.Getgid()
	groups, err := os.Getgroups()
	if err != nil {
		r.fail("getgroups: %v", err)
	}
	sort.Ints(groups)
	r.Groups = groups
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		r.fail("uname: %v", err)
	}
	r.Hostname = unix.ByteSliceToString(u.Nodename[:])
}

func (r *Report) namespaces() {
	ents, err := os.ReadDir("/proc/self/ns")
	if err != nil {
		r.fail("ns: %v", err)
		return
	}
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/ns/" + e.Name()); err == nil {
			r.Namespaces[e.Name()] = l
		}
	}
}

func (r *Report) procs() {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		r.fail("proc: %v", err)
		return
	}
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			r.Procs++
		}
	}
}

// ---- mounts, /dev, sensitive paths ---------------------------------------

func (r *Report) mounts() {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		r.fail("mountinfo: %v", err)
		return
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 6 || len(g) < 3 {
			r.fail("mountinfo line %q", line)
			continue
		}
		r.Mounts = append(r.Mounts, MountInfo{
			Point: unescape(f[4]), Root: unescape(f[3]), MountOpts: f[5],
			FSType: g[0], Source: unescape(g[1]), SuperOpts: g[2],
		})
	}
}

// unescape undoes mountinfo's octal escapes ("\040" for a space).
func unescape(s string) string {
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

func (r *Report) dev() {
	err := filepath.Walk("/dev", func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			r.fail("walk %s: %v", p, err)
			return nil
		}
		if p == "/dev" {
			return nil
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		entry := p + " " + fileType(fi.Mode())
		switch fi.Mode().Type() {
		case os.ModeDevice | os.ModeCharDevice, os.ModeDevice:
			entry += fmt.Sprintf(" %d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		case os.ModeSymlink:
			t, _ := os.Readlink(p)
			entry += " -> " + t
		}
		r.Dev = append(r.Dev, entry)
		return nil
	})
	if err != nil {
		r.fail("walk /dev: %v", err)
	}
	sort.Strings(r.Dev)
}

func fileType(m os.FileMode) string {
	switch m.Type() {
	case os.ModeDir:
		return "dir"
	case 0:
		return "file"
	case os.ModeDevice | os.ModeCharDevice:
		return "char"
	case os.ModeDevice:
		return "block"
	case os.ModeSymlink:
		return "link"
	}
	return "other"
}

// sensitivePaths are Docker's masked and read-only paths plus files whose
// writability matters. read says whether reading up to 4 KiB is harmless
// and meaningful (never /proc/kmsg: reading consumes the host's log).
var sensitivePaths = []struct {
	path string
	read bool
}{
	// Docker's masked paths.
	{"/proc/acpi", true}, {"/proc/asound", true}, {"/proc/interrupts", true}, {"/proc/kcore", true},
	{"/proc/keys", true}, {"/proc/latency_stats", true}, {"/proc/sched_debug", true}, {"/proc/scsi", true},
	{"/proc/timer_list", true}, {"/proc/timer_stats", true}, {"/sys/devices/virtual/powercap", true},
	{"/sys/firmware", true},
	// Docker's read-only paths.
	{"/proc/bus", true}, {"/proc/fs", true}, {"/proc/irq", true}, {"/proc/sys", true},
	{"/proc/sysrq-trigger", false},
	// Writable only by a runtime that forgot them.
	{"/proc/sys/kernel/hostname", true}, {"/proc/sys/kernel/core_pattern", true},
	{"/proc/sys/kernel/modprobe", true}, {"/proc/sys/vm/drop_caches", false},
	{"/proc/sys/net/ipv4/ip_forward", true}, {"/proc/kmsg", false},
	{"/sys/kernel/mm/transparent_hugepage/enabled", true}, {"/sys/power/state", true},
	{"/sys/kernel/uevent_helper", true}, {"/sys/fs/cgroup", true},
	{"/sys/fs/cgroup/devices/devices.allow", false}, {"/sys/fs/cgroup/unified/cgroup.procs", true},
	{"/sys/fs/cgroup/cgroup.procs", true}, {"/sys/fs/cgroup/memory/memory.limit_in_bytes", true},
	{"/sys/fs/cgroup/pids/pids.max", true}, {"/sys/fs/cgroup/cpu/cpu.cfs_quota_us", true},
	{"/proc/self/oom_score_adj", true}, {"/proc/self/setgroups", true},
	{"/etc/hosts", true}, {"/etc/hostname", true}, {"/etc/resolv.conf", true},
}

func (r *Report) paths() {
	for _, sp := range sensitivePaths {
		var pi PathInfo
		fi, err := os.Lstat(sp.path)
		if err != nil {
			r.Paths[sp.path] = PathInfo{Read: result(err)}
			continue
		}
		pi.Exists = true
		pi.Type = fileType(fi.Mode())
		switch {
		case fi.IsDir():
			ents, err := os.ReadDir(sp.path)
			if err != nil {
				pi.Read = result(err)
			} else {
				pi.Read = fmt.Sprintf("OK:%d entries", len(ents))
			}
		default:
			if sp.read {
				pi.Read = readSome(sp.path)
			} else {
				fd, err := unix.Open(sp.path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
				if err == nil {
					unix.Close(fd)
				}
				pi.Read = "open:" + result(err)
			}
			// Opened for writing, never written: the open alone tells a
			// read-only mount (EROFS) or a permission check (EACCES) apart.
			fd, err := unix.Open(sp.path, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
			if err == nil {
				unix.Close(fd)
			}
			pi.WriteOpen = result(err)
		}
		r.Paths[sp.path] = pi
	}
}

func readSome(p string) string {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return result(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return result(err)
	}
	return "OK:" + strconv.Itoa(n)
}

// ---- rlimits, network, sysctls ------------------------------------------------

var rlimitNames = []struct {
	name string
	res  int
}{
	{"AS", unix.RLIMIT_AS}, {"CORE", unix.RLIMIT_CORE}, {"CPU", unix.RLIMIT_CPU}, {"DATA", unix.RLIMIT_DATA},
	{"FSIZE", unix.RLIMIT_FSIZE}, {"LOCKS", 10}, {"MEMLOCK", unix.RLIMIT_MEMLOCK}, {"MSGQUEUE", 12},
	{"NICE", 13}, {"NOFILE", unix.RLIMIT_NOFILE}, {"NPROC", unix.RLIMIT_NPROC}, {"RSS", unix.RLIMIT_RSS},
	{"RTPRIO", 14}, {"RTTIME", 15}, {"SIGPENDING", 11}, {"STACK", unix.RLIMIT_STACK},
}

func (r *Report) rlimits() {
	for _, l := range rlimitNames {
		var rl unix.Rlimit
		if err := unix.Getrlimit(l.res, &rl); err != nil {
			r.fail("getrlimit %s: %v", l.name, err)
			continue
		}
		r.Rlimits[l.name] = [2]uint64{rl.Cur, rl.Max}
	}
}

func (r *Report) net() {
	data, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		r.fail("net/dev: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok && !strings.Contains(name, "|") {
			r.NetIfaces = append(r.NetIfaces, strings.TrimSpace(name))
		}
	}
	sort.Strings(r.NetIfaces)
	for _, k := range []string{"net/ipv4/ping_group_range", "net/ipv4/ip_unprivileged_port_start", "kernel/hostname"} {
		data, err := os.ReadFile("/proc/sys/" + k)
		if err != nil {
			r.Sysctls[k] = result(err)
			continue
		}
		r.Sysctls[k] = strings.Join(strings.Fields(string(data)), " ")
	}
	if data, err := os.ReadFile("/sys/fs/cgroup/devices/devices.list"); err == nil {
		r.DevicesList = strings.Split(strings.TrimSpace(string(data)), "\n")
		sort.Strings(r.DevicesList)
	}
}

// ---- privileged operations ---------------------------------------------------

// scratchDir makes the directory ops create things in: /dev is a writable
// tmpfs in every configuration, even with --read-only, and it is not nodev;
// a non-root user cannot write there, so /tmp and /dev/shm are the fallbacks.
func scratchDir() (string, string) {
	var first error
	for _, d := range []string{"/dev/.probe", "/tmp/.probe", "/dev/shm/.probe"} {
		err := os.Mkdir(d, 0o700)
		if err == nil {
			return d, "OK:" + d
		}
		if first == nil {
			first = err
		}
	}
	return "/nonexistent-probe-scratch", result(first)
}

func (r *Report) ops() {
	o := r.Ops
	scratch, res := scratchDir()
	o["scratch_dir"] = res
	defer os.RemoveAll(scratch)

	mnt := filepath.Join(scratch, "mnt")
	_ = os.Mkdir(mnt, 0o700)
	err := unix.Mount("probe", mnt, "tmpfs", 0, "size=64k")
	o["mount_tmpfs"] = result(err)
	if err == nil {
		_ = unix.Unmount(mnt, unix.MNT_DETACH)
	}

	o["unshare_newns_newuser"] = child(&syscall.SysProcAttr{Unshareflags: unix.CLONE_NEWNS | unix.CLONE_NEWUSER}, "noop")
	o["clone_newuser"] = child(&syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER}, "noop")
	o["clone_newns"] = child(&syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNS}, "noop")
	o["ptrace_traceme"] = child(nil, "traceme")

	// CAP_MKNOD allows creating any node; the device cgroup decides
	// whether it can be opened.
	null := filepath.Join(scratch, "null")
	o["mknod_char"] = result(unix.Mknod(null, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))))
	o["open_mknod_null"] = openResult(null)
	for _, d := range []struct {
		name  string
		mode  uint32
		major uint32
		minor uint32
	}{
		{"mem", unix.S_IFCHR, 1, 1}, {"kmsg", unix.S_IFCHR, 1, 11}, {"fuse", unix.S_IFCHR, 10, 229},
		{"tun", unix.S_IFCHR, 10, 200}, {"loop0", unix.S_IFBLK, 7, 0},
	} {
		p := filepath.Join(scratch, d.name)
		if err := unix.Mknod(p, d.mode|0o600, int(unix.Mkdev(d.major, d.minor))); err != nil {
			o["open_mknod_"+d.name] = "mknod:" + result(err)
			continue
		}
		o["open_mknod_"+d.name] = openResult(p)
	}

	o["raw_socket"] = socketResult(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP)
	o["packet_socket"] = socketResult(unix.AF_PACKET, unix.SOCK_RAW, 0)
	o["icmp_dgram_socket"] = socketResult(unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_ICMP)

	_, _, e := unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_GET_KEYRING_ID, uintptr(0xfffffffd) /* KEY_SPEC_SESSION_KEYRING */, 0)
	o["keyctl_get_session"] = result(e)

	p, _, e := unix.Syscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
	if e == 0 {
		o["personality_query"] = fmt.Sprintf("OK:%#x", p)
	} else {
		o["personality_query"] = result(e)
	}

	// tv_nsec out of range: the kernel checks it before CAP_SYS_TIME and
	// never sets the (host-wide) clock.
	ts := unix.Timespec{Sec: 0, Nsec: -1}
	_, _, e = unix.Syscall(unix.SYS_CLOCK_SETTIME, unix.CLOCK_REALTIME, uintptr(unsafe.Pointer(&ts)), 0)
	o["clock_settime_invalid"] = result(e)

	// In a child PID namespace reboot(CAD_OFF) is EINVAL once allowed; in
	// the host's it would change the host, so it is only tried as PID 1.
	if os.Getpid() == 1 {
		_, _, e = unix.Syscall6(unix.SYS_REBOOT, unix.LINUX_REBOOT_MAGIC1, unix.LINUX_REBOOT_MAGIC2, unix.LINUX_REBOOT_CMD_CAD_OFF, 0, 0, 0)
		o["reboot_cad_off"] = result(e)
	} else {
		o["reboot_cad_off"] = "SKIPPED:not pid 1"
	}

	swapPath := append([]byte("/nonexistent-probe-swap"), 0)
	_, _, e = unix.Syscall(unix.SYS_SWAPON, uintptr(unsafe.Pointer(&swapPath[0])), 0, 0)
	o["swapon_missing"] = result(e)
	_, _, e = unix.Syscall(unix.SYS_INIT_MODULE, 0, 0, uintptr(unsafe.Pointer(&[]byte{0}[0])))
	o["init_module_empty"] = result(e)

	host, _ := os.Hostname()
	o["sethostname_same"] = result(unix.Sethostname([]byte(host)))
	o["chroot_self"] = result(unix.Chroot("/"))
	o["setns_pid1_net"] = setnsResult()

	o["write_rootfs"] = createResult("/.probe-write")
	o["write_tmp"] = createResult("/tmp/.probe-write")
	o["write_dev_shm"] = createResult("/dev/shm/.probe-write")
	o["write_dev"] = createResult("/dev/.probe-write")
}

// openResult opens a device node without blocking and closes it again.
func openResult(p string) string {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
	}
	return result(err)
}

func socketResult(domain, typ, proto int) string {
	fd, err := unix.Socket(domain, typ|unix.SOCK_CLOEXEC, proto)
	if err == nil {
		unix.Close(fd)
	}
	return result(err)
}

func createResult(p string) string {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return result(err)
	}
	f.Close()
	os.Remove(p)
	return "OK"
}

// setnsResult joins its own network namespace again: allowed means the
// filter lets setns through (and CAP_SYS_ADMIN is held).
func setnsResult() string {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	fd, err := unix.Open("/proc/self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "open:" + result(err)
	}
	defer unix.Close(fd)
	return result(unix.Setns(fd, unix.CLONE_NEWNET))
}

// child runs the probe again as "probe <mode>" with attr and reports how
// that went: the fork's own errno (clone/unshare refused) or the helper's
// exit status, which is the errno of what it tried.
func child(attr *syscall.SysProcAttr, mode string) string {
	self, err := os.Executable()
	if err != nil {
		return result(err)
	}
	cmd := exec.Command(self, mode)
	cmd.SysProcAttr = attr
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "OK"
	case errors.As(err, &ee):
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			return "SIGNAL:" + ws.Signal().String()
		}
		return result(syscall.Errno(ws.ExitStatus()))
	}
	return result(err)
}

// helper is the child side of child(): its exit status is 0 or an errno.
func helper(mode string) {
	switch mode {
	case "noop":
		os.Exit(0)
	case "sleep":
		// Keeps a container alive so its runtime spec can be inspected.
		for {
			time.Sleep(time.Hour)
		}
	case "traceme":
		// PTRACE_TRACEME makes the parent this thread's tracer: any signal
		// delivered to the thread would stop it. Block them all on this
		// thread first, then exit straight from the raw syscall.
		runtime.LockOSThread()
		all := unix.Sigset_t{}
		for i := range all.Val {
			all.Val[i] = ^uint64(0)
		}
		_ = unix.PthreadSigmask(unix.SIG_BLOCK, &all, nil)
		_, _, e := unix.RawSyscall(unix.SYS_PTRACE, unix.PTRACE_TRACEME, 0, 0)
		unix.RawSyscall(unix.SYS_EXIT_GROUP, uintptr(e), 0, 0)
	}
	os.Exit(125)
}

// ---- seccomp sweep -----------------------------------------------------------

// A call is one sweep entry: a syscall with arguments that are harmless
// whatever the privileges, chosen so that a kernel that sees the call
// answers something other than EPERM/ENOSYS wherever possible.
type call struct {
	name string
	nr   uintptr
	args [6]uintptr
}

const bad = ^uintptr(0) // an invalid fd, flag set or command

// sweepCalls names ~90 syscalls: those Docker's default profile denies or
// gates on a capability, those it allows only with certain arguments, and
// newer ones a profile may or may not know. Comments say what the kernel
// answers once the filter lets the call through.
func sweepCalls() []call {
	cstr := func(s string) uintptr { return uintptr(unsafe.Pointer(&append([]byte(s), 0)[0])) }
	missing := cstr("/nonexistent-probe")
	return []call{
		// Denied (or capability-gated) by Docker's default profile.
		{"acct", unix.SYS_ACCT, [6]uintptr{missing}},                                           // ENOENT (cap first: EPERM)
		{"add_key", unix.SYS_ADD_KEY, [6]uintptr{0, 0, 0, 0, 0}},                               // EFAULT
		{"bpf", unix.SYS_BPF, [6]uintptr{0xffff, 0, 0}},                                        // EINVAL
		{"clock_adjtime", unix.SYS_CLOCK_ADJTIME, [6]uintptr{unix.CLOCK_REALTIME, 0}},          // EFAULT
		{"clock_settime", unix.SYS_CLOCK_SETTIME, [6]uintptr{unix.CLOCK_REALTIME, 0}},          // EFAULT
		{"settimeofday", unix.SYS_SETTIMEOFDAY, [6]uintptr{1, 0}},                              // EFAULT
		{"adjtimex", unix.SYS_ADJTIMEX, [6]uintptr{0}},                                         // EFAULT
		{"delete_module", unix.SYS_DELETE_MODULE, [6]uintptr{0, 0}},                            // EFAULT (cap first)
		{"finit_module", unix.SYS_FINIT_MODULE, [6]uintptr{bad, 0, bad}},                       // EINVAL/EBADF (cap first)
		{"init_module", unix.SYS_INIT_MODULE, [6]uintptr{0, 0, 0}},                             // ENOEXEC/EFAULT (cap first)
		{"kexec_file_load", unix.SYS_KEXEC_FILE_LOAD, [6]uintptr{bad, bad, 0, 0, bad}},         // EINVAL (cap first)
		{"kexec_load", unix.SYS_KEXEC_LOAD, [6]uintptr{0, 0, 0, bad}},                          // EINVAL (cap first)
		{"get_mempolicy", unix.SYS_GET_MEMPOLICY, [6]uintptr{0, 0, 0, 0, bad}},                 // EINVAL
		{"set_mempolicy", unix.SYS_SET_MEMPOLICY, [6]uintptr{99, 0, 0}},                        // EINVAL
		{"mbind", unix.SYS_MBIND, [6]uintptr{0, 0, 99, 0, 0, 0}},                               // EINVAL
		{"move_pages", unix.SYS_MOVE_PAGES, [6]uintptr{0, 0, 0, 0, 0, bad}},                    // EINVAL
		{"migrate_pages", unix.SYS_MIGRATE_PAGES, [6]uintptr{0x7ffffff0, 0, 0, 0}},             // ESRCH
		{"kcmp", unix.SYS_KCMP, [6]uintptr{0x7ffffff0, 0x7ffffff0, 0, 0, 0}},                   // ESRCH
		{"mount", unix.SYS_MOUNT, [6]uintptr{0, 0, 0, 0, 0}},                                   // EFAULT
		{"umount2", unix.SYS_UMOUNT2, [6]uintptr{0, bad}},                                      // EINVAL
		{"pivot_root", unix.SYS_PIVOT_ROOT, [6]uintptr{0, 0}},                                  // EFAULT (cap first)
		{"swapon", unix.SYS_SWAPON, [6]uintptr{missing, 0}},                                    // ENOENT (cap first)
		{"swapoff", unix.SYS_SWAPOFF, [6]uintptr{missing}},                                     // ENOENT (cap first)
		{"open_by_handle_at", unix.SYS_OPEN_BY_HANDLE_AT, [6]uintptr{bad, 0, 0}},               // EBADF
		{"name_to_handle_at", unix.SYS_NAME_TO_HANDLE_AT, [6]uintptr{bad, 0, 0, 0, bad}},       // EINVAL
		{"perf_event_open", unix.SYS_PERF_EVENT_OPEN, [6]uintptr{0, 0, bad, bad, 0}},           // EFAULT
		{"quotactl", unix.SYS_QUOTACTL, [6]uintptr{bad, 0, 0, 0}},                              // ENODEV
		{"quotactl_fd", unix.SYS_QUOTACTL_FD, [6]uintptr{bad, 0, 0, 0}},                        // EBADF
		{"setns", unix.SYS_SETNS, [6]uintptr{bad, 0}},                                          // EBADF
		{"unshare", unix.SYS_UNSHARE, [6]uintptr{1}},                                           // EINVAL
		{"userfaultfd", unix.SYS_USERFAULTFD, [6]uintptr{bad}},                                 // EINVAL
		{"keyctl", unix.SYS_KEYCTL, [6]uintptr{9999}},                                          // EOPNOTSUPP
		{"request_key", unix.SYS_REQUEST_KEY, [6]uintptr{0, 0, 0, 0}},                          // EFAULT
		{"iopl", unix.SYS_IOPL, [6]uintptr{4}},                                                 // EINVAL
		{"ioperm", unix.SYS_IOPERM, [6]uintptr{0xffffff, 0xffffff, 1}},                         // EINVAL
		{"syslog", unix.SYS_SYSLOG, [6]uintptr{9999, 0, 0}},                                    // EINVAL (cap first)
		{"lookup_dcookie", unix.SYS_LOOKUP_DCOOKIE, [6]uintptr{0, 0, 0}},                       // ENOSYS: removed from the kernel
		{"fanotify_init", unix.SYS_FANOTIFY_INIT, [6]uintptr{bad, 0}},                          // EINVAL
		{"process_vm_readv", unix.SYS_PROCESS_VM_READV, [6]uintptr{0x7ffffff0, 0, 0, 0, 0, 0}}, // ESRCH
		{"process_vm_writev", unix.SYS_PROCESS_VM_WRITEV, [6]uintptr{0x7ffffff0, 0, 0, 0, 0, 0}},
		{"ptrace", unix.SYS_PTRACE, [6]uintptr{unix.PTRACE_ATTACH, 0x7ffffff0, 0, 0}}, // ESRCH
		{"personality_addr_no_randomize", unix.SYS_PERSONALITY, [6]uintptr{0x0040000 /* ADDR_NO_RANDOMIZE */}},
		{"personality_query", unix.SYS_PERSONALITY, [6]uintptr{0xffffffff}},
		{"personality_linux", unix.SYS_PERSONALITY, [6]uintptr{0}},
		{"clone_newuser", unix.SYS_CLONE, [6]uintptr{unix.CLONE_NEWUSER | unix.CLONE_FS}}, // EINVAL
		{"clone_newns", unix.SYS_CLONE, [6]uintptr{unix.CLONE_NEWNS | unix.CLONE_FS}},     // EINVAL
		{"clone_thread_only", unix.SYS_CLONE, [6]uintptr{unix.CLONE_THREAD}},              // EINVAL
		{"clone3", unix.SYS_CLONE3, [6]uintptr{0, 0}},                                     // EINVAL (size 0)
		{"socket_vsock", unix.SYS_SOCKET, [6]uintptr{unix.AF_VSOCK, unix.SOCK_STREAM, 0}},
		{"socket_netlink_audit", unix.SYS_SOCKET, [6]uintptr{unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_AUDIT}},
		{"fsopen", unix.SYS_FSOPEN, [6]uintptr{0, bad}},                             // EINVAL (cap first)
		{"fsconfig", unix.SYS_FSCONFIG, [6]uintptr{bad, 0, 0, 0, 0}},                // EBADF/EINVAL
		{"fsmount", unix.SYS_FSMOUNT, [6]uintptr{bad, bad, 0}},                      // EINVAL
		{"fspick", unix.SYS_FSPICK, [6]uintptr{bad, 0, bad}},                        // EINVAL
		{"open_tree", unix.SYS_OPEN_TREE, [6]uintptr{bad, 0, bad}},                  // EINVAL
		{"move_mount", unix.SYS_MOVE_MOUNT, [6]uintptr{bad, 0, bad, 0, bad}},        // EINVAL
		{"mount_setattr", unix.SYS_MOUNT_SETATTR, [6]uintptr{bad, 0, bad, 0, 0}},    // EINVAL
		{"io_uring_setup", unix.SYS_IO_URING_SETUP, [6]uintptr{0, 0}},               // EINVAL/EFAULT
		{"io_uring_enter", unix.SYS_IO_URING_ENTER, [6]uintptr{bad, 0, 0, 0, 0, 0}}, // EBADF
		{"io_uring_register", unix.SYS_IO_URING_REGISTER, [6]uintptr{bad, 0, 0, 0}}, // EBADF
		{"sethostname", unix.SYS_SETHOSTNAME, [6]uintptr{0, 1 << 20}},               // EINVAL (cap first)
		{"setdomainname", unix.SYS_SETDOMAINNAME, [6]uintptr{0, 1 << 20}},           // EINVAL (cap first)
		{"chroot", unix.SYS_CHROOT, [6]uintptr{0}},                                  // EFAULT (cap first)
		{"modify_ldt_read", unix.SYS_MODIFY_LDT, [6]uintptr{0, 0, 0}},               // OK
		{"arch_prctl", unix.SYS_ARCH_PRCTL, [6]uintptr{0x9999, 0}},                  // EINVAL
		{"ioprio_set", unix.SYS_IOPRIO_SET, [6]uintptr{bad, 0, 0}},                  // EINVAL
		{"sched_setattr", unix.SYS_SCHED_SETATTR, [6]uintptr{0, 0, bad}},            // EINVAL
		{"pkey_alloc", unix.SYS_PKEY_ALLOC, [6]uintptr{bad, 0}},                     // EINVAL
		{"rseq", unix.SYS_RSEQ, [6]uintptr{0, 0, bad, 0}},                           // EINVAL
		{"seccomp_get_action_avail", unix.SYS_SECCOMP, [6]uintptr{2, 0, 0}},         // EFAULT
		{"vmsplice", unix.SYS_VMSPLICE, [6]uintptr{bad, 0, 0, 0}},                   // EBADF
		{"getrandom", unix.SYS_GETRANDOM, [6]uintptr{0, 0, bad}},                    // EINVAL
		{"memfd_create", unix.SYS_MEMFD_CREATE, [6]uintptr{0, 0}},                   // EFAULT
		{"kill_missing", unix.SYS_KILL, [6]uintptr{0x7ffffff0, 0}},                  // ESRCH
		{"read_badfd", unix.SYS_READ, [6]uintptr{bad, 0, 0}},                        // EBADF
		{"mknodat", unix.SYS_MKNODAT, [6]uintptr{bad, 0, 0, 0}},                     // EFAULT
		{"sync_file_range", unix.SYS_SYNC_FILE_RANGE, [6]uintptr{bad, 0, 0, bad}},   // EINVAL
		{"fanotify_mark", unix.SYS_FANOTIFY_MARK, [6]uintptr{bad, bad, 0, bad, 0}},  // EINVAL
		{"name_to_handle_badfd", unix.SYS_NAME_TO_HANDLE_AT, [6]uintptr{bad, 0, 0, 0, 0}},
		// Newer syscalls (Linux 5.3+): allowed by recent Docker profiles,
		// unknown to older ones (which then deny them).
		{"pidfd_open", unix.SYS_PIDFD_OPEN, [6]uintptr{0, bad}},                                 // EINVAL
		{"pidfd_send_signal", unix.SYS_PIDFD_SEND_SIGNAL, [6]uintptr{bad, 0, 0, 0}},             // EBADF
		{"pidfd_getfd", unix.SYS_PIDFD_GETFD, [6]uintptr{bad, bad, bad}},                        // EINVAL
		{"close_range", unix.SYS_CLOSE_RANGE, [6]uintptr{10, 5, 0}},                             // EINVAL
		{"openat2", unix.SYS_OPENAT2, [6]uintptr{bad, 0, 0, 0}},                                 // EINVAL
		{"faccessat2", unix.SYS_FACCESSAT2, [6]uintptr{bad, 0, 0, bad}},                         // EINVAL
		{"process_madvise", unix.SYS_PROCESS_MADVISE, [6]uintptr{bad, 0, 0, 0, 0}},              // EBADF
		{"epoll_pwait2", unix.SYS_EPOLL_PWAIT2, [6]uintptr{bad, 0, 1, 0, 0, 0}},                 // EBADF/EINVAL
		{"landlock_create_ruleset", unix.SYS_LANDLOCK_CREATE_RULESET, [6]uintptr{0, 0, bad}},    // EINVAL
		{"landlock_add_rule", unix.SYS_LANDLOCK_ADD_RULE, [6]uintptr{bad, 0, 0, bad}},           // EINVAL
		{"landlock_restrict_self", unix.SYS_LANDLOCK_RESTRICT_SELF, [6]uintptr{bad, bad}},       // EINVAL
		{"memfd_secret", unix.SYS_MEMFD_SECRET, [6]uintptr{bad}},                                // EINVAL
		{"process_mrelease", unix.SYS_PROCESS_MRELEASE, [6]uintptr{bad, 0}},                     // EBADF
		{"futex_waitv", unix.SYS_FUTEX_WAITV, [6]uintptr{0, 0, bad, 0, 0}},                      // EINVAL
		{"set_mempolicy_home_node", unix.SYS_SET_MEMPOLICY_HOME_NODE, [6]uintptr{0, 0, 0, bad}}, // EINVAL
		{"cachestat", unix.SYS_CACHESTAT, [6]uintptr{bad, 0, 0, bad}},                           // EINVAL
		{"fchmodat2", unix.SYS_FCHMODAT2, [6]uintptr{bad, 0, 0, bad}},                           // EINVAL
		{"map_shadow_stack", unix.SYS_MAP_SHADOW_STACK, [6]uintptr{0, 0, bad}},                  // EINVAL
		{"futex_wake", unix.SYS_FUTEX_WAKE, [6]uintptr{0, 0, 0, bad}},                           // EINVAL
		{"futex_wait", unix.SYS_FUTEX_WAIT, [6]uintptr{0, 0, 0, bad, 0, 0}},                     // EINVAL
		{"futex_requeue", unix.SYS_FUTEX_REQUEUE, [6]uintptr{0, bad, 0, 0}},                     // EINVAL
		{"statmount", unix.SYS_STATMOUNT, [6]uintptr{0, 0, 0, bad}},                             // EINVAL
		{"listmount", unix.SYS_LISTMOUNT, [6]uintptr{0, 0, 0, bad}},                             // EINVAL
		{"lsm_get_self_attr", unix.SYS_LSM_GET_SELF_ATTR, [6]uintptr{0, 0, 0, bad}},             // EINVAL
		{"lsm_set_self_attr", unix.SYS_LSM_SET_SELF_ATTR, [6]uintptr{0, 0, 0, bad}},             // EINVAL
		{"lsm_list_modules", unix.SYS_LSM_LIST_MODULES, [6]uintptr{0, 0, bad}},                  // EINVAL
		{"mseal", unix.SYS_MSEAL, [6]uintptr{0, 0, bad}},                                        // EINVAL
		{"setxattrat", unix.SYS_SETXATTRAT, [6]uintptr{bad, 0, bad, 0, 0, 0}},                   // EINVAL
		{"getxattrat", unix.SYS_GETXATTRAT, [6]uintptr{bad, 0, bad, 0, 0, 0}},                   // EINVAL
		{"listxattrat", unix.SYS_LISTXATTRAT, [6]uintptr{bad, 0, bad, 0, 0}},                    // EINVAL
		{"removexattrat", unix.SYS_REMOVEXATTRAT, [6]uintptr{bad, 0, bad, 0}},                   // EINVAL
		{"open_tree_attr", unix.SYS_OPEN_TREE_ATTR, [6]uintptr{bad, 0, bad, 0, 0}},              // EINVAL
		{"file_getattr", unix.SYS_FILE_GETATTR, [6]uintptr{bad, 0, 0, 0, bad}},                  // EINVAL
		{"file_setattr", unix.SYS_FILE_SETATTR, [6]uintptr{bad, 0, 0, 0, bad}},                  // EINVAL
	}
}

func (r *Report) sweep() {
	// personality() changes are undone below; everything else fails.
	old, _, _ := unix.RawSyscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
	for _, c := range sweepCalls() {
		r1, _, e := unix.Syscall6(c.nr, c.args[0], c.args[1], c.args[2], c.args[3], c.args[4], c.args[5])
		if c.nr == unix.SYS_CLONE && e == 0 && r1 == 0 {
			// Cannot happen (the flags are invalid), but a forked copy of
			// this process must not run on.
			unix.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
		}
		if e == 0 {
			switch c.nr {
			case unix.SYS_SOCKET, unix.SYS_MEMFD_SECRET, unix.SYS_PIDFD_OPEN:
				unix.Close(int(r1))
			}
		}
		r.Syscalls[c.name] = result(e)
	}
	unix.RawSyscall(unix.SYS_PERSONALITY, old, 0, 0)
}
