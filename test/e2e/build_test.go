package e2e

// Behaviour of `berth build` and `berth history` beyond the Docker
// comparison table (build_oracle_test.go): the cache, output modes,
// multi-stage planning, ONBUILD, failure cleanup, syntax errors,
// reproducibility and the stdin context forms. Expected output lines are
// Docker 20.10's (test/oracle/data/build, NOTES-oracle.md).

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeContext writes files (name → content) into a fresh directory.
func writeContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// stepLines returns, per "Step N/M" line, whether its result came from the
// cache, keyed by the step text.
func cachedSteps(out string) (cached, built []string) {
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		_, text, ok := strings.Cut(l, " : ")
		if !ok || !strings.HasPrefix(l, "Step ") || strings.HasPrefix(text, "FROM ") {
			continue
		}
		if i+1 < len(lines) && lines[i+1] == " ---> Using cache" {
			cached = append(cached, text)
		} else {
			built = append(built, text)
		}
	}
	return cached, built
}

var builtID = regexp.MustCompile(`(?m)^Successfully built ([0-9a-f]{12})$`)

func builtImage(t *testing.T, r Result) string {
	t.Helper()
	m := builtID.FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("no 'Successfully built' line:\n%s", r)
	}
	return m[1]
}

func TestBuildCache(t *testing.T) {
	e := newEnv(t)
	bb := e.BusyboxImage()
	df := "FROM " + bb + "\nWORKDIR /app\nCOPY requirements.txt .\nRUN cat requirements.txt > /deps\n" +
		"COPY app.py .\nRUN cat app.py > /app-copy\nENV NAME=World\nCMD [\"cat\", \"/app-copy\"]\n"
	ctx := writeContext(t, map[string]string{"Dockerfile": df, "requirements.txt": "flask\n", "app.py": "print(1)\n"})
	tag := e.Name("cache")

	first := e.MustRun("build", "--network", "none", "-t", tag, ctx)
	if cached, _ := cachedSteps(first.Stdout); len(cached) != 0 {
		t.Fatalf("first build used the cache for %v:\n%s", cached, first)
	}
	id1 := builtImage(t, first)

	t.Run("unchanged rebuild is fully cached and gives the same image", func(t *testing.T) {
		e := e.For(t)
		r := e.MustRun("build", "--network", "none", "-t", tag, ctx)
		cached, built := cachedSteps(r.Stdout)
		if len(built) != 0 || len(cached) != 7 {
			t.Errorf("cached %v, rebuilt %v:\n%s", cached, built, r)
		}
		if strings.Contains(r.Stdout, "Running in") {
			t.Errorf("a cached rebuild ran a step:\n%s", r)
		}
		if id := builtImage(t, r); id != id1 {
			t.Errorf("rebuild gave %s, first build %s", id, id1)
		}
	})

	t.Run("a touched file with the same content still hits", func(t *testing.T) {
		e := e.For(t)
		later := time.Now().Add(time.Hour)
		os.Chtimes(filepath.Join(ctx, "app.py"), later, later)
		r := e.MustRun("build", "--network", "none", "-t", tag, ctx)
		if _, built := cachedSteps(r.Stdout); len(built) != 0 {
			t.Errorf("mtime change rebuilt %v:\n%s", built, r)
		}
	})

	t.Run("changing app.py re-runs only from its COPY on", func(t *testing.T) {
		e := e.For(t)
		os.WriteFile(filepath.Join(ctx, "app.py"), []byte("print(2)\n"), 0o644)
		r := e.MustRun("build", "--network", "none", "-t", tag, ctx)
		cached, built := cachedSteps(r.Stdout)
		wantCached := []string{"WORKDIR /app", "COPY requirements.txt .", "RUN cat requirements.txt > /deps"}
		wantBuilt := []string{"COPY app.py .", "RUN cat app.py > /app-copy", "ENV NAME=World", `CMD ["cat", "/app-copy"]`}
		if strings.Join(cached, "|") != strings.Join(wantCached, "|") || strings.Join(built, "|") != strings.Join(wantBuilt, "|") {
			t.Errorf("cached %q built %q, want cached %q built %q\n%s", cached, built, wantCached, wantBuilt, r)
		}
		if out := e.MustRun("run", "--rm", tag).Stdout; out != "print(2)\n" {
			t.Errorf("image runs %q, want the new app.py", out)
		}
	})

	t.Run("a changed build arg re-runs the RUN that sees it", func(t *testing.T) {
		e := e.For(t)
		ctx := writeContext(t, map[string]string{"Dockerfile": "FROM " + bb + "\nARG V=1\nRUN echo $V > /v\n"})
		e.MustRun("build", "--network", "none", ctx)
		r := e.MustRun("build", "--network", "none", "--build-arg", "V=2", ctx)
		cached, built := cachedSteps(r.Stdout)
		if len(cached) != 1 || len(built) != 1 || built[0] != "RUN echo $V > /v" {
			t.Errorf("cached %v built %v:\n%s", cached, built, r)
		}
	})

	t.Run("--no-cache rebuilds every step", func(t *testing.T) {
		e := e.For(t)
		r := e.MustRun("build", "--no-cache", "--network", "none", ctx)
		if cached, _ := cachedSteps(r.Stdout); len(cached) != 0 {
			t.Errorf("--no-cache used the cache for %v:\n%s", cached, r)
		}
	})
}

