#!/usr/bin/env bash
# ock_ns.sh DIR CMD [ARG...]
#
# Runs CMD with a private opencryptoki soft token: opencryptoki 3.8 (Debian
# 12) hard-codes /etc/opencryptoki/opencryptoki.conf, the token store
# /var/lib/opencryptoki/swtok, the slot daemon's socket
# /var/run/pkcsslotd.socket, its lock directory /var/lock/opencryptoki and
# SysV shared memory. So CMD runs in private mount, IPC and PID namespaces
# where DIR/etc, DIR/lib and DIR/run are bind-mounted over those three
# directories: the system's files are never read or written, a system
# pkcsslotd (if any) is not seen, and when CMD ends the namespace's PID 1
# exits and the kernel kills the private pkcsslotd with it.
#
# Inside, slot 3 holds a token labelled dfissue-ock (random SO and user
# PINs, the user PIN in DIR/user.pin, mode 0600), and CMD gets
#   DFI_OCK_MODULE    the opencryptoki library
#   DFI_OCK_TOKEN     pkcs11:token=dfissue-ock
#   DFI_OCK_PIN_FILE  DIR/user.pin
# Exit status: CMD's; 77 (skipped) without root, namespaces or opencryptoki.
set -euo pipefail

lib=/usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so
for d in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib; do
	[ -e "$d/pkcs11/libopencryptoki.so" ] && { lib=$d/pkcs11/libopencryptoki.so; break; }
done

if [ "${1:-}" != --inside ]; then
	[ $# -ge 2 ] || { echo "usage: ock_ns.sh DIR CMD [ARG...]" >&2; exit 2; }
	if [ "$(id -u)" != 0 ]; then
		echo "ock_ns: SKIP: opencryptoki needs root for its private namespaces" >&2
		exit 77
	fi
	if [ ! -e "$lib" ] || [ ! -x /usr/sbin/pkcsslotd ]; then
		echo "ock_ns: SKIP: opencryptoki is not installed (tools/install-deps.sh)" >&2
		exit 77
	fi
	if ! getent group pkcs11 >/dev/null; then
		echo "ock_ns: SKIP: no pkcs11 group (the opencryptoki package creates it)" >&2
		exit 77
	fi
	if ! unshare --mount --ipc --pid --fork --mount-proc true 2>/dev/null; then
		echo "ock_ns: SKIP: mount/IPC/PID namespaces unavailable" >&2
		exit 77
	fi
	mkdir -p "$1"
	dir=$(cd "$1" && pwd)
	shift
	exec unshare --mount --ipc --pid --fork --kill-child --mount-proc --propagation private \
		bash "$0" --inside "$dir" "$@"
fi

dir=$2
shift 2
umask 077
mkdir -p "$dir/etc" "$dir/lib/swtok/TOK_OBJ" "$dir/run/lock/opencryptoki"
cat >"$dir/etc/opencryptoki.conf" <<CONF
version opencryptoki-3.1
slot 3
{
stdll = libpkcs11_sw.so
}
CONF
chmod 755 "$dir" "$dir/etc" "$dir/run" "$dir/run/lock"
chmod 644 "$dir/etc/opencryptoki.conf"
chgrp -R pkcs11 "$dir/lib" "$dir/run/lock/opencryptoki"
chmod -R 770 "$dir/lib" "$dir/run/lock/opencryptoki"
mount --bind "$dir/etc" /etc/opencryptoki
mount --bind "$dir/lib" /var/lib/opencryptoki
mount --bind "$dir/run" /run

/usr/sbin/pkcsslotd
for _ in $(seq 100); do
	[ -S /run/pkcsslotd.socket ] && break
	sleep 0.05
done
[ -S /run/pkcsslotd.socket ] || { echo "ock_ns: pkcsslotd did not start" >&2; exit 1; }

# Factory SO PIN 87654321 (opencryptoki's documented default), then random
# PINs of 8 hex digits (the soft token takes 4 to 8 characters). pkcsconf
# only takes PINs as arguments: a throwaway token in a private PID namespace.
rnd() { od -An -tx1 -N4 /dev/urandom | tr -d ' \n'; }
so=$(rnd) tmp=$(rnd) user=$(rnd)
echo dfissue-ock | pkcsconf -c 3 -I -S 87654321 >/dev/null
pkcsconf -c 3 -P -S 87654321 -n "$so" >/dev/null
pkcsconf -c 3 -u -S "$so" -n "$tmp" >/dev/null
pkcsconf -c 3 -p -U "$tmp" -n "$user" >/dev/null
printf '%s\n' "$user" >"$dir/user.pin"
chmod 600 "$dir/user.pin"

export DFI_OCK_MODULE=$lib DFI_OCK_TOKEN=pkcs11:token=dfissue-ock DFI_OCK_PIN_FILE=$dir/user.pin
set +e
"$@"
rc=$?
kill "$(cat /run/pkcsslotd.pid 2>/dev/null)" 2>/dev/null
exit "$rc"
