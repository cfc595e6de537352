package engine

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/container"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/mount"
	"github.com/berth/berth/internal/spec"
)

// This file is `berth cp`: Docker's archive API on a container's
// filesystem (StatPath, ArchivePath, ExtractToDir, as the daemon serves
// them) and Docker's CLI logic on top (Copy), which decides from the
// source and destination what to tar, how to rename it and where to unpack
// it. Every container path is resolved inside the container's root, in
// both directions: openat2(RESOLVE_IN_ROOT) through pathrs-lite for
// lookups, internal/archive for reading and unpacking. A container's
// symlink to /etc is the container's /etc, never the host's.

// PathStat describes a path in a container: Docker's ContainerPathStat.
type PathStat struct {
	Name  string
	Size  int64
	Mode  os.FileMode
	Mtime time.Time
	// LinkTarget is, for a symlink, its target fully resolved inside the
	// container (an absolute container path).
	LinkTarget string
}

// CopyOptions are docker cp's operands and flags.
type CopyOptions struct {
	// Src and Dst are "CONTAINER:PATH", a host path, or "-" (a tar stream
	// on Stdin or Stdout); exactly one of them names a container.
	Src, Dst string
	// Archive (-a) keeps the uid/gid of the source on the host side and
	// owns files copied into the container by the container's user (when
	// it has one), as docker cp -a does.
	Archive bool
	// FollowLink (-L) copies what a symlink SRC points to, not the link.
	FollowLink bool
	Stdin      io.Reader
	Stdout     io.Writer
}

// NoSuchPathError is a container path that does not exist (or a container
// that does not): Docker's "No such container:path".
type NoSuchPathError struct{ Container, Path string }

func (e *NoSuchPathError) Error() string {
	return "No such container:path: " + e.Container + ":" + e.Path
}

func (e *NoSuchPathError) Unwrap() error { return errdefs.ErrNotFound }

// Copy is docker cp: between a container path and a host path or a tar
// stream, in either direction, for running and stopped containers.
func (e *Engine) Copy(ctx context.Context, o CopyOptions) error {
	srcC, srcPath := splitCpArg(o.Src)
	dstC, dstPath := splitCpArg(o.Dst)
	switch {
	case srcC == "" && dstC == "":
		return fmt.Errorf("must specify at least one container source: %w", errdefs.ErrInvalid)
	case srcC != "" && dstC != "":
		return fmt.Errorf("copying between containers is not supported: %w", errdefs.ErrInvalid)
	case srcPath == "" || dstPath == "":
		return fmt.Errorf("path cannot be empty: %w", errdefs.ErrInvalid)
	case srcC != "":
		return e.copyFromContainer(ctx, srcC, srcPath, dstPath, o)
	default:
		return e.copyToContainer(ctx, srcPath, dstC, dstPath, o)
	}
}

// splitCpArg is docker's: an absolute path or one starting with "." is
// local even if it holds a colon.
func splitCpArg(arg string) (container, p string) {
	if path.IsAbs(arg) {
		return "", arg
	}
	c, p, ok := strings.Cut(arg, ":")
	if !ok || strings.HasPrefix(c, ".") {
		return "", arg
	}
	return c, p
}

func (e *Engine) copyFromContainer(ctx context.Context, ref, srcPath, dstPath string, o CopyOptions) error {
	if dstPath != "-" {
		var err error
		if dstPath, err = resolveLocalPath(dstPath); err != nil {
			return err
		}
		if err := validateOutputPath(dstPath); err != nil {
			return err
		}
	}
	cfs, err := e.openContainerFS(ctx, ref)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return &NoSuchPathError{ref, srcPath}
		}
		return err
	}
	defer cfs.Close()

	// -L: copy what the link points to, under the link's name.
	var rebaseName string
	if o.FollowLink {
		if st, err := cfs.stat(containerAbs(srcPath)); err == nil && st.Mode&os.ModeSymlink != 0 {
			linkTarget := st.LinkTarget
			if !path.IsAbs(linkTarget) {
				parent, _ := splitPathDirEntry(srcPath)
				linkTarget = path.Join(parent, linkTarget)
			}
			linkTarget, rebaseName = getRebaseName(srcPath, linkTarget)
			srcPath = linkTarget
		}
	}
	abs := containerAbs(srcPath)
	st, err := cfs.stat(abs)
	if err != nil {
		return cfs.pathError(ref, srcPath, err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(cfs.archive(ctx, pw, abs, st)) }()
	defer pr.Close()
	if dstPath == "-" {
		_, err := io.Copy(o.Stdout, pr)
		return err
	}
	srcInfo := copyInfo{Path: srcPath, Exists: true, IsDir: st.Mode.IsDir(), RebaseName: rebaseName}
	var content io.Reader = pr
	if rebaseName != "" {
		_, srcBase := splitPathDirEntry(srcPath)
		rc := rebaseArchiveEntries(content, srcBase, rebaseName)
		defer rc.Close()
		content = rc
	}
	apply := archive.ApplyOptions{}
	if !o.Archive {
		// docker cp: files land owned by whoever ran the copy.
		apply.Chown = &archive.Owner{UID: os.Getuid(), GID: os.Getgid()}
	}
	return copyTo(ctx, content, srcInfo, dstPath, apply)
}

