#!/usr/bin/env bash
# `dfissue journal show --html` in a real browser: a journal with a card
# torn twice (a ChangeKey whose answer was lost, resolved by probing; an
# intent aborted as never sent), a second card, a recovery (a torn tail
# quarantined by `journal recover`) and a station name holding markup. The
# page is loaded by Debian's headless Chromium (--dump-dom: the DOM after
# load) and the expected rows are counted against the journal itself; with
# the wrong public key every checkpoint shows as invalid and the command
# exits 1. No root, no pcscd.
set -euo pipefail
. "$(dirname "$0")/e2e_lib.sh"

browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || e2e_skip "chromium not installed (tools/install-deps.sh installs it)"
e2e_workdir html
d=$E2E_DIR
prof=$E2E_SRC/profiles/reference.json
b=$E2E_SRC/profiles/reference-batch.csv

"$E2E_DFISSUE" personalize --profile "$prof" --batch "$b" "${E2E_HSM[@]}" --reader "sim:$d/c1.img" \
	--journal "$d/j" --create-journal --station html-test --tear-at 16,30 >"$d/p1.log" 2>&1 ||
	e2e_fail "personalize 1: $(cat "$d/p1.log")"
# A torn tail, as a crash mid-append leaves it; recover quarantines it.
printf 'seq=999 type=intent tor' >>"$d/j/journal.log"
"$E2E_DFISSUE" journal recover --station html-test "${E2E_HSM[@]}" "$d/j" >"$d/rec.log" 2>&1 ||
	e2e_fail "journal recover: $(cat "$d/rec.log")"
"$E2E_DFISSUE" personalize --profile "$E2E_SRC/profiles/minimal.json" "${E2E_HSM[@]}" \
	--reader "sim:$d/c2.img" --journal "$d/j" --station '<i>st</i>' >"$d/p2.log" 2>&1 ||
	e2e_fail "personalize 2: $(cat "$d/p2.log")"

"$E2E_DFISSUE" journal show --html "$d/page.html" --pubkey "$d/tok/journal.pub.pem" "$d/j" \
	2>"$d/html.log" || e2e_fail "journal show --html: $(cat "$d/html.log")"
cat "$d/html.log" >&2

# dump URL OUT: the DOM after load.
dump() {
	timeout 60 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$(mktemp -d "$d/profile-XXXXXX")" --dump-dom "$1" >"$2" 2>"$2.err" ||
		e2e_fail "chromium could not load $1: $(tail -5 "$2.err")"
	[ -s "$2" ] || e2e_fail "chromium returned an empty DOM for $1"
}
count() { grep -o "$1" "$2" | wc -l; }
dump "file://$d/page.html" "$d/dom.html"

jl=$d/j/journal.log
cps=$(grep -c '^checkpoint ' "$jl")
[ "$(count '<tr class="cp cp-verified">' "$d/dom.html")" -eq "$cps" ] ||
	e2e_fail "expected $cps verified checkpoint rows"
grep -q '<td id="verification" class="ok">OK: ' "$d/dom.html" || e2e_fail "verification not OK in the page"
[ "$(count '<tr class="card-row' "$d/dom.html")" -eq 2 ] || e2e_fail "expected 2 cards"
uids=$(sed -n 's/.* type=intent uid=\([0-9A-F]*\) .*/\1/p' "$jl" | sort -u)
[ "$(wc -w <<<"$uids")" -eq 2 ] || e2e_fail "expected 2 cards in the journal: $uids"
for uid in $uids; do
	grep -q "<section class=\"card\" id=\"card-$uid\">" "$d/dom.html" || e2e_fail "no timeline for card $uid"
done
commits=$(grep -c ' type=commit ' "$jl")
[ "$(count '<tr class="ev ev-commit"' "$d/dom.html")" -eq "$commits" ] || e2e_fail "expected $commits commit rows"
resolves=$(grep -c ' type=resolve ' "$jl")
aborts=$(grep -c ' type=abort ' "$jl")
[ "$resolves" -ge 1 ] && [ "$aborts" -ge 1 ] || e2e_fail "no resolve or abort in the journal: not tested"
[ "$(count '<tr class="ev ev-resolve ev-tear"' "$d/dom.html")" -eq "$resolves" ] ||
	e2e_fail "expected $resolves tear-resolved rows"
[ "$(count '<tr class="ev ev-abort' "$d/dom.html")" -eq "$aborts" ] || e2e_fail "expected $aborts abort rows"
[ "$(count '<tr class="recovery">' "$d/dom.html")" -eq 1 ] || e2e_fail "expected 1 recovery row"
grep -q '&lt;i&gt;st&lt;/i&gt;' "$d/dom.html" || e2e_fail "the station name is not shown escaped"
grep -q '<i>st</i>' "$d/dom.html" && e2e_fail "markup from the journal reached the page"
e2e_log "page: 2 cards, $commits commits, $resolves tear(s) resolved, $aborts abort(s), 1 recovery, $cps checkpoints verified"

# The wrong key: the page still lists every checkpoint, each invalid.
openssl genpkey -algorithm ed25519 2>/dev/null | openssl pkey -pubout >"$d/other.pub.pem"
rc=0
"$E2E_DFISSUE" journal show --html "$d/bad.html" --pubkey "$d/other.pub.pem" "$d/j" 2>"$d/bad.log" || rc=$?
[ "$rc" -eq 1 ] || e2e_fail "a journal failing verification: exit $rc, expected 1"
dump "file://$d/bad.html" "$d/bad-dom.html"
[ "$(count '<tr class="cp cp-bad">' "$d/bad-dom.html")" -eq "$cps" ] || e2e_fail "expected $cps invalid checkpoints"
grep -q '<td id="verification" class="fail">FAILED: ' "$d/bad-dom.html" || e2e_fail "verification not FAILED"
grep -q '<table id="findings">' "$d/bad-dom.html" || e2e_fail "no findings table"
# A checkpoint line whose note is not base64: one MALFORMED row, the others
# still verified, and the verification fails.
cp -r "$d/j" "$d/jm"
n=$(grep -n '^checkpoint ' "$d/jm/journal.log" | head -1 | cut -d: -f1)
sed -i "${n}s/^checkpoint ./checkpoint */" "$d/jm/journal.log"
rc=0
"$E2E_DFISSUE" journal show --html "$d/m.html" --pubkey "$d/tok/journal.pub.pem" "$d/jm" 2>"$d/m.log" || rc=$?
[ "$rc" -eq 1 ] || e2e_fail "a journal with a malformed checkpoint: exit $rc, expected 1"
[ "$(count '<tr class="cp cp-bad"><td>'"$n"'</td><td colspan="3">not a checkpoint note</td><td class="result">MALFORMED</td>' "$d/m.html")" -eq 1 ] ||
	e2e_fail "line $n is not shown as a malformed checkpoint"
[ "$(count '<tr class="cp cp-verified">' "$d/m.html")" -eq $((cps - 1)) ] ||
	e2e_fail "expected $((cps - 1)) verified checkpoints beside the malformed one"
e2e_log "OK: the auditor's page shows every card's timeline and every checkpoint's verification"
