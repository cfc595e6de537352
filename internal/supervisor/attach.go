package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/container"
)

// IOStarter is a Starter that can also connect a container's stdin and
// terminal. When the supervisor's Starter has it (and Options.AttachDir is
// set) the supervisor starts containers through StartIO and serves `berth
// attach` clients; otherwise it calls Start and nobody can attach.
type IOStarter interface {
	StartIO(ctx context.Context, c *container.Container, stdio IO) (Proc, error)
}

// IO is what the supervisor connects to a container it starts.
type IO struct {
	// Stdin, when not nil, is the read end of a pipe whose write end the
	// supervisor keeps for attach clients (the container was created with
	// -i and no -t). The starter hands it to the process; the supervisor
	// closes its copy once StartIO returns.
	Stdin *os.File
	// Stdout and Stderr receive the container's output (log and clients).
	Stdout, Stderr io.Writer
	// Console, set for a -t container, receives the pty master. The
	// supervisor then owns it: it copies the terminal's output to Stdout,
	// client input into it, and applies resizes.
	Console func(master *os.File)
}

// clientWriteTimeout is how long output may wait for one attach client
// before that client is dropped: a stalled terminal must not stall the
// container (whose writes wait for ours) for longer than that.
const clientWriteTimeout = 10 * time.Second

// ttyDrainTimeout bounds the wait, after a -t container's main process has
// exited, for the last of its terminal output.
const ttyDrainTimeout = 2 * time.Second

// attachServer serves the attach socket of one supervised container. It
// costs one goroutine blocked in Accept while nobody is attached, plus one
// per connected client.
type attachServer struct {
	ln   *net.UnixListener
	path string
	logf func(string, ...any)

	mu      sync.Mutex
	closed  bool
	clients map[*attachClient]struct{}
	tty     bool
	stdinOK bool // the container was created with -i
	first   chan struct{}
	firstOK bool

	// inMu serialises writes of client input; input and pty are swapped
	// under mu, written under inMu, so a slow reader of stdin never holds mu.
	inMu  sync.Mutex
	input *os.File // stdin pipe write end or pty master; nil when none
	pty   *os.File // pty master (resize)
	size  Size     // the last size asked for, applied to each new terminal
}

type attachClient struct {
	conn  *net.UnixConn
	hello attachHello
	wmu   sync.Mutex
}

// listenAttach opens the attach socket of container id in dir.
func listenAttach(dir string, c *container.Container, logf func(string, ...any)) (*attachServer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("attach directory: %w", err)
	}
	path := AttachSocket(dir, c.ID)
	ln, err := listenUnix(path)
	if err != nil {
		return nil, fmt.Errorf("attach socket %s: %w", path, err)
	}
	s := &attachServer{ln: ln, path: path, logf: logf, clients: map[*attachClient]struct{}{}, first: make(chan struct{}),
		tty: c.Config.Tty, stdinOK: c.Config.OpenStdin}
	go s.serve()
	return s, nil
}

func (s *attachServer) serve() {
	for {
		conn, err := s.ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// EMFILE and friends: back off rather than spin.
			s.logf("attach: accept: %v", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		go s.handle(conn)
	}
}

// handle runs one client: handshake, then its input until it hangs up.
func (s *attachServer) handle(conn *net.UnixConn) {
	defer conn.Close()
	var buf []byte
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	kind, p, err := readFrame(conn, &buf)
	if err != nil {
		return
	}
	var m ctlMsg
	if kind != kindCtl || json.Unmarshal(p, &m) != nil || m.Hello == nil {
		writeCtl(conn, ctlMsg{Error: "attach: expected hello"})
		return
	}
	conn.SetReadDeadline(time.Time{})
	cl := &attachClient{conn: conn, hello: *m.Hello}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		writeCtl(conn, ctlMsg{Error: "container is not running"})
		return
	}
	cl.hello.Stdin = cl.hello.Stdin && s.stdinOK
	reply := ctlMsg{TTY: s.tty, Stdin: cl.hello.Stdin}
	// The reply is written under mu so that no output frame can overtake it.
	if err := writeCtl(conn, reply); err != nil {
		s.mu.Unlock()
		return
	}
	s.clients[cl] = struct{}{}
	if !s.firstOK {
		s.firstOK = true
		close(s.first)
	}
	s.mu.Unlock()
	defer s.drop(cl)

	for {
		kind, p, err := readFrame(conn, &buf)
		if err != nil {
			return
		}
		switch kind {
		case kindStdin:
			if cl.hello.Stdin {
				s.writeInput(p)
			}
		case kindCtl:
			var m ctlMsg
			if json.Unmarshal(p, &m) != nil {
				return
			}
			if m.Resize != nil {
				s.resize(*m.Resize)
			}
			if m.EOF && cl.hello.Stdin && cl.hello.CloseStdin {
				s.closeInput()
			}
		}
	}
}

