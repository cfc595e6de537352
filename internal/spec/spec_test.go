package spec

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runc/libcontainer/configs/validate"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/internal/errdefs"
)

// testHost is a hybrid-cgroup machine like the CI one, lacking CAP_SYS_RESOURCE.
func testHost() *Host {
	return &Host{
		CgroupV2:              false,
		CgroupNamespaces:      true,
		Capabilities:          hostCapsWithout("CAP_SYS_RESOURCE"),
		Seccomp:               true,
		SwapAccounting:        true,
		NumCPU:                2,
		PingGroupRange:        true,
		UnprivilegedPortStart: true,
	}
}

func baseOptions(t *testing.T) Options {
	t.Helper()
	return Options{
		Rootfs:      newTestRootfs(t),
		CgroupsPath: "berth/test",
		Process:     Process{Args: []string{"/bin/sh"}},
		Network:     Network{Mode: "none", Hostname: "abc123"},
		Host:        testHost(),
	}
}

func mustGenerate(t *testing.T, o Options) *specs.Spec {
	t.Helper()
	s, err := Generate(o)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return s
}

func findMount(s *specs.Spec, dest string) *specs.Mount {
	for i := range s.Mounts {
		if s.Mounts[i].Destination == dest {
			return &s.Mounts[i]
		}
	}
	return nil
}

func nsTypes(s *specs.Spec) []specs.LinuxNamespaceType {
	var out []specs.LinuxNamespaceType
	for _, n := range s.Linux.Namespaces {
		out = append(out, n.Type)
	}
	return out
}

func syscallAllowed(s *specs.Spec, name string) bool {
	if s.Linux.Seccomp == nil {
		return true
	}
	for _, sc := range s.Linux.Seccomp.Syscalls {
		if sc.Action == specs.ActAllow && len(sc.Args) == 0 && slices.Contains(sc.Names, name) {
			return true
		}
	}
	return false
}

