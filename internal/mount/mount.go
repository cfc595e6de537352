package mount

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Mount describes one mount, in the shape of containerd's core/mount.Mount:
// Type is the filesystem type ("overlay", "bind", "tmpfs"...), Source the
// device or directory, Options the comma-free list of mount(8)-style options
// ("ro", "rbind", "lowerdir=...").
type Mount struct {
	Type    string
	Source  string
	Options []string
}

// flag options mount(8) understands; anything not listed is passed to the
// filesystem as data.
var flagOptions = map[string]struct {
	clear bool
	flag  uintptr
}{
	"ro":          {false, unix.MS_RDONLY},
	"rw":          {true, unix.MS_RDONLY},
	"nosuid":      {false, unix.MS_NOSUID},
	"suid":        {true, unix.MS_NOSUID},
	"nodev":       {false, unix.MS_NODEV},
	"dev":         {true, unix.MS_NODEV},
	"noexec":      {false, unix.MS_NOEXEC},
	"exec":        {true, unix.MS_NOEXEC},
	"sync":        {false, unix.MS_SYNCHRONOUS},
	"async":       {true, unix.MS_SYNCHRONOUS},
	"dirsync":     {false, unix.MS_DIRSYNC},
	"noatime":     {false, unix.MS_NOATIME},
	"atime":       {true, unix.MS_NOATIME},
	"nodiratime":  {false, unix.MS_NODIRATIME},
	"diratime":    {true, unix.MS_NODIRATIME},
	"relatime":    {false, unix.MS_RELATIME},
	"norelatime":  {true, unix.MS_RELATIME},
	"strictatime": {false, unix.MS_STRICTATIME},
	"bind":        {false, unix.MS_BIND},
	"rbind":       {false, unix.MS_BIND | unix.MS_REC},
	"remount":     {false, unix.MS_REMOUNT},
	"defaults":    {false, 0},
}

var propagationOptions = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// parsed is a Mount's options split the way mount(2) wants them.
type parsed struct {
	flags       uintptr
	propagation uintptr
	data        []string
}

func parseOptions(options []string) parsed {
	var p parsed
	for _, o := range options {
		if f, ok := flagOptions[o]; ok {
			if f.clear {
				p.flags &^= f.flag
			} else {
				p.flags |= f.flag
			}
			continue
		}
		if f, ok := propagationOptions[o]; ok {
			p.propagation |= f
			continue
		}
		p.data = append(p.data, o)
	}
	return p
}

// All mounts each of mounts onto target, in order (later ones stack on
// earlier ones). If one fails, the ones already mounted are unmounted again
// so a failed All leaves the target as it found it.
func All(mounts []Mount, target string) error {
	for i, m := range mounts {
		if err := m.mount(target); err != nil {
			for j := i - 1; j >= 0; j-- {
				_ = unmountOnce(target)
			}
			return fmt.Errorf("mount %s %s on %s: %w", m.Type, m.Source, target, err)
		}
	}
	return nil
}

func (m Mount) mount(target string) error {
	p := parseOptions(m.Options)
	data := strings.Join(p.data, ",")
	typ := m.Type
	if typ == "bind" || typ == "rbind" {
		// "bind" as a type is a common shorthand (containerd, OCI specs).
		p.flags |= unix.MS_BIND
		if typ == "rbind" {
			p.flags |= unix.MS_REC
		}
		typ = ""
	}
	if typ == "overlay" && len(data) >= os.Getpagesize()-1 {
		// mount(2) truncates data at one page; deep images need the new API.
		if err := mountOverlayFsconfig(m.Source, p, target); err != nil {
			return err
		}
	} else {
		// A bind mount ignores MS_RDONLY and friends on the first call; they
		// need a remount, done below.
		first := p.flags
		if p.flags&unix.MS_BIND != 0 {
			first = p.flags & (unix.MS_BIND | unix.MS_REC)
		}
		if err := unix.Mount(m.Source, target, typ, first, data); err != nil {
			return err
		}
		if rest := p.flags &^ (unix.MS_BIND | unix.MS_REC); p.flags&unix.MS_BIND != 0 && rest != 0 {
			if err := unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_BIND|rest, ""); err != nil {
				_ = unmountOnce(target)
				return fmt.Errorf("remount bind with options: %w", err)
			}
		}
	}
	if p.propagation != 0 {
		if err := unix.Mount("", target, "", p.propagation, ""); err != nil {
			_ = unmountOnce(target)
			return fmt.Errorf("set propagation: %w", err)
		}
	}
	return nil
}

