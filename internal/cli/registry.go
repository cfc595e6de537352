package cli

import "github.com/spf13/cobra"

// registryImageCommands are `pull` and `push` (top level and under `image`).
func registryImageCommands(a *app) []pair { return nil }

// registryCommands are `login` and `logout`.
func registryCommands(a *app) []*cobra.Command { return nil }
