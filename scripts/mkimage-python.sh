#!/usr/bin/env bash
# mkimage-python.sh OUT.tar
#
# Writes the stand-in for Docker Hub's python:2.7-slim: a Debian bookworm
# minbase root filesystem tar, made by mmdebstrap from this machine's own apt
# sources (no mirror is ever named here), with python3, pip, Flask, redis-py
# and python-is-python3 (so `python` exists). Debian's EXTERNALLY-MANAGED
# marker is removed so that the tutorial's
#   RUN pip install --trusted-host pypi.python.org -r requirements.txt
# finds Flask and Redis already satisfied and succeeds offline.
#
# Import it the way the real image is configured:
#   berth import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
#     --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' OUT.tar python:2.7-slim
#
# The first build (a few minutes) is cached in $BERTH_TEST_CACHE (default
# /var/cache/berth-test) under a name keyed by this script's hash, so editing
# the recipe rebuilds it; later calls copy the cached tar.
set -euo pipefail

out=${1:?usage: mkimage-python.sh OUT.tar}
here=$(cd "$(dirname "$0")" && pwd)
cache_dir=${BERTH_TEST_CACHE:-/var/cache/berth-test}
key=$(sha256sum "$here/mkimage-python.sh" | cut -c1-12)
cached=$cache_dir/python-bookworm-$key.tar

packages=python3,python3-pip,python3-flask,python3-redis,python-is-python3

mkdir -p "$cache_dir"
# One maker at a time: concurrent test binaries wait for the first instead of
# all running mmdebstrap.
exec 9>"$cache_dir/.mkimage-python.lock"
flock 9
if [[ ! -s $cached ]]; then
	if ! command -v mmdebstrap >/dev/null; then
		"$here/deps.sh" mmdebstrap
	fi
	# The host's own sources, as scripts/mkimage-debian.sh: mmdebstrap pastes
	# a MIRROR argument that is an existing file into the chroot's sources.
	sources=()
	[[ -s /etc/apt/sources.list ]] && sources+=(/etc/apt/sources.list)
	for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[[ -s $f ]] && grep -Eq 'debian' "$f" && sources+=("$f")
	done
	if ((${#sources[@]} == 0)); then
		echo "mkimage-python.sh: no apt sources found under /etc/apt" >&2
		exit 1
	fi
	tmp=$cached.tmp.$$
	trap 'rm -f "$tmp"' EXIT
	# The hooks run on the host against the chroot directory ($1): drop pip's
	# PEP 668 marker and apt's package lists and caches (the real slim image
	# ships without them). The byte-code caches Debian's postinst compiled
	# stay, as in the real image: without them every `pip` run recompiles
	# pip's modules first, seconds of CPU that would swamp what a build
	# benchmark measures.
	SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1704067200} \
		mmdebstrap --quiet --variant=minbase --include="$packages" \
		--customize-hook='rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED' \
		--customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb' \
		--format=tar bookworm "$tmp" "${sources[@]}"
	mv -f "$tmp" "$cached"
	trap - EXIT
	# Older recipes' caches (and tmp files of killed makers) are dead weight.
	for old in "$cache_dir"/python-bookworm-*.tar "$cache_dir"/python-bookworm-*.tar.tmp.*; do
		if [[ $old != "$cached" ]]; then rm -f "$old"; fi
	done
fi
exec 9>&-

mkdir -p "$(dirname "$out")"
if [[ $(realpath -m "$out") != $(realpath "$cached") ]]; then
	cp --reflink=auto "$cached" "$out.tmp.$$"
	mv -f "$out.tmp.$$" "$out"
fi
