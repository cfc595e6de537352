package network

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/root"
)

func TestParsePortSpec(t *testing.T) {
	for _, tc := range []struct {
		desc, spec string
		want       []PortRequest
		err        string
	}{
		{"container port only", "80", []PortRequest{{ContainerPort: 80, Proto: "tcp"}}, ""},
		{"host and container", "4000:80", []PortRequest{{HostPortStart: 4000, HostPortEnd: 4000, ContainerPort: 80, Proto: "tcp"}}, ""},
		{"ip, host, container, udp", "127.0.0.1:53:5353/udp", []PortRequest{{HostIP: "127.0.0.1", HostPortStart: 53, HostPortEnd: 53, ContainerPort: 5353, Proto: "udp"}}, ""},
		{"ip, any host port", "127.0.0.1::80", []PortRequest{{HostIP: "127.0.0.1", ContainerPort: 80, Proto: "tcp"}}, ""},
		{"proto in upper case", "80/TCP", []PortRequest{{ContainerPort: 80, Proto: "tcp"}}, ""},
		{"ranges one to one", "8000-8001:80-81", []PortRequest{
			{HostPortStart: 8000, HostPortEnd: 8000, ContainerPort: 80, Proto: "tcp"},
			{HostPortStart: 8001, HostPortEnd: 8001, ContainerPort: 81, Proto: "tcp"}}, ""},
		{"host range for one port", "8000-8010:80", []PortRequest{{HostPortStart: 8000, HostPortEnd: 8010, ContainerPort: 80, Proto: "tcp"}}, ""},
		{"container range, dynamic hosts", "80-81", []PortRequest{{ContainerPort: 80, Proto: "tcp"}, {ContainerPort: 81, Proto: "tcp"}}, ""},
		{"bad container port", "abc", nil, "Invalid containerPort: abc"},
		{"host port too large", "70000:80", nil, "Invalid hostPort: 70000"},
		{"bad proto", "80/sctpx", nil, "Invalid proto: sctpx"},
		{"bad ip", "1.2.3:80:80", nil, "Invalid ip address: 1.2.3"},
		{"empty", "", nil, "No port specified: <empty>"},
		{"mismatched ranges", "8000-8002:80-81", nil, "Invalid ranges specified for container and host Ports: 80-81 and 8000-8002"},
		{"reversed range", "81-80", nil, "Invalid containerPort: 81-80"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := ParsePortSpec(tc.spec)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errdefs.IsInvalid(err) {
					t.Fatalf("ParsePortSpec(%q) = %v, %v; want error %q (invalid)", tc.spec, got, err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParsePortSpec(%q) = %+v, %v; want %+v", tc.spec, got, err, tc.want)
			}
		})
	}
}

func TestAllocate(t *testing.T) {
	n := &Network{Name: "n", Subnet: "10.1.0.0/29", Gateway: "10.1.0.1", Endpoints: map[string]*Endpoint{}}
	var got []string
	for i := 0; i < 5; i++ {
		a, err := allocate(n, "")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.String())
		n.Endpoints[a.String()] = &Endpoint{IP: a.String()}
	}
	want := []string{"10.1.0.2", "10.1.0.3", "10.1.0.4", "10.1.0.5", "10.1.0.6"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("leases %v, want %v", got, want)
	}
	if _, err := allocate(n, ""); err == nil {
		t.Fatal("a full /29 handed out an address (broadcast?)")
	}
	delete(n.Endpoints, "10.1.0.3")
	if a, _ := allocate(n, ""); a.String() != "10.1.0.3" {
		t.Fatalf("released address not reused: %s", a)
	}
	for _, tc := range []struct{ want, err string }{
		{"10.1.0.4", "already in use"},
		{"10.2.0.4", "no configured subnet"},
		{"10.1.0.7", "no configured subnet"},
		{"bogus", "invalid IPv4 address"},
	} {
		if _, err := allocate(n, tc.want); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("allocate(%s): %v, want %q", tc.want, err, tc.err)
		}
	}
}

func TestChooseSubnetAvoidsTaken(t *testing.T) {
	taken := []netip.Prefix{netip.MustParsePrefix("172.18.0.0/16"), netip.MustParsePrefix("172.19.5.0/24")}
	p, err := chooseSubnet(taken)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range append(taken, dockerDefault) {
		if p.Overlaps(q) {
			t.Fatalf("chose %s overlapping %s", p, q)
		}
	}
	for _, q := range hostPrefixes() {
		if p.Overlaps(q) {
			t.Fatalf("chose %s overlapping host route %s", p, q)
		}
	}
}

