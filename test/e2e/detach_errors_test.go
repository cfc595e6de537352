package e2e

import (
	"strings"
	"testing"
)

// TestRunDetachedCommandErrors: a detached run whose command cannot start
// fails like a foreground one — Docker's 127 (not found) and 126 (not
// executable) — although the start happens in the supervisor, and the
// container records that code.
func TestRunDetachedCommandErrors(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	for _, tc := range []struct {
		name, cmd, text string
		code            int
	}{
		{"not found", "nosuchcmd", "executable file not found", 127},
		{"not executable", "/etc/passwd", "permission denied", 126},
	} {
		for _, detach := range []bool{false, true} {
			name := e.Name("deterr")
			args := []string{"run", "--name", name}
			if detach {
				args = append(args, "-d")
			}
			r := e.Run(append(args, img, tc.cmd)...)
			if r.Code != tc.code || !strings.Contains(r.Stderr, tc.text) || strings.Contains(r.Stderr, "berth: "+tc.text) {
				t.Errorf("%s (detached %v): %s", tc.name, detach, r)
			}
			if got := e.Inspect(name, "{{.State.ExitCode}}"); got != map[int]string{127: "127", 126: "126"}[tc.code] {
				t.Errorf("%s (detached %v): recorded exit code %s", tc.name, detach, got)
			}
			e.MustRun("rm", name)
		}
	}
}
