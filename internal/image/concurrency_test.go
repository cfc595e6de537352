package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/root"
)

// TestConcurrentImportsWithGC: goroutines import (some the very same tar),
// tag and untag while GC runs in a loop; nothing may be lost and nothing
// an image references may be collected.
func TestConcurrentImportsWithGC(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	shared := smallTar(t, "shared", "same bytes for everyone")
	var wg sync.WaitGroup
	var stop atomic.Bool
	errs := make(chan error, 64)
	gcDone := make(chan int)
	go func() {
		n := 0
		for !stop.Load() {
			if _, err := e.is.GC(nil); err != nil {
				errs <- fmt.Errorf("gc: %w", err)
			}
			n++
		}
		gcDone <- n
	}()
	const n = 8
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := smallTar(t, "f", fmt.Sprint("unique ", i))
			if i%2 == 0 {
				data = shared
			}
			img, err := e.is.Import(ctx, bytes.NewReader(data), ImportOptions{Ref: fmt.Sprintf("conc:%d", i)})
			if err != nil {
				errs <- err
				return
			}
			if err := e.is.Tag(img.ID, fmt.Sprintf("extra%d", i)); err != nil {
				errs <- err
			}
			if err := e.is.Tag(img.ID, fmt.Sprintf("gone%d", i)); err != nil {
				errs <- err
			}
			if _, err := e.is.Remove(fmt.Sprintf("gone%d", i), RemoveOptions{}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	stop.Store(true)
	rounds := <-gcDone
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d GC rounds ran during the imports", rounds)
	for i := 0; i < n; i++ {
		for _, ref := range []string{fmt.Sprintf("conc:%d", i), fmt.Sprintf("extra%d", i)} {
			if _, err := e.is.Get(ref); err != nil {
				t.Errorf("lost %s: %v", ref, err)
			}
		}
		if _, err := e.is.Get(fmt.Sprintf("gone%d", i)); err == nil {
			t.Errorf("gone%d survived its removal", i)
		}
	}
	if _, err := e.is.GC(nil); err != nil {
		t.Fatal(err)
	}
	e.mustCheck(t)
}

// TestMultiProcess: several processes import and tag in the same root at
// once; every record and every reference must survive.
func TestMultiProcess(t *testing.T) {
	if dir := os.Getenv("IMAGE_HELPER_ROOT"); dir != "" {
		multiProcessHelper(t, dir)
		return
	}
	e := newEnv(t)
	const procs, each = 4, 3
	var cmds []*exec.Cmd
	for p := 0; p < procs; p++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMultiProcess$")
		cmd.Env = append(os.Environ(), "IMAGE_HELPER_ROOT="+e.root.Lib, "IMAGE_HELPER_N="+strconv.Itoa(p))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
		cmds = append(cmds, cmd)
		defer func() {
			if t.Failed() {
				t.Logf("helper %d: %s", p, out.String())
			}
		}()
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("helper: %v", err)
		}
	}
	imgs, err := e.is.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != procs*each {
		t.Fatalf("%d images, want %d", len(imgs), procs*each)
	}
	for p := 0; p < procs; p++ {
		for i := 0; i < each; i++ {
			for _, ref := range []string{fmt.Sprintf("p%d:%d", p, i), fmt.Sprintf("all:p%d-%d", p, i)} {
				if _, err := e.is.Get(ref); err != nil {
					t.Errorf("lost %s: %v", ref, err)
				}
			}
		}
	}
	e.mustCheck(t)
}

