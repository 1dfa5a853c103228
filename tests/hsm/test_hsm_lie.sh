#!/usr/bin/env bash
# A PKCS#11 module that answers with a lie: the call succeeds but a length,
# count, attribute or text it returns is wrong (a vendor module's bug, a
# remote-HSM client, a module built for another PKCS#11 version).
# faultp11 (tests/tear/faultp11) sits in front of SoftHSM2 and rewrites the
# answer of one call (FAULTP11_LIE=FN:N:KIND, kinds in faultp11.c). Each
# row says which lie, which dfissue command, the exit code and the message:
# every lie is refused with a message naming the call and what came back
# (DFI_E_HSM_GENERAL, "... a malformed answer from the PKCS#11 module,
# refused"), or the command gives the true result. No row may print a
# control character a lying token put in a text field, and the token has
# the same objects afterwards (a refused answer leaves nothing behind).
# In a sanitizer build a read or write past a buffer fails the row.
set -euo pipefail
# shellcheck source=tests/hsm/dev_token.sh
. "$(dirname "$0")/dev_token.sh"
dev_token hsm-lie
hsm=(--module "$FAULTP11" --token pkcs11:token=dfissue-dev --pin-file "$work/tok/user.pin")
kcv=(key kcv "${hsm[@]}" pkcs11:object=picc-master)
malformed=": a malformed answer from the PKCS#11 module, refused"
p11fail="PKCS#11 call failed: the detail names the call and its return value"
rows=0

# row LIE RC REGEX -- ARGS...: dfissue ARGS with FAULTP11_LIE=LIE exits RC
# and prints a line matching REGEX (stdout or stderr).
row() {
	local lie=$1 want=$2 re=$3 rc=0
	shift 4
	FAULTP11_LIE=$lie timeout -s KILL 60 "$dfissue" "$@" >"$work/out" 2>"$work/err" || rc=$?
	grep -q "^faultp11: lie " "$work/err" || fail "$lie: no lie was told ($*)"
	grep -v "^faultp11: lie " "$work/err" >"$work/said" || true # none: only lies
	cat "$work/out" >>"$work/said"
	if [ "$rc" != "$want" ] || ! grep -qE -- "$re" "$work/said"; then
		cat "$work/said" >&2
		fail "$lie ($*): exit $rc (want $want), or no line matching: $re"
	fi
	! grep -q $'\x1b' "$work/said" || fail "$lie ($*): an escape character reached the output"
	! grep -q 'Sanitizer' "$work/said" || fail "$lie ($*): sanitizer report"
	rows=$((rows + 1))
}

"$dfissue" key list "${hsm[@]}" >"$work/objects.before" || fail "key list"
truth=$("$dfissue" "${kcv[@]}") || fail "key kcv"

# The rows: LIE|RC|COMMAND|REGEX, COMMAND one of list (key list), kcv
# (key kcv of picc-master), pub (journal-key pubkey), check (hsm check),
# anytoken (key kcv of no key on whichever token: the label is printed).
args_for() {
	case $1 in
	list) args=(key list "${hsm[@]}") ;;
	kcv) args=("${kcv[@]}") ;;
	pub) args=(journal-key pubkey "${hsm[@]}" pkcs11:object=journal) ;;
	check) args=(hsm check "${hsm[@]}") ;;
	anytoken) args=(key kcv --module "$FAULTP11" --token pkcs11: --pin-file "$work/tok/user.pin"
		pkcs11:object=nope) ;;
	esac
}
M="$malformed\)\$"
while IFS='|' read -r lie want cmd re; do
	case $lie in '#'* | '') continue ;; esac
	args_for "$cmd"
	row "$lie" "$want" "$re" -- "${args[@]}"
