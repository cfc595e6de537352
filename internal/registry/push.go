package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/pgzip"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/progress"
)

// PushOptions say how to push.
type PushOptions struct {
	Progress *progress.Writer // nil = silent
}

// PushResult is Docker's last push line: "<tag>: digest: <digest> size: <size>".
type PushResult struct {
	Tag    string
	Digest digest.Digest
	Size   int64
}

// pushLayer is one layer as it goes to the registry: a compressed blob in
// the content store.
type pushLayer struct {
	c         *Client
	digest    digest.Digest
	diffID    digest.Digest
	size      int64
	mediaType types.MediaType
	id        string // progress ID: the short DiffID, as Docker shows it
	pw        *progress.Writer

	mountFrom string // repository path a mount was offered from

	mu     sync.Mutex
	opened bool
}

func (l *pushLayer) Digest() (v1.Hash, error)            { return v1.NewHash(l.digest.String()) }
func (l *pushLayer) DiffID() (v1.Hash, error)            { return v1.NewHash(l.diffID.String()) }
func (l *pushLayer) Size() (int64, error)                { return l.size, nil }
func (l *pushLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }

// Compressed is called only when the registry lacks the blob (remote.Write
// checks existence and tries a mount first), so it is where "Pushing" starts.
func (l *pushLayer) Compressed() (io.ReadCloser, error) {
	rd, err := l.c.cs.Open(l.digest)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.opened = true
	l.mu.Unlock()
	return &pushReader{Reader: l.pw.Reader(rd, l.id, "Pushing", 0, l.size), c: rd, l: l}, nil
}

type pushReader struct {
	io.Reader
	c io.Closer
	l *pushLayer
}

func (r *pushReader) Read(p []byte) (int, error) {
	n, err := r.Reader.Read(p)
	if err == io.EOF {
		r.l.pw.Status(r.l.id, "Pushed")
	}
	return n, err
}

func (r *pushReader) Close() error { return r.c.Close() }

// pushImage is the image as go-containerregistry's remote.Write sees it.
type pushImage struct {
	v1.Image
	layers []v1.Layer
}

func (p *pushImage) Layers() ([]v1.Layer, error) { return p.layers, nil }

type pushCore struct {
	config    []byte
	manifest  []byte
	mediaType types.MediaType
	byDigest  map[v1.Hash]*pushLayer
}

func (p *pushCore) RawConfigFile() ([]byte, error)      { return p.config, nil }
func (p *pushCore) MediaType() (types.MediaType, error) { return p.mediaType, nil }
func (p *pushCore) RawManifest() ([]byte, error)        { return p.manifest, nil }
func (p *pushCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := p.byDigest[h]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("push: no layer %s: %w", h, errdefs.ErrNotFound)
}

