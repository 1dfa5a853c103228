#!/usr/bin/env bash
# make-dev-token.sh [--module M --token URI --pin-file F] [--no-journal]
#                   [--dfissue-opt OPT]... DIR [PATH_TO_dfissue]
#
# Creates a SoftHSM2 development token for dfissue in DIR (never in the
# system token directory) holding public TEST keys only. Throwaway: the
# values below are published in this file and in NXP AN10922.
#
# With --module, --token and --pin-file it creates no SoftHSM2 token but
# puts the same test keys on that (throwaway!) token of any PKCS#11 module
# (make-nss-token.sh uses this for NSS softoken, the tests for
# opencryptoki): each key with the usages of the derivation path the token
# offers for its type (dfissue key import); a key type no path serves there
# is skipped with a note. --no-journal skips the journal key (a token that
# cannot sign: keep it elsewhere, --journal-module). --dfissue-opt passes
# an option to every dfissue call (e.g. --allow-host-derivation).
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
# --generation2 DIR: a second key ceremony on a dev token made before in
# DIR: imports only the generation-2 base keys of profiles/rotation-g2.json
# (picc-master-g2, app1-master-g2, app2-master-g2, values below), for a
# key rotation (docs/OPERATIONS.md).
#
# Token label: dfissue-dev (URI pkcs11:token=dfissue-dev). Keys (secret keys
# are sensitive, non-extractable token objects with only their derivation
# path's usages, no DECRYPT/SIGN/VERIFY/WRAP/UNWRAP; the journal key pair
# signs and verifies only: tests/hsm/test_hsm_keyattrs checks them):
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
#   picc-master-g2         AES-128 C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF (--generation2)
#   app1-master-g2         AES-128 D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF (--generation2)
#   app2-master-g2         AES-128 E0E1E2E3E4E5E6E7E8E9EAEBECEDEEEF (--generation2)
#   transport-static       AES-128 606162636465666768696A6B6C6D6E6F
#                          (one transport key for every card)
#   journal                Ed25519 key pair (ECDSA P-256 if the HSM lacks
#                          EdDSA) for the journal's signed checkpoints
#
# PATH_TO_dfissue defaults to build/bin/dfissue next to this script's repo,
# then to the dfissue installed with this script (P/bin), then to PATH's.
# Prints the line to use the token: export SOFTHSM2_CONF=DIR/softhsm2.conf
# (with --module: the DFISSUE_MODULE, DFISSUE_TOKEN and DFISSUE_PIN_FILE
# lines DIR/env holds).
set -euo pipefail

module="" token="" pinfile="" journal=1 made_softhsm=0 gen2=0
extra=()
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
		exit 0
		;;
	--module) module=$2; shift 2 ;;
	--token) token=$2; shift 2 ;;
	--pin-file) pinfile=$2; shift 2 ;;
	--no-journal) journal=0; shift ;;
	--generation2) gen2=1; shift ;;
	--dfissue-opt) extra+=("$2"); shift 2 ;;
	--) shift; break ;;
	-*) echo "make-dev-token: unknown option $1 (see --help)" >&2; exit 2 ;;
	*) break ;;
	esac
done
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: make-dev-token.sh [options] DIR [PATH_TO_dfissue] (see --help)" >&2
	exit 2
fi
if [ -n "$module" ] && { [ -z "$token" ] || [ -z "$pinfile" ]; }; then
	echo "make-dev-token: --module needs --token and --pin-file" >&2
	exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
