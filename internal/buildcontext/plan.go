package buildcontext

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/errdefs"
)

// CopyOptions is one COPY or ADD instruction, after variable expansion.
type CopyOptions struct {
	// Sources as written: context paths (wildcards allowed), or for ADD
	// http(s) URLs.
	Sources []string
	// Dest as written; relative to WorkingDir; a trailing "/" makes it a
	// directory.
	Dest       string
	WorkingDir string
	// Chown is --chown: user, user:group, uid or uid:gid, names looked up
	// in the destination's /etc/passwd and /etc/group at Apply.
	Chown string
	// Chmod is --chmod: an octal mode set on every file and directory
	// copied (BuildKit's rule; Docker's legacy builder refuses the flag).
	Chmod string
	// Add turns on ADD's extras: local tar archives are extracted, URLs
	// downloaded.
	Add bool
	// Checksum is ADD --checksum (sha256:<hex>), only for URL sources.
	Checksum string
	// TempDir is where URL sources are downloaded ("" = os.TempDir()).
	TempDir string
}

type itemKind int

const (
	kindFile    itemKind = iota // one non-directory, copied to dest or dest/NAME
	kindDir                     // a directory whose contents go into dest
	kindArchive                 // ADD of a local tar: extracted into dest
	kindRemote                  // ADD of a URL: a file like kindFile
)

type item struct {
	kind itemKind
	src  *source
	node *node   // the entry (symlinks given as the source are followed)
	name string  // base name for dest/NAME, from the source as written
	hash string  // Docker's "file:<hex>" or "dir:<hex>"
	tree []*node // kindDir: the walk, root first
}

// Plan is a resolved COPY/ADD: what goes where, ready to digest and apply.
// A Plan reads its sources again at Apply; the context must not change in
// between (the builder holds it for the build).
type Plan struct {
	cmd      string // "COPY" or "ADD", for error messages
	src      *source
	items    []item
	dest     string // absolute, cleaned
	destDir  bool   // written with a trailing "/"
	chown    string
	chmod    *uint32
	describe string
	tmp      []string
}

// NewPlan resolves wildcards, validates the sources against Docker's rules
// and downloads URL sources. Its errors carry Docker's text, prefixed like
// Docker's ("COPY failed: file not found in build context or excluded by
// .dockerignore: stat x: file does not exist", "COPY failed: forbidden path
// outside the build context: ../x ()", "When using COPY with more than one
// source file, the destination must be a directory and end with a /").
func NewPlan(ctx context.Context, src Source, o CopyOptions) (_ *Plan, retErr error) {
	if src.s == nil {
		return nil, newClassed(errdefs.ErrInvalid, "copy: no source")
	}
	p := &Plan{cmd: "COPY", src: src.s, chown: o.Chown}
	if o.Add {
		p.cmd = "ADD"
	}
	defer func() {
		if retErr != nil {
			p.Close()
		}
	}()
	if len(o.Sources) == 0 || o.Dest == "" {
		return nil, withClass(errdefs.ErrInvalid, fmt.Errorf("%s requires at least two arguments", p.cmd))
	}
	if o.Chmod != "" {
		m, err := strconv.ParseUint(o.Chmod, 8, 32)
		if err != nil || m > 0o7777 {
			return nil, withClass(errdefs.ErrInvalid, fmt.Errorf("invalid chmod parameter: '%s'. it should be octal string and between 0 and 07777", o.Chmod))
		}
		mm := uint32(m)
		p.chmod = &mm
	}
	if o.Chown != "" && strings.Count(o.Chown, ":") > 1 {
		return nil, withClass(errdefs.ErrInvalid, fmt.Errorf("invalid chown string format: %s", o.Chown))
	}
	if o.Checksum != "" {
		if !o.Add {
			return nil, newClassed(errdefs.ErrInvalid, "COPY does not support --checksum")
		}
		if _, err := digest.Parse(o.Checksum); err != nil {
			return nil, withClass(errdefs.ErrInvalid, fmt.Errorf("ADD failed: invalid checksum %q: %v", o.Checksum, err))
		}
	}
	for _, orig := range o.Sources {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if isURL(orig) {
			if !o.Add {
				return nil, newClassed(errdefs.ErrInvalid, "COPY failed: source can't be a URL for COPY")
			}
			it, tmp, err := download(ctx, orig, o)
			if tmp != "" {
				p.tmp = append(p.tmp, tmp)
			}
			if err != nil {
				return nil, fmt.Errorf("ADD failed: %w", err)
			}
			p.items = append(p.items, it)
			continue
		}
		if o.Checksum != "" {
			return nil, withClass(errdefs.ErrInvalid, fmt.Errorf("ADD failed: --checksum is only supported for HTTP(S) sources, not %s", orig))
		}
		rel, ok := cleanSource(orig)
		if !ok {
			return nil, withClass(errdefs.ErrInvalid, fmt.Errorf("%s failed: forbidden path outside the build context: %s ()", p.cmd, orig))
		}
		var rels []string
		if containsWildcards(rel) {
			m, err := p.src.glob(rel)
			if err != nil {
				return nil, fmt.Errorf("%s failed: %w", p.cmd, err)
			}
			rels = m
		} else {
			rels = []string{rel}
		}
		for _, r := range rels {
			it, err := p.src.item(r, o.Add)
			if err != nil {
				return nil, fmt.Errorf("%s failed: %w", p.cmd, err)
			}
			p.items = append(p.items, it)
		}
	}
	if len(p.items) == 0 {
		return nil, withClass(errdefs.ErrInvalid, fmt.Errorf("%s failed: no source files were specified", p.cmd))
	}
	if len(p.items) > 1 && !strings.HasSuffix(o.Dest, "/") {
		return nil, withClass(errdefs.ErrInvalid, fmt.Errorf("When using %s with more than one source file, the destination must be a directory and end with a /", p.cmd))
	}
	p.destDir = strings.HasSuffix(o.Dest, "/")
	p.dest = o.Dest
	if !path.IsAbs(p.dest) {
		p.dest = path.Join("/", o.WorkingDir, p.dest)
	}
	p.dest = path.Clean(p.dest)
	if len(p.items) == 1 {
		p.describe = p.items[0].hash
	} else {
		hs := make([]string, len(p.items))
		for i, it := range p.items {
			hs[i] = it.hash
		}
		p.describe = hashStrings("multi", hs)
	}
	return p, nil
}

