package spec

import (
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// Generate builds the OCI runtime spec for one container. The steps follow
// moby's createSpec order where it matters: capabilities are final before
// the seccomp profile is resolved against them, and --read-only and
// --privileged adjust the mount list after user mounts are merged.
func Generate(opts Options) (*specs.Spec, error) {
	if opts.Rootfs == "" || !filepath.IsAbs(opts.Rootfs) {
		return nil, invalidf("container rootfs %q must be an absolute path", opts.Rootfs)
	}
	if len(opts.Process.Args) == 0 {
		return nil, invalidf("no command specified")
	}
	h := opts.Host
	if h == nil {
		probed, err := ProbeHost()
		if err != nil {
			return nil, err
		}
		h = &probed
	}
	so, err := ParseSecurityOpts(opts.Security.SecurityOpt)
	if err != nil {
		return nil, err
	}

	s := &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: opts.Rootfs, Readonly: opts.Mounts.ReadonlyRootfs},
		Hostname: opts.Network.Hostname,
		Process:  &specs.Process{},
		Linux: &specs.Linux{
			CgroupsPath: opts.CgroupsPath,
			Sysctl:      map[string]string{},
			Devices:     []specs.LinuxDevice{},
			Resources:   &specs.LinuxResources{},
		},
	}
	if opts.Network.Domainname != "" {
		s.Domainname = opts.Network.Domainname
	}

	if err := setNamespaces(s, opts, h); err != nil {
		return nil, err
	}
	if err := setProcess(s, opts, so); err != nil {
		return nil, err
	}
	caps, err := Capabilities(h.Capabilities, opts.Security.CapAdd, opts.Security.CapDrop, opts.Security.Privileged)
	if err != nil {
		return nil, err
	}
	// Like Docker since CVE-2022-24769: no inheritable or ambient set.
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}

	if err := setResources(s, opts.Resources, h); err != nil {
		return nil, err
	}
	if err := setDevices(s, opts.Security.Privileged, opts.Resources.DeviceCgroupRules); err != nil {
		return nil, err
	}
	if err := setMounts(s, opts, so, h); err != nil {
		return nil, err
	}
	if isPrivateNetwork(opts.Network.Mode) {
		// Docker's defaults for a container with its own network stack:
		// unprivileged ICMP sockets and binding to low ports without
		// CAP_NET_BIND_SERVICE.
		if h.PingGroupRange {
			s.Linux.Sysctl["net.ipv4.ping_group_range"] = "0 2147483647"
		}
		if h.UnprivilegedPortStart {
			s.Linux.Sysctl["net.ipv4.ip_unprivileged_port_start"] = "0"
		}
	}
	for k, v := range opts.Security.Sysctls {
		s.Linux.Sysctl[k] = v
	}

	if s.Linux.Seccomp, err = seccompProfile(s, so, opts.Security.Privileged, h); err != nil {
		return nil, err
	}
	return s, nil
}

func isPrivateNetwork(mode string) bool {
	return mode != "host" && !strings.HasPrefix(mode, "container:")
}

func setNamespaces(s *specs.Spec, opts Options, h *Host) error {
	ns := opts.Namespaces
	for _, m := range []struct{ kind, v string }{{"PID", ns.PID}, {"IPC", ns.IPC}, {"UTS", ns.UTS}} {
		if m.v != "" && m.v != "host" && m.v != "private" {
			return invalidf("invalid %s mode: %s (berth supports \"host\" and the default)", m.kind, m.v)
		}
	}
	add := func(t specs.LinuxNamespaceType, path string) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t, Path: path})
	}
	// Docker's order: mount, network, uts, pid, ipc, then cgroup.
	add(specs.MountNamespace, "")
	if opts.Network.Mode != "host" {
		add(specs.NetworkNamespace, opts.Network.NetNSPath)
	}
	if ns.UTS == "host" {
		s.Hostname, s.Domainname = "", ""
	} else {
		add(specs.UTSNamespace, "")
	}
	if ns.PID != "host" {
		add(specs.PIDNamespace, "")
	}
	if ns.IPC != "host" {
		add(specs.IPCNamespace, "")
	}
	switch CgroupnsMode(ns.Cgroup, h) {
	case "private":
		add(specs.CgroupNamespace, "")
	case "host":
	default:
		return invalidf("invalid cgroup namespace mode: %s", ns.Cgroup)
	}
	return nil
}

// CgroupnsMode resolves the --cgroupns mode a container gets: mode itself
// when given, else private wherever the kernel has cgroup namespaces, on
// every cgroup layout. Docker 20.10 defaults to private only on cgroup v2
// and shares the host's on v1 and hybrid hosts; berth is stricter there (the
// container sees its own cgroups as the root and no host cgroup paths), and
// on v1 it is cheaper too: runc then mounts each controller directly instead
// of bind-mounting and remounting it read-only (~0.7 ms per start here).
// `--cgroupns host` gives Docker's v1 behaviour.
func CgroupnsMode(mode string, h *Host) string {
	if mode != "" {
		return mode
	}
	if h != nil && (h.CgroupNamespaces || h.CgroupV2) {
		return "private"
	}
	return "host"
}

