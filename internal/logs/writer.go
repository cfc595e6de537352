package logs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
)

// MaxLineSize is the longest entry Docker writes: longer lines are split
// into partial entries of this size.
const MaxLineSize = 16 * 1024

// Options configure rotation, Docker's max-size and max-file.
type Options struct {
	// MaxSize rotates the file once it has reached this many bytes; 0 means never.
	MaxSize int64
	// MaxFiles is how many files are kept, the live one included (0 means 1).
	// With 1, reaching MaxSize truncates the log, as Docker does.
	MaxFiles int
}

// Entry is one record of the json-file format. Field order is Docker's.
type Entry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// Writer appends entries to a container's json-file log. Its Stdout and
// Stderr streams may be written from different goroutines at once; each
// buffers its own partial line so the two never interleave within a line.
type Writer struct {
	mu   sync.Mutex
	path string
	opts Options
	f    *os.File
	size int64
	buf  []byte // scratch for encoding, reused under mu
	err  error  // first write error; later writes are dropped
	now  func() time.Time

	stdout, stderr *stream
}

// NewWriter opens (appending to) the log at path.
func NewWriter(path string, o Options) (*Writer, error) {
	if o.MaxFiles < 1 {
		o.MaxFiles = 1
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open log: %w", err)
	}
	w := &Writer{path: path, opts: o, f: f, size: st.Size(), now: time.Now}
	w.stdout = &stream{w: w, name: "stdout"}
	w.stderr = &stream{w: w, name: "stderr"}
	return w, nil
}

// Stdout is the writer for the container's standard output.
func (w *Writer) Stdout() io.Writer { return w.stdout }

// Stderr is the writer for the container's standard error.
func (w *Writer) Stderr() io.Writer { return w.stderr }

// Flush writes any buffered partial lines as partial entries. The owner
// calls it when the container's process has exited (Close does too).
func (w *Writer) Flush() error {
	w.stdout.flush()
	w.stderr.flush()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close flushes and closes the log.
func (w *Writer) Close() error {
	err := w.Flush()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f != nil {
		if cerr := w.f.Close(); err == nil {
			err = cerr
		}
		w.f = nil
	}
	return err
}

// WriteEntry appends one entry, rotating first when the file is full.
func (w *Writer) WriteEntry(e Entry) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writeLocked(e)
}

func (w *Writer) writeLocked(e Entry) error {
	if w.err != nil {
		return w.err
	}
	if w.f == nil {
		return fmt.Errorf("log %s: closed", w.path)
	}
	if w.opts.MaxSize > 0 && w.size >= w.opts.MaxSize {
		if err := w.rotate(); err != nil {
			w.err = err
			return err
		}
	}
	w.buf = appendEntry(w.buf[:0], e)
	n, err := w.f.Write(w.buf)
	w.size += int64(n)
	if err != nil {
		w.err = fmt.Errorf("write log %s: %w", w.path, err)
	}
	return w.err
}

// rotate shifts path.N-2 → path.N-1 … path → path.1 and starts an empty
// live file; with MaxFiles 1 it truncates instead (readers notice the size
// going down). Renames keep a following reader's open file valid.
func (w *Writer) rotate() error {
	if w.opts.MaxFiles > 1 {
		for i := w.opts.MaxFiles - 1; i > 1; i-- {
			if err := os.Rename(w.path+"."+strconv.Itoa(i-1), w.path+"."+strconv.Itoa(i)); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("rotate log: %w", err)
			}
		}
		if err := os.Rename(w.path, w.path+".1"); err != nil {
			return fmt.Errorf("rotate log: %w", err)
		}
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("rotate log: %w", err)
	}
	w.f.Close()
	w.f = f
	w.size = 0
	return nil
}

// appendEntry encodes e as dockerd's json-file driver does: keys in the
// order log, stream, time; time in UTC RFC3339Nano; one object per line.
// encoding/json's string escaping (HTML-safe, invalid UTF-8 → U+FFFD)
// matches Docker's encoder.
func appendEntry(b []byte, e Entry) []byte {
	b = append(b, `{"log":`...)
	b = appendJSONString(b, e.Log)
	b = append(b, `,"stream":`...)
	b = appendJSONString(b, e.Stream)
	b = append(b, `,"time":"`...)
	b = e.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, "\"}\n"...)
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// stream splits one output stream into lines.
type stream struct {
	w    *Writer
	name string
	mu   sync.Mutex
	line []byte // the unterminated tail of what was written so far
	// partialTS is the time of a long line's first partial entry: Docker
	// stamps every piece of one line with the same time.
	partialTS time.Time
}

// Write never fails because of the log: a container must not die (or
// block) because its log cannot be written, so errors are kept in the
// Writer and reported by Flush/Close.
func (s *stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			room := MaxLineSize - len(s.line)
			if len(p) < room {
				s.line = append(s.line, p...)
				break
			}
			s.line = append(s.line, p[:room]...)
			p = p[room:]
			s.emit(true) // a full 16 KiB without a newline: a partial entry
			continue
		}
		chunk := p[:i+1]
		p = p[i+1:]
		for len(s.line)+len(chunk) > MaxLineSize {
			room := MaxLineSize - len(s.line)
			s.line = append(s.line, chunk[:room]...)
			chunk = chunk[room:]
			s.emit(true)
		}
		s.line = append(s.line, chunk...)
		s.emit(false)
	}
	return n, nil
}

func (s *stream) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.line) > 0 {
		s.emit(false)
	}
}

// emit writes the buffered text as one entry; partial says more of the
// same line follows.
func (s *stream) emit(partial bool) {
	ts := s.partialTS
	if ts.IsZero() {
		ts = s.w.now()
	}
	if partial {
		s.partialTS = ts
	} else {
		s.partialTS = time.Time{}
	}
	s.w.mu.Lock()
	s.w.writeLocked(Entry{Log: string(s.line), Stream: s.name, Time: ts})
	s.w.mu.Unlock()
	s.line = s.line[:0]
}
