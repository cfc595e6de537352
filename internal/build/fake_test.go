package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth/berth/internal/buildcontext"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/image"
)

// fakeExec is an in-memory Executor: images are values in a map, RUN
// "succeeds" unless its argv is in fail, and COPY/WORKDIR write into a
// scratch directory that is thrown away.
type fakeExec struct {
	mu     sync.Mutex
	images map[string]*image.Image
	runs   [][]string // argv of every RUN executed
	writes int
	fail   map[string]int // joined argv → exit code
	base   map[string]*image.Image
}

func newFake() *fakeExec {
	f := &fakeExec{images: map[string]*image.Image{}, fail: map[string]int{}, base: map[string]*image.Image{}}
	f.addBase("busybox", v1.Config{Cmd: []string{"sh"}})
	return f
}

func (f *fakeExec) addBase(name string, cfg v1.Config) *image.Image {
	img := &image.Image{ID: "sha256:" + hexOf(name), Config: v1.ConfigFile{Config: cfg,
		History: []v1.History{{Comment: "Imported from -"}}}}
	f.images[img.ID] = img
	f.base[name] = img
	return img
}

func hexOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func (f *fakeExec) BaseImage(ctx context.Context, ref string, o BaseOptions) (*image.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if img, ok := f.base[ref]; ok {
		return img, nil
	}
	return nil, fmt.Errorf("No such image: %s: %w", ref, errdefs.ErrNotFound)
}

func (f *fakeExec) Image(id string) (*image.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if img, ok := f.images[id]; ok {
		return img, nil
	}
	return nil, fmt.Errorf("image %s: %w", id, errdefs.ErrNotFound)
}

func (f *fakeExec) Commit(ctx context.Context, parent *image.Image, c Commit) (*image.Image, error) {
	return f.commit(parent, c, true), nil
}

func (f *fakeExec) commit(parent *image.Image, c Commit, empty bool) *image.Image {
	f.mu.Lock()
	defer f.mu.Unlock()
	cf := v1.ConfigFile{Config: c.Config, Author: c.Author, Created: v1.Time{Time: c.Created}}
	parentID := ""
	if parent != nil {
		cf.History = append(cf.History, parent.Config.History...)
		parentID = parent.ID
	}
	cf.History = append(cf.History, v1.History{CreatedBy: c.CreatedBy, Author: c.Author, EmptyLayer: empty, Created: v1.Time{Time: c.Created}})
	b, _ := json.Marshal(cf)
	img := &image.Image{ID: "sha256:" + hexOf(string(b)), Config: cf, Parent: parentID}
	f.images[img.ID] = img
	return img
}

func (f *fakeExec) Run(ctx context.Context, parent *image.Image, r RunSpec, c Commit) (*image.Image, error) {
	f.mu.Lock()
	f.runs = append(f.runs, r.Args)
	code := f.fail[fmt.Sprint(r.Args)]
	f.mu.Unlock()
	if code != 0 {
		return nil, &ExitError{Code: code}
	}
	return f.commit(parent, c, false), nil
}

func (f *fakeExec) Write(ctx context.Context, parent *image.Image, fn func(string) error, c Commit) (*image.Image, error) {
	dir, err := os.MkdirTemp("", "fake-rootfs-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := fn(dir); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.writes++
	f.mu.Unlock()
	return f.commit(parent, c, false), nil
}

func (f *fakeExec) Mount(ctx context.Context, img *image.Image) (string, func(), error) {
	dir, err := os.MkdirTemp("", "fake-mount-")
	if err != nil {
		return "", nil, err
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// buildWith runs a build of dockerfile over a context holding files, with
// the fake executor, and returns the image and the output.
func buildWith(t testing.TB, f *fakeExec, dockerfile string, files map[string]string, mod func(*Options)) (*image.Image, string, error) {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	o := Options{
		Context: buildcontext.LoadOptions{Path: dir, Dockerfile: "-", Stdin: bytes.NewReader([]byte(dockerfile)), TempDir: t.TempDir()},
		Out:     &out,
		Now:     func() time.Time { return time.Unix(1700000000, 0) },
	}
	if mod != nil {
		mod(&o)
	}
	img, err := Build(context.Background(), o, f)
	return img, out.String(), err
}

func createdBy(img *image.Image) []string {
	var out []string
	for _, h := range img.Config.History {
		if h.CreatedBy != "" {
			out = append(out, h.CreatedBy)
		}
	}
	return out
}
