#!/usr/bin/env bash
# test_unit.sh — the installed dfissue-station@.service passes
# `systemd-analyze verify` (which also runs `man` for its Documentation=
# pages: they are looked up in the installed tree) with no output at all,
# and carries the hardening the station relies on. tools/install-deps.sh
# installs systemd; without systemd-analyze the test is skipped, loudly.
set -euo pipefail
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze not installed" >&2; exit 77; }
. "$(dirname "$0")/install_lib.sh"
install_into_temp
tmp=$TMP p=$P
unit=$p/lib/systemd/system/dfissue-station@.service
[ -f "$unit" ] || fail "unit not installed"
# A template is verified as an instance of it.
cp "$unit" "$tmp/dfissue-station@st1.service"
rc=0
(cd "$tmp" && MANPATH=$p/share/man systemd-analyze verify ./dfissue-station@st1.service) \
	>"$tmp/verify.out" 2>&1 || rc=$?
echo "systemd-analyze verify dfissue-station@st1.service: exit $rc, $(wc -l <"$tmp/verify.out") line(s) of output"
cat "$tmp/verify.out"
[ "$rc" -eq 0 ] || fail "systemd-analyze verify failed"
[ -s "$tmp/verify.out" ] && fail "systemd-analyze verify printed warnings"
for d in 'ProtectSystem=strict' 'PrivateTmp=yes' 'NoNewPrivileges=yes' 'User=dfissue' \
	'StateDirectory=dfissue/%i' 'KillSignal=SIGTERM' 'LimitCORE=0' 'CapabilityBoundingSet=$' \
	'RestartPreventExitStatus=2'; do
	grep -q "^$d" "$unit" || fail "unit lacks $d"
done
grep -q '^u dfissue ' "$p/lib/sysusers.d/dfissue.conf" || fail "sysusers.d entry"
echo "OK: the station unit verifies and is hardened"
