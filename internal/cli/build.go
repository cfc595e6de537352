package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/build"
	"github.com/berth/berth/internal/engine"
	"github.com/berth/berth/internal/format"
	"github.com/berth/berth/internal/image"
)

// buildCommands are `build` and `history` (top level and under `image`).
func buildCommands(a *app) []pair {
	return []pair{
		same(func() *cobra.Command { return newBuildCmd(a) }),
		same(func() *cobra.Command { return newHistoryCmd(a) }),
	}
}

func newBuildCmd(a *app) *cobra.Command {
	var tags, buildArgs, labels []string
	var file, target, iidfile, network, platform string
	var noCache, pull, quiet bool
	cmd := &cobra.Command{
		Use: "build [OPTIONS] PATH | -", Short: "Build an image from a Dockerfile", Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := engine.BuildOptions{
				Context: args[0], Stdin: a.stdin, Dockerfile: file, Tags: tags, Target: target,
				NoCache: noCache, Pull: pull, Network: network, Platform: platform,
				BuildArgs: map[string]*string{}, Labels: map[string]string{},
			}
			for _, t := range tags {
				if _, err := image.ParseTag(t); err != nil {
					// Docker's CLI refuses a bad -t before any work, as a flag error.
					return StatusError{Status: 125, Message: fmt.Sprintf("invalid argument %q for \"-t, --tag\" flag: %s\nSee 'berth build --help'.", t, userMessage(err))}
				}
			}
			if o.Network == "default" {
				o.Network = "bridge"
			}
			for _, kv := range buildArgs {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					// Docker: a bare name takes the client's variable, if set.
					if ev, set := os.LookupEnv(k); set {
						v, ok = ev, true
					}
				}
				if ok {
					o.BuildArgs[k] = &v
				} else {
					o.BuildArgs[k] = nil
				}
			}
			for _, kv := range labels {
				k, v, _ := strings.Cut(kv, "=")
				o.Labels[k] = v
			}
			if s, ok := os.LookupEnv("SOURCE_DATE_EPOCH"); ok && s != "" {
				n, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return fmt.Errorf("invalid SOURCE_DATE_EPOCH %q: %w", s, err)
				}
				t := time.Unix(n, 0).UTC()
				o.SourceDateEpoch = &t
			}
			if iidfile != "" {
				// Docker removes a stale ID file first: a failed build must
				// not leave the previous ID behind.
				if err := os.Remove(iidfile); err != nil && !os.IsNotExist(err) {
					return fmt.Errorf("removing image ID file: %w", err)
				}
			}
			var progress bytes.Buffer
			o.Out = a.stdout
			if quiet {
				o.Out = &progress
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			img, err := e.Build(cmd.Context(), o)
			if err != nil {
				if quiet {
					a.stderr.Write(progress.Bytes())
				}
				return buildError(err)
			}
			if quiet {
				fmt.Fprintln(a.stdout, img.ID)
			} else {
				fmt.Fprintf(a.stdout, "Successfully built %s\n", img.ShortID())
				for _, t := range tags {
					if ref, err := image.ParseTag(t); err == nil {
						fmt.Fprintf(a.stdout, "Successfully tagged %s\n", image.FamiliarString(ref.String()))
					}
				}
			}
			if iidfile != "" {
				if err := os.WriteFile(iidfile, []byte(img.ID), 0o666); err != nil {
					return fmt.Errorf("writing image ID file: %w", err)
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&tags, "tag", "t", nil, "Name and optionally a tag in the 'name:tag' format")
	fl.StringVarP(&file, "file", "f", "", "Name of the Dockerfile (Default is 'PATH/Dockerfile')")
	fl.StringArrayVar(&buildArgs, "build-arg", nil, "Set build-time variables")
	fl.StringVar(&target, "target", "", "Set the target build stage to build.")
	fl.BoolVar(&noCache, "no-cache", false, "Do not use cache when building the image")
	fl.BoolVar(&pull, "pull", false, "Always attempt to pull a newer version of the image")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Suppress the build output and print image ID on success")
	fl.StringArrayVar(&labels, "label", nil, "Set metadata for an image")
	fl.StringVar(&iidfile, "iidfile", "", "Write the image ID to the file")
	fl.StringVar(&network, "network", "default", "Set the networking mode for the RUN instructions during build")
	fl.StringVar(&platform, "platform", "", "Set platform if server is multi-platform capable")
	// Accepted for compatibility: intermediate containers never outlive a step here.
	fl.Bool("rm", true, "Remove intermediate containers after a successful build")
	fl.Bool("force-rm", false, "Always remove intermediate containers")
	return cmd
}

// buildError words a build failure as docker build does: refusals before
// the first step come "from the daemon"; a step's failure is printed as
// is, a failing RUN exits with the command's code.
func buildError(err error) error {
	var se StatusError
	if errors.As(err, &se) {
		return err
	}
	var pe *build.PlanError
	if errors.As(err, &pe) {
		msg := "Error response from daemon: " + userMessage(err)
		var syn *build.SyntaxError
		if errors.As(err, &syn) && syn.Line > 0 {
			msg += fmt.Sprintf("\nDockerfile:%d: %s", syn.Line, syn.Text)
		}
		return StatusError{Status: 1, Message: msg}
	}
	var rf *build.RunFailed
	if errors.As(err, &rf) {
		code := rf.Code
		if code == 0 {
			code = 1
		}
		return StatusError{Status: code, Message: rf.Error()}
	}
	return StatusError{Status: 1, Message: userMessage(err)}
}

// historyRow is one `history` line; field names are docker's --format keys.
type historyRow struct {
	ID, CreatedSince, CreatedAt, CreatedBy, Size, Comment string
}

func (r historyRow) MarshalJSON() ([]byte, error) {
	type plain historyRow
	return format.SortedJSON(plain(r))
}

func newHistoryCmd(a *app) *cobra.Command {
	var human, noTrunc, quiet bool
	var tmpl string
	cmd := &cobra.Command{
		Use: "history [OPTIONS] IMAGE", Short: "Show the history of an image", Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			items, err := e.Images.History(args[0])
			if err != nil {
				return daemonError(err)
			}
			now := time.Now()
			var rows []any
			for _, h := range items {
				id := h.ID
				if id != "<missing>" {
					id = trunc(id, noTrunc)
					if noTrunc {
						id = h.ID
					}
				}
				r := historyRow{ID: id, Comment: h.Comment, CreatedAt: h.Created.Local().Format(time.RFC3339)}
				by := strings.ReplaceAll(h.CreatedBy, "\t", " ")
				if !noTrunc {
					by = runeEllipsis(by, 45)
				}
				r.CreatedBy = by
				if human {
					r.CreatedSince = humanAgo(now, h.Created)
					r.Size = units.HumanSizeWithPrecision(float64(h.Size), 3)
				} else {
					r.CreatedSince = r.CreatedAt
					r.Size = strconv.FormatInt(h.Size, 10)
				}
				rows = append(rows, r)
			}
			def := "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
			if quiet {
				def, tmpl = "{{.ID}}", ""
			}
			return tableOut(a.stdout, tmpl, def, map[string]string{"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
				"CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}, rows)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&human, "human", "H", true, "Print sizes and dates in human readable format")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	fl.StringVar(&tmpl, "format", "", "Pretty-print images using a Go template")
	return cmd
}

// runeEllipsis is docker's stringutils.Ellipsis: at most n runes, the last
// one "…" when cut.
func runeEllipsis(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
