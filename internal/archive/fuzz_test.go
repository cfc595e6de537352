package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"testing"
)

// FuzzApply feeds arbitrary bytes to Apply (in each whiteout mode) and
// checks that nothing next to the destination changed. Run longer with
// `go test -fuzz FuzzApply -fuzztime 1m ./internal/archive`.
func FuzzApply(f *testing.F) {
	if !isRoot() {
		f.Skip("needs root")
	}
	seeds := [][]ent{
		{{name: "../outside/secret", body: "x"}},
		{{name: "link", typ: tar.TypeSymlink, link: "../outside"}, {name: "link/secret", body: "x"}},
		{{name: "link", typ: tar.TypeSymlink, link: "/"}, {name: "link/../outside/.wh.secret"}},
		{{name: "outside/", typ: tar.TypeDir}, {name: "l", typ: tar.TypeSymlink, link: "../../outside"}, {name: "l/.wh..wh..opq"}},
		{{name: "hl", typ: tar.TypeLink, link: "../outside/secret"}},
		{{name: "l", typ: tar.TypeSymlink, link: "../outside/secret"}, {name: "hl", typ: tar.TypeLink, link: "l"}, {name: "hl", body: "x"}},
		{{name: "d/", typ: tar.TypeDir}, {name: "d/f", body: "x"}, {name: "d", typ: tar.TypeSymlink, link: ".."}, {name: "d/f", body: "y"}},
		{{name: "dev/null", typ: tar.TypeChar, major: 1, minor: 3}, {name: "fifo", typ: tar.TypeFifo}},
	}
	for _, s := range seeds {
		for mode := byte(0); mode < 3; mode++ {
			f.Add(mode, mkTar(f, s...))
		}
	}
	// Each run makes and removes a small tree; tmpfs keeps that cheap enough
	// for the fuzzer (ext4 inode allocation dominated otherwise).
	base := ""
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "berth-fuzz-")
		if err != nil {
			f.Fatal(err)
		}
		f.Cleanup(func() { os.RemoveAll(d) })
		base = d
	}
	f.Fuzz(func(t *testing.T, mode byte, data []byte) {
		s := newSandboxIn(t, base)
		opts := ApplyOptions{Whiteouts: WhiteoutMode(mode % 3)}
		_, _ = Apply(context.Background(), s.root, bytes.NewReader(data), opts)
		s.assertOutsideUntouched(t)
	})
}
