package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/distribution/reference"

	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/progress"
	"github.com/berth/berth/internal/registry"
)

// PullOptions say when and how ResolveImage may pull.
type PullOptions struct {
	Always   bool      // pull even when the image is present (build --pull, pull)
	Platform string    // os[/arch[/variant]]; "" = the host's
	Out      io.Writer // progress and "Unable to find image" lines; nil = quiet
	Quiet    bool      // no progress (pull -q)
	AllTags  bool      // every tag of the repository (pull -a)
}

// registryClient opens the registry client with the configuration file
// ($BERTH_CONFIG or /etc/berth/berth.json). BERTH_REGISTRY_TIMEOUT (a Go
// duration) overrides how long a silent registry is waited for.
func (e *Engine) registryClient() (*registry.Client, error) {
	cfg, err := registry.LoadConfig(registry.ConfigPath(os.Getenv("BERTH_CONFIG")))
	if err != nil {
		return nil, err
	}
	var timeout time.Duration
	if v := os.Getenv("BERTH_REGISTRY_TIMEOUT"); v != "" {
		if timeout, err = time.ParseDuration(v); err != nil {
			return nil, fmt.Errorf("BERTH_REGISTRY_TIMEOUT=%q: %v: %w", v, err, errdefs.ErrInvalid)
		}
	}
	return registry.New(e.Images, registry.Options{Config: cfg, Timeout: timeout, StateDir: filepath.Join(e.Root.Lib, "registry")}), nil
}

// ResolveImage returns the local image ref names, pulling it first when it
// is missing (or always, with o.Always): what run, create and build's FROM use.
func (e *Engine) ResolveImage(ctx context.Context, ref string, o PullOptions) (*image.Image, error) {
	if !o.Always {
		img, err := e.Images.Get(ref)
		if err == nil || !errdefs.IsNotFound(err) {
			return img, err
		}
		named, perr := image.ParseReference(ref)
		if perr != nil {
			return nil, err
		}
		if o.Out != nil {
			fmt.Fprintf(o.Out, "Unable to find image '%s' locally\n", reference.FamiliarString(named))
		}
	}
	named, err := image.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	res, err := e.pullOne(ctx, named, o)
	if err != nil {
		return nil, err
	}
	return res.Image, nil
}

// Pull is `pull`: the image (or with AllTags every tag of its repository)
// with Docker's output on o.Out. It returns the references pulled,
// canonical ("docker.io/library/busybox:latest"), for the CLI's last line.
func (e *Engine) Pull(ctx context.Context, ref string, o PullOptions) ([]string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, errdefs.ErrInvalid)
	}
	_, tagged := named.(reference.Tagged)
	_, canonical := named.(reference.Canonical)
	if o.AllTags {
		if tagged || canonical {
			return nil, fmt.Errorf("tag can't be used with --all-tags/-a: %w", errdefs.ErrInvalid)
		}
		return e.pullAllTags(ctx, named, o)
	}
	if !tagged && !canonical && o.Out != nil && !o.Quiet {
		fmt.Fprintln(o.Out, "Using default tag: latest")
	}
	full, err := image.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	if _, err := e.pullOne(ctx, full, o); err != nil {
		return nil, err
	}
	return []string{full.String()}, nil
}

func (e *Engine) pullAllTags(ctx context.Context, named reference.Named, o PullOptions) ([]string, error) {
	c, err := e.registryClient()
	if err != nil {
		return nil, err
	}
	tags, err := c.Tags(ctx, named)
	if err != nil {
		return nil, err
	}
	sort.Strings(tags)
	for _, t := range tags {
		nt, err := reference.WithTag(named, t)
		if err != nil {
			continue
		}
		if _, err := e.pullOne(ctx, nt, o); err != nil {
			return nil, err
		}
	}
	// Docker's last line for -a is the repository, not each tag.
	return []string{named.Name()}, nil
}

