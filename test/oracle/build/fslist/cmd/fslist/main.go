// Command fslist prints the filesystem listing (package fslist) of an image
// archive (`fslist saved < image.tar`, also writing the config blob to the
// file named by -config) or of a flat export (`fslist flat < export.tar`) as
// indented JSON, for test/oracle/build/record.sh.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/berth/berth/test/oracle/build/fslist"
)

func main() {
	config := flag.String("config", "", "with saved: write the image config blob here")
	flag.Parse()
	if err := run(flag.Arg(0), *config); err != nil {
		fmt.Fprintln(os.Stderr, "fslist:", err)
		os.Exit(1)
	}
}

func run(kind, config string) error {
	var l fslist.Listing
	switch kind {
	case "saved":
		img, err := fslist.FromSaved(os.Stdin)
		if err != nil {
			return err
		}
		if config != "" {
			if err := os.WriteFile(config, img.Config, 0o644); err != nil {
				return err
			}
		}
		l = img.Listing
	case "flat":
		var err error
		if l, err = fslist.FromFlatTar(os.Stdin); err != nil {
			return err
		}
	default:
		return fmt.Errorf("usage: fslist saved|flat [-config FILE] < TAR")
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(l.Sorted())
}
