//go:build !berthinit

package initexe

// embedded returns nothing: this build embeds no helper binary.
func embedded(name string) Binary { return Binary{} }