func TestBuildOutputModes(t *testing.T) {
	e := newEnv(t)
	bb := e.BusyboxImage()
	ctx := writeContext(t, map[string]string{"Dockerfile": "FROM " + bb + "\nRUN echo hello-from-run\nLABEL a=b\n"})
	one, two := e.Name("multi"), e.Name("multi")+":v2"
	iid := filepath.Join(t.TempDir(), "iid")

	r := e.MustRun("build", "-q", "--network", "none", "--iidfile", iid, "-t", one, "-t", two, ctx)
	id := strings.TrimSpace(r.Stdout)
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(id) || strings.Count(r.Stdout, "\n") != 1 {
		t.Fatalf("-q must print only the image ID:\n%s", r)
	}
	if b, err := os.ReadFile(iid); err != nil || string(b) != id {
		t.Errorf("--iidfile holds %q (%v), want %q", b, err, id)
	}
	for _, ref := range []string{one + ":latest", two} {
		if got := e.Inspect(ref, "{{.Id}}"); got != id {
			t.Errorf("%s is %q, want %q", ref, got, id)
		}
	}

	r = e.MustRun("build", "--network", "none", "-t", one, "-t", two, ctx)
	for _, want := range []string{"Step 1/3 : FROM " + bb, "Step 2/3 : RUN echo hello-from-run", " ---> Using cache",
		"Successfully built " + strings.TrimPrefix(id, "sha256:")[:12], "Successfully tagged " + one + ":latest", "Successfully tagged " + two} {
		if !strings.Contains(r.Stdout, want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, r)
		}
	}
	r = e.MustRun("build", "--no-cache", "--network", "none", ctx)
	for _, want := range []string{" ---> Running in ", "hello-from-run\n", "Removing intermediate container "} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("uncached output lacks %q:\n%s", want, r)
		}
	}
	if r := e.MustRun("ps", "-a", "-q"); r.Stdout != "" {
		t.Errorf("a build left containers:\n%s", r)
	}
}

func TestBuildTargetSkipsUnusedStages(t *testing.T) {
	e := newEnv(t)
	bb := e.BusyboxImage()
	df := "FROM " + bb + " AS base\nRUN echo base > /base.txt\n" +
		"FROM " + bb + " AS unused\nRUN false\n" +
		"FROM base AS test\nRUN echo test > /test.txt\n" +
		"FROM " + bb + "\nCOPY --from=test /test.txt /base.txt /got/\nCMD [\"cat\", \"/got/test.txt\", \"/got/base.txt\"]\n"
	ctx := writeContext(t, map[string]string{"Dockerfile": df})

	r := e.MustRun("build", "--network", "none", ctx)
	if strings.Contains(r.Stdout, "RUN false") {
		t.Errorf("the unused stage was built:\n%s", r)
	}
	id := builtImage(t, r)
	if out := e.MustRun("run", "--rm", id).Stdout; out != "test\nbase\n" {
		t.Errorf("final image prints %q", out)
	}
	if !strings.Contains(r.Stdout, "Step 1/7 : FROM "+bb+" AS base\n") {
		t.Errorf("steps are not counted over the built stages only:\n%s", r)
	}

	r = e.MustRun("build", "--network", "none", "--target", "test", ctx)
	if strings.Contains(r.Stdout, "COPY --from") || strings.Contains(r.Stdout, "RUN false") {
		t.Errorf("--target test built more than base and test:\n%s", r)
	}
	id = builtImage(t, r)
	if out := e.MustRun("run", "--rm", id, "cat", "/base.txt", "/test.txt").Stdout; out != "base\ntest\n" {
		t.Errorf("target image has %q", out)
	}

	r = e.Run("build", "--network", "none", "--target", "nosuch", ctx)
	if r.Code != 1 || !strings.Contains(r.Stderr, "failed to reach build target nosuch in Dockerfile") {
		t.Errorf("missing target:\n%s", r)
	}
}

