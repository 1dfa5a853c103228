#!/usr/bin/env bash
# Issue 17, finding 8: the shell recipe of docs/JOURNAL.md §8 works as
# printed and checks every checkpoint. The recipe is taken from the document
# itself (the ```bash block after the line "<!-- journal-verify.sh -->"; no
# block, no test) and run on real journals the dfissue CLI wrote with an
# Ed25519 and an ECDSA P-256 journal key on a temporary SoftHSM2 token
# (personalize on the in-process card simulator with a tear that a resolve
# record settles, then a recovery of a torn tail). It must accept them and
# refuse, in a middle part of each:
#   (a) a checkpoint line deleted        (b) two checkpoint lines swapped
#   (c) one byte of a record changed     (d) one byte of a signature changed
#   (e) the signature malleated (Ed25519 S+L; ECDSA s -> n-s, which OpenSSL
#       alone still accepts)             (f) a second signature line (Ed25519)
# dfissue journal verify must agree on every case (the P-256 journal and
# (e), (f) need the signature rules of issue 17, finding 7); and it refuses
# a --last-seen checkpoint of another journal (same key, other origin). The
# key-ID block must find each genesis key_id.
# Usage: test_journal_doc_recipe.sh DFISSUE JOURNAL.md
set -euo pipefail
export LC_ALL=C
dfissue=$1 doc=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dfi-doc-recipe-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
t0=$SECONDS

# ---- the recipe, exactly as printed ------------------------------------------------
# block NAME: the ```bash block after the line "<!-- NAME -->"
block() {
	awk -v m="<!-- $1 -->" '$0 == m { on = 1; next }
		on == 1 && $0 == "```bash" { on = 2; next }
		on == 2 && $0 == "```" { exit }
		on == 2 { print }' "$doc" >"$tmp/$1"
	[ -s "$tmp/$1" ] || fail "$doc has no \`\`\`bash block after '<!-- $1 -->'"
	echo "$1: $(wc -l <"$tmp/$1") lines from $doc"
}
command -v shellcheck >/dev/null || fail "shellcheck missing (tools/install-deps.sh installs it)"
block journal-verify.sh
block journal-key-id.sh
shellcheck -s bash "$tmp/journal-verify.sh" "$tmp/journal-key-id.sh" ||
	fail "the blocks as printed in $doc do not pass shellcheck"

# ---- a throwaway SoftHSM2 token: two journal keys, two base keys --------------------
command -v softhsm2-util >/dev/null || fail "softhsm2-util missing (tools/install-deps.sh installs it)"
randhex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n' | tr a-f A-F; }
mkdir -p "$tmp/tokens"
sed "s|@TOKENDIR@|$tmp/tokens|" "$src/hsm-config/softhsm2.conf.in" >"$tmp/softhsm2.conf"
export SOFTHSM2_CONF=$tmp/softhsm2.conf
randhex 8 >"$tmp/user.pin"
chmod 600 "$tmp/user.pin"
softhsm2-util --init-token --free --label dfi-doc-recipe --so-pin "$(randhex 8)" \
	--pin "$(cat "$tmp/user.pin")" >/dev/null
hsm=(--token pkcs11:token=dfi-doc-recipe --pin-file "$tmp/user.pin")
for k in ed25519 ecdsa-p256; do
	"$dfissue" journal-key generate "${hsm[@]}" --label "j-$k" --alg "$k" \
		--pubkey-out "$tmp/$k.pem" >/dev/null || fail "journal-key generate $k"
