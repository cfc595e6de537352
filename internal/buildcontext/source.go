package buildcontext

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/patternmatcher"
	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"
)

// Source is a tree files are copied from: the build context (with its
// .dockerignore excludes, copied as 0:0) or a mounted rootfs (COPY --from,
// no excludes, ownership kept). The zero Source is invalid.
type Source struct{ s *source }

// DirSource is a mounted rootfs (another stage's or an image's) as a COPY
// --from source: no excludes, no stat cache, ownership preserved.
func DirSource(root string) Source {
	if abs, err := filepath.Abs(root); err == nil {
		root = abs
	}
	return Source{s: &source{root: root}}
}

// Root is the directory the source reads from.
func (s Source) Root() string { return s.s.root }

type source struct {
	root string
	pm   *patternmatcher.PatternMatcher
	// context: a build context. Docker's client sends it as a tar owned
	// 0:0, so hashes carry uid/gid 0 and no type bits in the mode, and
	// copies are owned 0:0; a rootfs source keeps its owners.
	context bool
	cache   *statCache
	names   nameCache

	linksOnce sync.Once
	links     map[devIno]string // context: first path (walk order) of each multiply-linked inode
	linksErr  error
}

type devIno struct{ dev, ino uint64 }

// node is one entry of a source tree.
type node struct {
	rel  string // slash-separated, relative to the source root; "." for the root
	abs  string
	st   unix.Stat_t
	link string // symlink target
	// parentOnly: excluded by .dockerignore but holding included entries;
	// Docker's context tar has no header for it, so it is recreated 0755.
	parentOnly bool
}

func (n *node) isDir() bool  { return n.st.Mode&unix.S_IFMT == unix.S_IFDIR }
func (n *node) isReg() bool  { return n.st.Mode&unix.S_IFMT == unix.S_IFREG }
func (n *node) isLink() bool { return n.st.Mode&unix.S_IFMT == unix.S_IFLNK }

// excluded says whether .dockerignore removes rel from the context.
func (s *source) excluded(rel string) bool {
	if s.pm == nil || rel == "." || rel == "" {
		return false
	}
	m, _ := s.pm.MatchesOrParentMatches(rel)
	return m
}

func (s *source) abs(rel string) string {
	if rel == "." {
		return s.root
	}
	return filepath.Join(s.root, filepath.FromSlash(rel))
}

func (s *source) lstat(rel string) (*node, error) {
	n := &node{rel: rel, abs: s.abs(rel)}
	if err := unix.Lstat(n.abs, &n.st); err != nil {
		return nil, &os.PathError{Op: "lstat", Path: rel, Err: err}
	}
	if n.isLink() {
		t, err := os.Readlink(n.abs)
		if err != nil {
			return nil, err
		}
		n.link = t
	}
	return n, nil
}

// resolve follows symlinks in rel inside the source root (as Docker's
// FollowSymlinkInScope does) and returns the root-relative result.
func (s *source) resolve(rel string) (string, error) {
	p, err := scopedJoin(s.root, rel)
	if err != nil {
		return "", err
	}
	r, err := filepath.Rel(s.root, p)
	if err != nil || r == ".." || strings.HasPrefix(r, "../") {
		return "", fmt.Errorf("%s resolves outside %s", rel, s.root)
	}
	return filepath.ToSlash(r), nil
}

func scopedJoin(root, rel string) (string, error) { return securejoin.SecureJoin(root, rel) }

// walk lists the tree under rel (rel included, excluded entries left out)
// in Docker's filepath.Walk order: a directory, then its entries by name.
func (s *source) walk(rel string, fn func(n *node) error) error {
	n, err := s.lstat(rel)
	if err != nil {
		return err
	}
	if s.excluded(rel) {
		if !n.isDir() || !s.mayHoldExceptions(rel) {
			return nil
		}
		n.parentOnly = true
	}
	var nodes []*node
	if err := s.walkNode(n, &nodes); err != nil {
		return err
	}
	for _, n := range nodes {
		if err := fn(n); err != nil {
			return err
		}
	}
	return nil
}

// mayHoldExceptions is Docker's client rule for an excluded directory: it
// is still walked if an exception pattern starts with it.
func (s *source) mayHoldExceptions(rel string) bool {
	if !s.pm.Exclusions() {
		return false
	}
	for _, p := range s.pm.Patterns() {
		if p.Exclusion() && strings.HasPrefix(p.String()+"/", rel+"/") {
			return true
		}
	}
	return false
}