func (e *Engine) copyToContainer(ctx context.Context, srcPath, ref, dstPath string, o CopyOptions) error {
	if srcPath != "-" {
		var err error
		if srcPath, err = resolveLocalPath(srcPath); err != nil {
			return err
		}
	}
	cfs, err := e.openContainerFS(ctx, ref)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return &NoSuchPathError{ref, dstPath}
		}
		return err
	}
	defer cfs.Close()

	// What is at the destination decides how the source is renamed; a
	// destination symlink is followed (inside the container).
	dstInfo := copyInfo{Path: dstPath}
	dstStat, err := cfs.stat(containerAbs(dstPath))
	if err == nil && dstStat.Mode&os.ModeSymlink != 0 {
		linkTarget := dstStat.LinkTarget
		if !path.IsAbs(linkTarget) {
			parent, _ := splitPathDirEntry(dstPath)
			linkTarget = path.Join(parent, linkTarget)
		}
		dstInfo.Path = linkTarget
		dstStat, err = cfs.stat(containerAbs(linkTarget))
	}
	if err == nil {
		if verr := validateOutputPathFileMode(dstStat.Mode); verr != nil {
			return fmt.Errorf("destination \"%s:%s\" must be a directory or a regular file: %v: %w", ref, dstPath, verr, errdefs.ErrInvalid)
		}
		dstInfo.Exists, dstInfo.IsDir = true, dstStat.Mode.IsDir()
	}
	// Otherwise assume the parent exists: the extraction says if not.

	var content io.Reader
	var extractAt string
	if srcPath == "-" {
		if !dstInfo.IsDir {
			return fmt.Errorf("destination \"%s:%s\" must be a directory: %w", ref, dstPath, errdefs.ErrInvalid)
		}
		content, extractAt = o.Stdin, dstInfo.Path
	} else {
		srcInfo, err := copyInfoSourcePath(srcPath, o.FollowLink)
		if err != nil {
			return err
		}
		srcArchive, err := tarResource(ctx, srcInfo)
		if err != nil {
			return err
		}
		defer srcArchive.Close()
		dstDir, prepared, err := prepareArchiveCopy(srcArchive, srcInfo, dstInfo)
		if err != nil {
			return err
		}
		defer prepared.Close()
		content, extractAt = prepared, dstDir
	}
	err = cfs.extract(ctx, extractAt, content, o.Archive)
	if errdefs.IsNotFound(err) {
		return &NoSuchPathError{ref, extractAt}
	}
	return err
}

// StatPath describes path in the container (docker's HEAD archive).
func (e *Engine) StatPath(ctx context.Context, ref, p string) (PathStat, error) {
	cfs, err := e.openContainerFS(ctx, ref)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return PathStat{}, &NoSuchPathError{ref, p}
		}
		return PathStat{}, err
	}
	defer cfs.Close()
	st, err := cfs.stat(containerAbs(p))
	if err != nil {
		return PathStat{}, cfs.pathError(ref, p, err)
	}
	return st, nil
}

// ArchivePath returns a tar of path in the container and its stat
// (docker's GET archive): a directory "/a/b" as "b/" and its tree under
// "b/", "/a/b/." as "./..." (its content), anything else as one entry.
// Closing the reader releases the container.
func (e *Engine) ArchivePath(ctx context.Context, ref, p string) (io.ReadCloser, PathStat, error) {
	cfs, err := e.openContainerFS(ctx, ref)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return nil, PathStat{}, &NoSuchPathError{ref, p}
		}
		return nil, PathStat{}, err
	}
	abs := containerAbs(p)
	st, err := cfs.stat(abs)
	if err != nil {
		cfs.Close()
		return nil, PathStat{}, cfs.pathError(ref, p, err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(cfs.archive(ctx, pw, abs, st)) }()
	return &closeFunc{Reader: pr, close: func() error { pr.Close(); cfs.Close(); return nil }}, st, nil
}

