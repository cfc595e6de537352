package cli

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/container"
	"github.com/berth/berth/internal/engine"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/format"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/network"
	"github.com/berth/berth/internal/opts"
)

func containerCommands(a *app) []pair {
	return []pair{
		same(func() *cobra.Command { return newRunCmd(a) }),
		same(func() *cobra.Command { return newCreateCmd(a) }),
		same(func() *cobra.Command { return newStartCmd(a) }),
		same(func() *cobra.Command { return newStopCmd(a) }),
		same(func() *cobra.Command { return newKillCmd(a) }),
		same(func() *cobra.Command { return newRestartCmd(a) }),
		same(func() *cobra.Command { return newWaitCmd(a) }),
		same(func() *cobra.Command { return newPauseCmd(a, true) }),
		same(func() *cobra.Command { return newPauseCmd(a, false) }),
		same(func() *cobra.Command { return newRenameCmd(a) }),
		same(func() *cobra.Command { return newLogsCmd(a) }),
		same(func() *cobra.Command { return newExecCmd(a) }),
		same(func() *cobra.Command { return newTopCmd(a) }),
		same(func() *cobra.Command { return newStatsCmd(a) }),
		same(func() *cobra.Command { return newDiffCmd(a) }),
		same(func() *cobra.Command { return newCommitCmd(a) }),
		same(func() *cobra.Command { return newExportCmd(a) }),
		same(func() *cobra.Command { return newCpCmd(a) }),
		same(func() *cobra.Command { return newAttachCmd(a) }),
		{top: newRmCmd(a), mgmt: renamed(func() *cobra.Command { return newRmCmd(a) }, "rm", "remove")},
		{top: newPsCmd(a), mgmt: renamed(func() *cobra.Command { return newPsCmd(a) }, "ls", "ps", "list")},
		{top: newInspectCmd(a), mgmt: func() *cobra.Command { return newContainerInspectCmd(a) }},
		{mgmt: func() *cobra.Command { return newContainerPruneCmd(a) }},
	}
}

// forEach runs fn on every argument, printing the argument on success and
// "Error response" lines for failures, exiting 1 if any failed — Docker's
// behaviour for stop, kill, rm, start, pause...
func (a *app) forEach(refs []string, fn func(e *engine.Engine, ref string) error) error {
	_, err := a.forEachFailed(refs, fn)
	return err
}

// forEachFailed is forEach that also returns the refs that failed.
func (a *app) forEachFailed(refs []string, fn func(e *engine.Engine, ref string) error) ([]string, error) {
	e, err := a.engine()
	if err != nil {
		return nil, err
	}
	var failed []string
	for _, ref := range refs {
		if err := fn(e, ref); err != nil {
			fmt.Fprintln(a.stderr, "Error response from daemon: "+userMessage(err))
			failed = append(failed, ref)
			continue
		}
		fmt.Fprintln(a.stdout, ref)
	}
	if len(failed) > 0 {
		return failed, StatusError{Status: 1}
	}
	return nil, nil
}

func newStartCmd(a *app) *cobra.Command {
	var attach, interactive bool
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if attach || interactive {
				if len(args) > 1 {
					return fmt.Errorf("you cannot start and attach multiple containers at once")
				}
				e, c, err := a.container(args[0])
				if err != nil {
					return err
				}
				// The supervisor owns the container, as with start alone; this
				// process is just a client of its attach socket.
				o := engine.AttachOptions{Stdout: a.stdout, Stderr: a.stderr}
				if interactive && c.Config.OpenStdin {
					o.Stdin, o.CloseStdin = a.stdin, c.Config.StdinOnce
				}
				return a.attach(cmd.Context(), e, c, o, true, e.StartAttach)
			}
			failed, err := a.forEachFailed(args, func(e *engine.Engine, ref string) error {
				_, err := e.Start(cmd.Context(), ref)
				return err
			})
			if len(failed) > 0 {
				// Docker's summary line after the per-container errors.
				return StatusError{Status: 1, Message: "Error: failed to start containers: " + strings.Join(failed, ", ")}
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&attach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "Attach container's STDIN")
	return cmd
}

