#!/usr/bin/env bash
# Issue 17, finding 3: "The process is dumpable ... A second process could
# read the PIN from a live dfissue's locked page through /proc/PID/mem."
# A live dfissue (blocked opening a FIFO as its journal) run as an
# unprivileged user: another process of that same user must not read its
# /proc/PID/environ or /proc/PID/mem, and its core file size limit is 0.
# A plain process of that user serves as the control: the same reads
# succeed there, so the test would see a dumpable dfissue.
# Usage: test_process_harden.sh DFISSUE
set -euo pipefail
dfissue=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root to run the processes as another user (setpriv)"
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
chmod 755 "$tmp"
mkfifo -m 666 "$tmp/journal.log"
as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)

"${as_nobody[@]}" env SECRET_MARK=dfissue-env-marker "$dfissue" journal show "$tmp/journal.log" \
	>/dev/null 2>&1 &
pids+=($!)
victim=$!
"${as_nobody[@]}" env SECRET_MARK=control-env-marker sleep 60 &
pids+=($!)
control=$!
# Wait until both run as nobody (bounded).
for _ in $(seq 100); do
	[ "$(stat -c %u /proc/$control 2>/dev/null)" = 65534 ] &&
		grep -q "dfissue" "/proc/$victim/cmdline" 2>/dev/null && break
	sleep 0.05
done
sleep 0.2
grep -q dfissue "/proc/$victim/cmdline" || fail "dfissue did not start"

# control: same user reads a dumpable process's environment
"${as_nobody[@]}" cat "/proc/$control/environ" 2>/dev/null | tr '\0' '\n' |
	grep -q control-env-marker || fail "control: could not read a dumpable process's environ"
echo "control (sleep, dumpable): /proc/$control/environ readable by the same user"

if "${as_nobody[@]}" cat "/proc/$victim/environ" >/dev/null 2>&1; then
	fail "the same user read /proc/$victim/environ of a live dfissue"
fi
if "${as_nobody[@]}" dd if="/proc/$victim/mem" bs=1 count=1 skip=4096 status=none \
	>/dev/null 2>&1; then
	fail "the same user opened /proc/$victim/mem of a live dfissue"
fi
echo "dfissue: /proc/$victim/environ and /proc/$victim/mem refused to the same user"
core=$(awk '/^Max core file size/ {print $5, $6}' "/proc/$victim/limits")
[ "$core" = "0 0" ] || fail "core file size limit is '$core', expected 0 0"
echo "dfissue: core file size limit $core"
owner=$(stat -c %u "/proc/$victim/environ")
[ "$owner" = 0 ] || fail "/proc/$victim/environ belongs to uid $owner (dumpable processes' files belong to their user)"
echo "OK: process hardening"
