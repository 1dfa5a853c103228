#!/usr/bin/env bash
# analyze.sh SRC_DIR: the clang static analyzer (scan-build --status-bugs,
# its default checkers) over what ships: the engine, the dfissue CLI and the
# simulator, built without the tests in a temporary tree. Fails on any
# report and prints each one (file:line: message [checker]). A report that
# is wrong is answered in the code (an assertion or a clearer condition,
# with a comment saying why), never by a disabled checker.
set -euo pipefail
src=$1
command -v scan-build >/dev/null ||
	{ echo "scan-build not installed: run tools/install-deps.sh (Debian package clang-tools)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
jobs=$(nproc 2>/dev/null || echo 2)
scan-build -o "$tmp/out" cmake -S "$src" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Debug -DDFI_TESTS=OFF \
	>"$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log" >&2; exit 1; }
rc=0
scan-build --status-bugs -o "$tmp/out" make -C "$tmp/build" -j"$jobs" >"$tmp/build.log" 2>&1 || rc=$?
grep -E 'warning: .*\[[a-z]+\.[A-Za-z.]+\]$' "$tmp/build.log" | sed "s|$src/||" | sort -u || true
grep -E '^scan-build: ([0-9]+ bugs? found|No bugs found)' "$tmp/build.log" || true
if [ "$rc" -ne 0 ]; then
	grep -qE '^scan-build: [0-9]+ bugs? found' "$tmp/build.log" || tail -n 30 "$tmp/build.log" >&2
	echo "FAIL: the static analyzer has reports (or the build failed): see above" >&2
	exit 1
fi
echo "OK: no reports"
