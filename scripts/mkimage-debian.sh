#!/usr/bin/env bash
# mkimage-debian.sh OUT.tar
#
# Writes a Debian bookworm minbase root filesystem tar (about 100-130 MB) made
# by mmdebstrap from this machine's own apt sources, so no mirror is ever
# named here. The first build is cached in $BERTH_TEST_CACHE (default
# /var/cache/berth-test) and copied from there afterwards; delete the cache
# file to rebuild.
set -euo pipefail

out=${1:?usage: mkimage-debian.sh OUT.tar}
here=$(cd "$(dirname "$0")" && pwd)
cache_dir=${BERTH_TEST_CACHE:-/var/cache/berth-test}
cached=$cache_dir/debian-bookworm-minbase.tar

if [[ ! -s $cached ]]; then
	if ! command -v mmdebstrap >/dev/null; then
		"$here/deps.sh" mmdebstrap
	fi
	# The host's own sources: mmdebstrap pastes a MIRROR argument that is an
	# existing file into the chroot's sources list (deb822 .sources work too).
	sources=()
	[[ -s /etc/apt/sources.list ]] && sources+=(/etc/apt/sources.list)
	for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[[ -s $f ]] && grep -Eq 'debian' "$f" && sources+=("$f")
	done
	if ((${#sources[@]} == 0)); then
		echo "mkimage-debian.sh: no apt sources found under /etc/apt" >&2
		exit 1
	fi
	mkdir -p "$cache_dir"
	tmp=$cached.tmp.$$
	trap 'rm -f "$tmp"' EXIT
	# SOURCE_DATE_EPOCH makes mmdebstrap clamp mtimes; the tar still differs
	# run to run when the archive moves on, which the cache hides.
	SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1704067200} \
		mmdebstrap --quiet --variant=minbase --format=tar bookworm "$tmp" "${sources[@]}"
	mv -f "$tmp" "$cached"
	trap - EXIT
fi

mkdir -p "$(dirname "$out")"
if [[ $(realpath -m "$out") != $(realpath "$cached") ]]; then
	cp --reflink=auto "$cached" "$out.tmp.$$"
	mv -f "$out.tmp.$$" "$out"
fi
