/*
 * opts.h: a subcommand's options as a table, parsed in one place.
 *
 * Every subcommand used to write its own getopt_long loop: the same
 * optind/opterr set-up, the same --help case and four different wordings
 * for an unknown option. A command now lists its options (what each is
 * called and where its value goes) and calls cli_parse(), which also
 * takes the HSM options (cli.h) when the command opens the HSM, prints
 * --help and gives one kind of error line for every command.
 */
#ifndef DFISSUE_OPTS_H
#define DFISSUE_OPTS_H

#include <stdio.h>
#include <unistd.h> /* optind: the first operand after cli_parse() */

struct cli_hsm_opts;
struct cli_argv;

enum cli_opt_kind {
	CLI_OPT_END = 0, /* the table's last entry */
	CLI_OPT_STR,     /* --name VALUE: *str = VALUE */
	CLI_OPT_FLAG,    /* --name: *flag = 1 */
	CLI_OPT_UINT,    /* --name N: *num = N, a decimal in [min, max] */
	CLI_OPT_FN,      /* --name VALUE: fn(ctx, VALUE), 0 when accepted */
	CLI_OPT_LIST,    /* --name VALUE, up to max times, into an array: the
			  * i-th (from 0) goes to each(ctx, VALUE, i), 0 when
			  * accepted, or with no each to str[i]; *count is then
			  * how many were taken */
	CLI_OPT_ACT,     /* --name: fn(ctx, NULL), 0 when accepted */
};

struct cli_opt {
	enum cli_opt_kind kind;
	const char *name;  /* the long option, without "--" */
	char short_name;   /* a one-letter alias (-v), or 0 */
	const char **str;
	int *flag;
	unsigned long *num, min, max;
	/* CLI_OPT_UINT: what N is, for the error line ("milliseconds");
	 * CLI_OPT_FN: the same for a value fn refuses without a line of its own. */
	const char *wants;
	int (*fn)(void *ctx, const char *value);
	int (*each)(void *ctx, const char *value, size_t i);
	size_t *count;
	void *ctx;
	/* The command cannot go on without this option (CLI_NEED_*):
	 * cli_parse() refuses its absence with the spec's needs line. */
	int need;
	/* Where to keep the string the value was given as (it points into a
	 * configuration file's line when it came from one), or NULL: for a
	 * check made after parsing to name the value's file and line
	 * (cli_value_where) although the option stored a number. */
	const char **given;
};

#define CLI_STR(n, p) { .kind = CLI_OPT_STR, .name = (n), .str = (p) }
#define CLI_FLAG(n, p) { .kind = CLI_OPT_FLAG, .name = (n), .flag = (p) }
#define CLI_UINT(n, p, lo, hi, w) \
	{ .kind = CLI_OPT_UINT, .name = (n), .num = (p), .min = (lo), .max = (hi), .wants = (w) }
#define CLI_FN(n, f, c, w) { .kind = CLI_OPT_FN, .name = (n), .fn = (f), .ctx = (c), .wants = (w) }
/* Repeatable options filling an array of most entries: cli_parse() keeps
 * the count and refuses one more with one line for every command, so
 * that what stores a value never checks the room itself. */
#define CLI_LIST(n, f, c, cnt, most, w) \
	{ .kind = CLI_OPT_LIST, .name = (n), .each = (f), .ctx = (c), .count = (cnt), .max = (most), \
		.wants = (w) }
#define CLI_STRS(n, arr, cnt, most) \
	{ .kind = CLI_OPT_LIST, .name = (n), .str = (arr), .count = (cnt), .max = (most) }
/* Options the command needs (struct cli_opt.need). */
#define CLI_NEED_STR(n, p) { .kind = CLI_OPT_STR, .name = (n), .str = (p), .need = 1 }
/* A CLI_UINT that also keeps its string in *g (struct cli_opt.given). */
#define CLI_UINT_GIVEN(n, p, lo, hi, w, g) \
	{ .kind = CLI_OPT_UINT, .name = (n), .num = (p), .min = (lo), .max = (hi), .wants = (w), \
		.given = (g) }
