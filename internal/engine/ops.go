package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/container"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/failpoint"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/mount"
	"github.com/berth/berth/internal/runtime"
	"github.com/berth/berth/internal/snapshot"
	"github.com/berth/berth/internal/spec"
)

// ExecOptions are docker exec's flags.
type ExecOptions struct {
	Cmd        []string
	Env        []string
	Workdir    string
	User       string
	TTY        bool
	Detach     bool
	Privileged bool
}

// Exec starts an extra process in a running container, with the container's
// environment, user and working directory unless overridden.
func (e *Engine) Exec(ctx context.Context, ref string, o ExecOptions, stdio Stdio) (*Attached, error) {
	runtime.WarmCgroups()
	c, err := e.Container(ref)
	if err != nil {
		return nil, err
	}
	if !c.State.Running {
		return nil, fmt.Errorf("container %s is not running: %w", c.ID, errdefs.ErrConflict)
	}
	if c.State.Paused {
		return nil, fmt.Errorf("container %s is paused, unpause the container before exec: %w", c.ID, errdefs.ErrConflict)
	}
	s, err := e.loadSpec(c.ID)
	if err != nil {
		return nil, err
	}
	p := *s.Process
	p.Args = o.Cmd
	p.Terminal = o.TTY
	p.Env = append(append([]string(nil), s.Process.Env...), o.Env...)
	if o.TTY && !hasEnv(p.Env, "TERM") {
		p.Env = append(p.Env, "TERM=xterm")
	}
	if o.Workdir != "" {
		p.Cwd = o.Workdir
	}
	if o.User != "" {
		u, _, err := spec.ResolveUser(filepath.Join(e.bundleDir(c.ID), "rootfs"), o.User)
		if err != nil {
			return nil, err
		}
		p.User = u
	}
	if h := e.host(); o.Privileged && p.Capabilities != nil && h != nil {
		caps := h.Capabilities
		p.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	}
	rio := runtime.IO{Stdin: stdio.Stdin, Stdout: stdio.Stdout, Stderr: stdio.Stderr, Terminal: o.TTY, Console: stdio.Console}
	if o.Detach {
		rio = runtime.IO{}
	}
	proc, err := e.rt(c).Exec(ctx, c.ID, &p, rio)
	if err != nil {
		return nil, classifyStartError(err)
	}
	return &Attached{proc: proc, finish: func(code int, err error) (int, error) { return code, err }}, nil
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

func (e *Engine) loadSpec(id string) (*specs.Spec, error) {
	var s specs.Spec
	data, err := os.ReadFile(filepath.Join(e.bundleDir(id), "config.json"))
	if err != nil {
		return nil, fmt.Errorf("container %s: read bundle: %w", short(id), err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("container %s: corrupt bundle: %w", short(id), err)
	}
	return &s, nil
}

// Processes lists the host PIDs of a running container (for top).
func (e *Engine) Processes(ref string) ([]int, error) {
	c, err := e.Container(ref)
	if err != nil {
		return nil, err
	}
	if !c.State.Running {
		return nil, fmt.Errorf("container %s is not running: %w", c.ID, errdefs.ErrConflict)
	}
	return e.rt(c).Processes(c.ID)
}

// Stats is one sample of a container's resource usage.
type Stats struct {
	ID, Name                    string
	CPUPercent, MemoryPercent   float64
	MemoryUsage, MemoryLimit    uint64
	BlockRead, BlockWrite, Pids uint64
}

// Stats samples CPU over a short interval, like docker stats' first line.
func (e *Engine) Stats(ctx context.Context, ref string) (*Stats, error) {
	c, err := e.Container(ref)
	if err != nil {
		return nil, err
	}
	out := &Stats{ID: c.ID, Name: c.Name}
	if !c.State.Running {
		return out, nil
	}
	s1, err := e.rt(c).Stats(c.ID)
	if err != nil {
		return nil, err
	}
	t1 := time.Now()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(500 * time.Millisecond):
	}
	s2, err := e.rt(c).Stats(c.ID)
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(t1)
	if d := s2.CPUUsageNanos - s1.CPUUsageNanos; elapsed > 0 && s2.CPUUsageNanos >= s1.CPUUsageNanos {
		out.CPUPercent = float64(d) / float64(elapsed.Nanoseconds()) * 100
	}
	out.MemoryUsage, out.MemoryLimit = s2.MemoryUsage, s2.MemoryLimit
	if total := MemTotal(); out.MemoryLimit == 0 || out.MemoryLimit > total {
		out.MemoryLimit = total
	}
	if out.MemoryLimit > 0 {
		out.MemoryPercent = float64(out.MemoryUsage) / float64(out.MemoryLimit) * 100
	}
	out.BlockRead, out.BlockWrite, out.Pids = s2.BlockRead, s2.BlockWrite, s2.Pids
	return out, nil
}

// MemTotal is the host's memory in bytes (/proc/meminfo), the limit
// Docker reports for a container without one.
func MemTotal() uint64 {
	var kb uint64
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			fmt.Sscanf(v, "%d", &kb)
		}
	}
	return kb * 1024
}

