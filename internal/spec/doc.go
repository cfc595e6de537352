// Package spec turns an image config plus `docker run` options into a
// complete OCI runtime spec (config.json) with Docker's defaults: the 14
// default capabilities, Docker's seccomp profile, masked and read-only /proc
// and /sys paths, the default mounts and device cgroup rules, and Docker's
// rules for Entrypoint/Cmd, environment and user resolution. The spec is the
// whole contract with the runtime, so it must be accepted unchanged by the
// in-process libcontainer and by an external runc on the same bundle.
//
// The default seccomp profile is moby's current one narrowed to what Docker
// 20.10 (the reference engine on this project's machines) lets through, so
// a berth container is never less confined than a Docker one;
// test/e2e/isolation_test.go proves that against a running Docker.
//
// It owns no state on disk. It reads the host (/proc/self/status, cgroup
// layout, /dev for --privileged) and, read-only and confined to it, the
// container rootfs's /etc/passwd and /etc/group. It must never mount,
// create cgroups or write anything: the runtime does that from the spec.
// AppArmor and SELinux options are accepted and ignored (the host has
// neither).
package spec
