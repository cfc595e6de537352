package runtime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/opencontainers/runc/types"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/fsutil"
)

// External runs containers by shelling out to an OCI runtime binary with
// runc's command line (runc, crun, youki...), in detached mode: `create`
// and `start`, then the container's init is reparented to the calling
// process, which therefore becomes a child subreaper (prctl
// PR_SET_CHILD_SUBREAPER) on the first Start or Exec so that Wait can reap
// it and learn its exit status.
type External struct {
	binary string
	root   string // the runtime's --root

	subreaper    sync.Once
	subreaperErr error
}

// NewExternal returns a Runtime driving binary (a name looked up in $PATH,
// or a path) with --root <stateDir>/runc.
func NewExternal(binary, stateDir string) (*External, error) {
	path, err := exec.LookPath(binary)
	if err != nil {
		return nil, fmt.Errorf("runtime %s: %w: %w", binary, errdefs.ErrNotFound, err)
	}
	return &External{binary: path, root: filepath.Join(stateDir, "runc")}, nil
}

// Start implements Runtime. The spec is (re)written to <bundle>/config.json,
// where the runtime binary reads it.
func (r *External) Start(ctx context.Context, id string, spec *specs.Spec, bundle string, stdio IO) (Process, error) {
	if err := validateID(id); err != nil {
		return nil, err
	}
	if spec == nil || spec.Process == nil || spec.Root == nil {
		return nil, fmt.Errorf("container %s: spec needs root and process: %w", id, errdefs.ErrInvalid)
	}
	if err := validateProcess(spec.Process); err != nil {
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	s := *withCgroupsPath(id, spec)
	proc := *spec.Process
	proc.Terminal = stdio.Terminal
	s.Process = &proc
	if err := fsutil.WriteJSONAtomic(filepath.Join(bundle, "config.json"), &s, 0o600); err != nil {
		return nil, fmt.Errorf("container %s: write bundle config: %w", id, err)
	}
	p, err := r.spawn(ctx, id, stdio, "create", "--bundle", bundle)
	if err != nil {
		return nil, fmt.Errorf("start container %s: %w", id, err)
	}
	if _, err := r.output(ctx, "start", id); err != nil {
		_ = unix.Kill(p.pid, unix.SIGKILL)
		_, _ = p.Wait()
		_, _ = r.output(context.Background(), "delete", "--force", id)
		return nil, fmt.Errorf("start container %s: %w", id, err)
	}
	return p, nil
}

// Exec implements Runtime.
func (r *External) Exec(ctx context.Context, id string, proc *specs.Process, stdio IO) (Process, error) {
	if proc == nil {
		return nil, fmt.Errorf("exec in container %s: no process: %w", id, errdefs.ErrInvalid)
	}
	if err := validateProcess(proc); err != nil {
		return nil, fmt.Errorf("exec in container %s: %w", id, err)
	}
	pc := *proc
	pc.Terminal = stdio.Terminal
	dir, err := os.MkdirTemp("", "berth-exec-")
	if err != nil {
		return nil, fmt.Errorf("exec in container %s: %w", id, err)
	}
	defer os.RemoveAll(dir)
	procFile := filepath.Join(dir, "process.json")
	if err := fsutil.WriteJSONAtomic(procFile, &pc, 0o600); err != nil {
		return nil, fmt.Errorf("exec in container %s: %w", id, err)
	}
	p, err := r.spawn(ctx, id, stdio, "exec", "--detach", "--process", procFile)
	if err != nil {
		return nil, fmt.Errorf("exec in container %s: %w", id, err)
	}
	return p, nil
}

// spawn runs `runtime <verb> <args> --pid-file F [--console-socket S] id`
// with the process's stdio as the runtime's own (detached mode), and
// returns the process it leaves behind.
func (r *External) spawn(ctx context.Context, id string, conf IO, verb string, args ...string) (_ *extProcess, retErr error) {
	if err := r.becomeSubreaper(); err != nil {
		return nil, err
	}
	// A short private directory: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "berth-runc-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// With a terminal the runtime's own console socket brings the pty
	// master (below), so no pipes.
	plain := conf
	if conf.Terminal {
		plain = IO{}
	}
	s, err := newStdio(plain)
	if err != nil {
		return nil, err
	}
	s.io = conf
	defer func() {
		if retErr != nil {
			s.abort()
		}
	}()

	pidFile := filepath.Join(dir, "pid")
	logFile := filepath.Join(dir, "log.json")
	args = append(args, "--pid-file", pidFile)
	var console chan consoleResult
	if conf.Terminal {
		sock := filepath.Join(dir, "console.sock")
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
		if err != nil {
			return nil, fmt.Errorf("console socket: %w", err)
		}
		defer l.Close()
		console = make(chan consoleResult, 1)
		go func() { console <- acceptConsole(l) }()
		args = append(args, "--console-socket", sock)
	}
	args = append(args, id)

	cmd := exec.CommandContext(ctx, r.binary, append([]string{"--root", r.root, "--log", logFile, "--log-format", "json", verb}, args...)...)
	if !conf.Terminal {
		// The runtime passes its stdio on to the container process.
		if s.stdin != nil {
			cmd.Stdin = s.stdin
		}
		if s.stdout != nil {
			cmd.Stdout = s.stdout
		}
		if s.stderr != nil {
			cmd.Stderr = s.stderr
		}
	}
	if err := cmd.Run(); err != nil {
		return nil, classifyStartError(runtimeError(verb, err, logFile))
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return nil, fmt.Errorf("%s: read pid file: %w", verb, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("%s: bad pid file: %w", verb, err)
	}
	p := &extProcess{pid: pid, stdio: s}
	if console != nil {
		var res consoleResult
		select {
		case res = <-console:
		case <-time.After(10 * time.Second):
			res.err = errors.New("runtime sent no console")
		}
		if res.err != nil {
			_ = unix.Kill(pid, unix.SIGKILL)
			_, _ = p.Wait()
			return nil, fmt.Errorf("receive pty master: %w", res.err)
		}
		s.consoleParent = res.conn
	}
	if err := s.started(); err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
		_, _ = p.Wait()
		return nil, err
	}
	return p, nil
}

type consoleResult struct {
	conn *os.File
	err  error
}

// acceptConsole accepts the runtime's connection on the console socket;
// stdio.started receives the pty master from it.
func acceptConsole(l *net.UnixListener) consoleResult {
	_ = l.SetDeadline(time.Now().Add(30 * time.Second))
	conn, err := l.AcceptUnix()
	if err != nil {
		return consoleResult{err: err}
	}
	defer conn.Close()
	f, err := conn.File() // a blocking duplicate, which recvFile expects
	return consoleResult{conn: f, err: err}
}

func (r *External) becomeSubreaper() error {
	r.subreaper.Do(func() {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			r.subreaperErr = fmt.Errorf("become child subreaper: %w", err)
		}
	})
	return r.subreaperErr
}