// Changes lists the container's filesystem changes (docker diff). The
// empty files and directories the runtime creates in the rootfs as mount
// points (/etc/hosts, volume and tmpfs targets) are not the user's changes:
// Docker keeps them in an init layer below the container's, so they are
// left out here, with the directories that changed only because of them.
func (e *Engine) Changes(ref string) ([]snapshot.Change, error) {
	c, err := e.Container(ref)
	if err != nil {
		return nil, err
	}
	changes, err := e.Snapshots.Changes(c.Snapshot)
	if err != nil {
		return nil, err
	}
	stubs := map[string]bool{"/etc/hostname": true, "/etc/hosts": true, "/etc/resolv.conf": true}
	for _, m := range c.Mounts {
		stubs[filepath.Clean(m.Destination)] = true
	}
	for dst := range c.Host.Tmpfs {
		stubs[filepath.Clean(dst)] = true
	}
	var kept []snapshot.Change
	for _, ch := range changes {
		if ch.Kind == snapshot.ChangeAdd && stubs[ch.Path] {
			continue
		}
		kept = append(kept, ch)
	}
	var out []snapshot.Change
	for _, ch := range kept {
		if ch.Kind == snapshot.ChangeModify && stubParentOnly(ch.Path, stubs, kept) {
			continue
		}
		out = append(out, ch)
	}
	return out, nil
}

// stubParentOnly reports whether dir is an ancestor of a mount-point stub
// and of no other change.
func stubParentOnly(dir string, stubs map[string]bool, changes []snapshot.Change) bool {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	parent := false
	for s := range stubs {
		parent = parent || strings.HasPrefix(s, prefix)
	}
	if !parent {
		return false
	}
	for _, ch := range changes {
		if strings.HasPrefix(ch.Path, prefix) {
			return false
		}
	}
	return true
}

// SnapshotPaths is the GraphDriver data of inspect.
func (e *Engine) SnapshotPaths(c *container.Container) map[string]string {
	m := map[string]string{"MergedDir": filepath.Join(e.bundleDir(c.ID), "rootfs")}
	mounts, err := e.Snapshots.Mounts(c.Snapshot)
	if err != nil || len(mounts) == 0 {
		return m
	}
	for _, o := range mounts[0].Options {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "lowerdir":
			m["LowerDir"] = v
		case "upperdir":
			m["UpperDir"] = v
		case "workdir":
			m["WorkDir"] = v
		}
	}
	return m
}

// CommitOptions are docker commit's flags.
type CommitOptions struct {
	Ref, Author, Message string
	Changes              []string
	Pause                bool
}

// Commit turns the container's changes into a new image layer on top of its image.
func (e *Engine) Commit(ctx context.Context, ref string, o CommitOptions) (*image.Image, error) {
	c, err := e.Container(ref)
	if err != nil {
		return nil, err
	}
	parent, err := e.Images.Get(c.Image)
	if err != nil {
		return nil, fmt.Errorf("commit %s: image %s: %w", c.Name, short(c.Image), err)
	}
	if o.Pause && c.State.Running && !c.State.Paused {
		if err := e.rt(c).Pause(c.ID); err == nil {
			defer e.rt(c).Resume(c.ID)
		}
	}
	failpoint.Hit("commit.after-pause")
	cfg := c.Config.Config
	cfg.Hostname, cfg.Domainname = "", ""
	cfg.AttachStdin, cfg.AttachStdout, cfg.AttachStderr, cfg.OpenStdin, cfg.StdinOnce, cfg.Tty = false, false, false, false, false, false
	if len(o.Changes) > 0 {
		cfg, err = image.ApplyChanges(cfg, o.Changes)
		if err != nil {
			return nil, err
		}
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(e.Snapshots.Diff(ctx, c.Snapshot, pw, archive.TarOptions{}))
	}()
	img, err := e.Images.Commit(ctx, image.CommitOptions{
		Parent: parent, Layer: pr, Config: cfg, Author: o.Author, Comment: o.Message, Ref: o.Ref,
		History: v1.History{Author: o.Author, Comment: o.Message, CreatedBy: strings.Join(append([]string{c.Path}, c.Args...), " ")},
		Created: time.Now().UTC(),
	})
	pr.Close()
	return img, err
}

// Export writes the container's merged filesystem as a tar.
func (e *Engine) Export(ctx context.Context, ref string, w io.Writer) error {
	c, err := e.Container(ref)
	if err != nil {
		return err
	}
	dir := filepath.Join(e.bundleDir(c.ID), "rootfs")
	if !c.State.Running || !mount.IsMountPoint(dir) {
		mounts, err := e.Snapshots.Mounts(c.Snapshot)
		if err != nil {
			return err
		}
		tmp, err := os.MkdirTemp(e.Root.Run, "export-")
		if err != nil {
			return err
		}
		defer os.Remove(tmp)
		if err := mount.All(mounts, tmp); err != nil {
			return fmt.Errorf("mount rootfs of %s: %w", short(c.ID), err)
		}
		defer mount.Unmount(tmp)
		dir = tmp
	}
	return archive.Tar(ctx, dir, w, archive.TarOptions{})
}