func multiProcessHelper(t *testing.T, dir string) {
	e := openEnv(t, root.New(dir))
	p := os.Getenv("IMAGE_HELPER_N")
	for i := 0; i < 3; i++ {
		img, err := e.is.Import(context.Background(), bytes.NewReader(smallTar(t, "f", p+"/"+strconv.Itoa(i))),
			ImportOptions{Ref: fmt.Sprintf("p%s:%d", p, i)})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.is.Tag(img.ID, fmt.Sprintf("all:p%s-%d", p, i)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.is.GC(nil); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLeaseProtectsFromGC: what a live lease names survives GC; once the
// lease is released (or its process dies) it is garbage.
func TestLeaseProtectsFromGC(t *testing.T) {
	e := newEnv(t)
	l, err := e.is.NewLease()
	if err != nil {
		t.Fatal(err)
	}
	blob := []byte("in flight")
	d := digest.FromBytes(blob)
	if err := l.Add(d); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cs.WriteBlob(blob, d); err != nil {
		t.Fatal(err)
	}
	if _, err := e.is.GC(nil); err != nil {
		t.Fatal(err)
	}
	if !e.cs.Exists(d) {
		t.Fatal("GC took a leased blob")
	}
	l.Release()
	if _, err := e.is.GC(nil); err != nil {
		t.Fatal(err)
	}
	if e.cs.Exists(d) {
		t.Fatal("released blob survived GC")
	}
}

// TestKilledImport: an import SIGKILLed mid-stream leaves a stale lease, an
// ingest and maybe a half-unpacked snapshot; the next GC clears them and
// the same import then succeeds.
func TestKilledImport(t *testing.T) {
	if dir := os.Getenv("IMAGE_KILL_ROOT"); dir != "" {
		e := openEnv(t, root.New(dir))
		e.is.Import(context.Background(), os.Stdin, ImportOptions{Ref: "victim"})
		return
	}
	e := newEnv(t)
	data := busyboxTar(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledImport$")
	cmd.Env = append(os.Environ(), "IMAGE_KILL_ROOT="+e.root.Lib)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	// Feed half the tar, wait until the helper has written some of it.
	if _, err := stdin.Write(data[:len(data)/2]); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ing, _ := e.cs.ListIngests()
		if len(ing) == 1 && ing[0].Offset > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("helper never started writing")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	leases, _ := os.ReadDir(filepath.Join(e.root.Run, "leases"))
	if len(leases) != 1 {
		t.Fatalf("leases after kill: %v", leases)
	}
	if imgs, _ := e.is.List(); len(imgs) != 0 {
		t.Fatalf("killed import left an image: %v", imgs)
	}
	if _, err := e.is.GC(nil); err != nil {
		t.Fatal(err)
	}
	leases, _ = os.ReadDir(filepath.Join(e.root.Run, "leases"))
	ing, _ := e.cs.ListIngests()
	if len(leases) != 0 || len(ing) != 0 {
		t.Fatalf("after GC: leases %v ingests %v", leases, ing)
	}
	img, err := e.is.Import(context.Background(), io.MultiReader(bytes.NewReader(data)), ImportOptions{Ref: "victim"})
	if err != nil {
		t.Fatal(err)
	}
	if img.RepoTags[0] != "victim:latest" {
		t.Fatal(img.RepoTags)
	}
	e.mustCheck(t)
}

// TestCheckRepair damages a store in the ways a crash or a disk can and
// lets Check find and repair them.
func TestCheckRepair(t *testing.T) {
	e := newEnv(t)
	img := e.importTar(t, busyboxTar(t), "bb")
	other := e.importTar(t, smallTar(t, "o", "other"), "other")
	// A reference to a record that is gone (crash between writes).
	refs, _ := e.is.readRefs()
	refs["docker.io/library/ghost:latest"] = "sha256:" + digestHex("ghost")
	e.is.writeRefs(refs)
	// A missing snapshot (restorable from the layer blob).
	e.snaps.GC(map[digest.Digest]bool{other.TopChainID(): true})
	// A missing config blob: the record is beyond repair.
	e.cs.Delete(other.Digest())

	problems, err := e.is.Check(false)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 4 { // ghost ref, bb snapshot, other config, other's ref
		t.Fatalf("problems: %q", problems)
	}
	if _, err := e.is.Check(true); err != nil {
		t.Fatal(err)
	}
	e.mustCheck(t)
	if _, err := e.is.Get("bb"); err != nil {
		t.Fatalf("repaired image: %v", err)
	}
	if _, err := e.snaps.Stat(img.TopChainID()); err != nil {
		t.Fatalf("snapshot not restored: %v", err)
	}
	if _, err := e.is.Get("other"); err == nil {
		t.Fatal("broken image still listed")
	}
}

func digestHex(s string) string { return digest.FromString(s).Encoded() }

// TestCommitOnCallersLeaseSurvivesRmi: a build commits each step onto its
// own lease; a concurrent rmi may delete the new, untagged image (pruned
// with a child it is the parent of) and GC before the build tags it. The
// lease keeps blobs and layers, and Register puts the record back with
// the build's tags (Tagged: LastTagTime set, as Tag does).
func TestCommitOnCallersLeaseSurvivesRmi(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	base := e.importTar(t, busyboxTar(t), "base")
	lease, err := e.is.NewLease()
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	step, err := e.is.Commit(ctx, CommitOptions{Parent: base, Layer: bytes.NewReader(smallTar(t, "step", "built")), Lease: lease})
	if err != nil {
		t.Fatal(err)
	}
	// Another image on top of the step, then its rmi: the untagged step
	// goes with it, and GC runs.
	child, err := e.is.Commit(ctx, CommitOptions{Parent: step, Layer: bytes.NewReader(smallTar(t, "child", "x")), Ref: "doomed"})
	if err != nil {
		t.Fatal(err)
	}
	deleted, err := e.is.Remove("doomed", RemoveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(deleted) != 3 || deleted[1].Deleted != child.ID || deleted[2].Deleted != step.ID {
		t.Fatalf("rmi doomed: %+v, want untag, delete child, delete the step", deleted)
	}
	if _, err := e.is.GC(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.is.Get(step.ID); err == nil {
		t.Fatal("the step survived the rmi: the test no longer tests the race")
	}
	got, err := e.is.Register(ctx, RegisterOptions{ManifestDigest: step.ManifestDigest, Refs: []string{"built:latest"}, Parent: step.Parent, Tagged: true})
	if err != nil {
		t.Fatalf("register the leased step again: %v", err)
	}
	if got.ID != step.ID || got.Parent != base.ID || got.LastTagTime.IsZero() || len(got.RepoTags) != 1 || got.RepoTags[0] != "built:latest" {
		t.Fatalf("restored image: %+v", got)
	}
	lease.Release()
	if _, err := e.is.GC(nil); err != nil {
		t.Fatal(err)
	}
	e.mustCheck(t)
	if _, err := e.snaps.Stat(got.TopChainID()); err != nil {
		t.Fatalf("restored image's layer: %v", err)
	}
}

// TestGetOfImageRemovedMidLookup: a lookup that read the record before a
// concurrent rmi deleted it and GC took its blobs says "No such image", as
// a lookup after the rmi would; a blob missing under a live record is not
// hidden that way.
func TestGetOfImageRemovedMidLookup(t *testing.T) {
	e := newEnv(t)
	img := e.importTar(t, smallTar(t, "f", "x"), "gone")
	rec, err := e.is.readRecord(img.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cs.Delete(rec.ManifestDigest); err != nil {
		t.Fatal(err)
	}
	if _, err := e.is.Get(img.ID); err == nil || errors.As(err, new(*NotFoundError)) {
		t.Fatalf("Get with the manifest missing under a live record = %v, want a damage error", err)
	}
	// Now the record goes too, as an rmi's would before its GC.
	if err := os.Remove(e.is.recordPath(img.ID)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.is.load(img.ID, nil); !errors.As(err, new(*NotFoundError)) {
		t.Fatalf("load of an image removed meanwhile = %v, want No such image", err)
	}
}
