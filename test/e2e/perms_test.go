package e2e

import (
	"encoding/base64"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestStatePermissions (issue 6: "store and run dirs 0700, credentials
// 0600, logs never contain credentials"): after a typical session — import,
// run -d, logs, login to a registry with htpasswd auth, push, pull, all with
// --log-level debug and a umask of 0 (the loosest a user can have) — the
// state root and run dir are 0700, nothing of berth's own under them is
// world-writable or world-readable, the credentials file is 0600 in a 0700
// directory, and the password (or its base64 auth string) is nowhere: not in
// a file under the root, not in berth's output, not in a container's logs.
//
// What may be world-readable or -writable: the content of image layers,
// container filesystems and volumes (snapshots/*/fs, the upper and work
// dirs, snapshots/empty, volumes/*/_data, the mounted rootfs), which must
// keep the modes the image gives them (a 1777 /tmp); the files bind-mounted
// into containers (hosts, hostname, resolv.conf), which a non-root container
// user reads; and run/netns/* (nsfs bind mounts, whose mode is the kernel's).
// All of it sits below the 0700 root, so no other host user reaches it.
func TestStatePermissions(t *testing.T) {
	const user, pass = "perm-user", "Pa55-perm-s3cret-7781"
	reg := startDistRegistry(t, regAuth{user: user, pass: pass})
	e := regEnv(t, "")
	// Let berth make its root itself (newEnv made an empty one).
	if err := os.Remove(e.Root); err != nil {
		t.Fatal(err)
	}
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })

	var out strings.Builder
	run := func(stdin string, args ...string) Result {
		t.Helper()
		r := e.RunStdin(stdin, append([]string{"--log-level", "debug"}, args...)...)
		out.WriteString(r.Stdout + r.Stderr)
		if r.Code != 0 {
			t.Fatalf("want exit 0:\n%s", r)
		}
		return r
	}
	bb, err := os.ReadFile(busyboxTar(t))
	if err != nil {
		t.Fatal(err)
	}
	run(string(bb), "import", "-", BusyboxRef)
	name := e.Name("perm")
	e.RemoveOnCleanup(name)
	run("", "run", "-d", "--name", name, "-v", e.Name("permvol")+":/data", BusyboxRef, "sh", "-c", "echo from-the-container; sleep 600")
	e.Eventually("the container's output in its log", func() bool {
		return strings.Contains(e.Run("logs", name).Stdout, "from-the-container")
	})
	run("", "logs", name)
	run(pass+"\n", "login", "-u", user, "--password-stdin", reg.Addr)
	ref := reg.Addr + "/perm/busybox:1"
	run("", "tag", BusyboxRef, ref)
	run("", "push", ref)
	run("", "rmi", ref)
	run("", "pull", ref)
	run("", "exec", name, "true")
	logs := run("", "logs", name)

	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	secrets := []string{pass, auth}
	for _, s := range secrets {
		if strings.Contains(out.String(), s) {
			t.Errorf("berth's output (--log-level debug) shows a credential %q", s)
		}
		if strings.Contains(logs.Stdout+logs.Stderr, s) {
			t.Errorf("the container's logs show a credential %q", s)
		}
	}

	runDir := filepath.Join(e.Root, "run")
	for _, d := range []string{e.Root, runDir} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v (%v), want 0700", d, modeOf(fi), err)
		}
	}
	cfgDir := e.dockerConfigDir()
	for p, want := range map[string]fs.FileMode{cfgDir: 0o700, filepath.Join(cfgDir, "config.json"): 0o600} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %v", p, modeOf(fi), err, want)
		}
	}

	contentDir := containerContent(e.Root)
	checked := 0
	filepath.WalkDir(e.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file gone meanwhile (a lock, a socket)
		}
		if contentDir(p) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		checked++
		fi, err := d.Info()
		if err != nil || fi.Mode()&fs.ModeSymlink != 0 {
			return nil
		}
		if fi.Mode().IsRegular() && fi.Size() < 8<<20 {
			if data, err := os.ReadFile(p); err == nil {
				for _, s := range secrets {
					if strings.Contains(string(data), s) {
						t.Errorf("%s holds a credential %q", p, s)
					}
				}
			}
		}
		perm := fi.Mode().Perm()
		switch {
		case perm&0o002 != 0:
			t.Errorf("%s is world-writable (%v)", p, fi.Mode())
		case perm&0o004 != 0 && !mountedIntoContainer(p):
			t.Errorf("%s is world-readable (%v)", p, fi.Mode())
		}
		return nil
	})
	t.Logf("%d entries of berth's own state checked", checked)

	// A root that exists with looser modes (made by mkdir under umask 022)
	// is tightened by the next command.
	for _, d := range []string{e.Root, runDir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.MustRun("images", "-q")
	for _, d := range []string{e.Root, runDir} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s after a command on a 0755 root: mode %v (%v), want 0700", d, modeOf(fi), err)
		}
	}
}

func modeOf(fi fs.FileInfo) fs.FileMode {
	if fi == nil {
		return 0
	}
	return fi.Mode()
}

// containerContent tells the paths under root that hold image, container
// or volume file trees (whose modes are the image's) from berth's own state.
func containerContent(root string) func(string) bool {
	return func(p string) bool {
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return false
		}
		parts := strings.Split(rel, "/")
		switch {
		case len(parts) == 3 && parts[0] == "snapshots" && (parts[2] == "fs" || parts[2] == "work" || parts[2] == "upper"):
			return true
		case len(parts) == 3 && parts[0] == "volumes" && parts[2] == "_data":
			return true
		case len(parts) >= 3 && parts[0] == "run" && parts[1] == "bundles" && parts[len(parts)-1] == "rootfs":
			return true
		case rel == "snapshots/empty": // the lower dir of an image with no layer: its "/"
			return true
		case len(parts) == 3 && parts[0] == "run" && parts[1] == "netns":
			return true // a bind mount of the kernel's nsfs inode, mode 0444 by the kernel
		}
		return false
	}
}

// mountedIntoContainer: the files berth bind-mounts into a container,
// which the container's (possibly non-root) processes must read.
func mountedIntoContainer(p string) bool {
	switch filepath.Base(p) {
	case "hosts", "hostname", "resolv.conf":
		return true
	}
	return false
}
