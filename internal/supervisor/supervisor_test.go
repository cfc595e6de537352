package supervisor

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth/berth/internal/container"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/logs"
	"github.com/berth/berth/internal/root"
)

type env struct {
	root    root.Root
	store   *container.Store
	marks   string
	starter hostStarter
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	r := root.New(filepath.Join(dir, "root"))
	s, err := container.Open(r)
	if err != nil {
		t.Fatal(err)
	}
	marks := filepath.Join(dir, "marks")
	os.Mkdir(marks, 0o700)
	return &env{root: r, store: s, marks: marks, starter: hostStarter{marks: marks}}
}

// create stores a container whose main process is sh -c script.
func (e *env) create(t *testing.T, script string, edit func(c *container.Container)) *container.Container {
	t.Helper()
	c := &container.Container{Path: "/bin/sh", Args: []string{"-c", script}}
	if edit != nil {
		edit(c)
	}
	if err := e.store.Create(c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Whatever a failed test left running.
		if c, err := e.store.Load(c.ID); err == nil && c.State.Pid > 0 {
			syscall.Kill(c.State.Pid, syscall.SIGKILL)
		}
	})
	return c
}

func (e *env) marksOf(id string) string {
	data, _ := os.ReadFile(filepath.Join(e.marks, id))
	return string(data)
}

// run supervises c in-process and returns the Ready error and Run's error.
func (e *env) run(t *testing.T, c *container.Container, stop <-chan struct{}) (readyErr, runErr error) {
	t.Helper()
	readyCalls := 0
	runErr = Run(context.Background(), Options{
		Store: e.store, ID: c.ID, Starter: e.starter, Stop: stop,
		Ready: func(err error) { readyCalls++; readyErr = err },
		Logf:  t.Logf,
	})
	if readyCalls != 1 {
		t.Fatalf("Ready called %d times, want 1", readyCalls)
	}
	return readyErr, runErr
}

