// Package imagetest opens throwaway image stores for the tests of packages
// built on the image store (registry, imagearchive). Test code only.
package imagetest

import (
	"testing"

	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/root"
	"github.com/berth/berth/internal/snapshot"
)

// OpenStore opens an image store, with its content and snapshot stores, in
// a fresh root under t's temp dir.
func OpenStore(t testing.TB) *image.Store {
	t.Helper()
	r := root.New(t.TempDir())
	if err := r.Ensure(); err != nil {
		t.Fatal(err)
	}
	cs, err := content.Open(r.Content())
	if err != nil {
		t.Fatal(err)
	}
	ss, err := snapshot.Open(r.Snapshots())
	if err != nil {
		t.Fatal(err)
	}
	s, err := image.Open(r, cs, ss)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
