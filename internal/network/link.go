package network

import (
	"github.com/berth/berth/internal/failpoint"

	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	goruntime "runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ensure makes sure the network's kernel objects exist: the bridge with its
// address, the sysctls and the network's firewall rules. The fast path (the
// bridge is up and berth's nft table exists) costs two netlink requests; a
// reboot or a flush sends it down the slow path that re-creates everything.
func (m *Manager) ensure(n *Network) error {
	if l, err := netlink.LinkByName(n.Bridge); err == nil && l.Attrs().Flags&net.FlagUp != 0 && m.natTableExists() {
		return nil
	}
	return m.setup(n)
}

// setup creates or repairs everything of n, without the fast path. The
// bridge goes up last: ensure's fast path takes an up bridge (and the nft
// table) as proof that the rest exists, so a crash midway must leave it
// down.
func (m *Manager) setup(n *Network) error {
	if err := m.ensureBridge(n); err != nil {
		return err
	}
	failpoint.Hit("network.setup.after-bridge")
	if err := m.ensureRules(n); err != nil {
		return err
	}
	failpoint.Hit("network.setup.after-rules")
	l, err := netlink.LinkByName(n.Bridge)
	if err == nil {
		err = netlink.LinkSetUp(l)
	}
	if err != nil {
		return fmt.Errorf("network %s: bridge %s up: %w", n.Name, n.Bridge, err)
	}
	return nil
}

// ensureRules (re-)programs the network's sysctls, NAT and filter rules;
// idempotent.
func (m *Manager) ensureRules(n *Network) error {
	if err := writeSysctl("/proc/sys/net/ipv4/ip_forward", "1"); err != nil {
		return fmt.Errorf("enable ip_forward: %w", err)
	}
	// 127.0.0.1:PORT is DNATed to the container: the kernel must accept a
	// loopback source leaving through the bridge (then masqueraded).
	if err := writeSysctl(filepath.Join("/proc/sys/net/ipv4/conf", n.Bridge, "route_localnet"), "1"); err != nil {
		return fmt.Errorf("network %s: route_localnet: %w", n.Name, err)
	}
	// Filter rules first, NAT last: ensure's fast path trusts an existing
	// nft table, so the table must be the last thing made, or a crash in
	// between would leave a network without its filter rules for good.
	if err := m.ensureFilter(n); err != nil {
		return fmt.Errorf("network %s: filter rules: %w", n.Name, err)
	}
	failpoint.Hit("network.setup.after-filter")
	if err := m.ensureNAT(n); err != nil {
		return fmt.Errorf("network %s: nat rules: %w", n.Name, err)
	}
	return nil
}

func writeSysctl(path, value string) error {
	if b, err := os.ReadFile(path); err == nil && string(b) == value+"\n" {
		return nil
	}
	return os.WriteFile(path, []byte(value), 0o644)
}

// ensureBridge creates the bridge device with the gateway address (setup
// brings it up).
func (m *Manager) ensureBridge(n *Network) error {
	p, err := netip.ParsePrefix(n.Subnet)
	if err != nil {
		return fmt.Errorf("network %s: bad subnet %q: %w", n.Name, n.Subnet, err)
	}
	l, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		// A fixed MAC: otherwise the bridge takes the lowest MAC of its
		// ports, which changes as containers come and go and breaks the
		// containers' ARP entry for the gateway.
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: n.Bridge, TxQLen: -1, HardwareAddr: randomMAC()}}
		if err := netlink.LinkAdd(br); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("network %s: create bridge %s: %w", n.Name, n.Bridge, err)
		}
		if l, err = netlink.LinkByName(n.Bridge); err != nil {
			return fmt.Errorf("network %s: bridge %s: %w", n.Name, n.Bridge, err)
		}
	}
	gw := netip.MustParseAddr(n.Gateway)
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: gw.AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}}
	if err := netlink.AddrReplace(l, addr); err != nil {
		return fmt.Errorf("network %s: address %s on %s: %w", n.Name, addr, n.Bridge, err)
	}
	return nil
}

