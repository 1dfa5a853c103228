#!/usr/bin/env bash
# rig.sh DIR — the reader side of an end-to-end run, meant to be PID 1 of
# its own mount, network and PID namespaces (e2e_lib.sh starts it with
# `unshare --mount --net --pid --fork --kill-child`):
#   - loopback up: vpcd listens on 0.0.0.0:PORT, and inside a private network
#     namespace that reaches nothing but this namespace's loopback;
#   - DIR/run bind-mounted on /run/pcscd: pcscd 1.9.9 ignores
#     PCSCLITE_CSOCK_NAME and always uses /run/pcscd; clients outside reach
#     it through DIR/run/pcscd.comm (a path socket crosses network namespaces);
#   - pcscd -f -c DIR/conf (vpcd reader entries written by the caller);
#   - one desfire-sim per line of DIR/sims (the line is its argument list).
# When this process dies every process of the namespace is killed by the
# kernel, so nothing can outlive a failed test.
# SIGUSR1 restarts pcscd (for the pcscd-restart test); SIGTERM stops all.
set -u
dir=$1
sim=$2

if [ "${DFI_E2E_NO_NETNS:-0}" != 1 ]; then
	ip link set lo up || { echo "rig: cannot bring up loopback" >&2; exit 1; }
fi
mkdir -p /run/pcscd
mount --bind "$dir/run" /run/pcscd || { echo "rig: bind mount failed" >&2; exit 1; }

pcscd_pid=""
start_pcscd() {
	rm -f "$dir/run/pcscd.comm" "$dir/run/pcscd.pid"
	# DFI_E2E_PCSCD_ARGS: e.g. --apdu, for a test that reads what reached the cards.
	# shellcheck disable=SC2086 # an argument list
	pcscd -f ${DFI_E2E_PCSCD_ARGS:-} -c "$dir/conf" >>"$dir/pcscd.log" 2>&1 &
	pcscd_pid=$!
}
stop_all() {
	local pids
	mapfile -t pids < <(jobs -p)
	[ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
	wait 2>/dev/null
	exit 0
}
restart_pcscd() {
	echo "rig: restarting pcscd" >>"$dir/pcscd.log"
	kill "$pcscd_pid" 2>/dev/null
	wait "$pcscd_pid" 2>/dev/null
	# restart-pause: seconds pcscd stays down (stations meet a dead pcscd,
	# not only readers that vanish and come back).
	[ ! -s "$dir/restart-pause" ] || sleep "$(cat "$dir/restart-pause")"
	start_pcscd
	: >"$dir/restarted"
}
trap stop_all TERM INT
trap restart_pcscd USR1

start_pcscd
i=0
while IFS= read -r line; do
	[ -n "$line" ] || continue
	i=$((i + 1))
	# shellcheck disable=SC2086 # the line is an argument list
	"$sim" $line >"$dir/sim-$i.log" 2>&1 &
done <"$dir/sims"
: >"$dir/rig.up"
# Wake up for signals: wait returns early when one arrives (a signal that
# comes during the sleep waits for it: keep it short).
while :; do
	wait
	sleep 0.02
done
