package registry

import (
	"bytes"
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"
)

// Limits on what a registry may make berth read into memory. containerd
// and Docker refuse manifests over 4 MiB; a config is JSON that describes
// an image, and 64 MiB is far above any real one.
const (
	maxManifestSize = 4 << 20
	maxConfigSize   = 64 << 20
)

// decodeManifest parses an image manifest (Docker schema 2 or OCI) and
// checks what the pull relies on: schema version 2, and a config and layer
// descriptors with valid digests (of an available algorithm) and sizes
// that are positive (and, for the config, within maxConfigSize). Errors say
// which descriptor is wrong and how.
func decodeManifest(raw []byte) (*v1.Manifest, error) {
	if len(raw) > maxManifestSize {
		return nil, fmt.Errorf("manifest is %d bytes, more than the %d allowed", len(raw), maxManifestSize)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("malformed manifest JSON: %v", err)
	}
	if m.SchemaVersion != 2 {
		return nil, fmt.Errorf("manifest schemaVersion %d, want 2", m.SchemaVersion)
	}
	if err := checkDescriptor("config", m.Config, maxConfigSize); err != nil {
		return nil, err
	}
	for i, l := range m.Layers {
		if err := checkDescriptor(fmt.Sprintf("layer %d", i), l, 0); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// decodeIndex parses a manifest list or OCI index and checks every entry's
// digest and size (an entry is a manifest: at most maxManifestSize).
func decodeIndex(raw []byte) (*v1.IndexManifest, error) {
	if len(raw) > maxManifestSize {
		return nil, fmt.Errorf("manifest list is %d bytes, more than the %d allowed", len(raw), maxManifestSize)
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("malformed manifest list JSON: %v", err)
	}
	if idx.SchemaVersion != 2 {
		return nil, fmt.Errorf("manifest list schemaVersion %d, want 2", idx.SchemaVersion)
	}
	for i, m := range idx.Manifests {
		if err := checkDescriptor(fmt.Sprintf("manifest list entry %d", i), m, maxManifestSize); err != nil {
			return nil, err
		}
	}
	return idx, nil
}

// decodeConfig parses an image config and checks it against the manifest's
// layer count: one valid DiffID per layer.
func decodeConfig(raw []byte, layers int) (*v1.ConfigFile, error) {
	var cf v1.ConfigFile
	if err := json.Unmarshal(raw, &cf); err != nil {
		return nil, fmt.Errorf("malformed image config JSON: %v", err)
	}
	if len(cf.RootFS.DiffIDs) != layers {
		return nil, fmt.Errorf("manifest has %d layers but its config %d", layers, len(cf.RootFS.DiffIDs))
	}
	for i, h := range cf.RootFS.DiffIDs {
		if err := digest.Digest(h.String()).Validate(); err != nil {
			return nil, fmt.Errorf("config: diff ID %d %q: %v", i, h.String(), err)
		}
	}
	return &cf, nil
}

// checkDescriptor checks a descriptor's digest and size (max 0: no upper
// bound; the transfer itself stops at the size).
func checkDescriptor(what string, d v1.Descriptor, max int64) error {
	if err := digest.Digest(d.Digest.String()).Validate(); err != nil {
		return fmt.Errorf("%s: bad digest %q: %v", what, d.Digest.String(), err)
	}
	switch {
	case d.Size <= 0:
		return fmt.Errorf("%s %s: bad size %d", what, d.Digest, d.Size)
	case max > 0 && d.Size > max:
		return fmt.Errorf("%s %s: size %d is more than the %d allowed", what, d.Digest, d.Size, max)
	}
	return nil
}
