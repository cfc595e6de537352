//go:build berthinit

package initexe

import (
	_ "embed"
	"strings"
)

var (
	//go:embed berth-init
	binary []byte
	//go:embed berth-init.sha256
	digest string
)

// Binary returns the embedded init binary and the hex SHA-256 digest the
// Makefile computed for it (hashing 5 MB at every start would cost more
// than the binary saves).
func Binary() (data []byte, sha256 string) {
	return binary, strings.TrimSpace(digest)
}
