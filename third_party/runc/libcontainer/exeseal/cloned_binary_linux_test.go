package exeseal

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCloneExe seals a binary given by path (not /proc/self/exe), through
// overlayfs when the directories allow it and through a sealed memfd copy
// when they do not, and checks that the clone runs and cannot be written.
func TestCloneExe(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("overlayfs sealing needs root")
	}
	src, err := exec.LookPath("true")
	if err != nil {
		t.Skip(err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		desc string
		// tmpDir returns the tmpDir to pass, given the binary's directory.
		tmpDir    func(binDir string) string
		wantMemfd bool
	}{
		{"separate directories: overlayfs", func(string) string { return t.TempDir() }, false},
		{"tmpDir inside the binary's directory: memfd copy", func(binDir string) string {
			d := filepath.Join(binDir, "state")
			if err := os.Mkdir(d, 0o700); err != nil {
				t.Fatal(err)
			}
			return d
		}, true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			binDir := t.TempDir()
			bin := filepath.Join(binDir, "init")
			if err := os.WriteFile(bin, data, 0o500); err != nil {
				t.Fatal(err)
			}
			f, err := CloneExe(bin, tc.tmpDir(binDir))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if got := IsCloned(f); got != tc.wantMemfd {
				t.Errorf("IsCloned = %v, want %v", got, tc.wantMemfd)
			}
			// Writing through the clone must fail: overlayfs refuses the
			// open (EROFS), a sealed memfd the write (EPERM).
			if w, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(f.Fd())), os.O_WRONLY, 0); err == nil {
				_, err := w.Write([]byte("x"))
				w.Close()
				if err == nil {
					t.Error("the clone can be written")
				}
			}
			cmd := exec.Command("/proc/self/fd/3")
			cmd.ExtraFiles = []*os.File{f}
			if err := cmd.Run(); err != nil {
				t.Errorf("run the clone: %v", err)
			}
			var st unix.Stat_t
			if err := unix.Stat(bin, &st); err != nil || st.Size != int64(len(data)) {
				t.Errorf("original binary changed: %v", err)
			}
		})
	}
}
