#!/usr/bin/env bash
# Runs every dfissue test: installs what is missing, then builds and runs
# ctest three times: a normal build, an ASan+UBSan build, and the libFuzzer
# harnesses for a bounded time: DFI_FUZZ_SECONDS each, by default what
# shares DFI_FUZZ_BUDGET seconds of wall time (default 240) among the
# harnesses on the machine's cores, between 20 and 60 s each.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/install-deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
nfuzz=$(find tests/fuzz -maxdepth 1 -name 'fuzz_*.c' | wc -l)
fuzz_seconds=${DFI_FUZZ_SECONDS:-}
if [ -z "$fuzz_seconds" ]; then
	# CI has 30 minutes for everything on 2 cores; the fuzzers get a fixed
	# share of it however many harnesses there are.
	fuzz_seconds=$(( ${DFI_FUZZ_BUDGET:-240} * jobs / (nfuzz > 0 ? nfuzz : 1) ))
	[ "$fuzz_seconds" -le 60 ] || fuzz_seconds=60
	[ "$fuzz_seconds" -ge 20 ] || fuzz_seconds=20
fi
logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT
passed=0 failed=0 status=0
start=$(date +%s)

run_ctest() { # name builddir [ctest args...]
	local name=$1 dir=$2
	shift 2
	echo "=== ctest: $name"
	set +e
	(cd "$dir" && ctest --output-on-failure --no-tests=error -j"$jobs" "$@") 2>&1 | tee "$logdir/$name.log"
	local rc=${PIPESTATUS[0]}
	set -e
	local line
	line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$logdir/$name.log" | tail -n 1 || true)
	if [ -n "$line" ]; then
		local total nfail
		nfail=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
		total=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
		passed=$((passed + total - nfail))
		failed=$((failed + nfail))
	fi
	[ "$rc" -eq 0 ] || status=1
}

echo "=== build: release"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
run_ctest release build

echo "=== build: asan+ubsan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDFI_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
run_ctest asan build-asan

if ls tests/fuzz/fuzz_*.c >/dev/null 2>&1; then
	echo "=== build: libFuzzer harnesses (${fuzz_seconds}s each)"
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDFI_FUZZ=ON \
		-DDFI_FUZZ_SECONDS="$fuzz_seconds" >/dev/null
	cmake --build build-fuzz -j"$jobs"
	run_ctest fuzz build-fuzz
fi

echo "=== all tests took $(( $(date +%s) - start ))s"
echo "tests: $passed passed, $failed failed"
exit "$status"
