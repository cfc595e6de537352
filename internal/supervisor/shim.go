package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/container"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/root"
	"github.com/berth/berth/internal/runtime/initexe"
)

// The shim: the supervisor as a small binary (cmd/berth-shim) that runs the
// full berth binary only for the short work. See the package doc, "Two
// binaries".

const (
	// ShimEnv set to "0" makes Spawn run the full binary as the
	// supervisor even when a shim is embedded (comparisons, debugging).
	ShimEnv = "BERTH_SHIM"
	// shimExeEnv gives the shim the full berth binary it runs helpers with.
	shimExeEnv = "BERTH_SHIM_EXE"
)

// The helper verbs: `berth --root LIB <verb> <id> [args]`, the container's
// record as JSON on stdin. The shim runs them; HelperMain serves them.
const (
	// verbLaunch starts the container (Starter.StartIO) and exits at once,
	// leaving the container's init to the shim (a child subreaper). Its
	// fds: 3 the report socket, 4/5 the container's stdout/stderr, 6 its
	// stdin (each may be absent).
	verbLaunch = "__launch"
	// verbProbe runs one health probe (Starter.Exec), output on its
	// stdout, the result as JSON on fd 3. SIGTERM ends the probe.
	verbProbe = "__probe"
	// verbCleanup runs Starter.Cleanup; "--rm" as the word after the ID
	// asks for remove.
	verbCleanup = "__cleanup"
)

// launchFDsEnv lists the stdio descriptors (of 4, 5, 6) a launch helper
// was given.
const launchFDsEnv = "BERTH_LAUNCH_FDS"

const (
	fdReport = 3
	fdStdout = 4
	fdStderr = 5
	fdStdin  = 6
)

// shimPath returns the installed shim to run for the supervisor args
// (`--root LIB __supervise ID`), or "" to run the full binary: no shim
// embedded, ShimEnv=0, or it cannot be installed (a noexec run directory).
// It sits next to the container init, under <run>/runtime/init.
func shimPath(args []string) string {
	if os.Getenv(ShimEnv) == "0" {
		return ""
	}
	b := initexe.Shim()
	if !b.Embedded() {
		return ""
	}
	dir := os.Getenv("BERTH_ROOT")
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--root" {
			dir = args[i+1]
			break
		}
	}
	p, err := b.Install(filepath.Join(root.New(dir).RuntimeState(), "init"))
	if err != nil {
		return ""
	}
	return p
}

// ShimMain is the body of cmd/berth-shim, started by Spawn as
// `berth-shim-<digest> --root LIB __supervise ID` with the full berth
// binary in the environment. It returns the process exit code.
func ShimMain(args []string) int {
	exe := os.Getenv(shimExeEnv)
	os.Unsetenv(shimExeEnv)
	if len(args) < 2 || args[0] != "--root" {
		args = append([]string{"--root", os.Getenv("BERTH_ROOT")}, args...)
	}
	r := root.New(args[1])
	rest := args[2:]
	if len(rest) > 0 && rest[0] == "__supervise" {
		rest = rest[1:]
	}
	return Main(rest, Config{Root: r, Starter: &remoteStarter{exe: exe, root: r}})
}

// remoteStarter is the shim's Starter: each operation is the full berth
// binary run as a helper (HelperMain).
type remoteStarter struct {
	exe  string
	root root.Root
}

func (r *remoteStarter) command(verb string, c *container.Container, extra ...string) (*exec.Cmd, error) {
	if r.exe == "" {
		return nil, fmt.Errorf("supervisor: no berth binary to run %s with (%s unset): %w", verb, shimExeEnv, errdefs.ErrInvalid)
	}
	rec, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("container %s: encode record: %w", c.ID, err)
	}
	cmd := exec.Command(r.exe, append([]string{"--root", r.root.Lib, verb, c.ID}, extra...)...)
	cmd.Stdin = bytes.NewReader(rec)
	cmd.Stderr = os.Stderr // the container's supervisor.log
	cmd.Dir = "/"
	return cmd, nil
}

