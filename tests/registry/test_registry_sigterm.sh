#!/usr/bin/env bash
# A frozen registry and a second stop signal (task k36p; audit k34a-3: the
# process exited 39 s after it). `dfissue personalize` with two sim:
# readers and a private PostgreSQL cluster (`pgfix run`); both cards are
# held inside a registry call (a trigger holds the tell that carries a
# card's first commits), the cluster is frozen (SIGSTOP), then SIGTERM
# twice: the process abandons the registry and exits within BOUND_MS of
# the second signal, status 3, with the stop line once and one line saying
# what was left to the leases and to reconciliation. The cluster thawed,
# the audit finds the records the registry was not told; the next run on
# the same journal tells them at its open (reconciliation), finishes both
# cards, and the audit says OK with no intent left open.
set -euo pipefail
if [ "${1:-}" != --inner ]; then
	exec "${DFI_BUILD_DIR:?}/tests/pgfix" run -- bash "$0" --inner
fi
. "${DFI_SOURCE_DIR:?}/tests/e2e/e2e_lib.sh"
. "${DFI_SOURCE_DIR:?}/tests/registry/reg_lib.sh"

BOUND_MS=${DFI_SIGTERM_BOUND_MS:-3000}
pgfix=$DFI_BUILD_DIR/tests/pgfix
PID=""
cleanup() {
	local rc=$?
	set +e
	"$pgfix" thaw 2>/dev/null # (`pgfix run` thaws it too before it stops it)
	[ -z "$PID" ] || kill -9 "$PID" 2>/dev/null
	(exit "$rc")
	e2e_cleanup
}
t_start=$(date +%s%N)
e2e_workdir registry-sigterm
trap cleanup EXIT
reg_init
export SOFTHSM2_CONF=$E2E_DIR/softhsm2-a.conf

# hold: the registry holds the statement that closes a card's first open
# intents (the tell carrying its first commits) in a trigger; held: both
# cards' calls are there; unhold: those transactions ended (rolled back: as
# if the registry never answered), the trigger dropped.
psql -X -q "$URL" -c "CREATE FUNCTION dfissue.t_hold() RETURNS trigger LANGUAGE plpgsql AS
	\$\$ BEGIN PERFORM pg_sleep(60); RETURN NEW; END \$\$" \
	-c "CREATE TRIGGER t_hold BEFORE UPDATE ON dfissue.intents FOR EACH ROW WHEN (OLD.open AND NOT NEW.open)
	EXECUTE FUNCTION dfissue.t_hold()" || e2e_fail "cannot create the hold trigger"
