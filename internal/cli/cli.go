package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/container"
	"github.com/berth/berth/internal/engine"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/root"
)

// Version is set at build time with -ldflags "-X github.com/berth/berth/internal/cli.Version=...".
var Version = "0.1.0-dev"

// StatusError carries an exit status chosen by a command (a container's exit
// code, or 125/126/127) through cobra to Execute.
type StatusError struct {
	Status  int
	Message string // printed to stderr when non-empty
}

func (e StatusError) Error() string { return e.Message }

// app is what every command needs: the streams and a lazily opened engine.
type app struct {
	rootDir string
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
	eng     *engine.Engine
}

// engine opens the stores on first use, so `berth version` touches no disk.
func (a *app) engine() (*engine.Engine, error) {
	if a.eng != nil {
		return a.eng, nil
	}
	dir := a.rootDir
	if dir == "" {
		dir = os.Getenv("BERTH_ROOT")
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	e, err := engine.Open(root.New(dir), exe)
	if err != nil {
		return nil, err
	}
	a.eng = e
	return e, nil
}

// container opens the engine and looks up the container ref names.
func (a *app) container(ref string) (*engine.Engine, *container.Container, error) {
	e, err := a.engine()
	if err != nil {
		return nil, nil, err
	}
	c, err := e.Container(ref)
	if err != nil {
		return nil, nil, err
	}
	return e, c, nil
}

// Execute runs the command line and returns the process exit code.
func Execute(args []string) int {
	verb, sub := commandVerb(args)
	if startsContainer(verb, sub) {
		engine.PrepareStart()
	}
	a := &app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	cmd := newRootCmd(a, verb)
	cmd.SetArgs(args)
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, unix.SIGTERM)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var se StatusError
	if errors.As(err, &se) {
		if se.Message != "" {
			fmt.Fprintln(a.stderr, se.Message)
		}
		return se.Status
	}
	fmt.Fprintln(a.stderr, "Error: "+userMessage(err))
	return 1
}

// commandVerb returns the first two words of args that are not global
// flags or their values (the verb and, for a management command, its
// subcommand), without parsing: it runs before cobra has built its
// command tree.
func commandVerb(args []string) (verb, sub string) {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--root" || arg == "--log-level":
			i++ // the flag's value
		case strings.HasPrefix(arg, "-"):
		case verb == "":
			verb = arg
		default:
			return verb, arg
		}
	}
	return verb, ""
}

// startsContainer reports whether the command starts a container or a
// process in one.
func startsContainer(verb, sub string) bool {
	if verb == "container" {
		verb = sub
	}
	switch verb {
	case "run", "start", "restart", "exec":
		return true
	}
	return false
}

// userMessage words an engine error for people: Docker's phrases for the
// common classes, the wrapped context otherwise.
func userMessage(err error) string {
	msg := err.Error()
	// Strip the class suffix we wrap with (": not found") where the message already says it.
	for _, class := range []error{errdefs.ErrNotFound, errdefs.ErrInvalid, errdefs.ErrConflict} {
		suffix := ": " + class.Error()
		if errors.Is(err, class) && strings.HasSuffix(msg, suffix) {
			msg = strings.TrimSuffix(msg, suffix)
		}
	}
	// The exec classes prefix the runtime's own words ("exec: "x": ...");
	// Docker shows only those.
	for _, class := range []error{engine.ErrCommandNotFound, engine.ErrCommandNotExecutable} {
		if errors.Is(err, class) {
			msg = strings.TrimPrefix(msg, class.Error()+": ")
		}
	}
	return msg
}

// sentence ends msg with exactly one period, as docker's reportError does.
func sentence(msg string) string {
	return strings.TrimSuffix(msg, ".") + "."
}

// runError is how `run` and `create` report a failure before the container
// exists (bad flags, unknown image, name conflict): Docker prints
// "docker: <msg>." plus a help hint and exits 125.
func runError(verb string, err error) error {
	var se StatusError
	if errors.As(err, &se) {
		return err
	}
	return StatusError{Status: 125, Message: fmt.Sprintf("berth: %s\nSee 'berth %s --help'.", sentence(userMessage(err)), verb)}
}

// startError is how `run` reports a container that could not be started:
// no help hint, and Docker's exit codes 127 (command not found), 126 (not
// executable) or 125.
func startError(err error) error {
	var se StatusError
	if errors.As(err, &se) {
		return err
	}
	code := 125
	switch {
	case errors.Is(err, engine.ErrCommandNotFound):
		code = 127
	case errors.Is(err, engine.ErrCommandNotExecutable):
		code = 126
	}
	msg := userMessage(err)
	// A detached start fails in the supervisor: only its exit code and
	// text come back.
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) && (ec.ExitCode() == 126 || ec.ExitCode() == 127) {
		code = ec.ExitCode()
		for _, class := range []error{engine.ErrCommandNotFound, engine.ErrCommandNotExecutable} {
			msg = strings.TrimPrefix(msg, class.Error()+": ")
		}
	}
	return StatusError{Status: code, Message: "berth: " + sentence(msg)}
}

