// Command berth-shim is the supervisor of a detached container: it holds
// the container's owner lock, logs, attach socket, restart policy and health
// timers for the container's whole life, and runs the full berth binary only
// for the short work (launch, probes, cleanup). It links only
// internal/supervisor and the stores it needs, so that an idle container
// costs a small process (see internal/supervisor's doc). berth embeds it
// (internal/runtime/initexe); it is never installed on its own.
package main

import (
	"os"

	"github.com/berth/berth/internal/supervisor"
)

func main() {
	os.Exit(supervisor.ShimMain(os.Args[1:]))
}
