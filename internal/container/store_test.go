package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/root"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(root.New(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	s.LockTimeout = 5 * time.Second
	return s
}

func mustCreate(t *testing.T, s *Store, name string) *Container {
	t.Helper()
	c := &Container{Name: name, Path: "sh"}
	if err := s.Create(c); err != nil {
		t.Fatalf("Create(%q): %v", name, err)
	}
	return c
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if !IsID(id) {
			t.Fatalf("NewID() = %q: not 64 hex digits", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %s", id)
		}
		seen[id] = true
	}
}

func TestCreateAndGet(t *testing.T) {
	s := newStore(t)
	web := mustCreate(t, s, "web")
	gen := mustCreate(t, s, "")
	if gen.Name == "" || !strings.Contains(gen.Name, "_") {
		t.Fatalf("generated name %q is not adjective_surname", gen.Name)
	}
	if web.State.Status != StatusCreated || web.Created.IsZero() {
		t.Fatalf("Create did not default status/created: %+v", web.State)
	}
	tests := []struct {
		desc    string
		ref     string
		wantID  string
		wantErr error
		wantMsg string
	}{
		{"full ID", web.ID, web.ID, nil, ""},
		{"name", "web", web.ID, nil, ""},
		{"name with leading slash", "/web", web.ID, nil, ""},
		{"generated name", gen.Name, gen.ID, nil, ""},
		{"unique 12-char prefix", web.ID[:12], web.ID, nil, ""},
		{"unknown name", "nope", "", errdefs.ErrNotFound, "No such container: nope"},
		{"unknown ID", strings.Repeat("0", 64), "", errdefs.ErrNotFound, "No such container: " + strings.Repeat("0", 64)},
		{"empty ref", "", "", errdefs.ErrNotFound, "No such container: "},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			c, err := s.Get(tt.ref)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || err.Error() != tt.wantMsg {
					t.Fatalf("Get(%q) error = %v, want %q (%v)", tt.ref, err, tt.wantMsg, tt.wantErr)
				}
				return
			}
			if err != nil || c.ID != tt.wantID {
				t.Fatalf("Get(%q) = %v, %v; want %s", tt.ref, c, err, tt.wantID)
			}
		})
	}
}

func TestGetAmbiguousPrefix(t *testing.T) {
	s := newStore(t)
	a := &Container{ID: "ab" + strings.Repeat("1", 62), Name: "a1"}
	b := &Container{ID: "ab" + strings.Repeat("2", 62), Name: "b1"}
	for _, c := range []*Container{a, b} {
		if err := s.Create(c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Get("ab"); !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "Multiple IDs found with provided prefix: ab") {
		t.Fatalf("ambiguous prefix: %v", err)
	}
	if c, err := s.Get("ab1"); err != nil || c.ID != a.ID {
		t.Fatalf("Get(ab1) = %v, %v", c, err)
	}
	// A name that looks like a prefix is found as a name first.
	n := &Container{ID: "cd" + strings.Repeat("3", 62), Name: "ab"}
	if err := s.Create(n); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Get("ab"); err != nil || c.ID != n.ID {
		t.Fatalf("name must win over prefix: %v, %v", c, err)
	}
}

func TestCreateNameRules(t *testing.T) {
	s := newStore(t)
	web := mustCreate(t, s, "web")
	tests := []struct {
		desc    string
		name    string
		wantErr error
		wantMsg string
	}{
		{"taken name", "web", errdefs.ErrConflict,
			`Conflict. The container name "/web" is already in use by container "` + web.ID + `". You have to remove (or rename) that container to be able to reuse that name.`},
		{"taken name with slash", "/web", errdefs.ErrConflict, ""},
		{"single character", "a", errdefs.ErrInvalid, "Invalid container name (a), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"},
		{"leading dash", "-x", errdefs.ErrInvalid, ""},
		{"space", "a b", errdefs.ErrInvalid, ""},
		{"slash inside", "a/b", errdefs.ErrInvalid, ""},
		{"dots dashes underscores", "a.b-c_d", nil, ""},
		{"leading slash is stripped", "/api", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			c := &Container{Name: tt.name}
			err := s.Create(c)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Create(%q): %v", tt.name, err)
				}
				if strings.HasPrefix(c.Name, "/") {
					t.Fatalf("stored name %q keeps the slash", c.Name)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Create(%q) = %v, want %v", tt.name, err, tt.wantErr)
			}
			if tt.wantMsg != "" && !strings.HasPrefix(err.Error(), tt.wantMsg) {
				t.Fatalf("Create(%q) message %q, want %q", tt.name, err, tt.wantMsg)
			}
		})
	}
}

