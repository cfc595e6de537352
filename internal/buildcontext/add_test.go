package buildcontext

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAddArchive: ADD extracts local tars in every compression, keeping the
// tar's owners and never letting an entry out of dest; COPY does not.
func TestAddArchive(t *testing.T) {
	plain := mkTar(t,
		tent{name: "./", typ: '5'},
		tent{name: "top/", typ: '5', mode: 0o750, uid: 7, gid: 8},
		tent{name: "top/f", body: "content", uid: 7, gid: 8, mode: 0o640},
		tent{name: "top/hl", typ: '1', link: "top/f"},
		tent{name: "top/sl", typ: '2', link: "/etc/passwd"},
	)
	for name, b := range map[string][]byte{
		"plain": plain, "gzip": gz(t, plain), "bzip2": compressCmd(t, "bzip2", plain), "xz": compressCmd(t, "xz", plain),
	} {
		t.Run(name, func(t *testing.T) {
			c, root := ctxDir(t, tree{})
			must(t, os.WriteFile(filepath.Join(root, "a.tar"), b, 0o644))
			dst := image(t)
			copyInto(t, c.Source(), dst, CopyOptions{Sources: []string{"a.tar"}, Dest: "/x/y", Add: true})
			got := describeTree(t, dst)
			for k, v := range map[string]string{
				"x/y/":       "d 0755 0:0",
				"x/y/top/":   "d 0750 7:8",
				"x/y/top/f":  "f 0640 7:8 content",
				"x/y/top/hl": "f 0640 7:8 content",
				"x/y/top/sl": "l 0:0 /etc/passwd",
			} {
				if got[k] != v {
					t.Errorf("%s: got %q want %q", k, got[k], v)
				}
			}
			// COPY never extracts.
			dst2 := image(t)
			copyInto(t, c.Source(), dst2, CopyOptions{Sources: []string{"a.tar"}, Dest: "/x/"})
			if b2, _ := os.ReadFile(filepath.Join(dst2, "x/a.tar")); !bytes.Equal(b2, b) {
				t.Error("COPY changed the archive")
			}
		})
	}
	// An entry climbing out of dest is refused, as Docker's breakout check.
	for _, evil := range [][]byte{
		mkTar(t, tent{name: "ok", body: "1"}, tent{name: "../../../escape", body: "x"}),
		mkTar(t, tent{name: "ok", body: "1"}, tent{name: "hl", typ: '1', link: "../../etc/passwd"}),
	} {
		c, root := ctxDir(t, tree{})
		must(t, os.WriteFile(filepath.Join(root, "evil.tar"), evil, 0o644))
		p, err := plan(t, c.Source(), CopyOptions{Sources: []string{"evil.tar"}, Dest: "/x", Add: true})
		must(t, err)
		dst := image(t)
		if err := p.Apply(dst); err == nil || !strings.Contains(err.Error(), "is outside of") {
			t.Errorf("breakout: %v", err)
		}
		if _, err := os.Lstat(filepath.Join(dst, "escape")); err == nil {
			t.Error("entry escaped dest")
		}
	}
	// Not a tar: ADD copies it like COPY.
	c, root := ctxDir(t, tree{"fake.tar.gz": "not a tar"})
	_ = root
	dst := image(t)
	copyInto(t, c.Source(), dst, CopyOptions{Sources: []string{"fake.tar.gz"}, Dest: "/", Add: true})
	if got := describeTree(t, dst)["fake.tar.gz"]; got != "f 0644 0:0 not a tar" {
		t.Errorf("non-tar ADD: %q", got)
	}
}

func TestAddURL(t *testing.T) {
	body := []byte("remote content\n")
	tarBody := mkTar(t, tent{name: "inside", body: "x"})
	lastMod := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/files/app.txt":
			w.Header().Set("Last-Modified", lastMod.Format(http.TimeFormat))
			w.Write(body)
		case "/files/t.tar":
			w.Write(tarBody)
		case "/dir/":
			w.Header().Set("Content-Disposition", `attachment; filename="named.bin"`)
			w.Write(body)
		case "/anon/":
			w.Write(body)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	sum := fmt.Sprintf("sha256:%x", sha256.Sum256(body))
	c, _ := ctxDir(t, tree{})

	dst := image(t)
	copyInto(t, c.Source(), dst, CopyOptions{Sources: []string{srv.URL + "/files/app.txt"}, Dest: "/dl/", Add: true, Checksum: sum})
	if got := describeTree(t, dst)["dl/app.txt"]; got != "f 0600 0:0 remote content\n" {
		t.Errorf("download: %q", got)
	}
	fi, err := os.Stat(filepath.Join(dst, "dl/app.txt"))
	must(t, err)
	if !fi.ModTime().Equal(lastMod) {
		t.Errorf("mtime %v, want Last-Modified %v", fi.ModTime(), lastMod)
	}
	// Named by dest; a URL tar is not extracted; Content-Disposition names.
	copyInto(t, c.Source(), dst, CopyOptions{Sources: []string{srv.URL + "/files/t.tar"}, Dest: "/t.tar", Add: true})
	if b, _ := os.ReadFile(filepath.Join(dst, "t.tar")); !bytes.Equal(b, tarBody) {
		t.Error("URL tar extracted or changed")
	}
	copyInto(t, c.Source(), dst, CopyOptions{Sources: []string{srv.URL + "/dir/"}, Dest: "/cd/", Add: true, Chown: "app"})
	if got := describeTree(t, dst)["cd/named.bin"]; got != "f 0600 1000:1000 remote content\n" {
		t.Errorf("content-disposition: %q", got)
	}
	copyInto(t, c.Source(), dst, CopyOptions{Sources: []string{srv.URL + "/anon/"}, Dest: "/anon", Add: true})
	if got := describeTree(t, dst)["anon"]; got != "f 0600 0:0 remote content\n" {
		t.Errorf("unnamed: %q", got)
	}

	tmp := t.TempDir()
	for _, tc := range []struct {
		o    CopyOptions
		want string
	}{
		{CopyOptions{Sources: []string{srv.URL + "/files/app.txt"}, Dest: "/x", Add: true, Checksum: "sha256:" + strings.Repeat("0", 64)}, "checksum mismatch for " + srv.URL + "/files/app.txt: expected sha256:000"},
		{CopyOptions{Sources: []string{srv.URL + "/files/app.txt"}, Dest: "/x", Add: true, Checksum: "md5:abc"}, "invalid checksum"},
		{CopyOptions{Sources: []string{srv.URL + "/missing"}, Dest: "/x", Add: true}, "failed to GET " + srv.URL + "/missing with status 404 Not Found"},
		{CopyOptions{Sources: []string{srv.URL + "/anon/"}, Dest: "/x/", Add: true}, "cannot determine filename for source " + srv.URL + "/anon/"},
	} {
		tc.o.TempDir = tmp
		_, err := NewPlan(context.Background(), c.Source(), tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.o.Sources, err, tc.want)
		}
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("downloads left behind: %v", ents)
	}
	// Close removes the download.
	p, err := NewPlan(context.Background(), c.Source(), CopyOptions{Sources: []string{srv.URL + "/files/app.txt"}, Dest: "/x", Add: true, TempDir: tmp})
	must(t, err)
	must(t, p.Close())
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("Close left %v", ents)
	}
}
