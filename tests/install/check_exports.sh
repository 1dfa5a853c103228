#!/usr/bin/env bash
# check_exports.sh SRC_DIR LIBDFISSUE_SO
# The shared library's export list is the public API and nothing else:
#   1. engine/libdfissue.map lists exactly the functions the public headers
#      include/dfissue/*.h declare (static inline helpers excepted);
#   2. the built libdfissue.so exports exactly the map's names, each under
#      the map's version node, and no other symbol; the node's number is
#      the SONAME's.
# A function added to a header without the map (or the reverse), or an
# internal function leaking out, fails with the names that differ.
set -euo pipefail
src=$1 so=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Declared: every dfi_ name followed by "(" outside comments, except
# function-pointer types ("dfi_err (*fn)") and static inline definitions.
perl -0777 -ne '
	s{/\*.*?\*/}{}gs; s{//[^\n]*}{}g;
	my %inline = map { $_ => 1 } /static\s+inline\s[^;{]*?\b(dfi_\w+)\s*\(/g;
	my %seen;
	# Bodies of static inline functions are not declarations: drop them.
	s/(static\s+inline[^;{]*?\))\s*(\{(?:[^{}]++|(?2))*\})/$1;/gs;
	for my $n (/\b(dfi_[a-z0-9_]+)\s*\((?!\s*\*)/g) {
		next if $inline{$n} || $seen{$n}++;
		print "$n\n";
	}' "$src"/include/dfissue/*.h | sort -u >"$tmp/headers"
sed -n '/global:/,/local:/p' "$src/engine/libdfissue.map" | grep -oE '\bdfi_[a-z0-9_]+' |
	sort >"$tmp/map"
sort -c "$tmp/map" 2>/dev/null || true
# The one version node the map defines (DFISSUE_<SOVERSION>).
node=$(grep -oE '^DFISSUE_[0-9]+' "$src/engine/libdfissue.map")
[ "$(wc -l <<<"$node")" -eq 1 ] || { echo "FAIL: engine/libdfissue.map must define one version node, has: $node" >&2; exit 1; }
nm -D --defined-only "$so" | awk '{print $3}' | grep -v "^$node\$" >"$tmp/so.raw"
grep -v "@@$node\$" "$tmp/so.raw" >"$tmp/unversioned" || true
sed "s/@@$node\$//" "$tmp/so.raw" | sort >"$tmp/so"

rc=0
if ! diff -u "$tmp/headers" "$tmp/map" >"$tmp/d1"; then
	echo "FAIL: engine/libdfissue.map differs from the public headers (- headers, + map):" >&2
	grep '^[-+]dfi_' "$tmp/d1" >&2
	rc=1
fi
if ! diff -u "$tmp/map" "$tmp/so" >"$tmp/d2"; then
	echo "FAIL: $so exports differ from the map (- map, + library):" >&2
	grep '^[-+][a-zA-Z_]' "$tmp/d2" >&2
	rc=1
fi
if [ -s "$tmp/unversioned" ]; then
	echo "FAIL: symbols outside the $node version node:" >&2
	cat "$tmp/unversioned" >&2
	rc=1
fi
# The SONAME carries the version node's number: both change together.
soname=$(objdump -p "$so" | awk '$1 == "SONAME" {print $2}')
if [ "$soname" != "libdfissue.so.${node#DFISSUE_}" ]; then
	echo "FAIL: SONAME $soname does not match the version node $node (libdfissue.so.${node#DFISSUE_})" >&2
	rc=1
fi

[ "$rc" -eq 0 ] && echo "exports: $(wc -l <"$tmp/so") functions under $node ($soname), the public headers' and nothing else"
exit "$rc"
