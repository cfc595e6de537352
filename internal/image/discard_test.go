package image

import (
	"bytes"
	"context"
	"testing"

	"github.com/opencontainers/go-digest"
)

// TestLeaseDiscard: a failed operation's Discard deletes the blobs and
// snapshots only it held, keeps what an image or another live lease needs,
// and leaves every other blob (and partial ingest) alone.
func TestLeaseDiscard(t *testing.T) {
	e := newEnv(t)
	img, _ := pulledImage(t, e, busyboxTar(t), true)
	shared := digest.Digest(img.Layers[0].Digest)

	other, err := e.is.NewLease()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Release()
	write := func(s string) digest.Digest {
		d := digest.FromString(s)
		if _, err := e.cs.WriteBlob([]byte(s), d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	mine, theirs, unrelated := write("only the failed pull"), write("another pull's"), write("garbage of old")
	if err := other.Add(theirs); err != nil {
		t.Fatal(err)
	}
	snap, err := e.snaps.Apply(context.Background(), "", bytes.NewReader(makeTar(t, []tarEntry{{name: "f", typ: '0', body: []byte("x")}})))
	if err != nil {
		t.Fatal(err)
	}

	l, err := e.is.NewLease()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Add(mine, theirs, shared, snap.ChainID, img.ChainIDs[0]); err != nil {
		t.Fatal(err)
	}
	if err := l.Discard(); err != nil {
		t.Fatal(err)
	}
	if e.cs.Exists(mine) {
		t.Error("the failed operation's own blob survived")
	}
	if _, err := e.snaps.Stat(snap.ChainID); err == nil {
		t.Error("the failed operation's own snapshot survived")
	}
	for d, why := range map[digest.Digest]string{theirs: "on another live lease", shared: "an image's layer", unrelated: "not on the lease"} {
		if !e.cs.Exists(d) {
			t.Errorf("blob %s (%s) was deleted", d, why)
		}
	}
	if _, err := e.snaps.Stat(img.ChainIDs[0]); err != nil {
		t.Errorf("an image's snapshot was deleted: %v", err)
	}
	if err := l.Discard(); err != nil { // twice is harmless
		t.Fatal(err)
	}
}
