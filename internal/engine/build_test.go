package engine

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// tree lists every path under dir, relative, sorted.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err == nil && p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func TestScrubStubs(t *testing.T) {
	cases := []struct {
		desc    string
		before  []string // stub paths the image had (in the merged rootfs before the run)
		upper   []string // upper dir after the run: "d:" dirs, "f:" empty files, "F:" files with data
		want    []string
		opaques []string
	}{
		{"runtime mount points of an image without them go",
			nil, []string{"d:etc", "f:etc/hosts", "f:etc/hostname", "f:etc/resolv.conf", "d:proc", "d:sys", "d:dev"}, nil, nil},
		{"a copied-up /etc holding only stubs goes",
			[]string{"/etc"}, []string{"d:etc", "f:etc/hosts"}, nil, nil},
		{"/etc with the step's own files stays",
			[]string{"/etc"}, []string{"d:etc", "f:etc/hosts", "F:etc/app.conf"}, []string{"etc", "etc/app.conf"}, nil},
		{"an image's own /etc/hosts is the step's change",
			[]string{"/etc", "/etc/hosts"}, []string{"d:etc", "f:etc/hosts"}, []string{"etc", "etc/hosts"}, nil},
		{"a non-empty file at a stub path is kept",
			nil, []string{"d:etc", "F:etc/hosts"}, []string{"etc", "etc/hosts"}, nil},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			rootfs, upper := t.TempDir(), t.TempDir()
			for _, p := range c.before {
				full := filepath.Join(rootfs, p)
				if p == "/etc" {
					os.MkdirAll(full, 0o755)
				} else {
					os.MkdirAll(filepath.Dir(full), 0o755)
					os.WriteFile(full, nil, 0o644)
				}
			}
			pre := statStubs(rootfs)
			for _, u := range c.upper {
				kind, p, _ := strings.Cut(u, ":")
				full := filepath.Join(upper, p)
				switch kind {
				case "d":
					os.MkdirAll(full, 0o755)
				case "f":
					os.WriteFile(full, nil, 0o644)
				case "F":
					os.WriteFile(full, []byte("data"), 0o644)
				}
			}
			scrubStubs(upper, pre)
			if got := tree(t, upper); strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("upper has %v, want %v", got, c.want)
			}
		})
	}
}

func TestDiscardVolumes(t *testing.T) {
	upper := t.TempDir()
	for _, p := range []string{"data/after.txt", "new/x", "keep.txt"} {
		os.MkdirAll(filepath.Dir(filepath.Join(upper, p)), 0o755)
		os.WriteFile(filepath.Join(upper, p), []byte("x"), 0o644)
	}
	// A step that turned a volume's parent into a symlink out of the
	// rootfs must not make berth delete host files.
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "precious"), []byte("x"), 0o644)
	os.Symlink(outside, filepath.Join(upper, "esc"))
	discardVolumes(upper, map[string]bool{"/data": true, "/new": false, "/esc/precious": true, "/": true})
	got := strings.Join(tree(t, upper), ",")
	if got != "esc,keep.txt,new" {
		t.Errorf("upper after discard: %s", got)
	}
	if _, err := os.Stat(filepath.Join(outside, "precious")); err != nil {
		t.Errorf("a file outside the upper dir was removed: %v", err)
	}
}
