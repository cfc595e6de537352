package registry

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/berth/berth/internal/errdefs"
)

// DefaultTimeout bounds how long a registry may stall: connecting,
// waiting for response headers, and each window in which a body must make
// progress (minProgress bytes, or its end).
const DefaultTimeout = 30 * time.Second

// minProgress is what a response body must deliver in every timeout window
// (unless it ends first): a registry that trickles bytes (a slow-loris) is
// given up rather than waited for, while any usable link (above ~550 B/s
// with the 30 s default) passes. A window rather than a total deadline, so
// that a big layer on a slow but steady link still completes.
const minProgress = 16 << 10

// maxRedirects is net/http's default limit, which Docker keeps too.
const maxRedirects = 10

// baseTransport is the HTTP layer under go-containerregistry's auth: it
// refuses plain HTTP to hosts that were not allowed it and skips
// certificate verification only for configured insecure registries.
type baseTransport struct {
	cfg      *Config
	secure   *http.Transport
	insecure *http.Transport
	timeout  time.Duration

	mu   sync.Mutex
	memo map[string]bool
}

func newBaseTransport(cfg *Config, timeout time.Duration) *baseTransport {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	mk := func(skipVerify bool) *http.Transport {
		return &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
			ExpectContinueTimeout: time.Second,
			MaxIdleConnsPerHost:   8,
			IdleConnTimeout:       90 * time.Second,
			// Layers are already compressed; transparent gzip would only
			// hide the Content-Length that progress and checks rely on.
			DisableCompression: true,
			// Large buffers: a layer is one long stream.
			ReadBufferSize:  256 << 10,
			WriteBufferSize: 256 << 10,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: skipVerify, MinVersion: tls.VersionTLS12},
		}
	}
	return &baseTransport{cfg: cfg, secure: mk(false), insecure: mk(true), timeout: timeout, memo: map[string]bool{}}
}

func (t *baseTransport) isInsecure(host string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.memo[host]
	if !ok {
		v = t.cfg.IsInsecure(host)
		t.memo[host] = v
	}
	return v
}

// RoundTrip enforces the plain-HTTP rule. go-containerregistry on its own
// would also try http:// for private (RFC 1918) addresses and *.local
// names; Docker does not, and neither does berth.
func (t *baseTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// go-containerregistry's redirect check (an SSRF guard) replaces
	// net/http's default one and with it the limit of 10 redirects: a
	// registry that redirects to itself would be followed for ever. The
	// chain of redirects so far hangs off req.Response.
	hops := 0
	for r := req; r.Response != nil && r.Response.Request != nil; r = r.Response.Request {
		if hops++; hops > maxRedirects {
			return nil, fmt.Errorf("stopped after %d redirects (a redirect loop?): %w", maxRedirects, errdefs.ErrInvalid)
		}
	}
	insecure := t.isInsecure(req.URL.Host)
	if req.URL.Scheme == "http" && !insecure {
		return nil, fmt.Errorf("refusing plain HTTP to %s: not a loopback or configured insecure registry (see insecure-registries in the berth configuration): %w", req.URL.Host, errdefs.ErrInvalid)
	}
	var resp *http.Response
	var err error
	if insecure {
		resp, err = t.insecure.RoundTrip(req)
	} else {
		resp, err = t.secure.RoundTrip(req)
	}
	if err != nil {
		return nil, err
	}
	if req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/manifests/") && resp.Body != nil {
		// go-containerregistry reads up to 100 MiB of a manifest; Docker and
		// containerd stop at 4 MiB, and so does berth.
		lb := &limitBody{rc: resp.Body, left: maxManifestSize, url: req.URL.String()}
		if resp.ContentLength > maxManifestSize {
			// Failed on the first read, not here: an error from RoundTrip
			// would come back wrapped in the URL once more.
			lb.left, lb.declared = -1, resp.ContentLength
		}
		resp.Body = lb
	}
	if resp.Body != nil {
		resp.Body = newProgressBody(resp.Body, t.timeout, req.URL.Host)
	}
	return resp, nil
}

