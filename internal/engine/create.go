package engine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth/berth/internal/container"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/failpoint"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/network"
	"github.com/berth/berth/internal/opts"
	"github.com/berth/berth/internal/runtime"
	"github.com/berth/berth/internal/snapshot"
	"github.com/berth/berth/internal/spec"
	"github.com/berth/berth/internal/volume"
)

// CreateOptions is everything `create`/`run` needs beyond the image's own
// config. Flag strings are already parsed by the CLI.
type CreateOptions struct {
	Image      string
	Name       string
	Cmd        []string // arguments after the image name
	Entrypoint *string  // --entrypoint; nil when not given
	Config     ConfigOptions
	Host       container.HostConfig
	Volumes    []opts.Volume
	Tmpfs      []string
	Network    NetworkOptions
	// Pull, when set, pulls a missing image first (with Docker's "Unable
	// to find image" on Pull.Out), as run and create do; otherwise a
	// missing image is an error.
	Pull *PullOptions
}

// ConfigOptions are the flags that land in the Docker-shaped Config.
type ConfigOptions struct {
	Env         []string // KEY=VALUE, after --env-file and -e
	Workdir     string
	User        string
	Hostname    string
	Labels      map[string]string
	Interactive bool
	TTY         bool
	Detach      bool // run -d: recorded as attaching no stream
	StopSignal  string
	StopTimeout *int
	Healthcheck *v1.HealthConfig // merged over the image's; Test ["NONE"] disables
}

