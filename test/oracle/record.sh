#!/usr/bin/env bash
# test/oracle/record.sh [OUTDIR]
#
# Records Docker's own answers (inspect JSON, table output, exit codes and
# error texts, what a default container sees from inside) as reference data
# for berth's e2e expectations. It starts the isolated side-by-side dockerd
# from scripts/dockerd.sh (bridge without iptables) unless one already runs,
# and stops it again if it started it.
#
# Everything daemon-side is recorded with Debian's CLI (/usr/bin/docker,
# matching dockerd's version) into OUTDIR (default test/oracle/data). If a
# different docker CLI is first in PATH (e.g. a newer static one), the
# CLI-formatted parts (tables, error texts, exit codes) are recorded again
# with it into OUTDIR/cli-<version>/, since message wording is the CLI's.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$here/data}
img=busybox-imported

# A private, fresh instance (own directory and bridge), so nothing another
# user of scripts/dockerd.sh left behind shows up in `docker images`.
export BERTH_DOCKERD_DIR=/var/tmp/berth-dockerd-oracle
export BERTH_DOCKERD_BRIDGE=berthdk1
export BERTH_DOCKERD_CIDR=172.30.232.1/24
"$repo/scripts/dockerd.sh" stop
"$repo/scripts/dockerd.sh" start --bridge >/dev/null
eval "$("$repo/scripts/dockerd.sh" env)"
export DOCKER_HOST

work=$(mktemp -d "${TMPDIR:-/tmp}/berth-oracle.XXXXXX")
cleanup() {
	local ids
	ids=$(/usr/bin/docker ps -aq --filter name=oracle- 2>/dev/null || true)
	[[ -n $ids ]] && /usr/bin/docker rm -f $ids >/dev/null 2>&1 || true
	rm -rf "$work"
	"$repo/scripts/dockerd.sh" stop || true
}
trap cleanup EXIT

"$repo/scripts/mkimage-busybox.sh" "$work/busybox.tar"

# case NAME CLI ARGS... : runs one docker command, appends
# {name, args, exit, stdout, stderr} to $work/cases.jsonl.
# The daemon's "IPv4 forwarding is disabled" warning is dropped: it comes from
# this machine's sysctl (the oracle daemon runs without ip-forward), and a
# normal Docker host does not print it.
case_() {
	local name=$1 cli=$2
	shift 2
	local rc=0
	"$cli" "$@" >"$work/o" 2>"$work/e0" </dev/null || rc=$?
	grep -vxF 'WARNING: IPv4 forwarding is disabled. Networking will not work.' "$work/e0" >"$work/e" || true
	jq -n --arg name "$name" --argjson exit "$rc" \
		--rawfile stdout "$work/o" --rawfile stderr "$work/e" \
		'{name: $name, args: $ARGS.positional, exit: $exit, stdout: $stdout, stderr: $stderr}' \
		--args -- docker "$@" >>"$work/cases.jsonl"
}

