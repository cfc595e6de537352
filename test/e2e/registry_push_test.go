package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// TestRegistryPushKillResume: kill -9 (a crash) or SIGINT (Ctrl-C) while a
// push is in the middle of its second blob, after the first one reached the
// reference registry; the rerun uploads only the blobs that had not, the
// registry then serves the whole image, and the local store is sound
// throughout (the gzip cache never names a partial blob). The cut comes
// either mid-stream (the blob's data half sent, its gzip half written) or
// at the final PUT (data all sent and the gzip complete, but the blob not
// committed in the registry).
func TestRegistryPushKillResume(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sig   syscall.Signal
		stall string // the upload request held: PATCH (mid-stream) or PUT (commit)
	}{
		{"kill-mid-blob", syscall.SIGKILL, http.MethodPatch},
		{"interrupt-mid-blob", syscall.SIGINT, http.MethodPatch},
		{"kill-at-commit", syscall.SIGKILL, http.MethodPut},
	} {
		t.Run(tc.name, func(t *testing.T) { pushKillResume(t, tc.sig, tc.stall) })
	}
}

func pushKillResume(t *testing.T, sig syscall.Signal, stall string) {
	reg := startDistRegistry(t, regAuth{})
	proxy := startPushProxy(t, reg.Addr)
	e := regEnv(t, "")

	// Two local (uncompressed) layers: busybox, and a COPY of 8 MiB that
	// does not compress, so the second upload is long enough to cut.
	big := make([]byte, 8<<20)
	rand.Read(big)
	sum := sha256.Sum256(big)
	ctxDir := writeContext(t, map[string]string{
		"Dockerfile": "FROM " + e.BusyboxImage() + "\nCOPY big.bin /big.bin\n",
		"big.bin":    string(big),
	})
	ref := proxy.Host() + "/resume/push:1"
	e.MustRun("build", "--network", "none", "-t", ref, ctxDir)
	if n := e.Inspect(ref, "{{len .RootFS.Layers}}"); strings.TrimSpace(n) != "2" {
		t.Fatalf("built image has %s layers, want 2", n)
	}

	// Cut the push once one blob is in the registry: the next upload
	// request of the stalled kind is taken in part, then held.
	proxy.stallAfter(1, stall)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := e.Cmd(ctx, "push", ref)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-proxy.stalled:
	case <-ctx.Done():
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the push never reached a second blob upload:\n%s", out.String())
	}
	cmd.Process.Signal(sig)
	err := cmd.Wait()
	if sig == syscall.SIGINT && (err == nil || cmd.ProcessState.ExitCode() == 0) {
		t.Errorf("an interrupted push exited 0:\n%s", out.String())
	}
	proxy.unstall()
	done := proxy.takeCounts()
	if len(done.sent) == 0 {
		t.Fatalf("no blob completed before the cut: %+v", done)
	}
	t.Logf("cut after %v (held %s had sent %d bytes); output:\n%s", done.sortedSent(), stall, proxy.stalledBytes(), out.String())
	if stall == http.MethodPatch && proxy.stalledBytes() == 0 {
		t.Errorf("the held PATCH carried no data: the cut is not mid-blob")
	}

	// What the killed push left must be sound: every gzip the push cache
	// names is a complete, verified blob, and the store checks clean. The
	// first layer's gzip is cached; the second's only when its compression
	// had finished (the cut at the commit), never half written.
	wantCached := 1
	if stall == http.MethodPut {
		wantCached = 2
	}
	if n := checkGzipCache(t, e); n != wantCached {
		t.Errorf("after the cut the gzip cache has %d layers, want %d", n, wantCached)
	}
	if r := e.Run("system", "check"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "ok" {
		t.Errorf("system check after the cut push:\n%s", r)
	}

	// The rerun: only what had not reached the registry goes.
	r := e.MustRun("push", ref)
	again := proxy.takeCounts()
	var m struct {
		Config struct{ Digest digest.Digest }
		Layers []struct{ Digest digest.Digest }
	}
	raw := regSkopeo(t, "inspect", "--tls-verify=false", "--raw", "docker://"+reg.Addr+"/resume/push:1")
	if err := json.Unmarshal([]byte(raw), &m); err != nil || len(m.Layers) != 2 {
		t.Fatalf("manifest in the registry: %v\n%s", err, raw)
	}
	blobs := map[digest.Digest]bool{m.Config.Digest: true}
	doneLayers := 0
	for _, l := range m.Layers {
		blobs[l.Digest] = true
		if done.sent[l.Digest] > 0 {
			doneLayers++
		}
	}
	for d := range done.sent {
		if !blobs[d] {
			t.Errorf("blob %s uploaded before the cut is not in the final manifest", d)
		}
		if again.sent[d] > 0 || again.posts[d] > 0 {
			t.Errorf("blob %s was complete before the cut and went again", d)
		}
	}
	for d := range blobs {
		if done.sent[d] == 0 && again.sent[d] != 1 {
			t.Errorf("blob %s: uploaded %d times by the rerun, want once", d, again.sent[d])
		}
	}
	// Every upload session the rerun opened served a blob it lacked.
	if want := len(blobs) - len(done.sent); again.sessions != want {
		t.Errorf("the rerun opened %d upload sessions, want %d (blobs %d, complete before %d)", again.sessions, want, len(blobs), len(done.sent))
	}
	if got := strings.Count(r.Stdout, "Layer already exists"); got != doneLayers {
		t.Errorf("rerun: %d 'Layer already exists', want %d:\n%s", got, doneLayers, r.Stdout)
	}
	if !strings.Contains(r.Stdout, "1: digest: sha256:") {
		t.Errorf("rerun output lacks the digest line:\n%s", r.Stdout)
	}
	t.Logf("rerun: %d sessions, sent %v\n%s", again.sessions, again.sortedSent(), r.Stdout)
	if n := checkGzipCache(t, e); n != 2 {
		t.Errorf("after the rerun the gzip cache has %d layers, want 2", n)
	}
	if r := e.Run("system", "check"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "ok" {
		t.Errorf("system check after the rerun:\n%s", r)
	}

	// The registry serves a correct image: skopeo reads it, and a fresh
	// store pulls it (directly, not through the proxy) and runs it.
	var insp struct{ Layers []string }
	raw = regSkopeo(t, "inspect", "--tls-verify=false", "docker://"+reg.Addr+"/resume/push:1")
	if err := json.Unmarshal([]byte(raw), &insp); err != nil || len(insp.Layers) != 2 {
		t.Fatalf("skopeo inspect: %v\n%s", err, raw)
	}
	e2 := regEnv(t, "")
	direct := reg.Addr + "/resume/push:1"
	e2.MustRun("pull", direct)
	got := e2.MustRun("run", "--rm", direct, "sha256sum", "/big.bin")
	if f := strings.Fields(got.Stdout); len(f) == 0 || f[0] != hex.EncodeToString(sum[:]) {
		t.Fatalf("pulled /big.bin: %q, want sha256 %x", got.Stdout, sum)
	}
	if r := e2.Run("system", "check"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "ok" {
		t.Errorf("system check of the pulling store:\n%s", r)
	}
	e2.MustRun("rmi", direct)
	e.MustRun("rmi", ref)
}

// checkGzipCache fails the test unless every entry of the push's gzip cache
// (ROOT/registry/state.json) names a blob of the content store that is
// complete: present, of the recorded size, and hashing to its digest. It
// returns the number of entries.
func checkGzipCache(t *testing.T, e *Env) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.Root, "registry", "state.json"))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Gzip map[digest.Digest]struct {
			Digest digest.Digest
			Size   int64
		}
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("registry/state.json: %v\n%s", err, b)
	}
	for diffID, ref := range st.Gzip {
		p := filepath.Join(e.Root, "content", "blobs", ref.Digest.Algorithm().String(), ref.Digest.Encoded())
		f, err := os.Open(p)
		if err != nil {
			t.Errorf("gzip cache: layer %s → %s: %v", diffID, ref.Digest, err)
			continue
		}
		h := sha256.New()
		n, err := io.Copy(h, f)
		f.Close()
		if err != nil || n != ref.Size || digest.NewDigest(digest.SHA256, h) != ref.Digest {
			t.Errorf("gzip cache: layer %s → %s (%d bytes) names a partial or corrupt blob: %d bytes, %v", diffID, ref.Digest, ref.Size, n, err)
		}
	}
	return len(st.Gzip)
}

