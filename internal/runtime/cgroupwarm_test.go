package runtime

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

func TestOwnCgroupProcs(t *testing.T) {
	for _, tc := range []struct {
		desc string
		in   string
		want []string
	}{
		{
			desc: "hybrid host: v1 controllers first, named hierarchies skipped, then the unified one",
			in:   "9:name=systemd:/\n8:pids:/a\n4:cpu,cpuacct:/\n0::/b\n",
			want: []string{
				"/sys/fs/cgroup/pids/a/cgroup.procs",
				"/sys/fs/cgroup/cpu,cpuacct/cgroup.procs",
				"/sys/fs/cgroup/unified/b/cgroup.procs",
				"/sys/fs/cgroup/b/cgroup.procs",
			},
		},
		{
			desc: "pure cgroup v2",
			in:   "0::/user.slice/x.scope\n",
			want: []string{
				"/sys/fs/cgroup/unified/user.slice/x.scope/cgroup.procs",
				"/sys/fs/cgroup/user.slice/x.scope/cgroup.procs",
			},
		},
		{
			desc: "malformed and relative lines are ignored",
			in:   "garbage\n3:pids:relative\n\n",
			want: nil,
		},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if got := ownCgroupProcs([]byte(tc.in)); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestWarmCgroupsIsNoOp checks that warming moves the process nowhere.
func TestWarmCgroupsIsNoOp(t *testing.T) {
	before, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	warmCgroups()
	after, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Errorf("cgroups changed:\n%s\nto\n%s", before, after)
	}
}

func TestWriteCgroupFile(t *testing.T) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	pid := []byte(strconv.Itoa(os.Getpid()))
	ok := false
	for _, p := range ownCgroupProcs(data) {
		if writeCgroupFile(p, pid) == nil {
			ok = true
			break
		}
	}
	if !ok && os.Geteuid() == 0 {
		t.Error("no cgroup.procs of our own cgroups accepted our pid")
	}

	fake := filepath.Join(t.TempDir(), "cgroup.procs")
	if err := os.WriteFile(fake, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeCgroupFile(fake, pid); err == nil {
		t.Error("wrote to a cgroup.procs that is no cgroup file")
	}
	if b, _ := os.ReadFile(fake); string(b) != "keep" {
		t.Errorf("look-alike file changed to %q", b)
	}
}
