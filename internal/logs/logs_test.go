package logs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func newLog(t *testing.T, o Options) (*Writer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "abc-json.log")
	w, err := NewWriter(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w, path
}

func readEntries(t *testing.T, path string) []Entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// fakeClock hands out distinct, increasing times one second apart.
func fakeClock(w *Writer, start time.Time) {
	var mu sync.Mutex
	next := start
	w.now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t := next
		next = next.Add(time.Second)
		return t
	}
}

func TestWriterFormat(t *testing.T) {
	w, path := newLog(t, Options{})
	w.now = func() time.Time { return time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.FixedZone("x", 3600)) }
	fmt.Fprint(w.Stdout(), "hello\nwor")
	fmt.Fprint(w.Stderr(), "oops <a>&\n")
	fmt.Fprint(w.Stdout(), "ld\ntail")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	want := `{"log":"hello\n","stream":"stdout","time":"2026-03-04T04:06:07.123456Z"}
{"log":"oops \u003ca\u003e\u0026\n","stream":"stderr","time":"2026-03-04T04:06:07.123456Z"}
{"log":"world\n","stream":"stdout","time":"2026-03-04T04:06:07.123456Z"}
{"log":"tail","stream":"stdout","time":"2026-03-04T04:06:07.123456Z"}
`
	if string(data) != want {
		t.Fatalf("log file:\n%s\nwant:\n%s", data, want)
	}
}

func TestWriterPartialLines(t *testing.T) {
	tests := []struct {
		desc  string
		input string
		want  []int  // entry lengths
		nl    []bool // entry ends with newline
	}{
		{"short line", "abc\n", []int{4}, []bool{true}},
		{"exactly 16K then newline", strings.Repeat("x", MaxLineSize) + "\n", []int{MaxLineSize, 1}, []bool{false, true}},
		{"40000 bytes", strings.Repeat("y", 40000) + "\n", []int{MaxLineSize, MaxLineSize, 40000 - 2*MaxLineSize + 1}, []bool{false, false, true}},
		{"long unterminated", strings.Repeat("z", MaxLineSize+5), []int{MaxLineSize, 5}, []bool{false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			w, path := newLog(t, Options{})
			fakeClock(w, time.Now())
			// Write in odd-sized pieces, as a pipe delivers them.
			in := []byte(tt.input)
			for len(in) > 0 {
				n := min(len(in), 3000)
				w.Stdout().Write(in[:n])
				in = in[n:]
			}
			w.Close()
			got := readEntries(t, path)
			if len(got) != len(tt.want) {
				t.Fatalf("%d entries, want %d", len(got), len(tt.want))
			}
			for i, e := range got {
				if len(e.Log) != tt.want[i] || strings.HasSuffix(e.Log, "\n") != tt.nl[i] {
					t.Fatalf("entry %d: len %d newline %v, want %d %v", i, len(e.Log), strings.HasSuffix(e.Log, "\n"), tt.want[i], tt.nl[i])
				}
				if !e.Time.Equal(got[0].Time) && len(tt.want) > 1 && i < len(got) {
					// all pieces of one line share the first piece's time
					if tt.nl[len(tt.nl)-1] || i < len(got)-1 {
						t.Fatalf("entry %d time %v differs from first piece %v", i, e.Time, got[0].Time)
					}
				}
			}
		})
	}
}

func TestConcurrentStreams(t *testing.T) {
	w, path := newLog(t, Options{MaxSize: 64 << 10, MaxFiles: 100})
	var wg sync.WaitGroup
	for _, s := range []struct {
		w    interface{ Write([]byte) (int, error) }
		name string
	}{{w.Stdout(), "out"}, {w.Stderr(), "err"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				fmt.Fprintf(s.w, "%s line %d\n", s.name, i)
			}
		}()
	}
	wg.Wait()
	w.Close()
	var out, errb bytes.Buffer
	if err := Read(context.Background(), path, ReadOptions{Tail: -1}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		buf  *bytes.Buffer
		name string
	}{{&out, "out"}, {&errb, "err"}} {
		lines := strings.Split(strings.TrimSuffix(c.buf.String(), "\n"), "\n")
		if len(lines) != 2000 {
			t.Fatalf("%s: %d lines, want 2000", c.name, len(lines))
		}
		for i, l := range lines {
			if l != fmt.Sprintf("%s line %d", c.name, i) {
				t.Fatalf("%s line %d = %q", c.name, i, l)
			}
		}
	}
}

