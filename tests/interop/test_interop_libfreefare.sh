#!/usr/bin/env bash
# test_interop_libfreefare.sh MODEL LIBNFC_DIR — another host stack against
# desfire-sim: Debian's libfreefare-bin examples over libnfc's pcsc driver
# (built from Debian's source by build-libnfc.sh into LIBNFC_DIR), through a
# private pcscd with vsmartcard vpcd readers (tests/e2e/e2e_lib.sh), with
# the simulated card as model MODEL (ev1 or ev2). Also:
#   - interop_peer: the DESFire AID SELECT and native commands as
#     libfreefare's current source sends them (Debian's 0.4.0 predates the
#     SELECT), and SetConfiguration's ATS seen in the next activation's ATR;
#   - t4t_read: an NDEF message written by libfreefare, read back with the
#     Type 4 sequence a phone uses;
#   - a card personalized by dfissue read by mifare-desfire-info.
# No workaround on the client side: the examples run as shipped, answered
# only through their documented -y flag. Prints one line per example.
set -euo pipefail
model=$1
libnfc=$2
source "$(dirname "$0")/../e2e/e2e_lib.sh"

for b in mifare-desfire-info mifare-desfire-format mifare-desfire-create-ndef \
	mifare-desfire-write-ndef mifare-desfire-read-ndef mifare-desfire-access \
	mifare-desfire-ev1-configure-ats mifare-desfire-ev1-configure-default-key \
	mifare-desfire-ev1-configure-random-uid; do
	command -v "$b" >/dev/null || e2e_fail "$b missing: tools/install-deps.sh installs libfreefare-bin"
done
[ -e "$libnfc/lib/libnfc.so.6" ] || e2e_fail "no libnfc with the pcsc driver in $libnfc (build-libnfc.sh)"

e2e_init "interop-$model"
e2e_token
e2e_reader "FF"
ff_port=$E2E_PORT
e2e_card "$ff_port" --image "$E2E_DIR/ff.img" --model "$model" --uid 04FF0000000001 --seed 7
e2e_reader "DFI"
e2e_card "$E2E_PORT" --image "$E2E_DIR/dfi.img" --model "$model" --uid 04D10000000002 --seed 8
e2e_reader "PEER"
e2e_card "$E2E_PORT" --image "$E2E_DIR/peer.img" --model "$model" --uid 04EE0000000003 --seed 9
e2e_rig_start

passed=0
# run NAME READER CMD...: one libfreefare example on one reader, through
# libnfc's pcsc driver (no scan of other drivers or readers).
run() {
	local name=$1 reader=$2
	shift 2
	local out=$E2E_DIR/$name.out rc=0
	LD_LIBRARY_PATH=$libnfc/lib LIBNFC_AUTO_SCAN=false LIBNFC_DEFAULT_DEVICE="pcsc:$reader" \
		timeout 60 "$@" >"$out" 2>&1 </dev/null || rc=$?
	if [ "$rc" -ne 0 ]; then
		cat "$out" >&2
		e2e_fail "$name ($*) exited $rc"
	fi
	passed=$((passed + 1))
	e2e_log "pass: $name [$model] ($*)"
}
expect() { # NAME REGEX: the example's output shows it
	grep -qE "$2" "$E2E_DIR/$1.out" || {
		cat "$E2E_DIR/$1.out" >&2
		e2e_fail "$1: output lacks /$2/"
	}
}

ff="FF 00 00"
run info "$ff" mifare-desfire-info
expect info 'UID: +0x04ff0000000001'
expect info 'Master Key settings \(0x0f\)'
expect info 'Use random UID: no'
run format "$ff" mifare-desfire-format -y
run create-ndef "$ff" mifare-desfire-create-ndef -y
printf '\xd1\x01\x0cU\x04example.com' >"$E2E_DIR/msg.ndef"
run write-ndef "$ff" mifare-desfire-write-ndef -y -i "$E2E_DIR/msg.ndef"
run read-ndef "$ff" mifare-desfire-read-ndef -y -o "$E2E_DIR/back.ndef"
cmp -s "$E2E_DIR/msg.ndef" "$E2E_DIR/back.ndef" || e2e_fail "read-ndef gave another message"
# The phone's Type 4 sequence over plain PC/SC reads what libfreefare wrote.
"$E2E_BUILD/tests/t4t_read" "$ff" "$E2E_DIR/t4t.ndef" >"$E2E_DIR/t4t.out" 2>&1 ||
	{ cat "$E2E_DIR/t4t.out" >&2; e2e_fail "t4t_read failed"; }
cmp -s "$E2E_DIR/msg.ndef" "$E2E_DIR/t4t.ndef" || e2e_fail "t4t_read read another message"
passed=$((passed + 1))
e2e_log "pass: Type 4 read (t4t_read) of libfreefare's NDEF message [$model]"
run format2 "$ff" mifare-desfire-format -y
run access "$ff" mifare-desfire-access
run configure-ats "$ff" mifare-desfire-ev1-configure-ats -y
run configure-default-key "$ff" mifare-desfire-ev1-configure-default-key -y
run info2 "$ff" mifare-desfire-info
expect info2 'Use random UID: no'
run configure-random-uid "$ff" mifare-desfire-ev1-configure-random-uid -y
run info3 "$ff" mifare-desfire-info
expect info3 'Use random UID: yes'
# On a card already random, the example authenticates and reads the real
# UID with GetCardUID.
run configure-random-uid2 "$ff" mifare-desfire-ev1-configure-random-uid -y
expect configure-random-uid2 'Old card UID: 04ff0000000001'

# libfreefare's current connect (DESFire AID SELECT) and native sequence,
# then an ATS whose historical bytes (80 C1 05) the next activation shows.
"$E2E_BUILD/tests/interop_peer" "PEER 00 00" --ats 087877810280C105 >"$E2E_DIR/peer.out" 2>&1 ||
	{ cat "$E2E_DIR/peer.out" >&2; e2e_fail "interop_peer failed"; }
passed=$((passed + 1))
e2e_log "pass: interop_peer [$model]: $(grep -c '^ok' "$E2E_DIR/peer.out") steps"
atr() { # the ATR pcscd reports for the PEER reader
	"$E2E_DFISSUE" readers --json |
		awk '/"name": "PEER 00 00"/ {f = 1} f && /"atr"/ {gsub(/.*"atr": "|".*/, ""); print; exit}'
}
before=$(atr)
e2e_cards_signal USR1 # lift every card and tap it again: a new activation
sleep 1.5
e2e_wait_cards 3
after=$(atr)
e2e_log "ATR of the PEER card: $before before the tap, $after after"
[ "$after" = "3B83800180C10546" ] || e2e_fail "ATR after SetConfiguration 02 is '$after', expected 3B83800180C10546"
passed=$((passed + 1))

# A card dfissue personalized, read by mifare-desfire-info.
"$E2E_DFISSUE" personalize --profile "$E2E_SRC/profiles/reference.json" \
	--batch "$E2E_SRC/profiles/reference-batch.csv" --cards 1 "${E2E_HSM[@]}" \
	--reader "pcsc:DFI 00 00" --journal "$E2E_DIR/journal" --create-journal --station interop \
	>"$E2E_DIR/perso.out" 2>&1 || { cat "$E2E_DIR/perso.out" >&2; e2e_fail "dfissue personalize failed"; }
run info-dfissue "DFI 00 00" mifare-desfire-info
expect info-dfissue 'UID: +0x04d10000000002'
expect info-dfissue 'Master Key (settings|version)'
echo "interop [$model]: $passed passed, 0 failed"
