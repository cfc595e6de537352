package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// hostileTimeout bounds each hostile pull: a berth that hangs on a
// misbehaving registry fails the test here rather than hanging CI.
const hostileTimeout = 90 * time.Second

// hostilePull runs a pull that must fail: within hostileTimeout, exit
// non-zero, one line of error naming the reference and each of want, and
// nothing stored.
func hostilePull(t *testing.T, e *Env, ref string, want ...string) {
	t.Helper()
	e.Timeout = hostileTimeout
	start := time.Now()
	r := e.Run("pull", ref)
	if r.Code == 0 {
		t.Fatalf("pull succeeded:\n%s", r)
	}
	msg := strings.TrimSpace(r.Stderr)
	if strings.Contains(msg, "\n") {
		t.Errorf("error is not one line:\n%s", msg)
	}
	repo, _, _ := strings.Cut(ref, ":latest")
	for _, w := range append([]string{repo}, want...) {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q:\n%s", w, msg)
		}
	}
	t.Logf("after %s: %s", time.Since(start).Round(100*time.Millisecond), msg)
	nothingStored(t, e)
}

// nothingStored checks that a failed pull left no image, no blob and no
// committed snapshot, and that the store is consistent (partial ingests,
// kept for a resumed download, are allowed).
func nothingStored(t *testing.T, e *Env) {
	t.Helper()
	if out := strings.TrimSpace(e.MustRun("images", "-qa").Stdout); out != "" {
		t.Errorf("a failed pull left images: %s", out)
	}
	if ents, _ := os.ReadDir(filepath.Join(e.Root, "content", "blobs", "sha256")); len(ents) > 0 {
		var names []string
		for _, ent := range ents {
			names = append(names, ent.Name())
		}
		t.Errorf("a failed pull left blobs: %v", names)
	}
	ents, _ := os.ReadDir(filepath.Join(e.Root, "snapshots"))
	for _, ent := range ents {
		if n := ent.Name(); n != "" && n[0] >= '0' && n[0] <= '9' {
			t.Errorf("a failed pull committed a snapshot: snapshots/%s", n)
		}
	}
	if r := e.Run("system", "check"); r.Code != 0 {
		t.Errorf("system check after a failed pull:\n%s", r)
	}
}

// manifestFor is a schema 2 manifest naming config and one layer with the
// given sizes (which may lie).
func manifestFor(config []byte, configSize int, layer digest.Digest, layerSize int) []byte {
	m, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
		"config": map[string]any{"mediaType": "application/vnd.docker.container.image.v1+json", "size": configSize, "digest": digest.FromBytes(config)},
		"layers": []any{map[string]any{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": layerSize, "digest": layer}},
	})
	return m
}

const schema2 = "application/vnd.docker.distribution.manifest.v2+json"

