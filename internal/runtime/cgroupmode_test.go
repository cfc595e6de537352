package runtime

import (
	"os"
	"os/exec"
	"testing"

	"github.com/opencontainers/cgroups"
)

// TestCgroupModes reruns the lifecycle tests in a private mount namespace
// whose /sys/fs/cgroup looks like a pure cgroup v1 machine (the unified
// mount removed) or a pure v2 one (cgroup2 mounted over it), so that all three layouts libcontainer supports
// are exercised on this hybrid host. On a v2 host only "v2" applies.
func TestCgroupModes(t *testing.T) {
	if os.Getenv(envCgroupMode) != "" {
		t.Skip("already running in an emulated layout")
	}
	modes := []string{"v1", "v2"}
	if cgroups.IsCgroup2UnifiedMode() {
		t.Skip("host is pure cgroup v2: the main run covers it")
	} else if !cgroups.IsCgroup2HybridMode() {
		modes = []string{"v2"} // the host already is v1
	}
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			// The layout must be in place before the test binary starts:
			// the cgroups fs package probes it at init time.
			setup := map[string]string{
				"v1": "umount -l /sys/fs/cgroup/unified",
				"v2": "mount -t cgroup2 cgroup2 /sys/fs/cgroup",
			}[mode]
			cmd := exec.Command("unshare", "--mount", "--propagation", "private",
				"sh", "-c", setup+` && exec "$0" "$@"`, os.Args[0], "-test.count=1",
				"-test.run=^(TestCgroupLayout|TestExitCodes|TestKilledBySignal|TestExec|TestKillFromOtherProcess|TestPauseResume|TestDeleteRemovesEverything|TestProcessesStatsList)$")
			cmd.Env = append(os.Environ(), envCgroupMode+"="+mode)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			t.Logf("%s", out)
		})
	}
}

// TestCgroupLayout checks that libcontainer sees the layout it is meant to.
func TestCgroupLayout(t *testing.T) {
	unified, hybrid := cgroups.IsCgroup2UnifiedMode(), cgroups.IsCgroup2HybridMode()
	t.Logf("cgroup layout: unified=%v hybrid=%v", unified, hybrid)
	switch os.Getenv(envCgroupMode) {
	case "v1":
		if unified || hybrid {
			t.Fatal("want pure v1")
		}
	case "v2":
		if !unified {
			t.Fatal("want pure v2")
		}
	}
}
