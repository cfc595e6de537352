package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// TestRegistryShareFlow is the tutorial's "share your image" against the
// reference registry with htpasswd basic auth: tag, login, push, remove
// locally, run from the registry (which pulls), logout.
func TestRegistryShareFlow(t *testing.T) {
	reg := startDistRegistry(t, regAuth{user: "alice", pass: "s3cret"})
	e := regEnv(t, "")
	img := e.BusyboxImage()
	ref := reg.Addr + "/username/repository:tag"
	e.MustRun("tag", img, ref)

	// Without credentials the registry refuses.
	if r := e.Run("push", ref); r.Code == 0 || !strings.Contains(strings.ToLower(r.Stderr), "unauthorized") {
		t.Fatalf("anonymous push: want unauthorized\n%s", r)
	}
	// A wrong password is a 401, and nothing is stored.
	r := e.RunStdin("wrong\n", "login", "-u", "alice", "--password-stdin", reg.Addr)
	if r.Code == 0 || !strings.Contains(strings.ToLower(r.Stderr), "unauthorized") {
		t.Fatalf("bad password: want unauthorized\n%s", r)
	}
	if _, err := os.Stat(filepath.Join(e.dockerConfigDir(), "config.json")); err == nil {
		b, _ := os.ReadFile(filepath.Join(e.dockerConfigDir(), "config.json"))
		if strings.Contains(string(b), reg.Addr) {
			t.Fatalf("failed login stored credentials: %s", b)
		}
	}
	r = e.RunStdin("s3cret\n", "login", "-u", "alice", "--password-stdin", reg.Addr)
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "Login Succeeded" {
		t.Fatalf("login:\n%s", r)
	}
	cfgPath := filepath.Join(e.dockerConfigDir(), "config.json")
	fi, err := os.Stat(cfgPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config.json: %v mode %v, want 0600", err, fi.Mode())
	}
	var cf struct {
		Auths map[string]struct{ Auth string } `json:"auths"`
	}
	b, _ := os.ReadFile(cfgPath)
	if json.Unmarshal(b, &cf) != nil || cf.Auths[reg.Addr].Auth == "" {
		t.Fatalf("config.json lacks auths[%s]: %s", reg.Addr, b)
	}

	r = e.MustRun("push", ref)
	for _, want := range []string{"The push refers to repository [" + reg.Addr + "/username/repository]", ": Pushed", "tag: digest: sha256:"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("push output lacks %q:\n%s", want, r.Stdout)
		}
	}
	// Pushing again sends nothing.
	r = e.MustRun("push", ref)
	if !strings.Contains(r.Stdout, "Layer already exists") {
		t.Errorf("second push:\n%s", r.Stdout)
	}
	// Another repository of the same registry gets the layer by mount.
	other := reg.Addr + "/username/other:1"
	e.MustRun("tag", img, other)
	r = e.MustRun("push", other)
	if !strings.Contains(r.Stdout, "Mounted from username/repository") {
		t.Errorf("push to a second repository did not mount:\n%s", r.Stdout)
	}

	e.MustRun("rmi", ref, other, img)
	r = e.MustRun("run", "--rm", ref, "echo", "hello from the registry")
	if strings.TrimSpace(r.Stdout) != "hello from the registry" {
		t.Fatalf("run from registry:\n%s", r)
	}
	for _, want := range []string{"Unable to find image '" + ref + "' locally", "tag: Pulling from username/repository", "Pull complete", "Digest: sha256:", "Status: Downloaded newer image for " + ref} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("implicit pull output lacks %q:\n%s", want, r.Stderr)
		}
	}
	if got := e.Inspect(ref, "{{json .RepoDigests}}"); !strings.Contains(got, reg.Addr+"/username/repository@sha256:") {
		t.Errorf("RepoDigests = %s", got)
	}
	// pull of what is present: up to date; -q prints only the name.
	r = e.MustRun("pull", ref)
	if !strings.Contains(r.Stdout, "Status: Image is up to date for "+ref) || !strings.HasSuffix(strings.TrimSpace(r.Stdout), ref) {
		t.Errorf("pull of a present image:\n%s", r.Stdout)
	}
	if r := e.MustRun("pull", "-q", ref); strings.TrimSpace(r.Stdout) != ref {
		t.Errorf("pull -q printed %q", r.Stdout)
	}
	// By digest (what RepoDigests names).
	byDigest := strings.Trim(e.Inspect(ref, "{{index .RepoDigests 0}}"), "\n")
	r = e.MustRun("pull", byDigest)
	if !strings.Contains(r.Stdout, "sha256:") || !strings.Contains(r.Stdout, ": Pulling from username/repository") {
		t.Errorf("pull by digest:\n%s", r.Stdout)
	}
	// images --digests shows it beside the tag of the same repository.
	_, dgst, _ := strings.Cut(byDigest, "@")
	if r := e.MustRun("images", "--digests", "--format", "{{.Repository}}:{{.Tag}} {{.Digest}}", reg.Addr+"/username/repository"); !strings.Contains(r.Stdout, ref+" "+dgst) {
		t.Errorf("images --digests:\n%s", r.Stdout)
	}

	// On a terminal: Docker's per-layer lines, redrawn in place.
	e.MustRun("rmi", ref)
	pt := e.RunPTY("", "pull", ref)
	if pt.Code != 0 || !strings.Contains(pt.Output, "Pull complete") || !strings.Contains(pt.Output, "\x1b[") {
		t.Errorf("pull on a terminal (code %d):\n%q", pt.Code, pt.Output)
	}
	// -a: every tag of a repository, both ways.
	tags := reg.Addr + "/username/many"
	e.MustRun("tag", ref, tags+":a")
	e.MustRun("tag", ref, tags+":b")
	r = e.MustRun("push", "-a", tags)
	if strings.Count(r.Stdout, ": digest: sha256:") != 2 {
		t.Errorf("push -a:\n%s", r.Stdout)
	}
	e.MustRun("rmi", tags+":a", tags+":b")
	r = e.MustRun("pull", "-a", tags)
	if !strings.Contains(r.Stdout, tags+":a") || !strings.Contains(r.Stdout, tags+":b") {
		t.Errorf("pull -a:\n%s", r.Stdout)
	}
	e.MustRun("rmi", tags+":a", tags+":b")

	r = e.MustRun("logout", reg.Addr)
	if strings.TrimSpace(r.Stdout) != "Removing login credentials for "+reg.Addr {
		t.Fatalf("logout:\n%s", r)
	}
	b, _ = os.ReadFile(cfgPath)
	if strings.Contains(string(b), reg.Addr) {
		t.Fatalf("logout left credentials: %s", b)
	}
	if r := e.MustRun("logout", reg.Addr); strings.TrimSpace(r.Stdout) != "Not logged in to "+reg.Addr {
		t.Errorf("second logout: %q", r.Stdout)
	}
	e.MustRun("rmi", ref)
}

