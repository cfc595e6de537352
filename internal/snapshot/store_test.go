package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/mount"
)

type ent struct {
	name, body, link string
	typ              byte
}

func mkTar(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644, ModTime: time.Unix(1600000000, 0)}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(e.body))
		}
		if h.Typeflag == tar.TypeDir {
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	return buf.Bytes()
}

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func openStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mountSnapshot mounts ms on a fresh dir, unmounted at cleanup.
func mountSnapshot(t *testing.T, ms []mount.Mount) string {
	t.Helper()
	target := t.TempDir()
	if err := mount.All(ms, target); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := mount.Unmount(target); err != nil {
			t.Errorf("cleanup unmount: %v", err)
		}
	})
	return target
}

var (
	layer1 = func(t testing.TB) []byte {
		return mkTar(t,
			ent{name: "bin/", typ: tar.TypeDir},
			ent{name: "bin/sh", body: "#!sh"},
			ent{name: "etc/", typ: tar.TypeDir},
			ent{name: "etc/group", body: "root:x:0:"},
			ent{name: "etc/passwd", body: "root:x:0:0::/root:/bin/sh"},
			ent{name: "opq/", typ: tar.TypeDir},
			ent{name: "opq/a", body: "a"},
			ent{name: "opq/b", body: "b"},
		)
	}
	layer2 = func(t testing.TB) []byte {
		return mkTar(t,
			ent{name: "etc/", typ: tar.TypeDir},
			ent{name: "etc/.wh.group"},
			ent{name: "opq/", typ: tar.TypeDir},
			ent{name: "opq/.wh..wh..opq"},
			ent{name: "opq/c", body: "c"},
		)
	}
)

func apply(t *testing.T, s *Store, parent digest.Digest, data []byte) Info {
	t.Helper()
	info, err := s.Apply(context.Background(), parent, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func listDir(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n []string
	for _, e := range entries {
		n = append(n, e.Name())
	}
	return strings.Join(n, ",")
}

func TestApplyIDs(t *testing.T) {
	requireRoot(t)
	s := openStore(t)
	l1, l2 := layer1(t), layer2(t)
	i1 := apply(t, s, "", l1)
	i2 := apply(t, s, i1.ChainID, l2)
	d1, d2 := digest.FromBytes(l1), digest.FromBytes(l2)
	wantChain2 := digest.FromString(d1.String() + " " + d2.String())
	tests := []struct {
		desc      string
		got, want digest.Digest
	}{
		{"DiffID is the tar's sha256", i1.DiffID, d1},
		{"base ChainID is its DiffID", i1.ChainID, d1},
		{"second DiffID", i2.DiffID, d2},
		{"second ChainID per image-spec", i2.ChainID, wantChain2},
		{"parent recorded", i2.Parent, i1.ChainID},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("got %s, want %s", tt.got, tt.want)
			}
		})
	}
	if st, err := s.Stat(i2.ChainID); err != nil || st.Path != i2.Path || st.Size != 1 {
		t.Fatalf("Stat: %+v %v", st, err)
	}
	if _, err := s.Stat(digest.FromString("nope")); !errdefs.IsNotFound(err) {
		t.Fatalf("Stat missing: %v", err)
	}
	if _, err := s.Apply(context.Background(), digest.FromString("nope"), bytes.NewReader(l2)); !errdefs.IsNotFound(err) {
		t.Fatalf("Apply on missing parent: %v", err)
	}
	again := apply(t, s, "", l1)
	if again.Path != i1.Path {
		t.Fatal("re-applying a layer made a second copy")
	}
	list, _ := s.List()
	if len(list) != 2 || list[0].ChainID != i1.ChainID {
		t.Fatalf("List: %+v", list)
	}
	if u, err := s.Usage(i1.ChainID); err != nil || u <= 0 {
		t.Fatalf("Usage: %d %v", u, err)
	}
	if got := listDir(t, s.dir); got != "1,2,empty,index.json,lock" {
		t.Fatalf("store dir holds %s", got)
	}
}

