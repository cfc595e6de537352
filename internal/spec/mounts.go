package spec

import (
	"fmt"
	"math"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultShmSize is Docker's /dev/shm size (64 MiB).
const DefaultShmSize = 64 << 20

// initPath is where --init's binary appears in the container (Docker's).
const initPath = "/sbin/docker-init"

// defaultMounts is moby's DefaultLinuxSpec mount list.
func defaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777"}},
	}
}

// DefaultMaskedPaths is Docker's list of paths hidden from containers
// (moby daemon/pkg/oci defaultLinuxMaskedPaths), without the per-CPU
// thermal_throttle directories that Generate adds when the host has them.
func DefaultMaskedPaths() []string {
	return []string{
		"/proc/acpi",
		"/proc/asound",
		"/proc/interrupts",
		"/proc/kcore",
		"/proc/keys",
		"/proc/latency_stats",
		"/proc/sched_debug",
		"/proc/scsi",
		"/proc/timer_list",
		"/proc/timer_stats",
		"/sys/devices/virtual/powercap",
		"/sys/firmware",
	}
}

// DefaultReadonlyPaths is Docker's list of paths made read-only.
func DefaultReadonlyPaths() []string {
	return []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
}

// userMounts turns binds, tmpfs and the network files into spec mounts,
// sorted like Docker (fewer path components first, so parents are mounted
// before children).
func userMounts(m Mounts) ([]specs.Mount, error) {
	var out []specs.Mount
	for _, b := range m.Binds {
		if err := checkDestination(b.Destination); err != nil {
			return nil, err
		}
		if b.Source == "" || !path.IsAbs(b.Source) {
			return nil, invalidf("invalid mount config: bind source %q must be an absolute host path", b.Source)
		}
		prop := b.Propagation
		if prop == "" {
			prop = "rprivate"
		}
		switch prop {
		case "private", "rprivate", "shared", "rshared", "slave", "rslave":
		default:
			return nil, invalidf("invalid mount config: invalid propagation mode %q", b.Propagation)
		}
		opts := []string{"rbind"}
		if b.NonRecursive {
			opts[0] = "bind"
		}
		if b.ReadOnly {
			opts = append(opts, "ro")
		}
		opts = append(opts, prop)
		out = append(out, specs.Mount{Destination: path.Clean(b.Destination), Source: b.Source, Type: "bind", Options: opts})
	}

	dests := make([]string, 0, len(m.Tmpfs))
	for d := range m.Tmpfs {
		dests = append(dests, d)
	}
	sort.Strings(dests)
	for _, d := range dests {
		if err := checkDestination(d); err != nil {
			return nil, err
		}
		opts := []string{"noexec", "nosuid", "nodev", "rprivate"}
		if data := m.Tmpfs[d]; data != "" {
			opts = append(opts, strings.Split(data, ",")...)
		}
		merged, err := mergeTmpfsOptions(opts)
		if err != nil {
			return nil, err
		}
		out = append(out, specs.Mount{Destination: path.Clean(d), Source: "tmpfs", Type: "tmpfs", Options: merged})
	}

	// Docker's NetworkMounts: writable unless --read-only, skipped when the
	// user mounts something at the same place.
	for _, f := range []struct{ src, dst string }{
		{m.ResolvConfPath, "/etc/resolv.conf"},
		{m.HostnamePath, "/etc/hostname"},
		{m.HostsPath, "/etc/hosts"},
	} {
		if f.src == "" || slices.ContainsFunc(out, func(x specs.Mount) bool { return x.Destination == f.dst }) {
			continue
		}
		opts := []string{"rbind"}
		if m.ReadonlyRootfs {
			opts = append(opts, "ro")
		}
		opts = append(opts, "rprivate")
		out = append(out, specs.Mount{Destination: f.dst, Source: f.src, Type: "bind", Options: opts})
	}

	sort.SliceStable(out, func(i, j int) bool { return depth(out[i].Destination) < depth(out[j].Destination) })
	return out, nil
}

func checkDestination(d string) error {
	if !path.IsAbs(d) {
		return invalidf("invalid mount config: mount path must be absolute: %q", d)
	}
	if path.Clean(d) == "/" {
		return invalidf("invalid mount config: destination can't be '/'")
	}
	return nil
}

func depth(p string) int { return len(strings.Split(path.Clean(p), "/")) }

// tmpfsFlagKey maps a mount flag to the kernel flag it sets or clears, so
// a later "exec" overrides an earlier "noexec" (moby/sys/mount
// MergeTmpfsOptions). All propagation modes share one key. A switch rather
// than a package-level map keeps package initialization free.
func tmpfsFlagKey(o string) (string, bool) {
	switch o {
	case "ro", "rw":
		return "rdonly", true
	case "suid", "nosuid":
		return "nosuid", true
	case "dev", "nodev":
		return "nodev", true
	case "exec", "noexec":
		return "noexec", true
	case "sync", "async":
		return "sync", true
	case "dirsync":
		return "dirsync", true
	case "mand", "nomand":
		return "mand", true
	case "atime", "noatime":
		return "noatime", true
	case "diratime", "nodiratime":
		return "nodiratime", true
	case "relatime", "norelatime":
		return "relatime", true
	case "strictatime", "nostrictatime":
		return "strictatime", true
	case "private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable":
		return "propagation", true
	}
	return "", false
}

func isTmpfsDataKey(k string) bool {
	switch k {
	case "size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol":
		return true
	}
	return false
}

// mergeTmpfsOptions keeps the last occurrence of each flag and data key,
// in their original order, and rejects unknown options.
func mergeTmpfsOptions(opts []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for i := len(opts) - 1; i >= 0; i-- {
		o := strings.TrimSpace(opts[i])
		if o == "" || o == "defaults" {
			continue
		}
		key, isFlag := tmpfsFlagKey(o)
		if !isFlag {
			k, v, ok := strings.Cut(o, "=")
			if !ok || !isTmpfsDataKey(k) {
				return nil, invalidf("invalid tmpfs option %q", o)
			}
			if k == "size" {
				if _, err := parseTmpfsSize(v); err != nil {
					return nil, invalidf("invalid tmpfs option %q", o)
				}
			}
			key = "data:" + k
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, o)
	}
	slices.Reverse(out)
	return out, nil
}

// parseTmpfsSize accepts the kernel's tmpfs size syntax: bytes with an
// optional k/m/g suffix, or a percentage. Negative sizes and sizes that
// overflow 64 bits are refused here rather than handed to mount (found by
// FuzzTmpfsOptions: "size=9223372036854775807g" wrapped to a negative).
func parseTmpfsSize(v string) (int64, error) {
	if p, ok := strings.CutSuffix(v, "%"); ok {
		n, err := strconv.ParseInt(p, 10, 64)
		if err == nil && n < 0 {
			return 0, fmt.Errorf("negative size %q", v)
		}
		return n, err
	}
	mult := int64(1)
	switch strings.ToLower(v[len(v)-min(1, len(v)):]) {
	case "k":
		mult = 1 << 10
	case "m":
		mult = 1 << 20
	case "g":
		mult = 1 << 30
	}
	if mult != 1 {
		v = v[:len(v)-1]
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q out of range", v)
	}
	return n * mult, nil
}

func hasOption(opts []string, o string) bool { return slices.Contains(opts, o) }

func clearOption(opts []string, o string) []string {
	return slices.DeleteFunc(slices.Clone(opts), func(x string) bool { return x == o })
}
