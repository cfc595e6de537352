package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/crypto/bcrypt"
)

// ---- the reference registry (Debian's docker-registry) ---------------------

// distRegistry is a docker-registry process of the test's own on
// 127.0.0.1, with its storage and config in a temp dir; both go at cleanup.
type distRegistry struct {
	Addr string // 127.0.0.1:PORT
	Dir  string
}

// regAuth selects the registry's authentication.
type regAuth struct {
	user, pass string       // htpasswd basic auth when set (and token is nil)
	token      *tokenServer // bearer tokens from this server
}

const registryBin = "/usr/bin/docker-registry"

func startDistRegistry(t *testing.T, auth regAuth) *distRegistry {
	t.Helper()
	if _, err := os.Stat(registryBin); err != nil {
		t.Fatalf("%s missing: run scripts/deps.sh docker-registry", registryBin)
	}
	dir := t.TempDir()
	r := &distRegistry{Addr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), Dir: dir}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s/data
  delete:
    enabled: true
http:
  addr: %s
`, dir, r.Addr)
	switch {
	case auth.token != nil:
		cfg += fmt.Sprintf(`auth:
  token:
    realm: %s/token
    service: %s
    issuer: %s
    rootcertbundle: %s
`, auth.token.URL(), tokenService, tokenIssuer, auth.token.certFile(t, dir))
	case auth.user != "":
		hash, err := bcrypt.GenerateFromPassword([]byte(auth.pass), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(auth.user+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: berth-test\n    path: %s/htpasswd\n", dir)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(registryBin, "serve", filepath.Join(dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("registry log:\n%s", b)
		}
	})
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + r.Addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i > 100 {
			t.Fatalf("registry on %s did not come up: %v", r.Addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return r
}

// regEnv is an Env whose berth reads its Docker credentials and berth
// configuration from the test's temp dirs, never the machine's.
func regEnv(t *testing.T, berthJSON string) *Env {
	t.Helper()
	e := newEnv(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "berth.json")
	if berthJSON != "" {
		if err := os.WriteFile(cfg, []byte(berthJSON), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.ExtraEnv = append(e.ExtraEnv, "DOCKER_CONFIG="+filepath.Join(dir, "docker"), "BERTH_CONFIG="+cfg)
	return e
}

func (e *Env) dockerConfigDir() string {
	for _, kv := range e.ExtraEnv {
		if v, ok := strings.CutPrefix(kv, "DOCKER_CONFIG="); ok {
			return v
		}
	}
	return ""
}

// ---- a bearer-token server of the test's own ---------------------------

const (
	tokenService = "berth-test-registry"
	tokenIssuer  = "berth-test-issuer"
)

// tokenServer issues the JWTs docker-registry's "token" auth accepts:
// RS256, signed by a test-generated key whose self-signed certificate is
// the registry's rootcertbundle and travels in the x5c header. It grants
// what is asked to user/pass, and nothing to anonymous clients.
type tokenServer struct {
	srv        *httptest.Server
	key        *rsa.PrivateKey
	der        []byte
	user, pass string
	mu         sync.Mutex
	requests   []string // scopes asked, for assertions
}

func startTokenServer(t *testing.T, user, pass string) *tokenServer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: tokenIssuer},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ts := &tokenServer{key: key, der: der, user: user, pass: pass}
	ts.srv = httptest.NewServer(http.HandlerFunc(ts.serve))
	t.Cleanup(ts.srv.Close)
	return ts
}

// URL is the realm. Named "localhost", not 127.0.0.1: go-containerregistry
// refuses token realms on private IP literals other than the registry's own
// host:port (an SSRF guard), and the token server is another port.
func (ts *tokenServer) URL() string { return strings.Replace(ts.srv.URL, "127.0.0.1", "localhost", 1) }

func (ts *tokenServer) certFile(t *testing.T, dir string) string {
	p := filepath.Join(dir, "token.crt")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (ts *tokenServer) serve(w http.ResponseWriter, r *http.Request) {
	u, p, hasAuth := r.BasicAuth()
	if hasAuth && (u != ts.user || p != ts.pass) {
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"incorrect username or password"}]}`, http.StatusUnauthorized)
		return
	}
	type access struct {
		Type    string   `json:"type"`
		Name    string   `json:"name"`
		Actions []string `json:"actions"`
	}
	grants := []access{}
	for _, s := range r.URL.Query()["scope"] {
		ts.mu.Lock()
		ts.requests = append(ts.requests, s)
		ts.mu.Unlock()
		parts := strings.Split(s, ":")
		if len(parts) != 3 || !hasAuth {
			continue
		}
		grants = append(grants, access{Type: parts[0], Name: parts[1], Actions: strings.Split(parts[2], ",")})
	}
	now := time.Now()
	claims := map[string]any{
		"iss": tokenIssuer, "sub": u, "aud": tokenService, "exp": now.Add(5 * time.Minute).Unix(),
		"nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(), "jti": fmt.Sprint(now.UnixNano()), "access": grants,
	}
	header := map[string]any{"typ": "JWT", "alg": "RS256", "x5c": []string{base64.StdEncoding.EncodeToString(ts.der)}}
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(header) + "." + enc(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, ts.key, crypto.SHA256, sum[:])
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	tok := signing + "." + base64.RawURLEncoding.EncodeToString(sig)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"token": tok, "access_token": tok, "expires_in": 300, "issued_at": now.Format(time.RFC3339)})
}

