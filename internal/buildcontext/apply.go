package buildcontext

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/errdefs"
)

// Apply copies the plan into the mounted rootfs dstRoot. Everything goes
// through archive.Apply as one tar stream, so every write is resolved
// inside dstRoot (openat2 RESOLVE_IN_ROOT): a symlink in the image, even
// one to "/", cannot carry a copy out of it.
//
// Docker's rules: a file goes to dest, or dest/NAME when dest ends in "/"
// or is an existing directory; a directory's contents go into dest; ADD
// extracts a local tar into dest keeping the tar's owners. Copies are owned
// 0:0 (context) or keep their owners (rootfs source) unless --chown; new
// parent directories are 0755, owned by the --chown user for a file copy
// and by root otherwise; directories that already exist keep their mode and
// owner; modes and mtimes come from the source; --chmod sets the mode of
// every file and directory copied.
func (p *Plan) Apply(dstRoot string) error {
	var owner *archive.Owner
	if p.chown != "" {
		o, err := resolveChown(dstRoot, p.chown)
		if err != nil {
			return err
		}
		owner = &o
	}
	// Like Docker's ResolveScopedPath, the destination's existing symlinks
	// (the last one too) are followed inside the rootfs.
	dest, err := scopedJoin(dstRoot, p.dest)
	if err != nil {
		return fmt.Errorf("%s failed: resolve %s: %w", p.cmd, p.dest, err)
	}
	r, err := filepath.Rel(dstRoot, dest)
	if err != nil || r == ".." || strings.HasPrefix(r, "../") {
		return fmt.Errorf("%s failed: %s resolves outside the rootfs", p.cmd, p.dest)
	}
	dest = path.Join("/", filepath.ToSlash(r))
	pr, pw := io.Pipe()
	werr := make(chan error, 1)
	go func() {
		e := &emitter{p: p, dest: dest, tw: tar.NewWriter(pw), root: dstRoot, owner: owner, made: map[string]bool{}, now: time.Now()}
		err := e.run()
		if err == nil {
			err = e.tw.Close()
		}
		pw.CloseWithError(err)
		werr <- err
	}()
	_, aerr := archive.Apply(context.Background(), dstRoot, pr, archive.ApplyOptions{})
	pr.CloseWithError(errApplyStopped)
	// The first failure is the cause: the writer's own error, unless it
	// only saw Apply give up.
	if err := <-werr; err != nil && !errors.Is(err, errApplyStopped) {
		return fmt.Errorf("%s failed: %w", p.cmd, err)
	}
	if aerr != nil {
		return fmt.Errorf("%s failed: %w", p.cmd, aerr)
	}
	return nil
}

var errApplyStopped = errors.New("apply stopped")

type emitter struct {
	p     *Plan
	dest  string // p.dest with its symlinks resolved in root
	tw    *tar.Writer
	root  string
	owner *archive.Owner // --chown
	made  map[string]bool
	now   time.Time
}

// rel turns an absolute image path into a tar name.
func rel(abs string) string { return strings.TrimPrefix(path.Clean(abs), "/") }

// isDir says whether the image path exists as a directory (following
// symlinks inside the root, as Docker's scoped resolution does).
func (e *emitter) isDir(abs string) (exists, dir bool) {
	r := rel(abs)
	if r == "" || e.made[r] {
		return true, true
	}
	p, err := scopedJoin(e.root, r)
	if err != nil {
		return false, false
	}
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return false, false
	}
	return true, st.Mode&unix.S_IFMT == unix.S_IFDIR
}

// mkdirAll emits headers for the missing directories of abs (abs
// included), 0755 and owned by uid:gid.
func (e *emitter) mkdirAll(abs string, uid, gid int, mode int64) error {
	r := rel(abs)
	if r == "" {
		return nil
	}
	parts := strings.Split(r, "/")
	for i := range parts {
		d := "/" + strings.Join(parts[:i+1], "/")
		exists, dir := e.isDir(d)
		if exists && !dir {
			return withClass(errdefs.ErrConflict, fmt.Errorf("mkdir %s: not a directory", d))
		}
		if exists {
			continue
		}
		m := int64(0o755)
		if i == len(parts)-1 {
			m = mode
		}
		if err := e.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: rel(d) + "/", Mode: m, Uid: uid, Gid: gid, ModTime: e.now, Format: tar.FormatPAX}); err != nil {
			return err
		}
		e.made[rel(d)] = true
	}
	return nil
}

