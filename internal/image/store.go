package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth/berth/internal/content"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/fsutil"
	"github.com/berth/berth/internal/root"
	"github.com/berth/berth/internal/snapshot"
)

// Image is one local image, assembled from its record, its config and
// manifest blobs, and the references naming it. It is a value: changing it
// changes nothing on disk.
type Image struct {
	ID             string        // "sha256:<hex>", the config digest
	ManifestDigest digest.Digest // the manifest blob in the content store
	Config         v1.ConfigFile // Docker-compatible image config
	Comment        string        // the config's "comment" (not in v1.ConfigFile)
	RepoTags       []string      // familiar, sorted: "debian:latest"
	RepoDigests    []string      // familiar, sorted: "debian@sha256:…"
	Parent         string        // local parent image ID (commit/build), "" if none
	Size           int64         // sum of the layers' unpacked sizes
	Created        time.Time
	ChainIDs       []digest.Digest      // snapshot chain ID per layer, base first
	Layers         []ocispec.Descriptor // the manifest's layer blobs, same order
	LastTagTime    time.Time
}

// TopChainID is the chain ID of the image's top layer (the parent of a
// container's read-write snapshot), "" for an image without layers.
func (img *Image) TopChainID() digest.Digest {
	if len(img.ChainIDs) == 0 {
		return ""
	}
	return img.ChainIDs[len(img.ChainIDs)-1]
}

// Digest is the image ID as a digest.
func (img *Image) Digest() digest.Digest { return digest.Digest(img.ID) }

// ShortID is the 12-hex-digit form `docker images` prints.
func (img *Image) ShortID() string {
	return ShortID(img.ID)
}

// ShortID truncates an image ID ("sha256:" dropped) to 12 hex digits.
func ShortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Dangling reports whether the image has no tag (`<none>:<none>`).
func (img *Image) Dangling() bool { return len(img.RepoTags) == 0 }

// record is images/sha256/<hex>.json.
type record struct {
	ManifestDigest digest.Digest `json:"manifest"`
	Parent         string        `json:"parent,omitempty"`
	Size           int64         `json:"size"`
	LastTagTime    time.Time     `json:"lastTagTime,omitzero"`
}

// refsFile is images/repositories.json: full reference → image ID.
type refsFile struct {
	Refs map[string]string `json:"refs"`
}

// configBlob is how an image config is (un)marshalled: the v1.ConfigFile
// plus the fields Docker has and go-containerregistry lacks.
type configBlob struct {
	v1.ConfigFile
	Comment string `json:"comment,omitempty"`
}

