// Package supervisor keeps a detached container alive without a daemon.
//
// # Design
//
// `berth run -d` and `berth start` call Spawn, which starts the supervisor
// as `<shim> --root DIR __supervise <id>` in a new session (setsid), with
// stdin/stdout/stderr on /dev/null and one extra inherited pipe (fd 3,
// named by BERTH_SUPERVISOR_READY_FD). <shim> is berth-shim (see "Two
// binaries" below); without one, the berth binary itself, whose main
// dispatches that argv to Main. Either way Main becomes the container's
// supervisor for the container's whole life:
//
//  1. It takes the container's owner lock (container.Store.HoldOwner). The
//     flock lives exactly as long as the process, so every other berth
//     command can tell a live supervisor from a dead one without trusting
//     PIDs (see Reconcile).
//  2. It marks itself PR_SET_CHILD_SUBREAPER, so a container process whose
//     parent exits (the shim's launch helper, an external `runc run -d`, a
//     double fork) is reparented to it and its exit status can still be
//     collected.
//  3. It opens the json-file log and starts the container through the
//     injected Starter with stdout/stderr wired to the log.
//  4. It records the start (State running, Pid, StartedAt) and only then
//     writes one JSON line to fd 3 and closes it: {"ok":true} or the start
//     error with its Docker exit code (127 not found, 126 not executable,
//     else 128) and error class. Spawn returns that to `run -d`, which
//     prints the ID or fails with Docker's message and exit code.
//  5. It waits for the main process, runs the HEALTHCHECK meanwhile, then
//     records ExitCode/FinishedAt, and applies the restart policy with
//     Docker's rules: no / on-failure[:N] / always / unless-stopped, backoff
//     100ms doubling up to 1 minute, reset after 10s of running, and never
//     after an explicit stop (State.StoppedByUser, set by stop/kill/rm
//     before they signal; a pending restart notices within 100ms, and
//     SIGTERM to the supervisor cancels it at once). Between runs the state
//     is "restarting" (Running and Restarting both true, as in Docker).
//  6. When it will not restart, it calls Starter.Cleanup (remove=true for
//     --rm, followed by deleting the record), records the exit, releases the
//     owner lock by exiting.
//
// Order of records on exit: cleanup first, then "exited", so a command that
// waits for "exited" (stop, wait, rm -f) finds the runtime state, mounts and
// bundle already gone. A restart writes "restarting" first, then cleans up.
//
// # Attach
//
// When the Starter is also an IOStarter (the engine's is), the supervisor
// listens on a unix socket, AttachSocket(<run>/attach, id), from before the
// first start until it exits, and starts the container through StartIO:
// output goes to the log and to every attached client; with -i it keeps the
// write end of the container's stdin pipe, with -t the pty master. Clients
// (DialAttach, `berth attach`) speak a small framed protocol (attach_proto.go)
// and get the exit code once it is on record; a client detaches by hanging
// up. A client that stalls for 10s is dropped rather than stall the
// container. Idle, this costs a goroutine blocked in Accept; each client
// costs one more. WaitAttachEnv (`start -a`) holds the first start until a
// client is there, so it sees all the output.
//
// # When the supervisor dies
//
// If the supervisor is killed (kill -9, OOM), nobody collects the
// container's output or exit status any more. Reconcile, cheap enough for
// the start of `ps` (one flock probe per container that claims to be
// running), finds records that claim running/restarting/paused whose owner
// lock is free, calls the injected Cleanup (which kills whatever is left
// and releases runtime state), and records the container as exited. The
// exit code is 137 — what Docker reports for a container killed by
// SIGKILL, which is what berth does to the orphan — with State.Error
// saying the supervisor died; a container that was between restarts keeps
// its last real exit code.
//
// # Two binaries
//
// One supervisor runs per detached container, idle nearly all the time, so
// what it costs idle is what a container costs (the budget: 2 MiB of
// PSS per idle container). The berth binary cannot be that small: a Go
// process pays for what it links — runtime and module data, every package's
// init allocations, cgo and glibc, threads — and berth links libcontainer,
// image formats, compression and the CLI. Running it as the supervisor cost
// ~3.7 MiB of anonymous memory per container with a live heap under 1 MiB;
// GOGC, GOMAXPROCS, FreeOSMemory and GOMEMLIMIT do not touch that.
//
// So the supervisor is a separate small program, cmd/berth-shim, which
// links this package and the stores it needs (container, logs) and nothing
// of the runtime, engine or CLI: pure Go, static, no cgo. berth embeds it
// like the container init (internal/runtime/initexe) and Spawn installs it
// under <run>/runtime/init/berth-shim-<digest> on first use; the file's
// pages are shared by every shim. Spawn falls back to the berth binary when
// no shim is embedded (go test, a plain go build) or BERTH_SHIM=0.
//
// The shim runs Run with a Starter (remoteStarter, shim.go) that runs the
// full berth binary as a short-lived helper for each piece of short work,
// the record as JSON on its stdin (HelperMain serves them in berth's main,
// outside the CLI):
//
//   - `__launch ID` starts the container through the engine with stdio the
//     shim made: the pipes' write ends (the shim keeps the read ends and
//     copies them to the log and attach clients), the -i stdin pipe, or for
//     -t a socket on which the helper sends back the pty master. It reports
//     the init's PID (or the start error with its Docker exit code and
//     class) on a SOCK_SEQPACKET socket and exits; the container's init, its
//     child, is reparented to the shim, a child subreaper, which reaps it
//     with wait4 and gets its real exit status (128+N for a signal).
//     Sockets and namespace descriptors the launch leaves open (a published
//     port's bound socket) are handed to the shim with SCM_RIGHTS in the
//     same report and held until the container has exited.
//   - `__probe ID -- ARGS` runs one HEALTHCHECK probe (engine Exec), output
//     on its stdout, result on fd 3; SIGTERM when the probe's time is up.
//   - `__cleanup ID [--rm]` is Starter.Cleanup (teardown, --rm removal).
//
// The other shape considered was the reverse hand-over: the full binary
// supervises the launch and then execve()s the shim in place (same PID, so
// the init stays its child and the owner flock stays held), clearing
// FD_CLOEXEC on every descriptor it holds. It keeps the launch in-process,
// but every piece of supervisor state must cross the exec (attach clients
// mid-frame, restart backoff, health timers), the restart and cleanup paths
// exec back and forth, and the runtime's and Go's own descriptors leak
// across. With the launch as a helper, Run's logic — restart policy and
// backoff, StoppedByUser, health, attach, --rm, the owner lock that
// Reconcile probes, the ready line — stays one code path in one process, the
// same in both binaries, and what crosses a process boundary is a record
// and a few descriptors. The price is one exec of the berth binary per
// start, probe and cleanup (~4-6 ms of CPU each here, mostly the binary's
// own start-up): `run -d` latency did not change measurably, but each exit
// costs that much more CPU than an in-process teardown (`rm -f` of 20
// running containers: ~+130 ms of CPU in all).
//
// A shim runs the berth binary whose path Spawn gave it, for as long as its
// container lives: an upgraded berth must keep serving the helper verbs and
// their descriptor layout (shim.go) for shims of the previous version, which
// keep running from their own berth-shim-<digest> file.
//
// Idle, a shim is a Go process blocked in wait4 with one goroutine in
// Accept (attach) and two reading the container's output; it runs with
// GOGC=20 and GOMAXPROCS=1 (set in the environment by Spawn, so from the
// first instruction), returns start-up garbage to the OS once the container
// runs, and its working directory is "/", so it never pins the caller's
// mount. Measured: ~1.1 MiB anonymous, ~1.25 MiB PSS with 20 running.
//
// The package must never call the runtime directly (everything goes through
// Starter), never outlive the container it supervises, and never write a
// record without the container lock.
package supervisor