func (s *source) walkNode(n *node, out *[]*node) error {
	at := len(*out)
	*out = append(*out, n)
	if !n.isDir() {
		return nil
	}
	f, err := os.Open(n.abs)
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		rel := name
		if n.rel != "." {
			rel = n.rel + "/" + name
		}
		// Docker 20.10's client and daemon both ask MatchesOrParentMatches
		// (fileutils.Matches then), per path; MatchesUsingParentResults
		// can disagree with it when an exception matches a parent.
		parentOnly := false
		if s.excluded(rel) {
			if !s.mayHoldExceptions(rel) {
				continue
			}
			parentOnly = true
		}
		c, err := s.lstat(rel)
		if err != nil {
			return err
		}
		if parentOnly {
			if !c.isDir() {
				continue
			}
			c.parentOnly = true
		}
		if err := s.walkNode(c, out); err != nil {
			return err
		}
	}
	// An excluded directory exists in Docker's context only as the
	// parent of something included.
	if n.parentOnly && len(*out) == at+1 {
		*out = (*out)[:at]
	}
	return nil
}

// hardlinkFirst is, for a context entry with more than one link, the path
// Docker's client tar would have written first (this one being a TypeLink
// to it), or "".
func (s *source) hardlinkFirst(n *node) (string, error) {
	if !s.context || n.isDir() || n.st.Nlink < 2 {
		return "", nil
	}
	s.linksOnce.Do(func() {
		s.links = map[devIno]string{}
		s.linksErr = s.walk(".", func(c *node) error {
			if c.parentOnly || c.isDir() || c.st.Nlink < 2 {
				return nil
			}
			k := devIno{uint64(c.st.Dev), c.st.Ino}
			if _, ok := s.links[k]; !ok {
				s.links[k] = c.rel
			}
			return nil
		})
	})
	if s.linksErr != nil {
		return "", s.linksErr
	}
	first := s.links[devIno{uint64(n.st.Dev), n.st.Ino}]
	if first == n.rel {
		return "", nil
	}
	return first, nil
}

// Mode bits as archive/tar writes them.
const (
	cISUID = 0o4000
	cISGID = 0o2000
	cISVTX = 0o1000
)

func typeflag(st *unix.Stat_t) byte {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return '5'
	case unix.S_IFLNK:
		return '2'
	case unix.S_IFCHR:
		return '3'
	case unix.S_IFBLK:
		return '4'
	case unix.S_IFIFO:
		return '6'
	}
	return '0'
}

// headerHash starts Docker's per-entry content hash (pkg/tarsum version 1:
// the tar header's fields minus mtime, then the content) for n as it would
// appear in Docker's tar of this source.
func (s *source) headerHash(n *node, hardlinkTo string) hash.Hash {
	// Docker 20.10's archive.FileInfoHeader, on both sides, writes the
	// Go 1.8 file type bits into the mode.
	mode := int64(n.st.Mode & 0o777)
	mode |= int64(n.st.Mode & (cISUID | cISGID | cISVTX))
	mode |= int64(n.st.Mode & unix.S_IFMT)
	uid, gid := 0, 0
	uname, gname := "", ""
	if !s.context {
		// A rootfs is hashed from the daemon's own FileInfoHeader, with
		// the real owners and their names as the host (not the image)
		// knows them. The context came from the CLI's tar: 0:0, no names.
		uid, gid = int(n.st.Uid), int(n.st.Gid)
		uname, gname = s.names.user(uid), s.names.group(gid)
	}
	name := n.rel
	size := int64(0)
	tf := typeflag(&n.st)
	link := ""
	switch {
	case hardlinkTo != "":
		tf, link = '1', hardlinkTo
	case n.isDir():
		name += "/"
	case n.isReg():
		size = n.st.Size
	case n.isLink():
		link = n.link
	}
	var devmajor, devminor int64
	if tf == '3' || tf == '4' {
		devmajor, devminor = int64(unix.Major(n.st.Rdev)), int64(unix.Minor(n.st.Rdev))
	}
	h := sha256.New()
	for _, kv := range [...][2]string{
		{"name", name},
		{"mode", strconv.FormatInt(mode, 10)},
		{"uid", strconv.Itoa(uid)},
		{"gid", strconv.Itoa(gid)},
		{"size", strconv.FormatInt(size, 10)},
		{"typeflag", string([]byte{tf})},
		{"linkname", link},
		{"uname", uname},
		{"gname", gname},
		{"devmajor", strconv.FormatInt(devmajor, 10)},
		{"devminor", strconv.FormatInt(devminor, 10)},
	} {
		h.Write([]byte(kv[0]))
		h.Write([]byte(kv[1]))
	}
	return h
}

