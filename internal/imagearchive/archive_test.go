package imagearchive

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/image/imagetest"
)

func newStore(t *testing.T) *image.Store { return imagetest.OpenStore(t) }

type ent struct {
	name string
	typ  byte
	body []byte
	link string
	size int64 // header size override (0: len(body))
}

func mkTar(t *testing.T, ents []ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Typeflag: typ, Linkname: e.link, Mode: 0o644, ModTime: time.Unix(1700000000, 0)}
		if typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			tw.Write(e.body)
		}
	}
	tw.Close()
	return buf.Bytes()
}

func layerTar(t *testing.T, files ...string) []byte {
	var ents []ent
	for _, f := range files {
		ents = append(ents, ent{name: f, body: []byte("content of " + f)})
	}
	return mkTar(t, ents)
}

func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func configFor(layers ...[]byte) []byte {
	var ids []string
	for _, l := range layers {
		ids = append(ids, `"`+digest.FromBytes(l).String()+`"`)
	}
	return []byte(`{"architecture":"amd64","os":"linux","created":"2024-01-02T03:04:05Z","config":{"Cmd":["sh"]},` +
		`"rootfs":{"type":"layers","diff_ids":[` + strings.Join(ids, ",") + `]}}`)
}

func importImage(t *testing.T, s *image.Store, layer []byte, ref string) *image.Image {
	t.Helper()
	img, err := s.Import(context.Background(), bytes.NewReader(layer), image.ImportOptions{Ref: ref})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func tagged(t *testing.T, s string) reference.NamedTagged {
	n, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		t.Fatal(err)
	}
	return n.(reference.NamedTagged)
}

type saveArg struct {
	img  *image.Image
	tags []string
}

