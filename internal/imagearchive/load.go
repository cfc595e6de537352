package imagearchive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/progress"
	"github.com/berth/berth/internal/snapshot"
)

// LoadOptions tune a load.
type LoadOptions struct {
	// Progress gets Docker's "Loading layer" bars (item: the layer's
	// short chain ID); nil shows none.
	Progress *progress.Writer
}

// Loaded is one image a load registered.
type Loaded struct {
	ID       string     // image ID (config digest)
	Tags     []string   // full references pointed at it, in archive order
	Replaced []Replaced // tags that moved here from another image
}

// Replaced is a tag that named another image before the load.
type Replaced struct {
	Tag   string // full reference
	OldID string
}

// Docker schema 2 media types the OCI spec does not define.
const (
	dockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	dockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	dockerSchema1      = "application/vnd.docker.distribution.manifest.v1+json"
	dockerSchema1Sig   = "application/vnd.docker.distribution.manifest.v1+prettyjws"
)

// plan is one image found in the archive, checked but not yet stored.
type plan struct {
	manifest []byte // nil: synthesised at store time (docker-archive)
	config   []byte
	layers   []layerPlan
	tags     []reference.NamedTagged
}

type layerPlan struct {
	f      *file
	desc   ocispec.Descriptor // as the manifest says (MediaType empty: synthesise)
	diffID digest.Digest
}

// Load reads an image archive (any flavour the package doc lists) from r
// and stores its images in s. It returns them in archive order. Either
// every image of the archive is loaded or, when the archive is invalid,
// none: every check that needs no unpacking runs before any blob is
// committed, and every layer of every image is unpacked (checking its
// DiffID) before the first image is registered.
func Load(ctx context.Context, s *image.Store, r io.Reader, opts LoadOptions) ([]Loaded, error) {
	lease, err := s.NewLease()
	if err != nil {
		return nil, err
	}
	defer lease.Release()
	st := &streamer{ctx: ctx, s: s, lease: lease, progress: opts.Progress}
	c, err := readArchive(ctx, s.Content(), r, st.layer)
	defer c.close()
	if err != nil {
		return nil, err
	}
	plans, err := c.plans()
	if err != nil {
		return nil, err
	}
	staged := make([]digest.Digest, len(plans))
	for i, p := range plans {
		if staged[i], err = stage(ctx, s, lease, p, opts.Progress); err != nil {
			return nil, err
		}
	}
	var out []Loaded
	for i, p := range plans {
		l, err := register(ctx, s, staged[i], p)
		if err != nil {
			return out, err
		}
		out = append(out, l)
	}
	return out, nil
}

// plans interprets the archive: Docker's manifest.json when present (with
// the OCI index, if any, supplying the original manifests), else the OCI
// layout's index.json.
func (c *contents) plans() ([]plan, error) {
	_, hasManifest := c.files["manifest.json"]
	_, hasIndex := c.files[ocispec.ImageIndexFile]
	switch {
	case hasManifest:
		return c.dockerPlans(hasIndex)
	case hasIndex:
		return c.ociPlans()
	case c.files["repositories"] != nil:
		return nil, invalid("no manifest.json: archives of Docker before 1.10 (repositories only) are not supported")
	}
	return nil, invalid("neither manifest.json (docker-archive) nor index.json (OCI layout) found")
}

func (c *contents) jsonFile(name string, v any) error {
	f, err := c.lookup(name, name)
	if err != nil {
		return err
	}
	data, err := f.bytes(name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return invalid("%s: %v", name, err)
	}
	return nil
}