func TestGenerateDefaults(t *testing.T) {
	o := baseOptions(t)
	s := mustGenerate(t, o)

	if s.Root.Path != o.Rootfs || s.Root.Readonly {
		t.Errorf("root = %+v", s.Root)
	}
	if s.Hostname != "abc123" {
		t.Errorf("hostname = %q", s.Hostname)
	}
	wantNS := []specs.LinuxNamespaceType{specs.MountNamespace, specs.NetworkNamespace, specs.UTSNamespace, specs.PIDNamespace, specs.IPCNamespace, specs.CgroupNamespace}
	if !slices.Equal(nsTypes(s), wantNS) {
		t.Errorf("namespaces = %v, want %v (a private cgroup ns on a hybrid host with cgroup namespaces)", nsTypes(s), wantNS)
	}
	c := s.Process.Capabilities
	if !slices.Equal(c.Bounding, DefaultCapabilities()) || !slices.Equal(c.Effective, c.Bounding) || !slices.Equal(c.Permitted, c.Bounding) || c.Inheritable != nil || c.Ambient != nil {
		t.Errorf("capabilities = %+v", c)
	}
	wantMasked := []string{"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/sched_debug", "/proc/scsi", "/proc/timer_list", "/proc/timer_stats", "/sys/devices/virtual/powercap", "/sys/firmware"}
	if !slices.Equal(s.Linux.MaskedPaths, wantMasked) {
		t.Errorf("masked paths = %v\nwant Docker's %v", s.Linux.MaskedPaths, wantMasked)
	}
	wantRO := []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
	if !slices.Equal(s.Linux.ReadonlyPaths, wantRO) {
		t.Errorf("readonly paths = %v", s.Linux.ReadonlyPaths)
	}
	var dests []string
	for _, m := range s.Mounts {
		dests = append(dests, m.Destination)
	}
	if want := []string{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm"}; !slices.Equal(dests, want) {
		t.Errorf("mounts = %v, want %v", dests, want)
	}
	if m := findMount(s, "/dev/shm"); !slices.Equal(m.Options, []string{"nosuid", "noexec", "nodev", "mode=1777", "size=67108864"}) {
		t.Errorf("/dev/shm options = %v", m.Options)
	}
	if m := findMount(s, "/dev/pts"); !slices.Contains(m.Options, "newinstance") || !slices.Contains(m.Options, "ptmxmode=0666") || !slices.Contains(m.Options, "gid=5") || !slices.Contains(m.Options, "mode=0620") {
		t.Errorf("/dev/pts options = %v", m.Options)
	}
	for _, d := range []string{"/sys", "/sys/fs/cgroup"} {
		if m := findMount(s, d); !slices.Contains(m.Options, "ro") {
			t.Errorf("%s not read-only: %v", d, m.Options)
		}
	}
	if got := len(s.Linux.Resources.Devices); got != 8 || s.Linux.Resources.Devices[0].Allow {
		t.Errorf("device rules = %+v, want Docker's 8 starting with deny-all", s.Linux.Resources.Devices)
	}
	if s.Linux.Devices == nil || len(s.Linux.Devices) != 0 {
		t.Errorf("devices = %v, want empty (runc creates the defaults)", s.Linux.Devices)
	}
	p := s.Process
	if p.Cwd != "/" || p.User.UID != 0 || p.Terminal || p.NoNewPrivileges || p.OOMScoreAdj == nil || *p.OOMScoreAdj != 0 || p.Rlimits != nil {
		t.Errorf("process = %+v", p)
	}
	if want := []string{"PATH=" + DefaultPathEnv, "HOSTNAME=abc123", "HOME=/root"}; !slices.Equal(p.Env, want) {
		t.Errorf("env = %v, want %v", p.Env, want)
	}
	if s.Linux.Sysctl["net.ipv4.ip_unprivileged_port_start"] != "0" || s.Linux.Sysctl["net.ipv4.ping_group_range"] != "0 2147483647" {
		t.Errorf("sysctls = %v", s.Linux.Sysctl)
	}
	if s.Linux.CgroupsPath != "berth/test" || s.Linux.Resources.Memory != nil || s.Linux.Resources.CPU != nil || s.Linux.Resources.Pids != nil {
		t.Errorf("cgroups = %q %+v", s.Linux.CgroupsPath, s.Linux.Resources)
	}
	sc := s.Linux.Seccomp
	if sc == nil || sc.DefaultAction != specs.ActErrno {
		t.Fatalf("seccomp = %+v, want Docker's default (SCMP_ACT_ERRNO)", sc)
	}
	// clone, socket and personality are allowed only with argument filters,
	// so they are not in this unconditional list.
	for _, name := range []string{"read", "write", "execve", "chown", "ptrace", "openat", "exit_group"} {
		if !syscallAllowed(s, name) {
			t.Errorf("syscall %s should be allowed by the default profile", name)
		}
	}
	for _, name := range []string{"mount", "umount2", "reboot", "kexec_load", "init_module", "add_key", "keyctl", "bpf", "unshare", "pivot_root"} {
		if syscallAllowed(s, name) {
			t.Errorf("syscall %s must not be allowed without extra capabilities", name)
		}
	}
}

