//go:build !berthinit

package initexe

// Binary returns nothing: this build embeds no init binary.
func Binary() (data []byte, sha256 string) { return nil, "" }