// TestRegistryHostileInput: registries that lie about sizes, send without
// end, send malformed documents, redirect in circles, trickle, or answer
// the token request with garbage. Each pull fails within its deadline with
// a one-line error naming the image and what was wrong, and stores nothing.
// (TestRegistryHostile covers wrong digests, truncation, missing blobs,
// schema 1, manifest lists and a registry that stops sending.)
func TestRegistryHostileInput(t *testing.T) {
	fake := startFakeRegistry(t)
	img := makeTestImage(t, 0)
	fake.addImage("h/img", "latest", img)
	host := fake.Host()
	// slow is a berth env whose registry stall limit is 2 s.
	slow := func(t *testing.T) *Env {
		e := regEnv(t, "")
		e.ExtraEnv = append(e.ExtraEnv, "BERTH_REGISTRY_TIMEOUT=2s")
		return e
	}
	chunked := func(w http.ResponseWriter) {
		w.Header().Del("Content-Length")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush() // headers out now: no Content-Length, chunked
	}

	t.Run("layer size bigger than the blob", func(t *testing.T) {
		fake.addManifest("h/big", "latest", schema2, manifestFor(img.config, len(img.config), img.layerDigest, len(img.layer)+100))
		hostilePull(t, regEnv(t, ""), host+"/h/big:latest", img.layerDigest.String(), "size mismatch", fmt.Sprint(len(img.layer)+100))
	})
	t.Run("layer size smaller than the blob", func(t *testing.T) {
		fake.addManifest("h/small", "latest", schema2, manifestFor(img.config, len(img.config), img.layerDigest, len(img.layer)-100))
		hostilePull(t, regEnv(t, ""), host+"/h/small:latest", img.layerDigest.String(), "size mismatch")
	})
	t.Run("config size bigger than the blob", func(t *testing.T) {
		fake.addManifest("h/bigcfg", "latest", schema2, manifestFor(img.config, len(img.config)+1, img.layerDigest, len(img.layer)))
		hostilePull(t, regEnv(t, ""), host+"/h/bigcfg:latest", img.configDigest.String(), "size mismatch")
	})
	t.Run("size bigger, no Content-Length", func(t *testing.T) {
		fake.addManifest("h/bigchunk", "latest", schema2, manifestFor(img.config, len(img.config), img.layerDigest, len(img.layer)+100))
		fake.setPre(func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasPrefix(r.URL.Path, "/v2/h/bigchunk/blobs/"+img.layerDigest.String()) {
				return false
			}
			chunked(w)
			w.Write(img.layer)
			return true
		})
		defer fake.setPre(nil)
		hostilePull(t, regEnv(t, ""), host+"/h/bigchunk:latest", img.layerDigest.String(), "truncated")
	})
	t.Run("size smaller, no Content-Length", func(t *testing.T) {
		fake.addManifest("h/smallchunk", "latest", schema2, manifestFor(img.config, len(img.config), img.layerDigest, len(img.layer)-100))
		fake.setPre(func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasPrefix(r.URL.Path, "/v2/h/smallchunk/blobs/"+img.layerDigest.String()) {
				return false
			}
			chunked(w)
			w.Write(img.layer)
			return true
		})
		defer fake.setPre(nil)
		hostilePull(t, regEnv(t, ""), host+"/h/smallchunk:latest", img.layerDigest.String(), "digest mismatch")
	})
	t.Run("endless blob", func(t *testing.T) {
		// The right bytes, then zeros for ever: berth stops one byte past
		// the manifest's size and fails rather than store or read on.
		var sent atomic.Int64
		fake.addManifest("h/endless", "latest", schema2, img.manifest)
		fake.setPre(func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasPrefix(r.URL.Path, "/v2/h/endless/blobs/"+img.layerDigest.String()) {
				return false
			}
			chunked(w)
			n, _ := w.Write(img.layer)
			sent.Add(int64(n))
			zeros := make([]byte, 32<<10)
			for r.Context().Err() == nil {
				n, err := w.Write(zeros)
				sent.Add(int64(n))
				if err != nil {
					break
				}
			}
			return true
		})
		defer fake.setPre(nil)
		hostilePull(t, regEnv(t, ""), host+"/h/endless:latest", img.layerDigest.String(), fmt.Sprintf("sent more than the %d bytes", len(img.layer)))
		t.Logf("the registry wrote %d bytes (blob %d) before berth hung up", sent.Load(), len(img.layer))
	})
	t.Run("endless garbage blob", func(t *testing.T) {
		fake.addManifest("h/garbage", "latest", schema2, img.manifest)
		fake.setPre(func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasPrefix(r.URL.Path, "/v2/h/garbage/blobs/"+img.layerDigest.String()) {
				return false
			}
			chunked(w)
			junk := []byte(strings.Repeat("junk", 8<<10))
			for r.Context().Err() == nil {
				if _, err := w.Write(junk); err != nil {
					break
				}
			}
			return true
		})
		defer fake.setPre(nil)
		hostilePull(t, regEnv(t, ""), host+"/h/garbage:latest", img.layerDigest.String(), "digest mismatch")
	})
	t.Run("endless manifest", func(t *testing.T) {
		fake.setPre(func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasPrefix(r.URL.Path, "/v2/h/hugemanifest/manifests/") {
				return false
			}
			w.Header().Set("Content-Type", schema2)
			chunked(w)
			w.Write([]byte(`{"schemaVersion":2,"layers":[`))
			pad := []byte(strings.Repeat(" ", 32<<10))
			for r.Context().Err() == nil {
				if _, err := w.Write(pad); err != nil {
					break
				}
			}
			return true
		})
		defer fake.setPre(nil)
		hostilePull(t, regEnv(t, ""), host+"/h/hugemanifest:latest", "more than the 4194304 bytes allowed")
	})
	t.Run("huge declared manifest", func(t *testing.T) {
		fake.setPre(func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasPrefix(r.URL.Path, "/v2/h/declared/manifests/") {
				return false
			}
			w.Header().Set("Content-Type", schema2)
			w.Header().Set("Content-Length", fmt.Sprint(1<<30))
			w.WriteHeader(http.StatusOK)
			w.Write([]byte(`{"schemaVersion":2}`))
			return true
		})
		defer fake.setPre(nil)
		hostilePull(t, regEnv(t, ""), host+"/h/declared:latest", "1073741824 bytes, more than the 4194304 allowed")
	})
	t.Run("malformed manifest JSON", func(t *testing.T) {
		fake.addManifest("h/badjson", "latest", schema2, []byte(`{"schemaVersion":2,"config":{"digest":`))
		hostilePull(t, regEnv(t, ""), host+"/h/badjson:latest", "malformed manifest JSON")
	})
	t.Run("malformed manifest list", func(t *testing.T) {
		list := "application/vnd.docker.distribution.manifest.list.v2+json"
		fake.addManifest("h/badlist", "latest", list, []byte(`{"schemaVersion":2,"manifests":[{"digest":"sha256:zz"`))
		hostilePull(t, regEnv(t, ""), host+"/h/badlist:latest", "malformed manifest list JSON")
		body := fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"mediaType":%q,"size":0,"digest":%q,"platform":{"architecture":"amd64","os":"linux"}}]}`, schema2, img.manifestDigest)
		fake.addManifest("h/badentry", "latest", list, []byte(body))
		hostilePull(t, regEnv(t, ""), host+"/h/badentry:latest", "manifest list entry 0", "bad size 0")
	})
	t.Run("manifest list entry served with other bytes", func(t *testing.T) {
		// The list names the image's manifest; asked for it by digest, the
		// registry answers with another manifest.
		list := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[`+
			`{"mediaType":%q,"size":%d,"digest":%q,"platform":{"architecture":"amd64","os":"linux"}}]}`, schema2, len(img.manifest), img.manifestDigest)
		fake.addManifest("h/swap", "latest", "application/vnd.docker.distribution.manifest.list.v2+json", []byte(list))
		other := manifestFor(img.config, len(img.config), img.layerDigest, len(img.layer)+1)
		fake.mu.Lock()
		fake.manifests["h/swap:"+img.manifestDigest.String()] = fakeManifest{mediaType: schema2, body: other}
		fake.mu.Unlock()
		hostilePull(t, regEnv(t, ""), host+"/h/swap:latest", "does not match requested digest", img.manifestDigest.String())
	})
	t.Run("manifest with bad descriptors", func(t *testing.T) {
		fake.addManifest("h/baddesc", "latest", schema2, manifestFor(img.config, -5, img.layerDigest, len(img.layer)))
		hostilePull(t, regEnv(t, ""), host+"/h/baddesc:latest", "config", "bad size -5")
	})
	t.Run("malformed config JSON", func(t *testing.T) {
		cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[`)
		fake.mu.Lock()
		fake.blobs[digest.FromBytes(cfg)] = cfg
		fake.mu.Unlock()
		fake.addManifest("h/badcfg", "latest", schema2, manifestFor(cfg, len(cfg), img.layerDigest, len(img.layer)))
		hostilePull(t, regEnv(t, ""), host+"/h/badcfg:latest", digest.FromBytes(cfg).String(), "malformed image config JSON")
	})
	t.Run("config with bad diff IDs", func(t *testing.T) {
		cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:abc"]}}`)
		fake.mu.Lock()
		fake.blobs[digest.FromBytes(cfg)] = cfg
		fake.mu.Unlock()
		fake.addManifest("h/baddiff", "latest", schema2, manifestFor(cfg, len(cfg), img.layerDigest, len(img.layer)))
		hostilePull(t, regEnv(t, ""), host+"/h/baddiff:latest", "malformed image config JSON", "sha256: abc")
	})
	t.Run("bad manifest media type", func(t *testing.T) {
		fake.addManifest("h/html", "latest", "text/html", img.manifest)
		hostilePull(t, regEnv(t, ""), host+"/h/html:latest", `unsupported manifest media type "text/html"`)
	})
	t.Run("manifest redirect loop", func(t *testing.T) {
		fake.setPre(func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasPrefix(r.URL.Path, "/v2/h/loop/manifests/") {
				return false
			}
			http.Redirect(w, r, r.URL.Path, http.StatusFound)
			return true
		})
		defer fake.setPre(nil)
		hostilePull(t, regEnv(t, ""), host+"/h/loop:latest", "stopped after 10 redirects")
	})
	t.Run("blob redirect loop", func(t *testing.T) {
		fake.addManifest("h/bloop", "latest", schema2, img.manifest)
		fake.setPre(func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasPrefix(r.URL.Path, "/v2/h/bloop/blobs/") {
				return false
			}
			http.Redirect(w, r, r.URL.Path, http.StatusFound)
			return true
		})
		defer fake.setPre(nil)
		hostilePull(t, regEnv(t, ""), host+"/h/bloop:latest", "stopped after 10 redirects")
	})
	// trickle sends body one byte every 50 ms: 20 B/s, far below what a
	// registry must sustain.
	trickle := func(w http.ResponseWriter, r *http.Request, body []byte) {
		for _, b := range body {
			if r.Context().Err() != nil {
				return
			}
			if _, err := w.Write([]byte{b}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Run("slow-loris blob", func(t *testing.T) {
		fake.addManifest("h/slowblob", "latest", schema2, img.manifest)
		fake.setPre(func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasPrefix(r.URL.Path, "/v2/h/slowblob/blobs/"+img.layerDigest.String()) {
				return false
			}
			w.Header().Set("Content-Length", fmt.Sprint(len(img.layer)))
			trickle(w, r, img.layer)
			return true
		})
		defer fake.setPre(nil)
		hostilePull(t, slow(t), host+"/h/slowblob:latest", img.layerDigest.String(), "too slow")
	})
	t.Run("slow-loris manifest", func(t *testing.T) {
		fake.setPre(func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasPrefix(r.URL.Path, "/v2/h/slowmanifest/manifests/") {
				return false
			}
			w.Header().Set("Content-Type", schema2)
			w.Header().Set("Content-Length", fmt.Sprint(len(img.manifest)))
			trickle(w, r, img.manifest)
			return true
		})
		defer fake.setPre(nil)
		hostilePull(t, slow(t), host+"/h/slowmanifest:latest", "too slow")
	})
	t.Run("no response headers", func(t *testing.T) {
		fake.setPre(func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasPrefix(r.URL.Path, "/v2/h/mute/") {
				return false
			}
			<-r.Context().Done()
			return true
		})
		defer fake.setPre(nil)
		hostilePull(t, slow(t), host+"/h/mute:latest", "timeout awaiting response headers")
	})
	t.Run("token endpoint returns garbage", func(t *testing.T) {
		tok := startFakeRegistry(t)
		tok.addImage("h/img", "latest", img)
		tok.setPre(func(w http.ResponseWriter, r *http.Request) bool {
			switch {
			case r.URL.Path == "/token":
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`<html>garbage{`))
				return true
			case r.Header.Get("Authorization") == "":
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="fake"`, tok.Host()))
				w.WriteHeader(http.StatusUnauthorized)
				return true
			}
			return false
		})
		hostilePull(t, regEnv(t, ""), tok.Host()+"/h/img:latest", "authentication handshake", "invalid character")
	})
}
