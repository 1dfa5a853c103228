#!/usr/bin/env bash
# An HSM that is slow to answer, or never answers (a network HSM that lost
# its peer): personalize's watch says which call has not returned, on which
# token, and for how long (--hsm-stall), and says when it answers again.
# faultp11 (tests/tear/faultp11) sits in front of SoftHSM2 and holds the
# N-th C_Encrypt for MS milliseconds (FAULTP11_HANG=C_Encrypt:N:MS).
#   1. a call held while the run opens (before any card): the warning says
#      no card was touched yet;
#   2. a call held while two sim: readers serve cards: the warning says the
#      cards wait, the notice that it answered follows, both cards are done;
#   3. --hsm-stall 0: the same held call, no warning;
#   4. a call that never returns and two stop signals: exit 3 all the same
#      (and the PIN given by --pin-env is gone from the environment);
#   5. one sim: reader: no APDU after the second signal;
#   6. the journal key's HSM failing a signature mid-run (FAULTP11_FAIL): the
#      run's line names its token, with one reader and with two;
#   7. C_Login held while the HSM opens, and while the journal key's HSM
#      opens: no handle exists yet to ask, so the step's time is said.
set -euo pipefail
# shellcheck source=tests/hsm/dev_token.sh
. "$(dirname "$0")/dev_token.sh"
dev_token hsm-stall

