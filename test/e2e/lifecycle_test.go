package e2e

import (
	"archive/tar"
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Container behaviour of `berth run` and the lifecycle verbs, checked
// against what Docker 20.10 does (test/oracle/data) on the busybox fixture.

// TestRunExitCodes: the container's status is run's; berth's own failures
// are 125, a command that cannot be executed 126, one not found 127.
func TestRunExitCodes(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	cases := []struct {
		desc string
		args []string
		code int
	}{
		{"success is 0", []string{img, "true"}, 0},
		{"the command's status is passed through", []string{img, "sh", "-c", "exit 3"}, 3},
		{"a signal death is 128+N", []string{img, "sh", "-c", "kill -9 $$"}, 0}, // PID 1 ignores it (oracle pid1-self-kill-9-ignored)
		{"an unknown image is berth's failure", []string{"nosuch-image-" + strconv.Itoa(os.Getpid()), "true"}, 125},
		{"a bad --memory", []string{"--memory", "12zz", img, "true"}, 125},
		{"an unreadable --env-file", []string{"--env-file", "/nonexistent/env", img, "true"}, 125},
		{"a bad -v spec", []string{"-v", "a:b:c:d", img, "true"}, 125},
		{"a non-executable command", []string{img, "/etc/passwd"}, 126},
		{"a directory as command", []string{img, "/tmp"}, 126},
		{"a command not found", []string{img, "nosuchcmd"}, 127},
		{"a missing absolute path", []string{img, "/no/such/file"}, 127},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			r := e.For(t).Run(append([]string{"run", "--rm"}, c.args...)...)
			if r.Code != c.code {
				t.Errorf("exit %d, want %d\n%s", r.Code, c.code, r)
			}
		})
	}
	t.Run("unknown image: Docker's lookup line, then berth's error", func(t *testing.T) {
		r := e.For(t).Run("run", "--rm", "nosuch-img", "true")
		if !strings.HasPrefix(r.Stderr, "Unable to find image 'nosuch-img:latest' locally\nberth: ") {
			t.Errorf("stderr does not start like docker's:\n%s", r)
		}
	})
	if r := e.MustRun("ps", "-aq"); r.Stdout != "" {
		t.Errorf("--rm runs left containers behind:\n%s", r.Stdout)
	}
}

// TestRunProcessConfig: environment, working directory, user, entrypoint,
// command and hostname, as a process in the container sees them.
func TestRunProcessConfig(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	oracle := oracleCases(t, "cases.json")

	envFile := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(envFile, []byte("# a comment\nFROMFILE=yes\n\nSPACED=two words\nA=from-file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// An image with ENTRYPOINT and CMD, to check Docker's override rules.
	epImg := e.Name("ep-img") + ":v1"
	e.MustRun("import", "--change", `ENTRYPOINT ["echo","ep"]`, "--change", `CMD ["default-arg"]`, busyboxTar(t), epImg)

	cases := []struct {
		desc string
		args []string // after `run --rm`
		want string   // stdout
	}{
		{"oracle user-numeric: -u 1000 resolves the name", []string{"-u", "1000", img, "id"}, oracle["user-numeric"].Stdout},
		{"oracle user-name: -u app resolves the IDs", []string{"-u", "app", img, "id"}, oracle["user-name"].Stdout},
		{"-u uid:gid not in passwd", []string{"-u", "1234:5678", img, "id"}, "uid=1234 gid=5678 groups=5678\n"},
		{"-u name:group", []string{"-u", "app:app", img, "id", "-u"}, "1000\n"},
		{"-e sets, -w changes directory", []string{"-e", "X=1", "-w", "/home", img, "sh", "-c", `echo "$X $PWD"`}, "1 /home\n"},
		{"-w creates a missing directory", []string{"-w", "/new/dir", img, "pwd"}, "/new/dir\n"},
		{"--env-file, and -e wins over it", []string{"--env-file", envFile, "-e", "A=from-flag", img, "sh", "-c", `echo "$FROMFILE|$SPACED|$A"`}, "yes|two words|from-flag\n"},
		{"--entrypoint replaces the image's and its CMD", []string{"--entrypoint", "echo", epImg}, "\n"},
		{"--entrypoint with arguments", []string{"--entrypoint", "echo", img, "a", "b"}, "a b\n"},
		{`--entrypoint "" runs the arguments`, []string{"--entrypoint", "", img, "echo", "x"}, "x\n"},
		{"image ENTRYPOINT + CMD", []string{epImg}, "ep default-arg\n"},
		{"arguments replace CMD, not ENTRYPOINT", []string{epImg, "mine"}, "ep mine\n"},
		{"--hostname", []string{"--hostname", "myhost", img, "hostname"}, "myhost\n"},
		{"--hostname is in /etc/hostname", []string{"--hostname", "myhost", img, "cat", "/etc/hostname"}, "myhost\n"},
		{"stdout and stderr are separate (oracle stdout-stderr)", []string{img, "sh", "-c", "echo out; echo err >&2"}, oracle["stdout-stderr"].Stdout},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			r := e.For(t).MustRun(append([]string{"run", "--rm"}, c.args...)...)
			if r.Stdout != c.want {
				t.Errorf("stdout = %q, want %q", r.Stdout, c.want)
			}
		})
	}

	t.Run("oracle env-and-workdir: the environment a process sees", func(t *testing.T) {
		o := oracle["env-and-workdir"]
		r := e.For(t).MustRun("run", "--rm", "-e", "A=1", "-w", "/tmp", img, "sh", "-c", `echo "$A $PWD $HOME"; env | sort`)
		re := regexp.MustCompile(`HOSTNAME=[0-9a-f]{12}`)
		if got, want := re.ReplaceAllString(r.Stdout, "HOSTNAME=X"), re.ReplaceAllString(o.Stdout, "HOSTNAME=X"); got != want {
			t.Errorf("stdout:\n%s\nwant (docker's):\n%s", got, want)
		}
		if r.Stderr != o.Stderr {
			t.Errorf("stderr = %q, want %q", r.Stderr, o.Stderr)
		}
	})
	t.Run("the default hostname is the short container ID", func(t *testing.T) {
		name := e.Name("hn")
		e.For(t).RemoveOnCleanup(name)
		r := e.For(t).MustRun("run", "--name", name, img, "sh", "-c", "hostname; cat /etc/hostname; grep -c \"$(hostname)\" /etc/hosts")
		id := e.For(t).Inspect(name, "{{.Id}}")
		if want := id[:12] + "\n" + id[:12] + "\n1\n"; r.Stdout != want {
			t.Errorf("stdout = %q, want %q", r.Stdout, want)
		}
		if h := e.For(t).Inspect(name, "{{.Config.Hostname}}"); h != id[:12] {
			t.Errorf("Config.Hostname = %q, want %q", h, id[:12])
		}
	})
	t.Run("an -e without value takes berth's environment", func(t *testing.T) {
		ee := e.For(t)
		ee.ExtraEnv = []string{"BERTH_E2E_PASSED=through"}
		r := ee.MustRun("run", "--rm", "-e", "BERTH_E2E_PASSED", "-e", "BERTH_E2E_UNSET_VAR", img, "sh", "-c", `echo "$BERTH_E2E_PASSED"; env | grep -c BERTH_E2E_UNSET_VAR; true`)
		if r.Stdout != "through\n0\n" {
			t.Errorf("stdout = %q, want %q", r.Stdout, "through\n0\n")
		}
	})
}

// TestRunNameConflict: a second container may not take a used name, and
// the message names the holder (oracle name-conflict).
func TestRunNameConflict(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	name := e.Name("taken")
	e.RemoveOnCleanup(name)
	id := strings.TrimSpace(e.MustRun("create", "--name", name, img, "true").Stdout)
	r := e.Run("run", "--rm", "--name", name, img, "true")
	if r.Code != 125 || !strings.Contains(r.Stderr, `The container name "/`+name+`" is already in use by container "`+id+`"`) {
		t.Errorf("want 125 naming the holder %s:\n%s", id, r)
	}
	if out := e.MustRun("ps", "-aq", "--no-trunc").Stdout; out != id+"\n" {
		t.Errorf("containers after the conflict: %q, want only %s", out, id)
	}
}