dir=$1
# Without PATH_TO_dfissue: the source tree's build, else the dfissue of the
# prefix this script is installed in (P/share/dfissue/hsm-config ->
# P/bin), else the first dfissue on PATH.
if [ $# -ge 2 ]; then
	dfissue=$2
	if [ ! -x "$dfissue" ]; then
		echo "make-dev-token: $dfissue is not executable (pass the path of a built dfissue)" >&2
		exit 1
	fi
else
	dfissue=
	for c in "$here/../build/bin/dfissue" "$here/../../../bin/dfissue" "$(command -v dfissue || true)"; do
		if [ -n "$c" ] && [ -x "$c" ]; then
			dfissue=$c
			break
		fi
	done
	if [ -z "$dfissue" ]; then
		echo "make-dev-token: no dfissue found: not in $here/../build/bin, not in" \
			"$(cd "$here/../../.." && pwd)/bin, not on PATH: build it, put it on PATH or pass its path" >&2
		exit 1
	fi
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
umask 077
mkdir -p "$dir/components"
randhex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n' | tr a-f A-F; }

if [ "$gen2" = 1 ] && [ -z "$module" ]; then
	if [ ! -f "$dir/softhsm2.conf" ] || [ ! -f "$dir/user.pin" ]; then
		echo "make-dev-token: --generation2: no dev token in $dir (make it first)" >&2
		exit 1
	fi
	export SOFTHSM2_CONF=$dir/softhsm2.conf
	module=${DFISSUE_MODULE:-softhsm2}
	token="pkcs11:token=dfissue-dev"
	pinfile=$dir/user.pin
elif [ -z "$module" ]; then
	command -v softhsm2-util >/dev/null || { echo "make-dev-token: softhsm2-util missing (tools/install-deps.sh)" >&2; exit 1; }
	case "$dir" in
	/var/lib/softhsm*) echo "make-dev-token: refusing the system token directory" >&2; exit 1 ;;
	esac
	if [ -e "$dir/tokens" ] && [ -n "$(ls -A "$dir/tokens" 2>/dev/null)" ]; then
		echo "make-dev-token: $dir/tokens is not empty: use a fresh directory" >&2
		exit 1
	fi
	mkdir -p "$dir/tokens"
	sed "s|@TOKENDIR@|$dir/tokens|" "$here/softhsm2.conf.in" >"$dir/softhsm2.conf"
	export SOFTHSM2_CONF=$dir/softhsm2.conf

	randhex 8 >"$dir/user.pin"
	randhex 8 >"$dir/so.pin"
	chmod 600 "$dir/user.pin" "$dir/so.pin"

	# softhsm2-util only takes PINs as arguments; this is a throwaway dev token
	# with random PINs, so their brief visibility in the process list is harmless.
	softhsm2-util --init-token --free --label dfissue-dev \
		--so-pin "$(cat "$dir/so.pin")" --pin "$(cat "$dir/user.pin")" >/dev/null
	module=${DFISSUE_MODULE:-softhsm2}
	token="pkcs11:token=dfissue-dev"
	pinfile=$dir/user.pin
	made_softhsm=1
fi
tok=$token
hsm=(--module "$module" --token "$tok" --pin-file "$pinfile" "${extra[@]}")

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
	local err
	if ! err=$("$dfissue" key import "${hsm[@]}" --label "$label" --type "$type" --components 2 \
		--component-file "$dir/components/$label.1" --component-file "$dir/components/$label.2" \
		</dev/null 2>&1 >/dev/null); then
		# A token without a path for a DES type still serves AES profiles.
		if [ "$type" != aes ] && grep -q "no derivation path" <<<"$err"; then
			echo "make-dev-token: $label skipped: no $type derivation path on this token" >&2
			return 0
		fi
		echo "$err" >&2
		return 1
	fi
}

if [ "$gen2" = 1 ]; then
	import picc-master-g2 aes C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF
	import app1-master-g2 aes D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF
	import app2-master-g2 aes E0E1E2E3E4E5E6E7E8E9EAEBECEDEEEF
	exit 0
fi
import an10922-master aes 00112233445566778899AABBCCDDEEFF
import picc-master aes 404142434445464748494A4B4C4D4E4F
import app1-master aes A0A1A2A3A4A5A6A7A8A9AAABACADAEAF
import app2-master aes B0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF
import an10922-2k3des-master 2k3des 00112233445566778899AABBCCDDEEFF
import an10922-3k3des-master 3k3des 00112233445566778899AABBCCDDEEFF0102030405060708
import transport-master aes 707172737475767778797A7B7C7D7E7F
import transport-static aes 606162636465666768696A6B6C6D6E6F

if [ "$journal" = 1 ]; then
	"$dfissue" journal-key generate "${hsm[@]}" --label journal --alg auto \
		--pubkey-out "$dir/journal.pub.pem" </dev/null >/dev/null 2>"$dir/journal-key.err" ||
		{ cat "$dir/journal-key.err" >&2; exit 1; }
	rm -f "$dir/journal-key.err"
fi

if [ "$made_softhsm" = 1 ]; then
	cat >"$dir/env" <<ENV
export SOFTHSM2_CONF=$dir/softhsm2.conf
export DFISSUE_TOKEN=$tok
export DFISSUE_PIN_FILE=$dir/user.pin
ENV
	echo "export SOFTHSM2_CONF=$dir/softhsm2.conf"
else
	cat >"$dir/env" <<ENV
export DFISSUE_MODULE='$module'
export DFISSUE_TOKEN='$tok'
export DFISSUE_PIN_FILE='$pinfile'
ENV
	echo "export DFISSUE_MODULE='$module' DFISSUE_TOKEN='$tok' DFISSUE_PIN_FILE='$pinfile'"
fi
