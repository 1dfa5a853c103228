#!/usr/bin/perl
# check_header_comments.pl SRCDIR: every function a public header declares
# says what it does (issue 18, audit k36l finding 6).
#
# The rule. A function declaration is a line of include/dfissue/*.h that
# starts in column 0 (not a preprocessor line, typedef, static inline
# definition or structure member) and names dfi_something( that is not a
# function-pointer type. It is documented when
#   - the line itself carries a /* comment */, or
#   - the nearest line above its group ends a comment ("*/"), where its
#     group is the run of declarations (and their continuation lines)
#     directly above it: no blank line, no '#' line, no '}' line and no
#     struct, enum or typedef between.
# So one comment may cover a run of related declarations (a getter pair,
# the five create_*_file calls), and a blank line ends what it covers.
#
# Prints "header:line: dfi_name: no comment above it or its group" per
# finding and a count; exit 1 when there is a finding. Before the headers
# it checks itself on a sample whose findings are known, so a broken
# pattern fails instead of finding nothing.
use strict;
use warnings;

# Findings of one header given as lines: [line number, name] each.
sub undocumented {
	my @l = @_;
	my (@found, $n);
	my $incomment = 0;
	$n = 0;
	for my $i (0 .. $#l) {
		my $s = $l[$i];
		if ($incomment) {
			$incomment = 0 if $s =~ m{\*/};
			next;
		}
		if ($s =~ m{^\s*/\*} && $s !~ m{\*/}) {
			$incomment = 1;
			next;
		}
		next if $s =~ m{^\s*(/\*|\*)};
		next if $s =~ /^\s/ || $s =~ /^#/ || $s =~ /^typedef\b/ || $s =~ /\bstatic\s+inline\b/;
		next unless $s =~ /\b(dfi_[a-z0-9_]+)\s*\((?!\s*\*)/;
		my $name = $1;
		$n++;
		next if $s =~ m{/\*.*\*/};
		my $doc = 0;
		for (my $j = $i - 1; $j >= 0; $j--) {
			my $p = $l[$j];
			if ($p =~ m{\*/\s*$}) {
				$doc = 1;
				last;
			}
			last if $p =~ /^\s*$/ || $p =~ /^[#}]/ || $p =~ /^(struct|enum|typedef)\b/;
		}
		push @found, [ $i + 1, $name ] unless $doc;
	}
	return ($n, @found);
}

my @sample = split /\n/, <<'EOF';
/* Documented alone. */
dfi_err dfi_a(int x);
/* One comment for a group,
 * over two lines. */
int dfi_b(const void *p);
int dfi_c(const void *p,
    int more);

void dfi_d(void);
typedef dfi_err (*dfi_e_fn)(void *ctx);
struct dfi_f_ops {
	dfi_err (*g)(void *ctx);
};
static inline void dfi_h(void) {}
#define DFI_X 1
size_t dfi_i(void);
void dfi_j(void); /* trailing */
EOF
my ($sn, @sf) = undocumented(@sample);
my $got = join(' ', map { "$_->[1]:$_->[0]" } @sf);
if ($sn != 6 || $got ne 'dfi_d:9 dfi_i:16') {
	print "self-check failed: $sn declarations, findings '$got' (want 6, 'dfi_d:9 dfi_i:16')\n";
	exit 1;
}

my $src = shift @ARGV or die "usage: $0 SRCDIR\n";
my @headers = sort glob("$src/include/dfissue/*.h");
die "no headers under $src/include/dfissue\n" unless @headers;
my ($total, $bad) = (0, 0);
for my $h (@headers) {
	open my $fh, '<', $h or die "$h: $!\n";
	chomp(my @l = <$fh>);
	close $fh;
	my ($n, @f) = undocumented(@l);
	$total += $n;
	(my $short = $h) =~ s{^\Q$src\E/}{};
	for (@f) {
		print "$short:$_->[0]: $_->[1]: no comment above it or its group\n";
		$bad++;
	}
}
print "$total functions declared in include/dfissue, $bad without a comment\n";
exit($bad ? 1 : 0);