// ExtractToDir unpacks the tar r (possibly compressed) into directory p of
// the container (docker's PUT archive). copyUIDGID (-a) owns the files by
// the container's configured user, if it has one.
func (e *Engine) ExtractToDir(ctx context.Context, ref, p string, r io.Reader, copyUIDGID bool) error {
	cfs, err := e.openContainerFS(ctx, ref)
	if err != nil {
		if errdefs.IsNotFound(err) {
			return &NoSuchPathError{ref, p}
		}
		return err
	}
	defer cfs.Close()
	err = cfs.extract(ctx, p, r, copyUIDGID)
	if errdefs.IsNotFound(err) {
		return &NoSuchPathError{ref, p}
	}
	return err
}

type closeFunc struct {
	io.Reader
	close func() error
}

func (c *closeFunc) Close() error { return c.close() }

// ---- a file tree seen through a root handle ------------------------------

// fsView is a directory tree in which every path is resolved as if its root
// were "/": symlinks (absolute or relative) and ".." never leave it.
type fsView struct {
	root *os.File // O_PATH directory
}

func fdPath(f *os.File) string { return "/proc/self/fd/" + strconv.Itoa(int(f.Fd())) }

// lookup opens p inside the view, following every symlink in the view.
func (v fsView) lookup(p string) (*os.File, error) {
	return pathrs.OpenatInRoot(v.root, p)
}

// stat is docker's StatPath: the parent of abs is resolved, its last
// element is not followed — unless abs ends in "/" or "/.".
func (v fsView) stat(abs string) (PathStat, error) {
	dir, base := splitLast(abs)
	dh, err := v.lookup(dir)
	if err != nil {
		return PathStat{}, err
	}
	defer dh.Close()
	var st unix.Stat_t
	if base == "" {
		err = unix.Fstat(int(dh.Fd()), &st)
	} else {
		err = unix.Fstatat(int(dh.Fd()), base, &st, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		return PathStat{}, &os.PathError{Op: "lstat", Path: abs, Err: err}
	}
	ps := PathStat{
		Name:  path.Base(abs),
		Size:  st.Size,
		Mode:  fileMode(st.Mode),
		Mtime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec),
	}
	if ps.Mode&os.ModeSymlink != 0 {
		// Informational (the client builds its next path from it); every
		// use of that path is resolved inside the view again.
		rootPath := fdPath(v.root)
		resolved, err := securejoin.SecureJoin(rootPath, abs)
		if err != nil {
			return PathStat{}, err
		}
		ps.LinkTarget = "/" + strings.TrimLeft(strings.TrimPrefix(resolved, rootPath), "/")
	}
	return ps, nil
}

// splitLast splits an absolute path like filepath.Split: "/a/b" → "/a/",
// "b"; "/a/b/" → "/a/b/", "" (the directory itself); "/a/." → "/a/", ".".
func splitLast(p string) (dir, base string) {
	i := strings.LastIndexByte(p, '/')
	return p[:i+1], p[i+1:]
}

func fileMode(m uint32) os.FileMode {
	mode := os.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		mode |= os.ModeDir
	case unix.S_IFLNK:
		mode |= os.ModeSymlink
	case unix.S_IFCHR:
		mode |= os.ModeDevice | os.ModeCharDevice
	case unix.S_IFBLK:
		mode |= os.ModeDevice
	case unix.S_IFIFO:
		mode |= os.ModeNamedPipe
	case unix.S_IFSOCK:
		mode |= os.ModeSocket
	}
	if m&unix.S_ISUID != 0 {
		mode |= os.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		mode |= os.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= os.ModeSticky
	}
	return mode
}

// archive writes docker's archive of abs (described by st) to w.
func (v fsView) archive(ctx context.Context, w io.Writer, abs string, st PathStat) error {
	if st.Mode.IsDir() {
		// The directory itself, named as the request's last element:
		// "b" for "/a/b" or "/a/b/", "." for "/a/b/.", "/" for "/".
		dir, base := splitLast(abs)
		if base == "" {
			base = "."
		}
		return v.writeResource(ctx, w, dir, base, path.Base(abs))
	}
	dir, base := splitLast(abs)
	return v.writeResource(ctx, w, dir, base, base)
}

