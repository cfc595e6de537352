package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/berth/berth/internal/buildcontext"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/opts"
)

// dispatch applies one instruction to the stage, as the legacy builder's
// dispatchers do.
func (b *builder) dispatch(ctx context.Context, st *state, cmd instructions.Command) error {
	env := append(append([]string(nil), st.cfg.Env...), st.args.filterAllowed(st.cfg.Env)...)
	getter := shell.EnvsFromSlice(env)
	// RUN is never expanded by the builder (the shell does it); its Expand
	// only handles BuildKit's --mount flags.
	if ex, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
		if _, isRun := cmd.(*instructions.RunCommand); !isRun {
			if err := ex.Expand(func(w string) (string, error) { return b.word(w, getter) }); err != nil {
				return err
			}
		}
	}
	cfg := &st.cfg
	switch c := cmd.(type) {
	case *instructions.EnvCommand:
		msg := "ENV"
		for _, kv := range c.Env {
			msg += " " + kv.String()
			cfg.Env = setEnv(cfg.Env, kv.Key, kv.Value)
		}
		return b.meta(ctx, st, msg)
	case *instructions.MaintainerCommand:
		st.author = c.Maintainer
		return b.meta(ctx, st, "MAINTAINER "+c.Maintainer)
	case *instructions.LabelCommand:
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		msg := "LABEL"
		for _, kv := range c.Labels {
			cfg.Labels[kv.Key] = kv.Value
			msg += " " + kv.String()
		}
		return b.meta(ctx, st, msg)
	case *instructions.AddCommand:
		if c.Link || len(c.ExcludePatterns) > 0 || c.KeepGitDir != nil || c.Unpack != nil {
			if len(c.ExcludePatterns) > 0 || c.KeepGitDir != nil || c.Unpack != nil {
				return errors.New("ADD --exclude, --keep-git-dir and --unpack are not supported")
			}
		}
		return b.copy(ctx, st, "ADD", c.SourcesAndDest, "", c.Chown, c.Chmod, c.Checksum, true)
	case *instructions.CopyCommand:
		if len(c.ExcludePatterns) > 0 || c.Parents {
			return errors.New("COPY --exclude and --parents are not supported")
		}
		return b.copy(ctx, st, "COPY", c.SourcesAndDest, c.From, c.Chown, c.Chmod, "", false)
	case *instructions.OnbuildCommand:
		cfg.OnBuild = append(cfg.OnBuild, c.Expression)
		return b.meta(ctx, st, "ONBUILD "+c.Expression)
	case *instructions.WorkdirCommand:
		wd, err := normalizeWorkdir(cfg.WorkingDir, c.Path)
		if err != nil {
			return err
		}
		cfg.WorkingDir = wd
		return b.commit(ctx, st, step{kind: kindWrite, container: true, createdBy: nop1(cfg, "WORKDIR "+wd),
			write: func(rootfs string) error { return mkdirIn(rootfs, wd) }})
	case *instructions.RunCommand:
		return b.runStep(ctx, st, c)
	case *instructions.CmdCommand:
		cmdline := resolveCmdLine(c.ShellDependantCmdLine, cfg)
		cfg.Cmd = cmdline
		cfg.ArgsEscaped = false
		if len(c.CmdLine) != 0 {
			st.cmdSet = true
		}
		return b.meta(ctx, st, fmt.Sprintf("CMD %q", cmdline))
	case *instructions.HealthCheckCommand:
		if old := cfg.Healthcheck; old != nil && len(old.Test) > 0 && old.Test[0] != "NONE" {
			fmt.Fprintf(b.o.Out, "Note: overriding previous HEALTHCHECK: %v\n", old.Test)
		}
		h := c.Health
		nh := &v1.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
		// The legacy builder's intermediate container merges the parent
		// image's healthcheck into this one through a shared pointer:
		// unset options (and NONE's) keep the parent's values.
		if st.img != nil && st.img.Config.Config.Healthcheck != nil {
			ih := st.img.Config.Config.Healthcheck
			if len(nh.Test) == 0 {
				nh.Test = ih.Test
			}
			if nh.Interval == 0 {
				nh.Interval = ih.Interval
			}
			if nh.Timeout == 0 {
				nh.Timeout = ih.Timeout
			}
			if nh.StartPeriod == 0 {
				nh.StartPeriod = ih.StartPeriod
			}
			if nh.Retries == 0 {
				nh.Retries = ih.Retries
			}
		}
		cfg.Healthcheck = nh
		return b.meta(ctx, st, "HEALTHCHECK "+healthString(h.Test, h.Interval, h.Timeout, h.StartPeriod, h.Retries))
	case *instructions.EntrypointCommand:
		cmdline := resolveCmdLine(c.ShellDependantCmdLine, cfg)
		cfg.Entrypoint = cmdline
		cfg.ArgsEscaped = false
		if !st.cmdSet {
			cfg.Cmd = nil
		}
		return b.meta(ctx, st, fmt.Sprintf("ENTRYPOINT %q", cmdline))
	case *instructions.ExposeCommand:
		var ports []string
		for _, p := range c.Ports {
			ws, err := b.lex.ProcessWords(p, getter)
			if err != nil {
				return err
			}
			ports = append(ports, ws...)
		}
		set, err := parsePorts(ports)
		if err != nil {
			return err
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range set {
			cfg.ExposedPorts[p] = struct{}{}
		}
		// The legacy builder's history lists the words sorted as strings.
		sorted := append([]string(nil), ports...)
		sort.Strings(sorted)
		return b.meta(ctx, st, "EXPOSE "+strings.Join(sorted, " "))
	case *instructions.UserCommand:
		cfg.User = c.User
		return b.meta(ctx, st, "USER "+c.User)
	case *instructions.VolumeCommand:
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			if v == "" {
				return errors.New("VOLUME specified can not be an empty string")
			}
			cfg.Volumes[v] = struct{}{}
		}
		return b.meta(ctx, st, fmt.Sprintf("VOLUME %v", c.Volumes))
	case *instructions.StopSignalCommand:
		if _, err := opts.ParseSignal(c.Signal); err != nil {
			return err
		}
		cfg.StopSignal = c.Signal
		return b.meta(ctx, st, "STOPSIGNAL "+c.Signal)
	case *instructions.ArgCommand:
		var msg strings.Builder
		msg.WriteString("ARG ")
		for i, kv := range c.Args {
			if i > 0 {
				msg.WriteString(" ")
			}
			msg.WriteString(kv.Key)
			if kv.Value != nil {
				msg.WriteString("=" + *kv.Value)
			}
			st.args.add(kv.Key, kv.Value)
		}
		return b.meta(ctx, st, msg.String())
	case *instructions.ShellCommand:
		cfg.Shell = append([]string(nil), c.Shell...)
		return b.meta(ctx, st, fmt.Sprintf("SHELL %v", cfg.Shell))
	}
	return fmt.Errorf("unsupported command type: %T", cmd)
}

