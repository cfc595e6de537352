package image

import (
	"encoding/json"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/archive"
	"github.com/berth/berth/internal/errdefs"
)

// V1Image is a go-containerregistry view of a stored image, for code that
// speaks ggcr (push, save): its manifest and config are the stored blobs,
// byte for byte, so the view's Digest is the image's ManifestDigest, and its
// layers are the manifest's blobs read from the content store on demand.
//
// A layer blob is whatever the manifest says: local images (import, commit,
// build) store uncompressed tars, whose Compressed and Uncompressed streams
// are then the same bytes and whose Digest is their DiffID; pulled images
// keep their registry's gzip or zstd blobs, which Uncompressed decompresses.
// Either way Digest() hashes Compressed() and DiffID() hashes Uncompressed().
//
// The view reads the store lazily: a caller that must not see its blobs
// vanish mid-read (an rmi + GC in another process) holds a Lease naming
// the image's digests for as long as it uses the view.
func (s *Store) V1Image(img *Image) (v1.Image, error) {
	if img == nil {
		return nil, fmt.Errorf("v1 image: nil image: %w", errdefs.ErrInvalid)
	}
	raw, err := s.cs.ReadBlob(img.ManifestDigest)
	if err != nil {
		return nil, fmt.Errorf("image %s: manifest: %w", img.ShortID(), err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("image %s: manifest %s: %v: %w", img.ShortID(), img.ManifestDigest, err, errdefs.ErrInvalid)
	}
	cfg, err := s.cs.ReadBlob(m.Config.Digest)
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", img.ShortID(), err)
	}
	var cf v1.ConfigFile
	if err := json.Unmarshal(cfg, &cf); err != nil {
		return nil, fmt.Errorf("image %s: config %s: %v: %w", img.ShortID(), m.Config.Digest, err, errdefs.ErrInvalid)
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("image %s: manifest has %d layers, config %d: %w", img.ShortID(), len(m.Layers), len(cf.RootFS.DiffIDs), errdefs.ErrInvalid)
	}
	mt := types.MediaType(m.MediaType)
	if mt == "" {
		// A schema 2 manifest without mediaType is not valid Docker, but an
		// OCI manifest may omit it.
		mt = types.OCIManifestSchema1
	}
	v := &v1View{s: s, raw: raw, cfg: cfg, cf: &cf, mediaType: mt}
	for i, d := range m.Layers {
		h, err := v1.NewHash(d.Digest.String())
		if err != nil {
			return nil, fmt.Errorf("image %s: layer %d: %v: %w", img.ShortID(), i, err, errdefs.ErrInvalid)
		}
		v.layers = append(v.layers, &v1Layer{s: s, desc: d, digest: h, diffID: cf.RootFS.DiffIDs[i]})
	}
	return v, nil
}

// v1View implements v1.Image over stored blobs.
type v1View struct {
	s         *Store
	raw       []byte // the stored manifest, verbatim
	cfg       []byte // the stored config, verbatim
	cf        *v1.ConfigFile
	mediaType types.MediaType
	layers    []*v1Layer
}

var _ v1.Image = (*v1View)(nil)

func (v *v1View) Layers() ([]v1.Layer, error) {
	out := make([]v1.Layer, len(v.layers))
	for i, l := range v.layers {
		out[i] = l
	}
	return out, nil
}

func (v *v1View) MediaType() (types.MediaType, error) { return v.mediaType, nil }
func (v *v1View) Size() (int64, error)                { return int64(len(v.raw)), nil }
func (v *v1View) ConfigName() (v1.Hash, error)        { return partial.ConfigName(v) }
func (v *v1View) ConfigFile() (*v1.ConfigFile, error) { return v.cf.DeepCopy(), nil }
func (v *v1View) RawConfigFile() ([]byte, error)      { return v.cfg, nil }
func (v *v1View) Digest() (v1.Hash, error)            { return partial.Digest(v) }
func (v *v1View) Manifest() (*v1.Manifest, error)     { return partial.Manifest(v) }
func (v *v1View) RawManifest() ([]byte, error)        { return v.raw, nil }

func (v *v1View) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	for _, l := range v.layers {
		if l.digest == h {
			return l, nil
		}
	}
	if cn, err := v.ConfigName(); err == nil && cn == h {
		return partial.ConfigLayer(v)
	}
	return nil, fmt.Errorf("layer %s: %w", h, errdefs.ErrNotFound)
}

func (v *v1View) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	for _, l := range v.layers {
		if l.diffID == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("layer with diff ID %s: %w", h, errdefs.ErrNotFound)
}

// v1Layer is one stored layer blob.
type v1Layer struct {
	s      *Store
	desc   ocispec.Descriptor
	digest v1.Hash
	diffID v1.Hash
}

var _ v1.Layer = (*v1Layer)(nil)

func (l *v1Layer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *v1Layer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *v1Layer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *v1Layer) MediaType() (types.MediaType, error) { return types.MediaType(l.desc.MediaType), nil }

// Compressed is the blob as stored (and as the manifest names it).
func (l *v1Layer) Compressed() (io.ReadCloser, error) {
	rd, err := l.s.cs.Open(l.desc.Digest)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", l.desc.Digest, err)
	}
	return rd, nil
}

// Uncompressed sniffs the blob rather than trusting the media type: local
// layers are plain tars whatever tooling later calls them.
func (l *v1Layer) Uncompressed() (io.ReadCloser, error) {
	rd, err := l.s.cs.Open(l.desc.Digest)
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", l.desc.Digest, err)
	}
	dec, err := archive.Decompress(rd)
	if err != nil {
		rd.Close()
		return nil, fmt.Errorf("layer %s: %w", l.desc.Digest, err)
	}
	return &closeBoth{Reader: dec, closers: []io.Closer{dec, rd}}, nil
}

// Descriptor keeps the manifest's descriptor (annotations, URLs) when ggcr
// builds manifests or indexes from the layer (partial.Descriptor).
func (l *v1Layer) Descriptor() (*v1.Descriptor, error) {
	return &v1.Descriptor{
		MediaType:   types.MediaType(l.desc.MediaType),
		Size:        l.desc.Size,
		Digest:      l.digest,
		URLs:        l.desc.URLs,
		Annotations: l.desc.Annotations,
	}, nil
}

// closeBoth closes a decoder and the blob under it.
type closeBoth struct {
	io.Reader
	closers []io.Closer
}

func (c *closeBoth) Close() error {
	var first error
	for _, cl := range c.closers {
		if err := cl.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
