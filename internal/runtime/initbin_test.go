package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/runtime/initexe"
)

// berthInit builds cmd/berth-init once per test binary run, as the
// Makefile does before embedding it.
var berthInit struct {
	once sync.Once
	data []byte
	err  error
}

func berthInitBinary(t testing.TB) []byte {
	t.Helper()
	berthInit.once.Do(func() {
		dir, err := os.MkdirTemp("", "berth-init-build-")
		if err != nil {
			berthInit.err = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "berth-init")
		cmd := exec.Command("go", "build", "-tags", "seccomp", "-o", out, "../../cmd/berth-init")
		if b, err := cmd.CombinedOutput(); err != nil {
			berthInit.err = fmt.Errorf("%w\n%s", err, b)
			return
		}
		berthInit.data, berthInit.err = os.ReadFile(out)
	})
	if berthInit.err != nil {
		t.Fatalf("build cmd/berth-init: %v", berthInit.err)
	}
	return berthInit.data
}

func newInitBinaryFrom(dir string, data []byte) initBinary {
	sum := sha256.Sum256(data)
	return initBinary{bin: initexe.Binary{Name: "berth-init", Digest: hex.EncodeToString(sum[:]), Size: int64(len(data)),
		Read: func() ([]byte, error) { return data, nil }}, dir: dir}
}

// TestDedicatedInit runs containers with berth-init as their init (what
// the shipped berth does) and checks that the runtime really uses the
// installed binary, reinstalls it when it disappears, and falls back to
// re-executing itself where the binary cannot be executed.
func TestDedicatedInit(t *testing.T) {
	for _, tc := range []struct {
		desc string
		// setup returns the init binary to use, given the runtime's state dir.
		setup   func(t *testing.T, stateDir string) initBinary
		wantErr bool   // Start must fail
		wantRun string // the container's output
		// installed: the binary must sit at its path afterwards.
		installed bool
	}{
		{
			desc: "berth-init starts the container and loads the precompiled seccomp program",
			setup: func(t *testing.T, stateDir string) initBinary {
				return newInitBinaryFrom(filepath.Join(stateDir, "init"), berthInitBinary(t))
			},
			wantRun:   "Seccomp:\t2\nSeccomp_filters:\t1\n",
			installed: true,
		},
		{
			desc: "a removed binary is reinstalled",
			setup: func(t *testing.T, stateDir string) initBinary {
				b := newInitBinaryFrom(filepath.Join(stateDir, "init"), berthInitBinary(t))
				if p := b.path(); p == "" {
					t.Fatal("not installed")
				} else if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
				return b
			},
			wantRun:   "Seccomp:\t2\nSeccomp_filters:\t1\n",
			installed: true,
		},
		{
			desc: "the installed binary is what runs: one that is no init fails the start",
			setup: func(t *testing.T, stateDir string) initBinary {
				return newInitBinaryFrom(filepath.Join(stateDir, "init"), []byte("#!/bin/sh\nexit 0\n"))
			},
			wantErr:   true,
			installed: true,
		},
		{
			desc: "on a noexec mount the runtime re-executes itself",
			setup: func(t *testing.T, stateDir string) initBinary {
				dir := filepath.Join(stateDir, "init")
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOEXEC, "mode=0700"); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
				b := newInitBinaryFrom(dir, []byte("#!/bin/sh\nexit 0\n"))
				if p := b.path(); p != "" {
					t.Fatalf("path() = %q on a noexec mount, want \"\"", p)
				}
				return b
			},
			wantRun: "Seccomp:\t2\nSeccomp_filters:\t1\n",
		},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			stateDir := t.TempDir()
			r := New(stateDir)
			t.Cleanup(func() { deleteAll(t, r) })
			r.init = tc.setup(t, stateDir)

			id := testID(t)
			var out syncBuffer
			spec := testSpec(t, true, "grep", "^Seccomp", "/proc/self/status")
			p, err := r.Start(context.Background(), id, spec, t.TempDir(), IO{Stdout: &out, Stderr: &out})
			switch {
			case tc.wantErr && err == nil:
				t.Fatal("start succeeded with a binary that is no container init")
			case !tc.wantErr && err != nil:
				t.Fatalf("start: %v", err)
			case err == nil:
				if code, err := p.Wait(); err != nil || code != 0 {
					t.Fatalf("exit %d, %v: %s", code, err, out.String())
				}
				if got := out.String(); got != tc.wantRun {
					t.Errorf("output %q, want %q", got, tc.wantRun)
				}
				if err := r.Delete(id, false); err != nil {
					t.Fatal(err)
				}
			}

			p2 := filepath.Join(r.init.dir, "berth-init-"+r.init.bin.Digest)
			fi, err := os.Stat(p2)
			switch {
			case tc.installed && err != nil:
				t.Fatalf("init binary not installed: %v", err)
			case tc.installed && fi.Mode().Perm() != 0o500:
				t.Errorf("init binary mode %v, want 0500", fi.Mode().Perm())
			case !tc.installed && err == nil:
				t.Errorf("init binary %s left on a noexec mount", p2)
			}
		})
	}
}

// TestDedicatedInitExec checks that exec'd processes also start through
// berth-init.
func TestDedicatedInitExec(t *testing.T) {
	stateDir := t.TempDir()
	r := New(stateDir)
	t.Cleanup(func() { deleteAll(t, r) })
	r.init = newInitBinaryFrom(filepath.Join(stateDir, "init"), berthInitBinary(t))

	id := testID(t)
	p, err := r.Start(context.Background(), id, testSpec(t, true, "sleep", "30"), t.TempDir(), IO{})
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	proc := testSpec(t, true, "grep", "^Seccomp:", "/proc/self/status").Process
	ep, err := r.Exec(context.Background(), id, proc, IO{Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatalf("exec: %v", err)
	}
	if code, err := ep.Wait(); err != nil || code != 0 {
		t.Fatalf("exec exit %d, %v: %s", code, err, out.String())
	}
	if got := strings.TrimSpace(out.String()); got != "Seccomp:\t2" {
		t.Errorf("exec output %q", got)
	}
	// The same check, with an init that cannot work, proves exec used it.
	r.init = newInitBinaryFrom(filepath.Join(stateDir, "init"), []byte("#!/bin/sh\nexit 0\n"))
	if ep, err := r.Exec(context.Background(), id, proc, IO{}); err == nil {
		ep.Wait()
		t.Error("exec succeeded with a binary that is no container init")
	}
	if err := r.Kill(id, unix.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	p.Wait()
}
