package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestCrashOwnerKilled kills -9 the process that owns a running container
// (its supervisor, or a foreground `berth run`) and checks that the very
// next command finds out: the record becomes "exited" with 137 (Docker's
// code for SIGKILL, which is what becomes of the orphan), and the
// container's processes, rootfs mount and cgroups are gone by the time that
// command returns.
func TestCrashOwnerKilled(t *testing.T) {
	cases := []struct {
		desc string
		// start runs a container named name and returns its ID and the PID
		// of the process that owns it.
		start func(t *testing.T, e *Env, img, name string) (id string, owner int)
	}{
		{
			desc: "run -d, kill -9 of its supervisor",
			start: func(t *testing.T, e *Env, img, name string) (string, int) {
				id := strings.TrimSpace(e.MustRun("run", "-d", "--name", name, img, "sleep", "100000").Stdout)
				return id, crashSupervisorPID(t, e, id)
			},
		},
		{
			desc: "run -d --restart always, kill -9 of its supervisor: nobody restarts it",
			start: func(t *testing.T, e *Env, img, name string) (string, int) {
				id := strings.TrimSpace(e.MustRun("run", "-d", "--restart", "always", "--name", name, img, "sleep", "100000").Stdout)
				return id, crashSupervisorPID(t, e, id)
			},
		},
		{
			desc: "foreground run, kill -9 of berth run mid-run",
			start: func(t *testing.T, e *Env, img, name string) (string, int) {
				// Our own pipe, not cmd.StdoutPipe: the orphaned container may
				// hold the write end, and Wait must not wait for it.
				pr, pw, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { pr.Close() })
				cmd := e.Cmd(context.Background(), "run", "--name", name, img, "sh", "-c", "echo started; exec sleep 100000")
				cmd.Stdout = pw
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				pw.Close()
				t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
				line := make(chan string, 1)
				go func() {
					s := bufio.NewScanner(pr)
					s.Scan()
					line <- s.Text()
				}()
				select {
				case l := <-line:
					if l != "started" {
						t.Fatalf("foreground run printed %q, want started", l)
					}
				case <-time.After(defaultTimeout):
					t.Fatal("foreground run did not start its container")
				}
				id := strings.TrimSpace(e.MustRun("inspect", "--format", "{{.Id}}", name).Stdout)
				return id, cmd.Process.Pid
			},
		},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			e := newEnv(t)
			img := e.BusyboxImage()
			id, owner := c.start(t, e, img, "crash-owner")
			if s := e.stateOf(t, id); !s.Running || s.Pid <= 0 {
				t.Fatalf("before the kill: state %+v, want running", s)
			}
			ctr := e.stateOf(t, id).Pid
			if err := syscall.Kill(owner, syscall.SIGKILL); err != nil {
				t.Fatalf("kill -9 %d: %v", owner, err)
			}
			if !waitProcsGone([]int{owner}, settle) {
				t.Fatalf("owner %d survived SIGKILL", owner)
			}
			if !procAlive(ctr) {
				t.Fatalf("the container process %d died with its owner; nothing left to reconcile", ctr)
			}

			// The next command, whatever it is, reconciles.
			r := e.MustRun("ps", "-a", "--format", "{{.ID}} {{.Status}}")
			if !strings.HasPrefix(r.Stdout, id[:12]+" Exited (137)") {
				t.Errorf("ps -a after the kill: want %s Exited (137) ...\n%s", id[:12], r)
			}
			if m := mountsUnder(e.Root); len(m) > 0 {
				t.Errorf("mounts left after the reconciling command:\n  %s", strings.Join(m, "\n  "))
			}
			if cgs := e.containerCgroups(id); len(cgs) > 0 {
				t.Errorf("cgroups left after the reconciling command:\n  %s", strings.Join(cgs, "\n  "))
			}
			// SIGKILL is asynchronous: give the kernel a moment to finish
			// the exit, but no more.
			if !waitProcsGone([]int{ctr}, 2*time.Second) {
				t.Errorf("container process %d still alive after the reconciling command", ctr)
			}

			s := e.stateOf(t, id)
			if s.Running || s.Status != "exited" || s.ExitCode != 137 || s.Error == "" {
				t.Errorf("state after reconcile %+v, want exited, 137, with an error saying why", s)
			}
			time.Sleep(500 * time.Millisecond) // a restart, if anything did one, would show by now
			if r := e.MustRun("ps", "-q"); strings.TrimSpace(r.Stdout) != "" {
				t.Errorf("something restarted the container:\n%s", r)
			}
			if r := e.Run("system", "check"); r.Code != 0 {
				t.Errorf("system check after reconcile:\n%s", r)
			}
			e.MustRun("rm", id)
		})
	}
}

