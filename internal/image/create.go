package image

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/failpoint"
	"github.com/berth/berth/internal/snapshot"
)

// ImportOptions are `docker import`'s.
type ImportOptions struct {
	Ref      string   // optional repository[:tag] to tag the image with
	Changes  []string // --change: Dockerfile instructions applied to the config
	Message  string   // -m: the image comment; default "Imported from <Source>"
	Source   string   // what was imported, for the default comment ("-" when empty)
	Platform string   // os[/arch[/variant]]; default the host's
}

// Import creates a one-layer image from a root filesystem tar (plain or
// gzip/bzip2/xz/zstd compressed), as `docker import` does. The tar is read
// once: its decompressed stream goes at the same time into the layer blob
// and into the snapshot.
func (s *Store) Import(ctx context.Context, r io.Reader, opts ImportOptions) (*Image, error) {
	var target string
	if opts.Ref != "" {
		ref, err := ParseTag(opts.Ref)
		if err != nil {
			return nil, err
		}
		target = ref.String()
	}
	plat, err := ParsePlatform(opts.Platform)
	if err != nil {
		return nil, err
	}
	if plat.OS != "linux" {
		return nil, fmt.Errorf("operating system is not supported: %q: %w", plat.OS, errdefs.ErrInvalid)
	}
	cfg, err := ApplyChanges(v1.Config{}, opts.Changes)
	if err != nil {
		return nil, err
	}
	msg := opts.Message
	if msg == "" {
		src := opts.Source
		if src == "" {
			src = "-"
		}
		msg = "Imported from " + src
	}

	lease, err := s.NewLease()
	if err != nil {
		return nil, err
	}
	defer lease.Release()

	dec, err := archive.Decompress(r)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer dec.Close()
	layer, err := s.writeLayer(ctx, lease, "", dec)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}

	created := s.now().UTC()
	cb := configBlob{
		ConfigFile: v1.ConfigFile{
			Architecture: plat.Architecture,
			Variant:      plat.Variant,
			OS:           plat.OS,
			Created:      v1.Time{Time: created},
			Config:       cfg,
			RootFS:       v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{toHash(layer.diffID)}},
			History:      []v1.History{{Created: v1.Time{Time: created}, Comment: msg}},
		},
		Comment: msg,
	}
	return s.create(lease, cb, []ocispec.Descriptor{layer.desc()}, "", layer.size, target)
}

// CommitOptions describe one new image on top of Parent: `docker commit`,
// and every step of a build.
type CommitOptions struct {
	Parent  *Image    // nil = FROM scratch
	Layer   io.Reader // uncompressed tar of the changes; nil = metadata-only step
	Config  v1.Config // the new image's full runtime config
	History v1.History
	Author  string
	Comment string
	Ref     string    // optional repository[:tag]
	Created time.Time // zero = now
	// Lease, when set, holds what the new image needs (and its parent's
	// items) beyond Commit's return, until the caller releases it: a build
	// stands on each step's image until its last step is tagged, and an
	// image committed untagged may be pruned by a concurrent rmi meanwhile.
	// Nil: Commit uses a lease of its own, released when it returns.
	Lease *Lease
}

