# shellcheck shell=bash
# reg_lib.sh — sourced, after tests/e2e/e2e_lib.sh, by the registry's shell
# tests that run inside `pgfix run` (DFI_PG_URL: a private cluster).
#
#   reg_init   the dev token (E2E_HSM), D (dfissue), prof (the reference
#              profile), batch (4 rows), URL; the registry schema created
#              (its output in init.log); for stations a and b a journal
#              (journal-S, origin test.example/journal/S) and an HSM of
#              their own (softhsm2-S.conf).

# shellcheck disable=SC2034 # D, prof, batch, URL: for the sourcing test
reg_init() {
	local s
	e2e_token
	D=$E2E_DFISSUE
	prof=$E2E_SRC/profiles/reference.json
	batch=$E2E_DIR/batch.csv
	e2e_batch "$batch" 4
	URL=$DFI_PG_URL
	"$D" registry init "$URL" >"$E2E_DIR/init.log" 2>&1 || e2e_fail "registry init: $(cat "$E2E_DIR/init.log")"
	for s in a b; do
		"$D" journal init --origin "test.example/journal/$s" --station "station-$s" "${E2E_HSM[@]}" \
			"$E2E_DIR/journal-$s" >/dev/null 2>"$E2E_DIR/jinit-$s.log" ||
			e2e_fail "journal init $s: $(cat "$E2E_DIR/jinit-$s.log")"
		# Two hosts, two HSMs holding the same keys: each station its own
		# copy of the token (SoftHSM2 is not made for two processes writing
		# one token directory at once, and hosts do not share one).
		cp -a "$E2E_DIR/tok/tokens" "$E2E_DIR/tokens-$s"
		sed "s|^directories.tokendir = .*|directories.tokendir = $E2E_DIR/tokens-$s|" \
			"$E2E_DIR/tok/softhsm2.conf" >"$E2E_DIR/softhsm2-$s.conf"
	done
}
