#!/usr/bin/env bash
# "The next card" vs "the same card again", by UID: two readers, two
# factory cards personalized in parallel; then both cards are lifted and
# tapped again (desfire-sim SIGUSR1). A card finished in this run must not
# take another batch row: each station says "was personalized in this run:
# remove it", the run ends after --wait-ms idle with exactly two results,
# exit 0, and the journal verifies.
# With the argument "single": the same with one reader named exactly
# (--reader 'pcsc:guard-1 00 00', not a pattern).
set -euo pipefail
. "$(dirname "$0")/e2e_lib.sh"

n=2 spec='pcsc:guard-? 00 00' name=guard
if [ "${1:-}" = single ]; then
	n=1 spec='pcsc:guard-1 00 00' name=guard-single
fi
e2e_init "$name"
prof=$E2E_SRC/profiles/minimal.json
e2e_cards guard "$n" 04C0A00000000 --reinsert-ms 1500
e2e_rig_start
timeout 60 "$E2E_DFISSUE" personalize --profile "$prof" "${E2E_HSM[@]}" \
	--reader "$spec" --journal "$E2E_DIR/journal" --create-journal --cards $((n + 1)) \
	--wait-ms 5000 --json >"$E2E_DIR/out.jsonl" 2>"$E2E_DIR/personalize.log" &
perso=$!
i=0
until [ "$(grep -c '"outcome"' "$E2E_DIR/out.jsonl" 2>/dev/null || true)" = "$n" ]; do
	i=$((i + 1))
	[ $i -le 200 ] && kill -0 "$perso" 2>/dev/null || e2e_fail "$n card(s) not finished within 20 s"
	sleep 0.1
done
e2e_log "$n card(s) done: lifting them and tapping them again"
e2e_cards_signal USR1
rc=0
wait "$perso" || rc=$?
grep -v '^  ' "$E2E_DIR/personalize.log" >&2
[ "$rc" -eq 0 ] || e2e_fail "personalize exited $rc"
[ "$(grep -c '"outcome"' "$E2E_DIR/out.jsonl")" -eq "$n" ] || e2e_fail "a card was served twice"
for i in $(seq 1 "$n"); do
	grep -q "^\[guard-$i 00 00\] card 04C0A00000000$i was personalized in this run: remove it" \
		"$E2E_DIR/personalize.log" || e2e_fail "card $i re-tapped without the 'remove it' line"
done
e2e_rig_stop
for i in $(seq 1 "$n"); do
	e2e_check_card "$E2E_DIR/out.jsonl" "04C0A00000000$i" "$E2E_DIR/guard-$i.img" "$prof" ""
done
e2e_check_journal
e2e_log "OK: re-tapped finished cards were recognized by UID and not served again"
