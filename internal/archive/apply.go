package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/errdefs"
)

// WhiteoutMode says what Apply does with OCI whiteout entries (".wh.NAME"
// and ".wh..wh..opq").
type WhiteoutMode int

const (
	// WhiteoutLiteral extracts whiteout entries as the plain files they are
	// in the tar, like `tar x` (and `docker cp`) would.
	WhiteoutLiteral WhiteoutMode = iota
	// WhiteoutOverlay converts them to overlayfs form: ".wh.NAME" becomes a
	// 0/0 character device NAME and ".wh..wh..opq" sets
	// trusted.overlay.opaque=y on its directory. Used to unpack a layer into
	// its own snapshot directory.
	WhiteoutOverlay
	// WhiteoutApply carries them out on the tree: ".wh.NAME" deletes NAME and
	// ".wh..wh..opq" deletes whatever its directory holds that this tar did
	// not put there. Used to apply a tar on top of a merged tree.
	WhiteoutApply
)

// Owner is a numeric uid/gid pair.
type Owner struct{ UID, GID int }

// ApplyOptions tunes Apply; the zero value extracts everything as-is.
type ApplyOptions struct {
	Whiteouts WhiteoutMode
	// NoDevices skips character and block device entries (0/0 whiteout
	// devices made by WhiteoutOverlay are still created).
	NoDevices bool
	// Chown, when set, owns every entry by this uid/gid instead of the
	// tar's (docker cp without -a).
	Chown *Owner
}

// Apply unpacks the uncompressed tar stream r into dir, which must exist.
// It returns the number of bytes of regular-file content written.
//
// Nothing outside dir is ever touched: names are cleaned and a name that
// climbs out of dir ("../x", "a/../../x") is an errdefs.ErrInvalid error;
// absolute names are taken relative to dir; every parent is resolved inside
// dir with openat2(RESOLVE_IN_ROOT), so a symlink in the tree (even one the
// tar just made) resolves as if dir were "/"; hard links may only point at
// existing non-directories inside dir. Existing entries are replaced
// (unlinked, never written through), except that a directory entry over an
// existing directory merges into it. A truncated or malformed tar is an
// errdefs.ErrInvalid error; entries unpacked before the error stay.
func Apply(ctx context.Context, dir string, r io.Reader, opts ApplyOptions) (int64, error) {
	root, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("apply tar: open %s: %w", dir, err)
	}
	defer unix.Close(root)
	a := &applier{root: root, opts: opts, unpacked: map[string]bool{}, buf: make([]byte, 128<<10)}
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return a.size, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return a.size, fmt.Errorf("apply tar to %s: read: %v: %w", dir, err, errdefs.ErrInvalid)
		}
		if err := a.entry(hdr, tr); err != nil {
			return a.size, fmt.Errorf("apply tar to %s: entry %s: %w", dir, QuoteName(hdr.Name), err)
		}
	}
	if err := a.finishDirs(); err != nil {
		return a.size, fmt.Errorf("apply tar to %s: %w", dir, err)
	}
	return a.size, nil
}

type dirTimes struct {
	rel string
	ts  []unix.Timespec
}

type applier struct {
	root int
	opts ApplyOptions
	size int64
	// unpacked holds every path this tar created and all their parents, so
	// an opaque whiteout in WhiteoutApply mode spares them.
	unpacked map[string]bool
	// dirs get their times last, once nothing more is written into them.
	dirs []dirTimes
	buf  []byte
}

func (a *applier) markUnpacked(rel string) {
	if a.opts.Whiteouts != WhiteoutApply {
		return
	}
	for rel != "." && !a.unpacked[rel] {
		a.unpacked[rel] = true
		rel = path.Dir(rel)
	}
}

