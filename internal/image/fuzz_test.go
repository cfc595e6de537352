package image

import (
	"errors"
	"strings"
	"testing"

	"github.com/distribution/reference"

	"github.com/berth/berth/internal/errdefs"
)

// FuzzParseReference feeds arbitrary strings to every parser of a user's
// image argument (ParseReference, ParseTag, parseLookup, FamiliarString).
// Properties: no panic; a rejection is ErrInvalid and says what was wrong;
// an accepted reference is fully normalised (a domain, a lowercase path,
// exactly one of tag or digest) and re-parses to itself, both from its
// canonical and from its familiar form.
func FuzzParseReference(f *testing.F) {
	for _, s := range []string{
		"busybox", "debian:12", "library/debian:latest", "docker.io/library/debian",
		"localhost:5000/a/b:c", "127.0.0.1:5000/x/y@sha256:" + strings.Repeat("a", 64),
		"x:1@sha256:" + strings.Repeat("0", 64), "sha256:" + strings.Repeat("f", 64), strings.Repeat("e", 64),
		"abc123", "UPPER/case", "a//b", "a:", ":tag", "@sha256:x", "host:99999/a", "[::1]:5000/a:b",
		"sha256", "a" + strings.Repeat("/b", 200), "example.com/" + strings.Repeat("x", 300) + ":t",
		"a:" + strings.Repeat("t", 129), "a.b_c-d/e__f:g.h-i", "\x00", "ünïcode",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkInvalid := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("%s(%q): error is not ErrInvalid: %v", what, s, err)
			}
			if msg := err.Error(); msg == "" || msg == errdefs.ErrInvalid.Error() {
				t.Fatalf("%s(%q): error says nothing: %q", what, s, msg)
			}
		}
		named, err := ParseReference(s)
		if err != nil {
			checkInvalid("ParseReference", err)
		} else {
			checkNormalised(t, s, named)
			again, err := ParseReference(named.String())
			if err != nil || again.String() != named.String() {
				t.Fatalf("ParseReference(%q) = %q, which re-parses to %v, %v", s, named, again, err)
			}
			fam := Familiar(named)
			again, err = ParseReference(fam)
			if err != nil || again.String() != named.String() {
				t.Fatalf("ParseReference(%q) = %q, familiar %q re-parses to %v, %v", s, named, fam, again, err)
			}
			if got := FamiliarString(named.String()); got != fam {
				t.Fatalf("FamiliarString(%q) = %q, want %q", named, got, fam)
			}
		}
		tagged, err := ParseTag(s)
		if err != nil {
			checkInvalid("ParseTag", err)
		} else {
			checkNormalised(t, s, tagged)
			if _, ok := reference.Named(tagged).(reference.Canonical); ok {
				t.Fatalf("ParseTag(%q) = %q has a digest", s, tagged)
			}
			again, err := ParseTag(tagged.String())
			if err != nil || again.String() != tagged.String() {
				t.Fatalf("ParseTag(%q) = %q, which re-parses to %v, %v", s, tagged, again, err)
			}
		}
		l, err := parseLookup(s)
		if err != nil {
			checkInvalid("parseLookup", err)
		} else if (l.id == "") == (l.named == nil) {
			t.Fatalf("parseLookup(%q): want exactly one of ID and name: %+v", s, l)
		} else if l.id != "" && (!strings.HasPrefix(l.id, "sha256:") || !isFullHex(strings.TrimPrefix(l.id, "sha256:"))) {
			t.Fatalf("parseLookup(%q): bad ID %q", s, l.id)
		}
		_ = FamiliarString(s)
	})
}

// checkNormalised asserts what every stored reference must be.
func checkNormalised(t *testing.T, in string, n reference.Named) {
	t.Helper()
	if reference.Domain(n) == "" {
		// distribution/reference (and so Docker) keeps a first component
		// that looks like a host but is not one ("a_b.c/x") as a path
		// component with no domain: such a name can be tagged, not pulled.
		first, _, _ := strings.Cut(reference.Path(n), "/")
		if !strings.ContainsAny(first, ".:") {
			t.Fatalf("%q → %q: no domain", in, n)
		}
	}
	if p := reference.Path(n); p == "" || p != strings.ToLower(p) {
		t.Fatalf("%q → %q: path %q not lowercase", in, n, p)
	}
	_, tagged := n.(reference.Tagged)
	c, canonical := n.(reference.Canonical)
	if tagged == canonical {
		t.Fatalf("%q → %q: want exactly one of tag and digest (tagged %v, digest %v)", in, n, tagged, canonical)
	}
	if canonical {
		if err := c.Digest().Validate(); err != nil {
			t.Fatalf("%q → %q: digest invalid: %v", in, n, err)
		}
	}
}

// TestFamiliarHostLikeHubName: a Docker Hub name whose first component
// looks like a host is shown in full, so that typing it back names the
// same image (found by FuzzParseReference).
func TestFamiliarHostLikeHubName(t *testing.T) {
	for in, want := range map[string]string{
		"docker.io/0.0/0":             "docker.io/0.0/0:latest",
		"docker.io/localhost/x:1":     "docker.io/localhost/x:1",
		"docker.io/library/debian:12": "debian:12",
		"docker.io/user/app":          "user/app:latest",
		"localhost:5000/x":            "localhost:5000/x:latest",
	} {
		n, err := ParseReference(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := Familiar(n); got != want {
			t.Errorf("Familiar(%q) = %q, want %q", in, got, want)
		}
	}
}
