package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/berth/berth/internal/errdefs"
)

// DefaultConfigPath is where berth's configuration lives unless
// $BERTH_CONFIG names another file.
const DefaultConfigPath = "/etc/berth/berth.json"

// Config is the part of berth.json the registry code reads. The key names and
// their meaning are Docker's daemon.json ones, so a daemon.json can be reused.
type Config struct {
	// Mirrors are tried in order for images of docker.io, before docker.io
	// itself: "http://127.0.0.1:5000" or "https://mirror.example".
	Mirrors []string `json:"registry-mirrors,omitempty"`
	// Insecure lists registries ("host:port") or networks ("10.0.0.0/8")
	// that may be reached over plain HTTP or with an unverified
	// certificate. Loopback registries always may.
	Insecure []string `json:"insecure-registries,omitempty"`

	nets  []*net.IPNet
	hosts map[string]bool
}

// ConfigPath is the configuration file in effect: $BERTH_CONFIG, else
// DefaultConfigPath. The caller passes the environment value in, so that
// this package reads no environment of its own.
func ConfigPath(env string) string {
	if env != "" {
		return env
	}
	return DefaultConfigPath
}

// LoadConfig reads the configuration file at path. A missing file is an
// empty configuration; an unreadable or malformed one is an error naming
// the file, as a daemon refuses to start on a bad daemon.json.
func LoadConfig(path string) (*Config, error) {
	c := &Config{}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return c, c.compile()
		}
		return nil, fmt.Errorf("read configuration %s: %w", path, err)
	}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, fmt.Errorf("configuration %s: %v: %w", path, err, errdefs.ErrInvalid)
	}
	if err := c.compile(); err != nil {
		return nil, fmt.Errorf("configuration %s: %w", path, err)
	}
	return c, nil
}

// compile checks the entries and indexes them, with Docker's rules: a
// mirror is an http(s) URL with no path beyond "/", an insecure entry is a
// CIDR or a host[:port] without scheme.
func (c *Config) compile() error {
	c.hosts = map[string]bool{}
	for i, m := range c.Mirrors {
		u, err := url.Parse(m)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("invalid mirror %q: must be an http:// or https:// URL: %w", m, errdefs.ErrInvalid)
		}
		if p := strings.TrimSuffix(u.Path, "/"); p != "" || u.RawQuery != "" {
			return fmt.Errorf("invalid mirror %q: path and query are not supported: %w", m, errdefs.ErrInvalid)
		}
		c.Mirrors[i] = u.Scheme + "://" + u.Host
	}
	for _, e := range c.Insecure {
		if strings.Contains(e, "://") {
			return fmt.Errorf("insecure registry %q should not contain '://': %w", e, errdefs.ErrInvalid)
		}
		if _, n, err := net.ParseCIDR(e); err == nil {
			c.nets = append(c.nets, n)
			continue
		}
		c.hosts[strings.ToLower(strings.TrimSuffix(e, "/"))] = true
	}
	return nil
}

// mirrorHost is the host[:port] of a mirror URL and whether it is plain HTTP.
func mirrorHost(m string) (host string, plain bool) {
	u, _ := url.Parse(m)
	return u.Host, u.Scheme == "http"
}

// IsInsecure reports whether host ("name[:port]") may be spoken to over
// plain HTTP (and with unverified TLS): a loopback address or "localhost",
// a configured host or host:port, or an IP inside a configured network.
func (c *Config) IsInsecure(host string) bool {
	h := strings.ToLower(host)
	name := h
	if hn, _, err := net.SplitHostPort(h); err == nil {
		name = hn
	}
	name = strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
	if name == "localhost" {
		return true
	}
	ip := net.ParseIP(name)
	if ip != nil && ip.IsLoopback() {
		return true
	}
	if c == nil {
		return false
	}
	if c.hosts[h] || c.hosts[name] {
		return true
	}
	for _, m := range c.Mirrors {
		if mh, plain := mirrorHost(m); plain && strings.EqualFold(mh, host) {
			return true // an http:// mirror is insecure by its own declaration
		}
	}
	if ip == nil {
		// Docker resolves names to test them against the CIDRs; a name that
		// does not resolve is simply not insecure.
		addrs, err := net.LookupIP(name)
		if err != nil {
			return false
		}
		for _, a := range addrs {
			if c.inNets(a) {
				return true
			}
		}
		return false
	}
	return c.inNets(ip)
}

func (c *Config) inNets(ip net.IP) bool {
	for _, n := range c.nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}
