#!/usr/bin/env bash
# Issue 13's faults at process level: real `dfissue personalize` processes
# through pcscd + vpcd (tests/e2e/e2e_lib.sh) sharing a private PostgreSQL
# cluster (tests/common/pgfix.h, `pgfix run`).
#
# a. A station SIGKILLed while it holds a card's claim: station A
#    (--claim-lease LEASE) is SIGKILLed in the middle of its key changes
#    (held there by the registry: the tell that carries its first commits
#    waits in a trigger, so no load lets the card finish first). The card
#    is moved to station B's reader: B is refused while A's lease holds and
#    sends nothing; presented again after the lease ran out, B takes A's
#    open intent over and finishes the card. A, started again, tells the
#    registry what its journal holds that the registry lacks.
# b. PostgreSQL stopped (pg_ctl stop -m fast) in the middle of a batch: the
#    station, frozen (SIGSTOP) once its second card's first key change is
#    journaled so that the stop lands mid-card on a loaded machine too,
#    sends no ChangeKey after the registry went away and stops taking cards
#    (docs/OPERATIONS.md 12.5, faults); a station started while it is down
#    takes no card. PostgreSQL started again, a second run on the same
#    journal finishes the batch at once (the stopped process's claim is
#    its journal's: taken over, schema 7): the card left in hand first (its
#    batch row again), then the rest.
# c. A station SIGKILLed with an open intent (--claim-lease 60) and started
#    again on the same journal with the same card: it finishes the card at
#    once, well before the lease.
# Then: every card issued exactly once and holding the profile's keys, no
# unknown keys, no intent left open, both journals verify, and `dfissue
# audit --registry` over them says OK.
set -euo pipefail
if [ "${1:-}" != --inner ]; then
	exec "${DFI_BUILD_DIR:?}/tests/pgfix" run -- bash "$0" --inner
fi
. "${DFI_SOURCE_DIR:?}/tests/e2e/e2e_lib.sh"
. "${DFI_SOURCE_DIR:?}/tests/registry/reg_lib.sh"

# Cards put on a reader after the rig started, or moved between readers:
# a desfire-sim in the rig's namespaces (it dies with them), started through
# nsenter; LATE[PORT] is that nsenter's PID.
declare -A LATE=()
BG=() # personalize processes started in the background
late_stop_all() {
	local p
	for p in "${LATE[@]}" "${BG[@]}"; do
		kill -9 "$p" 2>/dev/null || true
	done
}
cleanup() {
	local rc=$?
	set +e # (exit rc) hands e2e_cleanup the status; under set -e it would end the trap
	late_stop_all
	(exit "$rc")
	e2e_cleanup
}
e2e_init registry-faults
trap cleanup EXIT
command -v nsenter >/dev/null || e2e_skip "nsenter (util-linux) missing"
reg_init
# A's claim lease: long enough for station B to be refused once under load
# (the card moved and B's first try come within it), short for CI time.
LEASE=${DFI_FAULTS_LEASE:-6}

rig_pid() { awk '{print $1}' "/proc/$E2E_RIG_PID/task/$E2E_RIG_PID/children" 2>/dev/null; }