// TestRegistryBearerToken: Docker Hub's flow (401 with a Bearer challenge,
// token from the realm with basic credentials, scoped) against the
// reference registry and a token server of the test's own.
func TestRegistryBearerToken(t *testing.T) {
	ts := startTokenServer(t, "bob", "tokenpass")
	reg := startDistRegistry(t, regAuth{token: ts})
	e := regEnv(t, "")
	ref := reg.Addr + "/bob/app:v1"
	e.MustRun("tag", e.BusyboxImage(), ref)
	if r := e.RunStdin("nope\n", "login", "-u", "bob", "--password-stdin", reg.Addr); r.Code == 0 {
		t.Fatalf("login with a bad password succeeded:\n%s", r)
	}
	if r := e.Run("push", ref); r.Code == 0 {
		t.Fatalf("anonymous push succeeded:\n%s", r)
	}
	e.MustRun("login", "-u", "bob", "-p", "tokenpass", reg.Addr)
	e.MustRun("push", ref)
	e.MustRun("rmi", ref)
	r := e.MustRun("pull", ref)
	if !strings.Contains(r.Stdout, "Status: Downloaded newer image for "+ref) {
		t.Fatalf("pull:\n%s", r)
	}
	if r := e.MustRun("run", "--rm", ref, "true"); r.Code != 0 {
		t.Fatal(r)
	}
	asked := strings.Join(ts.requests, " ")
	if !strings.Contains(asked, "repository:bob/app:push,pull") || !strings.Contains(asked, "repository:bob/app:pull") {
		t.Errorf("token scopes asked: %s", asked)
	}
	e.MustRun("rmi", ref)
}

