//go:build cgo && seccomp

package seccomp

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/seccomp/patchbpf"
)

func testProgramConfig() *configs.Seccomp {
	errno := uint(unix.EXDEV)
	return &configs.Seccomp{
		DefaultAction: configs.Allow,
		Syscalls: []*configs.Syscall{
			{Name: "getcwd", Action: configs.Errno, ErrnoRet: &errno},
		},
	}
}

func TestCompileDeterministic(t *testing.T) {
	// A default-deny multi-arch config gets the -ENOSYS stub with one
	// section per architecture, which used to come out in map order.
	config := &configs.Seccomp{
		DefaultAction: configs.Errno,
		Architectures: []string{"amd64", "x86", "x32", "arm64", "arm"},
		Syscalls: []*configs.Syscall{
			{Name: "read", Action: configs.Allow},
			{Name: "write", Action: configs.Allow},
			{Name: "exit_group", Action: configs.Allow},
		},
	}
	first, err := Compile(config)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Filter) == 0 || len(first.Filter)%8 != 0 {
		t.Fatalf("bad program length %d", len(first.Filter))
	}
	for range 20 {
		again, err := Compile(config)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first.Filter, again.Filter) || first.Flags != again.Flags {
			t.Fatal("two compilations of the same config differ")
		}
	}
}

func TestLoadProgramInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		prog configs.SeccompProgram
	}{
		{"empty", configs.SeccompProgram{}},
		{"partial instruction", configs.SeccompProgram{Filter: make([]byte, 12)}},
		{"too long", configs.SeccompProgram{Filter: make([]byte, 8*(unix.BPF_MAXINSNS+1))}},
		{"unknown flag", configs.SeccompProgram{Filter: make([]byte, 8), Flags: unix.SECCOMP_FILTER_FLAG_TSYNC}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := patchbpf.LoadProgram(&tc.prog); err == nil {
				t.Fatal("expected an error")
			}
		})
	}
}

// TestInitSeccompProgram checks, in a child process (a filter cannot be
// removed), that a config carrying a compiled Program is enforced.
func TestInitSeccompProgram(t *testing.T) {
	if os.Getenv("RUNC_TEST_SECCOMP_PROGRAM") == "1" {
		config := testProgramConfig()
		prog, err := Compile(config)
		if err != nil {
			t.Fatal(err)
		}
		// Prove libseccomp is not consulted: drop the rules, keep the program.
		config.Program, config.Syscalls = prog, nil
		if _, err := InitSeccomp(config); err != nil {
			t.Fatal(err)
		}
		if _, err := unix.Getwd(); !errors.Is(err, unix.EXDEV) {
			t.Fatalf("getcwd: got %v, want EXDEV", err)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestInitSeccompProgram$", "-test.v")
	cmd.Env = append(os.Environ(), "RUNC_TEST_SECCOMP_PROGRAM=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("PASS")) {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
