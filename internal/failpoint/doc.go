// Package failpoint owns berth's crash-injection points: named places on
// the paths that write, rename, mount, program rules or change leases,
// where a test can make the process die by SIGKILL — a real crash, with no
// deferred cleanup, exactly what kill -9 or a power cut at that instant
// leaves behind.
//
// # Use
//
// A point is one line, failpoint.Hit("content.commit.before-rename"), put
// just before (or just after) the change it guards. The environment
// variable BERTH_FAILPOINT arms one point per process:
//
//	BERTH_FAILPOINT=NAME     crash at the first hit of NAME
//	BERTH_FAILPOINT=NAME@N   crash at the Nth hit of NAME in this process
//
// When BERTH_FAILPOINT_LOG names a file, the crashing process first appends
// "NAME PID\n" to it, so a test can prove the point was reached even when
// the process that crashed is not the one it started (a supervisor).
//
// # Naming conventions
//
// Names are dotted and stable: <package or operation>.<step>.<when>, e.g.
// content.commit.before-rename, snapshot.prepare.before-index; "before-X"
// and "after-X" name the change the crash precedes or follows. The first
// element says which code reached it, and so which process dies:
// "supervisor." points only a container's supervisor (the shim) reaches;
// "run.launch.", "teardown." and "network." points run in whichever process
// owns the container at that moment — a foreground `berth run`, `rm`, or
// for `run -d` the supervisor's __launch/__cleanup helper; store points
// ("content.", "snapshot.", "image.", "container.") in the command. The
// complete list, with the command that reaches each, is the table in
// test/e2e/failpoint_test.go; a point that is not in that table (or is in
// it but never reached) fails that test.
//
// Environment is inherited by every process berth starts (supervisors,
// shims), so the same variable arms the supervisor too; containers do not
// see it (their environment comes from the image and -e).
//
// # What this package must never do
//
// Cost anything when BERTH_FAILPOINT is unset (it is read once, lazily, on
// the first Hit; there is no init()), or do anything but crash when armed:
// no error returns, no partial failures, no sleeping.
package failpoint
