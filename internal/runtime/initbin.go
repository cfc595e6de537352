package runtime

import (
	"path/filepath"

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
// Installing is initexe's (one mechanism for both helper binaries).
type initBinary struct {
	bin initexe.Binary // not Embedded: no dedicated init, re-execute /proc/self/exe
	dir string         // where it is installed
}

func newInitBinary(stateDir string) initBinary {
	return initBinary{bin: initexe.Init(), dir: filepath.Join(stateDir, "init")}
}

// path returns the installed init binary, installing it if needed, or ""
// when the calling binary has to serve as init: no embedded binary, or it
// cannot be installed or executed where it would go (a noexec mount). It
// checks the file on every call (one stat) so that a removed file is
// reinstalled rather than failing the start.
func (b initBinary) path() string {
	p, err := b.bin.Install(b.dir)
	if err != nil {
		return ""
	}
	return p
}
