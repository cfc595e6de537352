package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/failpoint"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/progress"
)

// PullOptions say how to pull.
type PullOptions struct {
	Platform string           // os[/arch[/variant]]; "" = linux/<host arch>
	Progress *progress.Writer // nil = silent
}

// PullResult is what a pull produced.
type PullResult struct {
	Image      *image.Image
	Digest     digest.Digest // what the reference resolved to (index or manifest): "Digest: …"
	Downloaded bool          // the reference now names a different image than before
}

// endpoint is one place an image may be pulled from.
type endpoint struct {
	host   string // registry host[:port] as go-containerregistry names it
	mirror string // the mirror URL when this is a mirror, else ""
}

// endpoints lists where named may be pulled from: for docker.io the
// configured mirrors in order, then docker.io itself; else its registry.
func (c *Client) endpoints(named reference.Named) []endpoint {
	domain := reference.Domain(named)
	var eps []endpoint
	if domain == "docker.io" {
		for _, m := range c.cfg.Mirrors {
			h, _ := mirrorHost(m)
			eps = append(eps, endpoint{host: h, mirror: m})
		}
	}
	return append(eps, endpoint{host: domain})
}

// resolved is a reference resolved on one endpoint to one image manifest.
type resolved struct {
	repo      name.Repository
	tr        http.RoundTripper
	top       digest.Digest // what the reference named (index or manifest)
	manifest  []byte
	mdigest   digest.Digest
	mediaType types.MediaType
	fromIndex bool
}

// Pull fetches named (tagged or canonical) and records it in the image
// store. Blobs are verified before they become visible; layers are fetched
// in parallel and each one whose parent is already unpacked is decompressed
// into its snapshot while it downloads. An interrupted pull leaves partial
// blobs as content ingests, which the next pull resumes (HTTP Range).
func (c *Client) Pull(ctx context.Context, named reference.Named, o PullOptions) (*PullResult, error) {
	want, err := image.ParsePlatform(o.Platform)
	if err != nil {
		return nil, err
	}
	var r *resolved
	var tried []string
	for _, ep := range c.endpoints(named) {
		r, err = c.resolve(ctx, ep, named, want, o.Platform != "")
		if err == nil {
			break
		}
		if ep.mirror == "" || ctx.Err() != nil || errors.Is(err, errNoPlatform) {
			break
		}
		// Docker falls back to the next mirror, then to the upstream, on
		// any failure to resolve on a mirror.
		tried = append(tried, fmt.Sprintf("mirror %s: %v", ep.mirror, err))
	}
	if err != nil {
		if len(tried) > 0 {
			err = fmt.Errorf("%w (after %s)", err, strings.Join(tried, "; "))
		}
		return nil, err
	}
	// Docker prints this once the reference resolved, not before.
	what := "latest"
	if cn, ok := named.(reference.Canonical); ok {
		what = cn.Digest().String()
	} else if t, ok := named.(reference.Tagged); ok {
		what = t.Tag()
	}
	o.Progress.Println("%s: Pulling from %s", what, reference.Path(named))
	return c.pullResolved(ctx, named, r, want, o)
}

var errNoPlatform = errors.New("no matching manifest")

// repoOn names named's repository on ep.
func (c *Client) repoOn(ep endpoint, named reference.Named) (name.Repository, error) {
	var opts []name.Option
	if c.cfg.IsInsecure(ep.host) {
		opts = append(opts, name.Insecure)
	}
	repo, err := name.NewRepository(ep.host+"/"+reference.Path(named), opts...)
	if err != nil {
		return name.Repository{}, fmt.Errorf("repository %s: %v: %w", reference.FamiliarName(named), err, errdefs.ErrInvalid)
	}
	return repo, nil
}

