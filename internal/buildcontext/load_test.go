package buildcontext

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadDir(t *testing.T) {
	root := t.TempDir()
	mkTree(t, root, tree{"Dockerfile": "FROM a\n", "sub/Other": "FROM b\n"})
	outside := filepath.Join(t.TempDir(), "Out.df")
	must(t, os.WriteFile(outside, []byte("FROM c\n"), 0o644))
	for _, tc := range []struct {
		name string
		o    LoadOptions
		want string
	}{
		{"default", LoadOptions{Path: root}, "FROM a\n"},
		{"-f in context", LoadOptions{Path: root, Dockerfile: filepath.Join(root, "sub/Other")}, "FROM b\n"},
		{"-f outside context", LoadOptions{Path: root, Dockerfile: outside}, "FROM c\n"},
		{"-f -", LoadOptions{Path: root, Dockerfile: "-", Stdin: strings.NewReader("FROM d\n")}, "FROM d\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, df, err := Load(context.Background(), tc.o)
			must(t, err)
			defer c.Close()
			if string(df) != tc.want {
				t.Errorf("Dockerfile %q, want %q", df, tc.want)
			}
			if c.Root() != root {
				t.Errorf("root %s, want %s", c.Root(), root)
			}
		})
	}
	// -f relative to the working directory, not the context.
	wd, _ := os.Getwd()
	must(t, os.Chdir(filepath.Dir(outside)))
	defer os.Chdir(wd)
	_, df, err := Load(context.Background(), LoadOptions{Path: root, Dockerfile: "Out.df"})
	must(t, err)
	if string(df) != "FROM c\n" {
		t.Errorf("relative -f: %q", df)
	}
}

func TestLoadLowercaseDockerfile(t *testing.T) {
	root := t.TempDir()
	mkTree(t, root, tree{"dockerfile": "FROM lower\n"})
	c, df, err := Load(context.Background(), LoadOptions{Path: root})
	must(t, err)
	c.Close()
	if string(df) != "FROM lower\n" {
		t.Errorf("got %q", df)
	}
}

func TestLoadErrors(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "f")
	must(t, os.WriteFile(file, nil, 0o644))
	for _, tc := range []struct {
		o    LoadOptions
		want string
	}{
		{LoadOptions{Path: filepath.Join(root, "nope")}, `unable to prepare context: path "` + filepath.Join(root, "nope") + `" not found`},
		{LoadOptions{Path: file}, "unable to prepare context: context must be a directory: " + file},
		{LoadOptions{Path: root}, "unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat " + filepath.Join(root, "Dockerfile") + ": no such file or directory"},
		{LoadOptions{Path: "-", Dockerfile: "-", Stdin: strings.NewReader("")}, "can't use stdin for both build context and dockerfile"},
		{LoadOptions{Path: "-", Stdin: bytes.NewReader(mkTar(t, tent{name: "x", body: "1"}))}, "Cannot locate specified Dockerfile: Dockerfile"},
	} {
		_, _, err := Load(context.Background(), tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.o, err, tc.want)
		}
	}
}

// TestLoadStdinTar: a tar context on stdin in every compression, its temp
// dir gone after Close, entries escaping the tar refused by archive.Apply.
func TestLoadStdinTar(t *testing.T) {
	plain := mkTar(t, tent{name: "Dockerfile", body: "FROM t\n"}, tent{name: "app/", typ: '5'}, tent{name: "app/main.py", body: "print(1)\n"}, tent{name: "alt.df", body: "FROM alt\n"})
	for name, b := range map[string][]byte{
		"plain": plain, "gzip": gz(t, plain), "bzip2": compressCmd(t, "bzip2", plain), "xz": compressCmd(t, "xz", plain),
	} {
		t.Run(name, func(t *testing.T) {
			tmp := t.TempDir()
			c, df, err := Load(context.Background(), LoadOptions{Path: "-", Stdin: bytes.NewReader(b), TempDir: tmp})
			must(t, err)
			if string(df) != "FROM t\n" {
				t.Errorf("Dockerfile %q", df)
			}
			dst := image(t)
			copyInto(t, c.Source(), dst, CopyOptions{Sources: []string{"app"}, Dest: "/app"})
			if got := describeTree(t, dst)["app/main.py"]; got != "f 0644 0:0 print(1)\n" {
				t.Errorf("copied %q", got)
			}
			must(t, c.Close())
			if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
				t.Errorf("temp left behind: %v", ents)
			}
		})
	}
	// -f names a file inside the tar.
	c, df, err := Load(context.Background(), LoadOptions{Path: "-", Dockerfile: "alt.df", Stdin: bytes.NewReader(plain), TempDir: t.TempDir()})
	must(t, err)
	c.Close()
	if string(df) != "FROM alt\n" {
		t.Errorf("-f in tar: %q", df)
	}
	// A hostile tar cannot write outside the temp dir.
	evil := mkTar(t, tent{name: "Dockerfile", body: "FROM x\n"}, tent{name: "../../escape", body: "x"})
	tmp := t.TempDir()
	if _, _, err := Load(context.Background(), LoadOptions{Path: "-", Stdin: bytes.NewReader(evil), TempDir: tmp}); err == nil {
		t.Error("tar with ../ accepted")
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("temp left behind after error: %v", ents)
	}
}