// Commit creates an image from a parent, an optional new layer and a new
// config. The history entry gets EmptyLayer set when there is no layer, and
// its Created defaults to the image's.
func (s *Store) Commit(ctx context.Context, opts CommitOptions) (*Image, error) {
	var target string
	if opts.Ref != "" {
		ref, err := ParseTag(opts.Ref)
		if err != nil {
			return nil, err
		}
		target = ref.String()
	}
	lease := opts.Lease
	if lease == nil {
		var err error
		if lease, err = s.NewLease(); err != nil {
			return nil, err
		}
		defer lease.Release()
	}

	var base configBlob
	var layers []ocispec.Descriptor
	var parentID string
	var size int64
	if p := opts.Parent; p != nil {
		parentID = p.ID
		base.ConfigFile = *p.Config.DeepCopy()
		layers = append(layers, p.Layers...)
		size = p.Size
		// Hold what the new image will share with its parent: a concurrent
		// rmi + GC of the parent must not take it away mid-commit.
		hold := append([]digest.Digest{p.Digest(), p.ManifestDigest}, p.ChainIDs...)
		for _, l := range p.Layers {
			hold = append(hold, l.Digest)
		}
		if err := lease.Add(hold...); err != nil {
			return nil, err
		}
		if top := p.TopChainID(); top != "" {
			if _, err := s.snaps.Stat(top); err != nil {
				return nil, fmt.Errorf("commit: parent image %s: %w", p.ShortID(), err)
			}
		}
	} else {
		plat, _ := ParsePlatform("")
		base.Architecture, base.OS, base.Variant = plat.Architecture, plat.OS, plat.Variant
		base.RootFS.Type = "layers"
	}

	created := opts.Created
	if created.IsZero() {
		created = s.now()
	}
	created = created.UTC()
	cb := base
	cb.Created = v1.Time{Time: created}
	cb.Config = opts.Config
	cb.Author = opts.Author
	cb.Comment = opts.Comment
	cb.DockerVersion = ""
	cb.Container = ""
	h := opts.History
	if h.Created.IsZero() {
		h.Created = v1.Time{Time: created}
	}
	if h.Author == "" {
		h.Author = opts.Author
	}
	if h.Comment == "" {
		h.Comment = opts.Comment
	}
	h.EmptyLayer = opts.Layer == nil
	cb.History = append(append([]v1.History{}, base.History...), h)
	cb.RootFS.DiffIDs = append([]v1.Hash{}, base.RootFS.DiffIDs...)

	if opts.Layer != nil {
		var parentChain digest.Digest
		if opts.Parent != nil {
			parentChain = opts.Parent.TopChainID()
		}
		layer, err := s.writeLayer(ctx, lease, parentChain, opts.Layer)
		if err != nil {
			return nil, fmt.Errorf("commit: %w", err)
		}
		cb.RootFS.DiffIDs = append(cb.RootFS.DiffIDs, toHash(layer.diffID))
		layers = append(layers, layer.desc())
		size += layer.size
	}
	return s.create(lease, cb, layers, parentID, size, target)
}

// RegisterOptions name an image whose blobs (manifest, config, layers) are
// already in the content store and whose layers are already unpacked as
// snapshots: what a pull or `docker load` produced.
type RegisterOptions struct {
	ManifestDigest digest.Digest
	Refs           []string // tags and/or name@digest references to point at it
	Parent         string   // local parent image ID, usually ""
	// Tagged says Refs are tags the user asked for (a build's -t): they set
	// LastTagTime as Tag does. A pull or load names an image without it.
	Tagged bool
}

// Register records a pulled or loaded image and points Refs at it. The
// caller must hold a Lease covering the blobs and snapshots it wrote until
// Register returns. It also puts back the record of an image removed while
// a lease kept its blobs and layers (a build's result, pruned by a
// concurrent rmi before the build could tag it).
func (s *Store) Register(ctx context.Context, opts RegisterOptions) (*Image, error) {
	m, err := s.readManifest(opts.ManifestDigest)
	if err != nil {
		return nil, fmt.Errorf("register image: %w", err)
	}
	cb, err := s.readConfig(m.Config.Digest)
	if err != nil {
		return nil, fmt.Errorf("register image: %w", err)
	}
	diffs := diffIDs(&cb.ConfigFile)
	if len(diffs) != len(m.Layers) {
		return nil, fmt.Errorf("register image: manifest has %d layers, config %d: %w", len(m.Layers), len(diffs), errdefs.ErrInvalid)
	}
	var size int64
	for _, c := range ChainIDs(diffs) {
		info, err := s.snaps.Stat(c)
		if err != nil {
			return nil, fmt.Errorf("register image: layer %s: %w", c, err)
		}
		size += info.Size
	}
	var refs []string
	for _, r := range opts.Refs {
		named, err := ParseReference(r)
		if err != nil {
			return nil, err
		}
		refs = append(refs, named.String())
	}
	id := string(m.Config.Digest)
	// Like Docker, a pull names an image without making it "tagged" by the
	// user: LastTagTime stays unset.
	if err := s.commitRecord(id, record{ManifestDigest: opts.ManifestDigest, Parent: opts.Parent, Size: size}, refs, opts.Tagged); err != nil {
		return nil, err
	}
	return s.Get(id)
}

// layerResult is one layer written by writeLayer.
type layerResult struct {
	diffID  digest.Digest
	chainID digest.Digest
	size    int64 // unpacked size as the snapshot reports it
	blob    int64 // tar size
}

func (l layerResult) desc() ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: l.diffID, Size: l.blob}
}

func toHash(d digest.Digest) v1.Hash {
	return v1.Hash{Algorithm: d.Algorithm().String(), Hex: d.Encoded()}
}