// TestCrashImportKilled kills -9 `berth import` of the Debian tar at several
// points of the stream and checks that no partial image is ever listed, that
// `system check` is clean (or made clean by --repair), that the same import
// then works, and that nothing the dead import wrote outlives a prune.
func TestCrashImportKilled(t *testing.T) {
	tar := debianTar(t)
	st, err := os.Stat(tar)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		desc     string
		fraction float64 // of the tar streamed into the content store
	}{
		{"kill -9 at 10% of the tar", 0.10},
		{"kill -9 at 50% of the tar", 0.50},
		{"kill -9 at 90% of the tar", 0.90},
	}
	const ref = "crash-import:latest"
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			e := newEnv(t)
			killWhenIngested(t, e, int64(c.fraction*float64(st.Size())), "import", tar, ref)

			if r := e.MustRun("images", "-a", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"); strings.TrimSpace(r.Stdout) != "" {
				t.Errorf("a killed import left an image listed:\n%s", r)
			}
			if r := e.Run("system", "check"); r.Code != 0 {
				t.Logf("system check after the kill reports problems (allowed if --repair fixes them):\n%s", r)
				e.MustRun("system", "check", "--repair")
				if r := e.Run("system", "check"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "ok" {
					t.Errorf("system check still not clean after --repair:\n%s", r)
				}
			}

			e.MustRun("import", tar, ref)
			if r := e.MustRun("images", "--format", "{{.Repository}}:{{.Tag}}"); strings.TrimSpace(r.Stdout) != ref {
				t.Errorf("after re-import images shows %q, want %q", strings.TrimSpace(r.Stdout), ref)
			}
			if r := e.Run("run", "--rm", ref, "cat", "/etc/debian_version"); r.Code != 0 || !strings.HasPrefix(r.Stdout, "12.") {
				t.Errorf("run from the re-imported image:\n%s", r)
			}
			if r := e.Run("system", "check"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "ok" {
				t.Errorf("system check after re-import:\n%s", r)
			}

			// What the dead import wrote is garbage once nothing needs it.
			e.MustRun("rmi", ref)
			e.MustRun("system", "prune", "-a", "-f")
			if left := storeLeftovers(e.Root); len(left) > 0 {
				t.Errorf("after rmi and system prune -a, the stores still hold:\n  %s", strings.Join(left, "\n  "))
			}
		})
	}
}

// TestCrashConcurrentRuns starts 10 `run --rm` and 10 `run -d` at once,
// then removes the detached ones with 10 concurrent `rm -f`: every command
// must succeed and nothing may be left behind (the env's leak checker runs
// at the end, and the stores are checked here).
func TestCrashConcurrentRuns(t *testing.T) {
	const n = 10
	e := newEnv(t)
	img := e.BusyboxImage()
	t.Cleanup(func() { e.removeAllContainers() })

	rmResults := make([]Result, n)
	dResults := make([]Result, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			rmResults[i] = e.Run("run", "--rm", img, "echo", fmt.Sprintf("rm-%d", i))
		}()
		go func() {
			defer wg.Done()
			dResults[i] = e.Run("run", "-d", "--name", fmt.Sprintf("conc-%d", i), img, "sleep", "100000")
		}()
	}
	wg.Wait()
	var ids []string
	for i := 0; i < n; i++ {
		if r := rmResults[i]; r.Code != 0 || r.Stdout != fmt.Sprintf("rm-%d\n", i) {
			t.Errorf("concurrent run --rm #%d:\n%s", i, r)
		}
		if r := dResults[i]; r.Code != 0 || !idPattern.MatchString(r.Stdout) {
			t.Errorf("concurrent run -d #%d:\n%s", i, r)
		} else {
			ids = append(ids, strings.TrimSpace(r.Stdout))
		}
	}

	r := e.MustRun("ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.State}}")
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(lines) != len(ids) {
		t.Errorf("ps -a lists %d containers, want the %d detached ones (the --rm ones must be gone):\n%s", len(lines), len(ids), r)
	}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 3 || !slices.Contains(ids, f[0]) || f[2] != "running" {
			t.Errorf("unexpected ps -a line %q (want one of the run -d IDs, running)", l)
		}
	}

	rmf := make([]Result, len(ids))
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rmf[i] = e.Run("rm", "-f", id)
		}()
	}
	wg.Wait()
	for i, r := range rmf {
		if r.Code != 0 || strings.TrimSpace(r.Stdout) != ids[i] {
			t.Errorf("concurrent rm -f:\n%s", r)
		}
	}

	if r := e.MustRun("ps", "-aq"); strings.TrimSpace(r.Stdout) != "" {
		t.Errorf("containers left after rm -f:\n%s", r)
	}
	if m := mountsUnder(e.Root); len(m) > 0 {
		t.Errorf("mounts left after rm -f:\n  %s", strings.Join(m, "\n  "))
	}
	if ents, _ := os.ReadDir(filepath.Join(e.Root, "run", "bundles")); len(ents) > 0 {
		t.Errorf("%d bundle(s) left under run/bundles", len(ents))
	}
	if ents, _ := os.ReadDir(filepath.Join(e.Root, "containers")); len(ents) > 0 {
		var names []string
		for _, ent := range ents {
			if !strings.HasPrefix(ent.Name(), ".") { // .names and other store files
				names = append(names, ent.Name())
			}
		}
		if len(names) > 0 {
			t.Errorf("container directories left: %v", names)
		}
	}
	if r := e.Run("system", "check"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "ok" {
		t.Errorf("system check after the concurrent runs:\n%s", r)
	}
}

