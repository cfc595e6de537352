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
# The Docker peer is the isolated dockerd of scripts/dockerd.sh: started here
# if not already running and stopped again if this script started it. A
# side-by-side whose peer cannot start fails (exit 1). --docker-only skips the
# berth half (berth column "not run"). BERTH_BIN overrides ./bin/berth;
# BENCH_RUNS (default 20) sets the latency sample size.
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

# Targets, one place to change them.
target_run="≤ Docker's median"
target_mem="≤ Docker's marginal per-container figure"
target_rm="≤ Docker's median"
target_import="≤ Docker's median"

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

# ---- 1. run latency ----------------------------------------------------------
log "run latency ($runs runs each)"
cmds=(-n docker "$docker run --rm --network none $img true")
[[ $mode == both ]] && cmds+=(-n berth "$berth --root $broot run --rm --network none $img true")
hyperfine -N --style basic --warmup 3 --runs "$runs" --export-json "$work/run.json" "${cmds[@]}" >&2
docker_run=$(median_ms "$work/run.json" 0)
berth_run="not run"
[[ $mode == both ]] && berth_run="$(median_ms "$work/run.json" 1) ms"

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
	[[ $(readlink "$p/ns/mnt") != "$mntns_self" ]] && grep -qF -- "$broot/" "$p/mountinfo"
}
# is_docker PID: the peer's dockerd, containerd and shims (named by its
# directory) and its containers (cgroup parent /dockerside).
is_docker() {
	local p=/proc/$1
	tr '\0' ' ' <"$p/cmdline" | grep -qF -- "$docker_dir/" && return 0
	grep -q ':/dockerside/' "$p/cgroup"
}

log "memory: $n idle containers each"
docker_base=$(pss_kb is_docker)
for ((i = 0; i < n; i++)); do
	"$docker" run -d --label berth-bench --network none "$img" sleep 100000 >/dev/null
done
sleep 2
docker_total=$(pss_kb is_docker)
"$docker" rm -f $("$docker" ps -aq --filter label=berth-bench) >/dev/null
docker_mem=$(awk -v t="$docker_total" -v n="$n" 'BEGIN {printf "%.2f", t / n / 1024}')
docker_mem_marg=$(awk -v t="$docker_total" -v b="$docker_base" -v n="$n" 'BEGIN {printf "%.2f", (t - b) / n / 1024}')
berth_mem="not run"
if [[ $mode == both ]]; then
	for ((i = 0; i < n; i++)); do
		BERTH_ROOT=$broot "$berth" --root "$broot" run -d --network none "$img" sleep 100000 >/dev/null
	done
	sleep 2
	berth_total=$(pss_kb is_berth)
	BERTH_ROOT=$broot "$berth" --root "$broot" rm -f $("$berth" --root "$broot" ps -aq) >/dev/null
	berth_mem="$(awk -v t="$berth_total" -v n="$n" 'BEGIN {printf "%.2f", t / n / 1024}') MiB"
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
[[ $mode == both ]] && berth_rm="$(median_ms "$work/rm.json" 1) ms"

# ---- 4. import of a ~170 MB rootfs tar ---------------------------------------
log "import of the ${tar_mb} MB Debian tar (3 runs each)"
cmds=(--prepare "$docker rmi -f $debimg >/dev/null 2>&1 || true" -n docker "$docker import $work/debian.tar $debimg")
[[ $mode == both ]] && cmds+=(--prepare "rm -rf $work/imp && mkdir $work/imp" -n berth "$berth --root $work/imp import $work/debian.tar $debimg")
hyperfine --style basic --warmup 1 --runs 3 --export-json "$work/import.json" "${cmds[@]}" >&2
docker_import=$(median_ms "$work/import.json" 0)
berth_import="not run"
[[ $mode == both ]] && berth_import="$(median_ms "$work/import.json" 1) ms"

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
[[ $mode == both ]] && bver=$("$berth" version 2>/dev/null | head -1)
cat >"$results" <<EOF
# berth benchmarks

Written by \`bench/run.sh\`$([[ $mode == docker ]] && echo ' --docker-only') (\`make bench\`) on $(date -u +%Y-%m-%dT%H:%MZ).

Machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r),
$(. /etc/os-release && echo "$PRETTY_NAME"), cgroups $cg.
Peer: Docker $dver (Debian docker.io; containerd $cver, runc $rver, overlay2, cgroupfs driver),
isolated instance from \`scripts/dockerd.sh\` (no bridge; \`--network none\` everywhere). berth: $bver.
Image: the busybox rootfs of \`scripts/mkimage-busybox.sh\`, imported into both.

| what | command | berth | Docker | target |
| --- | --- | --- | --- | --- |
| run latency, median of $runs (hyperfine -N, 3 warm-ups) | \`run --rm --network none IMG true\` | $berth_run | $docker_run ms | $target_run |
| memory per idle detached container: PSS of the engine's processes ÷ $n | $n × \`run -d --network none IMG sleep 100000\` | $berth_mem | $docker_mem MiB (dockerd+containerd+shims+containers ÷ $n); $docker_mem_marg MiB marginal (minus the idle daemons) | $target_mem |
| remove $n running containers, median of 5 | \`rm -f ID×$n\` (one command) | $berth_rm | $docker_rm ms | $target_rm |
| import a ${tar_mb} MB rootfs tar (Debian bookworm minbase), median of 3 | \`import debian.tar\` | $berth_import | $docker_import ms | $target_import |

PSS counts shared pages once across the processes that share them, so summing PSS over an engine's
processes is that engine's real memory. berth's processes are those whose command line or environment names
the bench root and the containers whose mounts come from it; Docker's are its dockerd, containerd and shims
(named by the instance's directory) and the processes in its containers' cgroups.
EOF
log "wrote $results"
cat "$results"