func TestConcurrentCreate(t *testing.T) {
	tests := []struct {
		desc      string
		name      string
		wantWins  int
		wantNames int
	}{
		{"same name: exactly one wins", "same", 1, 1},
		{"generated names: all distinct", "", 20, 20},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			s := newStore(t)
			var wg sync.WaitGroup
			var mu sync.Mutex
			wins, conflicts := 0, 0
			names := map[string]bool{}
			for range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := &Container{Name: tt.name}
					err := s.Create(c)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						wins++
						names[c.Name] = true
					case errdefs.IsConflict(err):
						conflicts++
					default:
						t.Errorf("Create: %v", err)
					}
				}()
			}
			wg.Wait()
			if wins != tt.wantWins || len(names) != tt.wantNames || wins+conflicts != 20 {
				t.Fatalf("wins=%d conflicts=%d names=%d, want wins=%d names=%d", wins, conflicts, len(names), tt.wantWins, tt.wantNames)
			}
			all, err := s.List()
			if err != nil || len(all) != tt.wantWins {
				t.Fatalf("List = %d records, %v; want %d", len(all), err, tt.wantWins)
			}
		})
	}
}

func TestStaleNameReservation(t *testing.T) {
	s := newStore(t)
	// A crash between reserving the name and writing the record leaves a
	// name file pointing at a container that does not exist.
	ghost := NewID()
	if err := os.WriteFile(s.namePath("web"), []byte(ghost), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("web"); !errdefs.IsNotFound(err) {
		t.Fatalf("stale reservation must be invisible, Get = %v", err)
	}
	c := mustCreate(t, s, "web")
	if got, err := s.Get("web"); err != nil || got.ID != c.ID {
		t.Fatalf("stale reservation not reclaimed: %v, %v", got, err)
	}
	// A directory without a record (crash inside Create) is skipped by List.
	if err := os.Mkdir(s.Dir(NewID()), 0o700); err != nil {
		t.Fatal(err)
	}
	if all, err := s.List(); err != nil || len(all) != 1 {
		t.Fatalf("List = %d, %v; want 1", len(all), err)
	}
}

func TestUpdate(t *testing.T) {
	s := newStore(t)
	c := mustCreate(t, s, "web")
	got, err := s.Update(c.ID, func(c *Container) error {
		c.State.SetRunning(42, time.Now())
		return nil
	})
	if err != nil || got.State.Pid != 42 || got.State.Status != StatusRunning {
		t.Fatalf("Update = %+v, %v", got, err)
	}
	boom := errors.New("boom")
	if _, err := s.Update(c.ID, func(c *Container) error { c.State.Pid = 7; return boom }); !errors.Is(err, boom) {
		t.Fatalf("Update error = %v", err)
	}
	if again, _ := s.Get(c.ID); again.State.Pid != 42 {
		t.Fatalf("failed update was written: pid %d", again.State.Pid)
	}
	if _, err := s.Update(NewID(), func(*Container) error { return nil }); !errdefs.IsNotFound(err) {
		t.Fatalf("Update of missing container = %v", err)
	}
	// Concurrent increments under the lock never lose an update.
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Update(c.ID, func(c *Container) error { c.RestartCount++; return nil }); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if again, _ := s.Get(c.ID); again.RestartCount != 20 {
		t.Fatalf("RestartCount = %d after 20 concurrent updates", again.RestartCount)
	}
}

func TestLogConfigSurvivesRecord(t *testing.T) {
	s := newStore(t)
	c := &Container{Name: "logged", Host: HostConfig{LogMaxSize: 10 << 20, LogMaxFiles: 3}}
	if err := s.Create(c); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get("logged")
	if err != nil {
		t.Fatal(err)
	}
	if got.Host.LogMaxSize != 10<<20 || got.Host.LogMaxFiles != 3 || got.Host.LogConfig.Type != "json-file" {
		t.Fatalf("log options lost: %+v", got.Host)
	}
	// Docker-style strings parse too.
	got.Host.LogConfig.Config = map[string]string{"max-size": "1k", "max-file": "2"}
	got.Host.LogMaxSize, got.Host.LogMaxFiles = 0, 0
	if err := s.Save(got); err != nil {
		t.Fatal(err)
	}
	again, _ := s.Get("logged")
	if again.Host.LogMaxSize != 1024 || again.Host.LogMaxFiles != 2 {
		t.Fatalf("max-size 1k / max-file 2 parsed as %d / %d", again.Host.LogMaxSize, again.Host.LogMaxFiles)
	}
}

func TestRename(t *testing.T) {
	s := newStore(t)
	web := mustCreate(t, s, "web")
	mustCreate(t, s, "db")
	tests := []struct {
		desc    string
		ref     string
		newName string
		wantErr error
	}{
		{"to a taken name", "web", "db", errdefs.ErrConflict},
		{"to the same name", "web", "web", errdefs.ErrInvalid},
		{"to an invalid name", "web", "x", errdefs.ErrInvalid},
		{"empty new name", "web", "", errdefs.ErrInvalid},
		{"unknown container", "nope", "other", errdefs.ErrNotFound},
		{"to a free name", "web", "/frontend", nil},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			err := s.Rename(tt.ref, tt.newName)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Rename(%q, %q) = %v, want %v", tt.ref, tt.newName, err, tt.wantErr)
			}
		})
	}
	if c, err := s.Get("frontend"); err != nil || c.ID != web.ID || c.Name != "frontend" {
		t.Fatalf("Get(frontend) = %v, %v", c, err)
	}
	if _, err := s.Get("web"); !errdefs.IsNotFound(err) {
		t.Fatalf("old name still resolves: %v", err)
	}
	// The old name is free for a new container.
	mustCreate(t, s, "web")
}

