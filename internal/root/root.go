// Package root names berth's directories on disk. Every store is opened from
// a Root so that --root / BERTH_ROOT moves all state (images, containers,
// runtime state and locks) together; nothing reads a path from the
// environment anywhere else.
package root

import (
	"fmt"
	"os"
	"path/filepath"
)

// Root is the pair of directories berth keeps state in: Lib survives reboots,
// Run is expected to be wiped by one (it lives on tmpfs by default).
type Root struct {
	Lib string // images, containers, volumes, networks
	Run string // runtime state: libcontainer state, locks, supervisor sockets
}

// Default is the system-wide location.
var Default = Root{Lib: "/var/lib/berth", Run: "/run/berth"}

// New returns the Root for the --root flag value dir; an empty dir (or the
// default Lib) means the system default. A custom root keeps its runtime state in dir/run so that
// separate roots never share locks or state.
func New(dir string) Root {
	if abs, err := filepath.Abs(dir); err == nil && dir != "" {
		dir = abs
	}
	// The default Lib means the default root, so a supervisor re-executed
	// with --root /var/lib/berth finds the same /run/berth as its parent.
	if dir == "" || dir == Default.Lib {
		return Default
	}
	return Root{Lib: dir, Run: filepath.Join(dir, "run")}
}

// Ensure creates both directories with owner-only permissions, and takes
// group and other access away from ones that already exist (a --root made
// by mkdir with the usual umask is 0755): like dockerd with its root, berth
// keeps its state, registry tokens in flight and container configs (their
// environment) to itself.
func (r Root) Ensure() error {
	for _, d := range []string{r.Lib, r.Run} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(d, fi.Mode().Perm()&0o700); err != nil {
				return fmt.Errorf("restrict %s to its owner: %w", d, err)
			}
		}
	}
	return nil
}

// Content, Snapshots, Images, Containers, Volumes and Networks are the
// persistent stores; RuntimeState, Locks the volatile ones.
func (r Root) Content() string      { return filepath.Join(r.Lib, "content") }
func (r Root) Snapshots() string    { return filepath.Join(r.Lib, "snapshots") }
func (r Root) Images() string       { return filepath.Join(r.Lib, "images") }
func (r Root) Containers() string   { return filepath.Join(r.Lib, "containers") }
func (r Root) Volumes() string      { return filepath.Join(r.Lib, "volumes") }
func (r Root) Networks() string     { return filepath.Join(r.Lib, "networks") }
func (r Root) RuntimeState() string { return filepath.Join(r.Run, "runtime") }

// Reserve is the file of preallocated blocks the stores give back to
// rewrite a record on a full disk when that rewrite frees space (see
// fsutil.Reserve).
func (r Root) Reserve() string { return filepath.Join(r.Lib, "reserve") }
func (r Root) Locks() string   { return filepath.Join(r.Run, "locks") }
