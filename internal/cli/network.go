package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/engine"
	"github.com/berth/berth/internal/network"
)

// networkCommands are `network ...` and `port`.
func networkCommands(a *app) []*cobra.Command {
	return []*cobra.Command{newNetworkCmd(a), newPortCmd(a)}
}

func newNetworkCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "network", Short: "Manage networks", Args: noArgs, RunE: func(c *cobra.Command, _ []string) error { return c.Help() }}

	var co network.CreateOptions
	var labels, optVals []string
	create := &cobra.Command{
		Use: "create [OPTIONS] NETWORK", Short: "Create a network", Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			o := co
			o.Name = args[0]
			o.Labels = keyValues(labels)
			o.Options = keyValues(optVals)
			n, err := e.Networks.Create(cmd.Context(), o)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, n.ID)
			return nil
		},
	}
	create.Flags().StringVarP(&co.Driver, "driver", "d", "bridge", "Driver to manage the Network")
	create.Flags().StringVar(&co.Subnet, "subnet", "", "Subnet in CIDR format that represents a network segment")
	create.Flags().StringVar(&co.Gateway, "gateway", "", "IPv4 Gateway for the master subnet")
	create.Flags().BoolVar(&co.Internal, "internal", false, "Restrict external access to the network")
	create.Flags().StringArrayVar(&labels, "label", nil, "Set metadata on a network")
	create.Flags().StringArrayVarP(&optVals, "opt", "o", nil, "Set driver specific options")

	var quiet, noTrunc bool
	var lsFormat string
	ls := &cobra.Command{
		Use: "ls [OPTIONS]", Aliases: []string{"list"}, Short: "List networks", Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			nets, err := e.Networks.List()
			if err != nil {
				return err
			}
			var rows []any
			for _, n := range nets {
				id := n.ID
				if !noTrunc {
					id = id[:12]
				}
				if quiet {
					fmt.Fprintln(a.stdout, id)
					continue
				}
				rows = append(rows, networkRow{ID: id, Name: n.Name, Driver: n.Driver, Scope: "local",
					Internal: fmt.Sprint(n.Internal), CreatedAt: n.Created.Local().Format("2006-01-02 15:04:05 -0700 MST")})
			}
			if quiet {
				return nil
			}
			return tableOut(a.stdout, lsFormat, "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
				map[string]string{"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Internal": "INTERNAL", "CreatedAt": "CREATED AT"}, rows)
		},
	}
	ls.Flags().BoolVarP(&quiet, "quiet", "q", false, "Only display network IDs")
	ls.Flags().BoolVar(&noTrunc, "no-trunc", false, "Do not truncate the output")
	ls.Flags().StringVar(&lsFormat, "format", "", "Pretty-print networks using a Go template")
	ls.Flags().StringArrayP("filter", "f", nil, "Provide filter values")

	var inspFormat string
	inspect := &cobra.Command{
		Use: "inspect [OPTIONS] NETWORK [NETWORK...]", Short: "Display detailed information on one or more networks", Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			e.List() // reconcile: endpoints of dead containers go first
			var out []any
			var failed []string
			for _, ref := range args {
				n, err := e.Networks.Get(ref)
				if err != nil {
					failed = append(failed, "network "+ref+" not found")
					continue
				}
				out = append(out, inspectNetwork(n))
			}
			return printInspected(a.stdout, inspFormat, out, failed)
		},
	}
	inspect.Flags().StringVarP(&inspFormat, "format", "f", "", "Format the output using the given Go template")

	rm := &cobra.Command{
		Use: "rm NETWORK [NETWORK...]", Aliases: []string{"remove"}, Short: "Remove one or more networks", Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.forEach(args, func(e *engine.Engine, ref string) error {
				return e.NetworkRemove(ref)
			})
		},
	}

	prune := &cobra.Command{
		Use: "prune [OPTIONS]", Short: "Remove all unused networks", Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			removed, err := e.NetworkPrune()
			if err != nil {
				return err
			}
			if len(removed) > 0 {
				fmt.Fprintln(a.stdout, "Deleted Networks:")
				for _, n := range removed {
					fmt.Fprintln(a.stdout, n)
				}
			}
			return nil
		},
	}
	prune.Flags().BoolP("force", "f", false, "Do not prompt for confirmation")
	prune.Flags().StringArray("filter", nil, "Provide filter values")

	var cto engine.NetworkConnectOptions
	connect := &cobra.Command{
		Use: "connect [OPTIONS] NETWORK CONTAINER", Short: "Connect a container to a network", Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			return e.NetworkConnect(cmd.Context(), args[0], args[1], cto)
		},
	}
	connect.Flags().StringArrayVar(&cto.Aliases, "alias", nil, "Add network-scoped alias for the container")
	connect.Flags().StringVar(&cto.IP, "ip", "", "IPv4 address (e.g., 172.30.100.104)")

	var dforce bool
	disconnect := &cobra.Command{
		Use: "disconnect [OPTIONS] NETWORK CONTAINER", Short: "Disconnect a container from a network", Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			return e.NetworkDisconnect(cmd.Context(), args[0], args[1], dforce)
		},
	}
	disconnect.Flags().BoolVarP(&dforce, "force", "f", false, "Force the container to disconnect from a network")

	cmd.AddCommand(create, ls, inspect, rm, prune, connect, disconnect)
	return cmd
}

