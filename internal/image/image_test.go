package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/errdefs"
)

func TestImportBusybox(t *testing.T) {
	e := newEnv(t)
	data := busyboxTar(t)
	for _, tc := range []struct {
		desc  string
		input []byte
	}{
		{desc: "plain tar", input: data},
		{desc: "gzip tar", input: gzipped(t, data)},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			img, err := e.is.Import(context.Background(), bytes.NewReader(tc.input), ImportOptions{Ref: "busybox", Changes: []string{`CMD ["sh"]`}})
			if err != nil {
				t.Fatal(err)
			}
			wantDiff := digest.FromBytes(data)
			if len(img.ChainIDs) != 1 || img.ChainIDs[0] != wantDiff || img.TopChainID() != wantDiff {
				t.Fatalf("chain IDs %v, want [%s]", img.ChainIDs, wantDiff)
			}
			if !reflect.DeepEqual(img.RepoTags, []string{"busybox:latest"}) || len(img.RepoDigests) != 0 {
				t.Fatalf("RepoTags %v RepoDigests %v", img.RepoTags, img.RepoDigests)
			}
			if img.Comment != "Imported from -" || img.Config.History[0].Comment != "Imported from -" {
				t.Fatalf("comment %q", img.Comment)
			}
			if !reflect.DeepEqual(img.Config.Config.Cmd, []string{"sh"}) {
				t.Fatalf("Cmd %v", img.Config.Config.Cmd)
			}
			if img.Config.OS != "linux" || img.Config.Architecture == "" || img.Size <= 0 || img.Created.IsZero() || img.LastTagTime.IsZero() {
				t.Fatalf("metadata: %+v", img)
			}
			// The ID is the config digest; the config and manifest are
			// blobs; the layer blob is the uncompressed tar.
			cfg, err := e.cs.ReadBlob(img.Digest())
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(cfg), `"comment":"Imported from -"`) {
				t.Errorf("config lacks comment: %s", cfg)
			}
			man, err := e.cs.ReadBlob(img.ManifestDigest)
			if err != nil {
				t.Fatal(err)
			}
			var m ocispec.Manifest
			json.Unmarshal(man, &m)
			if m.MediaType != ocispec.MediaTypeImageManifest || m.Config.MediaType != ocispec.MediaTypeImageConfig ||
				len(m.Layers) != 1 || m.Layers[0].MediaType != ocispec.MediaTypeImageLayer || m.Layers[0].Digest != wantDiff ||
				m.Layers[0].Size != int64(len(data)) {
				t.Fatalf("manifest %s", man)
			}
			if err := e.cs.Verify(wantDiff); err != nil {
				t.Fatal(err)
			}
			info, err := e.snaps.Stat(wantDiff)
			if err != nil {
				t.Fatal(err)
			}
			if target, err := os.Readlink(filepath.Join(info.Path, "bin", "sh")); err != nil || target != "busybox" {
				t.Fatalf("bin/sh in snapshot: %q %v", target, err)
			}
			if fi, err := os.Stat(filepath.Join(info.Path, "bin", "busybox")); err != nil || fi.Mode().Perm() != 0o755 {
				t.Fatalf("bin/busybox in snapshot: %v %v", fi, err)
			}
			e.mustCheck(t)
		})
	}
}

