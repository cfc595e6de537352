package volume

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/root"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	return New(root.New(t.TempDir()))
}

func volNames(vols []*Volume) []string {
	out := make([]string, 0, len(vols))
	for _, v := range vols {
		out = append(out, v.Name)
	}
	return out
}

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"data", true},
		{"my_vol-1.2", true},
		{"0a", true},
		{"ab", true},
		{"a", false}, // Docker's regexp needs two characters
		{"", false},
		{"_data", false},
		{".hidden", false},
		{"-x", false},
		{"a/b", false},
		{"..", false},
		{"a b", false},
		{"caf\u00e9", false},
		{strings.Repeat("f", 64), true},
	}
	for _, tc := range tests {
		err := ValidName(tc.name)
		if (err == nil) != tc.ok {
			t.Errorf("ValidName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("ValidName(%q): %v is not ErrInvalid", tc.name, err)
		}
	}
	err := ValidName("a/b")
	want := `create a/b: "a/b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`
	if err.Error() != want {
		t.Errorf("message = %q\nwant Docker's %q", err, want)
	}
}

func TestCreateGetList(t *testing.T) {
	s := newStore(t)

	v, created, err := s.Create("data", CreateOptions{Labels: map[string]string{"a": "1"}})
	if err != nil || !created {
		t.Fatalf("Create: %v created=%v", err, created)
	}
	if v.Driver != "local" || v.Scope != "local" || v.Mountpoint != filepath.Join(s.dir, "data", "_data") || v.Anonymous() || v.CreatedAt.IsZero() {
		t.Fatalf("volume = %+v", v)
	}
	if fi, err := os.Stat(v.Mountpoint); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o755 {
		t.Fatalf("mountpoint: %v %v", fi, err)
	}

	// Idempotent: same volume back, the new labels ignored (Docker).
	again, created, err := s.Create("data", CreateOptions{Labels: map[string]string{"b": "2"}})
	if err != nil || created || again.Labels["a"] != "1" || again.Labels["b"] != "" || !again.CreatedAt.Equal(v.CreatedAt) {
		t.Fatalf("second Create: %+v created=%v err=%v", again, created, err)
	}

	anon, created, err := s.Create("", CreateOptions{Anonymous: true})
	if err != nil || !created || len(anon.Name) != 64 || !anon.Anonymous() {
		t.Fatalf("anonymous: %+v %v", anon, err)
	}
	if _, ok := anon.Labels[AnonymousLabel]; !ok {
		t.Fatalf("anonymous label missing: %v", anon.Labels)
	}
	unnamed, _, err := s.Create("", CreateOptions{})
	if err != nil || len(unnamed.Name) != 64 || unnamed.Anonymous() {
		t.Fatalf("unnamed create: %+v %v", unnamed, err)
	}

	got, err := s.Get("data")
	if err != nil || got.Labels["a"] != "1" || got.Mountpoint != v.Mountpoint {
		t.Fatalf("Get: %+v %v", got, err)
	}

	// The record is `docker volume inspect`'s shape.
	raw, _ := json.Marshal(got)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if want := []string{"CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"}; !slices.Equal(keys, want) {
		t.Fatalf("inspect keys = %v, want %v", keys, want)
	}

	vols, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{anon.Name, unnamed.Name, "data"}
	sort.Strings(want)
	if !slices.Equal(volNames(vols), want) {
		t.Fatalf("List = %v, want %v", volNames(vols), want)
	}

	if _, err := s.Get("nosuch"); !errors.Is(err, errdefs.ErrNotFound) || !errors.Is(err, ErrNoSuchVolume) || err.Error() != "get nosuch: no such volume" {
		t.Fatalf("Get missing: %v", err)
	}
	if _, err := s.Get("../etc"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Get with a path: %v", err)
	}
}

func TestListEmptyStore(t *testing.T) {
	s := newStore(t)
	vols, err := s.List()
	if err != nil || len(vols) != 0 {
		t.Fatalf("List on a new root: %v %v", vols, err)
	}
	rep, err := s.Prune(PruneOptions{All: true}, nil)
	if err != nil || len(rep.VolumesDeleted) != 0 {
		t.Fatalf("Prune on a new root: %+v %v", rep, err)
	}
}