func timeoutFlag(cmd *cobra.Command) func() *int {
	var t int
	cmd.Flags().IntVarP(&t, "time", "t", 10, "Seconds to wait before killing the container")
	cmd.Flags().IntVar(&t, "timeout", 10, "Seconds to wait before killing the container")
	cmd.Flags().Lookup("timeout").Hidden = true
	return func() *int {
		if cmd.Flags().Changed("time") || cmd.Flags().Changed("timeout") {
			return &t
		}
		return nil
	}
}

func newStopCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "stop [OPTIONS] CONTAINER [CONTAINER...]", Short: "Stop one or more running containers", Args: minArgs(1)}
	timeout := timeoutFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return a.forEach(args, func(e *engine.Engine, ref string) error { return e.Stop(cmd.Context(), ref, timeout()) })
	}
	return cmd
}

func newRestartCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "restart [OPTIONS] CONTAINER [CONTAINER...]", Short: "Restart one or more containers", Args: minArgs(1)}
	timeout := timeoutFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return a.forEach(args, func(e *engine.Engine, ref string) error { return e.Restart(cmd.Context(), ref, timeout()) })
	}
	return cmd
}

func newKillCmd(a *app) *cobra.Command {
	var sig string
	cmd := &cobra.Command{
		Use: "kill [OPTIONS] CONTAINER [CONTAINER...]", Short: "Kill one or more running containers", Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := opts.ParseSignal(sig)
			if err != nil {
				return err
			}
			return a.forEach(args, func(e *engine.Engine, ref string) error { return e.Kill(ref, s) })
		},
	}
	cmd.Flags().StringVarP(&sig, "signal", "s", "KILL", "Signal to send to the container")
	return cmd
}

func newRmCmd(a *app) *cobra.Command {
	var force, volumes bool
	cmd := &cobra.Command{
		Use: "rm [OPTIONS] CONTAINER [CONTAINER...]", Short: "Remove one or more containers", Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			errs := e.RemoveMany(cmd.Context(), args, force, volumes)
			failed := false
			for i, err := range errs {
				if err != nil {
					if errdefs.IsNotFound(err) {
						// Docker 20.10's client words a missing object
						// itself, and with -f it is not a failure.
						fmt.Fprintln(a.stderr, "Error: No such container: "+args[i])
						if force {
							continue
						}
					} else {
						fmt.Fprintln(a.stderr, "Error response from daemon: "+userMessage(err))
					}
					failed = true
					continue
				}
				fmt.Fprintln(a.stdout, args[i])
			}
			if failed {
				return StatusError{Status: 1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	cmd.Flags().BoolVarP(&volumes, "volumes", "v", false, "Remove anonymous volumes associated with the container")
	cmd.Flags().BoolP("link", "l", false, "Remove the specified link")
	return cmd
}

func newWaitCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use: "wait CONTAINER [CONTAINER...]", Short: "Block until one or more containers stop, then print their exit codes", Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			failed := false
			for _, ref := range args {
				code, err := e.Wait(cmd.Context(), ref)
				if err != nil {
					fmt.Fprintln(a.stderr, "Error response from daemon: "+userMessage(err))
					failed = true
					continue
				}
				fmt.Fprintln(a.stdout, code)
			}
			if failed {
				return StatusError{Status: 1}
			}
			return nil
		},
	}
}

func newPauseCmd(a *app, pause bool) *cobra.Command {
	use, short := "pause", "Pause all processes within one or more containers"
	if !pause {
		use, short = "unpause", "Unpause all processes within one or more containers"
	}
	return &cobra.Command{
		Use: use + " CONTAINER [CONTAINER...]", Short: short, Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.forEach(args, func(e *engine.Engine, ref string) error {
				if pause {
					return e.Pause(ref)
				}
				return e.Unpause(ref)
			})
		},
	}
}

func newRenameCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use: "rename CONTAINER NEW_NAME", Short: "Rename a container", Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			return e.Containers.Rename(args[0], args[1])
		},
	}
}

func newContainerPruneCmd(a *app) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use: "prune [OPTIONS]", Short: "Remove all stopped containers", Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			all, err := e.List()
			if err != nil {
				return err
			}
			var deleted []string
			var reclaimed int64
			for _, c := range all {
				if c.State.Running {
					continue
				}
				size := containerRWSize(e, c)
				if err := e.Remove(cmd.Context(), c.ID, false, false); err == nil {
					deleted = append(deleted, c.ID)
					reclaimed += size
				}
			}
			if len(deleted) > 0 {
				fmt.Fprintln(a.stdout, "Deleted Containers:")
				for _, id := range deleted {
					fmt.Fprintln(a.stdout, id)
				}
				fmt.Fprintln(a.stdout)
			}
			fmt.Fprintf(a.stdout, "Total reclaimed space: %s\n", units.HumanSize(float64(reclaimed)))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	return cmd
}