// ---- a loopback proxy that watches (and can stall) blob uploads -----------

// pushProxy forwards everything to a registry, counts blob uploads per
// digest, and once told to, holds the first upload request (PATCH or PUT of
// an upload session) that comes after a given number of completed blobs.
type pushProxy struct {
	srv *httptest.Server
	rp  *httputil.ReverseProxy

	mu        sync.Mutex
	counts    pushCounts
	after     int    // stall once this many blobs are complete; 0 = never
	method    string // the upload request method stalled (PATCH or PUT)
	stallOnce sync.Once
	stalled   chan struct{} // closed when a request is being held
	release   chan struct{} // closed to let held requests go (with a 503)
	relOnce   sync.Once
	held      int64 // body bytes taken from the held request
}

// pushCounts is what the proxy saw since the last takeCounts.
type pushCounts struct {
	sessions int                   // upload sessions opened (POST answered 202)
	posts    map[digest.Digest]int // POSTs naming a digest (monolithic upload or mount)
	sent     map[digest.Digest]int // blobs whose upload completed (201 to PUT/POST ?digest=)
}

func (c pushCounts) sortedSent() []string {
	var ds []string
	for d, n := range c.sent {
		ds = append(ds, fmt.Sprintf("%s×%d", d.Encoded()[:12], n))
	}
	sort.Strings(ds)
	return ds
}