// writeResource tars entry base of directory dir (resolved in the view;
// base "." is dir itself) with its first name element renamed to name: a
// directory gives "name/" and its tree under "name/", anything else one
// entry "name". A name of "/" gives "/" and "/child"...
func (v fsView) writeResource(ctx context.Context, w io.Writer, dir, base, name string) error {
	dh, err := v.lookup(dir)
	if err != nil {
		return err
	}
	defer dh.Close()
	var st unix.Stat_t
	if base == "." {
		err = unix.Fstat(int(dh.Fd()), &st)
	} else {
		err = unix.Fstatat(int(dh.Fd()), base, &st, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		return &os.PathError{Op: "lstat", Path: path.Join(dir, base), Err: err}
	}
	tw := tar.NewWriter(w)
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		d := dh
		if base != "." {
			fd, err := unix.Openat(int(dh.Fd()), base, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return &os.PathError{Op: "open", Path: path.Join(dir, base), Err: err}
			}
			d = os.NewFile(uintptr(fd), path.Join(dir, base))
			defer d.Close()
		}
		prefix := name + "/"
		if name == "/" {
			prefix = "/"
		}
		hdr := &tar.Header{
			Typeflag: tar.TypeDir, Name: prefix, Mode: int64(st.Mode & 0o7777),
			Uid: int(st.Uid), Gid: int(st.Gid), ModTime: time.Unix(st.Mtim.Sec, 0),
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		err = copyTarRenamed(ctx, tw, fdPath(d), archive.TarOptions{}, func(n string) string { return prefix + n })
	} else {
		err = copyTarRenamed(ctx, tw, fdPath(dh), archive.TarOptions{Include: []string{base}}, func(n string) string {
			if n == base {
				return name
			}
			return name + strings.TrimPrefix(n, base) // a directory swapped in meanwhile
		})
	}
	if err != nil {
		return err
	}
	return tw.Close()
}

// copyTarRenamed tars dir with archive.Tar and copies its entries to tw
// with names (and hard link targets) passed through rename.
func copyTarRenamed(ctx context.Context, tw *tar.Writer, dir string, opts archive.TarOptions, rename func(string) string) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archive.Tar(ctx, dir, pw, opts)) }()
	defer pr.Close()
	tr := tar.NewReader(pr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		hdr.Name = rename(hdr.Name)
		if hdr.Typeflag == tar.TypeLink {
			hdr.Linkname = rename(hdr.Linkname)
		}
		hdr.Format = tar.FormatUnknown // a longer name may need PAX
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// ---- the container's filesystem -----------------------------------------

// containerFS is a private view of a container's filesystem: its rootfs
// with its volumes and bind mounts (and its hostname, hosts and
// resolv.conf files) where the container sees them, assembled in a mount
// namespace of its own that lives on one locked OS thread. Nothing of it
// is visible on the host or in the container; ending the thread (Close)
// takes every mount with it, even if berth dies first.
type containerFS struct {
	fsView
	c      *container.Container
	stop   func()
	closed bool
}

// Close releases the view.
func (cfs *containerFS) Close() {
	if cfs.closed {
		return
	}
	cfs.closed = true
	cfs.root.Close()
	cfs.stop()
}

// pathError words a failed stat of p.
func (cfs *containerFS) pathError(ref, p string, err error) error {
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, os.ErrNotExist) {
		return &NoSuchPathError{ref, p}
	}
	return fmt.Errorf("container %s: %s: %w", ref, p, err)
}

// bindMount is one mount of the container's to reproduce in the view.
type bindMount struct {
	source, dest string
	rw           bool
	optional     bool // the etc files: skipped if their place cannot be made
}

