package progress

import (
	"bytes"
	"strings"
	"testing"
)

func TestBar(t *testing.T) {
	for _, tc := range []struct {
		cur, total int64
		want       string
	}{
		{0, 0, ""},
		{1500, 0, "   1.5kB"},
		{50, 100, "[" + strings.Repeat("=", 25) + ">" + strings.Repeat(" ", 25) + "]      50B/100B"},
		{100, 100, "[" + strings.Repeat("=", 50) + ">] " + "    100B/100B"},
	} {
		if got := Bar(tc.cur, tc.total); got != tc.want {
			t.Errorf("Bar(%d, %d) = %q, want %q", tc.cur, tc.total, got, tc.want)
		}
	}
}

// TestPlain: off a terminal, one line per status change, no bars and no
// escape sequences (what Docker prints to a pipe).
func TestPlain(t *testing.T) {
	var b bytes.Buffer
	w := New(&b, false)
	w.Status("abc", "Pulling fs layer")
	w.Progress("abc", "Downloading", 5, 10)
	w.Status("abc", "Pulling fs layer")
	w.Status("abc", "Pull complete")
	w.Println("Digest: %s", "sha256:x")
	want := "abc: Pulling fs layer\nabc: Pull complete\nDigest: sha256:x\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

// TestTerminal: each item keeps its line; an update moves the cursor up to
// it and back.
func TestTerminal(t *testing.T) {
	var b bytes.Buffer
	w := New(&b, true)
	w.Status("a", "Waiting")
	w.Status("b", "Waiting")
	w.Status("a", "Pull complete")
	want := "a: Waiting\nb: Waiting\n\x1b[2A\r\x1b[2Ka: Pull complete\r\x1b[2B"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
	var nilW *Writer
	nilW.Status("x", "y") // a nil Writer is silent
}
