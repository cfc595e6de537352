package cli

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/engine"
)

func newVersionCmd(a *app) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use: "version", Short: "Show the berth version information", Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := versionInfo{Client: componentVersion{Version: Version, APIVersion: "1.41", GoVersion: runtime.Version(), Os: runtime.GOOS, Arch: runtime.GOARCH}}
			v.Server = v.Client
			if format != "" {
				return formatObject(a, format, v)
			}
			fmt.Fprintf(a.stdout, "Client:\n Version:\t%s\n API version:\t%s\n Go version:\t%s\n OS/Arch:\t%s/%s\n\nEngine:\n Version:\t%s (daemonless, in-process runtime)\n",
				v.Client.Version, v.Client.APIVersion, v.Client.GoVersion, v.Client.Os, v.Client.Arch, v.Server.Version)
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format the output using the given Go template")
	return cmd
}

type componentVersion struct {
	Version, APIVersion, GoVersion, Os, Arch string
}

type versionInfo struct {
	Client, Server componentVersion
}

func newInfoCmd(a *app) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use: "info", Short: "Display system-wide information", Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			cs, err := e.List()
			if err != nil {
				return err
			}
			imgs, err := e.Images.List()
			if err != nil {
				return err
			}
			info := infoJSON{Containers: len(cs), Images: len(imgs), Driver: "overlay2", LoggingDriver: "json-file",
				CgroupDriver: "cgroupfs", CgroupVersion: "1", KernelVersion: kernelVersion(), OperatingSystem: osName(),
				OSType: "linux", Architecture: runtime.GOARCH, NCPU: runtime.NumCPU(), MemTotal: int64(engine.MemTotal()),
				DockerRootDir: e.Root.Lib, ServerVersion: Version, DefaultRuntime: "berth"}
			if isCgroup2() {
				info.CgroupVersion = "2"
			}
			for _, c := range cs {
				switch {
				case c.State.Paused:
					info.ContainersPaused++
				case c.State.Running:
					info.ContainersRunning++
				default:
					info.ContainersStopped++
				}
			}
			info.Name, _ = os.Hostname()
			if format != "" {
				return formatObject(a, format, info)
			}
			fmt.Fprintf(a.stdout, "Server:\n Containers: %d\n  Running: %d\n  Paused: %d\n  Stopped: %d\n Images: %d\n Server Version: %s\n Storage Driver: %s\n Logging Driver: %s\n Cgroup Driver: %s\n Cgroup Version: %s\n Default Runtime: %s\n Kernel Version: %s\n Operating System: %s\n OSType: %s\n Architecture: %s\n CPUs: %d\n Total Memory: %s\n Name: %s\n Docker Root Dir: %s\n",
				info.Containers, info.ContainersRunning, info.ContainersPaused, info.ContainersStopped, info.Images, info.ServerVersion,
				info.Driver, info.LoggingDriver, info.CgroupDriver, info.CgroupVersion, info.DefaultRuntime, info.KernelVersion, info.OperatingSystem,
				info.OSType, info.Architecture, info.NCPU, units.BytesSize(float64(info.MemTotal)), info.Name, info.DockerRootDir)
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format the output using the given Go template")
	return cmd
}

type infoJSON struct {
	Containers, ContainersRunning, ContainersPaused, ContainersStopped, Images                 int
	Driver, LoggingDriver, CgroupDriver, CgroupVersion, KernelVersion, OperatingSystem, OSType string
	Architecture                                                                               string
	NCPU                                                                                       int
	MemTotal                                                                                   int64
	Name, DockerRootDir, ServerVersion, DefaultRuntime                                         string
}

func formatObject(a *app, tmpl string, v any) error {
	return objectOut(a.stdout, tmpl, v)
}

func kernelVersion() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b))
}

func osName() string {
	b, _ := os.ReadFile("/etc/os-release")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "linux"
}

func newSystemCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "system", Short: "Manage berth", Args: noArgs, RunE: func(c *cobra.Command, _ []string) error { return c.Help() }}
	var all, volumes, force bool
	prune := &cobra.Command{
		Use: "prune [OPTIONS]", Short: "Remove unused data", Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			r, err := e.SystemPrune(cmd.Context(), all, volumes)
			if err != nil {
				return err
			}
			if len(r.Containers) > 0 {
				fmt.Fprintln(a.stdout, "Deleted Containers:")
				for _, id := range r.Containers {
					fmt.Fprintln(a.stdout, id)
				}
				fmt.Fprintln(a.stdout)
			}
			if len(r.Networks) > 0 {
				fmt.Fprintln(a.stdout, "Deleted Networks:")
				for _, n := range r.Networks {
					fmt.Fprintln(a.stdout, n)
				}
				fmt.Fprintln(a.stdout)
			}
			if len(r.Volumes) > 0 {
				fmt.Fprintln(a.stdout, "Deleted Volumes:")
				for _, n := range r.Volumes {
					fmt.Fprintln(a.stdout, n)
				}
				fmt.Fprintln(a.stdout)
			}
			if len(r.Images) > 0 {
				fmt.Fprintln(a.stdout, "Deleted Images:")
				printDeleted(a, r.Images, true)
				fmt.Fprintln(a.stdout)
			}
			fmt.Fprintf(a.stdout, "Total reclaimed space: %s\n", units.HumanSize(float64(r.Reclaimed)))
			return nil
		},
	}
	prune.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused images not just dangling ones")
	prune.Flags().BoolVar(&volumes, "volumes", false, "Prune anonymous volumes")
	prune.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")

	var dfFormat string
	df := &cobra.Command{
		Use: "df", Short: "Show berth disk usage", Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			rows, err := e.DiskUsage()
			if err != nil {
				return err
			}
			var out []any
			for _, r := range rows {
				out = append(out, dfRow{Type: r.Type, TotalCount: fmt.Sprint(r.Total), Active: fmt.Sprint(r.Active),
					Size: units.HumanSize(float64(r.Size)), Reclaimable: fmt.Sprintf("%s (%d%%)", units.HumanSize(float64(r.Reclaimable)), pct(r.Reclaimable, r.Size))})
			}
			return tableOut(a.stdout, dfFormat, "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
				map[string]string{"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"}, out)
		},
	}
	df.Flags().StringVar(&dfFormat, "format", "", "Pretty-print using a Go template")
	df.Flags().BoolP("verbose", "v", false, "Show detailed information on space usage")

	var repair bool
	check := &cobra.Command{
		Use: "check [OPTIONS]", Short: "Verify every blob, image, snapshot and container record; --repair fixes what it can", Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			problems, err := e.Check(cmd.Context(), repair)
			if err != nil {
				return err
			}
			for _, p := range problems {
				fmt.Fprintln(a.stdout, p)
			}
			if len(problems) > 0 {
				if repair {
					fmt.Fprintf(a.stdout, "%d problem(s) found and repaired where possible\n", len(problems))
					return nil
				}
				return StatusError{Status: 1, Message: fmt.Sprintf("%d problem(s) found; run 'berth system check --repair'", len(problems))}
			}
			fmt.Fprintln(a.stdout, "ok")
			return nil
		},
	}
	check.Flags().BoolVar(&repair, "repair", false, "Fix stale mounts, locks and records")

	boot := &cobra.Command{
		Use: "boot", Short: "Reconcile state after a reboot and start containers with restart policy always/unless-stopped (run by berth.service)", Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			started, err := e.Boot(cmd.Context())
			for _, id := range started {
				fmt.Fprintln(a.stdout, id)
			}
			return err
		},
	}
	var resetForce bool
	reset := &cobra.Command{
		Use: "reset [OPTIONS]", Short: "Remove all containers, networks (with their bridges and firewall rules), volumes and images, and the state directories", Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			if !resetForce {
				fmt.Fprintf(a.stdout, "WARNING! This will remove:\n  - all containers\n  - all networks, their bridges and firewall rules\n  - all volumes\n  - all images and the build cache\n  - the state directories %s and %s\nAre you sure you want to continue? [y/N] ", e.Root.Lib, e.Root.Run)
				line, _ := bufio.NewReader(a.stdin).ReadString('\n')
				if answer := strings.ToLower(strings.TrimSpace(line)); answer != "y" && answer != "yes" {
					return nil
				}
			}
			return e.Reset(cmd.Context())
		},
	}
	reset.Flags().BoolVarP(&resetForce, "force", "f", false, "Do not prompt for confirmation")
	cmd.AddCommand(prune, df, check, boot, reset, newInfoCmd(a))
	return cmd
}

type dfRow struct {
	Type, TotalCount, Active, Size, Reclaimable string
}

func pct(part, total int64) int64 {
	if total == 0 {
		return 0
	}
	return part * 100 / total
}

func newSuperviseCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use: "__supervise ID", Hidden: true, Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			if code := e.Supervise(cmd.Context(), args[0]); code != 0 {
				return StatusError{Status: code}
			}
			return nil
		},
	}
}
