#!/usr/bin/env bash
# bench/build.sh [--docker-only]     (called by bench/run.sh; runs alone too)
#
# `berth build` against Docker's legacy builder (DOCKER_BUILDKIT=0, Debian
# docker.io) on this machine, in the same run, appended to bench/RESULTS.md as
# its "Builder" section (replacing an earlier one):
#   1. the tutorial image (examples/friendlyhello, base python:2.7-slim = the
#      stand-in of scripts/mkimage-python.sh present in both): cold build
#      (--no-cache) and fully cached rebuild, hyperfine medians;
#   2. a generated context of 5,000 files / 200 MB (`COPY . /ctx`): fully
#      cached rebuild, hyperfine median.
# Targets (issue 3): tutorial cold and cached ≤ 0.5 × Docker's; big context
# cached ≤ 0.3 × Docker's. Every build uses --network none (no bridge on the
# peer). The peer is scripts/dockerd.sh's dockerd: reused if running, else
# started here and stopped again. BERTH_BIN overrides ./bin/berth.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
results=$here/RESULTS.md
docker=${DOCKER_CLI:-/usr/bin/docker}
berth=${BERTH_BIN:-$repo/bin/berth}
runs_cold=${BENCH_BUILD_COLD_RUNS:-5}
runs_cached=${BENCH_BUILD_CACHED_RUNS:-10}
runs_big=${BENCH_BUILD_BIG_RUNS:-5}
pyimg=python:2.7-slim
bbimg=bench-build-busybox:latest
tutorial_ratio=0.5
big_ratio=0.3
export DOCKER_BUILDKIT=0

mode=both
case ${1:-} in
--docker-only) mode=docker ;;
"") ;;
*) echo "usage: $0 [--docker-only]" >&2; exit 2 ;;
esac

die() { echo "bench/build: FAIL: $*" >&2; exit 1; }
log() { echo "bench/build: $*" >&2; }

"$repo/scripts/deps.sh" hyperfine jq docker.io
if [[ $mode == both ]]; then
	[[ -x $berth ]] || die "berth binary missing at $berth (run make first)"
	berth=$(realpath "$berth")
	"$berth" build --help 2>/dev/null | grep -q 'berth build' ||
		die "this berth has no \`build\` command yet; no figures written"
fi

work=$(mktemp -d /var/tmp/berth-bench-build.XXXXXX)
broot=$work/root
started_docker=0
cleanup() {
	set +e
	if [[ -n ${DOCKER_HOST:-} ]]; then
		"$docker" rmi -f bench-build-fh bench-build-big "$bbimg" >/dev/null 2>&1
		"$docker" image prune -f --filter label=berth-bench-build=1 >/dev/null 2>&1
		# Only the python base this script imported (it may have been there before).
		((imported_py)) && "$docker" rmi -f "$pyimg" >/dev/null 2>&1
	fi
	((started_docker)) && "$repo/scripts/dockerd.sh" stop
	awk -v d="$work" 'index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m"; done
	rm -rf --one-file-system "$work"
}
imported_py=0
trap cleanup EXIT

if ! "$repo/scripts/dockerd.sh" status >/dev/null 2>&1; then
	"$repo/scripts/dockerd.sh" start >/dev/null ||
		die "side-by-side peer dockerd could not start (see the reason above); no figures written"
	started_docker=1
fi
eval "$("$repo/scripts/dockerd.sh" env)"
export DOCKER_HOST

# ---- fixtures ---------------------------------------------------------------
"$repo/scripts/mkimage-python.sh" "$work/python.tar"
"$repo/scripts/mkimage-busybox.sh" "$work/busybox.tar"
changes=(-c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -c 'ENV LANG=C.UTF-8' -c 'CMD ["python3"]')
if ! "$docker" image inspect "$pyimg" >/dev/null 2>&1; then
	"$docker" import "${changes[@]}" "$work/python.tar" "$pyimg" >/dev/null
	imported_py=1
fi
"$docker" import "$work/busybox.tar" "$bbimg" >/dev/null
if [[ $mode == both ]]; then
	mkdir -p "$broot"
	"$berth" --root "$broot" import "${changes[@]}" "$work/python.tar" "$pyimg" >/dev/null
	"$berth" --root "$broot" import "$work/busybox.tar" "$bbimg" >/dev/null
fi
cp -a "$repo/examples/friendlyhello" "$work/fh"

# The big context: 50 directories of 100 incompressible 40 kB files.
log "generating a 5,000-file / 200 MB context"
mkdir -p "$work/big"
for ((i = 0; i < 50; i++)); do
	mkdir -p "$work/big/d$i"
	head -c 4000000 /dev/urandom | split -b 40000 -d -a 3 - "$work/big/d$i/f"
done
printf 'FROM %s\nCOPY . /ctx\nCMD ["ls", "/ctx"]\n' "$bbimg" >"$work/big/Dockerfile"
big_files=$(find "$work/big" -type f -name 'f*' | wc -l)
big_mb=$(du -s --apparent-size -B 1000000 "$work/big" | cut -f1)

median_ms() { jq -r ".results[$2].median * 1000 | . * 10 | round / 10" "$1"; }
# The label lets cleanup remove exactly the images these builds made (and,
# with them, their untagged parents) from a peer others may share.
dcmd() { echo "$docker build -q --network none --label berth-bench-build=1 $*"; }
bcmd() { echo "$berth --root $broot build -q --network none --label berth-bench-build=1 $*"; }

# ---- 1. tutorial: cold and cached -------------------------------------------
log "tutorial cold build ($runs_cold runs each)"
cmds=(-n docker "$(dcmd --no-cache -t bench-build-fh "$work/fh")")
[[ $mode == both ]] && cmds+=(-n berth "$(bcmd --no-cache -t bench-build-fh "$work/fh")")
hyperfine -N --style basic --warmup 1 --runs "$runs_cold" --export-json "$work/cold.json" "${cmds[@]}" >&2

