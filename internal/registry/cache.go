package registry

import (
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/fsutil"
)

// state is registry/state.json under the berth root: what push needs to
// remember between runs. It is a cache: losing it costs time, never
// correctness (every entry is checked against the content store, or the
// registry, before use).
type state struct {
	// Gzip maps an uncompressed layer (DiffID) to its gzip blob in the
	// content store, so a second push does not recompress.
	Gzip map[digest.Digest]blobRef `json:"gzip,omitempty"`
	// Sources maps a blob to repositories ("host/path") known to hold it,
	// for cross-repository mounts on push.
	Sources map[digest.Digest][]string `json:"sources,omitempty"`
}

type blobRef struct {
	Digest digest.Digest `json:"digest"`
	Size   int64         `json:"size"`
}

// maxSources bounds the repositories remembered per blob.
const maxSources = 8

func (c *Client) statePath() string { return filepath.Join(c.stateDir, "state.json") }

func (c *Client) readState() state {
	var s state
	if c.stateDir == "" {
		return s
	}
	fsutil.ReadJSON(c.statePath(), &s)
	return s
}

// updateState applies fn to the state under the registry's lock.
func (c *Client) updateState(fn func(*state)) error {
	if c.stateDir == "" {
		return nil
	}
	if err := os.MkdirAll(c.stateDir, 0o700); err != nil {
		return err
	}
	unlock, err := fsutil.Lock(filepath.Join(c.stateDir, "state.lock"), 10*time.Second)
	if err != nil {
		return err
	}
	defer unlock()
	var s state
	if err := fsutil.ReadJSON(c.statePath(), &s); err != nil && !errdefs.IsNotFound(err) {
		s = state{} // a damaged cache is dropped
	}
	fn(&s)
	return fsutil.WriteJSONAtomic(c.statePath(), s, 0o600)
}

// rememberSources records that repo holds blobs.
func (c *Client) rememberSources(repo string, blobs []digest.Digest) {
	c.updateState(func(s *state) {
		if s.Sources == nil {
			s.Sources = map[digest.Digest][]string{}
		}
		for _, d := range blobs {
			list := s.Sources[d]
			found := false
			for _, r := range list {
				if r == repo {
					found = true
					break
				}
			}
			if !found {
				list = append([]string{repo}, list...)
				if len(list) > maxSources {
					list = list[:maxSources]
				}
				s.Sources[d] = list
			}
		}
	})
}
