package network

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/failpoint"
)

// EndpointRequest asks for one network of a container.
type EndpointRequest struct {
	Network string   // name or ID; "bridge" is the default network
	Aliases []string // --network-alias (user-defined networks only)
	IP      string   // --ip; "" allocates
}

// AttachOptions describe a starting container's networking.
type AttachOptions struct {
	ContainerID string
	Name        string // container name, resolvable by peers
	Hostname    string
	HostsPath   string // the container's bind-mounted /etc/hosts
	// Networks: the first is primary (default route, DNAT target).
	Networks []EndpointRequest
	Ports    []PortRequest
}

// Attached is one endpoint as set up.
type Attached struct {
	NetworkName string
	NetworkID   string
	Gateway     string
	PrefixLen   int
	Endpoint
}

// Attachment is a started container's network: its namespace, endpoints
// and published ports. Close releases the port sockets; the owner process
// calls it when the container stops (Detach releases everything else).
type Attachment struct {
	NetNSPath string
	Endpoints []Attached
	Ports     []Published
	holder    io.Closer
}

// Close releases the published ports' sockets.
func (a *Attachment) Close() error {
	if a == nil || a.holder == nil {
		return nil
	}
	return a.holder.Close()
}

// Attach gives container o.ContainerID its network namespace, one veth per
// network with a leased address, its published ports (bound sockets plus
// DNAT rules) and its /etc/hosts entries (and its peers'). On error nothing
// is left.
func (m *Manager) Attach(ctx context.Context, o AttachOptions) (_ *Attachment, err error) {
	if len(o.Networks) == 0 {
		return nil, fmt.Errorf("container %s: no network to attach: %w", short(o.ContainerID), errdefs.ErrInvalid)
	}
	a := &Attachment{NetNSPath: m.NetNSPath(o.ContainerID)}
	if len(o.Ports) > 0 {
		name := o.Name
		if name == "" {
			name = short(o.ContainerID)
		}
		published, holder, err := bindPorts(o.Ports, name)
		if err != nil {
			return nil, err
		}
		a.Ports, a.holder = published, holder
	}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	defer func() {
		if err != nil {
			m.detachLocked(o.ContainerID, "")
		}
	}()
	// Leftovers of an owner that died without cleaning up.
	m.detachLocked(o.ContainerID, "")

	var nets []*Network
	for _, req := range o.Networks {
		n, err := m.getLocked(req.Network)
		if err != nil {
			return nil, err
		}
		if len(req.Aliases) > 0 && !n.IsUserDefined() {
			return nil, fmt.Errorf("network-scoped alias is supported only for containers in user defined networks: %w", errdefs.ErrInvalid)
		}
		if req.IP != "" && !n.IsUserDefined() {
			return nil, fmt.Errorf("user specified IP address is supported on user defined networks only: %w", errdefs.ErrInvalid)
		}
		if err := m.ensure(n); err != nil {
			return nil, err
		}
		nets = append(nets, n)
	}
	if err := newNetNS(a.NetNSPath); err != nil {
		return nil, err
	}
	failpoint.Hit("network.attach.after-netns")
	ns, err := netns.GetFromPath(a.NetNSPath)
	if err != nil {
		return nil, fmt.Errorf("open netns: %w", err)
	}
	defer ns.Close()
	nh, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink in netns: %w", err)
	}
	defer nh.Close()
	if err := loUp(nh); err != nil {
		return nil, fmt.Errorf("loopback up: %w", err)
	}
	routed := false
	for i, n := range nets {
		req := o.Networks[i]
		ip, err := allocate(n, req.IP)
		if err != nil {
			return nil, fmt.Errorf("network %s: %w", n.Name, err)
		}
		ep := &Endpoint{
			ContainerID: o.ContainerID,
			Name:        o.Name,
			Aliases:     req.Aliases,
			IP:          ip.String(),
			HostVeth:    hostVeth(o.ContainerID, n.ID),
			Interface:   "eth" + strconv.Itoa(i),
			HostsPath:   o.HostsPath,
			Hostname:    o.Hostname,
		}
		var gw netip.Addr
		if !n.Internal && !routed {
			gw, routed = netip.MustParseAddr(n.Gateway), true
		}
		// Plugged before the lease is saved (the lock is held, so no one
		// else can take the address); if this process dies in between,
		// Repair finds the namespace without a lease and removes it.
		if err := plugVeth(ns, nh, n, ep, gw, i == 0 && len(a.Ports) > 0); err != nil {
			return nil, fmt.Errorf("network %s: %w", n.Name, err)
		}
		failpoint.Hit("network.attach.after-veth")
		n.Endpoints[o.ContainerID] = ep
		if i == 0 && len(a.Ports) > 0 {
			ep.Published = true
		}
		if err := m.save(n); err != nil {
			delete(n.Endpoints, o.ContainerID)
			return nil, err
		}
		failpoint.Hit("network.attach.after-lease")
		a.Endpoints = append(a.Endpoints, attached(n, ep))
	}
	if len(a.Ports) > 0 {
		target := netip.MustParseAddr(a.Endpoints[0].IP)
		if err := m.addDNAT(o.ContainerID, target, a.Ports); err != nil {
			return nil, fmt.Errorf("publish ports: %w", err)
		}
	}
	failpoint.Hit("network.attach.after-dnat")
	all, err := m.loadAll()
	if err != nil {
		return nil, err
	}
	// Peers list each other only on user-defined networks; on the default
	// bridge only the container's own file changes.
	ids := map[string]bool{}
	for _, n := range nets {
		if n.IsUserDefined() {
			ids[n.ID] = true
		}
	}
	refreshHosts(all, ids, map[string]string{o.ContainerID: o.HostsPath})
	return a, nil
}