// item resolves one non-wildcard source path.
func (s *source) item(rel string, add bool) (item, error) {
	notFound := func() error {
		e := fmt.Errorf("stat %s: %w", rel, errNotExist)
		if s.context {
			return withClass(errdefs.ErrNotFound, fmt.Errorf("file not found in build context or excluded by .dockerignore: %w", e))
		}
		return withClass(errdefs.ErrNotFound, e)
	}
	if s.context && s.excluded(rel) && !s.keptDir(rel) {
		return item{}, notFound()
	}
	// A source that is itself a symlink is followed, inside the root.
	res, err := s.resolve(rel)
	if err != nil {
		return item{}, notFound()
	}
	if s.context && s.excluded(res) && !s.keptDir(res) {
		return item{}, notFound()
	}
	n, err := s.lstat(res)
	if errors.Is(err, os.ErrNotExist) {
		return item{}, notFound()
	}
	if err != nil {
		return item{}, err
	}
	name := path.Base(rel)
	if n.isDir() {
		h, tree, err := s.dirHash(res)
		if err != nil {
			return item{}, fmt.Errorf("hash %s: %w", rel, err)
		}
		return item{kind: kindDir, src: s, node: n, name: name, hash: h, tree: tree}, nil
	}
	h, err := s.hashNode(n)
	if err != nil {
		return item{}, err
	}
	it := item{kind: kindFile, src: s, node: n, name: name, hash: "file:" + h}
	if add && n.isReg() && isArchiveFile(n.abs) {
		it.kind = kindArchive
	}
	return it, nil
}

// keptDir says whether an excluded context path is a directory that
// exists anyway as the parent of an exception.
func (s *source) keptDir(rel string) bool {
	found := false
	_ = s.walk(rel, func(*node) error { found = true; return nil })
	return found
}

// containsWildcards is Docker's: an unescaped *, ? or [.
func containsWildcards(name string) bool {
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '\\':
			i++
		case '*', '?', '[':
			return true
		}
	}
	return false
}

// glob expands a wildcard source the way Docker does (filepath.Match of
// the whole root-relative path, so "*" never crosses "/"), in walk order,
// pruning by path element rather than walking the whole tree.
func (s *source) glob(pattern string) ([]string, error) {
	elems := strings.Split(pattern, "/")
	var out []string
	var rec func(dir string, depth int) error
	rec = func(dir string, depth int) error {
		f, err := os.Open(s.abs(dir))
		if err != nil {
			return nil
		}
		names, err := f.Readdirnames(-1)
		f.Close()
		if err != nil {
			return err
		}
		sortStrings(names)
		for _, name := range names {
			rel := name
			if dir != "." {
				rel = dir + "/" + name
			}
			if ok, _ := filepath.Match(elems[depth], name); !ok {
				continue
			}
			if s.context && s.excluded(rel) {
				continue
			}
			if depth == len(elems)-1 {
				out = append(out, rel)
				continue
			}
			if fi, err := os.Lstat(s.abs(rel)); err == nil && fi.IsDir() {
				if err := rec(rel, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := rec(".", 0); err != nil {
		return nil, err
	}
	return out, nil
}

// Digest is the cache key of the plan's sources: names, content, modes,
// symlink targets and hard links, and for a rootfs source the owners; not
// mtimes. A context's owners are left out on purpose: its files are copied
// as 0:0 whoever owns them, so they cannot change the result.
func (p *Plan) Digest() digest.Digest {
	return digest.FromString("berth-copy-v1\n" + p.describe)
}

// Describe is Docker's legacy builder's source hash for history
// ("file:<hex>", "dir:<hex>", "multi:<hex>", or a bare <hex> for a URL), as
// in `/bin/sh -c #(nop) COPY file:<hex> in /dest `. It is the value Docker
// 20.10 (daemon and CLI) computes: per entry, sha256 of its pkg/tarsum v1
// header fields then content; a directory's entries sorted and hashed
// again; symlinks met in a directory count as their in-scope target.
func (p *Plan) Describe() string { return p.describe }

// Dest is the absolute destination path in the image.
func (p *Plan) Dest() string { return p.dest }

// Close removes downloaded files.
func (p *Plan) Close() error {
	var errs []error
	for _, t := range p.tmp {
		errs = append(errs, os.RemoveAll(t))
	}
	p.tmp = nil
	return errors.Join(errs...)
}