# cli_cases CLI OUTDIR: everything whose text the CLI formats.
cli_cases() {
	local cli=$1 dir=$2
	local tag
	tag=$("$cli" version --format '{{.Client.Version}}' 2>/dev/null | tr -c 'a-z0-9.\n' '-' | tr -d '\n')
	rm -f "$work/cases.jsonl"
	mkdir -p "$dir"

	case_ missing-image "$cli" run --rm --pull never oracle-nosuch-image true
	case_ missing-image-default-pull "$cli" run --rm oracle-nosuch-image:v1 true
	case_ missing-image-create "$cli" create --pull never oracle-nosuch-image
	case_ no-command "$cli" run --rm "$img"
	case_ nosuchcmd "$cli" run --rm "$img" nosuchcmd
	case_ not-executable "$cli" run --rm "$img" /etc/passwd
	case_ is-directory "$cli" run --rm "$img" /tmp
	case_ exit-7 "$cli" run --rm "$img" sh -c 'exit 7'
	case_ pid1-self-kill-9-ignored "$cli" run --rm "$img" sh -c 'kill -9 $$; echo still here'
	case_ child-killed-9 "$cli" run --rm "$img" sh -c 'sh -c "kill -9 \$\$"; echo child=$?; exit 9'
	case_ privileged "$cli" run --rm --privileged "$img" true
	case_ bad-memory "$cli" run --rm --memory 12zz "$img" true
	case_ bad-flag "$cli" run --rm --no-such-flag "$img" true
	case_ bad-workdir-relative "$cli" run --rm -w relative "$img" true
	case_ bad-user "$cli" run --rm -u nosuchuser "$img" true
	case_ user-numeric "$cli" run --rm -u 1000 "$img" id
	case_ user-name "$cli" run --rm -u app "$img" id
	case_ env-and-workdir "$cli" run --rm -e A=1 -w /tmp "$img" sh -c 'echo "$A $PWD $HOME"; env | sort'
	case_ stdout-stderr "$cli" run --rm "$img" sh -c 'echo out; echo err >&2'
	case_ inspect-missing "$cli" inspect oracle-nosuch
	case_ container-inspect-missing "$cli" container inspect oracle-nosuch
	case_ image-inspect-missing "$cli" image inspect oracle-nosuch
	case_ rm-missing "$cli" rm oracle-nosuch
	case_ rmi-missing "$cli" rmi oracle-nosuch
	case_ start-missing "$cli" start oracle-nosuch
	case_ stop-missing "$cli" stop oracle-nosuch
	case_ logs-missing "$cli" logs oracle-nosuch
	case_ name-conflict "$cli" create --name oracle-created "$img" true
	case_ rm-running "$cli" rm oracle-running
	case_ rmi-in-use "$cli" rmi "$img"
	case_ start-running "$cli" start oracle-running
	case_ logs-exited "$cli" logs oracle-exited
	case_ version-client "$cli" version --format '{{json .Client}}'

	# Lifecycle verbs' own output, on containers private to this CLI's run.
	local k=oracle-k-$tag
	case_ run-detached "$cli" run -d --name "$k" "$img" sleep 1000
	case_ stop-running "$cli" stop -t 1 "$k"
	case_ wait-stopped "$cli" wait "$k"
	case_ start-again "$cli" start "$k"
	case_ kill-running "$cli" kill "$k"
	case_ wait-killed "$cli" wait "$k"
	case_ inspect-killed-state "$cli" inspect --format '{{json .State}}' "$k"
	case_ kill-not-running "$cli" kill "$k"
	case_ rm-stopped "$cli" rm "$k"
	case_ run-detached-2 "$cli" run -d --name "$k" "$img" sleep 1000
	case_ rm-force-running "$cli" rm -f "$k"
	case_ import "$cli" import "$work/busybox.tar" "oracle-imp-$tag:v1"
	case_ tag "$cli" tag "oracle-imp-$tag:v1" "oracle-imp-$tag:v2"
	case_ rmi-tag "$cli" rmi "oracle-imp-$tag:v2"
	case_ rmi-last-tag "$cli" rmi "oracle-imp-$tag:v1"

	case_ ps "$cli" ps
	case_ ps-a "$cli" ps -a
	case_ ps-a-no-trunc "$cli" ps -a --no-trunc
	case_ ps-aq "$cli" ps -aq
	case_ ps-a-json "$cli" ps -a --format '{{json .}}'
	case_ ps-a-table-fmt "$cli" ps -a --format 'table {{.Names}}\t{{.Status}}\t{{.Command}}'
	case_ ps-filter-exited "$cli" ps -a --filter status=exited --format '{{.Names}}'
	case_ images "$cli" images
	case_ images-q "$cli" images -q
	case_ images-no-trunc "$cli" images --no-trunc
	case_ images-json "$cli" images --format '{{json .}}'
	case_ history "$cli" history "$img"
	case_ history-json "$cli" history --format '{{json .}}' "$img"

	jq -s . "$work/cases.jsonl" >"$dir/cases.json"
}

# empty_cases CLI OUTDIR: answers of a daemon with no images or containers.
empty_cases() {
	local cli=$1 dir=$2
	rm -f "$work/cases.jsonl"
	mkdir -p "$dir"
	case_ images-empty "$cli" images
	case_ ps-empty "$cli" ps
	case_ ps-a-empty "$cli" ps -a
	case_ ps-a-json-empty "$cli" ps -a --format '{{json .}}'
	case_ unknown-verb "$cli" nosuchverb
	case_ run-no-args "$cli" run
	jq -s . "$work/cases.jsonl" >"$dir/empty-cases.json"
}

docker=/usr/bin/docker
other_cli=""
if cli_path=$(command -v docker) && [[ $(realpath "$cli_path") != $(realpath "$docker") ]]; then
	other_cli=$cli_path
	other_dir=$out/cli-$("$cli_path" version --format '{{.Client.Version}}' 2>/dev/null || echo unknown)
fi
rm -rf "$out"
mkdir -p "$out/inside"
empty_cases "$docker" "$out"
[[ -n $other_cli ]] && empty_cases "$other_cli" "$other_dir"

