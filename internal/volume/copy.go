package volume

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// CopyUp fills an empty volume with the image's content at the mount path,
// as Docker does when a container mounts a volume over a non-empty image
// directory: regular files, directories, symlinks, device nodes and FIFOs,
// with owners, modes, extended attributes (capabilities included),
// timestamps and hard links preserved; the volume's root takes srcDir's
// owner and mode. It does nothing (copied=false) when the volume already
// holds anything or srcDir is missing or not a directory.
//
// srcDir is a host path whose every component the caller trusts: the final
// one is not followed if it is a symlink, and below it the copy walks
// directory file descriptors and never follows a symlink, so entries
// swapped for symlinks during the copy cannot make it read outside srcDir.
// For a path inside a container rootfs use CopyUpInRoot, which resolves
// the image's symlinks inside the rootfs.
func (s *Store) CopyUp(name, srcDir string) (copied bool, err error) {
	open := func() (int, error) {
		return unix.Open(srcDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	return s.copyUp(name, srcDir, open)
}

// CopyUpInRoot is CopyUp from the directory at containerPath inside rootfs
// (Docker's GetResourcePath): symlinks in containerPath are resolved as if
// rootfs were "/", so an image cannot point the copy at a host directory.
func (s *Store) CopyUpInRoot(name, rootfs, containerPath string) (copied bool, err error) {
	open := func() (int, error) {
		h, err := pathrs.OpenInRoot(rootfs, containerPath)
		if err != nil {
			return -1, err
		}
		defer h.Close()
		var st unix.Stat_t
		if err := unix.Fstat(int(h.Fd()), &st); err != nil {
			return -1, err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return -1, unix.ENOTDIR
		}
		f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_DIRECTORY)
		if err != nil {
			return -1, err
		}
		// Hand over the descriptor; f must not close it.
		fd, err := unix.Dup(int(f.Fd()))
		f.Close()
		if err != nil {
			return -1, err
		}
		unix.CloseOnExec(fd)
		return fd, nil
	}
	return s.copyUp(name, filepath.Join(rootfs, containerPath), open)
}

// copyUp holds the volume's lock, checks the volume is empty and copies
// from the directory that openSrc opens (display names it in errors).
func (s *Store) copyUp(name, display string, openSrc func() (int, error)) (bool, error) {
	if ValidName(name) != nil {
		return false, notFound("get", name)
	}
	unlock, err := s.lockVolume(name)
	if err != nil {
		return false, fmt.Errorf("copy into volume %s: %w", name, err)
	}
	defer unlock()
	v, err := s.load(name)
	if err != nil {
		return false, err
	}

	src, err := openSrc()
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) || errors.Is(err, fs.ErrNotExist) {
			return false, nil // nothing to copy
		}
		return false, fmt.Errorf("copy into volume %s: open %s: %w", name, display, err)
	}
	defer unix.Close(src)

	dst, err := unix.Open(v.Mountpoint, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, fmt.Errorf("copy into volume %s: %w", name, err)
	}
	defer unix.Close(dst)
	empty, err := dirEmpty(dst)
	if err != nil {
		return false, fmt.Errorf("copy into volume %s: %w", name, err)
	}
	if !empty {
		return false, nil
	}

	c := &copier{links: map[inode]string{}, dstRoot: v.Mountpoint}
	if err := c.copyDir(src, dst, ""); err != nil {
		return false, fmt.Errorf("copy %s into volume %s: %w", display, name, err)
	}
	// Docker's copyOwnership: the volume root looks like the image dir.
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return false, fmt.Errorf("copy into volume %s: %w", name, err)
	}
	if err := applyMeta(src, dst, &st); err != nil {
		return false, fmt.Errorf("copy into volume %s: %w", name, err)
	}
	return true, nil
}

func dirEmpty(fd int) (bool, error) {
	d, err := unix.Dup(fd)
	if err != nil {
		return false, err
	}
	f := os.NewFile(uintptr(d), "volume data")
	defer f.Close()
	names, err := f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return len(names) == 0, err
}

