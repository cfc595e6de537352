package registry

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/snapshot"
)

// Options configure a Client.
type Options struct {
	Config   *Config        // nil = empty (no mirrors, only loopback insecure)
	Timeout  time.Duration  // registry silence limit; 0 = DefaultTimeout
	Keychain authn.Keychain // nil = Docker's config.json (authn.DefaultKeychain)
	Jobs     int            // parallel layer transfers; 0 = 3, Docker's default
	// StateDir is the registry's own directory under the berth root (the
	// compressed-layer index); "" disables the push cache.
	StateDir string
}

// Client talks to registries on behalf of one image store.
type Client struct {
	cfg      *Config
	base     *baseTransport
	keychain authn.Keychain
	images   *image.Store
	cs       *content.Store
	snaps    *snapshot.Store
	jobs     int
	stateDir string
}

// New returns a Client for images.
func New(images *image.Store, o Options) *Client {
	cfg := o.Config
	if cfg == nil {
		cfg = &Config{}
		cfg.compile()
	}
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = 3
	}
	return &Client{
		cfg: cfg, base: newBaseTransport(cfg, o.Timeout), keychain: kc,
		images: images, cs: images.Content(), snaps: images.Snapshots(),
		jobs: jobs, stateDir: o.StateDir,
	}
}

// classed gives err an errdefs class without adding the class's word to
// its text: registry errors already say what happened ("no such host"),
// and "…: unavailable" would only repeat it.
type classed struct {
	err   error
	class error
}

func (c classed) Error() string   { return c.err.Error() }
func (c classed) Unwrap() []error { return []error{c.err, c.class} }

func unavailable(err error) error    { return classed{err, errdefs.ErrUnavailable} }
func notImplemented(err error) error { return classed{err, errdefs.ErrNotImplemented} }

// authError classifies a failed registry handshake: a 401/403 is Docker's
// "unauthorized" (bad or missing credentials), anything else a registry
// that cannot be used.
func authError(host string, err error) error {
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("%s: %w: %w", host, err, errdefs.ErrInvalid)
	}
	var ue *url.Error
	if !errors.As(err, &te) && !errors.As(err, &ue) {
		// Not a failed request but a bad answer (a token response that is
		// not JSON): the bare decoder error would not say whose.
		return unavailable(fmt.Errorf("%s: authentication handshake: bad answer from the registry or its token service: %w", host, err))
	}
	return unavailable(err) // names the URL already
}

// isUnauthorized reports whether err is a registry's 401/403.
func isUnauthorized(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden
	}
	return strings.Contains(err.Error(), "UNAUTHORIZED") || strings.Contains(err.Error(), "unauthorized")
}

// isNotFound reports whether err is a registry's "no such manifest/repo".
func isNotFound(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		if te.StatusCode == http.StatusNotFound {
			return true
		}
		for _, d := range te.Errors {
			switch d.Code {
			case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode:
				return true
			}
		}
	}
	return false
}
