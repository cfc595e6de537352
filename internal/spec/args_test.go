package spec

import (
	"slices"
	"testing"
)

func strp(s string) *string { return &s }

// TestArgs checks Docker's documented Entrypoint/Cmd rules
// (https://docs.docker.com/reference/dockerfile/#understand-how-cmd-and-entrypoint-interact
// and `docker run --entrypoint`).
func TestArgs(t *testing.T) {
	tests := []struct {
		desc          string
		entry, cmd    []string
		flag          *string
		cli, expected []string
	}{
		{"image cmd only", nil, []string{"sh"}, nil, nil, []string{"sh"}},
		{"image entrypoint+cmd", []string{"/ep"}, []string{"-x"}, nil, nil, []string{"/ep", "-x"}},
		{"cli args replace image cmd", []string{"/ep"}, []string{"-x"}, nil, []string{"-y", "z"}, []string{"/ep", "-y", "z"}},
		{"cli args without entrypoint", nil, []string{"sh"}, nil, []string{"echo", "hi"}, []string{"echo", "hi"}},
		{"--entrypoint drops image cmd", []string{"/ep"}, []string{"-x"}, strp("/bin/sh"), nil, []string{"/bin/sh"}},
		{"--entrypoint with cli args", []string{"/ep"}, []string{"-x"}, strp("/bin/sh"), []string{"-c", "id"}, []string{"/bin/sh", "-c", "id"}},
		{"--entrypoint with spaces is one word", nil, nil, strp("/bin/my tool"), nil, []string{"/bin/my tool"}},
		{"--entrypoint '' clears entrypoint and image cmd", []string{"/ep"}, []string{"-x"}, strp(""), nil, []string{}},
		{"--entrypoint '' with cli args", []string{"/ep"}, []string{"-x"}, strp(""), []string{"ls", "/"}, []string{"ls", "/"}},
		{"image entrypoint [\"\"] counts as none", []string{""}, []string{"sh"}, nil, nil, []string{"sh"}},
		{"nothing at all", nil, nil, nil, nil, []string{}},
		{"empty-string cli arg is kept", nil, []string{"sh"}, nil, []string{"echo", ""}, []string{"echo", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got := Args(tc.entry, tc.cmd, tc.flag, tc.cli)
			if !slices.Equal(got, tc.expected) {
				t.Fatalf("Args = %q, want %q", got, tc.expected)
			}
		})
	}
}

func TestEnv(t *testing.T) {
	tests := []struct {
		desc     string
		env      []string
		tty      bool
		home     string
		expected []string
	}{
		{"defaults", nil, false, "/root", []string{"PATH=" + DefaultPathEnv, "HOSTNAME=h", "HOME=/root"}},
		{"tty adds TERM", nil, true, "", []string{"PATH=" + DefaultPathEnv, "HOSTNAME=h", "TERM=xterm", "HOME=/"}},
		{"image PATH replaces default in place", []string{"PATH=/x", "A=1"}, false, "/root", []string{"PATH=/x", "HOSTNAME=h", "A=1", "HOME=/root"}},
		{"user HOME wins", []string{"HOME=/home/me"}, false, "/root", []string{"PATH=" + DefaultPathEnv, "HOSTNAME=h", "HOME=/home/me"}},
		{"entry without = unsets", []string{"HOSTNAME"}, false, "/", []string{"PATH=" + DefaultPathEnv, "HOME=/"}},
		{"TERM override", []string{"TERM=dumb"}, true, "/", []string{"PATH=" + DefaultPathEnv, "HOSTNAME=h", "TERM=dumb", "HOME=/"}},
		{"duplicate keys: last wins", []string{"A=1", "A=2"}, false, "/", []string{"PATH=" + DefaultPathEnv, "HOSTNAME=h", "A=2", "HOME=/"}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got := Env(tc.env, "h", tc.tty, tc.home)
			if !slices.Equal(got, tc.expected) {
				t.Fatalf("Env = %q, want %q", got, tc.expected)
			}
		})
	}
}
