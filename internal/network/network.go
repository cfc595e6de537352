package network

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/fsutil"
	"github.com/berth/berth/internal/root"
)

// DefaultName is the network `run` uses when --network is not given.
const DefaultName = "bridge"

// Network is one network record, Docker-shaped where `network inspect` shows it.
type Network struct {
	Name     string            `json:"Name"`
	ID       string            `json:"Id"`
	Created  time.Time         `json:"Created"`
	Driver   string            `json:"Driver"` // "bridge"
	Internal bool              `json:"Internal"`
	Subnet   string            `json:"Subnet"`  // CIDR, e.g. 172.18.0.0/16
	Gateway  string            `json:"Gateway"` // the bridge's address
	Bridge   string            `json:"Bridge"`  // Linux device name
	Labels   map[string]string `json:"Labels"`
	Options  map[string]string `json:"Options"`
	// Endpoints are the running containers attached to the network, by
	// container ID: their leases.
	Endpoints map[string]*Endpoint `json:"Endpoints"`
}

// Endpoint is one container's attachment to a network: its lease.
type Endpoint struct {
	ContainerID string   `json:"ContainerID"`
	Name        string   `json:"Name"`
	Aliases     []string `json:"Aliases,omitempty"`
	IP          string   `json:"IPv4Address"` // without prefix length
	MAC         string   `json:"MacAddress"`
	HostVeth    string   `json:"HostVeth"`
	Interface   string   `json:"Interface"` // eth0, eth1... in the container
	HostsPath   string   `json:"HostsPath,omitempty"`
	Hostname    string   `json:"Hostname,omitempty"`
	// Published: port rules carry this container's tag (the primary endpoint).
	Published bool `json:"Published,omitempty"`
}

// Manager is the network store of one berth root.
type Manager struct {
	root root.Root
	// tag distinguishes this root's kernel objects from other roots': ""
	// for the default root, else 8 hex digits of sha256(root.Lib).
	tag string
}

// New returns the manager of r; it does no I/O.
func New(r root.Root) *Manager {
	m := &Manager{root: r}
	if r.Lib != root.Default.Lib {
		sum := sha256.Sum256([]byte(r.Lib))
		m.tag = hex.EncodeToString(sum[:4])
	}
	return m
}

// defaultBridge is the device of the `bridge` network.
func (m *Manager) defaultBridge() string {
	if m.tag == "" {
		return "berth0"
	}
	return "berth" + m.tag
}

func (m *Manager) nftTable() string {
	if m.tag == "" {
		return "berth"
	}
	return "berth-" + m.tag
}

func (m *Manager) chain() string {
	if m.tag == "" {
		return "BERTH"
	}
	return "BERTH-" + m.tag
}

// NetNSPath is where the network namespace of container id is bind-mounted.
func (m *Manager) NetNSPath(id string) string {
	return filepath.Join(m.root.Run, "netns", id)
}

func (m *Manager) dir() string { return m.root.Networks() }

func (m *Manager) path(id string) string { return filepath.Join(m.dir(), id+".json") }

// lock serializes every read-modify-write of network records in this root.
func (m *Manager) lock() (func(), error) {
	if err := os.MkdirAll(m.root.Locks(), 0o700); err != nil {
		return nil, err
	}
	return fsutil.Lock(filepath.Join(m.root.Locks(), "network.lock"), 2*time.Minute)
}

func (m *Manager) save(n *Network) error {
	if err := os.MkdirAll(m.dir(), 0o700); err != nil {
		return err
	}
	data, err := json.Marshal(n)
	if err != nil {
		return err
	}
	// Leases must survive a crash of the writer, not necessarily a power
	// loss: a lost lease is repaired against the running containers.
	return fsutil.ReplaceFile(m.path(n.ID), data, 0o600)
}

func (m *Manager) reserve() fsutil.Reserve {
	return fsutil.Reserve{Path: m.root.Reserve(), Size: 1 << 20}
}

func (m *Manager) loadAll() ([]*Network, error) {
	ents, err := os.ReadDir(m.dir())
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var out []*Network
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		var n Network
		if err := fsutil.ReadJSON(filepath.Join(m.dir(), e.Name()), &n); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("network record %s: %w", e.Name(), err)
		}
		if n.Endpoints == nil {
			n.Endpoints = map[string]*Endpoint{}
		}
		out = append(out, &n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// find resolves ref as Docker does: exact ID, exact name, then unique ID prefix.
func find(all []*Network, ref string) (*Network, error) {
	for _, n := range all {
		if n.ID == ref {
			return n, nil
		}
	}
	for _, n := range all {
		if n.Name == ref {
			return n, nil
		}
	}
	var match *Network
	for _, n := range all {
		if ref != "" && strings.HasPrefix(n.ID, ref) {
			if match != nil {
				return nil, fmt.Errorf("network %s is ambiguous: %w", ref, errdefs.ErrInvalid)
			}
			match = n
		}
	}
	if match == nil {
		return nil, fmt.Errorf("network %s not found: %w", ref, errdefs.ErrNotFound)
	}
	return match, nil
}

// Get returns the network named or identified by ref. The default `bridge`
// network exists implicitly: Get creates its record on first use.
func (m *Manager) Get(ref string) (*Network, error) {
	all, err := m.loadAll()
	if err != nil {
		return nil, err
	}
	n, err := find(append(all, m.pseudo("host"), m.pseudo("none")), ref)
	if err == nil || ref != DefaultName || !errdefs.IsNotFound(err) {
		return n, err
	}
	unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return m.getLocked(ref)
}

// getLocked is Get with the lock held; it creates the default network's
// record (not its bridge) when missing.
func (m *Manager) getLocked(ref string) (*Network, error) {
	all, err := m.loadAll()
	if err != nil {
		return nil, err
	}
	n, err := find(all, ref)
	if err == nil || ref != DefaultName || !errdefs.IsNotFound(err) {
		return n, err
	}
	n, err = m.newRecord(all, CreateOptions{Name: DefaultName})
	if err != nil {
		return nil, err
	}
	if err := m.save(n); err != nil {
		return nil, err
	}
	if err := m.setup(n); err != nil {
		m.destroy(n)
		return nil, err
	}
	return n, nil
}

// List returns every network: `bridge`, the user's, and the `host` and
// `none` pseudo-networks Docker lists too.
func (m *Manager) List() ([]*Network, error) {
	if _, err := m.Get(DefaultName); err != nil {
		return nil, err
	}
	all, err := m.loadAll()
	if err != nil {
		return nil, err
	}
	all = append(all, m.pseudo("host"), m.pseudo("none"))
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	return all, nil
}

// pseudo is the record shown for --network host and none: nothing to set
// up, a stable ID per root.
func (m *Manager) pseudo(name string) *Network {
	sum := sha256.Sum256([]byte(m.root.Lib + "\x00" + name))
	driver := name
	if name == "none" {
		driver = "null"
	}
	return &Network{Name: name, ID: hex.EncodeToString(sum[:]), Driver: driver,
		Labels: map[string]string{}, Options: map[string]string{}, Endpoints: map[string]*Endpoint{}}
}

// IsPseudo reports whether n is the host or none pseudo-network.
func (n *Network) IsPseudo() bool { return n.Driver == "host" || n.Driver == "null" }

func newID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// IsUserDefined reports whether name resolution by container name applies
// (Docker's default bridge does not resolve names).
func (n *Network) IsUserDefined() bool { return n.Name != DefaultName }
