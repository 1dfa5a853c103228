#!/usr/bin/env bash
# Impostor cards through a real pcscd (issue 11). Six readers, each with a
# desfire-sim card; pcscd logs every APDU (--apdu), so the test reads what
# actually reached a refused card. Separate `dfissue personalize` runs on
# one journal:
#   1. the genuine card of UID U1 (factory keys) is issued;
#   2. an impostor with the same UID U1 and factory keys: refused (issued),
#      no command that writes reaches it, its image is unchanged;
#   3. a card that arrived with the AES transport key (diversified from
#      the dev token's transport-master, computed here with openssl CMAC as
#      AN10922 defines it) is issued with profiles/transport.json;
#   4. a blank impostor under the same profile: refused (transport-key)
#      after the failed authentication, nothing else sent, image unchanged;
#   5. a card without an originality signature under a profile that
#      requires one (trusting only the simulator's test key): refused;
#   6. the impostor of run 2 again with --reissue U1 --reason ...: issued,
#      the authorization journaled first.
# journal show lists the three refusals and the authorization; the journal
# verifies with the public key.
set -euo pipefail
. "$(dirname "$0")/e2e_lib.sh"

e2e_init impostor
export DFI_E2E_PCSCD_ARGS=--apdu
U1=04E10000000001 U3=04E30000000003 U4=04E40000000004 U5=04E50000000005

# The transport key of U3: AN10922 AES-128 = CMAC(K, 01 || M) for this
# 16-byte M (UID || "TRANSPORT"), the recipe of profiles/transport.json.
printf '01%s5452414E53504F5254' "$U3" | xxd -r -p >"$E2E_DIR/div.bin"
tkey=$(openssl mac -cipher AES-128-CBC -macopt hexkey:707172737475767778797A7B7C7D7E7F \
	-in "$E2E_DIR/div.bin" CMAC)