// ---- images built by the test ---------------------------------------------

// testImage is an image made in the test from the busybox rootfs: a gzip
// layer, its config and a Docker schema 2 manifest.
type testImage struct {
	layer, config, manifest                   []byte
	layerDigest, configDigest, manifestDigest digest.Digest
	diffID                                    digest.Digest
}

// makeTestImage builds a one-layer image from the busybox rootfs tar plus,
// when extra > 0, a file /big.bin of that many random bytes (a layer big
// enough to interrupt).
func makeTestImage(t *testing.T, extra int) *testImage {
	t.Helper()
	src, err := os.Open(busyboxTar(t))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	tr := tar.NewReader(src)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		tw.WriteHeader(h)
		io.Copy(tw, tr)
	}
	if extra > 0 {
		data := make([]byte, extra)
		rand.Read(data)
		tw.WriteHeader(&tar.Header{Name: "big.bin", Mode: 0o644, Size: int64(extra), Typeflag: tar.TypeReg, ModTime: time.Unix(1, 0)})
		tw.Write(data)
	}
	tw.Close()
	return layerImage(raw.Bytes())
}

// layerImage wraps an uncompressed layer tar as a one-layer image: its
// gzip blob, config and Docker schema 2 manifest.
func layerImage(layer []byte) *testImage {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(layer)
	zw.Close()
	img := &testImage{layer: gz.Bytes(), diffID: digest.FromBytes(layer)}
	img.layerDigest = digest.FromBytes(img.layer)
	img.config, _ = json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
		"config": map[string]any{"Cmd": []string{"sh"}, "Env": []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{img.diffID.String()}},
	})
	img.configDigest = digest.FromBytes(img.config)
	img.manifest, _ = json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
		"config": map[string]any{"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(img.config), "digest": img.configDigest},
		"layers": []any{map[string]any{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(img.layer), "digest": img.layerDigest}},
	})
	img.manifestDigest = digest.FromBytes(img.manifest)
	return img
}

// ociArchive writes img as an OCI image layout in a tar (what skopeo's
// oci-archive: transport reads), with OCI media types.
func (img *testImage) ociArchive(t *testing.T, path string) {
	t.Helper()
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "size": len(img.config), "digest": img.configDigest},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": len(img.layer), "digest": img.layerDigest}},
	})
	md := digest.FromBytes(manifest)
	index, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"manifests": []any{map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": len(manifest), "digest": md,
			"annotations": map[string]string{"org.opencontainers.image.ref.name": "latest"}}},
	})
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	add := func(name string, data []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	tw.WriteHeader(&tar.Header{Name: "blobs/", Mode: 0o755, Typeflag: tar.TypeDir})
	tw.WriteHeader(&tar.Header{Name: "blobs/sha256/", Mode: 0o755, Typeflag: tar.TypeDir})
	add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	add("index.json", index)
	add("blobs/sha256/"+md.Encoded(), manifest)
	add("blobs/sha256/"+img.configDigest.Encoded(), img.config)
	add("blobs/sha256/"+img.layerDigest.Encoded(), img.layer)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// ---- a hostile registry of the test's own ---------------------------------

// fakeRegistry serves manifests and blobs from memory on loopback, with a
// hook to misbehave per blob, and records what it was asked.
type fakeRegistry struct {
	srv       *httptest.Server
	mu        sync.Mutex
	manifests map[string]fakeManifest // "repo:ref" → manifest
	blobs     map[digest.Digest][]byte
	hook      func(w http.ResponseWriter, r *http.Request, d digest.Digest, data []byte) bool
	pre       func(w http.ResponseWriter, r *http.Request) bool // any request, before the rest; true = handled
	ranges    []string                                          // Range headers of layer GETs
	served    int64                                             // layer bytes written
}

type fakeManifest struct {
	mediaType string
	body      []byte
}

func startFakeRegistry(t *testing.T) *fakeRegistry {
	t.Helper()
	f := &fakeRegistry{manifests: map[string]fakeManifest{}, blobs: map[digest.Digest][]byte{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.srv.CloseClientConnections()
		f.srv.Close()
	})
	return f
}

func (f *fakeRegistry) Host() string { return strings.TrimPrefix(f.srv.URL, "http://") }

func (f *fakeRegistry) setHook(h func(w http.ResponseWriter, r *http.Request, d digest.Digest, data []byte) bool) {
	f.mu.Lock()
	f.hook = h
	f.mu.Unlock()
}

// addImage serves img as repo:tag (and repo@digest).
func (f *fakeRegistry) addImage(repo, tag string, img *testImage) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := fakeManifest{mediaType: "application/vnd.docker.distribution.manifest.v2+json", body: img.manifest}
	f.manifests[repo+":"+tag] = m
	f.manifests[repo+":"+img.manifestDigest.String()] = m
	f.blobs[img.layerDigest] = img.layer
	f.blobs[img.configDigest] = img.config
}