func (a *applier) entry(hdr *tar.Header, r io.Reader) error {
	rel, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if rel == "." {
		// Like docker: the root's own metadata belongs to whoever made dir.
		return nil
	}
	parent, base := path.Dir(rel), path.Base(rel)
	if a.opts.Whiteouts != WhiteoutLiteral && strings.HasPrefix(base, whiteoutPrefix) {
		return a.whiteout(hdr, parent, base)
	}
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		return nil
	case tar.TypeChar, tar.TypeBlock:
		if a.opts.NoDevices {
			return nil
		}
	case tar.TypeReg, tar.TypeGNUSparse, tar.TypeDir, tar.TypeSymlink, tar.TypeLink, tar.TypeFifo:
	default:
		return fmt.Errorf("unsupported tar entry type %q: %w", hdr.Typeflag, errdefs.ErrInvalid)
	}

	pfd, err := resolveDir(a.root, parent, true)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	a.markUnpacked(rel)

	if hdr.Typeflag == tar.TypeLink {
		return a.hardlink(hdr, pfd, base)
	}
	merge, err := replace(pfd, base, hdr.Typeflag == tar.TypeDir)
	if err != nil {
		return err
	}
	var fd int
	var wantType uint32
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse:
		fd, err = unix.Openat(pfd, base, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return fmt.Errorf("create file: %w", err)
		}
		defer unix.Close(fd)
		if err := a.copyContent(fd, r); err != nil {
			return err
		}
	case tar.TypeDir:
		if !merge {
			if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
				return fmt.Errorf("mkdir: %w", err)
			}
		}
		wantType = unix.S_IFDIR
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return fmt.Errorf("symlink: %w", err)
		}
		wantType = unix.S_IFLNK
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		wantType = map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknodat(pfd, base, wantType|0o600, int(dev)); err != nil {
			return fmt.Errorf("mknod: %w", err)
		}
	}
	if wantType != 0 {
		if fd, err = openNoFollow(pfd, base, wantType); err != nil {
			return err
		}
		defer unix.Close(fd)
	}
	if err := a.setMeta(fd, hdr); err != nil {
		return err
	}
	ts := timespecs(hdr)
	if hdr.Typeflag == tar.TypeDir {
		a.dirs = append(a.dirs, dirTimes{rel: rel, ts: ts})
		return nil
	}
	if err := futimes(fd, ts); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

// openNoFollow opens what was just created at pfd/base as O_PATH without
// following it, and checks it is still of the type created, so a concurrent
// swap (a running container's processes) cannot redirect the metadata calls.
func openNoFollow(pfd int, base string, wantType uint32) (int, error) {
	fd, err := unix.Openat(pfd, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("reopen: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != wantType {
		unix.Close(fd)
		return -1, fmt.Errorf("entry changed while being created (%v): %w", err, errdefs.ErrConflict)
	}
	return fd, nil
}

// replace clears the way for a new entry pfd/base: an existing non-directory
// is unlinked, an existing directory removed with its content unless the new
// entry is a directory too, in which case merge is true and it stays.
func replace(pfd int, base string, isDir bool) (merge bool, err error) {
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return false, nil
		}
		return false, fmt.Errorf("stat existing: %w", err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR && isDir {
		return true, nil
	}
	if err := removeAllAt(pfd, base); err != nil {
		return false, fmt.Errorf("replace existing: %w", err)
	}
	return false, nil
}

func (a *applier) hardlink(hdr *tar.Header, pfd int, base string) error {
	target, err := cleanName(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hard link to %s: %w", QuoteName(hdr.Linkname), err)
	}
	if target == "." {
		return fmt.Errorf("hard link to the root: %w", errdefs.ErrInvalid)
	}
	tpfd, err := resolveDir(a.root, path.Dir(target), false)
	if err != nil {
		return fmt.Errorf("hard link target %s: %v: %w", QuoteName(target), err, errdefs.ErrInvalid)
	}
	defer unix.Close(tpfd)
	tbase := path.Base(target)
	var tst, st unix.Stat_t
	if err := unix.Fstatat(tpfd, tbase, &tst, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("hard link target %s: %v: %w", QuoteName(target), err, errdefs.ErrInvalid)
	}
	if tst.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("hard link target %s is a directory: %w", QuoteName(target), errdefs.ErrInvalid)
	}
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Dev == tst.Dev && st.Ino == tst.Ino {
		return nil // already the same file
	}
	if _, err := replace(pfd, base, false); err != nil {
		return err
	}
	// No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself.
	if err := unix.Linkat(tpfd, tbase, pfd, base, 0); err != nil {
		return fmt.Errorf("hard link to %s: %w", QuoteName(target), err)
	}
	return nil
}

func (a *applier) whiteout(hdr *tar.Header, parent, base string) error {
	if base == whiteoutOpaqueDir {
		return a.opaque(parent)
	}
	if strings.HasPrefix(base, whiteoutMetaPref) {
		return nil // aufs bookkeeping (.wh..wh.plnk...), meaningless here
	}
	name := strings.TrimPrefix(base, whiteoutPrefix)
	if name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
		return fmt.Errorf("whiteout %s names no file in its directory: %w", QuoteName(base), errdefs.ErrInvalid)
	}
	switch a.opts.Whiteouts {
	case WhiteoutOverlay:
		pfd, err := resolveDir(a.root, parent, true)
		if err != nil {
			return err
		}
		defer unix.Close(pfd)
		a.markUnpacked(path.Join(parent, name))
		if _, err := replace(pfd, name, false); err != nil {
			return err
		}
		if err := unix.Mknodat(pfd, name, unix.S_IFCHR, 0); err != nil {
			return fmt.Errorf("whiteout device: %w", err)
		}
		uid, gid := a.owner(hdr)
		if err := unix.Fchownat(pfd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("whiteout owner: %w", err)
		}
		return nil
	default: // WhiteoutApply
		pfd, err := resolveDir(a.root, parent, false)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return nil // nothing there to delete
		}
		if err != nil {
			return err
		}
		defer unix.Close(pfd)
		return removeAllAt(pfd, name)
	}
}