// extProcess is a process the runtime binary left behind, reparented to us.
type extProcess struct {
	pid   int
	stdio *stdio

	once sync.Once
	code int
	err  error
}

func (p *extProcess) Pid() int { return p.pid }

func (p *extProcess) Wait() (int, error) {
	p.once.Do(func() {
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(p.pid, &ws, 0, nil)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				p.code, p.err = -1, fmt.Errorf("wait for pid %d: %w", p.pid, err)
			}
			break
		}
		p.stdio.wait()
		if p.err == nil {
			p.code = exitCode(syscall.WaitStatus(ws))
		}
	})
	return p.code, p.err
}

func (p *extProcess) Signal(sig os.Signal) error {
	s, ok := sig.(unix.Signal)
	if !ok {
		return fmt.Errorf("signal %v: %w", sig, errdefs.ErrInvalid)
	}
	if err := unix.Kill(p.pid, s); err != nil {
		return fmt.Errorf("signal pid %d: %w", p.pid, err)
	}
	return nil
}

func (p *extProcess) Resize(width, height uint16) error { return p.stdio.resize(width, height) }

// Kill implements Runtime.
func (r *External) Kill(id string, sig unix.Signal, all bool) error {
	args := []string{"kill"}
	if all {
		args = append(args, "--all")
	}
	_, err := r.output(context.Background(), append(args, id, strconv.Itoa(int(sig)))...)
	return err
}

// Delete implements Runtime.
func (r *External) Delete(id string, force bool) error {
	args := []string{"delete"}
	if force {
		args = append(args, "--force")
	}
	_, err := r.output(context.Background(), append(args, id)...)
	if errdefs.IsNotFound(err) {
		return nil
	}
	return err
}

