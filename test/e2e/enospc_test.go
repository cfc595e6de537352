package e2e

import (
	"archive/tar"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
)

// The resource-exhaustion suite (issue 6): a store on a small filesystem
// that fills up mid-pull, mid-build, mid-import and at create. Each case
// checks that ENOSPC is reported plainly, that nothing half-written is
// committed (no blob, no snapshot, no image, no container), that the space
// comes back, and that the same operation succeeds once space is freed.

// smallFSEnv is an Env whose --root (data and run dirs alike, see
// internal/root) is a freshly made ext4 filesystem of sizeMiB, loop-mounted
// over the env's root directory. The mount goes in t.Cleanup, before the
// env's leak check runs; anything still mounted under it is a leak.
func smallFSEnv(t *testing.T, sizeMiB int) *Env {
	t.Helper()
	e := newEnv(t)
	img := filepath.Join(t.TempDir(), "fs.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(int64(sizeMiB) << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// -m 0: no blocks reserved for root (berth runs as root and would use
	// them anyway, which only blurs the figures).
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-m", "0", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	// -o loop sets the loop device's autoclear flag: the device goes with
	// the last unmount, even a lazy one.
	if out, err := exec.Command("mount", "-o", "loop", img, e.Root).CombinedOutput(); err != nil {
		t.Fatalf("mount %s: %v\n%s", img, err, out)
	}
	if err := os.Chmod(e.Root, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var inner []string
		for _, m := range mountsUnder(e.Root) {
			if m != e.Root {
				inner = append(inner, m)
			}
		}
		if len(inner) > 0 {
			t.Errorf("leak: mounts under %s:\n  %s", e.Root, strings.Join(inner, "\n  "))
			sort.Sort(sort.Reverse(sort.StringSlice(inner)))
			for _, m := range inner {
				_ = syscall.Unmount(m, syscall.MNT_DETACH)
			}
		}
		if err := syscall.Unmount(e.Root, 0); err != nil {
			t.Errorf("unmount small fs %s: %v", e.Root, err)
			_ = syscall.Unmount(e.Root, syscall.MNT_DETACH)
		}
	})
	return e
}

// warmUp imports busybox and runs a container in the foreground and one
// detached, so that what berth writes once per root (the container init
// and shim binaries, the seccomp profile, the network state) is there
// before a baseline is taken.
func (e *Env) warmUp() {
	e.t.Helper()
	e.MustRun("run", "--rm", e.BusyboxImage(), "true")
	e.MustRun("run", "-d", "--name", "warmup", BusyboxRef, "true")
	e.MustRun("wait", "warmup")
	e.MustRun("rm", "warmup")
}

// freeBytes is the space left for berth (root) on the env's filesystem.
func (e *Env) freeBytes() int64 {
	e.t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(e.Root, &st); err != nil {
		e.t.Fatal(err)
	}
	return int64(st.Bfree) * st.Bsize
}

// fill writes a filler file that leaves about leave bytes free, and
// returns its path. Its blocks are really allocated (not sparse).
func (e *Env) fill(name string, leave int64) string {
	e.t.Helper()
	p := filepath.Join(e.Root, name)
	n := e.freeBytes() - leave
	if n <= 0 {
		e.t.Fatalf("fill: only %d bytes free, want to leave %d", e.freeBytes(), leave)
	}
	f, err := os.Create(p)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, n); err != nil {
		e.t.Fatalf("fallocate %s: %v", p, err)
	}
	return p
}

// fillAll takes the last free blocks, one at a time (one fallocate of all
// the rest fails for want of room for its own extent tree), into a new
// file it returns open, with its size, for the caller to shrink.
func (e *Env) fillAll(name string) (*os.File, int64) {
	e.t.Helper()
	f, err := os.OpenFile(filepath.Join(e.Root, name), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { f.Close() })
	var size int64
	for syscall.Fallocate(int(f.Fd()), 0, size, 4096) == nil {
		size += 4096
	}
	return f, size
}