func regSkopeo(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "skopeo", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestRegistrySkopeoInterop: skopeo reads what berth pushed, and berth
// pulls and runs what skopeo pushed (an OCI image made by the test).
func TestRegistrySkopeoInterop(t *testing.T) {
	reg := startDistRegistry(t, regAuth{})
	e := regEnv(t, "")
	ref := reg.Addr + "/interop/berth:1"
	e.MustRun("tag", e.BusyboxImage(), ref)
	r := e.MustRun("push", ref)
	i := strings.Index(r.Stdout, "digest: ")
	pushed := strings.Fields(r.Stdout[i+len("digest: "):])[0]

	var insp struct {
		Digest string
		Layers []string
		Os     string
	}
	out := regSkopeo(t, "inspect", "--tls-verify=false", "docker://"+ref)
	if err := json.Unmarshal([]byte(out), &insp); err != nil || insp.Digest != pushed || len(insp.Layers) != 1 || insp.Os != "linux" {
		t.Fatalf("skopeo inspect of berth's push (want digest %s): %v\n%s", pushed, err, out)
	}
	dir := t.TempDir()
	regSkopeo(t, "copy", "--src-tls-verify=false", "docker://"+ref, "oci:"+filepath.Join(dir, "layout")+":x")

	img := makeTestImage(t, 0)
	arch := filepath.Join(dir, "img.oci.tar")
	img.ociArchive(t, arch)
	sref := reg.Addr + "/interop/skopeo:oci"
	regSkopeo(t, "copy", "--dest-tls-verify=false", "oci-archive:"+arch, "docker://"+sref)
	e.MustRun("pull", sref)
	if got := e.Inspect(sref, "{{.Id}}"); got != img.configDigest.String() {
		t.Errorf("pulled image ID %s, want the config digest %s", got, img.configDigest)
	}
	r = e.MustRun("run", "--rm", sref, "sh", "-c", "echo skopeo-pushed")
	if strings.TrimSpace(r.Stdout) != "skopeo-pushed" {
		t.Fatal(r)
	}
	// And back out: berth pushes a pulled OCI image unchanged.
	back := reg.Addr + "/interop/back:1"
	e.MustRun("tag", sref, back)
	e.MustRun("push", back)
	out = regSkopeo(t, "inspect", "--tls-verify=false", "--raw", "docker://"+back)
	if !strings.Contains(out, "application/vnd.oci.image.manifest.v1+json") {
		t.Errorf("re-pushed manifest is not the OCI one:\n%s", out)
	}
	// A local layer on a pulled base: the base goes as it came, the new
	// layer gzipped, in a schema 2 manifest everyone reads.
	c := e.Name("reg-commit")
	e.MustRun("run", "--name", c, sref, "sh", "-c", "echo added > /added")
	committed := reg.Addr + "/interop/committed:1"
	e.MustRun("commit", c, committed)
	e.MustRun("rm", c)
	e.MustRun("push", committed)
	out = regSkopeo(t, "inspect", "--tls-verify=false", "docker://"+committed)
	if err := json.Unmarshal([]byte(out), &insp); err != nil || len(insp.Layers) != 2 || insp.Layers[0] != img.layerDigest.String() {
		t.Fatalf("skopeo inspect of a commit on a pulled base: %v\n%s", err, out)
	}
	e.MustRun("rmi", committed, sref, back)
	if r := e.MustRun("run", "--rm", committed, "cat", "/added"); strings.TrimSpace(r.Stdout) != "added" {
		t.Fatalf("committed image from the registry:\n%s", r)
	}
	e.MustRun("rmi", ref, committed, e.BusyboxImage())
}

// TestRegistryMirror: with a loopback mirror configured (registry-mirrors),
// docker.io names resolve through it; a name the mirror lacks falls back to
// docker.io, unreachable here, which fails clearly.
func TestRegistryMirror(t *testing.T) {
	mirror := startDistRegistry(t, regAuth{})
	e := regEnv(t, fmt.Sprintf(`{"registry-mirrors": ["http://%s"]}`, mirror.Addr))
	// The mirror holds library/python:2.7-slim (busybox standing in for it).
	e.MustRun("tag", e.BusyboxImage(), mirror.Addr+"/library/python:2.7-slim")
	e.MustRun("push", mirror.Addr+"/library/python:2.7-slim")
	e.MustRun("rmi", mirror.Addr+"/library/python:2.7-slim", e.BusyboxImage())

	r := e.MustRun("pull", "python:2.7-slim")
	for _, want := range []string{"2.7-slim: Pulling from library/python", "Status: Downloaded newer image for python:2.7-slim", "docker.io/library/python:2.7-slim"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("pull through mirror lacks %q:\n%s", want, r.Stdout)
		}
	}
	if got := e.Inspect("python:2.7-slim", "{{json .RepoTags}} {{json .RepoDigests}}"); !strings.Contains(got, `"python:2.7-slim"`) || !strings.Contains(got, `python@sha256:`) {
		t.Errorf("names after a mirror pull: %s", got)
	}
	e.MustRun("rmi", "python:2.7-slim")
	r = e.MustRun("run", "--rm", "python:2.7-slim", "echo", "via mirror")
	if strings.TrimSpace(r.Stdout) != "via mirror" || !strings.Contains(r.Stderr, "Unable to find image 'python:2.7-slim' locally") {
		t.Fatalf("implicit pull through the mirror:\n%s", r)
	}
	e.MustRun("rmi", "python:2.7-slim")

	e.ExtraEnv = append(e.ExtraEnv, "BERTH_REGISTRY_TIMEOUT=5s")
	r = e.Run("pull", "python:3.99-absent")
	if r.Code == 0 || !strings.Contains(r.Stderr, "mirror http://"+mirror.Addr) || !strings.Contains(r.Stderr, "docker.io") {
		t.Fatalf("a name the mirror lacks: want a fallback error naming the mirror and docker.io\n%s", r)
	}
}

