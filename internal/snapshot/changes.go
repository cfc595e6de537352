package snapshot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// ChangeKind is the kind of a filesystem change, numbered as Docker's API
// numbers them.
type ChangeKind int

const (
	ChangeModify ChangeKind = iota
	ChangeAdd
	ChangeDelete
)

// String is the letter `docker diff` prints.
func (k ChangeKind) String() string {
	switch k {
	case ChangeAdd:
		return "A"
	case ChangeDelete:
		return "D"
	}
	return "C"
}

// Change is one line of `docker diff`.
type Change struct {
	Kind ChangeKind
	Path string // absolute inside the container, e.g. /etc/passwd
}

// Changes lists what active snapshot key changed relative to its image, like
// `docker diff`: every path in the upper dir is A (new) or C (it exists in
// the image: modified, or a directory something changed in), whiteouts are
// D, and an opaque directory that replaced an image directory also reports
// D for each image entry it hides. Sorted by path.
func (s *Store) Changes(key string) ([]Change, error) {
	idx, r, err := s.active(key)
	if err != nil {
		return nil, err
	}
	lowers, err := s.lowers(idx, r.Parent)
	if err != nil {
		return nil, err
	}
	upper := s.path(r.ID, fsDir)
	var out []Change
	err = filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil // removed while we walk (running container)
			}
			return err
		}
		if p == upper {
			return nil
		}
		rel := strings.TrimPrefix(p, upper+"/")
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return nil
		}
		if isWhiteout(&st) {
			if lowerHas(lowers, rel) {
				out = append(out, Change{ChangeDelete, "/" + rel})
			}
			return nil
		}
		inLower := lowerHas(lowers, rel)
		kind := ChangeAdd
		if inLower {
			kind = ChangeModify
		}
		out = append(out, Change{kind, "/" + rel})
		if d.IsDir() && inLower && isOpaque(p) {
			for _, name := range lowerChildren(lowers, rel) {
				if _, err := os.Lstat(filepath.Join(p, name)); errors.Is(err, os.ErrNotExist) {
					out = append(out, Change{ChangeDelete, "/" + rel + "/" + name})
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("changes of snapshot %s: %w", key, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

func isOpaque(p string) bool {
	var buf [2]byte
	n, err := unix.Lgetxattr(p, "trusted.overlay.opaque", buf[:])
	return err == nil && n == 1 && buf[0] == 'y'
}

// lowerHas reports whether rel exists in the merged view of lowers (top
// first), honouring whiteouts, opaque directories and files that replace
// directories in upper layers.
func lowerHas(lowers []string, rel string) bool {
	comps := strings.Split(rel, "/")
	for _, l := range lowers {
		hidden := false // an opaque ancestor in l hides the layers below
		found := true
		for i := range comps {
			p := filepath.Join(l, filepath.Join(comps[:i+1]...))
			var st unix.Stat_t
			if err := unix.Lstat(p, &st); err != nil {
				found = false
				break
			}
			if isWhiteout(&st) {
				return false
			}
			if i < len(comps)-1 {
				if st.Mode&unix.S_IFMT != unix.S_IFDIR {
					return false // a file here replaces the whole subtree
				}
				if isOpaque(p) {
					hidden = true
				}
			}
		}
		if found {
			return true
		}
		if hidden {
			return false
		}
	}
	return false
}

// lowerChildren lists the names visible in directory rel of the merged lowers.
func lowerChildren(lowers []string, rel string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range lowers {
		entries, err := os.ReadDir(filepath.Join(l, rel))
		if err != nil {
			continue
		}
		for _, e := range entries {
			n := e.Name()
			if seen[n] {
				continue
			}
			seen[n] = true
			if lowerHas(lowers, rel+"/"+n) {
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out
}
