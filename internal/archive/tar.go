package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// TarOptions tunes Tar; the zero value tars the whole tree as-is.
type TarOptions struct {
	// Overlay says the tree is an overlayfs upper directory: 0/0 character
	// devices become ".wh.NAME" entries and directories marked
	// trusted.overlay.opaque=y get a ".wh..wh..opq" entry (the OCI layer
	// format).
	Overlay bool
	// SourceDateEpoch, when set, clamps every mtime to at most this time
	// (reproducible builds).
	SourceDateEpoch *time.Time
	// Include, when non-empty, limits the tar to these paths (relative to
	// the tree, no ".." ) and everything below them. Their parents are not
	// emitted.
	Include []string
}

// Tar writes the tree at dir to w as a tar stream. Output is deterministic:
// entries in depth-first order with names sorted bytewise, numeric uid/gid
// only (no user or group names), mtimes truncated to seconds, no atime or
// ctime, USTAR headers unless a field needs PAX. Hard links are detected by
// inode: the first path of an inode is the file, later ones link to it.
// Xattrs travel as PAX SCHILY.xattr records except trusted.overlay.* and
// security.selinux. Sockets are skipped. The root directory itself is not an
// entry. Symlinks in the tree are never followed.
func Tar(ctx context.Context, dir string, w io.Writer, opts TarOptions) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("tar %s: %w", dir, err)
	}
	defer unix.Close(fd)
	t := &tarrer{ctx: ctx, tw: tar.NewWriter(w), opts: opts, links: map[[2]uint64]string{}, buf: make([]byte, 128<<10)}
	for _, inc := range opts.Include {
		rel, err := cleanName(inc)
		if err != nil {
			return fmt.Errorf("tar %s: include: %w", dir, err)
		}
		if rel == "." {
			t.include = nil
			break
		}
		t.include = append(t.include, rel)
	}
	if err := t.walk(fd, ""); err != nil {
		return fmt.Errorf("tar %s: %w", dir, err)
	}
	if err := t.tw.Close(); err != nil {
		return fmt.Errorf("tar %s: %w", dir, err)
	}
	return nil
}

type tarrer struct {
	ctx     context.Context
	tw      *tar.Writer
	opts    TarOptions
	include []string
	links   map[[2]uint64]string
	buf     []byte
}

// selected says whether rel is emitted and whether the walk goes below it.
func (t *tarrer) selected(rel string) (emit, descend bool) {
	if len(t.include) == 0 {
		return true, true
	}
	for _, inc := range t.include {
		if rel == inc || strings.HasPrefix(rel, inc+"/") {
			return true, true
		}
		if strings.HasPrefix(inc, rel+"/") {
			descend = true
		}
	}
	return false, descend
}

