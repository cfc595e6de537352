package buildcontext

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// oracleCtx is the context the Docker 20.10 legacy builder (Debian
// docker.io 20.10.24 daemon and CLI, DOCKER_BUILDKIT=0) hashed on this
// machine; the expected values below are the created_by strings it wrote
// into history. (A newer CLI sends different tar headers, so the values
// depend on the CLI: 20.10's is the oracle.)
func oracleCtx(t testing.TB) (*Context, string) {
	c, root := ctxDir(t, tree{
		"a.txt":         "hello\n",
		"dir/b.txt":     "b\n",
		"dir/sub/c.txt": "c\n",
		"@dir/link":     "../a.txt",
	})
	must(t, os.Chmod(filepath.Join(root, "dir/b.txt"), 0o600))
	return c, root
}

func TestDescribeMatchesDocker(t *testing.T) {
	c, _ := oracleCtx(t)
	for _, tc := range []struct {
		src  []string
		dest string
		want string
	}{
		{[]string{"a.txt"}, "/x/", "file:679c43c79a56cffbb3b002bda3050542c152a2f09757a0f1a9578871f7cda00d"},
		{[]string{"dir"}, "/d", "dir:53f145420413b2a49dd9a39afa26b3065a9e8cc2317973bd9be01d933475282d"},
		{[]string{"a.txt", "dir/b.txt"}, "/m/", "multi:8cbc53a97e757fad0c664bae921cc691b6007c511dba8d860ab72e0d1059c2df"},
	} {
		p, err := plan(t, c.Source(), CopyOptions{Sources: tc.src, Dest: tc.dest})
		must(t, err)
		if got := p.Describe(); got != tc.want {
			t.Errorf("%v: Describe %s, want Docker's %s", tc.src, got, tc.want)
		}
	}
	// Hard links: the second name is a TypeLink entry in Docker's tar.
	c2, root2 := ctxDir(t, tree{"d/a": "same\n"})
	must(t, os.Chmod(filepath.Join(root2, "d/a"), 0o640))
	must(t, os.Link(filepath.Join(root2, "d/a"), filepath.Join(root2, "d/b")))
	for src, want := range map[string]string{
		"d*":  "dir:854400244ec52756c1c4be68b770ffd18aef77274b446e6555fc525eaf798f61",
		"d/b": "file:d0375989308a618ca19db6823c19e182852dae0fbab5f4eda9f5147108369749",
	} {
		p, err := plan(t, c2.Source(), CopyOptions{Sources: []string{src}, Dest: "/x"})
		must(t, err)
		if got := p.Describe(); got != want {
			t.Errorf("%s: Describe %s, want Docker's %s", src, got, want)
		}
	}
	// A download: Docker hashes the temp file as root-owned 0600, with no
	// "file:" prefix in history.
	if os.Getuid() != 0 {
		t.Skip("remote hash needs root-owned downloads")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Last-Modified", time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC).Format(http.TimeFormat))
		w.Write([]byte("remote\n"))
	}))
	defer srv.Close()
	p, err := plan(t, c.Source(), CopyOptions{Sources: []string{srv.URL + "/f.txt"}, Dest: "/u/", Add: true})
	must(t, err)
	if got, want := p.Describe(), "3d2dce268b79884d3487f1fc259f47eeb92d55a99ac0d34432934409417f1353"; got != want {
		t.Errorf("remote Describe %s, want Docker's %s", got, want)
	}
}

func digestOf(t testing.TB, src Source, srcs ...string) string {
	t.Helper()
	p, err := plan(t, src, CopyOptions{Sources: srcs, Dest: "/x/"})
	must(t, err)
	return string(p.Digest())
}