func attached(n *Network, ep *Endpoint) Attached {
	p := netip.MustParsePrefix(n.Subnet)
	return Attached{NetworkName: n.Name, NetworkID: n.ID, Gateway: n.Gateway, PrefixLen: p.Bits(), Endpoint: *ep}
}

// Detach releases everything container id holds on every network (or
// only on network netRef when not ""): veths, leases, hosts entries and,
// for a full detach, its port rules and namespace. Idempotent.
func (m *Manager) Detach(id string) error {
	unlock, err := m.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return m.detachLocked(id, "")
}

func (m *Manager) detachLocked(id, netRef string) error {
	all, err := m.loadAll()
	if err != nil {
		return err
	}
	touched := map[string]bool{}
	hostsPath, ports := "", false
	var saveErr error
	for _, n := range all {
		ep, ok := n.Endpoints[id]
		if !ok || (netRef != "" && n.ID != netRef && n.Name != netRef) {
			continue
		}
		if netRef != "" {
			// A full detach leaves the veth to the kernel: unmounting the
			// namespace below destroys it with the namespace, batched and
			// off this path (a synchronous delete costs ~20 ms of RCU
			// grace periods).
			delLink(ep.HostVeth)
		}
		delete(n.Endpoints, id)
		// Detaching frees: on a full disk it may use the root's reserve.
		// Should the record still not be written, the namespace goes all
		// the same (a mount must not outlive its sandbox or container);
		// the stale endpoint is for repair.
		if err := m.reserve().Retry(func() error { return m.save(n) }); err != nil && saveErr == nil {
			saveErr = err
		}
		failpoint.Hit("network.detach.after-lease")
		touched[n.ID] = true
		hostsPath = ep.HostsPath
		ports = ports || ep.Published
	}
	if len(touched) > 0 {
		for _, n := range all {
			if !n.IsUserDefined() {
				delete(touched, n.ID)
			}
		}
		refreshHosts(all, touched, map[string]string{id: hostsPath})
	}
	if netRef == "" {
		failpoint.Hit("network.detach.before-dnat")
		if ports {
			m.delDNAT(id)
		}
		failpoint.Hit("network.detach.before-netns")
		removeNetNS(m.NetNSPath(id))
	}
	return saveErr
}