func (c *contents) dockerPlans(hasIndex bool) ([]plan, error) {
	var m tarball.Manifest
	if err := c.jsonFile("manifest.json", &m); err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, invalid("manifest.json lists no image")
	}
	// The OCI index of a Docker 25+ (or berth) archive has the manifests
	// the images were pulled or built with: reuse them, so that the image
	// keeps its manifest digest. Only a hint: a broken index is ignored,
	// as Docker 20.10 ignores it entirely.
	var known []plan
	if hasIndex {
		known, _ = c.ociPlans()
	}
	var out []plan
	for i, d := range m {
		what := fmt.Sprintf("manifest.json image %d", i+1)
		cf, err := c.lookup(d.Config, what+" config")
		if err != nil {
			return nil, err
		}
		cfg, err := cf.bytes(what + " config")
		if err != nil {
			return nil, err
		}
		if err := checkBlobName(cf); err != nil {
			return nil, err
		}
		diffIDs, err := parseConfig(cfg, what)
		if err != nil {
			return nil, err
		}
		if len(diffIDs) != len(d.Layers) {
			return nil, invalid("%s lists %d layers, its config %d", what, len(d.Layers), len(diffIDs))
		}
		p := plan{config: cfg}
		for j, lp := range d.Layers {
			lf, err := c.lookup(lp, fmt.Sprintf("%s layer %d", what, j+1))
			if err != nil {
				return nil, err
			}
			if err := checkBlobName(lf); err != nil {
				return nil, err
			}
			p.layers = append(p.layers, layerPlan{f: lf, diffID: diffIDs[j],
				desc: ocispec.Descriptor{Digest: lf.digest, Size: lf.size}})
		}
		for _, k := range known {
			if sameImage(k, p) {
				p.manifest, p.layers = k.manifest, k.layers
				break
			}
		}
		for _, t := range d.RepoTags {
			named, err := reference.ParseNormalizedNamed(t)
			if err != nil {
				return nil, invalid("%s: invalid tag %q: %v", what, t, err)
			}
			tagged, ok := named.(reference.NamedTagged)
			if !ok {
				return nil, invalid("%s: invalid tag %q: no tag", what, t)
			}
			p.tags = append(p.tags, tagged)
		}
		out = append(out, p)
	}
	return out, nil
}

// sameImage: an index manifest k describes exactly the config and layer
// blobs of docker-archive entry p.
func sameImage(k, p plan) bool {
	if digest.FromBytes(k.config) != digest.FromBytes(p.config) || len(k.layers) != len(p.layers) {
		return false
	}
	for i := range k.layers {
		if k.layers[i].f.digest != p.layers[i].f.digest {
			return false
		}
	}
	return true
}

// checkBlobName: a file under blobs/<alg>/<hex> must hash to its name.
func checkBlobName(f *file) error {
	alg, hexPart, ok := strings.Cut(strings.TrimPrefix(f.name, "blobs/"), "/")
	if !strings.HasPrefix(f.name, "blobs/") || !ok {
		return nil
	}
	if want := digest.NewDigestFromEncoded(digest.Algorithm(alg), hexPart); want != f.digest {
		return invalid("blob %s: content hashes to %s", f.name, f.digest)
	}
	return nil
}

// parseConfig checks an image config enough to unpack it: JSON, with
// valid sha256 DiffIDs.
func parseConfig(cfg []byte, what string) ([]digest.Digest, error) {
	var cf v1.ConfigFile
	if err := json.Unmarshal(cfg, &cf); err != nil {
		return nil, invalid("%s config: %v", what, err)
	}
	out := make([]digest.Digest, len(cf.RootFS.DiffIDs))
	for i, h := range cf.RootFS.DiffIDs {
		d := digest.Digest(h.String())
		if d.Validate() != nil || d.Algorithm() != digest.SHA256 {
			return nil, invalid("%s config: bad diff ID %q", what, h.String())
		}
		out[i] = d
	}
	return out, nil
}

func (c *contents) ociPlans() ([]plan, error) {
	if f := c.files[ocispec.ImageLayoutFile]; f != nil {
		var l ocispec.ImageLayout
		if data, err := f.bytes(ocispec.ImageLayoutFile); err == nil && json.Unmarshal(data, &l) == nil && l.Version != "" && !strings.HasPrefix(l.Version, "1.") {
			return nil, invalid("oci-layout version %q is not supported", l.Version)
		}
	}
	var idx ocispec.Index
	if err := c.jsonFile(ocispec.ImageIndexFile, &idx); err != nil {
		return nil, err
	}
	var out []plan
	byManifest := map[digest.Digest]int{}
	for i, d := range idx.Manifests {
		what := fmt.Sprintf("index.json entry %d", i+1)
		p, md, err := c.resolve(d, what, 0)
		if err != nil {
			return nil, err
		}
		var tag reference.NamedTagged
		if t := refFromAnnotations(d.Annotations); t != nil {
			tag = t
		}
		if j, ok := byManifest[md]; ok {
			if tag != nil {
				out[j].tags = append(out[j].tags, tag)
			}
			continue
		}
		if tag != nil {
			p.tags = []reference.NamedTagged{tag}
		}
		byManifest[md] = len(out)
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, invalid("index.json lists no image")
	}
	return out, nil
}

