#!/usr/bin/env bash
# check_exports.sh SRC_DIR LIBDFISSUE_SO
# The shared library's export list is the public API and nothing else:
#   1. engine/libdfissue.map lists exactly the functions the public headers
#      include/dfissue/*.h declare (static inline helpers excepted);
#   2. the built libdfissue.so exports exactly the map's names, each under
#      the map's version node, and no other symbol;
#   3. every public struct has the size, alignment and member offsets
#      recorded in tests/install/abi-sizes.txt (abi_layout.sh): a program
#      built against another layout reads and writes past the struct.
# A function added to a header without the map (or the reverse), an
# internal function leaking out, or a struct whose layout changed without
# a new SONAME fails with the names that differ and what to do.
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
# The map is kept in byte order, so that a merge adds lines where a reader
# looks for them.
sed -n '/global:/,/local:/p' "$src/engine/libdfissue.map" | grep -oE '\bdfi_[a-z0-9_]+' \
	>"$tmp/map.asis"
LC_ALL=C sort -c "$tmp/map.asis" 2>"$tmp/order" ||
	{ echo "FAIL: engine/libdfissue.map is not in sorted order: $(cat "$tmp/order")" >&2; exit 1; }
sort "$tmp/map.asis" >"$tmp/map"
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

# Struct layouts against the recorded table (recorded on x86_64: another
# architecture lays them out differently, so there the check is skipped).
table=$src/tests/install/abi-sizes.txt
if [ "$(head -1 "$table" | awk '{print $2}')" != "$(uname -m):" ]; then
	echo "struct layouts: not checked, abi-sizes.txt is for $(head -1 "$table" | awk '{print $2}' | tr -d :) and this is $(uname -m)"
else
	bash "$(dirname "$0")/abi_layout.sh" "$src" >"$tmp/layout"
	# Per struct: "changed size" when its size or alignment line differs,
	# "changed layout" when only a member's offset (or the member) does;
	# a struct not in the table is new (no bump needed, but record it).
	awk -v table="$(basename "$table")" '
		/^#/ { next }
		{ split($1, p, "."); s = p[1] }
		FNR == NR { old[$0] = 1; olds[s] = 1; if ($2 == "size") osz[s] = $0; next }
		{ cur[$0] = 1; curs[s] = 1; if ($2 == "size") csz[s] = $0; if (!($0 in old)) diff[s] = 1 }
		END {
			for (o in old) { split(o, p, " "); split(p[1], q, "."); if (!(o in cur)) diff[q[1]] = 1 }
			for (s in diff) {
				if (!(s in olds))
					printf "FAIL: struct %s is not in %s: add its lines (a new struct needs no bump)\n", s, table
				else if (!(s in curs))
					printf "FAIL: struct %s was removed: bump SOVERSION and the version node, then update %s\n", s, table
				else if (osz[s] != csz[s])
					printf "FAIL: struct %s changed size: bump SOVERSION and the version node, then update %s\n", s, table
				else
					printf "FAIL: struct %s changed layout: bump SOVERSION and the version node, then update %s\n", s, table
			}
		}' "$table" "$tmp/layout" | sort >"$tmp/layout.fail"
	if [ -s "$tmp/layout.fail" ]; then
		cat "$tmp/layout.fail" >&2
		echo "  (the table: bash tests/install/abi_layout.sh . >tests/install/abi-sizes.txt; the rule: engine/libdfissue.map)" >&2
		rc=1
	else
		echo "struct layouts: $(grep -c ' size ' "$tmp/layout") structs as abi-sizes.txt records them"
	fi
fi
[ "$rc" -eq 0 ] && echo "exports: $(wc -l <"$tmp/so") functions under $node ($soname), the public headers' and nothing else"
exit "$rc"