# run NAME HANG STALL: two sim: readers, two cards; stderr in NAME.err.
run() {
	local name=$1 hang=$2 stall=$3 rc=0
	rm -rf "$work/j" "$work"/*.img
	FAULTP11_HANG=$hang timeout -s KILL 60 "$dfissue" personalize \
		--profile "$src/profiles/reference.json" --batch "$src/profiles/reference-batch.csv" \
		--reader "sim:$work/a.img" --reader "sim:$work/b.img" --cards 2 \
		--journal "$work/j" --create-journal --station stall \
		--module "$FAULTP11" --token pkcs11:token=dfissue-dev --pin-file "$work/tok/user.pin" \
		--hsm-stall "$stall" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
	cat "$work/$name.err" >&2
	[ "$rc" = 0 ] || fail "$name: exit $rc"
	grep -q '^summary: 2 card(s) on 2 reader(s): 2 done,' "$work/$name.err" ||
		fail "$name: not 2 cards done"
}
warn="^dfissue: WARNING: the HSM \(token 'dfissue-dev'\) has not answered C_Encrypt for [12] s: \
check its connection, power and load; "
again="^dfissue: the HSM \(token 'dfissue-dev'\) answered C_Encrypt again$"

# The 12th C_Encrypt is made while the run opens (the profile's key checks);
# held 2.3 s, a watch ticking once a second sees it 1 s old at least once.
run opening C_Encrypt:12:2300 1
grep -qE "${warn}the run is still opening: no card was touched yet$" "$work/opening.err" ||
	fail "opening: no warning"
grep -qE "$again" "$work/opening.err" || fail "opening: no notice that it answered"

# The 40th is a card's, while both readers serve.
run serving C_Encrypt:40:2300 1
grep -qE "${warn}the cards in the readers wait for it \(a second stop signal ends the run: a card \
cut short is finished by its next tap\)$" "$work/serving.err" || fail "serving: no warning"
grep -qE "$again" "$work/serving.err" || fail "serving: no notice that it answered"
[ "$(grep -c 'WARNING' "$work/serving.err")" = 1 ] || fail "serving: not one warning"

run quiet C_Encrypt:40:2300 0
! grep -q 'has not answered' "$work/quiet.err" || fail "--hsm-stall 0 still warned"

# 4. A call that never returns, then two stop signals: the second signal's
#    stop at once cannot wait for the station inside the call; the watch
#    ends the process about 2 s later, exit 3, with one line. The next run
#    on the same journal and cards finishes both cards. (A profile without
#    a batch: a batch's rows are handed out anew by each run, so a card
#    done in the first would meet another row in the second.)
rm -rf "$work/j" "$work"/*.img
args=(--profile "$src/profiles/minimal.json" --reader "sim:$work/a.img" --reader "sim:$work/b.img"
	--cards 2 --journal "$work/j" --station stall --module "$FAULTP11"
	--token pkcs11:token=dfissue-dev)
# This run takes its PIN from the environment (audit k36s, finding 1): once
# the HSMs are open the variable's value is overwritten, so neither
# /proc/PID/environ nor a core dump holds it while the run goes on.
pin=$(head -n1 "$work/tok/user.pin")
DFI_STALL_PIN=$pin FAULTP11_HANG=C_Encrypt:16 "$dfissue" personalize "${args[@]}" \
	--pin-env DFI_STALL_PIN --create-journal --hsm-stall 1 >"$work/hung.out" 2>"$work/hung.err" &
pid=$!
for _ in $(seq 100); do # 10 s at most
	grep -q 'has not answered' "$work/hung.err" && break
	sleep 0.1
done
grep -q 'has not answered' "$work/hung.err" || { kill -KILL "$pid"; fail "hung: no warning"; }
if tr '\0' '\n' </proc/"$pid"/environ | grep -qF "$pin"; then
	kill -KILL "$pid"
	fail "hung: the PIN is still in the environment of the running station"
fi
tr '\0' '\n' </proc/"$pid"/environ | grep -q '^DFI_STALL_PIN=$' ||
	{ kill -KILL "$pid"; fail "hung: DFI_STALL_PIN is not there, emptied"; }
kill -TERM "$pid"
sleep 0.2
kill -TERM "$pid"
t0=$(date +%s%N)
rc=0
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done # 10 s at most
kill -KILL "$pid" 2>/dev/null && fail "hung: still running 10 s after the second signal"
wait "$pid" || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
cat "$work/hung.err" >&2
echo "hung: exit $rc, ${ms} ms after the second signal" >&2
[ "$rc" = 3 ] || fail "hung: exit $rc, not 3"
[ "$ms" -le 5000 ] || fail "hung: ${ms} ms after the second signal"
grep -qE "^dfissue: the HSM \(token 'dfissue-dev'\) has not answered C_Encrypt \(in flight for \
[0-9]+ s\) in the [23] s since the second stop signal: exiting without it \(exit 3\), as after a \
crash: the journal's next open and each card's next tap finish what this run left$" \
	"$work/hung.err" || fail "hung: no exit line"
rc=0
"$dfissue" personalize "${args[@]}" --pin-file "$work/tok/user.pin" >"$work/after.out" \
	2>"$work/after.err" || rc=$?
cat "$work/after.err" >&2
[ "$rc" = 0 ] || fail "after: exit $rc"
finished='^summary: 2 card\(s\) on 2 reader\(s\): [0-9]+ done, [0-9]+ resumed, 0 unknown-keys, '
grep -qE "${finished}0 refused, 0 failed" "$work/after.err" || fail "after: the cards were not finished"

# 5. One sim: reader (served in the main thread): a held call answers
#    after the second signal, and no APDU follows it: the card is left torn
#    (exit 3), and its next tap finishes it.
rm -rf "$work/j" "$work"/*.img
one=(--profile "$src/profiles/minimal.json" --reader "sim:$work/a.img" --journal "$work/j"
	--station stall --token pkcs11:token=dfissue-dev --pin-file "$work/tok/user.pin")
FAULTP11_HANG=C_Encrypt:12:2500 "$dfissue" personalize "${one[@]}" --module "$FAULTP11" \
	--create-journal --hsm-stall 1 >"$work/one.out" 2>"$work/one.err" &
pid=$!
for _ in $(seq 100); do # 10 s at most
	grep -q 'has not answered' "$work/one.err" && break
	sleep 0.1
done
kill -TERM "$pid"
sleep 0.2
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
cat "$work/one.err" "$work/one.out" >&2
[ "$rc" = 3 ] || fail "one reader: exit $rc, not 3"
grep -qE '^card 1 [0-9A-F]{14}: failed \(.*\(torn\)$' "$work/one.out" ||
	fail "one reader: the card was not left torn at the second signal"
"$dfissue" personalize "${one[@]}" >"$work/one2.out" 2>"$work/one2.err" ||
	fail "one reader, next tap: $(cat "$work/one2.err")"
grep -qE '^card 1 [0-9A-F]{14}: resumed ' "$work/one2.out" || fail "one reader: not resumed"

# 6. The journal key on faultp11 (the card keys straight on SoftHSM2), its
#    3rd C_Sign failing: the run stops, naming the token to bring back and
#    the call that failed (the journal HSM's detail, k38h).
lost="^dfissue: journal $work/j: the journal key \\(checkpoint origin dfissue/stall\\) could not \
sign a checkpoint \\(DFI_E_HSM_DEVICE: C_Sign: An error occurred on the device \\(CKR 0x30\\)\\): \
it signed at start, so its HSM lost it: the token was \
removed or its store became unreadable \\(token 'dfissue-dev'\\): nothing more is sent to any card; "
for readers in 1 2; do
	rm -rf "$work/j" "$work"/*.img
	rd=(--reader "sim:$work/a.img")
	[ "$readers" = 1 ] || rd+=(--reader "sim:$work/b.img" --cards 2)
	rc=0
	FAULTP11_FAIL=C_Sign:3 "$dfissue" personalize --profile "$src/profiles/minimal.json" "${rd[@]}" \
		--journal "$work/j" --create-journal --station stall --token pkcs11:token=dfissue-dev \
		--pin-file "$work/tok/user.pin" --journal-module "$FAULTP11" \
		--journal-token pkcs11:token=dfissue-dev --journal-pin-file "$work/tok/user.pin" \
		>"$work/lost$readers.out" 2>"$work/lost$readers.err" || rc=$?
	cat "$work/lost$readers.err" >&2
	[ "$rc" = 1 ] || fail "journal key lost, $readers reader(s): exit $rc, not 1"
	[ "$(grep -cE "$lost" "$work/lost$readers.err")" = 1 ] ||
		fail "journal key lost, $readers reader(s): the run's line does not name the token once"
done

# 7. The first C_Login held 2.3 s: once behind --module, once behind
#    --journal-module (the card keys straight on SoftHSM2).
step="has taken [12] s: a PKCS#11 module that waits for its HSM may never return: check the \
HSM, its network and power; no card was touched yet \\(a stop signal ends the run\\)$"
for where in module journal; do
	rm -rf "$work/j" "$work"/*.img
	if [ "$where" = module ]; then
		mods=(--module "$FAULTP11") what="opening the HSM"
	else
		mods=(--journal-module "$FAULTP11" --journal-token pkcs11:token=dfissue-dev
			--journal-pin-file "$work/tok/user.pin")
		what="opening the journal and its key's HSM"
	fi
	rc=0
	FAULTP11_HANG=C_Login:1:2300 "$dfissue" personalize "${one[@]}" "${mods[@]}" --create-journal \
		--hsm-stall 1 >"$work/open-$where.out" 2>"$work/open-$where.err" || rc=$?
	cat "$work/open-$where.err" >&2
	[ "$rc" = 0 ] || fail "open ($where): exit $rc"
	grep -qE "^dfissue: WARNING: $what $step" "$work/open-$where.err" ||
		fail "open ($where): the step's time was not said"
done
echo "hsm stall: OK"
