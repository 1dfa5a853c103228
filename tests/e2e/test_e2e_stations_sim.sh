#!/usr/bin/env bash
# Parallel stations without pcscd (no root needed): `dfissue personalize`
# with four --reader sim:IMAGE options runs four threads on four in-process
# simulated cards sharing one HSM session pool, one journal and one batch.
# Checks: four result lines, distinct batch rows, every image in its row's
# target state, the summary, the journal (group commit: fewer checkpoints
# than records is allowed, verification must pass), and the usage errors.
set -euo pipefail
. "$(dirname "$0")/e2e_lib.sh"

e2e_workdir stations
e2e_reference 6
n=4
readers=()
for i in $(seq 1 "$n"); do
	readers+=(--reader "sim:$E2E_DIR/card-$i.img")
done

"$E2E_DFISSUE" personalize --profile "$E2E_PROFILE" --batch "$E2E_BATCH" "${E2E_HSM[@]}" \
	"${readers[@]}" --journal "$E2E_DIR/journal" --create-journal --station sims --json \
	>"$E2E_DIR/out.jsonl" 2>"$E2E_DIR/personalize.log" ||
	e2e_fail "personalize exited $? (personalize.log)"
cat "$E2E_DIR/out.jsonl" >&2
[ "$(grep -c '"outcome":"done"' "$E2E_DIR/out.jsonl")" -eq "$n" ] || e2e_fail "not $n cards done"
grep -q "^summary: $n card(s) on $n reader(s): $n done, 0 resumed, 0 unknown-keys, 0 refused, 0 failed" \
	"$E2E_DIR/personalize.log" || e2e_fail "summary: $(grep summary "$E2E_DIR/personalize.log")"
[ "$(sed -n 's/.*"batch_line":\([0-9]*\).*/\1/p' "$E2E_DIR/out.jsonl" | sort -u | wc -l)" -eq "$n" ] ||
	e2e_fail "two cards got the same batch row"
for i in $(seq 1 "$n"); do
	line=$(grep "\"reader\":\"sim:$E2E_DIR/card-$i.img\"" "$E2E_DIR/out.jsonl") ||
		e2e_fail "no result for card $i"
	e2e_check_card "$E2E_DIR/out.jsonl" "$(e2e_field "$line" uid)" "$E2E_DIR/card-$i.img" \
		"$E2E_PROFILE" "$E2E_BATCH"
done
e2e_check_journal

# Usage errors: exit 2 with one line.
set +e
"$E2E_DFISSUE" personalize --profile "$E2E_PROFILE" --batch "$E2E_BATCH" "${E2E_HSM[@]}" \
	"${readers[@]}" --journal "$E2E_DIR/tear-journal" --create-journal --tear-at 3 >/dev/null \
	2>"$E2E_DIR/usage.log"
rc=$?
set -e
[ "$rc" -eq 2 ] || e2e_fail "--tear-at with several readers: exit $rc, not 2"
want="dfissue: personalize: --tear-at works with a single sim: reader only"
[ "$(cat "$E2E_DIR/usage.log")" = "$want" ] ||
	e2e_fail "usage message: $(cat "$E2E_DIR/usage.log")"
# Refused before the HSM login (audit k33, finding 1): no journal created.
[ ! -e "$E2E_DIR/tear-journal" ] || e2e_fail "--tear-at refused after the journal was created"
e2e_log "OK: $n simulated stations in parallel, one journal, verified"
