package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogOptsRotation: --log-opt max-size/max-file take json-file's sizes
// (no --memory minimum) and rotate; a bad value is refused with exit 125.
func TestLogOptsRotation(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	id := strings.TrimSpace(e.MustRun("run", "-d", "--log-opt", "max-size=1k", "--log-opt", "max-file=2", img,
		"sh", "-c", `i=0; while [ $i -lt 200 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done`).Stdout)
	e.MustRun("wait", id)
	if got := e.Inspect(id, `{{index .HostConfig.LogConfig.Config "max-size"}} {{index .HostConfig.LogConfig.Config "max-file"}}`); got != "1024 2" {
		t.Errorf("LogConfig = %q", got)
	}
	logs, _ := filepath.Glob(filepath.Join(e.Root, "containers", id, id+"-json.log*"))
	if len(logs) != 2 {
		t.Fatalf("log files %v, want the live one and one rotated", logs)
	}
	for _, f := range logs {
		if st, err := os.Stat(f); err != nil || st.Size() > 2048 {
			t.Errorf("%s: %v, size over the limit", f, err)
		}
	}
	if out := e.MustRun("logs", "--tail", "1", id).Stdout; !strings.HasPrefix(out, "line-199-") {
		t.Errorf("last line %q", out)
	}
	if r := e.Run("run", "--rm", "--log-opt", "max-size=lots", img, "true"); r.Code != 125 || !strings.Contains(r.Stderr, "max-size") {
		t.Errorf("bad max-size: %s", r)
	}
}