func TestGenerateVariants(t *testing.T) {
	initBin, _ := os.Executable()
	tests := []struct {
		desc  string
		edit  func(o *Options)
		check func(t *testing.T, s *specs.Spec)
	}{
		{"cgroup v2 host gets a private cgroup namespace", func(o *Options) { o.Host.CgroupV2 = true }, func(t *testing.T, s *specs.Spec) {
			if !slices.Contains(nsTypes(s), specs.CgroupNamespace) {
				t.Errorf("namespaces %v lack cgroup", nsTypes(s))
			}
		}},
		{"explicit --cgroupns private on v1", func(o *Options) { o.Namespaces.Cgroup = "private" }, func(t *testing.T, s *specs.Spec) {
			if !slices.Contains(nsTypes(s), specs.CgroupNamespace) {
				t.Errorf("namespaces %v lack cgroup", nsTypes(s))
			}
		}},
		{"--cgroupns host: Docker's v1 default", func(o *Options) { o.Namespaces.Cgroup = "host" }, func(t *testing.T, s *specs.Spec) {
			if slices.Contains(nsTypes(s), specs.CgroupNamespace) {
				t.Errorf("namespaces %v have cgroup", nsTypes(s))
			}
		}},
		{"v1 kernel without cgroup namespaces shares the host's", func(o *Options) { o.Host.CgroupNamespaces = false }, func(t *testing.T, s *specs.Spec) {
			if slices.Contains(nsTypes(s), specs.CgroupNamespace) {
				t.Errorf("namespaces %v have cgroup", nsTypes(s))
			}
		}},
		{"network host: no netns, no net sysctls", func(o *Options) { o.Network.Mode = "host" }, func(t *testing.T, s *specs.Spec) {
			if slices.Contains(nsTypes(s), specs.NetworkNamespace) || len(s.Linux.Sysctl) != 0 {
				t.Errorf("namespaces %v sysctls %v", nsTypes(s), s.Linux.Sysctl)
			}
		}},
		{"netns path is joined", func(o *Options) {
			// runc's validator only stats the path and compares it with the
			// host's netns, so a plain file stands in for a bind-mounted netns.
			o.Network.Mode = "bridge"
			o.Network.NetNSPath = filepath.Join(o.Rootfs, "etc/passwd")
		}, func(t *testing.T, s *specs.Spec) {
			if s.Linux.Namespaces[1].Type != specs.NetworkNamespace || !strings.HasSuffix(s.Linux.Namespaces[1].Path, "etc/passwd") || len(s.Linux.Sysctl) != 2 {
				t.Errorf("namespaces %+v sysctls %v", s.Linux.Namespaces, s.Linux.Sysctl)
			}
		}},
		{"container: network shares sysctls with the other container", func(o *Options) { o.Network.Mode = "container:abc"; o.Network.NetNSPath = "/proc/1/ns/net" }, func(t *testing.T, s *specs.Spec) {
			if len(s.Linux.Sysctl) != 0 {
				t.Errorf("sysctls %v", s.Linux.Sysctl)
			}
		}},
		{"pid/ipc/uts/cgroup host", func(o *Options) { o.Namespaces = Namespaces{PID: "host", IPC: "host", UTS: "host", Cgroup: "host"} }, func(t *testing.T, s *specs.Spec) {
			if want := []specs.LinuxNamespaceType{specs.MountNamespace, specs.NetworkNamespace}; !slices.Equal(nsTypes(s), want) || s.Hostname != "" {
				t.Errorf("namespaces %v hostname %q", nsTypes(s), s.Hostname)
			}
		}},
		{"privileged", func(o *Options) { o.Security.Privileged = true; o.Security.CapDrop = []string{"ALL"} }, func(t *testing.T, s *specs.Spec) {
			if !slices.Equal(s.Process.Capabilities.Bounding, hostCapsWithout("CAP_SYS_RESOURCE")) {
				t.Errorf("caps %v", s.Process.Capabilities.Bounding)
			}
			if s.Linux.MaskedPaths != nil || s.Linux.ReadonlyPaths != nil || s.Linux.Seccomp != nil {
				t.Errorf("masked %v ro %v seccomp %v", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths, s.Linux.Seccomp != nil)
			}
			if slices.Contains(findMount(s, "/sys").Options, "ro") || slices.Contains(findMount(s, "/sys/fs/cgroup").Options, "ro") {
				t.Errorf("/sys or cgroup still read-only")
			}
			if len(s.Linux.Devices) == 0 || !s.Linux.Resources.Devices[0].Allow || len(s.Linux.Resources.Devices) != 1 {
				t.Errorf("devices %d rules %+v", len(s.Linux.Devices), s.Linux.Resources.Devices)
			}
			if !slices.ContainsFunc(s.Linux.Devices, func(d specs.LinuxDevice) bool {
				return d.Path == "/dev/null" && d.Type == "c" && d.Major == 1 && d.Minor == 3
			}) {
				t.Errorf("host devices lack /dev/null")
			}
		}},
		{"read-only rootfs", func(o *Options) {
			o.Mounts.ReadonlyRootfs = true
			o.Mounts.HostsPath = "/tmp/hosts"
			o.Mounts.Tmpfs = map[string]string{"/run": ""}
		}, func(t *testing.T, s *specs.Spec) {
			if !s.Root.Readonly {
				t.Error("root not read-only")
			}
			for _, d := range []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/run"} {
				if slices.Contains(findMount(s, d).Options, "ro") {
					t.Errorf("%s must stay writable: %v", d, findMount(s, d).Options)
				}
			}
			if !slices.Contains(findMount(s, "/etc/hosts").Options, "ro") {
				t.Errorf("/etc/hosts should be ro with --read-only")
			}
		}},
		{"tmpfs defaults and overrides", func(o *Options) {
			o.Mounts.Tmpfs = map[string]string{"/run": "", "/tmp": "exec,size=64m,mode=1777", "/var/cache/x": "ro,size=10%"}
		}, func(t *testing.T, s *specs.Spec) {
			want := map[string][]string{
				"/run":         {"noexec", "nosuid", "nodev", "rprivate"},
				"/tmp":         {"nosuid", "nodev", "rprivate", "exec", "size=64m", "mode=1777"},
				"/var/cache/x": {"noexec", "nosuid", "nodev", "rprivate", "ro", "size=10%"},
			}
			for d, w := range want {
				m := findMount(s, d)
				if m == nil || m.Type != "tmpfs" || !slices.Equal(m.Options, w) {
					t.Errorf("%s = %+v, want %v", d, m, w)
				}
			}
		}},
		{"binds sorted parent-first, Docker options, network files", func(o *Options) {
			o.Mounts.Binds = []Mount{
				{Source: "/srv/a/b", Destination: "/data/sub", ReadOnly: true},
				{Source: "/srv/a", Destination: "/data"},
				{Source: "/srv/s", Destination: "/shared", Propagation: "rshared", NonRecursive: true},
				{Source: "/srv/h", Destination: "/etc/hostname"},
			}
			o.Mounts.HostsPath, o.Mounts.HostnamePath, o.Mounts.ResolvConfPath = "/c/hosts", "/c/hostname", "/c/resolv.conf"
		}, func(t *testing.T, s *specs.Spec) {
			var user []string
			for _, m := range s.Mounts[7:] {
				user = append(user, m.Destination)
			}
			if want := []string{"/data", "/shared", "/data/sub", "/etc/hostname", "/etc/resolv.conf", "/etc/hosts"}; !slices.Equal(user, want) {
				t.Errorf("user mounts %v, want %v", user, want)
			}
			if m := findMount(s, "/data/sub"); !slices.Equal(m.Options, []string{"rbind", "ro", "rprivate"}) {
				t.Errorf("/data/sub %v", m.Options)
			}
			if m := findMount(s, "/shared"); !slices.Equal(m.Options, []string{"bind", "rshared"}) || s.Linux.RootfsPropagation != "shared" {
				t.Errorf("/shared %v rootfsPropagation %q", m.Options, s.Linux.RootfsPropagation)
			}
			if m := findMount(s, "/etc/hostname"); m.Source != "/srv/h" {
				t.Errorf("user bind at /etc/hostname must win: %+v", m)
			}
			if m := findMount(s, "/etc/hosts"); m.Source != "/c/hosts" || !slices.Equal(m.Options, []string{"rbind", "rprivate"}) {
				t.Errorf("/etc/hosts %+v", m)
			}
		}},
		{"user /dev mount drops all default /dev mounts", func(o *Options) { o.Mounts.Binds = []Mount{{Source: "/dev", Destination: "/dev"}} }, func(t *testing.T, s *specs.Spec) {
			for _, d := range []string{"/dev/pts", "/dev/shm", "/dev/mqueue"} {
				if findMount(s, d) != nil {
					t.Errorf("%s still mounted", d)
				}
			}
		}},
		{"--init", func(o *Options) { o.Process.InitBinary = initBin; o.Process.Args = []string{"sleep", "1"} }, func(t *testing.T, s *specs.Spec) {
			if want := []string{"/sbin/docker-init", "--", "sleep", "1"}; !slices.Equal(s.Process.Args, want) {
				t.Errorf("args %v", s.Process.Args)
			}
			if m := findMount(s, "/sbin/docker-init"); m == nil || m.Source != initBin || !slices.Equal(m.Options, []string{"bind", "ro"}) {
				t.Errorf("init mount %+v", m)
			}
		}},
		{"--init ignored with --pid host", func(o *Options) { o.Process.InitBinary = initBin; o.Namespaces.PID = "host" }, func(t *testing.T, s *specs.Spec) {
			if s.Process.Args[0] != "/bin/sh" || findMount(s, "/sbin/docker-init") != nil {
				t.Errorf("args %v", s.Process.Args)
			}
		}},
		{"process options", func(o *Options) {
			o.Process.User = "alice"
			o.Process.WorkingDir = "/app/"
			o.Process.Tty = true
			o.Process.ConsoleSize = &specs.Box{Height: 24, Width: 80}
			o.Process.Env = []string{"FOO=bar", "PATH=/opt/bin"}
			o.Process.OOMScoreAdj = 500
			o.Process.Ulimits = []string{"nofile=1024:2048", "core=0"}
		}, func(t *testing.T, s *specs.Spec) {
			p := s.Process
			if p.User.UID != 1000 || p.Cwd != "/app" || !p.Terminal || p.ConsoleSize.Width != 80 || *p.OOMScoreAdj != 500 {
				t.Errorf("process %+v", p)
			}
			if want := []string{"PATH=/opt/bin", "HOSTNAME=abc123", "TERM=xterm", "FOO=bar", "HOME=/home/alice"}; !slices.Equal(p.Env, want) {
				t.Errorf("env %v, want %v", p.Env, want)
			}
			if want := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 2048}, {Type: "RLIMIT_CORE"}}; !slices.Equal(p.Rlimits, want) {
				t.Errorf("rlimits %+v", p.Rlimits)
			}
		}},
		{"resources", func(o *Options) {
			o.Resources = Resources{Memory: 64 << 20, NanoCPUs: 1.5e9, PidsLimit: 100, ShmSize: 1 << 20, DeviceCgroupRules: []string{"c 10:200 rwm", "b *:* r"}}
		}, func(t *testing.T, s *specs.Spec) {
			r := s.Linux.Resources
			if *r.Memory.Limit != 64<<20 || *r.Memory.Swap != 128<<20 {
				t.Errorf("memory %d swap %d", *r.Memory.Limit, *r.Memory.Swap)
			}
			if *r.CPU.Period != 100000 || *r.CPU.Quota != 150000 {
				t.Errorf("cpu %d/%d", *r.CPU.Quota, *r.CPU.Period)
			}
			if *r.Pids.Limit != 100 {
				t.Errorf("pids %d", *r.Pids.Limit)
			}
			if len(r.Devices) != 10 || *r.Devices[8].Major != 10 || *r.Devices[9].Major != -1 || r.Devices[9].Access != "r" {
				t.Errorf("device rules %+v", r.Devices)
			}
			if !slices.Contains(findMount(s, "/dev/shm").Options, "size=1048576") {
				t.Errorf("shm %v", findMount(s, "/dev/shm").Options)
			}
		}},
		{"memory without swap accounting", func(o *Options) {
			o.Host.SwapAccounting = false
			o.Resources.Memory = 10 << 20
			o.Resources.PidsLimit = -1
		}, func(t *testing.T, s *specs.Spec) {
			if *s.Linux.Resources.Memory.Swap != -1 || *s.Linux.Resources.Pids.Limit != -1 {
				t.Errorf("swap %d pids %d", *s.Linux.Resources.Memory.Swap, *s.Linux.Resources.Pids.Limit)
			}
		}},
		{"cap-add SYS_ADMIN enables mount in seccomp", func(o *Options) { o.Security.CapAdd = []string{"sys_admin"} }, func(t *testing.T, s *specs.Spec) {
			if !syscallAllowed(s, "mount") || !syscallAllowed(s, "unshare") {
				t.Error("mount/unshare should be allowed with CAP_SYS_ADMIN")
			}
		}},
		{"security opts", func(o *Options) {
			o.Security.SecurityOpt = []string{"no-new-privileges", "seccomp=unconfined", "systempaths=unconfined", "apparmor=docker-default", "label=disable", "writable-cgroups=true"}
		}, func(t *testing.T, s *specs.Spec) {
			if !s.Process.NoNewPrivileges || s.Linux.Seccomp != nil || len(s.Linux.MaskedPaths) != 0 || len(s.Linux.ReadonlyPaths) != 0 {
				t.Errorf("nnp %v seccomp %v masked %v", s.Process.NoNewPrivileges, s.Linux.Seccomp != nil, s.Linux.MaskedPaths)
			}
			if slices.Contains(findMount(s, "/sys/fs/cgroup").Options, "ro") {
				t.Error("cgroup mount should be writable")
			}
		}},
		{"seccomp JSON profile", func(o *Options) {
			o.Security.SecurityOpt = []string{`seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["chmod"],"action":"SCMP_ACT_ERRNO"}]}`}
		}, func(t *testing.T, s *specs.Spec) {
			if s.Linux.Seccomp.DefaultAction != specs.ActAllow || s.Linux.Seccomp.Syscalls[0].Names[0] != "chmod" {
				t.Errorf("seccomp %+v", s.Linux.Seccomp)
			}
		}},
		{"user sysctl overrides default", func(o *Options) {
			o.Security.Sysctls = map[string]string{"net.ipv4.ip_unprivileged_port_start": "1024"}
		}, func(t *testing.T, s *specs.Spec) {
			if s.Linux.Sysctl["net.ipv4.ip_unprivileged_port_start"] != "1024" {
				t.Errorf("sysctl %v", s.Linux.Sysctl)
			}
		}},
		{"thermal throttle paths are masked", func(o *Options) {
			o.Host.ThermalThrottlePaths = []string{"/sys/devices/system/cpu/cpu0/thermal_throttle"}
		}, func(t *testing.T, s *specs.Spec) {
			if s.Linux.MaskedPaths[len(s.Linux.MaskedPaths)-1] != "/sys/devices/system/cpu/cpu0/thermal_throttle" {
				t.Errorf("masked %v", s.Linux.MaskedPaths)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			o := baseOptions(t)
			tc.edit(&o)
			s := mustGenerate(t, o)
			tc.check(t, s)
			checkRuncAccepts(t, s)
		})
	}
}

