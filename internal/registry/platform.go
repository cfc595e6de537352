package registry

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth/berth/internal/image"
)

// platformString is how Docker prints a platform: "linux/amd64", "linux/arm/v7".
func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// matches reports whether an index entry's platform satisfies want. An
// entry without variant matches any wanted variant of its architecture
// (amd64 images rarely name one), as does a wanted platform without one.
func matches(want v1.Platform, got *v1.Platform) bool {
	if got == nil {
		return false
	}
	if got.OS != want.OS {
		return false
	}
	arch, variant := image.NormalizeArch(got.Architecture, got.Variant)
	if arch != want.Architecture {
		return false
	}
	return want.Variant == "" || variant == "" || variant == want.Variant
}
