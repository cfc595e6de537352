package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/distribution/reference"
	"github.com/moby/term"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/imagearchive"
	"github.com/berth/berth/internal/progress"
)

// archiveCommands are `save` and `load` (top level and under `image`).
func archiveCommands(a *app) []pair {
	return []pair{
		same(func() *cobra.Command { return newSaveCmd(a) }),
		same(func() *cobra.Command { return newLoadCmd(a) }),
	}
}

func newSaveCmd(a *app) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use: "save [OPTIONS] IMAGE [IMAGE...]", Short: "Save one or more images to a tar archive (streamed to STDOUT by default)", Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" && isTerminal(a.stdout) {
				return fmt.Errorf("cowardly refusing to save to a terminal. Use the -o flag or redirect")
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			if output == "" {
				return saveError(e.Save(cmd.Context(), args, a.stdout))
			}
			out, err := newOutputFile(output)
			if err != nil {
				return err
			}
			if err := e.Save(cmd.Context(), args, out); err != nil {
				out.discard()
				return saveError(err)
			}
			return out.commit()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

// saveError: Docker's daemon refuses unknown images ("Error response from
// daemon: No such image: x:latest").
func saveError(err error) error {
	if err == nil {
		return nil
	}
	return daemonError(err)
}

func newLoadCmd(a *app) *cobra.Command {
	var input string
	var quiet bool
	cmd := &cobra.Command{
		Use: "load [OPTIONS]", Short: "Load an image from a tar archive or STDIN", Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			in := a.stdin
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			} else if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(f.Fd()) {
				return fmt.Errorf("requested load from stdin, but stdin is empty")
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			// Docker draws "Loading layer" bars on a terminal only, and
			// none with -q.
			var o imagearchive.LoadOptions
			if !quiet && isTerminal(a.stdout) {
				o.Progress = progress.New(a.stdout, true)
			}
			loaded, err := e.Load(cmd.Context(), in, o)
			for _, l := range loaded {
				for _, r := range l.Replaced {
					fmt.Fprintf(a.stdout, "The image %s already exists, renaming the old one with ID %s to empty string\n", familiar(r.Tag), r.OldID)
				}
				for _, t := range l.Tags {
					fmt.Fprintf(a.stdout, "Loaded image: %s\n", familiar(t))
				}
				if len(l.Tags) == 0 {
					fmt.Fprintf(a.stdout, "Loaded image ID: %s\n", l.ID)
				}
			}
			if err != nil {
				return daemonError(err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&input, "input", "i", "", "Read from tar archive file, instead of STDIN")
	// "Loaded image" lines are printed either way, as Docker does.
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "Suppress the load output")
	return cmd
}

func familiar(ref string) string {
	if n, err := reference.ParseNormalizedNamed(ref); err == nil {
		return reference.FamiliarString(n)
	}
	return ref
}

// outputFile is save's -o: a regular file is written under a temporary
// name and renamed into place only when complete, so a failed save never
// leaves a truncated archive (or destroys the old one); anything else
// (/dev/null, a FIFO) is written directly.
type outputFile struct {
	io.Writer
	f    *os.File
	tmp  string
	dest string
}

func newOutputFile(path string) (*outputFile, error) {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		return &outputFile{Writer: f, f: f}, nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("failed to save image: %w", err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &outputFile{Writer: f, f: f, tmp: f.Name(), dest: path}, nil
}

func (o *outputFile) discard() {
	o.f.Close()
	if o.tmp != "" {
		os.Remove(o.tmp)
	}
}

func (o *outputFile) commit() error {
	if o.tmp == "" {
		return o.f.Close()
	}
	if err := o.f.Close(); err != nil {
		os.Remove(o.tmp)
		return err
	}
	if err := os.Rename(o.tmp, o.dest); err != nil {
		os.Remove(o.tmp)
		return err
	}
	return nil
}
