#!/usr/bin/env bash
# demo.sh     (make demo)
#
# Docker's "Get Started, Part 2: Containers" tutorial, end to end, with berth in
# place of docker. Each step says what it shows, prints the command and its
# output, and checks the answer (a wrong answer fails the demo):
#
#   1. base images: the python:2.7-slim stand-in (scripts/mkimage-python.sh: Debian
#      bookworm + python3, Flask and redis from Debian, so the tutorial's
#      `pip install` is satisfied offline) and a Debian minbase for Redis, both
#      made with mmdebstrap from this machine's apt sources and cached in
#      $BERTH_TEST_CACHE (default /var/cache/berth-test)
#   2. a registry mirror on loopback (Debian's docker-registry) that serves
#      python:2.7-slim, named in a berth.json (BERTH_CONFIG) as `registry-mirrors`,
#      so the tutorial's Dockerfile builds verbatim
#   3. build -t friendlyhello . ; images
#   4. run -d -p 4000:80 friendlyhello ; curl http://localhost:4000 → Hello World!,
#      the container ID as hostname, Redis unreachable ; ps ; stop ; rm
#   5. a Redis image built with `RUN apt-get install redis-server` through the
#      bridge's NAT, a user network, `redis` and the app on it: visits 1, 2, 3
#   6. share: a registry with a password, login, tag, push, rmi, run from the
#      registry (which pulls), logout
#
# Everything lives in a throwaway root under a temp dir and is removed at the
# end, even on failure or ^C; the demo fails if berth left a mount, a veth or a
# firewall rule behind. BERTH_BIN overrides ./bin/berth, DEMO_PORT the host port
# (default 4000).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
berth=$(realpath -m "${BERTH_BIN:-$repo/bin/berth}")
cache_dir=${BERTH_TEST_CACHE:-/var/cache/berth-test}
port=${DEMO_PORT:-4000}

if [[ -t 1 ]]; then
	bold=$'\e[1m' dim=$'\e[2m' cyan=$'\e[36m' red=$'\e[31m' reset=$'\e[0m'
else
	bold="" dim="" cyan="" red="" reset=""
fi

die() {
	echo "${red}demo: FAIL: $*${reset}" >&2
	exit 1
}
[[ -x $berth ]] || die "no berth binary at $berth (run \`make build\` first)"
((EUID == 0)) || die "containers need root: run it as root (sudo make demo)"
command -v docker-registry >/dev/null && command -v htpasswd >/dev/null ||
	"$here/deps.sh" docker-registry apache2-utils curl

work=$(mktemp -d "${TMPDIR:-/tmp}/berth-demo.XXXXXX")
# A short path: overlay's mount options list every layer directory.
root=$work/root
export BERTH_CONFIG=$work/berth.json DOCKER_CONFIG=$work/docker-config
registry_pids=()
step_no=0
current="setup"

# ---- printing ----------------------------------------------------------------

# step TITLE TEXT...: a numbered heading and a few lines of explanation.
step() {
	step_no=$((step_no + 1))
	current="$step_no. $1"
	printf '\n%s==> %s%s\n' "$bold" "$current" "$reset"
	shift
	local line
	for line in "$@"; do printf '    %s\n' "$line"; done
}