// psRow is one `ps` line; field names are docker's --format keys.
type psRow struct {
	ID, Image, Command, CreatedAt, RunningFor, Ports, State, Status, Size, Names, Labels, Mounts, Networks, LocalVolumes string
}

// MarshalJSON gives `{{json .}}` docker's form: keys sorted.
func (r psRow) MarshalJSON() ([]byte, error) {
	type plain psRow
	return format.SortedJSON(plain(r))
}

var psHeaders = map[string]string{"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT", "RunningFor": "CREATED",
	"Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE", "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS",
	"Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES"}

func newPsCmd(a *app) *cobra.Command {
	var all, quiet, noTrunc, latest, size bool
	var last int
	var filters []string
	var format string
	cmd := &cobra.Command{
		Use: "ps [OPTIONS]", Short: "List containers", Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			f, err := parseFilters(filters, "name", "status", "ancestor", "id", "label", "exited")
			if err != nil {
				return err
			}
			list, err := e.List()
			if err != nil {
				return err
			}
			sortNewestFirst(list)
			if latest {
				last = 1
			}
			if last > 0 {
				all = true
			}
			// Like docker: sizes are computed only when shown.
			withSize := size || strings.Contains(format, ".Size") || strings.Contains(format, "json")
			now := time.Now()
			images := imageNames{e: e}
			var rows []any
			for _, c := range list {
				if !all && !c.State.Running && len(f["status"]) == 0 {
					continue
				}
				if !f.matchContainer(c, e) {
					continue
				}
				if last > 0 && len(rows) >= last {
					break
				}
				if quiet {
					fmt.Fprintln(a.stdout, trunc(c.ID, noTrunc))
					rows = append(rows, nil)
					continue
				}
				row := psRowOf(c, now, noTrunc, images.of(c, noTrunc))
				if withSize {
					row.Size = psSize(e, c, images.size(c))
				}
				rows = append(rows, row)
			}
			if quiet {
				return nil
			}
			def := "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
			if size {
				def += "\t{{.Size}}"
			}
			return tableOut(a.stdout, format, def, psHeaders, rows)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Only display container IDs")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fl.BoolVarP(&latest, "latest", "l", false, "Show the latest created container (includes all states)")
	fl.IntVarP(&last, "last", "n", -1, "Show n last created containers (includes all states)")
	fl.StringArrayVarP(&filters, "filter", "f", nil, "Filter output based on conditions provided")
	fl.StringVar(&format, "format", "", "Format output using a custom template")
	fl.BoolVarP(&size, "size", "s", false, "Display total file sizes")
	return cmd
}

// imageNames resolves, once per reference, whether a container's image
// reference still names its image, as docker ps does before showing it.
type imageNames struct {
	e     *engine.Engine
	cache map[string]*image.Image // by reference or ID; nil when it does not resolve
}

func (n *imageNames) get(ref string) *image.Image {
	if n.cache == nil {
		n.cache = map[string]*image.Image{}
	}
	img, ok := n.cache[ref]
	if !ok {
		img, _ = n.e.Images.Get(ref)
		n.cache[ref] = img
	}
	return img
}

// of is the IMAGE column: the reference the user gave, or the image ID
// when that reference now names another image (or none).
func (n *imageNames) of(c *container.Container, noTrunc bool) string {
	if img := n.get(c.ImageRef); img != nil && img.ID == c.Image {
		return c.ImageRef
	}
	if noTrunc {
		return c.Image
	}
	return trunc(c.Image, false)
}

func (n *imageNames) size(c *container.Container) int64 {
	if img := n.get(c.Image); img != nil {
		return img.Size
	}
	return 0
}

// psSize is docker's SIZE: the writable layer, and with the image "(virtual …)".
func psSize(e *engine.Engine, c *container.Container, imageSize int64) string {
	rw := containerRWSize(e, c)
	s := units.HumanSizeWithPrecision(float64(rw), 3)
	if virtual := rw + imageSize; virtual > 0 {
		s += " (virtual " + units.HumanSizeWithPrecision(float64(virtual), 3) + ")"
	}
	return s
}

// psCommand is docker's COMMAND: arguments holding spaces single-quoted,
// truncated to 20 characters with an ellipsis, the whole double-quoted.
func psCommand(c *container.Container, noTrunc bool) string {
	words := []string{c.Path}
	for _, a := range c.Args {
		if strings.Contains(a, " ") {
			a = "'" + a + "'"
		}
		words = append(words, a)
	}
	cmdline := strings.Join(words, " ")
	if !noTrunc {
		cmdline = ellipsis(cmdline, 20)
	}
	return strconv.Quote(cmdline)
}

func psRowOf(c *container.Container, now time.Time, noTrunc bool, image string) psRow {
	var labels []string
	for k, v := range c.Config.Labels {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	var mounts []string
	volumes := 0
	for _, m := range c.Mounts {
		name := m.Name
		if name == "" {
			name = m.Source
		}
		if m.Type == "volume" {
			volumes++
		}
		if !noTrunc {
			name = ellipsis(name, 15)
		}
		mounts = append(mounts, name)
	}
	return psRow{
		ID:           trunc(c.ID, noTrunc),
		Image:        image,
		Command:      psCommand(c, noTrunc),
		CreatedAt:    c.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
		RunningFor:   humanAgo(now, c.Created),
		State:        c.State.Status,
		Status:       container.StatusString(c, now),
		Names:        c.Name,
		Labels:       strings.Join(labels, ","),
		Mounts:       strings.Join(mounts, ","),
		Networks:     psNetworks(c),
		Ports:        psPorts(c),
		LocalVolumes: strconv.Itoa(volumes),
	}
}

// psPorts is Docker's PORTS column (docker/cli's DisplayablePorts):
// exposed ports and same-number mappings collapse into ranges
// ("0.0.0.0:8000-8001->8000-8001/tcp", "80/tcp"); other mappings follow,
// one each ("0.0.0.0:4000->80/tcp").
func psPorts(c *container.Container) string {
	if !c.State.Running {
		return ""
	}
	type port struct {
		ip              string
		public, private int
		proto           string
	}
	var ports []port
	for k, binds := range c.NetworkSettings.Ports {
		private, _, proto, _ := network.ParsePort(k)
		for _, b := range binds {
			public, _ := strconv.Atoi(b.HostPort)
			ports = append(ports, port{b.HostIP, public, private, proto})
		}
	}
	for k := range c.Config.ExposedPorts {
		if _, ok := c.NetworkSettings.Ports[k]; !ok {
			private, _, proto, _ := network.ParsePort(k)
			ports = append(ports, port{private: private, proto: proto})
		}
	}
	sort.Slice(ports, func(i, j int) bool {
		a, b := ports[i], ports[j]
		if a.private != b.private {
			return a.private < b.private
		}
		if a.ip != b.ip {
			return a.ip < b.ip
		}
		if a.public != b.public {
			return a.public < b.public
		}
		return a.proto < b.proto
	})
	type group struct{ first, last int }
	groups := map[string]*group{}
	var keys, result, mappings []string
	form := func(key string, g *group) string {
		ip, proto, ok := strings.Cut(key, "/")
		if !ok {
			ip, proto = "", key
		}
		r := strconv.Itoa(g.first)
		if g.last != g.first {
			r += "-" + strconv.Itoa(g.last)
		}
		if ip != "" {
			r = ip + ":" + r + "->" + r
		}
		return r + "/" + proto
	}
	for _, p := range ports {
		key := p.proto
		if p.ip != "" {
			if p.public != p.private {
				mappings = append(mappings, fmt.Sprintf("%s:%d->%d/%s", p.ip, p.public, p.private, p.proto))
				continue
			}
			key = p.ip + "/" + p.proto
		}
		g := groups[key]
		if g == nil {
			groups[key] = &group{p.private, p.private}
			keys = append(keys, key)
			continue
		}
		if p.private == g.last+1 {
			g.last = p.private
			continue
		}
		result = append(result, form(key, g))
		groups[key] = &group{p.private, p.private}
	}
	for _, k := range keys {
		result = append(result, form(k, groups[k]))
	}
	return strings.Join(append(result, mappings...), ", ")
}

func psNetworks(c *container.Container) string {
	if len(c.NetworkSettings.Networks) == 0 {
		return c.Host.NetworkMode
	}
	var names []string
	for n := range c.NetworkSettings.Networks {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}