func TestLoadStdinDockerfile(t *testing.T) {
	tmp := t.TempDir()
	c, df, err := Load(context.Background(), LoadOptions{Path: "-", Stdin: strings.NewReader("FROM busybox\nRUN true\n"), TempDir: tmp})
	must(t, err)
	defer c.Close()
	if string(df) != "FROM busybox\nRUN true\n" {
		t.Errorf("got %q", df)
	}
	// The context holds only the Dockerfile, as Docker's CLI makes it.
	if _, err := NewPlan(context.Background(), c.Source(), CopyOptions{Sources: []string{"Dockerfile"}, Dest: "/x"}); err != nil {
		t.Errorf("COPY Dockerfile: %v", err)
	}
	_, err = NewPlan(context.Background(), c.Source(), CopyOptions{Sources: []string{"x"}, Dest: "/x"})
	if err == nil || !strings.Contains(err.Error(), "file not found in build context") {
		t.Errorf("COPY with no context: %v", err)
	}
}

// TestDockerignore: exceptions, "**", comments, leading "/", and the
// Dockerfile and .dockerignore themselves (read by the builder, but not
// copyable when ignored, as Docker's daemon removes them).
func TestDockerignore(t *testing.T) {
	c, _ := ctxDir(t, tree{
		".dockerignore":    "# comment\n/Dockerfile\n.dockerignore\n*.log\n**/*.tmp\nsecret/\nbuild\n!build/keep\n",
		"Dockerfile":       "FROM x\n",
		"a.log":            "1",
		"sub/b.log":        "2",
		"sub/deep/c.tmp":   "3",
		"d.tmp":            "4",
		"secret/key":       "5",
		"build/drop":       "6",
		"build/keep/k":     "7",
		"main.py":          "8",
		"sub/deep/code.go": "9",
	})
	dst := image(t)
	copyInto(t, c.Source(), dst, CopyOptions{Sources: []string{"."}, Dest: "/ctx/"})
	got := describeTree(t, dst)
	want := map[string]string{
		"ctx/":                 "d 0755 0:0",
		"ctx/main.py":          "f 0644 0:0 8",
		"ctx/sub/":             "d 0755 0:0",
		"ctx/sub/b.log":        "f 0644 0:0 2", // *.log is top-level only
		"ctx/sub/deep/":        "d 0755 0:0",
		"ctx/sub/deep/code.go": "f 0644 0:0 9",
		"ctx/build/":           "d 0755 0:0",
		"ctx/build/keep/":      "d 0755 0:0",
		"ctx/build/keep/k":     "f 0644 0:0 7",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q want %q", k, got[k], v)
		}
	}
	for k := range got {
		if strings.HasPrefix(k, "ctx") {
			if _, ok := want[k]; !ok {
				t.Errorf("copied ignored %s", k)
			}
		}
	}
	for _, src := range []string{"a.log", "Dockerfile", ".dockerignore", "secret/key", "build/drop", "sub/deep/c.tmp"} {
		if _, err := NewPlan(context.Background(), c.Source(), CopyOptions{Sources: []string{src}, Dest: "/x"}); err == nil ||
			!strings.Contains(err.Error(), "file not found in build context or excluded by .dockerignore") {
			t.Errorf("%s: %v", src, err)
		}
	}
	if !c.Excluded("Dockerfile") || c.Excluded("main.py") {
		t.Error("Excluded")
	}
}

// TestLoadStdinLargeCompressed: the tar test looks only at the head, as
// Docker's CLI does, so a compressed context whose first block is bigger
// than any peek (bzip2: up to 900 kB) is still taken as a tar.
func TestLoadStdinLargeCompressed(t *testing.T) {
	big := make([]byte, 600<<10)
	for i := range big {
		big[i] = byte(i * 7919 >> 3)
	}
	plain := mkTar(t, tent{name: "Dockerfile", body: "FROM big\n"}, tent{name: "blob", body: string(big)})
	c, df, err := Load(context.Background(), LoadOptions{Path: "-", Stdin: bytes.NewReader(compressCmd(t, "bzip2", plain)), TempDir: t.TempDir()})
	must(t, err)
	defer c.Close()
	if string(df) != "FROM big\n" {
		t.Errorf("Dockerfile %q", df)
	}
	if fi, err := os.Stat(filepath.Join(c.Root(), "blob")); err != nil || fi.Size() != int64(len(big)) {
		t.Errorf("blob: %v %v", fi, err)
	}
}