// storeState is what the store holds on disk: committed blobs, ingests,
// committed snapshots (by chain ID), active snapshots (by key), and the
// snapshot directories (committed, active, or leftovers).
type storeState struct {
	Blobs, Ingests, Chains, Active, SnapDirs []string
}

func (e *Env) storeState() storeState {
	e.t.Helper()
	var s storeState
	names := func(dir string) []string {
		ents, _ := os.ReadDir(dir)
		var out []string
		for _, ent := range ents {
			out = append(out, ent.Name())
		}
		sort.Strings(out)
		return out
	}
	for _, b := range names(filepath.Join(e.Root, "content", "blobs", "sha256")) {
		s.Blobs = append(s.Blobs, "sha256:"+b)
	}
	s.Ingests = names(filepath.Join(e.Root, "content", "ingest"))
	var idx struct {
		Committed map[string]json.RawMessage `json:"committed"`
		Active    map[string]json.RawMessage `json:"active"`
	}
	if b, err := os.ReadFile(filepath.Join(e.Root, "snapshots", "index.json")); err == nil {
		if err := json.Unmarshal(b, &idx); err != nil {
			e.t.Fatalf("snapshots/index.json: %v", err)
		}
	}
	for c := range idx.Committed {
		s.Chains = append(s.Chains, c)
	}
	for k := range idx.Active {
		s.Active = append(s.Active, k)
	}
	sort.Strings(s.Chains)
	sort.Strings(s.Active)
	for _, d := range names(filepath.Join(e.Root, "snapshots")) {
		switch d {
		case "index.json", "lock", "empty":
			continue
		}
		s.SnapDirs = append(s.SnapDirs, d)
	}
	return s
}

func (s storeState) String() string {
	return fmt.Sprintf("blobs %v\ningests %v\nchains %v\nactive %v\nsnapshot dirs %v", s.Blobs, s.Ingests, s.Chains, s.Active, s.SnapDirs)
}

func sameState(a, b storeState) bool { return a.String() == b.String() }

// mustCheckClean runs `system check` and fails on any problem it reports.
func (e *Env) mustCheckClean(when string) {
	e.t.Helper()
	r := e.Run("system", "check")
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "ok" {
		e.t.Errorf("%s: system check not clean:\n%s", when, r)
	}
}

// wantENOSPC checks that r failed with one plain line naming the error.
func wantENOSPC(t *testing.T, r Result, what string) {
	t.Helper()
	if r.Code == 0 {
		t.Fatalf("%s: want a failure on a full disk:\n%s", what, r)
	}
	if !strings.Contains(r.Stderr, "no space left on device") {
		t.Errorf("%s: stderr does not say \"no space left on device\":\n%s", what, r)
	}
	// One line (run adds Docker's "See 'docker run --help'." under it; a
	// failed build -q shows its progress first, as Docker's CLI does).
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(r.Stderr), "\n") {
		if !strings.HasPrefix(l, "See '") && !strings.HasPrefix(l, "Step ") && !strings.HasPrefix(l, " ---> ") &&
			!strings.HasPrefix(l, "Removing intermediate container ") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 {
		t.Errorf("%s: want one line of error, got %d:\n%s", what, len(lines), r.Stderr)
	}
	if strings.Contains(r.Stderr, "goroutine ") || strings.Contains(r.Stderr, "panic") {
		t.Errorf("%s: crash instead of an error:\n%s", what, r)
	}
	t.Logf("%s: %s", what, strings.TrimSpace(r.Stderr))
}

// wantFreeBack checks that the filesystem has about as much free space as
// at baseline: a few blocks of slack for directories and logs that remain.
func (e *Env) wantFreeBack(when string, baseline int64) {
	e.t.Helper()
	const slack = 512 << 10
	if got := e.freeBytes(); got < baseline-slack {
		du, _ := exec.Command("du", "-k", "-d", "3", "--exclude=filler*", e.Root).Output()
		e.t.Errorf("%s: %d bytes free, baseline %d: %d bytes not reclaimed\n%s\ndu -k:\n%s",
			when, got, baseline, baseline-got, e.storeState(), du)
	}
}

