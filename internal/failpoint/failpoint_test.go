package failpoint

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// TestHit re-runs this test binary as a child with the failpoint armed and
// checks that it died by SIGKILL at the right hit and logged the point.
func TestHit(t *testing.T) {
	if os.Getenv("FAILPOINT_CHILD") != "" {
		for i := 1; i <= 3; i++ {
			Hit("test.other")
			Hit("test.point")
			os.Stdout.WriteString("passed " + string(rune('0'+i)) + "\n")
		}
		return
	}
	cases := []struct {
		desc, arm string
		killed    bool
		out       string // what the child printed before it died
	}{
		{"unarmed", "", false, "passed 1\npassed 2\npassed 3\n"},
		{"first hit", "test.point", true, ""},
		{"third hit", "test.point@3", true, "passed 1\npassed 2\n"},
		{"never reached", "test.nowhere", false, "passed 1\npassed 2\npassed 3\n"},
		{"bad count is a plain name", "test.point@x", false, "passed 1\npassed 2\npassed 3\n"},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			log := t.TempDir() + "/log"
			cmd := exec.Command(os.Args[0], "-test.run", "^TestHit$")
			cmd.Env = append(os.Environ(), "FAILPOINT_CHILD=1", Env+"="+c.arm, LogEnv+"="+log)
			out, err := cmd.Output()
			ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if got := ws.Signaled() && ws.Signal() == syscall.SIGKILL; got != c.killed {
				t.Fatalf("killed by SIGKILL = %v, want %v (err %v)", got, c.killed, err)
			}
			if got := strings.TrimSuffix(string(out), "PASS\n"); !strings.HasPrefix(got, c.out) || (c.killed && got != c.out) {
				t.Errorf("child printed %q, want %q", got, c.out)
			}
			logged, _ := os.ReadFile(log)
			if c.killed != strings.HasPrefix(string(logged), "test.point ") {
				t.Errorf("log %q (killed %v)", logged, c.killed)
			}
		})
	}
}

func BenchmarkHitUnarmed(b *testing.B) {
	for i := 0; i < b.N; i++ {
		Hit("bench.point")
	}
}