held() { [ "$(psql -X -qAt "$URL" -c "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'")" -ge 2 ]; }
unhold() {
	psql -X -qAt "$URL" -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE wait_event = 'PgSleep'" \
		-c "DROP TRIGGER t_hold ON dfissue.intents" -c "DROP FUNCTION dfissue.t_hold()" >/dev/null
}
# run OUT ARGS...: personalize on journal a with the two sim: cards.
run() {
	local out=$1
	shift
	exec "$D" personalize --profile "$prof" --batch "$batch" "${E2E_HSM[@]}" --reader "sim:$E2E_DIR/c1.img" \
		--reader "sim:$E2E_DIR/c2.img" --journal "$E2E_DIR/journal-a" --station station-a --registry "$URL" \
		--json "$@" >"$E2E_DIR/$out.json" 2>"$E2E_DIR/$out.log"
}
open_intents() {
	"$D" recover --registry "$URL" 2>&1 | sed -n 's/^\([0-9]*\) intent(s) open in the registry.*/\1/p'
}
audit() {
	"$D" audit --registry "$URL" --pubkey "$E2E_DIR/tok/journal.pub.pem" "$E2E_DIR/journal-a" \
		>"$E2E_DIR/$1.log" 2>&1
}

# wait_exit PID SECONDS: until PID has ended (polled every 10 ms), at most
# SECONDS; its status in rc, the time it took in took (ms).
wait_exit() {
	local t0
	t0=$(date +%s%N)
	for _ in $(seq 1 $(($2 * 100))); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.01
	done
	took=$((($(date +%s%N) - t0) / 1000000))
	kill -0 "$1" 2>/dev/null && e2e_fail "personalize still runs $2 s later: $(tail -n 5 "$E2E_DIR"/run*.log)"
	rc=0
	wait "$1" || rc=$?
	PID=""
}

(run run1) &
PID=$!
e2e_poll 1500 0.02 "$PID" "the cards did not reach the held registry call within 30 s: $(tail -n 5 "$E2E_DIR/run1.log")" held
"$pgfix" freeze || e2e_fail "pgfix freeze"
e2e_log "the registry frozen with both cards inside a registry call ($(e2e_intents "$E2E_DIR/journal-a") intent(s) journaled)"
kill -TERM "$PID"
sleep 0.2
kill -TERM "$PID"
wait_exit "$PID" 60 # the frozen registry's old figure was 39 s
e2e_log "exit $rc ${took} ms after the second signal"
cat "$E2E_DIR/run1.log" >&2
cat "$E2E_DIR/run1.json" >&2
[ "$took" -le "$BOUND_MS" ] || e2e_fail "personalize exited ${took} ms after the second signal (bound ${BOUND_MS} ms)"
[ "$rc" -eq 3 ] || e2e_fail "exit status $rc after a second signal, not 3"
n=$(grep -c "^dfissue: stopping at once: no APDU is sent any more; a card cut short is finished by its next tap$" \
	"$E2E_DIR/run1.log" || true)
[ "$n" = 1 ] || e2e_fail "the second signal's line was said $n time(s), not once"
grep -qx "dfissue: stop requested: no new cards; the card in each reader is finished or left safely (signal again to stop at once)" \
	"$E2E_DIR/run1.log" || e2e_fail "the first signal's line is missing"
grep -qx "personalize: the registry was abandoned (a second stop signal): nothing more was sent to it; a card this run held stays claimed until its lease runs out (--claim-lease; this journal's next run takes it over at once), and the records it was not told reach it at this journal's next open" \
	"$E2E_DIR/run1.log" || e2e_fail "no line saying what was left to the leases and to reconciliation"
n=$(grep -c "abandoned" "$E2E_DIR/run1.log" || true)
[ "$n" = 1 ] || e2e_fail "the abandonment was said $n times in the log, not once"
for u in $(sed -n 's/.*"uid":"\([0-9A-F]*\)".*/\1/p' "$E2E_DIR/run1.json"); do
	grep "\"uid\":\"$u\"" "$E2E_DIR/run1.json" | grep -q '"error":"DFI_E_REGISTRY_ABANDONED"' ||
		e2e_fail "card $u: $(grep "\"uid\":\"$u\"" "$E2E_DIR/run1.json")"
done
[ "$(grep -c '"outcome"' "$E2E_DIR/run1.json")" = 2 ] || e2e_fail "not 2 card results: $(cat "$E2E_DIR/run1.json")"

# Thawed: the registry lacks the outcomes the journal holds (their tell
# was rolled back).
"$pgfix" thaw || e2e_fail "pgfix thaw"
unhold
audit audit1 && e2e_fail "the audit found nothing missing after the abandoned run: $(cat "$E2E_DIR/audit1.log")"
grep -q "was never told to the registry" "$E2E_DIR/audit1.log" || e2e_fail "audit after the abandoned run: $(cat "$E2E_DIR/audit1.log")"
e2e_log "audit after the abandoned run: $(grep -c "was never told to the registry" "$E2E_DIR/audit1.log") record(s) not told"

# The next run on the same journal: reconciliation at its open, then both
# cards finished (the abandoned run's claims are this journal's: taken
# over at once, not after their lease).
(run run2 -v) &
PID=$!
wait_exit "$PID" 60
cat "$E2E_DIR/run2.json" >&2
[ "$rc" -eq 0 ] || e2e_fail "the next run: exit $rc: $(grep -v '^  ' "$E2E_DIR/run2.log")"
[ "$(grep -c '"outcome"' "$E2E_DIR/run2.json")" = 2 ] || e2e_fail "the next run: $(cat "$E2E_DIR/run2.json")"
e2e_log "the next run finished the cards in $took ms"
while read -r line; do
	e2e_check_card "$E2E_DIR/run2.json" "$(e2e_field "$line" uid)" "$(e2e_field "$line" reader | sed 's/^sim://')" \
		"$prof" "$batch"
done <"$E2E_DIR/run2.json"
[ "$(open_intents)" = 0 ] || e2e_fail "intents left open: $("$D" recover --registry "$URL" 2>&1)"
audit audit2 || e2e_fail "audit: $(cat "$E2E_DIR/audit2.log")"
grep -q "^audit: OK: 1 journal(s)" "$E2E_DIR/audit2.log" || e2e_fail "audit: $(cat "$E2E_DIR/audit2.log")"
e2e_log "OK in $((($(date +%s%N) - t_start) / 1000000)) ms"
