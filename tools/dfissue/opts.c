/* A subcommand's options as a table, parsed in one place (opts.h). */
#include "opts.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"

/* getopt_long codes: an entry's index in the command's whole table
 * (merge()) above this base. */
#define OPT_BASE 0x2000
#define OPT_MAX CLI_LONGOPTS_MAX
/* "FILE:LINE: NAME:" or "CMD: --NAME": a path of up to PATH_MAX and a name */
#define WHERE_MAX (PATH_MAX + 128)

/* Appends cnt entries of src to all (*n used), keeping room for --help
 * and the getopt_long table's end; -1 when they do not fit. */
static int
append(struct cli_opt *all, size_t *n, const struct cli_opt *src, size_t cnt)
{
	if (cnt == 0)
		return 0;
	if (*n + cnt + 2 > OPT_MAX)
		return -1;
	memcpy(all + *n, src, cnt * sizeof(*src));
	*n += cnt;
	return 0;
}

/*
 * The command's whole table: its own options, then, when it opens the HSM,
 * the HSM options (cli.h) as entries like any other, writing into
 * spec->hsm, so that one loop parses them all. Returns the number of
 * entries, or -1 when they do not fit.
 */
static int
merge(const struct cli_spec *spec, struct cli_opt *all)
{
	struct cli_hsm_opts *h = spec->hsm;
	size_t n = 0, own = 0;
	while (spec->opts != NULL && spec->opts[own].kind != CLI_OPT_END)
		own++;
	if (append(all, &n, spec->opts, own) != 0)
		return -1;
	if (h == NULL)
		return (int)n;
	const struct cli_opt hsm[] = { CLI_STR("module", &h->module), CLI_STR("token", &h->token),
		CLI_STR("pin-file", &h->pin_file), CLI_STR("pin-env", &h->pin_env),
		CLI_FLAG("allow-insecure-keys", &h->allow_insecure),
		CLI_STR("derivation", &h->derivation), CLI_FLAG("allow-host-derivation", &h->allow_host) };
	/* The journal key on another module or token. */
	const struct cli_opt jhsm[] = { CLI_STR("journal-module", &h->jmodule),
		CLI_STR("journal-token", &h->jtoken), CLI_STR("journal-pin-file", &h->jpin_file),
		CLI_STR("journal-pin-env", &h->jpin_env) };
	if (append(all, &n, hsm, sizeof(hsm) / sizeof(hsm[0])) != 0 ||
	    (spec->journal_hsm && append(all, &n, jhsm, sizeof(jhsm) / sizeof(jhsm[0])) != 0))
		return -1;
	return (int)n;
}

/* The getopt_long table and short-option string of the n entries of all. */
static int
build(const struct cli_opt *all, size_t n, struct option *lo, char *shorts, size_t scap)
{
	size_t ns = 0;

	shorts[ns++] = 'h';
	for (size_t i = 0; i < n; i++) {
		const struct cli_opt *c = &all[i];
		int arg = c->kind == CLI_OPT_FLAG || c->kind == CLI_OPT_ACT ? no_argument :
		    required_argument;
		lo[i] = (struct option){ c->name, arg, NULL, OPT_BASE + (int)i };
		if (c->short_name != 0) {
			if (ns + 3 > scap)
				return -1;
			shorts[ns++] = c->short_name;
			if (arg == required_argument)
				shorts[ns++] = ':';
		}
	}
	lo[n] = (struct option){ "help", no_argument, NULL, 'h' };
	memset(&lo[n + 1], 0, sizeof(lo[n + 1]));
	shorts[ns] = '\0';
	return 0;
}

int
cli_longopts(const struct cli_spec *spec, struct option *lo)
{
	struct cli_opt all[OPT_MAX];
	char shorts[2 * CLI_LONGOPTS_MAX + 2];
	int n = merge(spec, all);
	return n < 0 ? -1 : build(all, (size_t)n, lo, shorts, sizeof(shorts));
}

/* The table entry of a short alias, or NULL. */
static const struct cli_opt *
by_short(const struct cli_opt *all, size_t n, int c)
{
	for (size_t i = 0; i < n; i++)
		if (all[i].short_name == c)
			return &all[i];
	return NULL;
}

/* A decimal without sign, spaces or leading '+' in [min, max]. */
static int
parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return 0;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return 0;
	*out = v;
	return 1;
}

/* "FILE:LINE: NAME:" when value came from spec->from's file; 0 when not. */
static int
file_where(const struct cli_spec *spec, const char *name, const char *value, char *buf, size_t cap)
{
	int line = cli_config_line(spec->from, value);
	if (line > 0)
		snprintf(buf, cap, "%s:%d: %s:", spec->from->path, line, name);
	return line > 0;
}

void
cli_opt_where(const struct cli_spec *spec, const char *name, const char *value, int colon,
    char *buf, size_t cap)
{
	if (!file_where(spec, name, value, buf, cap))
		snprintf(buf, cap, "%s: --%s%s", spec->cmd, name, colon ? ":" : "");
}

void
cli_value_where(const struct cli_spec *spec, const char *name, const char *value, char *buf,
    size_t cap)
{
	if (!file_where(spec, name, value, buf, cap))
		snprintf(buf, cap, "%s:", spec->cmd);
}

/* fn or each did not take arg: says what the option wants when the table
 * knows and the function said nothing of its own. */
