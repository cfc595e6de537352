package image

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/opts"
)

// validChange is the set of Dockerfile instructions `docker import
// --change` and `docker commit --change` accept (moby's
// validCommitCommands).
var validChange = map[string]bool{
	"cmd": true, "entrypoint": true, "env": true, "expose": true, "healthcheck": true,
	"label": true, "onbuild": true, "stopsignal": true, "user": true, "volume": true, "workdir": true,
}

// defaultShell is what a shell-form CMD/ENTRYPOINT runs under when the
// config sets no SHELL.
var defaultShell = []string{"/bin/sh", "-c"}

// ApplyChanges applies --change lines (Dockerfile instructions) to cfg the
// way Docker's builder dispatches them, and returns the new config; cfg is
// not modified. Lines are parsed with BuildKit's Dockerfile parser; $VAR
// references expand against the config's Env as it stands at each line.
func ApplyChanges(cfg v1.Config, changes []string) (v1.Config, error) {
	out := *cfg.DeepCopy()
	if len(changes) == 0 {
		return out, nil
	}
	res, err := parser.Parse(strings.NewReader(strings.Join(changes, "\n")))
	if err != nil {
		return cfg, fmt.Errorf("%v: %w", err, errdefs.ErrInvalid)
	}
	for _, n := range res.AST.Children {
		if !validChange[strings.ToLower(n.Value)] {
			return cfg, fmt.Errorf("%s is not a valid change command: %w", n.Value, errdefs.ErrInvalid)
		}
	}
	lex := shell.NewLex(res.EscapeToken)
	cmdSet := false
	for _, n := range res.AST.Children {
		cmd, err := instructions.ParseCommand(n)
		if err != nil {
			return cfg, fmt.Errorf("%v: %w", err, errdefs.ErrInvalid)
		}
		env := shell.EnvsFromSlice(out.Env)
		if ex, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
			err := ex.Expand(func(word string) (string, error) {
				s, _, err := lex.ProcessWord(word, env)
				return s, err
			})
			if err != nil {
				return cfg, fmt.Errorf("%s: %v: %w", n.Original, err, errdefs.ErrInvalid)
			}
		}
		switch c := cmd.(type) {
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				out.Env = setEnv(out.Env, kv.Key, kv.Value)
			}
		case *instructions.LabelCommand:
			if out.Labels == nil {
				out.Labels = map[string]string{}
			}
			for _, kv := range c.Labels {
				out.Labels[kv.Key] = kv.Value
			}
		case *instructions.CmdCommand:
			out.Cmd = cmdLine(c.ShellDependantCmdLine, out.Shell)
			out.ArgsEscaped = false
			if len(c.CmdLine) != 0 {
				cmdSet = true
			}
		case *instructions.EntrypointCommand:
			out.Entrypoint = cmdLine(c.ShellDependantCmdLine, out.Shell)
			out.ArgsEscaped = false
			if !cmdSet {
				out.Cmd = nil // a new ENTRYPOINT drops an inherited CMD
			}
		case *instructions.ExposeCommand:
			var ports []string
			for _, p := range c.Ports {
				words, err := lex.ProcessWords(p, env)
				if err != nil {
					return cfg, fmt.Errorf("EXPOSE %s: %v: %w", p, err, errdefs.ErrInvalid)
				}
				ports = append(ports, words...)
			}
			if out.ExposedPorts == nil {
				out.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range ports {
				specs, err := parsePortSpec(p)
				if err != nil {
					return cfg, err
				}
				for _, s := range specs {
					out.ExposedPorts[s] = struct{}{}
				}
			}
		case *instructions.UserCommand:
			out.User = c.User
		case *instructions.VolumeCommand:
			if out.Volumes == nil {
				out.Volumes = map[string]struct{}{}
			}
			for _, v := range c.Volumes {
				if v == "" {
					return cfg, fmt.Errorf("VOLUME specified can not be an empty string: %w", errdefs.ErrInvalid)
				}
				out.Volumes[v] = struct{}{}
			}
		case *instructions.WorkdirCommand:
			if c.Path == "" {
				return cfg, fmt.Errorf("WORKDIR requires a path: %w", errdefs.ErrInvalid)
			}
			if path.IsAbs(c.Path) {
				out.WorkingDir = c.Path
			} else {
				out.WorkingDir = path.Join("/", out.WorkingDir, c.Path)
			}
		case *instructions.StopSignalCommand:
			if _, err := opts.ParseSignal(c.Signal); err != nil {
				return cfg, err
			}
			out.StopSignal = c.Signal
		case *instructions.OnbuildCommand:
			out.OnBuild = append(out.OnBuild, c.Expression)
		case *instructions.HealthCheckCommand:
			h := c.Health
			out.Healthcheck = &v1.HealthConfig{
				Test:        h.Test,
				Interval:    h.Interval,
				Timeout:     h.Timeout,
				StartPeriod: h.StartPeriod,
				Retries:     h.Retries,
			}
		default:
			return cfg, fmt.Errorf("%s is not a valid change command: %w", n.Value, errdefs.ErrInvalid)
		}
	}
	return out, nil
}

// cmdLine resolves a CMD/ENTRYPOINT: the shell form runs under the
// config's SHELL (or /bin/sh -c); an empty form is an empty list.
func cmdLine(c instructions.ShellDependantCmdLine, sh []string) []string {
	if len(c.CmdLine) == 0 {
		return []string{}
	}
	if !c.PrependShell {
		return append([]string{}, c.CmdLine...)
	}
	if len(sh) == 0 {
		sh = defaultShell
	}
	return append(append([]string{}, sh...), c.CmdLine...)
}

// setEnv replaces KEY's entry in env or appends it, keeping the order.
func setEnv(env []string, key, value string) []string {
	for i, e := range env {
		k, _, _ := strings.Cut(e, "=")
		if k == key {
			env[i] = key + "=" + value
			return env
		}
	}
	return append(env, key+"="+value)
}

// parsePortSpec turns an EXPOSE word ("80", "53/udp", "8000-8002/tcp",
// "127.0.0.1:8080:80") into "port/proto" keys, as Docker's
// nat.ParsePortSpecs does for the container side.
func parsePortSpec(spec string) ([]string, error) {
	bad := func() error { return fmt.Errorf("invalid containerPort: %s: %w", spec, errdefs.ErrInvalid) }
	raw, proto, ok := strings.Cut(spec, "/")
	if !ok || proto == "" {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	switch proto {
	case "tcp", "udp", "sctp":
	default:
		return nil, fmt.Errorf("invalid proto: %s: %w", proto, errdefs.ErrInvalid)
	}
	if i := strings.LastIndex(raw, ":"); i >= 0 {
		raw = raw[i+1:] // ip:hostPort:containerPort — only the container side is exposed
	}
	lo, hi, isRange := strings.Cut(raw, "-")
	start, err := strconv.ParseUint(lo, 10, 16)
	if err != nil || lo == "" {
		return nil, bad()
	}
	end := start
	if isRange {
		if end, err = strconv.ParseUint(hi, 10, 16); err != nil || end < start {
			return nil, bad()
		}
	}
	var out []string
	for p := start; p <= end; p++ {
		out = append(out, strconv.FormatUint(p, 10)+"/"+proto)
	}
	return out, nil
}
