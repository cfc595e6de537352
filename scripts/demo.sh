#!/usr/bin/env bash
# demo.sh     (make demo)
#
# A guided tour of berth on a real Debian image, printed like a tutorial: each
# step says what it shows, then prints the command and its output.
#
#   1. a Debian bookworm minbase rootfs from mmdebstrap (scripts/mkimage-debian.sh,
#      cached in $BERTH_TEST_CACHE, default /var/cache/berth-test), `berth import`ed
#   2. images; run --rm IMG cat /etc/os-release; run --rm IMG hostname
#   3. a layer with procps on top (minbase has no `ps`): run -v + commit
#   4. run -d --name demo-web IMG sh -c 'while :; do date; sleep 1; done',
#      ps, logs --tail 2, exec demo-web ps, top, stop, ps -a, rm, rmi
#
# It checks what it shows (a wrong answer fails the demo) and works in a root
# of its own under a temp dir, removed at the end even on failure or ^C. With
# BERTH_ROOT set it uses that root instead and removes only what it made
# there (it refuses to start if demo-web or the demo-debian images already
# exist). BERTH_BIN overrides ./bin/berth.
#
# `ps` comes from Debian's procps .debs fetched once with `apt-get download`
# through the host's apt sources and cached next to the rootfs; without them
# (offline) the demo lists the container's processes from /proc instead.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
berth=$(realpath -m "${BERTH_BIN:-$repo/bin/berth}")
cache_dir=${BERTH_TEST_CACHE:-/var/cache/berth-test}
img=demo-debian:bookworm
psimg=demo-debian:procps

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

work=$(mktemp -d "${TMPDIR:-/tmp}/berth-demo.XXXXXX")
if [[ -n ${BERTH_ROOT:-} ]]; then
	root=$BERTH_ROOT
	own_root=0
else
	# A short path: overlay's mount options list every layer directory.
	root=$work/root
	own_root=1
fi
made_containers=() # names this run created, for cleanup in a shared root
made_images=()
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

# ---- cleanup -----------------------------------------------------------------

