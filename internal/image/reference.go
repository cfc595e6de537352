package image

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/errdefs"
)

// NotFoundError is the error for a reference or ID that names no image. Its
// text is Docker's ("No such image: debian:latest"); it is of the
// errdefs.ErrNotFound class.
type NotFoundError struct {
	Ref    string // as Docker prints it: familiar, with the implied :latest
	Detail string // optional, e.g. an ambiguous ID prefix
}

func (e *NotFoundError) Error() string {
	if e.Detail != "" {
		return "No such image: " + e.Ref + " (" + e.Detail + ")"
	}
	return "No such image: " + e.Ref
}

func (e *NotFoundError) Unwrap() error { return errdefs.ErrNotFound }

// invalidRef keeps distribution/reference's text, which is Docker's
// ("invalid reference format: repository name (library/Bad) must be
// lowercase"), and adds the class.
func invalidRef(s string, err error) error {
	if s == "" {
		return fmt.Errorf("invalid reference format: empty reference: %w", errdefs.ErrInvalid)
	}
	return fmt.Errorf("%v: %w", err, errdefs.ErrInvalid)
}

// isHex reports whether s is non-empty lowercase hex (what Docker accepts
// as a short ID). A function, not a package-level regexp: nothing here may
// cost time at program start.
func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// isFullHex reports whether s is a full image ID without its algorithm.
func isFullHex(s string) bool { return len(s) == 64 && isHex(s) }

// ParseReference normalises a user's image name the way Docker does:
// "debian" → docker.io/library/debian:latest, "x/y:1" →
// docker.io/x/y:1, "host:5000/z@sha256:…" stays canonical (a tag next to a
// digest is dropped, as the digest decides). It does not accept IDs.
func ParseReference(s string) (reference.Named, error) {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return nil, invalidRef(s, err)
	}
	if c, ok := named.(reference.Canonical); ok {
		if _, tagged := named.(reference.Tagged); tagged {
			named, err = reference.WithDigest(reference.TrimNamed(named), c.Digest())
			if err != nil {
				return nil, invalidRef(s, err)
			}
		}
		return named, nil
	}
	return reference.TagNameOnly(named), nil
}

// ParseTag parses the target of `docker tag` (and of import/commit/build
// names): a name with an optional tag, never a digest.
func ParseTag(s string) (reference.NamedTagged, error) {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return nil, invalidRef(s, err)
	}
	if _, ok := named.(reference.Canonical); ok {
		return nil, fmt.Errorf("refusing to create a tag with a digest reference: %w", errdefs.ErrInvalid)
	}
	if reference.FamiliarName(named) == string(digest.Canonical) {
		return nil, fmt.Errorf("refusing to create an ambiguous tag using digest algorithm as name: %w", errdefs.ErrInvalid)
	}
	tagged, ok := reference.TagNameOnly(named).(reference.NamedTagged)
	if !ok {
		return nil, invalidRef(s, fmt.Errorf("no tag"))
	}
	return tagged, nil
}

// FamiliarString is how Docker shows a stored reference: "debian:latest",
// "myreg:5000/app:1", "debian@sha256:…".
func FamiliarString(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref
	}
	return Familiar(named)
}

// Familiar is reference.FamiliarString, except for a Docker Hub name whose
// first component looks like a host ("docker.io/localhost/x",
// "docker.io/a.b/c"): its familiar form would name another registry when
// typed back, so it is shown in full. Found by FuzzParseReference.
func Familiar(named reference.Named) string {
	fam := reference.FamiliarString(named)
	if reference.Domain(named) == "docker.io" {
		if again, err := reference.ParseNormalizedNamed(fam); err != nil || again.Name() != named.Name() {
			return named.String()
		}
	}
	return fam
}

// lookup is what a user's image argument can mean.
type lookup struct {
	id     string          // a full ID ("sha256:<hex>") given as such
	named  reference.Named // a name (tagged or canonical)
	prefix string          // a hex string that may be a short ID
	shown  string          // for "No such image: …"
}

// parseLookup classifies s like Docker's GetImage: a full ID (with or
// without "sha256:") is only an ID; anything else is first a name, and if it
// also looks like hex, a short ID prefix.
func parseLookup(s string) (lookup, error) {
	if s == "" {
		return lookup{}, fmt.Errorf("empty image reference: %w", errdefs.ErrInvalid)
	}
	if isFullHex(s) {
		return lookup{id: "sha256:" + s, shown: "sha256:" + s}, nil
	}
	if strings.HasPrefix(s, "sha256:") && isFullHex(s[len("sha256:"):]) {
		return lookup{id: s, shown: s}, nil
	}
	named, err := ParseReference(s)
	if err != nil {
		return lookup{}, err
	}
	l := lookup{named: named, shown: Familiar(named)}
	if p := strings.TrimPrefix(s, "sha256:"); isHex(p) {
		l.prefix = p
	}
	return l, nil
}