type inode struct{ dev, ino uint64 }

type copier struct {
	links   map[inode]string // source inode → first copy (path relative to dstRoot)
	dstRoot string
}

// copyDir copies the entries of directory srcFD into dstFD. rel is the
// directory's path relative to the roots (for hard links and messages).
func (c *copier) copyDir(srcFD, dstFD int, rel string) error {
	d, err := unix.Dup(srcFD)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(d), rel)
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return fmt.Errorf("read %s: %w", displayPath(rel), err)
	}
	for _, n := range names {
		if err := c.copyEntry(srcFD, dstFD, n, filepath.Join(rel, n)); err != nil {
			return err
		}
	}
	return nil
}

func displayPath(rel string) string { return "/" + rel }

func (c *copier) copyEntry(srcDir, dstDir int, name, rel string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(srcDir, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil // vanished meanwhile
		}
		return fmt.Errorf("stat %s: %w", displayPath(rel), err)
	}
	key := inode{uint64(st.Dev), st.Ino}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR && st.Nlink > 1 {
		if first, ok := c.links[key]; ok {
			// Paths below dstRoot are directories this copy created, so
			// resolving first by name cannot leave the volume.
			if err := unix.Linkat(unix.AT_FDCWD, filepath.Join(c.dstRoot, first), dstDir, name, 0); err != nil {
				return fmt.Errorf("link %s: %w", displayPath(rel), err)
			}
			return nil
		}
		c.links[key] = rel
	}

	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		sfd, err := unix.Openat(srcDir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", displayPath(rel), err)
		}
		defer unix.Close(sfd)
		if err := unix.Mkdirat(dstDir, name, 0o700); err != nil {
			return fmt.Errorf("mkdir %s: %w", displayPath(rel), err)
		}
		dfd, err := unix.Openat(dstDir, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", displayPath(rel), err)
		}
		defer unix.Close(dfd)
		if err := c.copyDir(sfd, dfd, rel); err != nil {
			return err
		}
		// Metadata last: creating children changes the directory's mtime,
		// and a read-only mode would stop the copy.
		if err := applyMeta(sfd, dfd, &st); err != nil {
			return fmt.Errorf("%s: %w", displayPath(rel), err)
		}
		return nil

	case unix.S_IFREG:
		return c.copyFile(srcDir, dstDir, name, rel, &st)

	case unix.S_IFLNK:
		target, err := readlinkat(srcDir, name)
		if err != nil {
			return fmt.Errorf("readlink %s: %w", displayPath(rel), err)
		}
		if err := unix.Symlinkat(target, dstDir, name); err != nil {
			return fmt.Errorf("symlink %s: %w", displayPath(rel), err)
		}
		return applyMetaAt(dstDir, name, &st)

	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
		if err := unix.Mknodat(dstDir, name, st.Mode, int(st.Rdev)); err != nil {
			return fmt.Errorf("mknod %s: %w", displayPath(rel), err)
		}
		return applyMetaAt(dstDir, name, &st)

	default:
		return nil // sockets mean nothing outside their process
	}
}

func (c *copier) copyFile(srcDir, dstDir int, name, rel string, st *unix.Stat_t) error {
	// O_NONBLOCK: if the entry was swapped for a FIFO since the stat, open
	// must not hang; the fstat below then rejects it.
	sfd, err := unix.Openat(srcDir, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", displayPath(rel), err)
	}
	sf := os.NewFile(uintptr(sfd), rel)
	defer sf.Close()
	var now unix.Stat_t
	if err := unix.Fstat(sfd, &now); err != nil {
		return fmt.Errorf("stat %s: %w", displayPath(rel), err)
	}
	if now.Mode&unix.S_IFMT != unix.S_IFREG || now.Ino != st.Ino || now.Dev != st.Dev {
		return fmt.Errorf("copy %s: file changed during copy", displayPath(rel))
	}
	dfd, err := unix.Openat(dstDir, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", displayPath(rel), err)
	}
	df := os.NewFile(uintptr(dfd), rel)
	defer df.Close()
	// *os.File to *os.File: io.Copy uses copy_file_range (reflinks where
	// the filesystem can).
	if _, err := io.Copy(df, sf); err != nil {
		return fmt.Errorf("copy %s: %w", displayPath(rel), err)
	}
	if err := applyMeta(sfd, dfd, st); err != nil {
		return fmt.Errorf("%s: %w", displayPath(rel), err)
	}
	return df.Close()
}

