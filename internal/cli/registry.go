package cli

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/engine"
	"github.com/berth/berth/internal/image"
	"github.com/berth/berth/internal/registry"
)

// registryImageCommands are `pull` and `push` (top level and under `image`).
func registryImageCommands(a *app) []pair {
	return []pair{
		same(func() *cobra.Command { return newPullCmd(a) }),
		same(func() *cobra.Command { return newPushCmd(a) }),
	}
}

// registryCommands are `login` and `logout`.
func registryCommands(a *app) []*cobra.Command {
	return []*cobra.Command{newLoginCmd(a), newLogoutCmd(a)}
}

func newPullCmd(a *app) *cobra.Command {
	var o engine.PullOptions
	cmd := &cobra.Command{
		Use: "pull [OPTIONS] NAME[:TAG|@DIGEST]", Short: "Pull an image or a repository from a registry", Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			o.Always, o.Out = true, a.stdout
			refs, err := e.Pull(cmd.Context(), args[0], o)
			if err != nil {
				return daemonError(err)
			}
			for _, r := range refs {
				fmt.Fprintln(a.stdout, r)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.AllTags, "all-tags", "a", false, "Download all tagged images in the repository")
	f.StringVar(&o.Platform, "platform", "", "Set platform if server is multi-platform capable")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "Suppress verbose output")
	f.Bool("disable-content-trust", true, "Skip image verification")
	return cmd
}

func newPushCmd(a *app) *cobra.Command {
	var o engine.PushOptions
	cmd := &cobra.Command{
		Use: "push [OPTIONS] NAME[:TAG]", Short: "Push an image or a repository to a registry", Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			o.Out = a.stdout
			refs, err := e.Push(cmd.Context(), args[0], o)
			if err != nil {
				return daemonError(err)
			}
			if o.Quiet {
				for _, r := range refs {
					fmt.Fprintln(a.stdout, image.FamiliarString(r))
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.AllTags, "all-tags", "a", false, "Push all tagged images in the repository")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "Suppress verbose output")
	f.Bool("disable-content-trust", true, "Skip image signing")
	return cmd
}

func newLoginCmd(a *app) *cobra.Command {
	var o registry.LoginOptions
	var passwordStdin bool
	cmd := &cobra.Command{
		Use: "login [OPTIONS] [SERVER]", Short: "Log in to a Docker registry",
		Long: "Log in to a Docker registry.\nIf no server is specified, the default is defined by the daemon.", Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Server = args[0]
			}
			if o.Password != "" {
				fmt.Fprintln(a.stderr, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
				if passwordStdin {
					return StatusError{Status: 1, Message: "--password and --password-stdin are mutually exclusive"}
				}
			}
			if passwordStdin {
				if o.Username == "" {
					return StatusError{Status: 1, Message: "Must provide --username with --password-stdin"}
				}
				b, err := io.ReadAll(a.stdin)
				if err != nil {
					return err
				}
				o.Password = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
				if o.Password == "" {
					return StatusError{Status: 1, Message: "Error: Password Required"}
				}
			}
			if o.Username == "" || o.Password == "" {
				// No terminal prompting: berth is driven by scripts.
				if err := a.promptCredentials(&o); err != nil {
					return err
				}
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			_, plain, err := e.Login(cmd.Context(), o)
			if err != nil {
				return daemonError(err)
			}
			if plain {
				fmt.Fprintf(a.stderr, "WARNING! Your password will be stored unencrypted in %s.\n"+
					"Configure a credential helper to remove this warning. See\n"+
					"https://docs.docker.com/engine/reference/commandline/login/#credentials-store\n\n", registry.ConfigFilePath())
			}
			fmt.Fprintln(a.stdout, "Login Succeeded")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Username, "username", "u", "", "Username")
	f.StringVarP(&o.Password, "password", "p", "", "Password")
	f.BoolVar(&passwordStdin, "password-stdin", false, "Take the password from stdin")
	return cmd
}

// promptCredentials reads a missing username and password from stdin, one
// line each, as Docker does when stdin is not a terminal it can prompt on.
func (a *app) promptCredentials(o *registry.LoginOptions) error {
	rd := bufio.NewReader(a.stdin)
	if o.Username == "" {
		fmt.Fprint(a.stdout, "Username: ")
		line, _ := rd.ReadString('\n')
		o.Username = strings.TrimSpace(line)
		if o.Username == "" {
			return StatusError{Status: 1, Message: "Error: Non-null Username Required"}
		}
	}
	if o.Password == "" {
		fmt.Fprint(a.stdout, "Password: ")
		line, _ := rd.ReadString('\n')
		o.Password = strings.TrimRight(line, "\r\n")
		fmt.Fprintln(a.stdout)
		if o.Password == "" {
			return StatusError{Status: 1, Message: "Error: Password Required"}
		}
	}
	return nil
}

func newLogoutCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use: "logout [SERVER]", Short: "Log out from a Docker registry",
		Long: "Log out from a Docker registry.\nIf no server is specified, the default is defined by the daemon.", Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			e, err := a.engine()
			if err != nil {
				return err
			}
			key, removed, err := e.Logout(server)
			if err != nil {
				return err
			}
			if !removed {
				fmt.Fprintf(a.stdout, "Not logged in to %s\n", key)
				return nil
			}
			fmt.Fprintf(a.stdout, "Removing login credentials for %s\n", key)
			return nil
		},
	}
}