func TestHostsBlock(t *testing.T) {
	def := &Network{Name: DefaultName, Endpoints: map[string]*Endpoint{
		"aaaaaaaaaaaaaaaa": {IP: "172.18.0.2", Name: "a", Hostname: "ahost"},
		"bbbbbbbbbbbbbbbb": {IP: "172.18.0.3", Name: "b", Hostname: "bhost"},
	}}
	user := &Network{Name: "app", Endpoints: map[string]*Endpoint{
		"aaaaaaaaaaaaaaaa": {IP: "10.5.0.2", Name: "a", Hostname: "ahost", Aliases: []string{"alpha"}},
		"cccccccccccccccc": {IP: "10.5.0.3", Name: "c", Aliases: []string{"cache"}},
	}}
	got := hostsBlock([]*Network{def, user}, "aaaaaaaaaaaaaaaa")
	want := "172.18.0.2\tahost\n10.5.0.2\tahost\n10.5.0.2\talpha\n10.5.0.3\tc cache cccccccccccc\n"
	if got != want {
		t.Fatalf("hostsBlock:\n%q\nwant\n%q", got, want)
	}
	// The default bridge resolves no peer names, as Docker's.
	if got := hostsBlock([]*Network{def}, "bbbbbbbbbbbbbbbb"); got != "172.18.0.3\tbhost\n" {
		t.Fatalf("default bridge block %q", got)
	}
}

func TestWriteHostsInPlace(t *testing.T) {
	p := filepath.Join(t.TempDir(), "hosts")
	base := "127.0.0.1\tlocalhost\n10.0.0.9\tadded\n"
	if err := os.WriteFile(p, []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	var before syscall.Stat_t
	syscall.Stat(p, &before)
	if err := writeHosts(p, "10.5.0.3\tc\n"); err != nil {
		t.Fatal(err)
	}
	if err := writeHosts(p, "10.5.0.4\td\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if string(b) != base+hostsMarker+"10.5.0.4\td\n" {
		t.Fatalf("hosts file:\n%s", b)
	}
	var after syscall.Stat_t
	syscall.Stat(p, &after)
	if before.Ino != after.Ino {
		t.Fatal("hosts file replaced, not rewritten in place (the bind mount would not see it)")
	}
	writeHosts(p, "")
	if b, _ := os.ReadFile(p); string(b) != base {
		t.Fatalf("empty block leaves %q", b)
	}
	if err := writeHosts(filepath.Join(t.TempDir(), "gone"), "x\n"); err != nil {
		t.Fatalf("missing file (container removed) must not fail: %v", err)
	}
}

func TestNamesPerRoot(t *testing.T) {
	d := New(root.Default)
	if d.defaultBridge() != "berth0" || d.nftTable() != "berth" || d.chain() != "BERTH" {
		t.Fatalf("default root names: %s %s %s", d.defaultBridge(), d.nftTable(), d.chain())
	}
	a, b := New(root.New("/tmp/a")), New(root.New("/tmp/b"))
	if a.defaultBridge() == b.defaultBridge() || len(a.defaultBridge()) > 15 || len(a.chain()+"-OUT") > 28 {
		t.Fatalf("per-root names collide or are too long: %s %s", a.defaultBridge(), a.chain())
	}
	if v := hostVeth(strings.Repeat("a", 64), strings.Repeat("b", 64)); len(v) > 15 || !strings.HasPrefix(v, "bv") {
		t.Fatalf("veth name %q", v)
	}
}

func TestCreateValidation(t *testing.T) {
	m := New(root.New(t.TempDir()))
	for _, tc := range []struct {
		desc string
		o    CreateOptions
		err  string
	}{
		{"bad name", CreateOptions{Name: "-x"}, "invalid network name"},
		{"reserved name", CreateOptions{Name: "host"}, "already exists"},
		{"unknown driver", CreateOptions{Name: "x", Driver: "overlay"}, "only the bridge driver"},
		{"bad subnet", CreateOptions{Name: "x", Subnet: "10.0.0.0/33"}, "invalid subnet"},
		{"ipv6 subnet", CreateOptions{Name: "x", Subnet: "fd00::/64"}, "invalid subnet"},
		{"gateway outside", CreateOptions{Name: "x", Subnet: "10.77.0.0/24", Gateway: "10.78.0.1"}, "invalid gateway"},
		{"gateway without subnet", CreateOptions{Name: "x", Gateway: "10.78.0.1"}, "--gateway needs --subnet"},
	} {
		if _, err := m.Create(t.Context(), tc.o); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v, want %q", tc.desc, err, tc.err)
		}
	}
	if all, _ := m.loadAll(); len(all) != 0 {
		t.Fatalf("failed creates left records: %v", all)
	}
}

// TestFilterRulesOrder: every "into the bridge" decision is in -IN, which
// FORWARD's chain visits before -OUT, and --internal drops what leaves.
func TestFilterRulesOrder(t *testing.T) {
	m := New(root.New("/tmp/x"))
	for _, internal := range []bool{false, true} {
		rules := m.filterRules(&Network{Bridge: "br-x", Internal: internal})
		last := rules[len(rules)-1]
		if last[0] != m.chain()+"-OUT" || last[len(last)-1] != map[bool]string{false: "ACCEPT", true: "DROP"}[internal] {
			t.Fatalf("internal=%v: last rule %v", internal, last)
		}
		for _, r := range rules[:len(rules)-1] {
			if r[0] != m.chain()+"-IN" || !slices.Contains(r, "-o") {
				t.Fatalf("rule %v is not an into-bridge rule in -IN", r)
			}
		}
		if drop := rules[len(rules)-2]; drop[len(drop)-1] != "DROP" {
			t.Fatalf("-IN does not end with the isolation DROP: %v", drop)
		}
	}
}