func setProcess(s *specs.Spec, opts Options, so SecurityOpts) error {
	p := opts.Process
	cwd := p.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	if !path.IsAbs(cwd) {
		return invalidf("the working directory '%s' is invalid, it needs to be an absolute path", cwd)
	}
	u, home, err := resolveUser(opts.Rootfs, p.User, p.GroupAdd)
	if err != nil {
		return err
	}
	args := p.Args
	if p.InitBinary != "" && opts.Namespaces.PID != "host" {
		args = append([]string{initPath, "--"}, args...)
	}
	oom := p.OOMScoreAdj
	if oom < -1000 || oom > 1000 {
		return invalidf("Invalid value %d, range for oom score adj is [-1000, 1000]", oom)
	}
	rlimits, err := rlimits(p.Ulimits)
	if err != nil {
		return err
	}
	*s.Process = specs.Process{
		Terminal:        p.Tty,
		User:            u,
		Args:            args,
		Env:             Env(p.Env, opts.Network.Hostname, p.Tty, home),
		Cwd:             path.Clean(cwd),
		Rlimits:         rlimits,
		NoNewPrivileges: so.NoNewPrivileges,
		OOMScoreAdj:     &oom,
	}
	if p.Tty && p.ConsoleSize != nil {
		box := *p.ConsoleSize
		s.Process.ConsoleSize = &box
	}
	return nil
}

// rlimits converts --ulimit values. A hard limit above the host's would
// make the runtime fail with EPERM (raising it needs CAP_SYS_RESOURCE, which
// this kind of host may lack), so it is refused here with a clear message.
func rlimits(ulimits []string) ([]specs.POSIXRlimit, error) {
	var out []specs.POSIXRlimit
	canRaise := len(ulimits) > 0 && haveEffectiveCap(capSysResource)
	for _, v := range ulimits {
		ul, err := units.ParseUlimit(v)
		if err != nil {
			return nil, invalidErr(fmt.Errorf("invalid ulimit %q: %w", v, err))
		}
		rl, err := ul.GetRlimit()
		if err != nil {
			return nil, invalidErr(err)
		}
		if !canRaise {
			hostHard, err := hostRlimitHard(rl.Type)
			if err == nil && rl.Hard > hostHard {
				return nil, invalidf("ulimit %s: hard limit %d is above this host's hard limit %d (raising it needs CAP_SYS_RESOURCE)", ul.Name, rl.Hard, hostHard)
			}
		}
		out = append(out, specs.POSIXRlimit{Type: "RLIMIT_" + strings.ToUpper(ul.Name), Soft: rl.Soft, Hard: rl.Hard})
	}
	return out, nil
}

func setResources(s *specs.Spec, r Resources, h *Host) error {
	res := s.Linux.Resources
	const minMemory = 6 << 20
	if r.Memory < 0 {
		return invalidf("invalid memory limit %d", r.Memory)
	}
	if r.Memory > 0 && r.Memory < minMemory {
		return invalidf("Minimum memory limit allowed is 6MB")
	}
	if r.Memory == 0 && r.MemorySwap > 0 {
		return invalidf("You should always set the Memory limit when using Memoryswap limit, see usage")
	}
	if r.MemorySwap > 0 && r.MemorySwap < r.Memory {
		return invalidf("Minimum memoryswap limit should be larger than memory limit, see usage")
	}
	if r.Memory > 0 {
		mem := &specs.LinuxMemory{Limit: &r.Memory}
		swap := r.MemorySwap
		if swap == 0 {
			swap = 2 * r.Memory // Docker's default: as much swap as memory
		}
		if swap > 0 && !h.SwapAccounting {
			swap = -1 // Docker: the kernel cannot limit swap; don't try
		}
		mem.Swap = &swap
		res.Memory = mem
	}
	if r.NanoCPUs < 0 || (r.NanoCPUs > 0 && h.NumCPU > 0 && r.NanoCPUs > int64(h.NumCPU)*1e9) || (r.NanoCPUs > 0 && r.NanoCPUs < 1e7) {
		return invalidf("range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", h.NumCPU, h.NumCPU)
	}
	if r.NanoCPUs > 0 {
		period := uint64(100000) // 100ms in µs, Docker's
		quota := r.NanoCPUs * int64(period) / 1e9
		res.CPU = &specs.LinuxCPU{Period: &period, Quota: &quota}
	}
	switch {
	case r.PidsLimit > 0:
		res.Pids = &specs.LinuxPids{Limit: &r.PidsLimit}
	case r.PidsLimit < 0:
		unlimited := int64(-1)
		res.Pids = &specs.LinuxPids{Limit: &unlimited}
	}
	return nil
}

