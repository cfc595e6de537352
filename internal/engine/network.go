package engine

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/berth/berth/internal/container"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/network"
	"github.com/berth/berth/internal/spec"
)

// NetworkOptions are create's network flags beyond --network and -p
// (which land in HostConfig).
type NetworkOptions struct {
	Aliases []string // --network-alias
	IP      string   // --ip
	Expose  []string // --expose
}

// sandboxNetwork gives a process that is not a container record (a build's
// RUN step, id a fresh random ID) the network mode asks for: "host", "none",
// "bridge" or a network name. release undoes everything it set up.
func (e *Engine) sandboxNetwork(ctx context.Context, id, mode string) (_ spec.Network, release func(), err error) {
	switch mode {
	case "host", "none":
		return spec.Network{Mode: mode}, func() {}, nil
	case "", "default":
		mode = network.DefaultName
	}
	a, err := e.Networks.Attach(ctx, network.AttachOptions{ContainerID: id, Networks: []network.EndpointRequest{{Network: mode}}})
	if err != nil {
		return spec.Network{}, nil, err
	}
	return spec.Network{Mode: mode, NetNSPath: a.NetNSPath}, func() {
		a.Close()
		e.Networks.Detach(id)
	}, nil
}

// usesNetworks reports whether mode puts the container on berth networks.
func usesNetworks(mode string) bool {
	return mode != "none" && mode != "host" && !strings.HasPrefix(mode, "container:")
}

// validateNetwork checks create's network settings: the network exists,
// aliases and --ip only on user-defined networks, the container to share
// exists.
func (e *Engine) validateNetwork(host *container.HostConfig, o NetworkOptions) (string, error) {
	mode := host.NetworkMode
	switch {
	case mode == "" || mode == "default":
		mode = network.DefaultName
	case mode == "none" || mode == "host":
		if len(o.Aliases) > 0 {
			return "", fmt.Errorf("network-scoped aliases are only supported for user-defined networks: %w", errdefs.ErrInvalid)
		}
		if mode == "host" {
			host.PortBindings, host.PublishAllPorts = nil, false
		}
		return mode, nil
	case strings.HasPrefix(mode, "container:"):
		ref := strings.TrimPrefix(mode, "container:")
		other, err := e.Containers.Get(ref)
		if err != nil {
			return "", err
		}
		if len(host.PortBindings) > 0 || host.PublishAllPorts {
			return "", fmt.Errorf("conflicting options: port publishing and the container type network mode: %w", errdefs.ErrInvalid)
		}
		return "container:" + other.ID, nil
	}
	n, err := e.Networks.Get(mode)
	if err != nil {
		return "", err
	}
	if n.IsPseudo() {
		return e.validateNetwork(&container.HostConfig{NetworkMode: n.Name}, o)
	}
	if !n.IsUserDefined() {
		if len(o.Aliases) > 0 {
			return "", fmt.Errorf("network-scoped alias is supported only for containers in user defined networks: %w", errdefs.ErrInvalid)
		}
		if o.IP != "" {
			return "", fmt.Errorf("user specified IP address is supported on user defined networks only: %w", errdefs.ErrInvalid)
		}
	}
	return n.Name, nil
}