log "tutorial cached rebuild ($runs_cached runs each)"
cmds=(-n docker "$(dcmd -t bench-build-fh "$work/fh")")
[[ $mode == both ]] && cmds+=(-n berth "$(bcmd -t bench-build-fh "$work/fh")")
hyperfine -N --style basic --warmup 2 --runs "$runs_cached" --export-json "$work/cached.json" "${cmds[@]}" >&2

# What the cold build cannot go below: its one RUN step's command (pip
# resolving requirements.txt) alone in a container of each engine.
log "the tutorial's RUN command alone ($runs_cold runs each)"
pip_cmd="pip install -q --trusted-host pypi.python.org -r requirements.txt"
cmds=(-n docker "$docker run --rm --network none -v $work/fh:/app -w /app $pyimg $pip_cmd")
[[ $mode == both ]] && cmds+=(-n berth "$berth --root $broot run --rm --network none -v $work/fh:/app -w /app $pyimg $pip_cmd")
hyperfine -N --style basic --warmup 1 --runs "$runs_cold" --export-json "$work/pip.json" "${cmds[@]}" >&2

# ---- 2. big context: cached -------------------------------------------------
log "big context cached rebuild ($runs_big runs each)"
cmds=(-n docker "$(dcmd -t bench-build-big "$work/big")")
[[ $mode == both ]] && cmds+=(-n berth "$(bcmd -t bench-build-big "$work/big")")
hyperfine -N --style basic --warmup 1 --runs "$runs_big" --export-json "$work/big.json" "${cmds[@]}" >&2

# ---- RESULTS.md ----------------------------------------------------------------
missed() { awk -v b="$1" -v d="$2" 'BEGIN {exit !(b > d)}'; }
row() { # WHAT COMMAND JSON RATIO TARGET-TEXT
	local what=$1 command=$2 json=$3 ratio=$4 target=$5 d b="not run" met="–" lim
	d=$(median_ms "$json" 0)
	if [[ $mode == both ]]; then
		b=$(median_ms "$json" 1)
		lim=$(awk -v d="$d" -v r="$ratio" 'BEGIN {print d * r}')
		if missed "$b" "$lim"; then met="**no**"; else met="yes"; fi
		b="$b ms ($(awk -v b="$b" -v d="$d" 'BEGIN {printf "%.2f", b / d}') × Docker's)"
	fi
	echo "| $what | \`$command\` | $b | $d ms | $target | $met |"
}
dver=$("$docker" version --format '{{.Server.Version}}')
bver="not run"
[[ $mode == both ]] && bver=$("$berth" version --format '{{.Client.Version}}' 2>/dev/null || echo unknown)
section=$work/section.md
cat >"$section" <<EOT
## Builder (bench/build.sh)

Written by \`bench/build.sh\`$([[ $mode == docker ]] && echo ' --docker-only') on $(date -u +%Y-%m-%dT%H:%MZ). Machine: $(nproc) CPUs,
kernel $(uname -r), load average at the end $(cut -d' ' -f1-3 /proc/loadavg). Peer: Docker $dver legacy builder
(\`DOCKER_BUILDKIT=0\`), the isolated dockerd of \`scripts/dockerd.sh\`; berth: $bver. Both build with \`-q --network none --label berth-bench-build=1\`;
the tutorial's base \`python:2.7-slim\` is the stand-in of \`scripts/mkimage-python.sh\`, imported into both beforehand.
Medians of hyperfine -N (cold: $runs_cold runs after 1 warm-up; cached: $runs_cached runs after 2 warm-ups, so every step is cached;
big context: $runs_big runs after 1 warm-up).

| what | command | berth | Docker | target | met |
| --- | --- | --- | --- | --- | --- |
$(row "tutorial image, cold" "build --no-cache -t friendlyhello examples/friendlyhello" "$work/cold.json" "$tutorial_ratio" "≤ $tutorial_ratio × Docker's")
$(row "tutorial image, fully cached rebuild" "build -t friendlyhello examples/friendlyhello" "$work/cached.json" "$tutorial_ratio" "≤ $tutorial_ratio × Docker's")
$(row "context of $big_files files / $big_mb MB + Dockerfile (\`COPY . /ctx\`), fully cached rebuild" "build -t big CONTEXT" "$work/big.json" "$big_ratio" "≤ $big_ratio × Docker's")

The tutorial's cold build is bounded below by its one RUN step, \`pip install -r requirements.txt\`: that command
alone in a container (\`run --rm --network none -v CONTEXT:/app -w /app python:2.7-slim pip install ...\`, median
of $runs_cold) takes $([[ $mode == both ]] && echo "$(median_ms "$work/pip.json" 1) ms with berth and ")$(median_ms "$work/pip.json" 0) ms with Docker, so
\`≤ 0.5 × Docker's\` cold build leaves berth's builder at most $(awk -v d="$(median_ms "$work/cold.json" 0)" -v p="$([[ $mode == both ]] && median_ms "$work/pip.json" 1 || echo 0)" 'BEGIN {printf "%.0f", d * 0.5 - p}') ms for everything else (six other steps,
the commit of the RUN layer, tagging).
EOT
# Replace an earlier Builder section (up to the next "## " heading), then append.
if [[ -f $results ]]; then
	awk '/^## Builder \(bench\/build.sh\)/ {skip = 1; next} skip && /^## / {skip = 0} !skip' "$results" >"$work/results"
	# Trailing blank lines of the cut go; one blank line separates the section.
	sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' "$work/results" >"$results"
	echo >>"$results"
fi
cat "$section" >>"$results"
log "appended the Builder section to $results"
cat "$section"
