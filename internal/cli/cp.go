package cli

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/engine"
	"github.com/berth/berth/internal/errdefs"
)

func newCpCmd(a *app) *cobra.Command {
	var o engine.CopyOptions
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n  berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Long: "Copy files/folders between a container and the local filesystem\n\n" +
			"Use '-' as the source to read a tar archive from stdin\n" +
			"and extract it to a directory destination in a container.\n" +
			"Use '-' as the destination to stream a tar archive of a\n" +
			"container source to stdout.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			o.Src, o.Dst = args[0], args[1]
			o.Stdin, o.Stdout = a.stdin, a.stdout
			err = e.Copy(cmd.Context(), o)
			var nsp *engine.NoSuchPathError
			switch {
			case err == nil:
				return nil
			case errors.As(err, &nsp):
				return err // "Error: No such container:path: c:/x", as docker's client words it
			case errdefs.IsInvalid(err) || errdefs.IsConflict(err) || errdefs.IsNotFound(err):
				return StatusError{Status: 1, Message: userMessage(err)}
			default:
				// Host-side failures (lstat ...: no such file or directory) read as docker's.
				return StatusError{Status: 1, Message: err.Error()}
			}
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&o.Archive, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	fl.BoolVarP(&o.FollowLink, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	fl.BoolP("quiet", "q", false, "Suppress progress output during copy")
	return cmd
}