// MarshalJSON keeps an explicitly empty Cmd (`CMD []`) as `[]`, as Docker
// writes it: v1.Config's omitempty would turn it into "unset", which means
// "inherit" to whoever reads the image. (Docker stores `ENTRYPOINT []` as
// null, so an empty Entrypoint is left to omitempty.) Configs without one
// marshal exactly as the plain struct does.
func (cb configBlob) MarshalJSON() ([]byte, error) {
	type plain configBlob
	data, err := json.Marshal(plain(cb))
	if err != nil || cb.Config.Cmd == nil || len(cb.Config.Cmd) > 0 {
		return data, err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	var config map[string]json.RawMessage
	if err := json.Unmarshal(doc["config"], &config); err != nil {
		return nil, err
	}
	config["Cmd"] = json.RawMessage("[]")
	if doc["config"], err = json.Marshal(config); err != nil {
		return nil, err
	}
	return json.Marshal(doc)
}

// Store is the image store of one berth root. It keeps no state in memory
// between calls (everything is re-read from disk), so any number of
// processes can use the same root.
type Store struct {
	root  root.Root
	dir   string
	cs    *content.Store
	snaps *snapshot.Store
	now   func() time.Time
}

// Open opens (creating if needed) the image store of root r.
func Open(r root.Root, cs *content.Store, ss *snapshot.Store) (*Store, error) {
	dir := r.Images()
	if err := os.MkdirAll(filepath.Join(dir, "sha256"), 0o700); err != nil {
		return nil, fmt.Errorf("open image store: %w", err)
	}
	s := &Store{root: r, dir: dir, cs: cs, snaps: ss, now: time.Now}
	s.reserve().Ensure()
	return s, nil
}

// reserve keeps room for rewriting repositories.json on a full disk, so
// that rmi and prune can still free space (see fsutil.Reserve). 1 MiB
// holds thousands of references.
func (s *Store) reserve() fsutil.Reserve {
	return fsutil.Reserve{Path: s.root.Reserve(), Size: 1 << 20}
}

// Content is the content store the images' blobs live in.
func (s *Store) Content() *content.Store { return s.cs }

// Snapshots is the snapshot store the images' layers are unpacked in.
func (s *Store) Snapshots() *snapshot.Store { return s.snaps }

func (s *Store) recordPath(id string) string {
	return filepath.Join(s.dir, "sha256", strings.TrimPrefix(id, "sha256:")+".json")
}

func (s *Store) refsPath() string { return filepath.Join(s.dir, "repositories.json") }

// lock takes the exclusive lock every mutation of records and references
// holds; reads need none (files are replaced atomically).
func (s *Store) lock() (func(), error) {
	unlock, err := fsutil.Lock(filepath.Join(s.root.Locks(), "images.lock"), fsutil.DefaultLockTimeout)
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	return unlock, nil
}

func (s *Store) readRefs() (map[string]string, error) {
	var f refsFile
	if err := fsutil.ReadJSON(s.refsPath(), &f); err != nil {
		if errdefs.IsNotFound(err) {
			return map[string]string{}, nil
		}
		return nil, fmt.Errorf("image references: %w", err)
	}
	if f.Refs == nil {
		f.Refs = map[string]string{}
	}
	return f.Refs, nil
}

func (s *Store) writeRefs(refs map[string]string) error {
	if err := fsutil.WriteJSONAtomic(s.refsPath(), refsFile{Refs: refs}, 0o600); err != nil {
		return fmt.Errorf("write image references: %w", err)
	}
	return nil
}

// writeRefsFreeing is writeRefs for changes that free space (rmi, prune,
// repair): on a full disk they may use the reserve. Tag, import and the
// like may not: the reserve is for getting out of a full disk.
func (s *Store) writeRefsFreeing(refs map[string]string) error {
	return s.reserve().Retry(func() error { return s.writeRefs(refs) })
}

func (s *Store) readRecord(id string) (record, error) {
	var r record
	if err := fsutil.ReadJSON(s.recordPath(id), &r); err != nil {
		if errdefs.IsNotFound(err) {
			return r, &NotFoundError{Ref: id}
		}
		return r, fmt.Errorf("image %s: %w", ShortID(id), err)
	}
	return r, nil
}

func (s *Store) writeRecord(id string, r record) error {
	if err := fsutil.WriteJSONAtomic(s.recordPath(id), r, 0o600); err != nil {
		return fmt.Errorf("write image record %s: %w", ShortID(id), err)
	}
	return nil
}

// ids lists the IDs of all image records.
func (s *Store) ids() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(s.dir, "sha256"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list images: %w", err)
	}
	var out []string
	for _, e := range ents {
		hex, ok := strings.CutSuffix(e.Name(), ".json")
		if ok && isFullHex(hex) {
			out = append(out, "sha256:"+hex)
		}
	}
	return out, nil
}

// ChainIDs computes the chain ID of every layer from the DiffIDs, as the OCI
// image spec defines it: chain[0] = diff[0], chain[n] = sha256(chain[n-1] +
// " " + diff[n]).
func ChainIDs(diffIDs []digest.Digest) []digest.Digest {
	out := make([]digest.Digest, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d
			continue
		}
		out[i] = digest.FromString(out[i-1].String() + " " + d.String())
	}
	return out
}

func diffIDs(cf *v1.ConfigFile) []digest.Digest {
	out := make([]digest.Digest, len(cf.RootFS.DiffIDs))
	for i, h := range cf.RootFS.DiffIDs {
		out[i] = digest.Digest(h.String())
	}
	return out
}

