# shellcheck shell=bash
# e2e_lib.sh — sourced (bash) by the end-to-end tests and by tools/demo.sh.
#
# A private PC/SC world: pcscd with N vsmartcard vpcd readers and a
# desfire-sim card in each, all inside their own mount, network and PID
# namespaces (tests/e2e/rig.sh is PID 1 there), reached by `dfissue`
# through DIR/run/pcscd.comm. Every wait is bounded; e2e_cleanup (installed
# as the EXIT trap by e2e_workdir) kills the namespace even when a test fails,
# and removes the directory unless DFI_E2E_KEEP=1 or the run failed.
#
# Functions:
#   e2e_workdir NAME [DIR]  work dir E2E_DIR (DIR recreated, else a new temp
#                           dir) and its token (e2e_token), no pcscd
#   e2e_init NAME [DIR]     the same for a test with pcscd (skips without
#                           root, pcscd, vpcd or namespaces)
#   e2e_token               SoftHSM2 dev token in E2E_DIR/tok (E2E_HSM options)
#   e2e_reader NAME         adds a vpcd reader "NAME 00 00"; its port in E2E_PORT
#   e2e_card PORT ARGS...   a desfire-sim card for the reader on PORT
#   e2e_cards NAME N UID... N readers NAME-i, each with a card (below)
#   e2e_reference N         E2E_PROFILE and a batch of N rows, E2E_BATCH
#   e2e_rig_start           starts pcscd and the cards, waits for the socket
#                           and until every card is on its reader
#   e2e_wait_cards N        waits until N readers show a card
#   e2e_rig_stop            stops everything (the kernel kills the namespace)
#   e2e_rig_signal SIG      signals rig.sh (USR1: restart pcscd)
#   e2e_cards_signal SIG    signals every card (USR1: lift it and tap it again)
#   e2e_fail MSG            prints MSG and exits 1