func (s *attachServer) drop(cl *attachClient) {
	s.mu.Lock()
	delete(s.clients, cl)
	s.mu.Unlock()
	cl.conn.Close()
}

// waitFirst waits until a client has said hello, or timeout (start -a:
// the output from the first instruction on belongs to that client).
func (s *attachServer) waitFirst(timeout time.Duration) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-s.first:
	case <-t.C:
	}
}

func (s *attachServer) writeInput(p []byte) {
	s.inMu.Lock()
	defer s.inMu.Unlock()
	s.mu.Lock()
	in := s.input
	s.mu.Unlock()
	if in == nil {
		return
	}
	// A container that does not read its stdin fills the pipe: this client
	// then waits (its own goroutine), the others and the output do not.
	if _, err := in.Write(p); err != nil && !errors.Is(err, os.ErrClosed) {
		s.logf("attach: write to container stdin: %v", err)
	}
}

func (s *attachServer) closeInput() {
	s.mu.Lock()
	in := s.input
	if in != nil && !s.tty {
		s.input = nil
	} else {
		in = nil // a terminal's input end is its master: keep it
	}
	s.mu.Unlock()
	if in != nil {
		in.Close()
	}
}

func (s *attachServer) resize(sz Size) {
	if sz.Width == 0 || sz.Height == 0 {
		return
	}
	s.mu.Lock()
	pty := s.pty
	s.size = sz
	s.mu.Unlock()
	if pty != nil {
		setWinsize(pty, sz)
	}
}

func setWinsize(pty *os.File, sz Size) {
	rc, err := pty.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: sz.Height, Col: sz.Width})
	})
}

// broadcast sends one chunk of output to every client that wants kind.
func (s *attachServer) broadcast(kind byte, p []byte) {
	s.mu.Lock()
	if len(s.clients) == 0 {
		s.mu.Unlock()
		return
	}
	targets := make([]*attachClient, 0, len(s.clients))
	for cl := range s.clients {
		if (kind == kindStdout && cl.hello.Stdout) || (kind == kindStderr && cl.hello.Stderr) {
			targets = append(targets, cl)
		}
	}
	s.mu.Unlock()
	for _, cl := range targets {
		cl.wmu.Lock()
		cl.conn.SetWriteDeadline(time.Now().Add(clientWriteTimeout))
		err := writeFrame(cl.conn, kind, p)
		cl.wmu.Unlock()
		if err != nil {
			s.drop(cl)
		}
	}
}

// ended releases a finished run's stdin pipe and terminal.
func (s *attachServer) ended() {
	s.mu.Lock()
	in := s.input
	s.input, s.pty = nil, nil
	tty := s.tty
	s.mu.Unlock()
	if in != nil && !tty {
		in.Close() // a pty master is closed by its copier
	}
}

// exited tells every client the main process's exit code, once it is on
// record, and hangs up on them.
func (s *attachServer) exited(code int) {
	s.mu.Lock()
	clients := s.clients
	s.clients = map[*attachClient]struct{}{}
	s.mu.Unlock()
	for cl := range clients {
		cl.wmu.Lock()
		cl.conn.SetWriteDeadline(time.Now().Add(time.Second))
		writeCtl(cl.conn, ctlMsg{Exit: &code})
		cl.wmu.Unlock()
		cl.conn.Close()
	}
}

// close removes the socket and hangs up on everyone: the supervision is over.
func (s *attachServer) close() {
	s.mu.Lock()
	s.closed = true
	clients := s.clients
	s.clients = map[*attachClient]struct{}{}
	s.mu.Unlock()
	s.ln.Close()
	os.Remove(s.path)
	for cl := range clients {
		cl.conn.Close()
	}
}

// hub is an output stream of the container: it writes to the log and then
// to the attached clients.
type hub struct {
	s    *attachServer
	kind byte
	log  io.Writer
}

func (h hub) Write(p []byte) (int, error) {
	n, err := h.log.Write(p)
	h.s.broadcast(h.kind, p)
	return n, err
}

