package snapshot

import (
	"archive/tar"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/mount"
)

// TestInitLayer checks the init layer: made once per image and shared, it
// shows the image's /etc with empty mount points for the runtime's files,
// keeps the container's own layer free of them, lives as long as the image,
// and is left out where /etc is not a directory.
func TestInitLayer(t *testing.T) {
	requireRoot(t)
	s := openStore(t)
	img := apply(t, s, "", layer1(t))
	// The image's /etc is 0750, owned by 7:8; the init layer's must be too,
	// since the top-most layer's directory is what the container sees.
	etc := filepath.Join(s.path(s.mustRecord(t, img.ChainID).ID, fsDir), "etc")
	if err := os.Chmod(etc, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(etc, 7, 8); err != nil {
		t.Fatal(err)
	}

	for _, key := range []string{"c1", "c2"} {
		ms, err := s.Prepare(key, img.ChainID, WithInitLayer(), Ephemeral())
		if err != nil {
			t.Fatal(err)
		}
		root := t.TempDir()
		if err := mount.All(ms, root); err != nil {
			t.Fatal(err)
		}
		defer mount.Unmount(root)
		for _, f := range initFiles {
			fi, err := os.Lstat(filepath.Join(root, "etc", f))
			if err != nil || !fi.Mode().IsRegular() || fi.Size() != 0 || fi.Mode().Perm() != 0o644 {
				t.Fatalf("%s: /etc/%s in the rootfs: %v %v, want an empty 0644 file", key, f, fi, err)
			}
		}
		if b, err := os.ReadFile(filepath.Join(root, "etc", "passwd")); err != nil || string(b) != "root:x:0:0::/root:/bin/sh" {
			t.Fatalf("%s: the image's /etc/passwd: %q %v", key, b, err)
		}
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join(root, "etc"), &st); err != nil || st.Mode&0o7777 != 0o750 || st.Uid != 7 || st.Gid != 8 {
			t.Fatalf("%s: /etc is %o %d:%d (%v), want the image's 750 7:8", key, st.Mode&0o7777, st.Uid, st.Gid, err)
		}
		upper, _ := s.UpperDir(key)
		if names := listDir(t, upper); names != "" {
			t.Fatalf("%s: the container's own layer holds %s, want nothing", key, names)
		}
		if err := mount.Unmount(root); err != nil {
			t.Fatal(err)
		}
	}
	inits := s.initsOf(t, img.ChainID)
	if len(inits) != 1 {
		t.Fatalf("init layers on the image: %v, want one shared by both containers", inits)
	}
	for _, key := range []string{"c1", "c2"} {
		if err := s.Remove(key); err != nil {
			t.Fatal(err)
		}
	}
	// It stays with its image, and goes with it.
	if _, _, err := s.GC(map[digest.Digest]bool{img.ChainID: true}); err != nil {
		t.Fatal(err)
	}
	if got := s.initsOf(t, img.ChainID); len(got) != 1 {
		t.Fatalf("GC keeping the image left init layers %v, want its one", got)
	}
	if _, _, err := s.GC(nil); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.List(); len(l) != 0 {
		t.Fatalf("GC of everything left %v", l)
	}
	if p, err := s.Check(false); err != nil || len(p) != 0 {
		t.Fatalf("check: %v %v", p, err)
	}

	// An image without /etc gets a plain one; one whose /etc is a symlink
	// gets no init layer (the runtime makes the mount points, as before).
	bare := apply(t, s, "", mkTar(t, ent{name: "bin/", typ: tar.TypeDir}))
	if _, err := s.Prepare("bare", bare.ChainID, WithInitLayer()); err != nil {
		t.Fatal(err)
	}
	if got := s.initsOf(t, bare.ChainID); len(got) != 1 {
		t.Fatalf("image without /etc: init layers %v, want one", got)
	}
	linked := apply(t, s, "", mkTar(t, ent{name: "etc", typ: tar.TypeSymlink, link: "usr/etc"}))
	if _, err := s.Prepare("linked", linked.ChainID, WithInitLayer()); err != nil {
		t.Fatal(err)
	}
	if got := s.initsOf(t, linked.ChainID); len(got) != 0 {
		t.Fatalf("image whose /etc is a symlink: init layers %v, want none", got)
	}
	idx, _ := s.loadIndex()
	if p := idx.Active["linked"].Parent; p != linked.ChainID {
		t.Fatalf("its layer sits on %s, want the image's top %s", p, linked.ChainID)
	}
}

func (s *Store) mustRecord(t *testing.T, chain digest.Digest) *record {
	t.Helper()
	idx, err := s.loadIndex()
	if err != nil || idx.Committed[chain] == nil {
		t.Fatalf("no record of %s: %v", chain, err)
	}
	return idx.Committed[chain]
}

// initsOf lists the init layers whose parent is chain.
func (s *Store) initsOf(t *testing.T, chain digest.Digest) []digest.Digest {
	t.Helper()
	idx, err := s.loadIndex()
	if err != nil {
		t.Fatal(err)
	}
	var out []digest.Digest
	for c, r := range idx.Committed {
		if r.Init && r.Parent == chain {
			out = append(out, c)
		}
	}
	return out
}

// TestInitLayerFlagLost: an index written by a berth that did not know the
// init flag still names the layer; the next container finds it again
// instead of failing or making it anew.
func TestInitLayerFlagLost(t *testing.T) {
	requireRoot(t)
	s := openStore(t)
	img := apply(t, s, "", layer1(t))
	if _, err := s.Prepare("c1", img.ChainID, WithInitLayer()); err != nil {
		t.Fatal(err)
	}
	inits := s.initsOf(t, img.ChainID)
	if len(inits) != 1 {
		t.Fatalf("init layers %v", inits)
	}
	idx, err := s.loadIndex()
	if err != nil {
		t.Fatal(err)
	}
	idx.Committed[inits[0]].Init = false
	if err := s.writeIndex(idx, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prepare("c2", img.ChainID, WithInitLayer()); err != nil {
		t.Fatal(err)
	}
	if got := s.initsOf(t, img.ChainID); len(got) != 1 || got[0] != inits[0] {
		t.Fatalf("init layers after the flag was lost: %v, want %v flagged again", got, inits)
	}
	idx, _ = s.loadIndex()
	if p := idx.Active["c2"].Parent; p != inits[0] {
		t.Fatalf("c2 sits on %s, want the init layer %s", p, inits[0])
	}
}