// TestRunStdin: -i streams stdin to the container; without -i it gets none.
func TestRunStdin(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	if r := e.RunStdin("hi\nthere\n", "run", "--rm", "-i", img, "cat"); r.Code != 0 || r.Stdout != "hi\nthere\n" {
		t.Errorf("run -i cat: want the input echoed:\n%s", r)
	}
	if r := e.RunStdin("hi\n", "run", "--rm", img, "cat"); r.Code != 0 || r.Stdout != "" {
		t.Errorf("run without -i: the container must not read our stdin:\n%s", r)
	}
	if r := e.RunStdin("a\nb\nc\n", "run", "--rm", "-i", img, "wc", "-l"); strings.TrimSpace(r.Stdout) != "3" {
		t.Errorf("run -i wc -l: want 3 lines counted (EOF delivered):\n%s", r)
	}
}

// TestRunTTY: -t gives the container a terminal; -it carries keystrokes.
func TestRunTTY(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	r := e.RunPTY("", "run", "--rm", "-t", img, "sh", "-c", "tty; echo TERM=$TERM; stty size; exit 4")
	if r.Code != 4 {
		t.Errorf("exit %d, want 4", r.Code)
	}
	// The container's terminal turns \n into \r\n; without -i, ours is not
	// made raw (as with docker), so it may add another \r.
	out := strings.ReplaceAll(r.Output, "\r\r\n", "\r\n")
	for _, want := range []string{"/dev/pts/0\r\n", "TERM=xterm\r\n", "24 80\r\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q: %q", want, r.Output)
		}
	}
	r = e.RunPTY("echo typed-$((40+2))\nexit 6\n", "run", "--rm", "-it", img, "sh")
	if r.Code != 6 || !strings.Contains(r.Output, "typed-42") {
		t.Errorf("run -it sh: want the typed command run and exit 6; got %d %q", r.Code, r.Output)
	}
	if strings.Contains(r.Output, "\x00") || strings.Contains(r.Output, "^@") {
		t.Errorf("a NUL reached the terminal: %q", r.Output)
	}
	if r := e.Run("run", "--rm", "-t", img, "tty"); r.Code != 0 || !strings.HasPrefix(r.Stdout, "/dev/pts/") {
		t.Errorf("run -t without a terminal of our own still gives the container one:\n%s", r)
	}
	// Detached, the terminal's output (with its \r\n) is the log.
	name := e.Name("dtty")
	e.RunDetached(name, "-t", img, "sh", "-c", "tty; echo x")
	if code := strings.TrimSpace(e.MustRun("wait", name).Stdout); code != "0" {
		t.Errorf("run -d -t tty exited %s", code)
	}
	if r := e.MustRun("logs", name); r.Stdout != "/dev/pts/0\r\nx\r\n" {
		t.Errorf("logs of a -d -t container: %q, want the terminal's output", r.Stdout)
	}
}

// TestRunRmLeavesNothing: --rm removes the record, the rootfs, the logs
// and anonymous volumes.
func TestRunRmLeavesNothing(t *testing.T) {
	e := newEnv(t)
	volImg := e.Name("volimg")
	e.MustRun("import", "--change", "VOLUME /data", busyboxTar(t), volImg)
	name := e.Name("gone")
	e.RemoveOnCleanup(name)
	r := e.MustRun("run", "--rm", "--name", name, volImg, "sh", "-c", "echo x > /data/f; echo x > /f; echo done")
	if r.Stdout != "done\n" {
		t.Errorf("stdout %q", r.Stdout)
	}
	if r := e.Run("inspect", name); r.Code != 1 {
		t.Errorf("inspect after --rm: want exit 1:\n%s", r)
	}
	if out := e.MustRun("ps", "-aq").Stdout; out != "" {
		t.Errorf("ps -aq: %q", out)
	}
	if out := e.MustRun("volume", "ls", "-q").Stdout; out != "" {
		t.Errorf("anonymous volume survived --rm: %q", out)
	}
	ents, _ := os.ReadDir(filepath.Join(e.Root, "containers"))
	var left []string
	for _, ent := range ents {
		if !strings.HasPrefix(ent.Name(), ".") { // the store's own index
			left = append(left, ent.Name())
		}
	}
	if len(left) > 0 {
		t.Errorf("container directories left: %v", left)
	}
	// Named volumes outlive --rm, as in Docker.
	vol := e.Name("keep")
	e.MustRun("run", "--rm", "-v", vol+":/v", volImg, "true")
	t.Cleanup(func() { e.Run("volume", "rm", vol) })
	if out := e.MustRun("volume", "ls", "-q").Stdout; out != vol+"\n" {
		t.Errorf("volume ls after --rm with a named volume: %q, want %q", out, vol+"\n")
	}
}

// TestRunFilesystems: --read-only, --tmpfs, bind mounts (rw and ro), named
// volumes and the anonymous volume of an image VOLUME.
func TestRunFilesystems(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()

	t.Run("--read-only makes / read-only (oracle read-only-rootfs)", func(t *testing.T) {
		r := e.For(t).Run("run", "--rm", "--read-only", img, "touch", "/x")
		if r.Code != 1 || !strings.Contains(r.Stderr, "Read-only file system") {
			t.Errorf("want touch to fail with EROFS:\n%s", r)
		}
	})
	t.Run("--tmpfs is a writable tmpfs even on a read-only root", func(t *testing.T) {
		r := e.For(t).MustRun("run", "--rm", "--read-only", "--tmpfs", "/scratch", img, "sh", "-c",
			"touch /scratch/y && awk '$2==\"/scratch\"{print $3}' /proc/mounts")
		if r.Stdout != "tmpfs\n" {
			t.Errorf("stdout %q, want tmpfs", r.Stdout)
		}
	})
	t.Run("bind mounts: rw writes through, ro refuses", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte("from-host\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := e.For(t).MustRun("run", "--rm", "-v", dir+":/b", img, "sh", "-c", "cat /b/f; echo from-ctr > /b/g")
		if r.Stdout != "from-host\n" {
			t.Errorf("stdout %q", r.Stdout)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "g")); err != nil || string(b) != "from-ctr\n" {
			t.Errorf("file written in the container: %q %v", b, err)
		}
		r = e.For(t).Run("run", "--rm", "-v", dir+":/b:ro", img, "sh", "-c", "cat /b/f; touch /b/h")
		if r.Code != 1 || r.Stdout != "from-host\n" || !strings.Contains(r.Stderr, "Read-only file system") {
			t.Errorf("ro bind: want it readable and not writable:\n%s", r)
		}
		if _, err := os.Stat(filepath.Join(dir, "h")); err == nil {
			t.Errorf("a ro bind was written to")
		}
	})
	t.Run("a named volume keeps data between containers", func(t *testing.T) {
		ee := e.For(t)
		vol := ee.Name("vol")
		t.Cleanup(func() { ee.Run("volume", "rm", vol) })
		ee.MustRun("run", "--rm", "-v", vol+":/data", img, "sh", "-c", "echo kept > /data/f")
		if r := ee.MustRun("run", "--rm", "-v", vol+":/data:ro", img, "cat", "/data/f"); r.Stdout != "kept\n" {
			t.Errorf("second container reads %q", r.Stdout)
		}
		if r := ee.MustRun("volume", "inspect", "-f", "{{.Name}} {{.Driver}}", vol); r.Stdout != vol+" local\n" {
			t.Errorf("volume inspect: %q", r.Stdout)
		}
	})
	t.Run("an image VOLUME gets an anonymous volume; rm -v removes it", func(t *testing.T) {
		ee := e.For(t)
		volImg := ee.Name("volimg")
		ee.MustRun("import", "--change", "VOLUME /data", busyboxTar(t), volImg)
		name := ee.Name("anon")
		ee.RemoveOnCleanup(name)
		ee.MustRun("run", "--name", name, volImg, "sh", "-c", "echo a > /data/f")
		got := ee.Inspect(name, "{{range .Mounts}}{{.Type}} {{.Destination}} {{.Name}} {{.RW}}{{end}}")
		m := regexp.MustCompile(`^volume /data ([0-9a-f]{64}) true$`).FindStringSubmatch(got)
		if m == nil {
			t.Fatalf("Mounts = %q, want one anonymous volume on /data", got)
		}
		if out := ee.MustRun("volume", "ls", "-q").Stdout; !strings.Contains(out, m[1]) {
			t.Errorf("volume ls lacks %s: %q", m[1], out)
		}
		if vols := ee.Inspect(name, "{{json .Config.Volumes}}"); vols != `{"/data":{}}` {
			t.Errorf("Config.Volumes = %s", vols)
		}
		ee.MustRun("rm", "-v", name)
		if out := ee.MustRun("volume", "ls", "-q").Stdout; strings.Contains(out, m[1]) {
			t.Errorf("rm -v left the anonymous volume: %q", out)
		}
	})
}

