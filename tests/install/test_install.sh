#!/usr/bin/env bash
# test_install.sh — `cmake --install` into a temporary prefix gives what an
# operator and a developer expect, used only from the prefix:
#   - bin/dfissue and bin/desfire-sim run (--version);
#   - libdfissue.so.N (N: the map's version node) with the headers and
#     dfissue.pc: a program built with `pkg-config --cflags --libs dfissue`
#     from the prefix alone (no system .pc, empty environment) against the
#     installed headers compiles, links, runs;
#   - every man page renders with `man --warnings -l` and no warning, and
#     every subcommand `dfissue --help` lists has its dfissue-COMMAND(1);
#   - the bash completion loads in bash and completes subcommands and
#     options from the installed binary;
#   - hsm-config/, the example station config and the unit are installed.
# The unit itself is checked by test_unit.sh (systemd-analyze verify).
# Env: DFI_BUILD_DIR, DFI_SANITIZE (1: the library needs the ASan runtime).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/install_lib.sh"
install_into_temp
tmp=$TMP p=$P
echo "installed $(grep -c 'Installing:' "$tmp/install.log") files into $p"

# Programs.
v=$("$p/bin/dfissue" --version) || fail "dfissue --version"
[[ $v =~ ^dfissue\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "dfissue --version said '$v'"
version=${v#dfissue }
s=$("$p/bin/desfire-sim" --version) || fail "desfire-sim --version"
[ "$s" = "desfire-sim $version" ] || fail "desfire-sim --version said '$s'"
echo "$v; $s"

# Library, header, pkg-config, as a consumer outside this tree has them:
# pkg-config sees only the prefix's .pc (PKG_CONFIG_LIBDIR, no system
# directory: a Requires on libcrypto, PC/SC... would fail there as it does
# without their -dev packages), and the program is built with only its
# output and run with an empty environment (README "Building by hand": the
# library is found through the rpath given at link time).
pc=$(find "$p" -name dfissue.pc) || true
[ -n "$pc" ] || fail "no dfissue.pc installed"
pcenv=(env -i PATH="$PATH" PKG_CONFIG_LIBDIR="$(dirname "$pc")")
[ "$("${pcenv[@]}" pkg-config --modversion dfissue)" = "$version" ] || fail "pkg-config --modversion"
pkgflags=$("${pcenv[@]}" pkg-config --cflags --libs dfissue) ||
	fail "pkg-config --cflags --libs dfissue with only $(dirname "$pc")"
libdir=$("${pcenv[@]}" pkg-config --variable=libdir dfissue)
read -ra words <<<"$pkgflags"
pkgflags=${words[*]}
[ "$pkgflags" = "-I$p/include -L$libdir -ldfissue" ] ||
	fail "pkg-config --cflags --libs dfissue gave '$pkgflags' (only the prefix's -I, -L and -ldfissue)"
node=$(grep -oE '^DFISSUE_[0-9]+' "$here/../../engine/libdfissue.map")
soname=libdfissue.so.${node#DFISSUE_}
[ -e "$libdir/$soname" ] || fail "$soname not in $libdir"
[ "$(objdump -p "$libdir/$soname" | awk '$1 == "SONAME" {print $2}')" = "$soname" ] ||
	fail "SONAME of $libdir/$soname is not $soname"
[ -f "$(pkg-config --variable=includedir "$pc")/dfissue/perso.h" ] || fail "headers"
bash "$here/check_exports.sh" "$here/../.." "$libdir/$soname"
san=()
# shellcheck disable=SC2054 # one compiler flag with a comma in it
[ "${DFI_SANITIZE:-0}" = 1 ] && san=(-fsanitize=address,undefined)
# shellcheck disable=SC2086 # pkg-config's words are separate arguments
"${pcenv[@]}" cc -std=c11 -Wall -Wextra -Werror "${san[@]}" -o "$tmp/use_dfissue" \
	"$here/use_dfissue.c" $pkgflags -Wl,-rpath,"$libdir" || fail "building against the installed library"
asan=()
[ "${DFI_SANITIZE:-0}" = 1 ] && asan=("LSAN_OPTIONS=${LSAN_OPTIONS:-}")
out=$(env -i "${asan[@]}" "$tmp/use_dfissue" "$version") || fail "use_dfissue: $out"
echo "$out"
grep -qx "loaded from $libdir/$soname" <<<"$out" ||
	fail "use_dfissue did not run on the installed library: $out"
echo "consumer: built with '$pkgflags' alone, runs on $soname"

# Man pages: each renders without a warning.
mandir=$p/share/man
n=0
for page in "$mandir"/man1/*.1 "$mandir"/man5/*.5; do
	MANWIDTH=80 man --warnings -l "$page" >"$tmp/page.txt" 2>"$tmp/page.err" ||
		fail "man -l $page"
	[ -s "$tmp/page.err" ] && fail "$page: $(cat "$tmp/page.err")"
	[ -s "$tmp/page.txt" ] || fail "$page renders empty"
	n=$((n + 1))
done
for c in $("$p/bin/dfissue" --help | sed -n '/^commands:/,/^$/s/^  \([a-z][a-z0-9-]*\) .*/\1/p'); do
	[ -f "$mandir/man1/dfissue-$c.1" ] || fail "no man page dfissue-$c.1 for subcommand $c"
done
for page in man1/desfire-sim.1 man5/dfissue-profile.5 man5/dfissue-station.conf.5; do
	[ -f "$mandir/$page" ] || fail "$page missing"
done
MANPATH=$mandir man -w dfissue-personalize >/dev/null || fail "man -w dfissue-personalize"
MANWIDTH=80 man --warnings -l "$mandir/man1/dfissue.1" | grep -q 'EXIT STATUS' ||
	fail "dfissue(1) has no EXIT STATUS"
echo "man: $n pages render without warnings"

# bash completion, with the installed binary first in PATH.
comp=$p/share/bash-completion/completions/dfissue
[ -f "$comp" ] || fail "no bash completion"
got=$(PATH=$p/bin:$PATH bash --norc --noprofile -c '
	set -eu
	source "$1"
	complete -p dfissue >/dev/null
	c() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _dfissue; echo "${COMPREPLY[*]}"; }
	c dfissue pers
	c dfissue personalize --log-
	c dfissue journal ""
	c dfissue personalize --log-level w' _ "$comp") || fail "completion script: $got"
expected=$'personalize\n--log-level\ncheckpoint consistency init proof recover show verify\nwarning'
[ "$got" = "$expected" ] || fail "completion gave: $got"
bash --norc --noprofile -c 'source "$1"; complete -p desfire-sim' _ \
	"$p/share/bash-completion/completions/desfire-sim" >/dev/null || fail "desfire-sim completion"
echo "bash completion: loads and completes subcommands, options, values"

# Data files.
for f in share/dfissue/hsm-config/make-dev-token.sh share/dfissue/hsm-config/softhsm2.conf.in \
	share/dfissue/station.conf.example share/dfissue/profiles/reference.json \
	lib/systemd/system/dfissue-station@.service lib/sysusers.d/dfissue.conf; do
	[ -e "$p/$f" ] || fail "$f not installed"
done
[ -x "$p/share/dfissue/hsm-config/make-dev-token.sh" ] || fail "make-dev-token.sh not executable"
# The example station config names a profile this prefix holds (tests/perso
# test_perso_cli runs the example itself).
ex_profile=$(sed -n 's/^profile = //p' "$p/share/dfissue/station.conf.example")
[ "$ex_profile" = "$p/share/dfissue/profiles/minimal.json" ] ||
	fail "station.conf.example names profile '$ex_profile'"
grep -q "^ExecStart=$p/bin/dfissue personalize --config $p/etc/dfissue/%i.conf" \
	"$p/lib/systemd/system/dfissue-station@.service" || fail "unit's ExecStart does not name the prefix"
grep -q "^# dfissue station configuration: copy to $p/etc/dfissue/NAME.conf for the" \
	"$p/share/dfissue/station.conf.example" || fail "station.conf.example does not name $p/etc/dfissue"
grep -n '/etc/dfissue' "$p/share/dfissue/station.conf.example" | grep -v "$p/etc/dfissue" &&
	fail "station.conf.example names /etc/dfissue where the unit reads $p/etc/dfissue"

# The documents the installed headers and man pages cite, under DOCDIR as
# in the source tree (docs/NAME.md, SECURITY.md).
doc=$p/share/doc/dfissue
cited=$(grep -rhoE '(docs/[A-Z_]+\.md|SECURITY\.md)' "$p/include/dfissue" "$mandir" | sort -u)
[ -n "$cited" ] || fail "no document cited by the headers and man pages (the check looks for none)"
for f in $cited README.md; do
	[ -s "$doc/$f" ] || fail "$f is cited but not installed in $doc"
done
echo "docs: $(wc -w <<<"$cited") cited documents installed in share/doc/dfissue"

# From the prefix alone: the dev token made by the installed script with the
# installed dfissue (found through P/bin, not the build tree), one simulated
# card personalized with the installed reference profile and its installed
# batch, the originality signature verified with the installed test key.
env -i PATH="$p/bin:/usr/bin:/bin" "$p/share/dfissue/hsm-config/make-dev-token.sh" "$tmp/token" \
	>"$tmp/token.log" 2>&1 || fail "installed make-dev-token.sh: $(cat "$tmp/token.log")"
data=$p/share/dfissue
out=$(env -i PATH="$p/bin:/usr/bin:/bin" SOFTHSM2_CONF="$tmp/token/softhsm2.conf" \
	"$p/bin/dfissue" personalize --profile "$data/profiles/reference.json" \
	--batch "$data/profiles/reference-batch.csv" --token pkcs11:token=dfissue-dev \
	--pin-file "$tmp/token/user.pin" --reader "sim:$tmp/card.img" --journal "$tmp/journal" \
	--create-journal --once --json --originality-keys "$data/sim-originality.keys" 2>"$tmp/perso.err") ||
	fail "personalize from the prefix: $(cat "$tmp/perso.err") $out"
grep -q '"outcome":"done"' <<<"$out" || fail "personalize from the prefix: $out"
grep -q '"originality":"verified by desfire-sim-test"' <<<"$out" ||
	fail "the installed sim-originality.keys does not verify the simulated card: $out"
[ -s "$data/profiles/reference-batch.jsonl" ] || fail "reference-batch.jsonl not installed"
echo "from the prefix: dev token, one simulated card done, originality verified by desfire-sim-test"
echo "OK: install into a temporary prefix"