func TestApplyHostileLayerLeavesNothing(t *testing.T) {
	requireRoot(t)
	s := openStore(t)
	_, err := s.Apply(context.Background(), "", bytes.NewReader(mkTar(t, ent{name: "../../evil", body: "x"})))
	if !errdefs.IsInvalid(err) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	if got := listDir(t, s.dir); got != "empty,lock" && got != "empty" {
		t.Fatalf("store dir holds %s", got)
	}
	if list, _ := s.List(); len(list) != 0 {
		t.Fatal("failed apply left a snapshot")
	}
}

// TestOverlayLifecycle is the real thing: two layers with whiteouts, an
// overlay mount of a container snapshot, writes through it, then Diff and
// Changes of what was written, and the diff applied back as a layer.
func TestOverlayLifecycle(t *testing.T) {
	requireRoot(t)
	s := openStore(t)
	i1 := apply(t, s, "", layer1(t))
	i2 := apply(t, s, i1.ChainID, layer2(t))

	ms, err := s.Prepare("c1", i2.ChainID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prepare("c1", i2.ChainID); !errdefs.IsConflict(err) {
		t.Fatalf("second Prepare: %v", err)
	}
	if got, _ := s.Mounts("c1"); fmt.Sprint(got) != fmt.Sprint(ms) {
		t.Fatalf("Mounts differs from Prepare: %v vs %v", got, ms)
	}
	root := mountSnapshot(t, ms)

	merged := []struct {
		desc, path string
		exists     bool
	}{
		{"lower file", "etc/passwd", true},
		{"whited-out file", "etc/group", false},
		{"opaque hides lower", "opq/a", false},
		{"opaque dir keeps own", "opq/c", true},
		{"bottom layer", "bin/sh", true},
	}
	for _, tt := range merged {
		t.Run("merged/"+tt.desc, func(t *testing.T) {
			_, err := os.Lstat(filepath.Join(root, tt.path))
			if (err == nil) != tt.exists {
				t.Fatalf("%s exists=%v", tt.path, err == nil)
			}
		})
	}
	if st, _ := os.Stat(root); st.Mode().Perm() != 0o755 {
		t.Errorf("container / mode %v, want 0755 (from the image)", st.Mode().Perm())
	}

	// Write through the mount.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(root, "newfile"), []byte("new"), 0o644))
	must(os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("changed"), 0o644))
	must(os.Remove(filepath.Join(root, "bin/sh")))
	must(os.RemoveAll(filepath.Join(root, "opq")))
	must(os.Mkdir(filepath.Join(root, "opq"), 0o755))
	must(os.WriteFile(filepath.Join(root, "opq/d"), []byte("d"), 0o644))
	must(os.MkdirAll(filepath.Join(root, "newdir/x"), 0o755))

	if err := s.Remove("c1"); !errdefs.IsConflict(err) {
		t.Fatalf("Remove while mounted: %v", err)
	}
	must(mount.Unmount(root))

	var buf bytes.Buffer
	must(s.Diff(context.Background(), "c1", &buf, archive.TarOptions{}))
	var names []string
	tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(err)
		names = append(names, h.Name)
	}
	wantNames := "bin/,bin/.wh.sh,etc/,etc/passwd,newdir/,newdir/x/,newfile,opq/,opq/.wh..wh..opq,opq/d"
	if strings.Join(names, ",") != wantNames {
		t.Errorf("diff entries:\n got %s\nwant %s", strings.Join(names, ","), wantNames)
	}

	changes, err := s.Changes("c1")
	must(err)
	var got []string
	for _, c := range changes {
		got = append(got, c.Kind.String()+" "+c.Path)
	}
	want := "C /bin,D /bin/sh,C /etc,C /etc/passwd,A /newdir,A /newdir/x,A /newfile,C /opq,D /opq/c,A /opq/d"
	if strings.Join(got, ",") != want {
		t.Errorf("changes:\n got %s\nwant %s", strings.Join(got, ","), want)
	}

	// The diff is a valid layer: applied on the image it gives the same view.
	i3 := apply(t, s, i2.ChainID, buf.Bytes())
	ms2, err := s.Prepare("c2", i3.ChainID)
	must(err)
	root2 := mountSnapshot(t, ms2)
	for path, want := range map[string]string{"etc/passwd": "changed", "newfile": "new", "opq/d": "d"} {
		if b, _ := os.ReadFile(filepath.Join(root2, path)); string(b) != want {
			t.Errorf("committed %s = %q", path, b)
		}
	}
	for _, gone := range []string{"bin/sh", "opq/c", "opq/a", "etc/group"} {
		if _, err := os.Lstat(filepath.Join(root2, gone)); err == nil {
			t.Errorf("committed view still has %s", gone)
		}
	}
	must(mount.Unmount(root2))

	// GC: everything is referenced by active snapshots.
	if n, _, err := s.GC(nil); err != nil || n != 0 {
		t.Fatalf("GC with actives: %d %v", n, err)
	}
	must(s.Remove("c1"))
	must(s.Remove("c2"))
	if err := s.Remove("c2"); !errdefs.IsNotFound(err) {
		t.Fatalf("Remove twice: %v", err)
	}
	n, reclaimed, err := s.GC(map[digest.Digest]bool{i1.ChainID: true})
	if err != nil || n != 2 || reclaimed <= 0 {
		t.Fatalf("GC keep base: removed %d reclaimed %d %v", n, reclaimed, err)
	}
	if list, _ := s.List(); len(list) != 1 || list[0].ChainID != i1.ChainID {
		t.Fatalf("after GC: %+v", list)
	}
	if got := listDir(t, s.dir); got != "1,empty,index.json,lock" {
		t.Fatalf("store dir holds %s", got)
	}
}

