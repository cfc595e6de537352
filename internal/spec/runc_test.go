package spec

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	runcPath    = "/usr/bin/runc"
	busyboxPath = "/bin/busybox"
)

// newBusyboxRootfs builds a minimal rootfs: a static busybox with the
// applets the tests use, and /etc/passwd and /etc/group.
func newBusyboxRootfs(t *testing.T, dir string) string {
	t.Helper()
	root := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "etc", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(busyboxPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, applet := range []string{"sh", "hostname", "id", "cat", "touch", "grep", "echo", "env"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(root, "etc/passwd"), testPasswd)
	writeFile(t, filepath.Join(root, "etc/group"), testGroup)
	return root
}

type runcCase struct {
	desc     string
	edit     func(o *Options, bundle string)
	script   string
	exitCode int
	stdout   string
}

// TestRuncRun runs Debian's runc on bundles made from generated specs and
// checks exit codes and output: the spec must work unchanged with an
// external runtime.
func TestRuncRun(t *testing.T) {
	if _, err := os.Stat(runcPath); err != nil {
		t.Skipf("%s not installed", runcPath)
	}
	if _, err := os.Stat(busyboxPath); err != nil {
		t.Skipf("%s not installed (busybox-static)", busyboxPath)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	stateDir := t.TempDir()
	cgroupParent := "berth-spec-test-" + randomID(t)
	t.Cleanup(func() { removeCgroupParent(t, cgroupParent) })

	tests := []runcCase{
		{
			desc:     "hostname and exit code",
			script:   "hostname; exit 3",
			exitCode: 3,
			stdout:   "berthtest\n",
		},
		{
			desc: "user, groups, env and hosts file",
			edit: func(o *Options, bundle string) {
				o.Process.User = "alice"
				o.Mounts.HostsPath = filepath.Join(bundle, "hosts")
			},
			script: `id -u; id -G; echo "$HOME $HOSTNAME"; cat /etc/hosts`,
			// The kernel sorts supplementary groups.
			stdout: "1000\n1000 50 100\n/home/alice berthtest\n127.0.0.1 localhost berthtest\n",
		},
		{
			desc: "read-only rootfs with a writable tmpfs, limits and --init",
			edit: func(o *Options, bundle string) {
				o.Mounts.ReadonlyRootfs = true
				o.Mounts.Tmpfs = map[string]string{"/tmp": "size=1m"}
				o.Resources = Resources{Memory: 32 << 20, PidsLimit: 64, NanoCPUs: 5e8}
				// A stand-in init with docker-init's calling convention
				// (`docker-init -- cmd...`); berth's real one is its own binary.
				o.Process.InitBinary = filepath.Join(bundle, "fake-init")
				writeFile(t, o.Process.InitBinary, "#!/bin/sh\n[ \"$1\" = -- ] && shift\necho \"init pid $$\"\nexec \"$@\"\n")
				if err := os.Chmod(o.Process.InitBinary, 0o755); err != nil {
					t.Fatal(err)
				}
			},
			script:   `touch /tmp/ok && ! touch /ok 2>/dev/null && echo ro-ok`,
			exitCode: 0,
			stdout:   "init pid 1\nro-ok\n",
		},
		{
			desc:   "default capabilities and seccomp in effect",
			script: `grep -E '^(CapEff|Seccomp):' /proc/self/status`,
			stdout: "CapEff:\t00000000a80425fb\nSeccomp:\t2\n",
		},
	}
	tests = append(tests, runcCase{
		// Docker fails here on hosts whose bounding set lacks a capability
		// (this one lacks CAP_SYS_RESOURCE); berth grants what the host has.
		desc:   "privileged gets the host bounding set, no seccomp, all devices",
		edit:   func(o *Options, bundle string) { o.Security.Privileged = true },
		script: `grep -E '^(CapEff|Seccomp):' /proc/self/status; [ -c /dev/` + someHostDevice(t) + ` ] && echo dev-ok`,
		stdout: "CapEff:\t" + hostCapBnd(t) + "\nSeccomp:\t0\ndev-ok\n",
	})
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			bundle := t.TempDir()
			o := Options{
				Rootfs:      newBusyboxRootfs(t, bundle),
				CgroupsPath: cgroupParent + "/" + randomID(t),
				Process:     Process{Args: []string{"/bin/sh", "-c", tc.script}},
				Network:     Network{Mode: "none", Hostname: "berthtest"},
			}
			writeFile(t, filepath.Join(bundle, "hosts"), "127.0.0.1 localhost berthtest\n")
			if tc.edit != nil {
				tc.edit(&o, bundle)
			}
			s := mustGenerate(t, o)
			data, err := json.MarshalIndent(s, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644); err != nil {
				t.Fatal(err)
			}
			id := "berth-spec-" + randomID(t)
			t.Cleanup(func() {
				// runc run removes the container when it exits; this only
				// matters if the test died midway.
				exec.Command(runcPath, "--root", stateDir, "delete", "--force", id).Run()
			})
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(runcPath, "--root", stateDir, "run", "--bundle", bundle, id)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("runc run timed out; stderr: %s", stderr.String())
			}
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.exitCode || stdout.String() != tc.stdout {
				t.Fatalf("exit %d stdout %q, want %d %q; stderr: %s", code, stdout.String(), tc.exitCode, tc.stdout, strings.TrimSpace(stderr.String()))
			}
		})
	}
}

func randomID(t *testing.T) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// removeCgroupParent removes the parent cgroup directories runc created for
// the relative cgroupsPath (runc removes only the container's own leaf). On
// cgroup v1 a relative path is placed under this process's cgroup in each
// hierarchy, so look there as well as at each hierarchy's root.
func removeCgroupParent(t *testing.T, name string) {
	var dirs []string
	roots, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", name))
	dirs = append(dirs, roots...)
	if m, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(m)), "\n") {
			parts := strings.SplitN(line, ":", 3)
			if len(parts) == 3 && parts[2] != "/" {
				nested, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", parts[2], name))
				dirs = append(dirs, nested...)
			}
		}
	}
	dirs = append(dirs, filepath.Join("/sys/fs/cgroup", name)) // cgroup v2
	for _, d := range dirs {
		if err := os.Remove(d); err != nil && !os.IsNotExist(err) {
			t.Errorf("remove cgroup %s: %v", d, err)
		}
	}
}

// hostCapBnd returns this process's CapBnd mask as /proc prints it.
func hostCapBnd(t *testing.T) string {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatal("no CapBnd")
	return ""
}

// someHostDevice names a host device node that is not among the defaults
// every container gets, to show --privileged passes host devices through.
func someHostDevice(t *testing.T) string {
	for _, d := range []string{"kmsg", "mem", "loop0", "vda", "ttyS0", "fuse"} {
		if fi, err := os.Lstat("/dev/" + d); err == nil && fi.Mode()&os.ModeDevice != 0 {
			return d
		}
	}
	t.Skip("no well-known host device found")
	return ""
}
