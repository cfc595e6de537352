package supervisor

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/errdefs"
)

// The attach protocol, spoken over the supervisor's unix socket
// (AttachSocket). Every message is a frame: an 8-byte header — kind, three
// zero bytes, payload length as a big-endian uint32, the layout of Docker's
// multiplexed attach stream — and the payload. Kinds 0-2 are Docker's
// stream numbers; kind 3 carries one JSON ctlMsg.
//
// The client opens with a ctl frame {"hello":{...}} naming the streams it
// wants; the supervisor answers {"tty":..,"stdin":..} (or {"error":..}
// and hangs up). Then the client sends stdin frames, {"resize":..} and
// {"eof":true}; the supervisor sends stdout/stderr frames (a -t container
// has only stdout: the raw terminal) and, when the container's main process
// has exited, {"exit":code} before closing. A client detaches by closing
// the connection; nothing else changes for the container.
const (
	kindStdin  byte = 0
	kindStdout byte = 1
	kindStderr byte = 2
	kindCtl    byte = 3
)

// maxFrame bounds a frame's payload: output arrives in pipe-sized chunks,
// so anything larger is a broken or hostile peer.
const maxFrame = 1 << 20

// ctlMsg is the payload of a kind 3 frame; each message sets one field
// (the server's reply to hello sets TTY and Stdin together).
type ctlMsg struct {
	Hello  *attachHello `json:"hello,omitempty"`
	TTY    bool         `json:"tty,omitempty"`
	Stdin  bool         `json:"stdin,omitempty"`
	Error  string       `json:"error,omitempty"`
	Resize *Size        `json:"resize,omitempty"`
	EOF    bool         `json:"eof,omitempty"`
	Exit   *int         `json:"exit,omitempty"`
}

// attachHello is what a client asks for.
type attachHello struct {
	Stdin  bool `json:"stdin,omitempty"`
	Stdout bool `json:"stdout,omitempty"`
	Stderr bool `json:"stderr,omitempty"`
	// CloseStdin closes the container's stdin when this client's stdin
	// ends (Docker's StdinOnce, for `start -ai`); otherwise it stays open
	// for the next client.
	CloseStdin bool `json:"closeStdin,omitempty"`
}

// Size is a terminal size in character cells.
type Size struct {
	Width  uint16 `json:"w"`
	Height uint16 `json:"h"`
}

func writeFrame(w io.Writer, kind byte, p []byte) error {
	var hdr [8]byte
	hdr[0] = kind
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(p)))
	bufs := net.Buffers{hdr[:], p} // one writev: header and payload never split by another writer
	_, err := bufs.WriteTo(w)
	return err
}

func writeCtl(w io.Writer, m ctlMsg) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return writeFrame(w, kindCtl, data)
}

// readFrame reads one frame into buf (grown as needed) and returns its kind
// and payload, which aliases buf.
func readFrame(r io.Reader, buf *[]byte) (byte, []byte, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[4:])
	if n > maxFrame || hdr[0] > kindCtl {
		return 0, nil, fmt.Errorf("attach: bad frame (kind %d, %d bytes): %w", hdr[0], n, errdefs.ErrInvalid)
	}
	if cap(*buf) < int(n) {
		*buf = make([]byte, n)
	}
	p := (*buf)[:n]
	if _, err := io.ReadFull(r, p); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return hdr[0], p, nil
}

// AttachSocket is where the supervisor of container id listens for attach
// clients: dir is the runtime directory's "attach" subdirectory.
func AttachSocket(dir, id string) string { return filepath.Join(dir, id+".sock") }

// maxSunPath is the room in sockaddr_un for a path and its NUL.
const maxSunPath = 107

// shortSocketPath returns a name for path that fits a sockaddr_un: path
// itself when short enough, else "/proc/self/fd/N/<base>" through an O_PATH
// descriptor of its directory (call release when bind or connect is done).
// Deep --root directories (tests, CI) would otherwise not fit.
func shortSocketPath(path string) (string, func(), error) {
	if len(path) <= maxSunPath {
		return path, func() {}, nil
	}
	fd, err := unix.Open(filepath.Dir(path), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, fmt.Errorf("attach socket directory: %w", err)
	}
	short := "/proc/self/fd/" + strconv.Itoa(fd) + "/" + filepath.Base(path)
	if len(short) > maxSunPath {
		unix.Close(fd)
		return "", nil, fmt.Errorf("attach socket name %s is too long: %w", filepath.Base(path), errdefs.ErrInvalid)
	}
	return short, func() { unix.Close(fd) }, nil
}

func listenUnix(path string) (*net.UnixListener, error) {
	name, release, err := shortSocketPath(path)
	if err != nil {
		return nil, err
	}
	defer release()
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale attach socket: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"})
	if err != nil {
		return nil, err
	}
	// The socket file is removed by our own close, by name; the listener
	// must not try to unlink the /proc/self/fd alias.
	ln.SetUnlinkOnClose(false)
	// bind made it 0777 &^ umask: whoever can connect drives the
	// container's stdin, so berth alone.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		os.Remove(path)
		return nil, fmt.Errorf("attach socket: %w", err)
	}
	return ln, nil
}

func dialUnix(path string) (*net.UnixConn, error) {
	name, release, err := shortSocketPath(path)
	if err != nil {
		return nil, err
	}
	defer release()
	return net.DialUnix("unix", nil, &net.UnixAddr{Name: name, Net: "unix"})
}
