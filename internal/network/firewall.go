package network

import (
	"bytes"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// nftables layout (table ip berth[-<tag>]):
//
//	chain prerouting { type nat hook prerouting priority dstnat; fib daddr type local jump ports }
//	chain output     { type nat hook output priority dstnat; fib daddr type local jump ports }
//	chain ports      { per published port: [ip daddr HOSTIP] l4proto P th dport HP dnat to IP:CP }  tag "c:<container id>"
//	chain postrouting { type nat hook postrouting priority srcnat; per network:          tag "n:<network id>"
//	    ip saddr SUBNET oifname != BRIDGE masquerade          (outbound; not for --internal)
//	    oifname BRIDGE fib saddr type local masquerade         (host and 127.0.0.1 → container)
//	    oifname BRIDGE ip saddr SUBNET ct status dnat masquerade (hairpin) }

func (m *Manager) table() *nftables.Table {
	return &nftables.Table{Name: m.nftTable(), Family: nftables.TableFamilyIPv4}
}

func (m *Manager) natTableExists() bool {
	c, err := nftables.New()
	if err != nil {
		return false
	}
	_, err = c.ListTableOfFamily(m.nftTable(), nftables.TableFamilyIPv4)
	return err == nil
}

// chains declares the table and its chains in the batch of c (idempotent:
// adding an existing table or chain is not an error).
func (m *Manager) chains(c *nftables.Conn) (ports, post *nftables.Chain) {
	t := c.AddTable(m.table())
	accept := nftables.ChainPolicyAccept
	pre := c.AddChain(&nftables.Chain{Name: "prerouting", Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest, Policy: &accept})
	out := c.AddChain(&nftables.Chain{Name: "output", Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest, Policy: &accept})
	post = c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource, Policy: &accept})
	ports = c.AddChain(&nftables.Chain{Name: "ports", Table: t})
	_, _ = pre, out
	return ports, post
}

// ensureNAT creates the table and chains if needed and (re-)creates the
// network's masquerade rules.
func (m *Manager) ensureNAT(n *Network) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	t := m.table()
	_, post := m.chains(c)
	if err := c.Flush(); err != nil {
		return err
	}
	// The jumps into `ports` exist once per table.
	for _, name := range []string{"prerouting", "output"} {
		ch := &nftables.Chain{Name: name, Table: t}
		rules, err := c.GetRules(t, ch)
		if err != nil {
			return err
		}
		if len(rules) == 0 {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: append(fibType(false), &expr.Verdict{Kind: expr.VerdictJump, Chain: "ports"})})
		}
	}
	if err := m.delTagged(c, post, "n:"+n.ID); err != nil {
		return err
	}
	p := netip.MustParsePrefix(n.Subnet)
	if !n.Internal {
		c.AddRule(&nftables.Rule{Table: t, Chain: post, UserData: []byte("n:" + n.ID),
			Exprs: concat(saddrIn(p), ifname(expr.MetaKeyOIFNAME, n.Bridge, expr.CmpOpNeq), masq())})
	}
	c.AddRule(&nftables.Rule{Table: t, Chain: post, UserData: []byte("n:" + n.ID),
		Exprs: concat(ifname(expr.MetaKeyOIFNAME, n.Bridge, expr.CmpOpEq), fibType(true), masq())})
	c.AddRule(&nftables.Rule{Table: t, Chain: post, UserData: []byte("n:" + n.ID),
		Exprs: concat(ifname(expr.MetaKeyOIFNAME, n.Bridge, expr.CmpOpEq), saddrIn(p), ctDNAT(), masq())})
	return c.Flush()
}

func (m *Manager) removeNAT(n *Network) {
	c, err := nftables.New()
	if err != nil {
		return
	}
	if m.delTagged(c, &nftables.Chain{Name: "postrouting", Table: m.table()}, "n:"+n.ID) == nil {
		c.Flush()
	}
}