// openContainerFS builds the view of container ref. A running container's
// mounted rootfs is used as it is (writes reach the running container); a
// stopped one's snapshot is mounted for the time of the view, holding the
// container's owner lock so that it cannot be started meanwhile.
func (e *Engine) openContainerFS(ctx context.Context, ref string) (_ *containerFS, err error) {
	c, err := e.Container(ref)
	if err != nil {
		return nil, err
	}
	rootfs := filepath.Join(e.bundleDir(c.ID), "rootfs")
	release := func() {}
	defer func() {
		if err != nil {
			release()
		}
	}()
	var snapshotDir string
	running := c.State.Running && mount.IsMountPoint(rootfs)
	if !running {
		rel, lerr := e.Containers.HoldOwner(c.ID)
		if lerr != nil {
			// A supervisor owns it: it is starting or running now.
			if c, err = e.Container(c.ID); err != nil {
				return nil, err
			}
			if !c.State.Running || !mount.IsMountPoint(rootfs) {
				return nil, fmt.Errorf("container %s is starting or stopping, try again: %w", short(c.ID), errdefs.ErrConflict)
			}
			running = true
		} else {
			release = rel
			if c, err = e.Container(c.ID); err != nil {
				return nil, err
			}
			snapshotDir, err = os.MkdirTemp(e.Root.Run, "cp-")
			if err != nil {
				return nil, err
			}
			tmp := snapshotDir
			held := release
			release = func() { os.Remove(tmp); held() }
		}
	}
	var snap []mount.Mount
	if !running {
		if snap, err = e.Snapshots.Mounts(c.Snapshot); err != nil {
			return nil, fmt.Errorf("container %s: rootfs: %w", short(c.ID), err)
		}
	}
	binds := containerBinds(c, e.Containers.Dir(c.ID))

	cfs := &containerFS{c: c}
	setup := func() error {
		dir := rootfs
		if !running {
			if err := mount.All(snap, snapshotDir); err != nil {
				return fmt.Errorf("mount rootfs of %s: %w", short(c.ID), err)
			}
			dir = snapshotDir
		}
		fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open rootfs of %s: %w", short(c.ID), err)
		}
		root := os.NewFile(uintptr(fd), "/")
		for _, b := range binds {
			if err := bindInto(root, b); err != nil && !b.optional {
				root.Close()
				return fmt.Errorf("container %s: mount %s: %w", short(c.ID), b.dest, err)
			}
		}
		if c.Host.ReadonlyRootfs {
			// As inside the container; the binds keep their own mode.
			if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
				root.Close()
				return fmt.Errorf("container %s: read-only rootfs: %w", short(c.ID), err)
			}
		}
		cfs.root = root
		return nil
	}
	stop, err := inPrivateMountNS(setup)
	if err != nil {
		return nil, err
	}
	cfs.stop = func() { stop(); release() }
	return cfs, nil
}

// containerBinds lists the container's volumes and bind mounts, parents
// before children, then the files berth binds over /etc.
func containerBinds(c *container.Container, dir string) []bindMount {
	var out []bindMount
	for _, m := range c.Mounts {
		if m.Type != "volume" && m.Type != "bind" || m.Source == "" {
			continue
		}
		out = append(out, bindMount{source: m.Source, dest: path.Clean("/" + m.Destination), rw: m.RW})
	}
	sort.SliceStable(out, func(i, j int) bool {
		return strings.Count(out[i].dest, "/") < strings.Count(out[j].dest, "/")
	})
	for _, f := range []string{"hostname", "hosts", "resolv.conf"} {
		src := filepath.Join(dir, f)
		if _, err := os.Stat(src); err == nil {
			out = append(out, bindMount{source: src, dest: "/etc/" + f, rw: true, optional: true})
		}
	}
	return out
}

// bindInto mounts b.source over b.dest inside root, making the mount point
// if missing. The destination is resolved inside root and the mount made
// onto that descriptor, so no symlink in the container can redirect it.
func bindInto(root *os.File, b bindMount) error {
	st, err := os.Stat(b.source)
	if err != nil {
		return err
	}
	var target *os.File
	if st.IsDir() {
		target, err = pathrs.MkdirAllHandle(root, b.dest, 0o755)
	} else {
		target, err = pathrs.OpenatInRoot(root, b.dest)
		if errors.Is(err, os.ErrNotExist) {
			var parent *os.File
			if parent, err = pathrs.MkdirAllHandle(root, path.Dir(b.dest), 0o755); err != nil {
				return err
			}
			fd, cerr := unix.Openat(int(parent.Fd()), path.Base(b.dest), unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
			parent.Close()
			if cerr != nil {
				return cerr
			}
			unix.Close(fd)
			target, err = pathrs.OpenatInRoot(root, b.dest)
		}
	}
	if err != nil {
		return err
	}
	defer target.Close()
	tree, err := unix.OpenTree(unix.AT_FDCWD, b.source, unix.OPEN_TREE_CLONE|unix.O_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return fmt.Errorf("open_tree %s: %w", b.source, err)
	}
	defer unix.Close(tree)
	attr := unix.MountAttr{Propagation: unix.MS_PRIVATE}
	if !b.rw {
		attr.Attr_set = unix.MOUNT_ATTR_RDONLY
	}
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
		return fmt.Errorf("mount_setattr %s: %w", b.source, err)
	}
	if err := unix.MoveMount(tree, "", int(target.Fd()), "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount %s: %w", b.source, err)
	}
	return nil
}

