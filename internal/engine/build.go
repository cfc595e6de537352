package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/build"
	"github.com/berth/berth/internal/buildcontext"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/failpoint"
	"github.com/berth/berth/internal/fsutil"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/mount"
	"github.com/berth/berth/internal/runtime"
	"github.com/berth/berth/internal/snapshot"
	"github.com/berth/berth/internal/spec"
)

// BuildOptions are docker build's flags.
type BuildOptions struct {
	Context    string    // CONTEXT: a directory, or "-" for stdin
	Stdin      io.Reader // the tar or bare Dockerfile when Context or Dockerfile is "-"
	Dockerfile string    // -f: "", a path, or "-"
	Tags       []string
	BuildArgs  map[string]*string
	Target     string
	NoCache    bool
	Pull       bool
	Labels     map[string]string
	Network    string // bridge (Docker's default) | host | none
	Platform   string
	// SourceDateEpoch is $SOURCE_DATE_EPOCH, read by the CLI.
	SourceDateEpoch *time.Time
	Out             io.Writer // progress and RUN output
}

// Build builds the image the Dockerfile describes and tags it. Nothing is
// tagged when any step fails, and no sandbox of the build outlives it.
func (e *Engine) Build(ctx context.Context, o BuildOptions) (*image.Image, error) {
	var tags []string
	for _, t := range o.Tags {
		ref, err := image.ParseTag(t)
		if err != nil {
			return nil, fmt.Errorf("invalid argument %q for \"-t, --tag\" flag: %w", t, err)
		}
		tags = append(tags, ref.String())
	}
	if o.Network == "" || o.Network == "default" {
		o.Network = "bridge"
	}
	if strings.HasPrefix(o.Network, "container:") {
		return nil, fmt.Errorf("network mode %s is not supported for builds: %w", o.Network, errdefs.ErrInvalid)
	}
	e.sweepSandboxes()
	tmp := filepath.Join(e.buildRunDir(), "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, err
	}
	x := &buildExec{e: e}
	defer x.release()
	img, err := build.Build(ctx, build.Options{
		Context: buildcontext.LoadOptions{
			Path: o.Context, Stdin: o.Stdin, Dockerfile: o.Dockerfile,
			CacheDir: filepath.Join(e.Root.Lib, "build", "context-cache"), TempDir: tmp,
		},
		BuildArgs: o.BuildArgs, Target: o.Target, NoCache: o.NoCache, Pull: o.Pull,
		Labels: o.Labels, Network: o.Network, Platform: o.Platform,
		SourceDateEpoch: o.SourceDateEpoch,
		CacheDir:        filepath.Join(e.Root.Lib, "build", "cache"),
		Out:             o.Out,
	}, x)
	if err != nil {
		return nil, err
	}
	retagged := false
	for _, t := range tags {
		// A cached rebuild usually ends on the image the tag already
		// names: leave the store alone (no lock, no fsync), as Docker's
		// reference store does.
		if slices.Contains(img.RepoTags, image.FamiliarString(t)) {
			continue
		}
		failpoint.Hit("build.before-tag")
		if err := e.Images.Tag(img.ID, t); err != nil {
			if errdefs.IsNotFound(err) {
				return x.restore(ctx, img, tags)
			}
			return nil, err
		}
		retagged = true
	}
	if retagged {
		return e.Images.Get(img.ID)
	}
	if len(tags) == 0 {
		if _, err := e.Images.Get(img.ID); errdefs.IsNotFound(err) {
			return x.restore(ctx, img, nil)
		}
	}
	return img, nil
}

// restore puts back the image a build ended on after a concurrent rmi
// removed it — an untagged image (a cache hit on another image's parent,
// or a step just committed) goes with the image it is the parent of. Its
// blobs and layers are still on the build's lease, so the record comes
// back with the build's tags in one step, under the store lock.
func (x *buildExec) restore(ctx context.Context, img *image.Image, tags []string) (*image.Image, error) {
	return x.e.Images.Register(ctx, image.RegisterOptions{ManifestDigest: img.ManifestDigest, Refs: tags, Parent: img.Parent, Tagged: len(tags) > 0})
}