// daemonError is how a verb without a help hint reports a refusal that
// Docker's daemon would have made: "Error response from daemon: <msg>",
// exit 1.
func daemonError(err error) error {
	var se StatusError
	if errors.As(err, &se) {
		return err
	}
	return StatusError{Status: 1, Message: "Error response from daemon: " + userMessage(err)}
}

// newRootCmd builds the command tree for a command line whose verb is verb
// (see commandVerb). The management commands' subcommands (a second copy
// of every container and image command, ~0.25 ms to build) are left out
// when verb is another top-level command, which never reaches them.
func newRootCmd(a *app, verb string) *cobra.Command {
	cmd := &cobra.Command{
		Use:           "berth [OPTIONS] COMMAND",
		Short:         "A daemonless, Docker-compatible container engine",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
		// Flags after the image name belong to the container's command.
		TraverseChildren: true,
		Args:             cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				// Docker's words for an unknown verb; exit 1.
				return StatusError{Status: 1, Message: fmt.Sprintf("berth: '%s' is not a berth command.\nSee 'berth --help'", args[0])}
			}
			return c.Help()
		},
	}
	cmd.SetVersionTemplate("berth version {{.Version}}\n")
	cmd.PersistentFlags().StringVar(&a.rootDir, "root", "", "Root directory of persistent and runtime state (default /var/lib/berth and /run/berth; env BERTH_ROOT)")
	cmd.PersistentFlags().BoolP("debug", "D", false, "Enable debug mode")
	cmd.PersistentFlags().String("log-level", "info", "Set the logging level")
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return StatusError{Status: 125, Message: fmt.Sprintf("%s\nSee '%s --help'.", err, c.CommandPath())}
	})
	cmd.SetOut(a.stdout)
	cmd.SetErr(a.stderr)

	containerCmds := containerCommands(a)
	imageCmds := imageCommands(a)
	imageCmds = append(imageCmds, buildCommands(a)...)
	imageCmds = append(imageCmds, registryImageCommands(a)...)
	imageCmds = append(imageCmds, archiveCommands(a)...)
	for _, c := range append(containerCmds, imageCmds...) {
		if c.top != nil {
			cmd.AddCommand(c.top)
		}
	}
	// Every top-level command but the management ones is in the tree now.
	other := false
	if verb != "" && verb != "help" {
		for _, c := range cmd.Commands() {
			other = other || c.Name() == verb || c.HasAlias(verb)
		}
	}
	cmd.AddCommand(
		managementCmd("container", "Manage containers", containerCmds, a, !other),
		managementCmd("image", "Manage images", imageCmds, a, !other),
		newVolumeCmd(a),
		newSystemCmd(a),
		newVersionCmd(a),
		newInfoCmd(a),
		newSuperviseCmd(a),
	)
	cmd.AddCommand(networkCommands(a)...)
	cmd.AddCommand(registryCommands(a)...)
	return cmd
}

// pair is one command as it appears at top level (`berth ps`) and under its
// management command (`berth container ls`); Docker offers both.
type pair struct {
	top  *cobra.Command        // nil when only the management form exists
	mgmt func() *cobra.Command // builds a fresh copy for the management command
}

// managementCmd is `berth NAME` over cmds; its subcommands are built only
// with withSubcommands.
func managementCmd(name, short string, cmds []pair, a *app, withSubcommands bool) *cobra.Command {
	m := &cobra.Command{Use: name, Short: short, Args: noArgs, RunE: func(c *cobra.Command, _ []string) error {
		return c.Help()
	}}
	if !withSubcommands {
		return m
	}
	for _, p := range cmds {
		m.AddCommand(p.mgmt())
	}
	return m
}

// renamed returns a copy builder of cmd named use (e.g. "ls" for "ps") with aliases.
func renamed(build func() *cobra.Command, use string, aliases ...string) func() *cobra.Command {
	return func() *cobra.Command {
		c := build()
		_, rest, _ := strings.Cut(c.Use, " ")
		c.Use = strings.TrimSpace(use + " " + rest)
		c.Aliases = aliases
		return c
	}
}

func same(build func() *cobra.Command) pair {
	return pair{top: build(), mgmt: build}
}
