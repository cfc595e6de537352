package cli

import "github.com/spf13/cobra"

// networkCommands are `network ...` and `port`.
func networkCommands(a *app) []*cobra.Command { return nil }