func TestCreateOptions(t *testing.T) {
	tests := []struct {
		desc    string
		opts    map[string]string
		errText string
	}{
		{desc: "tmpfs options are recorded", opts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=100m,uid=1000"}},
		{desc: "unknown option", opts: map[string]string{"foo": "bar"}, errText: `create v1: invalid option: "foo"`},
		{desc: "size needs quota support", opts: map[string]string{"size": "10G"}, errText: "create v1: quota size requested but no quota support"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			s := newStore(t)
			v, _, err := s.Create("v1", CreateOptions{Options: tc.opts})
			if tc.errText != "" {
				if err == nil || err.Error() != tc.errText || !errors.Is(err, errdefs.ErrInvalid) {
					t.Fatalf("err = %v, want %q", err, tc.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := s.Get("v1")
			if got.Options["o"] != tc.opts["o"] || v.Options["type"] != "tmpfs" {
				t.Fatalf("options %v", got.Options)
			}
		})
	}
}

func TestRemove(t *testing.T) {
	s := newStore(t)
	if _, _, err := s.Create("busy", CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Create("free", CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	inUse := func(name string) []string {
		if name == "busy" {
			return []string{"abc123", "def456"}
		}
		return nil
	}

	err := s.Remove("busy", inUse)
	if err == nil || err.Error() != "remove busy: volume is in use - [abc123, def456]" || !errors.Is(err, errdefs.ErrConflict) || !errors.Is(err, ErrVolumeInUse) {
		t.Fatalf("remove in-use: %v", err)
	}
	if _, err := s.Get("busy"); err != nil {
		t.Fatalf("in-use volume was removed: %v", err)
	}

	if err := s.Remove("free", inUse); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "free")); !os.IsNotExist(err) {
		t.Fatalf("volume dir still there: %v", err)
	}
	err = s.Remove("free", inUse)
	if !errors.Is(err, errdefs.ErrNotFound) || err.Error() != "get free: no such volume" {
		t.Fatalf("remove missing: %v", err)
	}
	entries, _ := os.ReadDir(s.dir)
	if len(entries) != 1 || entries[0].Name() != "busy" {
		t.Fatalf("leftovers in store: %v", entries)
	}
}

func TestPrune(t *testing.T) {
	mk := func(t *testing.T, s *Store) (anonFree, anonBusy string) {
		for _, n := range []string{"named", "labelled"} {
			opts := CreateOptions{}
			if n == "labelled" {
				opts.Labels = map[string]string{"keep": "no"}
			}
			if _, _, err := s.Create(n, opts); err != nil {
				t.Fatal(err)
			}
		}
		a, _, err := s.Create("", CreateOptions{Anonymous: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(a.Mountpoint, "f"), make([]byte, 1000), 0o644); err != nil {
			t.Fatal(err)
		}
		// A hard link must not be counted twice.
		if err := os.Link(filepath.Join(a.Mountpoint, "f"), filepath.Join(a.Mountpoint, "g")); err != nil {
			t.Fatal(err)
		}
		b, _, err := s.Create("", CreateOptions{Anonymous: true})
		if err != nil {
			t.Fatal(err)
		}
		return a.Name, b.Name
	}
	tests := []struct {
		desc      string
		opts      PruneOptions
		deleted   func(anonFree string) []string
		reclaimed uint64
	}{
		{"default prunes only unused anonymous volumes", PruneOptions{}, func(a string) []string { return []string{a} }, 1000},
		{"--all prunes unused named volumes too", PruneOptions{All: true}, func(a string) []string { return []string{a, "labelled", "named"} }, 1000},
		{"--all with a label filter", PruneOptions{All: true, Filter: func(v *Volume) bool { return v.Labels["keep"] == "no" }}, func(string) []string { return []string{"labelled"} }, 0},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			s := newStore(t)
			anonFree, anonBusy := mk(t, s)
			inUse := func(name string) []string {
				if name == anonBusy {
					return []string{"c1"}
				}
				return nil
			}
			rep, err := s.Prune(tc.opts, inUse)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.deleted(anonFree)
			got := slices.Clone(rep.VolumesDeleted)
			sort.Strings(got)
			sort.Strings(want)
			if !slices.Equal(got, want) || rep.SpaceReclaimed != tc.reclaimed {
				t.Fatalf("pruned %v (%d bytes), want %v (%d)", got, rep.SpaceReclaimed, want, tc.reclaimed)
			}
			if _, err := s.Get(anonBusy); err != nil {
				t.Fatalf("in-use anonymous volume pruned: %v", err)
			}
			for _, n := range want {
				if _, err := s.Get(n); !errors.Is(err, errdefs.ErrNotFound) {
					t.Fatalf("%s still exists: %v", n, err)
				}
			}
		})
	}
}

// TestSweepLeftovers: a crash mid-create or mid-remove leaves a ".new-" or
// ".gone-" directory; it is invisible to List and removed by the next
// mutation.
func TestSweepLeftovers(t *testing.T) {
	s := newStore(t)
	if _, _, err := s.Create("real", CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{".new-123/_data", ".gone-old-abc/_data"} {
		if err := os.MkdirAll(filepath.Join(s.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	vols, err := s.List()
	if err != nil || !slices.Equal(volNames(vols), []string{"real"}) {
		t.Fatalf("List = %v %v", volNames(vols), err)
	}
	if _, _, err := s.Create("other", CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(s.dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"other", "real"}) {
		t.Fatalf("store holds %v", names)
	}
}

func TestConcurrentCreate(t *testing.T) {
	s := newStore(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	createdCount := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each Store opens its own lock file description, like
			// separate berth processes.
			other := &Store{dir: s.dir, locks: s.locks, timeout: s.timeout}
			_, created, err := other.Create("shared", CreateOptions{})
			if err != nil {
				t.Error(err)
				return
			}
			if created {
				mu.Lock()
				createdCount++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if createdCount != 1 {
		t.Fatalf("%d creators reported creating the volume, want 1", createdCount)
	}
}