static int
refused(const struct cli_spec *spec, const struct cli_opt *c, const char *arg)
{
	char where[WHERE_MAX];
	cli_opt_where(spec, c->name, arg, 0, where, sizeof(where));
	if (c->wants != NULL)
		cli_errorf("%s wants %s, not '%s'", where, c->wants, arg);
	return -1;
}

/* Takes arg for c. */
static int
take(const struct cli_spec *spec, const struct cli_opt *c, const char *arg)
{
	char where[WHERE_MAX];
	if (c->given != NULL)
		*c->given = arg;
	switch (c->kind) {
	case CLI_OPT_STR:
		*c->str = arg;
		return 0;
	case CLI_OPT_FLAG:
		*c->flag = 1;
		return 0;
	case CLI_OPT_UINT:
		if (parse_uint(arg, c->min, c->max, c->num))
			return 0;
		cli_opt_where(spec, c->name, arg, 0, where, sizeof(where));
		if (c->max >= ULONG_MAX / 2) /* no bound worth printing */
			cli_errorf("%s wants %s, not '%s'", where, c->wants, arg);
		else
			cli_errorf("%s wants %s (%lu to %lu), not '%s'", where, c->wants, c->min,
			    c->max, arg);
		return -1;
	case CLI_OPT_LIST:
		if (*c->count >= c->max) { /* the array is full */
			int line = cli_config_line(spec->from, arg);
			if (line > 0)
				cli_errorf("%s:%d: %s: at most %lu --%s options", spec->from->path,
				    line, c->name, c->max, c->name);
			else
				cli_errorf("%s: at most %lu --%s options", spec->cmd, c->max,
				    c->name);
			return -1;
		}
		if (c->each == NULL)
			c->str[*c->count] = arg;
		else if (c->each(c->ctx, arg, *c->count) != 0)
			return refused(spec, c, arg);
		++*c->count;
		return 0;
	case CLI_OPT_FN:
		return c->fn(c->ctx, arg) == 0 ? 0 : refused(spec, c, arg);
	case CLI_OPT_ACT:
		return c->fn(c->ctx, NULL) == 0 ? 0 : -1;
	case CLI_OPT_END:
		break;
	}
	return -1;
}

/* The option getopt stopped at, as the user wrote it (into buf for a
 * short one inside a cluster such as -vx). */
static const char *
offending(int argc, char **argv, char buf[3])
{
	int i = optind - 1;
	/* A short option in a cluster: optind has not moved past it. */
	if (optopt > 0 && optopt < 128 && (i < 1 || i >= argc || argv[i][0] != '-' ||
	    argv[i][1] != '-')) {
		buf[0] = '-';
		buf[1] = (char)optopt;
		buf[2] = '\0';
		return buf;
	}
	return i >= 1 && i < argc ? argv[i] : "?";
}

int
cli_parse(const struct cli_spec *spec, int argc, char **argv)
{
	struct cli_opt all[OPT_MAX];
	struct option lo[OPT_MAX];
	char shorts[2 * OPT_MAX + 2];
	char sbuf[3];
	int seen[OPT_MAX] = { 0 }; /* which entries of all came */
	int c, idx, n = merge(spec, all);

	if (n < 0 || build(all, (size_t)n, lo, shorts, sizeof(shorts)) != 0) {
		cli_errorf("%s: internal error: too many options", spec->cmd);
		return DFI_EXIT_FAIL;
	}
	optind = 1;
	opterr = 0; /* one line of our own instead of getopt's */
	/* A leading ':' tells a missing value (':') from an unknown option ('?'). */
	char optstring[sizeof(shorts) + 1];
	optstring[0] = ':';
	memcpy(optstring + 1, shorts, strlen(shorts) + 1);
	while ((c = getopt_long(argc, argv, optstring, lo, &idx)) != -1) {
		const struct cli_opt *o;
		if (c == 'h') {
			cli_help_print(spec->help);
			return DFI_EXIT_OK;
		}
		if (c == ':')
			return cli_usagef("%s: option '%s' needs a value (see 'dfissue %s --help')", spec->cmd,
			    offending(argc, argv, sbuf), spec->cmd);
		if (c == '?')
			return cli_usagef("%s: unknown option '%s' (see 'dfissue %s --help')", spec->cmd,
			    offending(argc, argv, sbuf), spec->cmd);
		o = c >= OPT_BASE && c < OPT_BASE + n ? &all[c - OPT_BASE] : by_short(all, (size_t)n, c);
		if (o == NULL || take(spec, o, optarg) != 0)
			return DFI_EXIT_USAGE;
		seen[o - all] = 1;
	}
	if (argc - optind > spec->max_operands) {
		const char *extra = argv[optind + spec->max_operands];
		if (spec->operands_why != NULL)
			cli_errorf("%s: unexpected argument '%s' (%s)", spec->cmd, extra, spec->operands_why);
		else
			cli_errorf("%s: unexpected argument '%s' (see 'dfissue %s --help')", spec->cmd,
			    extra, spec->cmd);
		return DFI_EXIT_USAGE;
	}
	int need_missing = argc - optind < spec->min_operands;
	for (int i = 0; i < n; i++)
		need_missing |= all[i].need && !seen[i];
	return need_missing ? cli_needs(spec) : CLI_GO_ON;
}

int
cli_needs(const struct cli_spec *spec)
{
	if (spec->needs == NULL)
		return cli_usage_error(spec->cmd);
	return cli_usagef("%s: %s", spec->cmd, spec->needs);
}
