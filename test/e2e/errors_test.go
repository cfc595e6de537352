package e2e

import (
	"regexp"
	"strings"
	"testing"
)

// Failure texts and exit codes, replayed from Docker 20.10's answers in
// test/oracle/data/cases.json. berth has no daemon, so where Docker's
// client prints "docker: Error response from daemon: X" berth prints
// "berth: X"; everything else (the message, the trailing period, the help
// hint, the exit code) is Docker's.

// TestErrorsMatchOracle replays the oracle's failure cases that involve no
// live container.
func TestErrorsMatchOracle(t *testing.T) {
	oracle := oracleCases(t, "cases.json")
	e := newEnv(t)
	img := e.BusyboxImage()

	cases := []struct {
		desc   string
		oracle string   // case name in cases.json
		args   []string // berth's arguments (the oracle's, translated)
		// stderr is the exact text expected; when empty, it is derived from
		// the oracle's stderr by dockerToBerth and the daemon prefix dropped.
		stderr string
		// contains, when set, replaces the exact comparison: berth's runtime
		// words the low-level cause differently, the essential part is kept.
		contains []string
	}{
		{desc: "a missing image is looked up locally, then fails with 125",
			oracle: "missing-image-default-pull", args: []string{"run", "--rm", "oracle-nosuch-image:v1", "true"},
			contains: []string{"Unable to find image 'oracle-nosuch-image:v1' locally\nberth: ", ".\nSee 'berth run --help'.\n"}},
		{desc: "an image with no command and none given is refused",
			oracle: "no-command", args: []string{"run", "--rm", img}},
		{desc: "a command not in PATH exits 127",
			oracle: "nosuchcmd", args: []string{"run", "--rm", img, "nosuchcmd"},
			contains: []string{"berth: ", `exec: "nosuchcmd": executable file not found in $PATH`}},
		{desc: "a file that is not executable exits 126",
			oracle: "not-executable", args: []string{"run", "--rm", img, "/etc/passwd"},
			contains: []string{"berth: ", `exec: "/etc/passwd": permission denied`}},
		{desc: "a directory as command exits 126",
			oracle: "is-directory", args: []string{"run", "--rm", img, "/tmp"},
			// runc 1.5 words it "is a directory" where Docker's runc 1.1 said "permission denied".
			contains: []string{"berth: ", `exec: "/tmp": `}},
		{desc: "the container's exit status is run's",
			oracle: "exit-7", args: []string{"run", "--rm", img, "sh", "-c", "exit 7"}},
		{desc: "PID 1 ignores its own SIGKILL",
			oracle: "pid1-self-kill-9-ignored", args: []string{"run", "--rm", img, "sh", "-c", "kill -9 $$; echo still here"}},
		{desc: "a bad --memory is a flag error with 125",
			oracle: "bad-memory", args: []string{"run", "--rm", "--memory", "12zz", img, "true"},
			// go-units words the cause as Docker 28's client does ("invalid suffix").
			contains: []string{`invalid argument "12zz" for "-m, --memory" flag: invalid`, "See 'berth run --help'.\n"}},
		{desc: "an unknown flag is a flag error with 125",
			oracle: "bad-flag", args: []string{"run", "--rm", "--no-such-flag", img, "true"}},
		{desc: "a relative working directory is refused at create",
			oracle: "bad-workdir-relative", args: []string{"run", "--rm", "-w", "relative", img, "true"}},
		{desc: "an unknown user is refused at start, without the help hint",
			oracle: "bad-user", args: []string{"run", "--rm", "-u", "nosuchuser", img, "true"}},
		{desc: "inspect of nothing prints [] and names the object",
			oracle: "inspect-missing", args: []string{"inspect", "oracle-nosuch"}},
		{desc: "container inspect of nothing names a container",
			oracle: "container-inspect-missing", args: []string{"container", "inspect", "oracle-nosuch"}},
		{desc: "image inspect of nothing names an image",
			oracle: "image-inspect-missing", args: []string{"image", "inspect", "oracle-nosuch"}},
		{desc: "rm of nothing", oracle: "rm-missing", args: []string{"rm", "oracle-nosuch"}},
		{desc: "rmi of nothing", oracle: "rmi-missing", args: []string{"rmi", "oracle-nosuch"}},
		{desc: "start of nothing says which containers failed",
			oracle: "start-missing", args: []string{"start", "oracle-nosuch"}},
		{desc: "stop of nothing", oracle: "stop-missing", args: []string{"stop", "oracle-nosuch"}},
		{desc: "logs of nothing", oracle: "logs-missing", args: []string{"logs", "oracle-nosuch"}},
		{desc: "create of a missing image exits 1, not 125",
			oracle: "missing-image-create", args: []string{"create", "oracle-nosuch-image"},
			contains: []string{"Unable to find image 'oracle-nosuch-image:latest' locally\n", "Error response from daemon: "}},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			o, ok := oracle[c.oracle]
			if !ok {
				t.Fatalf("oracle case %q missing", c.oracle)
			}
			r := e.For(t).Run(c.args...)
			if r.Code != o.Exit {
				t.Errorf("exit %d, docker's was %d\n%s", r.Code, o.Exit, r)
			}
			if want := dockerToBerth(o.Stdout); r.Stdout != want {
				t.Errorf("stdout = %q, docker's (translated) = %q", r.Stdout, want)
			}
			if len(c.contains) > 0 {
				for _, s := range c.contains {
					if !strings.Contains(r.Stderr, s) {
						t.Errorf("stderr lacks %q:\n%s\ndocker said:\n%s", s, r.Stderr, o.Stderr)
					}
				}
				// Docker prints the help hint only for errors before the
				// container starts; the runtime's failures come without it.
				if hasHint := strings.Contains(o.Stderr, "See 'docker"); hasHint != strings.Contains(r.Stderr, "See 'berth") {
					t.Errorf("help hint present = %v, docker's = %v\n%s", !hasHint, hasHint, r.Stderr)
				}
				return
			}
			want := c.stderr
			if want == "" {
				want = strings.ReplaceAll(dockerToBerth(o.Stderr), "berth: Error response from daemon: ", "berth: ")
			}
			if r.Stderr != want {
				t.Errorf("stderr:\n%q\nwant (docker's, translated):\n%q", r.Stderr, want)
			}
		})
	}
}

