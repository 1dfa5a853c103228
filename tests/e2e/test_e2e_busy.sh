#!/usr/bin/env bash
# A card held by another PC/SC application: the station cannot get the
# exclusive connection personalization needs, says so in one line
# ("another application is using the card"), keeps waiting, and
# personalizes the card once the other application lets go; the other
# reader is served meanwhile.
set -euo pipefail
. "$(dirname "$0")/e2e_lib.sh"

hold=$E2E_BUILD/tests/e2e_hold
[ -x "$hold" ] || e2e_fail "$hold missing: build first"
e2e_init busy
prof=$E2E_SRC/profiles/minimal.json
e2e_cards busy 2 04B0590000000
e2e_rig_start
"$hold" "busy-1 00 00" 4000 >"$E2E_DIR/hold.log" 2>&1 &
holder=$!
i=0
until grep -q held "$E2E_DIR/hold.log"; do
	i=$((i + 1))
	[ $i -le 50 ] && kill -0 "$holder" 2>/dev/null || e2e_fail "e2e_hold: $(cat "$E2E_DIR/hold.log")"
	sleep 0.1
done
timeout 60 "$E2E_DFISSUE" personalize --profile "$prof" "${E2E_HSM[@]}" \
	--reader 'pcsc:busy-1 00 00' --reader 'pcsc:busy-2 00 00' --journal "$E2E_DIR/journal" \
	--create-journal --cards 2 --wait-ms 20000 --json >"$E2E_DIR/out.jsonl" \
	2>"$E2E_DIR/personalize.log" || e2e_fail "personalize exited $? (personalize.log)"
wait "$holder" || e2e_fail "e2e_hold failed"
grep -v '^  ' "$E2E_DIR/personalize.log" >&2
grep -q '^\[busy-1 00 00\] another application is using the card' "$E2E_DIR/personalize.log" ||
	e2e_fail "no 'another application is using the card' line"
e2e_rig_stop
for i in 1 2; do
	e2e_check_card "$E2E_DIR/out.jsonl" "04B0590000000$i" "$E2E_DIR/busy-$i.img" "$prof" ""
done
e2e_check_journal
e2e_log "OK: a card held by another application was waited for, then personalized"
