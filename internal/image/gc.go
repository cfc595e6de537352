package image

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/failpoint"
	"github.com/berth/berth/internal/fsutil"
)

// GC deletes every blob and layer snapshot that no image record, no live
// lease and no entry of keepChains needs, plus ingests left by dead
// processes, and returns the bytes reclaimed. keepChains are the snapshots
// containers are built on (the TopChainID of each container's image, which
// matters once a stopped container's image was force-removed); their
// ancestors are kept too. See the package doc for why concurrent imports,
// commits and pulls are safe.
func (s *Store) GC(keepChains map[digest.Digest]bool) (int64, error) {
	unlock, err := fsutil.Lock(s.gcLock(), fsutil.DefaultLockTimeout)
	if err != nil {
		return 0, fmt.Errorf("gc: %w", err)
	}
	defer unlock()
	// Leases first, records second: an operation writes its record before
	// it drops its lease, so whatever it wrote is seen in one or the other.
	keep, err := s.liveLeases()
	if err != nil {
		return 0, err
	}
	refd, err := s.referenced()
	if err != nil {
		return 0, err
	}
	for d := range refd {
		keep[d] = true
	}
	for c := range keepChains {
		for c != "" && !keep[c] {
			keep[c] = true
			info, err := s.snaps.Stat(c)
			if err != nil {
				break
			}
			c = info.Parent
		}
	}
	var reclaimed int64
	err = s.cs.Walk(func(i content.Info) error {
		if keep[i.Digest] {
			return nil
		}
		failpoint.Hit("image.gc.before-blob-delete")
		if err := s.cs.Delete(i.Digest); err == nil {
			reclaimed += i.Size
		} else if !errdefs.IsNotFound(err) {
			return err
		}
		return nil
	})
	if err != nil {
		return reclaimed, fmt.Errorf("gc content: %w", err)
	}
	failpoint.Hit("image.gc.before-snapshot-gc")
	_, freed, err := s.snaps.GC(keep)
	reclaimed += freed
	if err != nil {
		return reclaimed, fmt.Errorf("gc snapshots: %w", err)
	}
	_, freed, err = s.cs.Cleanup(0)
	reclaimed += freed
	return reclaimed, err
}

// referenced is every blob digest and chain ID an image record needs. A
// record whose manifest or config cannot be read still protects what it
// names, so a damaged image loses nothing more to GC.
func (s *Store) referenced() (map[digest.Digest]bool, error) {
	ids, err := s.ids()
	if err != nil {
		return nil, err
	}
	out := map[digest.Digest]bool{}
	for _, id := range ids {
		out[digest.Digest(id)] = true
		rec, err := s.readRecord(id)
		if err != nil {
			continue
		}
		out[rec.ManifestDigest] = true
		if m, err := s.readManifest(rec.ManifestDigest); err == nil {
			for _, l := range m.Layers {
				out[l.Digest] = true
			}
		}
		if cb, err := s.readConfig(digest.Digest(id)); err == nil {
			for _, c := range ChainIDs(diffIDs(&cb.ConfigFile)) {
				out[c] = true
			}
		}
	}
	return out, nil
}

// Check verifies every image: its record, manifest and config blobs, each
// layer blob (re-hashed) and each layer snapshot, plus references to
// missing images. It returns one line per problem. With repair it also
// fixes what can be fixed: drops references to missing images and records
// whose manifest or config is gone, re-unpacks missing snapshots from their
// layer blobs, deletes corrupt blobs (so a pull can fetch them again), and
// removes stale leases and ingests.
func (s *Store) Check(repair bool) ([]string, error) {
	var problems []string
	report := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	var unlock func()
	if repair {
		var err error
		if unlock, err = s.lock(); err != nil {
			return nil, err
		}
		defer unlock()
	}
	refs, err := s.readRefs()
	if err != nil {
		return nil, err
	}
	ids, err := s.ids()
	if err != nil {
		return nil, err
	}
	broken := map[string]bool{}
	verified := map[digest.Digest]error{}
	verify := func(d digest.Digest) error {
		if err, ok := verified[d]; ok {
			return err
		}
		err := s.cs.Verify(d)
		verified[d] = err
		return err
	}
	for _, id := range ids {
		short := ShortID(id)
		rec, err := s.readRecord(id)
		if err != nil {
			report("image %s: record unreadable: %v", short, err)
			broken[id] = true
			continue
		}
		if err := verify(rec.ManifestDigest); err != nil {
			report("image %s: manifest: %v", short, err)
			broken[id] = true
			continue
		}
		m, err := s.readManifest(rec.ManifestDigest)
		if err != nil || string(m.Config.Digest) != id {
			report("image %s: manifest %s does not describe this image", short, rec.ManifestDigest)
			broken[id] = true
			continue
		}
		if err := verify(m.Config.Digest); err != nil {
			report("image %s: config: %v", short, err)
			broken[id] = true
			continue
		}
		cb, err := s.readConfig(m.Config.Digest)
		if err != nil {
			report("image %s: config: %v", short, err)
			broken[id] = true
			continue
		}
		diffs := diffIDs(&cb.ConfigFile)
		if len(diffs) != len(m.Layers) {
			report("image %s: manifest has %d layers, config %d", short, len(m.Layers), len(diffs))
			broken[id] = true
			continue
		}
		chains := ChainIDs(diffs)
		for i, l := range m.Layers {
			blobOK := true
			if err := verify(l.Digest); err != nil {
				blobOK = false
				report("image %s: layer %d blob: %v", short, i, err)
				if repair && errors.Is(err, content.ErrCorrupt) {
					s.cs.Delete(l.Digest)
				}
			}
			if _, err := s.snaps.Stat(chains[i]); err != nil {
				report("image %s: layer %d snapshot %s: %v", short, i, chains[i], err)
				if repair && blobOK && errdefs.IsNotFound(err) {
					var parent digest.Digest
					if i > 0 {
						parent = chains[i-1]
					}
					if err := s.reunpack(parent, chains[i], l); err != nil {
						report("image %s: layer %d: repair failed: %v", short, i, err)
					} else {
						report("image %s: layer %d: snapshot restored from its blob", short, i)
					}
				}
			}
		}
	}
	var danglingRefs []string
	for r, id := range refs {
		if _, err := os.Stat(s.recordPath(id)); err != nil || broken[id] {
			danglingRefs = append(danglingRefs, r)
			report("reference %s: points to missing or broken image %s", FamiliarString(r), ShortID(id))
		}
	}
	sort.Strings(problems)
	if !repair {
		return problems, nil
	}
	if len(danglingRefs) > 0 {
		for _, r := range danglingRefs {
			delete(refs, r)
		}
		if err := s.writeRefsFreeing(refs); err != nil {
			return problems, err
		}
	}
	for id := range broken {
		if err := os.Remove(s.recordPath(id)); err == nil {
			report("image %s: broken record removed", ShortID(id))
		}
	}
	if n, _, err := s.cs.Cleanup(0); err == nil && n > 0 {
		report("removed %d stale ingest(s)", n)
	}
	return problems, nil
}

// reunpack restores a missing snapshot from its layer blob, decompressing
// it if the manifest says it is compressed.
func (s *Store) reunpack(parent, chainID digest.Digest, l ocispec.Descriptor) error {
	lease, err := s.NewLease()
	if err != nil {
		return err
	}
	defer lease.Release()
	if err := lease.Add(l.Digest, chainID); err != nil {
		return err
	}
	return s.ensureSnapshot(context.Background(), parent, chainID, l.Digest)
}