// TestErrorsOnLiveObjects replays the oracle's failures that need an
// existing container: name conflicts, removing a running container, rmi of
// an image in use, kill of a stopped container.
func TestErrorsOnLiveObjects(t *testing.T) {
	oracle := oracleCases(t, "cases.json")
	e := newEnv(t)
	img := e.BusyboxImage()

	created := e.Name("created")
	e.RemoveOnCleanup(created)
	createdID := strings.TrimSpace(e.MustRun("create", "--name", created, img, "true").Stdout)
	running := e.Name("running")
	runningID := e.RunDetached(running, img, "sleep", "1000")
	imgID := e.Inspect(img, "{{.Id}}")

	t.Run("a taken name names the holder; create exits 1", func(t *testing.T) {
		o := oracle["name-conflict"]
		r := e.For(t).Run("create", "--name", created, img, "true")
		want := dockerToBerth(o.Stderr, "oracle-created", created,
			"77bfbb0c445a81ce687f3f23df3b8e6590731f0e8ea41966be7b726824d50a38", createdID)
		if r.Code != o.Exit || r.Stderr != want {
			t.Errorf("want exit %d and stderr\n%q\ngot:\n%s", o.Exit, want, r)
		}
	})
	t.Run("run with a taken name exits 125 and names the holder", func(t *testing.T) {
		r := e.For(t).Run("run", "--name", created, img, "true")
		want := `berth: Conflict. The container name "/` + created + `" is already in use by container "` + createdID + `". You have to remove (or rename) that container to be able to reuse that name.` + "\nSee 'berth run --help'.\n"
		if r.Code != 125 || r.Stderr != want {
			t.Errorf("want exit 125 and stderr\n%q\ngot:\n%s", want, r)
		}
	})
	t.Run("rm of a running container refuses with Docker's text", func(t *testing.T) {
		o := oracle["rm-running"]
		r := e.For(t).Run("rm", running)
		want := dockerToBerth(o.Stderr, "8ebfdd4207a4dc7912b5740120688d9f95dd99f9d08b00dc06128735682fea80", runningID)
		if r.Code != o.Exit || r.Stderr != want || r.Stdout != "" {
			t.Errorf("want exit %d and stderr\n%q\ngot:\n%s", o.Exit, want, r)
		}
		if st := e.For(t).Inspect(running, "{{.State.Status}}"); st != "running" {
			t.Errorf("container is %s after a refused rm, want running", st)
		}
	})
	t.Run("rmi of an image in use names the container and image", func(t *testing.T) {
		o := oracle["rmi-in-use"]
		r := e.For(t).Run("rmi", "busybox-imported")
		// Any of the users may be named; Docker names one of them.
		re := regexp.MustCompile(`^Error response from daemon: conflict: unable to remove repository reference "busybox-imported" \(must force\) - container ([0-9a-f]{12}) is using its referenced image ` + regexp.QuoteMeta(imgID[7:19]) + "\n$")
		m := re.FindStringSubmatch(r.Stderr)
		if r.Code != o.Exit || m == nil || (m[1] != createdID[:12] && m[1] != runningID[:12]) {
			t.Errorf("want exit %d and stderr like docker's\n%q\ngot:\n%s", o.Exit, o.Stderr, r)
		}
		if got := e.For(t).Inspect(img, "{{.Id}}"); got != imgID {
			t.Errorf("image changed after refused rmi: %s", got)
		}
	})
	t.Run("start of a running container prints its name", func(t *testing.T) {
		o := oracle["start-running"]
		r := e.For(t).Run("start", running)
		if r.Code != o.Exit || r.Stdout != running+"\n" {
			t.Errorf("want exit 0 and the name echoed:\n%s", r)
		}
	})
	t.Run("kill of a stopped container is refused", func(t *testing.T) {
		o := oracle["kill-not-running"]
		r := e.For(t).Run("kill", created)
		want := dockerToBerth(o.Stderr, "oracle-k-20.10.24-dfsg1", created,
			"80e563f1fcfedf363a4637612ba811f2aca1148091f9821c2db8809363e29b59", createdID)
		if r.Code != o.Exit || r.Stderr != want {
			t.Errorf("want exit %d and stderr\n%q\ngot:\n%s", o.Exit, want, r)
		}
	})
}