func (f *fakeRegistry) addManifest(repo, tag, mediaType string, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := fakeManifest{mediaType: mediaType, body: body}
	f.manifests[repo+":"+tag] = m
	f.manifests[repo+":"+digest.FromBytes(body).String()] = m
}

func (f *fakeRegistry) setPre(h func(w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	f.pre = h
	f.mu.Unlock()
}

func (f *fakeRegistry) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	pre := f.pre
	f.mu.Unlock()
	if pre != nil && pre(w, r) {
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/v2/")
	if p == "" {
		w.WriteHeader(http.StatusOK)
		return
	}
	if i := strings.LastIndex(p, "/manifests/"); i >= 0 {
		f.mu.Lock()
		m, ok := f.manifests[p[:i]+":"+p[i+len("/manifests/"):]]
		f.mu.Unlock()
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`)
			return
		}
		w.Header().Set("Content-Type", m.mediaType)
		w.Header().Set("Docker-Content-Digest", digest.FromBytes(m.body).String())
		w.Header().Set("Content-Length", fmt.Sprint(len(m.body)))
		if r.Method != http.MethodHead {
			w.Write(m.body)
		}
		return
	}
	if i := strings.LastIndex(p, "/blobs/"); i >= 0 {
		d := digest.Digest(p[i+len("/blobs/"):])
		f.mu.Lock()
		data, ok := f.blobs[d]
		hook := f.hook
		// Layers only: a pull fetches the config again after any failure
		// (it is stored only with the image), and the checks of resumed
		// downloads are about layers.
		isLayer := len(data) == 0 || data[0] != '{'
		if r.Method == http.MethodGet && isLayer {
			f.ranges = append(f.ranges, r.Header.Get("Range"))
		}
		f.mu.Unlock()
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}`)
			return
		}
		if hook != nil && hook(w, r, d, data) {
			return
		}
		var off int64
		if rg := r.Header.Get("Range"); rg != "" {
			fmt.Sscanf(rg, "bytes=%d-", &off)
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, len(data)-1, len(data)))
			w.Header().Set("Content-Length", fmt.Sprint(int64(len(data))-off))
			w.WriteHeader(http.StatusPartialContent)
		} else {
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		}
		n, _ := w.Write(data[off:])
		if isLayer {
			f.mu.Lock()
			f.served += int64(n)
			f.mu.Unlock()
		}
		return
	}
	http.NotFound(w, r)
}

// layerTar is an uncompressed layer holding files (path → content), in
// path order with fixed times, so equal inputs give equal layers.
func layerTar(files map[string][]byte) []byte {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg, ModTime: time.Unix(1, 0)})
		tw.Write(files[n])
	}
	tw.Close()
	return buf.Bytes()
}

// addLayers serves repo:tag as a Docker schema 2 image of the given
// uncompressed layers (gzipped here, deterministically: images that share
// a layer share its blob) and returns the image's config digest, its ID.
func (f *fakeRegistry) addLayers(repo, tag string, layers ...[]byte) digest.Digest {
	var diffIDs []string
	var descs []any
	blobs := map[digest.Digest][]byte{}
	for _, raw := range layers {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(raw)
		zw.Close()
		d := digest.FromBytes(gz.Bytes())
		blobs[d] = gz.Bytes()
		diffIDs = append(diffIDs, digest.FromBytes(raw).String())
		descs = append(descs, map[string]any{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": gz.Len(), "digest": d})
	}
	config, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
		"config": map[string]any{"Cmd": []string{"sh"}, "Env": []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	cd := digest.FromBytes(config)
	blobs[cd] = config
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
		"config": map[string]any{"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config), "digest": cd},
		"layers": descs,
	})
	f.mu.Lock()
	for d, b := range blobs {
		f.blobs[d] = b
	}
	f.mu.Unlock()
	f.addManifest(repo, tag, "application/vnd.docker.distribution.manifest.v2+json", manifest)
	return cd
}
