package spec

import (
	"errors"
	"strings"
	"testing"

	"github.com/berth/berth/internal/errdefs"
)

// FuzzTmpfsOptions feeds arbitrary --tmpfs option strings (the part after
// "PATH:") through the merge the spec applies to Docker's defaults.
// Properties: no panic; a rejection is ErrInvalid and quotes the option;
// an accepted list has known options only, one per flag or data key, and
// every size a non-negative byte count that did not overflow; merging the
// result again changes nothing.
func FuzzTmpfsOptions(f *testing.F) {
	for _, s := range []string{"", "size=64m", "size=64m,mode=1777", "exec,size=10%", "ro,noexec,exec", "size=1g,size=2k",
		"uid=0,gid=0,nr_inodes=100", "bogus", "size=", "size=-1", "size=9223372036854775807g", "mode", "rshared,private", " size=1k , defaults"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		in := append([]string{"noexec", "nosuid", "nodev", "rprivate"}, strings.Split(s, ",")...)
		out, err := mergeTmpfsOptions(in)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "invalid tmpfs option") {
				t.Fatalf("mergeTmpfsOptions(%q): %v", s, err)
			}
			return
		}
		seen := map[string]bool{}
		for _, o := range out {
			key, isFlag := tmpfsFlagKey(o)
			if !isFlag {
				k, v, ok := strings.Cut(o, "=")
				if !ok || !isTmpfsDataKey(k) {
					t.Fatalf("mergeTmpfsOptions(%q): kept unknown option %q", s, o)
				}
				if k == "size" {
					if n, err := parseTmpfsSize(v); err != nil || n < 0 {
						t.Fatalf("mergeTmpfsOptions(%q): kept %q (%d, %v)", s, o, n, err)
					}
				}
				key = "data:" + k
			}
			if seen[key] {
				t.Fatalf("mergeTmpfsOptions(%q) = %q: %s twice", s, out, key)
			}
			seen[key] = true
		}
		again, err := mergeTmpfsOptions(out)
		if err != nil || strings.Join(again, ",") != strings.Join(out, ",") {
			t.Fatalf("mergeTmpfsOptions(%q) = %q; merged again: %q, %v", s, out, again, err)
		}
	})
}

// TestTmpfsSizeRange: negative and overflowing sizes are refused (found
// by FuzzTmpfsOptions); the kernel's forms are kept.
func TestTmpfsSizeRange(t *testing.T) {
	for _, o := range []string{"size=-1", "size=-5%", "size=9223372036854775807g", "size=9007199254740992k"} {
		if _, err := mergeTmpfsOptions([]string{o}); err == nil {
			t.Errorf("%q accepted", o)
		}
	}
	for _, o := range []string{"size=0", "size=64m", "size=50%", "size=8589934591g"} {
		if _, err := mergeTmpfsOptions([]string{o}); err != nil {
			t.Errorf("%q: %v", o, err)
		}
	}
}
