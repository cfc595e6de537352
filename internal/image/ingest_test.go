package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/errdefs"
)

func descOf(mt string, b []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
}

func opener(b []byte, calls *[]int64) BlobOpener {
	return func(_ context.Context, off int64) (io.ReadCloser, error) {
		if calls != nil {
			*calls = append(*calls, off)
		}
		return io.NopCloser(bytes.NewReader(b[off:])), nil
	}
}

// pulledImage stores and registers a one-layer image with a gzip layer
// through the ingest API, as a pull does.
func pulledImage(t *testing.T, e *testEnv, layer []byte, stream bool) (*Image, []byte) {
	t.Helper()
	ctx := context.Background()
	gz := gzipped(t, layer)
	lease, err := e.is.NewLease()
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	diffID := digest.FromBytes(layer)
	cfg := []byte(`{"architecture":"amd64","os":"linux","created":"2024-01-02T03:04:05Z","config":{"Cmd":["sh"]},` +
		`"rootfs":{"type":"layers","diff_ids":["` + diffID.String() + `"]},"history":[{"created_by":"ADD rootfs"}]}`)
	ld := descOf("application/vnd.docker.image.rootfs.diff.tar.gzip", gz)
	cd := descOf("application/vnd.docker.container.image.v1+json", cfg)
	man := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",` +
		`"config":{"mediaType":"` + cd.MediaType + `","digest":"` + cd.Digest.String() + `","size":` + fmt.Sprint(cd.Size) + `},` +
		`"layers":[{"mediaType":"` + ld.MediaType + `","digest":"` + ld.Digest.String() + `","size":` + fmt.Sprint(ld.Size) + `}]}`)
	md := descOf("application/vnd.docker.distribution.manifest.v2+json", man)
	for _, b := range []struct {
		d ocispec.Descriptor
		b []byte
	}{{md, man}, {cd, cfg}} {
		if err := e.is.IngestBlob(ctx, lease, b.d, bytes.NewReader(b.b)); err != nil {
			t.Fatal(err)
		}
	}
	if stream {
		if _, err := e.is.FetchLayer(ctx, lease, "", ld, diffID, opener(gz, nil)); err != nil {
			t.Fatal(err)
		}
	} else {
		if err := e.is.FetchBlob(ctx, lease, ld, opener(gz, nil)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.is.Unpack(ctx, lease, "", ld, diffID); err != nil {
			t.Fatal(err)
		}
	}
	img, err := e.is.Register(ctx, RegisterOptions{ManifestDigest: md.Digest, Refs: []string{"reg.example/app:1"}})
	if err != nil {
		t.Fatal(err)
	}
	return img, man
}

func TestIngestAndRegister(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprint("stream=", stream), func(t *testing.T) {
			e := newEnv(t)
			img, man := pulledImage(t, e, busyboxTar(t), stream)
			if img.ManifestDigest != digest.FromBytes(man) {
				t.Fatalf("manifest %s", img.ManifestDigest)
			}
			if _, err := e.is.GC(nil); err != nil {
				t.Fatal(err)
			}
			e.mustCheck(t)
			if ing, _ := e.cs.ListIngests(); len(ing) != 0 {
				t.Fatalf("leftover ingests %v", ing)
			}
		})
	}
}