type networkRow struct {
	ID, Name, Driver, Scope, Internal, CreatedAt string
}

func keyValues(vals []string) map[string]string {
	m := map[string]string{}
	for _, kv := range vals {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// inspectNetwork is `docker network inspect`'s shape.
func inspectNetwork(n *network.Network) map[string]any {
	containers := map[string]any{}
	prefix := ""
	if i := strings.Index(n.Subnet, "/"); i >= 0 {
		prefix = n.Subnet[i:]
	}
	for id, ep := range n.Endpoints {
		containers[id] = map[string]any{"Name": ep.Name, "EndpointID": ep.HostVeth, "MacAddress": ep.MAC,
			"IPv4Address": ep.IP + prefix, "IPv6Address": ""}
	}
	opts := map[string]string{}
	for k, v := range n.Options {
		opts[k] = v
	}
	ipamConfig := []map[string]string{}
	if n.Subnet != "" {
		ipamConfig = append(ipamConfig, map[string]string{"Subnet": n.Subnet, "Gateway": n.Gateway})
	}
	if n.Bridge != "" {
		opts["com.docker.network.bridge.name"] = n.Bridge
	}
	scope := "local"
	return map[string]any{
		"Name": n.Name, "Id": n.ID, "Created": n.Created.Format("2006-01-02T15:04:05.999999999Z07:00"), "Scope": scope,
		"Driver": n.Driver, "EnableIPv6": false,
		"IPAM": map[string]any{"Driver": "default", "Options": map[string]string{},
			"Config": ipamConfig},
		"Internal": n.Internal, "Attachable": false, "Ingress": false,
		"ConfigFrom": map[string]string{"Network": ""}, "ConfigOnly": false,
		"Containers": containers, "Options": opts, "Labels": n.Labels,
	}
}

func newPortCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use: "port CONTAINER [PRIVATE_PORT[/PROTO]]", Short: "List port mappings or a specific mapping for the container", Args: rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			c, err := e.Container(args[0])
			if err != nil {
				return err
			}
			ports := c.NetworkSettings.Ports
			if !c.State.Running {
				ports = nil
			}
			if len(args) == 2 {
				start, _, proto, err := network.ParsePort(args[1])
				if err != nil {
					return fmt.Errorf("Invalid port: %s", args[1])
				}
				key := fmt.Sprintf("%d/%s", start, proto)
				binds, ok := ports[key]
				if !ok {
					return StatusError{Status: 1, Message: fmt.Sprintf("Error: No public port '%s' published for %s", key, args[0])}
				}
				for _, b := range binds {
					fmt.Fprintf(a.stdout, "%s:%s\n", b.HostIP, b.HostPort)
				}
				return nil
			}
			keys := make([]string, 0, len(ports))
			for k := range ports {
				keys = append(keys, k)
			}
			sort.Slice(keys, func(i, j int) bool {
				pi, _, _, _ := network.ParsePort(keys[i])
				pj, _, _, _ := network.ParsePort(keys[j])
				if pi != pj {
					return pi < pj
				}
				return keys[i] < keys[j]
			})
			for _, k := range keys {
				for _, b := range ports[k] {
					fmt.Fprintf(a.stdout, "%s -> %s:%s\n", k, b.HostIP, b.HostPort)
				}
			}
			return nil
		},
	}
}