// inPrivateMountNS runs setup on an OS thread that has left the process's
// mount namespace for a private copy (slave to the host's, so its own
// mounts never propagate out). The thread then waits, keeping the
// namespace and setup's mounts alive, until stop is called; it is not
// returned to the Go scheduler but ends, and the namespace with it.
// Descriptors opened by setup stay usable from any goroutine meanwhile.
func inPrivateMountNS(setup func() error) (stop func(), err error) {
	errc := make(chan error, 1)
	stopc := make(chan struct{})
	exited := make(chan struct{})
	body := func() {
		defer close(exited)
		// CLONE_NEWNS needs an fs_struct of our own, hence CLONE_FS.
		if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare mount namespace: %w", err)
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
			errc <- fmt.Errorf("make mounts private: %w", err)
			return
		}
		if err := setup(); err != nil {
			errc <- err
			return
		}
		errc <- nil
		<-stopc
	}
	go func() {
		goruntime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// Never the main thread: /proc/self shows its namespace to
			// the whole process, and it is parked rather than ended.
			done := make(chan struct{})
			go func() {
				goruntime.LockOSThread()
				body()
				close(done)
			}()
			<-done
			goruntime.UnlockOSThread()
			return
		}
		body()
	}()
	if err := <-errc; err != nil {
		<-exited
		return nil, err
	}
	return func() { close(stopc); <-exited }, nil
}

// extract is docker's ExtractToDir on the view: p (every symlink
// followed, the last one too) must be a directory; a volume must be
// writable, and the rootfs unless the path is in a volume.
func (cfs *containerFS) extract(ctx context.Context, p string, r io.Reader, copyUIDGID bool) error {
	abs := containerAbs(p)
	h, err := cfs.lookup(abs)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: %w", abs, errdefs.ErrNotFound)
		}
		return err
	}
	defer h.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("extraction point is not a directory: %w", errdefs.ErrInvalid)
	}
	rootPath := fdPath(cfs.root)
	resolved := abs
	if rp, err := securejoin.SecureJoin(rootPath, abs); err == nil {
		resolved = "/" + strings.TrimLeft(strings.TrimPrefix(rp, rootPath), "/")
	}
	inVolume := false
	best := -1
	for _, m := range cfs.c.Mounts {
		d := path.Clean("/" + m.Destination)
		if (resolved == d || strings.HasPrefix(resolved, strings.TrimSuffix(d, "/")+"/")) && len(d) > best {
			best, inVolume = len(d), true
			if !m.RW {
				return fmt.Errorf("mounted volume is marked read-only: %w", errdefs.ErrInvalid)
			}
		}
	}
	if !inVolume && cfs.c.Host.ReadonlyRootfs {
		return fmt.Errorf("container rootfs is marked read-only: %w", errdefs.ErrInvalid)
	}
	opts := archive.ApplyOptions{}
	if copyUIDGID && cfs.c.Config.User != "" {
		u, _, err := spec.ResolveUser(rootPath, cfs.c.Config.User)
		if err != nil {
			return err
		}
		opts.Chown = &archive.Owner{UID: int(u.UID), GID: int(u.GID)}
	}
	dr, err := archive.Decompress(r)
	if err != nil {
		return err
	}
	defer dr.Close()
	if _, err := archive.Apply(ctx, fdPath(h), dr, opts); err != nil {
		if errors.Is(err, unix.EROFS) {
			return fmt.Errorf("container rootfs is marked read-only: %w", errdefs.ErrInvalid)
		}
		// Name the container path, not the descriptor it was reached by.
		return &renamedError{msg: strings.ReplaceAll(err.Error(), fdPath(h), abs), err: err}
	}
	return nil
}

// renamedError rewords an error and keeps its classes.
type renamedError struct {
	msg string
	err error
}

func (e *renamedError) Error() string { return e.msg }
func (e *renamedError) Unwrap() error { return e.err }

// containerAbs is the daemon's view of a path in a container: relative to
// its root, with a trailing "/" or "/." kept.
func containerAbs(p string) string {
	return preserveTrailingDotOrSeparator(path.Join("/", p), p)
}

// ---- docker's client-side copy logic (pkg/archive/copy.go) ---------------

// copyInfo describes the source or destination of a copy.
type copyInfo struct {
	Path       string
	Exists     bool
	IsDir      bool
	RebaseName string
}

var (
	errNotDirectory  = fmt.Errorf("not a directory: %w", errdefs.ErrInvalid)
	errDirNotExists  = fmt.Errorf("no such directory: %w", errdefs.ErrInvalid)
	errCannotCopyDir = fmt.Errorf("cannot copy directory: %w", errdefs.ErrInvalid)
)