func TestPrepareScratch(t *testing.T) {
	requireRoot(t)
	s := openStore(t)
	ms, err := s.Prepare("scratch", "")
	if err != nil {
		t.Fatal(err)
	}
	root := mountSnapshot(t, ms)
	if err := os.WriteFile(filepath.Join(root, "hello"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	upper, _ := s.UpperDir("scratch")
	if b, _ := os.ReadFile(filepath.Join(upper, "hello")); string(b) != "hi" {
		t.Fatal("write did not land in the upper dir")
	}
	if err := mount.Unmount(root); err != nil {
		t.Fatal(err)
	}
	changes, err := s.Changes("scratch")
	if err != nil || len(changes) != 1 || changes[0] != (Change{ChangeAdd, "/hello"}) {
		t.Fatalf("changes %v %v", changes, err)
	}
	if _, err := s.Prepare("x", digest.FromString("missing")); !errdefs.IsNotFound(err) {
		t.Fatalf("missing parent: %v", err)
	}
	if keys, _ := s.Active(); strings.Join(keys, ",") != "scratch" {
		t.Fatalf("Active = %v", keys)
	}
}

func TestConcurrentApplySameLayer(t *testing.T) {
	requireRoot(t)
	s := openStore(t)
	data := layer1(t)
	var wg sync.WaitGroup
	infos := make([]Info, 4)
	errs := make([]error, 4)
	for i := range infos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			infos[i], errs[i] = s.Apply(context.Background(), "", bytes.NewReader(data))
		}()
	}
	wg.Wait()
	for i := range infos {
		if errs[i] != nil || infos[i].Path != infos[0].Path {
			t.Fatalf("apply %d: %+v %v", i, infos[i], errs[i])
		}
	}
	if list, _ := s.List(); len(list) != 1 {
		t.Fatalf("%d snapshots", len(list))
	}
	if got := listDir(t, s.dir); got != "1,empty,index.json,lock" {
		t.Fatalf("store dir holds %s", got)
	}
}

