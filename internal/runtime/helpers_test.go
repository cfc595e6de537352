package runtime

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/profiles/seccomp"
	libseccomp "github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Environment variables through which tests re-execute the test binary.
const (
	// envHelper makes the binary run one runtime call and exit, to prove
	// that another process can act on a container (see runHelper).
	envHelper = "BERTH_RUNTIME_TEST_HELPER"
	// envCgroupMode tells the binary it runs in a mount namespace whose
	// /sys/fs/cgroup emulates a pure v1 or v2 machine (TestCgroupModes).
	envCgroupMode = "BERTH_RUNTIME_TEST_CGROUP"
)

// TestMain dispatches the re-executed container init, as runc's
// integration tests do, and the helper modes above.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		Init() // never returns
	}
	if !libseccomp.Enabled {
		// berth ships with seccomp; without it every start with a profile
		// fails (by design), and so would most of these tests.
		fmt.Fprintln(os.Stderr, "internal/runtime tests need cgo and -tags seccomp")
		os.Exit(1)
	}
	if h := os.Getenv(envHelper); h != "" {
		os.Exit(runHelper(h))
	}
	code := m.Run()
	testRootfs.cleanup()
	os.Exit(code)
}

// runHelper performs, from this separate process, one of
//
//	kill <impl> <stateDir> <id>
//	run <stateDir> <rootfs> <0|1|init>   (start, wait and delete `true`
//	                                      without seccomp, with the default
//	                                      profile precompiled, or compiled
//	                                      in the init: for whole-process timing)
func runHelper(h string) int {
	f := strings.Fields(h)
	var err error
	switch {
	case len(f) == 4 && f[0] == "kill":
		var r Runtime
		if r, err = openTestRuntime(f[1], f[2]); err == nil {
			err = r.Kill(f[3], unix.SIGKILL, false)
		}
	case len(f) == 4 && f[0] == "run":
		var spec *specs.Spec
		if spec, err = dockerSpec(f[2], f[3] != "0", "true"); err == nil {
			r := New(f[1])
			r.initCompilesSeccomp = f[3] == "init"
			err = runOnce(r, spec)
		}
	default:
		err = fmt.Errorf("bad helper %q", h)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func runOnce(r Runtime, spec *specs.Spec) error {
	id := fmt.Sprintf("run-%d", os.Getpid())
	p, err := r.Start(context.Background(), id, spec, "/", IO{})
	if err != nil {
		return err
	}
	if code, err := p.Wait(); err != nil || code != 0 {
		return fmt.Errorf("exit %d, %v", code, err)
	}
	return r.Delete(id, false)
}

// rootfs is a busybox-static root filesystem shared by the tests
// (containers do not write to it).
type rootfs struct {
	once sync.Once
	dir  string
	err  error
}

var testRootfs rootfs

func (r *rootfs) path(t testing.TB) string {
	t.Helper()
	r.once.Do(func() { r.dir, r.err = makeRootfs() })
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.dir
}

func (r *rootfs) cleanup() {
	if r.dir != "" {
		os.RemoveAll(r.dir)
	}
}

// makeRootfs builds /bin/busybox plus one symlink per applet, and the
// seccomp probe from testdata.
func makeRootfs() (string, error) {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "berth-runtime-rootfs-")
	if err != nil {
		return "", err
	}
	for _, d := range []string{"bin", "proc", "dev", "sys", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return dir, err
		}
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		return dir, err
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), data, 0o755); err != nil {
		return dir, err
	}
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return dir, err
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet == "busybox" || strings.ContainsAny(applet, "/[") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", applet)); err != nil {
			return dir, err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte("root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"), 0o644); err != nil {
		return dir, err
	}
	// Not executable: for the 126 case.
	if err := os.WriteFile(filepath.Join(dir, "bin/notexec"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		return dir, err
	}
	probe := exec.Command("go", "build", "-o", filepath.Join(dir, "bin/probe"), "./testdata/probe")
	probe.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := probe.CombinedOutput(); err != nil {
		return dir, fmt.Errorf("build probe: %v\n%s", err, out)
	}
	return dir, nil
}