func (e *env) logs(t *testing.T, id string) (string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if err := logs.Read(context.Background(), e.store.LogPath(id), logs.ReadOptions{Tail: -1}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String()
}

func TestRunRecordsExitAndLogs(t *testing.T) {
	e := newEnv(t)
	c := e.create(t, "echo hi; echo oops >&2; printf tail; exit 3", nil)
	if readyErr, err := e.run(t, c, nil); readyErr != nil || err != nil {
		t.Fatalf("ready %v, run %v", readyErr, err)
	}
	got, err := e.store.Get(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	st := got.State
	if st.Status != container.StatusExited || st.ExitCode != 3 || st.Running || st.Pid != 0 || st.SupervisorPid != 0 ||
		st.StartedAt.IsZero() || st.FinishedAt.Before(st.StartedAt) {
		t.Fatalf("state after exit: %+v", st)
	}
	if out, errs := e.logs(t, c.ID); out != "hi\ntail" || errs != "oops\n" {
		t.Fatalf("logs stdout %q stderr %q", out, errs)
	}
	if m := e.marksOf(c.ID); m != "cleanup remove=false\n" {
		t.Fatalf("cleanup calls %q", m)
	}
	if e.store.OwnerAlive(c.ID) {
		t.Fatal("owner lock still held after Run")
	}
}

func TestRunStartFailure(t *testing.T) {
	tests := []struct {
		desc       string
		autoRemove bool
	}{
		{"kept", false},
		{"--rm removes it", true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			e := newEnv(t)
			c := e.create(t, "", func(c *container.Container) {
				c.Path = "/nonexistent/cmd"
				c.Host.AutoRemove = tt.autoRemove
			})
			readyErr, runErr := e.run(t, c, nil)
			var ec interface{ ExitCode() int }
			if readyErr == nil || runErr == nil || !errors.As(readyErr, &ec) || ec.ExitCode() != 127 {
				t.Fatalf("ready %v run %v, want a 127 start error", readyErr, runErr)
			}
			got, err := e.store.Get(c.ID)
			if tt.autoRemove {
				if !errdefs.IsNotFound(err) || e.marksOf(c.ID) != "cleanup remove=true\n" {
					t.Fatalf("--rm after failed start: %v, cleanup %q", err, e.marksOf(c.ID))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.State.Status != container.StatusCreated || got.State.ExitCode != 127 || !strings.Contains(got.State.Error, "not found") ||
				!got.State.FinishedAt.IsZero() {
				t.Fatalf("state after failed start: %+v", got.State)
			}
			if container.StatusString(got, time.Now()) != "Created" {
				t.Fatalf("STATUS %q, want Created", container.StatusString(got, time.Now()))
			}
		})
	}
}

func TestRestartPolicy(t *testing.T) {
	tests := []struct {
		desc         string
		policy       container.RestartPolicy
		exit         int
		stopAfter    int // set StoppedByUser once this many runs happened (0: never)
		wantRuns     int
		wantRestarts int
		wantCode     int
	}{
		{"no", container.RestartPolicy{Name: "no"}, 1, 0, 1, 0, 1},
		{"on-failure with success", container.RestartPolicy{Name: "on-failure"}, 0, 0, 1, 0, 0},
		{"on-failure:2", container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}, 1, 0, 3, 2, 1},
		{"on-failure unbounded until stopped", container.RestartPolicy{Name: "on-failure"}, 2, 3, 3, 2, 2},
		{"always until stopped", container.RestartPolicy{Name: "always"}, 0, 3, 3, 2, 0},
		{"unless-stopped until stopped", container.RestartPolicy{Name: "unless-stopped"}, 5, 2, 2, 1, 5},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			e := newEnv(t)
			runs := filepath.Join(t.TempDir(), "runs")
			script := "echo run >> " + runs + "; echo run; exit " + strconv.Itoa(tt.exit)
			if tt.stopAfter > 0 {
				// The Nth run plays `docker stop`: it marks the record
				// stopped (as stop does before signalling) and exits.
				script = "n=$(wc -l < " + runs + " 2>/dev/null || echo 0); echo run >> " + runs + "; echo run; " +
					"if [ $((n+1)) -ge " + strconv.Itoa(tt.stopAfter) + " ]; then touch " + runs + ".stop; sleep 0.3; fi; exit " + strconv.Itoa(tt.exit)
			}
			c := e.create(t, script, func(c *container.Container) { c.Host.RestartPolicy = tt.policy })
			if tt.stopAfter > 0 {
				go func() {
					for {
						if _, err := os.Stat(runs + ".stop"); err == nil {
							e.store.Update(c.ID, func(c *container.Container) error { c.State.StoppedByUser = true; return nil })
							return
						}
						time.Sleep(5 * time.Millisecond)
					}
				}()
			}
			start := time.Now()
			if readyErr, err := e.run(t, c, nil); readyErr != nil || err != nil {
				t.Fatalf("ready %v run %v", readyErr, err)
			}
			data, _ := os.ReadFile(runs)
			got, err := e.store.Get(c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(data), "\n"); n != tt.wantRuns {
				t.Fatalf("%d runs, want %d", n, tt.wantRuns)
			}
			if got.RestartCount != tt.wantRestarts || got.State.ExitCode != tt.wantCode || got.State.Status != container.StatusExited {
				t.Fatalf("RestartCount %d ExitCode %d Status %s; want %d %d exited", got.RestartCount, got.State.ExitCode, got.State.Status, tt.wantRestarts, tt.wantCode)
			}
			if out, _ := e.logs(t, c.ID); strings.Count(out, "run\n") != tt.wantRuns {
				t.Fatalf("log has %q, want %d runs", out, tt.wantRuns)
			}
			// Backoff 100ms, 200ms, ... between runs.
			var minWait time.Duration
			for i, d := 0, 100*time.Millisecond; i < tt.wantRestarts; i, d = i+1, d*2 {
				minWait += d
			}
			if el := time.Since(start); el < minWait {
				t.Fatalf("%d restarts took %v, less than the backoff %v", tt.wantRestarts, el, minWait)
			}
			if want := strings.Repeat("cleanup remove=false\n", tt.wantRuns); e.marksOf(c.ID) != want {
				t.Fatalf("cleanups %q, want one per run", e.marksOf(c.ID))
			}
		})
	}
}

