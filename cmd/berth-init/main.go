// Command berth-init is the container init that berth's in-process runtime
// runs for every container start and exec, in place of re-executing the
// whole berth binary as runc does with itself. It links only the runtime's
// init path, so that the Go runtime and package initialisation in each new
// container take a fraction of what berth's full command tree costs. berth
// embeds it (internal/runtime/initexe); it is never installed on its own.
package main

import "github.com/berth/berth/internal/runtime"

func main() {
	runtime.Init() // never returns
}
