package build

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/internal/buildcontext"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/image"
)

// Options is one build.
type Options struct {
	Context   buildcontext.LoadOptions
	BuildArgs map[string]*string // --build-arg; nil value = declared without a value
	Target    string
	NoCache   bool
	Pull      bool
	Labels    map[string]string
	Network   string // for RUN: bridge|host|none
	Platform  string
	// SourceDateEpoch, when set, is every timestamp of the new images
	// (config and history created) and the upper bound of file mtimes in
	// their layers.
	SourceDateEpoch *time.Time
	// CacheDir holds the step cache (ROOT/build/cache).
	CacheDir string
	// Out receives Docker's progress lines and RUN output.
	Out io.Writer
	// Now is the clock (tests); nil = time.Now.
	Now func() time.Time
}

// defaultPath is what a stage's Env gets when the base image has no PATH.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Build runs the Dockerfile o.Context names and returns the target
// stage's image. It tags nothing.
func Build(ctx context.Context, o Options, x Executor) (*image.Image, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	bctx, dockerfile, err := buildcontext.Load(ctx, o.Context)
	if err != nil {
		return nil, err
	}
	defer bctx.Close()
	name := o.Context.Dockerfile
	if name == "" || name == "-" {
		name = "Dockerfile"
	}
	plan, err := ParsePlan(dockerfile, PlanOptions{Name: name, Target: o.Target, Labels: o.Labels, BuildArgs: o.BuildArgs})
	if err != nil {
		return nil, err
	}
	plan.Warnings.PrintWarnings(o.Out)
	b := &builder{
		o:       o,
		x:       x,
		plan:    plan,
		lex:     shell.NewLex(plan.Escape),
		src:     bctx.Source(),
		args:    newBuildArgs(o.BuildArgs),
		results: map[int]*image.Image{},
		cache:   &cache{dir: o.CacheDir},
	}
	return b.run(ctx)
}

type builder struct {
	o       Options
	x       Executor
	plan    *Plan
	lex     *shell.Lex
	src     buildcontext.Source
	args    *buildArgs
	results map[int]*image.Image // stage index → its image (nil: scratch, nothing committed)
	built   map[int]bool
	cache   *cache
	step    int
}

// state is one stage's dispatch state (Docker's dispatchState).
type state struct {
	cfg    v1.Config
	img    *image.Image // the stage's current image; nil while still scratch
	author string
	cmdSet bool
	args   *buildArgs
	busted bool // a cache miss in this stage: no more probing (Docker's prober)
	stage  *PlannedStage
}

func (b *builder) printStep(text string) {
	b.step++
	fmt.Fprintf(b.o.Out, "Step %d/%d : %s\n", b.step, b.plan.Total, text)
}

func (b *builder) run(ctx context.Context) (*image.Image, error) {
	b.built = map[int]bool{}
	for i := range b.plan.MetaArgs {
		m := b.plan.MetaArgs[i]
		b.printStep(m.String())
		env := shell.EnvsFromSlice(toEnv(b.args.all(b.args.allowed)))
		if err := m.Expand(func(w string) (string, error) { return b.word(w, env) }); err != nil {
			return nil, b.fail(m.Location(), err)
		}
		for _, kv := range m.Args {
			b.args.addMeta(kv.Key, kv.Value)
		}
	}
	var last *state
	for i := range b.plan.Stages {
		ps := &b.plan.Stages[i]
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		st := &state{args: b.args.forStage(), stage: ps}
		b.printStep(ps.SourceCode)
		if err := b.from(ctx, st, ps); err != nil {
			return nil, b.fail(ps.Location, err)
		}
		fmt.Fprintf(b.o.Out, " ---> %s\n", shortID(st.img))
		for _, cmd := range ps.Commands {
			if err := ctx.Err(); err != nil {
				fmt.Fprint(b.o.Out, "Build cancelled\n")
				return nil, errors.New("Build cancelled")
			}
			b.printStep(commandText(cmd))
			if err := b.dispatch(ctx, st, cmd); err != nil {
				return nil, b.fail(cmd.Location(), err)
			}
			fmt.Fprintf(b.o.Out, " ---> %s\n", shortID(st.img))
		}
		b.args.merge(st.args)
		b.results[ps.Index] = st.img
		b.built[ps.Index] = true
		last = st
	}
	if unused := b.args.unused(); len(unused) > 0 {
		fmt.Fprintf(b.o.Out, "[Warning] One or more build-args %v were not consumed\n", unused)
	}
	if last == nil || last.img == nil {
		return nil, fmt.Errorf("No image was generated. Is your Dockerfile empty?: %w", errdefs.ErrInvalid)
	}
	return last.img, nil
}