// preserveTrailingDotOrSeparator appends to cleaned the "/." or "/" that
// original ended with.
func preserveTrailingDotOrSeparator(cleaned, original string) string {
	if !specifiesCurrentDir(cleaned) && specifiesCurrentDir(original) {
		if !hasTrailingPathSeparator(cleaned) {
			cleaned += "/"
		}
		cleaned += "."
	}
	if !hasTrailingPathSeparator(cleaned) && hasTrailingPathSeparator(original) {
		cleaned += "/"
	}
	return cleaned
}

func assertsDirectory(p string) bool         { return hasTrailingPathSeparator(p) || specifiesCurrentDir(p) }
func hasTrailingPathSeparator(p string) bool { return len(p) > 0 && p[len(p)-1] == '/' }
func specifiesCurrentDir(p string) bool      { return path.Base(p) == "." }

// splitPathDirEntry splits a cleaned p into its directory and last
// element, keeping a trailing "." as the element.
func splitPathDirEntry(p string) (dir, base string) {
	cleaned := path.Clean(p)
	if specifiesCurrentDir(p) {
		cleaned += "/."
	}
	return path.Dir(cleaned), path.Base(cleaned)
}

// resolveLocalPath makes a host path absolute, keeping "/" or "/.".
func resolveLocalPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return preserveTrailingDotOrSeparator(abs, p), nil
}

func validateOutputPathFileMode(m os.FileMode) error {
	switch {
	case m&os.ModeDevice != 0:
		return errors.New("got a device")
	case m&os.ModeIrregular != 0:
		return errors.New("got an irregular file")
	}
	return nil
}

// validateOutputPath is docker's check of a host destination.
func validateOutputPath(p string) error {
	dir := filepath.Dir(filepath.Clean(p))
	if dir != "" && dir != "." {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("invalid output path: directory %q does not exist: %w", dir, errdefs.ErrInvalid)
		}
	}
	fi, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().IsDir() || fi.Mode().IsRegular() {
		return nil
	}
	if err := validateOutputPathFileMode(fi.Mode()); err != nil {
		return fmt.Errorf("invalid output path: %q must be a directory or a regular file: %v: %w", p, err, errdefs.ErrInvalid)
	}
	return nil
}

// copyInfoSourcePath stats a host source; with followLink the whole path
// is resolved, else only its parent.
func copyInfoSourcePath(p string, followLink bool) (copyInfo, error) {
	resolved, rebaseName, err := resolveHostSourcePath(p, followLink)
	if err != nil {
		return copyInfo{}, err
	}
	st, err := os.Lstat(resolved)
	if err != nil {
		return copyInfo{}, err
	}
	return copyInfo{Path: resolved, Exists: true, IsDir: st.IsDir(), RebaseName: rebaseName}, nil
}

func resolveHostSourcePath(p string, followLink bool) (resolved, rebaseName string, err error) {
	if followLink {
		if resolved, err = filepath.EvalSymlinks(p); err != nil {
			return "", "", err
		}
		resolved, rebaseName = getRebaseName(p, resolved)
		return resolved, rebaseName, nil
	}
	dir, base := filepath.Split(p)
	resolvedDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", "", err
	}
	resolved = resolvedDir + "/" + base
	if hasTrailingPathSeparator(p) && filepath.Base(p) != filepath.Base(resolved) {
		rebaseName = filepath.Base(p)
	}
	return resolved, rebaseName, nil
}

// getRebaseName returns resolved with p's trailing "/." or "/" and, if the
// last element changed, p's last element as the name for the archive.
func getRebaseName(p, resolved string) (string, string) {
	if specifiesCurrentDir(p) && !specifiesCurrentDir(resolved) {
		resolved += "/."
	}
	if hasTrailingPathSeparator(p) && !hasTrailingPathSeparator(resolved) {
		resolved += "/"
	}
	var rebaseName string
	if path.Base(p) != path.Base(resolved) {
		rebaseName = path.Base(p)
	}
	return resolved, rebaseName
}

