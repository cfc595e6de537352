package runtime

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// readFilter returns the seccomp filter in force for pid, read back from
// the kernel with PTRACE_SECCOMP_GET_FILTER, as struct sock_filter bytes.
// It also checks that pid has exactly one filter.
func readFilter(t *testing.T, pid int) []byte {
	t.Helper()
	goruntime.LockOSThread() // ptrace ties the tracee to this thread
	defer goruntime.UnlockOSThread()
	if err := unix.PtraceAttach(pid); err != nil {
		t.Fatalf("ptrace attach %d: %v", pid, err)
	}
	defer func() {
		if err := unix.PtraceDetach(pid); err != nil {
			t.Errorf("ptrace detach: %v", err)
		}
	}()
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != nil || !ws.Stopped() {
		t.Fatalf("wait for ptrace stop: %v (%v)", err, ws)
	}
	get := func(index int, buf []unix.SockFilter) (int, error) {
		var p uintptr
		if len(buf) > 0 {
			p = uintptr(unsafe.Pointer(&buf[0]))
		}
		n, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SECCOMP_GET_FILTER, uintptr(pid), uintptr(index), p, 0, 0)
		if errno != 0 {
			return 0, errno
		}
		return int(n), nil
	}
	n, err := get(0, nil)
	if err != nil {
		t.Fatalf("PTRACE_SECCOMP_GET_FILTER: %v", err)
	}
	insns := make([]unix.SockFilter, n)
	if _, err := get(0, insns); err != nil {
		t.Fatalf("PTRACE_SECCOMP_GET_FILTER: %v", err)
	}
	if _, err := get(1, nil); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("a second filter is installed (%v)", err)
	}
	var b []byte
	for _, in := range insns {
		b = binary.NativeEndian.AppendUint16(b, in.Code)
		b = append(b, in.Jt, in.Jf)
		b = binary.NativeEndian.AppendUint32(b, in.K)
	}
	return b
}

// TestSeccompFilterIdentical proves that the precompiled program berth
// hands to the init is, instruction for instruction, the filter stock
// libcontainer would have compiled with libseccomp inside the init.
func TestSeccompFilterIdentical(t *testing.T) {
	pre := newTestRuntime(t)
	inInit := newTestRuntime(t)
	inInit.initCompilesSeccomp = true
	for _, tc := range []struct {
		desc   string
		modify func(s *specs.Spec)
	}{
		{"default profile, Docker's capabilities", func(*specs.Spec) {}},
		{"no_new_privs (filter loaded last)", func(s *specs.Spec) { s.Process.NoNewPrivileges = true }},
		{"non-root user without no_new_privs (loaded before dropping capabilities)", func(s *specs.Spec) {
			s.Process.User = specs.User{UID: 65534, GID: 65534}
		}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			var filters [2][]byte
			for i, r := range []*Libcontainer{pre, inInit} {
				spec := testSpec(t, true, "sleep", "100")
				tc.modify(spec)
				id := testID(t)
				p, err := r.Start(context.Background(), id, spec, t.TempDir(), IO{})
				if err != nil {
					t.Fatal(err)
				}
				filters[i] = readFilter(t, p.Pid())
				if err := r.Delete(id, true); err != nil {
					t.Fatal(err)
				}
				_, _ = p.Wait()
				if i == 0 {
					// And it is the cached program itself.
					config, err := newConfig(id, spec, t.TempDir())
					if err != nil {
						t.Fatal(err)
					}
					prog, _, err := pre.seccomp.program(config.Seccomp)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(prog.Filter, filters[0]) {
						t.Fatal("filter in force differs from the cached program")
					}
				}
			}
			if len(filters[0]) == 0 || !bytes.Equal(filters[0], filters[1]) {
				t.Fatalf("precompiled filter (%d bytes) differs from libseccomp's in init (%d bytes)", len(filters[0]), len(filters[1]))
			}
			t.Logf("%d instructions", len(filters[0])/8)
		})
	}
}

