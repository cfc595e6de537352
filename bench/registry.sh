#!/usr/bin/env bash
# bench/registry.sh [--docker-only]     (called by bench/run.sh; runs alone too)
#
# Registry transfer figures of berth against Debian's Docker, appended to
# bench/RESULTS.md as a section of their own:
#   1. push of a ~217 MB one-layer image to a loopback docker-registry (Debian's
#      docker-registry package, started here on 127.0.0.1 with a random port),
#      each run into a freshly emptied registry. berth's figure is the cold push
#      (its gzip cache emptied before each run, so it compresses like Docker);
#      the warm figure (cache kept: what a second push of the same layer costs)
#      is reported beside it.
#   2. pull of that image (as berth pushed it) into an empty store: a fresh
#      --root per berth run, `docker rmi` before each Docker run.
# The image is the ~214 MiB Python-on-bookworm rootfs tar cached by the tests
# (/var/cache/berth-test/python-bookworm-*.tar) when present, else the Debian
# minbase tar of scripts/mkimage-debian.sh; BENCH_IMAGE_TAR overrides. Docker
# peer: a private scripts/dockerd.sh instance whose data root is in the bench's
# directory (BENCH_TMP, default /var/tmp), beside berth's roots.
# BERTH_BIN overrides ./bin/berth; BENCH_REG_RUNS (default 3) the sample size.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
results=$here/RESULTS.md
runs=${BENCH_REG_RUNS:-3}
docker=${DOCKER_CLI:-/usr/bin/docker}
berth=${BERTH_BIN:-$repo/bin/berth}
ratio=0.5 # target: berth ≤ ratio × Docker's time, push and pull

mode=both
case ${1:-} in
--docker-only) mode=docker ;;
"") ;;
*) echo "usage: $0 [--docker-only]" >&2; exit 2 ;;
esac

die() { echo "bench-registry: FAIL: $*" >&2; exit 1; }
log() { echo "bench-registry: $*" >&2; }

"$repo/scripts/deps.sh" hyperfine jq docker.io docker-registry
if [[ $mode == both ]]; then
	[[ -x $berth ]] || die "berth binary missing at $berth (run make first)"
	berth=$(realpath "$berth")
fi

# Everything both engines write lives under one directory, so their files
# land in the same region of the filesystem (see the pull section for why it
# matters). BENCH_TMP picks its parent.
work=$(mktemp -d "${BENCH_TMP:-/var/tmp}/berth-bench-reg.XXXXXX")
started_docker=0
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
addr=127.0.0.1:$port
img_berth=$addr/bench/big:berth
img_docker=$addr/bench/big:docker

