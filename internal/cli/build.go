package cli

// buildCommands are `build` and `history` (top level and under `image`).
func buildCommands(a *app) []pair { return nil }