// TestRunInit: --init makes docker-init PID 1, which forwards signals.
func TestRunInit(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	r := e.MustRun("run", "--rm", "--init", img, "ps", "-o", "pid,args")
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(lines) < 3 || !regexp.MustCompile(`^\s*1\s+/sbin/docker-init -- ps -o pid,args$`).MatchString(lines[1]) {
		t.Errorf("PID 1 is not docker-init running ps:\n%s", r.Stdout)
	}
	// sleep as PID 1 would ignore SIGTERM; under docker-init it dies of it.
	name := e.Name("init")
	e.RunDetached(name, "--init", img, "sleep", "1000")
	e.MustRun("stop", name)
	if code := strings.TrimSpace(e.MustRun("wait", name).Stdout); code != "143" {
		t.Errorf("exit after stop under --init = %s, want 143 (SIGTERM forwarded)", code)
	}
	if v := e.Inspect(name, "{{.HostConfig.Init}}"); v != "true" {
		t.Errorf("HostConfig.Init = %s", v)
	}
}

// TestRunResources: --memory, --cpus and --pids-limit land in the
// container's cgroup, where it can read them (oracle memory-limit,
// pids-limit).
func TestRunResources(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	read := func(files ...string) string {
		// cgroup v1 (this machine) or the unified hierarchy.
		var sh []string
		for _, f := range files {
			sh = append(sh, "cat "+f+" 2>/dev/null")
		}
		return strings.Join(sh, "; ")
	}
	r := e.MustRun("run", "--rm", "--memory", "64m", "--cpus", "0.5", "--pids-limit", "50", img, "sh", "-c",
		read("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory.max")+"; "+
			read("/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/pids.max")+"; "+
			read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us")+"; "+
			read("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us")+"; true")
	want := "67108864\n50\n50000\n100000\n"
	if isUnified() {
		want = "67108864\n50\n" // cpu.max is checked below
	}
	if !strings.HasPrefix(r.Stdout, want) {
		t.Errorf("cgroup files read %q, want %q", r.Stdout, want)
	}
	name := e.Name("res")
	e.RemoveOnCleanup(name)
	e.MustRun("create", "--name", name, "--memory", "64m", "--cpus", "0.5", "--pids-limit", "50", img, "true")
	if got := e.Inspect(name, "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}"); got != "67108864 500000000 50" {
		t.Errorf("HostConfig resources = %q", got)
	}
	if r := e.Run("run", "--rm", "--memory", "1k", img, "true"); r.Code != 125 || !strings.Contains(r.Stderr, "Minimum memory limit allowed is 6MB") {
		t.Errorf("--memory 1k: want Docker's minimum refusal:\n%s", r)
	}
}

// TestRunCgroupns: a private cgroup namespace by default wherever the
// kernel has them (on v1 and hybrid hosts too, where Docker shares the
// host's), Docker's --cgroupns host|private, and the mode in inspect.
func TestRunCgroupns(t *testing.T) {
	if _, err := os.Stat("/proc/self/ns/cgroup"); err != nil {
		t.Fatalf("this kernel has no cgroup namespaces: %v", err)
	}
	e := newEnv(t)
	img := e.BusyboxImage()
	// The controllers' mounts too: their root is what the namespace shows.
	const show = "cat /proc/self/cgroup; grep ' /sys/fs/cgroup/' /proc/self/mountinfo | cut -d' ' -f4"
	for _, c := range []struct {
		flags   []string
		private bool
	}{{nil, true}, {[]string{"--cgroupns", "private"}, true}, {[]string{"--cgroupns", "host"}, false}} {
		name := e.Name("cgns")
		e.RemoveOnCleanup(name)
		args := append(append([]string{"run", "--name", name}, c.flags...), img, "sh", "-c", show)
		out := e.MustRun(args...).Stdout
		id := e.Inspect(name, "{{.Id}}")
		if leaks := strings.Contains(out, id); leaks == c.private {
			t.Errorf("%v: host cgroup paths (naming the container ID) visible = %v, want %v:\n%s", c.flags, leaks, !c.private, out)
		}
		want := map[bool]string{true: "private", false: "host"}[c.private]
		if got := e.Inspect(name, "{{.HostConfig.CgroupnsMode}}"); got != want {
			t.Errorf("%v: HostConfig.CgroupnsMode = %q, want %q", c.flags, got, want)
		}
	}
	if r := e.Run("run", "--rm", "--cgroupns", "shared", img, "true"); r.Code != 125 || !strings.Contains(r.Stderr, "--cgroupns: invalid CGROUP mode") {
		t.Errorf("--cgroupns shared: want Docker's refusal, exit 125:\n%s", r)
	}
}

func isUnified() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}

// TestRunStopSignalAndStop: stop sends STOPSIGNAL (TERM by default), then
// SIGKILL after -t; the exit code is the handler's or 137.
func TestRunStopSignalAndStop(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	oracle := oracleCases(t, "cases.json")
	const loop = "while :; do sleep 0.1; done"

	t.Run("oracle stop-running/wait-stopped: PID 1 ignoring TERM is killed, 137", func(t *testing.T) {
		ee := e.For(t)
		name := ee.Name("stopk")
		ee.RunDetached(name, img, "sleep", "1000")
		if r := ee.MustRun("stop", "-t", "1", name); r.Stdout != name+"\n" {
			t.Errorf("stop printed %q", r.Stdout)
		}
		if r := ee.MustRun("wait", name); r.Stdout != oracle["wait-stopped"].Stdout {
			t.Errorf("wait printed %q, docker's %q", r.Stdout, oracle["wait-stopped"].Stdout)
		}
	})
	t.Run("a TERM handler's exit code is kept", func(t *testing.T) {
		ee := e.For(t)
		name := ee.Name("stopt")
		ee.RunDetached(name, img, "sh", "-c", `trap "echo got-term; exit 7" TERM; echo ready; `+loop)
		// A TERM before the trap is set is ignored (PID 1 has no default
		// action): stop only once the shell says so.
		ee.Eventually("the handler is set", func() bool { return strings.Contains(ee.MustRun("logs", name).Stdout, "ready") })
		ee.MustRun("stop", name)
		if code := strings.TrimSpace(ee.MustRun("wait", name).Stdout); code != "7" {
			t.Errorf("exit code %s, want 7", code)
		}
		if out := ee.MustRun("logs", name).Stdout; !strings.Contains(out, "got-term") {
			t.Errorf("logs lack the handler's output: %q", out)
		}
	})
	t.Run("--stop-signal replaces TERM", func(t *testing.T) {
		ee := e.For(t)
		name := ee.Name("stops")
		ee.RunDetached(name, "--stop-signal", "USR1", img, "sh", "-c", `trap "echo got-usr1; exit 42" USR1; trap "" TERM; echo ready; `+loop)
		ee.Eventually("the handler is set", func() bool { return strings.Contains(ee.MustRun("logs", name).Stdout, "ready") })
		if s := ee.Inspect(name, "{{.Config.StopSignal}}"); s != "USR1" {
			t.Errorf("Config.StopSignal = %q", s)
		}
		ee.MustRun("stop", name)
		if code := strings.TrimSpace(ee.MustRun("wait", name).Stdout); code != "42" {
			t.Errorf("exit code %s, want 42", code)
		}
		if out := ee.MustRun("logs", name).Stdout; out != "ready\ngot-usr1\n" {
			t.Errorf("logs %q", out)
		}
	})
	t.Run("stop -t 0 kills at once; stop of a stopped container succeeds", func(t *testing.T) {
		ee := e.For(t)
		name := ee.Name("stop0")
		ee.RunDetached(name, img, "sh", "-c", `trap "exit 7" TERM; `+loop)
		ee.MustRun("stop", "-t", "0", name)
		if code := strings.TrimSpace(ee.MustRun("wait", name).Stdout); code != "137" {
			t.Errorf("exit code %s, want 137", code)
		}
		if r := ee.MustRun("stop", name); r.Stdout != name+"\n" {
			t.Errorf("second stop printed %q", r.Stdout)
		}
	})
}