// Create makes a container record, its read-write snapshot, its volumes and
// its /etc files; nothing runs yet. On failure nothing is left behind.
func (e *Engine) Create(ctx context.Context, o CreateOptions) (_ *container.Container, err error) {
	// Pays the kernel's cgroup-attach grace period while we do file work; a
	// run's start would otherwise wait for it (see docs/runtime-startup.md).
	runtime.WarmCgroups()
	var img *image.Image
	if o.Pull != nil {
		img, err = e.ResolveImage(ctx, o.Image, *o.Pull)
	} else {
		img, err = e.Images.Get(o.Image)
	}
	if err != nil {
		return nil, err
	}
	cfg := img.Config.Config
	cfg.Image = o.Image
	cfg.Env = opts.MergeEnv(cfg.Env, o.Config.Env)
	if o.Config.Workdir != "" {
		cfg.WorkingDir = o.Config.Workdir
	}
	if o.Config.User != "" {
		cfg.User = o.Config.User
	}
	if o.Config.StopSignal != "" {
		if _, err := opts.ParseSignal(o.Config.StopSignal); err != nil {
			return nil, err
		}
		cfg.StopSignal = o.Config.StopSignal
	}
	if len(o.Config.Labels) > 0 {
		merged := map[string]string{}
		for k, v := range cfg.Labels {
			merged[k] = v
		}
		for k, v := range o.Config.Labels {
			merged[k] = v
		}
		cfg.Labels = merged
	}
	if o.Config.Healthcheck != nil {
		cfg.Healthcheck = mergeHealth(cfg.Healthcheck, o.Config.Healthcheck)
	}
	cfg.Tty = o.Config.TTY
	cfg.OpenStdin = o.Config.Interactive
	// As Docker records it: run -d attaches nothing; otherwise stdout and
	// stderr, and stdin (closed after one attach) with -i.
	cfg.AttachStdin = o.Config.Interactive && !o.Config.Detach
	cfg.StdinOnce = cfg.AttachStdin
	cfg.AttachStdout, cfg.AttachStderr = !o.Config.Detach, !o.Config.Detach

	argv := spec.Args(cfg.Entrypoint, cfg.Cmd, o.Entrypoint, o.Cmd)
	// Record the effective Entrypoint/Cmd as Docker does: --entrypoint
	// replaces the image's and drops its Cmd; arguments replace Cmd.
	if o.Entrypoint != nil {
		cfg.Entrypoint = nil
		if *o.Entrypoint != "" {
			cfg.Entrypoint = []string{*o.Entrypoint}
		}
		cfg.Cmd = nil
	}
	if len(o.Cmd) > 0 {
		cfg.Cmd = o.Cmd
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("No command specified: %w", errdefs.ErrInvalid)
	}
	for _, t := range o.Tmpfs {
		if _, _, err := opts.ParseTmpfs(t); err != nil {
			return nil, err
		}
	}

	if r := o.Host.Runtime; r != "" && r != "berth" {
		if _, err := exec.LookPath(r); err != nil {
			return nil, fmt.Errorf("unknown or invalid runtime name: %s: %w", r, errdefs.ErrInvalid)
		}
	}
	id := container.NewID()
	cfg.Hostname = o.Config.Hostname
	if cfg.Hostname == "" {
		cfg.Hostname = id[:12]
	}
	host := o.Host
	if host.NetworkMode, err = e.validateNetwork(&host, o.Network); err != nil {
		return nil, err
	}
	// Docker records published and --expose ports as exposed.
	for _, p := range o.Network.Expose {
		start, end, proto, err := network.ParsePort(p)
		if err != nil {
			return nil, fmt.Errorf("invalid range format for --expose: %s: %w", p, errdefs.ErrInvalid)
		}
		for port := start; port <= end; port++ {
			cfg.ExposedPorts = addExposed(cfg.ExposedPorts, fmt.Sprintf("%d/%s", port, proto))
		}
	}
	for k := range host.PortBindings {
		cfg.ExposedPorts = addExposed(cfg.ExposedPorts, k)
	}
	if host.RestartPolicy.Name == "" {
		host.RestartPolicy.Name = "no"
	}
	if host.AutoRemove && host.RestartPolicy.Name != "no" {
		return nil, fmt.Errorf("conflicting options: cannot specify both --restart and --rm: %w", errdefs.ErrInvalid)
	}
	switch host.CgroupnsMode {
	case "", "host", "private":
		host.CgroupnsMode = spec.CgroupnsMode(host.CgroupnsMode, e.host())
	default:
		return nil, fmt.Errorf("--cgroupns: invalid CGROUP mode: %w", errdefs.ErrInvalid)
	}
	host.Tmpfs = map[string]string{}
	for _, t := range o.Tmpfs {
		p, o, _ := opts.ParseTmpfs(t)
		host.Tmpfs[p] = o
	}
	c := &container.Container{
		ID:       id,
		Name:     o.Name,
		Created:  time.Now().UTC(),
		Path:     argv[0],
		Args:     argv[1:],
		Image:    img.ID,
		ImageRef: o.Image,
		Config:   container.Config{Config: cfg, StopTimeout: o.Config.StopTimeout},
		Host:     host,
		State:    container.State{Status: container.StatusCreated},
		Snapshot: id,
	}
	if c.Args == nil {
		c.Args = []string{}
	}
	if usesNetworks(host.NetworkMode) {
		es := &container.EndpointSettings{Aliases: o.Network.Aliases}
		if o.Network.IP != "" {
			es.IPAMConfig = &container.EndpointIPAMConfig{IPv4Address: o.Network.IP}
		}
		c.NetworkSettings.Networks = map[string]*container.EndpointSettings{host.NetworkMode: es}
	}
	if c.Mounts, err = e.resolveMounts(c, o.Volumes, cfg.Volumes); err != nil {
		return nil, err
	}
	// Owned while it is made: a concurrent rm or prune must not take a
	// container whose snapshot and /etc files are still being written.
	release, err := e.Containers.HoldOwner(id)
	if err != nil {
		return nil, err
	}
	defer release()
	if err := e.Containers.Create(c); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			e.Snapshots.Remove(id)
			e.Containers.Delete(id)
		}
	}()
	failpoint.Hit("create.after-record")
	if _, err := e.Snapshots.Prepare(id, img.TopChainID(), rootfsOpts(c)...); err != nil {
		// A concurrent rmi may delete the image, and its GC the layers,
		// between the lookup above and the container record that would
		// have made the rmi refuse. Say so, not "parent not found". (Once
		// prepared, the container's snapshot keeps its layers from GC.)
		if _, gerr := e.Images.Get(img.ID); errdefs.IsNotFound(gerr) {
			return nil, fmt.Errorf("image %s was removed while the container was being created: %w", o.Image, gerr)
		}
		return nil, fmt.Errorf("prepare rootfs: %w", err)
	}
	failpoint.Hit("create.after-snapshot")
	if err := e.writeEtcFiles(c); err != nil {
		return nil, err
	}
	return c, nil
}

func addExposed(m map[string]struct{}, k string) map[string]struct{} {
	if m == nil {
		m = map[string]struct{}{}
	} else if _, ok := m[k]; !ok {
		// The image config's map is shared with the image record: copy.
		c := make(map[string]struct{}, len(m)+1)
		for k := range m {
			c[k] = struct{}{}
		}
		m = c
	}
	m[k] = struct{}{}
	return m
}

// mergeHealth applies --health-* flags over the image's HEALTHCHECK as Docker does.
func mergeHealth(img, flags *v1.HealthConfig) *v1.HealthConfig {
	if len(flags.Test) > 0 && flags.Test[0] == "NONE" {
		return &v1.HealthConfig{Test: []string{"NONE"}}
	}
	out := v1.HealthConfig{}
	if img != nil {
		out = *img
	}
	if len(flags.Test) > 0 {
		out.Test = flags.Test
	}
	if flags.Interval != 0 {
		out.Interval = flags.Interval
	}
	if flags.Timeout != 0 {
		out.Timeout = flags.Timeout
	}
	if flags.StartPeriod != 0 {
		out.StartPeriod = flags.StartPeriod
	}
	if flags.Retries != 0 {
		out.Retries = flags.Retries
	}
	return &out
}