// TestSeccompProbes runs a probe making system calls that Docker's default
// profile treats specially, as container init under four setups, and
// checks that the three with the profile agree (berth's precompiled
// program, libseccomp in the init, the runc binary), and that they differ
// from an unconfined container where the profile matters.
func TestSeccompProbes(t *testing.T) {
	pre := newTestRuntime(t)
	inInit := newTestRuntime(t)
	inInit.initCompilesSeccomp = true
	probe := func(t *testing.T, r Runtime, withSeccomp bool) map[string]string {
		t.Helper()
		code, out, stderr := run(t, r, testSpec(t, withSeccomp, "/bin/probe"), nil)
		if code != 0 {
			t.Fatalf("probe exit %d: %s", code, stderr)
		}
		res := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			name, errno, _ := strings.Cut(line, " ")
			res[name] = errno
		}
		return res
	}
	got := map[string]map[string]string{
		"precompiled":        probe(t, pre, true),
		"libseccomp in init": probe(t, inInit, true),
		"unconfined":         probe(t, pre, false),
	}
	if _, err := exec.LookPath("runc"); err == nil {
		ext, err := NewExternal("runc", t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { deleteAll(t, ext) })
		got["runc binary"] = probe(t, ext, true)
	}
	want := got["precompiled"]
	t.Logf("precompiled: %v", want)
	t.Logf("unconfined:  %v", got["unconfined"])
	for setup, res := range got {
		if setup == "unconfined" {
			continue
		}
		for name, errno := range want {
			if res[name] != errno {
				t.Errorf("%s: %s gave errno %s, precompiled %s", setup, name, res[name], errno)
			}
		}
	}
	// What the profile must do, whatever the capabilities would have done.
	eperm := "1"
	for name, errno := range map[string]string{
		"getpid": "0", "personality-query": "0", "socket-inet": "0",
		"keyctl": eperm, "add_key": eperm, "personality-no-randomize": eperm,
		"socket-vsock": eperm, "io_uring_setup": eperm, "unshare-user": eperm,
	} {
		if want[name] != errno {
			t.Errorf("under the profile %s gave errno %s, want %s", name, want[name], errno)
		}
	}
	differ := 0
	for name, errno := range want {
		if got["unconfined"][name] != errno {
			differ++
		}
	}
	if differ < 5 {
		t.Errorf("only %d probes tell the profile from no filter", differ)
	}
}

// TestSeccompCache checks the on-disk program cache: written on first use,
// reused by another Runtime value, and rebuilt when corrupt.
func TestSeccompCache(t *testing.T) {
	dir := t.TempDir()
	r := New(dir)
	t.Cleanup(func() { deleteAll(t, r) })
	code, _, _ := run(t, r, testSpec(t, true, "true"), nil)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "seccomp", "*.json"))
	if len(files) != 1 {
		t.Fatalf("cache files %v, want one", files)
	}
	cached, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		desc    string
		corrupt bool
	}{
		{"another runtime value reuses the file", false},
		{"a corrupt file is recompiled", true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if tc.corrupt {
				if err := os.WriteFile(files[0], []byte(`{"filter":"AAAA"}`), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			r2 := New(dir)
			if code, _, _ := run(t, r2, testSpec(t, true, "true"), nil); code != 0 {
				t.Fatalf("exit %d", code)
			}
			now, err := os.ReadFile(files[0])
			if err != nil || !bytes.Equal(now, cached) {
				t.Fatalf("cache file changed or unreadable (%v): %.80s", err, now)
			}
		})
	}
	// Another profile is another program.
	spec := testSpec(t, true, "true")
	enosys := uint(unix.ENOSYS)
	spec.Linux.Seccomp.Syscalls = append(spec.Linux.Seccomp.Syscalls, specs.LinuxSyscall{
		Names: []string{"vhangup"}, Action: specs.ActErrno, ErrnoRet: &enosys,
	})
	if code, _, _ := run(t, r, spec, nil); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "seccomp", "*.json")); len(files) != 2 {
		t.Fatalf("cache files %v, want two", files)
	}
}