// TestKill: kill sends SIGKILL (137, oracle kill-running/wait-killed) or -s.
func TestKill(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	oracle := oracleCases(t, "cases.json")

	name := e.Name("kill")
	e.RunDetached(name, img, "sleep", "1000")
	if r := e.MustRun("kill", name); r.Stdout != name+"\n" {
		t.Errorf("kill printed %q", r.Stdout)
	}
	if r := e.MustRun("wait", name); r.Stdout != oracle["wait-killed"].Stdout {
		t.Errorf("wait printed %q, docker's %q", r.Stdout, oracle["wait-killed"].Stdout)
	}
	// oracle inspect-killed-state, without the timestamps.
	got := e.MustRun("inspect", "--format", "{{json .State}}", name).Stdout
	ts := regexp.MustCompile(`"(StartedAt|FinishedAt)":"[^"]*"`)
	want := ts.ReplaceAllString(oracle["inspect-killed-state"].Stdout, `"$1":"T"`)
	if ts.ReplaceAllString(got, `"$1":"T"`) != want {
		t.Errorf("State:\n%s\nwant (docker's):\n%s", got, want)
	}

	name2 := e.Name("kills")
	e.RunDetached(name2, img, "sh", "-c", `trap "exit 9" USR1; echo ready; while :; do sleep 0.1; done`)
	// PID 1 ignores a signal it has no handler for yet: kill once it has one.
	e.Eventually("the handler is set", func() bool { return strings.Contains(e.MustRun("logs", name2).Stdout, "ready") })
	e.MustRun("kill", "-s", "USR1", name2)
	if code := strings.TrimSpace(e.MustRun("wait", name2).Stdout); code != "9" {
		t.Errorf("exit after kill -s USR1 = %s, want 9", code)
	}
	name3 := e.Name("killn")
	e.RunDetached(name3, img, "sleep", "1000")
	e.MustRun("kill", "--signal", "9", name3)
	if code := strings.TrimSpace(e.MustRun("wait", name3).Stdout); code != "137" {
		t.Errorf("exit after kill --signal 9 = %s, want 137", code)
	}
}

// TestRestartPolicy: on-failure:2 restarts a failing container twice.
func TestRestartPolicy(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	name := e.Name("onfail")
	e.RunDetached(name, "--restart", "on-failure:2", img, "sh", "-c", "echo attempt; exit 1")
	e.Eventually("RestartCount 2 and exited", func() bool {
		return e.Inspect(name, "{{.RestartCount}} {{.State.Status}}") == "2 exited"
	})
	if got := e.Inspect(name, "{{.State.ExitCode}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}"); got != "1 on-failure 2" {
		t.Errorf("exit code and policy: %q", got)
	}
	if out := e.MustRun("logs", name).Stdout; out != "attempt\nattempt\nattempt\n" {
		t.Errorf("logs = %q, want three attempts", out)
	}
	// A successful exit is not restarted.
	ok := e.Name("onfail-ok")
	e.RunDetached(ok, "--restart", "on-failure:2", img, "true")
	e.MustRun("wait", ok)
	e.Eventually("exited", func() bool { return e.Inspect(ok, "{{.State.Status}}") == "exited" })
	if n := e.Inspect(ok, "{{.RestartCount}}"); n != "0" {
		t.Errorf("RestartCount after exit 0 = %s", n)
	}
}

// TestNetworkModes: --network none has only lo (oracle
// network-none-links); --network host shares the host's interfaces.
func TestNetworkModes(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	if r := e.MustRun("run", "--rm", "--network", "none", img, "ls", "/sys/class/net"); r.Stdout != "lo\n" {
		t.Errorf("--network none sees %q", r.Stdout)
	}
	host, err := os.ReadDir("/sys/class/net")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, h := range host {
		want = append(want, h.Name())
	}
	r := e.MustRun("run", "--rm", "--network", "host", img, "ls", "-1", "/sys/class/net")
	if got := strings.Fields(r.Stdout); !slices.Equal(got, want) {
		t.Errorf("--network host sees %v, the host has %v", got, want)
	}
	name := e.Name("net")
	e.RemoveOnCleanup(name)
	e.MustRun("create", "--name", name, "--network", "host", img, "true")
	if m := e.Inspect(name, "{{.HostConfig.NetworkMode}}"); m != "host" {
		t.Errorf("NetworkMode = %q", m)
	}
}

// TestCapabilities: the default set (oracle proc-self-status), --cap-drop
// ALL (oracle cap-drop-all-status), --cap-add, and --privileged, which on
// this host takes berth's own bounding set (Docker 20.10 fails here:
// oracle privileged).
func TestCapabilities(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	capEff := func(args ...string) string {
		t.Helper()
		r := e.MustRun(append(append([]string{"run", "--rm"}, args...), img, "sh", "-c", "grep ^CapEff /proc/self/status")...)
		return strings.TrimSpace(strings.TrimPrefix(r.Stdout, "CapEff:"))
	}
	if got := capEff(); got != "00000000a80425fb" {
		t.Errorf("default CapEff %s, docker's 00000000a80425fb", got)
	}
	if got := capEff("--cap-drop", "ALL"); got != "0000000000000000" {
		t.Errorf("--cap-drop ALL CapEff %s", got)
	}
	if got := capEff("--cap-add", "SYS_ADMIN"); got != "00000000a82425fb" {
		t.Errorf("--cap-add SYS_ADMIN CapEff %s", got)
	}
	if got := capEff("--cap-add", "CAP_NET_ADMIN", "--cap-drop", "chown"); got != "00000000a80435fa" {
		t.Errorf("--cap-add CAP_NET_ADMIN --cap-drop chown CapEff %s", got)
	}
	if r := e.Run("run", "--rm", "--cap-drop", "CHOWN", img, "chown", "1", "/tmp"); r.Code != 1 || !strings.Contains(r.Stderr, "Operation not permitted") {
		t.Errorf("chown without CAP_CHOWN: want EPERM:\n%s", r)
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	var bnd string
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "CapBnd:"); ok {
			bnd = strings.TrimSpace(v)
		}
	}
	if got := capEff("--privileged"); got != bnd {
		t.Errorf("--privileged CapEff %s, want the host bounding set %s", got, bnd)
	}
	if r := e.MustRun("run", "--rm", "--privileged", img, "sh", "-c", `awk '$2=="/sys"{split($4,o,",");print o[1]}' /proc/mounts`); r.Stdout != "rw\n" {
		t.Errorf("--privileged: /sys is not read-write:\n%s", r)
	}
}