// launchMsg is one message of a launch helper on its report socket.
type launchMsg struct {
	// PTY: the message carries the pty master of a -t container.
	PTY bool `json:"pty,omitempty"`
	// Held: the message carries descriptors the launch left open (published
	// ports' sockets...) that must live as long as the container.
	Held bool `json:"held,omitempty"`
	// The final message: the init's PID, or the start error.
	Pid      int    `json:"pid,omitempty"`
	Error    string `json:"error,omitempty"`
	ExitCode int    `json:"exitCode,omitempty"`
	Class    string `json:"class,omitempty"`
}

func (r *remoteStarter) Start(ctx context.Context, c *container.Container, stdout, stderr io.Writer) (Proc, error) {
	return r.StartIO(ctx, c, IO{Stdout: stdout, Stderr: stderr})
}

// StartIO runs the launch helper with the container's stdio made here, so
// the shim holds the read ends, the stdin pipe and the pty master.
func (r *remoteStarter) StartIO(ctx context.Context, c *container.Container, stdio IO) (_ Proc, err error) {
	cmd, err := r.command(verbLaunch, c)
	if err != nil {
		return nil, err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("launch socket: %w", err)
	}
	sock := os.NewFile(uintptr(fds[0]), "launch-report")
	defer sock.Close()
	childEnds := []*os.File{os.NewFile(uintptr(fds[1]), "launch-report-child")}
	defer func() {
		for _, f := range childEnds {
			f.Close()
		}
	}()
	p := &remoteProc{}
	defer func() {
		if err != nil {
			p.release()
		}
	}()
	extra := make([]*os.File, 4) // fds 3..6
	extra[0] = childEnds[0]
	var given []string
	if !c.Config.Tty {
		for i, w := range []io.Writer{stdio.Stdout, stdio.Stderr} {
			if w == nil {
				continue
			}
			pr, pw, err := os.Pipe()
			if err != nil {
				return nil, fmt.Errorf("output pipe: %w", err)
			}
			childEnds = append(childEnds, pw)
			p.outputs = append(p.outputs, output{pr, w})
			extra[1+i] = pw
			given = append(given, strconv.Itoa(fdStdout+i))
		}
		if stdio.Stdin != nil {
			extra[3] = stdio.Stdin // the caller closes it after StartIO
			given = append(given, strconv.Itoa(fdStdin))
		}
	}
	// All four slots, nil ones included, so the helper has those closed
	// rather than some descriptor inherited at that number; and the list of
	// the ones given, since once its runtime has started, a closed slot may
	// hold one of the runtime's own files.
	cmd.ExtraFiles = extra
	cmd.Env = append(withoutEnv(os.Environ(), launchFDsEnv), launchFDsEnv+"="+strings.Join(given, ","))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("container %s: run launch helper: %w", c.ID, err)
	}
	for _, f := range childEnds {
		f.Close()
	}
	childEnds = nil

	final, rerr := r.receive(sock, c, stdio, p)
	werr := cmd.Wait() // after this, the container's init is our child
	switch {
	case final != nil && final.Pid > 0:
		p.pid = final.Pid
		p.startCopies()
		return p, nil
	case final != nil:
		se := &StartError{Msg: final.Error, Code: final.ExitCode}
		for _, cl := range classes {
			if cl.name == final.Class {
				se.kind = cl.err
			}
		}
		return nil, se
	case rerr != nil:
		return nil, fmt.Errorf("container %s: launch helper: %w (exit: %v)", c.ID, rerr, werr)
	}
	return nil, fmt.Errorf("container %s: launch helper ended without a report (%v; see supervisor.log): %w", c.ID, werr, errdefs.ErrUnavailable)
}

