package cli

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/distribution/reference"
	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/engine"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/format"
	"github.com/berth/berth/internal/image"
)

func imageCommands(a *app) []pair {
	return []pair{
		{top: newImagesCmd(a), mgmt: renamed(func() *cobra.Command { return newImagesCmd(a) }, "ls", "images", "list")},
		same(func() *cobra.Command { return newImportCmd(a) }),
		same(func() *cobra.Command { return newTagCmd(a) }),
		{top: newRmiCmd(a), mgmt: renamed(func() *cobra.Command { return newRmiCmd(a) }, "rm", "rmi", "remove")},
		{mgmt: func() *cobra.Command { return inspectCmd(a, "image") }},
		{mgmt: func() *cobra.Command { return newImagePruneCmd(a) }},
	}
}

// imageRow is one `images` line; field names are docker's --format keys.
type imageRow struct {
	ID, Repository, Tag, Digest, CreatedSince, CreatedAt, Size, SharedSize, UniqueSize, VirtualSize, Containers string
}

// MarshalJSON gives `{{json .}}` docker's form: keys sorted.
func (r imageRow) MarshalJSON() ([]byte, error) {
	type plain imageRow
	return format.SortedJSON(plain(r))
}

func newImagesCmd(a *app) *cobra.Command {
	var all, quiet, noTrunc, digests bool
	var filterVals []string
	var format string
	cmd := &cobra.Command{
		Use: "images [OPTIONS] [REPOSITORY[:TAG]]", Short: "List images", Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			f, err := parseFilters(filterVals, "dangling", "reference", "label", "before", "since")
			if err != nil {
				return err
			}
			if len(args) == 1 {
				f["reference"] = append(f["reference"], args[0])
			}
			imgs, err := e.Images.List()
			if err != nil {
				return err
			}
			sort.SliceStable(imgs, func(i, j int) bool { return imgs[i].Created.After(imgs[j].Created) })
			now := time.Now()
			var rows []any
			seen := map[string]bool{}
			// Docker hides untagged images that are some image's parent
			// (a build's intermediate steps) unless -a.
			parents := map[string]bool{}
			for _, img := range imgs {
				parents[img.Parent] = true
			}
			for _, img := range imgs {
				dangling := len(img.RepoTags) == 0
				if dangling && !all && parents[img.ID] {
					continue
				}
				if !f.any("dangling", func(v string) bool { return (v == "true") == dangling }) {
					continue
				}
				if !f.any("label", func(v string) bool {
					k, val, hasVal := strings.Cut(v, "=")
					got, ok := img.Config.Config.Labels[k]
					return ok && (!hasVal || got == val)
				}) {
					continue
				}
				tags := img.RepoTags
				if len(tags) == 0 {
					tags = []string{"<none>:<none>"}
				}
				for _, t := range tags {
					if _, ok := f["reference"]; ok && !f.any("reference", func(v string) bool { return refMatches(v, t) }) {
						continue
					}
					if quiet {
						id := trunc(img.ID, noTrunc)
						if noTrunc {
							id = img.ID
						}
						if !seen[id] {
							fmt.Fprintln(a.stdout, id)
							seen[id] = true
						}
						continue
					}
					repo, tag := splitTag(t)
					id := trunc(img.ID, false)
					if noTrunc {
						id = img.ID
					}
					rows = append(rows, imageRow{
						ID: id, Repository: repo, Tag: tag, Digest: repoDigest(img.RepoDigests, repo),
						CreatedSince: humanAgo(now, img.Created),
						CreatedAt:    img.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
						Size:         units.HumanSizeWithPrecision(float64(img.Size), 3),
						VirtualSize:  units.HumanSize(float64(img.Size)), // docker/cli: 4 digits here, 3 in Size
						SharedSize:   "N/A", UniqueSize: "N/A", Containers: "N/A",
					})
				}
			}
			if quiet {
				return nil
			}
			def := "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			if digests {
				def = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			}
			return tableOut(a.stdout, format, def, map[string]string{"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
				"CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
				"VirtualSize": "VIRTUAL SIZE", "Containers": "CONTAINERS"}, rows)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&all, "all", "a", false, "Show all images (default hides intermediate images)")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fl.BoolVar(&digests, "digests", false, "Show digests")
	fl.StringArrayVarP(&filterVals, "filter", "f", nil, "Filter output based on conditions provided")
	fl.StringVar(&format, "format", "", "Pretty-print images using a Go template")
	return cmd
}

// refMatches is docker's reference filter: a glob on the familiar name, with an optional tag glob.
func refMatches(pattern, tagged string) bool {
	repo, tag := splitTag(tagged)
	pRepo, pTag, hasTag := strings.Cut(pattern, ":")
	if strings.Contains(pattern, "/") && strings.LastIndex(pattern, ":") < strings.LastIndex(pattern, "/") {
		pRepo, pTag, hasTag = pattern, "", false
	}
	if !matchGlob(pRepo, repo) {
		return false
	}
	return !hasTag || matchGlob(pTag, tag)
}

