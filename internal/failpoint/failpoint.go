package failpoint

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// Env arms a failpoint: NAME or NAME@N.
const Env = "BERTH_FAILPOINT"

// LogEnv names a file the crashing process appends "NAME PID\n" to.
const LogEnv = "BERTH_FAILPOINT_LOG"

// armed is the point this process crashes at, parsed once from Env. It is
// process state by nature: the environment is.
var armed = sync.OnceValue(func() *point {
	v := os.Getenv(Env)
	if v == "" {
		return nil
	}
	p := &point{name: v, nth: 1}
	if i := strings.LastIndexByte(v, '@'); i > 0 {
		if n, err := strconv.Atoi(v[i+1:]); err == nil && n > 0 {
			p.name, p.nth = v[:i], int64(n)
		}
	}
	return p
})

type point struct {
	name string
	nth  int64
	hits atomic.Int64
}

// Hit crashes the process with SIGKILL when name is the armed point (at
// its Nth hit); otherwise it returns at once.
func Hit(name string) {
	p := armed()
	if p == nil || p.name != name || p.hits.Add(1) != p.nth {
		return
	}
	crash(name)
}

func crash(name string) {
	if path := os.Getenv(LogEnv); path != "" {
		if f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err == nil {
			fmt.Fprintf(f, "%s %d\n", name, os.Getpid())
			f.Sync()
			f.Close()
		}
	}
	fmt.Fprintf(os.Stderr, "berth: failpoint %s: SIGKILL\n", name)
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is delivered asynchronously; never go on
}
