#!/usr/bin/env bash
# pcscd restarted in the middle of a parallel run: 4 vpcd readers with
# slow cards (desfire-sim --timing datasheet), personalized through the
# pattern 'pcsc:e2e-* 00 00'; once key changes are under way pcscd is
# killed and started again. Every card in flight is torn (the command's
# fate is unknown), each station waits for pcscd and its reader to come
# back, and finishes its card on the next tap. Afterwards every card holds
# its target state and the journal verifies with no unresolved intent.
set -euo pipefail
. "$(dirname "$0")/e2e_lib.sh"

e2e_init restart
e2e_reference 4
n=4
e2e_cards e2e "$n" 04E2E00000000 -q --timing datasheet
e2e_rig_start

e2e_log "personalizing $n slow cards; pcscd will restart mid-run"
timeout 150 "$E2E_DFISSUE" personalize --profile "$E2E_PROFILE" --batch "$E2E_BATCH" "${E2E_HSM[@]}" \
	--reader 'pcsc:e2e-* 00 00' --journal "$E2E_DIR/journal" --create-journal --station e2e \
	--cards "$n" --wait-ms 60000 --json >"$E2E_DIR/out.jsonl" 2>"$E2E_DIR/personalize.log" &
perso=$!

# Restart as soon as the first key change is journaled: the four cards
# finish about 0.3 s after their first intent.
e2e_wait_intents "$E2E_DIR/journal" 1 "$perso"
# pcscd stays down 3 s: the stations must say that pcscd is gone and how to
# start it (audit k34a, finding 4), not only that a reader vanished.
echo 3 >"$E2E_DIR/restart-pause"
e2e_log "restarting pcscd (down for 3 s)"
e2e_rig_signal USR1
i=0
while [ ! -e "$E2E_DIR/restarted" ]; do
	i=$((i + 1))
	[ $i -le 130 ] || e2e_fail "pcscd did not restart within 13 s"
	sleep 0.1
done

rc=0
wait "$perso" || rc=$?
grep -E '^(\[|summary)' "$E2E_DIR/personalize.log" >&2 || true
cat "$E2E_DIR/out.jsonl" >&2
[ "$rc" -eq 0 ] || e2e_fail "dfissue personalize exited $rc (see personalize.log)"
grep -q "^summary: $n card(s) on $n reader(s)" "$E2E_DIR/personalize.log" ||
	e2e_fail "summary line missing or wrong"
tears=$(sed -n 's/^summary: .* \([0-9]*\) tear(s).*/\1/p' "$E2E_DIR/personalize.log")
[ "${tears:-0}" -ge 1 ] || e2e_fail "the restart tore no card: the test did not test it"
grep -qE "^\[e2e-[0-9] 00 00\] pcscd stopped answering: start it \('systemctl start pcscd\.socket', or 'pcscd'\); a card cut short is finished by its next tap: waiting for it$" \
	"$E2E_DIR/personalize.log" || e2e_fail "no station said that pcscd stopped answering"
e2e_rig_stop

for i in $(seq 1 "$n"); do
	e2e_check_card "$E2E_DIR/out.jsonl" "04E2E00000000$i" "$E2E_DIR/e2e-$i.img" "$E2E_PROFILE" "$E2E_BATCH"
done
e2e_check_journal
e2e_log "OK: pcscd restarted mid-run, $tears card(s) torn by it, all finished, journal verified"
