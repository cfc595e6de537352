package cli

import (
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/container"
	"github.com/berth/berth/internal/engine"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/format"
)

func tableOut(w io.Writer, f, def string, headers map[string]string, rows []any) error {
	return format.Table(w, f, def, headers, rows)
}

func trunc(id string, noTrunc bool) string {
	id = strings.TrimPrefix(id, "sha256:")
	if noTrunc || len(id) <= 12 {
		return id
	}
	return id[:12]
}

func ellipsis(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// humanAgo is docker's CREATED column: "3 seconds ago".
func humanAgo(now, t time.Time) string {
	return units.HumanDuration(now.Sub(t)) + " ago"
}

func sortNewestFirst(list []*container.Container) {
	sort.SliceStable(list, func(i, j int) bool { return list[i].Created.After(list[j].Created) })
}

// filters is docker's --filter key=value set.
type filters map[string][]string

func parseFilters(vals []string, allowed ...string) (filters, error) {
	f := filters{}
	for _, v := range vals {
		k, val, ok := strings.Cut(v, "=")
		if !ok {
			return nil, fmt.Errorf("bad format of filter (expected name=value): %w", errdefs.ErrInvalid)
		}
		k = strings.ToLower(k)
		known := false
		for _, a := range allowed {
			known = known || a == k
		}
		if !known {
			return nil, fmt.Errorf("invalid filter '%s': %w", k, errdefs.ErrInvalid)
		}
		f[k] = append(f[k], val)
	}
	return f, nil
}

// any reports whether one of the values for key satisfies match (true when the key is absent).
func (f filters) any(key string, match func(string) bool) bool {
	vals, ok := f[key]
	if !ok {
		return true
	}
	for _, v := range vals {
		if match(v) {
			return true
		}
	}
	return false
}

func (f filters) matchContainer(c *container.Container, e *engine.Engine) bool {
	return f.any("name", func(v string) bool { return strings.Contains(c.Name, strings.TrimPrefix(v, "/")) }) &&
		f.any("id", func(v string) bool { return strings.HasPrefix(c.ID, v) }) &&
		f.any("status", func(v string) bool { return c.State.Status == v }) &&
		f.any("exited", func(v string) bool {
			return !c.State.Running && fmt.Sprint(c.State.ExitCode) == v && c.State.Status == "exited"
		}) &&
		f.any("label", func(v string) bool {
			k, val, hasVal := strings.Cut(v, "=")
			got, ok := c.Config.Labels[k]
			return ok && (!hasVal || got == val)
		}) &&
		f.any("ancestor", func(v string) bool {
			if c.ImageRef == v || strings.HasPrefix(strings.TrimPrefix(c.Image, "sha256:"), strings.TrimPrefix(v, "sha256:")) {
				return true
			}
			img, err := e.Images.Get(v)
			return err == nil && img.ID == c.Image
		})
}

// matchGlob is docker's reference filter: path.Match on the familiar name.
func matchGlob(pattern, s string) bool {
	ok, _ := path.Match(pattern, s)
	return ok
}

func objectOut(w io.Writer, tmpl string, v any) error {
	return format.Object(w, tmpl, v)
}

// containerRWSize is docker's SizeRw: the bytes of regular files in the
// container's writable layer (hard links counted once).
func containerRWSize(e *engine.Engine, c *container.Container) int64 {
	dir, err := e.Snapshots.UpperDir(c.Snapshot)
	if err != nil || dir == "" {
		return 0
	}
	seen := map[uint64]bool{}
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			if seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
		}
		n += info.Size()
		return nil
	})
	return n
}

// Argument-count validators with docker/cli's wording ("\"docker run\"
// requires at least 1 argument." plus usage) and exit status 1.
func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= n {
			return nil
		}
		return argsError(cmd, fmt.Sprintf("requires at least %d %s", n, plural("argument", n)))
	}
}

func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) <= n {
			return nil
		}
		return argsError(cmd, fmt.Sprintf("requires at most %d %s", n, plural("argument", n)))
	}
}

func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		return argsError(cmd, fmt.Sprintf("requires exactly %d %s", n, plural("argument", n)))
	}
}

func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= lo && len(args) <= hi {
			return nil
		}
		return argsError(cmd, fmt.Sprintf("requires at least %d and at most %d %s", lo, hi, plural("argument", hi)))
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return argsError(cmd, "accepts no arguments")
}

func argsError(cmd *cobra.Command, what string) error {
	use := cmd.Use
	if cmd.HasParent() {
		use = cmd.Parent().CommandPath() + " " + use
	}
	return StatusError{Status: 1, Message: fmt.Sprintf("%q %s.\nSee '%s --help'.\n\nUsage:  %s\n\n%s",
		cmd.CommandPath(), what, cmd.CommandPath(), use, cmd.Short)}
}

func plural(word string, n int) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