#define CLI_NEED_UINT(n, p, lo, hi, w) \
	{ .kind = CLI_OPT_UINT, .name = (n), .num = (p), .min = (lo), .max = (hi), .wants = (w), .need = 1 }
#define CLI_NEED_FN(n, f, c) { .kind = CLI_OPT_FN, .name = (n), .fn = (f), .ctx = (c), .need = 1 }
#define CLI_NEED_LIST(n, f, c, cnt, most) \
	{ .kind = CLI_OPT_LIST, .name = (n), .each = (f), .ctx = (c), .count = (cnt), .max = (most), .need = 1 }
#define CLI_ACT(n, s, f, c) { .kind = CLI_OPT_ACT, .name = (n), .short_name = (s), .fn = (f), .ctx = (c) }
#define CLI_OPTS_END { .kind = CLI_OPT_END }

/* What one subcommand accepts. */
struct cli_spec {
	const char *cmd;          /* "journal init": names the command in error lines */
	const char *const *help;  /* the --help text: pieces, NULL last (cli_help_print) */
	const struct cli_opt *opts; /* ends with CLI_OPTS_END; NULL for none */
	struct cli_hsm_opts *hsm; /* the HSM options go here; NULL: not accepted */
	int journal_hsm;          /* also the --journal-module... options (with hsm) */
	int min_operands;         /* arguments after the options: fewer is a usage error, */
	int max_operands;         /* and so is more */
	const char *operands_why; /* said after "unexpected argument" instead of "see --help" */
	/* What the command needs, said as "<cmd>: <needs>" when an operand or
	 * a CLI_NEED_* option is missing: "needs --station and one DIR (try
	 * --help)". NULL: "<cmd>: invalid arguments (see 'dfissue <cmd> --help')". */
	const char *needs;
	/* The argument list cli_config_expand() made when the options came
	 * partly from a configuration file, or NULL: a value from the file is
	 * then refused as "FILE:LINE: NAME: wants ..." (cli_opt_where). */
	const struct cli_argv *from;
};

/* The value cli_parse() returns when the command goes on. */
#define CLI_GO_ON (-1)

/*
 * Parses argv[1..argc-1] against spec. Returns CLI_GO_ON with optind at
 * the first operand; otherwise the exit status the command returns at
 * once: DFI_EXIT_OK after --help (printed on stdout), DFI_EXIT_USAGE
 * after one error line (unknown option, missing or malformed value, too
 * many or too few operands, a needed option missing). Options may
 * repeat: the last value counts, except for CLI_OPT_FN and CLI_OPT_LIST,
 * which see each.
 */
int cli_parse(const struct cli_spec *spec, int argc, char **argv);

/* Who gave an option's value, to start an error line about it: for a value
 * from the command line "<cmd>: --NAME" (":" appended when colon is set),
 * for one from spec->from's configuration file "FILE:LINE: NAME:". value is
 * the string the option stored (it points into the file's line). The text
 * after it is the same either way: "... --wait-ms wants milliseconds" /
 * "st.conf:6: wait-ms: wants milliseconds". */
void cli_opt_where(const struct cli_spec *spec, const char *name, const char *value, int colon,
    char *buf, size_t cap);

/* The same for an error line whose text names the options itself ("--reissue
 * and --reason go together"): "FILE:LINE: NAME:" for a value from the file,
 * "<cmd>:" for one from the command line, so that the text after it is the
 * command line's either way. */
void cli_value_where(const struct cli_spec *spec, const char *name, const char *value, char *buf,
    size_t cap);

/* Says what spec's command needs (its needs line, as cli_parse() does when
 * something is missing) and returns DFI_EXIT_USAGE: for a need the table
 * cannot tell, such as "--journal or one JOURNAL". */
int cli_needs(const struct cli_spec *spec);

/* Room in a getopt_long table for the largest command (personalize: 22
 * options of its own, 11 for the HSMs, --help, the end). */
#define CLI_LONGOPTS_MAX 64
struct option;
/* Fills lo with spec's getopt_long table (for cli_config_expand(), which
 * needs each option's name and whether it takes a value): lo has room
 * for CLI_LONGOPTS_MAX entries. Returns 0, or
 * -1 when the table would not fit. */
int cli_longopts(const struct cli_spec *spec, struct option *lo);

#endif