# card_in PORT ARGS...: a card put on the reader at PORT.
card_in() {
	local port=$1 rig ns=(--pid)
	shift
	rig=$(rig_pid)
	[ -n "$rig" ] || e2e_fail "rig process not found"
	[ "$DFI_E2E_NO_NETNS" = 1 ] || ns+=(--net)
	nsenter -t "$rig" "${ns[@]}" "$E2E_SIM" --vpcd "127.0.0.1:$port" --no-fsync -q "$@" \
		>>"$E2E_DIR/late-$port.log" 2>&1 &
	LATE[$port]=$!
}
# card_out PORT: the card on the reader at PORT taken away (its image stays).
card_out() {
	local port=$1 p=${LATE[$1]:-} c i
	[ -n "$p" ] || e2e_fail "no card on reader port $port"
	c=$(cat "/proc/$p/task/$p/children" 2>/dev/null || true)
	# shellcheck disable=SC2086 # a list of PIDs (one: the sim)
	[ -z "$c" ] || kill $c 2>/dev/null || true
	for i in $(seq 1 100); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.05
	done
	kill -9 "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	unset "LATE[$port]"
}
# wait_reader NAME present|empty: bounded (20 s).
wait_reader() {
	local i
	for i in $(seq 1 100); do
		if [ "$2" = present ]; then
			"$D" readers 2>/dev/null | grep -q "^.*$1 00 00.*: card present" && return 0
		else
			"$D" readers 2>/dev/null | grep "$1 00 00" | grep -qv "card present" && return 0
		fi
		sleep 0.2
	done
	e2e_fail "reader $1: no card $2 after 20 s ($("$D" readers 2>&1 | tr '\n' ' '))"
}
open_intents() { # in the registry, at every station
	"$D" recover --registry "$URL" 2>&1 | sed -n 's/^\([0-9]*\) intent(s) open in the registry.*/\1/p'
}
# PICC key version of an image (desfire-sim --stdio): 009100 is a factory card's.
picc_kv() { "$E2E_SIM" --image "$1" --stdio -q <<<"90640000010000" 2>&1 || true; }

# --claim-lease: without --registry, or out of 1..3600: usage errors (exit 2).
lease_usage() { # EXPECTED ARGS...
	local want=$1 rc=0
	shift
	"$D" personalize --profile "$prof" --batch "$batch" "${E2E_HSM[@]}" --reader "sim:$E2E_DIR/unused.img" \
		--journal "$E2E_DIR/journal-a" "$@" >/dev/null 2>"$E2E_DIR/lease.log" || rc=$?
	[ "$rc" -eq 2 ] || e2e_fail "personalize $*: exit $rc, not 2"
	grep -q -- "$want" "$E2E_DIR/lease.log" || e2e_fail "personalize $*: $(cat "$E2E_DIR/lease.log")"
	[ ! -e "$E2E_DIR/unused.img" ] || e2e_fail "personalize $*: a card was touched"
}
lease_usage "give --registry URL too" --claim-lease 5
lease_usage "wants seconds (1 to 3600), not '0'" --claim-lease 0 --registry "$URL"
lease_usage "wants seconds (1 to 3600), not '3601'" --claim-lease 3601 --registry "$URL"

e2e_reader fault-a
PA=$E2E_PORT
e2e_reader fault-b
PB=$E2E_PORT
e2e_rig_start

# station NAME OUT BATCH ARGS...: a personalize process of station NAME on
# its reader, JSON lines in OUT.json, log in OUT.log (bounded: 120 s).
# station_bg: the same in the background, $! being dfissue itself (signals
# reach it, not a shell), bounded by its caller.
station_cmd() {
	local s=$1 out=$2 b=$3
	shift 3
	exec env SOFTHSM2_CONF="$E2E_DIR/softhsm2-$s.conf" ${STATION_TIMEOUT:+timeout --foreground "$STATION_TIMEOUT"} \
		"$D" personalize --profile "$prof" --batch "$b" "${E2E_HSM[@]}" --reader "pcsc:fault-$s 00 00" \
		--journal "$E2E_DIR/journal-$s" --station "station-$s" --registry "$URL" --json -v "$@" \
		>"$E2E_DIR/$out.json" 2>"$E2E_DIR/$out.log"
}
station() { (STATION_TIMEOUT=120 station_cmd "$@"); }
station_bg() {
	(station_cmd "$@") &
	BG+=("$!")
}

