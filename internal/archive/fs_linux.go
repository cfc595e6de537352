package archive

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/errdefs"
)

// cleanName turns a tar entry name into a clean path relative to the root:
// leading slashes are dropped (absolute names mean "from the root", as in
// GNU tar and docker) and a name that climbs above the root is refused.
func cleanName(name string) (string, error) {
	rel := path.Clean(strings.TrimLeft(name, "/"))
	if rel == "" {
		rel = "."
	}
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("path %s escapes the destination: %w", QuoteName(name), errdefs.ErrInvalid)
	}
	return rel, nil
}

func procPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// openInRoot resolves rel inside root as if root were "/" (symlinks,
// absolute or relative, and ".." all stay inside) and opens it with flags.
// The final component is not followed when flags has O_NOFOLLOW.
func openInRoot(root int, rel string, flags uint64) (int, error) {
	how := unix.OpenHow{
		Flags:   flags | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for i := 0; ; i++ {
		fd, err := unix.Openat2(root, rel, &how)
		// EAGAIN: a concurrent rename raced the lookup; the kernel asks us to retry.
		if errors.Is(err, unix.EAGAIN) && i < 16 {
			continue
		}
		if errors.Is(err, unix.ENOSYS) {
			return -1, fmt.Errorf("openat2 is required (Linux 5.6+): %w", err)
		}
		return fd, err
	}
}

// resolveDir returns an O_PATH descriptor for directory rel inside root.
// With create, missing directories are made (0755, owned by the caller),
// each one with mkdirat relative to its already-resolved parent.
func resolveDir(root int, rel string, create bool) (int, error) {
	const flags = unix.O_PATH | unix.O_DIRECTORY
	fd, err := openInRoot(root, rel, flags)
	if err == nil || !create || !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	cur, err := unix.Openat(root, ".", flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	comps := strings.Split(rel, "/")
	for i, c := range comps {
		prefix := strings.Join(comps[:i+1], "/")
		next, err := openInRoot(root, prefix, flags)
		if errors.Is(err, unix.ENOENT) {
			created := false
			if err := unix.Mkdirat(cur, c, 0o755); err == nil {
				created = true
			} else if !errors.Is(err, unix.EEXIST) {
				unix.Close(cur)
				return -1, fmt.Errorf("create parent %s: %w", QuoteName(prefix), err)
			}
			next, err = openInRoot(root, prefix, flags)
			if err == nil && created {
				// mkdirat applied the process umask.
				err = fchmod(next, 0o755)
			}
		}
		unix.Close(cur)
		if err != nil {
			return -1, fmt.Errorf("parent %s: %w", QuoteName(prefix), err)
		}
		cur = next
	}
	return cur, nil
}

// removeAllAt removes name (a file or a whole tree) from directory dirfd
// without ever following a symlink. A missing name is not an error.
func removeAllAt(dirfd int, name string) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EPERM) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("remove %s: %w", name, err)
	}
	d := os.NewFile(uintptr(fd), name)
	defer d.Close()
	for {
		names, err := d.Readdirnames(1024)
		for _, n := range names {
			if err := removeAllAt(fd, n); err != nil {
				return fmt.Errorf("%s/%w", name, err)
			}
		}
		if err != nil || len(names) == 0 {
			break
		}
		// Entries were removed while reading; start over so none are skipped.
		if _, err := d.Seek(0, 0); err != nil {
			return fmt.Errorf("remove %s: %w", name, err)
		}
	}
	if err := unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

// readDirNames lists directory fd (any open mode, O_PATH included).
func readDirNames(fd int) ([]string, error) {
	rfd, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	d := os.NewFile(uintptr(rfd), ".")
	defer d.Close()
	return d.Readdirnames(-1)
}

// fchmod sets the mode of whatever fd refers to, O_PATH descriptors
// included (fchmodat2 on Linux 6.6+, /proc/self/fd before that).
func fchmod(fd int, mode uint32) error {
	err := unix.Fchmodat(fd, "", mode, unix.AT_EMPTY_PATH)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) {
		err = unix.Chmod(procPath(fd), mode)
	}
	return err
}

// futimes sets atime and mtime of whatever fd refers to without following it.
func futimes(fd int, ts []unix.Timespec) error {
	err := unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.EINVAL) {
		err = unix.UtimesNanoAt(unix.AT_FDCWD, procPath(fd), ts, 0)
	}
	return err
}

// listXattrs returns the extended attributes of the inode fd refers to.
// It goes through /proc/self/fd with the following variants of the calls:
// following that magic link lands on the inode itself (a symlink's own
// inode for an O_PATH|O_NOFOLLOW handle), where the l* variants would stop
// at the proc link.
func listXattrs(fd int) (map[string][]byte, error) {
	p := procPath(fd)
	size, err := unix.Listxattr(p, nil)
	if err != nil || size == 0 {
		if isXattrUnsupported(err) {
			err = nil
		}
		return nil, err
	}
	buf := make([]byte, size)
	size, err = unix.Listxattr(p, buf)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:size]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		v, err := getXattr(p, name)
		if err != nil {
			if errors.Is(err, unix.ENODATA) {
				continue
			}
			return nil, fmt.Errorf("xattr %s: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}

func getXattr(p, name string) ([]byte, error) {
	size, err := unix.Getxattr(p, name, nil)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, size)
	size, err = unix.Getxattr(p, name, buf)
	if err != nil {
		return nil, err
	}
	return buf[:size], nil
}

func isXattrUnsupported(err error) bool {
	return errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP)
}

// Whiteout conventions of the OCI layer format and of overlayfs.
const (
	whiteoutPrefix    = ".wh."
	whiteoutMetaPref  = ".wh..wh."
	whiteoutOpaqueDir = ".wh..wh..opq"
	overlayXattrPref  = "trusted.overlay."
	overlayOpaque     = "trusted.overlay.opaque"
	paxXattrPrefix    = "SCHILY.xattr."
)

// skipXattr reports xattrs that never travel through a tar: overlay's own
// bookkeeping (a hostile layer could otherwise plant redirects) and host
// SELinux labels.
func skipXattr(name string) bool {
	return strings.HasPrefix(name, overlayXattrPref) || name == "security.selinux"
}