func TestBuildOnbuild(t *testing.T) {
	e := newEnv(t)
	bb := e.BusyboxImage()
	parent := e.Name("onbuild-parent")
	e.MustRun("build", "--network", "none", "-t", parent, writeContext(t, map[string]string{
		"Dockerfile": "FROM " + bb + "\nONBUILD RUN echo triggered > /onbuild.txt\nONBUILD COPY child.txt /\n"}))
	if got := e.Inspect(parent, "{{json .Config.OnBuild}}"); got != `["RUN echo triggered > /onbuild.txt","COPY child.txt /"]` {
		t.Errorf("parent OnBuild = %s", got)
	}
	r := e.MustRun("build", "--network", "none", writeContext(t, map[string]string{
		"Dockerfile": "FROM " + parent + "\nRUN cat /onbuild.txt /child.txt\n", "child.txt": "from child context\n"}))
	if !strings.Contains(r.Stdout, "# Executing 2 build triggers\n") || !strings.Contains(r.Stdout, "triggered\nfrom child context\n") {
		t.Errorf("triggers did not run in the child:\n%s", r)
	}
	id := builtImage(t, r)
	if got := e.Inspect(id, "{{json .Config.OnBuild}}"); got != "null" {
		t.Errorf("child inherits OnBuild %s", got)
	}
}

// activeSnapshots lists the writable snapshots of the root.
func activeSnapshots(t *testing.T, root string) []string {
	t.Helper()
	var idx struct {
		Active map[string]json.RawMessage `json:"active"`
	}
	b, err := os.ReadFile(filepath.Join(root, "snapshots", "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(b, &idx)
	var keys []string
	for k := range idx.Active {
		keys = append(keys, k)
	}
	return keys
}

func TestBuildFailureLeavesNothing(t *testing.T) {
	e := newEnv(t)
	bb := e.BusyboxImage()
	tag := e.Name("failing")
	imagesBefore := e.MustRun("images", "-a", "-q").Stdout

	cases := []struct {
		desc, dockerfile, stderr string
		code                     int
	}{
		{"failing RUN", "FROM " + bb + "\nRUN echo before\nRUN false\nRUN echo never\n",
			"The command '/bin/sh -c false' returned a non-zero code: 1", 1},
		{"exec RUN exits with its code", "FROM " + bb + "\nRUN [\"/bin/sh\", \"-c\", \"exit 3\"]\n",
			"The command '/bin/sh -c exit 3' returned a non-zero code: 3", 3},
		{"missing COPY source", "FROM " + bb + "\nCOPY nosuch.txt /\n",
			"COPY failed: file not found in build context or excluded by .dockerignore: stat nosuch.txt: file does not exist", 1},
		{"missing stage index", "FROM " + bb + "\nCOPY --from=5 /etc/passwd /\n", "invalid from flag value 5: index out of bounds", 1},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			e := e.For(t)
			r := e.Run("build", "--network", "none", "-t", tag, writeContext(t, map[string]string{"Dockerfile": c.dockerfile}))
			if r.Code != c.code || !strings.Contains(r.Stderr, c.stderr) {
				t.Errorf("want exit %d and %q on stderr:\n%s", c.code, c.stderr, r)
			}
			if strings.Contains(r.Stdout, "Successfully") || strings.Contains(r.Stdout, "never") {
				t.Errorf("build went on after the failure:\n%s", r)
			}
			if r := e.Run("image", "inspect", tag); r.Code == 0 {
				t.Errorf("%s was tagged by a failed build", tag)
			}
			if keys := activeSnapshots(t, e.Root); len(keys) != 0 {
				t.Errorf("snapshots left behind: %v", keys)
			}
			if m := mountsUnder(e.Root); len(m) != 0 {
				t.Errorf("mounts left behind: %v", m)
			}
			ents, _ := os.ReadDir(filepath.Join(e.Root, "run", "build"))
			for _, ent := range ents {
				if ent.Name() != "tmp" {
					t.Errorf("sandbox dir left behind: %s", ent.Name())
				}
			}
			if r := e.MustRun("ps", "-a", "-q"); r.Stdout != "" {
				t.Errorf("containers left behind:\n%s", r.Stdout)
			}
		})
	}
	// Only the successful "RUN echo before" step of the first case may
	// remain, as an untagged image (Docker keeps it too, for the cache).
	after := strings.Fields(e.MustRun("images", "-a", "-q").Stdout)
	if n := len(after) - len(strings.Fields(imagesBefore)); n != 1 {
		t.Errorf("failed builds left %d new images, want 1 (the step before the failure): %v", n, after)
	}
}