// Connect attaches a running container (its namespace exists) to one more
// network, as `network connect` does.
func (m *Manager) Connect(ctx context.Context, id, name, hostname, hostsPath string, req EndpointRequest) (*Attached, error) {
	unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	n, err := m.getLocked(req.Network)
	if err != nil {
		return nil, err
	}
	if _, ok := n.Endpoints[id]; ok {
		return nil, fmt.Errorf("endpoint with name %s already exists in network %s: %w", name, n.Name, errdefs.ErrConflict)
	}
	if err := m.ensure(n); err != nil {
		return nil, err
	}
	all, err := m.loadAll()
	if err != nil {
		return nil, err
	}
	count := 0
	for _, other := range all {
		if _, ok := other.Endpoints[id]; ok {
			count++
		}
	}
	if count == 0 {
		return nil, fmt.Errorf("container %s has no network namespace to connect: %w", short(id), errdefs.ErrConflict)
	}
	n, _ = find(all, n.ID)
	ip, err := allocate(n, req.IP)
	if err != nil {
		return nil, err
	}
	ep := &Endpoint{ContainerID: id, Name: name, Aliases: req.Aliases, IP: ip.String(),
		HostVeth: hostVeth(id, n.ID), Interface: "eth" + strconv.Itoa(count), HostsPath: hostsPath, Hostname: hostname}
	ns, err := netns.GetFromPath(m.NetNSPath(id))
	if err != nil {
		return nil, fmt.Errorf("container %s: netns: %w", short(id), err)
	}
	defer ns.Close()
	nh, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, err
	}
	defer nh.Close()
	if err := plugVeth(ns, nh, n, ep, netip.Addr{}, false); err != nil {
		delLink(ep.HostVeth)
		return nil, err
	}
	n.Endpoints[id] = ep
	if err := m.save(n); err != nil {
		delLink(ep.HostVeth)
		return nil, err
	}
	refreshHosts(all, map[string]bool{n.ID: true}, nil)
	at := attached(n, ep)
	return &at, nil
}

// Disconnect detaches a running container from one network.
func (m *Manager) Disconnect(id, netRef string) error {
	unlock, err := m.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return m.detachLocked(id, netRef)
}

// Repair releases what containers that are not alive still hold (leases,
// veths, port rules, namespaces), as after a crash of their owner, and
// re-creates missing network rules. It returns what it fixed.
func (m *Manager) Repair(alive func(id string) bool) []string {
	var fixed []string
	unlock, err := m.lock()
	if err != nil {
		return nil
	}
	defer unlock()
	all, _ := m.loadAll()
	dead := map[string]bool{}
	bridges := map[int]bool{}
	known := map[string]bool{}
	for _, n := range all {
		for id, ep := range n.Endpoints {
			if !alive(id) {
				dead[id] = true
			} else {
				known[ep.HostVeth] = true
			}
		}
		if l, err := netlink.LinkByName(n.Bridge); err == nil {
			bridges[l.Attrs().Index] = true
		}
	}
	for id := range m.dnatCounts() {
		if !alive(id) {
			dead[id] = true
		}
	}
	ents, _ := os.ReadDir(filepath.Join(m.root.Run, "netns"))
	for _, e := range ents {
		if !alive(e.Name()) {
			dead[e.Name()] = true
		}
	}
	for id := range dead {
		m.detachLocked(id, "")
		m.delDNAT(id)
		fixed = append(fixed, "network resources of container "+short(id))
	}
	links, _ := netlink.LinkList()
	for _, l := range links {
		a := l.Attrs()
		if strings.HasPrefix(a.Name, "bv") && bridges[a.MasterIndex] && !known[a.Name] {
			netlink.LinkDel(l)
			fixed = append(fixed, "stale veth "+a.Name)
		}
	}
	return fixed
}

// EnsureAll re-creates the bridges and rules of every network (`system
// check --repair`): what a reboot or a firewall flush removed comes back.
func (m *Manager) EnsureAll() []string {
	unlock, err := m.lock()
	if err != nil {
		return []string{err.Error()}
	}
	defer unlock()
	all, _ := m.loadAll()
	var out []string
	for _, n := range all {
		if err := m.setup(n); err != nil {
			out = append(out, err.Error())
		}
	}
	return out
}