// pullFails runs a pull that must fail and checks that its error names
// what and that nothing was stored.
func pullFails(t *testing.T, e *Env, ref string, want ...string) Result {
	t.Helper()
	r := e.Run("pull", ref)
	if r.Code == 0 {
		t.Fatalf("pull succeeded:\n%s", r)
	}
	for _, w := range want {
		if !strings.Contains(r.Stderr, w) {
			t.Errorf("error lacks %q:\n%s", w, r.Stderr)
		}
	}
	if out := e.MustRun("images", "-q").Stdout; strings.TrimSpace(out) != "" {
		t.Errorf("a failed pull left images: %s", out)
	}
	t.Logf("error as shown: %s", strings.TrimSpace(r.Stderr))
	return r
}

// blobExists reports whether the content store of e holds blob d.
func blobExists(e *Env, d digest.Digest) bool {
	_, err := os.Stat(filepath.Join(e.Root, "content", "blobs", "sha256", d.Encoded()))
	return err == nil
}

// TestRegistryHostile: a registry of the test's own that lies or stalls.
func TestRegistryHostile(t *testing.T) {
	fake := startFakeRegistry(t)
	img := makeTestImage(t, 0)
	fake.addImage("h/img", "latest", img)
	ref := fake.Host() + "/h/img:latest"
	// resumes checks that a good pull after a failed one works and asks
	// only for the rest of the blob the failure left partial.
	resumes := func(t *testing.T, e *Env) {
		t.Helper()
		fake.mu.Lock()
		fake.ranges = nil
		fake.mu.Unlock()
		e.MustRun("pull", ref)
		if r := e.MustRun("run", "--rm", ref, "echo", "ok"); strings.TrimSpace(r.Stdout) != "ok" {
			t.Fatal(r)
		}
		fake.mu.Lock()
		got := strings.Join(fake.ranges, ",")
		fake.mu.Unlock()
		// The config is fetched whole again (a failed pull keeps no
		// blob), the partial layer resumed.
		if !strings.Contains(got, "bytes=") {
			t.Errorf("the good pull did not resume the partial blob (Range headers %q)", got)
		}
		e.MustRun("rmi", ref)
	}

	t.Run("wrong digest", func(t *testing.T) {
		e := regEnv(t, "")
		fake.setHook(func(w http.ResponseWriter, r *http.Request, d digest.Digest, data []byte) bool {
			if d != img.layerDigest {
				return false
			}
			bad := append([]byte{}, data...)
			bad[len(bad)/2] ^= 0xff
			w.Write(bad)
			return true
		})
		defer fake.setHook(nil)
		pullFails(t, e, ref, img.layerDigest.String(), "digest mismatch")
		if blobExists(e, img.layerDigest) {
			t.Error("the corrupt layer became a blob")
		}
	})
	t.Run("wrong digest, content still unpacks", func(t *testing.T) {
		// Another gzip header time: a valid stream of the same size and the
		// same tar, but not the blob the manifest names.
		e := regEnv(t, "")
		fake.setHook(func(w http.ResponseWriter, r *http.Request, d digest.Digest, data []byte) bool {
			if d != img.layerDigest {
				return false
			}
			bad := append([]byte{}, data...)
			bad[4] ^= 0x01
			w.Write(bad)
			return true
		})
		defer fake.setHook(nil)
		pullFails(t, e, ref, img.layerDigest.String(), "digest mismatch")
		if blobExists(e, img.layerDigest) {
			t.Error("the wrong layer became a blob")
		}
		ents, _ := os.ReadDir(filepath.Join(e.Root, "snapshots"))
		for _, ent := range ents {
			if n := ent.Name(); n != "" && n[0] >= '0' && n[0] <= '9' {
				t.Errorf("a snapshot was committed from the wrong blob: snapshots/%s", n)
			}
		}
	})
	t.Run("wrong config", func(t *testing.T) {
		e := regEnv(t, "")
		fake.setHook(func(w http.ResponseWriter, r *http.Request, d digest.Digest, data []byte) bool {
			if d != img.configDigest {
				return false
			}
			w.Write([]byte(strings.Replace(string(data), "amd64", "AMD64", 1)))
			return true
		})
		defer fake.setHook(nil)
		pullFails(t, e, ref, img.configDigest.String(), "digest")
		if blobExists(e, img.configDigest) {
			t.Error("the corrupt config became a blob")
		}
	})
	t.Run("truncated blob", func(t *testing.T) {
		e := regEnv(t, "")
		fake.setHook(func(w http.ResponseWriter, r *http.Request, d digest.Digest, data []byte) bool {
			if d != img.layerDigest {
				return false
			}
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
			w.Write(data[:len(data)/2])
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
				}
			}
			return true
		})
		defer fake.setHook(nil)
		pullFails(t, e, ref, img.layerDigest.String(), "truncated")
		if blobExists(e, img.layerDigest) {
			t.Error("the truncated layer became a blob")
		}
		fake.setHook(nil)
		resumes(t, e)
	})
	t.Run("manifest names a missing blob", func(t *testing.T) {
		e := regEnv(t, "")
		missing := digest.FromString("not there")
		m := strings.Replace(string(img.manifest), img.layerDigest.String(), missing.String(), 1)
		fake.addManifest("h/missing", "latest", "application/vnd.docker.distribution.manifest.v2+json", []byte(m))
		pullFails(t, e, fake.Host()+"/h/missing", missing.String(), "missing blob")
	})
	t.Run("schema 1", func(t *testing.T) {
		e := regEnv(t, "")
		fake.addManifest("h/old", "latest", "application/vnd.docker.distribution.manifest.v1+prettyjws", []byte(`{"schemaVersion":1,"name":"h/old","tag":"latest","fsLayers":[],"history":[]}`))
		pullFails(t, e, fake.Host()+"/h/old", "unsupported", "schema 1")
	})
	t.Run("manifest list", func(t *testing.T) {
		e := regEnv(t, "")
		list := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[`+
			`{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":%d,"digest":"%s","platform":{"architecture":"arm64","os":"linux","variant":"v8"}},`+
			`{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":%d,"digest":"%s","platform":{"architecture":"amd64","os":"linux"}}]}`,
			len(img.manifest), digest.FromString("arm64 manifest"), len(img.manifest), img.manifestDigest)
		fake.addManifest("h/multi", "latest", "application/vnd.docker.distribution.manifest.list.v2+json", []byte(list))
		fake.addManifest("h/multi", img.manifestDigest.String(), "application/vnd.docker.distribution.manifest.v2+json", img.manifest)
		if r := e.Run("pull", "--platform", "linux/s390x", fake.Host()+"/h/multi"); r.Code == 0 || !strings.Contains(r.Stderr, "no matching manifest for linux/s390x in the manifest list entries") {
			t.Fatalf("platform absent from the list:\n%s", r)
		}
		r := e.MustRun("pull", fake.Host()+"/h/multi")
		if !strings.Contains(r.Stdout, "Digest: "+digest.FromString(list).String()) {
			t.Errorf("a list's pull shows the list digest:\n%s", r.Stdout)
		}
		if got := e.Inspect(fake.Host()+"/h/multi", "{{.Id}}"); got != img.configDigest.String() {
			t.Errorf("picked %s, want the amd64 image %s", got, img.configDigest)
		}
		e.MustRun("rmi", fake.Host()+"/h/multi")
	})
	t.Run("registry hangs", func(t *testing.T) {
		e := regEnv(t, "")
		release := make(chan struct{})
		fake.setHook(func(w http.ResponseWriter, r *http.Request, d digest.Digest, data []byte) bool {
			if d != img.layerDigest {
				return false
			}
			w.Header().Set("Content-Length", fmt.Sprint(len(data)))
			w.Write(data[:len(data)/3])
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return true
		})
		defer func() {
			close(release)
			fake.setHook(nil)
		}()
		saved := e.ExtraEnv
		e.ExtraEnv = append(append([]string{}, saved...), "BERTH_REGISTRY_TIMEOUT=2s")
		pullFails(t, e, ref, img.layerDigest.String(), "sent nothing for 2s")
		e.ExtraEnv = saved
		fake.setHook(nil)
		resumes(t, e)
	})
}

