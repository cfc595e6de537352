// Package supervisor keeps a detached container alive without a daemon.
//
// # Design
//
// `berth run -d` and `berth start` call Spawn, which re-executes the berth
// binary as `berth [--root DIR] __supervise <id>` in a new session (setsid),
// with stdin/stdout/stderr on /dev/null and one extra inherited pipe (fd 3,
// named by BERTH_SUPERVISOR_READY_FD). main dispatches that argv to Main,
// which becomes the container's supervisor for the container's whole life:
//
//  1. It takes the container's owner lock (container.Store.HoldOwner). The
//     flock lives exactly as long as the process, so every other berth
//     command can tell a live supervisor from a dead one without trusting
//     PIDs (see Reconcile).
//  2. It marks itself PR_SET_CHILD_SUBREAPER, so a container process whose
//     parent exits (an external `runc run -d`, a double fork) is reparented
//     to it and its exit status can still be collected.
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
// # Memory
//
// One supervisor runs per detached container, so it is kept small: Main
// lowers GOGC to 20, runs with GOMAXPROCS=1 (set in the environment by
// Spawn, so from the first instruction), returns start-up garbage to the OS
// once the container runs, and sleeps in wait4 and timers when idle. Its
// working directory is "/", so it never pins the caller's mount.
//
// The package must never call the runtime directly (everything goes through
// Starter), never outlive the container it supervises, and never write a
// record without the container lock.
package supervisor
