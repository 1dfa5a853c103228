#!/usr/bin/env bash
# make-nss-token.sh DIR [PATH_TO_dfissue]
#
# A throwaway NSS softoken token for dfissue in DIR, with the test keys of
# make-dev-token.sh: the second PKCS#11 module of the tests, and a way to
# see dfissue on a token whose derivation path is SP 800-108 (NSS offers
# CKM_SP800_108_COUNTER_KDF but no *_ENCRYPT_DATA on its key slot) and whose
# journal key is ECDSA P-256 (no Ed25519 in NSS 3.87).
#
# DIR layout afterwards:
#   DIR/db/                  the NSS database (cert9.db, key4.db), private
#   DIR/nss.module           a p11-kit module file: libsoftokn3.so with
#                            x-init-reserved naming DIR/db; give its path to
#                            --module (dfissue reads it; p11-kit's own
#                            configuration is not touched)
#   DIR/user.pin             the database password (mode 0600)
#   DIR/env                  DFISSUE_MODULE, DFISSUE_TOKEN, DFISSUE_PIN_FILE
#   and what make-dev-token.sh leaves (components/, journal.pub.pem).
# Token: pkcs11:token=NSS%20Certificate%20DB (NSS's key slot).
set -euo pipefail

if [ $# -ge 1 ] && { [ "$1" = "-h" ] || [ "$1" = "--help" ]; }; then
	sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
	exit 0
fi
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: make-nss-token.sh DIR [PATH_TO_dfissue] (see --help)" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
command -v certutil >/dev/null || { echo "make-nss-token: certutil missing (libnss3-tools; tools/install-deps.sh)" >&2; exit 1; }
softokn=""
for d in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib; do
	[ -e "$d/libsoftokn3.so" ] && { softokn=$d/libsoftokn3.so; break; }
done
[ -n "$softokn" ] || { echo "make-nss-token: libsoftokn3.so not found (libnss3)" >&2; exit 1; }

mkdir -p "$1"
dir=$(cd "$1" && pwd)
if [ -e "$dir/db" ]; then
	echo "make-nss-token: $dir/db exists: use a fresh directory" >&2
	exit 1
fi
umask 077
mkdir -p "$dir/db"
od -An -tx1 -N8 /dev/urandom | tr -d ' \n' >"$dir/user.pin"
chmod 600 "$dir/user.pin"
certutil -N -d "sql:$dir/db" -f "$dir/user.pin" >/dev/null
# NSS softoken's parameters (NSS's own module string): the database
# directory and file names; no "readOnly", keys are created here.
cat >"$dir/nss.module" <<MOD
# p11-kit module file (pkcs11.conf(5)) for dfissue's --module: NSS softoken
# on the database in $dir/db. Not registered with p11-kit.
module: $softokn
x-init-reserved: configdir='sql:$dir/db' certPrefix='' keyPrefix='' secmod='secmod.db'
MOD
exec "$here/make-dev-token.sh" --module "$dir/nss.module" \
	--token 'pkcs11:token=NSS%20Certificate%20DB' --pin-file "$dir/user.pin" "$dir" "${2:-}"
