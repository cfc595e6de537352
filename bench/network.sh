#!/usr/bin/env bash
# bench/network.sh     (make bench runs it after bench/run.sh)
#
# Side-by-side networking benchmarks of berth against Debian's Docker on this
# machine, appended to bench/RESULTS.md as a "Networking" section:
#   1. latency of `run --rm busybox true` on the default bridge network
#      (hyperfine median): the network setup+teardown cost on top of a run
#   2. published-port throughput: redis-benchmark GET through
#      127.0.0.1:PORT divided by the same benchmark straight to the
#      container's IP (kernel DNAT for berth; Docker's docker-proxy, its
#      default, for Docker)
#   3. `run -d -p PORT:80` of an HTTP server → first HTTP 200 on
#      127.0.0.1:PORT (median of 10; busybox httpd, which answers at once,
#      so the figure is the engine's)
# The Docker peer is a private dockerd (scripts/dockerd.sh start --net in a
# directory of its own, with its own bridge), started and stopped here. The
# redis image is made here by both engines' rules: berth runs Debian's
# minbase image on its bridge and apt-get installs redis-server through the
# NAT (what the tutorial's RUN needs), commits it, and the same filesystem
# is imported into Docker. BERTH_BIN overrides ./bin/berth; BENCH_RUNS
# (default 20) sets the latency sample size.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
results=$here/RESULTS.md
runs=${BENCH_RUNS:-20}
docker=${DOCKER_CLI:-/usr/bin/docker}
berth=${BERTH_BIN:-$repo/bin/berth}
img=netbench-busybox:latest
redis=netbench-redis:latest

limit_run_ms=40
limit_ratio=0.90
limit_http_s=0.35

die() { echo "bench/network: FAIL: $*" >&2; exit 1; }
log() { echo "bench/network: $*" >&2; }

"$repo/scripts/deps.sh" hyperfine jq curl redis-tools iproute2 docker.io
[[ -x $berth ]] || die "berth binary missing at $berth (run make first)"
berth=$(realpath "$berth")

work=$(mktemp -d /var/tmp/berth-netbench.XXXXXX)
broot=$work/root
B=("$berth" --root "$broot")
export BERTH_DOCKERD_DIR=$work/dockerd BERTH_DOCKERD_BRIDGE=bnbench0 BERTH_DOCKERD_CIDR=10.253.88.1/24
export BERTH_DOCKERD_USERLAND_PROXY=true
tag=$(printf %s "$broot" | sha256sum | cut -c1-8)

