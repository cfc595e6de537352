package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// stdio wires an IO to a process being started. The runtime hands the
// process plain files (pipe ends, a console socket), never Go readers:
// exec.Cmd would otherwise copy them itself, and its Wait (which
// libcontainer calls) would block on a Stdin that never reaches EOF.
type stdio struct {
	io IO

	// Files to give the process (nil means /dev/null).
	stdin, stdout, stderr *os.File
	// consoleChild is the socket end given to the process when Terminal;
	// the pty master arrives on consoleParent.
	consoleChild, consoleParent *os.File

	childEnds  []*os.File // closed once the process has them
	parentEnds []*os.File // closed if the start fails
	// copy starts the output copiers once the start has succeeded: what a
	// failing runtime writes to the process's stderr is part of the error
	// it returns, and must not reach the user's stream as well.
	copy []func()

	copiers sync.WaitGroup // output copying; Wait waits for it
	pty     *os.File       // our handle on the pty master, for Resize
}

func newStdio(conf IO) (_ *stdio, retErr error) {
	s := &stdio{io: conf}
	defer func() {
		if retErr != nil {
			s.abort()
		}
	}()
	if conf.Terminal {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("console socket: %w", err)
		}
		s.consoleParent = os.NewFile(uintptr(fds[0]), "console-parent")
		s.consoleChild = os.NewFile(uintptr(fds[1]), "console-child")
		s.parentEnds = append(s.parentEnds, s.consoleParent)
		s.childEnds = append(s.childEnds, s.consoleChild)
		return s, nil
	}
	var err error
	if s.stdin, err = s.input(conf.Stdin); err != nil {
		return nil, err
	}
	if s.stdout, err = s.output(conf.Stdout); err != nil {
		return nil, err
	}
	if s.stderr, err = s.output(conf.Stderr); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *stdio) input(r io.Reader) (*os.File, error) {
	if r == nil {
		return nil, nil
	}
	if f, ok := r.(*os.File); ok {
		return f, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stdin pipe: %w", err)
	}
	s.childEnds = append(s.childEnds, pr)
	s.parentEnds = append(s.parentEnds, pw)
	// Not waited for: r may never reach EOF (a terminal), and once the
	// process is gone the next write fails and ends the copy.
	go func() {
		_, _ = io.Copy(pw, r)
		pw.Close()
	}()
	return pr, nil
}

func (s *stdio) output(w io.Writer) (*os.File, error) {
	if w == nil {
		return nil, nil
	}
	if f, ok := w.(*os.File); ok {
		return f, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("output pipe: %w", err)
	}
	s.childEnds = append(s.childEnds, pw)
	s.parentEnds = append(s.parentEnds, pr)
	s.copy = append(s.copy, func() {
		s.copiers.Add(1)
		go func() {
			defer s.copiers.Done()
			_, _ = io.Copy(w, pr)
			pr.Close()
		}()
	})
	return pw, nil
}

// started is called once the process runs: it drops our copies of the
// process's ends (so that output reaches EOF when the process exits) and,
// for a terminal, receives the pty master and starts serving it.
func (s *stdio) started() error {
	for _, f := range s.childEnds {
		f.Close()
	}
	s.childEnds = nil
	for _, start := range s.copy {
		start()
	}
	s.parentEnds = nil // owned by the copiers now
	if s.consoleParent == nil {
		return nil
	}
	defer s.consoleParent.Close()
	master, err := recvFile(s.consoleParent)
	if err != nil {
		return fmt.Errorf("receive pty master: %w", err)
	}
	if s.io.Console != nil {
		// The callback owns master; keep a duplicate for Resize.
		dup, err := unix.FcntlInt(master.Fd(), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			master.Close()
			return fmt.Errorf("dup pty master: %w", err)
		}
		s.pty = os.NewFile(uintptr(dup), "pty-master")
		s.io.Console(master)
		return nil
	}
	s.pty = master
	if s.io.Stdin != nil {
		go func() { _, _ = io.Copy(master, s.io.Stdin) }()
	}
	if s.io.Stdout != nil {
		s.copiers.Add(1)
		go func() {
			defer s.copiers.Done()
			// Reading the master fails with EIO once every slave fd is
			// closed: that is the terminal's EOF.
			_, _ = io.Copy(s.io.Stdout, master)
		}()
	}
	return nil
}

// abort releases everything after a failed start.
func (s *stdio) abort() {
	for _, f := range append(s.childEnds, s.parentEnds...) {
		f.Close()
	}
	s.childEnds, s.parentEnds = nil, nil
	s.copiers.Wait()
}

// wait is called after the process has exited: it waits for its output to
// be copied and releases the terminal.
func (s *stdio) wait() {
	s.copiers.Wait()
	if s.pty != nil {
		s.pty.Close()
	}
}

func (s *stdio) resize(width, height uint16) error {
	if s.pty == nil {
		return ErrNoTerminal
	}
	return unix.IoctlSetWinsize(int(s.pty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: height, Col: width})
}

// recvFile receives one file descriptor sent with SCM_RIGHTS on socket.
func recvFile(socket *os.File) (*os.File, error) {
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	var n, oobn int
	var err error
	for {
		// The sender has sent by the time the start returns, so this does
		// not wait; a non-blocking socket is polled all the same.
		n, oobn, _, _, err = unix.Recvmsg(int(socket.Fd()), name, oob, unix.MSG_CMSG_CLOEXEC)
		if errors.Is(err, unix.EAGAIN) {
			fds := []unix.PollFd{{Fd: int32(socket.Fd()), Events: unix.POLLIN}}
			if _, perr := unix.Poll(fds, 10_000); perr != nil && !errors.Is(perr, unix.EINTR) {
				return nil, perr
			} else if perr == nil && fds[0].Revents == 0 {
				return nil, errors.New("timed out waiting for the pty master")
			}
			continue
		}
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, err
	}
	if len(msgs) != 1 {
		return nil, fmt.Errorf("expected one control message, got %d", len(msgs))
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil {
		return nil, err
	}
	if len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("expected one fd, got %d", len(fds))
	}
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}
