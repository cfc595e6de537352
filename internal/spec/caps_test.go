package spec

import (
	"errors"
	"slices"
	"testing"

	"github.com/berth/berth/internal/errdefs"
)

// hostCapsWithout is every known capability except the given ones, the
// shape of this machine's bounding set (which lacks CAP_SYS_RESOURCE).
func hostCapsWithout(missing ...string) []string {
	var out []string
	for _, c := range capabilityNames {
		if !slices.Contains(missing, c) {
			out = append(out, c)
		}
	}
	return out
}

func TestCapabilities(t *testing.T) {
	host := hostCapsWithout("CAP_SYS_RESOURCE")
	without := func(drop ...string) []string {
		return slices.DeleteFunc(DefaultCapabilities(), func(c string) bool { return slices.Contains(drop, c) })
	}
	tests := []struct {
		desc       string
		add, drop  []string
		privileged bool
		expected   []string
		errText    string
	}{
		{desc: "defaults", expected: DefaultCapabilities()},
		{desc: "default set has 14 caps", expected: DefaultCapabilities()[:14]},
		{desc: "drop lower-case without prefix", drop: []string{"chown"}, expected: without("CAP_CHOWN")},
		{desc: "drop with prefix, mixed case", drop: []string{"Cap_Net_Raw"}, expected: without("CAP_NET_RAW")},
		{desc: "add appends after defaults", add: []string{"net_admin"}, expected: append(DefaultCapabilities(), "CAP_NET_ADMIN")},
		{desc: "add and drop together", add: []string{"SYS_ADMIN"}, drop: []string{"MKNOD"}, expected: append(without("CAP_MKNOD"), "CAP_SYS_ADMIN")},
		{desc: "add a default cap does not duplicate", add: []string{"CHOWN"}, expected: DefaultCapabilities()},
		{desc: "drop ALL keeps only adds", drop: []string{"all"}, add: []string{"chown", "KILL"}, expected: []string{"CAP_CHOWN", "CAP_KILL"}},
		{desc: "drop ALL alone is empty", drop: []string{"ALL"}, expected: []string{}},
		{desc: "add ALL minus drops", add: []string{"ALL"}, drop: []string{"SYS_ADMIN"}, expected: slices.DeleteFunc(slices.Clone(host), func(c string) bool { return c == "CAP_SYS_ADMIN" })},
		{desc: "add ALL wins over drop ALL", add: []string{"ALL"}, drop: []string{"ALL"}, expected: host},
		{desc: "privileged gets the host bounding set", privileged: true, add: []string{"bogus"}, expected: host},
		{desc: "unknown capability", add: []string{"FOO"}, errText: `unknown capability: "CAP_FOO"`},
		{desc: "unknown capability in drop", drop: []string{"cap_bar"}, errText: `unknown capability: "CAP_BAR"`},
		{desc: "adding a cap the host lacks", add: []string{"SYS_RESOURCE"}, errText: `capability not supported by your kernel or not available in the current environment: "CAP_SYS_RESOURCE"`},
		{desc: "dropping a cap the host lacks is fine", drop: []string{"SYS_RESOURCE"}, expected: DefaultCapabilities()},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := Capabilities(host, tc.add, tc.drop, tc.privileged)
			if tc.errText != "" {
				if err == nil || err.Error() != tc.errText || !errors.Is(err, errdefs.ErrInvalid) {
					t.Fatalf("err = %v, want %q (ErrInvalid)", err, tc.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 && len(tc.expected) == 0 {
				return
			}
			if !slices.Equal(got, tc.expected) {
				t.Fatalf("caps = %v\nwant %v", got, tc.expected)
			}
		})
	}
	if n := len(DefaultCapabilities()); n != 14 {
		t.Fatalf("Docker's default set has 14 capabilities, got %d", n)
	}
}

func TestProbeHostCapabilities(t *testing.T) {
	h, err := ProbeHost()
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Capabilities) == 0 || !slices.Contains(h.Capabilities, "CAP_SYS_ADMIN") {
		t.Fatalf("bounding set %v lacks CAP_SYS_ADMIN (tests run as root)", h.Capabilities)
	}
	t.Logf("host: cgroupv2=%v seccomp=%v swap=%v cpus=%d caps=%d thermal=%v", h.CgroupV2, h.Seccomp, h.SwapAccounting, h.NumCPU, len(h.Capabilities), h.ThermalThrottlePaths)
}

func TestParseCPUList(t *testing.T) {
	tests := []struct {
		in   string
		want []int
	}{
		{"0", []int{0}},
		{"0-3", []int{0, 1, 2, 3}},
		{"0-1,4,6-7", []int{0, 1, 4, 6, 7}},
		{"", nil},
		{"x,2", []int{2}},
	}
	for _, tc := range tests {
		if got := parseCPUList(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("parseCPUList(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
