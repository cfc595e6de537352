package engine

import (
	"context"
	"fmt"
	"io"

	"github.com/distribution/reference"

	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/imagearchive"
)

// Save writes the images refs name to w as one archive (see
// internal/imagearchive), resolving the arguments as `docker save` does: a
// name:tag saves that tag, a bare repository name every tag of that
// repository (or, with none, the image it names as an ID prefix), an ID or
// name@digest the image without a tag. An image named twice is saved once
// with all its tags. Nothing is written when an argument names no image.
func (e *Engine) Save(ctx context.Context, refs []string, w io.Writer) error {
	lease, err := e.Images.NewLease()
	if err != nil {
		return err
	}
	defer lease.Release()

	type entry struct {
		img  *image.Image
		tags []reference.NamedTagged
		seen map[string]bool
	}
	var order []*entry
	byID := map[string]*entry{}
	add := func(img *image.Image, tag reference.NamedTagged) error {
		en := byID[img.ID]
		if en == nil {
			// Hold the image's blobs for the whole save: an rmi + GC in
			// another process must not take them mid-stream.
			hold := append(append(img.ChainIDs[:0:0], img.Digest(), img.ManifestDigest), img.ChainIDs...)
			for _, l := range img.Layers {
				hold = append(hold, l.Digest)
			}
			if err := lease.Add(hold...); err != nil {
				return err
			}
			if _, err := e.Images.Get(img.ID); err != nil {
				return err // removed before the lease named it
			}
			en = &entry{img: img, seen: map[string]bool{}}
			byID[img.ID] = en
			order = append(order, en)
		}
		if tag != nil && !en.seen[tag.String()] {
			en.seen[tag.String()] = true
			en.tags = append(en.tags, tag)
		}
		return nil
	}
	var all []*image.Image
	for _, arg := range refs {
		named, perr := reference.ParseNormalizedNamed(arg)
		if perr == nil && reference.IsNameOnly(named) {
			if all == nil {
				if all, err = e.Images.List(); err != nil {
					return err
				}
			}
			n := 0
			for _, img := range all {
				for _, t := range img.RepoTags {
					tn, err := reference.ParseNormalizedNamed(t)
					if err != nil || tn.Name() != named.Name() {
						continue
					}
					if tagged, ok := tn.(reference.NamedTagged); ok {
						if err := add(img, tagged); err != nil {
							return err
						}
						n++
					}
				}
			}
			if n > 0 {
				continue
			}
		}
		img, err := e.Images.Get(arg)
		if err != nil {
			return err
		}
		var tag reference.NamedTagged
		if perr == nil {
			if t, ok := named.(reference.NamedTagged); ok {
				if _, digested := named.(reference.Canonical); !digested {
					tag = t
				}
			}
		}
		if err := add(img, tag); err != nil {
			return err
		}
	}
	entries := make([]imagearchive.SaveEntry, 0, len(order))
	for _, en := range order {
		v, err := e.Images.V1Image(en.img)
		if err != nil {
			return err
		}
		entries = append(entries, imagearchive.SaveEntry{Image: v, Tags: en.tags})
	}
	return imagearchive.Save(ctx, w, entries)
}

// Load stores the images of an archive read from r (any flavour
// internal/imagearchive reads). On failure nothing of the archive stays:
// what was written is collected at once.
func (e *Engine) Load(ctx context.Context, r io.Reader, o imagearchive.LoadOptions) ([]imagearchive.Loaded, error) {
	loaded, err := imagearchive.Load(ctx, e.Images, r, o)
	if err != nil {
		if _, gcErr := e.Images.GC(nil); gcErr != nil {
			err = fmt.Errorf("%w (and cleaning up: %v)", err, gcErr)
		}
		return loaded, err
	}
	return loaded, nil
}