func save(t *testing.T, s *image.Store, args ...saveArg) []byte {
	t.Helper()
	var entries []SaveEntry
	for _, a := range args {
		img, tags := a.img, a.tags
		v, err := s.V1Image(img)
		if err != nil {
			t.Fatal(err)
		}
		e := SaveEntry{Image: v}
		for _, tg := range tags {
			e.Tags = append(e.Tags, tagged(t, tg))
		}
		entries = append(entries, e)
	}
	var buf bytes.Buffer
	if err := Save(context.Background(), &buf, entries); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func load(t *testing.T, s *image.Store, data []byte) []Loaded {
	t.Helper()
	out, err := Load(context.Background(), s, bytes.NewReader(data), LoadOptions{})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return out
}

// checkNothingStored: after a failed load and a GC, the store is empty.
func checkNothingStored(t *testing.T, s *image.Store) {
	t.Helper()
	if imgs, _ := s.List(); len(imgs) != 0 {
		t.Fatalf("images after failed load: %d", len(imgs))
	}
	if _, err := s.GC(nil); err != nil {
		t.Fatal(err)
	}
	if blobs, _ := s.Content().List(); len(blobs) != 0 {
		t.Fatalf("blobs left: %v", blobs)
	}
	if ing, _ := s.Content().ListIngests(); len(ing) != 0 {
		t.Fatalf("ingests left: %v", ing)
	}
	if snaps, _ := s.Snapshots().List(); len(snaps) != 0 {
		t.Fatalf("snapshots left: %v", snaps)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	a := newStore(t)
	base := importImage(t, a, layerTar(t, "a", "b"), "app:1")
	two, err := a.Commit(context.Background(), image.CommitOptions{Parent: base, Layer: bytes.NewReader(layerTar(t, "c")), Ref: "reg.example:5000/team/app:2"})
	if err != nil {
		t.Fatal(err)
	}
	untagged := importImage(t, a, layerTar(t, "solo"), "")
	data := save(t, a, saveArg{base, []string{"app:1", "app:latest"}}, saveArg{two, []string{"reg.example:5000/team/app:2"}}, saveArg{untagged, nil})
	if again := save(t, a, saveArg{base, []string{"app:1", "app:latest"}}, saveArg{two, []string{"reg.example:5000/team/app:2"}}, saveArg{untagged, nil}); !bytes.Equal(data, again) {
		t.Fatal("save is not deterministic")
	}
	b := newStore(t)
	loaded := load(t, b, data)
	got := map[string][]string{}
	for _, l := range loaded {
		got[l.ID] = l.Tags
	}
	want := map[string][]string{
		base.ID:     {"docker.io/library/app:1", "docker.io/library/app:latest"},
		two.ID:      {"reg.example:5000/team/app:2"},
		untagged.ID: nil,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("loaded %v, want %v", got, want)
	}
	for _, img := range []*image.Image{base, two, untagged} {
		l, err := b.Get(img.ID)
		if err != nil {
			t.Fatal(err)
		}
		if l.ManifestDigest != img.ManifestDigest || !reflect.DeepEqual(l.ChainIDs, img.ChainIDs) {
			t.Fatalf("image %s: manifest %s chains %v, want %s %v", img.ShortID(), l.ManifestDigest, l.ChainIDs, img.ManifestDigest, img.ChainIDs)
		}
	}
	// Saving the loaded images gives the same bytes.
	b1, _ := b.Get(base.ID)
	b2, _ := b.Get(two.ID)
	b3, _ := b.Get(untagged.ID)
	if again := save(t, b, saveArg{b1, []string{"app:1", "app:latest"}}, saveArg{b2, []string{"reg.example:5000/team/app:2"}}, saveArg{b3, nil}); !bytes.Equal(data, again) {
		t.Fatal("save after load differs")
	}
	// Loading again is idempotent; a tag that moves is reported.
	other := importImage(t, b, layerTar(t, "other"), "app:latest")
	loaded = load(t, b, data)
	var replaced []Replaced
	for _, l := range loaded {
		replaced = append(replaced, l.Replaced...)
	}
	if !reflect.DeepEqual(replaced, []Replaced{{Tag: "docker.io/library/app:latest", OldID: other.ID}}) {
		t.Fatalf("replaced %v", replaced)
	}
	if problems, err := b.Check(false); err != nil || len(problems) > 0 {
		t.Fatalf("check: %v %v", problems, err)
	}
}

// dockerOld builds a Docker 20.10 `docker save` archive by hand: <id>/
// directories with layer.tar (a repeated layer as a symlink, as Docker
// writes it), <config>.json, manifest.json, repositories.
func dockerOld(t *testing.T, layers [][]byte, tags []string, layerFile func(int, []byte) []byte) []byte {
	cfg := configFor(layers...)
	cfgName := digest.FromBytes(cfg).Encoded() + ".json"
	ents := []ent{}
	var paths []string
	first := map[digest.Digest]string{}
	for i, l := range layers {
		id := fmt.Sprintf("%064x", i+1)
		p := id + "/layer.tar"
		ents = append(ents, ent{name: id + "/", typ: tar.TypeDir}, ent{name: id + "/VERSION", body: []byte("1.0")})
		if prev, ok := first[digest.FromBytes(l)]; ok {
			ents = append(ents, ent{name: p, typ: tar.TypeSymlink, link: "../" + prev})
		} else {
			body := l
			if layerFile != nil {
				body = layerFile(i, l)
			}
			ents = append(ents, ent{name: p, body: body})
			first[digest.FromBytes(l)] = p
		}
		paths = append(paths, p)
	}
	m, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": tags, "Layers": paths}})
	ents = append(ents, ent{name: cfgName, body: cfg}, ent{name: "manifest.json", body: m},
		ent{name: "repositories", body: []byte(`{}`)})
	return mkTar(t, ents)
}

// ociLayout builds a bare OCI layout (skopeo's oci-archive).
func ociLayout(t *testing.T, layers [][]byte, refName string, index func(manifest ocispec.Descriptor) []byte) []byte {
	cfg := configFor(layers...)
	ents := []ent{{name: "oci-layout", body: []byte(`{"imageLayoutVersion":"1.0.0"}`)}}
	blob := func(b []byte) ocispec.Descriptor {
		d := digest.FromBytes(b)
		ents = append(ents, ent{name: "blobs/sha256/" + d.Encoded(), body: b})
		return ocispec.Descriptor{Digest: d, Size: int64(len(b))}
	}
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest}
	m.Config = blob(cfg)
	m.Config.MediaType = ocispec.MediaTypeImageConfig
	for _, l := range layers {
		d := blob(gz(t, l))
		d.MediaType = ocispec.MediaTypeImageLayerGzip
		m.Layers = append(m.Layers, d)
	}
	raw, _ := json.Marshal(m)
	md := blob(raw)
	md.MediaType = ocispec.MediaTypeImageManifest
	if refName != "" {
		md.Annotations = map[string]string{ocispec.AnnotationRefName: refName}
	}
	var idx []byte
	if index != nil {
		idx = index(md)
	} else {
		idx, _ = json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, Manifests: []ocispec.Descriptor{md}})
	}
	ents = append(ents, ent{name: "index.json", body: idx})
	return mkTar(t, ents)
}

