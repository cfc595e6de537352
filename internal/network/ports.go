package network

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/errdefs"
)

// PortRequest is one parsed -p mapping for one container port: the host
// side is a port, a range to pick one from, or 0 for any free port.
type PortRequest struct {
	HostIP        string // "" means 0.0.0.0
	HostPortStart int    // 0: any free port
	HostPortEnd   int
	ContainerPort int
	Proto         string // tcp or udp
}

// Key is Docker's "80/tcp".
func (r PortRequest) Key() string { return strconv.Itoa(r.ContainerPort) + "/" + r.Proto }

// HostPortString is the host side as Docker records it in PortBindings.
func (r PortRequest) HostPortString() string {
	switch {
	case r.HostPortStart == 0:
		return ""
	case r.HostPortEnd > r.HostPortStart:
		return fmt.Sprintf("%d-%d", r.HostPortStart, r.HostPortEnd)
	}
	return strconv.Itoa(r.HostPortStart)
}

// ParsePortSpec parses `-p [IP:][HOSTPORT:]CONTAINERPORT[/PROTO]` (ports may
// be ranges) with Docker's validation and messages.
func ParsePortSpec(raw string) ([]PortRequest, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf(format+": %w", append(a, errdefs.ErrInvalid)...)
	}
	spec, proto := raw, "tcp"
	if i := strings.LastIndex(raw, "/"); i >= 0 {
		spec, proto = raw[:i], raw[i+1:]
		if proto == "" {
			proto = "tcp"
		}
	}
	ip, hostPort, containerPort := "", "", spec
	parts := strings.Split(spec, ":")
	switch {
	case strings.HasPrefix(spec, "["):
		// [v6]:host:container
		end := strings.Index(spec, "]")
		if end < 0 {
			return nil, bad("Invalid ip address %s", spec)
		}
		ip = spec[1:end]
		rest := strings.Split(strings.TrimPrefix(spec[end+1:], ":"), ":")
		if len(rest) != 2 {
			return nil, bad("Invalid port format: %s", raw)
		}
		hostPort, containerPort = rest[0], rest[1]
	case len(parts) == 1:
	case len(parts) == 2:
		hostPort, containerPort = parts[0], parts[1]
	case len(parts) == 3:
		ip, hostPort, containerPort = parts[0], parts[1], parts[2]
	default:
		// Docker joins all but the last two as the IP (an unbracketed v6 address).
		ip = strings.Join(parts[:len(parts)-2], ":")
		hostPort, containerPort = parts[len(parts)-2], parts[len(parts)-1]
	}
	if ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return nil, bad("Invalid ip address: %s", ip)
		}
		if !a.Is4() {
			return nil, fmt.Errorf("publishing on IPv6 address %s: berth has no IPv6 networking: %w", ip, errdefs.ErrNotImplemented)
		}
	}
	if containerPort == "" {
		return nil, bad("No port specified: %s<empty>", raw)
	}
	cStart, cEnd, err := parseRange(containerPort)
	if err != nil {
		return nil, bad("Invalid containerPort: %s", containerPort)
	}
	var hStart, hEnd int
	if hostPort != "" {
		// A range from 0 is no range: host port 0 means "any free port",
		// and the end would be dropped (found by FuzzParsePortSpec).
		if hStart, hEnd, err = parseRange(hostPort); err != nil || (hStart == 0 && hEnd != 0) {
			return nil, bad("Invalid hostPort: %s", hostPort)
		}
		if hEnd-hStart != cEnd-cStart && cEnd != cStart {
			return nil, bad("Invalid ranges specified for container and host Ports: %s and %s", containerPort, hostPort)
		}
	}
	switch strings.ToLower(proto) {
	case "tcp", "udp":
		proto = strings.ToLower(proto)
	case "sctp":
		return nil, fmt.Errorf("publishing sctp ports: %w", errdefs.ErrNotImplemented)
	default:
		return nil, bad("Invalid proto: %s", proto)
	}
	var out []PortRequest
	for i := 0; i <= cEnd-cStart; i++ {
		r := PortRequest{HostIP: ip, ContainerPort: cStart + i, Proto: proto}
		switch {
		case hostPort == "":
		case cEnd == cStart:
			r.HostPortStart, r.HostPortEnd = hStart, hEnd
		default:
			r.HostPortStart, r.HostPortEnd = hStart+i, hStart+i
		}
		out = append(out, r)
	}
	return out, nil
}

