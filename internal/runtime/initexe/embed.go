//go:build berthinit

package initexe

import (
	"embed"
	"io/fs"
	"strings"
)

// berth-init is required (the Makefile builds it first); berth-shim is
// embedded when the Makefile built it too.
//
//go:embed berth-*
var files embed.FS

func embedded(name string) Binary {
	fi, err := fs.Stat(files, name)
	if err != nil {
		return Binary{}
	}
	sum, err := files.ReadFile(name + ".sha256")
	if err != nil {
		return Binary{}
	}
	return Binary{Name: name, Digest: strings.TrimSpace(string(sum)), Size: fi.Size(),
		Read: func() ([]byte, error) { return files.ReadFile(name) }}
}
