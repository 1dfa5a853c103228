#!/usr/bin/env bash
# with_token.sh softhsm2|nss|opencryptoki CMD [ARG...]
#
# Runs CMD beside a fresh, empty, throwaway token of one PKCS#11 module, in
# a temporary directory removed afterwards (also when CMD fails):
#   softhsm2      a SoftHSM2 token directory and config (SOFTHSM2_CONF)
#   nss           an NSS softoken database and a p11-kit module file for it
#                 (x-init-reserved: configdir=...), given as the module path
#   opencryptoki  its soft token behind a private pkcsslotd (ock_ns.sh:
#                 private namespaces; exit 77 without root)
# CMD gets DFI_TEST_HSM (the module's name), DFI_TEST_HSM_MODULE (what to
# pass as --module / dfi_hsm_config.module), DFI_TEST_HSM_TOKEN (URI),
# DFI_TEST_HSM_PIN_FILE, DFI_TEST_HSM_LIB (the library itself) and
# DFI_TEST_HSM_DIR (a scratch directory). It never touches the system's
# p11-kit, SoftHSM2, NSS or opencryptoki configuration.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 2 ] || { echo "usage: with_token.sh softhsm2|nss|opencryptoki CMD [ARG...]" >&2; exit 2; }
kind=$1
shift

tmp=$(mktemp -d /tmp/dfi-token.XXXXXX)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
umask 077
randhex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
find_lib() { # NAME: the first of the usual library directories holding it
	local d
	for d in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib; do
		[ -e "$d/$1" ] && { echo "$d/$1"; return 0; }
	done
	return 1
}
export DFI_TEST_HSM=$kind DFI_TEST_HSM_DIR=$tmp/scratch
mkdir -p "$tmp/scratch"

case $kind in
softhsm2)
	lib=${SOFTHSM2_MODULE:-$(find_lib softhsm/libsofthsm2.so)}
	mkdir -p "$tmp/tokens"
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
		"$tmp/tokens" >"$tmp/softhsm2.conf"
	export SOFTHSM2_CONF=$tmp/softhsm2.conf
	randhex 8 >"$tmp/user.pin"
	softhsm2-util --init-token --free --label dfissue-test --so-pin "$(randhex 8)" \
		--pin "$(cat "$tmp/user.pin")" >/dev/null
	export DFI_TEST_HSM_LIB=$lib DFI_TEST_HSM_MODULE=$lib DFI_TEST_HSM_TOKEN=pkcs11:token=dfissue-test \
		DFI_TEST_HSM_PIN_FILE=$tmp/user.pin
	"$@"
	;;
nss)
	lib=$(find_lib libsoftokn3.so) || { echo "with_token: libsoftokn3.so missing (libnss3)" >&2; exit 1; }
	command -v certutil >/dev/null || { echo "with_token: certutil missing (libnss3-tools)" >&2; exit 1; }
	mkdir -p "$tmp/db"
	randhex 8 >"$tmp/user.pin"
	certutil -N -d "sql:$tmp/db" -f "$tmp/user.pin" >/dev/null
	printf "module: %s\nx-init-reserved: configdir='sql:%s' certPrefix='' keyPrefix='' secmod='secmod.db'\n" \
		"$lib" "$tmp/db" >"$tmp/nss.module"
	export DFI_TEST_HSM_LIB=$lib DFI_TEST_HSM_MODULE=$tmp/nss.module \
		DFI_TEST_HSM_TOKEN='pkcs11:token=NSS%20Certificate%20DB' DFI_TEST_HSM_PIN_FILE=$tmp/user.pin
	"$@"
	;;
opencryptoki)
	# ock_ns.sh exports DFI_OCK_*; map them inside the namespace.
	set +e
	"$here/ock_ns.sh" "$tmp/ock" env DFI_TEST_HSM_DIR="$tmp/scratch" bash -c \
		'export DFI_TEST_HSM_LIB=$DFI_OCK_MODULE DFI_TEST_HSM_MODULE=$DFI_OCK_MODULE \
			DFI_TEST_HSM_TOKEN=$DFI_OCK_TOKEN DFI_TEST_HSM_PIN_FILE=$DFI_OCK_PIN_FILE; exec "$@"' \
		with_token "$@"
	rc=$?
	set -e
	exit "$rc"
	;;
*)
	echo "with_token: unknown module kind '$kind'" >&2
	exit 2
	;;
esac
