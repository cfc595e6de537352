package network

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/fsutil"
)

// subnetLock is machine-wide: subnets are chosen against the host's routing
// table, which every berth root (and dockerd) shares. It is held from the
// choice until the bridge's address makes the route exist.
const subnetLock = "/run/lock/berth-subnets.lock"

func lockSubnets() (func(), error) {
	if err := os.MkdirAll(filepath.Dir(subnetLock), 0o755); err != nil {
		return nil, err
	}
	return fsutil.Lock(subnetLock, 2*time.Minute)
}

// candidates is the pool subnets are chosen from, in order: Docker's own
// local pool without 172.17/16 (dockerd's docker0), then 192.168/20s, then a
// range of 10/16s rarely used by anything else.
func candidates() []netip.Prefix {
	var out []netip.Prefix
	for i := 18; i <= 31; i++ {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(i), 0, 0}), 16))
	}
	for i := 0; i < 256; i += 16 {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(i), 0}), 20))
	}
	for i := 210; i <= 250; i++ {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 16))
	}
	return out
}

// dockerDefault is reserved even when dockerd is not running yet: it will
// take it when it starts.
var dockerDefault = netip.MustParsePrefix("172.17.0.0/16")

// hostPrefixes are the destinations of the host's IPv4 routes (the default
// route excepted) and its addresses' subnets.
func hostPrefixes() []netip.Prefix {
	var out []netip.Prefix
	routes, _ := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: 0}, netlink.RT_FILTER_TABLE)
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		if p, ok := toPrefix(r.Dst); ok && p.Bits() > 0 {
			out = append(out, p)
		}
	}
	addrs, _ := netlink.AddrList(nil, netlink.FAMILY_V4)
	for _, a := range addrs {
		if p, ok := toPrefix(a.IPNet); ok {
			out = append(out, p.Masked())
		}
	}
	return out
}

func toPrefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP.To4())
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a, ones), true
}

// chooseSubnet picks the first candidate that overlaps neither the host's
// routes, Docker's default, nor a network of this root.
func chooseSubnet(taken []netip.Prefix) (netip.Prefix, error) {
	taken = append(append(taken, hostPrefixes()...), dockerDefault)
	for _, c := range candidates() {
		free := true
		for _, t := range taken {
			if c.Overlaps(t) {
				free = false
				break
			}
		}
		if free {
			return c, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network: %w", errdefs.ErrUnavailable)
}

// allocate returns the lowest free host address of n (not the gateway, the
// network or the broadcast address), or want if given and free.
func allocate(n *Network, want string) (netip.Addr, error) {
	p, err := netip.ParsePrefix(n.Subnet)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("network %s: bad subnet %q: %w", n.Name, n.Subnet, err)
	}
	used := map[netip.Addr]bool{}
	if gw, err := netip.ParseAddr(n.Gateway); err == nil {
		used[gw] = true
	}
	for _, ep := range n.Endpoints {
		if a, err := netip.ParseAddr(ep.IP); err == nil {
			used[a] = true
		}
	}
	bcast := lastAddr(p)
	if want != "" {
		a, err := netip.ParseAddr(want)
		if err != nil || !a.Is4() {
			return netip.Addr{}, fmt.Errorf("invalid IPv4 address: %s: %w", want, errdefs.ErrInvalid)
		}
		if !p.Contains(a) || a == p.Masked().Addr() || a == bcast {
			return netip.Addr{}, fmt.Errorf("no configured subnet or ip-range contain the IP address %s: %w", want, errdefs.ErrInvalid)
		}
		if used[a] {
			return netip.Addr{}, fmt.Errorf("Address already in use: %s: %w", want, errdefs.ErrConflict)
		}
		return a, nil
	}
	for a := p.Masked().Addr().Next(); a.IsValid() && a != bcast; a = a.Next() {
		if !used[a] {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("network %s: no available IPv4 addresses on this network's address pools: %w", n.Name, errdefs.ErrUnavailable)
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	v := binary.BigEndian.Uint32(b[:]) | (1<<(32-p.Bits()) - 1)
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

// macFor derives the MAC from the address as Docker does (02:42 + IPv4).
func macFor(a netip.Addr) net.HardwareAddr {
	b := a.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}
}