func TestRestartManagerBackoff(t *testing.T) {
	rm := restartManager{policy: container.RestartPolicy{Name: "always"}}
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000}
	for i, w := range want {
		ok, d := rm.shouldRestart(0, false, time.Second)
		if !ok || d != w*time.Millisecond {
			t.Fatalf("restart %d: %v %v, want %v", i, ok, d, w*time.Millisecond)
		}
	}
	if _, d := rm.shouldRestart(0, false, 11*time.Second); d != 100*time.Millisecond {
		t.Fatalf("after a 10s run the backoff must reset, got %v", d)
	}
	if ok, _ := rm.shouldRestart(0, true, time.Second); ok {
		t.Fatal("always must not restart after an explicit stop")
	}
}

func TestStopCancelsBackoff(t *testing.T) {
	tests := []struct {
		desc string
		how  string // "signal": close Stop (SIGTERM); "record": set StoppedByUser as `berth stop` does
	}{
		{"SIGTERM to the supervisor", "signal"},
		{"stop marks the record", "record"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			e := newEnv(t)
			c := e.create(t, "exit 1", func(c *container.Container) { c.Host.RestartPolicy = container.RestartPolicy{Name: "always"} })
			stop := make(chan struct{})
			stoppedAt := make(chan time.Time, 1)
			go func() {
				// Wait until a long backoff is pending (the 4th: 800ms), then stop.
				for {
					if got, err := e.store.Load(c.ID); err == nil && got.State.Restarting && got.RestartCount >= 4 {
						if s := container.StatusString(got, time.Now()); !strings.HasPrefix(s, "Restarting (1) ") {
							t.Errorf("STATUS while restarting: %q", s)
						}
						if tt.how == "signal" {
							close(stop)
						} else {
							e.store.Update(c.ID, func(c *container.Container) error { c.State.StoppedByUser = true; return nil })
						}
						stoppedAt <- time.Now()
						return
					}
					time.Sleep(time.Millisecond)
				}
			}()
			if readyErr, err := e.run(t, c, stop); readyErr != nil || err != nil {
				t.Fatalf("ready %v run %v", readyErr, err)
			}
			if el := time.Since(<-stoppedAt); el > 400*time.Millisecond {
				t.Fatalf("the pending restart noticed the stop only after %v", el)
			}
			got, _ := e.store.Get(c.ID)
			if got.State.Status != container.StatusExited || got.State.Restarting || got.State.Running || got.State.ExitCode != 1 {
				t.Fatalf("state after stop during backoff: %+v", got.State)
			}
		})
	}
}

func TestAutoRemove(t *testing.T) {
	e := newEnv(t)
	c := e.create(t, "echo bye", func(c *container.Container) { c.Host.AutoRemove = true })
	if readyErr, err := e.run(t, c, nil); readyErr != nil || err != nil {
		t.Fatalf("ready %v run %v", readyErr, err)
	}
	if _, err := e.store.Get(c.ID); !errdefs.IsNotFound(err) {
		t.Fatalf("--rm container still there: %v", err)
	}
	if _, err := os.Stat(e.store.Dir(c.ID)); !os.IsNotExist(err) {
		t.Fatal("--rm left the container directory")
	}
	if m := e.marksOf(c.ID); m != "cleanup remove=true\n" {
		t.Fatalf("cleanup calls %q, want one remove", m)
	}
}