// buildRunDir holds the build sandboxes (RUN/build/<id>): never under
// bundles/, which belongs to containers and is swept as stale there.
func (e *Engine) buildRunDir() string { return filepath.Join(e.Root.Run, "build") }

// buildExec is the engine side of a build: images from the store, and
// throwaway sandboxes (no container record, not in ps) for RUN, COPY and
// WORKDIR. Every image the build stands on is held on one lease until the
// build ends, so a concurrent rmi + GC cannot take the blobs and layers of
// a step the next step builds on.
type buildExec struct {
	e     *Engine
	lease *image.Lease
}

var _ build.Executor = (*buildExec)(nil)

// getLease is the build's lease, started on first use.
func (x *buildExec) getLease() (*image.Lease, error) {
	if x.lease == nil {
		l, err := x.e.Images.NewLease()
		if err != nil {
			return nil, err
		}
		x.lease = l
	}
	return x.lease, nil
}

// hold puts an existing image's blobs and layers on the build's lease, then
// looks the image up again: a concurrent rmi + GC may have taken them
// between the first lookup and the lease (see Lease.Add), and then the
// image is gone for this build too (a cache miss, or FROM not found).
func (x *buildExec) hold(img *image.Image, err error) (*image.Image, error) {
	if err != nil || img == nil {
		return img, err
	}
	lease, err := x.getLease()
	if err != nil {
		return nil, err
	}
	ds := append([]digest.Digest{img.Digest(), img.ManifestDigest}, img.ChainIDs...)
	for _, l := range img.Layers {
		ds = append(ds, l.Digest)
	}
	if err := lease.Add(ds...); err != nil {
		return nil, err
	}
	if _, err := x.e.Images.Get(img.ID); err != nil {
		return nil, err
	}
	return img, nil
}

func (x *buildExec) release() { x.lease.Release() }

func (x *buildExec) BaseImage(ctx context.Context, ref string, o build.BaseOptions) (*image.Image, error) {
	return x.hold(x.e.ResolveImage(ctx, ref, PullOptions{Always: o.Pull, Platform: o.Platform, Out: o.Out}))
}

func (x *buildExec) Image(id string) (*image.Image, error) { return x.hold(x.e.Images.Get(id)) }

// commitOptions describe a step's image, committed onto the build's lease:
// it must outlive the commit until the build ends (see restore).
func (x *buildExec) commitOptions(parent *image.Image, c build.Commit) (image.CommitOptions, error) {
	lease, err := x.getLease()
	if err != nil {
		return image.CommitOptions{}, err
	}
	return image.CommitOptions{
		Parent: parent, Config: c.Config, Author: c.Author, Created: c.Created,
		History: v1.History{CreatedBy: c.CreatedBy, Created: v1.Time{Time: c.Created}, Author: c.Author},
		Lease:   lease,
	}, nil
}

func (x *buildExec) Commit(ctx context.Context, parent *image.Image, c build.Commit) (*image.Image, error) {
	o, err := x.commitOptions(parent, c)
	if err != nil {
		return nil, err
	}
	return x.e.Images.Commit(ctx, o)
}

// sandbox is one build step's writable rootfs: an active snapshot
// "build-<id>" mounted at RUN/build/<id>/rootfs. The flock on
// RUN/locks/build-<id>.lock, taken before anything exists, marks it live;
// sweepSandboxes removes those whose process died.
type sandbox struct {
	e       *Engine
	id      string
	dir     string
	rootfs  string
	lockFD  int
	mounted bool
	started bool
}

func sandboxKey(id string) string { return "build-" + id }

func (e *Engine) sandboxLock(id string) string {
	return filepath.Join(e.Root.Locks(), "build-"+id+".lock")
}

