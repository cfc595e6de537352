package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// failpoints is every crash point berth has (internal/failpoint), with the
// command that reaches it. A point missing here is untested; a point here
// that the command does not reach fails the test, so the list cannot rot.
// supervisor marks points reached not by the command itself but by the
// detached container's supervisor or the helpers it runs.
var failpoints = []struct {
	point, op  string
	supervisor bool
}{
	// pull: lease, blob ingest and commit, layer unpack, image record and refs.
	{"pull.after-lease", "pull", false},
	{"content.ingest.after-create", "pull", false},
	{"image.lease.after-create", "pull", false},
	{"content.commit.before-rename", "pull", false},
	{"content.commit.after-rename", "pull", false},
	{"snapshot.apply.before-commit", "pull", false},
	{"snapshot.commit.before-rename", "pull", false},
	{"snapshot.commit.after-rename", "pull", false},
	{"snapshot.apply.before-index", "pull", false},
	{"pull.before-register", "pull", false},
	{"image.record.before-write", "pull", false},
	{"image.record.before-refs", "pull", false},

	// build: sandbox, RUN with its network, layer commit, cache, tag.
	{"build.sandbox.after-lock", "build", false},
	{"snapshot.prepare.before-index", "build", false},
	{"build.sandbox.after-prepare", "build", false},
	{"build.sandbox.after-mount", "build", false},
	{"network.attach.after-veth", "build", false},
	{"network.attach.after-lease", "build", false},
	{"build.run.after-network", "build", false},
	{"build.run.after-start", "build", false},
	{"build.commit.after-unmount", "build", false},
	{"content.commit.before-rename", "build", false},
	{"snapshot.apply.before-index", "build", false},
	{"image.create.before-config", "build", false},
	{"image.record.before-write", "build", false},
	{"build.cache.before-put", "build", false},
	{"build.before-tag", "build", false},
	{"image.tag.before-refs", "build", false},
	{"image.tag.after-refs", "build", false},

	// run (foreground, the command owns the container): record, snapshot,
	// rootfs mount, network lease + veth + DNAT, runtime start, exit.
	{"container.create.after-name", "run", false},
	{"container.create.before-record", "run", false},
	{"create.after-record", "run", false},
	{"snapshot.commit.before-rename", "run", false},
	{"snapshot.prepare.before-index", "run", false},
	{"create.after-snapshot", "run", false},
	{"run.launch.before-mount", "run", false},
	{"run.launch.after-mount", "run", false},
	{"network.attach.after-netns", "run", false},
	{"network.attach.after-veth", "run", false},
	{"network.attach.after-lease", "run", false},
	{"network.attach.after-dnat", "run", false},
	{"run.launch.after-network", "run", false},
	{"run.launch.before-runtime-start", "run", false},
	{"run.launch.after-runtime-start", "run", false},
	{"run.start.before-record", "run", false},
	{"run.finish.before-teardown", "run", false},
	{"teardown.after-runtime-delete", "run", false},
	{"teardown.after-unmount", "run", false},
	{"teardown.before-network", "run", false},
	{"network.detach.after-lease", "run", false},
	{"run.finish.before-record", "run", false},
	{"run.finish.after-record", "run", false},
	{"run.finish.before-delete", "run --rm", false},
	{"container.delete.before-rename", "run --rm", false},
	{"container.delete.after-rename", "run --rm", false},

	// run -d: the supervisor (shim) and its launch helper.
	{"supervisor.start.after-owner", "run -d", true},
	{"network.setup.after-bridge", "run -d (after a reboot)", true},
	{"network.setup.after-filter", "run -d (after a reboot)", true},
	{"network.setup.after-rules", "run -d (after a reboot)", true},
	{"run.launch.after-mount", "run -d", true},
	{"network.attach.after-dnat", "run -d", true},
	{"run.launch.after-runtime-start", "run -d", true},
	{"supervisor.start.after-record", "run -d", true},
	{"supervisor.exit.before-cleanup", "run -d (exits)", true},
	{"teardown.after-unmount", "run -d (exits)", true},
	{"supervisor.exit.before-record", "run -d (exits)", true},
	{"supervisor.exit.before-delete", "run -d --rm (exits)", true},

	// network create: bridge, filter and NAT rules of a user network.
	{"network.setup.after-bridge", "network create", false},
	{"network.setup.after-filter", "network create", false},
	{"network.setup.after-rules", "network create", false},

	// commit: of a stopped container, and of a running one (paused).
	{"image.lease.after-create", "commit", false},
	{"content.commit.after-rename", "commit", false},
	{"snapshot.commit.after-rename", "commit", false},
	{"image.create.before-config", "commit", false},
	{"image.record.before-write", "commit", false},
	{"image.record.before-refs", "commit", false},
	{"commit.after-pause", "commit (running)", false},
	{"commit.after-pause", "commit (running), then stop", false},

	// rm -f of a running container with a published port: teardown
	// (unmount, lease release, rule removal), snapshot, record.
	{"rm.after-mark", "rm -f", false},
	{"teardown.after-runtime-delete", "rm -f", false},
	{"teardown.after-unmount", "rm -f", false},
	{"network.detach.after-lease", "rm -f", false},
	{"network.detach.before-dnat", "rm -f", false},
	{"network.detach.before-netns", "rm -f", false},
	{"snapshot.remove.after-index", "rm -f", false},
	{"snapshot.remove.before-delete", "rm -f", false},
	{"rm.before-delete", "rm -f", false},
	{"container.delete.before-rename", "rm -f", false},
	{"container.delete.after-rename", "rm -f", false},

	// rmi: untag, record delete, then the blobs and layer it freed.
	{"image.remove.after-refs", "rmi", false},
	{"image.gc.before-blob-delete", "rmi", false},
	{"image.gc.before-snapshot-gc", "rmi", false},
	{"snapshot.gc.after-index", "rmi", false},
	{"snapshot.gc.before-delete", "rmi", false},
}