E2E_SRC=${DFI_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
E2E_BUILD=${DFI_BUILD_DIR:-$E2E_SRC/build}
E2E_DFISSUE=$E2E_BUILD/bin/dfissue
E2E_SIM=$E2E_BUILD/bin/desfire-sim
E2E_RIG_PID=""
E2E_NEXT_PORT=35963

e2e_log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

e2e_fail() {
	echo "FAIL: $*" >&2
	exit 1
}

e2e_skip() {
	echo "SKIP: $*" >&2
	exit 77
}

e2e_rig_stop() {
	if [ -n "$E2E_RIG_PID" ]; then
		# unshare --kill-child: its death SIGKILLs the namespace's PID 1,
		# and with it every process of the namespace.
		# (unshare ignores SIGTERM while it waits for its child.)
		kill -9 "$E2E_RIG_PID" 2>/dev/null || true
		wait "$E2E_RIG_PID" 2>/dev/null || true
		E2E_RIG_PID=""
	fi
}

e2e_cleanup() {
	local rc=$?
	e2e_rig_stop
	if [ -n "${E2E_DIR:-}" ] && [ -d "$E2E_DIR" ]; then
		if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
			echo "--- logs of the failed run ($E2E_DIR) ---" >&2
			for f in "$E2E_DIR"/*.log; do
				[ -f "$f" ] || continue
				echo "--- $f (last 25 lines)" >&2
				tail -n 25 "$f" >&2
			done
		fi
		if [ "${DFI_E2E_KEEP:-0}" = 1 ] || { [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; }; then
			echo "kept $E2E_DIR" >&2
		else
			rm -rf "$E2E_DIR"
		fi
	fi
	exit "$rc"
}

# Namespaces available? A network namespace keeps vpcd's 0.0.0.0 listener
# private; without one (some containers) fall back to a mount+PID namespace
# and ports derived from our PID.
e2e_probe_ns() {
	E2E_UNSHARE=(unshare --mount --net --pid --fork --kill-child --mount-proc)
	if [ "${DFI_E2E_FORCE_NO_NETNS:-0}" != 1 ] &&
		"${E2E_UNSHARE[@]}" sh -c 'ip link set lo up' 2>/dev/null; then
		export DFI_E2E_NO_NETNS=0
		return 0
	fi
	E2E_UNSHARE=(unshare --mount --pid --fork --kill-child --mount-proc)
	if "${E2E_UNSHARE[@]}" true 2>/dev/null; then
		export DFI_E2E_NO_NETNS=1
		E2E_NEXT_PORT=$((20000 + ($$ % 2000) * 16))
		return 0
	fi
	return 1
}

# The work directory E2E_DIR (DIR recreated, else a new temp dir; removed
# by the EXIT trap unless the run failed or DFI_E2E_KEEP=1) with the dev
# token in it: what every test starts from, with or without pcscd.
e2e_workdir() {
	local name=$1
	for b in "$E2E_DFISSUE" "$E2E_SIM"; do
		[ -x "$b" ] || e2e_fail "$b missing: build first"
	done
	if [ -n "${2:-}" ]; then
		rm -rf "$2"
		mkdir -p "$2"
		E2E_DIR=$(cd "$2" && pwd)
	else
		E2E_DIR=$(mktemp -d "${TMPDIR:-/tmp}/dfissue-e2e-$name-XXXXXX")
	fi
	chmod 755 "$E2E_DIR"
	trap e2e_cleanup EXIT
	trap 'exit 1' INT TERM
	e2e_token
}

e2e_init() {
	local name=$1
	[ "$(id -u)" = 0 ] || e2e_skip "needs root (pcscd in private namespaces)"
	command -v pcscd >/dev/null || e2e_skip "pcscd not installed"
	[ -f /usr/lib/pcsc/drivers/serial/libifdvpcd.so ] || e2e_skip "vsmartcard-vpcd not installed"
	e2e_probe_ns || e2e_skip "cannot create mount/PID namespaces here"
	e2e_workdir "$name" "${2:-}"
	mkdir -p "$E2E_DIR/conf" "$E2E_DIR/run"
	: >"$E2E_DIR/conf/vpcd"
	: >"$E2E_DIR/sims"
	export PCSCLITE_CSOCK_NAME=$E2E_DIR/run/pcscd.comm
}

# Made once per work directory (e2e_workdir makes it; a second call keeps it).
e2e_token() {
	[ -z "${E2E_HSM+set}" ] || return 0
	bash "$E2E_SRC/hsm-config/make-dev-token.sh" "$E2E_DIR/tok" "$E2E_DFISSUE" \
		>"$E2E_DIR/token.log" 2>&1 || e2e_fail "make-dev-token.sh (see token.log)"
	export SOFTHSM2_CONF=$E2E_DIR/tok/softhsm2.conf
	E2E_HSM=(--token pkcs11:token=dfissue-dev --pin-file "$E2E_DIR/tok/user.pin")
}

e2e_reader() {
	local name=$1 port=$E2E_NEXT_PORT
	# shellcheck disable=SC2034 # read by the tests: the port of the reader just made
	E2E_PORT=$port
	# vpcd opens two slots per entry, on PORT and PORT+1.
	E2E_NEXT_PORT=$((E2E_NEXT_PORT + 2))
	# libifdvpcd keeps its connections in static arrays indexed by slot
	# (Lun & 0xffff), and pcscd loads a driver path once for all entries
	# naming it: two entries with one LIBPATH share slot 0, and the last
	# card connected answers in every reader. A copy of the driver per
	# reader gives each its own state (and its own pcscd driver lock).
	local drv=$E2E_DIR/drivers/libifdvpcd-$port.so
	mkdir -p "$E2E_DIR/drivers"
	cp /usr/lib/pcsc/drivers/serial/libifdvpcd.so "$drv"
	cat >>"$E2E_DIR/conf/vpcd" <<CONF
FRIENDLYNAME "$name"
DEVICENAME /dev/null:$port
LIBPATH $drv
CHANNELID $port

CONF
}

e2e_card() {
	local port=$1
	shift
	echo "--vpcd 127.0.0.1:$port --no-fsync $*" >>"$E2E_DIR/sims"
}

# e2e_cards NAME N UID ARGS...: N readers "NAME-i 00 00", each with a card
# of UID UIDi (UID: the first 13 hex digits), seed i and image
# E2E_DIR/NAME-i.img, and ARGS for desfire-sim.
e2e_cards() {
	local name=$1 n=$2 uid=$3 i
	shift 3
	for i in $(seq 1 "$n"); do
		e2e_reader "$name-$i"
		e2e_card "$E2E_PORT" --image "$E2E_DIR/$name-$i.img" --uid "$uid$i" --seed "$i" "$@"
	done
}

# e2e_poll TRIES PAUSE PID WHY CMD...: until CMD succeeds, at most TRIES
# times PAUSE seconds apart and while the process PID (whose work CMD waits
# for) lives; else the test fails saying WHY. A bounded wait, not a hang.
e2e_poll() {
	local tries=$1 pause=$2 pid=$3 why=$4 i=0
	shift 4
	until "$@"; do
		i=$((i + 1))
		if [ $i -gt "$tries" ] || ! kill -0 "$pid" 2>/dev/null; then
			e2e_fail "$why"
		fi
		sleep "$pause"
	done
}

# Starts the rig (pcscd and one desfire-sim per line of E2E_DIR/sims) and
# waits until all those cards are present: what a test does first with the
# readers and cards it declared (e2e_reader, e2e_card, e2e_cards).
e2e_rig_start() {
	"${E2E_UNSHARE[@]}" bash "$E2E_SRC/tests/e2e/rig.sh" "$E2E_DIR" "$E2E_SIM" \
		>"$E2E_DIR/rig.log" 2>&1 &
	E2E_RIG_PID=$!
	e2e_poll 100 0.1 "$E2E_RIG_PID" "pcscd did not start within 10 s (see pcscd.log, rig.log)" \
		e2e_rig_up
	e2e_wait_cards "$(grep -c . "$E2E_DIR/sims" || true)"
}

e2e_rig_up() { [ -S "$E2E_DIR/run/pcscd.comm" ] && [ -e "$E2E_DIR/rig.up" ]; }

# Prints the number of readers holding a card.
e2e_cards_present() {
	"$E2E_DFISSUE" readers 2>/dev/null | grep -c ': card present' || true
}

e2e_wait_cards() {
	local want=$1 i=0 have=0
	while :; do
		have=$(e2e_cards_present)
		[ "$have" -ge "$want" ] && return 0
		i=$((i + 1))
		[ $i -le 100 ] || e2e_fail "only $have of $want cards present after 20 s"
		sleep 0.2
	done
}

# e2e_intents DIR: the intent records (key changes begun) in the journal
# in DIR so far.
e2e_intents() {
	local c
	c=$(grep -c ' type=intent ' "$1/journal.log" 2>/dev/null) || true
	echo "${c:-0}"
}

# e2e_wait_intents DIR N PID: until the journal in DIR holds N intents, while
# PID (the personalize run) lives; 30 s at most, polled every 10 ms: a
# slower poll on a loaded machine let slow cards finish before the test
# could interrupt them (a run with nothing interrupted tests nothing).
e2e_wait_intents() {
	e2e_poll 3000 0.01 "$3" "no key change journaled within 30 s (or personalize ended early)" \
		e2e_intents_reach "$1" "$2"
}

e2e_intents_reach() { [ "$(e2e_intents "$1")" -ge "$2" ]; }

# Sends a signal to rig.sh (PID 1 of the namespace): USR1 restarts pcscd.
e2e_rig_signal() {
	local rig
	rig=$(cat "/proc/$E2E_RIG_PID/task/$E2E_RIG_PID/children" 2>/dev/null | awk '{print $1}')
	[ -n "$rig" ] || e2e_fail "rig process not found"
	kill -"$1" "$rig"
}

# A field of a compact JSON object line: e2e_field LINE NAME.
e2e_field() { sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p" <<<"$1"; }

# e2e_check_card JSONL UID IMAGE PROFILE BATCH: the card's result line says
# done or resumed, and the committed image holds the profile's target state
# for the batch row it got (BATCH "" for a profile without batch) (`dfissue inspect` on the image: no step left).
# Sets E2E_OUTCOME and E2E_TAPS.
e2e_check_card() {
	local out=$1 uid=$2 img=$3 prof=$4 batch=$5 line bline row
	line=$(grep "\"uid\":\"$uid\"" "$out") || e2e_fail "no result for card $uid"
	E2E_OUTCOME=$(e2e_field "$line" outcome)
	E2E_TAPS=$(e2e_field "$line" taps)
	case "$E2E_OUTCOME" in
	done | resumed) ;;
	*) e2e_fail "card $uid ended $E2E_OUTCOME: $line" ;;
	esac
	local rowopt=()
	row=-
	if [ -n "$batch" ]; then
		bline=$(e2e_field "$line" batch_line)
		row=$((bline - 1)) # one header line, one line per row
		rowopt=(--batch "$batch" --row "$row")
	fi
	"$E2E_DFISSUE" inspect --reader "sim:$img" --profile "$prof" "${rowopt[@]}" \
		"${E2E_HSM[@]}" >"$img.inspect.log" 2>&1 ||
		e2e_fail "inspect of $img failed: $(cat "$img.inspect.log")"
	grep -q 'remaining steps: 0' "$img.inspect.log" ||
		e2e_fail "card $uid (batch row $row) is not in the target state: $(cat "$img.inspect.log")"
	e2e_log "card $uid: $E2E_OUTCOME in $E2E_TAPS tap(s)," \
		"$(e2e_field "$line" intents_resolved) intent(s) resolved, batch row $row, nothing left to do"
}

# e2e_check_journal: verifies E2E_DIR/journal with the public key alone; no
# unresolved intent may remain.
e2e_check_journal() {
	"$E2E_DFISSUE" journal verify --pubkey "$E2E_DIR/tok/journal.pub.pem" "$E2E_DIR/journal" \
		>"$E2E_DIR/verify.log" 2>&1 || e2e_fail "journal verify: $(cat "$E2E_DIR/verify.log")"
	cat "$E2E_DIR/verify.log" >&2
	grep -q ' 0 unresolved' "$E2E_DIR/verify.log" || e2e_fail "unresolved intents left"
}

# e2e_reference N: the profile most tests personalize cards with,
# E2E_PROFILE (profiles/reference.json), and a batch of N rows for it,
# E2E_BATCH (in E2E_DIR).
e2e_reference() {
	# shellcheck disable=SC2034 # read by the tests
	E2E_PROFILE=$E2E_SRC/profiles/reference.json
	E2E_BATCH=$E2E_DIR/batch.csv
	e2e_batch "$E2E_BATCH" "$1"
}

# e2e_batch FILE N: N rows for profiles/reference.json.
e2e_batch() {
	{
		echo "card_number:int,holder,secret_id:hex,site_code:hex"
		for i in $(seq 1 "$2"); do
			printf '%d,Holder %d,0011223344556677889900AABBCC%04X,53495445%08X\n' \
				$((2000 + i)) "$i" "$i" "$i"
		done
	} >"$1"
}

# Sends a signal to every desfire-sim of the rig (USR1: lift the card and
# tap it again).
e2e_cards_signal() {
	local rig c
	rig=$(cat "/proc/$E2E_RIG_PID/task/$E2E_RIG_PID/children" 2>/dev/null | awk '{print $1}')
	[ -n "$rig" ] || e2e_fail "rig process not found"
	for c in $(cat "/proc/$rig/task/$rig/children"); do
		if grep -q desfire-sim "/proc/$c/cmdline" 2>/dev/null; then
			kill -"$1" "$c"
		fi
	done
}