// TestSeccompKeyCoversEveryField keeps the hand-written cache key honest:
// every field of libcontainer's seccomp types is encoded (a new one fails
// here until key encodes it), and a change to any of them, or a different
// split of the same bytes, is another key.
func TestSeccompKeyCoversEveryField(t *testing.T) {
	fields := func(v any) []string {
		var out []string
		for f := range reflect.TypeOf(v).Fields() {
			out = append(out, f.Name)
		}
		return out
	}
	for _, tc := range []struct {
		v    any
		want []string
	}{
		{configs.Seccomp{}, []string{"DefaultAction", "Architectures", "Flags", "Syscalls", "DefaultErrnoRet", "ListenerPath", "ListenerMetadata", "Program"}},
		{configs.Syscall{}, []string{"Name", "Action", "ErrnoRet", "Args"}},
		{configs.Arg{}, []string{"Index", "Value", "ValueTwo", "Op"}},
	} {
		if got := fields(tc.v); !slices.Equal(got, tc.want) {
			t.Errorf("%T has fields %v; key encodes %v (Program is the output, not an input)", tc.v, got, tc.want)
		}
	}

	one, two := uint(1), uint(2)
	base := func() *configs.Seccomp {
		return &configs.Seccomp{
			DefaultAction: configs.Errno, DefaultErrnoRet: &one,
			Architectures: []string{"amd64", "x86"},
			Flags:         []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_LOG"},
			Syscalls: []*configs.Syscall{
				{Name: "read", Action: configs.Allow},
				{Name: "personality", Action: configs.Allow, Args: []*configs.Arg{{Index: 0, Value: 8, ValueTwo: 0, Op: configs.EqualTo}}},
			},
		}
	}
	c := newSeccompCache(t.TempDir())
	ref := c.key(base())
	if c.key(base()) != ref {
		t.Fatal("the same rules gave two keys")
	}
	for desc, change := range map[string]func(s *configs.Seccomp){
		"default action":      func(s *configs.Seccomp) { s.DefaultAction = configs.Kill },
		"default errno":       func(s *configs.Seccomp) { s.DefaultErrnoRet = &two },
		"no default errno":    func(s *configs.Seccomp) { s.DefaultErrnoRet = nil },
		"architectures split": func(s *configs.Seccomp) { s.Architectures = []string{"amd64x", "86"} },
		"flags":               func(s *configs.Seccomp) { s.Flags = nil },
		"listener path":       func(s *configs.Seccomp) { s.ListenerPath = "/run/l.sock" },
		"listener metadata":   func(s *configs.Seccomp) { s.ListenerMetadata = "m" },
		"syscall name":        func(s *configs.Seccomp) { s.Syscalls[0].Name = "write" },
		"syscall action":      func(s *configs.Seccomp) { s.Syscalls[0].Action = configs.Log },
		"syscall errno":       func(s *configs.Seccomp) { s.Syscalls[0].ErrnoRet = &one },
		"arg index":           func(s *configs.Seccomp) { s.Syscalls[1].Args[0].Index = 1 },
		"arg value":           func(s *configs.Seccomp) { s.Syscalls[1].Args[0].Value = 9 },
		"arg value two":       func(s *configs.Seccomp) { s.Syscalls[1].Args[0].ValueTwo = 1 },
		"arg op":              func(s *configs.Seccomp) { s.Syscalls[1].Args[0].Op = configs.MaskEqualTo },
		"arg moved":           func(s *configs.Seccomp) { s.Syscalls[0].Args, s.Syscalls[1].Args = s.Syscalls[1].Args, nil },
		"rule dropped":        func(s *configs.Seccomp) { s.Syscalls = s.Syscalls[:1] },
	} {
		s := base()
		change(s)
		if c.key(s) == ref {
			t.Errorf("%s: same key as the unchanged rules", desc)
		}
	}
}
