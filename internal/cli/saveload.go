package cli

// archiveCommands are `save` and `load` (top level and under `image`).
func archiveCommands(a *app) []pair { return nil }