// hashNode is Docker's per-entry hash of n (hex), using and filling the
// stat cache for regular files.
func (s *source) hashNode(n *node) (string, error) {
	if n.parentOnly {
		// Not in Docker's context tar; its Hash() falls back to the path.
		return n.rel, nil
	}
	first, err := s.hardlinkFirst(n)
	if err != nil {
		return "", err
	}
	h := s.headerHash(n, first)
	if first != "" || !n.isReg() || n.st.Size == 0 {
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	if sum, ok := s.cache.lookup(n); ok {
		return sum, nil
	}
	f, err := os.Open(n.abs)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", n.rel, err)
	}
	defer f.Close()
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	if _, err := io.CopyBuffer(h, f, *bp); err != nil {
		return "", fmt.Errorf("hash %s: %w", n.rel, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	s.cache.store(n, sum)
	return sum, nil
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// followHash is the hash Docker uses for an entry met while hashing a
// directory: a symlink counts as what it points to inside the source (its
// Hash() follows links in scope), a dangling one as its own path.
func (s *source) followHash(n *node) (string, error) {
	if !n.isLink() {
		return s.hashNode(n)
	}
	r, err := s.resolve(n.rel)
	if err != nil {
		return n.rel, nil
	}
	if s.context && s.excluded(r) {
		return n.rel, nil
	}
	t, err := s.lstat(r)
	if err != nil {
		return n.rel, nil
	}
	return s.hashNode(t)
}

// dirHash is Docker's "dir:<hex>" for the tree at rel: the sorted hashes of
// every entry under it (rel itself included unless it is the root),
// hashed in parallel.
func (s *source) dirHash(rel string) (string, []*node, error) {
	var nodes []*node
	if err := s.walk(rel, func(n *node) error { nodes = append(nodes, n); return nil }); err != nil {
		return "", nil, err
	}
	sums := make([]string, len(nodes))
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	workers := runtime.GOMAXPROCS(0)
	if workers > 8 {
		workers = 8
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				sum, err := s.followHash(nodes[i])
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
				sums[i] = sum
			}
		}()
	}
	// Force the hardlink index before the workers race to build it.
	for _, n := range nodes {
		if n.st.Nlink > 1 && !n.isDir() {
			if _, err := s.hardlinkFirst(n); err != nil {
				close(work)
				wg.Wait()
				return "", nil, err
			}
			break
		}
	}
	for i, n := range nodes {
		if n.rel == "." {
			continue
		}
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return "", nil, firstErr
	}
	var list []string
	for i, n := range nodes {
		if n.rel != "." {
			list = append(list, sums[i])
		}
	}
	sort.Strings(list)
	if rel == "." {
		s.cache.walkedAll()
	}
	return hashStrings("dir", list), nodes, nil
}

// hashStrings is Docker's hashStringSlice.
func hashStrings(prefix string, list []string) string {
	sum := sha256.Sum256([]byte(strings.Join(list, ",")))
	return prefix + ":" + hex.EncodeToString(sum[:])
}

// cleanSource turns a COPY source into a root-relative slash path the way
// Docker does (leading "/" and "./" dropped), or reports that it climbs
// out of the root.
func cleanSource(orig string) (string, bool) {
	p := strings.TrimPrefix(orig, "/")
	p = strings.TrimPrefix(p, "./")
	c := path.Clean("/" + p)
	// Lexically outside: Docker joins root and path and finds the result
	// out of scope.
	if j := path.Clean(p); j == ".." || strings.HasPrefix(j, "../") {
		return "", false
	}
	if c == "/" {
		return ".", true
	}
	return c[1:], true
}

var errNotExist = errors.New("file does not exist")

// nameCache caches the host's uid and gid names (what Go's archive/tar
// FileInfoHeader looks up for Docker's daemon), per source.
type nameCache struct {
	mu            sync.Mutex
	users, groups map[int]string
}

func (c *nameCache) user(id int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.users == nil {
		c.users = map[int]string{}
	}
	if n, ok := c.users[id]; ok {
		return n
	}
	n := ""
	if us, err := user.ParsePasswdFileFilter("/etc/passwd", func(u user.User) bool { return u.Uid == id }); err == nil && len(us) > 0 {
		n = us[0].Name
	}
	c.users[id] = n
	return n
}

func (c *nameCache) group(id int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.groups == nil {
		c.groups = map[int]string{}
	}
	if n, ok := c.groups[id]; ok {
		return n
	}
	n := ""
	if gs, err := user.ParseGroupFileFilter("/etc/group", func(g user.Group) bool { return g.Gid == id }); err == nil && len(gs) > 0 {
		n = gs[0].Name
	}
	c.groups[id] = n
	return n
}