// setEnv replaces key's entry in env or appends it.
func setEnv(env []string, key, value string) []string {
	for i, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); shell.EqualEnvKeys(k, key) {
			env[i] = key + "=" + value
			return env
		}
	}
	return append(env, key+"="+value)
}

// resolveCmdLine is the argv of a RUN/CMD/ENTRYPOINT: exec form as is,
// shell form behind the stage's SHELL. An empty form is [] (not nil).
func resolveCmdLine(c instructions.ShellDependantCmdLine, cfg *v1.Config) []string {
	if len(c.CmdLine) == 0 {
		return []string{}
	}
	if !c.PrependShell {
		return append([]string(nil), c.CmdLine...)
	}
	return append(shellOf(cfg), c.CmdLine...)
}

// heredocArgs applies BuildKit's rule for RUN heredocs: a lone heredoc is
// the shell's script; anything more is handed to the shell verbatim.
func heredocArgs(c *instructions.RunCommand) []string {
	line := c.CmdLine
	if len(c.Files) == 0 || len(line) != 1 || !c.PrependShell {
		return line
	}
	if h := parser.MustParseHeredoc(line[0]); h != nil && len(c.Files) == 1 && !strings.HasPrefix(c.Files[0].Data, "#!") {
		data := c.Files[0].Data
		if c.Files[0].Chomp {
			data = parser.ChompHeredocContent(data)
		}
		return []string{data}
	}
	full := line[0]
	for _, f := range c.Files {
		full += "\n" + f.Data + f.Name
	}
	return []string{full}
}