// receive reads the launch helper's messages until the final one or EOF.
func (r *remoteStarter) receive(sock *os.File, c *container.Container, stdio IO, p *remoteProc) (*launchMsg, error) {
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(4*maxFDsPerMsg))
	for {
		msg, files, err := recvMsg(sock, buf, oob)
		if err != nil || msg == nil {
			return nil, err
		}
		switch {
		case msg.PTY:
			for _, f := range files[min(1, len(files)):] {
				f.Close()
			}
			if len(files) == 0 {
				return nil, errors.New("pty message without a descriptor")
			}
			if stdio.Console != nil {
				stdio.Console(files[0])
			} else if stdio.Stdout != nil {
				p.outputs = append(p.outputs, output{files[0], stdio.Stdout})
			} else {
				files[0].Close()
			}
		case msg.Held:
			p.held = append(p.held, files...)
		default:
			for _, f := range files {
				f.Close()
			}
			return msg, nil
		}
	}
}

// output is one stream the shim copies from the container to the supervisor.
type output struct {
	r *os.File
	w io.Writer
}

// remoteProc is a container init started by a launch helper and inherited
// by the shim.
type remoteProc struct {
	pid     int
	outputs []output
	held    []*os.File
	copies  sync.WaitGroup

	once sync.Once
	code int
	err  error
}

func (p *remoteProc) Pid() int { return p.pid }

// copyBufSize is each output copier's buffer: a pipe hands over at most
// 64 kB at a time, and an idle container should not pin 32 kB per stream.
const copyBufSize = 8 << 10

func (p *remoteProc) startCopies() {
	for _, o := range p.outputs {
		p.copies.Add(1)
		go func() {
			defer p.copies.Done()
			defer o.r.Close()
			// Hide the file's WriteTo, which would bring its own 32 kB buffer.
			// A pty master read fails with EIO once its slaves are closed:
			// that is its EOF.
			io.CopyBuffer(o.w, struct{ io.Reader }{o.r}, make([]byte, copyBufSize))
		}()
	}
	p.outputs = nil
}

// release closes what a failed start leaves.
func (p *remoteProc) release() {
	for _, o := range p.outputs {
		o.r.Close()
	}
	p.outputs = nil
	for _, f := range p.held {
		f.Close()
	}
	p.held = nil
}

// Wait reaps the init (a child since the launch helper exited), waits for
// its output and then lets go of what the launch held for it.
func (p *remoteProc) Wait() (int, error) {
	p.once.Do(func() {
		var ws unix.WaitStatus
		var err error
		for {
			_, err = unix.Wait4(p.pid, &ws, 0, nil)
			if !errors.Is(err, unix.EINTR) {
				break
			}
		}
		if err != nil {
			p.code, p.err = -1, fmt.Errorf("wait for pid %d: %w", p.pid, err)
		} else if ws.Signaled() {
			p.code = 128 + int(ws.Signal())
		} else {
			p.code = ws.ExitStatus()
		}
		p.copies.Wait()
		p.release()
	})
	return p.code, p.err
}

// probeKillDelay is how long a probe helper told to stop may take before
// it is killed.
const probeKillDelay = 5 * time.Second

// probeMsg is a probe helper's result.
type probeMsg struct {
	ExitCode int    `json:"exitCode"`
	Error    string `json:"error,omitempty"`
}

// Exec runs a health probe through the probe helper; when ctx ends the
// helper is told (SIGTERM) to kill the probe, and killed if it lingers.
func (r *remoteStarter) Exec(ctx context.Context, c *container.Container, args []string, out io.Writer) (int, error) {
	cmd, err := r.command(verbProbe, c, append([]string{"--"}, args...)...)
	if err != nil {
		return -1, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return -1, err
	}
	defer pr.Close()
	cmd.Stdout, cmd.Stderr = out, out
	cmd.ExtraFiles = []*os.File{pw}
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return -1, fmt.Errorf("run probe helper: %w", err)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			cmd.Process.Signal(unix.SIGTERM)
		case <-done:
			return
		}
		select {
		case <-time.After(probeKillDelay):
			cmd.Process.Kill()
		case <-done:
		}
	}()
	data, _ := io.ReadAll(io.LimitReader(pr, 1<<20))
	werr := cmd.Wait()
	var res probeMsg
	if err := json.Unmarshal(data, &res); err != nil {
		return -1, fmt.Errorf("probe helper: %v", werr)
	}
	if res.Error != "" {
		return res.ExitCode, errors.New(res.Error)
	}
	return res.ExitCode, nil
}