# shown ARGS...: the arguments as a reader would type them in a shell.
shown() {
	local a out=()
	for a in "$@"; do
		if [[ $a =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
			out+=("$a")
		else
			out+=("'${a//\'/\'\\\'\'}'")
		fi
	done
	echo "${out[*]}"
}

# b ARGS...: prints `$ berth ARGS`, runs berth in the demo root, prints its
# output and how long it took; the output stays in $out for checks.
# A non-zero exit fails the demo.
b() {
	printf '%s$ berth %s%s\n' "$cyan" "$(shown "$@")" "$reset"
	local t0=$EPOCHREALTIME rc=0
	out=$("$berth" --root "$root" "$@") || rc=$?
	[[ -n $out ]] && printf '%s\n' "$out"
	printf '%s   (%s s)%s\n' "$dim" "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.2f", b - a}')" "$reset"
	((rc == 0)) || die "berth $(shown "$@") exited $rc"
}

# quiet ARGS...: berth in the demo root, output dropped (setup and checks).
quiet() { "$berth" --root "$root" "$@" >/dev/null; }

# expect WHAT REGEX: fails the demo unless $out matches REGEX (bash ERE:
# ^ and $ anchor the whole output, . matches newlines too).
expect() {
	[[ $out =~ $2 ]] || die "expected $1, got: $out"
	printf '%s   ✓ %s%s\n' "$dim" "$1" "$reset"
}

# expect_not WHAT TEXT: fails the demo if $out contains TEXT.
expect_not() {
	[[ $out != *"$2"* ]] || die "expected $1, got: $out"
	printf '%s   ✓ %s%s\n' "$dim" "$1" "$reset"
}

# expect_lines WHAT N: fails the demo unless $out has N lines.
expect_lines() {
	local n
	n=$(grep -c '' <<<"$out")
	((n == $2)) || die "expected $1 ($2 lines), got $n: $out"
	printf '%s   ✓ %s%s\n' "$dim" "$1" "$reset"
}

# ---- registries --------------------------------------------------------------

# free_port: a TCP port nothing listens on (loopback).
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 30000))
		ss -Hltn "sport = :$p" | grep -q . || {
			echo "$p"
			return
		}
	done
}