[ ${#tkey} -eq 32 ] || e2e_fail "openssl CMAC gave '$tkey'"

n=0
add() { # add NAME UID EXTRA-ARGS...
	local name=$1 uid=$2
	shift 2
	n=$((n + 1))
	e2e_reader "$name"
	e2e_card "$E2E_PORT" --image "$E2E_DIR/$name.img" --uid "$uid" --seed "$n" "$@"
}
add genuine "$U1"
add copy "$U1"
add transport "$U3" --picc-key "aes:$tkey:0"
add blank "$U4"
add nosig "$U5" --originality none
e2e_rig_start
for f in genuine copy transport blank nosig; do cp "$E2E_DIR/$f.img" "$E2E_DIR/$f.before"; done

batch=$E2E_SRC/profiles/reference-batch.csv
# A profile requiring originality, trusting the simulator's test key only.
sed "\$ s|^}\$|, \"originality\": {\"policy\": \"require\", \"trusted_keys\": \"$E2E_SRC/tests/data/sim-originality.keys\"}}|" \
	"$E2E_SRC/profiles/reference.json" >"$E2E_DIR/require.json"

run() { # run NAME PROFILE [OPTIONS...]: one personalize run on reader NAME, its JSON line in NAME.json
	local name=$1 prof=$2
	shift 2
	local mark
	mark=$(wc -l <"$E2E_DIR/pcscd.log")
	local rc=0
	timeout 60 "$E2E_DFISSUE" personalize --profile "$prof" --batch "$batch" "${E2E_HSM[@]}" \
		--reader "pcsc:$name 00 00" --journal "$E2E_DIR/journal" --create-journal --station e2e \
		--cards 1 --wait-ms 10000 --json "$@" >"$E2E_DIR/$name.json" 2>"$E2E_DIR/$name.log" || rc=$?
	tail -n +"$((mark + 1))" "$E2E_DIR/pcscd.log" >"$E2E_DIR/$name.apdu"
	RUN_RC=$rc
	RUN_LINE=$(cat "$E2E_DIR/$name.json")
	e2e_log "run on $name: exit $rc: $RUN_LINE"
}

# The command bytes pcscd passed to the card (native DESFire APDUs).
sent_ins() { grep -o 'APDU: 90 [0-9A-F][0-9A-F]' "$1" | awk '{print $3}'; }
no_write() { # no_write NAME: no command that changes a card reached it
	local ins bad=""
	[ -n "$(sent_ins "$E2E_DIR/$1.apdu")" ] || e2e_fail "no APDU of run $1 in pcscd's log"
	for ins in $(sent_ins "$E2E_DIR/$1.apdu"); do
		case $ins in
		C4 | CA | DA | FC | 5C | 54 | CD | CB | CC | C1 | C0 | DF | 5F | 3D | 3B | 0C | DC | 1C | EB | C7)
			bad="$bad $ins" ;;
		esac
	done
	[ -z "$bad" ] || e2e_fail "commands that write reached the refused card $1:$bad"
	cmp -s "$E2E_DIR/$1.img" "$E2E_DIR/$1.before" || e2e_fail "the image of $1 changed"
}
refused() { # refused NAME CAUSE
	[ "$RUN_RC" -eq 1 ] || e2e_fail "run $1 exited $RUN_RC, not 1"
	[ "$(e2e_field "$RUN_LINE" outcome)" = refused ] || e2e_fail "$1 not refused: $RUN_LINE"
	[ "$(e2e_field "$RUN_LINE" refusal_cause)" = "$2" ] || e2e_fail "$1 refused for another cause: $RUN_LINE"
	no_write "$1"
}

run genuine "$E2E_SRC/profiles/reference.json"
[ "$RUN_RC" -eq 0 ] && [ "$(e2e_field "$RUN_LINE" outcome)" = "done" ] || e2e_fail "genuine card: $RUN_LINE"

run copy "$E2E_SRC/profiles/reference.json"
refused copy issued
grep -q 'UID already issued' "$E2E_DIR/copy.json" || e2e_fail "no reason in $RUN_LINE"

run transport "$E2E_SRC/profiles/transport.json"
[ "$RUN_RC" -eq 0 ] && [ "$(e2e_field "$RUN_LINE" outcome)" = "done" ] || e2e_fail "transport card: $RUN_LINE"
sent_ins "$E2E_DIR/transport.apdu" | grep -qx 0A && e2e_fail "legacy DES authentication on a transport card"

run blank "$E2E_SRC/profiles/transport.json"
refused blank transport-key
# After the first authentication, only authentication frames.
after=$(sent_ins "$E2E_DIR/blank.apdu" | sed -n '/^\(0A\|1A\|AA\|71\|77\)$/,$p')
[ -n "$after" ] || e2e_fail "no authentication reached the blank impostor"
bad=$(grep -vxE '0A|1A|AA|71|77|AF' <<<"$after" || true)
[ -z "$bad" ] || e2e_fail "commands after the failed authentication: $bad"

run nosig "$E2E_DIR/require.json"
refused nosig originality
[ "$(sent_ins "$E2E_DIR/nosig.apdu" | tail -n 1)" = 3C ] || e2e_fail "Read_Sig was not the last command"

run copy "$E2E_SRC/profiles/reference.json" --reissue "$U1" --reason "chip replaced, ticket 4711"
[ "$RUN_RC" -eq 0 ] && [ "$(e2e_field "$RUN_LINE" outcome)" = "done" ] || e2e_fail "re-issue: $RUN_LINE"
[ -n "$(e2e_field "$RUN_LINE" authorization_record)" ] || e2e_fail "no authorization record: $RUN_LINE"

e2e_rig_stop
"$E2E_DFISSUE" journal show "$E2E_DIR/journal" >"$E2E_DIR/show.log"
grep -A3 '^refusals:' "$E2E_DIR/show.log" >&2
grep -A1 '^authorizations:' "$E2E_DIR/show.log" >&2
grep -q '^refusals: 3$' "$E2E_DIR/show.log" || e2e_fail "journal show: $(cat "$E2E_DIR/show.log")"
grep -q "card $U1 refused (issued)" "$E2E_DIR/show.log" || e2e_fail "issued refusal not listed"
grep -q "card $U4 refused (transport-key)" "$E2E_DIR/show.log" || e2e_fail "transport refusal not listed"
grep -q "card $U5 refused (originality)" "$E2E_DIR/show.log" || e2e_fail "originality refusal not listed"
grep -q "card $U1 re-issue authorized: chip replaced, ticket 4711" "$E2E_DIR/show.log" ||
	e2e_fail "authorization not listed"
e2e_check_journal
e2e_log "OK: impostors refused with nothing written (pcscd's APDU log), the re-issue authorized and journaled"