func TestDigest(t *testing.T) {
	c, root := oracleCtx(t)
	base := digestOf(t, c.Source(), ".")
	f := filepath.Join(root, "dir/sub/c.txt")

	must(t, os.Chtimes(f, oldTime, oldTime))
	must(t, os.Chtimes(filepath.Join(root, "dir"), oldTime, oldTime))
	if d := digestOf(t, c.Source(), "."); d != base {
		t.Error("digest changed with mtimes")
	}
	if os.Getuid() == 0 {
		must(t, os.Lchown(f, 1234, 1234))
		if d := digestOf(t, c.Source(), "."); d != base {
			t.Error("digest changed with a context file's owner (copies are 0:0 regardless)")
		}
	}
	must(t, os.Chmod(f, 0o755))
	modeD := digestOf(t, c.Source(), ".")
	if modeD == base {
		t.Error("digest unchanged after chmod")
	}
	must(t, os.WriteFile(f, []byte("C\n"), 0o755))
	contentD := digestOf(t, c.Source(), ".")
	if contentD == modeD {
		t.Error("digest unchanged after same-size content change")
	}
	must(t, os.Remove(filepath.Join(root, "dir/link")))
	must(t, os.Symlink("sub/c.txt", filepath.Join(root, "dir/link")))
	if d := digestOf(t, c.Source(), "dir"); d == digestOf(t, c.Source(), "dir/sub", "a.txt") {
		t.Error("nonsense collision")
	}
	must(t, os.Rename(filepath.Join(root, "a.txt"), filepath.Join(root, "A.txt")))
	if d := digestOf(t, c.Source(), "."); d == contentD {
		t.Error("digest unchanged after rename")
	}

	// A rootfs source (COPY --from) carries owners in the digest.
	stage := t.TempDir()
	mkTree(t, stage, tree{"app/bin": "x"})
	d1 := digestOf(t, DirSource(stage), "app")
	if os.Getuid() == 0 {
		must(t, os.Lchown(filepath.Join(stage, "app/bin"), 1000, 1000))
		if digestOf(t, DirSource(stage), "app") == d1 {
			t.Error("rootfs digest unchanged after chown")
		}
	}
}

// TestStatCache: the cache lives under CacheDir (never in the context),
// survives a reload, and a same-size, same-mtime rewrite is still seen
// (ctime moves).
func TestStatCache(t *testing.T) {
	root := t.TempDir()
	mkTree(t, root, tree{"Dockerfile": "FROM x\n", "big": "0123456789", "d/f": "f"})
	cacheDir := t.TempDir()
	load := func() *Context {
		c, _, err := Load(context.Background(), LoadOptions{Path: root, CacheDir: cacheDir})
		must(t, err)
		return c
	}
	c := load()
	d1 := digestOf(t, c.Source(), ".")
	must(t, c.Close())
	ents, _ := os.ReadDir(cacheDir)
	if len(ents) != 1 {
		t.Fatalf("cache dir holds %v", ents)
	}
	ctxEnts, _ := os.ReadDir(root)
	if len(ctxEnts) != 3 {
		t.Errorf("context changed: %v", ctxEnts)
	}
	c = load()
	if d := digestOf(t, c.Source(), "."); d != d1 {
		t.Error("cached digest differs")
	}
	c.Close()
	fi, _ := os.Stat(filepath.Join(root, "big"))
	must(t, os.WriteFile(filepath.Join(root, "big"), []byte("9876543210"), 0o644))
	must(t, os.Chtimes(filepath.Join(root, "big"), fi.ModTime(), fi.ModTime()))
	c = load()
	if d := digestOf(t, c.Source(), "."); d == d1 {
		t.Error("stale cache: same-size, same-mtime rewrite not seen")
	}
	c.Close()
	// Entries of deleted files go once the whole context is hashed again.
	must(t, os.Remove(filepath.Join(root, "d/f")))
	c = load()
	digestOf(t, c.Source(), ".")
	must(t, c.Close())
	c = load()
	if n := c.src.s.cache.len(); n != 2 {
		t.Errorf("cache holds %d entries, want 2 (Dockerfile, big)", n)
	}
	c.Close()
	// A corrupt cache file is only a lost cache.
	must(t, os.WriteFile(filepath.Join(cacheDir, ents[0].Name()), []byte("garbage"), 0o600))
	c = load()
	digestOf(t, c.Source(), ".")
	must(t, c.Close())
}
