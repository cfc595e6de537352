#!/usr/bin/env bash
# dockerd.sh start [--bridge|--net] | stop | status | env
#
# Runs Debian's dockerd (docker.io) as an isolated side-by-side peer for the
# oracle recordings and benchmarks. Everything it owns lives under one
# directory, $BERTH_DOCKERD_DIR (default /var/tmp/berth-dockerd):
#   data/        --data-root (images, containers, its managed containerd's root)
#   exec/        --exec-root (containerd socket/state, netns, plugins)
#   docker.sock  the API socket (-H); nothing listens on /var/run/docker.sock
#   dockerd.pid  --pidfile; dockerd.log its output; daemon.json an empty config
# so it never collides with a system docker or with berth. Containers go in
# the cgroup parent /dockerside-<instance> instead of /docker.
#
# start         no bridge at all (--bridge=none, --iptables=false): enough for
#               --network none/host, import, inspect; touches no firewall.
# start --bridge  a dedicated bridge ($BERTH_DOCKERD_BRIDGE, default berthdk0,
#               $BERTH_DOCKERD_CIDR default 172.30.231.1/24) as the default
#               network, still without iptables: containers get an address
#               and realistic NetworkSettings but no NAT/forwarding (oracle).
# start --net   the same bridge with iptables, ip-forward and masquerade on,
#               for networking comparisons (BERTH_DOCKERD_USERLAND_PROXY=true
#               publishes ports through docker-proxy, Docker's default; the
#               default here is false: kernel DNAT). stop removes the bridge, docker's
#               chains and rules, and restores the FORWARD policy and
#               net.ipv4.ip_forward as they were.
# start prints `export DOCKER_HOST=unix://...` on stdout (eval it); `env`
# prints it again. `start` is a no-op (exit 0) if this instance already runs.
# If dockerd cannot start, start exits 1 with the reason and the log tail.
set -euo pipefail

dir=${BERTH_DOCKERD_DIR:-/var/tmp/berth-dockerd}
bridge=${BERTH_DOCKERD_BRIDGE:-berthdk0}
cidr=${BERTH_DOCKERD_CIDR:-172.30.231.1/24}
# One cgroup parent per instance, so stopping one never touches another's cgroups.
cgparent=dockerside-$(basename "$dir")
sock=$dir/docker.sock
pidfile=$dir/dockerd.pid
log=$dir/dockerd.log
here=$(cd "$(dirname "$0")" && pwd)
# The CLI that matches the daemon's API; a newer one in PATH works too.
docker_cli=${DOCKER_CLI:-/usr/bin/docker}

say() { echo "dockerd.sh: $*" >&2; }

alive() {
	[[ -s $pidfile ]] || return 1
	local pid
	pid=$(<"$pidfile")
	[[ -d /proc/$pid ]] && grep -q dockerd "/proc/$pid/comm" 2>/dev/null
}

answers() { DOCKER_HOST=unix://$sock timeout 5 "$docker_cli" version >/dev/null 2>&1; }

print_env() { echo "export DOCKER_HOST=unix://$sock"; }

# pids_under prints the PIDs of processes whose command line mentions our
# directory: the containerd dockerd spawned and its shims. Only those.
pids_under() {
	local p
	for p in /proc/[0-9]*; do
		[[ ${p#/proc/} == "$$" ]] && continue
		if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF -- "$dir/"; then
			echo "${p#/proc/}"
		fi
	done
}

diagnose() {
	say "dockerd did not come up; last lines of $log:"
	tail -n 25 "$log" >&2 || true
	local why=""
	if grep -q 'oom_score_adj' "$log"; then why+=" oom_score_adj write refused (CAP_SYS_RESOURCE missing?);"; fi
	if grep -qi 'containerd' "$log" && grep -qiE 'containerd.*(not found|no such file|failed to start)' "$log"; then why+=" containerd missing or failed;"; fi
	if grep -qiE 'overlay.*not supported|driver not supported' "$log"; then why+=" overlay2 unsupported on $dir's filesystem;"; fi
	if grep -qiE 'cgroup' "$log" && grep -qiE 'level=(fatal|error).*cgroup' "$log"; then why+=" cgroup setup failed;"; fi
	if grep -qiE 'iptables' "$log" && grep -qiE 'level=(fatal|error).*iptables' "$log"; then why+=" iptables setup failed;"; fi
	if [[ -n $why ]]; then say "likely cause:$why"; fi
}

cmd_start() {
	local mode=none
	case ${1:-} in
	--bridge) mode=bridge ;;
	--net) mode=net ;;
	"") ;;
	*) say "unknown start option $1"; return 2 ;;
	esac
	if alive; then
		if answers; then
			print_env
			return 0
		fi
		say "dockerd pid $(<"$pidfile") is alive but not answering on $sock"
		return 1
	fi
	for b in dockerd containerd containerd-shim-runc-v2 runc; do
		command -v "$b" >/dev/null || { "$here/deps.sh" docker.io containerd runc; break; }
	done
	for b in dockerd containerd containerd-shim-runc-v2 runc "$docker_cli"; do
		command -v "$b" >/dev/null || { say "missing $b after installing docker.io"; return 1; }
	done

	# Leftovers of a crashed run would make dockerd refuse or leak.
	cmd_stop >/dev/null 2>&1 || true
	mkdir -p "$dir/data" "$dir/exec"
	echo '{}' >"$dir/daemon.json"

	local netargs
	if [[ $mode != none ]]; then
		if ! ip link show "$bridge" >/dev/null 2>&1; then
			ip link add "$bridge" type bridge
			ip addr add "$cidr" dev "$bridge"
			ip link set "$bridge" up
			touch "$dir/created-bridge"
		fi
	fi
	if [[ $mode == bridge ]]; then
		netargs=(--bridge="$bridge" --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false)
	elif [[ $mode == net ]]; then
		iptables -S FORWARD 2>/dev/null | awk '$1=="-P"{print $3}' >"$dir/forward-policy" || true
		cat /proc/sys/net/ipv4/ip_forward >"$dir/ip-forward"
		touch "$dir/net-mode"
		netargs=(--bridge="$bridge" --iptables=true --ip-forward=true --ip-masq=true --userland-proxy="${BERTH_DOCKERD_USERLAND_PROXY:-false}")
	else
		netargs=(--bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false)
	fi

	# oom-score-adjust=0: the default -500 needs CAP_SYS_RESOURCE, which this
	# machine's root lacks. --exec-opt cgroupfs: no systemd here.
	setsid dockerd \
		--config-file "$dir/daemon.json" \
		--data-root "$dir/data" \
		--exec-root "$dir/exec" \
		--pidfile "$pidfile" \
		-H "unix://$sock" \
		--cgroup-parent "/$cgparent" \
		--exec-opt native.cgroupdriver=cgroupfs \
		--storage-driver overlay2 \
		--oom-score-adjust 0 \
		--log-driver json-file \
		"${netargs[@]}" \
		>"$log" 2>&1 </dev/null &
	local started=$!
	local i
	for ((i = 0; i < 150; i++)); do
		if answers; then
			print_env
			return 0
		fi
		if ! kill -0 "$started" 2>/dev/null; then
			diagnose
			cmd_stop >/dev/null 2>&1 || true
			return 1
		fi
		sleep 0.2
	done
	say "dockerd (pid $started) did not answer within 30s"
	diagnose
	return 1
}