// ---- helpers shared with boot_test.go ---------------------------------------

// crashState is the part of inspect's .State these tests look at.
type crashState struct {
	Status   string
	Running  bool
	Pid      int
	ExitCode int
	Error    string
}

// stateOf inspects ref's state, failing t if berth cannot.
func (e *Env) stateOf(t *testing.T, ref string) crashState {
	t.Helper()
	r := e.Run("inspect", "--format", "{{json .State}}", ref)
	if r.Code != 0 {
		t.Fatalf("inspect %s:\n%s", ref, r)
	}
	var s crashState
	if err := json.Unmarshal([]byte(r.Stdout), &s); err != nil {
		t.Fatalf("inspect %s: %v\n%s", ref, err, r)
	}
	return s
}

// removeAllContainers is a best-effort rm -f of everything in e's root, for
// t.Cleanup, so the leak checker judges what berth leaves behind after a
// proper removal rather than what the test left running.
func (e *Env) removeAllContainers() {
	ctx, cancel := context.WithTimeout(context.Background(), e.Timeout)
	defer cancel()
	out, err := e.Cmd(ctx, "ps", "-aq").Output()
	if err != nil {
		return
	}
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		_ = e.Cmd(ctx, append([]string{"rm", "-f"}, ids...)...).Run()
	}
}

// crashSupervisorPID finds the `berth --root ROOT __supervise ID` process.
func crashSupervisorPID(t *testing.T, e *Env, id string) int {
	t.Helper()
	want := "__supervise " + id
	for _, p := range e.processesOfRoot() {
		if strings.Contains(p.cmdline, want) {
			return p.pid
		}
	}
	t.Fatalf("no supervisor process for container %s", id)
	return 0
}

// containerCgroups lists the cgroup directories named after container id,
// in every hierarchy.
func (e *Env) containerCgroups(id string) []string {
	var out []string
	for _, cg := range e.cgroupsOfEnv() {
		if strings.Contains(filepath.Base(cg), id) {
			out = append(out, cg)
		}
	}
	return out
}

// procAlive reports whether pid exists and is not a zombie.
func procAlive(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || len(stat) < i+3 || (stat[i+2] != 'Z' && stat[i+2] != 'X')
}

// waitProcsGone waits up to d for every pid to be dead (gone or a zombie that
// nobody on this machine reaps) and reports whether they all are.
func waitProcsGone(pids []int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if !slices.ContainsFunc(pids, procAlive) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// killWhenIngested starts berth args in e's root and kill -9s it once at
// least want bytes have reached the content store's ingest area; a command
// that finishes first (the kill point missed) fails the test.
func killWhenIngested(t *testing.T, e *Env, want int64, args ...string) {
	t.Helper()
	cmd := e.Cmd(context.Background(), args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(defaultTimeout)
	for ingestedBytes(e.Root) < want {
		select {
		case err := <-exited:
			t.Fatalf("%s finished (%v) before %d bytes were ingested; kill point missed\n%s", args[0], err, want, out.String())
		case <-deadline:
			cmd.Process.Kill()
			<-exited
			t.Fatalf("%s did not reach %d bytes ingested", args[0], want)
		case <-time.After(2 * time.Millisecond):
		}
	}
	cmd.Process.Kill()
	<-exited
	t.Logf("killed %s with %d bytes ingested (wanted %d)", args[0], ingestedBytes(e.Root), want)
}

// ingestedBytes is how many bytes sit in the content store's ingest files (the
// blobs being written) under root.
func ingestedBytes(root string) int64 {
	var n int64
	files, _ := filepath.Glob(filepath.Join(root, "content", "ingest", "*", "data"))
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			n += st.Size()
		}
	}
	return n
}

// storeLeftovers lists blobs, unpacked layers, ingests and leases left in
// root's stores.
func storeLeftovers(root string) []string {
	var out []string
	for _, pat := range []string{
		"content/blobs/sha256/*",
		"content/ingest/*",
		"snapshots/[0-9]*",
		"snapshots/new-*",
		"snapshots/rm-*",
		"images/sha256/*",
		"run/leases/*",
	} {
		m, _ := filepath.Glob(filepath.Join(root, pat))
		out = append(out, m...)
	}
	return out
}
