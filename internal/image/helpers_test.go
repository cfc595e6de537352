package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"testing"
	"time"

	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/root"
	"github.com/berth/berth/internal/snapshot"
)

type testEnv struct {
	root  root.Root
	cs    *content.Store
	snaps *snapshot.Store
	is    *Store
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	return newEnvIn(t, t.TempDir())
}

func newEnvIn(t testing.TB, dir string) *testEnv {
	t.Helper()
	r := root.New(dir)
	if err := r.Ensure(); err != nil {
		t.Fatal(err)
	}
	return openEnv(t, r)
}

func openEnv(t testing.TB, r root.Root) *testEnv {
	t.Helper()
	cs, err := content.Open(r.Content())
	if err != nil {
		t.Fatal(err)
	}
	ss, err := snapshot.Open(r.Snapshots())
	if err != nil {
		t.Fatal(err)
	}
	is, err := Open(r, cs, ss)
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{root: r, cs: cs, snaps: ss, is: is}
}

type tarEntry struct {
	name     string
	typ      byte
	body     []byte
	linkname string
	mode     int64
}

func makeTar(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.linkname, Mode: e.mode, ModTime: time.Unix(1700000000, 0)}
		if h.Mode == 0 {
			h.Mode = 0o644
			if e.typ == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write(e.body)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	// Pad to a 10 KiB record, as tar(1) does: the padding is part of the
	// stream and so of the DiffID.
	if pad := 10240 - buf.Len()%10240; pad != 10240 {
		buf.Write(make([]byte, pad))
	}
	return buf.Bytes()
}

// busyboxTar is a tiny real root filesystem: the host's static busybox and
// a few applet symlinks.
func busyboxTar(t *testing.T) []byte {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skipf("busybox-static not installed: %v", err)
	}
	entries := []tarEntry{
		{name: "bin/", typ: tar.TypeDir},
		{name: "bin/busybox", typ: tar.TypeReg, body: bb, mode: 0o755},
		{name: "etc/", typ: tar.TypeDir},
		{name: "etc/passwd", typ: tar.TypeReg, body: []byte("root:x:0:0:root:/root:/bin/sh\n")},
		{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
	}
	for _, applet := range []string{"sh", "ls", "cat", "echo", "true"} {
		entries = append(entries, tarEntry{name: "bin/" + applet, typ: tar.TypeSymlink, linkname: "busybox"})
	}
	return makeTar(t, entries)
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// smallTar is a distinct one-file layer.
func smallTar(t *testing.T, name, body string) []byte {
	return makeTar(t, []tarEntry{{name: name, typ: tar.TypeReg, body: []byte(body)}})
}

func (e *testEnv) importTar(t *testing.T, data []byte, ref string) *Image {
	t.Helper()
	img, err := e.is.Import(context.Background(), bytes.NewReader(data), ImportOptions{Ref: ref})
	if err != nil {
		t.Fatalf("import %s: %v", ref, err)
	}
	return img
}

func (e *testEnv) mustCheck(t *testing.T) {
	t.Helper()
	problems, err := e.is.Check(false)
	if err != nil || len(problems) > 0 {
		t.Fatalf("Check: %v %q", err, problems)
	}
}
