// Package runtime runs OCI bundles: it turns a runtime-spec into a running
// container, execs further processes in it, signals, pauses, inspects and
// destroys it. Two implementations sit behind the Runtime interface:
//
//   - Libcontainer (New) drives runc's libcontainer in-process. The
//     container's init is cmd/berth-init, a small binary embedded in berth
//     (package initexe) and installed under the state directory on first
//     use; a build without it re-executes itself ("berth init", see Init),
//     exactly as runc does. Either way no runc binary is needed.
//   - External (NewExternal) shells out to an OCI runtime binary such as
//     runc (--runtime runc), keeping its state under <stateDir>/runc.
//
// The package owns the runtime state directory (root.RuntimeState()): the
// per-container libcontainer state, the external runtime's --root, a cache
// of compiled seccomp programs and the installed init binary. Every piece
// of it can be rebuilt or discarded after a reboot.
//
// Start-up latency: docs/runtime-startup.md explains where the time of a
// container start goes, why the init is a separate binary, and why
// WarmCgroups exists (a kernel RCU wait on every cgroup v1 attach).
//
// Seccomp: compiling Docker's default profile with libseccomp costs ~40 ms,
// and libcontainer used to do it inside every container's init. berth
// carries a small runc patch (third_party/runc, docs/seccomp.md) that lets
// the parent compile the profile once, cache the program by the digest of
// the profile, and hand it to the init, which loads it at the very point
// runc would have loaded its own compilation.
//
// What it must never do: choose the spec (capabilities, seccomp profile,
// mounts come from the caller), mount the rootfs, or decide policy such as
// restarts and logging; it reports exit codes and leaves the rest to the
// supervisor. It keeps no package-level state, and nothing in it runs at
// import time, because every package linked into berth also runs in each
// container's init.
package runtime