// TestRegistryKillResume: kill -9 (a crash) or SIGINT (Ctrl-C) in the
// middle of a layer's download; the next pull asks only for the rest (HTTP
// Range) and the image is complete.
func TestRegistryKillResume(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) { killResume(t, sig) })
	}
}

func killResume(t *testing.T, sig syscall.Signal) {
	fake := startFakeRegistry(t)
	img := makeTestImage(t, 16<<20)
	fake.addImage("k/img", "latest", img)
	e := regEnv(t, "")
	ref := fake.Host() + "/k/img:latest"

	half := len(img.layer) / 2
	sent := make(chan struct{})
	release := make(chan struct{})
	fake.setHook(func(w http.ResponseWriter, r *http.Request, d digest.Digest, data []byte) bool {
		if d != img.layerDigest {
			return false
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		w.Write(data[:half])
		w.(http.Flusher).Flush()
		close(sent)
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return true
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := e.Cmd(ctx, "pull", ref)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sent:
	case <-ctx.Done():
		t.Fatal("the pull never asked for the layer")
	}
	// Let the received half reach the ingest, then kill.
	e.Eventually("half the layer is in the ingest", func() bool {
		var total int64
		filepath.Walk(filepath.Join(e.Root, "content", "ingest"), func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.Name() == "data" {
				total += fi.Size()
			}
			return nil
		})
		return total >= int64(half)/2
	})
	cmd.Process.Signal(sig)
	err := cmd.Wait()
	if sig == syscall.SIGINT && (err == nil || cmd.ProcessState.ExitCode() == 0) {
		t.Errorf("an interrupted pull exited 0")
	}
	close(release)
	fake.setHook(nil)

	fake.mu.Lock()
	fake.served, fake.ranges = 0, nil
	fake.mu.Unlock()
	e.MustRun("pull", ref)
	fake.mu.Lock()
	served, ranges := fake.served, strings.Join(fake.ranges, ",")
	fake.mu.Unlock()
	// The first ranged request is the layer's: an interrupted pull keeps
	// its partial ingest but discards the (small) config it had stored,
	// which is fetched whole again.
	var off int64
	for _, rg := range strings.Split(ranges, ",") {
		if rg != "" {
			fmt.Sscanf(rg, "bytes=%d-", &off)
			break
		}
	}
	if off <= 0 || served >= int64(len(img.layer)) {
		t.Fatalf("the rerun fetched %d of %d bytes (Range %q): not a resume", served, len(img.layer), ranges)
	}
	t.Logf("resumed at %d; fetched %d of %d bytes", off, served, len(img.layer))
	r := e.MustRun("run", "--rm", ref, "sh", "-c", "wc -c < /big.bin")
	if strings.TrimSpace(r.Stdout) != fmt.Sprint(16<<20) {
		t.Fatalf("resumed layer content:\n%s", r)
	}
	e.MustRun("rmi", ref)
}

// TestRegistryCredentialHelper: with "credsStore" in config.json, login
// stores the secret through the helper (docker-credential-NAME store) and
// pushes and pulls get it back from it; nothing secret lands in the file.
func TestRegistryCredentialHelper(t *testing.T) {
	reg := startDistRegistry(t, regAuth{user: "carol", pass: "helper-pass"})
	e := regEnv(t, "")
	bin := t.TempDir()
	store := filepath.Join(t.TempDir(), "store")
	if err := os.MkdirAll(store, 0o700); err != nil {
		t.Fatal(err)
	}
	// The helper protocol: the verb as argument, JSON or the server URL on
	// stdin. Secrets are kept one file per server.
	helper := `#!/bin/sh
set -e
dir=` + store + `
case "$1" in
store) in=$(cat); url=$(printf '%s' "$in" | sed -n 's/.*"ServerURL":"\([^"]*\)".*/\1/p'); printf '%s' "$in" >"$dir/$(printf '%s' "$url" | tr '/:' '__')" ;;
get) url=$(cat); f="$dir/$(printf '%s' "$url" | tr '/:' '__')"; if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
erase) url=$(cat); rm -f "$dir/$(printf '%s' "$url" | tr '/:' '__')" ;;
list) echo '{}' ;;
esac
`
	if err := os.WriteFile(filepath.Join(bin, "docker-credential-berthtest"), []byte(helper), 0o755); err != nil {
		t.Fatal(err)
	}
	cfgDir := e.dockerConfigDir()
	if err := os.MkdirAll(cfgDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(`{"credsStore": "berthtest"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	e.ExtraEnv = append(e.ExtraEnv, "PATH="+bin+":"+os.Getenv("PATH"))

	r := e.RunStdin("helper-pass\n", "login", "-u", "carol", "--password-stdin", reg.Addr)
	if r.Code != 0 || strings.Contains(r.Stderr, "stored unencrypted") {
		t.Fatalf("login through a credential helper:\n%s", r)
	}
	b, _ := os.ReadFile(filepath.Join(cfgDir, "config.json"))
	if strings.Contains(string(b), "helper-pass") || strings.Contains(string(b), `"auth"`) {
		t.Fatalf("the secret went to config.json: %s", b)
	}
	ents, _ := os.ReadDir(store)
	if len(ents) != 1 {
		t.Fatalf("the helper stored %d entries", len(ents))
	}
	ref := reg.Addr + "/carol/app:1"
	e.MustRun("tag", e.BusyboxImage(), ref)
	e.MustRun("push", ref)
	e.MustRun("rmi", ref)
	e.MustRun("pull", ref)
	e.MustRun("logout", reg.Addr)
	if ents, _ := os.ReadDir(store); len(ents) != 0 {
		t.Errorf("logout left %d helper entries", len(ents))
	}
	if r := e.Run("push", ref); r.Code == 0 {
		t.Errorf("push after logout succeeded")
	}
	e.MustRun("rmi", ref)
}

// TestRegistryConcurrentPulls: two processes pulling the same image into
// one root share the download (the second waits for the first's ingest)
// and both succeed.
func TestRegistryConcurrentPulls(t *testing.T) {
	fake := startFakeRegistry(t)
	img := makeTestImage(t, 8<<20)
	fake.addImage("c/img", "latest", img)
	e := regEnv(t, "")
	ref := fake.Host() + "/c/img:latest"
	results := make(chan Result, 2)
	for i := 0; i < 2; i++ {
		go func() { results <- e.Run("pull", "-q", ref) }()
	}
	for i := 0; i < 2; i++ {
		if r := <-results; r.Code != 0 {
			t.Errorf("concurrent pull:\n%s", r)
		}
	}
	fake.mu.Lock()
	served := fake.served
	fake.mu.Unlock()
	if served >= 2*int64(len(img.layer)) {
		t.Errorf("the layer was downloaded twice (%d bytes for a %d-byte blob)", served, len(img.layer))
	}
	if r := e.MustRun("run", "--rm", ref, "true"); r.Code != 0 {
		t.Fatal(r)
	}
	e.MustRun("rmi", ref)
}
