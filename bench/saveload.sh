#!/usr/bin/env bash
# bench/saveload.sh     (runs alone; not part of bench/run.sh's targets)
#
# `save` and `load` of the ~170 MB Debian minbase image, berth beside
# Debian's Docker 20.10 in the same run, appended to bench/RESULTS.md:
#   1. save -o FILE of the imported image (hyperfine median)
#   2. load -i FILE of each engine's own archive into an empty store: a fresh
#      --root per berth run, `docker rmi` before each Docker run.
# No target: the issue sets none for these; the figures are for reference.
# The Docker peer is scripts/dockerd.sh's, started and stopped here unless
# already running. BERTH_BIN overrides ./bin/berth; BENCH_SL_RUNS (default
# 5) the sample size.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
results=$here/RESULTS.md
runs=${BENCH_SL_RUNS:-5}
docker=${DOCKER_CLI:-/usr/bin/docker}
berth=${BERTH_BIN:-$repo/bin/berth}

die() { echo "bench-saveload: FAIL: $*" >&2; exit 1; }
log() { echo "bench-saveload: $*" >&2; }

"$repo/scripts/deps.sh" hyperfine jq docker.io
[[ -x $berth ]] || die "berth binary missing at $berth (run make first)"
berth=$(realpath "$berth")

work=$(mktemp -d /var/tmp/berth-bench-sl.XXXXXX)
started_docker=0
cleanup() {
	"$docker" rmi -f bench-sl:1 >/dev/null 2>&1 || true
	((started_docker)) && "$repo/scripts/dockerd.sh" stop >/dev/null 2>&1
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT
if ! "$repo/scripts/dockerd.sh" status >/dev/null 2>&1; then
	"$repo/scripts/dockerd.sh" start >/dev/null || die "the Docker peer did not start (scripts/dockerd.sh start)"
	started_docker=1
fi
eval "$("$repo/scripts/dockerd.sh" env)"
export DOCKER_HOST

tar=$work/debian.tar
"$repo/scripts/mkimage-debian.sh" "$tar" >&2
tar_mb=$(($(stat -c %s "$tar") / 1000000))
"$docker" import "$tar" bench-sl:1 >/dev/null
broot=$work/berth-root
"$berth" --root "$broot" import "$tar" bench-sl:1 >/dev/null

median_ms() { jq -r ".results[$2].median * 1000 | round" "$1"; }

log "save ($runs runs each)"
hyperfine --style basic --runs "$runs" --export-json "$work/save.json" \
	-n docker "$docker save -o $work/docker.tar bench-sl:1" \
	-n berth "$berth --root $broot save -o $work/berth.tar bench-sl:1" >&2

log "load ($runs runs each, empty store each time)"
# A fresh root per berth run and nothing deleted in between: right after a
# big delete, ext4 spends seconds skipping the freed inodes, which would
# measure the previous run's cleanup (as bench/registry.sh notes).
mkdir -p "$work/roots"
hyperfine --style basic --runs "$runs" --export-json "$work/load.json" \
	--prepare "$docker rmi -f bench-sl:1 >/dev/null 2>&1 || true" -n docker "$docker load -q -i $work/docker.tar" \
	-n berth "$berth --root $work/roots/\$(date +%s%N) load -q -i $work/berth.tar" >&2

cat >>"$results" <<EOF

## save / load ($(date -u +%Y-%m-%dT%H:%MZ), bench/saveload.sh)

Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(uname -r); Docker $("$docker" version -f '{{.Server.Version}}'). Image: Debian minbase rootfs, $tar_mb MB, one layer.
Medians of $runs hyperfine runs; load into an empty store each time (its own engine's archive); load average
$(cut -d' ' -f1-3 /proc/loadavg) at the end.

| operation | berth | Docker |
| --- | --- | --- |
| \`save -o FILE\` | $(median_ms "$work/save.json" 1) ms | $(median_ms "$work/save.json" 0) ms |
| \`load -i FILE\` | $(median_ms "$work/load.json" 1) ms | $(median_ms "$work/load.json" 0) ms |

berth's save streams the stored (uncompressed) layer blob into the archive and checks its digest on the way;
its load unpacks each layer while the archive is read (the metadata comes first in berth's archives), into the
blob and the snapshot at once.
EOF
log "results appended to $results"
