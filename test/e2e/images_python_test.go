package e2e

import "testing"

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
