package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

type tarEntry struct {
	hdr  *tar.Header
	body string
}

func readTar(t testing.TB, b []byte) []tarEntry {
	t.Helper()
	var out []tarEntry
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		out = append(out, tarEntry{h, string(body)})
	}
}

func names(es []tarEntry) []string {
	var n []string
	for _, e := range es {
		n = append(n, e.hdr.Name)
	}
	return n
}

func tarBytes(t testing.TB, dir string, opts TarOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Tar(context.Background(), dir, &buf, opts); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sample is a tree with every kind of entry Tar handles.
func sample(t *testing.T) []byte {
	return mkTar(t,
		ent{name: "b/", typ: tar.TypeDir, mode: 0o750, uid: 1, gid: 2},
		ent{name: "b/z", body: "zz", mode: 0o4755, xattrs: map[string]string{"user.a": "1", "trusted.b": "2"}},
		ent{name: "b/a", typ: tar.TypeLink, link: "b/z"},
		ent{name: "a-long-" + strings.Repeat("n", 120), body: "long name"},
		ent{name: "c", typ: tar.TypeSymlink, link: "/b/z"},
		ent{name: "dev/", typ: tar.TypeDir},
		ent{name: "dev/tty", typ: tar.TypeChar, major: 5, minor: 0, mode: 0o666},
		ent{name: "dev/sda", typ: tar.TypeBlock, major: 8, minor: 0, mode: 0o660, gid: 6},
		ent{name: "fifo", typ: tar.TypeFifo, mode: 0o600},
		ent{name: "big-uid", body: "u", uid: 1 << 22},
	)
}

func TestTarRoundTrip(t *testing.T) {
	requireRoot(t)
	src := t.TempDir()
	if _, err := Apply(context.Background(), src, bytes.NewReader(sample(t)), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	first := tarBytes(t, src, TarOptions{})
	dst := t.TempDir()
	if _, err := Apply(context.Background(), dst, bytes.NewReader(first), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	second := tarBytes(t, dst, TarOptions{})
	if !bytes.Equal(first, second) {
		t.Fatalf("tar of the unpacked tar differs:\n%v\n%v", names(readTar(t, first)), names(readTar(t, second)))
	}
	es := readTar(t, first)
	got := names(es)
	want := []string{"a-long-" + strings.Repeat("n", 120), "b/", "b/a", "b/z", "big-uid", "c", "dev/", "dev/sda", "dev/tty", "fifo"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("entries %v, want %v", got, want)
	}
	byName := map[string]*tar.Header{}
	for _, e := range es {
		byName[e.hdr.Name] = e.hdr
		if e.hdr.Uname != "" || e.hdr.Gname != "" || !e.hdr.AccessTime.IsZero() {
			t.Errorf("%s: names or atime leaked: %+v", e.hdr.Name, e.hdr)
		}
	}
	tests := []struct {
		desc  string
		name  string
		check func(h *tar.Header) bool
	}{
		{"hardlink by inode, first in order is the file", "b/a", func(h *tar.Header) bool { return h.Typeflag == tar.TypeReg }},
		{"second path links to the first", "b/z", func(h *tar.Header) bool { return h.Typeflag == tar.TypeLink && h.Linkname == "b/a" }},
		{"setuid mode kept", "b/a", func(h *tar.Header) bool { return h.Mode == 0o4755 }},
		{"xattrs kept", "b/a", func(h *tar.Header) bool {
			return h.PAXRecords["SCHILY.xattr.user.a"] == "1" && h.PAXRecords["SCHILY.xattr.trusted.b"] == "2"
		}},
		{"dir owner", "b/", func(h *tar.Header) bool { return h.Uid == 1 && h.Gid == 2 && h.Mode == 0o750 }},
		{"symlink", "c", func(h *tar.Header) bool { return h.Typeflag == tar.TypeSymlink && h.Linkname == "/b/z" }},
		{"char device", "dev/tty", func(h *tar.Header) bool { return h.Typeflag == tar.TypeChar && h.Devmajor == 5 }},
		{"block device", "dev/sda", func(h *tar.Header) bool { return h.Typeflag == tar.TypeBlock && h.Devmajor == 8 && h.Gid == 6 }},
		{"fifo", "fifo", func(h *tar.Header) bool { return h.Typeflag == tar.TypeFifo }},
		{"plain entries stay USTAR", "c", func(h *tar.Header) bool { return h.Format == tar.FormatUSTAR }},
		{"big uid needs PAX", "big-uid", func(h *tar.Header) bool { return h.Uid == 1<<22 && h.Format&tar.FormatPAX != 0 }},
		{"mtime", "fifo", func(h *tar.Header) bool { return h.ModTime.Equal(epoch) }},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			h := byName[tt.name]
			if h == nil || !tt.check(h) {
				t.Fatalf("%s: %+v", tt.name, h)
			}
		})
	}
}

func TestTarOptions(t *testing.T) {
	requireRoot(t)
	src := t.TempDir()
	if _, err := Apply(context.Background(), src, bytes.NewReader(sample(t)), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	clamp := time.Unix(1000, 0)
	tests := []struct {
		desc  string
		opts  TarOptions
		names []string
		check func(t *testing.T, es []tarEntry)
	}{
		{
			desc:  "include one file",
			opts:  TarOptions{Include: []string{"b/z"}},
			names: []string{"b/z"},
		},
		{
			desc:  "include a directory and a top-level file",
			opts:  TarOptions{Include: []string{"/dev", "fifo"}},
			names: []string{"dev/", "dev/sda", "dev/tty", "fifo"},
		},
		{
			desc:  "hardlink whose first path is excluded becomes a file",
			opts:  TarOptions{Include: []string{"b/z"}},
			names: []string{"b/z"},
			check: func(t *testing.T, es []tarEntry) {
				if es[0].hdr.Typeflag != tar.TypeReg || es[0].body != "zz" {
					t.Fatalf("%+v", es[0].hdr)
				}
			},
		},
		{
			desc: "SourceDateEpoch clamps mtimes",
			opts: TarOptions{SourceDateEpoch: &clamp, Include: []string{"fifo", "c"}},
			check: func(t *testing.T, es []tarEntry) {
				for _, e := range es {
					if !e.hdr.ModTime.Equal(clamp) {
						t.Errorf("%s mtime %v", e.hdr.Name, e.hdr.ModTime)
					}
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			es := readTar(t, tarBytes(t, src, tt.opts))
			if tt.names != nil && strings.Join(names(es), ",") != strings.Join(tt.names, ",") {
				t.Fatalf("entries %v, want %v", names(es), tt.names)
			}
			if tt.check != nil {
				tt.check(t, es)
			}
		})
	}
}

func TestTarOverlayUpper(t *testing.T) {
	requireRoot(t)
	upper := t.TempDir()
	layer := mkTar(t,
		ent{name: "etc/", typ: tar.TypeDir},
		ent{name: "etc/.wh.passwd", uid: 0},
		ent{name: "opq/", typ: tar.TypeDir, mode: 0o711},
		ent{name: "opq/.wh..wh..opq"},
		ent{name: "opq/new", body: "n"},
	)
	if _, err := Apply(context.Background(), upper, bytes.NewReader(layer), ApplyOptions{Whiteouts: WhiteoutOverlay}); err != nil {
		t.Fatal(err)
	}
	es := readTar(t, tarBytes(t, upper, TarOptions{Overlay: true}))
	want := []string{"etc/", "etc/.wh.passwd", "opq/", "opq/.wh..wh..opq", "opq/new"}
	if strings.Join(names(es), ",") != strings.Join(want, ",") {
		t.Fatalf("entries %v, want %v", names(es), want)
	}
	for _, e := range es {
		if _, ok := e.hdr.PAXRecords["SCHILY.xattr."+overlayOpaque]; ok {
			t.Errorf("%s carries the overlay xattr", e.hdr.Name)
		}
		if strings.Contains(e.hdr.Name, ".wh.") && e.hdr.Typeflag != tar.TypeReg {
			t.Errorf("%s should be a plain file", e.hdr.Name)
		}
	}
	// Without Overlay the device is a device and the marker is not emitted.
	plain := names(readTar(t, tarBytes(t, upper, TarOptions{})))
	sort.Strings(plain)
	if strings.Join(plain, ",") != "etc/,etc/passwd,opq/,opq/new" {
		t.Fatalf("plain tar of upper: %v", plain)
	}
}

func TestTarPaddingOnShrink(t *testing.T) {
	// copyContent is what makes a shrinking file safe; exercise it directly.
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, []byte("abc"), 0o644)
	fd, err := unix.Open(p, unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "f", Typeflag: tar.TypeReg, Size: 10, Mode: 0o644})
	tt := &tarrer{tw: tw, buf: make([]byte, 4)}
	if err := tt.copyContent(fd, 10, "f"); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	es := readTar(t, buf.Bytes())
	if es[0].body != "abc\x00\x00\x00\x00\x00\x00\x00" {
		t.Fatalf("body %q", es[0].body)
	}
}