// limitBody fails a manifest body that goes on past maxManifestSize
// (rather than cutting it, which would only report a digest mismatch).
type limitBody struct {
	rc       io.ReadCloser
	left     int64
	url      string
	declared int64 // a Content-Length over the limit
}

func (b *limitBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, b.err()
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return 0, b.err()
	}
	return n, err
}

func (b *limitBody) err() error {
	if b.declared > 0 {
		return fmt.Errorf("manifest %s is %d bytes, more than the %d allowed: %w", b.url, b.declared, maxManifestSize, errdefs.ErrInvalid)
	}
	return fmt.Errorf("manifest %s is more than the %d bytes allowed: %w", b.url, maxManifestSize, errdefs.ErrInvalid)
}

func (b *limitBody) Close() error { return b.rc.Close() }

// progressBody fails a body that delivers fewer than minProgress bytes in
// a timeout window before its end: a registry that stops sending, or
// trickles, mid-transfer must not hang a pull. The window is checked by a
// timer, so a Read blocked on a silent connection is failed too (the timer
// closes the body under it).
type progressBody struct {
	rc      io.ReadCloser
	timeout time.Duration
	host    string

	mu    sync.Mutex
	timer *time.Timer
	got   int64 // bytes in the current window
	done  bool  // EOF, error or Close: no more checks
	fired bool
	short int64 // bytes the failed window delivered
}

func newProgressBody(rc io.ReadCloser, timeout time.Duration, host string) *progressBody {
	b := &progressBody{rc: rc, timeout: timeout, host: host}
	b.timer = time.AfterFunc(timeout, b.check)
	return b
}

// check ends a window: enough progress re-arms the timer, too little
// closes the body (failing the Read in progress).
func (b *progressBody) check() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return
	}
	if b.got >= minProgress {
		b.got = 0
		b.timer.Reset(b.timeout)
		return
	}
	b.fired, b.short, b.done = true, b.got, true
	b.rc.Close()
}

func (b *progressBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.got += int64(n)
	if b.fired {
		if b.short == 0 {
			return n, unavailable(fmt.Errorf("registry %s sent nothing for %s", b.host, b.timeout))
		}
		return n, unavailable(fmt.Errorf("registry %s sent only %d bytes in %s (less than %d): too slow, giving up", b.host, b.short, b.timeout, minProgress))
	}
	if err != nil && !b.done {
		b.done = true
		b.timer.Stop()
	}
	return n, err
}

func (b *progressBody) Close() error {
	b.mu.Lock()
	b.done = true
	b.timer.Stop()
	b.mu.Unlock()
	return b.rc.Close()
}

// registryName is go-containerregistry's name for host, insecure (so that
// its ping also tries plain HTTP) when berth allows it.
func (c *Client) registryName(host string) (name.Registry, error) {
	var opts []name.Option
	if c.cfg.IsInsecure(host) {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, opts...)
	if err != nil {
		return name.Registry{}, fmt.Errorf("registry %q: %v: %w", host, err, errdefs.ErrInvalid)
	}
	return reg, nil
}

// authTransport pings repo's registry and returns a transport that
// authenticates (anonymous, basic or bearer token, per the registry's
// challenge) with the keychain's credentials for the given scopes.
func (c *Client) authTransport(ctx context.Context, repo name.Repository, scopes []string) (http.RoundTripper, error) {
	auth, err := c.keychain.Resolve(repo)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", repo.RegistryStr(), err)
	}
	tr, err := transport.NewWithContext(ctx, repo.Registry, auth, c.base, scopes)
	if err != nil {
		return nil, authError(repo.RegistryStr(), err)
	}
	return tr, nil
}

// authenticator returns the keychain's credentials for a registry.
func (c *Client) authenticator(reg name.Registry) (authn.Authenticator, error) {
	return c.keychain.Resolve(reg)
}
