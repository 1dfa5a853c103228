# shellcheck shell=bash
# Sourced by the CLI tests of tests/hsm that put faultp11 in front of a
# fresh SoftHSM2 dev token: dev_token NAME makes $work (removed on exit
# unless KEEP is set), the token in $work/tok (make-dev-token.sh), and
# points SoftHSM2 and faultp11 at it. Sets dfissue, src, work; defines fail.
dfissue=$DFI_BUILD_DIR/bin/dfissue
src=$DFI_SOURCE_DIR
fail() { echo "FAIL: $*" >&2; exit 1; }
dev_token() {
	work=$(mktemp -d "/tmp/dfissue-$1-XXXXXX")
	trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
	bash "$src/hsm-config/make-dev-token.sh" "$work/tok" "$dfissue" >"$work/token.log" 2>&1 ||
		fail "make-dev-token.sh: $(cat "$work/token.log")"
	export SOFTHSM2_CONF=$work/tok/softhsm2.conf
	export FAULTP11_MODULE=$SOFTHSM2_MODULE
}