// portRequests turns the container's -p bindings and (with -P) its exposed
// ports into what the network package binds.
func portRequests(c *container.Container) ([]network.PortRequest, error) {
	var out []network.PortRequest
	keys := make([]string, 0, len(c.Host.PortBindings))
	for k := range c.Host.PortBindings {
		keys = append(keys, k)
	}
	for k := range c.Config.ExposedPorts {
		if _, ok := c.Host.PortBindings[k]; !ok && c.Host.PublishAllPorts {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		start, end, proto, err := network.ParsePort(k)
		if err != nil || start != end {
			return nil, fmt.Errorf("invalid port %s: %w", k, errdefs.ErrInvalid)
		}
		binds := c.Host.PortBindings[k]
		if len(binds) == 0 {
			binds = []container.PortBinding{{}}
		}
		for _, b := range binds {
			r := network.PortRequest{HostIP: b.HostIP, ContainerPort: start, Proto: proto}
			if b.HostPort != "" {
				hs, he, _, err := network.ParsePort(b.HostPort)
				if err != nil {
					return nil, fmt.Errorf("invalid hostPort: %s: %w", b.HostPort, errdefs.ErrInvalid)
				}
				r.HostPortStart, r.HostPortEnd = hs, he
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// attachNetwork sets up c's network before its runtime starts: for bridge
// and user networks a fresh namespace wired to them (ports published,
// hosts entries written); for container:X the namespace of X. The port
// sockets stay open in this process — the owner — until teardown.
func (e *Engine) attachNetwork(ctx context.Context, c *container.Container) (spec.Network, error) {
	sn := spec.Network{Mode: c.Host.NetworkMode, Hostname: c.Config.Hostname}
	mode := c.Host.NetworkMode
	if strings.HasPrefix(mode, "container:") {
		other, err := e.Container(strings.TrimPrefix(mode, "container:"))
		if err != nil {
			return sn, err
		}
		if !other.State.Running {
			return sn, fmt.Errorf("cannot join network of a non running container: %s: %w", short(other.ID), errdefs.ErrConflict)
		}
		sn.NetNSPath = e.Networks.NetNSPath(other.ID)
		if _, err := os.Stat(sn.NetNSPath); err != nil {
			sn.NetNSPath = "/proc/" + strconv.Itoa(other.State.Pid) + "/ns/net"
		}
		return sn, nil
	}
	if !usesNetworks(mode) {
		return sn, nil
	}
	reqs := []network.EndpointRequest{{Network: mode}}
	if ep := c.NetworkSettings.Networks[mode]; ep != nil {
		reqs[0].Aliases = ep.Aliases
		if ep.IPAMConfig != nil {
			reqs[0].IP = ep.IPAMConfig.IPv4Address
		}
	}
	var extra []string
	for name := range c.NetworkSettings.Networks {
		if name != mode {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		ep := c.NetworkSettings.Networks[name]
		r := network.EndpointRequest{Network: name, Aliases: ep.Aliases}
		if ep.IPAMConfig != nil {
			r.IP = ep.IPAMConfig.IPv4Address
		}
		reqs = append(reqs, r)
	}
	ports, err := portRequests(c)
	if err != nil {
		return sn, err
	}
	a, err := e.Networks.Attach(ctx, network.AttachOptions{
		ContainerID: c.ID,
		Name:        c.Name,
		Hostname:    c.Config.Hostname,
		HostsPath:   e.Containers.Dir(c.ID) + "/hosts",
		Networks:    reqs,
		Ports:       ports,
	})
	if err != nil {
		return sn, err
	}
	e.holdPorts(c.ID, a)
	sn.NetNSPath = a.NetNSPath
	_, err = e.Containers.Update(c.ID, func(rec *container.Container) error {
		recordAttachment(rec, a)
		return nil
	})
	if err != nil {
		return sn, err
	}
	recordAttachment(c, a)
	return sn, nil
}

// recordAttachment writes the live endpoints and ports into the record.
func recordAttachment(c *container.Container, a *network.Attachment) {
	ns := &c.NetworkSettings
	if ns.Networks == nil {
		ns.Networks = map[string]*container.EndpointSettings{}
	}
	for _, ep := range a.Endpoints {
		s := ns.Networks[ep.NetworkName]
		if s == nil {
			s = &container.EndpointSettings{}
			ns.Networks[ep.NetworkName] = s
		}
		fillEndpoint(s, ep)
	}
	ns.SandboxKey = a.NetNSPath
	ns.Ports = map[string][]container.PortBinding{}
	for _, p := range a.Ports {
		k := strconv.Itoa(p.ContainerPort) + "/" + p.Proto
		ns.Ports[k] = append(ns.Ports[k], container.PortBinding{HostIP: p.HostIP, HostPort: strconv.Itoa(p.HostPort)})
	}
}

func fillEndpoint(s *container.EndpointSettings, ep network.Attached) {
	s.NetworkID = ep.NetworkID
	s.EndpointID = ep.HostVeth
	s.Gateway = ep.Gateway
	s.IPAddress = ep.IP
	s.IPPrefixLen = ep.PrefixLen
	s.MacAddress = ep.MAC
}

func (e *Engine) holdPorts(id string, a *network.Attachment) {
	e.attachMu.Lock()
	defer e.attachMu.Unlock()
	if e.attachments == nil {
		e.attachments = map[string]*network.Attachment{}
	}
	e.attachments[id] = a
}

// detachNetwork undoes attachNetwork; idempotent, callable from any process
// (only the owner holds port sockets to close).
func (e *Engine) detachNetwork(c *container.Container) {
	e.attachMu.Lock()
	a := e.attachments[c.ID]
	delete(e.attachments, c.ID)
	e.attachMu.Unlock()
	a.Close()
	if !usesNetworks(c.Host.NetworkMode) {
		return
	}
	e.Networks.Detach(c.ID)
	// The record keeps the last endpoint: readers show it only while the
	// container runs (teardown may run under the container's lock, in
	// reconcile, so it must not write the record), and the next start
	// overwrites it.
}

// NetworkConnectOptions are `network connect`'s flags.
type NetworkConnectOptions struct {
	Aliases []string
	IP      string
}

// NetworkConnect connects a container to a network: recorded for its next
// start and, if it runs, wired now.
func (e *Engine) NetworkConnect(ctx context.Context, netRef, ref string, o NetworkConnectOptions) error {
	n, err := e.Networks.Get(netRef)
	if err != nil {
		return err
	}
	c, err := e.Container(ref)
	if err != nil {
		return err
	}
	if !usesNetworks(c.Host.NetworkMode) || n.IsPseudo() {
		return fmt.Errorf("container cannot be disconnected from host network or connected to host network: %w", errdefs.ErrInvalid)
	}
	if _, ok := c.NetworkSettings.Networks[n.Name]; ok || c.Host.NetworkMode == n.Name {
		return fmt.Errorf("endpoint with name %s already exists in network %s: %w", c.Name, n.Name, errdefs.ErrConflict)
	}
	if !n.IsUserDefined() && (len(o.Aliases) > 0 || o.IP != "") {
		return fmt.Errorf("network-scoped alias is supported only for containers in user defined networks: %w", errdefs.ErrInvalid)
	}
	es := &container.EndpointSettings{Aliases: o.Aliases}
	if o.IP != "" {
		es.IPAMConfig = &container.EndpointIPAMConfig{IPv4Address: o.IP}
	}
	if c.State.Running {
		at, err := e.Networks.Connect(ctx, c.ID, c.Name, c.Config.Hostname, e.Containers.Dir(c.ID)+"/hosts",
			network.EndpointRequest{Network: n.ID, Aliases: o.Aliases, IP: o.IP})
		if err != nil {
			return err
		}
		fillEndpoint(es, *at)
	}
	_, err = e.Containers.Update(c.ID, func(rec *container.Container) error {
		if rec.NetworkSettings.Networks == nil {
			rec.NetworkSettings.Networks = map[string]*container.EndpointSettings{}
		}
		rec.NetworkSettings.Networks[n.Name] = es
		return nil
	})
	return err
}

// NetworkDisconnect disconnects a container from a network.
func (e *Engine) NetworkDisconnect(ctx context.Context, netRef, ref string, force bool) error {
	n, err := e.Networks.Get(netRef)
	if err != nil {
		return err
	}
	c, err := e.Container(ref)
	if err != nil {
		return err
	}
	if _, ok := c.NetworkSettings.Networks[n.Name]; !ok {
		return fmt.Errorf("container %s is not connected to network %s: %w", short(c.ID), n.Name, errdefs.ErrNotFound)
	}
	if c.State.Running {
		if err := e.Networks.Disconnect(c.ID, n.ID); err != nil {
			return err
		}
	}
	_, err = e.Containers.Update(c.ID, func(rec *container.Container) error {
		delete(rec.NetworkSettings.Networks, n.Name)
		if rec.Host.NetworkMode == n.Name {
			// Docker leaves the mode; the next start uses another network
			// it is connected to, or none.
			rec.Host.NetworkMode = "none"
			for name := range rec.NetworkSettings.Networks {
				rec.Host.NetworkMode = name
				break
			}
		}
		return nil
	})
	return err
}

// NetworkUsers lists the containers (running or not) configured to use n:
// a network cannot be removed while any does.
func (e *Engine) NetworkUsers(n *network.Network) []string {
	cs, err := e.Containers.List()
	if err != nil {
		return nil
	}
	var out []string
	for _, c := range cs {
		if !c.State.Running {
			continue
		}
		if c.Host.NetworkMode == n.Name || c.NetworkSettings.Networks[n.Name] != nil {
			out = append(out, c.ID)
		}
	}
	return out
}

// NetworkRemove removes networks no running container uses.
func (e *Engine) NetworkRemove(ref string) error {
	e.List() // reconcile: dead owners release their endpoints first
	return e.Networks.Remove(ref, e.NetworkUsers)
}

// NetworkPrune removes unused user-defined networks.
func (e *Engine) NetworkPrune() ([]string, error) {
	e.List()
	return e.Networks.Prune(e.NetworkUsers)
}

// repairNetwork releases network resources of containers no process is in
// charge of. A container being started has its namespace before it runs,
// and a build's RUN step has one without a container record: neither may
// lose it to a concurrent prune.
func (e *Engine) repairNetwork() []string {
	return e.Networks.Repair(e.netAlive)
}

// checkNetwork is system check's network part: leases, namespaces, veths
// and rules against the containers (and build steps) that are alive.
func (e *Engine) checkNetwork(repair bool) []string {
	return e.Networks.Check(network.CheckOptions{Alive: e.netAlive, Ports: e.publishedPorts, Repair: repair})
}

// netAlive reports whether id may hold network resources: a container
// that runs or whose owner is starting or finishing it, or a build step
// whose build is alive.
func (e *Engine) netAlive(id string) bool {
	if c, err := e.Containers.Get(id); err == nil {
		return e.live(c)
	}
	return e.sandboxAlive(id)
}

// publishedPorts are the ports a live container's record says it publishes.
func (e *Engine) publishedPorts(id string) []network.Published {
	c, err := e.Containers.Get(id)
	if err != nil || !c.State.Running {
		return nil
	}
	var out []network.Published
	for k, binds := range c.NetworkSettings.Ports {
		port, _, proto, err := network.ParsePort(k)
		if err != nil {
			continue
		}
		for _, b := range binds {
			hp, err := strconv.Atoi(b.HostPort)
			if err != nil {
				continue
			}
			out = append(out, network.Published{HostIP: b.HostIP, HostPort: hp, ContainerPort: port, Proto: proto})
		}
	}
	return out
}
