package network

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/berth/berth/internal/errdefs"
)

// FuzzParsePortSpec feeds arbitrary -p specs (and EXPOSE/--expose ports).
// Properties: no panic; a rejection is ErrInvalid (or ErrNotImplemented
// for IPv6 and sctp) and says what; an accepted spec yields one request per
// container port, every port within 0-65535, host ranges ordered, the
// protocol tcp or udp, the host IP an IPv4 address, and each request's own
// spec (IP:HOST:CONTAINER/PROTO) re-parses to that request.
func FuzzParsePortSpec(f *testing.F) {
	for _, s := range []string{
		"80", "8080:80", "127.0.0.1:8080:80", "127.0.0.1::80", "8000-8010:80", "8000-8002:80-82", "80-82",
		"53:53/udp", "80/TCP", "80/sctp", "[::1]:80:80", "::1:80:80", "1.2.3.4:65535:65535", "65536", "0",
		"80-70", "8000-8001:80-82", "a:b:c:d:e", "/udp", "80/", ":80", "127.0.0.1:80", "1-65535",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		reqs, err := ParsePortSpec(spec)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) && !errors.Is(err, errdefs.ErrNotImplemented) {
				t.Fatalf("ParsePortSpec(%q): unclassed error %v", spec, err)
			}
			if err.Error() == errdefs.ErrInvalid.Error() {
				t.Fatalf("ParsePortSpec(%q): error says nothing", spec)
			}
		} else {
			if len(reqs) == 0 {
				t.Fatalf("ParsePortSpec(%q): accepted, no ports", spec)
			}
			for i, r := range reqs {
				if r.ContainerPort < 0 || r.ContainerPort > 65535 || r.HostPortStart < 0 || r.HostPortEnd > 65535 || r.HostPortStart > r.HostPortEnd {
					t.Fatalf("ParsePortSpec(%q)[%d]: ports out of range: %+v", spec, i, r)
				}
				if i > 0 && r.ContainerPort != reqs[i-1].ContainerPort+1 {
					t.Fatalf("ParsePortSpec(%q): container ports not consecutive: %+v", spec, reqs)
				}
				if r.Proto != "tcp" && r.Proto != "udp" {
					t.Fatalf("ParsePortSpec(%q)[%d]: proto %q", spec, i, r.Proto)
				}
				if r.HostIP != "" {
					if a, err := netip.ParseAddr(r.HostIP); err != nil || !a.Is4() {
						t.Fatalf("ParsePortSpec(%q)[%d]: host IP %q", spec, i, r.HostIP)
					}
				}
				own := r.HostIP + ":" + r.HostPortString() + ":" + strconv.Itoa(r.ContainerPort) + "/" + r.Proto
				again, err := ParsePortSpec(own)
				if err != nil || len(again) != 1 || again[0] != r {
					t.Fatalf("ParsePortSpec(%q)[%d] = %+v; its spec %q re-parses to %+v, %v", spec, i, r, own, again, err)
				}
				start, end, proto, err := ParsePort(r.Key())
				if err != nil || start != r.ContainerPort || end != start || proto != r.Proto {
					t.Fatalf("ParsePort(%q) = %d-%d/%s, %v; want %+v", r.Key(), start, end, proto, err, r)
				}
			}
		}
		if start, end, _, err := ParsePort(spec); err == nil && (start < 0 || end > 65535 || start > end) {
			t.Fatalf("ParsePort(%q) = %d-%d", spec, start, end)
		}
	})
}

// TestHostRangeFromZero: "0-1:80" was taken as "any free port" with the
// range's end dropped (found by FuzzParsePortSpec).
func TestHostRangeFromZero(t *testing.T) {
	for _, spec := range []string{"0-1:0", "0-100:80", "127.0.0.1:0-5:80"} {
		if _, err := ParsePortSpec(spec); err == nil || !strings.Contains(err.Error(), "Invalid hostPort") {
			t.Errorf("ParsePortSpec(%q): err = %v", spec, err)
		}
	}
	if r, err := ParsePortSpec("0:80"); err != nil || r[0].HostPortStart != 0 || r[0].HostPortEnd != 0 {
		t.Errorf("host port 0 (any) no longer accepted: %+v, %v", r, err)
	}
}
