package runtime

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// WarmCgroups hides a kernel latency that every container start (and exec)
// would otherwise wait for. Call it as soon as a start is known to be
// coming (e.g. when `run` begins, before the container is even created);
// it returns at once and does its work in the background. It is safe to
// call at any time and any number of times, and a no-op where it cannot
// act (no cgroup access, unusual mounts).
//
// Why: moving a process into a cgroup (writing cgroup.procs, which
// libcontainer does in each of the ~10 hierarchies of a cgroup v1 or
// hybrid host) takes the kernel's global cgroup_threadgroup_rwsem for
// writing. Unless the hierarchy is mounted with favordynmods, the first
// writer waits for a full RCU grace period (rcu_sync_enter): 5-12 ms
// measured on the 2-core dev VM, a third of a whole `run --rm`. After the
// last writer is done the semaphore stays in writer mode for another
// grace period, so later writers are fast (~0.2 ms). WarmCgroups moves the
// calling process into the cgroup it is already in, a no-op migration
// that pays that grace period while berth is busy with other work
// (container record, rootfs mount, spec).
//
// While one warm-up is under way further calls do nothing: the pending
// write already covers every start that follows it within a grace
// period, and each extra write would cost a goroutine, a trip through
// the global semaphore and, on this VM, a thread wake-up (a `run` used to
// issue three of them, from the CLI, the engine and the runtime).
func WarmCgroups() {
	if !warming.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer warming.Store(false)
		warmCgroups()
	}()
}

// warming is set while a warm-up write is in flight. It is process-wide
// on purpose: the kernel state it stands for (the semaphore's writer
// mode) is machine-wide, and the callers are unrelated packages.
var warming atomic.Bool

// warmCgroups writes the calling process's PID to the cgroup.procs of the
// first of its own cgroups it can find.
func warmCgroups() {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return
	}
	pid := []byte(strconv.Itoa(os.Getpid()))
	for _, procs := range ownCgroupProcs(data) {
		if writeCgroupFile(procs, pid) == nil {
			return
		}
	}
}

// writeCgroupFile writes data to path if it is a file of a cgroup
// filesystem (never to a look-alike on some other mount).
func writeCgroupFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return err
	}
	if st.Type != unix.CGROUP_SUPER_MAGIC && st.Type != unix.CGROUP2_SUPER_MAGIC {
		return fmt.Errorf("%s: not a cgroup file", path)
	}
	_, err = f.Write(data)
	return err
}

// ownCgroupProcs returns candidate cgroup.procs files of the process whose
// /proc/PID/cgroup is data, cgroup v1 hierarchies first (where container
// starts write most), assuming the usual mounts under /sys/fs/cgroup.
func ownCgroupProcs(data []byte) []string {
	var v1, v2 []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// hierarchy-ID:controller-list:cgroup-path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 || !strings.HasPrefix(parts[2], "/") {
			continue
		}
		ctrl, path := parts[1], parts[2]
		switch {
		case ctrl == "":
			v2 = append(v2,
				filepath.Join("/sys/fs/cgroup/unified", path, "cgroup.procs"),
				filepath.Join("/sys/fs/cgroup", path, "cgroup.procs"))
		case !strings.Contains(ctrl, "="): // skip named hierarchies (name=systemd)
			v1 = append(v1, filepath.Join("/sys/fs/cgroup", ctrl, path, "cgroup.procs"))
		}
	}
	return append(v1, v2...)
}