// fail attaches the instruction's line to err (a RUN's exit keeps its own
// wording).
func (b *builder) fail(loc []parser.Range, err error) error {
	return stepError(loc, b.plan.lines, err)
}

func commandText(cmd instructions.Command) string {
	if s, ok := cmd.(fmt.Stringer); ok {
		return s.String()
	}
	return cmd.Name()
}

func shortID(img *image.Image) string {
	if img == nil {
		return ""
	}
	return img.ShortID()
}

func (b *builder) word(w string, env shell.EnvGetter) (string, error) {
	s, _, err := b.lex.ProcessWord(w, env)
	return s, err
}

// from starts a stage on its base: an earlier stage, scratch or an image.
func (b *builder) from(ctx context.Context, st *state, ps *PlannedStage) error {
	env := shell.EnvsFromSlice(b.args.metaEnv())
	name, err := b.word(ps.BaseName, env)
	if err != nil {
		return err
	}
	if name == "" {
		return fmt.Errorf("base name (%s) should not be blank", ps.BaseName)
	}
	platform := b.o.Platform
	if ps.Platform != "" {
		if platform, err = b.word(ps.Platform, env); err != nil {
			return fmt.Errorf("failed to process arguments for platform %s: %w", ps.Platform, err)
		}
	}
	var img *image.Image
	if j, ok := b.stageBefore(ps.Index, name); ok {
		img = b.results[j]
	} else if name != "scratch" {
		img, err = b.x.BaseImage(ctx, name, BaseOptions{Pull: b.o.Pull, Platform: platform, Out: b.o.Out})
		if err != nil {
			return err
		}
	}
	st.img = img
	if img != nil {
		st.cfg = *img.Config.Config.DeepCopy()
	}
	if !hasEnv(st.cfg.Env, "PATH") {
		st.cfg.Env = append(st.cfg.Env, defaultPath)
	}
	st.cfg.OpenStdin, st.cfg.StdinOnce = false, false
	if triggers := st.cfg.OnBuild; len(triggers) > 0 {
		st.cfg.OnBuild = nil
		s := ""
		if len(triggers) > 1 {
			s = "s"
		}
		fmt.Fprintf(b.o.Out, "# Executing %d build trigger%s\n", len(triggers), s)
		for _, t := range triggers {
			res, err := parser.Parse(strings.NewReader(t))
			if err != nil {
				return err
			}
			if len(res.AST.Children) != 1 {
				return errors.New("onbuild trigger should be a single expression")
			}
			cmd, err := instructions.ParseCommand(res.AST.Children[0])
			if err != nil {
				return err
			}
			if err := b.dispatch(ctx, st, cmd); err != nil {
				return err
			}
		}
	}
	return nil
}

// stageBefore finds the built stage called name (case-insensitive) that
// comes before stage i, and returns its Dockerfile index.
func (b *builder) stageBefore(i int, name string) (int, bool) {
	for _, s := range b.plan.Stages {
		if s.Index < i && s.Name != "" && strings.EqualFold(s.Name, name) && b.built[s.Index] {
			return s.Index, true
		}
	}
	return 0, false
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			return true
		}
	}
	return false
}

