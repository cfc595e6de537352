// Command berth is a daemonless, Docker-compatible container engine. This
// file only dispatches: the container init, the --init reaper and the
// supervisor shim's helpers are the same binary re-executed, and must be
// recognised before anything else runs.
package main

import (
	"os"
	"path/filepath"

	"github.com/berth/berth/internal/cli"
	"github.com/berth/berth/internal/engine"
	"github.com/berth/berth/internal/reaper"
	"github.com/berth/berth/internal/runtime"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		runtime.Init() // never returns
	}
	if filepath.Base(os.Args[0]) == "docker-init" {
		os.Exit(reaper.Main(os.Args[1:]))
	}
	// The supervisor shim's helpers (launch, health probe, cleanup).
	if code, ok := engine.HelperMain(os.Args[1:]); ok {
		os.Exit(code)
	}
	os.Exit(cli.Execute(os.Args[1:]))
}