func (a *applier) opaque(dir string) error {
	if a.opts.Whiteouts == WhiteoutOverlay {
		fd, err := resolveDir(a.root, dir, true)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		a.markUnpacked(dir)
		if err := unix.Setxattr(procPath(fd), overlayOpaque, []byte("y"), 0); err != nil {
			return fmt.Errorf("mark %s opaque: %w", dir, err)
		}
		return nil
	}
	fd, err := resolveDir(a.root, dir, false)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return a.pruneNotUnpacked(fd, dir)
}

// pruneNotUnpacked deletes everything under directory fd (at rel) that this
// tar did not create: an opaque directory shows only the layer's own content.
func (a *applier) pruneNotUnpacked(fd int, rel string) error {
	names, err := readDirNames(fd)
	if err != nil {
		return fmt.Errorf("opaque %s: %w", rel, err)
	}
	for _, n := range names {
		child := path.Join(rel, n)
		if !a.unpacked[child] {
			if err := removeAllAt(fd, n); err != nil {
				return fmt.Errorf("opaque %s: %w", rel, err)
			}
			continue
		}
		cfd, err := unix.Openat(fd, n, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			continue // not a directory: nothing below it
		}
		err = a.pruneNotUnpacked(cfd, child)
		unix.Close(cfd)
		if err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) owner(hdr *tar.Header) (int, int) {
	if a.opts.Chown != nil {
		return a.opts.Chown.UID, a.opts.Chown.GID
	}
	return hdr.Uid, hdr.Gid
}

// setMeta applies owner, mode and xattrs to the inode fd refers to. The
// owner goes first because chown clears set-id bits.
func (a *applier) setMeta(fd int, hdr *tar.Header) error {
	uid, gid := a.owner(hdr)
	if err := unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	if hdr.Typeflag != tar.TypeSymlink {
		if err := fchmod(fd, tarMode(hdr.Mode)); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	for key, value := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(key, paxXattrPrefix)
		if !ok || skipXattr(name) {
			continue
		}
		err := unix.Setxattr(procPath(fd), name, []byte(value), 0)
		if err != nil && !isXattrUnsupported(err) && !(hdr.Typeflag == tar.TypeSymlink && errors.Is(err, unix.EPERM)) {
			return fmt.Errorf("xattr %s: %w", name, err)
		}
	}
	return nil
}

// tarMode maps a tar mode field to the permission and set-id/sticky bits
// chmod takes.
func tarMode(m int64) uint32 {
	return uint32(m) & 0o7777
}

func timespecs(hdr *tar.Header) []unix.Timespec {
	atime := hdr.AccessTime
	if atime.Before(hdr.ModTime) {
		atime = hdr.ModTime
	}
	return []unix.Timespec{toTimespec(atime), toTimespec(hdr.ModTime)}
}

func toTimespec(t time.Time) unix.Timespec {
	if t.IsZero() {
		return unix.Timespec{}
	}
	return unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

// finishDirs sets directory times last, deepest first, once their content
// can no longer change them.
func (a *applier) finishDirs() error {
	for i := len(a.dirs) - 1; i >= 0; i-- {
		d := a.dirs[i]
		fd, err := openInRoot(a.root, d.rel, unix.O_PATH|unix.O_NOFOLLOW)
		if err != nil {
			continue // removed or replaced later in the tar
		}
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			err = futimes(fd, d.ts)
		}
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("set times of %s: %w", d.rel, err)
		}
	}
	return nil
}

// copyContent streams a regular file's content from the tar into fd. A
// read error means a truncated or corrupt tar (ErrInvalid); a write error is
// the destination's (ENOSPC...) and keeps its own class.
func (a *applier) copyContent(fd int, r io.Reader) error {
	for {
		n, rerr := r.Read(a.buf)
		for done := 0; done < n; {
			m, err := unix.Write(fd, a.buf[done:n])
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return fmt.Errorf("write content: %w", err)
			}
			done += m
			a.size += int64(m)
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("read content: %v: %w", rerr, errdefs.ErrInvalid)
		}
	}
}