func TestBuildSyntaxErrors(t *testing.T) {
	e := newEnv(t)
	bb := e.BusyboxImage()
	cases := []struct {
		desc, dockerfile string
		want             []string
	}{
		{"unknown instruction", "FROM " + bb + "\nRUN true\nFOO bar\n",
			[]string{"Error response from daemon: dockerfile parse error line 3: unknown instruction: FOO", "Dockerfile:3", "FOO bar"}},
		{"FROM without arguments", "FROM\n", []string{"FROM requires either one or three arguments", "Dockerfile:1"}},
		{"ENV without value", "FROM " + bb + "\nENV A\n", []string{"ENV must have two arguments"}},
		{"unknown flag", "FROM " + bb + "\nCOPY --nosuchflag=1 a /\n", []string{"dockerfile parse error line 2: Unknown flag: nosuchflag", "Dockerfile:2"}},
		{"empty Dockerfile", "", []string{"the Dockerfile (Dockerfile) cannot be empty"}},
		{"no FROM", "RUN true\n", []string{"no build stage in current context"}},
	}
	tag := e.Name("syntax")
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			e := e.For(t)
			r := e.Run("build", "--network", "none", "-t", tag, writeContext(t, map[string]string{"Dockerfile": c.dockerfile}))
			if r.Code != 1 {
				t.Errorf("want exit 1:\n%s", r)
			}
			for _, w := range c.want {
				if !strings.Contains(r.Stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r)
				}
			}
			if strings.Contains(r.Stdout, "Step ") {
				t.Errorf("steps ran despite the syntax error:\n%s", r)
			}
			if r := e.Run("image", "inspect", tag); r.Code == 0 {
				t.Errorf("%s was tagged", tag)
			}
		})
	}
}

func TestBuildReproducible(t *testing.T) {
	e := newEnv(t)
	bb := e.BusyboxImage()
	ctx := writeContext(t, map[string]string{
		"Dockerfile": "FROM " + bb + "\nWORKDIR /app\nCOPY . .\nRUN echo built > /app/out && mkdir -p /var/new && touch /var/new/f\nENV A=b\nCMD [\"cat\", \"/app/out\"]\n",
		"a.txt":      "a\n",
	})
	e.ExtraEnv = []string{"SOURCE_DATE_EPOCH=1700000000"}
	id1 := strings.TrimSpace(e.MustRun("build", "-q", "--no-cache", "--network", "none", ctx).Stdout)
	// Let the clock move on and the context's mtimes change: neither may matter.
	time.Sleep(1100 * time.Millisecond)
	now := time.Now()
	os.Chtimes(filepath.Join(ctx, "a.txt"), now, now)
	id2 := strings.TrimSpace(e.MustRun("build", "-q", "--no-cache", "--network", "none", ctx).Stdout)
	if id1 != id2 {
		t.Errorf("two --no-cache builds with SOURCE_DATE_EPOCH gave %s and %s", id1, id2)
	}
	if got := e.Inspect(id1, "{{.Created}}"); got != "2023-11-14T22:13:20Z" {
		t.Errorf("created = %s, want SOURCE_DATE_EPOCH", got)
	}
	e.ExtraEnv = nil
	id3 := strings.TrimSpace(e.MustRun("build", "-q", "--no-cache", "--network", "none", ctx).Stdout)
	if id3 == id1 {
		t.Errorf("without SOURCE_DATE_EPOCH the image is still %s", id3)
	}
}

