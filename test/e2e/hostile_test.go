package e2e

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostileEntry is one tar member of a crafted archive.
type hostileEntry struct {
	name, linkname string
	typ            byte
	body           string
}

func hostileTar(t *testing.T, entries []hostileEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, en := range entries {
		h := &tar.Header{Name: en.name, Linkname: en.linkname, Typeflag: en.typ, Mode: 0o644, Size: int64(len(en.body))}
		if en.typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if en.typ == tar.TypeChar {
			h.Devmajor, h.Devminor = 1, 3
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if en.body != "" {
			tw.Write([]byte(en.body))
		}
	}
	tw.Close()
	return buf.Bytes()
}

// TestImportHostileArchives imports archives that try to write outside the
// layer; nothing may appear outside the store, whatever berth answers, and a
// refused import leaves no image behind.
func TestImportHostileArchives(t *testing.T) {
	e := newEnv(t)
	// A victim directory beside the store: escapes aim at it by absolute path
	// and by climbing out of the layer.
	victim := t.TempDir()
	cases := []struct {
		desc    string
		entries []hostileEntry
	}{
		{"dot-dot path", []hostileEntry{{name: "../../../../../../" + victim[1:] + "/dotdot", typ: tar.TypeReg, body: "x"}}},
		{"absolute path", []hostileEntry{{name: victim + "/absolute", typ: tar.TypeReg, body: "x"}}},
		{"symlink then file through it", []hostileEntry{
			{name: "escape", linkname: victim, typ: tar.TypeSymlink},
			{name: "escape/through-symlink", typ: tar.TypeReg, body: "x"},
		}},
		{"relative symlink climbing out", []hostileEntry{
			{name: "up", linkname: "../../../../../../../../" + victim[1:], typ: tar.TypeSymlink},
			{name: "up/through-relative", typ: tar.TypeReg, body: "x"},
		}},
		{"hardlink to a host file", []hostileEntry{{name: "passwd-link", linkname: "/etc/passwd", typ: tar.TypeLink}}},
		{"hardlink through symlink", []hostileEntry{
			{name: "hostetc", linkname: "/etc", typ: tar.TypeSymlink},
			{name: "shadow", linkname: "hostetc/shadow", typ: tar.TypeLink},
		}},
		{"whiteout aimed outside", []hostileEntry{{name: "../../../../" + victim[1:] + "/.wh.keep", typ: tar.TypeReg}}},
		{"device node", []hostileEntry{{name: "dev/null-copy", typ: tar.TypeChar}}},
		{"truncated archive", nil},
	}
	if err := os.WriteFile(filepath.Join(victim, "keep"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			e := e.For(t)
			data := hostileTar(t, tc.entries)
			if tc.entries == nil {
				full := hostileTar(t, []hostileEntry{{name: "big", typ: tar.TypeReg, body: strings.Repeat("y", 4096)}})
				data = full[:700]
			}
			ref := e.Name("hostile") + ":" + string(rune('a'+i))
			r := e.RunStdin(string(data), "import", "-", ref)
			after, err := os.ReadDir(victim)
			if err != nil {
				t.Fatal(err)
			}
			if len(after) != 1 || after[0].Name() != "keep" {
				var names []string
				for _, a := range after {
					names = append(names, a.Name())
				}
				t.Fatalf("import wrote outside the store: victim dir now holds %v\n%s", names, r)
			}
			if b, _ := os.ReadFile(filepath.Join(victim, "keep")); string(b) != "keep" {
				t.Fatalf("victim file changed")
			}
			if r.Code != 0 {
				if !strings.Contains(r.Stderr, "Error") {
					t.Errorf("refused import should say why:\n%s", r)
				}
				if out := e.MustRun("images", "-q", ref).Stdout; strings.TrimSpace(out) != "" {
					t.Errorf("refused import left image %q", out)
				}
				return
			}
			// Accepted: the layer must hold the entries inside the container only.
			id := strings.TrimSpace(e.MustRun("create", ref, "x").Stdout)
			e.MustRun("rm", id)
		})
	}
	if out := e.MustRun("system", "check").Stdout; !strings.Contains(out, "ok") {
		t.Errorf("store inconsistent after hostile imports:\n%s", out)
	}
}