func (t *tarrer) walk(dirfd int, rel string) error {
	names, err := readDirNames(dirfd)
	if err != nil {
		return fmt.Errorf("read dir %q: %w", rel, err)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := t.ctx.Err(); err != nil {
			return err
		}
		child := path.Join(rel, name)
		emit, descend := t.selected(child)
		if !emit && !descend {
			continue
		}
		var st unix.Stat_t
		if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // vanished while we walked (a running container)
			}
			return fmt.Errorf("stat %s: %w", child, err)
		}
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		var cfd int = -1
		if isDir {
			cfd, err = unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				if errors.Is(err, unix.ENOENT) {
					continue
				}
				return fmt.Errorf("open %s: %w", child, err)
			}
		}
		if emit {
			err = t.entry(dirfd, name, child, &st, cfd)
		}
		if err == nil && isDir {
			err = t.walk(cfd, child)
		}
		if cfd >= 0 {
			unix.Close(cfd)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (t *tarrer) mtime(st *unix.Stat_t) time.Time {
	m := time.Unix(st.Mtim.Sec, 0)
	if e := t.opts.SourceDateEpoch; e != nil && m.After(*e) {
		m = e.Truncate(time.Second)
	}
	return m
}

// entry writes the header (and content) for child, found as name in dirfd.
// dfd is child's own descriptor when it is a directory.
func (t *tarrer) entry(dirfd int, name, child string, st *unix.Stat_t, dfd int) error {
	hdr := &tar.Header{
		Name:    child,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: t.mtime(st),
	}
	var fd int = -1
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		if st.Nlink > 1 {
			key := [2]uint64{st.Dev, st.Ino}
			if first, ok := t.links[key]; ok {
				hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
				return t.writeHeader(hdr, child)
			}
			t.links[key] = child
		}
		var err error
		fd, err = unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", child, err)
		}
		defer unix.Close(fd)
		var now unix.Stat_t
		if err := unix.Fstat(fd, &now); err != nil || now.Ino != st.Ino || now.Dev != st.Dev {
			return fmt.Errorf("%s changed while being read", child)
		}
		hdr.Typeflag, hdr.Size = tar.TypeReg, now.Size
	case unix.S_IFDIR:
		hdr.Typeflag, hdr.Name, fd = tar.TypeDir, child+"/", dfd
	case unix.S_IFLNK:
		target, err := readlinkat(dirfd, name)
		if err != nil {
			return fmt.Errorf("readlink %s: %w", child, err)
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case unix.S_IFCHR, unix.S_IFBLK:
		if t.opts.Overlay && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
			hdr.Name = path.Join(path.Dir(child), whiteoutPrefix+name)
			hdr.Typeflag, hdr.Mode = tar.TypeReg, 0o600
			return t.writeHeader(hdr, child)
		}
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return nil // sockets cannot be archived
	}

	// Xattrs are read through an O_PATH handle so symlinks and devices are
	// never opened or followed.
	xfd := fd
	if xfd < 0 {
		var err error
		xfd, err = unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", child, err)
		}
		defer unix.Close(xfd)
	}
	xattrs, err := listXattrs(xfd)
	if err != nil {
		return fmt.Errorf("xattrs of %s: %w", child, err)
	}
	opaque := false
	for k, v := range xattrs {
		if k == overlayOpaque && string(v) == "y" {
			opaque = true
		}
		if skipXattr(k) {
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords[paxXattrPrefix+k] = string(v)
	}
	if err := t.writeHeader(hdr, child); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeReg {
		if err := t.copyContent(fd, hdr.Size, child); err != nil {
			return err
		}
	}
	if t.opts.Overlay && opaque && hdr.Typeflag == tar.TypeDir {
		return t.writeHeader(&tar.Header{
			Name:     path.Join(child, whiteoutOpaqueDir),
			Typeflag: tar.TypeReg,
			Mode:     0o600,
			Uid:      hdr.Uid,
			Gid:      hdr.Gid,
			ModTime:  hdr.ModTime,
		}, child)
	}
	return nil
}

func (t *tarrer) writeHeader(hdr *tar.Header, child string) error {
	if err := t.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("header for %s: %w", child, err)
	}
	return nil
}

// copyContent copies exactly size bytes: a file that shrank while being
// read is padded with zeros (as GNU tar does) and one that grew is cut, so
// the stream stays a valid tar.
func (t *tarrer) copyContent(fd int, size int64, child string) error {
	var done int64
	for done < size {
		n := int64(len(t.buf))
		if size-done < n {
			n = size - done
		}
		m, err := unix.Read(fd, t.buf[:n])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", child, err)
		}
		if m == 0 {
			clear(t.buf)
			for done < size {
				n := min(int64(len(t.buf)), size-done)
				if _, err := t.tw.Write(t.buf[:n]); err != nil {
					return fmt.Errorf("write %s: %w", child, err)
				}
				done += n
			}
			break
		}
		if _, err := t.tw.Write(t.buf[:m]); err != nil {
			return fmt.Errorf("write %s: %w", child, err)
		}
		done += int64(m)
	}
	return nil
}

func readlinkat(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}