func TestBuildContextFromStdin(t *testing.T) {
	e := newEnv(t)
	bb := e.BusyboxImage()

	t.Run("tar context", func(t *testing.T) {
		e := e.For(t)
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for name, data := range map[string]string{
			"Dockerfile": "FROM " + bb + "\nCOPY hello.txt /\nCMD [\"cat\", \"/hello.txt\"]\n",
			"hello.txt":  "hello from a tar\n",
		} {
			tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
			tw.Write([]byte(data))
		}
		tw.Close()
		r := e.RunStdin(buf.String(), "build", "--network", "none", "-")
		if r.Code != 0 {
			t.Fatalf("build - with a tar:\n%s", r)
		}
		if out := e.MustRun("run", "--rm", builtImage(t, r)).Stdout; out != "hello from a tar\n" {
			t.Errorf("image prints %q", out)
		}
	})

	t.Run("bare Dockerfile", func(t *testing.T) {
		e := e.For(t)
		r := e.RunStdin("FROM "+bb+"\nRUN echo from-stdin > /s\n", "build", "--network", "none", "-")
		if r.Code != 0 {
			t.Fatalf("build - with a Dockerfile:\n%s", r)
		}
		if out := e.MustRun("run", "--rm", builtImage(t, r), "cat", "/s").Stdout; out != "from-stdin\n" {
			t.Errorf("image has %q", out)
		}
	})

	t.Run("-f - with a directory context", func(t *testing.T) {
		e := e.For(t)
		ctx := writeContext(t, map[string]string{"x.txt": "x\n"})
		r := e.RunStdin("FROM "+bb+"\nCOPY x.txt /\n", "build", "--network", "none", "-f", "-", ctx)
		if r.Code != 0 {
			t.Fatalf("build -f -:\n%s", r)
		}
		if out := e.MustRun("run", "--rm", builtImage(t, r), "cat", "/x.txt").Stdout; out != "x\n" {
			t.Errorf("image has %q", out)
		}
	})
}

func TestHistory(t *testing.T) {
	e := newEnv(t)
	bb := e.BusyboxImage()
	tag := e.Name("hist")
	ctx := writeContext(t, map[string]string{
		"Dockerfile": "FROM " + bb + "\nRUN echo a-fairly-long-command-line-that-gets-truncated > /f\nENV A=b\n",
	})
	r := e.MustRun("build", "--network", "none", "-t", tag, ctx)
	id := builtImage(t, r)

	out := e.MustRun("history", tag).Stdout
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if !regexp.MustCompile(`^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$`).MatchString(lines[0]) || len(lines) != 4 {
		t.Fatalf("history table:\n%s", out)
	}
	if !strings.HasPrefix(lines[1], id+" ") || !strings.Contains(lines[1], "/bin/sh -c #(nop)  ENV A=b") {
		t.Errorf("newest line: %q", lines[1])
	}
	if !strings.Contains(lines[2], "/bin/sh -c echo a-fairly-long-command-line-t…") {
		t.Errorf("CREATED BY not cut at 45 characters: %q", lines[2])
	}
	if !strings.Contains(lines[3], "Imported from -") {
		t.Errorf("base line: %q", lines[3])
	}
	if q := e.MustRun("history", "-q", tag).Stdout; len(strings.Fields(q)) != 3 || !strings.HasPrefix(q, id+"\n") {
		t.Errorf("history -q:\n%s", q)
	}
	f := e.MustRun("history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Size}}", "-H=false", tag).Stdout
	if !strings.Contains(f, "/bin/sh -c echo a-fairly-long-command-line-that-gets-truncated > /f|") ||
		!strings.HasPrefix(f, "/bin/sh -c #(nop)  ENV A=b|0\n") {
		t.Errorf("history --no-trunc --format:\n%s", f)
	}
	if r := e.Run("history", "nosuch-image"); r.Code != 1 || !strings.Contains(r.Stderr, "No such image") {
		t.Errorf("history of a missing image:\n%s", r)
	}
}