// TestHelperApply is run as a child process by TestConcurrentApplyProcesses.
func TestHelperApply(t *testing.T) {
	dir := os.Getenv("BERTH_SNAPSHOT_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Apply(context.Background(), "", bytes.NewReader(layer1(t)))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("CHAIN", info.ChainID)
}

func TestConcurrentApplyProcesses(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	var wg sync.WaitGroup
	outs := make([]string, 3)
	errs := make([]error, 3)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperApply$", "-test.v")
			cmd.Env = append(os.Environ(), "BERTH_SNAPSHOT_HELPER_DIR="+dir)
			out, err := cmd.CombinedOutput()
			outs[i], errs[i] = string(out), err
		}()
	}
	wg.Wait()
	want := "CHAIN " + digest.FromBytes(layer1(t)).String()
	for i := range outs {
		if errs[i] != nil || !strings.Contains(outs[i], want) {
			t.Fatalf("process %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if list, _ := s.List(); len(list) != 1 {
		t.Fatalf("%d snapshots after 3 processes", len(list))
	}
	if got := listDir(t, dir); got != "1,empty,index.json,lock" {
		t.Fatalf("store dir holds %s", got)
	}
}

func TestCheckAndCleanup(t *testing.T) {
	requireRoot(t)
	s := openStore(t)
	i1 := apply(t, s, "", layer1(t))
	i2 := apply(t, s, i1.ChainID, layer2(t))
	if _, err := s.Prepare("c", i2.ChainID); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Check(false); err != nil || len(p) != 0 {
		t.Fatalf("clean store: %v %v", p, err)
	}

	crash := func() {
		os.MkdirAll(filepath.Join(s.dir, "new-crashed", "fs"), 0o700)
		os.MkdirAll(filepath.Join(s.dir, "rm-7-x"), 0o700)
		os.MkdirAll(filepath.Join(s.dir, "999", "fs"), 0o700)
	}
	tests := []struct {
		desc   string
		damage func()
		want   []string // substrings of reported problems
		after  func(t *testing.T)
	}{
		{
			desc:   "leftovers of a crash",
			damage: crash,
			want:   []string{"leftover new-crashed", "leftover rm-7-x", "leftover 999"},
		},
		{
			desc:   "corrupt index is rebuilt from meta files",
			damage: func() { os.WriteFile(filepath.Join(s.dir, indexFile), []byte("{garbage"), 0o600) },
			want:   []string{"corrupt record"},
			after: func(t *testing.T) {
				if _, err := s.Stat(i2.ChainID); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Mounts("c"); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			desc: "missing layer dir drops it, its child and the active snapshot on it",
			damage: func() {
				info, _ := s.Stat(i1.ChainID)
				os.RemoveAll(filepath.Dir(info.Path))
			},
			want: []string{"missing its directory", "parent " + i1.ChainID.String() + " is missing", "active snapshot c"},
			after: func(t *testing.T) {
				if l, _ := s.List(); len(l) != 0 {
					t.Fatalf("left %v", l)
				}
				if a, _ := s.Active(); len(a) != 0 {
					t.Fatalf("left %v", a)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			tt.damage()
			problems, err := s.Check(false)
			if err != nil {
				t.Fatal(err)
			}
			all := strings.Join(problems, "\n")
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("problems lack %q:\n%s", w, all)
				}
			}
			if _, err := s.Check(true); err != nil {
				t.Fatal(err)
			}
			if p, err := s.Check(false); err != nil || len(p) != 0 {
				t.Fatalf("after repair: %v %v", p, err)
			}
			if tt.after != nil {
				tt.after(t)
			}
		})
	}

	// Open cleans a crash's leftovers but spares a build in progress.
	crash()
	busy, err := s.newTempDir(false)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.release()
	if _, err := Open(s.dir); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, s.dir); got != "empty,index.json,lock,"+filepath.Base(busy.path) {
		t.Fatalf("after Open: %s", got)
	}
}

