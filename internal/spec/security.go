package spec

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// SecurityOpts is the parsed form of --security-opt values.
type SecurityOpts struct {
	// Seccomp is "" (Docker's default profile), "unconfined", or the JSON
	// text of a custom profile (a FILE argument is read by ParseSecurityOpts).
	Seccomp         string
	NoNewPrivileges bool
	// SystemPathsUnconfined drops the masked and read-only path lists.
	SystemPathsUnconfined bool
	// WritableCgroups mounts /sys/fs/cgroup read-write.
	WritableCgroups bool
	// AppArmor and Label are recorded but have no effect: this host has
	// neither AppArmor nor SELinux.
	AppArmor string
	Label    []string
}

// ParseSecurityOpts parses --security-opt values with the Docker CLI's and
// daemon's rules, including the deprecated "key:value" form. A seccomp FILE
// is read here (relative paths against the working directory), as the
// Docker CLI does before sending the profile's JSON to the daemon.
func ParseSecurityOpts(opts []string) (SecurityOpts, error) {
	var so SecurityOpts
	for _, opt := range opts {
		switch opt {
		case "no-new-privileges":
			so.NoNewPrivileges = true
			continue
		case "disable":
			so.Label = append(so.Label, opt)
			continue
		}
		var k, v string
		var ok bool
		if strings.Contains(opt, "=") {
			k, v, ok = strings.Cut(opt, "=")
		} else if strings.Contains(opt, ":") {
			k, v, ok = strings.Cut(opt, ":")
		}
		if !ok {
			return so, invalidf("invalid --security-opt 1: %q", opt)
		}
		switch k {
		case "label":
			so.Label = append(so.Label, v)
		case "apparmor":
			so.AppArmor = v
		case "seccomp":
			p, err := seccompValue(v)
			if err != nil {
				return so, err
			}
			so.Seccomp = p
		case "no-new-privileges":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return so, invalidf("invalid --security-opt 2: %q", opt)
			}
			so.NoNewPrivileges = b
		case "systempaths":
			if v != "unconfined" {
				return so, invalidf("invalid --security-opt: %q", opt)
			}
			so.SystemPathsUnconfined = true
		case "writable-cgroups":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return so, invalidf("invalid --security-opt 2: %q", opt)
			}
			so.WritableCgroups = b
		default:
			return so, invalidf("invalid --security-opt 2: %q", opt)
		}
	}
	return so, nil
}

func seccompValue(v string) (string, error) {
	switch {
	case v == "unconfined":
		return v, nil
	case v == "builtin" || v == "":
		return "", nil
	case strings.HasPrefix(strings.TrimSpace(v), "{"):
		return v, nil // already the profile's JSON (e.g. from a stored HostConfig)
	}
	data, err := os.ReadFile(v)
	if err != nil {
		return "", invalidErr(fmt.Errorf("opening seccomp profile (%s) failed: %w", v, err))
	}
	return string(data), nil
}

// seccompProfile applies Docker's WithSeccomp rules. s must already carry
// its final capabilities: the default profile enables cap-gated syscalls
// (mount with CAP_SYS_ADMIN, ...) from s.Process.Capabilities.Bounding.
func seccompProfile(s *specs.Spec, so SecurityOpts, privileged bool, h *Host) (*specs.LinuxSeccomp, error) {
	if so.Seccomp == "unconfined" || privileged {
		return nil, nil
	}
	if !h.Seccomp {
		if so.Seccomp != "" {
			return nil, invalidf("seccomp is not enabled in your kernel, cannot run a custom seccomp profile")
		}
		return nil, nil // Docker warns and runs unconfined
	}
	if so.Seccomp != "" {
		p, err := seccomp.LoadProfile(so.Seccomp, s)
		if err != nil {
			return nil, invalidErr(err)
		}
		return p, nil
	}
	p, err := seccomp.GetDefaultProfile(s)
	if err != nil {
		return nil, fmt.Errorf("build default seccomp profile: %w", err)
	}
	var bounding []string
	if s.Process != nil && s.Process.Capabilities != nil {
		bounding = s.Process.Capabilities.Bounding
	}
	narrowToDocker2010(p, bounding)
	return p, nil
}

// Syscalls that moby's current default profile allows but Docker 20.10
// (Debian's docker.io 20.10.24 with runc 1.1.5, the engine berth is measured
// against in test/e2e/isolation_test.go) does not. berth's default profile
// must never let through what that Docker stops, so these are taken out
// again with the answer that Docker gives.
//
// docker2010Denied are refused with EPERM like any syscall Docker's profile
// does not name: memory protection keys, the uretprobe trampoline call
// (which Linux 6.13+ lets bypass seccomp anyway), riscv_hwprobe and the
// 32-bit clock_settime64. docker2010SysAdmin and docker2010Ptrace were only
// allowed with CAP_SYS_ADMIN and CAP_SYS_PTRACE; moby allows them to
// everyone now.
//
// docker2010Newer are the syscalls after futex_waitv (449), the newest that
// Docker 20.10's profile names: runc answers ENOSYS for every syscall above
// the newest its filter knows, so callers (glibc's fchmodat2, for one) fall
// back to the older calls. They get an explicit ENOSYS rule here, which keeps
// the answer the same whichever libseccomp compiles the filter.
var (
	docker2010Denied   = []string{"pkey_alloc", "pkey_free", "pkey_mprotect", "uretprobe", "riscv_hwprobe", "clock_settime64"}
	docker2010SysAdmin = []string{"name_to_handle_at"}
	docker2010Ptrace   = []string{"process_vm_readv", "process_vm_writev"}
	docker2010Newer    = []string{
		"set_mempolicy_home_node", "cachestat", "fchmodat2", "map_shadow_stack",
		"futex_wake", "futex_wait", "futex_requeue", "statmount", "listmount",
		"lsm_get_self_attr", "lsm_set_self_attr", "lsm_list_modules", "mseal",
		"setxattrat", "getxattrat", "listxattrat", "removexattrat",
		"open_tree_attr", "file_getattr", "file_setattr",
	}
)

// narrowToDocker2010 edits a default profile already resolved against the
// container's bounding set (see the lists above for why).
func narrowToDocker2010(p *specs.LinuxSeccomp, bounding []string) {
	drop := func(name string) bool {
		return slices.Contains(docker2010Denied, name) || slices.Contains(docker2010SysAdmin, name) ||
			slices.Contains(docker2010Ptrace, name) || slices.Contains(docker2010Newer, name)
	}
	rules := p.Syscalls[:0]
	for _, r := range p.Syscalls {
		if r.Action == specs.ActAllow {
			r.Names = slices.DeleteFunc(slices.Clone(r.Names), drop)
			if len(r.Names) == 0 {
				continue
			}
		}
		rules = append(rules, r)
	}
	if slices.Contains(bounding, "CAP_SYS_ADMIN") {
		rules = append(rules, specs.LinuxSyscall{Names: slices.Clone(docker2010SysAdmin), Action: specs.ActAllow})
	}
	if slices.Contains(bounding, "CAP_SYS_PTRACE") {
		rules = append(rules, specs.LinuxSyscall{Names: slices.Clone(docker2010Ptrace), Action: specs.ActAllow})
	}
	enosys := uint(unix.ENOSYS)
	p.Syscalls = append(rules, specs.LinuxSyscall{Names: slices.Clone(docker2010Newer), Action: specs.ActErrno, ErrnoRet: &enosys})
}