// resolve fetches named's manifest on ep and, for an index, the manifest
// of the wanted platform.
func (c *Client) resolve(ctx context.Context, ep endpoint, named reference.Named, want v1.Platform, explicit bool) (*resolved, error) {
	repo, err := c.repoOn(ep, named)
	if err != nil {
		return nil, err
	}
	tr, err := c.authTransport(ctx, repo, []string{repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", reference.FamiliarString(named), err)
	}
	var ref name.Reference = repo.Tag("latest")
	if cn, ok := named.(reference.Canonical); ok {
		ref = repo.Digest(cn.Digest().String())
	} else if t, ok := named.(reference.Tagged); ok {
		ref = repo.Tag(t.Tag())
	}
	opts := []remote.Option{remote.WithTransport(tr), remote.WithContext(ctx)}
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return nil, manifestError(named, err)
	}
	r := &resolved{repo: repo, tr: tr, top: digest.Digest(desc.Digest.String())}
	switch desc.MediaType {
	case types.DockerManifestSchema1, types.DockerManifestSchema1Signed:
		return nil, notImplemented(fmt.Errorf("%s: unsupported manifest format %s (Docker image manifest schema 1, deprecated and removed from Docker): push the image again with a current client",
			reference.FamiliarString(named), desc.MediaType))
	case types.DockerManifestList, types.OCIImageIndex:
		idx, err := decodeIndex(desc.Manifest)
		if err != nil {
			return nil, fmt.Errorf("%s: manifest list %s: %v: %w", reference.FamiliarString(named), desc.Digest, err, errdefs.ErrInvalid)
		}
		var chosen *v1.Descriptor
		for i := range idx.Manifests {
			m := &idx.Manifests[i]
			if (m.MediaType == types.DockerManifestSchema2 || m.MediaType == types.OCIManifestSchema1) && matches(want, m.Platform) {
				chosen = m
				break
			}
		}
		if chosen == nil {
			return nil, fmt.Errorf("no matching manifest for %s in the manifest list entries: %w", platformString(want), errors.Join(errNoPlatform, errdefs.ErrNotFound))
		}
		md, err := remote.Get(repo.Digest(chosen.Digest.String()), opts...)
		if err != nil {
			return nil, manifestError(named, err)
		}
		r.manifest, r.mdigest, r.mediaType, r.fromIndex = md.Manifest, digest.Digest(md.Digest.String()), md.MediaType, true
	case types.DockerManifestSchema2, types.OCIManifestSchema1:
		r.manifest, r.mdigest, r.mediaType = desc.Manifest, r.top, desc.MediaType
	default:
		return nil, notImplemented(fmt.Errorf("%s: unsupported manifest media type %q", reference.FamiliarString(named), desc.MediaType))
	}
	if r.mediaType != types.DockerManifestSchema2 && r.mediaType != types.OCIManifestSchema1 {
		return nil, notImplemented(fmt.Errorf("%s: unsupported manifest media type %q", reference.FamiliarString(named), r.mediaType))
	}
	return r, nil
}

// manifestError words a failed manifest fetch as Docker does.
func manifestError(named reference.Named, err error) error {
	shown := reference.FamiliarString(named)
	switch {
	case isNotFound(err):
		return fmt.Errorf("manifest for %s not found: manifest unknown: %w", shown, errdefs.ErrNotFound)
	case isUnauthorized(err):
		return fmt.Errorf("pull access denied for %s, repository does not exist or may require 'docker login': %v: %w",
			reference.FamiliarName(named), err, errdefs.ErrInvalid)
	}
	// Docker's text is the bare request error (`Get "https://…": …`); the
	// reference goes first so that a failure reading or checking the body
	// (too large, too slow), which names no URL, still says what failed.
	return classed{fmt.Errorf("%s: %w", shown, err), errdefs.ErrUnavailable}
}

// pullJob is one layer of a pull.
type pullJob struct {
	i       int
	desc    v1.Descriptor
	digest  digest.Digest // compressed blob
	diffID  digest.Digest
	chain   digest.Digest
	parent  digest.Digest
	id      string // short form for progress
	ready   chan struct{}
	present bool
}