// TestCheckSparesDirBeingDeleted: a dir a Remove or GC is deleting (moved
// aside, outside the lock) is not a leftover while its deleter lives; once
// it is gone, or if the deleter died, nothing or a leftover is reported.
func TestCheckSparesDirBeingDeleted(t *testing.T) {
	s := openStore(t)
	if err := os.Mkdir(s.path("41"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.path("41", "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := s.moveAside("41")
	if d.fd < 0 || !strings.HasPrefix(filepath.Base(d.path), rmPrefix) {
		t.Fatalf("moveAside: %+v", d)
	}
	if p, err := s.Check(false); err != nil || len(p) != 0 {
		t.Fatalf("while being deleted: %v %v", p, err)
	}
	d.remove()
	if p, err := s.Check(false); err != nil || len(p) != 0 {
		t.Fatalf("after the delete: %v %v", p, err)
	}
	// A deleter that died: its rm-* dir is unlocked.
	if err := os.Mkdir(filepath.Join(s.dir, rmPrefix+"42-x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Check(false); err != nil || len(p) != 1 || p[0] != "leftover "+rmPrefix+"42-x" {
		t.Fatalf("a dead deleter's dir: %v %v", p, err)
	}
}

func TestOpenRejectsOverlayUnsafePath(t *testing.T) {
	for _, bad := range []string{"a,b", "a:b"} {
		if _, err := Open(filepath.Join(t.TempDir(), bad)); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("Open(%q): %v", bad, err)
		}
	}
}

// TestEphemeralAfterPowerLoss plays what a power loss can leave of the
// index, which an ephemeral snapshot's changes write without fsyncs (on
// ext4 without a journal: an empty file where the last write was): the
// index is rebuilt on read from the meta files of the durable snapshots,
// and an ephemeral one, which has none, is a leftover Check removes.
func TestEphemeralAfterPowerLoss(t *testing.T) {
	requireRoot(t)
	s := openStore(t)
	base := apply(t, s, "", layer1(t))
	if _, err := s.Prepare("e", base.ChainID, Ephemeral()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prepare("d", base.ChainID); err != nil {
		t.Fatal(err)
	}
	idx, err := s.loadIndex()
	if err != nil {
		t.Fatal(err)
	}
	if !idx.Active["e"].Ephemeral || idx.Active["d"].Ephemeral {
		t.Fatalf("ephemeral flags: e %v, d %v", idx.Active["e"].Ephemeral, idx.Active["d"].Ephemeral)
	}
	eID := idx.Active["e"].ID
	if _, err := os.Stat(filepath.Join(s.dir, eID, metaFile)); !os.IsNotExist(err) {
		t.Fatalf("ephemeral snapshot has a meta file (%v)", err)
	}

	if err := os.Truncate(filepath.Join(s.dir, indexFile), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(base.ChainID); err != nil {
		t.Fatalf("committed layer after a lost index write: %v", err)
	}
	if _, err := s.Mounts("d"); err != nil {
		t.Fatalf("durable active snapshot after a lost index write: %v", err)
	}
	if _, err := s.Mounts("e"); !errdefs.IsNotFound(err) {
		t.Fatalf("ephemeral snapshot after a lost index write: %v, want not found", err)
	}
	p, err := s.Check(false)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 1 || !strings.Contains(p[0], "corrupt record") {
		t.Fatalf("check: %v, want the corrupt index", p)
	}
	p, err = s.Check(true)
	if err != nil {
		t.Fatal(err)
	}
	if all := strings.Join(p, "\n"); !strings.Contains(all, "corrupt record") || !strings.Contains(all, "leftover "+eID) {
		t.Fatalf("check --repair: %v", p)
	}
	if _, err := os.Stat(filepath.Join(s.dir, eID)); !os.IsNotExist(err) {
		t.Fatalf("leftover layer %s still there: %v", eID, err)
	}
	if p, err := s.Check(false); err != nil || len(p) != 0 {
		t.Fatalf("check after repair: %v %v", p, err)
	}
	if _, err := s.Mounts("d"); err != nil {
		t.Fatal(err)
	}
}

// TestLeftoverStillMounted: an ephemeral layer an index lost while its
// container still runs (mounted) is not taken for a leftover until it is
// unmounted.
func TestLeftoverStillMounted(t *testing.T) {
	requireRoot(t)
	s := openStore(t)
	base := apply(t, s, "", layer1(t))
	ms, err := s.Prepare("e", base.ChainID, Ephemeral())
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := s.loadIndex()
	dir := filepath.Join(s.dir, idx.Active["e"].ID)
	root := t.TempDir()
	if err := mount.All(ms, root); err != nil {
		t.Fatal(err)
	}
	defer mount.Unmount(root)
	if err := os.Truncate(filepath.Join(s.dir, indexFile), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Check(true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, fsDir, "bin", "sh")); err == nil {
		t.Fatal("the lower shows through the upper dir: test is wrong")
	}
	if _, err := os.Stat(filepath.Join(root, "bin", "sh")); err != nil {
		t.Fatalf("the mounted rootfs lost its files: %v", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("check --repair removed the layer of a mounted rootfs: %v", err)
	}
	if err := mount.Unmount(root); err != nil {
		t.Fatal(err)
	}
	p, err := s.Check(true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(p, "\n"), "leftover "+filepath.Base(dir)) {
		t.Fatalf("check --repair after the unmount: %v, want the leftover", p)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("leftover still there after the unmount: %v", err)
	}
}