// TestCreateStartAttach: create makes a Created container; start -a runs it
// in the foreground with its streams and status.
func TestCreateStartAttach(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	name := e.Name("cs")
	e.RemoveOnCleanup(name)
	r := e.MustRun("create", "--name", name, img, "sh", "-c", "echo out; echo err >&2; exit 3")
	id := strings.TrimSpace(r.Stdout)
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(id) {
		t.Fatalf("create printed %q", r.Stdout)
	}
	if got := e.Inspect(name, "{{.State.Status}} {{.State.StartedAt}}"); got != "created 0001-01-01T00:00:00Z" {
		t.Errorf("created state %q", got)
	}
	if got := e.MustRun("ps", "-a", "--format", "{{.Status}}", "--filter", "name="+name).Stdout; got != "Created\n" {
		t.Errorf("ps status %q", got)
	}
	r = e.Run("start", "-a", name)
	if r.Code != 3 || r.Stdout != "out\n" || r.Stderr != "err\n" {
		t.Errorf("start -a: want exit 3, out/err on their streams:\n%s", r)
	}
	if got := e.Inspect(name, "{{.State.Status}} {{.State.ExitCode}}"); got != "exited 3" {
		t.Errorf("after start -a: %q", got)
	}
	// A second start runs it again, detached, and prints the name back.
	if r := e.MustRun("start", name); r.Stdout != name+"\n" {
		t.Errorf("start printed %q", r.Stdout)
	}
	if code := strings.TrimSpace(e.MustRun("wait", name).Stdout); code != "3" {
		t.Errorf("wait %s", code)
	}
	if out := e.MustRun("logs", name).Stdout; out != "out\nout\n" {
		t.Errorf("logs of two runs: %q", out)
	}
	// start -ai feeds stdin to a container created with -i.
	iname := e.Name("csi")
	e.RemoveOnCleanup(iname)
	e.MustRun("create", "-i", "--name", iname, img, "cat")
	if r := e.RunStdin("fed\n", "start", "-ai", iname); r.Code != 0 || r.Stdout != "fed\n" {
		t.Errorf("start -ai: want stdin echoed:\n%s", r)
	}
}

// psTable parses docker's table output into rows of cells, by the column
// offsets of the header (so misaligned columns are caught).
func psTable(t *testing.T, out string) (header []string, rows []map[string]string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	re := regexp.MustCompile(`\S+( \S+)*`) // titles are separated by 2+ spaces
	locs := re.FindAllStringIndex(lines[0], -1)
	for _, l := range locs {
		header = append(header, lines[0][l[0]:l[1]])
	}
	for _, line := range lines[1:] {
		row := map[string]string{}
		for i, l := range locs {
			end := len(line)
			if i+1 < len(locs) {
				end = min(locs[i+1][0], len(line))
			}
			if l[0] > len(line) {
				row[header[i]] = ""
				continue
			}
			row[header[i]] = strings.TrimSpace(line[l[0]:end])
			if l[0] > 0 && line[l[0]-1] != ' ' {
				t.Errorf("column %q is not aligned in %q", header[i], line)
			}
		}
		rows = append(rows, row)
	}
	return header, rows
}