func TestGenerateErrors(t *testing.T) {
	tests := []struct {
		desc    string
		edit    func(o *Options)
		errText string
	}{
		{"no command", func(o *Options) { o.Process.Args = nil }, "no command specified"},
		{"relative rootfs", func(o *Options) { o.Rootfs = "rootfs" }, `container rootfs "rootfs" must be an absolute path`},
		{"unknown user", func(o *Options) { o.Process.User = "foo" }, "unable to find user foo: no matching entries in passwd file"},
		{"relative workdir", func(o *Options) { o.Process.WorkingDir = "app" }, "the working directory 'app' is invalid, it needs to be an absolute path"},
		{"tiny memory", func(o *Options) { o.Resources.Memory = 1 << 20 }, "Minimum memory limit allowed is 6MB"},
		{"swap below memory", func(o *Options) { o.Resources.Memory = 64 << 20; o.Resources.MemorySwap = 32 << 20 }, "Minimum memoryswap limit should be larger than memory limit, see usage"},
		{"too many cpus", func(o *Options) { o.Resources.NanoCPUs = 3e9 }, "range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"},
		{"bad security opt", func(o *Options) { o.Security.SecurityOpt = []string{"bogus"} }, `invalid --security-opt 1: "bogus"`},
		{"unknown security opt key", func(o *Options) { o.Security.SecurityOpt = []string{"foo=bar"} }, `invalid --security-opt 2: "foo=bar"`},
		{"bad systempaths", func(o *Options) { o.Security.SecurityOpt = []string{"systempaths=confined"} }, `invalid --security-opt: "systempaths=confined"`},
		{"unknown cap", func(o *Options) { o.Security.CapAdd = []string{"FOO"} }, `unknown capability: "CAP_FOO"`},
		{"bad tmpfs option", func(o *Options) { o.Mounts.Tmpfs = map[string]string{"/x": "bogus"} }, `invalid tmpfs option "bogus"`},
		{"relative tmpfs", func(o *Options) { o.Mounts.Tmpfs = map[string]string{"x": ""} }, `invalid mount config: mount path must be absolute: "x"`},
		{"bind at /", func(o *Options) { o.Mounts.Binds = []Mount{{Source: "/a", Destination: "/"}} }, "invalid mount config: destination can't be '/'"},
		{"bad device rule", func(o *Options) { o.Resources.DeviceCgroupRules = []string{"x 1:1 rwm"} }, "invalid device cgroup rule format: 'x 1:1 rwm'"},
		{"ulimit above host hard", func(o *Options) { o.Process.Ulimits = []string{"nofile=1024:1073741816"} }, "ulimit nofile: hard limit 1073741816 is above"},
		{"bad ulimit", func(o *Options) { o.Process.Ulimits = []string{"nofile"} }, `invalid ulimit "nofile"`},
		{"missing seccomp file", func(o *Options) { o.Security.SecurityOpt = []string{"seccomp=/nonexistent.json"} }, "opening seccomp profile (/nonexistent.json) failed"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if strings.HasPrefix(tc.desc, "ulimit above") && haveEffectiveCap(capSysResource) {
				t.Skip("this process may raise hard limits (has CAP_SYS_RESOURCE)")
			}
			o := baseOptions(t)
			tc.edit(&o)
			_, err := Generate(o)
			if err == nil || !strings.HasPrefix(err.Error(), tc.errText) || !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("err = %v, want prefix %q (ErrInvalid)", err, tc.errText)
			}
		})
	}
}