func splitTag(t string) (repo, tag string) {
	if t == "<none>:<none>" {
		return "<none>", "<none>"
	}
	i := strings.LastIndex(t, ":")
	if i < 0 || strings.Contains(t[i:], "/") {
		return t, "<none>"
	}
	return t[:i], t[i+1:]
}

func newImportCmd(a *app) *cobra.Command {
	var changes []string
	var message, platform string
	cmd := &cobra.Command{
		Use: "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]", Short: "Import the contents from a tarball to create a filesystem image", Args: rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			o := image.ImportOptions{Changes: changes, Message: message, Platform: platform}
			if len(args) == 2 {
				if _, err := reference.ParseNormalizedNamed(args[1]); err != nil {
					return fmt.Errorf("invalid reference format: %s", strings.TrimPrefix(err.Error(), "invalid reference format: "))
				}
				o.Ref = args[1]
			}
			in := a.stdin
			if args[0] != "-" {
				if strings.HasPrefix(args[0], "http://") || strings.HasPrefix(args[0], "https://") {
					return fmt.Errorf("import from a URL is not supported yet; download the file and import it")
				}
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("open %s: %w", args[0], err)
				}
				defer f.Close()
				in = f
			}
			img, err := e.Images.Import(cmd.Context(), in, o)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, img.ID)
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	cmd.Flags().StringVarP(&message, "message", "m", "", "Set commit message for imported image")
	cmd.Flags().StringVar(&platform, "platform", "", "Set platform if server is multi-platform capable")
	return cmd
}

func newTagCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use: "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			return e.Images.Tag(args[0], args[1])
		},
	}
}

func newRmiCmd(a *app) *cobra.Command {
	var force, noPrune bool
	cmd := &cobra.Command{
		Use: "rmi [OPTIONS] IMAGE [IMAGE...]", Short: "Remove one or more images", Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			failed := false
			for _, ref := range args {
				deleted, err := e.Images.Remove(ref, image.RemoveOptions{Force: force, NoPrune: noPrune, InUse: imageUsage(e)})
				if errdefs.IsNotFound(err) {
					// Docker 20.10's client words a missing object itself.
					fmt.Fprintln(a.stderr, "Error: No such image: "+ref)
					failed = true
					continue
				}
				if err != nil {
					fmt.Fprintln(a.stderr, "Error response from daemon: "+userMessage(err))
					failed = true
					continue
				}
				printDeleted(a, deleted, false)
			}
			// Untagging frees nothing; deleting frees the layers no image needs.
			if _, err := e.Images.GC(nil); err != nil {
				fmt.Fprintln(a.stderr, "warning: garbage collection: "+userMessage(err))
			}
			if failed {
				return StatusError{Status: 1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force removal of the image")
	cmd.Flags().BoolVar(&noPrune, "no-prune", false, "Do not delete untagged parents")
	return cmd
}

// printDeleted lists what rmi ("Untagged: x") or prune ("untagged: x",
// lower case in docker's prune output) removed.
func printDeleted(a *app, deleted []image.Deleted, prune bool) {
	untagged, del := "Untagged: ", "Deleted: "
	if prune {
		untagged, del = "untagged: ", "deleted: "
	}
	for _, d := range deleted {
		if d.Untagged != "" {
			fmt.Fprintln(a.stdout, untagged+d.Untagged)
		}
		if d.Deleted != "" {
			fmt.Fprintln(a.stdout, del+d.Deleted)
		}
	}
}

func imageUsage(e *engine.Engine) func(string) []image.Usage { return e.ImageUsage }

func newImagePruneCmd(a *app) *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use: "prune [OPTIONS]", Short: "Remove unused images", Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			deleted, reclaimed, err := e.Images.Prune(image.PruneOptions{All: all, InUse: imageUsage(e)})
			if err != nil {
				return err
			}
			if len(deleted) > 0 {
				fmt.Fprintln(a.stdout, "Deleted Images:")
				printDeleted(a, deleted, true)
				fmt.Fprintln(a.stdout)
			}
			fmt.Fprintf(a.stdout, "Total reclaimed space: %s\n", units.HumanSize(float64(reclaimed)))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Remove all unused images, not just dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().StringArray("filter", nil, "Provide filter values")
	return cmd
}

// repoDigest is the digest column of `images --digests`: the digest under
// which repository repo knows the image (from a pull or push), as Docker
// shows it.
func repoDigest(repoDigests []string, repo string) string {
	for _, rd := range repoDigests {
		if name, dgst, ok := strings.Cut(rd, "@"); ok && name == repo {
			return dgst
		}
	}
	return "<none>"
}