// refFromAnnotations names an index entry: containerd's full name, else
// ref.name when it is a full reference (skopeo's "name:tag"); a bare tag
// ("latest", Docker 25's ref.name) names nothing on its own.
func refFromAnnotations(a map[string]string) reference.NamedTagged {
	for _, v := range []string{a[AnnotationImageName], a[AnnotationRefName]} {
		if v == "" || !strings.ContainsAny(v, ":/") {
			continue
		}
		named, err := reference.ParseNormalizedNamed(v)
		if err != nil {
			continue
		}
		if t, ok := reference.TagNameOnly(named).(reference.NamedTagged); ok {
			return t
		}
	}
	return nil
}

// blob returns the verified blob d of the OCI layout.
func (c *contents) blob(d ocispec.Descriptor, what string) (*file, error) {
	if err := d.Digest.Validate(); err != nil {
		return nil, invalid("%s: digest %q: %v", what, d.Digest, err)
	}
	f, err := c.lookup("blobs/"+d.Digest.Algorithm().String()+"/"+d.Digest.Encoded(), what)
	if err != nil {
		return nil, err
	}
	if f.digest != d.Digest {
		return nil, invalid("%s: blob %s: content hashes to %s", what, d.Digest, f.digest)
	}
	if f.size != d.Size {
		return nil, invalid("%s: blob %s: %d bytes, the descriptor says %d", what, d.Digest, f.size, d.Size)
	}
	return f, nil
}

// resolve turns an index descriptor into an image plan: an image index
// (multi-platform) is resolved to the host's platform.
func (c *contents) resolve(d ocispec.Descriptor, what string, depth int) (plan, digest.Digest, error) {
	switch d.MediaType {
	case ocispec.MediaTypeImageIndex, dockerManifestList:
		if depth > 3 {
			return plan{}, "", invalid("%s: image indexes nested too deep", what)
		}
		f, err := c.blob(d, what)
		if err != nil {
			return plan{}, "", err
		}
		data, err := f.bytes(what)
		if err != nil {
			return plan{}, "", err
		}
		var idx ocispec.Index
		if err := json.Unmarshal(data, &idx); err != nil {
			return plan{}, "", invalid("%s: index %s: %v", what, d.Digest, err)
		}
		for _, m := range idx.Manifests {
			if m.Platform != nil && matchPlatform(*m.Platform) {
				return c.resolve(m, what, depth+1)
			}
		}
		return plan{}, "", fmt.Errorf("%s: no image for %s/%s in index %s: %w", what, runtime.GOOS, runtime.GOARCH, d.Digest, errdefs.ErrNotFound)
	case ocispec.MediaTypeImageManifest, dockerManifest, "":
	case dockerSchema1, dockerSchema1Sig:
		return plan{}, "", fmt.Errorf("%s: schema 1 manifests are not supported: %w", what, errdefs.ErrNotImplemented)
	default:
		return plan{}, "", invalid("%s: unsupported media type %q", what, d.MediaType)
	}
	f, err := c.blob(d, what)
	if err != nil {
		return plan{}, "", err
	}
	raw, err := f.bytes(what)
	if err != nil {
		return plan{}, "", err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return plan{}, "", invalid("%s: manifest %s: %v", what, d.Digest, err)
	}
	if m.MediaType == dockerSchema1 || m.MediaType == dockerSchema1Sig || m.SchemaVersion == 1 {
		return plan{}, "", fmt.Errorf("%s: schema 1 manifests are not supported: %w", what, errdefs.ErrNotImplemented)
	}
	if m.Config.Digest == "" {
		return plan{}, "", invalid("%s: manifest %s has no config", what, d.Digest)
	}
	cf, err := c.blob(m.Config, what+" config")
	if err != nil {
		return plan{}, "", err
	}
	cfg, err := cf.bytes(what + " config")
	if err != nil {
		return plan{}, "", err
	}
	diffIDs, err := parseConfig(cfg, what)
	if err != nil {
		return plan{}, "", err
	}
	if len(diffIDs) != len(m.Layers) {
		return plan{}, "", invalid("%s: manifest %s has %d layers, its config %d", what, d.Digest, len(m.Layers), len(diffIDs))
	}
	p := plan{manifest: raw, config: cfg}
	for i, l := range m.Layers {
		lf, err := c.blob(l, fmt.Sprintf("%s layer %d", what, i+1))
		if err != nil {
			return plan{}, "", err
		}
		p.layers = append(p.layers, layerPlan{f: lf, desc: l, diffID: diffIDs[i]})
	}
	return p, d.Digest, nil
}

