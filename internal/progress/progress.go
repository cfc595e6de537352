package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	units "github.com/docker/go-units"
	"github.com/moby/term"
)

// Writer renders progress to one output. The zero value and a nil *Writer
// discard everything.
type Writer struct {
	mu       sync.Mutex
	out      io.Writer
	terminal bool
	ids      []string             // items in order of first appearance (terminal mode)
	last     map[string]string    // the line currently shown per item
	updated  map[string]time.Time // last bar redraw per item (throttling)
}

// New returns a Writer on out. terminal selects in-place bars; otherwise
// only status changes are printed, one line each. out nil discards.
func New(out io.Writer, terminal bool) *Writer {
	if out == nil {
		out = io.Discard
	}
	return &Writer{out: out, terminal: terminal, last: map[string]string{}, updated: map[string]time.Time{}}
}

// Println prints a line that belongs to no item ("Digest: sha256:…").
func (w *Writer) Println(format string, a ...any) {
	if w == nil || w.out == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	fmt.Fprintf(w.out, format+"\n", a...)
	// Lines printed after the items end the block being redrawn.
	w.ids = nil
	w.last = map[string]string{}
}

// Status sets item id's status ("Waiting", "Pull complete").
func (w *Writer) Status(id, status string) {
	if w == nil || w.out == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.show(id, id+": "+status, true)
}

// Progress sets item id's status with a bar for current of total bytes
// (total <= 0: unknown). When not on a terminal nothing is printed: Docker
// prints no progress lines to pipes, only status changes.
func (w *Writer) Progress(id, action string, current, total int64) {
	if w == nil || w.out == nil || !w.terminal {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	done := total > 0 && current >= total
	if t, ok := w.updated[id]; ok && now.Sub(t) < 100*time.Millisecond && !done {
		return
	}
	w.updated[id] = now
	w.show(id, id+": "+action+" "+Bar(current, total), false)
}

// show puts line on item id's row. Caller holds w.mu.
func (w *Writer) show(id, line string, status bool) {
	if !w.terminal {
		if w.last[id] != line {
			fmt.Fprintln(w.out, line)
			w.last[id] = line
		}
		return
	}
	idx := -1
	for i, x := range w.ids {
		if x == id {
			idx = i
			break
		}
	}
	if idx < 0 {
		w.ids = append(w.ids, id)
		w.last[id] = line
		fmt.Fprintf(w.out, "%s\n", line)
		return
	}
	if w.last[id] == line {
		return
	}
	w.last[id] = line
	up := len(w.ids) - idx
	// Cursor up to the item's row, clear it, write, and back down: what
	// Docker's jsonmessage does.
	fmt.Fprintf(w.out, "\x1b[%dA\r\x1b[2K%s\r\x1b[%dB", up, line, up)
}

// Bar is Docker's progress text: "[=====>      ]  12.3MB/45.6MB".
func Bar(current, total int64) string {
	if current <= 0 && total <= 0 {
		return ""
	}
	if total <= 0 {
		return fmt.Sprintf("%8v", units.HumanSize(float64(current)))
	}
	pct := int(float64(current)/float64(total)*100) / 2
	if pct > 50 {
		pct = 50
	}
	bar := "[" + strings.Repeat("=", pct) + ">" + strings.Repeat(" ", 50-pct) + "] "
	if current > total {
		return bar + fmt.Sprintf("%8v", units.HumanSize(float64(current)))
	}
	return bar + fmt.Sprintf("%8v/%v", units.HumanSize(float64(current)), units.HumanSize(float64(total)))
}

// Reader wraps r so that every read reports progress of id under action.
func (w *Writer) Reader(r io.Reader, id, action string, offset, total int64) io.Reader {
	if w == nil || !w.terminal {
		return r
	}
	return &reader{r: r, w: w, id: id, action: action, n: offset, total: total}
}

type reader struct {
	r        io.Reader
	w        *Writer
	id       string
	action   string
	n, total int64
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n += int64(n)
	r.w.Progress(r.id, r.action, r.n, r.total)
	return n, err
}

// NewAuto is New with terminal mode when out is a terminal.
func NewAuto(out io.Writer) *Writer {
	f, ok := out.(interface{ Fd() uintptr })
	return New(out, ok && term.IsTerminal(f.Fd()))
}