cleanup() {
	set +e
	ids=$("${B[@]}" ps -aq 2>/dev/null)
	[[ -n $ids ]] && "${B[@]}" rm -f $ids >/dev/null 2>&1
	"${B[@]}" network prune -f >/dev/null 2>&1
	"$repo/scripts/dockerd.sh" stop >/dev/null 2>&1
	# berth's kernel objects for this root: bridge, nft table, iptables chains.
	ip link del "berth$tag" 2>/dev/null
	nft delete table ip "berth-$tag" 2>/dev/null
	while iptables -w -D FORWARD -j "BERTH-$tag" 2>/dev/null; do :; done
	for c in "BERTH-$tag" "BERTH-$tag-IN" "BERTH-$tag-OUT"; do iptables -w -F "$c" 2>/dev/null; done
	for c in "BERTH-$tag" "BERTH-$tag-IN" "BERTH-$tag-OUT"; do iptables -w -X "$c" 2>/dev/null; done
	awk -v d="$work" 'index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m"; done
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# A free TCP port on the host.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("",0)); print(s.getsockname()[1])'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# ---- the peer --------------------------------------------------------------
"$repo/scripts/dockerd.sh" start --net >/dev/null || die "private dockerd could not start"
eval "$("$repo/scripts/dockerd.sh" env)"
export DOCKER_HOST

# ---- fixtures --------------------------------------------------------------
"$repo/scripts/mkimage-busybox.sh" "$work/busybox.tar"
"$repo/scripts/mkimage-debian.sh" "$work/debian.tar"
mkdir -p "$broot" "$work/www"
echo ok >"$work/www/index.html"
"${B[@]}" import "$work/busybox.tar" "$img" >/dev/null
"$docker" import "$work/busybox.tar" "$img" >/dev/null
"${B[@]}" import "$work/debian.tar" netbench-debian >/dev/null
log "making the redis image: apt-get install redis-server through berth's bridge NAT"
"${B[@]}" run --name redisbuild netbench-debian sh -c \
	'apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server >/dev/null' ||
	die "apt-get install redis-server in a berth container failed (no NAT?)"
"${B[@]}" commit redisbuild "$redis" >/dev/null
"${B[@]}" export -o "$work/redis.tar" redisbuild
"${B[@]}" rm redisbuild >/dev/null
"$docker" import "$work/redis.tar" "$redis" >/dev/null

# ---- 1. run latency on the default bridge ---------------------------------------
log "run latency on the bridge ($runs runs each)"
hyperfine -N --style basic --warmup 3 --runs "$runs" --export-json "$work/run.json" \
	-n docker "$docker run --rm $img true" \
	-n berth "$berth --root $broot run --rm $img true" >&2
docker_run=$(jq -r '.results[0].median * 1000 | . * 10 | round / 10' "$work/run.json")
berth_run=$(jq -r '.results[1].median * 1000 | . * 10 | round / 10' "$work/run.json")
hyperfine -N --style basic --warmup 3 --runs "$runs" --export-json "$work/none.json" \
	-n berth-none "$berth --root $broot run --rm --network none $img true" >&2
berth_none=$(jq -r '.results[0].median * 1000 | . * 10 | round / 10' "$work/none.json")

# ---- 2. published-port throughput -------------------------------------------------
# rps ADDR PORT: requests/s of redis-benchmark GET, one sample.
rps() {
	redis-benchmark -h "$1" -p "$2" -t get -n 100000 -c 20 --csv 2>/dev/null | awk -F'"' '$2 == "GET" {print $4}'
}
# pub_ratio IP PORT: medians of 7 alternating samples through 127.0.0.1:PORT
# and straight to IP:6379 (alternating, so load from the machine's other
# work hits both alike); prints "published direct".
pub_ratio() {
	local i
	: >"$work/pub" && : >"$work/direct"
	for i in 1 2 3 4 5 6 7; do
		rps 127.0.0.1 "$2" >>"$work/pub"
		rps "$1" 6379 >>"$work/direct"
	done
	echo "$(median <"$work/pub") $(median <"$work/direct")"
}
log "published-port throughput (redis-benchmark GET)"
bp=$(free_port)
bid=$("${B[@]}" run -d -p "$bp:6379" "$redis" redis-server --protected-mode no --save '' --appendonly no)
bip=$("${B[@]}" inspect -f '{{.NetworkSettings.IPAddress}}' "$bid")
until redis-cli -h "$bip" ping >/dev/null 2>&1; do sleep 0.05; done
read -r berth_pub berth_direct < <(pub_ratio "$bip" "$bp")
"${B[@]}" rm -f "$bid" >/dev/null
dp=$(free_port)
did=$("$docker" run -d -p "$dp:6379" "$redis" redis-server --protected-mode no --save '' --appendonly no)
dip=$("$docker" inspect -f '{{.NetworkSettings.IPAddress}}' "$did")
until redis-cli -h "$dip" ping >/dev/null 2>&1; do sleep 0.05; done
read -r docker_pub docker_direct < <(pub_ratio "$dip" "$dp")
"$docker" rm -f "$did" >/dev/null
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
berth_ratio=$(ratio "$berth_pub" "$berth_direct")
docker_ratio=$(ratio "$docker_pub" "$docker_direct")

# ---- 3. run -d -p → first HTTP 200 -------------------------------------------------
# first200 ENGINE...: seconds from `run -d -p` to the first 200 (median of 10).
first200() {
	local i p t0 t1 id
	for i in $(seq 10); do
		p=$(free_port)
		t0=$(date +%s%N)
		id=$("$@" run -d -p "$p:80" -v "$work/www:/www" "$img" httpd -f -p 80 -h /www)
		until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$p/") == 200 ]]; do :; done
		t1=$(date +%s%N)
		"$@" rm -f "$id" >/dev/null
		awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", (b - a) / 1e9}'
	done | median
}
log "run -d -p → first HTTP 200"
berth_http=$(first200 "${B[@]}")
docker_http=$(first200 "$docker")

# ---- RESULTS.md --------------------------------------------------------------
met() { awk -v b="$1" -v l="$2" -v dir="$3" 'BEGIN {ok = (dir == "le") ? (b <= l) : (b >= l); print (ok ? "yes" : "**no**")}'; }
dver=$("$docker" version --format '{{.Server.Version}}' 2>/dev/null || echo unknown)
bver=$(cd "$repo" && git describe --always --dirty 2>/dev/null || echo unknown)
{
	echo
	echo "## Networking (bench/network.sh)"
	echo
	echo "Written by \`bench/network.sh\` on $(date -u +%Y-%m-%dT%H:%MZ); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "Peer: a private Docker $dver (\`scripts/dockerd.sh start --net\`: its own bridge, iptables, ip-masq,"
	echo "userland-proxy on as Docker's default). berth: $bver, default \`bridge\` network (berth$tag for this root)."
	echo "Images: busybox (\`scripts/mkimage-busybox.sh\`); redis: Debian minbase + \`apt-get install redis-server\`"
	echo "run in a berth container through its bridge NAT, committed, and the same filesystem imported into Docker."
	echo
	echo "| what | command | berth | Docker | target | met |"
	echo "| --- | --- | --- | --- | --- | --- |"
	echo "| run latency on the default bridge, median of $runs (hyperfine -N, 3 warm-ups) | \`run --rm IMG true\` | $berth_run ms ($berth_none ms with \`--network none\`) | $docker_run ms | ≤ $limit_run_ms ms | $(met "$berth_run" "$limit_run_ms" le) |"
	echo "| published-port throughput: GET requests/s through 127.0.0.1:PORT ÷ straight to the container IP (redis-benchmark -t get -n 100000 -c 20, medians of 7 alternating samples) | \`run -d -p PORT:6379 redis\` | $berth_ratio ($berth_pub ÷ $berth_direct) | $docker_ratio ($docker_pub ÷ $docker_direct, docker-proxy) | ≥ $limit_ratio | $(met "$berth_ratio" "$limit_ratio" ge) |"
	echo "| \`run -d -p\` → first HTTP 200 on 127.0.0.1:PORT, median of 10 (curl polling) | \`run -d -p PORT:80 busybox httpd\` | $berth_http s | $docker_http s | ≤ $limit_http_s s | $(met "$berth_http" "$limit_http_s" le) |"
} >>"$results"
log "appended to $results"
tail -n 12 "$results"