func randomRef(prefix string) string {
	var b [8]byte
	rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// chainOf is the chain ID of a layer diffID on top of parent chain.
func chainOf(parent, diffID digest.Digest) digest.Digest {
	if parent == "" {
		return diffID
	}
	return digest.FromString(parent.String() + " " + diffID.String())
}

// writeLayer streams an uncompressed layer tar into a content blob and,
// simultaneously, into a snapshot on top of parent (one read, no temp
// copy). The blob digest is the layer's DiffID; both the blob and the
// snapshot are on the lease before they are relied upon.
func (s *Store) writeLayer(ctx context.Context, lease *Lease, parent digest.Digest, r io.Reader) (layerResult, error) {
	w, err := s.cs.Writer(randomRef("layer"))
	if err != nil {
		return layerResult{}, err
	}
	defer w.Abort()

	pr, pw := io.Pipe()
	type applied struct {
		info snapshot.Info
		err  error
	}
	done := make(chan applied, 1)
	go func() {
		info, err := s.snaps.Apply(ctx, parent, pr)
		if err == nil {
			// The tar may carry padding past its end marker; it is part
			// of the blob (and so of the DiffID), so keep reading.
			_, err = io.Copy(io.Discard, pr)
		}
		if err != nil {
			pr.CloseWithError(err)
		} else {
			pr.Close()
		}
		done <- applied{info: info, err: err}
	}()
	copyErr, writeErr := teeStream(r, pw, w)
	pw.CloseWithError(copyErr)
	res := <-done
	if res.err != nil {
		return layerResult{}, fmt.Errorf("unpack layer: %w", res.err)
	}
	if copyErr != nil {
		return layerResult{}, fmt.Errorf("read layer: %w", copyErr)
	}
	if writeErr != nil {
		return layerResult{}, writeErr
	}
	out := layerResult{diffID: w.Digest(), blob: w.Offset(), size: res.info.Size}
	out.chainID = chainOf(parent, out.diffID)
	if res.info.DiffID != out.diffID || res.info.ChainID != out.chainID {
		return layerResult{}, fmt.Errorf("layer digest mismatch: stream %s (chain %s), snapshot says %s (chain %s)",
			out.diffID, out.chainID, res.info.DiffID, res.info.ChainID)
	}
	if err := lease.Add(out.diffID, out.chainID); err != nil {
		return layerResult{}, err
	}
	if err := w.Commit(out.blob, out.diffID); err != nil && !errors.Is(err, content.ErrAlreadyExists) {
		return layerResult{}, err
	}
	if err := s.ensureSnapshot(ctx, parent, out.chainID, out.diffID); err != nil {
		return layerResult{}, err
	}
	return out, nil
}

// teeStream copies r to both unpack (the snapshot's pipe, the slow side)
// and blob (the content writer: hashing and file writes), with the blob
// written by its own goroutine so that unpacking never waits for it. Each
// chunk buffer goes back to the pool only when both sides are done with it.
func teeStream(r io.Reader, unpack io.Writer, blob io.Writer) (readErr, blobErr error) {
	const chunk, depth = 1 << 20, 8
	pool := make(chan []byte, depth)
	for i := 0; i < depth; i++ {
		pool <- make([]byte, chunk)
	}
	toBlob := make(chan []byte, depth)
	blobDone := make(chan error, 1)
	go func() {
		var err error
		for b := range toBlob {
			if err == nil {
				_, err = blob.Write(b)
			}
			pool <- b[:cap(b)]
		}
		blobDone <- err
	}()
	for {
		b := <-pool
		n, err := r.Read(b)
		if n > 0 {
			toBlob <- b[:n]
			if _, werr := unpack.Write(b[:n]); werr != nil {
				readErr = werr
				break
			}
		} else {
			pool <- b
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
	}
	close(toBlob)
	return readErr, <-blobDone
}

// ensureSnapshot makes sure snapshot chainID exists now that it is leased:
// between Apply committing it and the lease naming it, a GC may have
// collected it; it is then unpacked again from the (leased) layer blob.
func (s *Store) ensureSnapshot(ctx context.Context, parent, chainID, blob digest.Digest) error {
	if _, err := s.snaps.Stat(chainID); err == nil {
		return nil
	} else if !errdefs.IsNotFound(err) {
		return err
	}
	rd, err := s.cs.Open(blob)
	if err != nil {
		return fmt.Errorf("re-unpack layer %s: %w", chainID, err)
	}
	defer rd.Close()
	// Local layers are plain tars, pulled ones compressed: sniff, whatever
	// the media type claims.
	dec, err := archive.Decompress(rd)
	if err != nil {
		return fmt.Errorf("re-unpack layer %s: %w", chainID, err)
	}
	defer dec.Close()
	info, err := s.snaps.Apply(ctx, parent, dec)
	if err != nil {
		return fmt.Errorf("re-unpack layer %s: %w", chainID, err)
	}
	if info.ChainID != chainID {
		return fmt.Errorf("re-unpack layer: got chain %s, want %s", info.ChainID, chainID)
	}
	return nil
}

// create writes config and manifest blobs (leased first) and then the
// record and the reference, making the image visible.
func (s *Store) create(lease *Lease, cb configBlob, layers []ocispec.Descriptor, parent string, size int64, target string) (*Image, error) {
	cfgJSON, err := json.Marshal(cb)
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	cfgDigest := digest.FromBytes(cfgJSON)
	if layers == nil {
		layers = []ocispec.Descriptor{}
	}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cfgDigest, Size: int64(len(cfgJSON))},
		Layers:    layers,
	}
	manJSON, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("image manifest: %w", err)
	}
	manDigest := digest.FromBytes(manJSON)
	if err := lease.Add(cfgDigest, manDigest); err != nil {
		return nil, err
	}
	failpoint.Hit("image.create.before-config")
	if _, err := s.cs.WriteBlob(cfgJSON, cfgDigest); err != nil {
		return nil, err
	}
	if _, err := s.cs.WriteBlob(manJSON, manDigest); err != nil {
		return nil, err
	}
	var refs []string
	if target != "" {
		refs = []string{target}
	}
	id := cfgDigest.String()
	if err := s.commitRecord(id, record{ManifestDigest: manDigest, Parent: parent, Size: size}, refs, true); err != nil {
		return nil, err
	}
	return s.Get(id)
}