// failpointRounds is how many times each point is crashed in a row, in
// one root: a second crash on top of the repaired first must be just as
// harmless.
const failpointRounds = 2

// fpOp is one operation of the table: setup prepares the root before each
// round, args is the command that crashes, retry runs it again without the
// failpoint (default: args must succeed), verify checks the result.
type fpOp struct {
	setup func(t *testing.T, e *Env, fx *fpFixture)
	// next is the first command after the crash (default: ps -a); it
	// must work before any repair.
	next   func(t *testing.T, e *Env, fx *fpFixture)
	args   func(fx *fpFixture) []string
	retry  func(t *testing.T, e *Env, fx *fpFixture) // default: MustRun(args)
	verify func(t *testing.T, e *Env, fx *fpFixture)
}

// fpFixture is what the ops share: a loopback registry serving a one-layer
// image, a build context, the busybox image.
type fpFixture struct {
	pullRef string
	ctxDir  string
	img     string
}

var fpOps = map[string]fpOp{
	"pull": {
		args: func(fx *fpFixture) []string { return []string{"pull", "-q", fx.pullRef} },
		verify: func(t *testing.T, e *Env, fx *fpFixture) {
			if r := e.MustRun("run", "--rm", fx.pullRef, "echo", "pulled"); r.Stdout != "pulled\n" {
				t.Errorf("run of the pulled image printed %q", r.Stdout)
			}
			e.MustRun("rmi", fx.pullRef)
		},
	},
	"build": {
		args: func(fx *fpFixture) []string { return []string{"build", "-q", "-t", "fp-build:latest", fx.ctxDir} },
		verify: func(t *testing.T, e *Env, fx *fpFixture) {
			if r := e.MustRun("run", "--rm", "fp-build:latest", "cat", "/built", "/f"); r.Stdout != "built\nfile\n" {
				t.Errorf("run of the built image printed %q", r.Stdout)
			}
			e.MustRun("rmi", "fp-build:latest")
		},
	},
	"run": {
		args: func(fx *fpFixture) []string { return []string{"run", "-p", "127.0.0.1::80", fx.img, "echo", "ran"} },
	},
	"run --rm": {
		args: func(fx *fpFixture) []string { return []string{"run", "--rm", fx.img, "echo", "ran"} },
	},
	"run -d": {
		args: func(fx *fpFixture) []string {
			return []string{"run", "-d", "-p", "127.0.0.1::80", fx.img, "sleep", "100000"}
		},
	},
	"run -d (after a reboot)": {
		// The network's bridge and rules are gone, as after a reboot or a
		// firewall flush: the run re-creates them.
		setup: func(t *testing.T, e *Env, fx *fpFixture) {
			e.removeAllContainers()
			removeRootNetwork(e)
		},
		args: func(fx *fpFixture) []string {
			return []string{"run", "-d", "-p", "127.0.0.1::80", fx.img, "sleep", "100000"}
		},
	},
	"network create": {
		setup: func(t *testing.T, e *Env, fx *fpFixture) {
			e.removeAllContainers()
			e.Run("network", "rm", "fp-net")
		},
		args: func(fx *fpFixture) []string { return []string{"network", "create", "fp-net"} },
		retry: func(t *testing.T, e *Env, fx *fpFixture) {
			// The record is written before the bridge: after a crash the
			// network exists, and its first use completes it.
			if r := e.Run("network", "create", "fp-net"); r.Code != 0 && !strings.Contains(r.Stderr, "already exists") {
				t.Errorf("network create again:\n%s", r)
			}
			// A live container on it, so the check that follows looks at
			// the network's bridge and rules.
			e.MustRun("run", "-d", "--network", "fp-net", "-p", "127.0.0.1::80", fx.img, "sleep", "100000")
		},
	},
	"run -d (exits)": {
		args: func(fx *fpFixture) []string { return []string{"run", "-d", fx.img, "true"} },
	},
	"run -d --rm (exits)": {
		args: func(fx *fpFixture) []string { return []string{"run", "-d", "--rm", fx.img, "true"} },
	},
	"commit": {
		setup: func(t *testing.T, e *Env, fx *fpFixture) {
			e.Run("rm", "-f", "fp-src")
			// A new layer each round: a commit of identical content
			// reuses the stored layer and reaches fewer points.
			e.MustRun("run", "--name", "fp-src", fx.img, "sh", "-c", "echo committed > /c; cat /proc/sys/kernel/random/uuid > /n")
		},
		args: func(fx *fpFixture) []string { return []string{"commit", "fp-src", "fp-commit:latest"} },
		verify: func(t *testing.T, e *Env, fx *fpFixture) {
			if r := e.MustRun("run", "--rm", "fp-commit:latest", "cat", "/c"); r.Stdout != "committed\n" {
				t.Errorf("run of the committed image printed %q", r.Stdout)
			}
		},
	},
	"commit (running)": {
		setup:  runCommitSource,
		args:   func(fx *fpFixture) []string { return []string{"commit", "fp-src", "fp-commit:latest"} },
		verify: checkCommitSource,
	},
	"commit (running), then stop": {
		setup: runCommitSource,
		next: func(t *testing.T, e *Env, fx *fpFixture) {
			// The dead commit left the container frozen: stop must still
			// stop it (a frozen process handles no signal).
			e.MustRun("stop", "-t", "1", "fp-src")
			e.MustRun("start", "fp-src")
		},
		args:   func(fx *fpFixture) []string { return []string{"commit", "fp-src", "fp-commit:latest"} },
		verify: checkCommitSource,
	},
	"rm -f": {
		setup: func(t *testing.T, e *Env, fx *fpFixture) {
			e.MustRun("run", "-d", "--name", "fp-rm", "-p", "127.0.0.1::80", fx.img, "sleep", "100000")
		},
		args: func(fx *fpFixture) []string { return []string{"rm", "-f", "fp-rm"} },
		retry: func(t *testing.T, e *Env, fx *fpFixture) {
			// A crash after the record's removal committed leaves nothing
			// to remove: "No such container" is the right answer then.
			if r := e.Run("rm", "-f", "fp-rm"); r.Code != 0 && !strings.Contains(r.Stderr, "No such container") {
				t.Errorf("rm -f again:\n%s", r)
			}
			if r := e.MustRun("ps", "-aq"); strings.TrimSpace(r.Stdout) != "" {
				t.Errorf("rm -f left containers: %q", r.Stdout)
			}
		},
	},
	"rmi": {
		setup: func(t *testing.T, e *Env, fx *fpFixture) {
			e.MustRun("run", "--name", "fp-src", fx.img, "sh", "-c", "cat /proc/sys/kernel/random/uuid > /g")
			e.MustRun("commit", "fp-src", "fp-rmi:latest")
			e.MustRun("rm", "fp-src")
		},
		args: func(fx *fpFixture) []string { return []string{"rmi", "fp-rmi:latest"} },
		retry: func(t *testing.T, e *Env, fx *fpFixture) {
			if r := e.Run("rmi", "fp-rmi:latest"); r.Code != 0 && !strings.Contains(r.Stderr, "No such image") {
				t.Errorf("rmi again:\n%s", r)
			}
			// A crash between untag and delete leaves the image dangling
			// (never a name without its image): prune's to take.
			e.MustRun("image", "prune", "-f")
			if r := e.MustRun("images", "-aq"); len(strings.Fields(r.Stdout)) != 1 {
				t.Errorf("after rmi, images -a lists %q; want only the busybox image", r.Stdout)
			}
		},
	},
}

