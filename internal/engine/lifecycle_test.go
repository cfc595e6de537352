package engine

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/container"
)

func TestStopAnyway(t *testing.T) {
	full := fmt.Errorf("write container: %w", &os.PathError{Op: "write", Path: "x", Err: unix.ENOSPC})
	for _, tc := range []struct {
		policy string
		err    error
		want   bool
	}{
		{"", full, true},
		{"no", full, true},
		{"always", full, false},         // would come back: the note is needed
		{"unless-stopped", full, false}, // likewise
		{"on-failure", full, false},     // SIGTERM's exit status is a failure
		{"", errors.New("locked"), false},
	} {
		c := &container.Container{}
		c.Host.RestartPolicy.Name = tc.policy
		if got := stopAnyway(c, tc.err); got != tc.want {
			t.Errorf("policy %q, err %v: stopAnyway = %v, want %v", tc.policy, tc.err, got, tc.want)
		}
	}
}