# ---- a. A station SIGKILLed holding a claim --------------------------------------
# A slow card (datasheet timing); A is killed while the registry holds it
# in the middle of the card: the claim is held (a tap holds it to its end),
# an application's keys are changed and its intents open in the registry,
# the next application's intents journaled and their tell waiting. (Not at
# the journal's second intent: intents queued with CreateApplication reach
# the journal's file before the registry is told of them, and a kill there
# leaves intents the registry never had, which only station A's own
# restart reconciles.)
UIDT=04FA0000000001
torn=$E2E_DIR/torn.img
# hold_start: the registry holds the first statement that closes an open
# intent, i.e. the tell carrying a card's first commits (deferred to go
# with its next application's intents), in a trigger (pg_sleep). A station
# waits there whatever the machine's load, up to its calls' deadline (10 s,
# tried twice). held: a statement is held. hold_end: the held transaction
# ended (rolled back: as if the station died before the registry
# answered), the hold dropped.
hold_start() {
	psql -X -q "$URL" -c "CREATE FUNCTION dfissue.t_hold() RETURNS trigger LANGUAGE plpgsql AS
	\$\$ BEGIN PERFORM pg_sleep(60); RETURN NEW; END \$\$" \
		-c "CREATE TRIGGER t_hold BEFORE UPDATE ON dfissue.intents FOR EACH ROW WHEN (OLD.open AND NOT NEW.open)
	EXECUTE FUNCTION dfissue.t_hold()"
}
held() { [ "$(psql -X -qAt "$URL" -c "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'")" -ge 1 ]; }
hold_end() {
	psql -X -qAt "$URL" -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE wait_event = 'PgSleep'" \
		-c "DROP TRIGGER t_hold ON dfissue.intents" -c "DROP FUNCTION dfissue.t_hold()" >/dev/null
}
# kill_a OUT LEASE: station a on the card in its reader (--claim-lease
# LEASE), SIGKILLed while the registry holds it in the middle of the card.
kill_a() {
	local n0 pa
	n0=$(e2e_intents "$E2E_DIR/journal-a")
	hold_start
	station_bg a "$1" "$batch" --cards 1 --wait-ms 30000 --claim-lease "$2"
	pa=$!
	e2e_poll 1500 0.02 "$pa" "station a: not held in the middle of its card within 30 s: $(tail -n 5 "$E2E_DIR/$1.log")" held
	kill -9 "$pa"
	wait "$pa" 2>/dev/null || true
	hold_end
	[ "$(e2e_intents "$E2E_DIR/journal-a")" -gt "$n0" ] || e2e_fail "station a: no intent journaled before the hold"
	e2e_log "station a SIGKILLed with $(e2e_intents "$E2E_DIR/journal-a") intent(s) journaled: $(grep -c '"outcome"' "$E2E_DIR/$1.json" || true) card(s) ended"
}
# its open intents, in the registry after the kill
a_open() { [ "$(open_intents)" -ge 1 ] || e2e_fail "after the kill: $("$D" recover --registry "$URL" 2>&1)"; }
card_in "$PA" --image "$torn" --uid "$UIDT" --seed 21 --timing datasheet
wait_reader fault-a present
# B waits on its empty reader (started first: its start-up is not taken
# out of A's lease); the card moves from A's reader to B's.
station_bg b b1 "$batch" --cards 1 --wait-ms 60000
pb=$!
kill_a a "$LEASE"
card_out "$PA"
cp "$torn" "$E2E_DIR/torn.before"
card_in "$PB" --image "$torn"
rb=0
wait "$pb" || rb=$?
cat "$E2E_DIR/b1.json" >&2
grep -q '"outcome":"failed"' "$E2E_DIR/b1.json" || e2e_fail "station b within A's lease (exit $rb): $(cat "$E2E_DIR/b1.json")"
grep -q "being personalized at station-a/pcsc:fault-a 00 00" "$E2E_DIR/b1.json" ||
	e2e_fail "station b's refusal: $(cat "$E2E_DIR/b1.json")"
cmp -s "$torn" "$E2E_DIR/torn.before" || e2e_fail "station b changed the card while A's claim held"
e2e_log "station b within the lease (exit $rb): $(grep -o '"detail":"[^"]*"' "$E2E_DIR/b1.json")"
a_open
# Presented again once the lease has run out.
card_out "$PB"
for i in $(seq 1 $((LEASE * 10 + 100))); do
	live=$(psql -X -qAt "$URL" -c "SELECT count(*) FROM dfissue.claims WHERE expires_at > now()")
	[ "$live" = 0 ] && break
	sleep 0.1
done
[ "$live" = 0 ] || e2e_fail "station a's claim still live $((LEASE + 10)) s later"
card_in "$PB" --image "$torn"
station b b2 "$batch" --cards 1 --wait-ms 30000 || e2e_fail "station b after the lease: $(cat "$E2E_DIR/b2.json")"
cat "$E2E_DIR/b2.json" >&2
grep -q "of another station .* taken over as intent" "$E2E_DIR/b2.log" || e2e_fail "b: $(cat "$E2E_DIR/b2.log")"
e2e_check_card "$E2E_DIR/b2.json" "$UIDT" "$torn" "$prof" "$batch"
card_out "$PB"
[ "$(open_intents)" = 0 ] || e2e_fail "after b: $("$D" recover --registry "$URL" 2>&1)"
# A's next start: it tells the registry its journal's tail (an intent
# journaled but not told before the kill, closed by B's key change).
station a a2 "$batch" --cards 1 --wait-ms 500 || true
grep -q '"outcome"' "$E2E_DIR/a2.json" && e2e_fail "station a took a card: $(cat "$E2E_DIR/a2.json")"
e2e_log "a: SIGKILLed at station a; refused at b within the lease, finished there after it"

# ---- c. A station SIGKILLed and restarted on its journal ------------------------------
# As in a., with a lease of 60 s; the card stays on A's reader and A is
# started again on the same journal: it succeeds its dead process (the
# journal's lock: one live process per journal; schema 7) and finishes the
# card at once, not after the lease.
UIDR=04FA0000000002
again=$E2E_DIR/again.img
card_in "$PA" --image "$again" --uid "$UIDR" --seed 22 --timing datasheet
wait_reader fault-a present
kill_a c1 60
a_open
# the card taken off and put back (without the slow timing: CI time)
card_out "$PA"
card_in "$PA" --image "$again"
t0=$(date +%s%N)
station a c2 "$batch" --cards 1 --wait-ms 30000 --claim-lease 60 || e2e_fail "station a restarted: $(cat "$E2E_DIR/c2.json")"
took=$((($(date +%s%N) - t0) / 1000000))
cat "$E2E_DIR/c2.json" >&2
[ "$took" -lt 30000 ] || e2e_fail "station a restarted took ${took} ms: it waited for its dead process's lease"
e2e_check_card "$E2E_DIR/c2.json" "$UIDR" "$again" "$prof" "$batch"
card_out "$PA"
[ "$(open_intents)" = 0 ] || e2e_fail "after the restart: $("$D" recover --registry "$URL" 2>&1)"
e2e_log "c: SIGKILLed at station a (lease 60 s), finished by its restart on the same journal in ${took} ms"

# ---- b. PostgreSQL stopped in the middle of a batch ----------------------------------
# Station b, a batch of 4 cards presented one after the other on its reader.
pgfix=$DFI_BUILD_DIR/tests/pgfix
c_img() { echo "$E2E_DIR/c$1.img"; }
c_uid() { echo "04FB00000000$(printf '%02X' "$1")"; }
# present N [ARGS...]: card N on station b's reader (the one there taken away).
present() {
	local n=$1
	shift
	[ -z "${LATE[$PB]:-}" ] || card_out "$PB"
	wait_reader fault-b empty
	card_in "$PB" --image "$(c_img "$n")" --uid "$(c_uid "$n")" --seed "$((30 + n))" "$@"
}
# The results in FILE so far; 0 before the station has created FILE (grep
# prints nothing then, and wait_ended's test would end its wait at once).
ended() {
	local n
	n=$(grep -c '"outcome"' "$1" 2>/dev/null) || true
	echo "${n:-0}"
}
# wait_ended FILE N PID: until FILE holds N results (60 s).
wait_ended() {
	local i=0
	while [ "$(ended "$1")" -lt "$2" ]; do
		i=$((i + 1))
		{ [ $i -le 6000 ] && kill -0 "$3" 2>/dev/null; } || e2e_fail "not $2 card(s) ended within 60 s: $(cat "$1")"
		sleep 0.01
	done
}
present 1
# The default lease (60 s): the claim this process leaves behind when it
# stops is taken over at once by the next run on this same journal (schema
# 7; docs/OPERATIONS.md 12.5, faults).
station_bg b run1 "$batch" --cards 4 --wait-ms 30000
pr=$!
wait_ended "$E2E_DIR/run1.json" 1 "$pr"
n0=$(e2e_intents "$E2E_DIR/journal-b")
# Card 2 slow; the station frozen as soon as its first key change is
# journaled, the server stopped, the station let go on.
present 2 --timing datasheet
e2e_wait_intents "$E2E_DIR/journal-b" $((n0 + 1)) "$pr"
kill -STOP "$pr"
"$pgfix" stop fast || e2e_fail "pgfix stop"
t_down=$(date +%s)
kill -CONT "$pr"
e2e_log "PostgreSQL stopped while card 2 was in hand ($(e2e_intents "$E2E_DIR/journal-b") intent(s) in journal-b)"
rc=0
for i in $(seq 1 300); do
	kill -0 "$pr" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$pr" 2>/dev/null && e2e_fail "the station still runs 30 s after its registry went away: $(tail -n 5 "$E2E_DIR/run1.log")"
wait "$pr" || rc=$?
grep -v '^  ' "$E2E_DIR/run1.log" >&2
cat "$E2E_DIR/run1.json" >&2
[ "$rc" -ne 0 ] || e2e_fail "the station exited 0 without its registry"
[ "$(ended "$E2E_DIR/run1.json")" -le 2 ] || e2e_fail "a card was taken after the registry went away"
grep -q "^dfissue: stopping: the registry cannot be reached" "$E2E_DIR/run1.log" ||
	e2e_fail "the station did not say the registry failed"
grep -q "card 2: nothing more is sent to any card; .* present it again once the registry answers" \
	"$E2E_DIR/run1.log" || e2e_fail "the station did not say what to do with card 2"
grep -q "^summary: 2 card(s) on 1 reader(s): 1 done, .* 1 failed" "$E2E_DIR/run1.log" ||
	e2e_fail "the summary does not count card 2: $(grep summary "$E2E_DIR/run1.log")"
c2=$(grep "\"uid\":\"$(c_uid 2)\"" "$E2E_DIR/run1.json") || e2e_fail "no result for card 2 in the first run"
grep -q '"outcome":"failed","error":"DFI_E_REGISTRY_UNREACHABLE"' <<<"$c2" || e2e_fail "card 2: $c2"
# The journal holds card 2's records: its detail is the registry's account,
# not a "journal: ... not written" that would be false (audit k34a).
grep -q '"detail":"registry (postgresql): the journaled records were not taken: the registry cannot be reached' \
	<<<"$c2" || e2e_fail "card 2's detail: $c2"
e2e_log "card 2 when the registry went away: $(grep -o '"detail":"[^"]*"' <<<"$c2")"
# A station started while the server is down takes no card: card 3 stays
# a factory card.
present 3
wait_reader fault-b present
rc=0
station b down "$batch" --cards 1 --wait-ms 5000 || rc=$?
[ "$rc" -eq 1 ] || e2e_fail "a station without its registry: exit $rc, not 1"
grep -q "takes no card" "$E2E_DIR/down.log" || e2e_fail "down: $(cat "$E2E_DIR/down.log")"
[ "$(picc_kv "$(c_img 3)")" = 009100 ] || e2e_fail "card 3 was changed while the registry was down"
e2e_log "started while the registry is down: $(grep -v '^  ' "$E2E_DIR/down.log" | head -n 2 | tr '\n' ' ')"
# The server back a few seconds later; a second run finishes the batch: card 2
# (its batch row again; its claim, live for the first run's 60 s lease, is
# this journal's), then 3 and 4 with the rows the first run did not use.
while [ $(($(date +%s) - t_down)) -lt 3 ]; do sleep 0.2; done
"$pgfix" start || e2e_fail "pgfix start"
{ head -n 1 "$batch"; sed -n '3,5p' "$batch"; } >"$E2E_DIR/batch2.csv"
present 2
station_bg b run2 "$E2E_DIR/batch2.csv" --cards 3 --wait-ms 30000
pr=$!
for n in 3 4; do
	wait_ended "$E2E_DIR/run2.json" $((n - 2)) "$pr"
	present "$n"
done
rc=0
wait "$pr" || rc=$?
cat "$E2E_DIR/run2.json" >&2
[ "$rc" -eq 0 ] || e2e_fail "the second run: exit $rc: $(grep -v '^  ' "$E2E_DIR/run2.log")"
card_out "$PB"
e2e_check_card "$E2E_DIR/run1.json" "$(c_uid 1)" "$(c_img 1)" "$prof" "$batch"
for n in 2 3 4; do
	e2e_check_card "$E2E_DIR/run2.json" "$(c_uid "$n")" "$(c_img "$n")" "$prof" "$E2E_DIR/batch2.csv"
done
# Each card issued once, no unknown keys, nothing left open.
for n in 1 2 3 4; do
	k=$(cat "$E2E_DIR/run1.json" "$E2E_DIR/run2.json" | grep "\"uid\":\"$(c_uid "$n")\"" |
		grep -c '"outcome":"\(done\|resumed\)"' || true)
	[ "$k" = 1 ] || e2e_fail "card $n ended done or resumed $k times"
done
! grep -h '"outcome":"unknown-keys"' "$E2E_DIR"/*.json || e2e_fail "unknown keys"
[ "$(open_intents)" = 0 ] || e2e_fail "after the batch: $("$D" recover --registry "$URL" 2>&1)"
e2e_log "b: PostgreSQL stopped mid-batch: the station stopped; resumed by a second run: 4 cards issued once"

audit() {
	"$D" audit --registry "$URL" --pubkey "$E2E_DIR/tok/journal.pub.pem" "$E2E_DIR/journal-a" "$E2E_DIR/journal-b" \
		>"$E2E_DIR/audit.log" 2>&1 || e2e_fail "audit: $(cat "$E2E_DIR/audit.log")"
	grep -q "^audit: OK: 2 journal(s)" "$E2E_DIR/audit.log" || e2e_fail "audit: $(cat "$E2E_DIR/audit.log")"
	cat "$E2E_DIR/audit.log" >&2
}
# Both journals verify with the public key alone. Station b's has no
# intent left open; station a's own may keep the one it journaled last (its
# key changes were finished at b: the registry and the audit know that).
verify() {
	"$D" journal verify --pubkey "$E2E_DIR/tok/journal.pub.pem" "$E2E_DIR/journal-$1" >"$E2E_DIR/verify-$1.log" 2>&1 ||
		e2e_fail "journal verify $1: $(cat "$E2E_DIR/verify-$1.log")"
	e2e_log "journal-$1: $(tail -n 1 "$E2E_DIR/verify-$1.log")"
}
verify a
verify b
grep -q ' 0 unresolved' "$E2E_DIR/verify-b.log" || e2e_fail "journal-b: intents left open"
audit
e2e_log "OK"