# start_registry NAME [USER PASSWORD]: Debian's reference registry on
# 127.0.0.1, storage under the demo dir, htpasswd auth when a user is given.
# Sets $reg_port.
start_registry() {
	local dir=$work/registry-$1 auth=""
	mkdir -p "$dir/data"
	reg_port=$(free_port)
	if (($# == 3)); then
		htpasswd -Bbc "$dir/htpasswd" "$2" "$3" 2>/dev/null
		auth="auth: {htpasswd: {realm: berth-demo, path: $dir/htpasswd}}"
	fi
	cat >"$dir/config.yml" <<-YML
		version: 0.1
		log: {level: error}
		storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}
		http: {addr: 127.0.0.1:$reg_port}
		$auth
	YML
	docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
	registry_pids+=($!)
	local i
	for ((i = 0; i < 100; i++)); do
		curl -s -o /dev/null "http://127.0.0.1:$reg_port/v2/" && return
		sleep 0.1
	done
	die "registry $1 did not start: $(tail -n 5 "$dir/log")"
}

# fetch URL: the page, retried while the app starts (it takes a moment to bind).
fetch() {
	local i
	for ((i = 0; i < 100; i++)); do
		out=$(curl -fsS --max-time 5 "$1" 2>/dev/null) && return
		sleep 0.1
	done
	die "no answer from $1"
}

# ---- leaks -------------------------------------------------------------------

# host_state: what berth could leak on the host, one object per line: mounts
# under the root, veth and bridge devices, berth's nftables tables and
# iptables chains.
host_state() {
	awk -v d="$root" 'index($5, d "/") == 1 {print "mount " $5}' /proc/self/mountinfo
	ip -o link show 2>/dev/null | awk -F': ' '$2 ~ /^(bv|berth|br-)/ {sub(/@.*/, "", $2); print "link " $2}'
	nft list tables 2>/dev/null | awk '$3 ~ /^berth/ {print "nft table " $3}'
	iptables -w -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^BERTH/ {print "iptables chain " $2}'
}

# ---- cleanup -----------------------------------------------------------------

cleanup() {
	local rc=$?
	set +e
	((rc == 0)) || echo "${red}demo: stopped during step \"$current\"; cleaning up${reset}" >&2
	# system reset: every container, network (bridges, NAT and filter rules
	# included), volume and image of the root, then the root itself.
	[[ -d $root ]] && "$berth" --root "$root" system reset -f >/dev/null
	local p
	for p in "${registry_pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	# Anything still mounted under the root is a berth bug: say so, then
	# detach it (deepest first) so the directory can go.
	local m left=0
	while read -r m; do
		left=1
		echo "demo: warning: berth left $m mounted" >&2
		umount -l "$m"
	done < <(awk -v d="$root" 'index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r)
	((left && rc == 0)) && rc=1
	if ((rc == 0)) && [[ -n ${state_before:-} ]]; then
		local leaked
		leaked=$(comm -13 <(sort <<<"$state_before") <(host_state | sort))
		if [[ -n $leaked ]]; then
			echo "demo: berth left something on the host:" >&2
			echo "$leaked" >&2
			rc=1
		fi
	fi
	rm -rf --one-file-system "$work"
	if ((rc == 0)); then
		printf '\n%sThe demo root is gone; no container, mount, veth or firewall rule was left behind.%s\n' "$bold" "$reset"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the tutorial ------------------------------------------------------------

printf '%sberth demo%s — Docker'"'"'s "Get Started, Part 2: Containers" with berth in place of docker.\n' "$bold" "$reset"
printf 'Below, "berth" means: %s --root %s\n' "$berth" "$root"
echo "(a throwaway state root: images, containers, networks and runtime state all live under it)"
state_before=$(host_state)

step "Base images" \
	"Docker Hub is out of reach here, so the tutorial's python:2.7-slim is a stand-in: Debian" \
	"bookworm with python3, Flask and redis-py (scripts/mkimage-python.sh), and Redis will be" \
	"built on a Debian minbase. Both come from mmdebstrap and this machine's apt sources;" \
	"the first run takes a few minutes, later ones use $cache_dir."
t0=$EPOCHREALTIME
"$repo/scripts/mkimage-python.sh" "$work/python.tar" >/dev/null
"$repo/scripts/mkimage-debian.sh" "$work/debian.tar" >/dev/null
printf '    ready in %.1f s\n' "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {print b - a}')"
b import --change 'CMD ["python3"]' --change 'ENV LANG=C.UTF-8' "$work/python.tar" python-standin
expect "an image ID" '^sha256:[0-9a-f]{64}$'
b import "$work/debian.tar" debian:bookworm
expect "an image ID" '^sha256:[0-9a-f]{64}$'
rm -f "$work/python.tar" "$work/debian.tar"

step "A registry mirror that serves python:2.7-slim" \
	"Like Docker's daemon.json, berth.json names registry mirrors tried before Docker Hub." \
	"We start the reference registry on loopback, push the stand-in to it as library/python:2.7-slim," \
	"and remove it locally: the build below pulls it through the mirror."
start_registry mirror
mirror=127.0.0.1:$reg_port
printf '{"registry-mirrors": ["http://%s"]}\n' "$mirror" >"$BERTH_CONFIG"
printf '    %s: %s\n' "$BERTH_CONFIG" "$(cat "$BERTH_CONFIG")"
b tag python-standin "$mirror/library/python:2.7-slim"
b push "$mirror/library/python:2.7-slim"
expect "pushed" 'digest: sha256:[0-9a-f]{64}'
b rmi python-standin "$mirror/library/python:2.7-slim"

step "Define a container with a Dockerfile" \
	"The tutorial's app: its Dockerfile, app.py and requirements.txt, verbatim (examples/friendlyhello)."
app=$work/friendlyhello
cp -r "$repo/examples/friendlyhello" "$app"
cd "$app"
printf '%s$ ls%s\n' "$cyan" "$reset"
ls
printf '%s$ cat Dockerfile%s\n' "$cyan" "$reset"
cat Dockerfile

step "Build the app" \
	"build runs each instruction; FROM python:2.7-slim is pulled through the mirror, RUN steps run" \
	"in containers on the default bridge."
b build -t friendlyhello .
expect "tagged" 'Successfully tagged friendlyhello:latest'
b images
expect "friendlyhello and python listed" 'friendlyhello +latest.*python +2\.7-slim|python +2\.7-slim.*friendlyhello +latest'

step "Run the app" \
	"Map the host's port $port to the container's published port 80 with -p, detached."
b run -d -p "$port:80" friendlyhello
expect "a container ID" '^[0-9a-f]{64}$'
app_id=$out
printf '%s$ curl http://localhost:%s%s\n' "$cyan" "$port" "$reset"
fetch "http://localhost:$port"
echo "$out"
expect "Hello World!" '<h3>Hello World!</h3>'
expect "the container ID as hostname" "<b>Hostname:</b> ${app_id:0:12}<br/>"
expect "no Redis yet" 'cannot connect to Redis, counter disabled'
b ps
expect "the port mapping" "${app_id:0:12} +friendlyhello .*0\.0\.0\.0:$port->80/tcp"
printf '    stop sends SIGTERM, waits, then SIGKILL; python as PID 1 ignores SIGTERM, so -t 2 shortens\n'
printf '    the 10 s grace period.\n'
b stop -t 2 "${app_id:0:12}"
b rm "${app_id:0:12}"

step "Add Redis: the visit counter" \
	"app.py talks to a host named redis. Build a Redis image (apt-get runs in a RUN step and" \
	"reaches the apt mirror through the bridge's NAT), create a network, and start redis and the" \
	"app on it: containers on a user network find each other by name."
mkdir -p "$work/redis"
cat >"$work/redis/Dockerfile" <<'DOCKERFILE'
FROM debian:bookworm
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends redis-server >/dev/null && rm -rf /var/lib/apt/lists/*
EXPOSE 6379
CMD ["redis-server", "--protected-mode", "no"]
DOCKERFILE
b build -t redis "$work/redis"
expect "tagged" 'Successfully tagged redis:latest'
b network create friendly
b run -d --name redis --network friendly redis
b run -d --name web --network friendly -p "$port:80" friendlyhello
for n in 1 2 3; do
	printf '%s$ curl http://localhost:%s%s\n' "$cyan" "$port" "$reset"
	fetch "http://localhost:$port"
	echo "$out"
	expect "visit $n" "<b>Visits:</b> $n\$"
done
b rm -f web redis
b network rm friendly

step "Share your image" \
	"Tag the image as username/repository:tag on a registry, log in, push it, remove it locally," \
	"and run it from the registry: run pulls what it does not have. Docker Hub is out of reach," \
	"so the registry is another reference registry on loopback, with a password this time."
start_registry hub username s3cret
hub=127.0.0.1:$reg_port
printf '%s$ echo s3cret | berth login -u username --password-stdin %s%s\n' "$cyan" "$hub" "$reset"
out=$(echo s3cret | "$berth" --root "$root" login -u username --password-stdin "$hub")
echo "$out"
expect "logged in" 'Login Succeeded'
b tag friendlyhello "$hub/username/repository:tag"
b push "$hub/username/repository:tag"
expect "pushed" 'tag: digest: sha256:[0-9a-f]{64} size: [0-9]+'
b rmi friendlyhello "$hub/username/repository:tag"
b run -d -p "$port:80" "$hub/username/repository:tag"
expect "pulled, then a container ID" '[0-9a-f]{64}$'
app_id=${out: -64}
fetch "http://localhost:$port"
echo "$out"
expect "Hello World! from the pulled image" "Hello World!.*${app_id:0:12}"
b rm -f "${app_id:0:12}"
b logout "$hub"

step "Clean up" \
	"Check the store, then remove everything: system reset deletes every container, network" \
	"(with its bridge and firewall rules), volume and image of the root, and the root itself."
b system check
expect "consistent state on disk" '^ok$'
b system reset -f