cmd_stop() {
	local pid="" i
	if [[ -s $pidfile ]]; then pid=$(<"$pidfile"); fi
	if [[ -n $pid ]] && alive; then
		# Containers first, so their shims and mounts go away cleanly.
		if answers; then
			local ids
			ids=$(DOCKER_HOST=unix://$sock timeout 30 "$docker_cli" ps -aq 2>/dev/null || true)
			[[ -n $ids ]] && DOCKER_HOST=unix://$sock timeout 60 "$docker_cli" rm -f $ids >/dev/null 2>&1 || true
		fi
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	# Its containerd and shims, found by our directory in their command line.
	local left
	left=$(pids_under)
	if [[ -n $left ]]; then
		kill -TERM $left 2>/dev/null || true
		sleep 1
		left=$(pids_under)
		[[ -n $left ]] && kill -KILL $left 2>/dev/null || true
	fi

	# Mounts under our directory, deepest first.
	local m
	while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "cannot unmount $m"
	done < <(awk -v d="$dir" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r)

	# Cgroups it made, leaf first, in every hierarchy.
	local cg
	for cg in /sys/fs/cgroup/*/"$cgparent" /sys/fs/cgroup/"$cgparent"; do
		[[ -d $cg ]] || continue
		find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
	done

	if [[ -e $dir/net-mode ]]; then
		local t c
		for t in filter nat; do
			# Jumps into docker's chains, then rules naming our bridge (FORWARD
			# accepts, POSTROUTING masquerade), then the chains themselves.
			del_rules "$t" '-j DOCKER(-USER|-ISOLATION-STAGE-[12])?( |$)'
			del_rules "$t" "(-i|-o) $bridge( |\$)"
			for c in DOCKER-USER DOCKER-ISOLATION-STAGE-1 DOCKER-ISOLATION-STAGE-2 DOCKER; do
				iptables -t "$t" -F "$c" 2>/dev/null || true
				iptables -t "$t" -X "$c" 2>/dev/null || true
			done
		done
		if [[ -s $dir/forward-policy ]]; then iptables -P FORWARD "$(<"$dir/forward-policy")" 2>/dev/null || true; fi
		if [[ -s $dir/ip-forward ]]; then sysctl -qw net.ipv4.ip_forward="$(<"$dir/ip-forward")" || true; fi
	fi
	# Deleting the bridge also drops any veth dockerd left attached to it.
	if [[ -e $dir/created-bridge ]]; then ip link del "$bridge" 2>/dev/null || true; fi

	rm -rf --one-file-system "$dir"
}

# del_rules TABLE ERE: deletes every rule of TABLE whose `iptables -S` form
# matches ERE.
del_rules() {
	local t=$1 re=$2 rules rule
	rules=$(iptables -t "$t" -S 2>/dev/null | grep '^-A ' | grep -E -- "$re" || true)
	while IFS= read -r rule; do
		[[ -n $rule ]] || continue
		# -S prints rules quoted for a shell, so eval re-splits them exactly.
		eval "iptables -t $t ${rule/#-A/-D}" 2>/dev/null || true
	done <<<"$rules"
}

cmd_status() {
	if alive && answers; then
		echo "running pid $(<"$pidfile") socket $sock"
		return 0
	fi
	echo "not running"
	return 1
}

case ${1:-} in
start) shift; cmd_start "$@" ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) print_env ;;
*)
	echo "usage: $0 start [--bridge|--net] | stop | status | env" >&2
	exit 2
	;;
esac
