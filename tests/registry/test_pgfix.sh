#!/usr/bin/env bash
# The PostgreSQL test fixture itself (tests/common/pgfix.h, `pgfix run`):
# a private cluster on a Unix socket only, reachable with the password file
# it writes (SCRAM, no password anywhere else), stopped and started again
# from inside, and torn down by its watchdog when the test process is
# SIGKILLed: no server left running, no directory left behind.
set -euo pipefail
pgfix=${DFI_BUILD_DIR:?}/tests/pgfix
work=$(mktemp -d "${TMPDIR:-/tmp}/dfi-pgfix-XXXXXX")
bg=""
trap '[ -z "$bg" ] || kill -9 "$bg" 2>/dev/null || true; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v psql >/dev/null || fail "psql missing (tools/install-deps.sh installs postgresql)"

# inside: connect, restart, no TCP listener
"$pgfix" run -- bash -c '
	set -euo pipefail
	[ "$(psql "$DFI_PG_URL" -Atc "select 1")" = 1 ]
	[ "$(psql "$DFI_PG_URL" -Atc "show listen_addresses")" = "" ]
	# the password file is what authenticates: without it, no entry
	! PGPASSFILE=/dev/null psql "$DFI_PG_URL" -Atc "select 1" 2>/dev/null
	"$DFI_BUILD_DIR/tests/pgfix" stop
	! psql "$DFI_PG_URL" -Atc "select 1" 2>/dev/null
	"$DFI_BUILD_DIR/tests/pgfix" start
	[ "$(psql "$DFI_PG_URL" -Atc "select 2")" = 2 ]
	echo "$DFI_PG_DIR" >'"$work"'/dir1
' || fail "inside pgfix run"
d1=$(cat "$work/dir1")
[ ! -e "$d1" ] || fail "$d1 left behind after a normal run"
# Sanitizer builds (DFI_PGFIX_QUICK=1): the fixture's code ran above; its
# watchdog (a fork waiting on a pipe) is the release build's to test.
if [ "${DFI_PGFIX_QUICK:-0}" = 1 ]; then
	echo "OK: fixture run, stop, start, cleanup (watchdog sweep in the release build)"
	exit 0
fi

# the test process SIGKILLed: the watchdog cleans up
"$pgfix" run -- bash -c 'echo "$DFI_PG_DIR" >'"$work"'/dir2; head -n 3 "$DFI_PG_DIR/data/postmaster.pid" | head -n 1 >'"$work"'/pid2; exec sleep 120' >/dev/null 2>&1 &
bg=$!
for _ in $(seq 1 150); do [ -s "$work/pid2" ] && break; sleep 0.1; done
[ -s "$work/pid2" ] || fail "the fixture did not start within 15 s"
d2=$(cat "$work/dir2")
pm=$(cat "$work/pid2")
kill -0 "$pm" || fail "postmaster $pm not running"
kill -9 "$bg"
wait "$bg" 2>/dev/null || true
bg=""
for _ in $(seq 1 200); do
	if ! kill -0 "$pm" 2>/dev/null && [ ! -e "$d2" ]; then
		echo "OK: after SIGKILL the watchdog stopped postmaster $pm and removed $d2"
		exit 0
	fi
	sleep 0.1
done
fail "20 s after SIGKILL: postmaster $pm $(kill -0 "$pm" 2>/dev/null && echo running || echo gone), $d2 $([ -e "$d2" ] && echo present || echo gone)"
