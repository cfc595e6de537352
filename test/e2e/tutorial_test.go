package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTutorial runs `make demo`'s script — Docker's Get Started part 2 end to
// end: build the friendlyhello app through a registry mirror, run it with
// -p, curl it, add Redis on a user network, share the image through a
// password-protected registry — against the binary under test. The script
// checks every answer itself, works in a throwaway root, and fails if berth
// leaves a mount, veth or firewall rule behind.
func TestTutorial(t *testing.T) {
	if testing.Short() {
		t.Skip("the tutorial builds images; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(the.repo, "scripts", "demo.sh"))
	cmd.Env = append(cleanEnviron(), "BERTH_BIN="+the.bin, "DEMO_PORT="+strconv.Itoa(freePort(t)))
	if c := os.Getenv("BERTH_TEST_CACHE"); c != "" {
		cmd.Env = append(cmd.Env, "BERTH_TEST_CACHE="+c)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo.sh: %v\n%s", err, out)
	}
	for _, want := range []string{"Successfully tagged friendlyhello:latest", "<h3>Hello World!</h3>", "<b>Visits:</b> 3", "Login Succeeded"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}
