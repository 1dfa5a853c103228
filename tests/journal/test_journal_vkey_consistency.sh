#!/usr/bin/env bash
# The journal key as a C2SP signed-note verifier key, checked the way a
# standard note tool would, with openssl and coreutils only (nothing of
# dfissue's verification code): for an Ed25519 and an ECDSA P-256 journal
# key in a SoftHSM2 dev token,
#   - `dfissue journal-key vkey` prints NAME+HASH+BASE64 with NAME = the
#     journal's origin and BASE64 = type byte || key (0x01 || 32 bytes,
#     0x02 || DER SubjectPublicKeyInfo);
#   - HASH is the key ID recomputed from the key (SHA-256(name || 0x0A ||
#     0x01 || key)[:4], SHA-256(DER)[:4] for ECDSA), the genesis record's
#     key_id, and the first 4 bytes of the checkpoint's signature;
#   - the signature over the checkpoint text verifies with the key taken
#     from the vkey (openssl pkeyutl / dgst), and `journal verify` accepts
#     the vkey in place of the PEM.
# Then `journal consistency` and `journal verify --consistency` on a journal
# that grows (OK, with the proof's own old checkpoint, with --last-seen, and
# with the journal itself), and on one rolled back to a backup and appended
# to: refused against the checkpoint seen before the rollback.
set -euo pipefail
src=${DFI_SOURCE_DIR:?}
bin=${DFI_BUILD_DIR:?}/bin/dfissue
work=$(mktemp -d "${TMPDIR:-/tmp}/dfi-vkey-XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

bash "$src/hsm-config/make-dev-token.sh" "$work/tok" "$bin" >"$work/token.log" 2>&1 || {
	cat "$work/token.log" >&2
	fail "make-dev-token.sh"
}
export SOFTHSM2_CONF=$work/tok/softhsm2.conf
hsm=(--token pkcs11:token=dfissue-dev --pin-file "$work/tok/user.pin")
"$bin" journal-key generate "${hsm[@]}" --label jec --alg ecdsa-p256 --pubkey-out "$work/jec.pem" >/dev/null

b64d() { base64 -d 2>/dev/null; }
hex() { od -An -v -tx1 | tr -d ' \n'; }

check() { # label key-label origin
	local label=$1 key=$2 origin=$3 d=$work/$1
	"$bin" journal init --origin "$origin" --station vk "${hsm[@]}" --key "pkcs11:object=$key;type=private" "$d" >/dev/null
	local vkey
	vkey=$("$bin" journal-key vkey --journal "$d" "${hsm[@]}" "pkcs11:object=$key")
	# the offline form, from the PEM, is the same
	"$bin" journal-key pubkey "${hsm[@]}" --out "$work/$label.pem" "pkcs11:object=$key"
	[ "$("$bin" journal-key vkey --origin "$origin" --pubkey "$work/$label.pem")" = "$vkey" ] ||
		fail "$label: vkey from the PEM differs"
	local name=${vkey%%+*} rest=${vkey#*+}
	local hash=${rest%%+*} blob=${rest#*+}
	[ "$name" = "$origin" ] || fail "$label: key name '$name' is not the origin"
	[[ $hash =~ ^[0-9a-f]{8}$ ]] || fail "$label: key hash '$hash' is not 8 lower-case hex digits"
	printf '%s' "$blob" | b64d >"$work/$label.blob"
	local type id
	type=$(head -c 1 "$work/$label.blob" | hex)
	tail -c +2 "$work/$label.blob" >"$work/$label.key"
	# the note: text up to the blank line, then "— name base64(id || sig)"
	"$bin" journal checkpoint "$d" >"$work/$label.note"
	awk 'BEGIN{RS="\n\n"} NR==1{printf "%s\n", $0}' "$work/$label.note" >"$work/$label.text"
	tail -n 1 "$work/$label.note" | awk '{print $3}' | b64d >"$work/$label.sig"
	[ "$(tail -n 1 "$work/$label.note" | awk '{print $2}')" = "$origin" ] || fail "$label: signature key name"
	id=$(head -c 4 "$work/$label.sig" | hex)
	tail -c +5 "$work/$label.sig" >"$work/$label.rawsig"
	local want
	if [ "$type" = 01 ]; then
		[ "$(wc -c <"$work/$label.key")" -eq 32 ] || fail "$label: Ed25519 key is not 32 bytes"
		want=$({ printf '%s\n\001' "$origin"; cat "$work/$label.key"; } | openssl dgst -sha256 -binary | head -c 4 | hex)
		# SubjectPublicKeyInfo of an Ed25519 key: fixed 12-byte prefix
		{ printf '\x30\x2a\x30\x05\x06\x03\x2b\x65\x70\x03\x21\x00'; cat "$work/$label.key"; } >"$work/$label.der"
		openssl pkeyutl -verify -pubin -keyform DER -inkey "$work/$label.der" -rawin \
			-in "$work/$label.text" -sigfile "$work/$label.rawsig" >/dev/null ||
			fail "$label: openssl does not verify the checkpoint with the vkey's key"
	elif [ "$type" = 02 ]; then
		cp "$work/$label.key" "$work/$label.der"
		want=$(openssl dgst -sha256 -binary "$work/$label.der" | head -c 4 | hex)
		openssl dgst -sha256 -keyform DER -verify "$work/$label.der" -signature "$work/$label.rawsig" \
			"$work/$label.text" >/dev/null ||
			fail "$label: openssl does not verify the checkpoint with the vkey's key"
	else
		fail "$label: type byte $type"
	fi
	[ "$hash" = "$want" ] || fail "$label: key hash $hash, recomputed $want"
	[ "$id" = "$hash" ] || fail "$label: the signature names key ID $id, the vkey $hash"
	grep -q "key_id=${hash^^} " "$d/journal.log" || fail "$label: genesis key_id is not $hash"
	# the DER from the vkey is the key the HSM exports
	cmp -s <(openssl pkey -pubin -in "$work/$label.pem" -outform DER) <(openssl pkey -pubin -inform DER -in "$work/$label.der" -outform DER) ||
		fail "$label: the vkey's key is not the HSM's"
	printf '%s\n' "$vkey" >"$work/$label.vkey"
	"$bin" journal verify --pubkey "$work/$label.vkey" "$d" >/dev/null || fail "$label: journal verify with the vkey"
	# a vkey under another name does not verify this journal
	"$bin" journal-key vkey --origin other.example --pubkey "$work/$label.pem" >"$work/$label.other"
	! "$bin" journal verify --pubkey "$work/$label.other" "$d" >/dev/null 2>&1 || fail "$label: a vkey of another name verified"
	echo "$label: $vkey: key ID $hash = genesis key_id = signature key ID; openssl verifies the checkpoint"
}
check ed25519 journal issuer.example/journal/vk1
check ecdsa jec issuer.example/journal/vk2

# ---- consistency proofs through the CLI --------------------------------------------
prof=$src/profiles/reference.json
batch=$src/profiles/reference-batch.csv
d=$work/ed25519
card() { # N
	"$bin" personalize --profile "$prof" --batch "$batch" "${hsm[@]}" --reader "sim:$work/card-$1.img" \
		--journal "$d" --station vk >"$work/card-$1.out" 2>&1 || { cat "$work/card-$1.out" >&2; fail "personalize card $1"; }
}
size_of() { sed -n 2p "$1"; }
card 1
"$bin" journal checkpoint "$d" >"$work/seen.note"
cp -a "$d" "$work/backup"
card 2
"$bin" journal checkpoint "$d" >"$work/witnessed.note"
from=$(size_of "$work/seen.note")
"$bin" journal consistency --from "$from" "$d" >"$work/p.txt"
grep -q "^from $from\$" "$work/p.txt" || fail "proof: from"
grep -q "^to $(size_of "$work/witnessed.note")\$" "$work/p.txt" || fail "proof: to"
grep -q '^old-checkpoint ' "$work/p.txt" || fail "proof: no old checkpoint"
out=$("$bin" journal verify --pubkey "$work/ed25519.vkey" --consistency "$work/p.txt") || fail "verify --consistency: $out"
echo "$out"
"$bin" journal verify --pubkey "$work/ed25519.pem" --last-seen "$work/seen.note" --consistency "$work/p.txt" "$d" \
	>"$work/v.out" || { cat "$work/v.out" >&2; fail "verify --consistency with the journal"; }
grep -q ': OK: ' "$work/v.out" || fail "verify output"
# a proof from a size that is no checkpoint carries no old checkpoint: the
# auditor's own is needed
nocp=$(awk '/^checkpoint /{cp[n]=1; next} {n++} END{for(i=1;i<=n;i++) if(!(i in cp)) {print i; exit}}' "$d/journal.log")
[ -n "$nocp" ] || fail "every size has a checkpoint"
"$bin" journal consistency --from "$nocp" "$d" >"$work/p2.txt"
! grep -q '^old-checkpoint ' "$work/p2.txt" || fail "size $nocp is no checkpoint"
! "$bin" journal verify --pubkey "$work/ed25519.pem" --consistency "$work/p2.txt" >"$work/v2.out" || fail "p2 verified"
grep -q -- '--last-seen' "$work/v2.out" || fail "p2: $(cat "$work/v2.out")"
# a hash of the path changed: its first digit replaced by another one
awk '!done && /^path / { c = substr($0, 6, 1); $0 = "path " (c == "F" ? "0" : "F") substr($0, 7); done = 1 } { print }' \
	"$work/p.txt" >"$work/p3.txt"
cmp -s "$work/p.txt" "$work/p3.txt" && fail "tampering did not change the proof"
! "$bin" journal verify --pubkey "$work/ed25519.pem" --consistency "$work/p3.txt" >/dev/null || fail "tampered proof verified"
# usage
set +e
"$bin" journal consistency --from 0 "$d" >/dev/null 2>&1; [ $? -eq 2 ] || fail "--from 0: exit"
"$bin" journal consistency --from 3 --to 999 "$d" >/dev/null 2>"$work/e.txt"; [ $? -eq 1 ] || fail "--to 999: exit"
set -e
grep -q 'no valid checkpoint of size 999' "$work/e.txt" || fail "--to 999: $(cat "$work/e.txt")"

# the journal rolled back to the backup and appended to
rm -rf "$d"
cp -a "$work/backup" "$d"
card 3
card 4
w=$(size_of "$work/witnessed.note")
"$bin" journal consistency --from "$w" "$d" >"$work/fork.txt"
set +e
out=$("$bin" journal verify --pubkey "$work/ed25519.pem" --last-seen "$work/witnessed.note" --consistency "$work/fork.txt")
rc=$?
set -e
echo "$out"
[ $rc -eq 1 ] || fail "the rolled-back journal's proof: exit $rc"
grep -q 'rolled back or forked' <<<"$out" || fail "rollback not named: $out"
! "$bin" journal verify --pubkey "$work/ed25519.pem" --last-seen "$work/witnessed.note" "$d" >/dev/null ||
	fail "journal verify --last-seen accepted the rolled-back journal"
echo "OK: vkeys, consistency proofs, and a rolled-back journal refused"
