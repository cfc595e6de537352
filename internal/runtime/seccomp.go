package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"sync"
	"syscall"

	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/fsutil"
)

// seccompCache compiles seccomp profiles to BPF once and remembers the
// programs, in memory and on disk (dir/<key>.json), so that container inits
// load a ready program instead of running libseccomp (~40 ms for Docker's
// default profile). See docs/seccomp.md.
//
// The key digests everything the program depends on: the profile as
// libcontainer sees it, the runc and libseccomp versions linked into this
// binary (and the binary's identity, as a patched runc may not change
// versions), the kernel (libseccomp probes its API level) and the
// architecture. A corrupt or truncated file is recompiled; the kernel
// verifies every program it loads anyway.
type seccompCache struct {
	dir string

	saltOnce sync.Once
	salt     []byte

	mu  sync.Mutex
	mem map[string]*configs.SeccompProgram
}

// cacheFormat changes whenever the meaning of a cached program changes
// (e.g. a new version of the runc patch).
const cacheFormat = "berth seccomp program v1"

func newSeccompCache(dir string) *seccompCache {
	return &seccompCache{dir: dir, mem: map[string]*configs.SeccompProgram{}}
}

// program returns the compiled form of cfg (whose Program is ignored)
// and the cache key, which identifies the profile.
func (c *seccompCache) program(cfg *configs.Seccomp) (_ *configs.SeccompProgram, key string, _ error) {
	key, err := c.key(cfg)
	if err != nil {
		return nil, "", err
	}
	c.mu.Lock()
	prog := c.mem[key]
	c.mu.Unlock()
	if prog != nil {
		return prog, key, nil
	}
	path := filepath.Join(c.dir, key+".json")
	if prog = readProgram(path); prog == nil {
		plain := *cfg
		plain.Program = nil
		if prog, err = seccomp.Compile(&plain); err != nil {
			if !seccomp.Enabled {
				return nil, "", fmt.Errorf("seccomp profile given, but berth was built without seccomp support: %w", errdefs.ErrNotImplemented)
			}
			return nil, "", fmt.Errorf("compile seccomp profile: %w: %w", errdefs.ErrInvalid, err)
		}
		// Failing to cache only costs the next start a compilation.
		if err := os.MkdirAll(c.dir, 0o700); err == nil {
			_ = fsutil.WriteJSONAtomic(path, prog, 0o600)
		}
	}
	c.mu.Lock()
	c.mem[key] = prog
	c.mu.Unlock()
	return prog, key, nil
}

func readProgram(path string) *configs.SeccompProgram {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var prog configs.SeccompProgram
	if json.Unmarshal(data, &prog) != nil || len(prog.Filter) == 0 || len(prog.Filter)%8 != 0 {
		return nil
	}
	return &prog
}

func (c *seccompCache) key(cfg *configs.Seccomp) (string, error) {
	plain := *cfg
	plain.Program = nil
	profile, err := json.Marshal(&plain)
	if err != nil {
		return "", fmt.Errorf("seccomp profile: %w", err)
	}
	c.saltOnce.Do(func() { c.salt = programSalt() })
	h := sha256.New()
	h.Write(c.salt)
	h.Write(profile)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// programSalt describes the toolchain that turns a profile into a program.
func programSalt() []byte {
	salt := fmt.Sprintf("%s\n%s\n", cacheFormat, goruntime.GOARCH)
	major, minor, micro := seccomp.Version()
	salt += fmt.Sprintf("libseccomp %d.%d.%d\n", major, minor, micro)
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range bi.Deps {
			if dep.Path == "github.com/opencontainers/runc" {
				salt += "runc " + dep.Version + " " + dep.Sum
				if dep.Replace != nil {
					salt += " => " + dep.Replace.Path + " " + dep.Replace.Version + " " + dep.Replace.Sum
				}
				salt += "\n"
			}
		}
	}
	// A rebuilt binary may carry a different patch under the same
	// versions; its identity settles that.
	if fi, err := os.Stat("/proc/self/exe"); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			salt += fmt.Sprintf("exe %d:%d %d %d\n", st.Dev, st.Ino, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		salt += "kernel " + unix.ByteSliceToString(uts.Release[:]) + " " + unix.ByteSliceToString(uts.Version[:]) + "\n"
	}
	return []byte(salt)
}