// TestBuildInterrupted kills a build in the middle of a RUN (SIGINT, then
// kill -9): it must commit nothing (no image, so no cache entry to reuse),
// and once the next build (which sweeps dead builds' sandboxes) has run,
// no process, mount, snapshot or sandbox of it may remain.
func TestBuildInterrupted(t *testing.T) {
	e := newEnv(t)
	bb := e.BusyboxImage()
	ctx := writeContext(t, map[string]string{"Dockerfile": "FROM " + bb + "\nRUN echo started && sleep 60 && echo done > /done\n"})
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			e := e.For(t)
			before := len(strings.Fields(e.MustRun("images", "-a", "-q").Stdout))
			cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := e.Cmd(cctx, "build", "--network", "none", ctx)
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stdout, cmd.Stderr = pw, pw
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pw.Close()
			started := make(chan struct{})
			go func() {
				sc := bufio.NewScanner(pr)
				once := false
				for sc.Scan() {
					if sc.Text() == "started" && !once {
						once = true
						close(started)
					}
				}
			}()
			select {
			case <-started:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatal("the RUN step never started")
			}
			cmd.Process.Signal(sig)
			err = cmd.Wait()
			pr.Close()
			if err == nil {
				t.Fatalf("build exited 0 after %v", sig)
			}
			if after := len(strings.Fields(e.MustRun("images", "-a", "-q").Stdout)); after != before {
				t.Errorf("the interrupted build committed %d images", after-before)
			}
			e.RunStdin("FROM "+bb+"\nENV AFTER=1\n", "build", "--network", "none", "-")
			if keys := activeSnapshots(t, e.Root); len(keys) != 0 {
				t.Errorf("snapshots left behind after the next build: %v", keys)
			}
			if m := mountsUnder(e.Root); len(m) != 0 {
				t.Errorf("mounts left behind: %v", m)
			}
			ents, _ := os.ReadDir(filepath.Join(e.Root, "run", "build"))
			for _, ent := range ents {
				if ent.Name() != "tmp" {
					t.Errorf("sandbox dir left behind: %s", ent.Name())
				}
			}
		})
	}
}

// TestBuildDebian runs the steps a real Dockerfile does on a full distro:
// a user made by useradd, COPY --chown by name resolved in the image's
// /etc/passwd, USER for RUN, deletions as whiteouts, WORKDIR created.
func TestBuildDebian(t *testing.T) {
	e := newEnv(t)
	deb := e.DebianImage()
	ctx := writeContext(t, map[string]string{
		"Dockerfile": "FROM " + deb + "\nRUN useradd -m app && mkdir /out && chown app /out\n" +
			"COPY --chown=app:app f.txt /home/app/\nUSER app\nWORKDIR /home/app/work\n" +
			"RUN id -un > /out/who && pwd > /out/pwd\nUSER root\nRUN rm -rf /etc/motd /var/lib/apt/lists\n",
		"f.txt": "data\n",
	})
	r := e.MustRun("build", "--network", "none", ctx)
	id := builtImage(t, r)
	out := e.MustRun("run", "--rm", id, "sh", "-c",
		"cat /out/who /out/pwd; stat -c '%U:%G %a' /home/app/f.txt /home/app/work; ls /etc/motd /var/lib/apt/lists 2>&1 | wc -l").Stdout
	want := "app\n/home/app/work\napp:app 644\nroot:root 755\n2\n"
	if out != want {
		t.Errorf("image state:\n%s\nwant:\n%s", out, want)
	}
	if got := e.Inspect(id, "{{.Config.User}} {{.Config.WorkingDir}}"); got != "root /home/app/work" {
		t.Errorf("config user/workdir = %q", got)
	}
}

// TestBuildIntermediateImages: a build's steps are images (the cache and
// history need them), listed by `images -a` only, and removed with the
// image they lead to, as in Docker.
func TestBuildIntermediateImages(t *testing.T) {
	e := newEnv(t)
	bb := e.BusyboxImage()
	tag := e.Name("steps")
	e.MustRun("build", "--network", "none", "-t", tag, writeContext(t, map[string]string{
		"Dockerfile": "FROM " + bb + "\nRUN echo a > /a\nENV A=1\nCMD [\"sh\"]\n"}))
	shown := strings.Fields(e.MustRun("images", "-q").Stdout)
	all := strings.Fields(e.MustRun("images", "-a", "-q").Stdout)
	if len(shown) != 2 || len(all) != 4 {
		t.Errorf("images shows %d (want 2: base and build), images -a %d (want 4)", len(shown), len(all))
	}
	e.MustRun("rmi", tag)
	if left := strings.Fields(e.MustRun("images", "-a", "-q").Stdout); len(left) != 1 {
		t.Errorf("rmi left %d images, want only the base", len(left))
	}
}