// readManifest reads and parses an image manifest blob (OCI or Docker
// schema 2; both have the same shape).
func (s *Store) readManifest(d digest.Digest) (ocispec.Manifest, error) {
	var m ocispec.Manifest
	data, err := s.cs.ReadBlob(d)
	if err != nil {
		return m, fmt.Errorf("manifest: %w", err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("manifest %s: %w", d, err)
	}
	if m.Config.Digest == "" {
		return m, fmt.Errorf("manifest %s: no config: %w", d, errdefs.ErrInvalid)
	}
	return m, nil
}

func (s *Store) readConfig(d digest.Digest) (configBlob, error) {
	var cb configBlob
	data, err := s.cs.ReadBlob(d)
	if err != nil {
		return cb, fmt.Errorf("image config: %w", err)
	}
	if err := json.Unmarshal(data, &cb); err != nil {
		return cb, fmt.Errorf("image config %s: %w", d, err)
	}
	return cb, nil
}

// load assembles the Image with the given ID. refs is the current
// references map (read once by callers that load many images).
func (s *Store) load(id string, refs map[string]string) (*Image, error) {
	rec, err := s.readRecord(id)
	if err != nil {
		return nil, err
	}
	m, err := s.readManifest(rec.ManifestDigest)
	if err != nil {
		return nil, s.blobError(id, err)
	}
	if string(m.Config.Digest) != id {
		return nil, fmt.Errorf("image %s: manifest %s names config %s: %w", ShortID(id), rec.ManifestDigest, m.Config.Digest, errdefs.ErrInvalid)
	}
	cb, err := s.readConfig(m.Config.Digest)
	if err != nil {
		return nil, s.blobError(id, err)
	}
	img := &Image{
		ID:             id,
		ManifestDigest: rec.ManifestDigest,
		Config:         cb.ConfigFile,
		Comment:        cb.Comment,
		Parent:         rec.Parent,
		Size:           rec.Size,
		Created:        cb.Created.Time,
		ChainIDs:       ChainIDs(diffIDs(&cb.ConfigFile)),
		Layers:         m.Layers,
		LastTagTime:    rec.LastTagTime,
	}
	img.RepoTags, img.RepoDigests = refsOf(id, refs)
	return img, nil
}

// blobError is load's error for a blob of image id it could not read. A
// concurrent rmi may delete the record, and its GC the blob, after the
// record was read: that image is simply gone ("No such image"). A blob
// missing under a record that still exists is damage, reported as such.
func (s *Store) blobError(id string, err error) error {
	if errdefs.IsNotFound(err) {
		if _, serr := os.Stat(s.recordPath(id)); errors.Is(serr, fs.ErrNotExist) {
			return &NotFoundError{Ref: id}
		}
	}
	return fmt.Errorf("image %s: %w", ShortID(id), err)
}

// refsOf returns the familiar tag and digest references pointing at id.
func refsOf(id string, refs map[string]string) (tags, digests []string) {
	tags, digests = []string{}, []string{}
	for ref, target := range refs {
		if target != id {
			continue
		}
		named, err := reference.ParseNormalizedNamed(ref)
		if err != nil {
			continue
		}
		if _, ok := named.(reference.Canonical); ok {
			digests = append(digests, Familiar(named))
		} else {
			tags = append(tags, Familiar(named))
		}
	}
	sort.Strings(tags)
	sort.Strings(digests)
	return tags, digests
}

// Get finds an image the way Docker resolves an image argument: a full ID
// (sha256:<hex> or <hex>), a name[:tag] or name@digest, or a unique prefix
// of an ID. A name is tried before a prefix, as in Docker. An unknown or
// ambiguous argument is a *NotFoundError.
func (s *Store) Get(nameOrID string) (*Image, error) {
	refs, err := s.readRefs()
	if err != nil {
		return nil, err
	}
	id, err := s.resolve(nameOrID, refs)
	if err != nil {
		return nil, err
	}
	img, err := s.load(id, refs)
	if err != nil {
		var nf *NotFoundError
		if errors.As(err, &nf) {
			l, _ := parseLookup(nameOrID)
			return nil, &NotFoundError{Ref: l.shown}
		}
		return nil, err
	}
	return img, nil
}

// resolve maps a user's argument to an image ID that has a record, reading
// the records on disk.
func (s *Store) resolve(nameOrID string, refs map[string]string) (string, error) {
	exists := func(id string) bool {
		_, err := os.Stat(s.recordPath(id))
		return err == nil
	}
	return resolveIn(nameOrID, refs, exists, s.ids)
}

// resolveIn implements Docker's lookup order over a view of the store: a
// full ID is only an ID; otherwise the name, then a unique ID prefix.
func resolveIn(nameOrID string, refs map[string]string, exists func(string) bool, ids func() ([]string, error)) (string, error) {
	l, err := parseLookup(nameOrID)
	if err != nil {
		return "", err
	}
	if l.id != "" {
		if exists(l.id) {
			return l.id, nil
		}
		return "", &NotFoundError{Ref: l.shown}
	}
	if id, ok := refs[l.named.String()]; ok && exists(id) {
		return id, nil
	}
	if l.prefix != "" {
		all, err := ids()
		if err != nil {
			return "", err
		}
		var match []string
		for _, id := range all {
			if strings.HasPrefix(strings.TrimPrefix(id, "sha256:"), l.prefix) {
				match = append(match, id)
			}
		}
		switch len(match) {
		case 1:
			return match[0], nil
		case 0:
		default:
			return "", &NotFoundError{Ref: l.shown, Detail: fmt.Sprintf("ambiguous image ID prefix %s matches %d images", l.prefix, len(match))}
		}
	}
	return "", &NotFoundError{Ref: l.shown}
}

// List returns every image, newest first (as `docker images` orders them).
// Records whose blobs are missing or corrupt are skipped (Check reports
// them), so one broken image never hides the others.
func (s *Store) List() ([]*Image, error) {
	refs, err := s.readRefs()
	if err != nil {
		return nil, err
	}
	ids, err := s.ids()
	if err != nil {
		return nil, err
	}
	out := make([]*Image, 0, len(ids))
	for _, id := range ids {
		img, err := s.load(id, refs)
		if err != nil {
			continue
		}
		out = append(out, img)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Children returns the IDs of the images whose local parent is id (the
// images committed or built on top of it).
func (s *Store) Children(id string) ([]string, error) {
	ids, err := s.ids()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range ids {
		rec, err := s.readRecord(c)
		if err == nil && rec.Parent == id {
			out = append(out, c)
		}
	}
	return out, nil
}
