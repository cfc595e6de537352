package registry

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/image/imagetest"
)

// TestDockerHubNames pins Docker's normalisation of the names the tutorial
// uses (Docker Hub is not reachable here, so this is where its rules are
// checked) and where each one is pulled from.
func TestDockerHubNames(t *testing.T) {
	cfg := mustConfig(t, `{"registry-mirrors": ["http://127.0.0.1:5000/"]}`)
	c := &Client{cfg: cfg}
	for _, tc := range []struct {
		in, want string
		hosts    []string
		err      string
	}{
		{in: "python:2.7-slim", want: "docker.io/library/python:2.7-slim", hosts: []string{"127.0.0.1:5000", "docker.io"}},
		{in: "username/repository:tag", want: "docker.io/username/repository:tag", hosts: []string{"127.0.0.1:5000", "docker.io"}},
		{in: "busybox", want: "docker.io/library/busybox:latest", hosts: []string{"127.0.0.1:5000", "docker.io"}},
		{in: "docker.io/library/busybox:1", want: "docker.io/library/busybox:1", hosts: []string{"127.0.0.1:5000", "docker.io"}},
		{in: "index.docker.io/user/x", want: "docker.io/user/x:latest", hosts: []string{"127.0.0.1:5000", "docker.io"}},
		{in: "localhost:5000/x", want: "localhost:5000/x:latest", hosts: []string{"localhost:5000"}},
		{in: "127.0.0.1:5000/user/repo:tag", want: "127.0.0.1:5000/user/repo:tag", hosts: []string{"127.0.0.1:5000"}},
		{in: "quay.io/a/b/c:1", want: "quay.io/a/b/c:1", hosts: []string{"quay.io"}},
		{in: "busybox@sha256:" + strings.Repeat("a", 64), want: "docker.io/library/busybox@sha256:" + strings.Repeat("a", 64), hosts: []string{"127.0.0.1:5000", "docker.io"}},
		{in: "user/Repo", err: "must be lowercase"},
		{in: "Python:2.7", err: "must be lowercase"},
		{in: "user/repo:tag with space", err: "invalid reference format"},
		{in: "a/b:" + strings.Repeat("t", 129), err: "invalid reference format"},
		{in: "", err: "invalid reference format"},
	} {
		named, err := image.ParseReference(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errdefs.IsInvalid(err) {
				t.Errorf("%q: err = %v, want %q (invalid)", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || named.String() != tc.want {
			t.Errorf("%q → %v, %v; want %s", tc.in, named, err, tc.want)
			continue
		}
		var hosts []string
		for _, ep := range c.endpoints(named) {
			hosts = append(hosts, ep.host)
		}
		if strings.Join(hosts, " ") != strings.Join(tc.hosts, " ") {
			t.Errorf("%q: endpoints %v, want %v", tc.in, hosts, tc.hosts)
		}
	}
}

func mustConfig(t *testing.T, js string) *Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "berth.json")
	if err := os.WriteFile(p, []byte(js), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConfig(t *testing.T) {
	c := mustConfig(t, `{"insecure-registries": ["myreg:5000", "10.1.0.0/16"], "registry-mirrors": ["https://mirror.example"]}`)
	for host, want := range map[string]bool{
		"127.0.0.1:5000": true, "localhost:80": true, "[::1]:5000": true, "127.9.9.9": true,
		"myreg:5000": true, "myreg:5001": false, "10.1.2.3:443": true, "10.2.0.1:5000": false,
		"192.168.1.1:5000": false, "docker.io": false, "mirror.example": false,
	} {
		if got := c.IsInsecure(host); got != want {
			t.Errorf("IsInsecure(%s) = %v, want %v", host, got, want)
		}
	}
	if c, err := LoadConfig(filepath.Join(t.TempDir(), "missing.json")); err != nil || len(c.Mirrors) != 0 {
		t.Errorf("missing file: %v %v", c, err)
	}
	for _, bad := range []string{`{`, `{"registry-mirrors": ["ftp://x"]}`, `{"registry-mirrors": ["http://x/path"]}`, `{"insecure-registries": ["http://x"]}`} {
		p := filepath.Join(t.TempDir(), "b.json")
		os.WriteFile(p, []byte(bad), 0o600)
		if _, err := LoadConfig(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v, want one naming the file", bad, err)
		}
	}
}

// TestPlainHTTPOnlyWhereAllowed: go-containerregistry would use http:// for
// private addresses on its own; berth refuses unless configured.
func TestPlainHTTPOnlyWhereAllowed(t *testing.T) {
	tr := newBaseTransport(mustConfig(t, `{"insecure-registries": ["10.9.0.0/16"]}`), 0)
	req, _ := http.NewRequest("GET", "http://192.168.77.1:5000/v2/", nil)
	if _, err := tr.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "refusing plain HTTP") {
		t.Fatalf("plain HTTP to an unconfigured private address: %v", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	req, _ = http.NewRequest("GET", srv.URL+"/v2/", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("loopback: %v", err)
	}
	resp.Body.Close()
}

func TestServerKeyAndPlatform(t *testing.T) {
	for in, want := range map[string]string{
		"": IndexServer, "docker.io": IndexServer, "https://index.docker.io/v1/": IndexServer,
		"127.0.0.1:5000": "127.0.0.1:5000", "http://127.0.0.1:5000/": "127.0.0.1:5000", "https://myreg.example/v2/": "myreg.example",
	} {
		if got := ServerKey(in); got != want {
			t.Errorf("ServerKey(%q) = %q, want %q", in, got, want)
		}
	}
	p, err := image.ParsePlatform("linux/arm64")
	if err != nil || platformString(p) != "linux/arm64/v8" {
		t.Errorf("image.ParsePlatform(linux/arm64) = %v, %v", p, err)
	}
	if !matches(p, &v1.Platform{OS: "linux", Architecture: "arm64"}) || matches(p, &v1.Platform{OS: "linux", Architecture: "amd64"}) {
		t.Error("arm64 matching")
	}
	if _, err := image.ParsePlatform("linux/amd64/v2/x"); err == nil {
		t.Error("bad platform accepted")
	}
}

// TestPushPullRoundTrip pushes an imported image to go-containerregistry's
// in-memory registry and pulls it into an empty store.
func TestPushPullRoundTrip(t *testing.T) {
	ctx := context.Background()
	host, src, img := memRegistryAndImage(t, "hello.txt", "hello", "/user/repo:tag")
	stateDir := t.TempDir()
	c := New(src, Options{Keychain: authn.NewMultiKeychain(), StateDir: stateDir})
	named, _ := image.ParseReference(host + "/user/repo:tag")
	res, err := c.Push(ctx, named, PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A second push reuses the cached gzip blob: same manifest digest.
	res2, err := c.Push(ctx, named, PushOptions{})
	if err != nil || res2.Digest != res.Digest {
		t.Fatalf("second push: %v, digest %s vs %s", err, res2.Digest, res.Digest)
	}

	dst := openStore(t)
	pc := New(dst, Options{Keychain: authn.NewMultiKeychain()})
	pr, err := pc.Pull(ctx, named, PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pr.Image.ID != img.ID || pr.Digest != res.Digest || !pr.Downloaded {
		t.Fatalf("pulled %s (digest %s, downloaded %v), pushed %s (%s)", pr.Image.ID, pr.Digest, pr.Downloaded, img.ID, res.Digest)
	}
	pr, err = pc.Pull(ctx, named, PullOptions{})
	if err != nil || pr.Downloaded {
		t.Fatalf("second pull: %v, downloaded %v", err, pr != nil && pr.Downloaded)
	}
	// Unknown tag: Docker's words.
	missing, _ := image.ParseReference(host + "/user/repo:nope")
	if _, err := pc.Pull(ctx, missing, PullOptions{}); err == nil || !strings.Contains(err.Error(), "manifest unknown") || !errdefs.IsNotFound(err) {
		t.Fatalf("missing tag: %v", err)
	}
	// A platform the image is not for.
	if _, err := pc.Pull(ctx, named, PullOptions{Platform: "linux/s390x"}); err == nil || !strings.Contains(err.Error(), "does not match the specified platform") {
		t.Fatalf("wrong platform: %v", err)
	}
}

func openStore(t *testing.T) *image.Store { return imagetest.OpenStore(t) }

// TestCompressUploading: a new local layer is gzipped and uploaded in one
// pass (not through the compress-then-upload fallback), and the gzip is
// kept for the next push.
func TestCompressUploading(t *testing.T) {
	ctx := context.Background()
	host, src, img := memRegistryAndImage(t, "a", "x", "/u/r:1")
	c := New(src, Options{Keychain: authn.NewMultiKeychain(), StateDir: t.TempDir()})
	named, _ := image.ParseReference(host + "/u/r:1")
	repo, _ := c.repoOn(endpoint{host: host}, named)
	lease, err := src.NewLease()
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	l := &pushLayer{c: c, diffID: img.Layers[0].Digest}
	if err := c.compressUploading(ctx, lease, l, img.Layers[0].Digest, repo); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Head("http://" + host + "/v2/u/r/blobs/" + l.digest.String())
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("uploaded blob %s: %v %v", l.digest, resp, err)
	}
	if st := c.readState(); st.Gzip[l.diffID].Digest != l.digest || !src.Content().Exists(l.digest) {
		t.Fatalf("gzip not cached: %+v", st.Gzip)
	}
}

// memRegistryAndImage starts go-containerregistry's in-memory registry for
// the test and imports a one-file image tagged host+path into a fresh
// store. Unpacking layers needs root; the test is skipped without it.
func memRegistryAndImage(t *testing.T, name, content, path string) (host string, src *image.Store, img *image.Image) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("unpacking layers needs root")
	}
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host = strings.TrimPrefix(srv.URL, "http://")
	src = openStore(t)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
	tw.Write([]byte(content))
	tw.Close()
	img, err := src.Import(context.Background(), &buf, image.ImportOptions{Ref: host + path})
	if err != nil {
		t.Fatal(err)
	}
	return host, src, img
}
