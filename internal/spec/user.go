package spec

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/moby/sys/user"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ResolveUser resolves a Docker user spec ("", "name", "uid", "name:group",
// "uid:gid") against the rootfs's /etc/passwd and /etc/group, the way
// Docker does (moby getUser): a name must exist, a number need not; the
// primary GID is listed first among the additional GIDs, followed by the
// groups the user is a member of. home is the passwd home directory, or ""
// when the user has no passwd entry.
//
// The files are opened with every path component resolved inside rootfs,
// so a symlinked /etc/passwd cannot make berth read a host file.
func ResolveUser(rootfs, userSpec string) (u specs.User, home string, err error) {
	return resolveUser(rootfs, userSpec, nil)
}

func resolveUser(rootfs, userSpec string, groupAdd []string) (specs.User, string, error) {
	passwd, closePasswd, err := openInRootfs(rootfs, "/etc/passwd")
	if err != nil {
		return specs.User{}, "", err
	}
	defer closePasswd()
	group, closeGroup, err := openInRootfs(rootfs, "/etc/group")
	if err != nil {
		return specs.User{}, "", err
	}
	defer closeGroup()

	// Defaults: root with no home, so a numeric UID without a passwd entry
	// gets HOME=/ (what runc does).
	eu, err := user.GetExecUser(userSpec, nil, passwd, group)
	if err != nil {
		// moby/sys/user's wording is Docker's ("unable to find user foo:
		// no matching entries in passwd file").
		return specs.User{}, "", invalidErr(err)
	}
	u := specs.User{UID: uint32(eu.Uid), GID: uint32(eu.Gid)}
	u.AdditionalGids = append(u.AdditionalGids, u.GID)
	var extra []int
	if len(groupAdd) > 0 {
		// The group file is read a second time for --group-add.
		g2, close2, err := openInRootfs(rootfs, "/etc/group")
		if err != nil {
			return specs.User{}, "", err
		}
		defer close2()
		extra, err = user.GetAdditionalGroups(groupAdd, g2)
		if err != nil {
			return specs.User{}, "", invalidErr(err)
		}
		// GetAdditionalGroups answers in map order; a spec must not change
		// from one start to the next.
		slices.Sort(extra)
	}
	for _, g := range append(eu.Sgids, extra...) {
		u.AdditionalGids = append(u.AdditionalGids, uint32(g))
	}
	return u, eu.Home, nil
}

// openInRootfs opens path inside rootfs, resolving symlinks as if rootfs
// were "/". A missing file yields a nil reader (moby/sys/user treats that
// as "no entries"), never an error.
func openInRootfs(rootfs, path string) (io.Reader, func(), error) {
	h, err := pathrs.OpenInRoot(rootfs, path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, func() {}, nil
		}
		return nil, nil, fmt.Errorf("open %s in container rootfs: %w", path, err)
	}
	defer h.Close()
	// h is an O_PATH handle: check what it is before opening it for real,
	// since a FIFO or device at /etc/passwd would block or misbehave.
	st, err := h.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("stat %s in container rootfs: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, nil, invalidf("%s in the image is not a regular file", path)
	}
	f, err := pathrs.Reopen(h, unix.O_RDONLY)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s in container rootfs: %w", path, err)
	}
	return f, func() { f.Close() }, nil
}
