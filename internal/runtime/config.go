package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/errdefs"
)

// cgroupParent is where containers' cgroups go when the spec names none,
// as Docker puts them under /docker: /berth/<id> in every hierarchy.
const cgroupParent = "/berth"

// newConfig converts spec into a libcontainer config the way `runc create`
// does, except that runc resolves relative paths against its working
// directory (the bundle); berth starts many containers from one process,
// so they are resolved against bundle instead.
func newConfig(id string, spec *specs.Spec, bundle string) (*configs.Config, error) {
	if spec == nil || spec.Root == nil || spec.Process == nil {
		return nil, fmt.Errorf("container %s: spec needs root and process: %w", id, errdefs.ErrInvalid)
	}
	if err := validateProcess(spec.Process); err != nil {
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	bundle, err := filepath.Abs(bundle)
	if err != nil {
		return nil, fmt.Errorf("container %s: bundle: %w", id, err)
	}
	config, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName:   id,
		Spec:         withCgroupsPath(id, spec),
		RootlessEUID: os.Geteuid() != 0,
	})
	if err != nil {
		return nil, fmt.Errorf("container %s: convert spec: %w: %w", id, errdefs.ErrInvalid, err)
	}

	// Undo specconv's use of the working directory.
	if !filepath.IsAbs(spec.Root.Path) {
		config.Rootfs = filepath.Join(bundle, spec.Root.Path)
	}
	if len(config.Mounts) == len(spec.Mounts) {
		for i, m := range spec.Mounts {
			if config.Mounts[i].IsBind() && !filepath.IsAbs(m.Source) {
				config.Mounts[i].Source = filepath.Join(bundle, m.Source)
			}
		}
	}
	for i, l := range config.Labels {
		if strings.HasPrefix(l, "bundle=") {
			config.Labels[i] = "bundle=" + bundle
		}
	}
	return config, nil
}

// withCgroupsPath returns spec, or a shallow copy of it whose
// linux.cgroupsPath defaults to /berth/<id>.
func withCgroupsPath(id string, spec *specs.Spec) *specs.Spec {
	if spec.Linux == nil || spec.Linux.CgroupsPath != "" {
		return spec
	}
	s := *spec
	lin := *spec.Linux
	lin.CgroupsPath = cgroupParent + "/" + id
	s.Linux = &lin
	return &s
}

// validateID applies libcontainer's rules for container ids (letters,
// digits and _+-., not "." or ".."), so that both runtimes reject the same
// ids before touching the disk.
func validateID(id string) error {
	ok := id != "" && id != "." && id != ".."
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '+' || c == '-' || c == '.'
	}
	if !ok {
		return fmt.Errorf("invalid container id %q: %w", id, errdefs.ErrInvalid)
	}
	return nil
}

// validateProcess is runc's validateProcessSpec: libcontainer itself
// accepts an empty argv or cwd and fails obscurely later.
func validateProcess(p *specs.Process) error {
	switch {
	case len(p.Args) == 0:
		return fmt.Errorf("process args must not be empty: %w", errdefs.ErrInvalid)
	case p.Cwd == "" || !filepath.IsAbs(p.Cwd):
		return fmt.Errorf("process cwd %q must be an absolute path: %w", p.Cwd, errdefs.ErrInvalid)
	}
	return nil
}

// newProcess converts a spec process into a libcontainer one, as runc's
// newProcess does.
func newProcess(p *specs.Process, init bool) (*libcontainer.Process, error) {
	if err := validateProcess(p); err != nil {
		return nil, err
	}
	lp := &libcontainer.Process{
		Args:            p.Args,
		Env:             p.Env,
		UID:             int(p.User.UID),
		GID:             int(p.User.GID),
		Cwd:             p.Cwd,
		Label:           p.SelinuxLabel,
		NoNewPrivileges: &p.NoNewPrivileges,
		AppArmorProfile: p.ApparmorProfile,
		Scheduler:       p.Scheduler,
		IOPriority:      p.IOPriority,
		Init:            init,
	}
	if p.ConsoleSize != nil {
		lp.ConsoleWidth = uint16(p.ConsoleSize.Width)
		lp.ConsoleHeight = uint16(p.ConsoleSize.Height)
	}
	if c := p.Capabilities; c != nil {
		lp.Capabilities = &configs.Capabilities{
			Bounding:    c.Bounding,
			Effective:   c.Effective,
			Inheritable: c.Inheritable,
			Permitted:   c.Permitted,
			Ambient:     c.Ambient,
		}
	}
	for _, g := range p.User.AdditionalGids {
		lp.AdditionalGroups = append(lp.AdditionalGroups, int(g))
	}
	for _, rl := range p.Rlimits {
		t, ok := rlimitType(rl.Type)
		if !ok {
			return nil, fmt.Errorf("unknown rlimit %q: %w", rl.Type, errdefs.ErrInvalid)
		}
		lp.Rlimits = append(lp.Rlimits, configs.Rlimit{Type: t, Hard: rl.Hard, Soft: rl.Soft})
	}
	aff, err := configs.ConvertCPUAffinity(p.ExecCPUAffinity)
	if err != nil {
		return nil, fmt.Errorf("exec cpu affinity: %w: %w", errdefs.ErrInvalid, err)
	}
	lp.CPUAffinity = aff
	return lp, nil
}

// rlimitType maps a runtime-spec rlimit name to its resource number (runc
// keeps the same table in its main package).
func rlimitType(name string) (int, bool) {
	switch name {
	case "RLIMIT_CPU":
		return unix.RLIMIT_CPU, true
	case "RLIMIT_FSIZE":
		return unix.RLIMIT_FSIZE, true
	case "RLIMIT_DATA":
		return unix.RLIMIT_DATA, true
	case "RLIMIT_STACK":
		return unix.RLIMIT_STACK, true
	case "RLIMIT_CORE":
		return unix.RLIMIT_CORE, true
	case "RLIMIT_RSS":
		return unix.RLIMIT_RSS, true
	case "RLIMIT_NPROC":
		return unix.RLIMIT_NPROC, true
	case "RLIMIT_NOFILE":
		return unix.RLIMIT_NOFILE, true
	case "RLIMIT_MEMLOCK":
		return unix.RLIMIT_MEMLOCK, true
	case "RLIMIT_AS":
		return unix.RLIMIT_AS, true
	case "RLIMIT_LOCKS":
		return unix.RLIMIT_LOCKS, true
	case "RLIMIT_SIGPENDING":
		return unix.RLIMIT_SIGPENDING, true
	case "RLIMIT_MSGQUEUE":
		return unix.RLIMIT_MSGQUEUE, true
	case "RLIMIT_NICE":
		return unix.RLIMIT_NICE, true
	case "RLIMIT_RTPRIO":
		return unix.RLIMIT_RTPRIO, true
	case "RLIMIT_RTTIME":
		return unix.RLIMIT_RTTIME, true
	}
	return 0, false
}