func matchPlatform(p ocispec.Platform) bool {
	if p.OS != runtime.GOOS || p.Architecture != runtime.GOARCH {
		return false
	}
	if runtime.GOARCH == "arm64" {
		return p.Variant == "" || p.Variant == "v8"
	}
	return true
}

// stage commits one planned image's blobs (under the lease) and unpacks
// its layers; it returns the manifest digest.
func stage(ctx context.Context, s *image.Store, lease *image.Lease, p plan, pw *progress.Writer) (digest.Digest, error) {
	cs := s.Content()
	var descs []ocispec.Descriptor
	for i := range p.layers {
		lp := &p.layers[i]
		if err := commitFile(ctx, s, lease, lp.f); err != nil {
			return "", err
		}
		desc := lp.desc
		if p.manifest == nil {
			var err error
			if desc, err = synthLayer(ctx, cs, lease, lp); err != nil {
				return "", err
			}
		}
		descs = append(descs, desc)
	}
	cfgDigest := digest.FromBytes(p.config)
	if err := s.IngestBlob(ctx, lease, ocispec.Descriptor{Digest: cfgDigest, Size: int64(len(p.config))}, bytesReader(p.config)); err != nil {
		return "", err
	}
	raw := p.manifest
	if raw == nil {
		if descs == nil {
			descs = []ocispec.Descriptor{}
		}
		var err error
		raw, err = json.Marshal(ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2},
			MediaType: ocispec.MediaTypeImageManifest,
			Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cfgDigest, Size: int64(len(p.config))},
			Layers:    descs,
		})
		if err != nil {
			return "", err
		}
	}
	md := digest.FromBytes(raw)
	if err := s.IngestBlob(ctx, lease, ocispec.Descriptor{Digest: md, Size: int64(len(raw))}, bytesReader(raw)); err != nil {
		return "", err
	}
	var parent digest.Digest
	for i, lp := range p.layers {
		var err error
		if parent, err = s.Unpack(ctx, lease, parent, descs[i], lp.diffID); err != nil {
			return "", fmt.Errorf("load: %s: %w", lp.f.name, err)
		}
		pw.Progress(shortID(parent), "Loading layer", descs[i].Size, descs[i].Size)
	}
	return md, nil
}

// register records a staged image and points its tags at it.
func register(ctx context.Context, s *image.Store, md digest.Digest, p plan) (Loaded, error) {
	out := Loaded{ID: digest.FromBytes(p.config).String()}
	var refs []string
	for _, t := range p.tags {
		ref := t.String()
		if old, err := s.Get(ref); err == nil && old.ID != out.ID {
			out.Replaced = append(out.Replaced, Replaced{Tag: ref, OldID: old.ID})
		}
		refs = append(refs, ref)
	}
	img, err := s.Register(ctx, image.RegisterOptions{ManifestDigest: md, Refs: refs})
	if err != nil {
		return Loaded{}, err
	}
	out.ID, out.Tags = img.ID, refs
	return out, nil
}

// commitFile makes an archive file a blob of the content store.
func commitFile(ctx context.Context, s *image.Store, lease *image.Lease, f *file) error {
	desc := ocispec.Descriptor{Digest: f.digest, Size: f.size}
	if f.streamed {
		return lease.Add(f.digest)
	}
	if f.w == nil {
		return s.IngestBlob(ctx, lease, desc, f.reader())
	}
	if err := lease.Add(f.digest); err != nil {
		return err
	}
	if f.committed {
		return nil
	}
	if err := f.w.Commit(f.size, f.digest); err != nil && !errors.Is(err, content.ErrAlreadyExists) {
		return fmt.Errorf("load: %s: %w", f.name, err)
	}
	f.committed = true
	return nil
}

