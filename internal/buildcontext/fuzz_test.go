package buildcontext

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var fuzzTree = tree{
	"a.txt": "a", "b.log": "b", "dir/c.txt": "c", "dir/sub/d.tmp": "d", "dir/sub/e": "e",
	"build/keep/k": "k", "build/drop": "x", ".hidden": "h", "Dockerfile": "FROM x\n",
}

// FuzzDockerignore: any .dockerignore parses or is refused cleanly, and
// the walk (what COPY . and the digest see) agrees with patternmatcher's
// own verdict for every file: included files are exactly the files the
// patterns do not exclude, except inside directories Docker's client
// skips wholesale (no exception pattern starts with them).
func FuzzDockerignore(f *testing.F) {
	for _, seed := range []string{
		"*.log\n", "dir\n!dir/sub/e\n", "**/*.tmp\n", "/build\n!build/keep\n", "# c\n\n  a.txt  \n",
		"[", "!", "**", "dir/**/e\n!**/d.tmp\n", "\xef\xbb\xbfa.txt\n", "../x\n", "*\n!Dockerfile\n",
	} {
		f.Add(seed)
	}
	root := f.TempDir()
	mkTree(f, root, fuzzTree)
	f.Fuzz(func(t *testing.T, ignore string) {
		pm, err := parseDockerignore(strings.NewReader(ignore))
		if err != nil {
			return
		}
		s := &source{root: root, pm: pm, context: true}
		seen := map[string]bool{}
		err = s.walk(".", func(n *node) error {
			if !n.isDir() {
				seen[n.rel] = true
			}
			return nil
		})
		if err != nil {
			t.Fatalf("walk: %v", err)
		}
		for rel := range fuzzTree {
			if strings.HasSuffix(rel, "/") {
				continue
			}
			excluded := s.excluded(rel)
			if seen[rel] && excluded {
				t.Fatalf("%q: walked but excluded by %q", rel, ignore)
			}
			if !seen[rel] && !excluded && !s.skippedParent(rel) {
				t.Fatalf("%q: not walked, not excluded by %q", rel, ignore)
			}
		}
		// Digest and COPY agree with the walk and never fail on a
		// parseable file.
		if _, err := NewPlan(context.Background(), Source{s: s}, CopyOptions{Sources: []string{"."}, Dest: "/x/"}); err != nil {
			t.Fatalf("plan: %v", err)
		}
	})
}

// skippedParent: some parent directory of rel is excluded with no
// exception pattern starting with it, so Docker's client never looks
// inside (even if a later pattern would re-include rel).
func (s *source) skippedParent(rel string) bool {
	parts := strings.Split(rel, "/")
	for i := 1; i < len(parts); i++ {
		d := strings.Join(parts[:i], "/")
		if s.excluded(d) && !s.mayHoldExceptions(d) {
			return true
		}
	}
	return false
}

// FuzzTarContext: whatever arrives on stdin, Load either refuses it or
// yields a context confined to its temp dir, copying it stays inside the
// destination, and Close leaves nothing behind.
func FuzzTarContext(f *testing.F) {
	f.Add(mkTar(f, tent{name: "Dockerfile", body: "FROM x\n"}, tent{name: "d/", typ: '5'}, tent{name: "d/f", body: "1"}))
	f.Add(mkTar(f, tent{name: "Dockerfile", body: "FROM x\n"}, tent{name: "l", typ: '2', link: "/etc"}, tent{name: "l/passwd", body: "pwn"}))
	f.Add(mkTar(f, tent{name: "Dockerfile", body: "FROM x\n"}, tent{name: "../up", body: "x"}))
	f.Add(mkTar(f, tent{name: "Dockerfile", body: "FROM x\n"}, tent{name: "h", typ: '1', link: "/etc/passwd"}))
	f.Add(gz(f, mkTar(f, tent{name: "Dockerfile", body: "FROM x\n"}, tent{name: "a", body: "1"})))
	f.Add([]byte("FROM scratch\nCOPY . /\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		outer := t.TempDir()
		tmp := filepath.Join(outer, "tmp")
		must(t, os.Mkdir(tmp, 0o755))
		c, _, err := Load(context.Background(), LoadOptions{Path: "-", Stdin: bytes.NewReader(in), TempDir: tmp})
		if err == nil {
			dst := filepath.Join(outer, "dst")
			must(t, os.Mkdir(dst, 0o755))
			if p, err := NewPlan(context.Background(), c.Source(), CopyOptions{Sources: []string{"."}, Dest: "/"}); err == nil {
				_ = p.Apply(dst)
				p.Close()
			}
			must(t, c.Close())
		}
		ents, _ := os.ReadDir(outer)
		for _, e := range ents {
			if e.Name() != "tmp" && e.Name() != "dst" {
				t.Fatalf("wrote %s outside tmp and dst", e.Name())
			}
		}
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Fatalf("temp left behind: %v", left)
		}
	})
}
