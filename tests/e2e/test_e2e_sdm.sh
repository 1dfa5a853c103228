#!/usr/bin/env bash
# Secure Dynamic Messaging through pcscd + vpcd (issue 20): a simulated
# DESFire EV3 (desfire-sim --model ev3) personalized with
# profiles/ev3-reference.json; a second run plans nothing; then taps read as
# a phone reads them (`dfissue sdm read`, no key) are checked by
# `dfissue sdm verify` with the file-read key derived in the HSM: a fresh
# tap is accepted, the same tap again (replay), an altered MAC or UID, and
# an older tap (counter not above the last seen, the state file) refused.
set -euo pipefail
. "$(dirname "$0")/e2e_lib.sh"

e2e_init sdm
prof=$E2E_SRC/profiles/ev3-reference.json
batch=$E2E_DIR/batch.csv
uid=04A07A000000E3
reader='pcsc:sdm-1 00 00'
e2e_batch "$batch" 1
e2e_reader sdm-1
e2e_card "$E2E_PORT" --image "$E2E_DIR/card.img" --uid "$uid" --seed 20 --model ev3 -q
e2e_rig_start

run() { # OUT: the card through the reader
	timeout 60 "$E2E_DFISSUE" personalize --profile "$prof" --batch "$batch" "${E2E_HSM[@]}" \
		--reader "$reader" --journal "$E2E_DIR/journal" --create-journal --station e2e \
		--cards 1 --wait-ms 20000 --json -v >"$1" 2>>"$E2E_DIR/personalize.log" ||
		e2e_fail "personalize exited $? (personalize.log)"
	cat "$1" >&2
}
field() { e2e_field "$(grep "\"uid\":\"$uid\"" "$1")" "$2"; }

run "$E2E_DIR/issue.jsonl"
[ "$(field "$E2E_DIR/issue.jsonl" outcome)" = "done" ] || e2e_fail "the EV3 card was not issued"
grep -q 'set SDM of file 1 in F54030' "$E2E_DIR/personalize.log" ||
	e2e_fail "no SDM step in the plan (personalize.log)"
grep -q 'SDM file 1 of F54030: a read without a key verifies (counter 1)' \
	"$E2E_DIR/personalize.log" || e2e_fail "the verification did not check an SDM read"
run "$E2E_DIR/again.jsonl"
[ "$(field "$E2E_DIR/again.jsonl" outcome)" = "done" ] || e2e_fail "second run not done"
[ "$(field "$E2E_DIR/again.jsonl" steps_total)" = 0 ] || e2e_fail "second run planned steps"
# LRP (the profile's "secure_messaging": "lrp"): switched once, as a
# committed change record; the second run found the card in LRP mode.
grep -q 'step [0-9]*/[0-9]*: switch the card to LRP mode (irreversible)' "$E2E_DIR/personalize.log" ||
	e2e_fail "no LRP switch in the plan (personalize.log)"
[ "$(grep -c 'LRP probe: the card is in LRP mode' "$E2E_DIR/personalize.log")" -ge 1 ] ||
	e2e_fail "the second run did not find the card in LRP mode"
grep -q " type=change uid=$uid aid=000000 what=lrp target=00000000020000000000 " \
	"$E2E_DIR/journal/journal.log" || e2e_fail "no LRP change record in the journal"

tap() { # a phone's read: prints the URL
	timeout 30 "$E2E_DFISSUE" sdm read --reader "$reader" --aid F54030 --file 1 ||
		e2e_fail "sdm read exited $?"
}
verify() { # TAP WANT-STATUS
	local rc=0
	timeout 30 "$E2E_DFISSUE" sdm verify --lrp --template 'https://tap.example/c?uid={uid}&ctr={ctr}&m={mac}' \
		--file-key 'pkcs11:object=app2-master;type=secret-key' \
		--file-div uid,aid,hex:11,sysid:4E585020416275 --aid F54030 \
		--state "$E2E_DIR/sdm.state" "${E2E_HSM[@]}" "$1" >"$E2E_DIR/verify.out" \
		2>>"$E2E_DIR/verify.log" || rc=$?
	cat "$E2E_DIR/verify.out" >&2
	[ "$rc" = "$2" ] || e2e_fail "sdm verify exited $rc, expected $2: $1"
}

t1=$(tap)
t2=$(tap)
case "$t1" in
"https://tap.example/c?uid=$uid&ctr="*) ;;
*) e2e_fail "the tap is not the template's URL with the card's UID: $t1" ;;
esac
# The issue's verification read counter 1; the second run read nothing
# (the journal shows the application verified with this profile digest).
verify "$t1" 0
grep -qx "sdm verify: accepted: uid $uid counter 2" "$E2E_DIR/verify.out" || e2e_fail "tap 1"
verify "$t1" 1
grep -q 'refused (replay).*counter 2 is not above 2' "$E2E_DIR/verify.out" || e2e_fail "replay"
# An altered MAC character, then another card's UID with this card's MAC.
last=${t2: -1}
if [ "$last" = 0 ]; then alt=1; else alt=0; fi
verify "${t2%?}$alt" 1
grep -q 'refused (mac)' "$E2E_DIR/verify.out" || e2e_fail "altered MAC accepted"
verify "${t2/uid=$uid/uid=04A07A000000E4}" 1
grep -q 'refused (mac)' "$E2E_DIR/verify.out" || e2e_fail "altered UID accepted"
verify "$t2" 0
grep -qx "sdm verify: accepted: uid $uid counter 3" "$E2E_DIR/verify.out" || e2e_fail "tap 2"
t3=$(tap)
t4=$(tap)
verify "$t4" 0
verify "$t3" 1
grep -q 'refused (replay).*counter 4 is not above 5' "$E2E_DIR/verify.out" ||
	e2e_fail "an older tap after a newer one was not refused"
e2e_rig_stop
# inspect reads the LRP card (LRP authentication) and finds nothing to do
"$E2E_DFISSUE" inspect --reader "sim:$E2E_DIR/card.img" --profile "$prof" --batch "$batch" --row 1 \
	"${E2E_HSM[@]}" >"$E2E_DIR/inspect.log" 2>&1 || e2e_fail "inspect: $(cat "$E2E_DIR/inspect.log")"
grep -q 'LRP mode: on (profile: lrp)' "$E2E_DIR/inspect.log" &&
	grep -q 'remaining steps: 0' "$E2E_DIR/inspect.log" ||
	e2e_fail "inspect of the LRP card: $(cat "$E2E_DIR/inspect.log")"
e2e_check_journal
e2e_log "OK: EV3 issued with SDM, second run 0 steps; taps accepted, replayed/altered/older refused"