cleanup() {
	local rc=$?
	set +e
	((rc == 0)) || echo "${red}demo: stopped during step \"$current\"; cleaning up${reset}" >&2
	if ((own_root)) && [[ -d $root ]]; then
		local ids
		ids=$("$berth" --root "$root" ps -aq 2>/dev/null)
		[[ -n $ids ]] && "$berth" --root "$root" rm -f $ids >/dev/null
	else
		local c i
		for c in "${made_containers[@]}"; do "$berth" --root "$root" rm -f "$c" >/dev/null 2>&1; done
		for i in "${made_images[@]}"; do "$berth" --root "$root" rmi "$i" >/dev/null 2>&1; done
	fi
	if ((own_root)); then
		# Anything still mounted under the root is a berth bug: say so, then
		# detach it (deepest first) so the directory can go.
		local m left=0
		while read -r m; do
			left=1
			echo "demo: warning: berth left $m mounted" >&2
			umount -l "$m"
		done < <(awk -v d="$root" 'index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r)
		((left && rc == 0)) && rc=1
	fi
	rm -rf --one-file-system "$work"
	if ((rc == 0 && own_root)); then
		printf '\n%sThe demo root is gone; nothing was left running or mounted.%s\n' "$bold" "$reset"
	elif ((rc == 0)); then
		printf '\n%sEverything the demo made in %s is gone.%s\n' "$bold" "$root" "$reset"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the tour ----------------------------------------------------------------

printf '%sberth demo%s — a daemonless, Docker-compatible container engine in one binary.\n' "$bold" "$reset"
printf 'Below, "berth" means: %s --root %s\n' "$berth" "$root"
if ((own_root)); then
	echo "(a throwaway state root: images, containers and runtime state all live under it)"
else
	echo "(BERTH_ROOT; only what this demo creates there is removed afterwards)"
	mkdir -p "$root"
	for c in demo-web demo-build; do
		! "$berth" --root "$root" inspect --type container "$c" >/dev/null 2>&1 ||
			die "a container named $c already exists in $root; remove it or unset BERTH_ROOT"
	done
	for i in "$img" "$psimg"; do
		! "$berth" --root "$root" inspect --type image "$i" >/dev/null 2>&1 ||
			die "image $i already exists in $root; remove it or unset BERTH_ROOT"
	done
fi

step "Build a Debian root filesystem" \
	"mmdebstrap builds a bookworm minbase rootfs tar from this machine's apt sources." \
	"The first build takes a minute or two; after that it comes from $cache_dir."
tar=$cache_dir/debian-bookworm-minbase.tar
[[ -s $tar ]] || echo "    (not cached yet: building it now)"
t0=$EPOCHREALTIME
# Passing the cache path itself makes the script build it if needed and copy
# nothing.
"$repo/scripts/mkimage-debian.sh" "$tar"
printf '    %s (%s MB) ready in %.1f s\n' "$tar" "$(($(stat -c %s "$tar") / 1000000))" \
	"$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {print b - a}')"

step "Import it as an image" \
	"Like \`docker import\`: the tar becomes a one-layer image. The layer is stored by digest" \
	"and unpacked once; containers get an overlay mount on top of it."
made_images+=("$img")
b import "$tar" "$img"
expect "an image ID" '^sha256:[0-9a-f]{64}$'
b images
expect "the image listed" 'demo-debian +bookworm'

step "Run a command in a container" \
	"run --rm creates a container, runs the command in it, prints its output and removes it."
b run --rm "$img" cat /etc/os-release
expect "Debian 12 inside" 'VERSION_CODENAME=bookworm'

step "Every container has its own hostname" \
	"As in Docker, a container's hostname is the first 12 characters of its ID."
b run --rm "$img" hostname
expect "a 12-character container ID" '^[0-9a-f]{12}$'

step "Add a layer: procps" \
	"minbase has no \`ps\`. Install Debian's procps into a container from .debs on a bind" \
	"mount, then \`commit\` the container's changes as a new image layer."
debs=$cache_dir/procps-debs
if [[ ! -e $debs/ok ]]; then
	mkdir -p "$debs.tmp.$$"
	if (cd "$debs.tmp.$$" && apt-get download procps libproc2-0 libncursesw6) >"$work/apt.log" 2>&1; then
		touch "$debs.tmp.$$/ok"
		rm -rf "$debs"
		mv "$debs.tmp.$$" "$debs"
	else
		rm -rf "$debs.tmp.$$"
		echo "    (apt-get download failed, see below; continuing without ps)"
		tail -n 3 "$work/apt.log" | sed 's/^/    /'
	fi
fi
webimg=$img
if [[ -e $debs/ok ]]; then
	made_containers+=(demo-build)
	made_images+=("$psimg")
	b run --name demo-build -v "$debs:/debs:ro" "$img" sh -c 'dpkg -i /debs/*.deb >/dev/null && ps --version'
	expect "ps installed" 'procps-ng'
	b commit demo-build "$psimg"
	expect "a new image ID" '^sha256:[0-9a-f]{64}$'
	b rm demo-build
	b images
	expect "both images" 'procps.*bookworm|bookworm.*procps'
	webimg=$psimg
fi

step "Run a container in the background" \
	"run -d prints the new container's ID and returns; a small per-container supervisor" \
	"process (no daemon) keeps its output in a json-file log and records how it exits."
made_containers+=(demo-web)
b run -d --name demo-web "$webimg" sh -c 'while :; do date; sleep 1; done'
expect "a full container ID" '^[0-9a-f]{64}$'
web_id=$out
b ps
expect "demo-web up" "^CONTAINER ID.*${web_id:0:12} .*Up .*demo-web"

step "Read its logs" \
	"logs reads the json-file log the supervisor writes (the same format as Docker's)."
for ((i = 0; i < 50; i++)); do
	(($("$berth" --root "$root" logs demo-web 2>/dev/null | wc -l) >= 3)) && break
	sleep 0.2
done
b logs --tail 2 demo-web
expect_lines "the last two lines" 2
expect "dates" '^[A-Z][a-z]{2} [A-Z][a-z]{2} .*:[0-9]{2} .* 20[0-9]{2}'

step "Run more commands inside it" \
	"exec starts another process in the running container's namespaces and cgroup."
if [[ $webimg == "$psimg" ]]; then
	b exec demo-web ps
	expect "the loop as PID 1" '^ +PID .*'$'\n'' +1 .* sh'
else
	b exec demo-web sh -c 'for p in /proc/[0-9]*; do echo "${p#/proc/} $(cat $p/comm)"; done'
	expect "the loop as PID 1" '(^|'$'\n'')1 sh'
fi
b exec demo-web hostname
expect "hostname = the ID's first 12 characters" "^${web_id:0:12}\$"
printf '%s\n' "    top shows the same processes from the host's side (host PIDs):"
b top demo-web
expect "sh and sleep" 'sh -c.*'$'\n''.*sleep'

step "Stop it" \
	"stop sends SIGTERM, waits, then SIGKILL. sh as PID 1 has no SIGTERM handler, so the" \
	"kernel ignores it and the grace period (-t 2 here, 10 s by default) ends in SIGKILL: exit 137."
b stop -t 2 demo-web
expect "the name echoed" '^demo-web$'
b ps -a
expect "demo-web exited 137" 'Exited \(137\).*demo-web'

step "Remove the container and the images" \
	"rm deletes the container (its writable layer, log and record); rmi untags and deletes" \
	"the images and the layers no other image uses."
b rm demo-web
made_containers=() # demo-build went in step 5
b ps -a
expect_not "no demo-web left" demo-web
if [[ $webimg == "$psimg" ]]; then
	b rmi "$psimg" "$img"
else
	b rmi "$img"
fi
made_images=()
b images
if ((own_root)); then
	expect "no images left" '^REPOSITORY[^'$'\n'']*$'
fi
b system check
expect "consistent state on disk" '^ok$'
