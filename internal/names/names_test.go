package names

import (
	"regexp"
	"testing"
)

func TestGenerate(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z]+_[a-z]+[0-9]?$`)
	tests := []struct {
		desc     string
		retry    int
		wantTail bool // a digit suffix
	}{
		{"first attempt has no digit", 0, false},
		{"a retry appends a digit", 1, true},
		{"later retries append a digit", 5, true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			for range 200 {
				n := Generate(tt.retry)
				if !valid.MatchString(n) {
					t.Fatalf("Generate(%d) = %q: not adjective_surname", tt.retry, n)
				}
				last := n[len(n)-1]
				if hasDigit := last >= '0' && last <= '9'; hasDigit != tt.wantTail {
					t.Fatalf("Generate(%d) = %q: digit suffix %v, want %v", tt.retry, n, hasDigit, tt.wantTail)
				}
				if n == "boring_wozniak" {
					t.Fatal("boring_wozniak must never be generated")
				}
			}
		})
	}
}

func TestWordListsAreClean(t *testing.T) {
	word := regexp.MustCompile(`^[a-z]+$`)
	seen := map[string]bool{}
	for _, list := range [][]string{adjectives[:], surnames[:]} {
		for _, w := range list {
			if !word.MatchString(w) {
				t.Errorf("word %q is not lower-case ASCII letters", w)
			}
			if seen[w] {
				t.Errorf("duplicate word %q", w)
			}
			seen[w] = true
		}
	}
}
