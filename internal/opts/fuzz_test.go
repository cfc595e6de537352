package opts

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth/berth/internal/errdefs"
)

// mustInvalid fails unless err is ErrInvalid with a message of its own.
func mustInvalid(t *testing.T, what, in string, err error) {
	t.Helper()
	if !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("%s(%q): error is not ErrInvalid: %v", what, in, err)
	}
	if msg := err.Error(); msg == "" || msg == errdefs.ErrInvalid.Error() {
		t.Fatalf("%s(%q): error says nothing: %q", what, in, msg)
	}
}

// volumeSpec is the -v string of v, for the round trip.
func volumeSpec(v Volume) string {
	s := v.Destination
	if v.Source != "" {
		s = v.Source + ":" + s
	}
	if v.Mode != "" {
		if v.Source == "" {
			return ""
		}
		s += ":" + v.Mode
	}
	return s
}

// FuzzParseVolume feeds arbitrary -v and --tmpfs specs. Properties: no
// panic; rejections are ErrInvalid and quote the spec; an accepted volume
// has a clean absolute destination other than "/", a bind exactly when the
// source is an absolute (clean) path, a mode of known words, ReadOnly iff
// the mode says ro, and its spec re-parses to the same volume.
func FuzzParseVolume(f *testing.F) {
	for _, s := range []string{
		"/data", "vol:/data", "vol:/data:ro", "/host:/ctr", "/host:/ctr:rw,z", "/h/../x/:/c/./d/:ro,nocopy",
		"./rel:/x", "../up:/x", "vol:rel", "vol:/", "/x:ro", "a:b:c:d", ":", "::", "/a::ro", "vol:/x:bogus",
		"vol:/x:ro,", "C:\\x:/y", "/tmp:size=64m,mode=1777", "/run", "rel:opts", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		v, err := ParseVolume(spec)
		if err != nil {
			mustInvalid(t, "ParseVolume", spec, err)
		} else {
			if !filepath.IsAbs(v.Destination) || filepath.Clean(v.Destination) != v.Destination || v.Destination == "/" {
				t.Fatalf("ParseVolume(%q): destination %q", spec, v.Destination)
			}
			if v.Bind != filepath.IsAbs(v.Source) || (v.Bind && filepath.Clean(v.Source) != v.Source) {
				t.Fatalf("ParseVolume(%q): source %q bind %v", spec, v.Source, v.Bind)
			}
			if !v.Bind && strings.HasPrefix(v.Source, ".") {
				t.Fatalf("ParseVolume(%q): relative source %q accepted as a volume name", spec, v.Source)
			}
			if v.Mode != "" && !isMode(v.Mode) {
				t.Fatalf("ParseVolume(%q): mode %q", spec, v.Mode)
			}
			ro := false
			for _, m := range strings.Split(v.Mode, ",") {
				ro = ro || m == "ro"
			}
			if ro != v.ReadOnly {
				t.Fatalf("ParseVolume(%q): mode %q, ReadOnly %v", spec, v.Mode, v.ReadOnly)
			}
			if s := volumeSpec(v); s != "" {
				again, err := ParseVolume(s)
				if err != nil || again != v {
					t.Fatalf("ParseVolume(%q) = %+v; its spec %q re-parses to %+v, %v", spec, v, s, again, err)
				}
			}
		}
		p, o, err := ParseTmpfs(spec)
		if err != nil {
			mustInvalid(t, "ParseTmpfs", spec, err)
			return
		}
		if !filepath.IsAbs(p) || filepath.Clean(p) != p {
			t.Fatalf("ParseTmpfs(%q): path %q", spec, p)
		}
		p2, o2, err := ParseTmpfs(p + ":" + o)
		if err != nil || p2 != p || o2 != o {
			t.Fatalf("ParseTmpfs(%q) = %q, %q; re-parses to %q, %q, %v", spec, p, o, p2, o2, err)
		}
	})
}

