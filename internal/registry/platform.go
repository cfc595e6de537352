package registry

import (
	"fmt"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth/berth/internal/errdefs"
)

// ParsePlatform parses --platform ("os[/arch[/variant]]"); "" is the host
// (linux/amd64 here). Architecture aliases are normalised as containerd's
// platforms package does.
func ParsePlatform(s string) (v1.Platform, error) {
	p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm64" {
		p.Variant = "v8"
	}
	if s == "" {
		return p, nil
	}
	parts := strings.Split(strings.ToLower(s), "/")
	if len(parts) > 3 || parts[0] == "" {
		return p, fmt.Errorf("invalid platform %q: expected os[/arch[/variant]]: %w", s, errdefs.ErrInvalid)
	}
	p.OS = parts[0]
	if len(parts) > 1 {
		variant := ""
		if len(parts) == 3 {
			variant = parts[2]
		}
		p.Architecture, p.Variant = normalizeArch(parts[1], variant)
	} else {
		p.Architecture, p.Variant = runtime.GOARCH, ""
	}
	return p, nil
}

func normalizeArch(arch, variant string) (string, string) {
	switch arch {
	case "i386", "x86":
		return "386", ""
	case "x86_64", "x86-64", "amd64":
		if variant == "v1" {
			variant = ""
		}
		return "amd64", variant
	case "aarch64", "arm64":
		if variant == "8" || variant == "" {
			variant = "v8"
		}
		return "arm64", variant
	case "armhf":
		return "arm", "v7"
	case "armel":
		return "arm", "v6"
	case "arm":
		switch variant {
		case "", "7":
			variant = "v7"
		case "5", "6", "8":
			variant = "v" + variant
		}
		return "arm", variant
	}
	return arch, variant
}

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
	arch, variant := normalizeArch(got.Architecture, got.Variant)
	if arch != want.Architecture {
		return false
	}
	return want.Variant == "" || variant == "" || variant == want.Variant
}
