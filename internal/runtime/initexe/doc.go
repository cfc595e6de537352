// Package initexe carries berth's small helper binaries inside the berth
// binary, so that berth still ships as one file:
//
//   - berth-init (cmd/berth-init), the container init the runtime runs for
//     every container start and exec;
//   - berth-shim (cmd/berth-shim), the supervisor that waits for a detached
//     container for its whole life (see internal/supervisor).
//
// The Makefile builds both into this directory first and then builds berth
// with the "berthinit" build tag, which embeds whatever berth-* files are
// there; without the tag (go test, go vet, a plain go build) nothing is
// embedded, and callers fall back to re-executing the calling binary. A
// missing berth-shim only costs that fallback, so a tree built before the
// shim existed still compiles.
//
// Install writes a binary to a directory the caller names (once per build:
// the file name carries the digest). The package keeps no state and must
// never run code at import time: the helper binaries link it themselves
// (without the tag).
package initexe

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/fsutil"
)

// Binary is one embedded helper. The zero value means "none embedded".
type Binary struct {
	Name   string // berth-init, berth-shim
	Digest string // hex SHA-256 the Makefile computed (hashing megabytes at every start would cost more than the binary saves)
	Size   int64
	// Read returns the content; it copies it, so it is called only to install.
	Read func() ([]byte, error)
}

// Embedded reports whether the binary is there.
func (b Binary) Embedded() bool { return b.Read != nil && b.Size > 0 && len(b.Digest) >= 16 }

// Init is the container init, berth-init.
func Init() Binary { return embedded("berth-init") }

// Shim is the detached containers' supervisor, berth-shim.
func Shim() Binary { return embedded("berth-shim") }

// Path returns where the binary is installed in dir: dir/<name>-<digest>.
func (b Binary) Path(dir string) string { return filepath.Join(dir, b.Name+"-"+b.Digest) }

// Install returns the installed binary in dir, installing it if it is
// missing or damaged (one lstat when it is there), or an error when it
// cannot be installed or executed there (a noexec mount): the caller then
// falls back to its own binary. Concurrent installs write the same bytes
// atomically. Files of older builds are left in place: dir is on tmpfs and a
// running helper of the older version may still use its own.
func (b Binary) Install(dir string) (string, error) {
	if !b.Embedded() {
		return "", fmt.Errorf("no embedded %s", b.Name)
	}
	p := b.Path(dir)
	if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() && fi.Size() == b.Size {
		return p, nil
	}
	data, err := b.Read()
	if err != nil {
		return "", fmt.Errorf("install %s: %w", b.Name, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("install %s: %w", b.Name, err)
	}
	if err := fsutil.WriteFileAtomic(p, data, 0o500); err != nil {
		return "", fmt.Errorf("install %s: %w", b.Name, err)
	}
	// access(2) with X_OK also fails on a noexec mount.
	if err := unix.Access(p, unix.X_OK); err != nil {
		return "", fmt.Errorf("%s %s: %w", b.Name, p, errors.Join(err, os.Remove(p)))
	}
	return p, nil
}
