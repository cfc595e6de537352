// Package fslist turns an image's filesystem into a comparable listing: one
// entry per path with its type, mode, owner, size, link target and content
// digest (never its mtime). It reads either a `docker save` / OCI-layout
// style image archive (layers applied in order, OCI whiteouts honoured) or a
// flat tar such as `docker export` / `berth export`. The build oracle
// (test/oracle/build/record.sh) writes Docker's listings with it and
// test/e2e compares berth's against them, so both sides are read by the same
// code.
//
// It never touches the host filesystem: archives are read from a stream.
package fslist

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// Entry is one path of an image's filesystem.
type Entry struct {
	Path   string `json:"path"`             // absolute, cleaned ("/etc/passwd")
	Type   string `json:"type"`             // file, dir, symlink, hardlink, char, block, fifo
	Mode   string `json:"mode"`             // permission bits incl. setuid/setgid/sticky, octal ("0755")
	UID    int    `json:"uid"`              // numeric owner
	GID    int    `json:"gid"`              // numeric group
	Size   int64  `json:"size"`             // bytes of content (files, hard links: their target's)
	Link   string `json:"link,omitempty"`   // symlink target as stored, or hard-link target path
	SHA256 string `json:"sha256,omitempty"` // of the content, for files and hard links
}

// Injected are paths a runtime adds to a container's root filesystem (Docker's
// init layer, berth's /etc files); they are left out of listings of
// containers so an export compares with an image.
var Injected = []string{
	"/.dockerenv", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/etc/mtab",
	"/dev/console", "/dev/pts", "/dev/shm",
}

// IsInjected reports whether p is or lies under one of Injected.
func IsInjected(p string) bool {
	for _, q := range Injected {
		if p == q || strings.HasPrefix(p, q+"/") {
			return true
		}
	}
	return false
}

// Listing is a filesystem, keyed by path.
type Listing map[string]Entry

// Sorted returns the entries in path order.
func (l Listing) Sorted() []Entry {
	out := make([]Entry, 0, len(l))
	for _, e := range l {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// FromFlatTar lists a single tar (an export). Paths in Injected are dropped.
func FromFlatTar(r io.Reader) (Listing, error) {
	l := Listing{}
	if err := applyLayer(l, r, false); err != nil {
		return nil, err
	}
	for p := range l {
		if IsInjected(p) {
			delete(l, p)
		}
	}
	return l, nil
}

// SavedImage is what FromSaved reads out of an image archive besides the
// listing: the image config file as stored (history included).
type SavedImage struct {
	Config  json.RawMessage // the config blob
	Listing Listing
}

// FromSaved reads a `docker save` archive holding one image (the
// manifest.json of the legacy format; OCI index.json is not needed here)
// and applies its layers in order.
func FromSaved(r io.Reader) (*SavedImage, error) {
	files := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read image archive: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("read %s in image archive: %w", h.Name, err)
		}
		files[path.Clean(h.Name)] = b
	}
	var manifest []struct {
		Config string
		Layers []string
	}
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil {
		return nil, fmt.Errorf("image archive manifest.json: %w", err)
	}
	if len(manifest) != 1 {
		return nil, fmt.Errorf("image archive holds %d images, want 1", len(manifest))
	}
	m := manifest[0]
	cfg, ok := files[path.Clean(m.Config)]
	if !ok {
		return nil, fmt.Errorf("image archive: config %s missing", m.Config)
	}
	l := Listing{}
	for _, layer := range m.Layers {
		b, ok := files[path.Clean(layer)]
		if !ok {
			return nil, fmt.Errorf("image archive: layer %s missing", layer)
		}
		if err := applyLayer(l, bytes.NewReader(b), true); err != nil {
			return nil, fmt.Errorf("layer %s: %w", layer, err)
		}
	}
	return &SavedImage{Config: cfg, Listing: l}, nil
}

// applyLayer adds one tar's entries to l. With whiteouts, `.wh.NAME` removes
// NAME (and everything under it) and `.wh..wh..opq` empties its directory of
// what earlier layers put there; both are applied before the layer's own
// entries, as the OCI image spec requires.
func applyLayer(l Listing, r io.Reader, whiteouts bool) error {
	var adds []Entry
	var removals, opaques []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		p := path.Clean("/" + h.Name)
		dir, base := path.Split(p)
		dir = path.Clean(dir)
		if whiteouts && base == ".wh..wh..opq" {
			opaques = append(opaques, dir)
			continue
		}
		if whiteouts && strings.HasPrefix(base, ".wh.") {
			removals = append(removals, path.Join(dir, strings.TrimPrefix(base, ".wh.")))
			continue
		}
		e := Entry{
			Path: p,
			Mode: fmt.Sprintf("%04o", h.Mode&0o7777),
			UID:  h.Uid,
			GID:  h.Gid,
		}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			e.Type = "file"
			sum := sha256.New()
			n, err := io.Copy(sum, tr)
			if err != nil {
				return fmt.Errorf("read %s: %w", p, err)
			}
			e.Size = n
			e.SHA256 = hex.EncodeToString(sum.Sum(nil))
		case tar.TypeDir:
			e.Type = "dir"
		case tar.TypeSymlink:
			e.Type = "symlink"
			e.Link = h.Linkname
		case tar.TypeLink:
			e.Type = "hardlink"
			e.Link = path.Clean("/" + h.Linkname)
		case tar.TypeChar:
			e.Type = "char"
		case tar.TypeBlock:
			e.Type = "block"
		case tar.TypeFifo:
			e.Type = "fifo"
		default:
			continue // pax/GNU extension headers are consumed by archive/tar
		}
		adds = append(adds, e)
	}
	for _, d := range opaques {
		for q := range l {
			if strings.HasPrefix(q, d+"/") || (d == "/" && q != "/") {
				delete(l, q)
			}
		}
	}
	for _, rm := range removals {
		for q := range l {
			if q == rm || strings.HasPrefix(q, rm+"/") {
				delete(l, q)
			}
		}
	}
	for _, e := range adds {
		if e.Type == "hardlink" {
			// A hard link's content is its target's: the target is earlier
			// in this layer or in a lower one.
			if t, ok := l[e.Link]; ok {
				e.Size, e.SHA256 = t.Size, t.SHA256
			} else {
				for _, a := range adds {
					if a.Path == e.Link {
						e.Size, e.SHA256 = a.Size, a.SHA256
					}
				}
			}
		}
		// A directory entry in an upper layer replaces the lower one's
		// metadata but not its children.
		if old, ok := l[e.Path]; ok && old.Type == "dir" && e.Type != "dir" {
			for q := range l {
				if strings.HasPrefix(q, e.Path+"/") {
					delete(l, q)
				}
			}
		}
		l[e.Path] = e
	}
	return nil
}