// newSandbox prepares and mounts a writable layer on parent (nil: empty).
func (e *Engine) newSandbox(id string, parent *image.Image, readOnly bool) (_ *sandbox, err error) {
	if id == "" {
		id = build.NewID()
	}
	fd, err := unix.Open(e.sandboxLock(id), unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("build sandbox: %w", err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("build sandbox %s: lock: %w", id[:12], err)
	}
	failpoint.Hit("build.sandbox.after-lock")
	s := &sandbox{e: e, id: id, dir: filepath.Join(e.buildRunDir(), id), lockFD: fd}
	s.rootfs = filepath.Join(s.dir, "rootfs")
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if err := os.MkdirAll(s.rootfs, 0o700); err != nil {
		return nil, err
	}
	var chain digest.Digest
	if parent != nil {
		chain = parent.TopChainID()
	}
	mounts, err := e.Snapshots.Prepare(sandboxKey(id), chain, snapshot.Ephemeral())
	if err != nil {
		return nil, fmt.Errorf("build sandbox: %w", err)
	}
	failpoint.Hit("build.sandbox.after-prepare")
	if readOnly {
		mounts = withOption(mounts, "ro")
	} else {
		// Thrown away after the step: no need to sync on unmount.
		mounts = volatile(mounts)
	}
	if err := mount.All(mounts, s.rootfs); err != nil {
		return nil, fmt.Errorf("build sandbox: mount rootfs: %w", err)
	}
	failpoint.Hit("build.sandbox.after-mount")
	s.mounted = true
	return s, nil
}

func withOption(mounts []mount.Mount, opt string) []mount.Mount {
	out := make([]mount.Mount, len(mounts))
	for i, m := range mounts {
		m.Options = append(append([]string(nil), m.Options...), opt)
		out[i] = m
	}
	return out
}

// unmount detaches the rootfs (idempotent).
func (s *sandbox) unmount() error {
	if !s.mounted {
		return nil
	}
	if err := mount.Unmount(s.rootfs); err != nil {
		return fmt.Errorf("build sandbox: unmount: %w", err)
	}
	s.mounted = false
	return nil
}

// close undoes everything: process state, mount, snapshot, directories,
// lock. Idempotent.
func (s *sandbox) close() {
	if s.started {
		s.e.runtime.Delete(s.id, true)
		s.started = false
	}
	s.unmount()
	s.e.removeSandbox(s.id)
	if s.lockFD >= 0 {
		os.Remove(s.e.sandboxLock(s.id))
		unix.Close(s.lockFD)
		s.lockFD = -1
	}
}

// sandboxAlive reports whether build sandbox id is in use: its process
// holds its lock. A probe of a sandbox being created cannot happen: what
// names it (directory, snapshot, network namespace) exists only once its
// lock is held.
func (e *Engine) sandboxAlive(id string) bool {
	fd, err := unix.Open(e.sandboxLock(id), unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	if err := unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return err == unix.EWOULDBLOCK
	}
	unix.Flock(fd, unix.LOCK_UN)
	return false
}

// removeSandbox removes what a sandbox may have left on disk.
func (e *Engine) removeSandbox(id string) {
	dir := filepath.Join(e.buildRunDir(), id)
	mount.Unmount(filepath.Join(dir, "rootfs"))
	if err := e.Snapshots.Remove(sandboxKey(id)); err != nil && !errdefs.IsNotFound(err) {
		return // still mounted somewhere: leave it for the next sweep
	}
	os.RemoveAll(dir)
}

// sweepSandboxes removes the sandboxes of builds that died (kill -9):
// those whose lock nobody holds. It says what it removed.
func (e *Engine) sweepSandboxes() []string { return e.staleSandboxes(true) }

// staleSandboxes lists (and with remove, removes) the sandboxes of builds
// that died.
func (e *Engine) staleSandboxes(remove bool) []string {
	var fixed []string
	ids := map[string]bool{}
	if ents, err := os.ReadDir(e.buildRunDir()); err == nil {
		for _, ent := range ents {
			if ent.Name() != "tmp" {
				ids[ent.Name()] = true
			}
		}
	}
	if keys, err := e.Snapshots.Active(); err == nil {
		for _, k := range keys {
			if id, ok := strings.CutPrefix(k, "build-"); ok {
				ids[id] = true
			}
		}
	}
	for id := range ids {
		fd, err := unix.Open(e.sandboxLock(id), unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
		if err != nil {
			continue
		}
		if unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) == nil {
			if !remove {
				fixed = append(fixed, "stale build sandbox "+filepath.Join(e.buildRunDir(), id))
				unix.Close(fd)
				continue
			}
			e.runtime.Delete(id, true)
			e.removeSandbox(id)
			os.Remove(e.sandboxLock(id))
			fixed = append(fixed, "stale build sandbox "+filepath.Join(e.buildRunDir(), id))
		}
		unix.Close(fd)
	}
	return fixed
}

// commit turns the sandbox's upper dir into the step's image: a layer if
// anything changed, else a metadata-only image (Docker's empty_layer).
func (s *sandbox) commit(ctx context.Context, o image.CommitOptions, epoch *time.Time) (*image.Image, error) {
	if err := s.unmount(); err != nil {
		return nil, err
	}
	failpoint.Hit("build.commit.after-unmount")
	upper, err := s.e.Snapshots.UpperDir(sandboxKey(s.id))
	if err != nil {
		return nil, err
	}
	if !dirEmpty(upper) {
		pr, pw := io.Pipe()
		go func() {
			pw.CloseWithError(s.e.Snapshots.Diff(ctx, sandboxKey(s.id), pw, archive.TarOptions{SourceDateEpoch: epoch}))
		}()
		defer pr.Close()
		o.Layer = pr
	}
	return s.e.Images.Commit(ctx, o)
}

func dirEmpty(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	names, _ := f.Readdirnames(1)
	return len(names) == 0
}

func (x *buildExec) Write(ctx context.Context, parent *image.Image, fn func(rootfs string) error, c build.Commit) (*image.Image, error) {
	s, err := x.e.newSandbox("", parent, false)
	if err != nil {
		return nil, err
	}
	defer s.close()
	if err := fn(s.rootfs); err != nil {
		return nil, err
	}
	o, err := x.commitOptions(parent, c)
	if err != nil {
		return nil, err
	}
	return s.commit(ctx, o, c.SourceDateEpoch)
}

func (x *buildExec) Mount(ctx context.Context, img *image.Image) (string, func(), error) {
	s, err := x.e.newSandbox("", img, true)
	if err != nil {
		return "", nil, err
	}
	return s.rootfs, s.close, nil
}

// stubPaths are what the runtime creates in a rootfs that lacks them
// (mount points); Docker keeps them in an init layer, so they must not end
// up in the step's layer.
var stubPaths = []string{"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/proc", "/sys", "/dev", "/etc"}

type preStat struct {
	exists bool
	st     unix.Stat_t
}

func statStubs(rootfs string) map[string]preStat {
	out := map[string]preStat{}
	for _, p := range stubPaths {
		var st unix.Stat_t
		err := unix.Lstat(filepath.Join(rootfs, p), &st)
		out[p] = preStat{exists: err == nil, st: st}
	}
	return out
}

// scrubStubs removes from the upper dir the mount points the runtime
// created, and directories copied up only to hold them.
func scrubStubs(upper string, pre map[string]preStat) {
	for _, p := range stubPaths {
		full := filepath.Join(upper, p)
		var st unix.Stat_t
		if unix.Lstat(full, &st) != nil {
			continue
		}
		before := pre[p]
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			if !before.exists && st.Size == 0 {
				os.Remove(full)
			}
		case unix.S_IFDIR:
			if !dirEmpty(full) || isOpaque(full) {
				continue
			}
			if !before.exists || (before.st.Mode == st.Mode && before.st.Uid == st.Uid && before.st.Gid == st.Gid) {
				os.Remove(full)
			}
		}
	}
}