// mountOverlayFsconfig mounts an overlay whose option string does not fit in
// one page, passing each lower dir separately with "lowerdir+" (Linux 6.8+).
func mountOverlayFsconfig(source string, p parsed, target string) error {
	fsfd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(fsfd)
	if source != "" {
		if err := unix.FsconfigSetString(fsfd, "source", source); err != nil {
			return fmt.Errorf("fsconfig source: %w", err)
		}
	}
	for _, o := range p.data {
		key, value, hasValue := strings.Cut(o, "=")
		switch {
		case key == "lowerdir":
			for _, l := range strings.Split(value, ":") {
				if err := unix.FsconfigSetString(fsfd, "lowerdir+", l); err != nil {
					return fmt.Errorf("fsconfig lowerdir+ %s (needs Linux 6.8 for long lower lists): %w", l, err)
				}
			}
		case hasValue:
			if err := unix.FsconfigSetString(fsfd, key, value); err != nil {
				return fmt.Errorf("fsconfig %s: %w", key, err)
			}
		default:
			if err := unix.FsconfigSetFlag(fsfd, key); err != nil {
				return fmt.Errorf("fsconfig %s: %w", key, err)
			}
		}
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return fmt.Errorf("fsconfig create: %w", err)
	}
	var attr int
	if p.flags&unix.MS_RDONLY != 0 {
		attr |= unix.MOUNT_ATTR_RDONLY
	}
	if p.flags&unix.MS_NOSUID != 0 {
		attr |= unix.MOUNT_ATTR_NOSUID
	}
	if p.flags&unix.MS_NODEV != 0 {
		attr |= unix.MOUNT_ATTR_NODEV
	}
	if p.flags&unix.MS_NOEXEC != 0 {
		attr |= unix.MOUNT_ATTR_NOEXEC
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, attr)
	if err != nil {
		return fmt.Errorf("fsmount: %w", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	return nil
}

func unmountOnce(target string) error {
	err := unix.Unmount(target, 0)
	if errors.Is(err, unix.EBUSY) {
		// Something still holds it (a process cwd, a late reader): detach so
		// the caller can go on; the kernel frees it when the last user leaves.
		err = unix.Unmount(target, unix.MNT_DETACH)
	}
	return err
}

// Unmount removes every mount stacked on target. A target that is not
// mounted (EINVAL) or does not exist (ENOENT) is not an error, so cleanup
// paths can call it unconditionally.
func Unmount(target string) error {
	// Bounded: a loop that never sees EINVAL would otherwise spin forever.
	for i := 0; i < 64; i++ {
		err := unmountOnce(target)
		switch {
		case err == nil:
			continue
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil
		default:
			return fmt.Errorf("unmount %s: %w", target, err)
		}
	}
	return fmt.Errorf("unmount %s: still mounted after 64 unmounts", target)
}

// IsMountPoint reports whether path is the mount point of some mount in the
// caller's mount namespace. Errors (path missing, /proc unreadable) read as
// false.
func IsMountPoint(path string) bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	if resolved, err := filepath.EvalSymlinks(abs); err == nil {
		abs = resolved
	}
	infos, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(abs))
	return err == nil && len(infos) > 0
}

// UnmountUnder removes every mount whose mount point is dir or below it,
// deepest first: what is left of a root that is being deleted (a crashed
// build's sandbox, a netns bind mount) must not pin, or be deleted through,
// its directory.
func UnmountUnder(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if resolved, err := filepath.EvalSymlinks(abs); err == nil {
		abs = resolved
	}
	infos, err := mountinfo.GetMounts(mountinfo.PrefixFilter(abs))
	if err != nil {
		return err
	}
	sort.Slice(infos, func(i, j int) bool { return len(infos[i].Mountpoint) > len(infos[j].Mountpoint) })
	var errs []error
	for _, m := range infos {
		if err := Unmount(m.Mountpoint); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
