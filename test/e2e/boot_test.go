package e2e

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBootAfterReboot simulates a reboot under a private root and checks
// what `berth system boot` (run by contrib/systemd/berth.service) does with
// it. A reboot, as far as berth can tell, is: every supervisor and
// container process gone without a word, every mount gone, every cgroup
// gone, and the runtime state directory (ROOT/run, a tmpfs in the default
// layout) empty. Records under ROOT survive and still say "running".
//
// Expectations follow Docker's daemon start-up (daemon.restore): containers
// that were running are reported as exited; those with --restart always,
// and with --restart unless-stopped unless the user had stopped them, are
// started again; --restart no stays down.
func TestBootAfterReboot(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	t.Cleanup(func() { e.removeAllContainers() })

	cases := []struct {
		desc        string
		name        string
		restart     string
		userStopped bool // `berth stop` before the reboot
		wantStarted bool
	}{
		{"--restart always comes back", "boot-always", "always", false, true},
		{"--restart unless-stopped that was running comes back", "boot-unless", "unless-stopped", false, true},
		{"--restart no stays exited", "boot-no", "no", false, false},
		{"--restart unless-stopped stopped by the user stays exited", "boot-stopped", "unless-stopped", true, false},
	}
	ids := map[string]string{} // name → ID
	var wantStarted []string
	for _, c := range cases {
		r := e.MustRun("run", "-d", "--name", c.name, "--restart", c.restart, img, "sleep", "100000")
		ids[c.name] = strings.TrimSpace(r.Stdout)
		if c.wantStarted {
			wantStarted = append(wantStarted, ids[c.name])
		}
	}
	for _, c := range cases {
		if c.userStopped {
			e.MustRun("stop", "-t", "1", c.name)
		}
	}

	e.simulateReboot(t)

	// Records say "running" but nothing runs: every listing must tell the truth.
	r := e.MustRun("ps", "-a", "--format", "{{.Names}}|{{.Status}}")
	status := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		name, st, _ := strings.Cut(line, "|")
		status[name] = st
	}
	for _, c := range cases {
		if !strings.HasPrefix(status[c.name], "Exited (") {
			t.Errorf("%s: after the reboot ps -a shows status %q, want Exited (...)\n%s", c.name, status[c.name], r)
		}
		if s := e.stateOf(t, c.name); s.Running || s.Status != "exited" {
			t.Errorf("%s: after the reboot state is %+v, want exited and not running", c.name, s)
		}
	}
	if r := e.MustRun("ps", "-q"); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("after the reboot ps lists running containers:\n%s", r)
	}

	r = e.MustRun("system", "boot")
	gotStarted := strings.Fields(r.Stdout)
	sort.Strings(gotStarted)
	sort.Strings(wantStarted)
	if !slices.Equal(gotStarted, wantStarted) {
		t.Errorf("system boot started %v, want exactly %v\n%s", gotStarted, wantStarted, r)
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			e := e.For(t)
			s := e.stateOf(t, c.name)
			if s.Running != c.wantStarted {
				t.Fatalf("after system boot: running=%v, want %v (state %+v)", s.Running, c.wantStarted, s)
			}
			if !c.wantStarted {
				if s.Status != "exited" {
					t.Errorf("status %q, want exited", s.Status)
				}
				return
			}
			if s.Pid <= 0 || !procAlive(s.Pid) {
				t.Errorf("recorded as running with pid %d, which does not exist", s.Pid)
			}
			// Really up: a new process can join it.
			if r := e.Run("exec", c.name, "echo", "alive"); r.Code != 0 || r.Stdout != "alive\n" {
				t.Errorf("exec into the restarted container:\n%s", r)
			}
		})
	}

	// Booting twice starts nothing more.
	if r := e.MustRun("system", "boot"); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("a second system boot started containers again:\n%s", r)
	}
	if r := e.Run("system", "check"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "ok" {
		t.Errorf("system check after boot is not clean:\n%s", r)
	}
}

// simulateReboot does to e's root what a reboot does: SIGKILL for every
// supervisor, foreground berth and container process (frozen first, so no
// supervisor sees its container die and restarts it), then every mount under
// the root detached, the container cgroups removed (the kernel forgets them)
// and the runtime state directory ROOT/run wiped (it is a tmpfs by default).
// The records under ROOT are left exactly as the dead processes left them.
func (e *Env) simulateReboot(t *testing.T) {
	t.Helper()
	e.killEverything(t)

	mounts := mountsUnder(e.Root)
	sort.Sort(sort.Reverse(sort.StringSlice(mounts))) // deepest first
	for _, m := range mounts {
		if err := syscall.Unmount(m, 0); err != nil {
			if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
				t.Fatalf("reboot: unmount %s: %v", m, err)
			}
		}
	}

	e.noteIDs("")
	cgs := e.cgroupsOfEnv()
	for i := len(cgs) - 1; i >= 0; i-- { // children sort after parents
		deadline := time.Now().Add(settle)
		for {
			err := os.Remove(cgs[i])
			if err == nil || errors.Is(err, os.ErrNotExist) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("reboot: remove cgroup %s: %v", cgs[i], err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	if err := os.RemoveAll(filepath.Join(e.Root, "run")); err != nil {
		t.Fatalf("reboot: wipe the runtime state directory: %v", err)
	}
	t.Logf("reboot simulated: %d mount(s), %d cgroup(s) and %s/run gone", len(mounts), len(cgs), e.Root)
}

// killEverything freezes and then SIGKILLs every process of e's root (and
// their descendants) until none is left.
func (e *Env) killEverything(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(settle)
	for {
		procs := e.processesOfRoot()
		if len(procs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes of %s survive SIGKILL: %+v", e.Root, procs)
		}
		// Never the host's init or this test's own ancestry: PID 1 lives in
		// another mount namespace and may see the root's mounts through
		// propagation, and its descendants are everything.
		spare := selfAndAncestors()
		var pids []int
		for _, p := range procs {
			if !spare[p.pid] {
				pids = append(pids, p.pid)
			}
		}
		pids = slices.DeleteFunc(withDescendants(pids), func(pid int) bool { return spare[pid] })
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGSTOP)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		waitProcsGone(pids, settle)
	}
}

// selfAndAncestors is this process, its ancestors and PID 1.
func selfAndAncestors() map[int]bool {
	out := map[int]bool{1: true}
	for pid := os.Getpid(); pid > 1 && !out[pid]; {
		out[pid] = true
		stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if err != nil {
			break
		}
		i := bytes.LastIndexByte(stat, ')')
		f := strings.Fields(string(stat[i+1:]))
		if i < 0 || len(f) < 2 {
			break
		}
		if pid, err = strconv.Atoi(f[1]); err != nil {
			break
		}
	}
	return out
}