// dockerCaps are Docker's default capabilities.
var dockerCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// testSpec is a Docker-like spec (default capabilities, masked paths,
// namespaces incl. network "none") running args on the test rootfs, with
// Docker's default seccomp profile when withSeccomp is set.
func testSpec(t testing.TB, withSeccomp bool, args ...string) *specs.Spec {
	t.Helper()
	s, err := dockerSpec(testRootfs.path(t), withSeccomp, args...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func dockerSpec(rootfs string, withSeccomp bool, args ...string) (*specs.Spec, error) {
	s := &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: rootfs},
		Hostname: "berth-test",
		Process: &specs.Process{
			Args: args,
			Env:  []string{"PATH=/bin", "HOME=/"},
			Cwd:  "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding: dockerCaps, Effective: dockerCaps, Permitted: dockerCaps,
			},
			Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
		},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace},
				{Type: specs.MountNamespace}, {Type: specs.NetworkNamespace},
			},
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
			MaskedPaths:   []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
	if withSeccomp {
		p, err := seccomp.GetDefaultProfile(s)
		if err != nil {
			return nil, err
		}
		s.Linux.Seccomp = p
	}
	return s, nil
}

var idCounter atomic.Int64

// testID returns a container id unique within this test binary run.
func testID(t testing.TB) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, t.Name())
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	return fmt.Sprintf("t%d-%d-%s", os.Getpid(), idCounter.Add(1), name)
}

// newFunc returns a fresh Runtime value on the same state directory as
// the one under test, as another berth process would make.
type newFunc func() Runtime

// forEachRuntime runs f against every implementation, each on a fresh state
// directory; whatever containers are left when f ends are force-deleted.
// The external one needs a runc binary in $PATH.
func forEachRuntime(t *testing.T, f func(t *testing.T, r Runtime, fresh newFunc)) {
	for _, impl := range []string{"libcontainer", "runc"} {
		t.Run(impl, func(t *testing.T) {
			dir := t.TempDir()
			fresh := func() Runtime {
				r, err := openTestRuntime(impl, dir)
				if err != nil {
					t.Skip(err)
				}
				return r
			}
			r := fresh()
			t.Cleanup(func() { deleteAll(t, r) })
			f(t, r, fresh)
		})
	}
}

func openTestRuntime(impl, dir string) (Runtime, error) {
	if impl == "runc" {
		return NewExternal("runc", dir)
	}
	return New(dir), nil
}

// helperArgs names r for runHelper: "<impl> <stateDir>".
func helperArgs(r Runtime) string {
	switch r := r.(type) {
	case *External:
		return "runc " + filepath.Dir(r.root)
	case *Libcontainer:
		return "libcontainer " + filepath.Dir(r.root)
	}
	panic("unknown runtime")
}

// newTestRuntime returns an in-process runtime on a fresh state directory,
// cleaned up like forEachRuntime's.
func newTestRuntime(t testing.TB) *Libcontainer {
	t.Helper()
	r := New(t.TempDir())
	t.Cleanup(func() { deleteAll(t, r) })
	return r
}

func deleteAll(t testing.TB, r Runtime) {
	ids, err := r.List()
	if err != nil {
		t.Errorf("list: %v", err)
	}
	for _, id := range ids {
		if err := r.Delete(id, true); err != nil {
			t.Errorf("cleanup %s: %v", id, err)
		}
	}
}

// run starts a container, waits for it and deletes it, returning the exit
// code and output.
func run(t testing.TB, r Runtime, spec *specs.Spec, stdin io.Reader) (code int, stdout, stderr string) {
	t.Helper()
	id := testID(t)
	var out, errb bytes.Buffer
	p, err := r.Start(context.Background(), id, spec, t.TempDir(), IO{Stdin: stdin, Stdout: &out, Stderr: &errb})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	// A hung container must fail the test, not stall the suite.
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("container %s still running after 30s: killing it", id)
			_ = r.Kill(id, unix.SIGKILL, true)
		}
	}()
	code, err = p.Wait()
	close(done)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	if err := r.Delete(id, false); err != nil {
		t.Fatalf("delete: %v", err)
	}
	return code, out.String(), errb.String()
}

// cgroupDirs lists the directories a container's cgroup may occupy, in
// every hierarchy mounted under /sys/fs/cgroup.
func cgroupDirs(t testing.TB, id string) []string {
	t.Helper()
	rel := strings.TrimPrefix(cgroupParent, "/") + "/" + id
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return []string{filepath.Join("/sys/fs/cgroup", rel)}
	}
	entries, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		dirs = append(dirs, filepath.Join("/sys/fs/cgroup", e.Name(), rel))
	}
	return dirs
}

// waitFor polls cond until it holds or the timeout expires.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// syncBuffer is a bytes.Buffer safe for a writer goroutine and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
