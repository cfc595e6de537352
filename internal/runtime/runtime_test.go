package runtime

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/errdefs"
)

func TestExitCodes(t *testing.T) { forEachRuntime(t, testExitCodes) }

func testExitCodes(t *testing.T, r Runtime, _ newFunc) {
	for _, tc := range []struct {
		desc string
		args []string
		want int
	}{
		{"true exits 0", []string{"true"}, 0},
		{"exit status is passed through", []string{"sh", "-c", "exit 3"}, 3},
		{"exit status 255", []string{"sh", "-c", "exit 255"}, 255},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			for _, sc := range []bool{false, true} {
				code, _, stderr := run(t, r, testSpec(t, sc, tc.args...), nil)
				if code != tc.want {
					t.Errorf("seccomp=%v: exit code %d, want %d (stderr %q)", sc, code, tc.want, stderr)
				}
			}
		})
	}
}

func TestKilledBySignal(t *testing.T) { forEachRuntime(t, testKilledBySignal) }

func testKilledBySignal(t *testing.T, r Runtime, _ newFunc) {
	for _, tc := range []struct {
		desc string
		sig  unix.Signal
		exec bool // signal an exec'd process (pid 1 ignores unhandled signals)
		want int
	}{
		{"SIGKILL on init gives 137", unix.SIGKILL, false, 137},
		{"SIGTERM on exec'd process gives 143", unix.SIGTERM, true, 143},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			id := testID(t)
			p, err := r.Start(context.Background(), id, testSpec(t, true, "sleep", "100"), t.TempDir(), IO{})
			if err != nil {
				t.Fatal(err)
			}
			target := p
			if tc.exec {
				spec := testSpec(t, true, "sleep", "100")
				if target, err = r.Exec(context.Background(), id, spec.Process, IO{}); err != nil {
					t.Fatal(err)
				}
			}
			if err := target.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			if code, err := target.Wait(); err != nil || code != tc.want {
				t.Fatalf("exit code %d, %v; want %d", code, err, tc.want)
			}
			if err := r.Delete(id, true); err != nil {
				t.Fatal(err)
			}
			if code, _ := p.Wait(); code != 137 {
				t.Fatalf("init exit code %d after forced delete, want 137", code)
			}
		})
	}
}

func TestStdio(t *testing.T) { forEachRuntime(t, testStdio) }

func testStdio(t *testing.T, r Runtime, _ newFunc) {
	for _, tc := range []struct {
		desc             string
		args             []string
		stdin            string
		wantOut, wantErr string
	}{
		{"stdout", []string{"echo", "hello"}, "", "hello\n", ""},
		{"stderr apart from stdout", []string{"sh", "-c", "echo out; echo err >&2"}, "", "out\n", "err\n"},
		{"stdin reaches the process and EOF ends it", []string{"cat"}, "abc\ndef", "abc\ndef", ""},
		{"large output is not truncated", []string{"sh", "-c", "seq 1 20000"}, "", seq(20000), ""},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			var stdin io.Reader // nil: /dev/null
			if tc.stdin != "" {
				stdin = strings.NewReader(tc.stdin)
			}
			code, out, errOut := run(t, r, testSpec(t, true, tc.args...), stdin)
			if code != 0 || out != tc.wantOut || errOut != tc.wantErr {
				t.Fatalf("got code %d stdout %.60q stderr %q; want stdout %.60q stderr %q", code, out, errOut, tc.wantOut, tc.wantErr)
			}
		})
	}
}

func seq(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString(strconv.Itoa(i) + "\n")
	}
	return b.String()
}

func TestTerminal(t *testing.T) { forEachRuntime(t, testTerminal) }

