#!/usr/bin/env bash
# abi_layout.sh SRC_DIR: the layout of every public struct of
# SRC_DIR/include/dfissue/*.h as the host's C compiler lays it out, one
# line each: "dfi_NAME size S align A" and then "dfi_NAME.member OFFSET"
# for each member. A program with an old layout compiled in reads and
# writes by these numbers, so check_exports.sh compares them with the
# committed tests/install/abi-sizes.txt. To record a layout after bumping
# SOVERSION and the version node:
#   bash tests/install/abi_layout.sh . >tests/install/abi-sizes.txt
set -euo pipefail
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Members by name: comments and preprocessor lines dropped, each struct
# body split at ';' and ',' (outside parentheses), the declarator's name
# taken from "(*name)(...)" or the last word before any "[...]".
perl -0777 -e '
	my $all = "";
	for my $h (@ARGV) { local $/; open my $f, "<", $h or die "$h: $!"; $all .= <$f>; }
	$all =~ s{/\*.*?\*/}{}gs; $all =~ s{//[^\n]*}{}g; $all =~ s/^\s*#.*$//mg;
	print "#include <stddef.h>\n#include <stdio.h>\n";
	print "#include <dfissue/", (split m{/}, $_)[-1], ">\n" for @ARGV;
	print "#define S(t) printf(\"%s size %zu align %zu\\n\", #t, sizeof(struct t), _Alignof(struct t))\n";
	print "#define M(t, m) printf(\"%s.%s %zu\\n\", #t, #m, offsetof(struct t, m))\n";
	print "int main(void) {\n";
	my %seen;
	while ($all =~ /\bstruct\s+(dfi_\w+)\s*\{([^{}]*)\}/g) {
		my ($name, $body) = ($1, $2);
		next if $seen{$name}++;
		print "S($name);\n";
		for my $decl (split /;/, $body) {
			$decl =~ s/\s+/ /g; $decl =~ s/^ | $//g;
			next if $decl eq "";
			if ($decl =~ /\(\s*\*\s*(\w+)\s*\)/) { print "M($name, $1);\n"; next; }
			$decl =~ s/\[[^\]]*\]//g;
			my @parts = split /,/, $decl;
			for my $p (@parts) { print "M($name, $1);\n" if $p =~ /(\w+)\s*$/; }
		}
	}
	print "return 0;\n}\n";' "$src"/include/dfissue/*.h >"$tmp/layout.c"
${CC:-cc} -std=c11 -w -I"$src/include" -o "$tmp/layout" "$tmp/layout.c"
echo "# $(uname -m): public struct layouts (tests/install/abi_layout.sh)"
"$tmp/layout"
