package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// TimestampFormat is how `logs -t` prints an entry's time (Docker's
// RFC3339NanoFixed: always nine fractional digits).
const TimestampFormat = "2006-01-02T15:04:05.000000000Z07:00"

// ReadOptions select and shape what Read prints, as `docker logs` flags do.
type ReadOptions struct {
	// Tail is how many of the last lines to print; negative means all.
	// It counts entries before Since/Until filter them, as Docker does.
	Tail int
	// Since and Until bound the entries' times; zero means unbounded.
	Since, Until time.Time
	// Timestamps prefixes each entry with its time (TimestampFormat).
	Timestamps bool
	// Follow keeps reading as the log grows and rotates, until Done is
	// closed (the container has stopped; what it wrote is then drained),
	// Until has passed, or ctx ends.
	Follow bool
	Done   <-chan struct{}
	// Poll is how often a follower looks for new output (default 50ms).
	Poll time.Duration
}

// Read prints the log at path (and its rotated predecessors) to stdout
// and stderr, each entry to the stream it came from.
func Read(ctx context.Context, path string, o ReadOptions, stdout, stderr io.Writer) error {
	if o.Poll <= 0 {
		o.Poll = 50 * time.Millisecond
	}
	r := &reader{o: o, stdout: stdout, stderr: stderr}
	files := logFiles(path) // oldest first, the live file last
	starts := make([]int64, len(files))
	if o.Tail >= 0 {
		want := o.Tail
		for i := len(files) - 1; i >= 0; i-- {
			if want == 0 {
				starts[i] = -1 // nothing from this file
				continue
			}
			off, found, err := tailOffset(files[i], want)
			if err != nil {
				return err
			}
			starts[i] = off
			want -= found
		}
	}
	// Rotated files are complete; print them and let them go.
	for i, name := range files[:len(files)-1] {
		if starts[i] < 0 {
			continue
		}
		f, err := os.Open(name)
		if errors.Is(err, os.ErrNotExist) {
			continue // rotated away meanwhile
		}
		if err != nil {
			return fmt.Errorf("read log: %w", err)
		}
		_, err = f.Seek(starts[i], io.SeekStart)
		if err == nil {
			err = r.drain(f)
		}
		f.Close()
		if err != nil || r.stop {
			return err
		}
	}
	live, err := os.Open(path)
	defer func() {
		if live != nil {
			live.Close()
		}
	}()
	if errors.Is(err, os.ErrNotExist) {
		if !o.Follow {
			return nil
		}
		live = nil
	} else if err != nil {
		return fmt.Errorf("read log: %w", err)
	}
	if live != nil {
		if starts[len(starts)-1] < 0 {
			_, err = live.Seek(0, io.SeekEnd)
		} else {
			_, err = live.Seek(starts[len(starts)-1], io.SeekStart)
		}
		if err != nil {
			return fmt.Errorf("read log: %w", err)
		}
		if o.Tail == 0 && o.Follow {
			// Tail 0 with follow: only what is written from now on. Any
			// unterminated bytes at the end belong to a line not yet
			// written and must still be read when it completes.
			pos, _ := live.Seek(0, io.SeekCurrent)
			if back := unterminatedTail(live, pos); back > 0 {
				live.Seek(pos-back, io.SeekStart)
			}
		}
		if err := r.drain(live); err != nil || r.stop || !o.Follow {
			return err
		}
	}
	return r.follow(ctx, path, &live)
}

// follow waits for more output on *live, switching files on rotation.
func (r *reader) follow(ctx context.Context, path string, live **os.File) error {
	finishing := false
	for {
		if *live != nil {
			if err := r.drain(*live); err != nil || r.stop {
				return err
			}
		}
		switched, err := r.reopenIfRotated(path, live)
		if err != nil {
			return err
		}
		if switched {
			continue
		}
		if finishing {
			return nil
		}
		if !r.o.Until.IsZero() && time.Now().After(r.o.Until) {
			finishing = true
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.o.Done:
			finishing = true // one more pass drains the last output
		case <-time.After(r.o.Poll):
		}
	}
}

