package registry

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"
)

// manifestSeeds are real documents (Docker schema 2, OCI, a manifest list)
// and near misses.
func manifestSeeds() []string {
	d := func(s string) string { return digest.FromString(s).String() }
	cfg := fmt.Sprintf(`{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":[%q,%q]}}`, d("l1"), d("l2"))
	return []string{
		fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1469,"digest":%q},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":2814559,"digest":%q},{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":32,"digest":%q}]}`, d("c"), d("a"), d("b")),
		fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":%q},"layers":[],"annotations":{"a":"b"}}`, d("{}")),
		fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":528,"digest":%q,"platform":{"architecture":"amd64","os":"linux"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":%q,"platform":{"architecture":"arm","os":"linux","variant":"v7"}}]}`, d("m1"), d("m2")),
		`{"schemaVersion":2,"config":{"size":-1,"digest":"sha256:00"},"layers":[{"size":0,"digest":"md5:abc"}]}`,
		`{"schemaVersion":1,"name":"x","tag":"latest","fsLayers":[{"blobSum":"sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"}]}`,
		`{"schemaVersion":2,"config":{"size":9223372036854775807,"digest":"sha512:` + strings.Repeat("ab", 64) + `"}}`,
		`{"schemaVersion":2,"manifests":[{"size":1,"digest":"sha256:"}]}`,
		cfg,
		`{"rootfs":{"diff_ids":["sha256:zz"]}}`, `{"created":"not a time"}`, `null`, `[]`, `{`, ``, `{"schemaVersion":"2"}`,
	}
}

// FuzzManifest feeds arbitrary bytes to the decoders of what a registry
// sends on pull (manifest, manifest list/index, image config). Properties:
// no panic; a rejection says what is wrong; an accepted manifest has
// schema version 2, every descriptor's digest valid (so hashing with its
// algorithm cannot panic) and its size positive (the config's and an
// index entry's within their limits); an accepted document re-encodes to
// JSON that decodes to the same descriptors.
func FuzzManifest(f *testing.F) {
	for _, s := range manifestSeeds() {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(2))
	}
	f.Fuzz(func(t *testing.T, raw []byte, layers uint8) {
		valid := func(what string, d v1.Descriptor, max int64) {
			t.Helper()
			dg := digest.Digest(d.Digest.String())
			if err := dg.Validate(); err != nil {
				t.Fatalf("%s: accepted with digest %q: %v", what, dg, err)
			}
			_ = dg.Algorithm().Hash() // must not panic
			if d.Size <= 0 || (max > 0 && d.Size > max) {
				t.Fatalf("%s: accepted with size %d", what, d.Size)
			}
		}
		if m, err := decodeManifest(raw); err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
		} else {
			if m.SchemaVersion != 2 {
				t.Fatalf("accepted schemaVersion %d", m.SchemaVersion)
			}
			valid("config", m.Config, maxConfigSize)
			for i, l := range m.Layers {
				valid(fmt.Sprint("layer ", i), l, 0)
			}
			re, err := json.Marshal(m)
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			again, err := decodeManifest(re)
			if err != nil || again.Config.Digest != m.Config.Digest || len(again.Layers) != len(m.Layers) {
				t.Fatalf("re-encoded manifest %s decodes to %+v, %v", re, again, err)
			}
			for i := range m.Layers {
				if again.Layers[i].Digest != m.Layers[i].Digest || again.Layers[i].Size != m.Layers[i].Size {
					t.Fatalf("layer %d changed in the round trip: %+v → %+v", i, m.Layers[i], again.Layers[i])
				}
			}
		}
		if idx, err := decodeIndex(raw); err == nil {
			for i, m := range idx.Manifests {
				valid(fmt.Sprint("entry ", i), m, maxManifestSize)
			}
			re, _ := json.Marshal(idx)
			if again, err := decodeIndex(re); err != nil || len(again.Manifests) != len(idx.Manifests) {
				t.Fatalf("re-encoded index %s decodes to %+v, %v", re, again, err)
			}
		} else if err.Error() == "" {
			t.Fatal("empty error")
		}
		if cf, err := decodeConfig(raw, int(layers%4)); err == nil {
			if len(cf.RootFS.DiffIDs) != int(layers%4) {
				t.Fatalf("config with %d diff IDs accepted for %d layers", len(cf.RootFS.DiffIDs), layers%4)
			}
			for _, h := range cf.RootFS.DiffIDs {
				if err := digest.Digest(h.String()).Validate(); err != nil {
					t.Fatalf("config accepted with diff ID %q", h)
				}
			}
		} else if err.Error() == "" {
			t.Fatal("empty error")
		}
	})
}

// TestManifestLimit: a registry that sends a manifest larger than 4 MiB
// (declared or endless) is refused after at most that much, naming it.
func TestManifestLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/declared") {
			w.Header().Set("Content-Length", fmt.Sprint(maxManifestSize+1))
		}
		chunk := []byte(strings.Repeat(" ", 64<<10))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	tr := newBaseTransport(mustConfig(t, `{}`), 5*time.Second)
	for _, p := range []string{"/v2/x/manifests/declared", "/v2/x/manifests/endless"} {
		resp, err := (&http.Client{Transport: tr}).Get(srv.URL + p)
		if err == nil {
			var n int64
			n, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if n > maxManifestSize {
				t.Errorf("%s: read %d bytes", p, n)
			}
		}
		if err == nil || !strings.Contains(err.Error(), "more than the 4194304") || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v, want the manifest named as too large", p, err)
		}
	}
}

// TestSlowBody: a body that stalls or trickles fails within about one
// window with a message saying which; a steady one completes.
func TestSlowBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/stall":
			w.Write([]byte("x"))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		case "/trickle":
			for r.Context().Err() == nil {
				if _, err := w.Write([]byte("x")); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				time.Sleep(10 * time.Millisecond)
			}
		case "/steady":
			for i := 0; i < 8; i++ {
				w.Write(make([]byte, 64<<10))
				w.(http.Flusher).Flush()
				time.Sleep(100 * time.Millisecond)
			}
		}
	}))
	defer srv.Close()
	tr := newBaseTransport(mustConfig(t, `{}`), time.Second)
	for _, tc := range []struct{ path, want string }{
		{"/stall", "sent only 1 bytes in 1s"},
		{"/trickle", "too slow"},
		{"/steady", ""},
	} {
		resp, err := (&http.Client{Transport: tr}).Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.path, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.path, err, tc.want)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: gave up after %s", tc.path, d)
		}
	}
}

// TestRedirectLoop: go-containerregistry's own redirect policy has no
// limit; the transport stops a registry that redirects to itself.
func TestRedirectLoop(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Redirect(w, r, r.URL.Path, http.StatusFound)
	}))
	defer srv.Close()
	tr := newBaseTransport(mustConfig(t, `{}`), 5*time.Second)
	// A CheckRedirect that allows everything, as go-containerregistry's does.
	c := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
	_, err := c.Get(srv.URL + "/v2/x/manifests/latest")
	if err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Fatalf("err = %v", err)
	}
	if got := n.Load(); got != maxRedirects+1 {
		t.Errorf("%d requests, want %d", got, maxRedirects+1)
	}
}

// TestCountReaderOverrun: a blob body that goes on past the descriptor's
// size (chunked, so no Content-Length said so) fails on the read that
// completes the blob, even when those bytes are the right ones; one that
// ends there passes.
func TestCountReaderOverrun(t *testing.T) {
	blob := "the blob"
	d := digest.FromString(blob)
	for _, tc := range []struct {
		body, want string
	}{
		{blob, ""},
		{blob + "and more", "sent more than the 8 bytes"},
		{"the blo", "truncated: the registry sent 7 of 8 bytes"},
		{"the blub", "digest mismatch"},
	} {
		cr := &countReader{r: strings.NewReader(tc.body), size: int64(len(blob)), h: d.Algorithm().Hash(), d: d}
		_, err := io.ReadAll(io.LimitReader(cr, int64(len(blob))))
		if tc.want == "" {
			if err != nil {
				t.Errorf("%q: %v", tc.body, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.body, err, tc.want)
		}
	}
}