func TestSeccompFileProfile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "profile.json")
	profile := `{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write","exit_group"],"action":"SCMP_ACT_ALLOW"},
	  {"names":["mount"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}}]}`
	if err := os.WriteFile(p, []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	o := baseOptions(t)
	o.Security.SecurityOpt = []string{"seccomp=" + p}
	s := mustGenerate(t, o)
	if len(s.Linux.Seccomp.Syscalls) != 1 || !syscallAllowed(s, "read") || syscallAllowed(s, "mount") {
		t.Fatalf("seccomp from file: %+v", s.Linux.Seccomp.Syscalls)
	}
	// The deprecated colon form and a capability-conditional rule.
	o.Security.SecurityOpt = []string{"seccomp:" + p}
	o.Security.CapAdd = []string{"SYS_ADMIN"}
	if s = mustGenerate(t, o); !syscallAllowed(s, "mount") {
		t.Fatal("cap-conditional rule not applied")
	}
}

// TestGenerateProbedHost runs Generate against the real machine and checks
// the host-dependent parts match it.
func TestGenerateProbedHost(t *testing.T) {
	o := baseOptions(t)
	o.Host = nil
	s := mustGenerate(t, o)
	_, err := os.Stat("/proc/self/ns/cgroup")
	if got, want := slices.Contains(nsTypes(s), specs.CgroupNamespace), err == nil; got != want {
		t.Errorf("cgroup namespace %v on a host where the kernel has cgroup namespaces=%v", got, want)
	}
	checkRuncAccepts(t, s)
}