// start starts one run of c through the IOStarter with stdin, terminal and
// output wired to the server.
func (s *attachServer) start(ctx context.Context, st IOStarter, c *container.Container, stdout, stderr io.Writer) (Proc, error) {
	tty := c.Config.Tty
	s.mu.Lock()
	s.tty, s.stdinOK = tty, c.Config.OpenStdin
	s.mu.Unlock()

	stdio := IO{Stdout: hub{s, kindStdout, stdout}, Stderr: hub{s, kindStderr, stderr}}
	var stdinW *os.File
	if c.Config.OpenStdin && !tty {
		// Created here rather than with os.Pipe: the container's end must
		// be a blocking descriptor, ours a pollable one.
		var fds [2]int
		if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
			return nil, fmt.Errorf("stdin pipe: %w", err)
		}
		unix.SetNonblock(fds[1], true)
		stdio.Stdin = os.NewFile(uintptr(fds[0]), "stdin")
		stdinW = os.NewFile(uintptr(fds[1]), "stdin-writer")
	}
	var ttyDone chan struct{}
	if tty {
		ttyDone = make(chan struct{})
		out := stdio.Stdout
		stdio.Console = func(master *os.File) { s.serveTerminal(master, out, ttyDone) }
	}
	proc, err := st.StartIO(ctx, c, stdio)
	if stdio.Stdin != nil {
		stdio.Stdin.Close()
	}
	if err != nil {
		if stdinW != nil {
			stdinW.Close()
		}
		return nil, err
	}
	if stdinW != nil {
		s.mu.Lock()
		s.input = stdinW
		s.mu.Unlock()
	}
	return &attachedProc{Proc: proc, s: s, ttyDone: ttyDone}, nil
}

// serveTerminal takes over a -t container's pty master: a pollable
// duplicate is read by one goroutine into out until the terminal closes.
func (s *attachServer) serveTerminal(master *os.File, out io.Writer, done chan struct{}) {
	fd, err := unix.FcntlInt(master.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	master.Close()
	if err != nil {
		s.logf("attach: dup pty master: %v", err)
		close(done)
		return
	}
	unix.SetNonblock(fd, true)
	m := os.NewFile(uintptr(fd), "pty-master")
	s.mu.Lock()
	s.pty = m
	if s.stdinOK {
		s.input = m
	}
	sz := s.size
	s.mu.Unlock()
	if sz.Width != 0 {
		// A client that attached before the start (start -a) or during a
		// restart gets its size on the new terminal.
		setWinsize(m, sz)
	}
	go func() {
		defer close(done)
		defer m.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := m.Read(buf)
			if n > 0 {
				out.Write(buf[:n])
			}
			// EIO once every slave descriptor is closed: the terminal's EOF.
			if err != nil {
				return
			}
		}
	}()
}

// attachedProc is a run started through the attach server: Wait also
// waits for the terminal's last output and releases stdin and terminal.
type attachedProc struct {
	Proc
	s       *attachServer
	ttyDone chan struct{}
}

func (p *attachedProc) Wait() (int, error) {
	code, err := p.Proc.Wait()
	if p.ttyDone != nil {
		t := time.NewTimer(ttyDrainTimeout)
		select {
		case <-p.ttyDone:
		case <-t.C:
		}
		t.Stop()
	}
	p.s.ended()
	return code, err
}

// startRun starts one run of the supervised container: through the attach
// server when there is one, else with output to the log only.
func (s *supervision) startRun(ctx context.Context, c *container.Container) (Proc, error) {
	if st, ok := s.o.Starter.(IOStarter); ok && s.att != nil {
		return s.att.start(ctx, st, c, s.logw.Stdout(), s.logw.Stderr())
	}
	return s.o.Starter.Start(ctx, c, s.logw.Stdout(), s.logw.Stderr())
}

// openAttach starts the attach server if the options ask for one; a
// failure costs only attach, so it is logged, not fatal.
func (s *supervision) openAttach(c *container.Container) {
	if _, ok := s.o.Starter.(IOStarter); !ok || s.o.AttachDir == "" {
		return
	}
	att, err := listenAttach(s.o.AttachDir, c, s.o.Logf)
	if err != nil {
		s.o.Logf("container %s: %v", s.o.ID, err)
		return
	}
	s.att = att
	if s.o.WaitAttach > 0 {
		att.waitFirst(s.o.WaitAttach)
	}
}

// notifyExit tells attached clients the exit code of the run that ended;
// the supervisor calls it once the exit (or the restart) is on record.
func (s *supervision) notifyExit(code int) {
	if s.att != nil {
		s.att.exited(code)
	}
}

func (s *supervision) closeAttach() {
	if s.att != nil {
		s.att.close()
	}
}
