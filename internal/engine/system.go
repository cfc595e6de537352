package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/build"
	"github.com/berth/berth/internal/container"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/mount"
	"github.com/berth/berth/internal/runtime"
	"github.com/berth/berth/internal/volume"
)

// PruneReport is what system prune removed.
type PruneReport struct {
	Containers []string
	Images     []image.Deleted
	Volumes    []string
	Networks   []string
	Reclaimed  int64
}

// SystemPrune removes stopped containers, unused images (dangling, or all
// with all) and, with volumes, unused anonymous volumes; then collects
// garbage (blobs and snapshots no image or container needs).
func (e *Engine) SystemPrune(ctx context.Context, all, volumes bool) (*PruneReport, error) {
	r := &PruneReport{}
	list, err := e.List()
	if err != nil {
		return nil, err
	}
	for _, c := range list {
		if e.live(c) {
			continue
		}
		// Measured before: the writable layer is what removing the
		// container gives back (Docker counts it too).
		size, _ := e.Snapshots.ActiveUsage(c.Snapshot)
		if err := e.removeUnowned(c, false); err == nil {
			r.Containers = append(r.Containers, c.ID)
			r.Reclaimed += size
		}
	}
	deleted, reclaimed, err := e.Images.Prune(image.PruneOptions{All: all, InUse: e.ImageUsage})
	if err != nil {
		return nil, err
	}
	r.Images = deleted
	r.Reclaimed += reclaimed
	// Step cache entries of the images just removed would stay forever.
	build.PruneCache(filepath.Join(e.Root.Lib, "build", "cache"), func(id string) bool {
		_, err := e.Images.Get(id)
		return err == nil
	})
	if volumes {
		rep, err := e.Volumes.Prune(volume.PruneOptions{}, e.VolumeUsers)
		if err != nil {
			return nil, err
		}
		r.Volumes = rep.VolumesDeleted
		r.Reclaimed += int64(rep.SpaceReclaimed)
	}
	e.cleanStale()
	e.repairNetwork()
	r.Networks, _ = e.NetworkPrune()
	return r, nil
}

// cleanStale removes bundles and mounts left by owners that died without
// cleaning up (kill -9, power loss), for containers that are not running.
func (e *Engine) cleanStale() []string {
	var fixed []string
	entries, _ := os.ReadDir(filepath.Join(e.Root.Run, "bundles"))
	for _, ent := range entries {
		id := ent.Name()
		c, err := e.Containers.Get(id)
		// A live owner may be starting or finishing it: not stale.
		if err == nil && e.live(c) {
			continue
		}
		rootfs := filepath.Join(e.bundleDir(id), "rootfs")
		if mount.IsMountPoint(rootfs) {
			fixed = append(fixed, "stale rootfs mount "+rootfs)
		} else {
			fixed = append(fixed, "stale bundle "+e.bundleDir(id))
		}
		if err != nil {
			c = &container.Container{ID: id}
		}
		e.teardown(c)
	}
	// Builds killed mid-step leave sandboxes (RUN/build) the same way.
	return append(fixed, e.sweepSandboxes()...)
}

// DiskUsageRow is one line of system df.
type DiskUsageRow struct {
	Type              string
	Total, Active     int
	Size, Reclaimable int64
}

// DiskUsage reports space used by images, containers and volumes.
func (e *Engine) DiskUsage() ([]DiskUsageRow, error) {
	imgs, err := e.Images.List()
	if err != nil {
		return nil, err
	}
	cs, err := e.List()
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, c := range cs {
		used[c.Image] = true
	}
	imgRow := DiskUsageRow{Type: "Images", Total: len(imgs)}
	// A layer is reclaimable only if no image a container uses has it:
	// layers shared with such an image stay whatever `image prune -a`
	// removes, so the in-use set is complete before anything is counted.
	inUse := map[digest.Digest]bool{}
	for _, img := range imgs {
		if used[img.ID] {
			imgRow.Active++
			for _, ch := range img.ChainIDs {
				inUse[ch] = true
			}
		}
	}
	counted := map[digest.Digest]bool{}
	for _, img := range imgs {
		for _, ch := range img.ChainIDs {
			if counted[ch] {
				continue
			}
			counted[ch] = true
			// Content bytes, as `images` counts them, not disk blocks.
			info, err := e.Snapshots.Stat(ch)
			if err != nil {
				continue
			}
			imgRow.Size += info.Size
			if !inUse[ch] {
				imgRow.Reclaimable += info.Size
			}
		}
	}
	cRow := DiskUsageRow{Type: "Containers", Total: len(cs)}
	for _, c := range cs {
		n := dirSize(e.upperDir(c))
		cRow.Size += n
		if c.State.Running {
			cRow.Active++
		} else {
			cRow.Reclaimable += n
		}
	}
	vols, err := e.Volumes.List()
	if err != nil {
		return nil, err
	}
	vRow := DiskUsageRow{Type: "Local Volumes", Total: len(vols)}
	for _, v := range vols {
		n := dirSize(v.Mountpoint)
		vRow.Size += n
		if len(e.VolumeUsers(v.Name)) > 0 {
			vRow.Active++
		} else {
			vRow.Reclaimable += n
		}
	}
	return []DiskUsageRow{imgRow, cRow, vRow, {Type: "Build Cache"}}, nil
}