func TestHealthcheck(t *testing.T) {
	e := newEnv(t)
	flag := filepath.Join(t.TempDir(), "healthy")
	c := e.create(t, "exec sleep 30", func(c *container.Container) {
		c.Config.Healthcheck = &v1.HealthConfig{
			Test:     []string{"CMD-SHELL", "echo probing; test -f " + flag},
			Interval: 30 * time.Millisecond,
			Retries:  2,
		}
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.run(t, c, nil)
	}()
	waitFor := func(what string, cond func(*container.Container) bool) *container.Container {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if got, err := e.store.Load(c.ID); err == nil && cond(got) {
				return got
			}
			time.Sleep(5 * time.Millisecond)
		}
		got, _ := e.store.Load(c.ID)
		t.Fatalf("timed out waiting for %s: %+v", what, got.State)
		return nil
	}
	got := waitFor("running, health starting", func(c *container.Container) bool {
		return c.State.Running && c.State.Health != nil
	})
	if s := container.StatusString(got, time.Now()); got.State.Health.Status == container.HealthStarting && !strings.HasSuffix(s, "(health: starting)") {
		t.Fatalf("STATUS %q", s)
	}
	got = waitFor("unhealthy", func(c *container.Container) bool {
		return c.State.Health != nil && c.State.Health.Status == container.HealthUnhealthy
	})
	if got.State.Health.FailingStreak < 2 || got.State.Health.Log[0].ExitCode != 1 || got.State.Health.Log[0].Output != "probing\n" {
		t.Fatalf("unhealthy record: %+v", got.State.Health)
	}
	os.WriteFile(flag, nil, 0o600)
	got = waitFor("healthy with a full log", func(c *container.Container) bool {
		return c.State.Health.Status == container.HealthHealthy && len(c.State.Health.Log) == 5
	})
	if got.State.Health.FailingStreak != 0 {
		t.Fatalf("healthy with streak %d", got.State.Health.FailingStreak)
	}
	if s := container.StatusString(got, time.Now()); !strings.HasSuffix(s, "(healthy)") {
		t.Fatalf("STATUS %q", s)
	}
	time.Sleep(100 * time.Millisecond)
	if got, _ := e.store.Load(c.ID); len(got.State.Health.Log) != 5 {
		t.Fatalf("health log grew to %d entries, Docker keeps 5", len(got.State.Health.Log))
	}
	syscall.Kill(got.State.Pid, syscall.SIGKILL)
	<-done
	got, _ = e.store.Load(c.ID)
	if got.State.ExitCode != 137 || got.State.Health.Status != container.HealthUnhealthy {
		t.Fatalf("after kill: exit %d health %s; want 137 unhealthy", got.State.ExitCode, got.State.Health.Status)
	}
}

func TestHealthProbeTimeout(t *testing.T) {
	tests := []struct {
		desc       string
		hc         v1.HealthConfig
		wait       time.Duration
		wantStatus string
		wantOutput string
	}{
		{"timeout counts as failure", v1.HealthConfig{Test: []string{"CMD", "sleep", "5"}, Interval: 20 * time.Millisecond, Timeout: 50 * time.Millisecond, Retries: 1},
			400 * time.Millisecond, container.HealthUnhealthy, "Health check exceeded timeout (50ms)"},
		{"NONE disables", v1.HealthConfig{Test: []string{"NONE"}, Interval: 10 * time.Millisecond}, 100 * time.Millisecond, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			e := newEnv(t)
			hc := tt.hc
			c := e.create(t, "exec sleep 30", func(c *container.Container) { c.Config.Healthcheck = &hc })
			done := make(chan struct{})
			go func() {
				defer close(done)
				e.run(t, c, nil)
			}()
			time.Sleep(tt.wait)
			got, _ := e.store.Load(c.ID)
			syscall.Kill(got.State.Pid, syscall.SIGKILL)
			<-done
			if tt.wantStatus == "" {
				if got.State.Health != nil {
					t.Fatalf("health recorded for NONE: %+v", got.State.Health)
				}
				return
			}
			h := got.State.Health
			if h == nil || h.Status != tt.wantStatus || len(h.Log) == 0 {
				t.Fatalf("health %+v, want %s", h, tt.wantStatus)
			}
			if tt.wantOutput != "" && (h.Log[0].Output != tt.wantOutput || h.Log[0].ExitCode != -1) {
				t.Fatalf("probe result %+v, want %q / -1", h.Log[0], tt.wantOutput)
			}
		})
	}
}

