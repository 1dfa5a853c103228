#!/usr/bin/env bash
# Stopping a station through pcscd + vpcd, as `systemctl stop` does:
#  A. a reader name pcscd does not know fails at once, naming the readers it
#     has (and as a JSON error object), before a journal is created, in
#     personalize, inspect and sdm read; so does a pattern matching none;
#  B. SIGTERM while three slow cards (--timing datasheet) are mid-ChangeKey:
#     no new card is taken, each card in a reader is finished, the summary is
#     printed, exit 0; every card that was started holds its target state,
#     the journal verifies with no unresolved intent;
#  C. two signals in a row: the second stops at once (exit 3, summary); the
#     journal still verifies, and a new run on the same cards finishes every
#     one of them (open intents resolved by probing), leaving no open intent
#     and no card with keys the system cannot name.
set -euo pipefail
. "$(dirname "$0")/e2e_lib.sh"

e2e_init sigterm
e2e_reference 6
n=3
e2e_cards term "$n" 04A7E00000000 -q --timing datasheet
e2e_cards kill "$n" 04B7E00000000 -q --timing datasheet
e2e_rig_start

# A. Unknown reader.
# refused_reader NAME READER WANT [OPTION...]: personalize on READER fails
# (exit 1) saying WANT (a grep pattern) and as a JSON error object, and
# leaves no journal behind.
refused_reader() {
	local name=$1 reader=$2 want=$3 rc=0
	shift 3
	"$E2E_DFISSUE" personalize --profile "$E2E_PROFILE" --batch "$E2E_BATCH" "${E2E_HSM[@]}" \
		--reader "$reader" --journal "$E2E_DIR/j-$name" --create-journal --json "$@" \
		>"$E2E_DIR/$name.out" 2>"$E2E_DIR/$name.err" || rc=$?
	e2e_log "$name: exit $rc: $(cat "$E2E_DIR/$name.err")"
	[ "$rc" -eq 1 ] || e2e_fail "$name: exit $rc"
	grep -q "$want" "$E2E_DIR/$name.err" || e2e_fail "$name: message"
	grep -q '^{"error":"unknown_reader","message":"reader .*","exit":1}$' "$E2E_DIR/$name.out" ||
		e2e_fail "$name: JSON error: $(cat "$E2E_DIR/$name.out")"
	[ ! -e "$E2E_DIR/j-$name" ] || e2e_fail "$name: a journal was created"
}
have="it has 12: 'term-1 00 00', 'term-1 00 01', "
refused_reader unknown 'pcsc:term-9 00 00' \
	"reader 'pcsc:term-9 00 00': pcscd knows no reader of that name; $have"

# Audit k34, findings 3 and 4: inspect and sdm read refuse an unknown name
# as personalize does, at once with the readers there are (not after
# --wait-ms, blaming the reader); a pattern that matches no reader fails
# before the journal is created, after its wait for readers coming up
# (here bounded by --wait-ms 1000).
for sub in inspect "sdm read --aid E30010 --file 2"; do
	read -ra args <<<"$sub"
	rc=0
	t0=$(date +%s%N)
	"$E2E_DFISSUE" "${args[@]}" --reader 'pcsc:term-9 00 00' --wait-ms 20000 \
		>"$E2E_DIR/unknown-cmd.out" 2>"$E2E_DIR/unknown-cmd.err" || rc=$?
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	e2e_log "$sub, unknown reader: exit $rc after $ms ms: $(cat "$E2E_DIR/unknown-cmd.err")"
	[ "$rc" -eq 1 ] || e2e_fail "$sub, unknown reader: exit $rc"
	grep -q "^dfissue: reader 'pcsc:term-9 00 00': pcscd knows no reader of that name; $have" \
		"$E2E_DIR/unknown-cmd.err" || e2e_fail "$sub: unknown reader message"
	[ "$ms" -lt 15000 ] || e2e_fail "$sub waited for the unknown reader ($ms ms)"
done
refused_reader nomatch 'pcsc:ZZ*' "^dfissue: reader 'pcsc:ZZ\*': pcscd knows no reader that matches; $have" \
	--wait-ms 1000