func i64(v int64) *int64 { return &v }

// defaultDeviceRules is Docker's device cgroup: deny all, allow
// zero/null/urandom/random, tty/console and ptmx, and deny /dev/fuse
// (10:229) explicitly. runc adds its own allowances for the devices it
// creates (full, /dev/pts/*).
func defaultDeviceRules() []specs.LinuxDeviceCgroup {
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: i64(1), Minor: i64(5), Access: "rwm"},
		{Allow: true, Type: "c", Major: i64(1), Minor: i64(3), Access: "rwm"},
		{Allow: true, Type: "c", Major: i64(1), Minor: i64(9), Access: "rwm"},
		{Allow: true, Type: "c", Major: i64(1), Minor: i64(8), Access: "rwm"},
		{Allow: true, Type: "c", Major: i64(5), Minor: i64(0), Access: "rwm"},
		{Allow: true, Type: "c", Major: i64(5), Minor: i64(1), Access: "rwm"},
		{Allow: false, Type: "c", Major: i64(10), Minor: i64(229), Access: "rwm"},
	}
}

func setDevices(s *specs.Spec, privileged bool, rules []string) error {
	if privileged {
		devs, err := hostDevices()
		if err != nil {
			return err
		}
		s.Linux.Devices = devs
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
		return nil
	}
	perms := defaultDeviceRules()
	s.Linux.Resources.Devices = perms
	if len(rules) == 0 {
		return nil
	}
	// Compiled here, not at package load: the re-exec'd init imports this
	// package's dependents and must not pay for it.
	re := regexp.MustCompile(`^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$`)
	for _, rule := range rules {
		r := rule
		if r == "a" {
			r = "a *:* rwm"
		}
		m := re.FindStringSubmatch(r)
		if m == nil {
			return invalidf("invalid device cgroup rule format: '%s'", rule)
		}
		num := func(v string) *int64 {
			if v == "*" {
				return i64(-1)
			}
			n, _ := strconv.ParseInt(v, 10, 64)
			return &n
		}
		perms = append(perms, specs.LinuxDeviceCgroup{Allow: true, Type: m[1], Major: num(m[2]), Minor: num(m[3]), Access: m[4]})
	}
	s.Linux.Resources.Devices = perms
	return nil
}

func setMounts(s *specs.Spec, opts Options, so SecurityOpts, h *Host) error {
	user, err := userMounts(opts.Mounts)
	if err != nil {
		return err
	}
	userDest := make(map[string]bool, len(user))
	for _, m := range user {
		userDest[m.Destination] = true
	}
	shm := opts.Resources.ShmSize
	if shm == 0 {
		shm = DefaultShmSize
	}
	if shm < 0 {
		return invalidf("SHM size can not be less than 0")
	}

	var mounts []specs.Mount
	for _, m := range defaultMounts() {
		if userDest[m.Destination] || (userDest["/dev"] && strings.HasPrefix(m.Destination, "/dev/")) {
			continue
		}
		if m.Destination == "/dev/shm" {
			m.Options = append(m.Options, "size="+strconv.FormatInt(shm, 10))
		}
		mounts = append(mounts, m)
	}
	if opts.Process.InitBinary != "" && opts.Namespaces.PID != "host" {
		mounts = append(mounts, specs.Mount{Destination: initPath, Type: "bind", Source: opts.Process.InitBinary, Options: []string{"bind", "ro"}})
	}
	if opts.Mounts.ReadonlyRootfs {
		for i, m := range mounts {
			switch m.Destination {
			case "/proc", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev":
				continue
			}
			if !hasOption(m.Options, "ro") {
				mounts[i].Options = append(m.Options, "ro")
			}
		}
	}
	for _, m := range user {
		switch m.Options[len(m.Options)-1] {
		case "shared", "rshared":
			s.Linux.RootfsPropagation = "shared"
		case "slave", "rslave":
			if s.Linux.RootfsPropagation != "shared" {
				s.Linux.RootfsPropagation = "rslave"
			}
		}
	}
	mounts = append(mounts, user...)

	masked := append(DefaultMaskedPaths(), h.ThermalThrottlePaths...)
	readonly := DefaultReadonlyPaths()
	if opts.Security.Privileged {
		for i, m := range mounts {
			if m.Destination == "/sys" || m.Type == "cgroup" {
				mounts[i].Options = clearOption(m.Options, "ro")
			}
		}
		masked, readonly = nil, nil
	}
	if so.WritableCgroups {
		for i, m := range mounts {
			if m.Type == "cgroup" {
				mounts[i].Options = clearOption(m.Options, "ro")
			}
		}
	}
	if so.SystemPathsUnconfined {
		masked, readonly = []string{}, []string{}
	}
	s.Mounts = mounts
	s.Linux.MaskedPaths = masked
	s.Linux.ReadonlyPaths = readonly
	return nil
}