func TestApplyProbe(t *testing.T) {
	started := time.Now()
	ok := container.HealthLog{ExitCode: 0}
	bad := container.HealthLog{ExitCode: 1}
	at := func(r container.HealthLog, d time.Duration) container.HealthLog { r.Start = started.Add(d); return r }
	tests := []struct {
		desc        string
		startPeriod time.Duration
		retries     int
		results     []container.HealthLog
		wantStatus  string
		wantStreak  int
	}{
		{"one success", 0, 3, []container.HealthLog{at(ok, time.Second)}, container.HealthHealthy, 0},
		{"failures below retries stay starting", 0, 3, []container.HealthLog{at(bad, 1), at(bad, 2)}, container.HealthStarting, 2},
		{"retries failures make it unhealthy", 0, 3, []container.HealthLog{at(bad, 1), at(bad, 2), at(bad, 3)}, container.HealthUnhealthy, 3},
		{"failures inside the start period do not count", time.Minute, 1, []container.HealthLog{at(bad, time.Second), at(bad, 2*time.Second)}, container.HealthStarting, 0},
		{"after the start period they do", time.Minute, 1, []container.HealthLog{at(bad, time.Second), at(bad, 2*time.Minute)}, container.HealthUnhealthy, 1},
		{"once healthy, the start period no longer shields", time.Minute, 2, []container.HealthLog{at(ok, time.Second), at(bad, 2*time.Second), at(bad, 3*time.Second)}, container.HealthUnhealthy, 2},
		{"success resets the streak", 0, 3, []container.HealthLog{at(bad, 1), at(bad, 2), at(ok, 3), at(bad, 4)}, container.HealthHealthy, 1},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			h := &container.Health{Status: container.HealthStarting}
			for _, r := range tt.results {
				applyProbe(h, r, started, tt.startPeriod, tt.retries)
			}
			if h.Status != tt.wantStatus || h.FailingStreak != tt.wantStreak || len(h.Log) != len(tt.results) {
				t.Fatalf("status %s streak %d log %d; want %s %d %d", h.Status, h.FailingStreak, len(h.Log), tt.wantStatus, tt.wantStreak, len(tt.results))
			}
		})
	}
}

