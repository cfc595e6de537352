package buildcontext

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tree describes files to create: "path": "content", "dir/": "" for a
// directory, "@link": "target" for a symlink (key without the @).
type tree map[string]string

var oldTime = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

func mkTree(t testing.TB, root string, tr tree) {
	t.Helper()
	keys := make([]string, 0, len(tr))
	for k := range tr {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := tr[k]
		switch {
		case strings.HasPrefix(k, "@"):
			p := filepath.Join(root, k[1:])
			must(t, os.MkdirAll(filepath.Dir(p), 0o755))
			must(t, os.Symlink(v, p))
		case strings.HasSuffix(k, "/"):
			must(t, os.MkdirAll(filepath.Join(root, k), 0o755))
		default:
			p := filepath.Join(root, k)
			must(t, os.MkdirAll(filepath.Dir(p), 0o755))
			must(t, os.WriteFile(p, []byte(v), 0o644))
			must(t, os.Chmod(p, 0o644))
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// ctxDir makes a context directory with tr and loads it.
func ctxDir(t testing.TB, tr tree) (*Context, string) {
	t.Helper()
	root := t.TempDir()
	mkTree(t, root, tr)
	c, _, err := Load(context.Background(), LoadOptions{Path: root, Dockerfile: "-", Stdin: strings.NewReader("FROM scratch\n")})
	must(t, err)
	t.Cleanup(func() { c.Close() })
	return c, root
}

// got describes one entry of a tree for comparisons: "type mode uid:gid content-or-target".
func describeTree(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(root, p)
		if r == "." {
			return nil
		}
		st := fi.Sys().(*syscall.Stat_t)
		own := itoa(int(st.Uid)) + ":" + itoa(int(st.Gid))
		mode := "0" + strconv.FormatUint(uint64(st.Mode&0o7777), 8)
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out[r] = "l " + own + " " + l
		case fi.IsDir():
			out[r+"/"] = "d " + mode + " " + own
		default:
			b, _ := os.ReadFile(p)
			out[r] = "f " + mode + " " + own + " " + string(b)
		}
		return nil
	})
	must(t, err)
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }

func gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func compressCmd(t testing.TB, name string, b []byte) []byte {
	t.Helper()
	cmd := exec.Command(name, "-c")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("%s: %v", name, err)
	}
	return out
}

type tent struct {
	name, body, link string
	typ              byte
	mode             int64
	uid, gid         int
}

func mkTar(t testing.TB, ents ...tent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode, Uid: e.uid, Gid: e.gid, ModTime: oldTime}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		must(t, tw.WriteHeader(h))
		if h.Size > 0 {
			tw.Write([]byte(e.body))
		}
	}
	must(t, tw.Close())
	return buf.Bytes()
}
