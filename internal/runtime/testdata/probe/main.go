// Command probe runs inside test containers: it makes a fixed list of
// system calls that Docker's default seccomp profile treats specially and
// prints "name errno" for each (0 on success), so that tests can compare
// the filter in force under different runtimes. Built static (CGO_ENABLED=0)
// by the tests; not part of berth.
package main

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	// Some probes would act on the host (as root, mount(2) mounts): only
	// ever run as a container's init.
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "probe: refusing to run outside a container (pid != 1)")
		os.Exit(2)
	}
	str := func(s string) uintptr { p, _ := unix.BytePtrFromString(s); return uintptr(unsafe.Pointer(p)) }
	var ioParams [120]byte
	probes := []struct {
		name string
		nr   uintptr
		args [6]uintptr
	}{
		{"getpid", unix.SYS_GETPID, [6]uintptr{}},
		{"keyctl", unix.SYS_KEYCTL, [6]uintptr{unix.KEYCTL_GET_KEYRING_ID, uintptr(0xfffffffd) /* KEY_SPEC_SESSION_KEYRING */, 0}},
		{"add_key", unix.SYS_ADD_KEY, [6]uintptr{str("user"), str("probe"), str("x"), 1, uintptr(0xfffffffd)}},
		{"personality-query", unix.SYS_PERSONALITY, [6]uintptr{0xffffffff}},
		{"personality-linux32", unix.SYS_PERSONALITY, [6]uintptr{0x0008}},
		{"personality-no-randomize", unix.SYS_PERSONALITY, [6]uintptr{0x0040000}},
		{"personality-reset", unix.SYS_PERSONALITY, [6]uintptr{0}},
		{"socket-inet", unix.SYS_SOCKET, [6]uintptr{unix.AF_INET, unix.SOCK_DGRAM, 0}},
		{"socket-packet", unix.SYS_SOCKET, [6]uintptr{unix.AF_PACKET, unix.SOCK_RAW, 0}},
		{"socket-vsock", unix.SYS_SOCKET, [6]uintptr{unix.AF_VSOCK, unix.SOCK_STREAM, 0}},
		{"io_uring_setup", unix.SYS_IO_URING_SETUP, [6]uintptr{1, uintptr(unsafe.Pointer(&ioParams))}},
		{"mount", unix.SYS_MOUNT, [6]uintptr{str("none"), str("/nonexistent-probe-target"), str("tmpfs"), 0, 0}},
		{"clone-newns", unix.SYS_CLONE, [6]uintptr{unix.CLONE_NEWNS | uintptr(syscall.SIGCHLD)}},
		{"bpf", unix.SYS_BPF, [6]uintptr{unix.BPF_MAP_CREATE, 0, 0}},
		{"perf_event_open", unix.SYS_PERF_EVENT_OPEN, [6]uintptr{0, 0, ^uintptr(0), ^uintptr(0), 0}},
		{"userfaultfd", unix.SYS_USERFAULTFD, [6]uintptr{0}},
		{"syslog", unix.SYS_SYSLOG, [6]uintptr{10 /* SIZE_BUFFER */}},
		{"kexec_load", unix.SYS_KEXEC_LOAD, [6]uintptr{0, 1, 0, 0}}, // NULL segments: EFAULT at worst
		{"reboot", unix.SYS_REBOOT, [6]uintptr{0, 0, 0, 0}},         // bad magic: EINVAL at worst
		// Not PTRACE_TRACEME: a traced Go program stops for good at the
		// runtime's next preemption signal.
		{"ptrace-peek-nonexistent", unix.SYS_PTRACE, [6]uintptr{unix.PTRACE_PEEKDATA, 999999, 0, 0}},
		{"unknown-1000", 1000, [6]uintptr{}},
		{"unshare-user", unix.SYS_UNSHARE, [6]uintptr{unix.CLONE_NEWUSER}}, // last: it changes our namespace
	}
	for _, p := range probes {
		r, _, errno := syscall.RawSyscall6(p.nr, p.args[0], p.args[1], p.args[2], p.args[3], p.args[4], p.args[5])
		if p.name == "clone-newns" && errno == 0 && r == 0 {
			os.Exit(0) // the child of a successful clone
		}
		fmt.Printf("%s %d\n", p.name, int(errno))
	}
}
