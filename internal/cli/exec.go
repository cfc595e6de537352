package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	units "github.com/docker/go-units"
	"github.com/moby/term"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/engine"
	"github.com/berth/berth/internal/logs"
	"github.com/berth/berth/internal/opts"
)

func newExecCmd(a *app) *cobra.Command {
	var interactive, tty, detach, privileged bool
	var env, envFiles []string
	var workdir, user string
	cmd := &cobra.Command{
		Use: "exec [OPTIONS] CONTAINER COMMAND [ARG...]", Short: "Execute a command in a running container", Args: minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			var allEnv []string
			for _, f := range envFiles {
				vals, err := opts.ParseEnvFile(f, os.LookupEnv)
				if err != nil {
					return err
				}
				allEnv = append(allEnv, vals...)
			}
			// As with run, "-e NAME" takes NAME from berth's environment.
			allEnv = append(allEnv, opts.ExpandEnv(env, os.LookupEnv)...)
			o := engine.ExecOptions{Cmd: args[1:], Env: allEnv, Workdir: workdir, User: user, TTY: tty, Detach: detach, Privileged: privileged}
			stdio := engine.Stdio{Stdout: a.stdout, Stderr: a.stderr, TTY: tty}
			if interactive {
				stdio.Stdin = a.stdin
			}
			code, err := a.runExec(cmd.Context(), e, args[0], o, stdio, interactive)
			if err != nil {
				return execError(err)
			}
			if code != 0 {
				return StatusError{Status: code}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.SetInterspersed(false)
	fl.BoolVarP(&interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	fl.BoolVarP(&tty, "tty", "t", false, "Allocate a pseudo-TTY")
	fl.BoolVarP(&detach, "detach", "d", false, "Detached mode: run command in the background")
	fl.BoolVar(&privileged, "privileged", false, "Give extended privileges to the command")
	fl.StringArrayVarP(&env, "env", "e", nil, "Set environment variables")
	fl.StringArrayVar(&envFiles, "env-file", nil, "Read in a file of environment variables")
	fl.StringVarP(&workdir, "workdir", "w", "", "Working directory inside the container")
	fl.StringVarP(&user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	return cmd
}

func newLogsCmd(a *app) *cobra.Command {
	var follow, timestamps bool
	var tail, since, until string
	cmd := &cobra.Command{
		Use: "logs [OPTIONS] CONTAINER", Short: "Fetch the logs of a container", Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, c, err := a.container(args[0])
			if err != nil {
				return err
			}
			now := time.Now()
			o := logs.ReadOptions{Follow: follow, Timestamps: timestamps, Tail: logs.ParseTail(tail)}
			if since != "" {
				if o.Since, err = logs.ParseTime(since, now); err != nil {
					return err
				}
			}
			if until != "" {
				if o.Until, err = logs.ParseTime(until, now); err != nil {
					return err
				}
			}
			if follow && c.State.Running {
				done := make(chan struct{})
				o.Done = done
				go func() {
					e.Wait(cmd.Context(), c.ID)
					close(done)
				}()
			} else if follow {
				closed := make(chan struct{})
				close(closed)
				o.Done = closed
			}
			return logs.Read(cmd.Context(), e.LogPath(c.ID), o, a.stdout, a.stderr)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&follow, "follow", "f", false, "Follow log output")
	fl.BoolVarP(&timestamps, "timestamps", "t", false, "Show timestamps")
	fl.StringVarP(&tail, "tail", "n", "all", "Number of lines to show from the end of the logs")
	fl.StringVar(&since, "since", "", "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
	fl.StringVar(&until, "until", "", "Show logs before a timestamp or relative")
	fl.Bool("details", false, "Show extra details provided to logs")
	return cmd
}

// execError words an exec that could not start. As Docker, a command not
// found exits 127 and one that cannot be executed 126.
func execError(err error) error {
	switch {
	case errors.Is(err, engine.ErrCommandNotFound):
		return StatusError{Status: 127, Message: "berth: " + userMessage(err)}
	case errors.Is(err, engine.ErrCommandNotExecutable):
		return StatusError{Status: 126, Message: "berth: " + userMessage(err)}
	}
	return err
}

func newTopCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use: "top CONTAINER [ps OPTIONS]", Short: "Display the running processes of a container", Args: minArgs(1),
		DisableFlagParsing: false,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			pids, err := e.Processes(args[0])
			if err != nil {
				return err
			}
			psArgs := args[1:]
			if len(psArgs) == 0 {
				psArgs = []string{"-ef"}
			}
			// As Docker: run ps on the host and keep the container's rows.
			out, err := exec.Command("ps", psArgs...).Output()
			if err != nil {
				return fmt.Errorf("error running ps: %w", err)
			}
			lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
			if len(lines) == 0 {
				return nil
			}
			pidCol := -1
			for i, h := range strings.Fields(lines[0]) {
				if h == "PID" {
					pidCol = i
				}
			}
			if pidCol < 0 {
				return fmt.Errorf("couldn't find PID field in ps output")
			}
			want := map[string]bool{}
			for _, p := range pids {
				want[strconv.Itoa(p)] = true
			}
			tw := tabwriter.NewWriter(a.stdout, 20, 1, 3, ' ', 0)
			fmt.Fprintln(tw, strings.Join(strings.Fields(lines[0]), "\t"))
			for _, l := range lines[1:] {
				f := strings.Fields(l)
				if pidCol < len(f) && want[f[pidCol]] {
					n := len(strings.Fields(lines[0]))
					if len(f) > n {
						f = append(f[:n-1], strings.Join(f[n-1:], " "))
					}
					fmt.Fprintln(tw, strings.Join(f, "\t"))
				}
			}
			return tw.Flush()
		},
	}
	// Everything after the container is ps's options, as in Docker.
	cmd.Flags().SetInterspersed(false)
	return cmd
}

func newStatsCmd(a *app) *cobra.Command {
	var all, noStream, noTrunc bool
	var format string
	cmd := &cobra.Command{
		Use: "stats [OPTIONS] [CONTAINER...]", Short: "Display a live stream of container(s) resource usage statistics",
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			refs := args
			if len(refs) == 0 {
				list, err := e.List()
				if err != nil {
					return err
				}
				for _, c := range list {
					if all || c.State.Running {
						refs = append(refs, c.ID)
					}
				}
			}
			for {
				var rows []any
				for _, ref := range refs {
					s, err := e.Stats(cmd.Context(), ref)
					if err != nil {
						return err
					}
					rows = append(rows, statsRow{
						Container: trunc(s.ID, noTrunc), ID: trunc(s.ID, noTrunc), Name: s.Name,
						CPUPerc:  fmt.Sprintf("%.2f%%", s.CPUPercent),
						MemUsage: units.BytesSize(float64(s.MemoryUsage)) + " / " + units.BytesSize(float64(s.MemoryLimit)),
						MemPerc:  fmt.Sprintf("%.2f%%", s.MemoryPercent), NetIO: "0B / 0B",
						BlockIO: units.HumanSize(float64(s.BlockRead)) + " / " + units.HumanSize(float64(s.BlockWrite)),
						PIDs:    strconv.FormatUint(s.Pids, 10),
					})
				}
				if err := tableOut(a.stdout, format, "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}",
					map[string]string{"ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT",
						"MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS"}, rows); err != nil {
					return err
				}
				if noStream {
					return nil
				}
				select {
				case <-cmd.Context().Done():
					return nil
				case <-time.After(time.Second):
				}
			}
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	cmd.Flags().BoolVar(&noStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "Do not truncate output")
	cmd.Flags().StringVar(&format, "format", "", "Pretty-print images using a Go template")
	return cmd
}

type statsRow struct {
	Container, ID, Name, CPUPerc, MemUsage, MemPerc, NetIO, BlockIO, PIDs string
}

func newDiffCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use: "diff CONTAINER", Short: "Inspect changes to files or directories on a container's filesystem", Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			changes, err := e.Changes(args[0])
			if err != nil {
				return err
			}
			w := bufio.NewWriter(a.stdout)
			for _, c := range changes {
				fmt.Fprintf(w, "%s %s\n", c.Kind, c.Path)
			}
			return w.Flush()
		},
	}
}

