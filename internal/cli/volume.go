package cli

import (
	"fmt"
	"strings"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/engine"
	"github.com/berth/berth/internal/volume"
)

func newVolumeCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "volume", Short: "Manage volumes", Args: noArgs, RunE: func(c *cobra.Command, _ []string) error { return c.Help() }}

	var labels, optVals []string
	create := &cobra.Command{
		Use: "create [OPTIONS] [VOLUME]", Short: "Create a volume", Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			lm := map[string]string{}
			for _, l := range labels {
				k, v, _ := strings.Cut(l, "=")
				lm[k] = v
			}
			var driverOpts map[string]string
			for _, o := range optVals {
				k, v, ok := strings.Cut(o, "=")
				if !ok {
					return fmt.Errorf("invalid option %q: expected key=value", o)
				}
				if driverOpts == nil {
					driverOpts = map[string]string{}
				}
				driverOpts[k] = v
			}
			// As in Docker 23+, a volume created without a name is
			// anonymous: `volume prune` removes it once unused.
			v, _, err := e.Volumes.Create(name, volume.CreateOptions{Labels: lm, Options: driverOpts, Anonymous: name == ""})
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, v.Name)
			return nil
		},
	}
	create.Flags().StringArrayVar(&labels, "label", nil, "Set metadata for a volume")
	create.Flags().StringArrayVarP(&optVals, "opt", "o", nil, "Set driver specific options")
	create.Flags().StringP("driver", "d", "local", "Specify volume driver name")

	var quiet bool
	var lsFormat string
	ls := &cobra.Command{
		Use: "ls [OPTIONS]", Aliases: []string{"list"}, Short: "List volumes", Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			vols, err := e.Volumes.List()
			if err != nil {
				return err
			}
			var rows []any
			for _, v := range vols {
				if quiet {
					fmt.Fprintln(a.stdout, v.Name)
					continue
				}
				rows = append(rows, volumeRow{Driver: v.Driver, Name: v.Name, Mountpoint: v.Mountpoint, Scope: v.Scope})
			}
			if quiet {
				return nil
			}
			return tableOut(a.stdout, lsFormat, "table {{.Driver}}\t{{.Name}}", map[string]string{"Driver": "DRIVER", "Name": "VOLUME NAME", "Mountpoint": "MOUNTPOINT", "Scope": "SCOPE"}, rows)
		},
	}
	ls.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only display volume names")
	ls.Flags().StringVar(&lsFormat, "format", "", "Pretty-print volumes using a Go template")
	ls.Flags().StringArrayP("filter", "f", nil, "Provide filter values")

	var inspFormat string
	inspect := &cobra.Command{
		Use: "inspect [OPTIONS] VOLUME [VOLUME...]", Short: "Display detailed information on one or more volumes", Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			var out []any
			var failed []string
			for _, name := range args {
				v, err := e.Volumes.Get(name)
				if err != nil {
					failed = append(failed, "get "+name+": no such volume")
					continue
				}
				out = append(out, toGeneric(v)) // {{.CreatedAt}} as Docker prints it: the JSON string
			}
			return printInspected(a.stdout, inspFormat, out, failed)
		},
	}
	inspect.Flags().StringVarP(&inspFormat, "format", "f", "", "Format output using a custom template")

	var force bool
	rm := &cobra.Command{
		Use: "rm [OPTIONS] VOLUME [VOLUME...]", Aliases: []string{"remove"}, Short: "Remove one or more volumes", Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.forEach(args, func(e *engine.Engine, name string) error {
				return e.Volumes.Remove(name, e.VolumeUsers)
			})
		},
	}
	rm.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of one or more volumes")

	var all, pforce bool
	prune := &cobra.Command{
		Use: "prune [OPTIONS]", Short: "Remove unused local volumes", Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			rep, err := e.Volumes.Prune(volume.PruneOptions{All: all}, e.VolumeUsers)
			if err != nil {
				return err
			}
			removed, reclaimed := rep.VolumesDeleted, rep.SpaceReclaimed
			if len(removed) > 0 {
				fmt.Fprintln(a.stdout, "Deleted Volumes:")
				for _, n := range removed {
					fmt.Fprintln(a.stdout, n)
				}
				fmt.Fprintln(a.stdout)
			}
			fmt.Fprintf(a.stdout, "Total reclaimed space: %s\n", units.HumanSize(float64(reclaimed)))
			return nil
		},
	}
	prune.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused volumes, not just anonymous ones")
	prune.Flags().BoolVarP(&pforce, "force", "f", false, "Do not prompt for confirmation")

	cmd.AddCommand(create, ls, inspect, rm, prune)
	return cmd
}

type volumeRow struct {
	Driver, Name, Mountpoint, Scope string
}