// commitRecord writes (or keeps) the record of id and points refs at it,
// under the store lock. An existing record keeps its parent and tag time
// (the same config built twice is the same image), but takes the new
// manifest if the old one's blob is gone.
func (s *Store) commitRecord(id string, rec record, refs []string, tagTime bool) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if old, err := s.readRecord(id); err == nil {
		if s.cs.Exists(old.ManifestDigest) {
			rec.ManifestDigest = old.ManifestDigest
		}
		rec.Parent, rec.LastTagTime = old.Parent, old.LastTagTime
		if rec.Size == 0 {
			rec.Size = old.Size
		}
	}
	if len(refs) > 0 && tagTime {
		rec.LastTagTime = s.now().UTC()
	}
	failpoint.Hit("image.record.before-write")
	if err := s.writeRecord(id, rec); err != nil {
		return err
	}
	if len(refs) == 0 {
		return nil
	}
	failpoint.Hit("image.record.before-refs")
	all, err := s.readRefs()
	if err != nil {
		return err
	}
	for _, r := range refs {
		all[r] = id
	}
	return s.writeRefs(all)
}

// ParsePlatform parses --platform ("os[/arch[/variant]]"); "" is the host
// (linux/amd64 here). Architecture aliases are normalised as containerd's
// platforms package does. Any OS parses (a pull matches it against an
// index); import refuses all but linux.
func ParsePlatform(s string) (v1.Platform, error) {
	p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm64" {
		p.Variant = "v8"
	}
	if s == "" {
		return p, nil
	}
	parts := strings.Split(strings.ToLower(s), "/")
	if len(parts) > 3 || parts[0] == "" {
		return p, fmt.Errorf("invalid platform %q: expected os[/arch[/variant]]: %w", s, errdefs.ErrInvalid)
	}
	p.OS = parts[0]
	if len(parts) > 1 {
		variant := ""
		if len(parts) == 3 {
			variant = parts[2]
		}
		p.Architecture, p.Variant = NormalizeArch(parts[1], variant)
	}
	return p, nil
}

// NormalizeArch maps the common aliases to GOARCH names, as containerd's
// platforms package does.
func NormalizeArch(arch, variant string) (string, string) {
	switch arch {
	case "i386", "x86":
		return "386", ""
	case "x86_64", "x86-64", "amd64":
		if variant == "v1" {
			variant = ""
		}
		return "amd64", variant
	case "aarch64", "arm64":
		if variant == "8" || variant == "" {
			variant = "v8"
		}
		return "arm64", variant
	case "armhf":
		return "arm", "v7"
	case "armel":
		return "arm", "v6"
	case "arm":
		switch variant {
		case "", "7":
			variant = "v7"
		case "5", "6", "8":
			variant = "v" + variant
		}
		return "arm", variant
	}
	return arch, variant
}
