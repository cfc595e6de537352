package runtime

import (
	"crypto/sha256"
	"encoding/binary"
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
func (c *seccompCache) program(cfg *configs.Seccomp) (_ *configs.SeccompProgram, key string, err error) {
	key = c.key(cfg)
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

// key identifies the program of cfg's rules under this toolchain (the
// salt). It encodes the rules by hand, length-prefixed, rather than with
// encoding/json, whose reflection over Docker's ~400 rules cost 0.35 ms of
// every container start; TestSeccompKeyCoversEveryField fails when
// libcontainer's types gain a field this does not encode.
func (c *seccompCache) key(cfg *configs.Seccomp) string {
	c.saltOnce.Do(func() { c.salt = programSalt() })
	var k keyEncoder
	k.int(int64(cfg.DefaultAction))
	k.int(int64(len(cfg.Architectures)))
	for _, a := range cfg.Architectures {
		k.str(a)
	}
	k.int(int64(len(cfg.Flags)))
	for _, f := range cfg.Flags {
		k.str(string(f))
	}
	k.optUint(cfg.DefaultErrnoRet)
	k.str(cfg.ListenerPath)
	k.str(cfg.ListenerMetadata)
	k.int(int64(len(cfg.Syscalls)))
	for _, r := range cfg.Syscalls {
		if r == nil {
			k.int(-1)
			continue
		}
		k.str(r.Name)
		k.int(int64(r.Action))
		k.optUint(r.ErrnoRet)
		k.int(int64(len(r.Args)))
		for _, a := range r.Args {
			if a == nil {
				k.int(-1)
				continue
			}
			k.int(int64(a.Index))
			k.int(int64(a.Value))
			k.int(int64(a.ValueTwo))
			k.int(int64(a.Op))
		}
	}
	h := sha256.New()
	h.Write(c.salt)
	h.Write(k.buf)
	return hex.EncodeToString(h.Sum(nil))
}

// keyEncoder writes values so that no two sequences encode alike:
// integers as varints, strings length-prefixed, optional values flagged.
type keyEncoder struct{ buf []byte }

func (k *keyEncoder) int(v int64) { k.buf = binary.AppendVarint(k.buf, v) }

func (k *keyEncoder) str(s string) {
	k.int(int64(len(s)))
	k.buf = append(k.buf, s...)
}

func (k *keyEncoder) optUint(v *uint) {
	if v == nil {
		k.int(-1)
		return
	}
	k.int(int64(*v))
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
