package cli

import (
	"context"
	"fmt"
	units "github.com/docker/go-units"
	"io"
	"os"
	"os/signal"
	"path"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/term"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/container"
	"github.com/berth/berth/internal/engine"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/network"
	"github.com/berth/berth/internal/opts"
)

// createFlags holds the raw flag values shared by run and create.
type createFlags struct {
	name, entrypoint, workdir, user, hostname, restart, memory, cpus, network, stopSignal, runtime string
	cgroupns                                                                                       string
	env, envFiles, labels, volumes, tmpfs, capAdd, capDrop, securityOpt, dns, addHost              []string
	interactive, tty, rm, readOnly, privileged, init                                               bool
	pidsLimit                                                                                      int64
	stopTimeout                                                                                    int
	healthCmd                                                                                      string
	healthInterval, healthTimeout, healthStartPeriod                                               time.Duration
	healthRetries                                                                                  int
	noHealthcheck                                                                                  bool
	logOpts                                                                                        []string
	publish, expose, networkAlias                                                                  []string
	publishAll                                                                                     bool
	ip                                                                                             string
}

func (f *createFlags) register(fs *pflag.FlagSet) {
	fs.SetInterspersed(false)
	fs.Bool("help", false, "Print usage") // -h is --hostname, as in Docker
	fs.StringVar(&f.name, "name", "", "Assign a name to the container")
	fs.StringVar(&f.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	fs.StringVarP(&f.workdir, "workdir", "w", "", "Working directory inside the container")
	fs.StringVarP(&f.user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	fs.StringVarP(&f.hostname, "hostname", "h", "", "Container host name")
	fs.StringVar(&f.restart, "restart", "no", "Restart policy to apply when a container exits")
	fs.StringVarP(&f.memory, "memory", "m", "", "Memory limit")
	fs.StringVar(&f.cpus, "cpus", "", "Number of CPUs")
	fs.StringVar(&f.network, "network", "bridge", "Connect a container to a network (bridge, NAME, host, none, container:NAME|ID)")
	fs.StringVar(&f.network, "net", "bridge", "Connect a container to a network")
	fs.StringArrayVarP(&f.publish, "publish", "p", nil, "Publish a container's port(s) to the host")
	fs.BoolVarP(&f.publishAll, "publish-all", "P", false, "Publish all exposed ports to random ports")
	fs.StringArrayVar(&f.expose, "expose", nil, "Expose a port or a range of ports")
	fs.StringArrayVar(&f.networkAlias, "network-alias", nil, "Add network-scoped alias for the container")
	fs.StringVar(&f.ip, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	fs.Lookup("net").Hidden = true
	fs.StringVar(&f.stopSignal, "stop-signal", "", "Signal to stop the container")
	fs.IntVar(&f.stopTimeout, "stop-timeout", 0, "Timeout (in seconds) to stop a container")
	fs.StringVar(&f.runtime, "runtime", "", "Runtime to use for this container (default: in-process libcontainer; or an OCI runtime such as runc)")
	fs.StringArrayVarP(&f.env, "env", "e", nil, "Set environment variables")
	fs.StringArrayVar(&f.envFiles, "env-file", nil, "Read in a file of environment variables")
	fs.StringArrayVarP(&f.labels, "label", "l", nil, "Set meta data on a container")
	fs.StringArrayVarP(&f.volumes, "volume", "v", nil, "Bind mount a volume")
	fs.StringArrayVar(&f.tmpfs, "tmpfs", nil, "Mount a tmpfs directory")
	fs.StringArrayVar(&f.capAdd, "cap-add", nil, "Add Linux capabilities")
	fs.StringArrayVar(&f.capDrop, "cap-drop", nil, "Drop Linux capabilities")
	fs.StringArrayVar(&f.securityOpt, "security-opt", nil, "Security Options")
	fs.StringArrayVar(&f.dns, "dns", nil, "Set custom DNS servers")
	fs.StringArrayVar(&f.addHost, "add-host", nil, "Add a custom host-to-IP mapping (host:ip)")
	fs.StringArrayVar(&f.logOpts, "log-opt", nil, "Log driver options (max-size, max-file)")
	fs.BoolVarP(&f.interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	fs.BoolVarP(&f.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	fs.BoolVar(&f.rm, "rm", false, "Automatically remove the container when it exits")
	fs.BoolVar(&f.readOnly, "read-only", false, "Mount the container's root filesystem as read only")
	fs.BoolVar(&f.privileged, "privileged", false, "Give extended privileges to this container")
	fs.StringVar(&f.cgroupns, "cgroupns", "", "Cgroup namespace to use (host|private)\n'host':    Run the container in the host's cgroup namespace\n'private': Run the container in its own private cgroup namespace\n'':        private wherever the kernel has cgroup namespaces (default)")
	fs.BoolVar(&f.init, "init", false, "Run an init inside the container that forwards signals and reaps processes")
	fs.Int64Var(&f.pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	fs.StringVar(&f.healthCmd, "health-cmd", "", "Command to run to check health")
	fs.DurationVar(&f.healthInterval, "health-interval", 0, "Time between running the check")
	fs.DurationVar(&f.healthTimeout, "health-timeout", 0, "Maximum time to allow one check to run")
	fs.DurationVar(&f.healthStartPeriod, "health-start-period", 0, "Start period for the container to initialize before starting health-retries countdown")
	fs.IntVar(&f.healthRetries, "health-retries", 0, "Consecutive failures needed to report unhealthy")
	fs.BoolVar(&f.noHealthcheck, "no-healthcheck", false, "Disable any container-specified HEALTHCHECK")
}

// options turns the flags into engine options; every parse error names its flag.
func (f *createFlags) options(fs *pflag.FlagSet, args []string) (engine.CreateOptions, error) {
	o := engine.CreateOptions{Image: args[0], Name: f.name, Cmd: args[1:], Tmpfs: f.tmpfs}
	if fs.Changed("entrypoint") {
		ep := f.entrypoint
		o.Entrypoint = &ep
	}
	var env []string
	for _, file := range f.envFiles {
		vals, err := opts.ParseEnvFile(file, os.LookupEnv)
		if err != nil {
			return o, err
		}
		env = append(env, vals...)
	}
	env = append(env, opts.ExpandEnv(f.env, os.LookupEnv)...)
	// Docker refuses this at create time, before any container exists.
	if f.workdir != "" && !path.IsAbs(f.workdir) {
		return o, fmt.Errorf("the working directory '%s' is invalid, it needs to be an absolute path: %w", f.workdir, errdefs.ErrInvalid)
	}
	o.Config = engine.ConfigOptions{
		Env: env, Workdir: f.workdir, User: f.user, Hostname: f.hostname,
		Interactive: f.interactive, TTY: f.tty, StopSignal: f.stopSignal,
	}
	if fs.Changed("stop-timeout") {
		t := f.stopTimeout
		o.Config.StopTimeout = &t
	}
	if len(f.labels) > 0 {
		o.Config.Labels = map[string]string{}
		for _, l := range f.labels {
			k, v, _ := strings.Cut(l, "=")
			o.Config.Labels[k] = v
		}
	}
	if f.noHealthcheck {
		o.Config.Healthcheck = &v1.HealthConfig{Test: []string{"NONE"}}
	} else if f.healthCmd != "" || f.healthInterval != 0 || f.healthTimeout != 0 || f.healthStartPeriod != 0 || f.healthRetries != 0 {
		h := &v1.HealthConfig{Interval: f.healthInterval, Timeout: f.healthTimeout, StartPeriod: f.healthStartPeriod, Retries: f.healthRetries}
		if f.healthCmd != "" {
			h.Test = []string{"CMD-SHELL", f.healthCmd}
		}
		o.Config.Healthcheck = h
	}
	restart, err := opts.ParseRestart(f.restart)
	if err != nil {
		return o, err
	}
	mem, err := opts.ParseMemory(f.memory)
	if err != nil {
		return o, err
	}
	cpus, err := opts.ParseCPUs(f.cpus)
	if err != nil {
		return o, err
	}
	var bindings map[string][]container.PortBinding
	for _, p := range f.publish {
		reqs, err := network.ParsePortSpec(p)
		if err != nil {
			return o, err
		}
		if bindings == nil {
			bindings = map[string][]container.PortBinding{}
		}
		for _, r := range reqs {
			bindings[r.Key()] = append(bindings[r.Key()], container.PortBinding{HostIP: r.HostIP, HostPort: r.HostPortString()})
		}
	}
	o.Network = engine.NetworkOptions{Aliases: f.networkAlias, IP: f.ip, Expose: f.expose}
	for _, h := range f.addHost {
		if !strings.Contains(h, ":") {
			return o, fmt.Errorf("invalid argument %q for \"--add-host\" flag: bad format for add-host: %q: %w", h, h, errdefs.ErrInvalid)
		}
	}
	maxSize, maxFiles, err := logOptions(f.logOpts)
	if err != nil {
		return o, err
	}
	o.Host = container.HostConfig{
		AutoRemove:     f.rm,
		RestartPolicy:  container.RestartPolicy{Name: restart.Name, MaximumRetryCount: restart.MaxRetries},
		NetworkMode:    f.network,
		Binds:          f.volumes,
		ReadonlyRootfs: f.readOnly,
		Privileged:     f.privileged,
		CapAdd:         f.capAdd,
		CapDrop:        f.capDrop,
		SecurityOpt:    f.securityOpt,
		Init:           f.init,
		Runtime:        f.runtime,
		Memory:         mem,
		NanoCPUs:       cpus,
		PidsLimit:      f.pidsLimit,
		DNS:            f.dns,
		ExtraHosts:     f.addHost,
		LogMaxSize:     maxSize,
		LogMaxFiles:    maxFiles,
		CgroupnsMode:   f.cgroupns,
	}
	o.Host.PortBindings, o.Host.PublishAllPorts = bindings, f.publishAll
	for _, v := range f.volumes {
		vol, err := opts.ParseVolume(v)
		if err != nil {
			return o, err
		}
		o.Volumes = append(o.Volumes, vol)
	}
	return o, nil
}

func logOptions(vals []string) (maxSize int64, maxFiles int, err error) {
	for _, kv := range vals {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "max-size":
			// json-file's own rule (RAMInBytes, no lower bound), not --memory's.
			if maxSize, err = units.RAMInBytes(v); err != nil || maxSize < -1 {
				return 0, 0, fmt.Errorf("invalid value for max-size: %s: %w", v, errdefs.ErrInvalid)
			}
		case "max-file":
			if _, err := fmt.Sscan(v, &maxFiles); err != nil || maxFiles < 1 {
				return 0, 0, fmt.Errorf("invalid value for max-file: %s: %w", v, errdefs.ErrInvalid)
			}
		default:
			return 0, 0, fmt.Errorf("unknown log opt '%s' for json-file log driver: %w", k, errdefs.ErrInvalid)
		}
	}
	return maxSize, maxFiles, nil
}

// createContainer is create's core, shared with run: it reports an unknown
// image the way Docker does before failing.
func (a *app) createContainer(ctx context.Context, o engine.CreateOptions) (*container.Container, error) {
	e, err := a.engine()
	if err != nil {
		return nil, err
	}
	// A missing image is pulled first ("Unable to find image … locally"),
	// with the pull's progress on stderr as Docker prints it.
	o.Pull = &engine.PullOptions{Out: a.stderr}
	return e.Create(ctx, o)
}

func newCreateCmd(a *app) *cobra.Command {
	var f createFlags
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := f.options(cmd.Flags(), args)
			if err != nil {
				return runError("create", err)
			}
			c, err := a.createContainer(cmd.Context(), o)
			if err != nil {
				// Docker's create reports the daemon's refusal without a
				// hint and exits 1; only flag errors are 125.
				return daemonError(err)
			}
			fmt.Fprintln(a.stdout, c.ID)
			return nil
		},
	}
	f.register(cmd.Flags())
	return cmd
}

func newRunCmd(a *app) *cobra.Command {
	var f createFlags
	var detach bool
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Run a command in a new container",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := f.options(cmd.Flags(), args)
			if err != nil {
				return runError("run", err)
			}
			o.Config.Detach = detach
			if detach && f.rm && o.Host.RestartPolicy.Name != "no" {
				return runError("run", fmt.Errorf("conflicting options: cannot specify both --restart and --rm: %w", errdefs.ErrInvalid))
			}
			ctx := cmd.Context()
			c, err := a.createContainer(ctx, o)
			if err != nil {
				return runError("run", err)
			}
			e, _ := a.engine()
			if detach {
				if _, err := e.Start(ctx, c.ID); err != nil {
					return startError(err)
				}
				fmt.Fprintln(a.stdout, c.ID)
				return nil
			}
			code, err := a.attachRun(ctx, e, c, f.interactive, f.tty)
			if err != nil {
				return startError(err)
			}
			if code != 0 {
				return StatusError{Status: code}
			}
			return nil
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "Run container in background and print container ID")
	return cmd
}

// attachRun runs a container in the foreground: stdio (or a pty) wired to
// ours, SIGINT/SIGTERM forwarded, exit status returned.
func (a *app) attachRun(ctx context.Context, e *engine.Engine, c *container.Container, interactive, tty bool) (int, error) {
	stdio := engine.Stdio{Stdout: a.stdout, Stderr: a.stderr, TTY: tty}
	if interactive {
		stdio.Stdin = a.stdin
	}
	var restore func()
	ptyDone := make(chan struct{})
	if tty {
		stdio.Console = func(pty *os.File) {
			restore = a.wireTerminal(pty, interactive, ptyDone)
		}
	} else {
		close(ptyDone)
	}
	// The foreground container gets our signals; stop the context-cancel
	// path from killing berth before the container has exited.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	defer signal.Stop(sigs)
	att, err := e.StartAttached(context.WithoutCancel(ctx), c.ID, stdio)
	if err != nil {
		if c.Host.AutoRemove {
			e.Remove(context.WithoutCancel(ctx), c.ID, true, true)
		}
		return 0, err
	}
	go func() {
		for s := range sigs {
			att.Signal(s)
		}
	}()
	code, err := att.Wait()
	if tty {
		select {
		case <-ptyDone:
		case <-time.After(200 * time.Millisecond):
		}
	}
	if restore != nil {
		restore()
	}
	return code, err
}

// wireTerminal puts our terminal in raw mode and copies between it and the
// container's pty, following window size changes.
func (a *app) wireTerminal(pty *os.File, interactive bool, done chan struct{}) (restore func()) {
	restore = func() {}
	inFd, isTerm := term.GetFdInfo(a.stdin)
	if isTerm && interactive {
		if st, err := term.SetRawTerminal(inFd); err == nil {
			restore = func() { term.RestoreTerminal(inFd, st) }
		}
	}
	if outFd, ok := term.GetFdInfo(a.stdout); ok {
		resize := func() {
			if ws, err := term.GetWinsize(outFd); err == nil {
				term.SetWinsize(pty.Fd(), ws)
			}
		}
		resize()
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		go func() {
			for range winch {
				resize()
			}
		}()
	}
	if interactive {
		go io.Copy(pty, a.stdin)
	}
	go func() {
		io.Copy(a.stdout, pty)
		close(done)
	}()
	return restore
}