func (c *Client) pullResolved(ctx context.Context, named reference.Named, r *resolved, want v1.Platform, o PullOptions) (_ *PullResult, err error) {
	shown := reference.FamiliarString(named)
	m, err := decodeManifest(r.manifest)
	if err != nil {
		return nil, fmt.Errorf("%s: manifest %s: %v: %w", shown, r.mdigest, err, errdefs.ErrInvalid)
	}
	var previous string
	if old, err := c.images.Get(named.String()); err == nil {
		previous = old.ID
	}
	lease, err := c.images.NewLease()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err == nil {
			lease.Release()
			return
		}
		// A failed pull stores nothing: the manifest, config and layers it
		// wrote go (unless another image needs them), its partial
		// downloads stay to resume from.
		if derr := lease.Discard(); derr != nil {
			err = fmt.Errorf("%w (and cleaning up: %v)", err, derr)
		}
	}()
	failpoint.Hit("pull.after-lease")
	cfgDigest := digest.Digest(m.Config.Digest.String()) // checked by decodeManifest
	if err := lease.Add(r.mdigest, cfgDigest); err != nil {
		return nil, err
	}
	cfgJSON, err := c.smallBlob(ctx, r, cfgDigest, m.Config.Size)
	if err != nil {
		return nil, fmt.Errorf("%s: image config: %w", shown, err)
	}
	cf, err := decodeConfig(cfgJSON, len(m.Layers))
	if err != nil {
		return nil, fmt.Errorf("%s: image config %s: %v: %w", shown, cfgDigest, err, errdefs.ErrInvalid)
	}
	if !r.fromIndex && o.Platform != "" {
		got := &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
		if !matches(want, got) {
			return nil, fmt.Errorf("image with reference %s was found but does not match the specified platform: wanted %s, actual: %s: %w",
				shown, platformString(want), platformString(*got), errdefs.ErrNotFound)
		}
	}
	diffs := make([]digest.Digest, len(m.Layers))
	for i, h := range cf.RootFS.DiffIDs {
		diffs[i] = digest.Digest(h.String())
	}
	chains := image.ChainIDs(diffs)
	jobs := make([]*pullJob, len(m.Layers))
	for i, l := range m.Layers {
		j := &pullJob{i: i, desc: l, digest: digest.Digest(l.Digest.String()), diffID: diffs[i], chain: chains[i], ready: make(chan struct{})}
		if err := j.digest.Validate(); err != nil || l.Size <= 0 {
			return nil, fmt.Errorf("%s: layer %d: bad descriptor (digest %q, size %d): %w", shown, i, l.Digest, l.Size, errdefs.ErrInvalid)
		}
		if i > 0 {
			j.parent = chains[i-1]
		}
		j.id = image.ShortID(j.digest.String())
		jobs[i] = j
	}
	// Lease everything first: what exists now must still exist when used.
	hold := []digest.Digest{}
	for _, j := range jobs {
		hold = append(hold, j.digest, j.chain)
	}
	if err := lease.Add(hold...); err != nil {
		return nil, err
	}

	pw := o.Progress
	for _, j := range jobs {
		_, serr := c.snaps.Stat(j.chain)
		j.present = serr == nil && c.cs.Exists(j.digest)
		if j.present {
			pw.Status(j.id, "Already exists")
			close(j.ready)
		} else {
			pw.Status(j.id, "Pulling fs layer")
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	sem := make(chan struct{}, c.jobs)
	for _, j := range jobs {
		if j.present {
			continue
		}
		var prev chan struct{}
		if j.i > 0 {
			prev = jobs[j.i-1].ready
		}
		g.Go(func() error {
			if err := c.pullLayer(gctx, r, j, lease, prev, sem, pw); err != nil {
				if strings.Contains(err.Error(), j.digest.String()) {
					return fmt.Errorf("%s: %w", shown, err)
				}
				return fmt.Errorf("%s: layer %s: %w", shown, j.digest, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	// Config and manifest are stored last, once every layer is in: a pull
	// that fails leaves no document of an image it did not make.
	if err := c.images.IngestBlob(ctx, lease, ocispec.Descriptor{Digest: cfgDigest, Size: int64(len(cfgJSON))}, bytes.NewReader(cfgJSON)); err != nil {
		return nil, fmt.Errorf("%s: store image config: %w", shown, err)
	}
	if err := c.images.IngestBlob(ctx, lease, ocispec.Descriptor{Digest: r.mdigest, Size: int64(len(r.manifest))}, bytes.NewReader(r.manifest)); err != nil {
		return nil, fmt.Errorf("%s: store manifest: %w", shown, err)
	}
	failpoint.Hit("pull.before-register")
	refs := []string{r.repoRef(named)}
	if _, ok := named.(reference.Canonical); !ok {
		refs = append([]string{named.String()}, refs...)
	}
	img, err := c.images.Register(ctx, image.RegisterOptions{ManifestDigest: r.mdigest, Refs: refs})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", shown, err)
	}
	blobs := make([]digest.Digest, len(jobs))
	for i, j := range jobs {
		blobs[i] = j.digest
	}
	c.rememberSources(r.repo.String(), blobs)
	return &PullResult{Image: img, Digest: r.top, Downloaded: previous != img.ID}, nil
}

// repoRef is the name@digest reference Docker records for a pull
// (RepoDigests): the image's name, not the mirror's, with the digest the
// reference resolved to.
func (r *resolved) repoRef(named reference.Named) string {
	return reference.TrimNamed(named).String() + "@" + r.top.String()
}

// pullLayer brings one layer's blob into the content store and its
// snapshot into the snapshot store, through the image store's verified,
// resumable ingest. A layer whose parent is unpacked when its download
// starts is decompressed into its snapshot as it arrives (FetchLayer);
// the others are downloaded in parallel and unpacked in order once their
// parent is (FetchBlob, then Unpack). prev is closed once the parent layer
// is unpacked; sem bounds concurrent downloads.
func (c *Client) pullLayer(ctx context.Context, r *resolved, j *pullJob, lease *image.Lease, prev chan struct{}, sem chan struct{}, pw *progress.Writer) error {
	desc := ocispec.Descriptor{MediaType: string(j.desc.MediaType), Digest: j.digest, Size: j.desc.Size}
	open := func(ctx context.Context, off int64) (io.ReadCloser, error) {
		resp, err := c.getBlob(ctx, r, j.digest, j.desc.Size, off)
		if err != nil {
			return nil, err
		}
		body := resp.Body
		if off > 0 && resp.StatusCode != http.StatusPartialContent {
			// The registry ignored Range: skip what we have.
			if _, err := io.CopyN(io.Discard, body, off); err != nil {
				body.Close()
				return nil, fmt.Errorf("skip to %d: %w", off, err)
			}
		}
		cr := &countReader{r: body, n: off, size: j.desc.Size}
		if off == 0 {
			cr.h = j.digest.Algorithm().Hash()
			cr.d = j.digest
		}
		return readCloser{pw.Reader(cr, j.id, "Downloading", off, j.desc.Size), body}, nil
	}
	if !c.cs.Exists(j.digest) {
		select {
		case sem <- struct{}{}:
		default:
			pw.Status(j.id, "Waiting")
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		parentReady := j.parent == ""
		if !parentReady {
			_, err := c.snaps.Stat(j.parent)
			parentReady = err == nil
		}
		var err error
		if parentReady {
			_, err = c.images.FetchLayer(ctx, lease, j.parent, desc, j.diffID, open)
			if err != nil && ctx.Err() == nil && !errors.Is(err, errdefs.ErrUnavailable) && !errors.Is(err, errBlobDigest) && !errors.Is(err, errBlobOverrun) {
				// Bytes that do not untar may simply be the wrong bytes:
				// finish the blob (resuming the ingest) so that a digest
				// or size mismatch, the real cause, is what is reported.
				if ferr := c.images.FetchBlob(ctx, lease, desc, open); ferr != nil {
					err = ferr
				}
			}
		} else {
			err = c.images.FetchBlob(ctx, lease, desc, open)
		}
		<-sem
		if err != nil {
			return err
		}
		pw.Status(j.id, "Verifying Checksum")
		pw.Status(j.id, "Download complete")
		if parentReady {
			close(j.ready)
			pw.Status(j.id, "Pull complete")
			return nil
		}
	}
	if prev != nil {
		select {
		case <-prev:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if _, err := c.snaps.Stat(j.chain); err != nil {
		pw.Status(j.id, "Extracting")
		if _, err := c.images.Unpack(ctx, lease, j.parent, desc, j.diffID); err != nil {
			return err
		}
	}
	close(j.ready)
	pw.Status(j.id, "Pull complete")
	return nil
}

var (
	errBlobDigest  = errors.New("digest mismatch")
	errBlobOverrun = errors.New("blob longer than its descriptor")
)

// countReader words a connection that ends early ("truncated: … N of M
// bytes" rather than the bare "unexpected EOF") and, for a transfer from
// byte 0, checks the digest on the read that completes the blob. That
// read's error reaches the unpacking side of a streamed layer before its
// end, so a wrong blob fails the unpack before its snapshot is committed:
// nothing of it is stored.
type countReader struct {
	r       io.Reader
	n, size int64
	h       hash.Hash // nil when resuming (the store checks the whole blob)
	d       digest.Digest
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.h != nil {
		c.h.Write(p[:n])
		if c.n == c.size {
			if got := digest.NewDigest(c.d.Algorithm(), c.h); got != c.d {
				return n, fmt.Errorf("%w: content hashes to %s: %w", errBlobDigest, got, errdefs.ErrInvalid)
			}
			c.h = nil
		}
	}
	if c.n > c.size || (c.n == c.size && err == nil && c.overruns()) {
		return n, classed{fmt.Errorf("the registry sent more than the %d bytes the manifest says: %w", c.size, errdefs.ErrInvalid), errBlobOverrun}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || (err == io.EOF && c.n < c.size) {
		err = fmt.Errorf("truncated: the registry sent %d of %d bytes: %w", c.n, c.size, io.ErrUnexpectedEOF)
	}
	return n, err
}

// overruns reads past the blob's end: a body without a Content-Length
// (chunked) that goes on is not the blob, and must not be read forever
// nor cut silently. A body at its end answers at once.
func (c *countReader) overruns() bool {
	var one [1]byte
	for {
		n, err := c.r.Read(one[:])
		if n > 0 {
			return true
		}
		if err != nil {
			return false
		}
	}
}

type readCloser struct {
	io.Reader
	io.Closer
}

// getBlob starts a GET of blob d (of size bytes) from offset. A response
// whose Content-Length disagrees with the manifest's size is refused
// before its body is read: the bytes cannot be the blob.
func (c *Client) getBlob(ctx context.Context, r *resolved, d digest.Digest, size, offset int64) (*http.Response, error) {
	u := url.URL{Scheme: r.repo.Scheme(), Host: r.repo.RegistryStr(), Path: "/v2/" + r.repo.RepositoryStr() + "/blobs/" + d.String()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, err := (&http.Client{Transport: r.tr}).Do(req)
	if err != nil {
		return nil, unavailable(fmt.Errorf("fetch blob: %w", err))
	}
	if resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && offset > 0 {
		resp.Body.Close()
		return c.getBlob(ctx, r, d, size, 0)
	}
	if err := transport.CheckError(resp, http.StatusOK, http.StatusPartialContent); err != nil {
		resp.Body.Close()
		if isNotFound(err) {
			return nil, fmt.Errorf("blob unknown to the registry (the manifest names a missing blob): %v: %w", err, errdefs.ErrNotFound)
		}
		return nil, unavailable(fmt.Errorf("fetch blob: %w", err))
	}
	want := size
	if resp.StatusCode == http.StatusPartialContent {
		want = size - offset
	}
	if resp.ContentLength >= 0 && resp.ContentLength != want {
		resp.Body.Close()
		return nil, fmt.Errorf("size mismatch: the registry sends %d bytes, the manifest says %d: %w", resp.ContentLength, want, errdefs.ErrInvalid)
	}
	return resp, nil
}

// smallBlob returns a config (or other small blob), from the content
// store when present, else fetched into memory and verified (size and
// digest). It does not store it: the caller stores it (IngestBlob) once
// its content is known to be usable, so a malformed config is not kept.
func (c *Client) smallBlob(ctx context.Context, r *resolved, d digest.Digest, size int64) ([]byte, error) {
	if data, err := c.cs.ReadBlob(d); err == nil {
		return data, nil
	}
	if size <= 0 || size > maxConfigSize {
		return nil, fmt.Errorf("blob %s: implausible size %d: %w", d, size, errdefs.ErrInvalid)
	}
	resp, err := c.getBlob(ctx, r, d, size, 0)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	defer resp.Body.Close()
	// One byte past the size, so a longer body is caught rather than cut.
	data, err := io.ReadAll(io.LimitReader(resp.Body, size+1))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	if int64(len(data)) != size {
		return nil, fmt.Errorf("blob %s: size %d does not match the expected %d: %w", d, len(data), size, errdefs.ErrInvalid)
	}
	if got := d.Algorithm().FromBytes(data); got != d {
		return nil, fmt.Errorf("blob %s: digest mismatch: content hashes to %s: %w", d, got, errdefs.ErrInvalid)
	}
	return data, nil
}

// Tags lists the tags of named's repository (pull --all-tags), from the
// first endpoint (mirror or registry) that answers.
func (c *Client) Tags(ctx context.Context, named reference.Named) ([]string, error) {
	var lastErr error
	for _, ep := range c.endpoints(named) {
		repo, err := c.repoOn(ep, named)
		if err != nil {
			return nil, err
		}
		tr, err := c.authTransport(ctx, repo, []string{repo.Scope(transport.PullScope)})
		if err != nil {
			lastErr = err
			continue
		}
		tags, err := remote.List(repo, remote.WithTransport(tr), remote.WithContext(ctx))
		if err != nil {
			lastErr = manifestError(named, err)
			continue
		}
		return tags, nil
	}
	return nil, lastErr
}