// Push uploads the local image named (tagged or canonical) to its
// registry. Local (uncompressed) layers are gzip-compressed in parallel,
// once: the compressed blob stays in the content store and a second push
// reuses it. Blobs the registry has are skipped, blobs another repository
// of the same registry is known to hold are mounted.
func (c *Client) Push(ctx context.Context, named reference.Named, o PushOptions) (*PushResult, error) {
	shown := reference.FamiliarString(named)
	img, err := c.images.Get(named.String())
	if err != nil {
		return nil, fmt.Errorf("An image does not exist locally with the tag: %s: %w", reference.FamiliarName(named), errdefs.ErrNotFound)
	}
	lease, err := c.images.NewLease()
	if err != nil {
		return nil, err
	}
	defer lease.Release()
	// What the push reads must outlive a concurrent rmi + GC.
	hold := []digest.Digest{img.Digest(), img.ManifestDigest}
	for _, l := range img.Layers {
		hold = append(hold, l.Digest)
	}
	if err := lease.Add(hold...); err != nil {
		return nil, err
	}
	if _, err := c.images.Get(img.ID); err != nil {
		return nil, fmt.Errorf("push %s: image removed meanwhile: %w", shown, err)
	}
	pw := o.Progress

	ep := endpoint{host: reference.Domain(named)}
	repo, err := c.repoOn(ep, named)
	if err != nil {
		return nil, err
	}
	cfgJSON, err := c.cs.ReadBlob(img.Digest())
	if err != nil {
		return nil, fmt.Errorf("push %s: image config: %w", shown, err)
	}
	st := c.readState()
	layers := make([]*pushLayer, len(img.Layers))
	asIs := true
	for i, desc := range img.Layers {
		diffID := digest.Digest(img.Config.RootFS.DiffIDs[i].String())
		l := &pushLayer{c: c, diffID: diffID, id: image.ShortID(diffID.String()), pw: pw}
		layers[i] = l
		pw.Status(l.id, "Preparing")
		if desc.MediaType != ocispec.MediaTypeImageLayer && desc.MediaType != string(types.DockerUncompressedLayer) && c.cs.Exists(desc.Digest) {
			l.digest, l.size, l.mediaType = desc.Digest, desc.Size, types.MediaType(desc.MediaType)
			continue
		}
		asIs = false
		if ref, ok := st.Gzip[diffID]; ok && c.cs.Exists(ref.Digest) {
			if err := lease.Add(ref.Digest); err == nil && c.cs.Exists(ref.Digest) {
				l.digest, l.size, l.mediaType = ref.Digest, ref.Size, types.DockerLayer
				continue
			}
		}
		// Not compressed yet: compress while uploading, keeping the gzip.
		// Should the streaming upload fail, compress alone and let
		// remote.Write upload from the store as for any other layer.
		if err := c.compressUploading(ctx, lease, l, desc.Digest, repo); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if err := c.compress(ctx, lease, l, desc.Digest, nil); err != nil {
				return nil, fmt.Errorf("push %s: layer %s: %w", shown, diffID, err)
			}
		}
	}

	var manifest []byte
	var mt types.MediaType
	if raw, err := c.cs.ReadBlob(img.ManifestDigest); err == nil && asIs {
		// A pulled image goes back exactly as it came (same digest).
		manifest = raw
		var probe struct {
			MediaType string `json:"mediaType"`
		}
		json.Unmarshal(raw, &probe)
		mt = types.MediaType(probe.MediaType)
		if mt == "" {
			mt = types.OCIManifestSchema1
		}
	} else {
		// Docker's own push format: schema 2 with gzip layers. A layer
		// schema 2 has no type for (zstd, from a pulled OCI base) makes it
		// an OCI manifest instead; layer bytes are never changed, only the
		// names of their types.
		oci := false
		for _, l := range layers {
			if l.mediaType == types.OCILayerZStd || strings.HasSuffix(string(l.mediaType), "+zstd") {
				oci = true
			}
		}
		m := v1.Manifest{
			SchemaVersion: 2,
			MediaType:     types.DockerManifestSchema2,
			Config:        v1.Descriptor{MediaType: types.DockerConfigJSON, Size: int64(len(cfgJSON)), Digest: mustHash(img.Digest())},
		}
		if oci {
			m.MediaType, m.Config.MediaType = types.OCIManifestSchema1, types.OCIConfigJSON
		}
		for _, l := range layers {
			lt := l.mediaType
			switch {
			case oci && lt == types.DockerLayer:
				lt = types.OCILayer
			case !oci && lt == types.OCILayer:
				lt = types.DockerLayer
			}
			m.Layers = append(m.Layers, v1.Descriptor{MediaType: lt, Size: l.size, Digest: mustHash(l.digest)})
		}
		if manifest, err = json.Marshal(m); err != nil {
			return nil, err
		}
		mt = m.MediaType
	}

	core := &pushCore{config: cfgJSON, manifest: manifest, mediaType: mt, byDigest: map[v1.Hash]*pushLayer{}}
	base, err := partial.CompressedToImage(core)
	if err != nil {
		return nil, err
	}
	pimg := &pushImage{Image: base}
	target := repo.String()
	for _, l := range layers {
		h := mustHash(l.digest)
		core.byDigest[h] = l
		vl, err := partial.CompressedToLayer(l)
		if err != nil {
			return nil, err
		}
		if src := mountSource(st.Sources[l.digest], repo, target); src != "" {
			if srcRepo, err := name.NewRepository(src, name.Insecure); err == nil {
				vl = &remote.MountableLayer{Layer: vl, Reference: srcRepo.Digest(l.digest.String())}
				l.mountFrom = srcRepo.RepositoryStr()
			}
		}
		pimg.layers = append(pimg.layers, vl)
	}

	var ref name.Reference = repo.Tag("latest")
	tag := "latest"
	if cn, ok := named.(reference.Canonical); ok {
		ref, tag = repo.Digest(cn.Digest().String()), cn.Digest().String()
	} else if t, ok := named.(reference.Tagged); ok {
		ref, tag = repo.Tag(t.Tag()), t.Tag()
	}
	err = remote.Write(ref, pimg,
		remote.WithTransport(c.base), remote.WithAuthFromKeychain(c.keychain),
		remote.WithContext(ctx), remote.WithJobs(c.jobs))
	if err != nil {
		if isUnauthorized(err) {
			return nil, fmt.Errorf("push %s: %v: %w", shown, err, errdefs.ErrInvalid)
		}
		return nil, unavailable(fmt.Errorf("push %s: %w", shown, err))
	}
	var blobs []digest.Digest
	for _, l := range layers {
		l.mu.Lock()
		opened := l.opened
		l.mu.Unlock()
		if !opened {
			if l.mountFrom != "" {
				pw.Status(l.id, "Mounted from "+l.mountFrom)
			} else {
				pw.Status(l.id, "Layer already exists")
			}
		}
		blobs = append(blobs, l.digest)
	}
	c.rememberSources(target, blobs)
	md := digest.FromBytes(manifest)
	return &PushResult{Tag: tag, Digest: md, Size: int64(len(manifest))}, nil
}

