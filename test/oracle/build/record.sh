#!/usr/bin/env bash
# test/oracle/build/record.sh [CASE...]
#
# Records what Docker's legacy builder (DOCKER_BUILDKIT=0, Debian docker.io
# 20.10) makes of every case under test/oracle/build/<case>/ into
# test/oracle/data/build/<case>/, for test/e2e/build_oracle_test.go:
#   result.json   {args, exit, stdout, stderr} of `docker build --no-cache`
#   rebuild.json  the same build again with the cache (successful cases)
#   changed.json  with a change.sh: that script run in the context, then the
#                 build again with the cache (which steps still hit)
#   inspect.json  `docker image inspect` of the result (successful cases)
#   config.json   the image config blob as `docker save` holds it (history
#                 with created_by, empty_layer, comment)
#   fs.json       the image's filesystem (test/oracle/build/fslist): path,
#                 type, mode, uid, gid, size, link target, sha256
# A case directory is the build context, minus these control files:
#   build.args  extra `docker build` arguments, one per line (e.g. --target x)
#   prepare.sh  run with bash in the context copy first (modes, links, tars
#               that git cannot keep)
#   needs       cases built before this one (their build.args may tag them)
#   context     a repository-relative directory used as the context instead
#   bases       base images besides busybox-imported: "python" imports
#               scripts/mkimage-python.sh's tar as python:2.7-slim
#   change.sh   run with bash in the context after the cached rebuild
#   expect-message  for failures whose text is the runtime's (runc's), the
#               substrings, one per line, that berth's stderr must hold
#               instead of Docker's first line (used by the e2e test only)
# Base images: scripts/mkimage-busybox.sh's tar, `docker import`ed as
# busybox-imported (no -c: no Cmd or Env), as berth's e2e harness imports it.
#
# It starts its own dockerd (scripts/dockerd.sh, no bridge; builds use
# --network none) under /var/tmp/berth-dockerd-buildoracle and stops it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=$repo/test/oracle/data/build
docker=/usr/bin/docker
control=(build.args prepare.sh needs context bases change.sh expect-message)

export BERTH_DOCKERD_DIR=/var/tmp/berth-dockerd-buildoracle
started=0
if ! "$repo/scripts/dockerd.sh" status >/dev/null 2>&1; then
	"$repo/scripts/dockerd.sh" start >/dev/null
	started=1
fi
eval "$("$repo/scripts/dockerd.sh" env)"
export DOCKER_HOST DOCKER_BUILDKIT=0

work=$(mktemp -d "${TMPDIR:-/tmp}/berth-build-oracle.XXXXXX")
cleanup() {
	rm -rf "$work"
	if ((started)); then "$repo/scripts/dockerd.sh" stop || true; fi
}
trap cleanup EXIT

(cd "$repo" && go build -o "$work/fslist" ./test/oracle/build/fslist/cmd/fslist)
"$repo/scripts/mkimage-busybox.sh" "$work/busybox.tar"
$docker rmi -f busybox-imported >/dev/null 2>&1 || true
$docker import "$work/busybox.tar" busybox-imported >/dev/null
python_imported=0

# context CASE: prints a fresh copy of CASE's build context.
context() {
	local c=$1 src=$here/$1 dst=$work/ctx/$1
	rm -rf "$dst"
	mkdir -p "$work/ctx"
	if [[ -s $src/context ]]; then
		cp -a "$repo/$(<"$src/context")" "$dst"
	else
		cp -a "$src" "$dst"
	fi
	local f
	for f in "${control[@]}"; do rm -f "$dst/$f"; done
	if [[ -f $src/prepare.sh ]]; then (cd "$dst" && bash -e "$src/prepare.sh"); fi
	echo "$dst"
}

# build_json OUT CTX ARGS...: runs docker build, writes {args, exit, stdout, stderr}.
build_json() {
	local o=$1 ctx=$2
	shift 2
	local rc=0
	$docker build "$@" "$ctx" >"$work/o" 2>"$work/e" </dev/null || rc=$?
	jq -n --argjson exit "$rc" --rawfile stdout "$work/o" --rawfile stderr "$work/e" \
		'{args: $ARGS.positional, exit: $exit, stdout: $stdout, stderr: $stderr}' \
		--args -- "$@" CONTEXT >"$o"
	return 0
}

record() {
	local c=$1 ctx rc tag=oracle-build-$1
	local args=()
	if [[ -s $here/$c/bases ]] && grep -qx python "$here/$c/bases" && ((!python_imported)); then
		"$repo/scripts/mkimage-python.sh" "$work/python.tar"
		$docker import \
			-c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
			-c 'ENV LANG=C.UTF-8' -c 'CMD ["python3"]' "$work/python.tar" python:2.7-slim >/dev/null
		python_imported=1
	fi
	if [[ -s $here/$c/needs ]]; then
		local n
		while read -r n; do record "$n"; done <"$here/$c/needs"
	fi
	[[ -e $work/done-$c ]] && return 0
	echo "record.sh: $c" >&2
	if [[ -s $here/$c/build.args ]]; then mapfile -t args <"$here/$c/build.args"; fi
	ctx=$(context "$c")
	local d=$out/$c
	rm -rf "$d"
	mkdir -p "$d"
	$docker rmi -f "$tag" >/dev/null 2>&1 || true
	build_json "$d/result.json" "$ctx" --no-cache --network none -t "$tag" "${args[@]}"
	rc=$(jq -r .exit "$d/result.json")
	if ((rc == 0)); then
		build_json "$d/rebuild.json" "$ctx" --network none -t "$tag" "${args[@]}"
		$docker image inspect "$tag" | jq '.[0]' >"$d/inspect.json"
		$docker save "$tag" | "$work/fslist" -config "$work/config.json" saved >"$d/fs.json"
		jq . "$work/config.json" >"$d/config.json"
		if [[ -f $here/$c/change.sh ]]; then
			(cd "$ctx" && bash -e "$here/$c/change.sh")
			build_json "$d/changed.json" "$ctx" --network none -t "$tag" "${args[@]}"
		fi
	fi
	touch "$work/done-$c"
}

cases=("$@")
if ((${#cases[@]} == 0)); then
	for d in "$here"/*/; do
		[[ -e $d/Dockerfile || -s $d/context ]] && cases+=("$(basename "$d")")
	done
fi
for c in "${cases[@]}"; do record "$c"; done
$docker version --format '{{json .Server}}' | jq '{Version, ApiVersion, Os, Arch}' >"$out/docker-version.json"
echo "record.sh: wrote $out" >&2