func newCommitCmd(a *app) *cobra.Command {
	var author, message string
	var changes []string
	var pause bool
	cmd := &cobra.Command{
		Use: "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]", Short: "Create a new image from a container's changes", Args: rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			ref := ""
			if len(args) == 2 {
				ref = args[1]
			}
			img, err := e.Commit(cmd.Context(), args[0], engine.CommitOptions{Ref: ref, Author: author, Message: message, Changes: changes, Pause: pause})
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, img.ID)
			return nil
		},
	}
	cmd.Flags().StringVarP(&author, "author", "a", "", "Author")
	cmd.Flags().StringVarP(&message, "message", "m", "", "Commit message")
	cmd.Flags().StringArrayVarP(&changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	cmd.Flags().BoolVarP(&pause, "pause", "p", true, "Pause container during commit")
	return cmd
}

func newExportCmd(a *app) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use: "export [OPTIONS] CONTAINER", Short: "Export a container's filesystem as a tar archive", Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			var w io.Writer = a.stdout
			if output == "" && isTerminal(a.stdout) {
				return fmt.Errorf("cowardly refusing to save to a terminal. Use the -o flag or redirect")
			}
			if output != "" {
				f, err := createOutput(output)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			return e.Export(cmd.Context(), args[0], w)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

// runExec starts a process in a running container; detached execs return at once.
func (a *app) runExec(ctx context.Context, e *engine.Engine, ref string, o engine.ExecOptions, stdio engine.Stdio, interactive bool) (int, error) {
	var restore func()
	ptyDone := make(chan struct{})
	if stdio.TTY {
		stdio.Console = func(pty *os.File) { restore = a.wireTerminal(pty, interactive, ptyDone) }
	} else {
		close(ptyDone)
	}
	att, err := e.Exec(ctx, ref, o, stdio)
	if err != nil {
		return 0, err
	}
	if o.Detach {
		return 0, nil
	}
	code, err := att.Wait()
	if stdio.TTY {
		select {
		case <-ptyDone:
		case <-time.After(200 * time.Millisecond):
		}
	}
	if restore != nil {
		restore()
	}
	return code, err
}

func isTerminal(w io.Writer) bool {
	_, ok := term.GetFdInfo(w)
	return ok
}

func createOutput(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
}
