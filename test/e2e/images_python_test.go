package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// PythonRef is the name the python stand-in is imported under: the
// tutorial's `FROM python:2.7-slim` (examples/friendlyhello) finds it.
const PythonRef = "python:2.7-slim"

// pythonImport is the configuration of Docker Hub's python images that the
// stand-in's bare rootfs lacks, given as import --change instructions.
var pythonImport = []string{
	"--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"--change", "ENV LANG=C.UTF-8",
	"--change", `CMD ["python3"]`,
}

// pythonTarOnce is the python stand-in's tar, made once per test binary run.
var pythonTarOnce tarOnce

// pythonTar is the Debian bookworm rootfs with python3, pip, Flask and
// redis-py (~225 MB, scripts/mkimage-python.sh, cached across runs in
// /var/cache/berth-test).
func pythonTar(t *testing.T) string {
	return fixtureTar(t, &pythonTarOnce, "mkimage-python.sh", "python.tar")
}

// PythonImage imports the python stand-in into this env (once) as
// python:2.7-slim, configured like the real image (PATH, LANG, Cmd), and
// returns its reference.
func (e *Env) PythonImage() string {
	e.t.Helper()
	if !e.imported[PythonRef] {
		args := append([]string{"import"}, pythonImport...)
		e.MustRun(append(args, pythonTar(e.t), PythonRef)...)
		e.imported[PythonRef] = true
	}
	return PythonRef
}

// TestPythonImageOffline proves what the stand-in is for: the tutorial's
// `pip install -r requirements.txt` (Flask, Redis) is satisfied with no
// network, and `python` is Python 3 with both libraries importable.
func TestPythonImageOffline(t *testing.T) {
	e := newEnv(t)
	img := e.PythonImage()
	r := e.MustRun("run", "--rm", "--network", "none", img, "sh", "-c",
		`printf 'Flask\nRedis\n' > /tmp/requirements.txt && `+
			`pip install --trusted-host pypi.python.org -r /tmp/requirements.txt && `+
			`python --version && python -c 'import flask, redis; print("imports ok")'`)
	for _, want := range []string{
		"Requirement already satisfied: Flask", "Requirement already satisfied: Redis", "Python 3.", "imports ok",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r)
		}
	}
	var cfg []struct {
		Config struct {
			Env []string
			Cmd []string
		}
	}
	if err := json.Unmarshal([]byte(e.MustRun("image", "inspect", img).Stdout), &cfg); err != nil || len(cfg) != 1 {
		t.Fatalf("image inspect %s: %v", img, err)
	}
	if got := strings.Join(cfg[0].Config.Env, " "); !strings.Contains(got, "LANG=C.UTF-8") || !strings.Contains(got, "PATH=/usr/local/sbin:") {
		t.Errorf("Env = %v, want PATH and LANG=C.UTF-8 as the real python image", cfg[0].Config.Env)
	}
	if got := strings.Join(cfg[0].Config.Cmd, " "); got != "python3" {
		t.Errorf("Cmd = %v, want [python3]", cfg[0].Config.Cmd)
	}
}