func TestRotation(t *testing.T) {
	tests := []struct {
		desc      string
		opts      Options
		wantFiles []string
		absent    string
	}{
		{"three files", Options{MaxSize: 300, MaxFiles: 3}, []string{"", ".1", ".2"}, ".3"},
		{"one file truncates", Options{MaxSize: 300, MaxFiles: 1}, []string{""}, ".1"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			w, path := newLog(t, tt.opts)
			for i := range 100 {
				fmt.Fprintf(w.Stdout(), "line %03d\n", i)
			}
			w.Close()
			for _, suffix := range tt.wantFiles {
				st, err := os.Stat(path + suffix)
				if err != nil {
					t.Fatalf("missing %s: %v", suffix, err)
				}
				if st.Size() > tt.opts.MaxSize+100 {
					t.Fatalf("%s is %d bytes, max-size %d", suffix, st.Size(), tt.opts.MaxSize)
				}
			}
			if _, err := os.Stat(path + tt.absent); !os.IsNotExist(err) {
				t.Fatalf("%s should not exist", tt.absent)
			}
			var out bytes.Buffer
			if err := Read(context.Background(), path, ReadOptions{Tail: -1}, &out, &out); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if lines[len(lines)-1] != "line 099" {
				t.Fatalf("last line %q", lines[len(lines)-1])
			}
			for i := 1; i < len(lines); i++ {
				if lines[i] <= lines[i-1] {
					t.Fatalf("lines out of order: %q then %q", lines[i-1], lines[i])
				}
			}
		})
	}
}

// writeFixture writes n stdout lines "o<i>" and, every third, a stderr line
// "e<i>", with times base+i seconds, rotated into several files.
func writeFixture(t *testing.T, n int, base time.Time) string {
	t.Helper()
	w, path := newLog(t, Options{MaxSize: 500, MaxFiles: 50})
	i := 0
	w.now = func() time.Time { return base.Add(time.Duration(i) * time.Second) }
	for i = 0; i < n; i++ {
		fmt.Fprintf(w.Stdout(), "o%d\n", i)
		if i%3 == 0 {
			fmt.Fprintf(w.Stderr(), "e%d\n", i)
		}
	}
	w.Close()
	if _, err := os.Stat(path + ".2"); err != nil {
		t.Fatal("fixture should span several files")
	}
	return path
}

func TestRead(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	path := writeFixture(t, 60, base)
	tests := []struct {
		desc    string
		opts    ReadOptions
		wantOut string
		wantErr string
	}{
		{"tail 3", ReadOptions{Tail: 3}, "o58\no59\n", "e57\n"},
		{"tail 0", ReadOptions{Tail: 0}, "", ""},
		{"tail larger than log", ReadOptions{Tail: 1000}, "", ""},
		{"since", ReadOptions{Tail: -1, Since: base.Add(57 * time.Second)}, "o57\no58\no59\n", "e57\n"},
		{"until", ReadOptions{Tail: -1, Until: base.Add(1 * time.Second)}, "o0\no1\n", "e0\n"},
		{"since and until", ReadOptions{Tail: -1, Since: base.Add(30 * time.Second), Until: base.Add(31 * time.Second)}, "o30\no31\n", "e30\n"},
		{"tail then since", ReadOptions{Tail: 4, Since: base.Add(59 * time.Second)}, "o59\n", ""},
		{"timestamps", ReadOptions{Tail: 1, Timestamps: true}, "2026-01-01T00:00:59.000000000Z o59\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var out, errb bytes.Buffer
			if err := Read(context.Background(), path, tt.opts, &out, &errb); err != nil {
				t.Fatal(err)
			}
			if tt.desc == "tail larger than log" {
				if strings.Count(out.String(), "\n") != 60 || strings.Count(errb.String(), "\n") != 20 {
					t.Fatalf("got %d/%d lines, want 60/20", strings.Count(out.String(), "\n"), strings.Count(errb.String(), "\n"))
				}
				return
			}
			if out.String() != tt.wantOut || errb.String() != tt.wantErr {
				t.Fatalf("stdout %q stderr %q, want %q %q", out.String(), errb.String(), tt.wantOut, tt.wantErr)
			}
		})
	}
}

