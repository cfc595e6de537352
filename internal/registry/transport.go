package registry

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/berth/berth/internal/errdefs"
)

// DefaultTimeout bounds how long a registry may stay silent: connecting,
// waiting for response headers, and between two reads of a body.
const DefaultTimeout = 30 * time.Second

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
	if resp.Body != nil {
		resp.Body = &idleTimeoutBody{rc: resp.Body, timeout: t.timeout, host: req.URL.Host}
	}
	return resp, nil
}

// idleTimeoutBody fails a read that waits longer than timeout: a registry
// that stops sending mid-blob must not hang a pull forever.
type idleTimeoutBody struct {
	rc      io.ReadCloser
	timeout time.Duration
	host    string
	once    sync.Once
	timer   *time.Timer
	mu      sync.Mutex
	fired   bool
}

func (b *idleTimeoutBody) Read(p []byte) (int, error) {
	b.once.Do(func() {
		b.timer = time.AfterFunc(b.timeout, func() {
			b.mu.Lock()
			b.fired = true
			b.mu.Unlock()
			b.rc.Close()
		})
	})
	b.timer.Reset(b.timeout)
	n, err := b.rc.Read(p)
	b.mu.Lock()
	fired := b.fired
	b.mu.Unlock()
	if fired && err != nil {
		return n, unavailable(fmt.Errorf("registry %s sent nothing for %s", b.host, b.timeout))
	}
	return n, err
}

func (b *idleTimeoutBody) Close() error {
	if b.timer != nil {
		b.timer.Stop()
	}
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