// resolveMounts turns -v specs and the image's VOLUMEs into mounts, creating
// named and anonymous volumes as needed.
func (e *Engine) resolveMounts(c *container.Container, specs []opts.Volume, imageVolumes map[string]struct{}) ([]container.Mount, error) {
	var mounts []container.Mount
	taken := map[string]bool{}
	for _, v := range specs {
		if taken[v.Destination] {
			return nil, fmt.Errorf("duplicate mount point: %s: %w", v.Destination, errdefs.ErrInvalid)
		}
		taken[v.Destination] = true
		m := container.Mount{Destination: v.Destination, Mode: v.Mode, RW: !v.ReadOnly, Propagation: "rprivate"}
		if v.Bind {
			if _, err := os.Stat(v.Source); os.IsNotExist(err) {
				// Docker creates a missing bind source directory for -v.
				if err := os.MkdirAll(v.Source, 0o755); err != nil {
					return nil, fmt.Errorf("create bind source %s: %w", v.Source, err)
				}
			}
			m.Type, m.Source = "bind", v.Source
		} else {
			vol, _, err := e.Volumes.Create(v.Source, volume.CreateOptions{Anonymous: v.Source == ""})
			if err != nil {
				return nil, err
			}
			m.Type, m.Name, m.Source, m.Propagation = "volume", vol.Name, vol.Mountpoint, ""
		}
		mounts = append(mounts, m)
	}
	for dst := range imageVolumes {
		dst = filepath.Clean(dst)
		if taken[dst] {
			continue
		}
		taken[dst] = true
		vol, _, err := e.Volumes.Create("", volume.CreateOptions{Anonymous: true})
		if err != nil {
			return nil, err
		}
		mounts = append(mounts, container.Mount{Type: "volume", Name: vol.Name, Source: vol.Mountpoint, Destination: dst, RW: true})
	}
	return mounts, nil
}

// rootfsOpts are how a container's writable layer is prepared: on the
// image's init layer, which holds the mount points of the files
// writeEtcFiles makes, and without fsyncs for a --rm container, which is
// removed anyway after a crash.
func rootfsOpts(c *container.Container) []snapshot.PrepareOpt {
	opts := []snapshot.PrepareOpt{snapshot.WithInitLayer()}
	if c.Host.AutoRemove {
		opts = append(opts, snapshot.Ephemeral())
	}
	return opts
}

// writeEtcFiles writes the hostname, hosts and resolv.conf that the spec
// bind-mounts into the container.
func (e *Engine) writeEtcFiles(c *container.Container) error {
	dir := e.Containers.Dir(c.ID)
	hosts, err := hostsFile(c.Host.NetworkMode, c.Config.Hostname, c.Host.ExtraHosts)
	if err != nil {
		return err
	}
	files := map[string]string{
		"hostname":    c.Config.Hostname + "\n",
		"hosts":       hosts,
		"resolv.conf": resolvConf(c.Host.DNS),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

// hostsFile is a container's (or build step's) /etc/hosts: Docker's
// default lines, or the host's file for --network host, then --add-host
// entries and the container's own name.
func hostsFile(networkMode, hostname string, extra []string) (string, error) {
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
	if networkMode == "host" {
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = string(b)
		}
	}
	for _, h := range extra {
		name, ip, ok := strings.Cut(h, ":")
		if !ok {
			return "", fmt.Errorf("invalid argument %q for \"--add-host\" flag: bad format for add-host: %q: %w", h, h, errdefs.ErrInvalid)
		}
		hosts += ip + "\t" + name + "\n"
	}
	// On a berth network the hostname resolves to the container's address
	// (the network package writes that line at start), as in Docker.
	if networkMode != "host" && !usesNetworks(networkMode) {
		hosts += "127.0.1.1\t" + hostname + "\n"
	}
	return hosts, nil
}

// resolvConf is the host's resolv.conf without loopback nameservers (they
// mean nothing inside another network namespace), or --dns servers.
func resolvConf(dns []string) string {
	var b strings.Builder
	host, _ := os.ReadFile("/etc/resolv.conf")
	var servers []string
	for _, line := range strings.Split(string(host), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if strings.HasPrefix(f[1], "127.") || f[1] == "::1" {
				continue
			}
			servers = append(servers, f[1])
			continue
		}
		if len(f) > 0 && (f[0] == "search" || f[0] == "options") {
			b.WriteString(line + "\n")
		}
	}
	if len(dns) > 0 {
		servers = dns
	}
	if len(servers) == 0 {
		servers = []string{"8.8.8.8", "8.8.4.4"}
	}
	for _, s := range servers {
		b.WriteString("nameserver " + s + "\n")
	}
	return b.String()
}