done
# the base keys of profiles/minimal.json (test values, random components)
for kv in picc-master:404142434445464748494A4B4C4D4E4F app1-master:A0A1A2A3A4A5A6A7A8A9AAABACADAEAF; do
	c1=$(randhex 16) v=${kv#*:}
	c2=""
	for ((i = 0; i < 32; i += 2)); do c2+=$(printf '%02X' $((16#${v:i:2} ^ 16#${c1:i:2}))); done
	# component files must be ours and mode 600, or key import refuses them
	(umask 077 && echo "$c1" >"$tmp/c1" && echo "$c2" >"$tmp/c2")
	"$dfissue" key import "${hsm[@]}" --label "${kv%%:*}" --type aes --components 2 \
		--component-file "$tmp/c1" --component-file "$tmp/c2" </dev/null >/dev/null ||
		fail "key import ${kv%%:*}"
done
echo "token ready after $((SECONDS - t0)) s"

# ---- journals written by dfissue ----------------------------------------------------
# origin with a '%': the genesis record holds it as %25, notes use it decoded
for k in ed25519 ecdsa-p256; do
	j=$tmp/j-$k
	"$dfissue" personalize --profile "$src/profiles/minimal.json" "${hsm[@]}" \
		--reader "sim:$tmp/$k-1.img" --journal "$j" --create-journal --origin "doc.example/$k%1" \
		--station "doc recipe" --journal-key "pkcs11:object=j-$k;type=private" --tear-at 16 \
		>"$tmp/p1.log" 2>&1 || fail "personalize ($k): $(cat "$tmp/p1.log")"
	printf 'seq=99 time=2026-12-05T00:00:00Z type=intent uid=04' >>"$j/journal.log" # a torn tail
	"$dfissue" journal recover --station recovery "${hsm[@]}" --key "pkcs11:object=j-$k;type=private" \
		"$j" >"$tmp/r.log" 2>&1 || fail "journal recover ($k): $(cat "$tmp/r.log")"
	grep -q ' type=resolve ' "$j/journal.log" || fail "$k: the tear left no intent to resolve"
	grep -q ' type=recovery ' "$j/journal.log" || fail "$k: no recovery record"
done
echo "journals written after $((SECONDS - t0)) s"

# Issue 18: format 2 writes an AID as the profile does (minimal.json's
# application 010203), the order its div_input (UID || AID) holds it in;
# a kept format-1 journal (AIDs reversed) still verifies below and is shown
# in the same order as the profile.
for k in ed25519 ecdsa-p256; do
	head -n 1 "$tmp/j-$k/journal.log" | grep -q ' type=genesis format=3 ' || fail "$k: the genesis is not format 3"
	grep -Eq ' type=intent uid=([0-9A-F]+) aid=010203 .* div_input=\1010203 ' "$tmp/j-$k/journal.log" ||
		fail "$k: no intent with aid=010203 as its div_input holds it"
done
f1=$src/tests/data/journal-format1
"$dfissue" journal show "$f1/journal.log" >"$tmp/show1.log" 2>&1 || fail "journal show (format 1): $(cat "$tmp/show1.log")"
grep -q 'AID F54010 key 1 ' "$tmp/show1.log" || fail "journal show (format 1) does not print F54010: $(cat "$tmp/show1.log")"
"$dfissue" journal show --json "$f1/journal.log" >"$tmp/show1.json" 2>&1 || fail "journal show --json (format 1)"
grep -Eq '"aid": ?"F54020"' "$tmp/show1.json" || fail "journal show --json (format 1) does not say F54020: $(cat "$tmp/show1.json")"
echo "  format 2 writes aid=010203 as the profile; journal show prints the format-1 journal's 1040F5 as F54010"

# the key-ID block finds each genesis key_id from the decoded origin and the PEM
for k in ed25519 ecdsa-p256; do
	want=$(head -n 1 "$tmp/j-$k/journal.log" | sed -n 's/.* key_id=\([0-9A-F]*\) .*/\1/p')
	got=$(bash "$tmp/journal-key-id.sh" "doc.example/$k%1" "$tmp/$k.pem")
	{ [ -n "$want" ] && [ "$got" = "$want" ]; } || fail "journal-key-id.sh ($k): '$got', the genesis says '$want'"
	echo "  journal-key-id.sh ($k): $got, as the genesis record"
done

# ---- mutations --------------------------------------------------------------------
# hex <-> bytes, base64, in bash
hexof() { od -An -v -tx1 | tr -d ' \n' | tr a-f A-F; }
bytes() { local i o=""; for ((i = 0; i < ${#1}; i += 2)); do o+="\\x${1:i:2}"; done; printf '%b' "$o"; }
# a - b and a + b of 64-digit hex numbers (big-endian), 32-bit limbs
hexsub() {
	local a=$1 b=$2 o="" c=0 d i
	for ((i = 56; i >= 0; i -= 8)); do
		d=$((16#${a:i:8} - 16#${b:i:8} - c)) c=0
		if ((d < 0)); then d=$((d + 0x100000000)) c=1; fi
		printf -v d '%08X' "$d" && o=$d$o
	done
	echo "$o"
}
hexadd() {
	local a=$1 b=$2 o="" c=0 d i
	for ((i = 56; i >= 0; i -= 8)); do
		d=$((16#${a:i:8} + 16#${b:i:8} + c)) c=$((d >> 32))
		printf -v d '%08X' $((d & 0xFFFFFFFF)) && o=$d$o
	done
	echo "$o"
}
revhex() { local i o=""; for ((i = ${#1} - 2; i >= 0; i -= 2)); do o+=${1:i:2}; done; echo "$o"; }
# DER INTEGER of a 64-digit hex number: minimal, a 00 before a high bit
derint() {
	local h=$1
	while [ "${h:0:2}" = 00 ]; do h=${h:2}; done
	if ((16#${h:0:1} >= 8)); then h=00$h; fi
	printf '02%02X%s' $((${#h} / 2)) "$h"
}
# replace line $2 of file $1 by $3
setline() { awk -v n="$2" -v s="$3" 'NR == n { print s; next } { print }' "$1" >"$1.new" && mv "$1.new" "$1"; }
# cp_open FILE LINE: the note of that checkpoint line as its text (the
# first 4 lines, in nl), its signature line's dash and name and the
# signature (hex, key ID first); with_sig HEX: that checkpoint line around
# another signature
cp_open() {
	local note
	note=$(sed -n "${2}p" "$1" | cut -c12- | base64 -d)
	mapfile -t nl <<<"$note"
	sigpre=${nl[5]% *} sig=$(base64 -d <<<"${nl[5]##* }" | hexof)
}
with_sig() {
	printf 'checkpoint %s' "$(printf '%s\n%s\n%s\n%s\n\n%s %s\n' "${nl[@]:0:4}" "$sigpre" \
		"$(bytes "$1" | base64 -w0)" | base64 -w0)"
}
P256_N=FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
ED_L=1000000000000000000000000000000014DEF9DEA2F79CD65812631A5CF5D3ED

# The cases: a journal file, its key, what it is, whether the recipe must
# accept it, whether dfissue journal verify is asked too. They run at once
# (each is a chain of short processes) and are judged in order.
c_file=() c_pub=() c_what=() c_ok=() c_dfi=()
add() { c_file+=("$1") c_pub+=("$2") c_what+=("$3") c_ok+=("$4") c_dfi+=("$5"); }
x() { echo "$tmp/case.${#c_file[@]}.log"; } # the next case's file

for k in ed25519 ecdsa-p256; do
	j=$tmp/j-$k/journal.log pub=$tmp/$k.pem
	mapfile -t cps < <(grep -n '^checkpoint ' "$j" | cut -d: -f1)
	ncp=${#cps[@]}
	[ "$ncp" -ge 5 ] || fail "$k: only $ncp checkpoints, too few for middle ones"
	m=${cps[ncp / 2]}      # a middle checkpoint line
	m2=${cps[ncp / 2 + 1]} # the one after it (not the last)
	echo "$k: $(grep -vc '^checkpoint ' "$j") records, $ncp checkpoints; middle checkpoint lines $m, $m2"
	add "$j" "$pub" "$k: the journal dfissue wrote" 1 1

	f=$(x) && sed "${m}d" "$j" >"$f"
	add "$f" "$pub" "$k: (a) checkpoint line $m deleted" 0 1
	f=$(x) && awk -v a="$m" -v b="$m2" 'NR == FNR { l[FNR] = $0; next }
		{ print (FNR == a ? l[b] : FNR == b ? l[a] : $0) }' "$j" "$j" >"$f"
	add "$f" "$pub" "$k: (b) checkpoint lines $m and $m2 swapped" 0 1
	r=$((m - 1)) # the record just before the middle checkpoint
	line=$(sed -n "${r}p" "$j")
	f=$(x) && cp "$j" "$f"
	setline "$f" "$r" "${line%?}$(if [ "${line: -1}" = x ]; then echo y; else echo x; fi)"
	add "$f" "$pub" "$k: (c) last byte of record line $r changed" 0 1

	cp_open "$j" "$m"
	b=$((4 + 10)) # a byte of the signature proper (after the key ID)
	flip=$(printf '%02X' $((16#${sig:2*b:2} ^ 0x01)))
	f=$(x) && cp "$j" "$f"
	setline "$f" "$m" "$(with_sig "${sig:0:2*b}$flip${sig:2*b+2}")"
	add "$f" "$pub" "$k: (d) byte $b of the signature of checkpoint line $m flipped" 0 1

	# (e) the same signature, malleated
	if [ "$k" = ed25519 ]; then
		s=$(revhex "${sig:8+64:64}") # S, little-endian in the signature
		msig=${sig:0:8+64}$(revhex "$(hexadd "$s" "$ED_L")")
		what="(e) S replaced by S+L in checkpoint line $m"
	else
		out=$(bytes "${sig:8}" | openssl asn1parse -inform DER)
		rr=$(sed -n 2p <<<"$out") ss=$(sed -n 3p <<<"$out")
		printf -v rr '%64s' "${rr##*:}" && rr=${rr// /0}
		printf -v ss '%64s' "${ss##*:}" && ss=${ss// /0}
		body=$(derint "$rr")$(derint "$(hexsub "$P256_N" "$ss")")
		msig=${sig:0:8}30$(printf '%02X' $((${#body} / 2)))$body
		bytes "${msig:8}" >"$tmp/msig"
		printf '%s\n' "${nl[@]:0:4}" >"$tmp/text"
		openssl dgst -sha256 -verify "$pub" -signature "$tmp/msig" "$tmp/text" >/dev/null ||
			fail "the n-s signature does not verify with plain openssl: the mutation is wrong"
		what="(e) s replaced by n-s in checkpoint line $m (plain openssl accepts it)"
	fi
	f=$(x) && cp "$j" "$f"
	setline "$f" "$m" "$(with_sig "$msig")"
	add "$f" "$pub" "$k: $what" 0 1

	# (f) the note of a middle checkpoint with its signature line twice (the
	# recipe parses both algorithms' notes alike: once is enough)
	[ "$k" = ed25519 ] || continue
	f=$(x) && cp "$j" "$f"
	setline "$f" "$m" "checkpoint $(printf '%s\n%s\n%s\n%s\n\n%s %s\n%s %s\n' "${nl[@]:0:4}" \
		"$sigpre" "${nl[5]##* }" "$sigpre" "${nl[5]##* }" | base64 -w0)"
	add "$f" "$pub" "$k: (f) a second signature line in checkpoint line $m" 0 1
done

add "$f1/journal.log" "$f1/journal-key.pem" "the kept format-1 journal (tests/data/journal-format1)" 1 1

pids=()
for i in "${!c_file[@]}"; do
	{
		if bash "$tmp/journal-verify.sh" "${c_file[i]}" "${c_pub[i]}" >"$tmp/out.$i" 2>&1; then echo 0; else echo 1; fi >"$tmp/rc.$i"
		if [ "${c_dfi[i]}" = 1 ]; then
			if "$dfissue" journal verify --pubkey "${c_pub[i]}" "${c_file[i]}" >"$tmp/dout.$i" 2>&1; then
				echo 0
			else
				echo 1
			fi >"$tmp/drc.$i"
		fi
	} &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for i in "${!c_file[@]}"; do
	out=$(cat "$tmp/out.$i") rc=$(cat "$tmp/rc.$i")
	if [ "${c_ok[i]}" = 1 ]; then
		{ [ "$rc" = 0 ] && grep -q '^OK: ' <<<"$out"; } || fail "the recipe refused ${c_what[i]}: $out"
		echo "  recipe accepts ${c_what[i]}: $out"
	else
		{ [ "$rc" = 1 ] && ! grep -q '^OK' <<<"$out"; } || fail "the recipe accepted ${c_what[i]}: $out"
		echo "  recipe refuses ${c_what[i]}: $out"
	fi
	if [ "${c_dfi[i]}" = 1 ]; then
		[ "$(cat "$tmp/drc.$i")" = $((1 - c_ok[i])) ] ||
			fail "dfissue journal verify disagrees on ${c_what[i]}: $(cat "$tmp/dout.$i")"
	fi
done

# --last-seen must be a checkpoint of this journal's origin (same key here)
"$dfissue" journal init --origin doc.example/other --station other "${hsm[@]}" \
	--key "pkcs11:object=j-ed25519;type=private" "$tmp/other" >/dev/null
"$dfissue" journal checkpoint "$tmp/other" >"$tmp/other.note"
if "$dfissue" journal verify --pubkey "$tmp/ed25519.pem" --last-seen "$tmp/other.note" \
	"$tmp/j-ed25519" >"$tmp/v.log" 2>&1; then
	fail "dfissue accepted --last-seen of another origin"
fi
grep -q "last-seen checkpoint is for origin 'doc.example/other'" "$tmp/v.log" ||
	fail "no origin finding for --last-seen of another journal: $(cat "$tmp/v.log")"
echo "  dfissue refuses --last-seen of origin doc.example/other for journal doc.example/ed25519%1"
echo "OK: the recipe of $doc accepts both journals and refuses every mutation ($((SECONDS - t0)) s)"