func TestLoadFlavours(t *testing.T) {
	l1, l2 := layerTar(t, "bin/a"), layerTar(t, "etc/b")
	xzLayer := func(i int, l []byte) []byte {
		if i != 1 {
			return l
		}
		cmd := exec.Command("xz", "-c")
		cmd.Stdin = bytes.NewReader(l)
		out, err := cmd.Output()
		if err != nil {
			t.Skipf("xz: %v", err)
		}
		return out
	}
	compress := func(tool string, args ...string) func([]byte) []byte {
		return func(b []byte) []byte {
			cmd := exec.Command(tool, args...)
			cmd.Stdin = bytes.NewReader(b)
			out, err := cmd.Output()
			if err != nil {
				t.Skipf("%s: %v", tool, err)
			}
			return out
		}
	}
	old := dockerOld(t, [][]byte{l1, l2, l1}, []string{"old:1", "localhost:5000/x/y:z"}, nil)
	for _, tc := range []struct {
		name     string
		data     []byte
		wantTags []string
	}{
		{"docker 20.10 archive with a symlinked layer", old, []string{"docker.io/library/old:1", "localhost:5000/x/y:z"}},
		{"docker archive with gzip layer files", dockerOld(t, [][]byte{l1, l2}, []string{"gzl:1"}, func(_ int, l []byte) []byte { return gz(t, l) }), []string{"docker.io/library/gzl:1"}},
		{"docker archive with an xz layer file", dockerOld(t, [][]byte{l1, l2}, []string{"xzl:1"}, xzLayer), []string{"docker.io/library/xzl:1"}},
		{"docker archive without tag", dockerOld(t, [][]byte{l1}, nil, nil), nil},
		{"oci layout with a full ref.name", ociLayout(t, [][]byte{l1, l2}, "example.com/oci:7", nil), []string{"example.com/oci:7"}},
		{"oci layout with a bare tag", ociLayout(t, [][]byte{l1}, "latest", nil), nil},
		{"oci layout multi-platform index", ociLayout(t, [][]byte{l2}, "", func(md ocispec.Descriptor) []byte {
			return nil // replaced below
		}), nil},
		{"gzip", gz(t, old), []string{"docker.io/library/old:1", "localhost:5000/x/y:z"}},
		{"xz", compress("xz", "-c")(old), []string{"docker.io/library/old:1", "localhost:5000/x/y:z"}},
		{"bzip2", compress("bzip2", "-c")(old), []string{"docker.io/library/old:1", "localhost:5000/x/y:z"}},
		{"zstd", compress("zstd", "-q", "-c")(old), []string{"docker.io/library/old:1", "localhost:5000/x/y:z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.HasPrefix(tc.name, "oci layout multi") {
				tc.data = multiPlatform(t, l2)
				tc.wantTags = []string{"docker.io/library/multi:1"}
			}
			s := newStore(t)
			loaded := load(t, s, tc.data)
			if len(loaded) != 1 || !reflect.DeepEqual(loaded[0].Tags, tc.wantTags) {
				t.Fatalf("loaded %+v, want tags %v", loaded, tc.wantTags)
			}
			img, err := s.Get(loaded[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			if problems, err := s.Check(false); err != nil || len(problems) > 0 {
				t.Fatalf("check: %v %v", problems, err)
			}
			// Whatever came in, it goes out again and back.
			data := save(t, s, saveArg{img, nil})
			s2 := newStore(t)
			again := load(t, s2, data)
			if again[0].ID != img.ID {
				t.Fatalf("re-load gave %s, want %s", again[0].ID, img.ID)
			}
			if got, _ := s2.Get(img.ID); got.ManifestDigest != img.ManifestDigest {
				t.Fatalf("manifest digest changed: %s → %s", img.ManifestDigest, got.ManifestDigest)
			}
		})
	}
}

// multiPlatform is an OCI layout whose index.json names an image index
// with an arm64 and an amd64 image (only the host's is loaded).
func multiPlatform(t *testing.T, layer []byte) []byte {
	var ents []ent
	blob := func(mt string, b []byte) ocispec.Descriptor {
		d := digest.FromBytes(b)
		ents = append(ents, ent{name: "blobs/sha256/" + d.Encoded(), body: b})
		return ocispec.Descriptor{MediaType: mt, Digest: d, Size: int64(len(b))}
	}
	var descs []ocispec.Descriptor
	for _, arch := range []string{"arm64", "amd64"} {
		cfg := bytes.Replace(configFor(layer), []byte(`"amd64"`), []byte(`"`+arch+`"`), 1)
		m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
			Config: blob(ocispec.MediaTypeImageConfig, cfg), Layers: []ocispec.Descriptor{blob(ocispec.MediaTypeImageLayer, layer)}}
		raw, _ := json.Marshal(m)
		d := blob(ocispec.MediaTypeImageManifest, raw)
		d.Platform = &ocispec.Platform{OS: "linux", Architecture: arch}
		descs = append(descs, d)
	}
	ix, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: descs})
	id := blob(ocispec.MediaTypeImageIndex, ix)
	id.Annotations = map[string]string{AnnotationImageName: "docker.io/library/multi:1"}
	top, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, Manifests: []ocispec.Descriptor{id}})
	ents = append(ents, ent{name: "index.json", body: top}, ent{name: "oci-layout", body: []byte(`{"imageLayoutVersion":"1.0.0"}`)})
	return mkTar(t, ents)
}

