# shellcheck shell=bash
# install_lib.sh — sourced by the install tests: installs the build tree
# (DFI_BUILD_DIR) into a fresh temporary prefix $P (removed on exit) and
# checks that nothing landed outside it. fail MSG exits 1.
fail() { echo "FAIL: $*" >&2; exit 1; }
install_into_temp() {
	local build=${DFI_BUILD_DIR:?}
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/dfissue-install-XXXXXX")
	trap 'rm -rf "$TMP"' EXIT
	P=$TMP/prefix
	cmake --install "$build" --prefix "$P" >"$TMP/install.log" 2>&1 ||
		{ cat "$TMP/install.log" >&2; fail "cmake --install"; }
	local outside
	outside=$(sed -n 's/^-- \(Installing\|Up-to-date\): //p' "$TMP/install.log" | grep -v "^$P/" || true)
	[ -z "$outside" ] || fail "installed outside the prefix: $outside"
}