// copyInfoDestinationPath stats a host destination, following a final
// symlink (up to 10 times); if it does not exist its parent must.
func copyInfoDestinationPath(p string) (copyInfo, error) {
	original := p
	st, err := os.Lstat(p)
	if err == nil && st.Mode()&os.ModeSymlink == 0 {
		return copyInfo{Path: p, Exists: true, IsDir: st.IsDir()}, nil
	}
	for n := 0; err == nil && st.Mode()&os.ModeSymlink != 0; n++ {
		if n > 10 {
			return copyInfo{}, fmt.Errorf("too many symlinks in %s: %w", original, errdefs.ErrInvalid)
		}
		target, rerr := os.Readlink(p)
		if rerr != nil {
			return copyInfo{}, rerr
		}
		if !filepath.IsAbs(target) {
			parent, _ := splitPathDirEntry(p)
			target = filepath.Join(parent, target)
		}
		p = target
		st, err = os.Lstat(p)
	}
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return copyInfo{}, err
		}
		parent, _ := splitPathDirEntry(p)
		pst, err := os.Stat(parent)
		if err != nil {
			return copyInfo{}, err
		}
		if !pst.IsDir() {
			return copyInfo{}, errNotDirectory
		}
		return copyInfo{Path: p}, nil
	}
	return copyInfo{Path: p, Exists: true, IsDir: st.IsDir()}, nil
}

// prepareArchiveCopy decides where srcContent (the archive of srcInfo) is
// unpacked for dstInfo and renames its entries as needed: into an existing
// directory as it is; otherwise into the destination's parent, named as
// the destination.
func prepareArchiveCopy(srcContent io.Reader, srcInfo, dstInfo copyInfo) (string, io.ReadCloser, error) {
	dstDir, dstBase := splitPathDirEntry(dstInfo.Path)
	_, srcBase := splitPathDirEntry(srcInfo.Path)
	if srcInfo.RebaseName != "" {
		srcBase = srcInfo.RebaseName
	}
	switch {
	case dstInfo.Exists && dstInfo.IsDir:
		return dstInfo.Path, io.NopCloser(srcContent), nil
	case dstInfo.Exists && srcInfo.IsDir:
		return "", nil, errCannotCopyDir
	case dstInfo.Exists:
		return dstDir, rebaseArchiveEntries(srcContent, srcBase, dstBase), nil
	case srcInfo.IsDir:
		return dstDir, rebaseArchiveEntries(srcContent, srcBase, dstBase), nil
	case assertsDirectory(dstInfo.Path):
		return "", nil, errDirNotExists
	default:
		return dstDir, rebaseArchiveEntries(srcContent, srcBase, dstBase), nil
	}
}

// rebaseArchiveEntries replaces oldBase with newBase at the start of every
// entry name (and hard link target), as docker does.
func rebaseArchiveEntries(src io.Reader, oldBase, newBase string) io.ReadCloser {
	if oldBase == "/" {
		oldBase = ""
	}
	pr, pw := io.Pipe()
	go func() {
		tr := tar.NewReader(src)
		tw := tar.NewWriter(pw)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				pw.CloseWithError(tw.Close())
				return
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			hdr.Name = strings.Replace(hdr.Name, oldBase, newBase, 1)
			if hdr.Typeflag == tar.TypeLink {
				hdr.Linkname = strings.Replace(hdr.Linkname, oldBase, newBase, 1)
			}
			hdr.Format = tar.FormatUnknown
			if err := tw.WriteHeader(hdr); err != nil {
				pw.CloseWithError(err)
				return
			}
			if _, err := io.Copy(tw, tr); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
	}()
	return pr
}

// tarResource archives a host source: its last element, named after
// RebaseName when set.
func tarResource(ctx context.Context, info copyInfo) (io.ReadCloser, error) {
	if _, err := os.Lstat(info.Path); err != nil {
		return nil, err
	}
	dir, base := splitPathDirEntry(info.Path)
	name := base
	if info.RebaseName != "" {
		name = info.RebaseName
	}
	host, err := hostView()
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		defer host.root.Close()
		pw.CloseWithError(host.writeResource(ctx, pw, dir, base, name))
	}()
	return pr, nil
}

// hostView is the host's own tree (resolving inside "/" is resolving).
func hostView() (fsView, error) {
	f, err := os.OpenFile("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fsView{}, err
	}
	return fsView{root: f}, nil
}

// copyTo unpacks content (the archive of srcInfo) at the host path dst.
func copyTo(ctx context.Context, content io.Reader, srcInfo copyInfo, dst string, opts archive.ApplyOptions) error {
	dstInfo, err := copyInfoDestinationPath(dst)
	if err != nil {
		return err
	}
	dstDir, prepared, err := prepareArchiveCopy(content, srcInfo, dstInfo)
	if err != nil {
		return err
	}
	defer prepared.Close()
	_, err = archive.Apply(ctx, dstDir, prepared, opts)
	return err
}
