package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRunRmWaitsForNoDisk pins a design decision: a --rm container is
// removed anyway if the machine crashes, so `run --rm` writes its records
// without fsyncs (eleven of them used to be a tenth of its time), while a
// container that outlives the command still gets durable records. The
// leftovers a power loss may then leave are TestPowerLossLeftovers'.
func TestRunRmWaitsForNoDisk(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		t.Fatal("strace is needed (scripts/deps.sh installs it)")
	}
	e := newEnv(t)
	img := e.BusyboxImage()
	e.MustRun("run", "--rm", "--network", "none", img, "true") // one-time caches (seccomp program, init binary)

	fsyncs := func(args ...string) int {
		t.Helper()
		log := filepath.Join(t.TempDir(), "strace")
		cmd := exec.Command("strace", append([]string{"-f", "-qq", "-o", log, "-e", "trace=fsync,fdatasync,syncfs,sync_file_range,sync",
			the.bin, "--root", e.Root}, args...)...)
		cmd.Env = append(cleanEnviron(), CgroupParentEnv+"="+e.cgroupParent)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("berth %v under strace: %v\n%s", args, err, out)
		}
		data, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		return len(regexp.MustCompile(`(?m)^\d+\s+(fsync|fdatasync|syncfs|sync_file_range|sync)\(`).FindAll(data, -1))
	}
	if n := fsyncs("run", "--rm", "--network", "none", img, "true"); n != 0 {
		t.Errorf("run --rm issued %d fsyncs, want none", n)
	}
	name := e.Name("durable")
	e.RemoveOnCleanup(name)
	if n := fsyncs("create", "--name", name, "--network", "none", img, "true"); n == 0 {
		t.Errorf("create (no --rm) issued no fsync: its record would not survive a power loss")
	}
}

// TestPowerLossLeftovers plays what a power loss can leave of a --rm
// container's records, which do not wait for the disk (on ext4 without a
// journal a record can come back empty, or not at all), and checks that
// listings still work and that `system check` reports each leftover and
// `--repair` clears it.
func TestPowerLossLeftovers(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	create := func(t *testing.T, name string) string {
		t.Helper()
		e := e.For(t)
		id := strings.TrimSpace(e.MustRun("create", "--rm", "--name", name, "--network", "none", img, "true").Stdout)
		if !idPattern.MatchString(id) {
			t.Fatalf("create printed %q", id)
		}
		e.noteIDs(id)
		return id
	}
	repairs := func(t *testing.T, want string) {
		t.Helper()
		e := e.For(t)
		r := e.Run("system", "check")
		if r.Code != 1 || !strings.Contains(r.Stdout, want) {
			t.Fatalf("system check: want exit 1 reporting %q:\n%s", want, r)
		}
		e.MustRun("system", "check", "--repair")
		if r := e.Run("system", "check"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "ok" {
			t.Fatalf("system check after --repair:\n%s", r)
		}
	}
	truncate := func(t *testing.T, p string) {
		t.Helper()
		if err := os.Truncate(p, 0); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("empty container record", func(t *testing.T) {
		e := e.For(t)
		name := e.Name("pl")
		id := create(t, name)
		truncate(t, filepath.Join(e.Root, "containers", id, "container.json"))
		if r := e.MustRun("ps", "-a", "-q", "--no-trunc"); strings.Contains(r.Stdout, id) {
			t.Errorf("ps -a lists a container whose record is empty:\n%s", r)
		}
		repairs(t, "unreadable record")
		if _, err := os.Stat(filepath.Join(e.Root, "containers", id)); !os.IsNotExist(err) {
			t.Errorf("container dir still there after --repair: %v", err)
		}
		e.MustRun("rm", create(t, name)) // its name is free again
	})

	t.Run("container record lost, writable layer kept", func(t *testing.T) {
		e := e.For(t)
		id := create(t, e.Name("pl"))
		if err := os.RemoveAll(filepath.Join(e.Root, "containers", id)); err != nil {
			t.Fatal(err)
		}
		repairs(t, "writable layer without a container")
		if idx, err := os.ReadFile(filepath.Join(e.Root, "snapshots", "index.json")); err != nil || strings.Contains(string(idx), id) {
			t.Errorf("the snapshot index still names the layer after --repair (%v):\n%s", err, idx)
		}
	})

	t.Run("empty snapshot index", func(t *testing.T) {
		e := e.For(t)
		id := create(t, e.Name("pl"))
		truncate(t, filepath.Join(e.Root, "snapshots", "index.json"))
		if r := e.Run("system", "check"); r.Code != 1 || !strings.Contains(r.Stdout, "corrupt record") {
			t.Errorf("system check with an empty index: want exit 1 reporting it:\n%s", r)
		}
		// Every command goes on: the index is rebuilt from the meta files
		// of the image's layers. The --rm container's own layer, which has
		// none, is forgotten with it: the container is removed, as it would
		// be after any crash of the machine.
		if r := e.MustRun("run", "--rm", "--network", "none", img, "echo", "alive"); strings.TrimSpace(r.Stdout) != "alive" {
			t.Errorf("run --rm after losing the index:\n%s", r)
		}
		repairs(t, "rootfs snapshot missing")
		if r := e.Run("inspect", id); r.Code == 0 {
			t.Errorf("the --rm container whose layer was lost is still there after --repair:\n%s", r)
		}
	})
}