func (b *builder) runStep(ctx context.Context, st *state, c *instructions.RunCommand) error {
	if len(c.FlagsUsed) > 0 {
		return fmt.Errorf("the --%s option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled", c.FlagsUsed[0])
	}
	line := c.ShellDependantCmdLine
	line.CmdLine = heredocArgs(c)
	cmdline := resolveCmdLine(line, &st.cfg)
	buildEnv := st.args.filterAllowed(st.cfg.Env)
	save := cmdline
	if len(buildEnv) > 0 {
		var kept []string
		for _, kv := range buildEnv {
			k, _, _ := strings.Cut(kv, "=")
			if st.args.referencedOrNotBuiltin(k) {
				kept = append(kept, kv)
			}
		}
		sort.Strings(kept)
		save = append(append([]string{"|" + strconv.Itoa(len(kept))}, kept...), cmdline...)
	}
	id := NewID()
	run := &RunSpec{
		ID:         id,
		Args:       cmdline,
		Env:        append(append([]string(nil), st.cfg.Env...), buildEnv...),
		User:       st.cfg.User,
		WorkingDir: st.cfg.WorkingDir,
		Network:    b.o.Network,
		Stdout:     b.o.Out,
		Stderr:     &redWriter{w: b.o.Out},
	}
	for v := range st.cfg.Volumes {
		run.Volumes = append(run.Volumes, v)
	}
	sort.Strings(run.Volumes)
	err := b.commit(ctx, st, step{kind: kindRun, container: true, createdBy: strings.Join(save, " "), run: run})
	var exit *ExitError
	if errors.As(err, &exit) {
		return &RunFailed{Cmd: strings.Join(cmdline, " "), Code: exit.Code}
	}
	return err
}

// RunFailed is Docker's "The command '...' returned a non-zero code: N".
type RunFailed struct {
	Cmd  string
	Code int
}

func (e *RunFailed) Error() string {
	return fmt.Sprintf("The command '%s' returned a non-zero code: %d", e.Cmd, e.Code)
}

// copy is COPY and ADD: plan the copy, then write it into a new layer.
func (b *builder) copy(ctx context.Context, st *state, name string, sd instructions.SourcesAndDest, from, chown, chmod, checksum string, add bool) error {
	src := b.src
	sources := sd.SourcePaths
	if len(sd.SourceContents) > 0 {
		dir, err := tempDir()
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		names, err := writeInline(dir, sd.SourceContents)
		if err != nil {
			return err
		}
		src, sources = buildcontext.DirSource(dir), append(append([]string(nil), sources...), names...)
	}
	if from != "" {
		img, err := b.fromImage(ctx, from)
		if err != nil {
			return fmt.Errorf("invalid from flag value %s: %w", from, err)
		}
		rootfs, release, err := b.x.Mount(ctx, img)
		if err != nil {
			return err
		}
		defer release()
		src = buildcontext.DirSource(rootfs)
	}
	plan, err := buildcontext.NewPlan(ctx, src, buildcontext.CopyOptions{
		Sources: sources, Dest: sd.DestPath, WorkingDir: st.cfg.WorkingDir,
		Chown: chown, Chmod: chmod, Add: add, Checksum: checksum,
	})
	if err != nil {
		return err // buildcontext words it as Docker does ("COPY failed: ...")
	}
	defer plan.Close()
	// Docker pastes --chown=X against the hash without a separator
	// ("COPY --chown=appfile:<hex> in /x "); --chmod (BuildKit only) gets one.
	flags := ""
	if chown != "" {
		flags = "--chown=" + chown
	}
	if chmod != "" {
		if flags != "" {
			flags += " "
		}
		flags += "--chmod=" + chmod + " "
	}
	comment := fmt.Sprintf("%s %s%s in %s ", name, flags, plan.Describe(), sd.DestPath)
	return b.commit(ctx, st, step{kind: kindWrite, createdBy: nop1(&st.cfg, comment), content: plan.Digest(),
		write: plan.Apply})
}