reg_stop() {
	local pid
	pid=$(cat "$work/registry.pid" 2>/dev/null || true)
	if [[ -n $pid ]]; then
		kill "$pid" 2>/dev/null || true
		while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
		rm -f "$work/registry.pid"
	fi
}
cleanup() {
	set +e
	reg_stop
	if [[ -n ${DOCKER_HOST:-} ]]; then
		"$docker" rmi -f "$img_docker" "$img_berth" bench-reg-big >/dev/null 2>&1
	fi
	((started_docker)) && BERTH_DOCKERD_DIR=$work/dockerd "$repo/scripts/dockerd.sh" stop
	awk -v d="$work" 'index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m"; done
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# ---- the registry ------------------------------------------------------------
cat >"$work/registry.yml" <<EOC
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry-data
  delete:
    enabled: true
http:
  addr: $addr
EOC
# reg-fresh.sh: (re)start the registry on an empty storage directory. A
# script of its own, because hyperfine's --prepare runs it before each push.
cat >"$work/reg-fresh.sh" <<EOS
#!/usr/bin/env bash
set -e
pid=\$(cat "$work/registry.pid" 2>/dev/null || true)
if [[ -n \$pid ]]; then
	kill "\$pid" 2>/dev/null || true
	while kill -0 "\$pid" 2>/dev/null; do sleep 0.05; done
fi
rm -rf "$work/registry-data"
setsid docker-registry serve "$work/registry.yml" >>"$work/registry.log" 2>&1 </dev/null &
echo \$! >"$work/registry.pid"
for _ in \$(seq 200); do
	curl -fsS "http://$addr/v2/" >/dev/null 2>&1 && exit 0
	sleep 0.05
done
echo "docker-registry did not start (see $work/registry.log)" >&2
exit 1
EOS
chmod +x "$work/reg-fresh.sh"
fresh_cmd=$work/reg-fresh.sh
"$fresh_cmd" || die "docker-registry did not start"

# ---- the peer ----------------------------------------------------------------
# A dockerd instance of this bench's own, its data root beside berth's roots.
export BERTH_DOCKERD_DIR=$work/dockerd
"$repo/scripts/dockerd.sh" start >/dev/null ||
	die "side-by-side peer dockerd could not start (see the reason above); no figures written"
started_docker=1
eval "$("$repo/scripts/dockerd.sh" env)"
export DOCKER_HOST

# ---- the image ----------------------------------------------------------------
tar=${BENCH_IMAGE_TAR:-}
if [[ -z $tar ]]; then
	tar=$(ls -t /var/cache/berth-test/python-bookworm-*.tar 2>/dev/null | head -n 1 || true)
fi
if [[ -z $tar ]]; then
	"$repo/scripts/mkimage-debian.sh" "$work/debian.tar"
	tar=$work/debian.tar
fi
tar_mb=$(($(stat -c %s "$tar") / 1000000))
log "image: $tar ($tar_mb MB)"
"$docker" import "$tar" bench-reg-big >/dev/null
"$docker" tag bench-reg-big "$img_docker"
broot=$work/berth-root
if [[ $mode == both ]]; then
	"$berth" --root "$broot" import "$tar" "$img_berth" >/dev/null
fi

mean_ms() { jq -r ".results[$2].mean * 1000 | round" "$1"; }
median_ms() { jq -r ".results[$2].median * 1000 | round" "$1"; }

# ---- 1. push -----------------------------------------------------------------
log "push ($runs runs each, empty registry each time)"
cmds=(--prepare "$fresh_cmd" -n docker "$docker push $img_docker")
if [[ $mode == both ]]; then
	# Cold: the gzip cache (the index and its blobs) forgotten before each run.
	cmds+=(--prepare "$fresh_cmd && rm -f $broot/registry/state.json" -n berth-cold "$berth --root $broot push $img_berth")
	cmds+=(--prepare "$fresh_cmd" -n berth-warm "$berth --root $broot push $img_berth")
fi
hyperfine --style basic --runs "$runs" --export-json "$work/push.json" "${cmds[@]}" >&2
docker_push=$(median_ms "$work/push.json" 0)
berth_push="not run"
berth_push_warm="not run"
if [[ $mode == both ]]; then
	berth_push_ms=$(median_ms "$work/push.json" 1)
	berth_push="$berth_push_ms ms"
	berth_push_warm="$(median_ms "$work/push.json" 2) ms"
	layer_mb=$(($(jq -r '[.layers[].size] | add' <(curl -fsS -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "http://$addr/v2/bench/big/manifests/berth")) / 1000000))
fi

# ---- 2. pull -----------------------------------------------------------------
# Both pull the image berth pushed (the registry holds it from the last run).
# The runs alternate between the engines (and which goes first), rather than
# hyperfine's all-of-one-then-all-of-the-other: on this shared machine ext4's
# inode allocator gets slower for a while after any big delete (Docker's rmi
# between runs; other users' deletes), and alternating exposes both engines
# to the same conditions.
log "pull ($runs runs each, alternating, empty store each time)"
if [[ $mode != both ]]; then
	# No berth push happened: the registry gets Docker's.
	"$docker" tag bench-reg-big "$img_berth"
	"$docker" push "$img_berth" >/dev/null
fi
# Docker must not hold the layer already (its import and push tags share it).
"$docker" rmi -f bench-reg-big "$img_docker" "$img_berth" >/dev/null 2>&1 || true
mkdir -p "$work/pull-roots"
: >"$work/pull-docker.ms"
: >"$work/pull-berth.ms"
ms_now() { echo $(($(date +%s%N) / 1000000)); }
pull_docker() {
	local t0
	t0=$(ms_now)
	"$docker" pull -q "$img_berth" >/dev/null || die "docker pull failed"
	echo $(($(ms_now) - t0)) >>"$work/pull-docker.ms"
}
pull_berth() {
	# A fresh root per run and nothing deleted in between.
	local t0 r=$work/pull-roots/$(date +%s%N)
	sync
	t0=$(ms_now)
	"$berth" --root "$r" pull -q "$img_berth" >/dev/null || die "berth pull failed"
	echo $(($(ms_now) - t0)) >>"$work/pull-berth.ms"
}
for ((i = 0; i < runs; i++)); do
	# Docker's image goes first, then a pause: ext4 without a journal (this
	# machine's root) scans past inodes freed in the last 30 s when it
	# allocates new ones, so a pull right after `docker rmi` would pay for
	# the rmi. Both engines are measured after the pause.
	"$docker" rmi -f "$img_berth" >/dev/null 2>&1 || true
	sync
	sleep "${BENCH_SETTLE:-35}"
	if [[ $mode != both ]]; then
		pull_docker
	elif ((i % 2 == 0)); then
		pull_docker
		pull_berth
	else
		pull_berth
		pull_docker
	fi
done
median() { sort -n "$1" | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }
docker_pull=$(median "$work/pull-docker.ms")
log "docker pull runs (ms): $(tr '\n' ' ' <"$work/pull-docker.ms")"
berth_pull="not run"
if [[ $mode == both ]]; then
	berth_pull_ms=$(median "$work/pull-berth.ms")
	berth_pull="$berth_pull_ms ms"
	log "berth pull runs (ms): $(tr '\n' ' ' <"$work/pull-berth.ms")"
fi

# ---- RESULTS.md ----------------------------------------------------------------
met() {
	[[ $mode != both ]] && { echo "–"; return; }
	awk -v b="$1" -v d="$2" -v r="$ratio" 'BEGIN {print (b <= d * r) ? "yes" : "**no**"}'
}
dver=$("$docker" version --format '{{.Server.Version}}')
rver=$(docker-registry --version 2>/dev/null | awk '{print $NF}')
bver="not run"
[[ $mode == both ]] && bver=$("$berth" version --format '{{.Client.Version}}' 2>/dev/null || echo "?")
cat >>"$results" <<EOF

## Registry transfers (bench/registry.sh)

Written by \`bench/registry.sh\`$([[ $mode == docker ]] && echo ' --docker-only') on $(date -u +%Y-%m-%dT%H:%MZ): $(nproc) CPUs, kernel $(uname -r),
load average $(cut -d' ' -f1-3 /proc/loadavg) at the end. Registry: Debian docker-registry $rver on $addr (plain HTTP,
loopback, filesystem storage). Peer: Docker $dver from \`scripts/dockerd.sh\`, same run. berth: $bver.
Both engines' state in \`$(dirname "$work")/berth-bench-reg.*\` (BENCH_TMP).
Image: \`$(basename "$tar")\` ($tar_mb MB tar, one layer; ${layer_mb:-?} MB gzipped).

| what | command | berth | Docker | target | met |
| --- | --- | --- | --- | --- | --- |
| push to an empty registry, median of $runs | \`push $addr/bench/big:TAG\` | $berth_push (cold: compresses); $berth_push_warm (warm: gzip cache) | $docker_push ms | ≤ $ratio × Docker's | $(met "${berth_push_ms:-0}" "$docker_push") |
| pull into an empty store, median of $runs (alternating runs) | \`pull $addr/bench/big:berth\` | $berth_pull | $docker_pull ms | ≤ $ratio × Docker's | $(met "${berth_pull_ms:-0}" "$docker_pull") |
EOF
log "appended to $results"
tail -n 12 "$results"