// checkRuncAccepts converts the spec with runc's specconv and runs runc's
// config validator: both the in-process runtime and `runc run` go through
// exactly this.
func checkRuncAccepts(t *testing.T, s *specs.Spec) {
	t.Helper()
	// Round-trip through JSON like a bundle's config.json.
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var rt specs.Spec
	if err := json.Unmarshal(data, &rt); err != nil {
		t.Fatal(err)
	}
	cfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{Spec: &rt, CgroupName: "test", NoNewKeyring: true})
	if err != nil {
		t.Fatalf("specconv rejected the spec: %v", err)
	}
	if err := validate.Validate(cfg); err != nil {
		t.Fatalf("runc validation rejected the spec: %v", err)
	}
}

func BenchmarkGetDefaultProfile(b *testing.B) {
	s := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: DefaultCapabilities()}}}
	h := testHost()
	for b.Loop() {
		if _, err := seccompProfile(s, SecurityOpts{}, false, h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	root := b.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/passwd"), []byte(testPasswd), 0o644); err != nil {
		b.Fatal(err)
	}
	h, err := ProbeHost()
	if err != nil {
		b.Fatal(err)
	}
	o := Options{Rootfs: root, Process: Process{Args: []string{"sh"}}, Host: &h}
	for b.Loop() {
		if _, err := Generate(o); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProbeHost(b *testing.B) {
	for b.Loop() {
		if _, err := ProbeHost(); err != nil {
			b.Fatal(err)
		}
	}
}

// syscallErrno returns the errno an ERRNO rule gives name, or 0.
func syscallErrno(s *specs.Spec, name string) uint {
	for _, sc := range s.Linux.Seccomp.Syscalls {
		if sc.Action == specs.ActErrno && sc.ErrnoRet != nil && slices.Contains(sc.Names, name) {
			return *sc.ErrnoRet
		}
	}
	return 0
}

// TestDefaultProfileNarrowedToDocker2010 checks the narrowing that
// test/e2e/isolation_test.go proves against a running Docker 20.10.
func TestDefaultProfileNarrowedToDocker2010(t *testing.T) {
	const enosys = 38
	cases := []struct {
		desc    string
		capAdd  []string
		allowed []string
		denied  []string // neither allowed nor given an errno: EPERM by default
		nosys   []string
	}{
		{
			desc:    "default capabilities",
			allowed: []string{"read", "futex_waitv", "close_range", "openat2", "faccessat2", "ptrace"},
			denied:  []string{"name_to_handle_at", "process_vm_readv", "process_vm_writev", "pkey_alloc", "pkey_free", "pkey_mprotect", "uretprobe", "io_uring_setup"},
			nosys:   []string{"fchmodat2", "cachestat", "futex_wake", "futex_wait", "futex_requeue", "statmount", "listmount", "mseal", "set_mempolicy_home_node", "setxattrat", "file_getattr", "clone3"},
		},
		{
			desc:    "CAP_SYS_ADMIN allows name_to_handle_at, as Docker 20.10 did",
			capAdd:  []string{"SYS_ADMIN"},
			allowed: []string{"name_to_handle_at", "mount", "clone3"},
			denied:  []string{"process_vm_readv", "pkey_alloc"},
			nosys:   []string{"fchmodat2", "lsm_get_self_attr"},
		},
		{
			desc:    "CAP_SYS_PTRACE allows process_vm_readv/writev",
			capAdd:  []string{"SYS_PTRACE"},
			allowed: []string{"process_vm_readv", "process_vm_writev", "kcmp"},
			denied:  []string{"name_to_handle_at"},
		},
		{
			desc:    "CAP_SYS_NICE does not bring back set_mempolicy_home_node",
			capAdd:  []string{"SYS_NICE"},
			allowed: []string{"mbind", "set_mempolicy"},
			nosys:   []string{"set_mempolicy_home_node"},
		},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			o := baseOptions(t)
			o.Security.CapAdd = c.capAdd
			s := mustGenerate(t, o)
			for _, n := range c.allowed {
				if !syscallAllowed(s, n) {
					t.Errorf("%s not allowed", n)
				}
			}
			for _, n := range c.denied {
				if syscallAllowed(s, n) || syscallErrno(s, n) != 0 {
					t.Errorf("%s: allowed %v errno %d, want the default EPERM", n, syscallAllowed(s, n), syscallErrno(s, n))
				}
			}
			for _, n := range c.nosys {
				if syscallAllowed(s, n) || syscallErrno(s, n) != enosys {
					t.Errorf("%s: allowed %v errno %d, want ENOSYS", n, syscallAllowed(s, n), syscallErrno(s, n))
				}
			}
		})
	}
}