func TestProbeArgs(t *testing.T) {
	tests := []struct {
		desc  string
		test  []string
		shell []string
		want  string
	}{
		{"none configured", nil, nil, ""},
		{"NONE", []string{"NONE"}, nil, ""},
		{"CMD", []string{"CMD", "curl", "-f", "x"}, nil, "curl|-f|x"},
		{"CMD-SHELL default shell", []string{"CMD-SHELL", "curl -f x || exit 1"}, nil, "/bin/sh|-c|curl -f x || exit 1"},
		{"CMD-SHELL with SHELL", []string{"CMD-SHELL", "echo"}, []string{"/bin/bash", "-ec"}, "/bin/bash|-ec|echo"},
		{"unknown type", []string{"HTTP", "x"}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			c := &container.Container{}
			c.Config.Shell = tt.shell
			if tt.test != nil {
				c.Config.Healthcheck = &v1.HealthConfig{Test: tt.test}
			}
			if got := strings.Join(probeArgs(c), "|"); got != tt.want {
				t.Fatalf("probeArgs = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSecondSupervisorRefused(t *testing.T) {
	e := newEnv(t)
	c := e.create(t, "exec sleep 30", nil)
	release, err := e.store.HoldOwner(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	readyErr, _ := e.run(t, c, nil)
	if !errdefs.IsConflict(readyErr) {
		t.Fatalf("second supervisor: %v, want conflict", readyErr)
	}
}

// spawnEnv points the re-executed test binary at e.
func (e *env) spawnEnv(t *testing.T) {
	t.Setenv("BERTH_TEST_ROOT", e.root.Lib)
	t.Setenv("BERTH_TEST_MARKS", e.marks)
}

func waitState(t *testing.T, s *container.Store, id string, timeout time.Duration, cond func(*container.Container) bool) *container.Container {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got, err := s.Load(id)
		if err == nil && cond(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out; last record %+v, %v", got, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSpawn(t *testing.T) {
	e := newEnv(t)
	e.spawnEnv(t)
	tests := []struct {
		desc     string
		path     string
		script   string
		wantCode int // StartError code; 0 = started
		wantExit int
		wantLog  string
	}{
		{"started and finished", "/bin/sh", "sleep 0.2; echo out; exit 4", 0, 4, "out\n"},
		{"command not found", "/no/such/binary", "", 127, 127, ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			c := e.create(t, tt.script, func(c *container.Container) { c.Path = tt.path })
			pid, err := Spawn(context.Background(), os.Args[0], []string{"__supervise", c.ID})
			if pid <= 0 {
				t.Fatalf("Spawn pid %d", pid)
			}
			if tt.wantCode != 0 {
				var se *StartError
				if !errors.As(err, &se) || se.ExitCode() != tt.wantCode || !strings.Contains(se.Error(), "not found") {
					t.Fatalf("Spawn = %v, want StartError %d", err, tt.wantCode)
				}
				got, _ := e.store.Load(c.ID)
				if got.State.ExitCode != tt.wantExit || got.State.Status != container.StatusCreated {
					t.Fatalf("state %+v", got.State)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// Spawn returns only after the start is recorded.
			got, _ := e.store.Load(c.ID)
			if !got.State.Running || got.State.Pid <= 0 || got.State.SupervisorPid != pid || !e.store.OwnerAlive(c.ID) {
				t.Fatalf("after Spawn: %+v owner %v", got.State, e.store.OwnerAlive(c.ID))
			}
			got = waitState(t, e.store, c.ID, 10*time.Second, func(c *container.Container) bool { return c.State.Status == container.StatusExited })
			if got.State.ExitCode != tt.wantExit {
				t.Fatalf("exit %d, want %d", got.State.ExitCode, tt.wantExit)
			}
			if out, _ := e.logs(t, c.ID); out != tt.wantLog {
				t.Fatalf("log %q", out)
			}
		})
	}
}

func TestSupervisorOutlivesParent(t *testing.T) {
	e := newEnv(t)
	e.spawnEnv(t)
	c := e.create(t, "sleep 0.5; echo survived", nil)
	// A parent that spawns and exits at once, like `berth run -d`.
	cmd := exec.Command(os.Args[0], "__spawn", c.ID)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("spawning parent: %v %s", err, out)
	}
	got := waitState(t, e.store, c.ID, 10*time.Second, func(c *container.Container) bool { return c.State.Status == container.StatusExited })
	if got.State.ExitCode != 0 {
		t.Fatalf("exit %d", got.State.ExitCode)
	}
	if out, _ := e.logs(t, c.ID); out != "survived\n" {
		t.Fatalf("log %q", out)
	}
}

func TestReconcileAfterSupervisorKilled(t *testing.T) {
	tests := []struct {
		desc       string
		autoRemove bool
	}{
		{"recorded as exited 137", false},
		{"--rm container removed", true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			e := newEnv(t)
			e.spawnEnv(t)
			c := e.create(t, "exec sleep 30", func(c *container.Container) { c.Host.AutoRemove = tt.autoRemove })
			other := e.create(t, "exec sleep 30", nil) // never started: untouched
			pid, err := Spawn(context.Background(), os.Args[0], []string{"__supervise", c.ID})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
			running, _ := e.store.Load(c.ID)
			ctrPid := running.State.Pid

			// Nothing to do while the supervisor lives.
			list, err := Reconcile(context.Background(), e.store, ReconcileOptions{Cleanup: e.starter.Cleanup})
			if err != nil || len(list) != 2 {
				t.Fatalf("Reconcile = %d, %v", len(list), err)
			}
			if got, _ := e.store.Load(c.ID); !got.State.Running {
				t.Fatal("Reconcile touched a container with a live supervisor")
			}

			syscall.Kill(pid, syscall.SIGKILL)
			deadline := time.Now().Add(5 * time.Second)
			for e.store.OwnerAlive(c.ID) && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			start := time.Now()
			list, err = Reconcile(context.Background(), e.store, ReconcileOptions{Cleanup: e.starter.Cleanup})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("reconcile took %v", time.Since(start))
			if syscall.Kill(ctrPid, 0) == nil {
				// Reparented to init: gone once reaped; wait briefly.
				time.Sleep(100 * time.Millisecond)
				if data, err := os.ReadFile("/proc/" + strconv.Itoa(ctrPid) + "/stat"); err == nil && !strings.Contains(string(data), ") Z") {
					t.Fatalf("container process %d survived its supervisor's death", ctrPid)
				}
			}
			if tt.autoRemove {
				if len(list) != 1 || list[0].ID != other.ID {
					t.Fatalf("list after reconcile: %d entries", len(list))
				}
				if _, err := e.store.Get(c.ID); !errdefs.IsNotFound(err) {
					t.Fatalf("--rm container still exists: %v", err)
				}
				if m := e.marksOf(c.ID); m != "cleanup remove=false\ncleanup remove=true\n" {
					t.Fatalf("cleanups %q", m)
				}
				return
			}
			got, _ := e.store.Load(c.ID)
			if got.State.Status != container.StatusExited || got.State.ExitCode != ExitOwnerDied || got.State.Running ||
				!strings.Contains(got.State.Error, "supervisor") || got.State.SupervisorPid != 0 {
				t.Fatalf("state after reconcile: %+v", got.State)
			}
			if s := container.StatusString(got, time.Now()); !strings.HasPrefix(s, "Exited (137) ") {
				t.Fatalf("STATUS %q", s)
			}
			if o, _ := e.store.Load(other.ID); o.State.Status != container.StatusCreated {
				t.Fatalf("other container changed: %+v", o.State)
			}
		})
	}
}

// TestSupervisorMemory measures an idle supervisor's proportional set size.
// The number depends on the binary (here the test binary, which carries the
// testing package); it is logged for the report and bounded loosely.
func TestSupervisorMemory(t *testing.T) {
	e := newEnv(t)
	e.spawnEnv(t)
	c := e.create(t, "exec sleep 30", nil)
	pid, err := Spawn(context.Background(), os.Args[0], []string{"__supervise", c.ID})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	time.Sleep(1500 * time.Millisecond)
	pss, rss := smapsRollup(t, pid)
	t.Logf("idle supervisor pid %d: Pss %d kB, Rss %d kB", pid, pss, rss)
	if pss > 8<<10 && !raceEnabled {
		t.Fatalf("idle supervisor PSS %d kB is far above the 2 MB target", pss)
	}
}

func smapsRollup(t *testing.T, pid int) (pss, rss int) {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		t.Skipf("smaps_rollup: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "Pss:":
			pss = n
		case "Rss:":
			rss = n
		}
	}
	return pss, rss
}

func TestSIGTERMToSupervisorCancelsRestart(t *testing.T) {
	e := newEnv(t)
	e.spawnEnv(t)
	c := e.create(t, "exit 2", func(c *container.Container) { c.Host.RestartPolicy = container.RestartPolicy{Name: "always"} })
	pid, err := Spawn(context.Background(), os.Args[0], []string{"__supervise", c.ID})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	waitState(t, e.store, c.ID, 10*time.Second, func(c *container.Container) bool { return c.State.Restarting && c.RestartCount >= 3 })
	syscall.Kill(pid, syscall.SIGTERM)
	got := waitState(t, e.store, c.ID, 2*time.Second, func(c *container.Container) bool { return c.State.Status == container.StatusExited })
	if got.State.ExitCode != 2 || got.State.Running {
		t.Fatalf("state %+v", got.State)
	}
	deadline := time.Now().Add(2 * time.Second)
	for e.store.OwnerAlive(c.ID) {
		if time.Now().After(deadline) {
			t.Fatal("supervisor still owns the container after finishing")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