// State implements Runtime.
func (r *External) State(id string) (State, error) {
	out, err := r.output(context.Background(), "state", id)
	if err != nil {
		return State{}, err
	}
	var st specs.State
	var extra struct {
		Created time.Time `json:"created"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return State{}, fmt.Errorf("container %s: state: %w", id, err)
	}
	_ = json.Unmarshal(out, &extra)
	s := State{ID: id, Status: Status(st.Status), Pid: st.Pid, Bundle: st.Bundle, Created: extra.Created}
	if s.Status == StatusStopped {
		s.Pid = 0
	}
	return s, nil
}

// Pause implements Runtime.
func (r *External) Pause(id string) error {
	_, err := r.output(context.Background(), "pause", id)
	return err
}

// Resume implements Runtime.
func (r *External) Resume(id string) error {
	_, err := r.output(context.Background(), "resume", id)
	return err
}

// Processes implements Runtime.
func (r *External) Processes(id string) ([]int, error) {
	out, err := r.output(context.Background(), "ps", "--format", "json", id)
	if err != nil {
		return nil, err
	}
	var pids []int
	if err := json.Unmarshal(out, &pids); err != nil {
		return nil, fmt.Errorf("container %s: ps: %w", id, err)
	}
	return pids, nil
}

// Stats implements Runtime.
func (r *External) Stats(id string) (*Stats, error) {
	out, err := r.output(context.Background(), "events", "--stats", id)
	if err != nil {
		return nil, err
	}
	var ev struct {
		Data types.Stats `json:"data"`
	}
	if err := json.Unmarshal(out, &ev); err != nil {
		return nil, fmt.Errorf("container %s: stats: %w", id, err)
	}
	d := ev.Data
	s := &Stats{
		Read:           time.Now(),
		CPUUsageNanos:  d.CPU.Usage.Total,
		CPUUserNanos:   d.CPU.Usage.User,
		CPUSystemNanos: d.CPU.Usage.Kernel,
		MemoryUsage:    d.Memory.Usage.Usage,
		MemoryLimit:    d.Memory.Usage.Limit,
		Pids:           d.Pids.Current,
		PidsLimit:      d.Pids.Limit,
	}
	if v, ok := d.Memory.Raw["total_inactive_file"]; ok {
		s.MemoryInactiveFile = v
	} else {
		s.MemoryInactiveFile = d.Memory.Raw["inactive_file"]
	}
	for _, e := range d.Blkio.IoServiceBytesRecursive {
		switch strings.ToLower(e.Op) {
		case "read":
			s.BlockRead += e.Value
		case "write":
			s.BlockWrite += e.Value
		}
	}
	if st, err := r.State(id); err == nil && st.Pid > 0 {
		s.NetRx, s.NetTx = netDev(st.Pid)
	}
	fillHost(s)
	return s, nil
}

// List implements Runtime.
func (r *External) List() ([]string, error) {
	out, err := r.output(context.Background(), "list", "--format", "json")
	if err != nil {
		return nil, err
	}
	var list []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out, &list); err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	ids := make([]string, 0, len(list))
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	return ids, nil
}

// output runs the runtime with args and returns its stdout; a failure
// carries the runtime's message and berth's error class.
func (r *External) output(ctx context.Context, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, r.binary, append([]string{"--root", r.root}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("%s %s: %w", filepath.Base(r.binary), args[0], classifyRuntimeMessage(msg))
	}
	return stdout.Bytes(), nil
}

// runtimeError builds the error of a failed create or exec from the
// runtime's JSON log (its stderr belongs to the container).
func runtimeError(verb string, err error, logFile string) error {
	var msgs []string
	if f, ferr := os.Open(logFile); ferr == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var entry struct {
				Level string `json:"level"`
				Msg   string `json:"msg"`
			}
			if json.Unmarshal(sc.Bytes(), &entry) == nil && (entry.Level == "error" || entry.Level == "fatal") {
				msgs = append(msgs, entry.Msg)
			}
		}
	}
	if len(msgs) == 0 {
		return fmt.Errorf("%s: %w", verb, err)
	}
	return fmt.Errorf("%s: %w", verb, classifyRuntimeMessage(strings.Join(msgs, "; ")))
}

// classifyRuntimeMessage gives a runtime's error message a berth class.
func classifyRuntimeMessage(msg string) error {
	lower := strings.ToLower(msg)
	switch {
	case strings.Contains(lower, "does not exist"), strings.Contains(lower, "not found") && !strings.Contains(lower, "exec:"):
		return fmt.Errorf("%s: %w", msg, errdefs.ErrNotFound)
	case strings.Contains(lower, "already exists"), strings.Contains(lower, "not stopped"),
		strings.Contains(lower, "not running"), strings.Contains(lower, "not paused"),
		strings.Contains(lower, "paused container"), strings.Contains(lower, "stopped container"):
		return fmt.Errorf("%s: %w", msg, errdefs.ErrConflict)
	}
	return errors.New(msg)
}
