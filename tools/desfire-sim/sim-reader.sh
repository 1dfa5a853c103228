#!/bin/sh
# sim-reader.sh — a simulated DESFire card in a virtual PC/SC reader.
#
# Starts a private pcscd (its own /run/pcscd through a mount namespace, so
# it never meets the system's pcscd) with one vsmartcard vpcd reader, and
# desfire-sim connected to it. PC/SC programs reach it with
#   export PCSCLITE_CSOCK_NAME=DIR/run/pcscd.comm
# (pcscd 1.9.9 ignores that variable itself; the client library honours it).
# Runs until interrupted; stops both processes on exit. Needs root (mount
# namespace) and the pcscd, vsmartcard-vpcd and util-linux packages.
#
# Usage: sim-reader.sh [--dir DIR] [--port PORT] [--name NAME] [--readers N]
#                      [-- desfire-sim options]
#   default desfire-sim options: --image DIR/card.img (card-I.img with N > 1)
#   --readers N: N readers "NAME-I 00 00" (I = 1..N) on ports PORT, PORT+2, ...
#   each with its own card DIR/card-I.img (extra options, without --image,
#   go to every desfire-sim)
set -eu

dir="" port=35963 name="dfissue-sim" readers=1
usage() {
	sed -n '2,18p' "$0" | grep -v '^set ' | sed 's/^# \{0,1\}//'
}
while [ $# -gt 0 ]; do
	case "$1" in
	--dir) dir=$2; shift 2 ;;
	--port) port=$2; shift 2 ;;
	--name) name=$2; shift 2 ;;
	--readers) readers=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	--) shift; break ;;
	*) echo "sim-reader.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
case "$port" in
''|*[!0-9]*) echo "sim-reader.sh: --port needs a number, got '$port'" >&2; exit 2 ;;
esac
case "$readers" in
''|*[!0-9]*|0) echo "sim-reader.sh: --readers needs a positive number, got '$readers'" >&2; exit 2 ;;
esac
if [ "$(id -u)" != 0 ]; then
	echo "sim-reader.sh: needs root to give pcscd a private /run/pcscd" >&2
	exit 1
fi
here=$(cd "$(dirname "$0")" && pwd)
sim=${DESFIRE_SIM:-}
if [ -z "$sim" ]; then
	for c in "$here/../../build/bin/desfire-sim" "$(command -v desfire-sim || true)"; do
		if [ -n "$c" ] && [ -x "$c" ]; then sim=$c; break; fi
	done
fi
if [ -z "$sim" ]; then
	echo "sim-reader.sh: desfire-sim not found: build it or set DESFIRE_SIM" >&2
	exit 1
fi
driver=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
[ -f "$driver" ] || { echo "sim-reader.sh: $driver missing (vsmartcard-vpcd)" >&2; exit 1; }
[ -n "$dir" ] || dir=$(mktemp -d /tmp/dfissue-sim-XXXXXX)
mkdir -p "$dir/conf" "$dir/run"
: > "$dir/conf/vpcd"
i=1
while [ $i -le "$readers" ]; do
	p=$((port + 2 * (i - 1)))
	rn=$name drv=$driver
	[ "$readers" -eq 1 ] || rn="$name-$i"
	# libifdvpcd keeps its connections in static per-slot arrays and pcscd
	# loads one instance per LIBPATH: entries sharing a LIBPATH share one
	# card. A copy of the driver per reader keeps them apart.
	if [ "$readers" -gt 1 ]; then
		mkdir -p "$dir/drivers"
		drv="$dir/drivers/libifdvpcd-$i.so"
		cp "$driver" "$drv"
	fi
	# vpcd opens two slots per entry, on p and p+1.
	cat >> "$dir/conf/vpcd" <<CONF
FRIENDLYNAME "$rn"
DEVICENAME /dev/null:$p
LIBPATH $drv
CHANNELID $p

CONF
	i=$((i + 1))
done

pcscd_pid="" sim_pid=""
cleanup() {
	for p in $sim_pid $pcscd_pid; do
		kill "$p" 2>/dev/null || true
	done
	for p in $sim_pid $pcscd_pid; do
		wait "$p" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap 'exit 0' INT TERM

rm -f "$dir/run/pcscd.comm"
unshare -m sh -c "mkdir -p /run/pcscd && mount --bind '$dir/run' /run/pcscd && exec pcscd -f -c '$dir/conf'" \
	> "$dir/pcscd.log" 2>&1 &
pcscd_pid=$!
i=0
while [ ! -S "$dir/run/pcscd.comm" ]; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$pcscd_pid" 2>/dev/null; then
		echo "sim-reader.sh: pcscd did not start (see $dir/pcscd.log)" >&2
		exit 1
	fi
	sleep 0.1
done
i=1
while [ $i -le "$readers" ]; do
	p=$((port + 2 * (i - 1)))
	if [ "$readers" -eq 1 ]; then rn=$name img="$dir/card.img"; else rn="$name-$i" img="$dir/card-$i.img"; fi
	if [ "$readers" -gt 1 ]; then
		"$sim" --vpcd "127.0.0.1:$p" --image "$img" "$@" &
	elif [ $# -gt 0 ]; then
		"$sim" --vpcd "127.0.0.1:$p" "$@" &
	else
		"$sim" --vpcd "127.0.0.1:$p" --image "$img" &
	fi
	sim_pid="$sim_pid $!"
	echo "reader \"$rn 00 00\" is up"
	i=$((i + 1))
done
echo "in another shell:"
echo "  export PCSCLITE_CSOCK_NAME=$dir/run/pcscd.comm"
for p in $sim_pid; do
	wait "$p" || true
done