// TestPs: docker's columns, STATUS strings, -a/-q/-n/-l, filters and
// formats, against the oracle's ps cases.
func TestPs(t *testing.T) {
	e := newEnv(t)
	e.BusyboxImage()
	const img = "busybox-imported" // as the oracle typed it: IMAGE shows what was asked for
	oracle := oracleCases(t, "cases.json")

	created, exited, running := e.Name("created"), e.Name("exited"), e.Name("running")
	e.RemoveOnCleanup(created)
	e.RemoveOnCleanup(exited)
	createdID := strings.TrimSpace(e.MustRun("create", "--name", created, img, "sh", "-c", "exit 3").Stdout)
	e.Run("run", "--name", exited, img, "sh", "-c", "exit 3")
	exitedID := e.Inspect(exited, "{{.Id}}")
	runningID := e.RunDetached(running, img, "sleep", "1000")

	t.Run("ps: only running, docker's header and cells", func(t *testing.T) {
		r := e.For(t).MustRun("ps")
		header, rows := psTable(t, r.Stdout)
		oHeader, _ := psTable(t, oracle["ps"].Stdout)
		if !slices.Equal(header, oHeader) {
			t.Errorf("header %q, docker's %q", header, oHeader)
		}
		if len(rows) != 1 {
			t.Fatalf("want one row:\n%s", r.Stdout)
		}
		row := rows[0]
		want := map[string]string{"CONTAINER ID": runningID[:12], "IMAGE": "busybox-imported", "COMMAND": `"sleep 1000"`, "PORTS": "", "NAMES": running}
		for k, v := range want {
			if row[k] != v {
				t.Errorf("%s = %q, want %q", k, row[k], v)
			}
		}
		if !regexp.MustCompile(`^(Less than a second|\d+ seconds?|About a minute|\d+ minutes) ago$`).MatchString(row["CREATED"]) {
			t.Errorf("CREATED = %q", row["CREATED"])
		}
		if !regexp.MustCompile(`^Up (Less than a second|\d+ seconds?|About a minute|\d+ minutes)$`).MatchString(row["STATUS"]) {
			t.Errorf("STATUS = %q", row["STATUS"])
		}
	})
	t.Run("ps -a: every state, newest first (oracle ps-a)", func(t *testing.T) {
		_, rows := psTable(t, e.For(t).MustRun("ps", "-a").Stdout)
		var names, cmds []string
		for _, r := range rows {
			names = append(names, r["NAMES"])
			cmds = append(cmds, r["COMMAND"])
		}
		if !slices.Equal(names, []string{running, exited, created}) {
			t.Errorf("names %v", names)
		}
		// The command column quotes arguments with spaces, as the oracle shows.
		if want := []string{`"sleep 1000"`, `"sh -c 'exit 3'"`, `"sh -c 'exit 3'"`}; !slices.Equal(cmds, want) {
			t.Errorf("commands %q, docker's %q", cmds, want)
		}
		if !regexp.MustCompile(`^Exited \(3\) (Less than a second|\d+ seconds?|About a minute|\d+ minutes) ago$`).MatchString(rows[1]["STATUS"]) {
			t.Errorf("exited STATUS = %q", rows[1]["STATUS"])
		}
		if rows[2]["STATUS"] != "Created" {
			t.Errorf("created STATUS = %q", rows[2]["STATUS"])
		}
	})
	quiet := []struct {
		desc string
		args []string
		want []string
	}{
		{"-q: running IDs", []string{"-q"}, []string{runningID[:12]}},
		{"-aq: all IDs newest first (oracle ps-aq)", []string{"-aq"}, []string{runningID[:12], exitedID[:12], createdID[:12]}},
		{"-aq --no-trunc: full IDs", []string{"-aq", "--no-trunc"}, []string{runningID, exitedID, createdID}},
		{"-n 2: the two newest of all", []string{"-q", "-n", "2"}, []string{runningID[:12], exitedID[:12]}},
		{"-l: the newest", []string{"-q", "-l"}, []string{runningID[:12]}},
		{"--filter name=", []string{"-aq", "--filter", "name=" + exited}, []string{exitedID[:12]}},
		{"--filter status=exited (oracle ps-filter-exited)", []string{"-q", "--filter", "status=exited"}, []string{exitedID[:12]}},
		{"--filter status=created", []string{"-q", "-f", "status=created"}, []string{createdID[:12]}},
		{"--filter status=running", []string{"-aq", "-f", "status=running"}, []string{runningID[:12]}},
		{"--filter ancestor=name", []string{"-aq", "-f", "ancestor=busybox-imported"}, []string{runningID[:12], exitedID[:12], createdID[:12]}},
		{"--filter ancestor=other", []string{"-aq", "-f", "ancestor=nosuch"}, nil},
		{"--filter id=", []string{"-aq", "-f", "id=" + createdID[:8]}, []string{createdID[:12]}},
		{"--filter exited=3", []string{"-aq", "-f", "exited=3"}, []string{exitedID[:12]}},
		{"two name filters are OR", []string{"-aq", "-f", "name=" + created, "-f", "name=" + running}, []string{runningID[:12], createdID[:12]}},
	}
	for _, c := range quiet {
		t.Run(c.desc, func(t *testing.T) {
			got := strings.Fields(e.For(t).MustRun(append([]string{"ps"}, c.args...)...).Stdout)
			if !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
	t.Run("--format table (oracle ps-a-table-fmt)", func(t *testing.T) {
		r := e.For(t).MustRun("ps", "-a", "--format", `table {{.Names}}\t{{.Status}}\t{{.Command}}`)
		header, rows := psTable(t, r.Stdout)
		if !slices.Equal(header, []string{"NAMES", "STATUS", "COMMAND"}) {
			t.Errorf("header %q", header)
		}
		if len(rows) != 3 || rows[2]["COMMAND"] != `"sh -c 'exit 3'"` || rows[2]["STATUS"] != "Created" {
			t.Errorf("rows %v", rows)
		}
	})
	t.Run("--format {{json .}}: docker's keys, sorted (oracle ps-a-json)", func(t *testing.T) {
		r := e.For(t).MustRun("ps", "-a", "--format", "{{json .}}")
		lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
		oLines := strings.Split(strings.TrimSpace(oracle["ps-a-json"].Stdout), "\n")
		if len(lines) != 3 {
			t.Fatalf("want 3 lines:\n%s", r.Stdout)
		}
		keyRe := regexp.MustCompile(`"([A-Za-z]+)":`)
		keys := func(s string) (out []string) {
			for _, m := range keyRe.FindAllStringSubmatch(s, -1) {
				out = append(out, m[1])
			}
			return out
		}
		if got, want := keys(lines[2]), keys(oLines[2]); !slices.Equal(got, want) {
			t.Errorf("keys %v, docker's %v", got, want)
		}
		for _, kv := range []string{`"Command":"\"sh -c 'exit 3'\""`, `"Image":"busybox-imported"`, `"State":"created"`,
			`"Status":"Created"`, `"Names":"` + created + `"`, `"LocalVolumes":"0"`, `"Mounts":""`, `"Labels":""`, `"Ports":""`} {
			if !strings.Contains(lines[2], kv) {
				t.Errorf("json lacks %s:\n%s", kv, lines[2])
			}
		}
		if !regexp.MustCompile(`"Size":"\d+(\.\d+)?k?B \(virtual 1\.98MB\)"`).MatchString(lines[1]) {
			t.Errorf("Size is not docker's \"N (virtual M)\": %s", lines[1])
		}
	})
	t.Run("--format with a plain template", func(t *testing.T) {
		r := e.For(t).MustRun("ps", "-a", "--format", "{{.ID}} {{.State}}")
		want := runningID[:12] + " running\n" + exitedID[:12] + " exited\n" + createdID[:12] + " created\n"
		if r.Stdout != want {
			t.Errorf("got %q, want %q", r.Stdout, want)
		}
	})
	t.Run("a bad filter is refused", func(t *testing.T) {
		r := e.For(t).Run("ps", "--filter", "color=blue")
		if r.Code == 0 || !strings.Contains(r.Stderr, "invalid filter 'color'") {
			t.Errorf("want a refusal naming the filter:\n%s", r)
		}
	})
}

// TestLogs: logs replays both streams; --tail, -t, --since, -f.
func TestLogs(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	name := e.Name("logs")
	e.RemoveOnCleanup(name)
	e.MustRun("run", "--name", name, img, "sh", "-c", "echo l1; echo l2; echo e1 >&2; echo l3")

	cases := []struct {
		desc           string
		args           []string
		stdout, stderr string
	}{
		{"all of both streams", nil, "l1\nl2\nl3\n", "e1\n"},
		{"--tail 0", []string{"--tail", "0"}, "", ""},
		{"-n all", []string{"-n", "all"}, "l1\nl2\nl3\n", "e1\n"},
		{"--since in the future shows nothing", []string{"--since", "2099-01-01T00:00:00Z"}, "", ""},
		{"--since a duration ago shows all", []string{"--since", "1h"}, "l1\nl2\nl3\n", "e1\n"},
		{"--since a unix time shows all", []string{"--since", "1000000000"}, "l1\nl2\nl3\n", "e1\n"},
		{"-f of an exited container ends", []string{"-f"}, "l1\nl2\nl3\n", "e1\n"},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			r := e.For(t).MustRun(append(append([]string{"logs"}, c.args...), name)...)
			if r.Stdout != c.stdout || r.Stderr != c.stderr {
				t.Errorf("want stdout %q stderr %q:\n%s", c.stdout, c.stderr, r)
			}
		})
	}
	t.Run("--tail counts the lines of both streams", func(t *testing.T) {
		// The two streams are separate pipes, so where e1 falls among the
		// l lines is not fixed; the count and the order within one are.
		r := e.For(t).MustRun("logs", "--tail", "2", name)
		out, errs := strings.Fields(r.Stdout), strings.Fields(r.Stderr)
		if len(out)+len(errs) != 2 || !slices.Equal(out, []string{"l1", "l2", "l3"}[3-len(out):]) || (len(errs) == 1 && errs[0] != "e1") {
			t.Errorf("--tail 2 gave stdout %q stderr %q", r.Stdout, r.Stderr)
		}
		only := e.For(t).Name("tail")
		e.For(t).RemoveOnCleanup(only)
		e.For(t).MustRun("run", "--name", only, img, "sh", "-c", "for i in 1 2 3 4 5; do echo n$i; done")
		if r := e.For(t).MustRun("logs", "--tail", "2", only); r.Stdout != "n4\nn5\n" {
			t.Errorf("--tail 2 of one stream: %q", r.Stdout)
		}
	})
	t.Run("-t prefixes RFC 3339 nano timestamps", func(t *testing.T) {
		r := e.For(t).MustRun("logs", "-t", name)
		re := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{1,9}Z l[123]$`)
		for _, l := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
			if !re.MatchString(l) {
				t.Errorf("line %q is not docker's timestamped form", l)
			}
		}
	})
	t.Run("-f follows a running container until it exits", func(t *testing.T) {
		ee := e.For(t)
		fname := ee.Name("follow")
		ee.RunDetached(fname, img, "sh", "-c", "echo first; while [ ! -f /tmp/go ]; do sleep 0.1; done; echo second")
		cmd := ee.Cmd(t.Context(), "logs", "-f", fname)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(out)
		if l, err := br.ReadString('\n'); l != "first\n" {
			t.Fatalf("first line %q %v", l, err)
		}
		ee.MustRun("exec", fname, "touch", "/tmp/go")
		rest, _ := io.ReadAll(br)
		if err := cmd.Wait(); err != nil {
			t.Errorf("logs -f: %v", err)
		}
		if string(rest) != "second\n" {
			t.Errorf("followed %q, want %q", rest, "second\n")
		}
	})
}

// TestRmAndPrune: rm refuses a running container without -f (Docker's
// text is checked in errors_test), -f kills it, -v drops anonymous
// volumes, container prune removes only stopped ones.
func TestRmAndPrune(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	oracle := oracleCases(t, "cases.json")

	running := e.Name("rmrun")
	id := e.RunDetached(running, img, "sleep", "1000")
	if r := e.Run("rm", running); r.Code != 1 || !strings.Contains(r.Stderr, "You cannot remove a running container "+id) {
		t.Errorf("rm of a running container:\n%s", r)
	}
	if r := e.MustRun("rm", "-f", running); r.Stdout != dockerToBerth(oracle["rm-force-running"].Stdout, "oracle-k-20.10.24-dfsg1", running) {
		t.Errorf("rm -f printed %q", r.Stdout)
	}
	if r := e.Run("inspect", running); r.Code != 1 {
		t.Errorf("container survived rm -f")
	}

	stopped := e.Name("rmstop")
	e.RemoveOnCleanup(stopped)
	e.MustRun("run", "--name", stopped, img, "true")
	if r := e.MustRun("rm", stopped); r.Stdout != stopped+"\n" {
		t.Errorf("rm printed %q", r.Stdout)
	}

	// container prune: stopped and created go, running stays.
	a, b, c := e.Name("pa"), e.Name("pb"), e.Name("pc")
	e.RemoveOnCleanup(a)
	e.RemoveOnCleanup(b)
	aID := strings.TrimSpace(e.MustRun("create", "--name", a, img, "true").Stdout)
	e.MustRun("run", "--name", b, img, "true")
	bID := e.Inspect(b, "{{.Id}}")
	e.RunDetached(c, img, "sleep", "1000")
	r := e.MustRun("container", "prune", "-f")
	lines := strings.Split(r.Stdout, "\n")
	if len(lines) != 6 || lines[0] != "Deleted Containers:" || !slices.Contains(lines[1:3], aID) || !slices.Contains(lines[1:3], bID) ||
		lines[3] != "" || !strings.HasPrefix(lines[4], "Total reclaimed space: ") {
		t.Errorf("prune output is not docker's:\n%s", r.Stdout)
	}
	if got := strings.TrimSpace(e.MustRun("ps", "-a", "--format", "{{.Names}}").Stdout); got != c {
		t.Errorf("after prune: %q, want only %s", got, c)
	}
	if r := e.MustRun("container", "prune", "-f"); r.Stdout != "Total reclaimed space: 0B\n" {
		t.Errorf("prune with nothing to do printed %q", r.Stdout)
	}
	// rm of several: each name echoed, failures reported, exit 1.
	d := e.Name("pd")
	e.MustRun("create", "--name", d, img, "true")
	r = e.Run("rm", d, "nosuch-"+d)
	if r.Code != 1 || r.Stdout != d+"\n" || r.Stderr != "Error: No such container: nosuch-"+d+"\n" {
		t.Errorf("rm of one good, one missing:\n%s", r)
	}
	// With -f a missing container is reported but is no failure (docker/cli).
	if r := e.Run("rm", "-f", "nosuch-"+d); r.Code != 0 || r.Stderr != "Error: No such container: nosuch-"+d+"\n" {
		t.Errorf("rm -f of a missing container:\n%s", r)
	}
}

// TestRestartAndWait: restart runs the container again (RestartCount
// untouched); wait blocks until the container exits.
func TestRestartAndWait(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	name := e.Name("restart")
	e.RunDetached(name, img, "sh", "-c", "echo started; trap 'exit 0' TERM; while :; do sleep 0.1; done")
	pid1 := e.Inspect(name, "{{.State.Pid}}")
	if r := e.MustRun("restart", "-t", "5", name); r.Stdout != name+"\n" {
		t.Errorf("restart printed %q", r.Stdout)
	}
	if got := e.Inspect(name, "{{.State.Status}} {{.RestartCount}}"); got != "running 0" {
		t.Errorf("after restart %q, want running 0", got)
	}
	if pid2 := e.Inspect(name, "{{.State.Pid}}"); pid2 == pid1 {
		t.Errorf("same PID %s after restart", pid2)
	}
	e.Eventually("second start logged", func() bool { return e.MustRun("logs", name).Stdout == "started\nstarted\n" })

	wname := e.Name("wait")
	e.RunDetached(wname, img, "sh", "-c", "while [ ! -f /tmp/go ]; do sleep 0.1; done; exit 5")
	cmd := e.Cmd(t.Context(), "wait", wname)
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e.MustRun("exec", wname, "touch", "/tmp/go")
	if err := cmd.Wait(); err != nil {
		t.Errorf("wait: %v", err)
	}
	if out.String() != "5\n" {
		t.Errorf("wait printed %q, want 5", out.String())
	}
	// wait of several: codes in order, failures reported, exit 1.
	r := e.Run("wait", wname, name+"-nosuch")
	if r.Code != 1 || r.Stdout != "5\n" || !strings.Contains(r.Stderr, "No such container: "+name+"-nosuch") {
		t.Errorf("wait of one exited, one missing:\n%s", r)
	}
}

// TestExec: exec runs in the container's namespaces with its environment;
// -e, -w, -u, -d, -i and -it.
func TestExec(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	name := e.Name("exec")
	e.RunDetached(name, "-e", "FROMRUN=1", "-w", "/tmp", img, "sleep", "1000")
	cases := []struct {
		desc string
		args []string
		want string
		code int
	}{
		{"the container's env and workdir", []string{name, "sh", "-c", `echo "$FROMRUN $PWD $(hostname)"`}, "1 /tmp " + e.Inspect(name, "{{.Config.Hostname}}") + "\n", 0},
		{"-e adds, -w moves", []string{"-e", "X=2", "-w", "/home", name, "sh", "-c", `echo "$FROMRUN $X $PWD"`}, "1 2 /home\n", 0},
		{"-u by name", []string{"-u", "app", name, "id", "-u"}, "1000\n", 0},
		{"-u uid:gid", []string{"-u", "1234:5678", name, "sh", "-c", "echo $(id -u):$(id -g)"}, "1234:5678\n", 0},
		{"the exit status is exec's", []string{name, "sh", "-c", "exit 13"}, "", 13},
		{"the same PID namespace", []string{name, "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"}, "sleep 1000 ", 0},
		{"a missing command is 127", []string{name, "nosuchcmd"}, "", 127},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			r := e.For(t).Run(append([]string{"exec"}, c.args...)...)
			if r.Code != c.code || (c.code == 0 && r.Stdout != c.want) {
				t.Errorf("want exit %d, stdout %q:\n%s", c.code, c.want, r)
			}
		})
	}
	t.Run("into a --runtime runc container", func(t *testing.T) {
		ee := e.For(t)
		other := ee.Name("exec-runc")
		ee.RunDetached(other, "--runtime", "runc", img, "sleep", "1000")
		if r := ee.Run("exec", other, "echo", "via-runc"); r.Code != 0 || r.Stdout != "via-runc\n" {
			t.Errorf("exec through the external runtime:\n%s", r)
		}
	})
	t.Run("-d returns at once and the command runs", func(t *testing.T) {
		ee := e.For(t)
		if r := ee.MustRun("exec", "-d", name, "sh", "-c", "echo detached > /tmp/d"); r.Stdout != "" {
			t.Errorf("exec -d printed %q", r.Stdout)
		}
		ee.Eventually("the detached exec wrote its file", func() bool {
			return ee.Run("exec", name, "cat", "/tmp/d").Stdout == "detached\n"
		})
	})
	t.Run("-i streams stdin", func(t *testing.T) {
		if r := e.For(t).RunStdin("in\n", "exec", "-i", name, "cat"); r.Stdout != "in\n" {
			t.Errorf("exec -i cat: %s", r)
		}
	})
	t.Run("-it gives a terminal and keystrokes", func(t *testing.T) {
		r := e.For(t).RunPTY("tty; exit 5\n", "exec", "-it", name, "sh")
		if r.Code != 5 || !strings.Contains(r.Output, "/dev/pts/") {
			t.Errorf("exec -it: want a pts and exit 5; got %d %q", r.Code, r.Output)
		}
	})
	t.Run("exec in a stopped container fails", func(t *testing.T) {
		ee := e.For(t)
		stopped := ee.Name("exec-stopped")
		ee.RemoveOnCleanup(stopped)
		ee.MustRun("create", "--name", stopped, img, "true")
		if r := ee.Run("exec", stopped, "true"); r.Code == 0 || !strings.Contains(r.Stderr, "is not running") {
			t.Errorf("want a refusal:\n%s", r)
		}
	})
}

// TestTopStatsDiff: top lists the container's processes, stats samples
// it, diff lists filesystem changes as docker does (sorted, A/C/D).
func TestTopStatsDiff(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	name := e.Name("tsd")
	e.RunDetached(name, img, "sleep", "1000")
	pid := e.Inspect(name, "{{.State.Pid}}")

	r := e.MustRun("top", name)
	header, rows := psTable(t, r.Stdout)
	if !slices.Equal(header, []string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}) {
		t.Errorf("top header %q", header)
	}
	if len(rows) != 1 || rows[0]["PID"] != pid || rows[0]["CMD"] != "sleep 1000" || rows[0]["UID"] != "root" {
		t.Errorf("top rows %v, want PID %s running sleep 1000", rows, pid)
	}
	if r := e.MustRun("top", name, "-o", "pid,comm"); !strings.Contains(r.Stdout, pid) || !strings.Contains(r.Stdout, "sleep") {
		t.Errorf("top with ps options:\n%s", r.Stdout)
	}

	r = e.MustRun("stats", "--no-stream", name)
	header, rows = psTable(t, r.Stdout)
	if want := []string{"CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"}; !slices.Equal(header, want) {
		t.Errorf("stats header %q, docker's %q", header, want)
	}
	if len(rows) != 1 || rows[0]["NAME"] != name || rows[0]["PIDS"] != "1" ||
		!regexp.MustCompile(`^\d+\.\d\d%$`).MatchString(rows[0]["CPU %"]) ||
		!regexp.MustCompile(`^[\d.]+[KMG]?i?B / [\d.]+[KMGT]iB$`).MatchString(rows[0]["MEM USAGE / LIMIT"]) {
		t.Errorf("stats rows %v", rows)
	}
	if r := e.MustRun("stats", "--no-stream", "--format", "{{.Name}}"); r.Stdout != name+"\n" {
		t.Errorf("stats of all running with a template: %q", r.Stdout)
	}

	if r := e.MustRun("diff", name); r.Stdout != "" {
		t.Errorf("a fresh container has changes:\n%s", r.Stdout)
	}
	e.MustRun("exec", name, "sh", "-c", "mkdir /newdir && echo x > /newdir/f && rm /bin/vi && echo y >> /etc/passwd")
	want := "C /bin\nD /bin/vi\nC /etc\nC /etc/passwd\nA /newdir\nA /newdir/f\n"
	if r := e.MustRun("diff", name); r.Stdout != want {
		t.Errorf("diff:\n%s\nwant:\n%s", r.Stdout, want)
	}
}

// TestCommitAndExport: commit makes an image of the container's changes
// that runs; export writes the merged filesystem.
func TestCommitAndExport(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	name := e.Name("commit")
	e.RemoveOnCleanup(name)
	e.MustRun("run", "--name", name, "-e", "FROM_CTR=1", img, "sh", "-c", "echo committed > /hello")

	ref := e.Name("committed") + ":v1"
	r := e.MustRun("commit", "-m", "my message", "-c", `CMD ["cat","/hello"]`, name, ref)
	id := strings.TrimSpace(r.Stdout)
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(id) {
		t.Errorf("commit printed %q", r.Stdout)
	}
	if got := e.Inspect(ref, "{{.Id}}"); got != id {
		t.Errorf("image %s has ID %s, commit printed %s", ref, got, id)
	}
	if r := e.MustRun("run", "--rm", ref); r.Stdout != "committed\n" {
		t.Errorf("running the committed image printed %q", r.Stdout)
	}
	if got := e.Inspect(ref, "{{.Comment}} {{json .Config.Env}} {{len .RootFS.Layers}}"); got != `my message ["FROM_CTR=1"] 2` {
		t.Errorf("committed image: %q", got)
	}
	if got := e.Inspect(ref, "{{.Parent}}"); got != e.Inspect(img, "{{.Id}}") {
		t.Errorf("Parent = %q, want the base image", got)
	}
	// Commit without a name makes a dangling image.
	if r := e.MustRun("commit", name); !strings.HasPrefix(r.Stdout, "sha256:") {
		t.Errorf("commit without a reference: %q", r.Stdout)
	}

	out := filepath.Join(t.TempDir(), "export.tar")
	e.MustRun("export", "-o", out, name)
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := tarNames(t, f)
	for _, want := range []string{"hello", "bin/busybox", "etc/passwd"} {
		if !files[want] {
			t.Errorf("export lacks %s", want)
		}
	}
	// To stdout as well.
	r = e.MustRun("export", name)
	if files := tarNames(t, strings.NewReader(r.Stdout)); !files["hello"] {
		t.Errorf("export to stdout lacks hello")
	}
}

// tarNames lists a tar's entries without leading "./" or "/".
func tarNames(t *testing.T, r io.Reader) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		out[strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/"), "/")] = true
	}
}

// TestPauseRename: pause freezes ("Up … (Paused)"), unpause thaws; rename
// changes the name everywhere.
func TestPauseRename(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	name := e.Name("pause")
	e.RunDetached(name, img, "sleep", "1000")
	if r := e.MustRun("pause", name); r.Stdout != name+"\n" {
		t.Errorf("pause printed %q", r.Stdout)
	}
	status := e.MustRun("ps", "--filter", "name="+name, "--format", "{{.Status}} {{.State}}").Stdout
	if !regexp.MustCompile(`^Up .* \(Paused\) paused\n$`).MatchString(status) {
		t.Errorf("paused ps status %q", status)
	}
	if got := e.Inspect(name, "{{.State.Status}} {{.State.Paused}} {{.State.Running}}"); got != "paused true true" {
		t.Errorf("paused state %q", got)
	}
	if r := e.Run("exec", name, "true"); r.Code == 0 {
		t.Errorf("exec into a paused container succeeded")
	}
	if r := e.Run("pause", name); r.Code != 1 {
		t.Errorf("pause of a paused container:\n%s", r)
	}
	if r := e.MustRun("unpause", name); r.Stdout != name+"\n" {
		t.Errorf("unpause printed %q", r.Stdout)
	}
	if got := e.Inspect(name, "{{.State.Status}} {{.State.Paused}}"); got != "running false" {
		t.Errorf("unpaused state %q", got)
	}
	e.MustRun("exec", name, "true")

	newName := e.Name("renamed")
	e.RemoveOnCleanup(newName)
	if r := e.MustRun("rename", name, newName); r.Stdout != "" {
		t.Errorf("rename printed %q", r.Stdout)
	}
	if got := e.Inspect(newName, "{{.Name}}"); got != "/"+newName {
		t.Errorf("Name = %q", got)
	}
	if r := e.Run("inspect", name); r.Code != 1 {
		t.Errorf("the old name still resolves")
	}
	other := e.Name("other")
	e.RemoveOnCleanup(other)
	e.MustRun("create", "--name", other, img, "true")
	if r := e.Run("rename", newName, other); r.Code != 1 || !strings.Contains(r.Stderr, "is already in use") {
		t.Errorf("rename to a taken name:\n%s", r)
	}
	// The freed name can be reused.
	e.MustRun("create", "--name", name, img, "true")
	e.RemoveOnCleanup(name)
}

// TestManagementForms: `container ls`, `image ls`, `container rm
// $(container ls -a -q)` and friends are the same commands.
func TestManagementForms(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	for i := 0; i < 3; i++ {
		n := e.Name(fmt.Sprintf("mg%d", i))
		e.RemoveOnCleanup(n)
		e.MustRun("container", "create", "--name", n, img, "true")
	}
	run := e.Name("mgrun")
	e.RemoveOnCleanup(run)
	e.MustRun("container", "run", "--name", run, img, "true")
	if a, b := e.MustRun("ps", "-a").Stdout, e.MustRun("container", "ls", "-a").Stdout; a != b {
		t.Errorf("ps -a and container ls -a differ:\n%s\n%s", a, b)
	}
	if a, b := e.MustRun("images", "-a").Stdout, e.MustRun("image", "ls", "-a").Stdout; a != b {
		t.Errorf("images -a and image ls -a differ:\n%s\n%s", a, b)
	}
	if a, b := e.MustRun("inspect", run).Stdout, e.MustRun("container", "inspect", run).Stdout; a != b {
		t.Errorf("inspect and container inspect differ")
	}
	ids := strings.Fields(e.MustRun("container", "ls", "-a", "-q").Stdout)
	if len(ids) != 4 {
		t.Fatalf("container ls -a -q: %v", ids)
	}
	r := e.MustRun(append([]string{"container", "rm"}, ids...)...)
	if got := strings.Fields(r.Stdout); !slices.Equal(got, ids) {
		t.Errorf("container rm echoed %v, want %v", got, ids)
	}
	if out := e.MustRun("container", "list", "-aq").Stdout; out != "" {
		t.Errorf("left after container rm: %q", out)
	}
}