func TestIngestBlobRejects(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	lease, _ := e.is.NewLease()
	defer lease.Release()
	data := []byte("some blob content")
	good := descOf("x", data)
	for _, tc := range []struct {
		name string
		desc ocispec.Descriptor
		r    io.Reader
		want string
	}{
		{"wrong digest", ocispec.Descriptor{Digest: digest.FromString("other"), Size: good.Size}, bytes.NewReader(data), "digest mismatch"},
		{"short", good, bytes.NewReader(data[:5]), "size 5 does not match the expected 17"},
		{"long", good, io.MultiReader(bytes.NewReader(data), strings.NewReader("x")), "size 18 does not match"},
		{"bad digest", ocispec.Descriptor{Digest: "sha256:zz", Size: 1}, bytes.NewReader(data), "invalid"},
		{"negative size", ocispec.Descriptor{Digest: good.Digest, Size: -1}, bytes.NewReader(data), "negative size"},
	} {
		err := e.is.IngestBlob(ctx, lease, tc.desc, tc.r)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errdefs.IsInvalid(err) {
			t.Errorf("%s: %v, want %q (invalid)", tc.name, err, tc.want)
		}
	}
	if blobs, _ := e.cs.List(); len(blobs) != 0 {
		t.Fatalf("visible blobs after rejects: %v", blobs)
	}
	if ing, _ := e.cs.ListIngests(); len(ing) != 0 {
		t.Fatalf("leftover ingests %v", ing)
	}
	if err := e.is.IngestBlob(ctx, nil, good, bytes.NewReader(data)); err == nil {
		t.Fatal("no lease accepted")
	}
	if err := e.is.IngestBlob(ctx, lease, good, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	// Existing: r is not read.
	if err := e.is.IngestBlob(ctx, lease, good, iotestErr{}); err != nil {
		t.Fatal(err)
	}
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errors.New("must not be read") }

// TestFetchBlobResume: a transfer cut in the middle keeps its bytes; the
// next fetch asks only for the rest; a resumed ingest with wrong bytes is
// dropped and fetched again from 0.
func TestFetchBlobResume(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	lease, _ := e.is.NewLease()
	defer lease.Release()
	data := bytes.Repeat([]byte("0123456789"), 100000)
	d := descOf("x", data)
	cut := func(_ context.Context, off int64) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data[off:400000])), nil
	}
	err := e.is.FetchBlob(ctx, lease, d, cut)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("cut transfer: %v", err)
	}
	if e.cs.Exists(d.Digest) {
		t.Fatal("partial blob visible")
	}
	var calls []int64
	if err := e.is.FetchBlob(ctx, lease, d, opener(data, &calls)); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0] != 400000 {
		t.Fatalf("resume offsets %v, want [400000]", calls)
	}
	if err := e.cs.Verify(d.Digest); err != nil {
		t.Fatal(err)
	}

	// Corrupt partial: first 1000 bytes wrong.
	data2 := bytes.Repeat([]byte("abcdefghij"), 50000)
	d2 := descOf("x", data2)
	bad := append([]byte{}, data2...)
	copy(bad, bytes.Repeat([]byte{'X'}, 1000))
	e.is.FetchBlob(ctx, lease, d2, func(_ context.Context, off int64) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(bad[off:200000])), nil
	})
	calls = nil
	if err := e.is.FetchBlob(ctx, lease, d2, opener(data2, &calls)); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || calls[0] != 200000 || calls[1] != 0 {
		t.Fatalf("offsets %v, want [200000 0]", calls)
	}
	// Wrong content from the start: error naming the blob, nothing kept.
	d3 := descOf("x", []byte("expected"))
	err = e.is.FetchBlob(ctx, lease, d3, opener([]byte("wrongone"), nil))
	if err == nil || !strings.Contains(err.Error(), d3.Digest.String()) || !strings.Contains(err.Error(), "digest mismatch") {
		t.Fatalf("wrong content: %v", err)
	}
	if e.cs.Exists(d3.Digest) {
		t.Fatal("wrong blob visible")
	}
	if ing, _ := e.cs.ListIngests(); len(ing) != 0 {
		t.Fatalf("leftover ingests %v", ing)
	}
}

