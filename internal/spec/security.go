package spec

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
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
	return p, nil
}
