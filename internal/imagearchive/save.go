package imagearchive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/image"
)

// Annotation keys of index.json entries, as Docker 25+ and containerd
// write them.
const (
	AnnotationImageName = "io.containerd.image.name" // the full reference
	AnnotationRefName   = ocispec.AnnotationRefName  // the tag only
)

// SaveEntry is one image to save and the tags to save it under (none:
// saved by ID, loaded back untagged).
type SaveEntry struct {
	Image v1.Image
	Tags  []reference.NamedTagged
}

// epoch is every header's mtime: the archive must not depend on when it
// was written.
var epoch = time.Unix(0, 0).UTC()

// blobSource is one blob to write.
type blobSource struct {
	digest v1.Hash
	size   int64
	open   func() (io.ReadCloser, error)
}

// Save writes entries as one archive (see the package doc) to w. Every
// blob's bytes are checked against its digest as they are written; a
// mismatch (a corrupt store) fails the save.
func Save(ctx context.Context, w io.Writer, entries []SaveEntry) error {
	blobs := map[v1.Hash]blobSource{}
	var order []v1.Hash // first use: each image's manifest, config, then layers base first
	add := func(b blobSource) {
		if _, ok := blobs[b.digest]; !ok {
			blobs[b.digest] = b
			order = append(order, b.digest)
		}
	}
	var index v1.IndexManifest
	index.SchemaVersion = 2
	index.MediaType = types.OCIImageIndex
	index.Manifests = []v1.Descriptor{}
	var manifest tarball.Manifest
	repos := map[string]map[string]string{}

	for _, e := range entries {
		img := e.Image
		raw, err := img.RawManifest()
		if err != nil {
			return fmt.Errorf("save: manifest: %w", err)
		}
		mt, err := img.MediaType()
		if err != nil {
			return fmt.Errorf("save: manifest: %w", err)
		}
		md, err := img.Digest()
		if err != nil {
			return fmt.Errorf("save: manifest: %w", err)
		}
		add(memBlob(md, raw))
		cfg, err := img.RawConfigFile()
		if err != nil {
			return fmt.Errorf("save: image config: %w", err)
		}
		cn, err := img.ConfigName()
		if err != nil {
			return fmt.Errorf("save: image config: %w", err)
		}
		add(memBlob(cn, cfg))
		layers, err := img.Layers()
		if err != nil {
			return fmt.Errorf("save: image %s: layers: %w", cn, err)
		}
		desc := tarball.Descriptor{Config: blobPath(cn)}
		var top string
		for _, l := range layers {
			d, err := l.Digest()
			if err != nil {
				return fmt.Errorf("save: image %s: layer: %w", cn, err)
			}
			size, err := l.Size()
			if err != nil {
				return fmt.Errorf("save: image %s: layer %s: %w", cn, d, err)
			}
			add(blobSource{digest: d, size: size, open: l.Compressed})
			desc.Layers = append(desc.Layers, blobPath(d))
			top = d.Hex
		}
		if desc.Layers == nil {
			desc.Layers = []string{}
		}
		mdesc := v1.Descriptor{MediaType: mt, Size: int64(len(raw)), Digest: md}
		if len(e.Tags) == 0 {
			index.Manifests = append(index.Manifests, mdesc)
		}
		for _, t := range e.Tags {
			d := mdesc
			d.Annotations = map[string]string{AnnotationImageName: t.String(), AnnotationRefName: t.Tag()}
			index.Manifests = append(index.Manifests, d)
			familiar := image.Familiar(t)
			desc.RepoTags = append(desc.RepoTags, familiar)
			if top != "" {
				name := reference.FamiliarName(t)
				if repos[name] == nil {
					repos[name] = map[string]string{}
				}
				repos[name][t.Tag()] = top
			}
		}
		manifest = append(manifest, desc)
	}

	// Metadata first: a reader streaming the archive (berth's load) then
	// knows what each layer blob is when it arrives, and unpacks it on the
	// fly; the others do not care about the order.
	tw := tar.NewWriter(w)
	files := []struct {
		name string
		v    any
	}{
		{ocispec.ImageLayoutFile, ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion}},
		{ocispec.ImageIndexFile, index},
		{"manifest.json", manifest},
	}
	if len(repos) > 0 {
		files = append(files, struct {
			name string
			v    any
		}{"repositories", repos})
	}
	for _, f := range files {
		data, err := json.Marshal(f.v)
		if err != nil {
			return fmt.Errorf("save: %s: %w", f.name, err)
		}
		if err := writeFile(tw, f.name, data); err != nil {
			return err
		}
	}
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return fmt.Errorf("save: %w", err)
		}
	}
	for _, k := range order {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := writeBlob(tw, blobs[k]); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	return nil
}

func blobPath(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

func memBlob(h v1.Hash, data []byte) blobSource {
	return blobSource{digest: h, size: int64(len(data)), open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}}
}

func fileHeader(name string, size int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: epoch, Format: tar.FormatPAX}
}

func writeFile(tw *tar.Writer, name string, data []byte) error {
	if err := tw.WriteHeader(fileHeader(name, int64(len(data)))); err != nil {
		return fmt.Errorf("save: %s: %w", name, err)
	}
	if _, err := tw.Write(data); err != nil {
		return fmt.Errorf("save: %s: %w", name, err)
	}
	return nil
}

// writeBlob copies one blob into the archive, checking size and digest on
// the way: the store's bytes are re-verified for free.
func writeBlob(tw *tar.Writer, b blobSource) error {
	if b.digest.Algorithm != "sha256" {
		return fmt.Errorf("save: blob %s: unsupported digest algorithm: %w", b.digest, errdefs.ErrInvalid)
	}
	rc, err := b.open()
	if err != nil {
		return fmt.Errorf("save: blob %s: %w", b.digest, err)
	}
	defer rc.Close()
	if err := tw.WriteHeader(fileHeader(blobPath(b.digest), b.size)); err != nil {
		return fmt.Errorf("save: blob %s: %w", b.digest, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tw, h), io.LimitReader(rc, b.size))
	if err != nil {
		return fmt.Errorf("save: blob %s: %w", b.digest, err)
	}
	if n != b.size {
		return fmt.Errorf("save: blob %s: %d bytes in the store, %d expected: %w", b.digest, n, b.size, errdefs.ErrInvalid)
	}
	if got := (v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}); got != b.digest {
		return fmt.Errorf("save: blob %s: stored content hashes to %s (corrupt store; run 'berth system check'): %w", b.digest, got, errdefs.ErrInvalid)
	}
	return nil
}
