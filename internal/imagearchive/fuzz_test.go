package imagearchive

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/errdefs"
)

// FuzzLoadManifests feeds arbitrary manifest.json / index.json documents,
// and one arbitrary blob, to the part of load that interprets an archive
// (plans: docker-archive and OCI layout, nested indexes, links), over an
// archive that also holds a valid config and layer. Properties: no panic;
// a rejection is classed (invalid, not found, not implemented) and says
// what; an accepted archive yields images whose config decodes with one
// valid DiffID per layer, whose layer descriptors have valid digests and
// the sizes and digests of the files they name, whose manifest (when
// kept) is JSON naming that config, and whose tags are full references.
func FuzzLoadManifests(f *testing.F) {
	layer := []byte("layer bytes: the planner never reads them")
	config := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[%q]}}`, digest.FromString("diff")))
	dl, dc := digest.FromBytes(layer), digest.FromBytes(config)
	manifest := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`, dc, len(config), dl, len(layer)))
	dm := digest.FromBytes(manifest)
	index := []byte(fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":%d,"platform":{"architecture":"amd64","os":"linux"}}]}`, dm, len(manifest)))
	for _, s := range []struct {
		docker bool
		doc    string
		blob   []byte
	}{
		{true, fmt.Sprintf(`[{"Config":"blobs/sha256/%s","RepoTags":["busybox:latest","x/y:1"],"Layers":["blobs/sha256/%s"]}]`, dc.Encoded(), dl.Encoded()), nil},
		{true, `[{"Config":"c.json","RepoTags":["a:b"],"Layers":["l/layer.tar"]}]`, nil},
		{true, `[{"Config":"link.json","RepoTags":["Bad:Tag"],"Layers":["../x"]}]`, nil},
		{true, `[]`, nil},
		{false, fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":%d,"annotations":{"io.containerd.image.name":"docker.io/library/a:1","org.opencontainers.image.ref.name":"1"}}]}`, dm, len(manifest)), nil},
		{false, fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":%q,"size":%d}]}`, digest.FromBytes(index), len(index)), index},
		{false, `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws","digest":"sha256:` + dm.Encoded() + `","size":1}]}`, nil},
		{false, `{"manifests":[{"digest":"sha512:00","size":-1}]}`, []byte(`{"schemaVersion":2}`)},
	} {
		f.Add(s.docker, []byte(s.doc), s.blob)
	}
	f.Fuzz(func(t *testing.T, docker bool, doc, blob []byte) {
		c := &contents{files: map[string]*file{}}
		add := func(name string, data []byte) {
			c.files[name] = &file{name: name, data: data, digest: digest.FromBytes(data), size: int64(len(data))}
		}
		for _, b := range [][]byte{layer, config, manifest, index, blob} {
			add("blobs/sha256/"+digest.FromBytes(b).Encoded(), b)
		}
		add("c.json", config)
		add("l/layer.tar", layer)
		c.files["link.json"] = &file{name: "link.json", link: "c.json"}
		c.files["loop"] = &file{name: "loop", link: "loop"}
		add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
		if docker {
			add("manifest.json", doc)
		} else {
			add(ocispec.ImageIndexFile, doc)
		}
		plans, err := c.plans()
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalid) && !errors.Is(err, errdefs.ErrNotFound) && !errors.Is(err, errdefs.ErrNotImplemented) {
				t.Fatalf("unclassed error: %v", err)
			}
			if err.Error() == errdefs.ErrInvalid.Error() {
				t.Fatalf("error says nothing: %v", err)
			}
			return
		}
		if len(plans) == 0 {
			t.Fatal("accepted with no image")
		}
		for i, p := range plans {
			diffIDs, err := parseConfig(p.config, "plan")
			if err != nil || len(diffIDs) != len(p.layers) {
				t.Fatalf("plan %d: config %s (%v) for %d layers", i, p.config, err, len(p.layers))
			}
			for j, l := range p.layers {
				if err := l.desc.Digest.Validate(); err != nil || l.desc.Size < 0 {
					t.Fatalf("plan %d layer %d: descriptor %+v", i, j, l.desc)
				}
				if l.f == nil || l.f.digest != l.desc.Digest || l.f.size != l.desc.Size || l.diffID != diffIDs[j] {
					t.Fatalf("plan %d layer %d: descriptor %+v does not describe its file", i, j, l.desc)
				}
			}
			if p.manifest != nil {
				var m ocispec.Manifest
				if err := json.Unmarshal(p.manifest, &m); err != nil || m.Config.Digest != digest.FromBytes(p.config) || len(m.Layers) != len(p.layers) {
					t.Fatalf("plan %d: kept manifest %s does not name its config (%v)", i, p.manifest, err)
				}
			}
			for _, tag := range p.tags {
				again, err := reference.ParseNormalizedNamed(tag.String())
				if err != nil || again.String() != tag.String() {
					t.Fatalf("plan %d: tag %q re-parses to %v, %v", i, tag, again, err)
				}
			}
		}
	})
}
