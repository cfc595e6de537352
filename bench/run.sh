#!/usr/bin/env bash
# bench/run.sh [--docker-only]     (make bench)
#
# Side-by-side benchmarks of berth against Debian's Docker on this machine,
# written to bench/RESULTS.md:
#   1. latency of `run --rm --network none busybox true` (hyperfine median)
#   2. memory per idle detached container: sum of PSS (/proc/PID/smaps_rollup)
#      of the engine's processes with 20 `run -d ... sleep` containers, / 20
#   3. `rm -f` of 20 running containers in one command (hyperfine median)
#   4. `import` of the ~170 MB Debian minbase rootfs tar (hyperfine median)
# then, each appending its own section:
#   5. bench/registry.sh: push and pull of a ~217 MB one-layer image
#   6. bench/build.sh: `build` of the tutorial image cold and cached, and a
#      cached rebuild of a 5,000-file / 200 MB context
#   7. bench/network.sh: run latency on the bridge, published-port throughput,
#      run -d -p → first HTTP 200
# The Docker peer is the isolated dockerd of scripts/dockerd.sh: started here
# if not already running and stopped again if this script started it. A
# side-by-side whose peer cannot start fails (exit 1). --docker-only skips the
# berth half (berth column "not run"). BERTH_BIN overrides ./bin/berth;
# BENCH_RUNS (default 20) sets the latency sample size.
#
# Every berth figure that misses its target gets a profile appended to RESULTS.md
# (BENCH_PROFILE=all: every figure): for memory, one supervisor's mappings,
# its Go heap (gctrace) and package-init allocations; for times, strace -f -c
# and perf record of one run (of an unstripped build of the tree),
# and for run latency a strace -tt timeline too. A per-process
# memory breakdown of both engines is always written.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
results=$here/RESULTS.md
runs=${BENCH_RUNS:-20}
n=20 # containers for the memory and rm -f figures
docker=${DOCKER_CLI:-/usr/bin/docker}
berth=${BERTH_BIN:-$repo/bin/berth}
img=bench-busybox:latest
debimg=bench-debian:latest

# Targets, one place to change them: the foundation issue's figures. A limit
# is in the figure's unit; import's is a fraction of Docker's time.
limit_run_ms=30
limit_mem_mib=2
limit_rm_ms=200
import_ratio=0.5
target_run="≤ $limit_run_ms ms"
target_mem="≤ $limit_mem_mib MiB"
target_rm="≤ $limit_rm_ms ms"
target_import="≤ $import_ratio × Docker's"

mode=both
case ${1:-} in
--docker-only) mode=docker ;;
"") ;;
*) echo "usage: $0 [--docker-only]" >&2; exit 2 ;;
esac