// applyMeta gives the open file or directory dst the owner, mode,
// extended attributes and times of src (whose stat is st). The order
// matters: chown clears set-user-ID bits and file capabilities, so chmod
// and the xattrs come after it, and times come last.
func applyMeta(src, dst int, st *unix.Stat_t) error {
	if err := unix.Fchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	if err := unix.Fchmod(dst, st.Mode&0o7777); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	if err := copyXattrs(src, dst); err != nil {
		return fmt.Errorf("xattrs: %w", err)
	}
	// futimens(dst): utimensat with an empty path and AT_EMPTY_PATH.
	if err := unix.UtimesNanoAt(dst, "", []unix.Timespec{st.Atim, st.Mtim}, unix.AT_EMPTY_PATH); err != nil {
		return fmt.Errorf("utimes: %w", err)
	}
	return nil
}

// applyMetaAt sets owner, mode and times on name in dirFD without
// following it (symlinks, device nodes, FIFOs, which are not opened).
// Their xattrs are not copied.
func applyMetaAt(dirFD int, name string, st *unix.Stat_t) error {
	if err := unix.Fchownat(dirFD, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown %s: %w", name, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		if err := unix.Fchmodat(dirFD, name, st.Mode&0o7777, 0); err != nil {
			return fmt.Errorf("chmod %s: %w", name, err)
		}
	}
	if err := unix.UtimesNanoAt(dirFD, name, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("utimes %s: %w", name, err)
	}
	return nil
}

func readlinkat(dirFD int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirFD, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// copyXattrs copies every extended attribute the destination filesystem
// accepts; a filesystem without xattr support is not an error (Docker's
// copy behaves the same for ENOTSUP).
func copyXattrs(src, dst int) error {
	names, err := listXattrs(src)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		return err
	}
	for _, n := range names {
		val, err := getXattr(src, n)
		if err != nil {
			if errors.Is(err, unix.ENODATA) {
				continue
			}
			return err
		}
		if err := unix.Fsetxattr(dst, n, val, 0); err != nil {
			if errors.Is(err, unix.ENOTSUP) {
				continue
			}
			return fmt.Errorf("set %s: %w", n, err)
		}
	}
	return nil
}

func listXattrs(fd int) ([]string, error) {
	size, err := unix.Flistxattr(fd, nil)
	if err != nil || size == 0 {
		return nil, err
	}
	buf := make([]byte, size)
	size, err = unix.Flistxattr(fd, buf)
	if err != nil {
		return nil, err
	}
	var names []string
	start := 0
	for i, b := range buf[:size] {
		if b == 0 {
			if i > start {
				names = append(names, string(buf[start:i]))
			}
			start = i + 1
		}
	}
	return names, nil
}

func getXattr(fd int, name string) ([]byte, error) {
	size, err := unix.Fgetxattr(fd, name, nil)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, size)
	size, err = unix.Fgetxattr(fd, name, buf)
	if err != nil {
		return nil, err
	}
	return buf[:size], nil
}

type statInfo struct{ dev, ino uint64 }

// statT extracts device and inode from a FileInfo.
func statT(fi fs.FileInfo) (statInfo, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return statInfo{}, false
	}
	return statInfo{uint64(st.Dev), st.Ino}, true
}
