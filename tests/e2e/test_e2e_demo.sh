#!/usr/bin/env bash
# README's first command, tools/demo.sh, on the build under test (no apt, no
# rebuild: DFI_DEMO_PREBUILT=1). The demo checks its own story (a tear at a
# ChangeKey, resolved by the second tap; the card's state; a journal that
# verifies with the public key alone) and fails when the story no longer
# holds: a change that moves the ChangeKey away from the demo's tear fails
# here instead of leaving README's promise silently false (audit k34d,
# finding 1: it did, while the demo still said "demo: OK").
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "skipped: the demo's pcscd needs root"; exit 77; }
d=$(mktemp -d /tmp/dfissue-demo-XXXXXX)
trap 'rm -rf "$d"' EXIT
if ! DFI_DEMO_PREBUILT=1 DFI_DEMO_BUILD="${DFI_BUILD_DIR:?}" DFI_DEMO_DIR="$d/demo" \
	bash "${DFI_SOURCE_DIR:?}/tools/demo.sh" >"$d/demo.log" 2>&1; then
	echo "FAIL: tools/demo.sh (last lines of its output):"
	tail -n 40 "$d/demo.log"
	exit 1
fi
grep -q '^demo: OK' "$d/demo.log" || { echo "FAIL: no 'demo: OK'"; tail -n 20 "$d/demo.log"; exit 1; }
grep -E ': resumed \(' "$d/demo.log"
echo "OK: tools/demo.sh"