// NewID is a sandbox/intermediate container ID: 64 hex digits.
func NewID() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// created is the timestamp of a new image.
func (b *builder) created() time.Time {
	if b.o.SourceDateEpoch != nil {
		return b.o.SourceDateEpoch.UTC()
	}
	return b.o.Now().UTC()
}

// stepKind says what a step does besides changing the config.
type stepKind int

const (
	kindMeta  stepKind = iota // commit only
	kindRun                   // run a process
	kindWrite                 // change files without a process (COPY, ADD, WORKDIR)
)

// step is one image-producing instruction, ready to probe and execute.
type step struct {
	kind      stepKind
	createdBy string
	content   digest.Digest // COPY/ADD: what is copied
	container bool          // Docker makes an intermediate container for it
	run       *RunSpec
	write     func(rootfs string) error
}

// commit probes the cache for s and otherwise executes it, then moves the
// stage to the new image.
func (b *builder) commit(ctx context.Context, st *state, s step) error {
	cfg := *st.cfg.DeepCopy()
	parentID := ""
	if st.img != nil {
		parentID = st.img.ID
	}
	cfg.Image = parentID
	epoch := ""
	if b.o.SourceDateEpoch != nil {
		epoch = strconv.FormatInt(b.o.SourceDateEpoch.Unix(), 10)
	}
	key := stepKey(parentID, s.createdBy, cfg, st.author, s.content, epoch)
	if !b.o.NoCache && !st.busted {
		if id := b.cache.get(key); id != "" {
			if img, err := b.x.Image(id); err == nil {
				fmt.Fprint(b.o.Out, " ---> Using cache\n")
				st.img = img
				return nil
			}
		}
		st.busted = true
	}
	c := Commit{Config: cfg, Author: st.author, CreatedBy: s.createdBy, Created: b.created(), SourceDateEpoch: b.o.SourceDateEpoch}
	var id string
	if s.container {
		id = NewID()
		if s.run != nil && s.run.ID != "" {
			id = s.run.ID
		}
		fmt.Fprintf(b.o.Out, " ---> Running in %s\n", id[:12])
	}
	var img *image.Image
	var err error
	switch s.kind {
	case kindRun:
		img, err = b.x.Run(ctx, st.img, *s.run, c)
	case kindWrite:
		img, err = b.x.Write(ctx, st.img, s.write, c)
	default:
		img, err = b.x.Commit(ctx, st.img, c)
	}
	if err != nil {
		return err
	}
	if s.container {
		fmt.Fprintf(b.o.Out, "Removing intermediate container %s\n", id[:12])
	}
	b.cache.put(key, img.ID)
	st.img = img
	return nil
}

// shellOf is the stage's SHELL, or Docker's default.
func shellOf(cfg *v1.Config) []string {
	if len(cfg.Shell) > 0 {
		return append([]string(nil), cfg.Shell...)
	}
	return []string{"/bin/sh", "-c"}
}

// nop is the history of a metadata-only step: `/bin/sh -c #(nop)  ENV a=b`
// (the legacy builder's two-argument comment, hence two spaces).
func nop(cfg *v1.Config, comment string) string {
	return strings.Join(append(shellOf(cfg), "#(nop) ", comment), " ")
}

// nop1 is the one-argument form WORKDIR, COPY and ADD use.
func nop1(cfg *v1.Config, comment string) string {
	return strings.Join(append(shellOf(cfg), "#(nop) "+comment), " ")
}

func (b *builder) meta(ctx context.Context, st *state, comment string) error {
	return b.commit(ctx, st, step{kind: kindMeta, createdBy: nop(&st.cfg, comment), container: true})
}

// tempDir is where heredoc sources are written.
func tempDir() (string, error) {
	return os.MkdirTemp("", "berth-build-")
}

func writeInline(dir string, files []instructions.SourceContent) ([]string, error) {
	var names []string
	for _, f := range files {
		name := filepath.Base(filepath.Clean("/" + f.Path))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(f.Data), 0o644); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, nil
}