func TestENOSPCPull(t *testing.T) {
	e := smallFSEnv(t, 128)
	reg := startFakeRegistry(t)
	// 24 MiB of random bytes: the compressed blob is as big as the layer,
	// and both are stored (blob + unpacked snapshot), ~52 MiB in all.
	const bigSize = 24 << 20
	big := makeTestImage(t, bigSize)
	reg.addImage("big/img", "v1", big)
	ref := reg.Host() + "/big/img:v1"
	e.BusyboxImage()
	filler := e.fill("filler", 30<<20)
	before := e.storeState()
	baseline := e.freeBytes()
	t.Logf("baseline free: %d", baseline)

	r := e.Run("pull", ref)
	wantENOSPC(t, r, "pull")
	e.mustCheckClean("after the failed pull")
	// Nothing of the failed pull stays: no half-written ingest, no
	// snapshot, not even the whole blobs (the space is what is lacking).
	if after := e.storeState(); !sameState(before, after) {
		t.Errorf("failed pull left state behind:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if out := e.MustRun("images", "-q", "--no-trunc").Stdout; strings.Contains(out, big.configDigest.String()) {
		t.Errorf("the failed pull is listed:\n%s", out)
	}
	e.wantFreeBack("after the failed pull", baseline)
	e.MustRun("system", "prune", "-f")
	e.wantFreeBack("after system prune", baseline)
	if got := e.storeState(); !sameState(before, got) {
		t.Errorf("system prune did not restore the store:\nbefore:\n%s\nafter:\n%s", before, got)
	}

	// Space freed: the same pull succeeds and the image runs.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	t.Logf("free after removing the filler: %d", e.freeBytes())
	e.MustRun("pull", ref)
	out := e.MustRun("run", "--rm", ref, "sh", "-c", "wc -c < /big.bin").Stdout
	if strings.TrimSpace(out) != fmt.Sprint(bigSize) {
		t.Errorf("pulled image: /big.bin has %q bytes", out)
	}
	e.mustCheckClean("after the pull")
}

// TestENOSPCPullIngest fills the disk so far that the pull fails while the
// layer blob itself is still being downloaded.
func TestENOSPCPullIngest(t *testing.T) {
	e := smallFSEnv(t, 64)
	reg := startFakeRegistry(t)
	big := makeTestImage(t, 16<<20)
	reg.addImage("big/img", "v1", big)
	ref := reg.Host() + "/big/img:v1"
	e.BusyboxImage()
	e.fill("filler", 6<<20)
	before := e.storeState()
	baseline := e.freeBytes()
	wantENOSPC(t, e.Run("pull", ref), "pull")
	e.mustCheckClean("after the failed pull")
	if after := e.storeState(); !sameState(before, after) {
		t.Errorf("failed pull left state behind:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	e.wantFreeBack("after the failed pull", baseline)
	e.MustRun("system", "prune", "-f")
	e.wantFreeBack("after system prune", baseline)
	if got := e.storeState(); !sameState(before, got) {
		t.Errorf("system prune did not restore the store:\nbefore:\n%s\nafter:\n%s", before, got)
	}
}

// imageIDs is `images -a -q --no-trunc`: every image, intermediates too.
func (e *Env) imageIDs() string {
	e.t.Helper()
	return e.MustRun("images", "-a", "-q", "--no-trunc").Stdout
}

// wantNothingNew checks the store against before after a failed operation:
// no new blob, ingest, snapshot or image; the space back within slack.
func (e *Env) wantNothingNew(when string, before storeState, images string, baseline int64) {
	e.t.Helper()
	e.mustCheckClean(when)
	if got := e.storeState(); !sameState(before, got) {
		e.t.Errorf("%s: the store changed:\nbefore:\n%s\nafter:\n%s", when, before, got)
	}
	if got := e.imageIDs(); got != images {
		e.t.Errorf("%s: images changed:\nbefore:\n%s\nafter:\n%s", when, images, got)
	}
	if out := e.MustRun("ps", "-a", "-q").Stdout; strings.TrimSpace(out) != "" {
		e.t.Errorf("%s: containers left:\n%s", when, out)
	}
	// No build sandbox, bundle or lease of the failed operation.
	for _, d := range []string{"run/build", "run/bundles", "run/leases"} {
		ents, _ := os.ReadDir(filepath.Join(e.Root, d))
		for _, ent := range ents {
			if ent.Name() != "tmp" {
				e.t.Errorf("%s: %s/%s left", when, d, ent.Name())
			}
		}
	}
	if m := mountsUnder(filepath.Join(e.Root, "run")); len(m) > 0 {
		e.t.Errorf("%s: mounts left: %v", when, m)
	}
	e.wantFreeBack(when, baseline)
}

func TestENOSPCBuild(t *testing.T) {
	e := smallFSEnv(t, 128)
	e.warmUp()
	filler := e.fill("filler", 30<<20)
	before, images, baseline := e.storeState(), e.imageIDs(), e.freeBytes()

	build := func(name, dockerfile string, files map[string]int64) Result {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
			t.Fatal(err)
		}
		for f, size := range files {
			// Random bytes, not zeros: nothing on the way may compress
			// or punch holes into them.
			data := make([]byte, size)
			rand.Read(data)
			if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return e.Run("build", "-t", name, dir)
	}

	// The RUN itself hits the full disk: Docker reports the command's
	// failure, and dd says why.
	r := build("full-run:1", "FROM "+BusyboxRef+"\nRUN dd if=/dev/zero of=/big bs=1M count=200\n", nil)
	if r.Code == 0 || !strings.Contains(r.Stderr, "returned a non-zero code") ||
		!strings.Contains(r.Stdout+r.Stderr, "No space left on device") {
		t.Errorf("RUN on a full disk: want the command's failure and dd's message:\n%s", r)
	}
	e.wantNothingNew("after the failed RUN", before, images, baseline)

	// The RUN fits (20 MiB in its upper dir) but its layer blob does not.
	r = build("full-commit:1", "FROM "+BusyboxRef+"\nRUN dd if=/dev/urandom of=/big bs=1M count=20\n", nil)
	wantENOSPC(t, r, "build commit")
	e.wantNothingNew("after the failed commit", before, images, baseline)

	// COPY of a context file bigger than the free space.
	r = build("full-copy:1", "FROM "+BusyboxRef+"\nCOPY big /big\n", map[string]int64{"big": 40 << 20})
	wantENOSPC(t, r, "build COPY")
	e.wantNothingNew("after the failed COPY", before, images, baseline)

	// Space freed: the same builds succeed.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	r = build("full-run:1", "FROM "+BusyboxRef+"\nRUN dd if=/dev/zero of=/big bs=1M count=20\n", nil)
	if r.Code != 0 {
		t.Fatalf("build after freeing space:\n%s", r)
	}
	if out := e.MustRun("run", "--rm", "full-run:1", "sh", "-c", "wc -c < /big").Stdout; strings.TrimSpace(out) != fmt.Sprint(20<<20) {
		t.Errorf("built image: /big has %q bytes", out)
	}
}

func TestENOSPCImport(t *testing.T) {
	e := smallFSEnv(t, 96)
	e.BusyboxImage()
	// A tar with one 32 MiB file of random bytes, on the big disk.
	tarPath := filepath.Join(t.TempDir(), "big.tar")
	f, err := os.Create(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	const size = 32 << 20
	tw.WriteHeader(&tar.Header{Name: "big.bin", Mode: 0o644, Size: size, Typeflag: tar.TypeReg})
	if _, err := io.CopyN(tw, rand.Reader, size); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	f.Close()
	filler := e.fill("filler", 20<<20)
	before, images, baseline := e.storeState(), e.imageIDs(), e.freeBytes()
	wantENOSPC(t, e.Run("import", tarPath, "big:1"), "import")
	e.wantNothingNew("after the failed import", before, images, baseline)
	os.Remove(filler)
	e.MustRun("import", tarPath, "big:1")
	e.mustCheckClean("after the import")

	// load of the same image, saved to the big disk, on a full one.
	saved := filepath.Join(t.TempDir(), "saved.tar")
	e.MustRun("save", "-o", saved, "big:1")
	e.MustRun("rmi", "big:1")
	e.fill("filler", 20<<20)
	before, images, baseline = e.storeState(), e.imageIDs(), e.freeBytes()
	wantENOSPC(t, e.Run("load", "-i", saved), "load")
	e.wantNothingNew("after the failed load", before, images, baseline)
}

// TestENOSPCCreate fills the disk to the last block, then frees it a few
// blocks at a time: create and run --rm fail plainly at every step until
// they fit, and each failure leaves no container, snapshot or mount behind.
func TestENOSPCCreate(t *testing.T) {
	e := smallFSEnv(t, 32)
	e.warmUp()
	filler := e.fill("filler", 1<<20)
	rest, size := e.fillAll("filler2")
	t.Logf("full: %d bytes free", e.freeBytes())
	for _, args := range [][]string{{"create", "--name", "c1", BusyboxRef, "true"}, {"run", "--rm", BusyboxRef, "true"}} {
		what := args[0]
		for step := 0; ; step++ {
			before, images, baseline := e.storeState(), e.imageIDs(), e.freeBytes()
			r := e.Run(args...)
			if r.Code == 0 {
				t.Logf("%s: fits with %d bytes free, after %d failures", what, baseline, step)
				if what == "create" {
					e.MustRun("rm", "c1")
				}
				break
			}
			wantENOSPC(t, r, fmt.Sprintf("%s with %d bytes free", what, baseline))
			e.wantNothingNew(fmt.Sprintf("after the failed %s with %d bytes free", what, baseline), before, images, baseline)
			if t.Failed() || size == 0 {
				t.FailNow()
			}
			size = max(0, size-4096)
			if err := rest.Truncate(size); err != nil {
				t.Fatal(err)
			}
		}
	}
	os.Remove(filler)
	if out := e.MustRun("run", "--rm", BusyboxRef, "echo", "hi").Stdout; strings.TrimSpace(out) != "hi" {
		t.Errorf("run after freeing space: %q", out)
	}
}

// TestENOSPCRecover is the usual way a disk fills: a container writes until
// nothing is left. Removing it (and pruning) must still work on the full
// disk and give the space back.
func TestENOSPCRecover(t *testing.T) {
	e := smallFSEnv(t, 64)
	e.warmUp()
	e.MustRun("tag", BusyboxRef, "spare:1")
	before, baseline := e.storeState(), e.freeBytes()
	r := e.Run("run", "--name", "hog", BusyboxRef, "sh", "-c", "dd if=/dev/zero of=/fill bs=1M; sync; echo done")
	if !strings.Contains(r.Stdout+r.Stderr, "No space left on device") {
		t.Errorf("dd in the container did not fill the disk:\n%s", r)
	}
	// And whatever dd could not take.
	rest, _ := e.fillAll("filler")
	rest.Close()
	t.Logf("full: %d bytes free", e.freeBytes())
	// commit of the full container: no room for its lease at all, and,
	// with a little room, none for its layer.
	full, images := e.storeState(), e.imageIDs()
	for _, room := range []bool{false, true} {
		if room {
			os.Remove(filepath.Join(e.Root, "filler"))
		}
		wantENOSPC(t, e.Run("commit", "hog", "hog:1"), fmt.Sprintf("commit (room for a start: %v)", room))
		if got := e.storeState(); !sameState(full, got) {
			t.Errorf("failed commit changed the store:\nbefore:\n%s\nafter:\n%s", full, got)
		}
		if got := e.imageIDs(); got != images {
			t.Errorf("failed commit made an image:\n%s", got)
		}
		if ents, _ := os.ReadDir(filepath.Join(e.Root, "run", "leases")); len(ents) > 0 {
			t.Errorf("failed commit left a lease: %v", ents)
		}
	}
	rest, _ = e.fillAll("filler")
	rest.Close()
	// rm gives the space back; rmi of a tag frees nothing, it only needs
	// some room afterwards (references are rewritten whole, as Docker's).
	if r := e.Run("rm", "-f", "hog"); r.Code != 0 {
		t.Errorf("rm on a full disk:\n%s", r)
	}
	e.MustRun("rmi", "spare:1")
	os.Remove(filepath.Join(e.Root, "filler"))
	e.mustCheckClean("after freeing")
	if got := e.storeState(); !sameState(before, got) {
		t.Errorf("store after rm:\nbefore:\n%s\nafter:\n%s", before, got)
	}
	e.wantFreeBack("after rm", baseline)
}

// TestENOSPCPrune: unused images filled the disk to the last block; a
// prune must still run and give their space back (the image store's
// references rewrite uses its reserve, see fsutil.Reserve).
func TestENOSPCPrune(t *testing.T) {
	e := smallFSEnv(t, 64)
	e.warmUp()
	before, baseline := e.storeState(), e.freeBytes()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+BusyboxRef+"\nRUN head -c 8000000 /dev/urandom > /big\n"), 0o644)
	e.MustRun("build", "-q", "-t", "unused:1", dir)
	rest, _ := e.fillAll("filler")
	rest.Close()
	t.Logf("full: %d bytes free", e.freeBytes())
	for _, args := range [][]string{{"image", "prune", "-a", "-f"}, {"system", "prune", "-a", "-f"}} {
		if r := e.Run(args...); r.Code != 0 {
			t.Errorf("on a full disk:\n%s", r)
		}
	}
	os.Remove(filepath.Join(e.Root, "filler"))
	e.mustCheckClean("after the prune")
	if got := e.storeState(); len(got.Chains)+len(got.Blobs)+len(got.SnapDirs) != 0 {
		t.Errorf("store after prune -a:\nbefore:\n%s\nafter:\n%s", before, got)
	}
	e.wantFreeBack("after the prune", baseline)
}

// sweepFull fills the disk to the last block, then gives blocks back a
// few at a time (one block at first, where the small writes fail: leases,
// records, indexes; then 256 KiB) and runs op after each step until it
// succeeds. Every failure must be a plain ENOSPC that leaves the store,
// the images, the containers and the free space as they were.
//
// A multi-step build keeps the images of the steps before the failing one
// (the classic builder's cache, dangling); tidy, when set, runs before
// the comparison to remove them, as `image prune` would.
func (e *Env) sweepFull(what string, op func() Result, tidy func()) {
	t := e.t
	t.Helper()
	f, size := e.fillAll("sweep")
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	for step := 0; ; step++ {
		before, images, baseline := e.storeState(), e.imageIDs(), e.freeBytes()
		r := op()
		if r.Code == 0 {
			t.Logf("%s: fits with %d bytes free, after %d failures", what, baseline, step)
			return
		}
		if strings.Contains(r.Stderr, "returned a non-zero code") {
			// A RUN step's own process met the full disk: Docker reports
			// the command's failure, whatever the command said.
			t.Logf("%s with %d bytes free: %s", what, baseline, lastLine(r.Stderr))
		} else {
			wantENOSPC(t, r, fmt.Sprintf("%s with %d bytes free", what, baseline))
		}
		if tidy != nil {
			tidy()
		}
		e.wantNothingNew(fmt.Sprintf("after the failed %s with %d bytes free", what, baseline), before, images, baseline)
		if t.Failed() || size == 0 {
			t.FailNow()
		}
		give := int64(256 << 10)
		if step < 8 {
			give = 4096
		}
		size = max(0, size-give)
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
	}
}

// TestENOSPCSweep runs pull, import, load and build on a disk that is full and
// then less and less so, to fail at each of their writes in turn.
func TestENOSPCSweep(t *testing.T) {
	e := smallFSEnv(t, 48)
	e.warmUp()
	reg := startFakeRegistry(t)
	reg.addImage("sweep/img", "v1", makeTestImage(t, 0))
	ref := reg.Host() + "/sweep/img:v1"
	e.sweepFull("pull", func() Result { return e.Run("pull", ref) }, nil)
	e.MustRun("run", "--rm", ref, "true")
	// Its own layer (not busybox's): a load of it has everything to write.
	saved := filepath.Join(t.TempDir(), "saved.tar")
	e.MustRun("save", "-o", saved, ref)
	e.MustRun("rmi", ref)
	e.MustRun("system", "prune", "-f")

	e.sweepFull("load", func() Result { return e.Run("load", "-q", "-i", saved) }, nil)
	e.MustRun("run", "--rm", ref, "true")
	e.MustRun("rmi", ref)

	e.sweepFull("import", func() Result { return e.Run("import", busyboxTar(t), "sweep-import:1") }, nil)
	e.MustRun("run", "--rm", "sweep-import:1", "true")
	e.MustRun("rmi", "sweep-import:1")

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+BusyboxRef+"\nRUN head -c 600000 /dev/urandom > /r\nCOPY . /ctx\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "data"), make([]byte, 300000), 0o644)
	e.sweepFull("build", func() Result { return e.Run("build", "-q", "--no-cache", "-t", "sweep-build:1", dir) },
		func() { e.MustRun("image", "prune", "-f") })
	e.MustRun("run", "--rm", "sweep-build:1", "test", "-f", "/ctx/data")
	e.mustCheckClean("after the sweep")
}

// TestENOSPCLogs: a container whose output fills the disk (its json log)
// neither hangs nor takes berth down: it can be stopped, its logs read up
// to where the disk was full, and removing it gives the space back.
func TestENOSPCLogs(t *testing.T) {
	e := smallFSEnv(t, 48)
	e.warmUp()
	before, baseline := e.storeState(), e.freeBytes()
	// Most of the disk is taken already: the log has only the rest to fill.
	filler := e.fill("filler", 3<<20)
	e.RunDetached("chatty", BusyboxRef, "sh", "-c", "while :; do echo 0123456789012345678901234567890123456789012345678901234567890123456789; done")
	e.Eventually("the log to fill the disk", func() bool { return e.freeBytes() < 2<<20 })
	// Whatever the log writer has not taken yet, so that the disk is full
	// for certain when the container is stopped.
	rest, _ := e.fillAll("filler2")
	rest.Close()
	// Still under control: inspect, logs, stop, rm.
	if st := e.Inspect("chatty", "{{.State.Status}}"); st != "running" {
		t.Errorf("chatty after the disk filled: %s", st)
	}
	if r := e.Run("logs", "--tail", "1", "chatty"); r.Code != 0 || !strings.Contains(r.Stdout, "0123456789") {
		t.Errorf("logs on a full disk:\n%s", r)
	}
	e.MustRun("stop", "-t", "1", "chatty")
	e.MustRun("rm", "chatty")
	os.Remove(filler)
	os.Remove(rest.Name())
	e.mustCheckClean("after rm")
	if got := e.storeState(); !sameState(before, got) {
		t.Errorf("store after rm:\nbefore:\n%s\nafter:\n%s", before, got)
	}
	e.wantFreeBack("after rm", baseline)
}
