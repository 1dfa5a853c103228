#!/usr/bin/env bash
# Parallel stations through a real pcscd: 5 vsmartcard vpcd readers, a
# factory desfire-sim card in each, four of them torn once on the way
# (the simulator closes the reader socket after the N-th APDU and comes
# back 0.7 s later: a removal and a re-insertion as pcscd reports them;
# on the reference profile APDU 38 is a ChangeKey whose answer is lost, so
# that card's next tap resolves a journal intent by probing the card).
# One `dfissue personalize --reader 'pcsc:*' --cards 5` serves all readers
# at once (10 slots: vpcd adds an empty "00 01" slot per reader, which must
# simply stay idle). Then: every card's committed image holds the
# profile's target state for its batch row (`dfissue inspect`: no step
# left), and the journal verifies with the public key alone, with no
# unresolved intent.
set -euo pipefail
. "$(dirname "$0")/e2e_lib.sh"

e2e_init parallel
e2e_reference 8

# reader i: card UID 04E2E00000000i; tear APDU and mode (0 = no tear)
tears=("20 after" "35 before" "0 -" "55 after" "38 after")
n=${#tears[@]}
for i in $(seq 1 "$n"); do
	e2e_reader "e2e-$i"
	set -- ${tears[$((i - 1))]}
	extra=""
	[ "$1" = 0 ] || extra="--tear-at $1 --tear-mode $2 --reinsert-ms 700"
	e2e_card "$E2E_PORT" --image "$E2E_DIR/card-$i.img" --uid "04E2E00000000$i" \
		--seed "$i" -q $extra
done
e2e_rig_start
e2e_log "dfissue readers:"
"$E2E_DFISSUE" readers | tee "$E2E_DIR/readers.txt" >&2
[ "$(grep -c '^e2e-[0-9] 00 0[01]: ' "$E2E_DIR/readers.txt")" -eq $((2 * n)) ] ||
	e2e_fail "dfissue readers did not list $((2 * n)) slots"

e2e_log "personalizing $n cards on every reader at once"
start=$(date +%s)
timeout 120 "$E2E_DFISSUE" personalize --profile "$E2E_PROFILE" --batch "$E2E_BATCH" "${E2E_HSM[@]}" \
	--reader 'pcsc:*' --journal "$E2E_DIR/journal" --create-journal --station e2e \
	--cards "$n" --wait-ms 30000 --json >"$E2E_DIR/out.jsonl" 2>"$E2E_DIR/personalize.log" ||
	e2e_fail "dfissue personalize exited $? (see personalize.log)"
e2e_log "personalize took $(($(date +%s) - start)) s"
grep -E '^(\[|summary)' "$E2E_DIR/personalize.log" | grep -v '^  ' >&2 || true
cat "$E2E_DIR/out.jsonl" >&2

[ "$(grep -c '"outcome"' "$E2E_DIR/out.jsonl")" -eq "$n" ] || e2e_fail "expected $n card results"
grep -q "^summary: $n card(s) on $((2 * n)) reader(s)" "$E2E_DIR/personalize.log" ||
	e2e_fail "summary line missing or wrong"
e2e_rig_stop # the images are final; nothing may touch them while we read

resumed=0
for i in $(seq 1 "$n"); do
	e2e_check_card "$E2E_DIR/out.jsonl" "04E2E00000000$i" "$E2E_DIR/card-$i.img" \
		"$E2E_PROFILE" "$E2E_BATCH"
	[ "$E2E_OUTCOME" = resumed ] && resumed=$((resumed + 1))
	set -- ${tears[$((i - 1))]}
	if [ "$1" != 0 ] && [ "$E2E_TAPS" -lt 2 ]; then
		e2e_fail "card $i was torn but finished in $E2E_TAPS tap(s)"
	fi
done
[ "$resumed" -ge 1 ] || e2e_fail "no card was resumed after its tear"
e2e_check_journal
e2e_log "OK: $n cards in parallel through pcscd, $resumed resumed after a tear, journal verified"