func TestReadMissingLog(t *testing.T) {
	var out bytes.Buffer
	if err := Read(context.Background(), filepath.Join(t.TempDir(), "none-json.log"), ReadOptions{Tail: -1}, &out, &out); err != nil || out.Len() != 0 {
		t.Fatalf("missing log: %q, %v", out.String(), err)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a polling reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestFollow(t *testing.T) {
	tests := []struct {
		desc string
		opts Options
		tail int
	}{
		{"across renames", Options{MaxSize: 400, MaxFiles: 5}, -1},
		{"across truncation", Options{MaxSize: 400, MaxFiles: 1}, 0},
		{"no rotation, tail 2", Options{}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			w, path := newLog(t, tt.opts)
			fmt.Fprintf(w.Stdout(), "before 1\nbefore 2\nbefore 3\n")
			done := make(chan struct{})
			var out syncBuffer
			errc := make(chan error, 1)
			go func() {
				errc <- Read(context.Background(), path, ReadOptions{Tail: tt.tail, Follow: true, Done: done, Poll: 5 * time.Millisecond}, &out, &out)
			}()
			time.Sleep(30 * time.Millisecond)
			var want []string
			switch tt.tail {
			case -1:
				want = []string{"before 1", "before 2", "before 3"}
			case 2:
				want = []string{"before 2", "before 3"}
			}
			for i := range 60 {
				fmt.Fprintf(w.Stdout(), "after %d\n", i)
				want = append(want, fmt.Sprintf("after %d", i))
				if i%10 == 0 {
					time.Sleep(10 * time.Millisecond) // let the follower see rotations happen
				}
			}
			fmt.Fprint(w.Stdout(), "partial at exit")
			w.Close()
			want = append(want, "partial at exit")
			close(done)
			select {
			case err := <-errc:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("follow did not stop after done")
			}
			got := out.String()
			if tt.opts.MaxFiles == 1 {
				// Truncation can drop lines a slow follower never saw, as
				// with Docker; what it printed must be in order and end right.
				if !strings.HasSuffix(got, "partial at exit") {
					t.Fatalf("follow output ends %q", got[max(0, len(got)-40):])
				}
				return
			}
			if got != strings.Join(want, "\n") {
				t.Fatalf("follow output:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
			}
		})
	}
}

func TestFollowStopsOnContext(t *testing.T) {
	_, path := newLog(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	err := Read(ctx, path, ReadOptions{Tail: -1, Follow: true, Done: make(chan struct{})}, &out, &out)
	if err != context.DeadlineExceeded {
		t.Fatalf("Read = %v, want deadline exceeded", err)
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 5, 6, 7, 8, 9, 500, time.FixedZone("CEST", 2*3600))
	tests := []struct {
		desc    string
		in      string
		want    time.Time
		wantErr bool
	}{
		{"empty", "", time.Time{}, false},
		{"relative minutes", "10m", time.Unix(now.Add(-10*time.Minute).Unix(), 0), false},
		{"relative compound", "1h30m", time.Unix(now.Add(-90*time.Minute).Unix(), 0), false},
		{"RFC3339 Z", "2026-01-02T03:04:05Z", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), false},
		{"RFC3339 offset", "2026-01-02T03:04:05+01:00", time.Date(2026, 1, 2, 2, 4, 5, 0, time.UTC), false},
		{"RFC3339Nano", "2026-01-02T03:04:05.25Z", time.Date(2026, 1, 2, 3, 4, 5, 250000000, time.UTC), false},
		{"local time", "2026-01-02T03:04:05", time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CEST", 2*3600)), false},
		{"local minutes", "2026-01-02T03:04", time.Date(2026, 1, 2, 3, 4, 0, 0, time.FixedZone("CEST", 2*3600)), false},
		{"local hour", "2026-01-02T03", time.Date(2026, 1, 2, 3, 0, 0, 0, time.FixedZone("CEST", 2*3600)), false},
		{"date only", "2026-01-02", time.Date(2026, 1, 2, 0, 0, 0, 0, time.FixedZone("CEST", 2*3600)), false},
		{"unix seconds", "1700000000", time.Unix(1700000000, 0), false},
		{"unix with fraction", "1700000000.5", time.Unix(1700000000, 500000000), false},
		{"zero is a unix time", "0", time.Unix(0, 0), false},
		{"garbage", "yesterday", time.Time{}, true},
		{"bad date", "2026-13-45", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got, err := ParseTime(tt.in, now)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseTime(%q) error = %v", tt.in, err)
			}
			if !got.Equal(tt.want) {
				t.Fatalf("ParseTime(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
	if _, err := ParseTime("yesterday", now); err == nil || err.Error() != `failed to parse value as time or duration: "yesterday"` {
		t.Fatalf("error text %v", err)
	}
}

func TestParseTail(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{{"all", -1}, {"", -1}, {"10", 10}, {"0", 0}, {"-3", -1}, {"x", -1}}
	for _, tt := range tests {
		if got := ParseTail(tt.in); got != tt.want {
			t.Errorf("ParseTail(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestTimeFieldIsRFC3339NanoUTC(t *testing.T) {
	w, path := newLog(t, Options{})
	fmt.Fprintln(w.Stdout(), "x")
	w.Close()
	data, _ := os.ReadFile(path)
	re := regexp.MustCompile(`^\{"log":"x\\n","stream":"stdout","time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"\}\n$`)
	if !re.Match(data) {
		t.Fatalf("entry %q is not Docker's shape", data)
	}
}