// Cleanup runs the cleanup helper and waits for it.
func (r *remoteStarter) Cleanup(ctx context.Context, c *container.Container, remove bool) error {
	var extra []string
	if remove {
		extra = append(extra, "--rm")
	}
	cmd, err := r.command(verbCleanup, c, extra...)
	if err != nil {
		return err
	}
	var msg bytes.Buffer
	cmd.Stderr = &msg
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cleanup helper: %v: %s", err, bytes.TrimSpace(msg.Bytes()))
	}
	return nil
}

// HelperMain serves the helper verbs in the full berth binary: args are
// the command line after the program name. ok is false when args are not
// a helper's (main then goes on to the CLI). open gives the in-process
// Starter (the engine's) for the root.
func HelperMain(args []string, open func(root.Root) (Starter, error)) (code int, ok bool) {
	if len(args) < 4 || args[0] != "--root" {
		return 0, false
	}
	verb := args[2]
	switch verb {
	case verbLaunch, verbProbe, verbCleanup:
	default:
		return 0, false
	}
	// Descriptors the shim gave us must reach no container.
	for fd := fdReport; fd <= fdStdin; fd++ {
		unix.CloseOnExec(fd)
	}
	id := args[3]
	var c container.Container
	if err := json.NewDecoder(os.Stdin).Decode(&c); err != nil || c.ID != id {
		fmt.Fprintf(os.Stderr, "berth %s %s: bad container record on stdin (%v)\n", verb, id, err)
		return 2, true
	}
	st, err := open(root.New(args[1]))
	if err != nil {
		fmt.Fprintf(os.Stderr, "berth %s %s: %v\n", verb, id, err)
		return 1, true
	}
	switch verb {
	case verbLaunch:
		return launchHelper(st, &c), true
	case verbProbe:
		return probeHelper(st, &c, args[4:]), true
	default:
		if err := st.Cleanup(context.Background(), &c, len(args) > 4 && args[4] == "--rm"); err != nil {
			fmt.Fprintf(os.Stderr, "clean up container %s: %v\n", id, err)
			return 1, true
		}
		return 0, true
	}
}

// fileAt returns the inherited descriptor fd, or nil if it is not open.
func fileAt(fd int, name string) *os.File {
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
		return nil
	}
	return os.NewFile(uintptr(fd), name)
}

func launchHelper(st Starter, c *container.Container) int {
	report := fileAt(fdReport, "report")
	if report == nil {
		fmt.Fprintf(os.Stderr, "berth %s %s: no report socket\n", verbLaunch, c.ID)
		return 2
	}
	ios, ok := st.(IOStarter)
	if !ok {
		sendMsg(report, launchMsg{Error: "launch: the runtime cannot connect stdio", ExitCode: exitUnknown}, nil)
		return 1
	}
	var stdio IO
	mine := []*os.File{}
	for _, v := range strings.Split(os.Getenv(launchFDsEnv), ",") {
		fd, _ := strconv.Atoi(v)
		f := fileAt(fd, "stdio")
		if fd < fdStdout || fd > fdStdin || f == nil {
			continue
		}
		switch fd {
		case fdStdout:
			stdio.Stdout = f
		case fdStderr:
			stdio.Stderr = f
		case fdStdin:
			stdio.Stdin = f
		}
		mine = append(mine, f)
	}
	var sendErr error
	if c.Config.Tty {
		stdio.Console = func(master *os.File) {
			sendErr = sendMsg(report, launchMsg{PTY: true}, []*os.File{master})
			master.Close()
		}
	}
	proc, err := ios.StartIO(context.Background(), c, stdio)
	for _, f := range mine {
		f.Close() // the container has its own; the shim holds the other ends
	}
	if err == nil && sendErr != nil {
		err = fmt.Errorf("hand the terminal to the supervisor: %w", sendErr)
	}
	if err != nil {
		if proc != nil {
			st.Cleanup(context.Background(), c, false)
		}
		msg := launchMsg{Error: err.Error(), ExitCode: exitUnknown}
		var ec interface{ ExitCode() int }
		if errors.As(err, &ec) {
			msg.ExitCode = ec.ExitCode()
		}
		for _, cl := range classes {
			if errors.Is(err, cl.err) {
				msg.Class = cl.name
				break
			}
		}
		sendMsg(report, msg, nil)
		return 1
	}
	// Whatever the launch left open (the networking code's published
	// ports, say) must live as long as the container: hand it over.
	held := heldFiles(int(report.Fd()))
	for len(held) > 0 {
		n := min(len(held), maxFDsPerMsg)
		if err := sendMsg(report, launchMsg{Held: true}, held[:n]); err != nil {
			fmt.Fprintf(os.Stderr, "berth %s %s: hand over descriptors: %v\n", verbLaunch, c.ID, err)
		}
		held = held[n:]
	}
	if err := sendMsg(report, launchMsg{Pid: proc.Pid()}, nil); err != nil {
		// The shim is gone: nobody would ever reap or clean up this run.
		fmt.Fprintf(os.Stderr, "berth %s %s: report: %v\n", verbLaunch, c.ID, err)
		st.Cleanup(context.Background(), c, false)
		return 1
	}
	return 0
}