done <<ROWS
# Opening the token: C_GetSlotList's count grows between its two calls (it
# indexed past the list it had filled), is absurd (2^40; CK_UNAVAILABLE_
# INFORMATION), and C_GetMechanismList's likewise (an absurd count left
# the token without mechanisms; a grown one read past what was filled).
C_GetSlotList:2:long|1|list|^dfissue: opening the HSM: $p11fail \(C_GetSlotList reported [0-9]+ items into a list of [0-9]+$M
C_GetSlotList:1:huge|1|list|\(C_GetSlotList reported 1099511627776 items into a list of 1024$M
# A token plugged in between the two calls (CKR_BUFFER_TOO_SMALL, as
# PKCS#11 says): the count is asked again and the token opens (it failed).
C_GetSlotList:2:grew|0|kcv|^$truth$
C_GetSlotList:1:unavail|1|list|\(C_GetSlotList reported 18446744073709551615 items into a list of 1024$M
C_GetMechanismList:1:huge|1|list|^dfissue: opening the HSM: $p11fail \(C_GetMechanismList reported 1099511627776 items into a list of 4096$M
C_GetMechanismList:2:long|1|list|\(C_GetMechanismList reported [0-9]+ items into a list of [0-9]+$M
# The token's label is printed as printable ASCII up to its first NUL (it
# was copied raw: an escape sequence reached the terminal).
C_GetTokenInfo:0:garbage|1|anytoken|^dfissue: key kcv: no key matches the URI: .*on token '\?\[2J%n%s'\)$
C_GetInfo:0:garbage|0|check|^            \?\[2J%n%s, \?\[2J%n%s, library 
# A base key's attributes (dfi_hsm_key_find): longer than their buffers,
# of the wrong size, an absurd or zero CKA_VALUE_LEN (0: not reported,
# taken as AES-128, the true KCV).
C_GetAttributeValue:1:long|1|kcv|^dfissue: key kcv: $p11fail \(C_GetAttributeValue reported 72 bytes of CKA_KEY_TYPE \(0x100\) into a buffer of 8$M
C_GetAttributeValue:1:short|1|kcv|\(C_GetAttributeValue gave CKA_KEY_TYPE, CKA_SENSITIVE, CKA_EXTRACTABLE in 7, 0, 0 bytes$M
C_GetAttributeValue:1:vlen40|1|kcv|'pkcs11:object=picc-master' is an AES-8796093022208 key: DESFire keys are AES-128\)$
C_GetAttributeValue:1:vlen0|0|kcv|^$truth$
# The key's identity for finding it again (dfi_hsm_ref_init): a label
# longer than its buffer was kept as its length and later sent to
# C_FindObjectsInit, which read past it.
C_GetAttributeValue:2:huge|1|kcv|\(C_GetAttributeValue reported 1099511627776 bytes of CKA_CLASS \(0x0\) into a buffer of 8$M
C_FindObjects:1:long|1|kcv|\(C_FindObjects reported 66 items into a list of 2$M
C_Encrypt:1:long|1|kcv|\(C_Encrypt returned 80 bytes where 16 were expected$M
C_Encrypt:1:unavail|1|kcv|\(C_Encrypt returned no length \(CK_UNAVAILABLE_INFORMATION\) where 16 bytes were expected$M
# The journal key's public half (variable-length attributes, dfi_hsm_attr):
# the second call reports more than the first said (it wrote a NUL past
# the buffer), or unavailable (it wrote at index 2^64-1), or an absurd
# length; an EC point that is not a DER OCTET STRING of a point.
C_GetAttributeValue:2:long|1|pub|^dfissue: journal-key pubkey: $p11fail \(C_GetAttributeValue reported 69 bytes of CKA_EC_PARAMS \(0x180\) into a buffer of 5$M
C_GetAttributeValue:2:unavail|1|pub|\(C_GetAttributeValue reported CKA_EC_PARAMS \(0x180\) unavailable after giving its length$M
C_GetAttributeValue:1:huge|1|pub|\(C_GetAttributeValue gave CKA_EC_PARAMS \(0x180\) a length of 1099511627776 \(at most 65536 is read\)$M
C_GetAttributeValue:4:garbage|1|pub|^dfissue: journal-key pubkey: key has the wrong type .*\('pkcs11:object=journal': CKA_EC_PARAMS \(5 bytes\) and CKA_EC_POINT \(34 bytes\) are not an Ed25519 or P-256 public key\)$
# A journal signature of the wrong length (hsm check's test checkpoint):
# the key could not sign, and the detail says how (it said "does not
# verify" and the generic text alone).
C_Sign:1:long|1|check|^journal key pkcs11:object=journal;type=private: could not sign a test checkpoint: $p11fail \(C_Sign \(journal checkpoint\) returned [0-9]+ bytes where 64 were expected$M
ROWS

# A card key's CMAC (the 5th C_Sign: a MACed write) and decryption (the
# first authentication) of the wrong length: the card fails with the HSM
# error and the next tap, with an honest HSM, finishes it.
perso=(personalize --profile "$src/profiles/reference.json" --batch "$src/profiles/reference-batch.csv"
	--reader "sim:$work/card.img" --cards 1 --journal "$work/j" --station lie "${hsm[@]}")
for lie in C_Sign:5:short C_Decrypt:1:long; do
	rm -rf "$work/j" "$work/card.img"
	row "$lie" 1 "^card 1 [0-9A-F]{14}: failed \(.*\): step [0-9]+/[0-9]+ \(.*\): $p11fail \(C_(Sign \(card key CMAC\)|Decrypt) returned [0-9]+ bytes where 16 were expected$M" \
		-- "${perso[@]}" --create-journal
	"$dfissue" "${perso[@]}" >"$work/again.out" 2>&1 || fail "$lie: the next tap: $(cat "$work/again.out")"
	grep -q '^1 card(s), 1 done or resumed$' "$work/again.out" || fail "$lie: the next tap did not finish"
	"$dfissue" journal verify --pubkey "$work/tok/journal.pub.pem" "$work/j" >"$work/verify.out" 2>&1 ||
		fail "$lie: journal verify: $(cat "$work/verify.out")"
done

# A call that fails (FAULTP11_FAIL=FN:N: FN's nth call answers
# CKR_DEVICE_ERROR) on each path from the CLI where the user saw only the
# error's text ("HSM device error, ..."), not which call failed and how:
# each line now ends with the HSM's detail, once, in parentheses.
dev="HSM device error, token removed or session lost: check the HSM and retry"
ckr() { echo "\\($1: An error occurred on the device \\(CKR 0x30\\)\\)"; }
# frow FAIL RC REGEX -- ARGS...: dfissue ARGS with FAULTP11_FAIL=FAIL exits
# RC and prints a line matching REGEX; no line says the device error
# without its detail or holds the detail twice.
frow() {
	local fail=$1 want=$2 re=$3 rc=0
	shift 4
	FAULTP11_FAIL=$fail timeout -s KILL 60 "$dfissue" "$@" >"$work/said" 2>&1 || rc=$?
	if [ "$rc" != "$want" ] || ! grep -qE -- "$re" "$work/said"; then
		cat "$work/said" >&2
		fail "FAULTP11_FAIL=$fail ($*): exit $rc (want $want), or no line matching: $re"
	fi
	! grep -F "$dev" "$work/said" | grep -vq "(CKR 0x30)" ||
		fail "FAULTP11_FAIL=$fail ($*): the HSM error without its detail: $(cat "$work/said")"
	! grep -q "CKR 0x30.*CKR 0x30" "$work/said" || fail "FAULTP11_FAIL=$fail ($*): the detail twice"
	! grep -q 'Sanitizer' "$work/said" || fail "FAULTP11_FAIL=$fail ($*): sanitizer report"
	rows=$((rows + 1))
}
fresh() { rm -rf "$work/j" "$work/ji" "$work/card.img"; }
# The journal's first checkpoint (C_Sign 1: personalize creating the
# journal, journal init; init also said "created journal" after its error).
fresh
frow C_Sign:1 1 "^dfissue: creating the journal in '$work/j': the journal key could not sign the first checkpoint: $dev $(ckr C_Sign)\$" \
	-- "${perso[@]}" --create-journal
frow C_Sign:1 1 "^dfissue: journal init: the journal key could not sign the first checkpoint: $dev $(ckr C_Sign)\$" \
	-- journal init --origin lie/init --station lie "${hsm[@]}" "$work/ji"
! grep -q "^created journal" "$work/said" || fail "journal init: 'created journal' after its error"
# journal recover: the checkpoint over the recovery record of a torn tail.
"$dfissue" journal init --origin lie/recover --station lie "${hsm[@]}" "$work/ji" >/dev/null ||
	fail "journal init"
echo "a torn line" >>"$work/ji/journal.log"
frow C_Sign:1 1 "^dfissue: journal recover: journal $work/ji: the journal key \(checkpoint origin lie/recover\) could not sign a checkpoint \(DFI_E_HSM_DEVICE: C_Sign: An error occurred on the device \(CKR 0x30\)\): " \
	-- journal recover --station lie "${hsm[@]}" "$work/ji"
# A checkpoint in the tap (C_Sign 2): the card's line, its --json record
# and the run's last line name the call.
jfail="the journal key \\(checkpoint origin dfissue/lie\\) could not sign a checkpoint \\(DFI_E_HSM_DEVICE: C_Sign: An error occurred on the device \\(CKR 0x30\\)\\)"
fresh
frow C_Sign:2 1 "^card 1 [0-9A-F]{14}: failed \(.*\): journal $work/j: $jfail: .*: nothing more is sent" \
	-- "${perso[@]}" --create-journal
fresh
frow C_Sign:2 1 "^dfissue: journal $work/j: $jfail: .* \(token 'dfissue-dev'\): nothing more is sent" \
	-- "${perso[@]}" --create-journal
# A card key's CMAC (C_Sign 3, a MACed command of step 5): the card's line
# and its --json record.
fresh
frow C_Sign:3 1 "^card 1 [0-9A-F]{14}: failed \(.*\): step 5/23 \(create file 0 in F54010\): $dev $(ckr C_Sign)\$" \
	-- "${perso[@]}" --create-journal
fresh
frow C_Sign:3 1 "\"detail\":\"step 5/23 \\(create file 0 in F54010\\): $dev $(ckr C_Sign)\"" \
	-- "${perso[@]}" --create-journal --json
# A base key's lookup as personalize starts (the profile's first key).
fresh
frow C_FindObjectsInit:1 1 "^dfissue: profile '[^']*': picc.key: base key pkcs11:object=picc-master;type=secret-key: $dev $(ckr C_FindObjects) \(nothing was created\)\$" \
	-- "${perso[@]}" --create-journal
# inspect's plan for a personalized card, its first authentication's
# C_Decrypt failing: the report, with the call, and exit 1 (it said exit 0,
# as if the card had stopped the plan).
fresh
"$dfissue" "${perso[@]}" --create-journal >"$work/perso.out" 2>&1 || fail "personalize: $(cat "$work/perso.out")"
insp=(inspect --reader "sim:$work/card.img" --profile "$src/profiles/reference.json"
	--batch "$src/profiles/reference-batch.csv" "${hsm[@]}")
frow C_Decrypt:1 1 "^  no plan: $dev $(ckr C_Decrypt)\$" -- "${insp[@]}"
frow C_Decrypt:1 1 "^dfissue: inspect: the report above is incomplete: the plan stopped on this side \(DFI_E_HSM_DEVICE\), not on the card" \
	-- "${insp[@]}"
grep -q "^card [0-9A-F]\{14\}: DESFire hw" "$work/said" || fail "inspect: no report with the HSM failure"
# The token search: a slot that does not describe itself (it said only
# "no initialized token matches").
frow C_GetTokenInfo:1 1 "^dfissue: opening the HSM: no token matches the URI: .*; C_GetTokenInfo failed on 1 of 2 slots: An error occurred on the device \(CKR 0x30\)\)\$" \
	-- key list "${hsm[@]}"
# hsm check: a module that loads but refuses its slot list (it said "the
# module does not load: check --module"), the journal key's test
# signature, the token's key list.
frow C_GetSlotList:1 1 "^slots       the module refused its slot list: $dev $(ckr C_GetSlotList)\$" \
	-- hsm check "${hsm[@]}"
frow C_GetSlotList:1 1 "^to fix      the module loads but does not list its slots \(the call above\): check that the HSM is connected" \
	-- hsm check "${hsm[@]}"
! grep -q "does not load" "$work/said" || fail "hsm check: a module that loads 'does not load'"
frow C_Sign:1 1 "^journal key pkcs11:object=journal;type=private: could not sign a test checkpoint: $dev $(ckr C_Sign)\$" \
	-- hsm check "${hsm[@]}"
frow C_FindObjectsInit:1 0 "^base keys   \(cannot list the token's keys: $dev $(ckr C_FindObjects)\)\$" \
	-- hsm check "${hsm[@]}"
fresh

# The sweep: every call faultp11 can lie in, every kind, every call of it
# lying, through `hsm check` (which opens the token, reads the mechanisms,
# finds and uses every base key, derives on every path and signs with the
# journal key): exit 0 (the answer was believed: a short count, a garbage
# byte the HSM could have computed) or 1 (refused), never a crash, a
# sanitizer report or an escape character.
sweep=0
for fn in C_GetInfo C_GetSlotList C_GetSlotInfo C_GetTokenInfo C_GetMechanismList \
	C_GetAttributeValue C_FindObjects C_Encrypt C_Sign; do
	for kind in long huge short unavail garbage vlen0 vlen40; do
		rc=0
		FAULTP11_LIE=$fn:0:$kind timeout -s KILL 60 "$dfissue" hsm check "${hsm[@]}" \
			>"$work/out" 2>"$work/err" || rc=$?
		grep -q "^faultp11: lie " "$work/err" || continue
		[ "$rc" = 0 ] || [ "$rc" = 1 ] || fail "sweep $fn:0:$kind: exit $rc: $(cat "$work/err")"
		! grep -q $'\x1b' "$work/out" "$work/err" || fail "sweep $fn:0:$kind: an escape character"
		! grep -q 'Sanitizer' "$work/err" || fail "sweep $fn:0:$kind: $(cat "$work/err")"
		sweep=$((sweep + 1))
	done
done
# 3 info calls x garbage, 5 calls x 5 kinds, C_GetAttributeValue x 7 kinds.
[ "$sweep" = 35 ] || fail "the sweep told lies in $sweep runs, not 35"

"$dfissue" key list "${hsm[@]}" >"$work/objects.after" || fail "key list"
diff <(sort "$work/objects.before") <(sort "$work/objects.after") >&2 || fail "the token's objects changed"
echo "$rows rows refused or answered truly; the sweep: $sweep runs"