// ParsePort parses "80", "80/udp" or "8000-8010/tcp" (EXPOSE, --expose, `port` filters).
func ParsePort(s string) (start, end int, proto string, err error) {
	p, proto, _ := strings.Cut(s, "/")
	if proto == "" {
		proto = "tcp"
	}
	start, end, err = parseRange(p)
	return start, end, strings.ToLower(proto), err
}

func parseRange(s string) (int, int, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return 0, 0, err
	}
	b := a
	if isRange {
		if b, err = strconv.ParseUint(hi, 10, 16); err != nil {
			return 0, 0, err
		}
		if b < a {
			return 0, 0, errors.New("invalid range")
		}
	}
	return int(a), int(b), nil
}

// portHolder keeps one bound socket per published host port: conflicts
// are detected at bind time and nothing else can take the port while the
// container runs; the bytes themselves never reach these sockets (DNAT
// rewrites the packets before local delivery).
type portHolder struct{ closers []io.Closer }

func (h *portHolder) Close() error {
	for _, c := range h.closers {
		c.Close()
	}
	h.closers = nil
	return nil
}

// bindPorts binds every request, choosing ports for dynamic ones, and
// returns what was bound; on error nothing stays bound.
func bindPorts(reqs []PortRequest, endpoint string) (_ []Published, _ *portHolder, err error) {
	h := &portHolder{}
	defer func() {
		if err != nil {
			h.Close()
		}
	}()
	var out []Published
	for _, r := range reqs {
		ip := r.HostIP
		if ip == "" {
			ip = "0.0.0.0"
		}
		try := func(port int) (io.Closer, int, error) {
			addr := net.JoinHostPort(ip, strconv.Itoa(port))
			if r.Proto == "udp" {
				c, err := net.ListenPacket("udp4", addr)
				if err != nil {
					return nil, 0, err
				}
				return c, c.LocalAddr().(*net.UDPAddr).Port, nil
			}
			return bindTCP(ip, port)
		}
		var c io.Closer
		var port int
		switch {
		case r.HostPortStart == 0:
			c, port, err = try(0)
		case r.HostPortEnd > r.HostPortStart:
			for p := r.HostPortStart; p <= r.HostPortEnd; p++ {
				if c, port, err = try(p); err == nil {
					break
				}
			}
		default:
			c, port, err = try(r.HostPortStart)
		}
		if err != nil {
			hp := r.HostPortString()
			if hp == "" {
				hp = "0"
			}
			return nil, nil, fmt.Errorf("driver failed programming external connectivity on endpoint %s: Bind for %s:%s failed: port is already allocated (%v): %w",
				endpoint, ip, hp, errors.Unwrap(err), errdefs.ErrConflict)
		}
		h.closers = append(h.closers, c)
		out = append(out, Published{HostIP: ip, HostPort: port, ContainerPort: r.ContainerPort, Proto: r.Proto})
	}
	return out, h, nil
}

// bindTCP binds (without listening, and without SO_REUSEADDR, so that
// every other bind of the port fails) a TCP socket: a client racing the
// DNAT rule gets a reset rather than hanging in an accept queue nobody
// serves.
func bindTCP(ip string, port int) (io.Closer, int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, 0, err
	}
	sa := &unix.SockaddrInet4{Port: port, Addr: netip.MustParseAddr(ip).As4()}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, 0, &net.OpError{Op: "listen", Net: "tcp4", Err: os.NewSyscallError("bind", err)}
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return nil, 0, err
	}
	return os.NewFile(uintptr(fd), "port"), got.(*unix.SockaddrInet4).Port, nil
}