// heldFiles lists the sockets and namespace descriptors this process
// holds beyond stdio and report: what a launch keeps open for the
// container's life (a published port's bound socket, a namespace it must
// keep alive). Pipes, files and the Go runtime's descriptors (epoll,
// eventfd, pidfds, cgroup files) are the runtime's leftovers and die with
// this process.
func heldFiles(report int) []*os.File {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	var out []*os.File
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 || fd == report {
			continue
		}
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil { // the directory's own descriptor, closed by now
			continue
		}
		if !strings.HasPrefix(target, "socket:[") && !isNamespace(target) {
			continue
		}
		out = append(out, os.NewFile(uintptr(fd), target))
	}
	return out
}

// isNamespace tells an nsfs link ("net:[4026531840]").
func isNamespace(target string) bool {
	for _, ns := range []string{"net", "mnt", "uts", "ipc", "pid", "user", "cgroup", "time"} {
		if strings.HasPrefix(target, ns+":[") {
			return true
		}
	}
	return false
}

func probeHelper(st Starter, c *container.Container, args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	res := fileAt(fdReport, "result")
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGTERM)
	defer stop()
	code, err := st.Exec(ctx, c, args, os.Stdout)
	msg := probeMsg{ExitCode: code}
	if err != nil {
		msg.Error = err.Error()
	}
	if res != nil {
		json.NewEncoder(res).Encode(msg)
	}
	return 0
}

// maxFDsPerMsg stays under the kernel's SCM_MAX_FD (253).
const maxFDsPerMsg = 200

func sendMsg(sock *os.File, msg launchMsg, files []*os.File) error {
	data, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f.Fd())
		}
		oob = unix.UnixRights(fds...)
	}
	return unix.Sendmsg(int(sock.Fd()), data, oob, nil, 0)
}

// recvMsg reads one message; nil at EOF.
func recvMsg(sock *os.File, buf, oob []byte) (*launchMsg, []*os.File, error) {
	var n, oobn, flags int
	var err error
	for {
		n, oobn, flags, _, err = unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return nil, nil, err
	}
	var files []*os.File
	if oobn > 0 {
		cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return nil, nil, err
		}
		for _, cm := range cmsgs {
			fds, err := unix.ParseUnixRights(&cm)
			if err != nil {
				continue
			}
			for _, fd := range fds {
				files = append(files, os.NewFile(uintptr(fd), "received"))
			}
		}
	}
	if n == 0 && oobn == 0 {
		return nil, nil, nil
	}
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		for _, f := range files {
			f.Close()
		}
		return nil, nil, errors.New("launch report truncated")
	}
	var msg launchMsg
	if err := json.Unmarshal(buf[:n], &msg); err != nil {
		for _, f := range files {
			f.Close()
		}
		return nil, nil, fmt.Errorf("bad launch report %q: %w", buf[:n], err)
	}
	return &msg, files, nil
}
