#!/usr/bin/env bash
# tools/bench.sh — builds the release tree and runs every benchmark, printing
# one table (markdown) with the machine it ran on. docs/PERFORMANCE.md holds a
# run of it.
#
# Usage: tools/bench.sh [--quick] [--build DIR] [--no-pcsc] [--rounds N]
#   --quick     small sizes (a minute): checks that everything runs
#   --build DIR build tree (default build/, RelWithDebInfo as tools/test.sh)
#   --no-pcsc   skip the pcscd+vpcd scaling rows (they need root)
#   --rounds N  pcscd+vpcd rounds per reader count (one card per reader
#               per round; default 3)
# Benchmarks are programs that print what they measured (tests/bench/);
# nothing here passes or fails on speed. Exit status 1 only when a
# benchmark itself failed (a card that did not end done, a build error).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD

build=build quick=0 pcsc=1 rounds=3
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1; shift ;;
	--build) build=$2; shift 2 ;;
	--no-pcsc) pcsc=0; shift ;;
	--rounds) rounds=$2; shift 2 ;;
	-h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
case "$rounds" in ''|*[!0-9]*|0) echo "bench.sh: --rounds needs a positive number" >&2; exit 2 ;; esac

if [ -x tools/install-deps.sh ] || [ -f tools/install-deps.sh ]; then
	bash tools/install-deps.sh >/dev/null