// FuzzParseEnvFile feeds arbitrary --env-file contents. Properties: no
// panic; a rejection is ErrInvalid and names the file and line; every
// variable kept is KEY=VALUE with a non-empty key without blanks or line
// breaks; writing the result back out re-parses to the same list.
func FuzzParseEnvFile(f *testing.F) {
	for _, s := range []string{
		"A=1\nB=2\n", "# comment\n\nA=x y z\n  B=  lead\n", "\uFEFFA=bom\n", "A\nUNSET_VAR_FOR_FUZZ\n",
		"A=1\r\nB=2\r\n", "=novar\n", "A B=1\n", "A\t=1\n", "A==\n", "A=#notacomment\n", strings.Repeat("X", 70000) + "=1\n",
		"A=\x00\n", "\n\n\n#\n", "A=1",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	lookup := func(k string) (string, bool) {
		if k == "A" {
			return "from-env", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "env")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		vals, err := ParseEnvFile(path, lookup)
		if err != nil {
			mustInvalid(t, "ParseEnvFile", string(data), err)
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, kv := range vals {
			k, _, ok := strings.Cut(kv, "=")
			if !ok || k == "" || strings.ContainsAny(k, " \t\n") || strings.ContainsAny(kv, "\n") {
				t.Fatalf("ParseEnvFile(%q): bad variable %q", data, kv)
			}
		}
		// A comment first: a key that starts with a BOM is only one on line
		// 1. CRLF line ends: the scanner drops one \r at a line's end, so a
		// value ending in \r survives only that way.
		out := "# round trip\r\n" + strings.Join(vals, "\r\n") + "\r\n"
		if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
			t.Fatal(err)
		}
		again, err := ParseEnvFile(path, nil)
		if err != nil || strings.Join(again, "\n") != strings.Join(vals, "\n") {
			t.Fatalf("ParseEnvFile(%q) = %q; written back, re-parses to %q, %v", data, vals, again, err)
		}
	})
}

// FuzzRunFlags feeds the other scalar flag parsers (--restart, --memory,
// --cpus, --stop-signal): no panic, ErrInvalid rejections, and accepted
// values in range.
func FuzzRunFlags(f *testing.F) {
	for _, s := range []string{"", "no", "always", "on-failure:3", "on-failure:-1", "unless-stopped:1", "512m", "1g", "5m", "-1",
		"0.5", "1.000000001", "1e3", "-2", "99999999999999999999", "9223372036854775807", "1/3", "KILL", "sigterm", "9", "65", "0", "SIGRTMIN"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 64 {
			return // big.Rat's exponent parsing is not what is under test
		}
		if p, err := ParseRestart(s); err != nil {
			mustInvalid(t, "ParseRestart", s, err)
		} else if p.MaxRetries < 0 || (p.MaxRetries > 0 && p.Name != "on-failure") {
			t.Fatalf("ParseRestart(%q) = %+v", s, p)
		}
		if n, err := ParseMemory(s); err != nil {
			mustInvalid(t, "ParseMemory", s, err)
		} else if n != 0 && n < 6<<20 && n > 0 {
			t.Fatalf("ParseMemory(%q) = %d, below the minimum", s, n)
		}
		if n, err := ParseCPUs(s); err != nil {
			mustInvalid(t, "ParseCPUs", s, err)
		} else if n < 0 {
			t.Fatalf("ParseCPUs(%q) = %d", s, n)
		}
		if sig, err := ParseSignal(s); err != nil {
			mustInvalid(t, "ParseSignal", s, err)
		} else if sig <= 0 || sig > 64 {
			t.Fatalf("ParseSignal(%q) = %d", s, sig)
		}
	})
}

// TestFuzzFindings pins what the fuzz targets found.
func TestFuzzFindings(t *testing.T) {
	// "/." is "/" once cleaned: it must be refused like "/".
	for _, spec := range []string{"/.", "vol:/..", "/h:/x/..:ro"} {
		if _, err := ParseVolume(spec); err == nil || !strings.Contains(err.Error(), "destination can't be '/'") {
			t.Errorf("ParseVolume(%q): err = %v", spec, err)
		}
	}
	// A count of nano-CPUs beyond int64 wrapped to a negative quota.
	for _, s := range []string{"9223372036854775807", "1e30"} {
		if _, err := ParseCPUs(s); err == nil || !strings.Contains(err.Error(), "too large") {
			t.Errorf("ParseCPUs(%q): err = %v", s, err)
		}
	}
	if n, err := ParseCPUs("9223372036.854775807"); err != nil || n != 9223372036854775807 {
		t.Errorf("ParseCPUs at the limit: %d, %v", n, err)
	}
}
