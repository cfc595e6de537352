package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/fsutil"
	"github.com/berth/berth/internal/runtime/initexe"
)

// initBinary is the dedicated container init (cmd/berth-init) that the
// in-process runtime runs instead of re-executing the calling binary.
//
// Why: every container start and exec runs the init binary from scratch
// (Go runtime start, every linked package's init, page faults). berth's
// 14 MB binary links the whole CLI (image formats, compression, BuildKit's
// parser, protobuf) and spends 3-5 ms on that per start; berth-init links
// only libcontainer's init path.
//
// How: the berth binary embeds berth-init (package initexe). The first start
// writes it to <stateDir>/init/berth-init-<sha256>, once per build, and
// libcontainer runs it through a sealed clone, exactly as it would run a
// sealed clone of /proc/self/exe (see the runc patch documented in
// docs/runtime-startup.md): the container can never write to it
// (CVE-2019-5736). Sealing a file with overlayfs costs ~0.3 ms and copies
// nothing.
//
// Files of older builds are left in place: stateDir is on tmpfs, each is a
// few MB, and a supervisor of the older version may still use its own.
type initBinary struct {
	data   []byte // nil: no dedicated init, re-execute /proc/self/exe
	digest string // hex SHA-256 of data, computed at build time
	dir    string // where it is installed
}

func newInitBinary(stateDir string) initBinary {
	data, digest := initexe.Binary()
	if len(data) == 0 || len(digest) < 16 {
		return initBinary{}
	}
	return initBinary{data: data, digest: digest, dir: filepath.Join(stateDir, "init")}
}

// path returns the installed init binary, installing it if needed, or ""
// when the calling binary has to serve as init: no embedded binary, or it
// cannot be installed or executed where it would go (a noexec mount). It
// checks the file on every call (one stat) so that a removed file is
// reinstalled rather than failing the start.
func (b initBinary) path() string {
	if len(b.data) == 0 {
		return ""
	}
	p := filepath.Join(b.dir, "berth-init-"+b.digest)
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != int64(len(b.data)) {
		if err := b.install(p); err != nil {
			return ""
		}
	}
	return p
}

// install writes the binary to p atomically (concurrent installs write the
// same bytes) and checks that it may be executed there.
func (b initBinary) install(p string) error {
	if err := os.MkdirAll(b.dir, 0o700); err != nil {
		return fmt.Errorf("install container init: %w", err)
	}
	if err := fsutil.WriteFileAtomic(p, b.data, 0o500); err != nil {
		return fmt.Errorf("install container init: %w", err)
	}
	// access(2) with X_OK also fails on a noexec mount.
	if err := unix.Access(p, unix.X_OK); err != nil {
		return fmt.Errorf("container init %s: %w", p, errors.Join(err, os.Remove(p)))
	}
	return nil
}