func TestImportErrors(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		desc    string
		input   []byte
		opts    ImportOptions
		wantErr error
	}{
		{desc: "bad reference", input: smallTar(t, "a", "a"), opts: ImportOptions{Ref: "UPPER"}, wantErr: errdefs.ErrInvalid},
		{desc: "digest reference", input: smallTar(t, "a", "a"), opts: ImportOptions{Ref: "x@sha256:" + strings.Repeat("a", 64)}, wantErr: errdefs.ErrInvalid},
		{desc: "bad change", input: smallTar(t, "a", "a"), opts: ImportOptions{Changes: []string{"RUN echo hi"}}, wantErr: errdefs.ErrInvalid},
		{desc: "bad platform", input: smallTar(t, "a", "a"), opts: ImportOptions{Platform: "windows/amd64"}, wantErr: errdefs.ErrInvalid},
		{desc: "not a tar", input: bytes.Repeat([]byte("garbage!"), 200), wantErr: nil},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := e.is.Import(context.Background(), bytes.NewReader(tc.input), tc.opts)
			if err == nil {
				t.Fatal("import succeeded")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
		})
	}
	if imgs, _ := e.is.List(); len(imgs) != 0 {
		t.Fatalf("failed imports left images: %v", imgs)
	}
	// Whatever they wrote is garbage now.
	if _, err := e.is.GC(nil); err != nil {
		t.Fatal(err)
	}
	if blobs, _ := e.cs.List(); len(blobs) != 0 {
		t.Fatalf("blobs left after GC: %v", blobs)
	}
	if ing, _ := e.cs.ListIngests(); len(ing) != 0 {
		t.Fatalf("ingests left: %v", ing)
	}
}

func TestImportPlatform(t *testing.T) {
	e := newEnv(t)
	img, err := e.is.Import(context.Background(), bytes.NewReader(smallTar(t, "f", "x")),
		ImportOptions{Platform: "linux/aarch64", Message: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if img.Config.Architecture != "arm64" || img.Config.Variant != "v8" || img.Comment != "hello" {
		t.Fatalf("%s/%s comment %q", img.Config.Architecture, img.Config.Variant, img.Comment)
	}
	if len(img.RepoTags) != 0 || !img.Dangling() {
		t.Fatalf("untagged import has tags %v", img.RepoTags)
	}
}

func TestGetLookups(t *testing.T) {
	e := newEnv(t)
	img := e.importTar(t, smallTar(t, "a", "1"), "registry.example:5000/team/app:v1")
	hex := img.Digest().Encoded()
	for _, tc := range []struct {
		desc, arg string
		want      bool
		msg       string
	}{
		{desc: "familiar name with tag", arg: "registry.example:5000/team/app:v1", want: true},
		{desc: "missing tag", arg: "registry.example:5000/team/app", msg: "No such image: registry.example:5000/team/app:latest"},
		{desc: "full ID", arg: img.ID, want: true},
		{desc: "bare hex ID", arg: hex, want: true},
		{desc: "short ID", arg: hex[:12], want: true},
		{desc: "tiny prefix", arg: hex[:3], want: true},
		{desc: "sha256: short prefix", arg: "sha256:" + hex[:10], want: true},
		{desc: "unknown name", arg: "debian", msg: "No such image: debian:latest"},
		{desc: "unknown full ID", arg: "sha256:" + strings.Repeat("0", 64), msg: "No such image: sha256:" + strings.Repeat("0", 64)},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := e.is.Get(tc.arg)
			if tc.want {
				if err != nil || got.ID != img.ID {
					t.Fatalf("Get(%q) = %v, %v", tc.arg, got, err)
				}
				return
			}
			if !errdefs.IsNotFound(err) || err.Error() != tc.msg {
				t.Fatalf("Get(%q) error %q, want %q (not found)", tc.arg, err, tc.msg)
			}
		})
	}
	if _, err := e.is.Get("Bad:Ref"); !errdefs.IsInvalid(err) {
		t.Fatalf("invalid reference: %v", err)
	}
}

func TestAmbiguousPrefix(t *testing.T) {
	e := newEnv(t)
	// Import until two IDs share a first hex digit.
	seen := map[byte]string{}
	for i := 0; i < 40; i++ {
		img := e.importTar(t, smallTar(t, "f", strings.Repeat("x", i)), "")
		c := img.Digest().Encoded()[0]
		if other, ok := seen[c]; ok {
			_, err := e.is.Get(string(c))
			if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "ambiguous") {
				t.Fatalf("ambiguous prefix %c (%s, %s): %v", c, other, img.ID, err)
			}
			return
		}
		seen[c] = img.ID
	}
	t.Fatal("no two IDs shared a first digit")
}