// TestRunParseErrors covers run's own parse errors: exit 125,
// a "berth: " message and the help hint, and no container left behind.
func TestRunParseErrors(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	cases := []struct {
		desc string
		args []string
		want string // substring of stderr
	}{
		{"an unreadable --env-file", []string{"--env-file", "/nonexistent/env"}, "/nonexistent/env: no such file or directory"},
		{"a -v spec with an empty destination", []string{"-v", "/tmp:"}, "invalid"},
		{"a -v spec with a relative destination", []string{"-v", "/tmp:relative"}, "invalid volume specification"},
		{"a bad --restart policy", []string{"--restart", "sometimes"}, "invalid restart policy"},
		{"a bad --stop-signal", []string{"--stop-signal", "SIGNOPE"}, "invalid signal"},
		{"a bad --tmpfs path", []string{"--tmpfs", "relative"}, "invalid"},
		{"a bad --cpus", []string{"--cpus", "lots"}, `invalid argument "lots" for "--cpus" flag`},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			r := e.For(t).Run(append(append([]string{"run", "--rm"}, c.args...), img, "true")...)
			if r.Code != 125 || !strings.HasPrefix(r.Stderr, "berth: ") || !strings.Contains(r.Stderr, c.want) ||
				!strings.HasSuffix(r.Stderr, ".\nSee 'berth run --help'.\n") {
				t.Errorf("want exit 125, \"berth: …%s….\" and the help hint:\n%s", c.want, r)
			}
		})
	}
	if r := e.MustRun("ps", "-aq"); r.Stdout != "" {
		t.Errorf("failed runs left containers:\n%s", r.Stdout)
	}
}

// TestEmptyRootOracle replays test/oracle/data/empty-cases.json (Docker on
// an empty daemon) word for word, with berth for docker.
func TestEmptyRootOracle(t *testing.T) {
	e := newEnv(t)
	oracle := oracleCases(t, "empty-cases.json")
	for _, name := range []string{"images-empty", "ps-empty", "ps-a-empty", "ps-a-json-empty", "unknown-verb", "run-no-args"} {
		o, ok := oracle[name]
		if !ok {
			t.Fatalf("oracle case %s missing", name)
		}
		t.Run(name, func(t *testing.T) {
			r := e.For(t).Run(o.Args[1:]...)
			if r.Code != o.Exit || r.Stdout != dockerToBerth(o.Stdout) || r.Stderr != dockerToBerth(o.Stderr) {
				t.Errorf("docker's answer (translated): exit %d\nstdout %q\nstderr %q\ngot:\n%s",
					o.Exit, dockerToBerth(o.Stdout), dockerToBerth(o.Stderr), r)
			}
		})
	}
}