func (e *emitter) run() error {
	p := e.p
	for _, it := range p.items {
		var err error
		switch it.kind {
		case kindFile, kindRemote:
			err = e.file(it)
		case kindDir:
			err = e.dir(it)
		case kindArchive:
			err = e.archive(it)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ownerOf is who owns a copied entry.
func (e *emitter) ownerOf(it item, n *node) (int, int) {
	if e.owner != nil {
		return e.owner.UID, e.owner.GID
	}
	if it.src.context || it.kind == kindRemote {
		return 0, 0
	}
	return int(n.st.Uid), int(n.st.Gid)
}

func (e *emitter) modeOf(it item, n *node) int64 {
	if e.p.chmod != nil && !n.isLink() {
		return int64(*e.p.chmod)
	}
	if n.parentOnly {
		return 0o755
	}
	mode := int64(n.st.Mode & 0o7777)
	// Docker chowns every copied file after writing it (to 0:0 or the
	// --chown user) unless it preserves a --from source's owners, and
	// chown(2) clears set-user-ID, and set-group-ID on group-executable
	// files, even for root.
	if n.isReg() && (e.owner != nil || it.src.context || it.kind == kindRemote) {
		mode &^= unix.S_ISUID
		if mode&(unix.S_ISGID|0o010) == unix.S_ISGID|0o010 {
			mode &^= unix.S_ISGID
		}
	}
	return mode
}

func (e *emitter) file(it item) error {
	target := e.dest
	if e.p.destDir {
		target = path.Join(target, it.name)
	} else if _, dir := e.isDir(target); dir {
		target = path.Join(target, it.name)
	}
	if rel(target) == "" {
		return withClass(errdefs.ErrInvalid, fmt.Errorf("cannot copy %s over the root directory", it.name))
	}
	// Docker creates a file's missing parents owned by the --chown user.
	uid, gid := 0, 0
	if e.owner != nil {
		uid, gid = e.owner.UID, e.owner.GID
	}
	if err := e.mkdirAll(path.Dir(target), uid, gid, 0o755); err != nil {
		return err
	}
	return e.entry(it, it.node, rel(target), nil)
}

func (e *emitter) dir(it item) error {
	target := e.dest
	exists, isDir := e.isDir(target)
	if exists && !isDir {
		return withClass(errdefs.ErrConflict, fmt.Errorf("cannot copy directory %s to %s: not a directory", it.name, target))
	}
	if !exists {
		// Parents 0755 root; the destination itself belongs to the copy.
		if err := e.mkdirAll(path.Dir(target), 0, 0, 0o755); err != nil {
			return err
		}
		uid, gid := 0, 0
		if e.owner != nil {
			uid, gid = e.owner.UID, e.owner.GID
		}
		mode := int64(0o755)
		if e.p.chmod != nil {
			mode = int64(*e.p.chmod)
		}
		if err := e.mkdirAll(target, uid, gid, mode); err != nil {
			return err
		}
	}
	links := map[devIno]string{}
	base := it.node.rel
	for _, n := range it.tree[1:] {
		sub := n.rel
		if base != "." {
			sub = strings.TrimPrefix(n.rel, base+"/")
		}
		name := rel(path.Join(target, sub))
		if err := e.entry(it, n, name, links); err != nil {
			return err
		}
	}
	return nil
}

// entry writes one source node as the tar entry name.
func (e *emitter) entry(it item, n *node, name string, links map[devIno]string) error {
	uid, gid := e.ownerOf(it, n)
	hdr := &tar.Header{
		Name:    name,
		Mode:    e.modeOf(it, n),
		Uid:     uid,
		Gid:     gid,
		ModTime: time.Unix(n.st.Mtim.Unix()),
		Format:  tar.FormatPAX,
	}
	if n.parentOnly {
		hdr.ModTime = e.now
	}
	switch n.st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
		return e.tw.WriteHeader(hdr)
	case unix.S_IFLNK:
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = n.link
		hdr.Mode = int64(n.st.Mode & 0o7777)
		return e.tw.WriteHeader(hdr)
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if n.st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(n.st.Rdev)), int64(unix.Minor(n.st.Rdev))
		return e.tw.WriteHeader(hdr)
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
		return e.tw.WriteHeader(hdr)
	case unix.S_IFSOCK:
		return nil // sockets do not travel in tars (nor in Docker's copy)
	}
	if links != nil && n.st.Nlink > 1 {
		k := devIno{uint64(n.st.Dev), n.st.Ino}
		if first, ok := links[k]; ok {
			hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
			return e.tw.WriteHeader(hdr)
		}
		links[k] = name
	}
	f, err := os.Open(n.abs)
	if err != nil {
		return fmt.Errorf("copy %s: %w", n.rel, err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return err
	}
	if st.Ino != n.st.Ino || st.Size != n.st.Size || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return withClass(errdefs.ErrConflict, fmt.Errorf("copy %s: changed while building", n.rel))
	}
	hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
	if err := e.tw.WriteHeader(hdr); err != nil {
		return err
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	if _, err := io.CopyBuffer(e.tw, io.LimitReader(f, st.Size), *bp); err != nil {
		return fmt.Errorf("copy %s: %w", n.rel, err)
	}
	return nil
}

// archive streams a local tar's entries, renamed under dest, into the
// copy: Docker's ADD extraction (owners and modes from the tar, --chown
// not applied).
func (e *emitter) archive(it item) error {
	target := e.dest
	exists, isDir := e.isDir(target)
	if exists && !isDir {
		return withClass(errdefs.ErrConflict, fmt.Errorf("cannot extract %s to %s: not a directory", it.name, target))
	}
	if err := e.mkdirAll(target, 0, 0, 0o755); err != nil {
		return err
	}
	f, err := os.Open(it.node.abs)
	if err != nil {
		return err
	}
	defer f.Close()
	rc, err := archive.Decompress(f)
	if err != nil {
		return fmt.Errorf("extract %s: %w", it.name, err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return withClass(errdefs.ErrInvalid, fmt.Errorf("extract %s: %v", it.name, err))
		}
		// Docker refuses an entry (or link target) that climbs out of
		// dest; the rest is cleaned as if rooted there.
		if escapes(hdr.Name) || (hdr.Typeflag == tar.TypeLink && escapes(hdr.Linkname)) {
			return withClass(errdefs.ErrInvalid, fmt.Errorf("extract %s: entry %s is outside of %q", it.name, archive.QuoteName(hdr.Name), target))
		}
		name := path.Clean("/" + hdr.Name)
		if name == "/" {
			continue
		}
		out := *hdr
		out.Name = rel(path.Join(target, name))
		if hdr.Typeflag == tar.TypeDir {
			out.Name += "/"
		}
		if hdr.Typeflag == tar.TypeLink {
			out.Linkname = rel(path.Join(target, path.Clean("/"+hdr.Linkname)))
		}
		out.PAXRecords, out.Xattrs = nil, nil //nolint:staticcheck // xattrs are not copied
		out.Format = tar.FormatPAX
		out.Uname, out.Gname = "", ""
		if err := e.tw.WriteHeader(&out); err != nil {
			return withClass(errdefs.ErrInvalid, fmt.Errorf("extract %s: entry %s: %w", it.name, archive.QuoteName(hdr.Name), err))
		}
		if hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA { //nolint:staticcheck
			if _, err := io.Copy(e.tw, tr); err != nil {
				return fmt.Errorf("extract %s: %w", it.name, err)
			}
		}
	}
}

func escapes(name string) bool {
	c := path.Clean(name)
	return c == ".." || strings.HasPrefix(c, "../")
}

// isArchiveFile is Docker's isArchivePath: a (possibly compressed) tar
// whose first header reads.
func isArchiveFile(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	rc, err := archive.Decompress(f)
	if err != nil {
		return false
	}
	defer rc.Close()
	_, err = tar.NewReader(rc).Next()
	return err == nil
}

// resolveChown is Docker's parseChownFlag: "user[:group]", each a number or
// a name looked up in the image's /etc/passwd or /etc/group (the group
// defaults to the user string, not the user's primary group).
func resolveChown(root, spec string) (archive.Owner, error) {
	parts := strings.Split(spec, ":")
	if len(parts) > 2 {
		return archive.Owner{}, withClass(errdefs.ErrInvalid, fmt.Errorf("invalid chown string format: %s", spec))
	}
	userStr, grpStr := parts[0], parts[0]
	if len(parts) == 2 {
		grpStr = parts[1]
	}
	wrap := func(err error) error {
		return withClass(errdefs.ErrInvalid, fmt.Errorf("unable to convert uid/gid chown string to host mapping: %w", err))
	}
	uid, err := strconv.Atoi(userStr)
	if err != nil {
		f, perr := scopedJoin(root, "/etc/passwd")
		var users []user.User
		if perr == nil {
			users, perr = user.ParsePasswdFileFilter(f, func(u user.User) bool { return u.Name == userStr })
		}
		switch {
		case perr != nil:
			return archive.Owner{}, wrap(fmt.Errorf("can't find uid for user %s: %w", userStr, perr))
		case len(users) == 0:
			return archive.Owner{}, wrap(fmt.Errorf("can't find uid for user %s: no such user: %s", userStr, userStr))
		}
		uid = users[0].Uid
	}
	gid, err := strconv.Atoi(grpStr)
	if err != nil {
		f, perr := scopedJoin(root, "/etc/group")
		var groups []user.Group
		if perr == nil {
			groups, perr = user.ParseGroupFileFilter(f, func(g user.Group) bool { return g.Name == grpStr })
		}
		switch {
		case perr != nil:
			return archive.Owner{}, wrap(fmt.Errorf("can't find gid for group %s: %w", grpStr, perr))
		case len(groups) == 0:
			return archive.Owner{}, wrap(fmt.Errorf("can't find gid for group %s: no such group: %s", grpStr, grpStr))
		}
		gid = groups[0].Gid
	}
	return archive.Owner{UID: uid, GID: gid}, nil
}

func sortStrings(s []string) { sort.Strings(s) }
