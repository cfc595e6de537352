package network

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"time"

	"github.com/berth/berth/internal/errdefs"
)

// CreateOptions are `network create`'s flags.
type CreateOptions struct {
	Name     string
	Driver   string // "" or "bridge"
	Subnet   string // CIDR; "" chooses one
	Gateway  string // "" means the subnet's first address
	Internal bool
	Labels   map[string]string
	Options  map[string]string
}

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// Create makes a network record and its bridge and rules, as `network
// create` does. On failure nothing is left.
func (m *Manager) Create(ctx context.Context, o CreateOptions) (_ *Network, err error) {
	if !validName.MatchString(o.Name) {
		return nil, fmt.Errorf("invalid network name %q: must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: %w", o.Name, errdefs.ErrInvalid)
	}
	switch o.Driver {
	case "", "bridge":
	default:
		return nil, fmt.Errorf("plugin %q not found: only the bridge driver is supported: %w", o.Driver, errdefs.ErrNotFound)
	}
	switch o.Name {
	case "host", "none", DefaultName:
		return nil, fmt.Errorf("network with name %s already exists: %w", o.Name, errdefs.ErrConflict)
	}
	unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	all, err := m.loadAll()
	if err != nil {
		return nil, err
	}
	for _, n := range all {
		if n.Name == o.Name {
			return nil, fmt.Errorf("network with name %s already exists: %w", o.Name, errdefs.ErrConflict)
		}
	}
	n, err := m.newRecord(all, o)
	if err != nil {
		return nil, err
	}
	if err := m.save(n); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			m.destroy(n)
		}
	}()
	if err := m.setup(n); err != nil {
		return nil, err
	}
	return n, nil
}

// newRecord validates o against the existing networks and returns the
// record, not yet saved.
func (m *Manager) newRecord(all []*Network, o CreateOptions) (*Network, error) {
	n := &Network{
		Name:      o.Name,
		ID:        newID(),
		Created:   time.Now().UTC(),
		Driver:    "bridge",
		Internal:  o.Internal,
		Labels:    o.Labels,
		Options:   o.Options,
		Endpoints: map[string]*Endpoint{},
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	if n.Options == nil {
		n.Options = map[string]string{}
	}
	if o.Name == DefaultName {
		n.Bridge = m.defaultBridge()
	} else {
		n.Bridge = "br-" + n.ID[:12]
	}
	var taken []netip.Prefix
	for _, other := range all {
		if p, err := netip.ParsePrefix(other.Subnet); err == nil {
			taken = append(taken, p)
		}
	}
	var subnet netip.Prefix
	if o.Subnet != "" {
		p, err := netip.ParsePrefix(o.Subnet)
		if err != nil || !p.Addr().Is4() {
			return nil, fmt.Errorf("invalid subnet %s: want an IPv4 CIDR such as 172.30.0.0/16: %w", o.Subnet, errdefs.ErrInvalid)
		}
		if p.Bits() > 30 {
			return nil, fmt.Errorf("invalid subnet %s: too small for a gateway and a container: %w", o.Subnet, errdefs.ErrInvalid)
		}
		for _, t := range taken {
			if t.Overlaps(p) {
				return nil, fmt.Errorf("Pool overlaps with other one on this address space: %s overlaps %s: %w", p, t, errdefs.ErrConflict)
			}
		}
		subnet = p.Masked()
	} else {
		if o.Gateway != "" {
			return nil, fmt.Errorf("--gateway needs --subnet: %w", errdefs.ErrInvalid)
		}
		unlockSubnets, err := lockSubnets()
		if err != nil {
			return nil, err
		}
		// Held until ensure has given the bridge its address (the route);
		// released by the caller's return at the latest. A short critical
		// section keeps it simple: choose, then create the bridge now.
		defer unlockSubnets()
		if subnet, err = chooseSubnet(taken); err != nil {
			return nil, err
		}
		n.Subnet = subnet.String()
		n.Gateway = subnet.Addr().Next().String()
		if err := m.ensureBridge(n); err != nil {
			return nil, err
		}
		return n, nil
	}
	n.Subnet = subnet.String()
	gw := subnet.Addr().Next()
	if o.Gateway != "" {
		a, err := netip.ParseAddr(o.Gateway)
		if err != nil || !subnet.Contains(a) {
			return nil, fmt.Errorf("invalid gateway %s: not an address in subnet %s: %w", o.Gateway, subnet, errdefs.ErrInvalid)
		}
		gw = a
	}
	n.Gateway = gw.String()
	return n, nil
}

// Remove deletes a network that no running container uses.
func (m *Manager) Remove(ref string, inUse func(n *Network) []string) error {
	if ref == DefaultName || ref == "host" || ref == "none" {
		return fmt.Errorf("%s is a pre-defined network and cannot be removed: %w", ref, errdefs.ErrInvalid)
	}
	unlock, err := m.lock()
	if err != nil {
		return err
	}
	defer unlock()
	all, err := m.loadAll()
	if err != nil {
		return err
	}
	n, err := find(all, ref)
	if err != nil {
		return err
	}
	if n.Name == DefaultName {
		return fmt.Errorf("%s is a pre-defined network and cannot be removed: %w", ref, errdefs.ErrInvalid)
	}
	users := []string{}
	for id := range n.Endpoints {
		users = append(users, id)
	}
	if inUse != nil {
		users = append(users, inUse(n)...)
	}
	if len(users) > 0 {
		return fmt.Errorf("error while removing network: network %s id %s has active endpoints: %w", n.Name, n.ID, errdefs.ErrConflict)
	}
	return m.destroy(n)
}

// Prune removes every user-defined network without endpoints nor users.
func (m *Manager) Prune(inUse func(n *Network) []string) ([]string, error) {
	all, err := m.loadAll()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range all {
		if n.Name == DefaultName || len(n.Endpoints) > 0 || (inUse != nil && len(inUse(n)) > 0) {
			continue
		}
		if err := m.Remove(n.ID, inUse); err == nil {
			out = append(out, n.Name)
		}
	}
	return out, nil
}
