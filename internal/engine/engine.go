package engine

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/berth/berth/internal/container"
	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/network"
	"github.com/berth/berth/internal/root"
	"github.com/berth/berth/internal/runtime"
	"github.com/berth/berth/internal/snapshot"
	"github.com/berth/berth/internal/spec"
	"github.com/berth/berth/internal/volume"
)

// Errors the CLI maps to Docker's exit codes 127 and 126.
var (
	ErrCommandNotFound      = errors.New("executable file not found")
	ErrCommandNotExecutable = errors.New("permission denied")
)

// Engine is one open berth root: its stores and its runtime.
type Engine struct {
	Root       root.Root
	Exe        string // the berth binary, re-executed as supervisor and init
	Content    *content.Store
	Snapshots  *snapshot.Store
	Images     *image.Store
	Containers *container.Store
	Volumes    *volume.Store
	Networks   *network.Manager
	runtime    runtime.Runtime // in-process libcontainer, the default

	externalMu sync.Mutex
	external   map[string]runtime.Runtime

	// attachments are the networks of containers this process owns: their
	// published ports' sockets live here until teardown.
	attachMu    sync.Mutex
	attachments map[string]*network.Attachment

	hostOnce sync.Once
	hostInfo *spec.Host
}

// host probes the machine (cgroup layout, capability bounding set) once per
// process; the supervisor may start a container many times.
func (e *Engine) host() *spec.Host {
	e.hostOnce.Do(func() {
		if h, err := spec.ProbeHost(); err == nil {
			e.hostInfo = &h
		}
	})
	return e.hostInfo
}

// Open opens (creating if needed) every store under r. It does no work beyond
// making directories, so that every command starts fast.
func Open(r root.Root, exe string) (*Engine, error) {
	if err := r.Ensure(); err != nil {
		return nil, fmt.Errorf("open state directory %s: %w", r.Lib, err)
	}
	e := &Engine{Root: r, Exe: exe}
	var err error
	if e.Content, err = content.Open(r.Content()); err != nil {
		return nil, err
	}
	if e.Snapshots, err = snapshot.Open(r.Snapshots()); err != nil {
		return nil, err
	}
	if e.Images, err = image.Open(r, e.Content, e.Snapshots); err != nil {
		return nil, err
	}
	if e.Containers, err = container.Open(r); err != nil {
		return nil, err
	}
	e.Volumes = volume.New(r)
	e.Networks = network.New(r)
	e.runtime = runtime.New(r.RuntimeState())
	return e, nil
}

// bundleDir is the OCI bundle of a started container: config.json and the
// mounted rootfs. It lives under the runtime directory so a reboot wipes it
// together with the mounts it described.
func (e *Engine) bundleDir(id string) string {
	return filepath.Join(e.Root.Run, "bundles", id)
}

// rt is the runtime that runs c: libcontainer in-process, or the OCI
// runtime binary named by --runtime.
func (e *Engine) rt(c *container.Container) runtime.Runtime {
	if c == nil || c.Host.Runtime == "" || c.Host.Runtime == "berth" {
		return e.runtime
	}
	e.externalMu.Lock()
	defer e.externalMu.Unlock()
	if r, ok := e.external[c.Host.Runtime]; ok {
		return r
	}
	r, err := runtime.Open(runtime.Options{StateDir: e.Root.RuntimeState(), Binary: c.Host.Runtime})
	if err != nil {
		return brokenRuntime{err}
	}
	if e.external == nil {
		e.external = map[string]runtime.Runtime{}
	}
	e.external[c.Host.Runtime] = r
	return r
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
