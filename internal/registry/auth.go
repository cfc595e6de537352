package registry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/credentials"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/berth/berth/internal/errdefs"
)

// IndexServer is the key Docker stores Docker Hub credentials under.
const IndexServer = "https://index.docker.io/v1/"

// ServerKey normalises a login/logout SERVER argument as the Docker CLI
// does: empty or any Docker Hub alias → IndexServer; anything else → its
// host[:port] (scheme and path dropped).
func ServerKey(server string) string {
	switch strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://"), "/") {
	case "", "docker.io", "index.docker.io", "registry-1.docker.io", "index.docker.io/v1":
		return IndexServer
	}
	return credentials.ConvertToHostname(server)
}

// registryHost is the host to contact for a credentials key.
func registryHost(key string) string {
	if key == IndexServer {
		return name.DefaultRegistry
	}
	return key
}

// LoginOptions are `login`'s.
type LoginOptions struct {
	Server   string // "" = Docker Hub
	Username string
	Password string
}

// ConfigFilePath is the Docker config.json credentials go to.
func ConfigFilePath() string { return config.Dir() + "/" + config.ConfigFileName }

// Login checks the credentials against the registry (the same handshake a
// pull does: ping, then basic auth or a bearer token) and, if they work,
// stores them in Docker's config.json, through the configured credential
// helper if there is one. It returns the key they were stored under and
// whether they went to the file in plain (base64) form.
func (c *Client) Login(ctx context.Context, o LoginOptions) (key string, plain bool, err error) {
	key = ServerKey(o.Server)
	host := registryHost(key)
	if o.Username == "" || o.Password == "" {
		return key, false, fmt.Errorf("username and password required: %w", errdefs.ErrInvalid)
	}
	reg, err := c.registryName(host)
	if err != nil {
		return key, false, err
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: o.Username, Password: o.Password})
	tr, err := transport.NewWithContext(ctx, reg, auth, c.base, nil)
	if err != nil {
		return key, false, loginError(host, err)
	}
	// A basic-auth registry accepted nothing yet: ask /v2/ with the
	// credentials, as Docker does.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, reg.Scheme()+"://"+reg.RegistryStr()+"/v2/", nil)
	if err != nil {
		return key, false, err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return key, false, loginError(host, err)
	}
	err = transport.CheckError(resp, http.StatusOK)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return key, false, loginError(host, err)
	}

	cf, err := config.Load(config.Dir())
	if err != nil {
		return key, false, fmt.Errorf("docker config: %w", err)
	}
	store := cf.GetCredentialsStore(key)
	if err := store.Store(types.AuthConfig{Username: o.Username, Password: o.Password, ServerAddress: key}); err != nil {
		return key, false, fmt.Errorf("error saving credentials: %w", err)
	}
	plain = cf.CredentialsStore == "" && cf.CredentialHelpers[key] == ""
	// Credentials are secrets: owner-only, whatever the umask or an older
	// file's mode said.
	os.Chmod(cf.Filename, 0o600)
	return key, plain, nil
}

func loginError(host string, err error) error {
	if isUnauthorized(err) {
		return fmt.Errorf("login to %s: %v: %w", host, err, errdefs.ErrInvalid)
	}
	return unavailable(fmt.Errorf("login to %s: %w", host, err))
}

// Logout removes the stored credentials of server. It reports false when
// there were none (Docker then says "Not logged in to …").
func Logout(server string) (key string, removed bool, err error) {
	key = ServerKey(server)
	cf, err := config.Load(config.Dir())
	if err != nil {
		return key, false, fmt.Errorf("docker config: %w", err)
	}
	_, inFile := cf.AuthConfigs[key]
	store := cf.GetCredentialsStore(key)
	if !inFile {
		if ac, err := store.Get(key); err != nil || (ac.Username == "" && ac.Password == "" && ac.IdentityToken == "") {
			return key, false, nil
		}
	}
	if err := store.Erase(key); err != nil {
		return key, false, fmt.Errorf("could not erase credentials for %s: %w", key, err)
	}
	os.Chmod(cf.Filename, 0o600)
	return key, true, nil
}