// mountSource picks a repository of target's registry other than target
// that is known to hold a blob.
func mountSource(sources []string, repo name.Repository, target string) string {
	for _, s := range sources {
		if s == target {
			return "" // already there (as far as we know): no mount to offer
		}
	}
	for _, s := range sources {
		if s != target && strings.HasPrefix(s, repo.RegistryStr()+"/") {
			return s
		}
	}
	return ""
}

func mustHash(d digest.Digest) v1.Hash {
	h, _ := v1.NewHash(d.String())
	return h
}

// compress gzips the uncompressed layer blob src with parallel gzip into
// the content store (and, when also is set, into it as well: the upload
// stream) and records it in the push cache.
func (c *Client) compress(ctx context.Context, lease *image.Lease, l *pushLayer, src digest.Digest, also io.Writer) error {
	rd, err := c.cs.Open(src)
	if err != nil {
		return err
	}
	defer rd.Close()
	w, err := c.cs.Writer("push-gzip-" + src.String())
	if err != nil {
		return err
	}
	defer w.Close()
	if err := w.Truncate(0); err != nil {
		return err
	}
	var out io.Writer = w
	var in io.Reader = &ctxReader{ctx: ctx, r: rd}
	if also != nil {
		out = io.MultiWriter(w, also)
		in = l.pw.Reader(in, l.id, "Pushing", 0, rd.Size())
	}
	zw, err := pgzip.NewWriterLevel(out, pgzip.DefaultCompression)
	if err != nil {
		return err
	}
	// 1 MiB blocks, one per core and a few in flight: pgzip's default
	// (250 KB × GOMAXPROCS) leaves cores idle on big layers.
	zw.SetConcurrency(1<<20, 4)
	if _, err := io.Copy(zw, in); err != nil {
		return fmt.Errorf("compress: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compress: %w", err)
	}
	d, size := w.Digest(), w.Offset()
	if err := lease.Add(d); err != nil {
		return err
	}
	if err := w.Commit(size, d); err != nil && !errors.Is(err, content.ErrAlreadyExists) {
		return err
	}
	l.digest, l.size, l.mediaType = d, size, types.DockerLayer
	return c.updateState(func(s *state) {
		if s.Gzip == nil {
			s.Gzip = map[digest.Digest]blobRef{}
		}
		s.Gzip[l.diffID] = blobRef{Digest: d, Size: size}
	})
}

// ctxReader stops a long local copy when ctx is cancelled (Ctrl-C).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// compressUploading compresses the local layer src and uploads the gzip
// stream in the same pass (POST, one streaming PATCH, PUT ?digest=), so the
// push costs about the longer of compression and transfer instead of their
// sum. The gzip also goes to the content store and the push cache, as with
// compress. remote.Write then finds the blob present.
func (c *Client) compressUploading(ctx context.Context, lease *image.Lease, l *pushLayer, src digest.Digest, repo name.Repository) error {
	tr, err := c.authTransport(ctx, repo, []string{repo.Scope(transport.PushScope)})
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: tr}
	base := &url.URL{Scheme: repo.Scheme(), Host: repo.RegistryStr(), Path: "/v2/" + repo.RepositoryStr() + "/blobs/uploads/"}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base.String(), nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	loc, err := uploadLocation(resp, base, http.StatusAccepted)
	if err != nil {
		return err
	}

	pr, pwr := io.Pipe()
	compressed := make(chan error, 1)
	go func() {
		err := c.compress(ctx, lease, l, src, pwr)
		pwr.CloseWithError(err)
		compressed <- err
	}()
	req, err = http.NewRequestWithContext(ctx, http.MethodPatch, loc.String(), pr)
	if err != nil {
		pr.CloseWithError(err)
		<-compressed
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err = hc.Do(req)
	if err != nil {
		pr.CloseWithError(err)
		<-compressed
		return err
	}
	loc, err = uploadLocation(resp, loc, http.StatusAccepted, http.StatusNoContent, http.StatusCreated)
	pr.CloseWithError(fmt.Errorf("upload ended"))
	if cerr := <-compressed; cerr != nil {
		return cerr
	}
	if err != nil {
		return err
	}
	q := loc.Query()
	q.Set("digest", l.digest.String())
	loc.RawQuery = q.Encode()
	req, err = http.NewRequestWithContext(ctx, http.MethodPut, loc.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err = hc.Do(req)
	if err != nil {
		return err
	}
	if _, err := uploadLocation(resp, loc, http.StatusCreated); err != nil {
		return err
	}
	l.mu.Lock()
	l.opened = true
	l.mu.Unlock()
	l.pw.Status(l.id, "Pushed")
	return nil
}

// uploadLocation checks an upload response and returns where the upload
// continues (its Location, resolved against the request's URL).
func uploadLocation(resp *http.Response, base *url.URL, ok ...int) (*url.URL, error) {
	defer resp.Body.Close()
	if err := transport.CheckError(resp, ok...); err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	h := resp.Header.Get("Location")
	if h == "" {
		return base, nil
	}
	u, err := base.Parse(h)
	if err != nil {
		return nil, fmt.Errorf("upload location %q: %w", h, err)
	}
	return u, nil
}