// fromImage resolves COPY --from: a stage by name or index, else an image.
func (b *builder) fromImage(ctx context.Context, ref string) (*image.Image, error) {
	stages := b.plan.Stages
	for _, s := range stages {
		if s.Name != "" && strings.EqualFold(s.Name, ref) && b.built[s.Index] {
			return b.results[s.Index], nil
		}
	}
	if n, err := strconv.Atoi(ref); err == nil {
		if b.built[n] {
			return b.results[n], nil
		}
		return nil, errors.New("index out of bounds")
	}
	return b.x.BaseImage(ctx, ref, BaseOptions{Pull: b.o.Pull, Platform: b.o.Platform, Out: b.o.Out})
}

// normalizeWorkdir joins a relative WORKDIR onto the current one; an
// absolute one is kept as written (Docker does not clean it).
func normalizeWorkdir(current, requested string) (string, error) {
	if requested == "" {
		return "", errors.New("cannot normalize nothing")
	}
	if !filepath.IsAbs(requested) {
		return filepath.Join("/", current, requested), nil
	}
	return requested, nil
}

// mkdirIn creates dir (and parents) inside rootfs, root-owned 0755 as
// Docker's WORKDIR does, resolving symlinks inside rootfs only.
func mkdirIn(rootfs, dir string) error {
	p, err := securejoin.SecureJoin(rootfs, dir)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(p); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("mkdir %s: not a directory", dir)
		}
		return nil
	}
	return os.MkdirAll(p, 0o755)
}

// healthString is fmt's %q of Docker 20.10's *container.HealthConfig, the
// form the legacy builder writes into history.
func healthString(test []string, interval, timeout, start time.Duration, retries int) string {
	// Spelled out field by field: the same bytes as fmt's %q of the
	// struct pointer (durations through String, the int as a quoted rune).
	return fmt.Sprintf("&{%q %q %q %q %q}", test, interval.String(), timeout.String(), start.String(), rune(retries))
}

// parsePorts turns EXPOSE words into "port/proto" keys, ranges expanded.
func parsePorts(words []string) ([]string, error) {
	var out []string
	for _, w := range words {
		spec, proto, _ := strings.Cut(w, "/")
		if proto == "" {
			proto = "tcp"
		}
		proto = strings.ToLower(proto)
		if proto != "tcp" && proto != "udp" && proto != "sctp" {
			return nil, fmt.Errorf("invalid proto: %s", proto)
		}
		if i := strings.LastIndex(spec, ":"); i >= 0 {
			spec = spec[i+1:]
		}
		lo, hi, isRange := strings.Cut(spec, "-")
		start, err := strconv.ParseUint(lo, 10, 16)
		if err != nil || spec == "" {
			return nil, fmt.Errorf("invalid containerPort: %s", spec)
		}
		end := start
		if isRange {
			if end, err = strconv.ParseUint(hi, 10, 16); err != nil || end < start {
				return nil, fmt.Errorf("invalid containerPort: %s", spec)
			}
		}
		for p := start; p <= end; p++ {
			out = append(out, strconv.FormatUint(p, 10)+"/"+proto)
		}
	}
	return out, nil
}

// redWriter is how the legacy builder streams a RUN's stderr: each chunk
// wrapped in red (ESC[91m ... ESC[0m) on the one output stream.
type redWriter struct{ w io.Writer }

func (r *redWriter) Write(p []byte) (int, error) {
	buf := make([]byte, 0, len(p)+9)
	buf = append(append(append(buf, "\x1b[91m"...), p...), "\x1b[0m"...)
	if _, err := r.w.Write(buf); err != nil {
		return 0, err
	}
	return len(p), nil
}