func isOpaque(dir string) bool {
	buf := make([]byte, 4)
	n, err := unix.Lgetxattr(dir, "trusted.overlay.opaque", buf)
	return err == nil && n == 1 && buf[0] == 'y'
}

func (x *buildExec) Run(ctx context.Context, parent *image.Image, r build.RunSpec, c build.Commit) (*image.Image, error) {
	e := x.e
	runtime.WarmCgroups()
	s, err := e.newSandbox(r.ID, parent, false)
	if err != nil {
		return nil, err
	}
	defer s.close()
	pre := statStubs(s.rootfs)
	volExisted := map[string]bool{}
	for _, v := range r.Volumes {
		_, err := os.Lstat(filepath.Join(s.rootfs, filepath.Clean("/"+v)))
		volExisted[v] = err == nil
	}

	mode := r.Network
	netw, release, err := e.sandboxNetwork(ctx, s.id, mode)
	if err != nil {
		return nil, err
	}
	defer release()
	failpoint.Hit("build.run.after-network")
	hostname := s.id[:12]
	netw.Hostname = hostname
	// No network manages a sandbox's hosts file: it names itself on loopback.
	hostsMode := netw.Mode
	if usesNetworks(hostsMode) {
		hostsMode = "none"
	}
	hosts, err := hostsFile(hostsMode, hostname, nil)
	if err != nil {
		return nil, err
	}
	files := map[string]string{"hostname": hostname + "\n", "hosts": hosts, "resolv.conf": resolvConf(nil)}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(s.dir, name), []byte(data), 0o644); err != nil {
			return nil, err
		}
	}
	wd := r.WorkingDir
	if wd == "" {
		wd = "/"
	}
	sp, err := spec.Generate(spec.Options{
		Rootfs:      s.rootfs,
		CgroupsPath: "berth/" + s.id,
		Process:     spec.Process{Args: r.Args, Env: r.Env, WorkingDir: wd, User: r.User},
		Network:     netw,
		Mounts: spec.Mounts{
			HostnamePath:   filepath.Join(s.dir, "hostname"),
			HostsPath:      filepath.Join(s.dir, "hosts"),
			ResolvConfPath: filepath.Join(s.dir, "resolv.conf"),
		},
		Host: e.host(),
	})
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(sp)
	if err != nil {
		return nil, err
	}
	if err := fsutil.ReplaceFile(filepath.Join(s.dir, "config.json"), data, 0o600); err != nil {
		return nil, err
	}
	s.started = true
	// Never hand the caller's terminal to the step (it could TIOCSTI into
	// the user's shell): wrapping the writers makes the runtime copy
	// through pipes, as Docker streams a RUN's output.
	proc, err := e.runtime.Start(ctx, s.id, sp, s.dir, runtime.IO{Stdout: pipeOnly(r.Stdout), Stderr: pipeOnly(r.Stderr)})
	if err != nil {
		return nil, classifyStartError(err)
	}
	failpoint.Hit("build.run.after-start")
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			proc.Signal(sigkill)
		case <-done:
		}
	}()
	code, err := proc.Wait()
	close(done)
	e.runtime.Delete(s.id, true)
	s.started = false
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, &build.ExitError{Code: code}
	}
	if err := s.unmount(); err != nil {
		return nil, err
	}
	upper, err := e.Snapshots.UpperDir(sandboxKey(s.id))
	if err != nil {
		return nil, err
	}
	scrubStubs(upper, pre)
	discardVolumes(upper, volExisted)
	o, err := x.commitOptions(parent, c)
	if err != nil {
		return nil, err
	}
	return s.commit(ctx, o, c.SourceDateEpoch)
}

// discardVolumes drops a RUN's changes below the image's VOLUMEs: Docker
// runs the step with a volume there, so they never reach the layer. A
// volume directory the image had shows through again; one the step's
// mount created stays, empty.
func discardVolumes(upper string, existed map[string]bool) {
	for v, had := range existed {
		p, err := securejoin.SecureJoin(upper, v)
		if err != nil || p == upper {
			continue
		}
		if had {
			os.RemoveAll(p)
			continue
		}
		ents, _ := os.ReadDir(p)
		for _, ent := range ents {
			os.RemoveAll(filepath.Join(p, ent.Name()))
		}
	}
}

// writerOnly hides an *os.File behind a plain io.Writer.
type writerOnly struct{ io.Writer }

func pipeOnly(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return writerOnly{w}
}