// destroy removes the network's rules, bridge and record; best effort
// beyond the record, which goes last so a failure can be retried.
func (m *Manager) destroy(n *Network) error {
	m.removeNAT(n)
	m.removeFilter(n)
	if l, err := netlink.LinkByName(n.Bridge); err == nil {
		netlink.LinkDel(l)
	}
	if err := os.Remove(m.path(n.ID)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// hostVeth names the host side of container id's veth on network netID.
func hostVeth(id, netID string) string {
	sum := sha256.Sum256([]byte(id + "/" + netID))
	return "bv" + hex.EncodeToString(sum[:6])
}

// newNetNS creates a network namespace bind-mounted at path from a locked
// thread that unshares, mounts and returns to its own namespace.
func newNetNS(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o400)
	if err != nil {
		return fmt.Errorf("netns %s: %w", path, err)
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		// The thread goes back to its namespace afterwards rather than
		// being discarded: it may be the main thread, which Go never ends
		// and whose namespace /proc/self/ns/net shows (libcontainer's
		// validation compares against it).
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			goruntime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			goruntime.UnlockOSThread()
			errc <- fmt.Errorf("unshare netns: %w", err)
			return
		}
		// No IPv6 in the container (berth networks are IPv4; Docker's
		// default too): its interfaces then skip address configuration,
		// duplicate address detection and multicast reports.
		for _, k := range []string{"all", "default"} {
			os.WriteFile("/proc/sys/net/ipv6/conf/"+k+"/disable_ipv6", []byte("1"), 0)
		}
		err = unix.Mount("/proc/thread-self/ns/net", path, "none", unix.MS_BIND, "")
		if serr := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); serr != nil {
			// Stuck in the new namespace: stay locked, so the thread ends
			// with this goroutine and nothing else runs on it.
			errc <- fmt.Errorf("netns: return to the original namespace: %w", serr)
			return
		}
		goruntime.UnlockOSThread()
		errc <- err
	}()
	if err := <-errc; err != nil {
		os.Remove(path)
		return fmt.Errorf("netns %s: %w", path, err)
	}
	return nil
}

// removeNetNS unmounts and removes a namespace made by newNetNS; idempotent.
func removeNetNS(path string) {
	unix.Unmount(path, unix.MNT_DETACH)
	os.Remove(path)
}

// plugVeth creates the veth pair of one endpoint: the host side on the
// bridge, the other end named ifname inside the namespace with its address
// (and, with gw valid, the default route through it).
func plugVeth(ns netns.NsHandle, nh *netlink.Handle, n *Network, ep *Endpoint, gw netip.Addr, hairpin bool) error {
	br, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		return fmt.Errorf("network %s: bridge %s: %w", n.Name, n.Bridge, err)
	}
	ip := netip.MustParseAddr(ep.IP)
	// The MAC is derived from the address, as Docker does: an address is
	// often reused at once (a restart, the lowest free lease), and peers'
	// ARP caches and the bridge's forwarding table stay right when the
	// same address comes back with the same MAC.
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: ep.HostVeth, MasterIndex: br.Attrs().Index, Flags: net.FlagUp, MTU: br.Attrs().MTU, TxQLen: -1},
		PeerName:         ep.Interface,
		PeerHardwareAddr: macFor(ip),
		PeerNamespace:    netlink.NsFd(ns),
		PeerMTU:          uint32(br.Attrs().MTU),
	}
	if err := netlink.LinkAdd(veth); errors.Is(err, unix.EEXIST) {
		// The same container restarted before its old namespace finished
		// dying: delete the old pair now.
		delLink(ep.HostVeth)
		err = netlink.LinkAdd(veth)
	}
	if err != nil {
		return fmt.Errorf("create veth %s: %w", ep.HostVeth, err)
	}
	if hairpin {
		// A container reaching its own published port through the host
		// may get the DNATed packet back out of the port it came in
		// (bridged with br_netfilter); only containers with published
		// ports need it, and it costs two netlink requests.
		if host, err := netlink.LinkByName(ep.HostVeth); err == nil {
			netlink.LinkSetHairpin(host, true)
		}
	}
	peer, err := nh.LinkByName(ep.Interface)
	if err != nil {
		return fmt.Errorf("veth peer %s: %w", ep.Interface, err)
	}
	ep.MAC = peer.Attrs().HardwareAddr.String()
	p := netip.MustParsePrefix(n.Subnet)
	if err := nh.AddrAdd(peer, &netlink.Addr{IPNet: &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}}); err != nil {
		return fmt.Errorf("address %s: %w", ip, err)
	}
	if err := nh.LinkSetUp(peer); err != nil {
		return fmt.Errorf("%s up: %w", ep.Interface, err)
	}
	if gw.IsValid() {
		if err := nh.RouteAdd(&netlink.Route{LinkIndex: peer.Attrs().Index, Gw: gw.AsSlice()}); err != nil {
			return fmt.Errorf("default route via %s: %w", gw, err)
		}
	}
	return nil
}

func loUp(nh *netlink.Handle) error {
	lo, err := nh.LinkByName("lo")
	if err != nil {
		return err
	}
	return nh.LinkSetUp(lo)
}

func delLink(name string) {
	if l, err := netlink.LinkByName(name); err == nil {
		netlink.LinkDel(l)
	}
}

// randomMAC is a random locally administered unicast MAC.
func randomMAC() net.HardwareAddr {
	b := make([]byte, 6)
	rand.Read(b)
	b[0] = b[0]&0xfe | 0x02
	return net.HardwareAddr(b)
}