$docker version --format '{{json .}}' | jq . >"$out/docker-version.json"
$docker import "$work/busybox.tar" "$img" >/dev/null
$docker image inspect "$img" | jq . >"$out/image-inspect.json"

# created: never started; exited: ran `exit 3`; running: detached sleep.
$docker create --name oracle-created -e A=1 -w /tmp "$img" sh -c 'exit 3' >/dev/null 2>&1
rc=0
$docker run --name oracle-exited -e A=1 -w /tmp "$img" sh -c 'exit 3' 2>/dev/null || rc=$?
[[ $rc == 3 ]] || { echo "record.sh: expected exit 3, got $rc" >&2; exit 1; }
$docker run -d --name oracle-running "$img" sleep 1000 >/dev/null 2>&1
$docker container inspect oracle-created | jq . >"$out/container-created.json"
$docker container inspect oracle-exited | jq . >"$out/container-exited.json"
$docker container inspect oracle-running | jq . >"$out/container-running.json"
$docker create --name oracle-netnone --network none --rm "$img" true >/dev/null
$docker container inspect oracle-netnone | jq . >"$out/container-created-network-none-rm.json"
$docker rm oracle-netnone >/dev/null

# What a default container sees.
inside() { # NAME ARGS...: stdout of a default container running ARGS
	local name=$1
	shift
	local rc=0
	$docker run --rm "$@" >"$work/i" 2>&1 || rc=$?
	grep -vxF 'WARNING: IPv4 forwarding is disabled. Networking will not work.' "$work/i" >"$out/inside/$name" || true
	((rc == 0)) || echo "exit=$rc" >>"$out/inside/$name"
}
inside proc-self-status.txt "$img" cat /proc/self/status
inside mountinfo.txt "$img" cat /proc/self/mountinfo
inside mountinfo-network-none.txt --network none "$img" cat /proc/self/mountinfo
inside hostname.txt "$img" hostname
inside etc-hosts.txt "$img" cat /etc/hosts
inside etc-hosts-network-none.txt --network none "$img" cat /etc/hosts
inside etc-resolv-conf.txt "$img" cat /etc/resolv.conf
inside etc-hostname.txt "$img" cat /etc/hostname
inside env.txt "$img" env
inside id.txt "$img" id
inside ulimits.txt "$img" sh -c 'ulimit -a'
inside dev.txt "$img" ls -la /dev
inside proc-1-cgroup.txt "$img" cat /proc/1/cgroup
inside ps.txt "$img" ps -o pid,user,comm
inside masked-paths.txt "$img" sh -c 'for p in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /sys/firmware /proc/acpi /proc/scsi; do printf "%s " "$p"; ls -ld "$p" 2>&1 | head -1 ; done'
inside readonly-paths.txt "$img" sh -c 'for p in /proc/sys /proc/sysrq-trigger /proc/irq /proc/bus /proc/fs; do grep " $p " /proc/self/mountinfo || echo "$p: not a mount"; done'
inside hostname-flag.txt --hostname oracle-host "$img" sh -c 'hostname; cat /etc/hostname; grep oracle-host /etc/hosts'
inside network-none-links.txt --network none "$img" ip -o link
inside user-1000-status.txt -u 1000 "$img" grep -E '^(Uid|Gid|Groups|Cap|NoNewPrivs|Seccomp)' /proc/self/status
inside privileged-status.txt --privileged "$img" grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status
inside cap-drop-all-status.txt --cap-drop ALL "$img" grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status
inside no-new-privs-status.txt --security-opt no-new-privileges "$img" grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status
inside read-only-rootfs.txt --read-only "$img" sh -c 'touch /x 2>&1; touch /tmp/x 2>&1; echo tmp-rc=$?; grep " / " /proc/self/mountinfo'
inside memory-limit.txt --memory 64m "$img" sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max'
inside pids-limit.txt --pids-limit 50 "$img" sh -c 'cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max'

# The capability sets decoded, so expectations can name them.
grep -E '^Cap(Prm|Eff|Bnd)' "$out/inside/proc-self-status.txt" | head -1 | awk '{print $2}' >"$work/capeff"
if command -v capsh >/dev/null; then
	capsh --decode="$(<"$work/capeff")" >"$out/inside/capabilities-decoded.txt"
fi

cli_cases "$docker" "$out"
[[ -n $other_cli ]] && cli_cases "$other_cli" "$other_dir"

echo "record.sh: wrote $out" >&2
