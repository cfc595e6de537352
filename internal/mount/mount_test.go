package mount

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// mountDir returns a fresh directory that is unmounted (fully) at cleanup.
func mountDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() {
		if err := Unmount(dir); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return dir
}

func TestParseOptions(t *testing.T) {
	tests := []struct {
		desc    string
		options []string
		flags   uintptr
		prop    uintptr
		data    string
	}{
		{"empty", nil, 0, 0, ""},
		{"ro bind", []string{"rbind", "ro"}, unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY, 0, ""},
		{"rw clears ro", []string{"ro", "rw"}, 0, 0, ""},
		{"overlay data passes through", []string{"lowerdir=/a:/b", "upperdir=/u", "index=off"}, 0, 0, "lowerdir=/a:/b,upperdir=/u,index=off"},
		{"propagation separate", []string{"bind", "rprivate"}, unix.MS_BIND, unix.MS_PRIVATE | unix.MS_REC, ""},
		{"tmpfs", []string{"nosuid", "nodev", "mode=755", "size=65536k"}, unix.MS_NOSUID | unix.MS_NODEV, 0, "mode=755,size=65536k"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			p := parseOptions(tt.options)
			if p.flags != tt.flags || p.propagation != tt.prop || strings.Join(p.data, ",") != tt.data {
				t.Fatalf("got flags=%#x prop=%#x data=%q", p.flags, p.propagation, strings.Join(p.data, ","))
			}
		})
	}
}

func TestAllAndUnmount(t *testing.T) {
	requireRoot(t)
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	lower1, lower2, upper, work := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(lower1, "top"), []byte("1"), 0o644)
	os.WriteFile(filepath.Join(lower2, "top"), []byte("2"), 0o644)
	os.WriteFile(filepath.Join(lower2, "bottom"), []byte("b"), 0o644)

	tests := []struct {
		desc   string
		mounts []Mount
		check  func(t *testing.T, target string)
	}{
		{
			desc:   "read-only bind refuses writes",
			mounts: []Mount{{Type: "bind", Source: src, Options: []string{"rbind", "ro"}}},
			check: func(t *testing.T, target string) {
				if b, err := os.ReadFile(filepath.Join(target, "f")); err != nil || string(b) != "hello" {
					t.Fatalf("read through bind: %q %v", b, err)
				}
				err := os.WriteFile(filepath.Join(target, "g"), nil, 0o644)
				if !errors.Is(err, unix.EROFS) {
					t.Fatalf("write on ro bind: %v, want EROFS", err)
				}
			},
		},
		{
			desc: "overlay merges lowers top first",
			mounts: []Mount{{Type: "overlay", Source: "overlay", Options: []string{
				"lowerdir=" + lower1 + ":" + lower2, "upperdir=" + upper, "workdir=" + work}}},
			check: func(t *testing.T, target string) {
				for name, want := range map[string]string{"top": "1", "bottom": "b"} {
					if b, _ := os.ReadFile(filepath.Join(target, name)); string(b) != want {
						t.Fatalf("%s = %q, want %q", name, b, want)
					}
				}
			},
		},
		{
			desc: "stacked tmpfs on tmpfs",
			mounts: []Mount{
				{Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m"}},
				{Type: "tmpfs", Source: "tmpfs", Options: []string{"size=1m", "ro"}},
			},
			check: func(t *testing.T, target string) {
				if err := os.WriteFile(filepath.Join(target, "x"), nil, 0o644); !errors.Is(err, unix.EROFS) {
					t.Fatalf("top tmpfs should be ro: %v", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			target := mountDir(t)
			if err := All(tt.mounts, target); err != nil {
				t.Fatal(err)
			}
			if !IsMountPoint(target) {
				t.Fatal("IsMountPoint = false after All")
			}
			tt.check(t, target)
			if err := Unmount(target); err != nil {
				t.Fatal(err)
			}
			if IsMountPoint(target) {
				t.Fatal("still a mount point after Unmount")
			}
		})
	}
}

func TestAllRollsBackOnFailure(t *testing.T) {
	requireRoot(t)
	target := mountDir(t)
	err := All([]Mount{
		{Type: "tmpfs", Source: "tmpfs"},
		{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/nonexistent-berth-test"}},
	}, target)
	if err == nil {
		t.Fatal("expected error")
	}
	if IsMountPoint(target) {
		t.Fatal("first mount left behind after failure")
	}
}

func TestUnmountNotMounted(t *testing.T) {
	tests := []struct {
		desc string
		path string
	}{
		{"plain directory", t.TempDir()},
		{"missing path", filepath.Join(t.TempDir(), "nope")},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if err := Unmount(tt.path); err != nil {
				t.Fatalf("Unmount: %v", err)
			}
			if IsMountPoint(tt.path) {
				t.Fatal("IsMountPoint true")
			}
		})
	}
}

// The fsconfig path is taken only for option strings longer than a page;
// exercise it directly so it does not rot.
func TestOverlayFsconfig(t *testing.T) {
	requireRoot(t)
	var lowers []string
	for i := 0; i < 3; i++ {
		d := t.TempDir()
		os.WriteFile(filepath.Join(d, "l"), []byte{byte('0' + i)}, 0o644)
		lowers = append(lowers, d)
	}
	upper, work := t.TempDir(), t.TempDir()
	target := mountDir(t)
	p := parseOptions([]string{"lowerdir=" + strings.Join(lowers, ":"), "upperdir=" + upper, "workdir=" + work, "index=off", "nosuid"})
	if err := mountOverlayFsconfig("overlay", p, target); err != nil {
		if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) {
			t.Skipf("kernel lacks fsconfig lowerdir+: %v", err)
		}
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(target, "l")); string(b) != "0" {
		t.Fatalf("top lower not first: %q", b)
	}
}

func TestLongOverlayUsesFsconfig(t *testing.T) {
	requireRoot(t)
	base := t.TempDir()
	var lowers []string
	// Enough long lower paths to overflow one page of mount data.
	for i := 0; len(strings.Join(lowers, ":")) < 5000; i++ {
		d := filepath.Join(base, strings.Repeat("x", 60)+"-"+string(rune('a'+i%26))+strings.Repeat("y", i/26))
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		lowers = append(lowers, d)
	}
	os.WriteFile(filepath.Join(lowers[len(lowers)-1], "deep"), []byte("ok"), 0o644)
	target := mountDir(t)
	err := All([]Mount{{Type: "overlay", Source: "overlay", Options: []string{
		"lowerdir=" + strings.Join(lowers, ":"), "upperdir=" + t.TempDir(), "workdir=" + t.TempDir()}}}, target)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(target, "deep")); string(b) != "ok" {
		t.Fatalf("bottom lower not visible: %q", b)
	}
}