func testTerminal(t *testing.T, r Runtime, _ newFunc) {
	t.Run("process sees a tty of the requested size", func(t *testing.T) {
		spec := testSpec(t, true, "sh", "-c", "tty; stty size")
		spec.Process.ConsoleSize = &specs.Box{Height: 30, Width: 100}
		var out syncBuffer
		id := testID(t)
		p, err := r.Start(context.Background(), id, spec, t.TempDir(), IO{Terminal: true, Stdout: &out})
		if err != nil {
			t.Fatal(err)
		}
		if code, err := p.Wait(); err != nil || code != 0 {
			t.Fatalf("exit %d, %v: %q", code, err, out.String())
		}
		if got := out.String(); !strings.Contains(got, "/dev/pts/0") || !strings.Contains(got, "30 100") {
			t.Fatalf("output %q, want /dev/pts/0 and size 30 100", got)
		}
		if err := r.Delete(id, false); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("resize and console callback", func(t *testing.T) {
		// The callback gets the master; the process waits for a line on
		// its terminal, then prints its size.
		spec := testSpec(t, true, "sh", "-c", "read x; stty size")
		id := testID(t)
		got := make(chan *os.File, 1)
		p, err := r.Start(context.Background(), id, spec, t.TempDir(), IO{Terminal: true, Console: func(f *os.File) { got <- f }})
		if err != nil {
			t.Fatal(err)
		}
		master := <-got
		defer master.Close()
		if err := p.Resize(120, 40); err != nil {
			t.Fatal(err)
		}
		if _, err := master.Write([]byte("go\n")); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		done := make(chan struct{})
		go func() { _, _ = out.ReadFrom(master); close(done) }()
		if code, err := p.Wait(); err != nil || code != 0 {
			t.Fatalf("exit %d, %v", code, err)
		}
		<-done
		if !strings.Contains(out.String(), "40 120") {
			t.Fatalf("output %q, want size 40 120", out.String())
		}
		if err := r.Delete(id, false); err != nil {
			t.Fatal(err)
		}
	})
}

func TestExec(t *testing.T) { forEachRuntime(t, testExec) }

func testExec(t *testing.T, r Runtime, _ newFunc) {
	id := testID(t)
	init, err := r.Start(context.Background(), id, testSpec(t, true, "sleep", "100"), t.TempDir(), IO{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Delete(id, true); _, _ = init.Wait() })
	for _, tc := range []struct {
		desc     string
		args     []string
		terminal bool
		wantOut  string
		wantCode int
		wantErr  error
	}{
		{"output and exit code", []string{"sh", "-c", "hostname; exit 5"}, false, "berth-test\n", 5, nil},
		{"same pid namespace as init", []string{"sh", "-c", "cat /proc/1/cmdline"}, false, "sleep\x00100\x00", 0, nil},
		{"with a terminal", []string{"tty"}, true, "/dev/pts/", 0, nil},
		{"missing executable is 127", []string{"nosuchcmd"}, false, "", 127, ErrExecNotFound},
		{"missing absolute path is 127", []string{"/bin/nosuchcmd"}, false, "", 127, ErrExecNotFound},
		{"non-executable file is 126", []string{"/bin/notexec"}, false, "", 126, ErrExecPermission},
		{"directory is 126", []string{"/bin"}, false, "", 126, ErrExecPermission},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			proc := testSpec(t, true, tc.args...).Process
			var out syncBuffer
			p, err := r.Exec(context.Background(), id, proc, IO{Stdout: &out, Terminal: tc.terminal})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
				if code, ok := ExitCode(err); !ok || code != tc.wantCode {
					t.Fatalf("ExitCode = %d, %v; want %d", code, ok, tc.wantCode)
				}
				if !strings.HasPrefix(err.Error(), "exec in container "+id+`: exec: "`) {
					t.Fatalf("message %q does not carry Docker's exec: text", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			code, err := p.Wait()
			if err != nil || code != tc.wantCode || !strings.Contains(out.String(), tc.wantOut) {
				t.Fatalf("exit %d, %v, output %q; want %d, %q", code, err, out.String(), tc.wantCode, tc.wantOut)
			}
		})
	}
	if st, err := r.State(id); err != nil || st.Status != StatusRunning {
		t.Fatalf("after execs: %+v, %v; want running", st, err)
	}
}

func TestStartMissingExecutable(t *testing.T) { forEachRuntime(t, testStartMissingExecutable) }

func testStartMissingExecutable(t *testing.T, r Runtime, _ newFunc) {
	id := testID(t)
	_, err := r.Start(context.Background(), id, testSpec(t, true, "nosuchcmd"), t.TempDir(), IO{})
	if !errors.Is(err, ErrExecNotFound) {
		t.Fatalf("error %v, want ErrExecNotFound", err)
	}
	if want := `exec: "nosuchcmd": executable file not found in $PATH`; !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("message %q, want suffix %q", err, want)
	}
	if _, err := r.State(id); !errdefs.IsNotFound(err) {
		t.Fatalf("state after failed start: %v, want not found", err)
	}
	if ids, err := r.List(); err != nil || len(ids) != 0 {
		t.Fatalf("list after failed start: %v, %v", ids, err)
	}
	for _, d := range cgroupDirs(t, id) {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("cgroup %s left behind", d)
		}
	}
}

func TestKillFromOtherProcess(t *testing.T) { forEachRuntime(t, testKillFromOtherProcess) }