// synthLayer describes a docker-archive layer file for a new OCI manifest.
// gzip and zstd files are kept as they are; xz and bzip2 (which Docker
// accepts in archives but OCI has no media type for) are stored
// decompressed, the blob then being the layer tar itself.
func synthLayer(ctx context.Context, cs *content.Store, lease *image.Lease, lp *layerPlan) (ocispec.Descriptor, error) {
	d := ocispec.Descriptor{Digest: lp.f.digest, Size: lp.f.size}
	head := lp.f.head
	if len(head) == 0 && lp.f.size > 0 {
		// Streamed without being read (its blob existed): sniff the blob.
		rd, err := cs.Open(lp.f.digest)
		if err != nil {
			return d, err
		}
		head = make([]byte, min(lp.f.size, headLen))
		_, err = io.ReadFull(rd, head)
		rd.Close()
		if err != nil {
			return d, fmt.Errorf("load: %s: %w", lp.f.name, err)
		}
	}
	switch archive.DetectCompression(head) {
	case archive.Uncompressed:
		d.MediaType = ocispec.MediaTypeImageLayer
		return d, nil
	case archive.Gzip:
		d.MediaType = ocispec.MediaTypeImageLayerGzip
		return d, nil
	case archive.Zstd:
		d.MediaType = ocispec.MediaTypeImageLayerZstd
		return d, nil
	}
	if err := lease.Add(lp.diffID); err != nil {
		return d, err
	}
	rd, err := cs.Open(lp.f.digest)
	if err != nil {
		return d, err
	}
	defer rd.Close()
	dec, err := archive.Decompress(ctxReader{ctx, rd})
	if err != nil {
		return d, fmt.Errorf("load: %s: %w", lp.f.name, err)
	}
	defer dec.Close()
	if _, err := cs.Ingest("load-"+lp.diffID.Encoded(), dec, 0, lp.diffID); err != nil {
		return d, fmt.Errorf("load: %s: decompressed layer: %w", lp.f.name, err)
	}
	info, err := cs.Info(lp.diffID)
	if err != nil {
		return d, err
	}
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: lp.diffID, Size: info.Size}, nil
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// streamer unpacks layer blobs while the archive is read, when the
// archive says what they are before they come (manifest.json and the
// image config ahead of the blobs, as berth's save writes them): each such
// layer is read once, into its blob and its snapshot at the same time,
// instead of being spooled and unpacked afterwards. Any other file is
// left to the spooling path. What it stores is on the load's lease and
// goes to GC if the load fails.
type streamer struct {
	ctx      context.Context
	s        *image.Store
	lease    *image.Lease
	progress *progress.Writer
	manifest tarball.Manifest
	parsed   *file // the manifest.json file st.manifest was parsed from
}

func (st *streamer) layer(c *contents, name string, size int64, r io.Reader) (*file, error) {
	alg, hexPart, ok := strings.Cut(strings.TrimPrefix(name, "blobs/"), "/")
	if !strings.HasPrefix(name, "blobs/") || !ok || alg != string(digest.SHA256) {
		return nil, nil
	}
	d := digest.NewDigestFromEncoded(digest.SHA256, hexPart)
	if d.Validate() != nil {
		return nil, nil
	}
	parent, diffID, ok := st.expect(c, name)
	if !ok {
		return nil, nil
	}
	if parent != "" {
		if _, err := st.s.Snapshots().Stat(parent); err != nil {
			return nil, nil // not unpacked (yet): spool, unpack later
		}
	}
	h := &headWriter{}
	in := st.progress.Reader(io.TeeReader(r, h), shortID(snapshot.ChainID(parent, diffID)), "Loading layer", 0, size)
	if _, err := st.s.IngestLayer(st.ctx, st.lease, parent, ocispec.Descriptor{Digest: d, Size: size}, diffID, in); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, invalid("truncated in %s", name)
		}
		return nil, fmt.Errorf("load: %s: %w", name, err)
	}
	return &file{name: name, digest: d, size: size, head: h.b, streamed: true}, nil
}

// expect finds the file name among manifest.json's layers and returns its
// parent chain and DiffID, if the manifest and that image's config have
// been read already.
func (st *streamer) expect(c *contents, name string) (parent, diffID digest.Digest, ok bool) {
	mf := c.files["manifest.json"]
	if mf == nil || mf.data == nil {
		return "", "", false
	}
	if st.parsed != mf {
		st.manifest = nil
		if json.Unmarshal(mf.data, &st.manifest) != nil {
			st.manifest = nil
		}
		st.parsed = mf
	}
	for _, d := range st.manifest {
		for j, lp := range d.Layers {
			if clean, err := cleanName(lp); err != nil || clean != name {
				continue
			}
			cf, err := c.lookup(d.Config, "")
			if err != nil || cf.data == nil {
				continue
			}
			diffIDs, err := parseConfig(cf.data, "")
			if err != nil || len(diffIDs) != len(d.Layers) {
				continue
			}
			chains := image.ChainIDs(diffIDs[:j+1])
			if j > 0 {
				parent = chains[j-1]
			}
			return parent, diffIDs[j], true
		}
	}
	return "", "", false
}

// shortID is the 12 hex digits Docker shows for a layer.
func shortID(d digest.Digest) string {
	if e := d.Encoded(); len(e) > 12 {
		return e[:12]
	}
	return d.Encoded()
}
