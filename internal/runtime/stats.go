package runtime

import (
	"bufio"
	"bytes"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"

	"github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

// fromCgroupStats fills s from a libcontainer cgroup sample (v1 or v2).
func fromCgroupStats(s *Stats, cg *cgroups.Stats) {
	cpu := cg.CpuStats.CpuUsage
	s.CPUUsageNanos, s.CPUUserNanos, s.CPUSystemNanos = cpu.TotalUsage, cpu.UsageInUsermode, cpu.UsageInKernelmode

	mem := cg.MemoryStats
	s.MemoryUsage, s.MemoryLimit = mem.Usage.Usage, mem.Usage.Limit
	// v2 names it inactive_file; v1 total_inactive_file (hierarchical).
	if v, ok := mem.Stats["total_inactive_file"]; ok {
		s.MemoryInactiveFile = v
	} else {
		s.MemoryInactiveFile = mem.Stats["inactive_file"]
	}

	s.Pids, s.PidsLimit = cg.PidsStats.Current, cg.PidsStats.Limit

	for _, e := range cg.BlkioStats.IoServiceBytesRecursive {
		switch strings.ToLower(e.Op) {
		case "read":
			s.BlockRead += e.Value
		case "write":
			s.BlockWrite += e.Value
		}
	}
}

// fillHost adds the host-wide figures Docker uses for percentages, and
// replaces an unlimited memory limit by the host's memory, as Docker shows.
func fillHost(s *Stats) {
	s.OnlineCPUs = uint32(goruntime.NumCPU())
	s.SystemCPUNanos = systemCPU()
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		total := uint64(si.Totalram) * uint64(si.Unit)
		if s.MemoryLimit == 0 || s.MemoryLimit > total {
			s.MemoryLimit = total
		}
	}
}

// systemCPU is the host's total CPU time in ns, from the first line of
// /proc/stat (clock ticks of 1/100 s, which Linux fixes for userspace).
func systemCPU() uint64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) < 8 || fields[0] != "cpu" {
		return 0
	}
	var ticks uint64
	for _, f := range fields[1:8] { // user nice system idle iowait irq softirq
		v, _ := strconv.ParseUint(f, 10, 64)
		ticks += v
	}
	const nsPerTick = 1e9 / 100
	return ticks * nsPerTick
}

// netDev sums the byte counters of every interface but lo in the network
// namespace of pid.
func netDev(pid int) (rx, tx uint64) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/net/dev")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, counters, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		fields := strings.Fields(counters)
		if len(fields) < 9 {
			continue
		}
		r, _ := strconv.ParseUint(fields[0], 10, 64)
		t, _ := strconv.ParseUint(fields[8], 10, 64)
		rx += r
		tx += t
	}
	return rx, tx
}