func testKillFromOtherProcess(t *testing.T, r Runtime, fresh newFunc) {
	for _, tc := range []struct {
		desc string
		kill func(t *testing.T, id string)
	}{
		{"fresh Runtime value", func(t *testing.T, id string) {
			if err := fresh().Kill(id, unix.SIGKILL, false); err != nil {
				t.Fatal(err)
			}
		}},
		{"another process", func(t *testing.T, id string) {
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), envHelper+"=kill "+helperArgs(r)+" "+id)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("helper: %v: %s", err, out)
			}
		}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			id := testID(t)
			p, err := r.Start(context.Background(), id, testSpec(t, true, "sleep", "100"), t.TempDir(), IO{})
			if err != nil {
				t.Fatal(err)
			}
			st, err := fresh().State(id)
			if err != nil || st.Status != StatusRunning || st.Pid != p.Pid() {
				t.Fatalf("state from a fresh value: %+v, %v", st, err)
			}
			tc.kill(t, id)
			if code, err := p.Wait(); err != nil || code != 137 {
				t.Fatalf("exit %d, %v; want 137", code, err)
			}
			if st, err := fresh().State(id); err != nil || st.Status != StatusStopped || st.Pid != 0 {
				t.Fatalf("state after kill: %+v, %v", st, err)
			}
			if err := fresh().Delete(id, false); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestPauseResume(t *testing.T) { forEachRuntime(t, testPauseResume) }

func testPauseResume(t *testing.T, r Runtime, _ newFunc) {
	id := testID(t)
	var out syncBuffer
	// Prints a line every 20ms: output must stop while paused.
	p, err := r.Start(context.Background(), id, testSpec(t, true, "sh", "-c", "while :; do echo x; usleep 20000; done"), t.TempDir(), IO{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Delete(id, true); _, _ = p.Wait() })
	waitFor(t, "output", func() bool { return out.String() != "" })
	if err := r.Pause(id); err != nil {
		t.Fatal(err)
	}
	if st, err := r.State(id); err != nil || st.Status != StatusPaused {
		t.Fatalf("state %+v, %v; want paused", st, err)
	}
	if err := r.Delete(id, false); !errdefs.IsConflict(err) {
		t.Fatalf("delete of paused container: %v, want conflict", err)
	}
	if _, err := r.Exec(context.Background(), id, testSpec(t, true, "true").Process, IO{}); !errdefs.IsConflict(err) {
		t.Fatalf("exec in paused container: %v, want conflict", err)
	}
	before := out.String()
	time.Sleep(150 * time.Millisecond)
	if out.String() != before {
		t.Fatal("output while paused")
	}
	if err := r.Resume(id); err != nil {
		t.Fatal(err)
	}
	if st, err := r.State(id); err != nil || st.Status != StatusRunning {
		t.Fatalf("state %+v, %v; want running", st, err)
	}
	waitFor(t, "output after resume", func() bool { return out.String() != before })
	// A paused container can be force-deleted (libcontainer thaws it).
	if err := r.Pause(id); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(id, true); err != nil {
		t.Fatal(err)
	}
	if code, _ := p.Wait(); code != 137 {
		t.Fatalf("exit %d, want 137", code)
	}
}

func TestDeleteRemovesEverything(t *testing.T) { forEachRuntime(t, testDeleteRemovesEverything) }

func testDeleteRemovesEverything(t *testing.T, r Runtime, _ newFunc) {
	id := testID(t)
	p, err := r.Start(context.Background(), id, testSpec(t, true, "sleep", "100"), t.TempDir(), IO{})
	if err != nil {
		t.Fatal(err)
	}
	dirs := cgroupDirs(t, id)
	var present int
	for _, d := range dirs {
		if _, err := os.Stat(d); err == nil {
			present++
		}
	}
	if present == 0 {
		t.Fatalf("no cgroup found among %v", dirs)
	}
	if err := r.Delete(id, false); !errdefs.IsConflict(err) {
		t.Fatalf("delete of running container without force: %v, want conflict", err)
	}
	if err := r.Delete(id, true); err != nil {
		t.Fatal(err)
	}
	if code, _ := p.Wait(); code != 137 {
		t.Fatalf("exit %d, want 137", code)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("cgroup %s left behind (%v)", d, err)
		}
	}
	if _, err := r.State(id); !errdefs.IsNotFound(err) {
		t.Errorf("state: %v, want not found", err)
	}
	for i := 0; i < 2; i++ {
		if err := r.Delete(id, i == 0); err != nil {
			t.Errorf("repeated delete: %v", err)
		}
	}
	if ids, err := r.List(); err != nil || len(ids) != 0 {
		t.Errorf("list after delete: %v, %v", ids, err)
	}
}

