#!/usr/bin/env bash
# check_help.sh DFISSUE DESFIRE-SIM SRC: every --help text fits an 80-column
# terminal (the width the man pages and docs assume) and exits 0. The
# commands are taken from the program itself: the command list of
# 'dfissue --help', then the subcommands each command's help names
# ("dfissue journal show ..." or "dfissue key <list|import|...>"), so a
# new command or subcommand is checked without editing this script.
# Then the synopsis of SRC/docs/PERSONALIZATION.md is the usage lines of
# 'dfissue personalize --help', so that the two cannot drift apart; and
# every man page of SRC/man renders in WIDTH columns without a warning.
set -euo pipefail
dfissue=$1
sim=$2
src=$3
WIDTH=80
export LC_ALL=C.UTF-8 # ${#line} counts characters, not bytes
fail=0
checked=0
out=$(mktemp)
trap 'rm -f "$out" "$out.err"' EXIT

# check LABEL CMD...: runs CMD, which prints a help on stdout; says which
# lines are wider than WIDTH (tabs expanded) and whether it exited non-zero.
check() {
	local label=$1 rc=0 n=0 line
	shift
	"$@" >"$out" 2>&1 </dev/null || rc=$?
	checked=$((checked + 1))
	if [ "$rc" -ne 0 ]; then
		echo "FAIL: '$label' exits $rc: $(head -c 300 "$out")"
		fail=1
	fi
	[ -s "$out" ] || { echo "FAIL: '$label' prints nothing"; fail=1; }
	while IFS= read -r line; do
		n=$((n + 1))
		if [ "${#line}" -gt "$WIDTH" ]; then
			echo "FAIL: '$label' line $n has ${#line} columns (at most $WIDTH): $line"
			fail=1
		fi
	done < <(expand "$out")
}

# The subcommands a command's help names after "dfissue CMD".
subs_of() {
	local cmd=$1
	{ # grep finds none in a command without subcommands
		grep -oE "dfissue $cmd [a-z][a-z0-9-]*" "$out" | awk '{ print $3 }' || true
		grep -oE "dfissue $cmd <[a-z0-9|-]+[|][a-z0-9|-]+>" "$out" | sed 's/.*<//; s/>$//' |
			tr '|' '\n' || true
	} | sort -u
}

check "dfissue --help" "$dfissue" --help
mapfile -t cmds < <(sed -n '/^commands:$/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p' "$out")
[ "${#cmds[@]}" -ge 5 ] || { echo "FAIL: no command list in 'dfissue --help'"; exit 1; }
check "dfissue help" "$dfissue" help
nsubs=0
for c in "${cmds[@]}"; do
	check "dfissue $c --help" "$dfissue" "$c" --help
	mapfile -t subs < <(subs_of "$c")
	for s in "${subs[@]}"; do
		check "dfissue $c $s --help" "$dfissue" "$c" "$s" --help
		nsubs=$((nsubs + 1))
	done
done
[ "$nsubs" -gt 0 ] || { echo "FAIL: no command's help names a subcommand"; exit 1; }
check "desfire-sim --help" "$sim" --help

# The usage lines: from "usage:" up to the first line not indented.
"$dfissue" personalize --help >"$out"
synopsis=$(awk 'NR == 1 || (/^ / && !done) { print; next } { done = 1 }' "$out")
doc=$src/docs/PERSONALIZATION.md
case $(cat "$doc") in
*"$synopsis"*) ;;
*)
	echo "FAIL: $doc's CLI synopsis is not the usage lines of 'dfissue personalize --help':"
	echo "$synopsis"
	fail=1
	;;
esac

# Every man page (man/CMakeLists.txt installs each *.1 and *.5) rendered
# for an 80-column terminal: a preformatted example (.EX) is not filled, so
# a long line there runs past the terminal's edge. Warnings fail too.
# Each page's title line names the release the program says it is.
version=$("$dfissue" --version)
npages=0
for page in "$src"/man/*.1 "$src"/man/*.5; do
	npages=$((npages + 1))
	if ! grep -m1 '^\.TH ' "$page" | grep -qF "\"$version\""; then
		echo "FAIL: $(basename "$page")'s .TH line does not name \"$version\" ('dfissue --version')"
		fail=1
	fi
	if ! MANWIDTH=$WIDTH man --warnings -l "$page" >"$out" 2>"$out.err" || [ -s "$out.err" ]; then
		echo "FAIL: man --warnings -l $page: $(head -c 300 "$out.err")"
		fail=1
	fi
	n=0
	while IFS= read -r line; do
		n=$((n + 1))
		if [ "${#line}" -gt "$WIDTH" ]; then
			echo "FAIL: man page $(basename "$page") renders line $n with ${#line} columns (at most $WIDTH): $line"
			fail=1
		fi
	done < <(expand "$out")
done
rm -f "$out.err"
[ "$npages" -ge 10 ] || { echo "FAIL: only $npages man pages in $src/man"; exit 1; }

echo "$checked help texts (${#cmds[@]} commands, $nsubs subcommands), $npages man pages"
if [ "$fail" -ne 0 ]; then
	echo "FAIL: rewrap each line named above to $WIDTH columns (continuations aligned as" \
		"their neighbours; in a man page's .EX block by hand); copy personalize's usage lines" \
		"into the docs' synopsis" >&2
	exit 1
fi
echo "OK: every help and man page fits $WIDTH columns; the docs show personalize's usage"
