#!/usr/bin/env bash
# Key rotation through pcscd + vpcd (issue 12): a card issued with
# profiles/reference.json (generation-1 keys); a second key ceremony puts
# the generation-2 base keys into the token (make-dev-token.sh
# --generation2); `personalize` with profiles/rotation-g2.json rotates the
# card; `inspect` finds every rotated key at its target (authenticated) and
# nothing left to do, `journal show --uid` shows each slot's generation
# history ending at generation 2, the journal verifies, and a second
# rotation run reports done with 0 key changes.
set -euo pipefail
. "$(dirname "$0")/e2e_lib.sh"

e2e_init rotate
ref=$E2E_SRC/profiles/reference.json
rot=$E2E_SRC/profiles/rotation-g2.json
batch=$E2E_DIR/batch.csv
uid=04A07A00000001
e2e_batch "$batch" 1
e2e_reader rot-1
e2e_card "$E2E_PORT" --image "$E2E_DIR/card.img" --uid "$uid" --seed 7 -q
e2e_rig_start

run() { # PROFILE OUT: one card through the reader
	timeout 60 "$E2E_DFISSUE" personalize --profile "$1" --batch "$batch" "${E2E_HSM[@]}" \
		--reader 'pcsc:rot-1 00 00' --journal "$E2E_DIR/journal" --create-journal \
		--station e2e --cards 1 --wait-ms 20000 --json >"$2" 2>>"$E2E_DIR/personalize.log" ||
		e2e_fail "personalize $(basename "$1") exited $? (personalize.log)"
	cat "$2" >&2
}
changes() { e2e_field "$(grep "\"uid\":\"$uid\"" "$1")" key_changes; }
outcome() { e2e_field "$(grep "\"uid\":\"$uid\"" "$1")" outcome; }

run "$ref" "$E2E_DIR/issue.jsonl"
[ "$(outcome "$E2E_DIR/issue.jsonl")" = "done" ] || e2e_fail "first issue not done"
bash "$E2E_SRC/hsm-config/make-dev-token.sh" --generation2 "$E2E_DIR/tok" "$E2E_DFISSUE" \
	>>"$E2E_DIR/token.log" 2>&1 || e2e_fail "generation-2 key ceremony (token.log)"
run "$rot" "$E2E_DIR/rotate.jsonl"
[ "$(outcome "$E2E_DIR/rotate.jsonl")" = "done" ] || e2e_fail "rotation not done"
[ "$(changes "$E2E_DIR/rotate.jsonl")" = 5 ] || e2e_fail "rotation: expected 5 key changes"
run "$rot" "$E2E_DIR/again.jsonl"
[ "$(outcome "$E2E_DIR/again.jsonl")" = "done" ] || e2e_fail "second rotation not done"
[ "$(changes "$E2E_DIR/again.jsonl")" = 0 ] || e2e_fail "second rotation changed keys"

"$E2E_DFISSUE" inspect --reader 'pcsc:rot-1 00 00' --profile "$rot" --batch "$batch" --row 1 \
	"${E2E_HSM[@]}" >"$E2E_DIR/inspect.log" 2>&1 || e2e_fail "inspect: $(cat "$E2E_DIR/inspect.log")"
cat "$E2E_DIR/inspect.log" >&2
grep -q 'remaining steps: 0' "$E2E_DIR/inspect.log" || e2e_fail "inspect: steps remain"
# 1 PICC key + 3 + 2 application keys, every one at its target.
[ "$(grep -c 'target (authenticated)' "$E2E_DIR/inspect.log")" = 6 ] ||
	e2e_fail "inspect: not every key authenticated at its target"
e2e_rig_stop

"$E2E_DFISSUE" journal show --uid "$uid" "$E2E_DIR/journal" >"$E2E_DIR/show.log" ||
	e2e_fail "journal show --uid"
cat "$E2E_DIR/show.log" >&2
# The journal agrees with inspect: 5 slots went 1 -> 2, F54020 key 0
# (frozen by its settings) stays at generation 1.
[ "$(grep -c -- '-> gen 1 v[0-9]* (intent [0-9]*) -> gen 2 ' "$E2E_DIR/show.log")" = 5 ] ||
	e2e_fail "journal show: not 5 slots rotated from generation 1 to 2"
grep -q '^  AID F54020 key 0  factory v0 -> gen 1 v2 (intent [0-9]*)$' "$E2E_DIR/show.log" ||
	e2e_fail "journal show: F54020 key 0 history"
[ "$(grep -c ' gen 1 -> 2 ' "$E2E_DIR/show.log")" = 5 ] || e2e_fail "journal show: old_key_gen"
e2e_check_journal
e2e_log "OK: issued at generation 1, rotated to 2 (5 keys), second run 0 key changes; inspect and journal agree"