func TestLoadHostile(t *testing.T) {
	l1 := layerTar(t, "a")
	good := dockerOld(t, [][]byte{l1}, []string{"h:1"}, nil)
	cfg := configFor(l1)
	cfgName := digest.FromBytes(cfg).Encoded() + ".json"
	manifest := func(layers ...string) []byte {
		m, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{"h:1"}, "Layers": layers}})
		return m
	}
	evilLayer := mkTar(t, []ent{{name: "../../escape", body: []byte("x")}})
	evilCfg := configFor(evilLayer)
	evilCfgName := digest.FromBytes(evilCfg).Encoded() + ".json"
	evilManifest, _ := json.Marshal([]map[string]any{{"Config": evilCfgName, "RepoTags": []string{"h:1"}, "Layers": []string{"l.tar"}}})
	oci := ociLayout(t, [][]byte{l1}, "x.io/h:1", nil)
	// An OCI layout whose layer blob's bytes are not its name's.
	ociBad := bytes.Replace(oci, gz(t, l1)[20:40], bytes.Repeat([]byte{0}, 20), 1)
	// A PAX header far larger than any sane archive has (archive/tar's
	// writer refuses to make one: patch a file entry into one).
	var hb bytes.Buffer
	tw := tar.NewWriter(&hb)
	rec := "comment=" + strings.Repeat("x", 2<<20) + "\n"
	rec = fmt.Sprintf("%d %s", len(rec)+8, rec)
	tw.WriteHeader(&tar.Header{Name: "pax", Typeflag: tar.TypeReg, Size: int64(len(rec)), Mode: 0o644})
	tw.Write([]byte(rec))
	tw.WriteHeader(&tar.Header{Name: "manifest.json", Typeflag: tar.TypeReg, Size: 2, Mode: 0o644})
	tw.Write([]byte("[]"))
	tw.Close()
	huge := hb.Bytes()
	huge[156] = tar.TypeXHeader
	copy(huge[148:156], "        ")
	var sum int
	for _, b := range huge[:512] {
		sum += int(b)
	}
	copy(huge[148:156], fmt.Sprintf("%06o\x00 ", sum))
	// A file that claims 8 GiB and stops after a few bytes.
	var big bytes.Buffer
	tw = tar.NewWriter(&big)
	tw.WriteHeader(&tar.Header{Name: "blobs/sha256/big", Typeflag: tar.TypeReg, Size: 8 << 30, Mode: 0o644})
	tw.Write(bytes.Repeat([]byte("y"), 100000))
	tw.Flush()

	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"parent path", mkTar(t, []ent{{name: "../manifest.json", body: manifest("a/layer.tar")}}), "leaves the archive"},
		{"absolute path", mkTar(t, []ent{{name: "/etc/manifest.json", body: []byte("[]")}}), "absolute path"},
		{"symlink escape", mkTar(t, []ent{{name: cfgName, body: cfg}, {name: "l.tar", typ: tar.TypeSymlink, link: "../../etc/shadow"},
			{name: "manifest.json", body: manifest("l.tar")}}), "leaves the archive"},
		{"absolute symlink", mkTar(t, []ent{{name: "l.tar", typ: tar.TypeSymlink, link: "/etc/shadow"}}), "leaves the archive"},
		{"symlink loop", mkTar(t, []ent{{name: cfgName, body: cfg}, {name: "l.tar", typ: tar.TypeSymlink, link: "m.tar"},
			{name: "m.tar", typ: tar.TypeSymlink, link: "l.tar"}, {name: "manifest.json", body: manifest("l.tar")}}), "too many levels"},
		{"missing layer", mkTar(t, []ent{{name: cfgName, body: cfg}, {name: "manifest.json", body: manifest("nope/layer.tar")}}), "nope/layer.tar is missing"},
		{"truncated", good[:len(good)/2], "truncated"},
		{"truncated gzip", gz(t, good)[:300], "truncated"},
		{"not an archive", []byte("hello, this is not a tar file at all, but it is long enough to have a header maybe............" + strings.Repeat(".", 600)), "invalid"},
		{"empty", nil, "neither manifest.json"},
		{"huge header", huge, "header"},
		{"huge file size", big.Bytes(), "truncated in blobs/sha256/big"},
		{"layer count mismatch", mkTar(t, []ent{{name: cfgName, body: cfg}, {name: "manifest.json", body: manifest()}}), "lists 0 layers, its config 1"},
		{"diff ID mismatch", mkTar(t, []ent{{name: cfgName, body: cfg}, {name: "l.tar", body: layerTar(t, "other")},
			{name: "manifest.json", body: manifest("l.tar")}}), "diff ID"},
		{"bad tag", mkTar(t, []ent{{name: cfgName, body: cfg}, {name: "l.tar", body: l1},
			{name: "manifest.json", body: []byte(`[{"Config":"` + cfgName + `","RepoTags":["Bad:Tag"],"Layers":["l.tar"]}]`)}}), "invalid tag"},
		{"oci digest mismatch", ociBad, "hashes to"},
		{"layer escaping on unpack", mkTar(t, []ent{{name: evilCfgName, body: evilCfg}, {name: "l.tar", body: evilLayer},
			{name: "manifest.json", body: evilManifest}}), "escape"},
		{"legacy repositories only", mkTar(t, []ent{{name: "repositories", body: []byte("{}")}}), "before 1.10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			_, err := Load(context.Background(), s, bytes.NewReader(tc.data), LoadOptions{})
			t.Logf("error: %v", err)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load = %v, want an error containing %q", err, tc.want)
			}
			checkNothingStored(t, s)
		})
	}
	// And the good one loads, so the failures above are the hostility.
	s := newStore(t)
	load(t, s, good)
}