func TestReferenceNormalisation(t *testing.T) {
	dgst := "sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct {
		in, full, familiar string
		invalid            bool
	}{
		{in: "debian", full: "docker.io/library/debian:latest", familiar: "debian:latest"},
		{in: "debian:12", full: "docker.io/library/debian:12", familiar: "debian:12"},
		{in: "library/debian", full: "docker.io/library/debian:latest", familiar: "debian:latest"},
		{in: "docker.io/library/debian:latest", full: "docker.io/library/debian:latest", familiar: "debian:latest"},
		{in: "index.docker.io/library/debian", full: "docker.io/library/debian:latest", familiar: "debian:latest"},
		{in: "user/app", full: "docker.io/user/app:latest", familiar: "user/app:latest"},
		{in: "localhost:5000/app:v2", full: "localhost:5000/app:v2", familiar: "localhost:5000/app:v2"},
		{in: "quay.io/org/app", full: "quay.io/org/app:latest", familiar: "quay.io/org/app:latest"},
		{in: "debian@" + dgst, full: "docker.io/library/debian@" + dgst, familiar: "debian@" + dgst},
		{in: "debian:12@" + dgst, full: "docker.io/library/debian@" + dgst, familiar: "debian@" + dgst},
		{in: "Debian", invalid: true},
		{in: "debian:", invalid: true},
		{in: "-x", invalid: true},
		{in: "", invalid: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			named, err := ParseReference(tc.in)
			if tc.invalid {
				if !errdefs.IsInvalid(err) {
					t.Fatalf("want ErrInvalid, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if named.String() != tc.full || FamiliarString(named.String()) != tc.familiar {
				t.Fatalf("%q → %q / %q, want %q / %q", tc.in, named.String(), FamiliarString(named.String()), tc.full, tc.familiar)
			}
		})
	}
	for _, tc := range []struct{ in, wantErr string }{
		{in: "x@" + dgst, wantErr: "refusing to create a tag with a digest reference"},
		{in: "sha256:abc", wantErr: "refusing to create an ambiguous tag using digest algorithm as name"},
	} {
		if _, err := ParseTag(tc.in); err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errdefs.IsInvalid(err) {
			t.Errorf("ParseTag(%q) = %v, want %q", tc.in, err, tc.wantErr)
		}
	}
}

