package spec

import (
	"slices"
	"strings"
)

// capabilityNames is indexed by capability number (linux/capability.h).
// runc knows the same names; numbers past the end are ignored.
var capabilityNames = [...]string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// capSysResource is CAP_SYS_RESOURCE's number.
const capSysResource = 24

// DefaultCapabilities returns Docker's default capability set, in Docker's
// order (moby oci/caps.DefaultCapabilities).
func DefaultCapabilities() []string {
	return []string{
		"CAP_CHOWN",
		"CAP_DAC_OVERRIDE",
		"CAP_FSETID",
		"CAP_FOWNER",
		"CAP_MKNOD",
		"CAP_NET_RAW",
		"CAP_SETGID",
		"CAP_SETUID",
		"CAP_SETFCAP",
		"CAP_SETPCAP",
		"CAP_NET_BIND_SERVICE",
		"CAP_SYS_CHROOT",
		"CAP_KILL",
		"CAP_AUDIT_WRITE",
	}
}

// Capabilities computes the container's capability set with Docker's rules
// (moby caps.TweakCapabilities):
//   - privileged: every capability in available;
//   - --cap-add ALL: available minus --cap-drop;
//   - --cap-drop ALL: exactly --cap-add;
//   - otherwise: defaults minus --cap-drop, plus --cap-add.
//
// Names are normalized (upper case, "CAP_" prefix). An unknown name, or
// adding one the host cannot grant, is an errdefs.ErrInvalid error worded
// like Docker's (dropping an unavailable one is allowed). Default capabilities the host lacks are left out silently
// rather than failing in the runtime.
func Capabilities(available, capAdd, capDrop []string, privileged bool) ([]string, error) {
	if privileged {
		return slices.Clone(available), nil
	}
	// Dropping a capability the host cannot grant anyway is harmless, so
	// only additions must be available.
	drops, err := normalizeCaps(capDrop, nil)
	if err != nil {
		return nil, err
	}
	adds, err := normalizeCaps(capAdd, available)
	if err != nil {
		return nil, err
	}
	var caps []string
	switch {
	case slices.Contains(adds, "ALL"):
		for _, c := range available {
			if !slices.Contains(drops, c) {
				caps = append(caps, c)
			}
		}
	case slices.Contains(drops, "ALL"):
		caps = adds
	default:
		for _, c := range DefaultCapabilities() {
			if !slices.Contains(drops, c) && slices.Contains(available, c) {
				caps = append(caps, c)
			}
		}
		caps = append(caps, adds...)
	}
	return dedup(caps), nil
}

// normalizeCaps upper-cases names and adds "CAP_"; with available != nil it
// also requires each name to be grantable.
func normalizeCaps(in, available []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, c := range in {
		c = strings.ToUpper(strings.TrimSpace(c))
		if c == "ALL" {
			out = append(out, c)
			continue
		}
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		if !slices.Contains(capabilityNames[:], c) {
			return nil, invalidf("unknown capability: %q", c)
		}
		if available != nil && !slices.Contains(available, c) {
			return nil, invalidf("capability not supported by your kernel or not available in the current environment: %q", c)
		}
		out = append(out, c)
	}
	return out, nil
}

func dedup(in []string) []string {
	out := in[:0:0]
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
