package spec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Host is what Generate needs to know about the machine. ProbeHost fills it;
// tests build it by hand to generate specs for other machines.
type Host struct {
	// CgroupV2 is true when /sys/fs/cgroup is a cgroup2 mount (unified
	// layout). Hybrid and v1 hosts are false.
	CgroupV2 bool
	// CgroupNamespaces is true when the kernel has cgroup namespaces
	// (Linux 4.6+), on any cgroup layout.
	CgroupNamespaces bool
	// Capabilities are the capabilities the container may get at all: the
	// host's bounding set ("CAP_..." in number order). --privileged and
	// --cap-add ALL get exactly these.
	Capabilities []string
	// Seccomp is true when the kernel supports seccomp filters.
	Seccomp bool
	// SwapAccounting is true when memory+swap can be limited.
	SwapAccounting bool
	// NumCPU bounds --cpus.
	NumCPU int
	// ThermalThrottlePaths are the /sys/devices/system/cpu/cpuN/thermal_throttle
	// directories that exist; Docker masks them.
	ThermalThrottlePaths []string
	// PingGroupRange and UnprivilegedPortStart tell whether those sysctls
	// exist; Docker sets them only then.
	PingGroupRange        bool
	UnprivilegedPortStart bool
}

// ProbeHost inspects the running machine. It reads a handful of small files
// and costs well under a millisecond.
func ProbeHost() (Host, error) {
	var h Host
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return h, fmt.Errorf("probe cgroup layout: %w", err)
	}
	h.CgroupV2 = st.Type == unix.CGROUP2_SUPER_MAGIC
	h.CgroupNamespaces = exists("/proc/self/ns/cgroup")

	caps, err := boundingCapabilities()
	if err != nil {
		return h, err
	}
	h.Capabilities = caps

	// PR_GET_SECCOMP fails with EINVAL on kernels built without seccomp.
	_, err = unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0)
	h.Seccomp = !errors.Is(err, unix.EINVAL)

	if h.CgroupV2 {
		data, _ := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
		h.SwapAccounting = containsWord(string(data), "memory")
	} else {
		_, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
		h.SwapAccounting = err == nil
	}

	h.NumCPU = runtime.NumCPU()
	h.ThermalThrottlePaths = thermalThrottlePaths()
	h.PingGroupRange = exists("/proc/sys/net/ipv4/ping_group_range")
	h.UnprivilegedPortStart = exists("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	return h, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func containsWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// boundingCapabilities reads CapBnd from /proc/self/status. The bounding set
// (not the full list of capabilities the kernel knows) is what a container
// can be given: asking runc for more fails, which is why `docker run
// --privileged` breaks on hosts that lack e.g. CAP_SYS_RESOURCE.
func boundingCapabilities() ([]string, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return nil, fmt.Errorf("read capability bounding set: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		hex, ok := strings.CutPrefix(line, "CapBnd:")
		if !ok {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("parse CapBnd %q: %w", line, err)
		}
		var caps []string
		for i, name := range capabilityNames {
			if mask&(1<<uint(i)) != 0 {
				caps = append(caps, name)
			}
		}
		return caps, nil
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read /proc/self/status: %w", err)
	}
	return nil, errors.New("no CapBnd line in /proc/self/status")
}

// thermalThrottlePaths mirrors Docker's masking of per-CPU thermal_throttle
// directories (GHSA-6fw5-f8r9-fgfm) for every possible CPU.
func thermalThrottlePaths() []string {
	data, err := os.ReadFile("/sys/devices/system/cpu/possible")
	if err != nil {
		return nil
	}
	var out []string
	for _, cpu := range parseCPUList(strings.TrimSpace(string(data))) {
		p := fmt.Sprintf("/sys/devices/system/cpu/cpu%d/thermal_throttle", cpu)
		if exists(p) {
			out = append(out, p)
		}
	}
	return out
}

// parseCPUList parses the kernel's "0-3,5" list format; junk is skipped.
func parseCPUList(s string) []int {
	var out []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				continue
			}
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	return out
}

// hostDevices lists every device node under /dev the way containerd's
// HostDevices (used by Docker for --privileged) does: no pts/shm/mqueue/fd
// subtrees, no console, no fifos, symlinks not followed.
func hostDevices() ([]specs.LinuxDevice, error) {
	var out []specs.LinuxDevice
	var walk func(dir string) error
	walk = func(dir string) error {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			if e.IsDir() {
				switch e.Name() {
				case "pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev":
					continue
				}
				if err := walk(p); err != nil {
					return err
				}
				continue
			}
			if e.Name() == "console" {
				continue
			}
			var st unix.Stat_t
			if err := unix.Lstat(p, &st); err != nil {
				if errors.Is(err, unix.ENOENT) {
					continue // raced with udev
				}
				return fmt.Errorf("stat %s: %w", p, err)
			}
			var typ string
			switch st.Mode & unix.S_IFMT {
			case unix.S_IFCHR:
				typ = "c"
			case unix.S_IFBLK:
				typ = "b"
			default:
				continue
			}
			mode := os.FileMode(st.Mode & 0o777)
			uid, gid := st.Uid, st.Gid
			out = append(out, specs.LinuxDevice{
				Path:     p,
				Type:     typ,
				Major:    int64(unix.Major(st.Rdev)),
				Minor:    int64(unix.Minor(st.Rdev)),
				FileMode: &mode,
				UID:      &uid,
				GID:      &gid,
			})
		}
		return nil
	}
	if err := walk("/dev"); err != nil {
		return nil, fmt.Errorf("list host devices: %w", err)
	}
	return out, nil
}

// hostRlimitHard returns the hard limit of resource for this process.
func hostRlimitHard(resource int) (uint64, error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(resource, &rl); err != nil {
		return 0, err
	}
	return rl.Max, nil
}

// haveEffectiveCap reports whether this process holds capability number n.
func haveEffectiveCap(n int) bool {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if hex, ok := bytes.CutPrefix(line, []byte("CapEff:")); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(string(hex)), 16, 64)
			return err == nil && mask&(1<<uint(n)) != 0
		}
	}
	return false
}