// reopenIfRotated notices the live file being replaced (renamed to .1) or
// truncated (max-file 1). The old file was drained by the caller just
// before, and its writer only ever writes to the new one afterwards.
func (r *reader) reopenIfRotated(path string, live **os.File) (bool, error) {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil // between rename and create, or not created yet
	}
	if err != nil {
		return false, fmt.Errorf("follow log: %w", err)
	}
	if *live != nil {
		cur, err := (*live).Stat()
		if err == nil && os.SameFile(st, cur) {
			if pos, err := (*live).Seek(0, io.SeekCurrent); err == nil && st.Size() < pos {
				(*live).Seek(0, io.SeekStart) // truncated in place
				r.pending = r.pending[:0]
				return true, nil
			}
			return false, nil
		}
		// Renamed away: one last drain of the old file, then the files
		// rotated in after it (if the writer rotated more than once since
		// the last poll), then the new live file — opened first, so a
		// rotation during all this cannot make us skip or repeat a file.
		if err := r.drain(*live); err != nil {
			return false, err
		}
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			return false, nil // mid-rotation; the next poll finds it
		}
		if err != nil {
			return false, fmt.Errorf("follow log: %w", err)
		}
		newer := rotatedBetween(path, cur, f)
		(*live).Close()
		*live = f
		for _, rf := range newer {
			r.pending = r.pending[:0]
			err := r.drain(rf)
			rf.Close()
			if err != nil {
				return false, err
			}
		}
		r.pending = r.pending[:0]
		return true, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("follow log: %w", err)
	}
	*live = f
	r.pending = r.pending[:0]
	return true, nil
}

// rotatedBetween opens, oldest first, the rotated files of path that are
// newer than old and older than live (all older ones if old is gone).
func rotatedBetween(path string, old os.FileInfo, live *os.File) []*os.File {
	liveSt, _ := live.Stat()
	var names []string
	for i := 1; ; i++ {
		name := path + "." + strconv.Itoa(i)
		st, err := os.Stat(name)
		if err != nil {
			break
		}
		if old != nil && os.SameFile(st, old) {
			break
		}
		if liveSt != nil && os.SameFile(st, liveSt) {
			names = names[:0] // rotated again: what we saw so far is newer than live
			continue
		}
		names = append(names, name)
	}
	var files []*os.File
	for i := len(names) - 1; i >= 0; i-- {
		if f, err := os.Open(names[i]); err == nil {
			files = append(files, f)
		}
	}
	return files
}

type reader struct {
	o              ReadOptions
	stdout, stderr io.Writer
	pending        []byte // an unterminated line read from the live file
	buf            []byte
	stop           bool // Until passed: print nothing more
	line           []byte
}

// drain prints every complete line from f's offset to its current end.
func (r *reader) drain(f *os.File) error {
	if r.buf == nil {
		r.buf = make([]byte, 32*1024)
	}
	for {
		n, err := f.Read(r.buf)
		data := r.buf[:n]
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				r.pending = append(r.pending, data...)
				break
			}
			line := data[:i]
			if len(r.pending) > 0 {
				r.pending = append(r.pending, line...)
				line = r.pending
			}
			if werr := r.emit(line); werr != nil {
				return werr
			}
			r.pending = r.pending[:0]
			data = data[i+1:]
			if r.stop {
				return nil
			}
		}
		if err == io.EOF || n == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read log: %w", err)
		}
	}
}

func (r *reader) emit(line []byte) error {
	var e Entry
	if err := json.Unmarshal(line, &e); err != nil {
		return nil // a torn line from a crash: skip it, as a reader of a live file must
	}
	if !r.o.Since.IsZero() && e.Time.Before(r.o.Since) {
		return nil
	}
	if !r.o.Until.IsZero() && e.Time.After(r.o.Until) {
		r.stop = true
		return nil
	}
	w := r.stdout
	if e.Stream == "stderr" {
		w = r.stderr
	}
	out := r.line[:0]
	if r.o.Timestamps {
		out = e.Time.AppendFormat(out, TimestampFormat)
		out = append(out, ' ')
	}
	out = append(out, e.Log...)
	r.line = out
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("write logs: %w", err)
	}
	return nil
}

// logFiles lists path's rotated files oldest first, then path itself.
func logFiles(path string) []string {
	var rotated []string
	for i := 1; ; i++ {
		name := path + "." + strconv.Itoa(i)
		if _, err := os.Stat(name); err != nil {
			break
		}
		rotated = append(rotated, name)
	}
	files := make([]string, 0, len(rotated)+1)
	for i := len(rotated) - 1; i >= 0; i-- {
		files = append(files, rotated[i])
	}
	return append(files, path)
}