fi
jobs=$(nproc 2>/dev/null || echo 2)
echo "building $build (RelWithDebInfo) ..." >&2
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$jobs" --target bench_perso bench_journal bench_registry dfissue-cli desfire-sim >/dev/null
bin=$src/$build
case "$build" in /*) bin=$build ;; esac

export SOFTHSM2_MODULE=${SOFTHSM2_MODULE:-$(ls /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so 2>/dev/null | head -n 1)}
tmp=$(mktemp -d /tmp/dfi-bench-sh.XXXXXX)
shm=""
[ -d /dev/shm ] && shm=$(mktemp -d /dev/shm/dfi-bench-sh.XXXXXX)
reader_pids=""
stop_readers() {
	local p
	for p in $reader_pids; do kill "$p" 2>/dev/null || true; done
	for p in $reader_pids; do wait "$p" 2>/dev/null || true; done
	reader_pids=""
}
cleanup() {
	stop_readers
	rm -rf "$tmp"
	[ -z "$shm" ] || rm -rf "$shm"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
"$src/hsm-config/make-dev-token.sh" "$tmp/token" "$bin/bin/dfissue" >/dev/null </dev/null
status=0

if [ "$quick" = 1 ]; then
	perso_args=(--cards 20 --datasheet-cards 2 --per-reader 1 --tear-stride 7)
	mem_args=(--mem-cards 200 --mem-readers 16)
	journal_args=(--records 20000 --appends 200)
	[ "$rounds" = 3 ] && rounds=1
else
	perso_args=(--cards 300 --datasheet-cards 10 --per-reader 4)
	mem_args=(--mem-cards 1000 --mem-readers 16)
	journal_args=(--records 1000000 --appends 2000)
fi

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/^MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo)
echo "## dfissue benchmarks"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "- machine: $(nproc) CPU(s), $cpu, $mem RAM, $(uname -sr)"
echo "- load at start: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min)"
echo "- command: tools/bench.sh $([ "$quick" = 1 ] && echo --quick)"
echo
echo "| part | figure | value |"
echo "|---|---|---|"

run_perso() {
	if ! "$bin/bench/bench_perso" --hsm-dir "$tmp/token" --dir "$tmp" "$@"; then
		status=1
	fi
}
run_perso --parts zero,datasheet,scale,tear "${perso_args[@]}"
# The same single-reader runs with the journal on tmpfs: what fdatasync costs.
if [ -n "$shm" ]; then
	"$bin/bench/bench_perso" --hsm-dir "$tmp/token" --dir "$shm" --parts zero,datasheet \
		--tag " (journal on tmpfs)" "${perso_args[@]}" | grep -v -e '| cards |' -e 'minimum APDUs' \
		-e 'ChangeKey per card' -e 'bytes over the air' -e 'modeled card time' || status=1
fi
# A slower disk: 4 ms added to every journal fdatasync (the engine signs and
# syncs the next intent while the card works, so the host share should not
# move).
"$bin/bench/bench_perso" --hsm-dir "$tmp/token" --dir "$tmp" --parts datasheet --fsync-delay-ms 4 \
	--tag " (fdatasync +4 ms)" "${perso_args[@]}" | grep -e 'wall ms' -e 'host share' -e 'fdatasync per card' || status=1
# A process of its own, so that ru_maxrss is this run's peak.
run_perso --parts mem "${mem_args[@]}"

# ---- 1..16 readers through pcscd + vpcd -------------------------------------------
pcsc_row() { echo "| pcsc | $1 | $2 |"; }
readers_up() { # count of "NAME-i 00 00" readers with a card
	PCSCLITE_CSOCK_NAME=$1 "$bin/bin/dfissue" readers 2>/dev/null | grep -c '00 00: card present' || true
}
if [ "$pcsc" = 1 ] && [ "$(id -u)" != 0 ]; then
	pcsc_row "1..16 readers pcscd+vpcd" "n/a (needs root for a private pcscd)"
elif [ "$pcsc" = 1 ]; then
	base_cpm=""
	# Below the kernel's ephemeral range (32768 and up by default): there an
	# outgoing connection of one simulator may hold a port another pcscd's
	# vpcd reader needs. Each round takes 74 ports (--rounds 3: 222).
	port=$((20000 + ($$ % 100) * 100))
	# pcsc-lite holds 16 reader slots and vpcd takes 2 per reader, so one
	# pcscd carries at most 8 vpcd readers: 16 readers are two private pcscd
	# with 8 each, driven by two bench_perso processes at once (a PC/SC
	# client process talks to one pcscd). Real readers take one slot each.
	per_pcscd=8
	for n in 1 2 4 8 16; do
		cards=0 secs=0 note=""
		groups=$(( (n + per_pcscd - 1) / per_pcscd ))
		for r in $(seq 1 "$rounds"); do
			d=$tmp/pcsc-$n-$r
			for g in $(seq 1 "$groups"); do
				k=$(( n - (g - 1) * per_pcscd ))
				[ "$k" -le "$per_pcscd" ] || k=$per_pcscd
				mkdir -p "$d/g$g"
				DESFIRE_SIM=$bin/bin/desfire-sim setsid "$src/tools/desfire-sim/sim-reader.sh" --dir "$d/g$g" \
					--port "$port" --name bench --readers "$k" -- --timing datasheet --no-fsync -q \
					>"$d/g$g/sim-reader.log" 2>&1 &
				reader_pids="$reader_pids $!"
				echo "$k" >"$d/g$g/want"
				port=$((port + 2 * k + 2))
			done
			up=0
			for _ in $(seq 1 100); do
				up=0
				for g in $(seq 1 "$groups"); do
					[ -S "$d/g$g/run/pcscd.comm" ] || continue
					u=$(readers_up "$d/g$g/run/pcscd.comm")
					[ "$u" -le "$(cat "$d/g$g/want")" ] || u=$(cat "$d/g$g/want")
					up=$((up + u))
				done
				[ "$up" -ge "$n" ] && break
				sleep 0.2
			done
			if [ "$up" -lt "$n" ]; then
				note="only $up of $n readers came up"
			else
				# Processes started one second apart (SoftHSM2 may miss its
				# token when two processes load it at the same instant), their
				# cards all at once (--start-at).
				bpids="" start=()
				[ "$groups" = 1 ] || start=(--start-at "$(( $(date +%s) + groups + 2 ))")
				for g in $(seq 1 "$groups"); do
					[ "$g" = 1 ] || sleep 1
					PCSCLITE_CSOCK_NAME=$d/g$g/run/pcscd.comm timeout 600 "$bin/bench/bench_perso" \
						--hsm-dir "$tmp/token" --dir "$tmp" --parts pcsc --pcsc bench "${start[@]}" \
						>"$d/g$g/bench.out" 2>"$d/g$g/bench.err" &
					bpids="$bpids $!"
				done
				for p in $bpids; do wait "$p" || true; done
				for g in $(seq 1 "$groups"); do
					raw=$(sed -n 's/.*\[raw \([0-9]*\) \([0-9]*\) \([0-9.]*\)\].*/\1 \2 \3/p' "$d/g$g/bench.out")
					if [ -z "$raw" ] || [ "$(cut -d' ' -f1 <<<"$raw")" != "$(cut -d' ' -f2 <<<"$raw")" ]; then
						note="failed: $(tail -n 1 "$d/g$g/bench.err" 2>/dev/null)"
						status=1
						break
					fi
					cards=$((cards + $(cut -d' ' -f2 <<<"$raw")))
					# The groups ran at once: the round took the longest one.
					rsecs=$(awk -v a="${rsecs:-0}" -v b="$(cut -d' ' -f3 <<<"$raw")" 'BEGIN { print (b > a ? b : a) }')
				done
				secs=$(awk -v a="$secs" -v b="${rsecs:-0}" 'BEGIN { print a + b }')
				rsecs=0
			fi
			stop_readers
			[ -n "$note" ] && break
		done
		fig=$(printf '%2d reader%s pcscd+vpcd, timing model' "$n" "$([ "$n" = 1 ] || echo s)")
		[ "$groups" = 1 ] || fig="$fig ($groups pcscd x $per_pcscd readers, $groups processes)"
		if [ -n "$note" ]; then
			pcsc_row "$fig" "n/a ($note)"
			continue
		fi
		cpm=$(awk -v c="$cards" -v s="$secs" 'BEGIN { printf "%.0f", 60 * c / s }')
		[ -n "$base_cpm" ] || base_cpm=$cpm
		pcsc_row "$fig" "$(awk -v c="$cpm" -v b="$base_cpm" -v k="$cards" -v s="$secs" -v r="$rounds" \
			'BEGIN { printf "%d cards/min, x%.2f of 1 reader (%d cards in %.1f s over %d round(s))", c, c / b, k, s, r }')"
	done
fi

# ---- many stations on one PostgreSQL registry (tests/bench/bench_registry.c) ------------
if [ "$quick" = 1 ]; then
	registry_args=(--stations 2 --readers 2 --per-reader 1)
else
	registry_args=(--stations 4 --readers 8 --per-reader 12)
fi
"$bin/bench/bench_registry" --hsm-dir "$tmp/token" "${registry_args[@]}" 2>"$tmp/registry.err" |
	grep '^| registry' || { status=1; tail -n 5 "$tmp/registry.err" >&2; }

# ---- journal (tests/bench/bench_journal.c prints "figure: value" lines) -------------
if ! "$bin/bench/bench_journal" --hsm-dir "$tmp/token" --dir "$tmp" "${journal_args[@]}" >"$tmp/journal.out" 2>"$tmp/journal.err"; then
	status=1
	sed 's/^/bench_journal: /' "$tmp/journal.err" >&2
fi
awk '/^journal benchmark/ { next }
	{ i = index($0, ": "); if (i == 0) next;
	  printf "| journal | %s | %s |\n", substr($0, 1, i - 1), substr($0, i + 2) }' "$tmp/journal.out"
echo
echo "- load at end: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min)"
exit "$status"
