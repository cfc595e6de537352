package spec

import "github.com/opencontainers/runtime-spec/specs-go"

// Options is everything Generate needs. Fields mirror `docker run` flags
// after the CLI parsed them and the image config was merged in; zero values
// mean "Docker's default".
type Options struct {
	// Rootfs is the host path of the container's root filesystem, already
	// mounted by the caller. It becomes spec.Root.Path and is where the
	// user is resolved.
	Rootfs string
	// CgroupsPath is written to linux.cgroupsPath as is (e.g. "berth/<id>").
	CgroupsPath string

	Process    Process
	Security   Security
	Resources  Resources
	Mounts     Mounts
	Network    Network
	Namespaces Namespaces

	// Host describes the machine; nil means ProbeHost() is called. Callers
	// that create many containers may probe once and pass the result.
	Host *Host
}

// Process describes the container's main process.
type Process struct {
	// Args is the final argv, normally Args(image entrypoint, image cmd,
	// --entrypoint, CLI args). Empty is an error ("no command specified").
	Args []string
	// Env is Docker's Config.Env: image env merged with -e/--env-file.
	// An entry without "=" unsets that variable.
	Env []string
	// WorkingDir must be absolute; "" means "/".
	WorkingDir string
	// User is -u or the image's USER: "", "name", "uid", "name:group", "uid:gid".
	User string
	// GroupAdd is --group-add: extra group names or GIDs.
	GroupAdd []string
	// Tty is -t: terminal in the spec and TERM=xterm in the environment.
	Tty bool
	// ConsoleSize is the initial terminal size (only used with Tty).
	ConsoleSize *specs.Box
	// InitBinary is --init: the host path of the init binary, bind-mounted
	// read-only at /sbin/docker-init and run as `docker-init -- args...`.
	// Ignored when the PID namespace is the host's, like Docker.
	InitBinary string
	// Ulimits are --ulimit values ("nofile=1024:2048"); none means the
	// process inherits the runtime's limits, like Docker.
	Ulimits []string
	// OOMScoreAdj is --oom-score-adj.
	OOMScoreAdj int
}

// Security holds the privilege-related flags.
type Security struct {
	Privileged bool
	// CapAdd and CapDrop accept "ALL", names with or without "CAP_", any case.
	CapAdd  []string
	CapDrop []string
	// SecurityOpt are --security-opt values: seccomp=unconfined|builtin|FILE|JSON,
	// no-new-privileges[=bool], systempaths=unconfined, writable-cgroups=bool,
	// apparmor=... and label=... (accepted, ignored: no LSM on this host).
	SecurityOpt []string
	// Sysctls are --sysctl values; they override Docker's default ones.
	Sysctls map[string]string
}

// Resources are the cgroup limits. Zero means unlimited.
type Resources struct {
	// Memory is --memory in bytes (minimum 6 MiB, like Docker).
	Memory int64
	// MemorySwap is --memory-swap (memory+swap) in bytes; 0 means twice
	// Memory when swap accounting is available, -1 means unlimited.
	MemorySwap int64
	// NanoCPUs is --cpus × 1e9, applied as a CFS quota over a 100ms period.
	NanoCPUs int64
	// PidsLimit is --pids-limit: 0 unset, negative unlimited.
	PidsLimit int64
	// ShmSize is the size of /dev/shm in bytes; 0 means 64 MiB.
	ShmSize int64
	// DeviceCgroupRules are --device-cgroup-rule values ("c 1:3 rwm").
	DeviceCgroupRules []string
}

// Mounts describes the filesystem beyond the rootfs.
type Mounts struct {
	// ReadonlyRootfs is --read-only.
	ReadonlyRootfs bool
	// Binds are bind mounts and volumes, already resolved to host paths.
	Binds []Mount
	// Tmpfs is --tmpfs: destination → comma-separated options ("" for defaults).
	Tmpfs map[string]string
	// HostsPath, HostnamePath and ResolvConfPath are the host files
	// bind-mounted at /etc/hosts, /etc/hostname and /etc/resolv.conf
	// (skipped when empty or when a bind already targets that path).
	HostsPath      string
	HostnamePath   string
	ResolvConfPath string
}

// Mount is one resolved bind mount or volume.
type Mount struct {
	Source      string // host path
	Destination string // absolute path in the container
	ReadOnly    bool
	// Propagation is private, rprivate (default), shared, rshared, slave or rslave.
	Propagation string
	// NonRecursive uses "bind" instead of "rbind" (--mount bind-recursive=disabled).
	NonRecursive bool
}

// Network selects the network namespace and the UTS identity.
type Network struct {
	// Mode is Docker's --network: "none" (default), "host", "bridge",
	// "container:<id>" or a network name. "host" shares the host's network
	// namespace; everything else uses a namespace (NetNSPath, or a new one).
	Mode string
	// NetNSPath joins an existing network namespace (e.g. /proc/<pid>/ns/net
	// or a bind-mounted netns). Empty creates a new one.
	NetNSPath  string
	Hostname   string
	Domainname string
}

// Namespaces selects sharing of the non-network namespaces. "" is Docker's
// default (private), "host" shares the host's.
type Namespaces struct {
	PID string
	IPC string
	UTS string
	// Cgroup is "", "host" or "private"; "" is CgroupnsMode's default.
	Cgroup string
}