// tailOffset finds where the last n complete lines of file name begin,
// reading backwards so a tail of a large log costs what it prints. found
// < n means the whole file is fewer lines (offset 0).
func tailOffset(name string, n int) (offset int64, found int, err error) {
	f, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read log: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, 0, fmt.Errorf("read log: %w", err)
	}
	end := st.Size()
	end -= unterminatedTail(f, end)
	buf := make([]byte, 32*1024)
	pos := end
	// The byte at end-1 is the last line's newline; every newline before
	// it closes one more line.
	skipLast := true
	for pos > 0 {
		size := int64(len(buf))
		if pos < size {
			size = pos
		}
		pos -= size
		chunk := buf[:size]
		if _, err := f.ReadAt(chunk, pos); err != nil && err != io.EOF {
			return 0, 0, fmt.Errorf("read log: %w", err)
		}
		for i := len(chunk) - 1; i >= 0; i-- {
			if chunk[i] != '\n' {
				continue
			}
			if skipLast {
				skipLast = false
				continue
			}
			found++
			if found == n {
				return pos + int64(i) + 1, found, nil
			}
		}
	}
	if end > 0 {
		found++ // the first line has no newline before it
	}
	return 0, found, nil
}

// unterminatedTail returns how many bytes at the end of f (of size end)
// follow its last newline: a line still being written.
func unterminatedTail(f *os.File, end int64) int64 {
	var b [4096]byte
	var back int64
	for end > 0 {
		size := int64(len(b))
		if end < size {
			size = end
		}
		end -= size
		if _, err := f.ReadAt(b[:size], end); err != nil && err != io.EOF {
			return back
		}
		if i := bytes.LastIndexByte(b[:size], '\n'); i >= 0 {
			return back + size - int64(i) - 1
		}
		back += size
	}
	return back
}

// ParseTail reads --tail: "all" (or "") is -1; so, as in dockerd, is
// anything that is not a number.
func ParseTail(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// ParseTime reads --since/--until values the way the docker CLI does
// (its timetypes.GetTimestamp): a Go duration ("10m", "1h30m") counts back
// from now to whole seconds; RFC 3339 dates and times, with or without
// fraction and zone (no zone means now's zone), or a bare date; or a Unix
// time "seconds[.nanoseconds]". "" is the zero time (no bound).
func ParseTime(value string, now time.Time) (time.Time, error) {
	if value == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(value); value != "0" && err == nil {
		return time.Unix(now.Add(-d).Unix(), 0), nil
	}
	const (
		rfc3339Local     = "2006-01-02T15:04:05"
		rfc3339NanoLocal = "2006-01-02T15:04:05.999999999"
		dateWithZone     = "2006-01-02Z07:00"
		dateLocal        = "2006-01-02"
	)
	inLocation := !(strings.ContainsAny(value, "zZ+") || strings.Count(value, "-") == 3)
	var format string
	switch {
	case strings.Contains(value, "."):
		format = time.RFC3339Nano
		if inLocation {
			format = rfc3339NanoLocal
		}
	case strings.Contains(value, "T"):
		colons := strings.Count(value, ":")
		if !inLocation && !strings.ContainsAny(value, "zZ") && colons > 0 {
			colons-- // the zone offset's colon
		}
		switch {
		case colons == 0 && inLocation:
			format = "2006-01-02T15"
		case colons == 1 && inLocation:
			format = "2006-01-02T15:04"
		case inLocation:
			format = rfc3339Local
		case colons == 0:
			format = "2006-01-02T15Z07:00"
		case colons == 1:
			format = "2006-01-02T15:04Z07:00"
		default:
			format = time.RFC3339
		}
	case inLocation:
		format = dateLocal
	default:
		format = dateWithZone
	}
	var t time.Time
	var err error
	if inLocation {
		t, err = time.ParseInLocation(format, value, time.FixedZone(now.Zone()))
	} else {
		t, err = time.Parse(format, value)
	}
	if err == nil {
		return t, nil
	}
	if strings.Contains(value, "-") {
		return time.Time{}, err // meant as a date, but malformed
	}
	sec, nsec, ok := unixTime(value)
	if !ok {
		return time.Time{}, fmt.Errorf("failed to parse value as time or duration: %q", value)
	}
	return time.Unix(sec, nsec), nil
}

// unixTime parses "seconds[.fraction]".
func unixTime(value string) (sec, nsec int64, ok bool) {
	s, frac, hasFrac := strings.Cut(value, ".")
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	if !hasFrac {
		return sec, 0, true
	}
	n, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return sec, int64(float64(n) * math.Pow(10, float64(9-len(frac)))), true
}