func TestChanges(t *testing.T) {
	base := v1.Config{Env: []string{"PATH=/usr/bin:/bin"}, Cmd: []string{"old"}, WorkingDir: "/srv"}
	for _, tc := range []struct {
		desc    string
		changes []string
		check   func(c v1.Config) bool
		invalid bool
	}{
		{desc: "CMD exec form", changes: []string{`CMD ["sh","-c","echo hi"]`},
			check: func(c v1.Config) bool { return reflect.DeepEqual(c.Cmd, []string{"sh", "-c", "echo hi"}) }},
		{desc: "CMD shell form", changes: []string{"CMD echo hi"},
			check: func(c v1.Config) bool { return reflect.DeepEqual(c.Cmd, []string{"/bin/sh", "-c", "echo hi"}) }},
		{desc: "ENTRYPOINT drops inherited CMD", changes: []string{`ENTRYPOINT ["/app"]`},
			check: func(c v1.Config) bool { return reflect.DeepEqual(c.Entrypoint, []string{"/app"}) && c.Cmd == nil }},
		{desc: "CMD then ENTRYPOINT keeps the new CMD", changes: []string{`CMD ["x"]`, `ENTRYPOINT ["/app"]`},
			check: func(c v1.Config) bool { return reflect.DeepEqual(c.Cmd, []string{"x"}) }},
		{desc: "ENV adds, replaces and expands", changes: []string{"ENV A=1 B=two", "ENV PATH=/opt/bin:$PATH", "ENV C=${A}x"},
			check: func(c v1.Config) bool {
				return reflect.DeepEqual(c.Env, []string{"PATH=/opt/bin:/usr/bin:/bin", "A=1", "B=two", "C=1x"})
			}},
		{desc: "ENV legacy space form", changes: []string{"ENV K some value"},
			check: func(c v1.Config) bool { return c.Env[len(c.Env)-1] == "K=some value" }},
		{desc: "EXPOSE ports, protocols and ranges", changes: []string{"EXPOSE 80 53/udp 8000-8001"},
			check: func(c v1.Config) bool {
				return reflect.DeepEqual(c.ExposedPorts, map[string]struct{}{"80/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}})
			}},
		{desc: "LABEL", changes: []string{`LABEL a=b "c d"="e f"`},
			check: func(c v1.Config) bool { return reflect.DeepEqual(c.Labels, map[string]string{"a": "b", "c d": "e f"}) }},
		{desc: "ONBUILD keeps the expression", changes: []string{"ONBUILD RUN echo hi"},
			check: func(c v1.Config) bool { return reflect.DeepEqual(c.OnBuild, []string{"RUN echo hi"}) }},
		{desc: "USER", changes: []string{"USER nobody:nogroup"}, check: func(c v1.Config) bool { return c.User == "nobody:nogroup" }},
		{desc: "VOLUME json and plain", changes: []string{`VOLUME ["/data"]`, "VOLUME /a /b"},
			check: func(c v1.Config) bool {
				return reflect.DeepEqual(c.Volumes, map[string]struct{}{"/data": {}, "/a": {}, "/b": {}})
			}},
		{desc: "WORKDIR relative joins", changes: []string{"WORKDIR app", "WORKDIR sub"},
			check: func(c v1.Config) bool { return c.WorkingDir == "/srv/app/sub" }},
		{desc: "WORKDIR absolute with env", changes: []string{"ENV D=/x", "WORKDIR $D/y"},
			check: func(c v1.Config) bool { return c.WorkingDir == "/x/y" }},
		{desc: "STOPSIGNAL", changes: []string{"STOPSIGNAL SIGTERM"}, check: func(c v1.Config) bool { return c.StopSignal == "SIGTERM" }},
		{desc: "HEALTHCHECK", changes: []string{"HEALTHCHECK --interval=5s --retries=2 CMD true"},
			check: func(c v1.Config) bool {
				h := c.Healthcheck
				return h != nil && reflect.DeepEqual(h.Test, []string{"CMD-SHELL", "true"}) && h.Interval.Seconds() == 5 && h.Retries == 2
			}},
		{desc: "lowercase instruction", changes: []string{"cmd echo"}, check: func(c v1.Config) bool { return len(c.Cmd) == 3 }},
		{desc: "RUN is refused", changes: []string{"RUN true"}, invalid: true},
		{desc: "FROM is refused", changes: []string{"FROM x"}, invalid: true},
		{desc: "bad signal", changes: []string{"STOPSIGNAL SIGNOPE"}, invalid: true},
		{desc: "bad port", changes: []string{"EXPOSE 99999"}, invalid: true},
		{desc: "unknown instruction", changes: []string{"FROB x"}, invalid: true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			before := *base.DeepCopy()
			got, err := ApplyChanges(base, tc.changes)
			if !reflect.DeepEqual(before, base) {
				t.Fatal("ApplyChanges modified its input")
			}
			if tc.invalid {
				if !errdefs.IsInvalid(err) {
					t.Fatalf("want ErrInvalid, got %v (%+v)", err, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(got) {
				t.Fatalf("config after %q: %+v", tc.changes, got)
			}
		})
	}
	if _, err := ApplyChanges(v1.Config{}, []string{"RUN true"}); err == nil || err.Error() != "RUN is not a valid change command: invalid argument" {
		t.Errorf("message: %v", err)
	}
}

func TestInspectShape(t *testing.T) {
	e := newEnv(t)
	base := e.importTar(t, busyboxTar(t), "bb")
	img, err := e.is.Commit(context.Background(), CommitOptions{
		Parent: base,
		Layer:  bytes.NewReader(smallTar(t, "hello", "world")),
		Config: v1.Config{Cmd: []string{"sh"}, Env: []string{"A=1"}},
		Author: "me", Comment: "second", Ref: "bb:two",
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(e.is.Inspect(img))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	json.Unmarshal(raw, &m)
	var keys []string
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.Token()
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		dec.Decode(&skip)
	}
	want := []string{"Id", "RepoTags", "RepoDigests", "Parent", "Comment", "Created", "DockerVersion", "Author", "Config",
		"Architecture", "Os", "Size", "GraphDriver", "RootFS", "Metadata"}
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("keys %v\nwant %v", keys, want)
	}
	var got struct {
		RepoTags    []string
		RepoDigests []string
		Parent      string
		Author      string
		Comment     string
		Config      map[string]any
		GraphDriver GraphDriver
		RootFS      InspectRootFS
		Metadata    map[string]string
	}
	json.Unmarshal(raw, &got)
	if !reflect.DeepEqual(got.RepoTags, []string{"bb:two"}) || got.RepoDigests == nil || got.Parent != base.ID ||
		got.Author != "me" || got.Comment != "second" {
		t.Fatalf("inspect: %s", raw)
	}
	for _, k := range []string{"Hostname", "Domainname", "User", "AttachStdin", "Tty", "Env", "Cmd", "Image", "Volumes", "WorkingDir", "Entrypoint", "OnBuild", "Labels"} {
		if _, ok := got.Config[k]; !ok {
			t.Errorf("Config lacks %q: %s", k, m["Config"])
		}
	}
	if got.GraphDriver.Name != "overlay2" || got.GraphDriver.Data["UpperDir"] == "" || got.GraphDriver.Data["LowerDir"] == "" {
		t.Errorf("GraphDriver %+v", got.GraphDriver)
	}
	if got.RootFS.Type != "layers" || len(got.RootFS.Layers) != 2 || got.RootFS.Layers[0] != base.ChainIDs[0].String() {
		t.Errorf("RootFS %+v", got.RootFS)
	}
	if _, ok := got.Metadata["LastTagTime"]; !ok {
		t.Errorf("Metadata %v", got.Metadata)
	}
	if !strings.HasSuffix(string(m["Created"]), `Z"`) {
		t.Errorf("Created %s", m["Created"])
	}
}

func TestCommitChain(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	base := e.importTar(t, busyboxTar(t), "")
	// A metadata-only step: no layer, an empty_layer history entry.
	meta, err := e.is.Commit(ctx, CommitOptions{Parent: base, Config: v1.Config{Env: []string{"X=1"}},
		History: v1.History{CreatedBy: "/bin/sh -c #(nop) ENV X=1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(meta.ChainIDs) != 1 || meta.TopChainID() != base.TopChainID() || !meta.Config.History[1].EmptyLayer || meta.Parent != base.ID {
		t.Fatalf("metadata step: %+v", meta)
	}
	top, err := e.is.Commit(ctx, CommitOptions{Parent: meta, Layer: bytes.NewReader(smallTar(t, "etc/app", "v")), Config: meta.Config.Config,
		History: v1.History{CreatedBy: "COPY app /etc/app"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(top.ChainIDs) != 2 || top.ChainIDs[0] != base.ChainIDs[0] || len(top.Layers) != 2 || len(top.Config.History) != 3 || top.Config.History[2].EmptyLayer {
		t.Fatalf("layer step: %+v", top)
	}
	info, err := e.snaps.Stat(top.TopChainID())
	if err != nil || info.Parent != base.TopChainID() {
		t.Fatalf("snapshot %+v %v", info, err)
	}
	if top.Size <= base.Size {
		t.Fatalf("size %d <= parent %d", top.Size, base.Size)
	}
	// From scratch, no layers at all.
	empty, err := e.is.Commit(ctx, CommitOptions{Config: v1.Config{Cmd: []string{"x"}}})
	if err != nil {
		t.Fatal(err)
	}
	if empty.TopChainID() != "" || len(empty.Layers) != 0 || empty.Config.RootFS.Type != "layers" {
		t.Fatalf("scratch image: %+v", empty)
	}
	e.mustCheck(t)
}

// TestRegisterPulled plays a pull: a gzip layer blob, its snapshot, a
// Docker schema 2 manifest, then Register with a tag and a digest
// reference.
func TestRegisterPulled(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	layer := busyboxTar(t)
	gz := gzipped(t, layer)
	lease, err := e.is.NewLease()
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	gzDigest := digest.FromBytes(gz)
	lease.Add(gzDigest, digest.FromBytes(layer))
	if _, err := e.cs.WriteBlob(gz, gzDigest); err != nil {
		t.Fatal(err)
	}
	info, err := e.snaps.Apply(ctx, "", bytes.NewReader(layer))
	if err != nil {
		t.Fatal(err)
	}
	cfg := []byte(`{"architecture":"amd64","os":"linux","created":"2024-01-02T03:04:05Z","config":{"Cmd":["sh"]},` +
		`"rootfs":{"type":"layers","diff_ids":["` + info.DiffID.String() + `"]},"history":[{"created_by":"ADD rootfs"}]}`)
	cfgDigest, _ := e.cs.WriteBlob(cfg, "")
	man := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",` +
		`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"` + cfgDigest.String() + `","size":` + fmt.Sprint(len(cfg)) + `},` +
		`"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"` + gzDigest.String() + `","size":` + fmt.Sprint(len(gz)) + `}]}`)
	manDigest, _ := e.cs.WriteBlob(man, "")
	lease.Add(cfgDigest, manDigest)
	img, err := e.is.Register(ctx, RegisterOptions{ManifestDigest: manDigest, Refs: []string{"reg.example/app:1", "reg.example/app@" + manDigest.String()}})
	if err != nil {
		t.Fatal(err)
	}
	lease.Release()
	if img.ID != cfgDigest.String() || !reflect.DeepEqual(img.RepoTags, []string{"reg.example/app:1"}) ||
		!reflect.DeepEqual(img.RepoDigests, []string{"reg.example/app@" + manDigest.String()}) || !img.LastTagTime.IsZero() {
		t.Fatalf("registered: %+v", img)
	}
	if got, err := e.is.Get("reg.example/app@" + manDigest.String()); err != nil || got.ID != img.ID {
		t.Fatalf("Get by digest: %v", err)
	}
	if _, err := e.is.GC(nil); err != nil {
		t.Fatal(err)
	}
	e.mustCheck(t)
	// A lost snapshot comes back from the compressed blob.
	e.snaps.GC(map[digest.Digest]bool{})
	if _, err := e.is.Check(true); err != nil {
		t.Fatal(err)
	}
	e.mustCheck(t)
	// Untagging the last tag of the repository drops its digest reference
	// too, and with it the image.
	out, err := e.is.Remove("reg.example/app:1", RemoveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Deleted{{Untagged: "reg.example/app:1"}, {Untagged: "reg.example/app@" + manDigest.String()}, {Deleted: img.ID}}
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("rmi: %v", out)
	}
}

// TestCommitEmptyCmd: `CMD []` is stored as [] (Docker's "no command"), not
// dropped as unset (which would mean "inherit"), and reads back as such.
// (`ENTRYPOINT []` is stored as null, as Docker does: the oracle's
// entrypoint-empty case.)
func TestCommitEmptyCmd(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name string
		cfg  v1.Config
		want string
	}{
		{"empty Cmd", v1.Config{Cmd: []string{}}, `"Cmd":[]`},
	} {
		img, err := e.is.Commit(context.Background(), CommitOptions{Config: tc.cfg})
		if err != nil {
			t.Fatal(err)
		}
		blob, err := e.cs.ReadBlob(img.Digest())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(blob, []byte(tc.want)) {
			t.Errorf("%s: config blob lacks %s: %s", tc.name, tc.want, blob)
		}
		got, err := e.is.Get(img.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c := got.Config.Config; c.Cmd == nil {
			t.Errorf("%s: read back as unset: %+v", tc.name, c)
		}
	}
}