func TestProcessesStatsList(t *testing.T) { forEachRuntime(t, testProcessesStatsList) }

func testProcessesStatsList(t *testing.T, r Runtime, _ newFunc) {
	id := testID(t)
	p, err := r.Start(context.Background(), id, testSpec(t, true, "sh", "-c", "sleep 100 & wait"), t.TempDir(), IO{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Delete(id, true); _, _ = p.Wait() })
	var pids []int
	waitFor(t, "two processes", func() bool {
		pids, err = r.Processes(id)
		return err == nil && len(pids) == 2
	})
	found := false
	for _, pid := range pids {
		found = found || pid == p.Pid()
	}
	if !found {
		t.Fatalf("processes %v do not include init %d", pids, p.Pid())
	}
	s, err := r.Stats(id)
	if err != nil {
		t.Fatal(err)
	}
	// The v2 hierarchy of a hybrid host has no memory controller.
	noMemory := os.Getenv(envCgroupMode) == "v2"
	if s.Pids != 2 || (s.MemoryUsage == 0 && !noMemory) || s.MemoryLimit == 0 || s.CPUUsageNanos == 0 || s.SystemCPUNanos == 0 || s.OnlineCPUs == 0 {
		t.Fatalf("implausible stats %+v", s)
	}
	ids, err := r.List()
	if err != nil || len(ids) != 1 || ids[0] != id {
		t.Fatalf("list %v, %v", ids, err)
	}
	// kill --all reaches the background sleep too.
	if err := r.Kill(id, unix.SIGKILL, true); err != nil {
		t.Fatal(err)
	}
	if code, _ := p.Wait(); code != 137 {
		t.Fatalf("exit %d, want 137", code)
	}
}

func TestConcurrentStarts(t *testing.T) { forEachRuntime(t, testConcurrentStarts) }

func testConcurrentStarts(t *testing.T, r Runtime, _ newFunc) {
	const n = 10
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := testID(t)
			var out bytes.Buffer
			p, err := r.Start(context.Background(), id, testSpec(t, true, "echo", "ok"), t.TempDir(), IO{Stdout: &out})
			if err != nil {
				errs <- err
				return
			}
			if code, err := p.Wait(); err != nil || code != 0 || out.String() != "ok\n" {
				errs <- errors.New(id + ": bad result " + out.String())
			}
			if err := r.Delete(id, false); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestInvalidRequests(t *testing.T) { forEachRuntime(t, testInvalidRequests) }

func testInvalidRequests(t *testing.T, r Runtime, _ newFunc) {
	noArgs := testSpec(t, false)
	relCwd := testSpec(t, false, "true")
	relCwd.Process.Cwd = "tmp"
	for _, tc := range []struct {
		desc string
		do   func() error
		want error
	}{
		{"empty args", func() error {
			_, err := r.Start(context.Background(), testID(t), noArgs, t.TempDir(), IO{})
			return err
		}, errdefs.ErrInvalid},
		{"relative cwd", func() error {
			_, err := r.Start(context.Background(), testID(t), relCwd, t.TempDir(), IO{})
			return err
		}, errdefs.ErrInvalid},
		{"bad id", func() error {
			_, err := r.Start(context.Background(), "../x", testSpec(t, false, "true"), t.TempDir(), IO{})
			return err
		}, errdefs.ErrInvalid},
		{"exec in missing container", func() error {
			_, err := r.Exec(context.Background(), "nosuch", testSpec(t, false, "true").Process, IO{})
			return err
		}, errdefs.ErrNotFound},
		{"kill missing container", func() error { return r.Kill("nosuch", unix.SIGTERM, false) }, errdefs.ErrNotFound},
		{"state of missing container", func() error { _, err := r.State("nosuch"); return err }, errdefs.ErrNotFound},
		{"cancelled context", func() error {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err := r.Start(ctx, testID(t), testSpec(t, false, "true"), t.TempDir(), IO{})
			return err
		}, context.Canceled},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if err := tc.do(); !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("duplicate id", func(t *testing.T) {
		id := testID(t)
		p, err := r.Start(context.Background(), id, testSpec(t, false, "sleep", "100"), t.TempDir(), IO{})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = r.Delete(id, true); _, _ = p.Wait() }()
		if _, err := r.Start(context.Background(), id, testSpec(t, false, "true"), t.TempDir(), IO{}); !errdefs.IsConflict(err) {
			t.Fatalf("error %v, want conflict", err)
		}
	})
}