func startPushProxy(t *testing.T, upstream string) *pushProxy {
	t.Helper()
	u, err := url.Parse("http://" + upstream)
	if err != nil {
		t.Fatal(err)
	}
	p := &pushProxy{rp: httputil.NewSingleHostReverseProxy(u), stalled: make(chan struct{}), release: make(chan struct{})}
	p.counts = newPushCounts()
	p.srv = httptest.NewServer(p)
	t.Cleanup(func() {
		p.unstall()
		p.srv.CloseClientConnections()
		p.srv.Close()
	})
	return p
}

func newPushCounts() pushCounts {
	return pushCounts{posts: map[digest.Digest]int{}, sent: map[digest.Digest]int{}}
}

// Host is host:port; the registry builds upload Locations from the Host
// header, which the proxy passes on, so sessions stay on the proxy.
func (p *pushProxy) Host() string { return strings.TrimPrefix(p.srv.URL, "http://") }

func (p *pushProxy) stallAfter(n int, method string) {
	p.mu.Lock()
	p.after, p.method = n, method
	p.mu.Unlock()
}

func (p *pushProxy) unstall() {
	p.mu.Lock()
	p.after = 0
	p.mu.Unlock()
	p.relOnce.Do(func() { close(p.release) })
}

func (p *pushProxy) stalledBytes() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held
}

func (p *pushProxy) takeCounts() pushCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.counts
	p.counts = newPushCounts()
	return c
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (p *pushProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	upload := strings.Contains(r.URL.Path, "/blobs/uploads/")
	d := digest.Digest(r.URL.Query().Get("digest"))
	if d == "" {
		d = digest.Digest(r.URL.Query().Get("mount"))
	}
	if upload && (r.Method == http.MethodPatch || r.Method == http.MethodPut) {
		p.mu.Lock()
		stall := p.after > 0 && len(p.counts.sent) >= p.after && r.Method == p.method
		p.mu.Unlock()
		if stall {
			// Take part of the body, so the pusher is mid-blob, then hold
			// the request until the test lets go (the server notices no
			// disconnect while a body is unread).
			n, _ := io.CopyN(io.Discard, r.Body, 1<<20)
			p.mu.Lock()
			p.held += n
			p.mu.Unlock()
			p.stallOnce.Do(func() { close(p.stalled) })
			<-p.release
			http.Error(w, "stalled by the test", http.StatusServiceUnavailable)
			return
		}
	}
	rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
	p.rp.ServeHTTP(rec, r)
	if !upload {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch r.Method {
	case http.MethodPost:
		if d != "" {
			p.counts.posts[d]++
		}
		if rec.code == http.StatusAccepted {
			p.counts.sessions++
		}
		if rec.code == http.StatusCreated && r.URL.Query().Get("mount") == "" {
			p.counts.sent[d]++
		}
	case http.MethodPut:
		if d != "" && rec.code == http.StatusCreated {
			p.counts.sent[d]++
		}
	}
}