func TestUnpackDiffIDMismatch(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	lease, _ := e.is.NewLease()
	defer lease.Release()
	layer := smallTar(t, "a.txt", "hello")
	gz := gzipped(t, layer)
	ld := descOf("application/vnd.oci.image.layer.v1.tar+gzip", gz)
	wrong := digest.FromString("not the layer")
	if _, err := e.is.FetchLayer(ctx, lease, "", ld, wrong, opener(gz, nil)); err == nil || !strings.Contains(err.Error(), "diff ID") {
		t.Fatalf("FetchLayer with wrong diffID: %v", err)
	}
	if err := e.is.FetchBlob(ctx, lease, ld, opener(gz, nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.is.Unpack(ctx, lease, "", ld, wrong); err == nil || !strings.Contains(err.Error(), "diff ID") {
		t.Fatalf("Unpack with wrong diffID: %v", err)
	}
	chain, err := e.is.Unpack(ctx, lease, "", ld, digest.FromBytes(layer))
	if err != nil || chain != digest.FromBytes(layer) {
		t.Fatalf("Unpack = %s, %v", chain, err)
	}
	// Hostile layer: the unpack error surfaces, no snapshot.
	evil := makeTar(t, []tarEntry{{name: "../escape", typ: '0', body: []byte("x")}})
	egz := gzipped(t, evil)
	if _, err := e.is.FetchLayer(ctx, lease, "", descOf("x", egz), digest.FromBytes(evil), opener(egz, nil)); err == nil {
		t.Fatal("hostile layer unpacked")
	}
	if _, err := e.snaps.Stat(digest.FromBytes(evil)); !errdefs.IsNotFound(err) {
		t.Fatalf("hostile snapshot: %v", err)
	}
}

// TestV1ImageView: local (uncompressed) and pulled (gzip) images as ggcr
// images pass ggcr's own validation and keep the stored manifest digest.
func TestV1ImageView(t *testing.T) {
	e := newEnv(t)
	local := e.importTar(t, busyboxTar(t), "local:1")
	pulled, _ := pulledImage(t, e, smallTar(t, "f", "pulled"), true)
	for _, img := range []*Image{local, pulled} {
		v, err := e.is.V1Image(img)
		if err != nil {
			t.Fatal(err)
		}
		if img == pulled {
			// ggcr's validation assumes gzip layers.
			if err := validate.Image(v); err != nil {
				t.Fatalf("%s: validate: %v", img.ShortID(), err)
			}
		}
		checkLayersConsistent(t, v)
		d, _ := v.Digest()
		if d.String() != img.ManifestDigest.String() {
			t.Fatalf("digest %s, want %s", d, img.ManifestDigest)
		}
		if n, _ := v.ConfigName(); n.String() != img.ID {
			t.Fatalf("config name %s", n)
		}
		ls, _ := v.Layers()
		if len(ls) != len(img.Layers) {
			t.Fatalf("layers %d", len(ls))
		}
		l, err := v.LayerByDiffID(v1.Hash{Algorithm: "sha256", Hex: img.ChainIDs[0].Encoded()})
		if err != nil {
			t.Fatal(err)
		}
		if dg, _ := l.Digest(); dg.String() != img.Layers[0].Digest.String() {
			t.Fatalf("layer digest %s", dg)
		}
	}
}

// checkLayersConsistent: Digest hashes Compressed, DiffID hashes
// Uncompressed, Size is Compressed's length.
func checkLayersConsistent(t *testing.T, img v1.Image) {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		hash := func(open func() (io.ReadCloser, error)) (v1.Hash, int64) {
			rc, err := open()
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			h, n, err := v1.SHA256(rc)
			if err != nil {
				t.Fatal(err)
			}
			return h, n
		}
		cd, cn := hash(l.Compressed)
		ud, _ := hash(l.Uncompressed)
		d, _ := l.Digest()
		diff, _ := l.DiffID()
		size, _ := l.Size()
		if cd != d || ud != diff || cn != size {
			t.Fatalf("layer %s: compressed %s (%d bytes, size %d), uncompressed %s, diffID %s", d, cd, cn, size, ud, diff)
		}
	}
}

// TestIngestLayer: one read of a stream gives blob and snapshot; a bad or
// cut stream leaves no ingest and no visible blob.
func TestIngestLayer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	lease, _ := e.is.NewLease()
	defer lease.Release()
	layer := smallTar(t, "x", "stream once")
	gz := gzipped(t, layer)
	d := descOf(ocispec.MediaTypeImageLayerGzip, gz)
	if _, err := e.is.IngestLayer(ctx, lease, "", d, digest.FromBytes(layer), bytes.NewReader(gz[:len(gz)/2])); err == nil {
		t.Fatal("cut stream accepted")
	}
	if e.cs.Exists(d.Digest) {
		t.Fatal("cut stream's blob visible")
	}
	if ing, _ := e.cs.ListIngests(); len(ing) != 0 {
		t.Fatalf("leftover ingests %v", ing)
	}
	if _, err := e.is.IngestLayer(ctx, lease, "", d, digest.FromString("wrong"), bytes.NewReader(gz)); err == nil || !strings.Contains(err.Error(), "diff ID") {
		t.Fatalf("wrong diff ID: %v", err)
	}
	// (The blob itself was right: it is kept; the config was wrong.)
	chain, err := e.is.IngestLayer(ctx, lease, "", d, digest.FromBytes(layer), bytes.NewReader(gz))
	if err != nil || chain != digest.FromBytes(layer) {
		t.Fatalf("IngestLayer = %s, %v", chain, err)
	}
	if err := e.cs.Verify(d.Digest); err != nil {
		t.Fatal(err)
	}
	// Both exist now: the stream is not read.
	if _, err := e.is.IngestLayer(ctx, lease, "", d, digest.FromBytes(layer), iotestErr{}); err != nil {
		t.Fatal(err)
	}
}

// TestStreamWrongBlobCommitsNoSnapshot: a blob whose bytes are not the
// descriptor's, yet untar fine, is refused before its snapshot is
// committed, by FetchLayer and IngestLayer alike, and leaves no ingest.
func TestStreamWrongBlobCommitsNoSnapshot(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	lease, _ := e.is.NewLease()
	defer lease.Release()
	layer := smallTar(t, "x", "what the registry sent")
	gz := gzipped(t, layer)
	claimed := descOf(ocispec.MediaTypeImageLayerGzip, gzipped(t, smallTar(t, "x", "what the manifest says!")))
	claimed.Size = int64(len(gz))
	diffID := digest.FromBytes(layer)
	for name, run := range map[string]func() error{
		"FetchLayer": func() error {
			_, err := e.is.FetchLayer(ctx, lease, "", claimed, diffID, opener(gz, nil))
			return err
		},
		"IngestLayer": func() error {
			_, err := e.is.IngestLayer(ctx, lease, "", claimed, diffID, bytes.NewReader(gz))
			return err
		},
	} {
		if err := run(); err == nil || !strings.Contains(err.Error(), "digest mismatch") {
			t.Fatalf("%s: %v, want a digest mismatch", name, err)
		}
		if _, err := e.snaps.Stat(diffID); !errdefs.IsNotFound(err) {
			t.Fatalf("%s: snapshot of the wrong blob committed: %v", name, err)
		}
		if ing, _ := e.cs.ListIngests(); len(ing) != 0 {
			t.Fatalf("%s: leftover ingests %v", name, ing)
		}
	}
}