# The bash completion offers pcscd's reader names after --reader.
comp=$(bash --norc --noprofile -c '
	source "$1/completion/dfissue.bash"
	COMP_WORDS=("$2" personalize --reader "pcsc:term-2"); COMP_CWORD=3; _dfissue
	printf "%s\n" "${COMPREPLY[@]}"' _ "$E2E_SRC" "$E2E_DFISSUE")
[ "$comp" = "$(printf '%s\n' 'pcsc:term-2\ 00\ 00' 'pcsc:term-2\ 00\ 01')" ] ||
	e2e_fail "completion of --reader pcsc:term-2 gave: $comp"
e2e_log "completion: --reader pcsc:term-2 -> $(tr '\n' ' ' <<<"$comp")"

# B. One SIGTERM mid-run. (timeout --foreground: without it, timeout passes
# a signal it receives both to its child and to its whole process group, so
# the child would see two signals, the "stop at once" path.)
j=$E2E_DIR/journal
timeout --foreground 90 "$E2E_DFISSUE" personalize --profile "$E2E_PROFILE" --batch "$E2E_BATCH" \
	"${E2E_HSM[@]}" --reader 'pcsc:term-* 00 00' --journal "$j" --create-journal --station term \
	--json >"$E2E_DIR/out.jsonl" 2>"$E2E_DIR/personalize.log" &
perso=$!
e2e_wait_intents "$j" 2 "$perso"
e2e_log "SIGTERM with $(e2e_intents "$j") intent(s) journaled"
t0=$(date +%s%N)
kill -TERM "$perso"
rc=0
wait "$perso" || rc=$?
e2e_log "personalize ended $(( ($(date +%s%N) - t0) / 1000000 )) ms after SIGTERM, exit $rc"
grep -vE '^  ' "$E2E_DIR/personalize.log" >&2
[ "$rc" -eq 0 ] || e2e_fail "exit $rc after SIGTERM, expected 0"
grep -q '^dfissue: stop requested: no new cards' "$E2E_DIR/personalize.log" ||
	e2e_fail "no stop message"
grep -qE "^summary: [0-9]+ card\(s\) on $n reader\(s\): .*; stopped by a signal$" \
	"$E2E_DIR/personalize.log" || e2e_fail "no summary after SIGTERM"
served=$(grep -c '"outcome"' "$E2E_DIR/out.jsonl" || true)
[ "$served" -ge 1 ] || e2e_fail "no card was finished"
[ "$served" -le "$n" ] || e2e_fail "a new card was taken after SIGTERM"
e2e_check_journal
cp "$E2E_DIR/verify.log" "$E2E_DIR/verify-term.log"

# C. Two signals: the second stops at once.
prof2=$E2E_SRC/profiles/minimal.json
j2=$E2E_DIR/journal2
timeout --foreground 90 "$E2E_DFISSUE" personalize --profile "$prof2" "${E2E_HSM[@]}" \
	--reader 'pcsc:kill-* 00 00' --journal "$j2" --create-journal --station kill \
	--json >"$E2E_DIR/out2.jsonl" 2>"$E2E_DIR/personalize2.log" &
perso=$!
e2e_wait_intents "$j2" 1 "$perso"
# Both signals at once: the minimal profile's cards finish about 0.2 s after
# their first intent, so any pause here (50 ms once, plus a loaded CI
# machine) let them finish first and the second signal found nothing to stop.
kill -TERM "$perso"
kill -INT "$perso" 2>/dev/null || true
rc=0
wait "$perso" || rc=$?
grep -vE '^  ' "$E2E_DIR/personalize2.log" >&2
[ "$rc" -eq 3 ] || e2e_fail "exit $rc after two signals, expected 3"
grep -q '^dfissue: stopping at once' "$E2E_DIR/personalize2.log" || e2e_fail "no 'stopping at once'"
grep -qE '^summary: .*; stopped at once by a second signal$' "$E2E_DIR/personalize2.log" ||
	e2e_fail "no summary after the second signal"
"$E2E_DFISSUE" journal verify --pubkey "$E2E_DIR/tok/journal.pub.pem" "$j2" >"$E2E_DIR/verify2.log" 2>&1 ||
	e2e_fail "journal verify after a second signal: $(cat "$E2E_DIR/verify2.log")"
e2e_log "after two signals: $(cat "$E2E_DIR/verify2.log")"
# The next run finishes every card.
timeout --foreground 90 "$E2E_DFISSUE" personalize --profile "$prof2" "${E2E_HSM[@]}" \
	--reader 'pcsc:kill-* 00 00' --journal "$j2" --station kill --cards "$n" --wait-ms 20000 \
	--json >"$E2E_DIR/out3.jsonl" 2>"$E2E_DIR/personalize3.log" ||
	e2e_fail "the run after the interrupted one failed (personalize3.log)"
cat "$E2E_DIR/out3.jsonl" >&2
e2e_rig_stop

while IFS= read -r uid; do
	i=${uid: -1}
	e2e_check_card "$E2E_DIR/out.jsonl" "$uid" "$E2E_DIR/term-$i.img" "$E2E_PROFILE" "$E2E_BATCH"
done < <(sed -n 's/.*"uid":"\([0-9A-F]*\)".*/\1/p' "$E2E_DIR/out.jsonl")
for i in $(seq 1 "$n"); do
	e2e_check_card "$E2E_DIR/out3.jsonl" "04B7E00000000$i" "$E2E_DIR/kill-$i.img" "$prof2" ""
done
"$E2E_DFISSUE" journal verify --pubkey "$E2E_DIR/tok/journal.pub.pem" "$j2" >"$E2E_DIR/verify3.log" 2>&1 ||
	e2e_fail "journal verify: $(cat "$E2E_DIR/verify3.log")"
grep -q ' 0 unresolved' "$E2E_DIR/verify3.log" || e2e_fail "unresolved intents left: $(cat "$E2E_DIR/verify3.log")"
cat "$E2E_DIR/verify3.log" >&2
e2e_log "OK: SIGTERM finished $served card(s) and exited 0; two signals stopped at once, safely"
