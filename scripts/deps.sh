#!/usr/bin/env bash
# deps.sh [PACKAGE...]
#
# Installs the Debian packages that `make test`, `make demo` and `make bench`
# need (or just the ones named), using the machine's own apt sources. It is
# idempotent and cheap when everything is present: `apt-get update` runs only
# when some package is missing.
set -euo pipefail

default_pkgs=(
	busybox-static   # test image (scripts/mkimage-busybox.sh)
	mmdebstrap       # debian test image (scripts/mkimage-debian.sh)
	libseccomp-dev   # runc/libcontainer seccomp (cgo)
	runc             # external runtime option, reference behaviour
	docker.io        # side-by-side oracle and bench peer (pulls containerd)
	containerd
	skopeo           # registry tests: copy images in/out
	docker-registry  # local registry for push/pull tests and the demo
	apache2-utils    # htpasswd: the demo's password-protected registry
	iptables
	nftables
	iproute2
	jq
	curl
	hyperfine        # bench/run.sh
	redis-tools      # bench/network.sh: redis-benchmark through a published port
	procps
	strace           # e2e: which syscalls a command issues (fsyncs of run --rm)
)

if (($#)); then pkgs=("$@"); else pkgs=("${default_pkgs[@]}"); fi

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing+=("$p")
	fi
done
((${#missing[@]} == 0)) && exit 0

if ((EUID != 0)); then
	echo "deps.sh: need root to install: ${missing[*]}" >&2
	exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# --no-install-recommends keeps docker.io from dragging in e.g. git/xz helpers we
# never use; policy-rc.d stops maintainer scripts from starting the system
# dockerd/containerd, which would fight over /var/run/docker.sock with tests.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod +x "$policy"
	created_policy=1
fi
trap '((created_policy)) && rm -f "$policy"' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}"
