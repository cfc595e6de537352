package cli

import "testing"

func TestStartsContainer(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"run", "--rm", "busybox", "true"}, true},
		{[]string{"--root", "/tmp/r", "run", "busybox"}, true},
		{[]string{"--root=/tmp/r", "-D", "exec", "c", "ls"}, true},
		{[]string{"--log-level", "debug", "container", "start", "c"}, true},
		{[]string{"container", "restart", "c"}, true},
		{[]string{"ps", "-a"}, false},
		{[]string{"container", "ls"}, false},
		{[]string{"--root", "run", "ps"}, false}, // "run" is --root's value
		{[]string{"image", "run"}, false},
		{[]string{"create", "busybox"}, false},
		{nil, false},
	} {
		if got := startsContainer(commandVerb(tc.args)); got != tc.want {
			t.Errorf("startsContainer(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}