// runCommitSource runs the container a running commit takes.
func runCommitSource(t *testing.T, e *Env, fx *fpFixture) {
	e.Run("rm", "-f", "fp-src")
	e.MustRun("run", "-d", "--name", "fp-src", fx.img, "sh", "-c", "echo committed > /c; cat /proc/sys/kernel/random/uuid > /n; exec sleep 100000")
}

// checkCommitSource checks that the committed container runs, unfrozen.
func checkCommitSource(t *testing.T, e *Env, fx *fpFixture) {
	if s := e.stateOf(t, "fp-src"); !s.Running || s.Status != "running" {
		t.Errorf("the committed container after the crash and repair: %+v, want running (not paused)", s)
	}
	// Its processes must not stay frozen: exec needs them to run.
	if r := e.MustRun("exec", "fp-src", "cat", "/c"); r.Stdout != "committed\n" {
		t.Errorf("exec in the committed container printed %q", r.Stdout)
	}
}

// TestFailpointCrash crashes berth (kill -9 from inside, see
// internal/failpoint) at every point of the table, failpointRounds times
// in a row, and checks after each crash that the next command works,
// that `system check` is clean or made clean by `system check --repair`,
// that the same operation then succeeds, and that once the root's
// containers are removed nothing is left: mounts, processes, cgroups
// (the env's leak check), veths, leases, DNAT rules and namespaces.
func TestFailpointCrash(t *testing.T) {
	start := time.Now()
	var faults atomic.Int64
	fx := &fpFixture{img: BusyboxRef}

	fake := startFakeRegistry(t)
	fake.addImage("fp/img", "latest", makeTestImage(t, 0))
	fx.pullRef = fake.Host() + "/fp/img:latest"

	fx.ctxDir = t.TempDir()
	writeFile(t, filepath.Join(fx.ctxDir, "Dockerfile"), "FROM "+BusyboxRef+"\nRUN echo built > /built\nCOPY f /f\n")
	writeFile(t, filepath.Join(fx.ctxDir, "f"), "file\n")

	points := map[string]bool{}
	t.Cleanup(func() {
		t.Logf("%d failpoints, %d table rows, %d faults injected, in %v", len(points), len(failpoints), faults.Load(), time.Since(start).Round(time.Second))
	})
	for _, c := range failpoints {
		points[c.point] = true
		op, ok := fpOps[c.op]
		if !ok {
			t.Fatalf("failpoint %s: no op %q", c.point, c.op)
		}
		t.Run(c.op+"/"+c.point, func(t *testing.T) {
			// Each row has its own root, so rows run side by side (as
			// many as -parallel allows): most of a row's time is spent
			// waiting for fsyncs and processes, not on the CPU.
			t.Parallel()
			e := newEnv(t)
			e.BusyboxImage()
			log := filepath.Join(t.TempDir(), "failpoints")
			t.Cleanup(func() { e.removeAllContainers() })
			for round := 1; round <= failpointRounds; round++ {
				if op.setup != nil {
					op.setup(t, e, fx)
				}
				crashAt(t, e, c.point, c.supervisor, log, round, op.args(fx))
				faults.Add(1)
				if op.next != nil {
					op.next(t, e, fx)
				} else {
					e.MustRun("ps", "-a") // the next command works (and reconciles)
				}
				checkRepairs(t, e)
				if op.retry != nil {
					op.retry(t, e, fx)
				} else {
					e.MustRun(op.args(fx)...)
				}
				if op.verify != nil {
					op.verify(t, e, fx)
				}
				if r := e.Run("system", "check"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "ok" {
					t.Errorf("round %d: system check after the retried operation:\n%s", round, r)
				}
				if t.Failed() {
					break
				}
			}
			e.removeAllContainers()
			if r := e.Run("system", "check"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "ok" {
				t.Errorf("system check after removing every container:\n%s", r)
			}
			waitCounts(e, netCounts{})
			// And reset takes the root's bridge and rules with it.
			bridges := rootBridges(e)
			e.MustRun("system", "reset", "-f")
			if left := rootNetworkLeft(e, bridges); len(left) > 0 {
				t.Errorf("after system reset:\n  %s", strings.Join(left, "\n  "))
			}
		})
	}
}

// rootNetworkLeft lists the kernel objects of e's root that exist: its
// bridges, veths on them, its nftables table and iptables chains.
func rootNetworkLeft(e *Env, bridges []string) []string {
	var left []string
	tag := rootTag(e.Root)
	for _, b := range append(bridges, "berth"+tag) {
		if exec.Command("ip", "link", "show", b).Run() == nil {
			left = append(left, "bridge "+b)
		}
		if out, _ := exec.Command("ip", "-o", "link", "show", "master", b).Output(); len(out) > 0 {
			left = append(left, "veths on "+b+": "+string(out))
		}
	}
	if exec.Command("nft", "list", "table", "ip", "berth-"+tag).Run() == nil {
		left = append(left, "nftables table berth-"+tag)
	}
	if out, _ := exec.Command("iptables", "-w", "-S").Output(); strings.Contains(string(out), "BERTH-"+tag) {
		left = append(left, "iptables chains BERTH-"+tag)
	}
	return left
}

// crashAt runs berth args with failpoint point armed and checks that it
// was reached: the command died by SIGKILL at that point or, for a
// supervisor point, the supervisor (or its helper) logged it and died.
func crashAt(t *testing.T, e *Env, point string, supervisor bool, log string, round int, args []string) {
	t.Helper()
	os.Remove(log)
	ctx, cancel := context.WithTimeout(context.Background(), e.Timeout)
	defer cancel()
	cmd := e.Cmd(ctx, args...)
	cmd.Env = append(cmd.Env, "BERTH_FAILPOINT="+point, "BERTH_FAILPOINT_LOG="+log)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	killed := errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled() && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL
	e.noteIDs(out.String())
	if !supervisor && !killed {
		t.Fatalf("round %d: berth %s with failpoint %s: not killed (%v), so the point was never reached:\n%s",
			round, strings.Join(args, " "), point, err, out.String())
	}
	// The log proves which point fired and in which process; a supervisor
	// point may fire after the command returned (when its container exits
	// at once), but not much later.
	deadline := time.Now().Add(15 * time.Second)
	for {
		data, _ := os.ReadFile(log)
		if f := strings.Fields(string(data)); len(f) == 2 && f[0] == point {
			pid, _ := strconv.Atoi(f[1])
			if !waitProcsGone([]int{pid}, settle) {
				t.Fatalf("round %d: process %d that hit %s is still alive", round, pid, point)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("round %d: berth %s: failpoint %s never reached (log %q, exit %v):\n%s",
				round, strings.Join(args, " "), point, data, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("round %d: berth %s crashed at %s", round, strings.Join(args, " "), point)
}

// checkRepairs runs `system check`; if it reports problems, --repair must
// fix them all.
func checkRepairs(t *testing.T, e *Env) {
	t.Helper()
	r := e.Run("system", "check")
	if r.Code == 0 && strings.TrimSpace(r.Stdout) == "ok" {
		return
	}
	t.Logf("system check after the crash:\n%s", r.Stdout)
	e.MustRun("system", "check", "--repair")
	if r := e.Run("system", "check"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "ok" {
		t.Errorf("system check still not clean after --repair:\n%s", r)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(fmt.Errorf("write %s: %w", path, err))
	}
}

// TestFailpointTable checks that every failpoint.Hit in berth's source is in
// the table above (and every table entry is in the source).
func TestFailpointTable(t *testing.T) {
	inSource := map[string]bool{}
	re := regexp.MustCompile(`failpoint\.Hit\("([^"]+)"\)`)
	err := filepath.WalkDir(filepath.Join(the.repo, "internal"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") ||
			strings.Contains(path, "/failpoint/") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllStringSubmatch(string(data), -1) {
			inSource[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	inTable := map[string]bool{}
	for _, c := range failpoints {
		inTable[c.point] = true
		if !inSource[c.point] {
			t.Errorf("failpoint %s is in the table but not in the source", c.point)
		}
	}
	for p := range inSource {
		if !inTable[p] {
			t.Errorf("failpoint %s is in the source but not in the table: add the command that reaches it", p)
		}
	}
	if len(inSource) == 0 {
		t.Fatal("no failpoints found in the source")
	}
}

// TestSystemCheckNetwork breaks a running container's network state the
// way an admin's flush or a crashed berth would, and checks that `system
// check` names each problem and `system check --repair` fixes it: the
// published port answers again.
func TestSystemCheckNetwork(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	t.Cleanup(e.removeAllContainers)
	port := freePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	id := strings.TrimSpace(e.MustRun("run", "-d", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), img,
		"sh", "-c", "mkdir /w && echo check-ok > /w/index.html && exec httpd -f -p 80 -h /w").Stdout)
	serves := func(when string) {
		t.Helper()
		var out string
		var err error
		for i := 0; i < 50; i++ {
			if out, err = httpGet(url); err == nil && strings.TrimSpace(out) == "check-ok" {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s: GET %s: %v %q", when, url, err, out)
	}
	serves("before")
	if r := e.Run("system", "check"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "ok" {
		t.Fatalf("system check of a healthy root:\n%s", r)
	}
	table := "berth-" + rootTag(e.Root)
	var bridge, netFile string
	files, _ := filepath.Glob(filepath.Join(e.Root, "networks", "*.json"))
	for _, f := range files {
		if data, _ := os.ReadFile(f); strings.Contains(string(data), `"Name":"bridge"`) {
			netFile = f
		}
	}
	for _, n := range netRecords(e) {
		if n.Name == "bridge" {
			bridge = n.Bridge
		}
	}
	if bridge == "" || netFile == "" {
		t.Fatalf("no record of the default network under %s", e.Root)
	}
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	cases := []struct {
		desc   string
		damage func()
		want   string // in system check's report
	}{
		{"DNAT rule deleted", func() {
			out, _ := exec.Command("nft", "-a", "list", "chain", "ip", table, "ports").Output()
			for _, l := range strings.Split(string(out), "\n") {
				if i := strings.Index(l, "# handle "); i >= 0 && strings.Contains(l, "dnat to") {
					sh("nft", "delete", "rule", "ip", table, "ports", "handle", strings.TrimSpace(l[i+len("# handle "):]))
				}
			}
		}, "1 published port(s) but 0 port rule(s)"},
		{"filter rule deleted", func() {
			sh("iptables", "-w", "-D", "BERTH-"+rootTag(e.Root)+"-IN", "-o", bridge, "-m", "conntrack", "--ctstate", "DNAT", "-j", "ACCEPT")
		}, "filter rule missing"},
		{"nftables table deleted", func() { sh("nft", "delete", "table", "ip", table) }, "NAT rules missing"},
	}
	for _, c := range cases {
		c.damage()
		r := e.Run("system", "check")
		if r.Code == 0 || !strings.Contains(r.Stdout, c.want) {
			t.Errorf("%s: system check does not say %q:\n%s", c.desc, c.want, r)
		}
		e.MustRun("system", "check", "--repair")
		if r := e.Run("system", "check"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "ok" {
			t.Errorf("%s: system check after --repair:\n%s", c.desc, r)
		}
		serves(c.desc + ", after --repair")
	}

	// Two live containers given one address (a lease file edited or
	// corrupted): reported; not repairable without stopping one.
	other := strings.TrimSpace(e.MustRun("run", "-d", img, "sleep", "100000").Stdout)
	data, err := os.ReadFile(netFile)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	eps := rec["Endpoints"].(map[string]any)
	eps[other].(map[string]any)["IPv4Address"] = eps[id].(map[string]any)["IPv4Address"]
	data, _ = json.Marshal(rec)
	if err := os.WriteFile(netFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := e.Run("system", "check"); r.Code == 0 || !strings.Contains(r.Stdout, "leased twice") {
		t.Errorf("duplicate address: system check does not say so:\n%s", r)
	}
	e.MustRun("rm", "-f", other)
	if r := e.Run("system", "check"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "ok" {
		t.Errorf("system check after removing the duplicate:\n%s", r)
	}
	e.MustRun("rm", "-f", id)
	if r := e.Run("system", "check"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "ok" {
		t.Errorf("system check after rm -f:\n%s", r)
	}
	waitCounts(e, netCounts{})
}