// pulled stores an image as a pull does: Docker schema 2 manifest, gzip
// layer, through the ingest API.
func pulled(t *testing.T, s *image.Store, layer []byte, ref string) *image.Image {
	t.Helper()
	ctx := context.Background()
	lease, err := s.NewLease()
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	z := gz(t, layer)
	cfg := configFor(layer)
	man := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",` +
		`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"` + digest.FromBytes(cfg).String() + `","size":` + fmt.Sprint(len(cfg)) + `},` +
		`"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"` + digest.FromBytes(z).String() + `","size":` + fmt.Sprint(len(z)) + `}]}`)
	for _, b := range [][]byte{man, cfg, z} {
		if err := s.IngestBlob(ctx, lease, ocispec.Descriptor{Digest: digest.FromBytes(b), Size: int64(len(b))}, bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Unpack(ctx, lease, "", ocispec.Descriptor{Digest: digest.FromBytes(z), Size: int64(len(z))}, digest.FromBytes(layer)); err != nil {
		t.Fatal(err)
	}
	img, err := s.Register(ctx, image.RegisterOptions{ManifestDigest: digest.FromBytes(man), Refs: []string{ref}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestSaveLoadPulledAndEmpty: a pulled image (Docker media types, gzip
// layer) keeps its manifest digest through save and load; an image
// without layers round-trips too.
func TestSaveLoadPulledAndEmpty(t *testing.T) {
	a := newStore(t)
	p := pulled(t, a, layerTar(t, "pulled"), "registry.example/p:1")
	empty, err := a.Commit(context.Background(), image.CommitOptions{Ref: "empty:1"})
	if err != nil {
		t.Fatal(err)
	}
	data := save(t, a, saveArg{p, []string{"registry.example/p:1"}}, saveArg{empty, []string{"empty:1"}})
	var idx ocispec.Index
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "index.json" {
			json.NewDecoder(tr).Decode(&idx)
			break
		}
	}
	if len(idx.Manifests) != 2 || idx.Manifests[0].MediaType != "application/vnd.docker.distribution.manifest.v2+json" || idx.Manifests[0].Digest != p.ManifestDigest {
		t.Fatalf("index.json %+v", idx)
	}
	b := newStore(t)
	load(t, b, data)
	for _, img := range []*image.Image{p, empty} {
		got, err := b.Get(img.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ManifestDigest != img.ManifestDigest || !reflect.DeepEqual(got.RepoTags, img.RepoTags) {
			t.Fatalf("loaded %s: manifest %s tags %v, want %s %v", img.ShortID(), got.ManifestDigest, got.RepoTags, img.ManifestDigest, img.RepoTags)
		}
	}
	if problems, err := b.Check(false); err != nil || len(problems) > 0 {
		t.Fatalf("check: %v %v", problems, err)
	}
}

// TestLoadStreamsLayers: in berth's own archives the metadata comes first,
// so big layers are unpacked while the archive is read (no spooling); the
// result is the same image, and a bad or cut big layer still fails the
// load with nothing stored.
func TestLoadStreamsLayers(t *testing.T) {
	rnd := make([]byte, smallFile+(1<<20))
	for i := range rnd {
		rnd[i] = byte(i*7919 + i/251)
	}
	big := mkTar(t, []ent{{name: "big.bin", body: rnd}})
	a := newStore(t)
	base := importImage(t, a, big, "big:1")
	top, err := a.Commit(context.Background(), image.CommitOptions{Parent: base, Layer: bytes.NewReader(mkTar(t, []ent{{name: "big2.bin", body: rnd[1:]}})), Ref: "big:2"})
	if err != nil {
		t.Fatal(err)
	}
	data := save(t, a, saveArg{top, []string{"big:2"}})

	b := newStore(t)
	lease, _ := b.NewLease()
	st := &streamer{ctx: context.Background(), s: b, lease: lease}
	c, err := readArchive(context.Background(), b.Content(), bytes.NewReader(data), st.layer)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range top.Layers {
		f := c.files["blobs/sha256/"+l.Digest.Encoded()]
		if f == nil || !f.streamed {
			t.Errorf("layer %s was not streamed: %+v", l.Digest, f)
		}
	}
	c.close()
	lease.Release()

	loaded := load(t, b, data)
	if len(loaded) != 1 || loaded[0].ID != top.ID {
		t.Fatalf("loaded %+v", loaded)
	}
	if got, _ := b.Get(top.ID); got.ManifestDigest != top.ManifestDigest {
		t.Fatalf("manifest %s, want %s", got.ManifestDigest, top.ManifestDigest)
	}
	if problems, err := b.Check(false); err != nil || len(problems) > 0 {
		t.Fatalf("check: %v %v", problems, err)
	}

	// The second layer's bytes altered in place (same size): the blob's
	// digest check or the DiffID check refuses it.
	bad := bytes.Clone(data)
	i := bytes.LastIndex(bad, rnd[1000:1100])
	bad[i] ^= 0xff
	for name, d := range map[string][]byte{"altered": bad, "cut": data[:len(data)-(1<<20)]} {
		s := newStore(t)
		if _, err := Load(context.Background(), s, bytes.NewReader(d), LoadOptions{}); err == nil {
			t.Fatalf("%s big layer loaded", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
		checkNothingStored(t, s)
	}
}
