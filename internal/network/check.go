package network

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
)

// CheckOptions tell Check what the rest of berth knows.
type CheckOptions struct {
	// Alive reports whether id (a container, or a build step's sandbox)
	// is running or being started by a live owner, and so may hold
	// leases, namespaces and rules.
	Alive func(id string) bool
	// Ports are the published ports a live container's record says it
	// has (nil: none); each needs a DNAT rule.
	Ports func(id string) []Published
	// Repair fixes what it finds (see Repair) and re-creates the missing
	// bridges and rules of live containers.
	Repair bool
}

// Check compares this root's network state with the containers that are
// alive: leases (endpoints in the network records) and namespaces of
// containers that are not, duplicate addresses, DNAT rules with no live
// container or missing for one, host veths on berth's bridges that no
// lease names, and the bridge, NAT and filter rules of every network a
// live container uses. It returns one line per problem; with o.Repair it
// fixes them first (the lines then say what was found).
func (m *Manager) Check(o CheckOptions) []string {
	problems := m.check(o)
	if !o.Repair {
		return problems
	}
	m.Repair(o.Alive)
	// Tables and chains first: a flushed table has no chain for DNAT rules.
	problems = append(problems, m.EnsureAll()...)
	m.repairRules(o)
	return problems
}

func (m *Manager) check(o CheckOptions) []string {
	unlock, err := m.lock()
	if err != nil {
		return []string{fmt.Sprintf("network: %v", err)}
	}
	defer unlock()
	all, err := m.loadAll()
	if err != nil {
		return []string{fmt.Sprintf("network: %v", err)}
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	alive := map[string]bool{}
	isAlive := func(id string) bool {
		a, ok := alive[id]
		if !ok {
			a = o.Alive(id)
			alive[id] = a
		}
		return a
	}
	bridges := map[int]bool{}
	known := map[string]bool{}
	filter := &filterRules{}
	primary := map[string]*Endpoint{} // live container → endpoint its ports are DNATed to
	for _, n := range all {
		byIP := map[string]string{}
		ids := make([]string, 0, len(n.Endpoints))
		for id := range n.Endpoints {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		live := false
		for _, id := range ids {
			ep := n.Endpoints[id]
			if !isAlive(id) {
				add("network %s: lease %s held by container %s, which is not running", n.Name, ep.IP, short(id))
				continue
			}
			live = true
			known[ep.HostVeth] = true
			if ep.Published || primary[id] == nil && ep.Interface == "eth0" {
				primary[id] = ep
			}
			if other, dup := byIP[ep.IP]; dup {
				add("network %s: address %s leased twice (containers %s and %s)", n.Name, ep.IP, short(other), short(id))
			}
			byIP[ep.IP] = id
			if ep.IP == n.Gateway {
				add("network %s: container %s leased the gateway address %s", n.Name, short(id), ep.IP)
			}
		}
		l, err := netlink.LinkByName(n.Bridge)
		if err == nil {
			bridges[l.Attrs().Index] = true
		}
		if !live {
			continue // rules are (re-)made on the next use
		}
		if err != nil || l.Attrs().Flags&net.FlagUp == 0 {
			add("network %s: bridge %s missing or down while containers use it", n.Name, n.Bridge)
		}
		if got := m.taggedRules("postrouting", "n:"+n.ID); got < 2 {
			add("network %s: NAT rules missing (%d found) while containers use it", n.Name, got)
		}
		for _, r := range append(m.filterRules(n), []string{"FORWARD", "-j", m.chain()}) {
			if !filter.has(r) {
				add("network %s: filter rule missing: iptables -A %s", n.Name, strings.Join(r, " "))
			}
		}
	}

	tags := m.dnatCounts()
	ids := make([]string, 0, len(tags))
	for id := range tags {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if !isAlive(id) {
			add("stale port rule(s) for container %s, which is not running: %d", short(id), tags[id])
		}
	}
	liveIDs := make([]string, 0, len(primary))
	for id := range primary {
		liveIDs = append(liveIDs, id)
	}
	sort.Strings(liveIDs)
	for _, id := range liveIDs {
		if want := len(o.Ports(id)); tags[id] < want {
			add("container %s: %d published port(s) but %d port rule(s)", short(id), want, tags[id])
		}
	}

	ents, _ := os.ReadDir(filepath.Join(m.root.Run, "netns"))
	for _, e := range ents {
		if !isAlive(e.Name()) {
			add("stale network namespace %s", filepath.Join(m.root.Run, "netns", e.Name()))
		}
	}
	// A namespace being destroyed takes its veth along, asynchronously
	// (a normal teardown just unmounted it): look again for a while before
	// calling a veth stale — unless a stale lease or namespace already
	// shows that an owner died.
	tries := 30
	if len(problems) > 0 {
		tries = 0
	}
	for i := 0; ; i++ {
		stale := m.strayVeths(bridges, known)
		if len(stale) == 0 || i >= tries {
			for _, name := range stale {
				add("stale veth %s (no lease names it)", name)
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return problems
}

// strayVeths lists berth host veths enslaved to this root's bridges that no
// live lease names.
func (m *Manager) strayVeths(bridges map[int]bool, known map[string]bool) []string {
	var out []string
	links, _ := netlink.LinkList()
	for _, l := range links {
		a := l.Attrs()
		if strings.HasPrefix(a.Name, "bv") && bridges[a.MasterIndex] && !known[a.Name] {
			out = append(out, a.Name)
		}
	}
	sort.Strings(out)
	return out
}

// repairRules re-creates the DNAT rules a live container's record says it
// has (the bridges and network rules are EnsureAll's).
func (m *Manager) repairRules(o CheckOptions) {
	unlock, err := m.lock()
	if err != nil {
		return
	}
	defer unlock()
	all, err := m.loadAll()
	if err != nil {
		return
	}
	tags := m.dnatCounts()
	done := map[string]bool{}
	for _, n := range all {
		for id, ep := range n.Endpoints {
			if done[id] || !(ep.Published || ep.Interface == "eth0") || !o.Alive(id) {
				continue
			}
			ports := o.Ports(id)
			if len(ports) == 0 || tags[id] >= len(ports) {
				continue
			}
			done[id] = true
			target, err := netip.ParseAddr(ep.IP)
			if err != nil {
				continue
			}
			m.delDNAT(id)
			m.addDNAT(id, target, ports)
		}
	}
}

// taggedRules counts the rules of chain whose user data is tag.
func (m *Manager) taggedRules(chain, tag string) int {
	c, err := nftables.New()
	if err != nil {
		return 0
	}
	rules, err := c.GetRules(m.table(), &nftables.Chain{Name: chain, Table: m.table()})
	if err != nil {
		return 0
	}
	n := 0
	for _, r := range rules {
		if string(r.UserData) == tag {
			n++
		}
	}
	return n
}

// dnatCounts counts the port rules of each container; its keys are the
// containers that have any.
func (m *Manager) dnatCounts() map[string]int {
	out := map[string]int{}
	c, err := nftables.New()
	if err != nil {
		return out
	}
	rules, err := c.GetRules(m.table(), &nftables.Chain{Name: "ports", Table: m.table()})
	if err != nil {
		return out
	}
	for _, r := range rules {
		if s := string(r.UserData); strings.HasPrefix(s, "c:") {
			out[s[2:]]++
		}
	}
	return out
}

// filterRules answers "is this filter rule there?" from one `iptables -S`
// listing, asking `iptables -C` only for rules the listing does not show
// verbatim (its spelling of a match may differ from ours).
type filterRules struct {
	listed map[string]bool // nil until listed
}

func (f *filterRules) has(rule []string) bool {
	if f.listed == nil {
		f.listed = map[string]bool{}
		if out, err := exec.Command("iptables", "-w", "-t", "filter", "-S").Output(); err == nil {
			for _, l := range strings.Split(string(out), "\n") {
				f.listed[strings.TrimSpace(l)] = true
			}
		}
	}
	if f.listed["-A "+strings.Join(rule, " ")] {
		return true
	}
	return iptables(append([]string{"-C"}, rule...)...) == nil
}
