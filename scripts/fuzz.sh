#!/usr/bin/env bash
# fuzz.sh [FUZZTIME]
#
# Runs every Go fuzz target in the repository for FUZZTIME each (default
# 10s): `make test-fuzz`, part of `make test`. Targets are discovered, not
# listed: the packages whose tests declare `func Fuzz…`, then
# `go test -list` in each, so a new target is fuzzed without editing this
# script. Each run starts from the target's f.Add seeds plus its committed
# corpus in testdata/fuzz/<Target>/ (and Go's own cache of what earlier runs
# found, when GOCACHE is kept). A failure leaves the crashing input in
# testdata/fuzz/<Target>/ (commit it with the fix) and fails the script.
# Tags: $TAGS (the Makefile's). Needs root (FuzzApply makes device nodes).
set -euo pipefail

fuzztime=${1:-10s}
tags=${TAGS:-seccomp netgo osusergo}
go=${GO:-go}
cd "$(dirname "$0")/.."

mapfile -t pkgs < <(grep -rl --include='*_test.go' -E '^func Fuzz[A-Z0-9_a-z]*\(f \*testing\.F\)' internal cmd |
	xargs -n1 dirname | sort -u)
total=0 failed=()
start=$SECONDS
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for dir in "${pkgs[@]}"; do
	mapfile -t targets < <("$go" test -tags "$tags" -list '^Fuzz' "./$dir" | grep '^Fuzz' || true)
	for t in "${targets[@]}"; do
		total=$((total + 1))
		# -run '^$': no unit tests (make test-unit ran them), just the fuzzer.
		for try in 1 2; do
			rc=0
			"$go" test -tags "$tags" -run '^$' -fuzz "^$t\$" -fuzztime "$fuzztime" "./$dir" >"$log" 2>&1 || rc=$?
			# Go 1.26's fuzz coordinator can fail a clean run with a bare
			# "context deadline exceeded" as -fuzztime expires (a race in
			# internal/fuzz, go.dev/issue/75804, fixed in Go 1.27). A real
			# finding always writes its input ("Failing input written
			# to"); that, a panic or any other failure is never retried.
			if ((rc != 0 && try == 1)) && grep -q '^    context deadline exceeded$' "$log" &&
				! grep -q -e 'Failing input written to' -e '^panic' -e '_test.go:[0-9]*:' "$log"; then
				echo "fuzz: $dir $t: the coordinator's deadline race (go.dev/issue/75804), no input found: once more"
				continue
			fi
			break
		done
		execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 || true)
		echo "fuzz: $dir $t: ${execs:-execs: ?} in $fuzztime, exit $rc"
		if [ "$rc" -ne 0 ]; then
			grep -v '^fuzz: elapsed' "$log" || true
			failed+=("$dir $t")
		fi
	done
done
echo "fuzz: $total targets, $fuzztime each, $((SECONDS - start))s in all"
if ((${#failed[@]})); then
	printf 'fuzz: FAILED: %s\n' "${failed[@]}"
	exit 1
fi