func TestDelete(t *testing.T) {
	s := newStore(t)
	c := mustCreate(t, s, "web")
	if err := os.WriteFile(filepath.Join(s.Dir(c.ID), "hosts"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(c.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(c.ID); err != nil {
		t.Fatalf("second Delete must be a no-op: %v", err)
	}
	if _, err := os.Stat(s.Dir(c.ID)); !os.IsNotExist(err) {
		t.Fatalf("directory survives Delete: %v", err)
	}
	if _, err := s.Get("web"); !errdefs.IsNotFound(err) {
		t.Fatalf("name survives Delete: %v", err)
	}
	mustCreate(t, s, "web")
	// A trash directory from a crashed Delete is swept by List.
	trash := filepath.Join(s.dir, trashPrefix+NewID())
	os.Mkdir(trash, 0o700)
	s.List()
	if _, err := os.Stat(trash); !os.IsNotExist(err) {
		t.Fatal("List left a trash directory behind")
	}
}

func TestDeleteRefusesMounts(t *testing.T) {
	s := newStore(t)
	c := mustCreate(t, s, "mounted")
	mp := filepath.Join(s.Dir(c.ID), "rootfs")
	if err := os.Mkdir(mp, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", mp, "tmpfs", 0, ""); err != nil {
		t.Skipf("cannot mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(mp, unix.MNT_DETACH) })
	keep := filepath.Join(mp, "precious")
	os.WriteFile(keep, []byte("x"), 0o600)
	if err := s.Delete(c.ID); !errdefs.IsConflict(err) {
		t.Fatalf("Delete with a mount inside = %v, want conflict", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Fatalf("Delete reached through the mount: %v", err)
	}
	unix.Unmount(mp, unix.MNT_DETACH)
	if err := s.Delete(c.ID); err != nil {
		t.Fatal(err)
	}
}

func TestListOrder(t *testing.T) {
	s := newStore(t)
	base := time.Now().UTC()
	for i := range 3 {
		c := &Container{Name: fmt.Sprintf("c%d", i), Created: base.Add(time.Duration(i) * time.Second)}
		if err := s.Create(c); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range all {
		got = append(got, c.Name)
	}
	if strings.Join(got, ",") != "c2,c1,c0" {
		t.Fatalf("List order %v, want newest first", got)
	}
}

func TestOwnerLock(t *testing.T) {
	s := newStore(t)
	c := mustCreate(t, s, "owned")
	if s.OwnerAlive(c.ID) {
		t.Fatal("owner alive before anyone held it")
	}
	release, err := s.HoldOwner(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !s.OwnerAlive(c.ID) {
		t.Fatal("owner not alive while held")
	}
	if _, err := s.HoldOwner(c.ID); !errdefs.IsConflict(err) {
		t.Fatalf("second HoldOwner = %v, want conflict", err)
	}
	release()
	if s.OwnerAlive(c.ID) {
		t.Fatal("owner alive after release")
	}
}

// TestTakeOwnerAfterRemoval: a start that finds the owner lock held by a
// process removing the container waits, and then reports the container
// gone; a real owner that stays is a conflict.
func TestTakeOwnerAfterRemoval(t *testing.T) {
	s := newStore(t)
	c := mustCreate(t, s, "doomed")
	release, err := s.HoldOwner(c.ID) // the remover
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		s.Delete(c.ID)
		release()
	}()
	if _, err := s.TakeOwner(c.ID, 5*time.Second); !errdefs.IsNotFound(err) {
		t.Fatalf("TakeOwner of a container removed meanwhile = %v, want not found", err)
	}
	kept := mustCreate(t, s, "kept")
	release, err = s.HoldOwner(kept.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if _, err := s.TakeOwner(kept.ID, 50*time.Millisecond); !errdefs.IsConflict(err) {
		t.Fatalf("TakeOwner of an owned container = %v, want conflict", err)
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	tests := []struct{ desc, in, want string }{
		{"plain", "/a/b", "/a/b"},
		{"space", `/a\040b`, "/a b"},
		{"backslash", `/a\134b`, `/a\b`},
		{"trailing escape", `/a\040`, "/a "},
		{"short escape kept", `/a\04`, `/a\04`},
	}
	for _, tt := range tests {
		if got := unescapeMountinfo(tt.in); got != tt.want {
			t.Errorf("%s: unescapeMountinfo(%q) = %q, want %q", tt.desc, tt.in, got, tt.want)
		}
	}
}