die() { echo "bench: FAIL: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

"$repo/scripts/deps.sh" hyperfine jq procps docker.io
if [[ $mode == both ]]; then
	[[ -x $berth ]] || die "berth binary missing at $berth (run make first)"
	berth=$(realpath "$berth")
fi

work=$(mktemp -d /var/tmp/berth-bench.XXXXXX)
broot=$work/root
started_docker=0

cleanup() {
	set +e
	if [[ $mode == both && -d $broot ]]; then
		ids=$("$berth" --root "$broot" ps -aq 2>/dev/null)
		[[ -n $ids ]] && "$berth" --root "$broot" rm -f $ids >/dev/null 2>&1
	fi
	if [[ -n ${DOCKER_HOST:-} ]]; then
		ids=$("$docker" ps -aq --filter label=berth-bench 2>/dev/null)
		[[ -n $ids ]] && "$docker" rm -f $ids >/dev/null 2>&1
		"$docker" rmi -f "$img" "$debimg" >/dev/null 2>&1
	fi
	((started_docker)) && "$repo/scripts/dockerd.sh" stop
	# Whatever berth left mounted under the bench root, deepest first.
	awk -v d="$work" 'index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m"; done
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# ---- the peer --------------------------------------------------------------
if ! "$repo/scripts/dockerd.sh" status >/dev/null 2>&1; then
	"$repo/scripts/dockerd.sh" start >/dev/null ||
		die "side-by-side peer dockerd could not start (see the reason above); no figures written"
	started_docker=1
fi
eval "$("$repo/scripts/dockerd.sh" env)"
export DOCKER_HOST
docker_dir=${BERTH_DOCKERD_DIR:-/var/tmp/berth-dockerd}

# ---- fixtures --------------------------------------------------------------
"$repo/scripts/mkimage-busybox.sh" "$work/busybox.tar"
"$repo/scripts/mkimage-debian.sh" "$work/debian.tar"
tar_mb=$(($(stat -c %s "$work/debian.tar") / 1000000))
"$docker" import "$work/busybox.tar" "$img" >/dev/null
if [[ $mode == both ]]; then
	mkdir -p "$broot"
	"$berth" --root "$broot" import "$work/busybox.tar" "$img" >/dev/null
fi

# median_ms FILE INDEX: a hyperfine JSON export's median, in ms.
median_ms() { jq -r ".results[$2].median * 1000 | . * 10 | round / 10" "$1"; }

# ---- profiles (for figures that miss their target) ---------------------------
# missed BERTH LIMIT: true when berth's figure is above the limit.
missed() { awk -v b="$1" -v d="$2" 'BEGIN {exit !(b > d)}'; }
# profile_wanted BERTH LIMIT: profile a missed figure, or every figure with
# BENCH_PROFILE=all.
profile_wanted() { [[ ${BENCH_PROFILE:-} == all ]] || missed "$1" "$2"; }

# profile_memory: Markdown on where one supervisor's memory goes, taken while
# the bench's containers run: its largest anonymous mappings, the Go heap as
# the garbage collector sees it (GODEBUG=gctrace=1 in one extra supervisor,
# whose stderr is its container's supervisor.log), and what initialising
# the packages linked into the binary allocates (GODEBUG=inittrace=1; the
# supervisor runs the same inits).
profile_memory() {
	local sup id gc range path anon size
	sup=$(pgrep -f -- "--root $broot __supervise" | sed -n 1p)
	echo "### memory per idle container"
	echo
	echo "The per-process table above shows where the difference is: a berth supervisor against a Docker shim."
	echo "One supervisor (pid $sup) from the inside:"
	echo
	awk '/^(RssAnon|RssFile|Threads):/ {printf "%s %s %s; ", $1, $2, $3} END {print ""}' "/proc/$sup/status"
	echo
	echo "Its largest anonymous mappings (/proc/PID/smaps):"
	echo
	echo '| resident anonymous kB | mapping size kB | mapping |'
	echo '| ---: | ---: | --- |'
	awk '/^[0-9a-f]+-[0-9a-f]+ / {r = $1; n = ($6 == "" ? "anonymous" : $6)}
		/^Anonymous:/ {if ($2 > 0) print $2, r, n}' "/proc/$sup/smaps" | sort -rn | sed -n 1,8p |
		while read -r anon range path; do
			size=$(((16#${range#*-} - 16#${range%-*}) / 1024))
			echo "| $anon | $size | \`$range\` $path |"
		done
	echo
	id=$(GODEBUG=gctrace=1,scavtrace=1 BERTH_ROOT=$broot "$berth" --root "$broot" run -d --network none "$img" sleep 100000 2>/dev/null)
	sleep 2
	gc=$(grep '^gc ' "$broot/containers/$id/supervisor.log" 2>/dev/null | tail -n 1)
	scav=$(grep '^scav ' "$broot/containers/$id/supervisor.log" 2>/dev/null | tail -n 1)
	echo "Go heap of a fresh supervisor once its container runs (GODEBUG=gctrace=1,scavtrace=1; the last GC is"
	echo "the one forced by its debug.FreeOSMemory: heap MB at start → end → live; then what the scavenger returned"
	echo "to the OS, and \"util\", the share of the heap pages it kept that hold live objects):"
	echo
	echo "    ${gc:-no gctrace line found}"
	echo "    ${scav:-no scavtrace line found}"
	echo
	echo "Package initialisation in this binary (inittrace of \`berth version\`), largest allocators:"
	echo
	GODEBUG=inittrace=1 "$berth" version 2>&1 >/dev/null | awk '$1 == "init" {print $8, $2}' | sort -rn |
		awk '{t += $1; if (NR <= 4) top = top sprintf("%s %.0f kB, ", $2, $1 / 1024)}
			END {printf "    %stotal %.0f kB\n", top, t / 1024}'
	echo
	cat <<'EOT'
Reading it: a supervisor runs the whole berth binary. Its file-backed pages (the 14 MB static binary) are
shared by all supervisors and cost little PSS each; what each one pays alone is anonymous memory, in three
parts. (1) The Go heap: the largest anonymous mapping above is, by its size and alignment, the heap arena; what
is resident there stays near the live heap, since util is close to 100% after the forced scavenge. (2) The
runtime's own off-heap structures — span and page-allocator metadata, GC work buffers, per-thread state (see
Threads) — the next few mappings of a few hundred kB each. (3) Package state every linked package initialises
at start-up whether the supervisor needs it or not (the inittrace line, e.g. distribution/reference's compiled
regular expressions); it is allocated in every berth process: CLI, supervisor and container init alike.
So the levers are the live heap and package-level state of the supervisor process and the number of threads
it keeps, not GOGC (already 20) or returning memory (already forced after start).
EOT
	echo
}

# ensure_prof_bin sets prof_berth: for the time profiles, the working tree
# built without -s -w so that perf can name Go functions (make strips them);
# the benchmarked binary if that build fails.
ensure_prof_bin() {
	[[ -n ${prof_berth:-} ]] && return
	prof_berth=$berth
	if (cd "$repo" && CGO_ENABLED=1 go build -trimpath -tags 'seccomp netgo osusergo' \
		-ldflags '-extldflags -static' -o "$work/berth-prof" ./cmd/berth) >"$work/prof-build.log" 2>&1; then
		prof_berth=$work/berth-prof
	else
		log "unstripped build failed (see below); profiling the stripped binary"
		tail -n 5 "$work/prof-build.log" >&2
	fi
}

# trim: perf's report lines without their padding and empty columns.
trim() { sed -E 's/[[:space:]]+-[[:space:]]+-[[:space:]]*$//; s/[[:space:]]+$//; s/  +/  /g'; }

# profile_cpu CAPTION PREPARE CMD...: where the CPU time of one run of CMD
# and its children goes (perf record): kernel/user split, then the hottest
# symbols; plus the syscalls other than scheduling that took longest
# (strace -f -c; strace slows everything down, so read shares, not times).
# PREPARE (a shell command, may be :) runs before each of the two runs, so
# that both find the same state (e.g. containers to remove).
profile_cpu() {
	local caption=$1 prepare=$2
	shift 2
	bash -c "$prepare" >/dev/null 2>&1
	if command -v perf >/dev/null && perf record -q -F 2000 -o "$work/perf.data" -- "$@" >/dev/null 2>&1; then
		echo "perf record of $caption:"
		echo
		echo '```'
		perf report -i "$work/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep '%' | trim | sed -n 1,4p
		echo
		perf report -i "$work/perf.data" --no-children --sort comm,symbol --stdio 2>/dev/null | grep '%' | trim | sed -n 1,20p
		echo '```'
	else
		echo "(perf unavailable or failed)"
	fi
	echo
	bash -c "$prepare" >/dev/null 2>&1
	strace -f -c -S time -o "$work/strace-c" \
		-e trace='!futex,nanosleep,clock_nanosleep,epoll_pwait,epoll_wait,epoll_ctl,waitid,wait4,sched_yield,rt_sigreturn,rt_sigprocmask,rt_sigaction,sigaltstack,tgkill,getpid,gettid,madvise,mmap,munmap,mprotect' \
		"$@" >/dev/null 2>&1 || true
	echo "strace -f -c of $caption, scheduling syscalls left out:"
	echo
	echo '```'
	grep -v -e 'detached \.\.\.>' -e 'resumed>' "$work/strace-c" | sed -n 1,12p
	tail -n 1 "$work/strace-c"
	echo '```'
	echo
}

# profile_run: a timeline of one `run --rm`, from the CLI's start to its
# exit: every execve, the pivot_root into the rootfs, and how many clones
# and mounts happen, with times relative to the start, plus package-init
# cost per berth process start.
profile_run() {
	strace -f -tt -e trace=execve,clone,clone3,mount,pivot_root,exit_group -o "$work/run.trace" \
		"$prof_berth" --root "$broot" run --rm --network none "$img" true >/dev/null 2>&1 || true
	echo "Timeline of one \`run --rm\` under strace -f -tt (strace stretches it several-fold; read the order"
	echo "and the proportions):"
	echo
	echo '```'
	awk 'function t(s, a) {split(s, a, ":"); return a[1] * 3600 + a[2] * 60 + a[3]}
		NR == 1 {t0 = t($2)}
		{last = t($2)}
		$3 ~ /^clone/ {clones++}
		$3 ~ /^mount/ {mounts++}
		$3 ~ /^(execve|pivot_root)/ {c = $0; sub(/^[0-9]+ +[0-9:.]+ +/, "", c); printf "%7.1f ms  pid %-7s %s\n", (t($2) - t0) * 1000, $1, substr(c, 1, 100)}
		END {printf "%7.1f ms  last event; %d clone(s), %d mount(s) in all\n", (last - t0) * 1000, clones, mounts}' "$work/run.trace"
	echo '```'
	echo
	GODEBUG=inittrace=1 "$berth" version 2>&1 >/dev/null |
		awk '$1 == "init" {ms += $5} END {printf "Package init: %.1f ms per berth process start (inittrace of `berth version`).\n", ms}'
	echo
}

# ---- 1. run latency ----------------------------------------------------------
log "run latency ($runs runs each)"
cmds=(-n docker "$docker run --rm --network none $img true")
[[ $mode == both ]] && cmds+=(-n berth "$berth --root $broot run --rm --network none $img true")
hyperfine -N --style basic --warmup 3 --runs "$runs" --export-json "$work/run.json" "${cmds[@]}" >&2
docker_run=$(median_ms "$work/run.json" 0)
berth_run="not run"
if [[ $mode == both ]]; then
	berth_run_ms=$(median_ms "$work/run.json" 1)
	berth_run="$berth_run_ms ms"
	if profile_wanted "$berth_run_ms" "$limit_run_ms"; then
		log "profiling run latency"
		ensure_prof_bin
		"$prof_berth" --root "$broot" run --rm --network none "$img" true >/dev/null 2>&1 || true # warm its caches
		{
			echo "### run latency"
			echo
			profile_run
			profile_cpu "one \`run --rm --network none IMG true\`" : \
				"$prof_berth" --root "$broot" run --rm --network none "$img" true
		} >"$work/profile-run.md"
	fi
fi

# ---- 2. memory per idle detached container -------------------------------
mntns_self=$(readlink /proc/self/ns/mnt)

# pss_kb PREDICATE: sum of Pss over processes for which PREDICATE PID succeeds.
pss_kb() {
	local pred=$1 total=0 p pid v
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
		"$pred" "$pid" 2>/dev/null || continue
		v=$(awk '/^Pss:/ {print $2}' "$p/smaps_rollup" 2>/dev/null) || continue
		total=$((total + ${v:-0}))
	done
	echo "$total"
}
# is_berth PID: berth's own processes (command line or environment name the
# bench root) and its containers (another mount namespace whose mounts come
# from the bench root).
is_berth() {
	local p=/proc/$1
	tr '\0' ' ' <"$p/cmdline" | grep -qF -- "$broot" && return 0
	tr '\0' '\n' <"$p/environ" | grep -qxF -- "BERTH_ROOT=$broot" && return 0
	# A mount namespace we cannot read (PID 1's, here) is not a container's:
	# the host's init sees our mounts through propagation.
	local ns
	ns=$(readlink "$p/ns/mnt") || return 1
	[[ $1 != 1 && -n $ns && $ns != "$mntns_self" ]] && grep -qF -- "$broot/" "$p/mountinfo"
}
# is_docker PID: the peer's dockerd, containerd and shims (named by its
# directory) and its containers (the cgroup parent scripts/dockerd.sh gives
# them, /dockerside-<basename of its directory>).
docker_cg=":/dockerside-$(basename "$docker_dir")/"
is_docker() {
	local p=/proc/$1
	tr '\0' ' ' <"$p/cmdline" | grep -qF -- "$docker_dir/" && return 0
	grep -qF -- "$docker_cg" "$p/cgroup"
}

# breakdown PREDICATE CLASSIFY: for the processes PREDICATE accepts, one line
# per class (CLASSIFY PID prints it): class, count, and summed Pss, Pss_Anon
# and Pss_File in kB.
breakdown() {
	local pred=$1 classify=$2 p pid
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
		"$pred" "$pid" 2>/dev/null || continue
		printf '%s ' "$("$classify" "$pid" 2>/dev/null || echo gone)"
		awk '/^Pss:/ {p = $2} /^Pss_Anon:/ {a = $2} /^Pss_File:/ {f = $2} END {print p + 0, a + 0, f + 0}' \
			"$p/smaps_rollup" 2>/dev/null || echo "0 0 0"
	done | awk '{n[$1]++; p[$1] += $2; a[$1] += $3; f[$1] += $4}
		END {for (c in n) printf "%s %d %d %d %d\n", c, n[c], p[c], a[c], f[c]}' | sort
}
classify_berth() {
	if tr '\0' ' ' <"/proc/$1/cmdline" | grep -q -- ' __supervise '; then
		echo supervisor
	elif [[ $(readlink "/proc/$1/ns/mnt") != "$mntns_self" ]]; then
		echo container
	else
		echo berth-cli
	fi
}
classify_docker() {
	local argv0
	IFS= read -r -d '' argv0 <"/proc/$1/cmdline" || true
	case ${argv0##*/} in
	containerd-shim*) echo shim ;;
	dockerd) echo dockerd ;;
	containerd) echo containerd ;;
	*) echo container ;;
	esac
}
# total_kb: the Pss column of a breakdown, summed.
total_kb() { awk '{t += $3} END {print t + 0}'; }
# breakdown_rows ENGINE: a breakdown as Markdown table rows, per process.
breakdown_rows() {
	awk -v e="$1" '{printf "| %s | %s | %d | %.2f | %.2f | %.2f |\n", e, $1, $2, $3 / $2 / 1024, $4 / $2 / 1024, $5 / $2 / 1024}'
}

log "memory: $n idle containers each"
docker_base=$(pss_kb is_docker)
for ((i = 0; i < n; i++)); do
	"$docker" run -d --label berth-bench --network none "$img" sleep 100000 >/dev/null
done
sleep 2
breakdown is_docker classify_docker >"$work/mem-docker"
docker_total=$(total_kb <"$work/mem-docker")
"$docker" rm -f $("$docker" ps -aq --filter label=berth-bench) >/dev/null
docker_mem=$(awk -v t="$docker_total" -v n="$n" 'BEGIN {printf "%.2f", t / n / 1024}')
docker_mem_marg=$(awk -v t="$docker_total" -v b="$docker_base" -v n="$n" 'BEGIN {printf "%.2f", (t - b) / n / 1024}')
berth_mem="not run"
: >"$work/mem-berth"
if [[ $mode == both ]]; then
	for ((i = 0; i < n; i++)); do
		BERTH_ROOT=$broot "$berth" --root "$broot" run -d --network none "$img" sleep 100000 >/dev/null
	done
	sleep 2
	breakdown is_berth classify_berth >"$work/mem-berth"
	berth_total=$(total_kb <"$work/mem-berth")
	berth_mem_mib=$(awk -v t="$berth_total" -v n="$n" 'BEGIN {printf "%.2f", t / n / 1024}')
	berth_mem="$berth_mem_mib MiB"
	if profile_wanted "$berth_mem_mib" "$limit_mem_mib"; then
		log "profiling memory"
		profile_memory >"$work/profile-memory.md"
	fi
	BERTH_ROOT=$broot "$berth" --root "$broot" rm -f $("$berth" --root "$broot" ps -aq) >/dev/null
fi

# ---- 3. rm -f of 20 running containers -------------------------------------
log "rm -f of $n running containers (5 runs each)"
cat >"$work/start-docker.sh" <<EOS
#!/bin/sh
set -e
for i in \$(seq $n); do "$docker" run -d --label berth-bench --network none "$img" sleep 100000; done >"$work/ids-docker"
EOS
cat >"$work/start-berth.sh" <<EOS
#!/bin/sh
set -e
for i in \$(seq $n); do "$berth" --root "$broot" run -d --network none "$img" sleep 100000; done >"$work/ids-berth"
EOS
chmod +x "$work"/start-*.sh
cmds=(--prepare "$work/start-docker.sh" -n docker "$docker rm -f \$(cat $work/ids-docker)")
[[ $mode == both ]] && cmds+=(--prepare "$work/start-berth.sh" -n berth "$berth --root $broot rm -f \$(cat $work/ids-berth)")
hyperfine --style basic --runs 5 --export-json "$work/rm.json" "${cmds[@]}" >&2
docker_rm=$(median_ms "$work/rm.json" 0)
berth_rm="not run"
if [[ $mode == both ]]; then
	berth_rm_ms=$(median_ms "$work/rm.json" 1)
	berth_rm="$berth_rm_ms ms"
	if profile_wanted "$berth_rm_ms" "$limit_rm_ms"; then
		log "profiling rm -f"
		ensure_prof_bin
		{
			echo "### rm -f of $n running containers"
			echo
			profile_cpu "\`rm -f\` of $n running containers" "$work/start-berth.sh" \
				sh -c "exec '$prof_berth' --root '$broot' rm -f \$(cat '$work/ids-berth')"
		} >"$work/profile-rm.md"
	fi
fi

# ---- 4. import of a ~170 MB rootfs tar ---------------------------------------
log "import of the ${tar_mb} MB Debian tar (3 runs each)"
cmds=(--prepare "$docker rmi -f $debimg >/dev/null 2>&1 || true" -n docker "$docker import $work/debian.tar $debimg")
# Each berth run imports into a fresh root and nothing is deleted between
# runs: right after a 170 MB delete, ext4's inode allocator spends seconds
# skipping "recently deleted" inodes (perf: find_inode_bit/recently_deleted),
# which measures the previous run's cleanup, not the import.
mkdir -p "$work/imp-runs"
[[ $mode == both ]] && cmds+=(-n berth "$berth --root $work/imp-runs/\$(date +%s%N) import $work/debian.tar $debimg")
hyperfine --style basic --warmup 1 --runs 3 --export-json "$work/import.json" "${cmds[@]}" >&2
docker_import=$(median_ms "$work/import.json" 0)
berth_import="not run"
if [[ $mode == both ]]; then
	berth_import_ms=$(median_ms "$work/import.json" 1)
	berth_import="$berth_import_ms ms"
	if profile_wanted "$berth_import_ms" "$(awk -v d="$docker_import" -v r="$import_ratio" 'BEGIN {print d * r}')"; then
		log "profiling import"
		ensure_prof_bin
		{
			echo "### import"
			echo
			echo "CPU of the berth import runs (hyperfine means): user $(jq -r '.results[1].user * 1000 | round' "$work/import.json") ms," \
				"system $(jq -r '.results[1].system * 1000 | round' "$work/import.json") ms; wall median $berth_import_ms ms."
			echo
			profile_cpu "one \`import\` into an empty root" "rm -rf '$work/imp' && mkdir '$work/imp'" \
				"$prof_berth" --root "$work/imp" import "$work/debian.tar" "$debimg"
		} >"$work/profile-import.md"
		rm -rf "$work/imp"
	fi
fi

# ---- RESULTS.md --------------------------------------------------------------
if [[ -d /sys/fs/cgroup/unified ]]; then
	cg="hybrid (cgroup v1 controllers + cgroup2 at /sys/fs/cgroup/unified)"
elif [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
	cg="unified (cgroup v2)"
else
	cg="legacy (cgroup v1)"
fi
dver=$("$docker" version --format '{{.Server.Version}}')
cver=$(containerd --version | awk '{print $3}')
rver=$(runc --version | awk 'NR==1 {print $3}')
bver="not run"
[[ $mode == both ]] && bver=$("$berth" version --format '{{.Client.Version}}' 2>/dev/null)
# met BERTH LIMIT: the "met" cell.
met() {
	if [[ $mode != both ]]; then
		echo "–"
	elif missed "$1" "$2"; then
		echo "**no**"
	else
		echo "yes"
	fi
}
load=$(cut -d' ' -f1-3 /proc/loadavg)
cat >"$results" <<EOF
# berth benchmarks

Written by \`bench/run.sh\`$([[ $mode == docker ]] && echo ' --docker-only') (\`make bench\`) on $(date -u +%Y-%m-%dT%H:%MZ).

Machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r),
$(. /etc/os-release && echo "$PRETTY_NAME"), cgroups $cg. Load average when the run ended: $load (the machine
is shared with other work, so medians move by ±20% or so between runs).
Peer: Docker $dver (Debian docker.io; containerd $cver, runc $rver, overlay2, cgroupfs driver),
isolated instance from \`scripts/dockerd.sh\` (no bridge; \`--network none\` everywhere). berth: $bver.
Image: the busybox rootfs of \`scripts/mkimage-busybox.sh\`, imported into both.

| what | command | berth | Docker | target | met |
| --- | --- | --- | --- | --- | --- |
| run latency, median of $runs (hyperfine -N, 3 warm-ups) | \`run --rm --network none IMG true\` | $berth_run | $docker_run ms | $target_run | $(met "${berth_run_ms:-0}" "$limit_run_ms") |
| memory per idle detached container: PSS of the engine's processes ÷ $n | $n × \`run -d --network none IMG sleep 100000\` | $berth_mem | $docker_mem MiB (dockerd+containerd+shims+containers ÷ $n); $docker_mem_marg MiB marginal (minus the idle daemons) | $target_mem | $(met "${berth_mem_mib:-0}" "$limit_mem_mib") |
| remove $n running containers, median of 5 | \`rm -f ID×$n\` (one command) | $berth_rm | $docker_rm ms | $target_rm | $(met "${berth_rm_ms:-0}" "$limit_rm_ms") |
| import a ${tar_mb} MB rootfs tar (Debian bookworm minbase), median of 3 | \`import debian.tar\` | $berth_import | $docker_import ms | $target_import | $(met "${berth_import_ms:-0}" "$(awk -v d="$docker_import" -v r="$import_ratio" 'BEGIN {print d * r}')") |

PSS counts shared pages once across the processes that share them, so summing PSS over an engine's
processes is that engine's real memory. berth's processes are those whose command line or environment names
the bench root and the containers whose mounts come from it; Docker's are its dockerd, containerd and shims
(named by the instance's directory) and the processes in its containers' cgroups.

## Where the memory goes

Per process, with $n idle containers running (MiB; PSS = anonymous + file-backed share):

| engine | process | count | PSS each | anonymous each | file each |
| --- | --- | ---: | ---: | ---: | ---: |
$(breakdown_rows berth <"$work/mem-berth")
$(breakdown_rows Docker <"$work/mem-docker")

A berth container costs one supervisor (\`berth-shim __supervise ID\`, the small embedded binary) plus the container's own processes; a Docker
container costs one \`containerd-shim-runc-v2\` plus the container's processes, and the idle dockerd and
containerd are shared by all of them (the "marginal" figure leaves them out).
EOF
profiles=()
for f in run memory rm import; do # the table's order
	[[ -e $work/profile-$f.md ]] && profiles+=("$work/profile-$f.md")
done
if ((${#profiles[@]})); then
	{
		echo
		echo "## Profiles of the figures that missed their target"
		echo
		echo "Written automatically for every berth figure that missed its target (for all of them with BENCH_PROFILE=all)."
		echo "Findings only: tuning is left to the owners of the packages concerned."
		echo
		cat "${profiles[@]}"
	} >>"$results"
fi
log "wrote $results"

# ---- 5. registry push and pull (bench/registry.sh appends its own section) --
if [[ $mode == both ]]; then
	BERTH_BIN=$berth "$here/registry.sh"
else
	"$here/registry.sh" --docker-only
fi

# ---- 6. the builder (bench/build.sh appends its own section) -----------------
if [[ $mode == docker ]]; then build_args=(--docker-only); else build_args=(); fi
BERTH_BIN=$berth "$here/build.sh" "${build_args[@]}" || die "bench/build.sh failed (see above)"
# ---- 7. networking (bench/network.sh appends its own section) ----------------
if [[ $mode == both ]]; then
	BERTH_BIN=$berth BENCH_RUNS=$runs "$here/network.sh" || die "bench/network.sh failed"
fi
cat "$results"