// pullOne pulls one reference with Docker's progress lines.
func (e *Engine) pullOne(ctx context.Context, named reference.Named, o PullOptions) (*registry.PullResult, error) {
	c, err := e.registryClient()
	if err != nil {
		return nil, err
	}
	var pw *progress.Writer
	if o.Out != nil && !o.Quiet {
		pw = progress.NewAuto(o.Out)
	}
	res, err := c.Pull(ctx, named, registry.PullOptions{Platform: o.Platform, Progress: pw})
	if err != nil {
		return nil, e.dropPartialPull(err)
	}
	if pw != nil {
		pw.Println("Digest: %s", res.Digest)
		status := "Image is up to date for "
		if res.Downloaded {
			status = "Downloaded newer image for "
		}
		pw.Println("Status: %s%s", status, reference.FamiliarString(named))
	}
	return res, nil
}

// dropPartialPull handles a pull that failed on a full disk: what it
// wrote (whole blobs it no longer holds a lease on, its half-downloaded
// ingest) is collected at once, as Docker deletes its temporary downloads,
// because the space is what the user lacks. A pull that failed for another
// reason keeps them, so that its retry reuses the blobs and resumes the
// ingest.
func (e *Engine) dropPartialPull(err error) error {
	if !errors.Is(err, syscall.ENOSPC) {
		return err
	}
	if _, gcErr := e.Images.GC(nil); gcErr != nil {
		return fmt.Errorf("%w (and cleaning up: %v)", err, gcErr)
	}
	return err
}

// PushOptions are `push`'s.
type PushOptions struct {
	Out     io.Writer // progress; nil = quiet
	Quiet   bool
	AllTags bool
}

// Push is `push`: the tagged image (or with AllTags every local tag of the
// repository) to its registry. It returns the references pushed.
func (e *Engine) Push(ctx context.Context, ref string, o PushOptions) ([]string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, errdefs.ErrInvalid)
	}
	_, tagged := named.(reference.Tagged)
	_, canonical := named.(reference.Canonical)
	var targets []reference.Named
	switch {
	case o.AllTags:
		if tagged || canonical {
			return nil, fmt.Errorf("tag can't be used with --all-tags/-a: %w", errdefs.ErrInvalid)
		}
		imgs, err := e.Images.List()
		if err != nil {
			return nil, err
		}
		for _, img := range imgs {
			for _, t := range img.RepoTags {
				n, err := reference.ParseNormalizedNamed(t)
				if err == nil && n.Name() == named.Name() {
					targets = append(targets, n)
				}
			}
		}
		if len(targets) == 0 {
			return nil, fmt.Errorf("An image does not exist locally with the tag: %s: %w", reference.FamiliarName(named), errdefs.ErrNotFound)
		}
		sort.Slice(targets, func(i, j int) bool { return targets[i].String() < targets[j].String() })
	default:
		if !tagged && !canonical && o.Out != nil && !o.Quiet {
			fmt.Fprintln(o.Out, "Using default tag: latest")
		}
		targets = []reference.Named{reference.TagNameOnly(named)}
	}
	c, err := e.registryClient()
	if err != nil {
		return nil, err
	}
	var pw *progress.Writer
	if o.Out != nil && !o.Quiet {
		pw = progress.NewAuto(o.Out)
		pw.Println("The push refers to repository [%s]", named.Name())
	}
	var out []string
	for _, t := range targets {
		res, err := c.Push(ctx, t, registry.PushOptions{Progress: pw})
		if err != nil {
			return out, err
		}
		pw.Println("%s: digest: %s size: %d", res.Tag, res.Digest, res.Size)
		out = append(out, t.String())
	}
	return out, nil
}

// Login is `login`: it checks the credentials against the registry and
// stores them in Docker's config.json. It returns the server key and
// whether they went to the file unencrypted (Docker then warns).
func (e *Engine) Login(ctx context.Context, o registry.LoginOptions) (string, bool, error) {
	c, err := e.registryClient()
	if err != nil {
		return "", false, err
	}
	return c.Login(ctx, o)
}

// Logout is `logout`; removed is false when there were no credentials.
func (e *Engine) Logout(server string) (key string, removed bool, err error) {
	return registry.Logout(server)
}