func (e *Engine) upperDir(c *container.Container) string {
	d, _ := e.Snapshots.UpperDir(c.Snapshot)
	return d
}

func dirSize(dir string) int64 {
	if dir == "" {
		return 0
	}
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// Check verifies every store and, with repair, fixes stale mounts, bundles,
// locks and records. It returns one line per problem found.
func (e *Engine) Check(ctx context.Context, repair bool) ([]string, error) {
	var problems []string
	add := func(ps []string, err error) error {
		problems = append(problems, ps...)
		return err
	}
	if err := add(e.checkContent(repair)); err != nil {
		return nil, err
	}
	if err := add(e.Snapshots.Check(repair)); err != nil {
		return nil, err
	}
	if err := add(e.Images.Check(repair)); err != nil {
		return nil, err
	}
	cs, bad, err := e.Containers.Scan()
	if err != nil {
		return nil, err
	}
	for id, why := range bad {
		problems = append(problems, fmt.Sprintf("container %s: unreadable record (%v)", short(id), why))
		if repair && !e.Containers.OwnerAlive(id) {
			// Its writable layer goes with the orphans below.
			e.teardown(&container.Container{ID: id})
			if err := e.Containers.Delete(id); err != nil {
				problems = append(problems, fmt.Sprintf("container %s: remove: %v", short(id), err))
			}
		}
	}
	for _, c := range cs {
		if c.State.Running && !e.Containers.OwnerAlive(c.ID) && stillRunning(e, c.ID) {
			problems = append(problems, fmt.Sprintf("container %s: recorded as running but its owner process is gone", short(c.ID)))
			if repair {
				e.reconcile(c)
			}
		}
		// A live owner may be removing it (--rm) this very moment, or may
		// just have finished (the record then is gone too).
		if _, err := e.Snapshots.Mounts(c.Snapshot); err != nil && !e.live(c) && recordExists(e, c.ID) {
			problems = append(problems, fmt.Sprintf("container %s: rootfs snapshot missing: %v", short(c.ID), err))
			if repair && errdefs.IsNotFound(err) {
				problems = append(problems, e.repairSnapshot(c)...)
			}
		}
		if c.State.Running && !c.State.Paused && e.Containers.OwnerAlive(c.ID) {
			// A commit pauses the container and resumes it when done; one
			// that died in between left it frozen.
			if st, err := e.rt(c).State(c.ID); err == nil && st.Status == runtime.StatusPaused {
				problems = append(problems, fmt.Sprintf("container %s: frozen but not recorded as paused", short(c.ID)))
				if repair {
					e.rt(c).Resume(c.ID)
				}
			}
		}
		if _, err := e.Images.Get(c.Image); err != nil && !strings.Contains(err.Error(), "sha256") {
			problems = append(problems, fmt.Sprintf("container %s: image %s missing", short(c.ID), short(c.Image)))
		}
	}
	problems = append(problems, e.orphanLayers(repair)...)
	if repair {
		problems = append(problems, e.cleanStale()...)
		// Then the bridges and rules of every network, as a reboot or a
		// firewall flush leaves them.
		problems = append(problems, e.checkNetwork(true)...)
	} else {
		entries, _ := os.ReadDir(filepath.Join(e.Root.Run, "bundles"))
		for _, ent := range entries {
			c, err := e.Containers.Get(ent.Name())
			if err != nil || !e.live(c) {
				problems = append(problems, "stale bundle "+e.bundleDir(ent.Name()))
			}
		}
		problems = append(problems, e.staleSandboxes(false)...)
		problems = append(problems, e.checkNetwork(false)...)
	}
	return problems, nil
}

// orphanLayers finds (and with repair, removes) the writable layers of
// containers that no longer exist. No live command leaves one (create
// writes the record before the layer, removal deletes the layer first), but
// a power loss can: a --rm container's records do not wait for the disk.
func (e *Engine) orphanLayers(repair bool) []string {
	keys, err := e.Snapshots.Active()
	if err != nil {
		return nil // the snapshot check above has reported it
	}
	var found []string
	for _, key := range keys {
		if !container.IsID(key) {
			continue // a build's sandbox: staleSandboxes' business
		}
		if _, err := e.Containers.Load(key); !errdefs.IsNotFound(err) {
			continue
		}
		found = append(found, fmt.Sprintf("container %s: writable layer without a container", short(key)))
		if repair {
			e.teardown(&container.Container{ID: key})
			if err := e.Snapshots.Remove(key); err != nil && !errdefs.IsNotFound(err) {
				found = append(found, fmt.Sprintf("container %s: remove its layer: %v", short(key), err))
			}
		}
	}
	return found
}

// recordExists re-reads the record of a container whose state was just
// found wanting: a removal may have completed since the list was read.
func recordExists(e *Engine, id string) bool {
	_, err := e.Containers.Get(id)
	return !errdefs.IsNotFound(err)
}

// stillRunning re-reads the record of a container whose owner was just
// seen gone: an owner writes the exit before it lets go of its lock, so the
// list read earlier may simply predate a normal exit.
func stillRunning(e *Engine, id string) bool {
	c, err := e.Containers.Get(id)
	return err == nil && c.State.Running
}

// repairSnapshot deals with a stopped container whose writable layer is
// gone: a removal that died after removing it (rm, or --rm) is completed;
// otherwise (a create that died before preparing it) the layer is
// prepared again, empty, on its image.
func (e *Engine) repairSnapshot(c *container.Container) []string {
	if e.live(c) {
		return nil
	}
	if c.State.RemovalInProgress || c.Host.AutoRemove {
		if err := e.removeStopped(c, c.Host.AutoRemove); err != nil {
			return []string{fmt.Sprintf("container %s: complete its removal: %v", short(c.ID), err)}
		}
		return []string{fmt.Sprintf("container %s: removal completed", short(c.ID))}
	}
	img, err := e.Images.Get(c.Image)
	if err != nil {
		return []string{fmt.Sprintf("container %s: cannot recreate its rootfs: %v", short(c.ID), err)}
	}
	if _, err := e.Snapshots.Prepare(c.Snapshot, img.TopChainID(), rootfsOpts(c)...); err != nil {
		return []string{fmt.Sprintf("container %s: recreate its rootfs: %v", short(c.ID), err)}
	}
	return []string{fmt.Sprintf("container %s: empty rootfs layer recreated", short(c.ID))}
}

// Boot reconciles records after a reboot (every "running" record whose owner
// is gone becomes exited) and starts containers whose restart policy is
// always, or unless-stopped without an explicit stop.
func (e *Engine) Boot(ctx context.Context) ([]string, error) {
	cs, err := e.List() // List reconciles.
	if err != nil {
		return nil, err
	}
	e.cleanStale()
	e.orphanLayers(true) // what a power loss left of --rm containers
	var started []string
	var errs []string
	for _, c := range cs {
		p := c.Host.RestartPolicy.Name
		if c.State.Running || !(p == "always" || (p == "unless-stopped" && !c.State.StoppedByUser)) {
			continue
		}
		if _, err := e.Start(ctx, c.ID); err != nil {
			errs = append(errs, fmt.Sprintf("start %s: %v", short(c.ID), err))
			continue
		}
		started = append(started, c.ID)
	}
	if len(errs) > 0 {
		return started, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return started, nil
}

// checkContent re-hashes every blob; with repair, corrupt blobs are deleted
// (an image that needed one then shows up as broken in the image check) and
// stale ingests are removed.
func (e *Engine) checkContent(repair bool) ([]string, error) {
	blobs, err := e.Content.List()
	if err != nil {
		return nil, err
	}
	var problems []string
	for _, b := range blobs {
		if err := e.Content.Verify(b.Digest); err != nil {
			problems = append(problems, fmt.Sprintf("blob %s: %v", b.Digest, err))
			if repair {
				e.Content.Delete(b.Digest)
			}
		}
	}
	if repair {
		if n, _, err := e.Content.Cleanup(0); err == nil && n > 0 {
			problems = append(problems, fmt.Sprintf("removed %d stale ingest(s)", n))
		}
	}
	return problems, nil
}

// Reset removes everything of this root, as `podman system reset` does:
// every container (running ones are killed), every network with its bridge
// and firewall rules (the default bridge too), every volume and image, and
// then the state directories themselves. A throwaway --root leaves nothing
// on the host afterwards.
func (e *Engine) Reset(ctx context.Context) error {
	list, err := e.List()
	if err != nil {
		return err
	}
	refs := make([]string, len(list))
	for i, c := range list {
		refs[i] = c.ID
	}
	var errs []error
	for _, err := range e.RemoveMany(ctx, refs, true, true) {
		if err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("reset: %w", errors.Join(errs...))
	}
	if err := e.Networks.Reset(); err != nil {
		return fmt.Errorf("reset: networks: %w", err)
	}
	for _, dir := range []string{e.Root.Run, e.Root.Lib} {
		if err := mount.UnmountUnder(dir); err != nil {
			return fmt.Errorf("reset: %w", err)
		}
	}
	for _, dir := range []string{e.Root.Run, e.Root.Lib} {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("reset: %w", err)
		}
	}
	return nil
}