// delTagged queues the deletion of every rule of ch whose user data is tag
// (or starts with it when tag ends in "*").
func (m *Manager) delTagged(c *nftables.Conn, ch *nftables.Chain, tag string) error {
	rules, err := c.GetRules(m.table(), ch)
	if err != nil {
		return err
	}
	for _, r := range rules {
		if bytes.Equal(r.UserData, []byte(tag)) {
			if err := c.DelRule(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// Published is one published port as programmed: HostIP "" or 0.0.0.0
// means every local address.
type Published struct {
	HostIP        string `json:"HostIp"`
	HostPort      int    `json:"HostPort"`
	ContainerPort int    `json:"ContainerPort"`
	Proto         string `json:"Proto"` // tcp or udp
}

// addDNAT programs every published port of container id in one batch.
func (m *Manager) addDNAT(id string, target netip.Addr, ports []Published) error {
	if len(ports) == 0 {
		return nil
	}
	c, err := nftables.New()
	if err != nil {
		return err
	}
	t := m.table()
	ch := &nftables.Chain{Name: "ports", Table: t}
	for _, p := range ports {
		var ex []expr.Any
		if p.HostIP != "" && p.HostIP != "0.0.0.0" {
			a := netip.MustParseAddr(p.HostIP)
			ex = append(ex,
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a.AsSlice()})
		}
		proto := byte(unix.IPPROTO_TCP)
		if p.Proto == "udp" {
			proto = unix.IPPROTO_UDP
		}
		ex = append(ex,
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(uint16(p.HostPort))},
			&expr.Immediate{Register: 1, Data: target.AsSlice()},
			&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(uint16(p.ContainerPort))},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
		)
		// Inserted first: a stale rule of a dead owner for the same port
		// (this process holds the port now) must not shadow it.
		c.InsertRule(&nftables.Rule{Table: t, Chain: ch, UserData: []byte("c:" + id), Exprs: ex})
	}
	return c.Flush()
}

// delDNAT removes container id's port rules; idempotent.
func (m *Manager) delDNAT(id string) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	if err := m.delTagged(c, &nftables.Chain{Name: "ports", Table: m.table()}, "c:"+id); err != nil {
		return nil // no table: nothing to delete
	}
	return c.Flush()
}

func concat(parts ...any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		switch v := p.(type) {
		case []expr.Any:
			out = append(out, v...)
		case expr.Any:
			out = append(out, v)
		}
	}
	return out
}

func ifname(key expr.MetaKey, name string, op expr.CmpOp) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: b}}
}

func saddrIn(p netip.Prefix) []expr.Any {
	mask := make([]byte, 4)
	for i := 0; i < p.Bits(); i++ {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Masked().Addr().AsSlice()},
	}
}

// fibType matches a local destination (or, with saddr, source) address.
func fibType(saddr bool) []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: !saddr, FlagSADDR: saddr, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

func ctDNAT() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(0x20), // IPS_DST_NAT
			Xor:  binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

func masq() []expr.Any { return []expr.Any{&expr.Masq{}} }

// Filter rules (iptables, table filter):
//
//	FORWARD  -j BERTH                      (inserted first once, never moved)
//	BERTH    -j BERTH-IN ; -j BERTH-OUT
//	BERTH-IN  per network: -o BR ctstate RELATED,ESTABLISHED ACCEPT; -i BR -o BR ACCEPT;
//	          -o BR ctstate DNAT ACCEPT; -o BR DROP     (isolation: nothing else enters)
//	BERTH-OUT per network: -i BR ACCEPT (--internal: -i BR DROP)
//
// All of a bridge's "into" decisions come before any "out of" decision, so
// network A's outbound accept never lets a packet into network B.
func (m *Manager) filterRules(n *Network) [][]string {
	in, out := m.chain()+"-IN", m.chain()+"-OUT"
	rules := [][]string{
		{in, "-o", n.Bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"},
		{in, "-i", n.Bridge, "-o", n.Bridge, "-j", "ACCEPT"},
		{in, "-o", n.Bridge, "-m", "conntrack", "--ctstate", "DNAT", "-j", "ACCEPT"},
		{in, "-o", n.Bridge, "-j", "DROP"},
	}
	if n.Internal {
		rules = append(rules, []string{out, "-i", n.Bridge, "-j", "DROP"})
	} else {
		rules = append(rules, []string{out, "-i", n.Bridge, "-j", "ACCEPT"})
	}
	return rules
}

func iptables(args ...string) error {
	out, err := exec.Command("iptables", append([]string{"-w", "-t", "filter"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ensureRule appends (or with insert, inserts first) rule unless present.
func ensureRule(insert bool, rule ...string) error {
	if iptables(append([]string{"-C"}, rule...)...) == nil {
		return nil
	}
	if insert {
		return iptables(append([]string{"-I", rule[0], "1"}, rule[1:]...)...)
	}
	return iptables(append([]string{"-A"}, rule...)...)
}

func (m *Manager) ensureFilter(n *Network) error {
	base := m.chain()
	for _, ch := range []string{base, base + "-IN", base + "-OUT"} {
		if iptables("-L", ch, "-n") != nil {
			if err := iptables("-N", ch); err != nil {
				return err
			}
		}
	}
	if err := ensureRule(false, base, "-j", base+"-IN"); err != nil {
		return err
	}
	if err := ensureRule(false, base, "-j", base+"-OUT"); err != nil {
		return err
	}
	if err := ensureRule(true, "FORWARD", "-j", base); err != nil {
		return err
	}
	for _, r := range m.filterRules(n) {
		if err := ensureRule(false, r...); err != nil {
			return err
		}
	}
	return nil
}

func (m *Manager) removeFilter(n *Network) {
	for _, r := range m.filterRules(n) {
		for iptables(append([]string{"-D"}, r...)...) == nil {
		}
	}
}
