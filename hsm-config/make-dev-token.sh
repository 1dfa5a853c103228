#!/usr/bin/env bash
# make-dev-token.sh DIR [PATH_TO_dfissue]
#
# Creates a SoftHSM2 development token for dfissue in DIR (never in the
# system token directory) holding public TEST keys only. Throwaway: the
# values below are published in this file and in NXP AN10922.
#
# DIR layout afterwards:
#   DIR/softhsm2.conf        SoftHSM2 config (tokendir = DIR/tokens)
#   DIR/tokens/              the token store
#   DIR/user.pin             user PIN (mode 0600), for --pin-file
#   DIR/so.pin               security officer PIN (mode 0600)
#   DIR/components/L.1, L.2  the two key components each test key was
#                            imported from (key ceremony through
#                            `dfissue key import`), mode 0600
#   DIR/journal.pub.pem      public key of the journal signing key
#   DIR/env                  shell lines to use the token (source it)
#
# Token label: dfissue-dev (URI pkcs11:token=dfissue-dev). Keys (secret keys
# are sensitive, non-extractable token objects):
#   an10922-master         AES-128 00112233445566778899AABBCCDDEEFF
#                          (NXP AN10922 section 2.2.1 example master key)
#   picc-master            AES-128 404142434445464748494A4B4C4D4E4F
#   app1-master            AES-128 A0A1A2A3A4A5A6A7A8A9AAABACADAEAF
#   app2-master            AES-128 B0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF
#   an10922-2k3des-master  2K3DES  00112233445566778899AABBCCDDEEFF
#   an10922-3k3des-master  3K3DES  00112233445566778899AABBCCDDEEFF0102030405060708
#                          (the 2TDEA/3TDEA examples of AN10922, as used by
#                          libfreefare's test_mifare_key_deriver_an10922.c)
#   transport-master       AES-128 707172737475767778797A7B7C7D7E7F
#                          (a card supplier's transport base key: cards of
#                          profiles/transport.json arrive with a PICC key
#                          diversified from it)
#   transport-static       AES-128 606162636465666768696A6B6C6D6E6F
#                          (one transport key for every card)
#   journal                Ed25519 key pair (ECDSA P-256 if the HSM lacks
#                          EdDSA) for the journal's signed checkpoints
#
# PATH_TO_dfissue defaults to build/bin/dfissue next to this script's repo.
# Prints the line to use the token: export SOFTHSM2_CONF=DIR/softhsm2.conf
set -euo pipefail

if [ $# -ge 1 ] && { [ "$1" = "-h" ] || [ "$1" = "--help" ]; }; then
	sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
	exit 0
fi
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: make-dev-token.sh DIR [PATH_TO_dfissue] (see --help)" >&2
	exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
dir=$1
dfissue=${2:-$here/../build/bin/dfissue}
if [ ! -x "$dfissue" ]; then
	echo "make-dev-token: $dfissue is not executable (build first, or pass its path)" >&2
	exit 1
fi
command -v softhsm2-util >/dev/null || { echo "make-dev-token: softhsm2-util missing (tools/install-deps.sh)" >&2; exit 1; }

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
case "$dir" in
/var/lib/softhsm*) echo "make-dev-token: refusing the system token directory" >&2; exit 1 ;;
esac
if [ -e "$dir/tokens" ] && [ -n "$(ls -A "$dir/tokens" 2>/dev/null)" ]; then
	echo "make-dev-token: $dir/tokens is not empty: use a fresh directory" >&2
	exit 1
fi
umask 077
mkdir -p "$dir/tokens" "$dir/components"
sed "s|@TOKENDIR@|$dir/tokens|" "$here/softhsm2.conf.in" >"$dir/softhsm2.conf"
export SOFTHSM2_CONF=$dir/softhsm2.conf

randhex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n' | tr a-f A-F; }
randhex 8 >"$dir/user.pin"
randhex 8 >"$dir/so.pin"
chmod 600 "$dir/user.pin" "$dir/so.pin"

# softhsm2-util only takes PINs as arguments; this is a throwaway dev token
# with random PINs, so their brief visibility in the process list is harmless.
softhsm2-util --init-token --free --label dfissue-dev \
	--so-pin "$(cat "$dir/so.pin")" --pin "$(cat "$dir/user.pin")" >/dev/null

tok="pkcs11:token=dfissue-dev"
hsm=(--module "${DFISSUE_MODULE:-softhsm2}" --token "$tok" --pin-file "$dir/user.pin")

# XOR of two equal-length hex strings.
xorhex() {
	local a=$1 b=$2 out="" i
	for ((i = 0; i < ${#a}; i += 2)); do
		out+=$(printf '%02X' $((16#${a:i:2} ^ 16#${b:i:2})))
	done
	echo "$out"
}

# import LABEL TYPE HEX: split HEX into a random component and its
# complement, then run the key ceremony from the two files.
import() {
	local label=$1 type=$2 value=$3
	local c1 c2
	c1=$(randhex $((${#value} / 2)))
	c2=$(xorhex "$value" "$c1")
	echo "$c1" >"$dir/components/$label.1"
	echo "$c2" >"$dir/components/$label.2"
	"$dfissue" key import "${hsm[@]}" --label "$label" --type "$type" --components 2 \
		--component-file "$dir/components/$label.1" --component-file "$dir/components/$label.2" \
		</dev/null >/dev/null
}

import an10922-master aes 00112233445566778899AABBCCDDEEFF
import picc-master aes 404142434445464748494A4B4C4D4E4F
import app1-master aes A0A1A2A3A4A5A6A7A8A9AAABACADAEAF
import app2-master aes B0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF
import an10922-2k3des-master 2k3des 00112233445566778899AABBCCDDEEFF
import an10922-3k3des-master 3k3des 00112233445566778899AABBCCDDEEFF0102030405060708
import transport-master aes 707172737475767778797A7B7C7D7E7F
import transport-static aes 606162636465666768696A6B6C6D6E6F

"$dfissue" journal-key generate "${hsm[@]}" --label journal --alg auto \
	--pubkey-out "$dir/journal.pub.pem" </dev/null >/dev/null

cat >"$dir/env" <<ENV
export SOFTHSM2_CONF=$dir/softhsm2.conf
export DFISSUE_TOKEN=$tok
export DFISSUE_PIN_FILE=$dir/user.pin
ENV
echo "export SOFTHSM2_CONF=$dir/softhsm2.conf"
