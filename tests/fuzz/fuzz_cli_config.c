/* libFuzzer harness: the station configuration file of `dfissue
 * personalize --config FILE` (tools/dfissue/config.c).
 *
 * An input is the file's bytes as they are: "key = value" lines, '#'
 * comment lines, blank lines (dfissue-station.conf(5)). The command's
 * option table is a fixed one below that has each kind of option the real
 * tables have (with a value, optional value, no value, the refused pin,
 * pin-env, help and config); the command line around --config is fixed.
 *
 * What must hold (__builtin_trap otherwise):
 *  - an accepted file expands to argv[0], one "--key" or "--key=value" per
 *    line that is neither blank, a comment nor "flag = no", in file order,
 *    then the command line less --config FILE;
 *  - each expanded option names an option of the table (never pin,
 *    pin-env, help or config), takes a value exactly when the option does,
 *    and is the line itself: the line is blanks, the key, blanks, '=',
 *    blanks, the value (a yes word for a flag), blanks, and nothing else;
 *    nothing cut short, nothing dropped, nothing made up;
 *  - cli_config_line() gives back each option's line, for the option and
 *    for any point in it (its value, as getopt hands it on);
 *  - a refused file leaves nothing expanded and says "FILE:LINE: ..."
 *    with a line of the file, or "FILE: more than ... lines";
 *  - the same bytes give the same result twice (no state kept).
 * ASan/UBSan/LSan catch the rest. Seeds: corpus/cli_config/ (the shipped
 * dist/station.conf.example and edge cases); corpus/cli_config.options
 * lets inputs reach the 4096-character line and 512-line limits. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_fuzz.h"
#include "dfissue/cli.h"
#include "dfissue/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct option table[] = {
	{ "reader", required_argument, NULL, 1 },
	{ "profile", required_argument, NULL, 2 },
	{ "wait-ms", required_argument, NULL, 3 },
	{ "pin-file", required_argument, NULL, 4 },
	{ "pin", required_argument, NULL, 5 },
	{ "pin-env", required_argument, NULL, 6 },
	{ "config", required_argument, NULL, 7 },
	{ "log-level", optional_argument, NULL, 8 },
	{ "json", no_argument, NULL, 9 },
	{ "create-journal", no_argument, NULL, 10 },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static char path[96];

static const struct option *
known(const char *name, size_t len)
{
	for (const struct option *o = table; o->name != NULL; o++)
		if (strlen(o->name) == len && memcmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

/* The file's line ln (1-based) as [*s, *s + *len), without its '\n';
 * 0 when the file has fewer lines. */
static int
file_line(const uint8_t *d, size_t size, int ln, const char **s, size_t *len)
{
	size_t at = 0;
	for (int i = 1; at < size; i++) {
		const uint8_t *nl = memchr(d + at, '\n', size - at);
		size_t l = nl != NULL ? (size_t)(nl - (d + at)) : size - at;
		if (i == ln) {
			*s = (const char *)d + at;
			*len = l;
			return 1;
		}
		at += l + 1;
	}
	return 0;
}

static size_t
skip_blanks(const char *s, size_t i, size_t len)
{
	while (i < len && isspace((unsigned char)s[i]))
		i++;
	return i;
}

/* Is the line blanks, key, blanks, '=', blanks, val, blanks? */
static int
line_is(const char *s, size_t len, const char *key, size_t kl, const char *val, size_t vl)
{
	size_t i = skip_blanks(s, 0, len);
	if (len - i < kl || memcmp(s + i, key, kl) != 0)
		return 0;
	i = skip_blanks(s, i + kl, len);
	if (i >= len || s[i] != '=')
		return 0;
	i = skip_blanks(s, i + 1, len);
	if (len - i < vl || memcmp(s + i, val, vl) != 0)
		return 0;
	return skip_blanks(s, i + vl, len) == len;
}

static int
is_word(const char *s, size_t len, const char *const *words)
{
	for (; *words != NULL; words++)
		if (strlen(*words) == len && strncasecmp(s, *words, len) == 0)
			return 1;
	return 0;
}

static const char *const yes[] = { "yes", "true", "on", "1", NULL };
static const char *const no[] = { "no", "false", "off", "0", NULL };

/* The flag a line sets to one of words ("flag = yes"), or NULL: blanks,
 * a no_argument option's name, blanks, '=', blanks, the word, blanks. */
static const struct option *
flag_line(const char *s, size_t len, const char *const *words)
{
	size_t i = skip_blanks(s, 0, len), k = i;
	while (k < len && s[k] != '=' && !isspace((unsigned char)s[k]))
		k++;
	const struct option *o = known(s + i, k - i);
	if (o == NULL || o->has_arg != no_argument)
		return NULL;
	size_t e = skip_blanks(s, k, len);
	if (e >= len || s[e] != '=')
		return NULL;
	size_t v = skip_blanks(s, e + 1, len), ve = len;
	while (ve > v && isspace((unsigned char)s[ve - 1]))
		ve--;
	return is_word(s + v, ve - v, words) ? o : NULL;
}

static void
check_accepted(const uint8_t *d, size_t size, const struct cli_argv *a, char **argv, int argc)
{
	if (a->argc != 1 + a->nowned + (argc - 3) || strcmp(a->argv[0], argv[0]) != 0 ||
	    a->argv[a->argc] != NULL)
		FAIL("accepted: wrong argument count");
	int prev = 0;
	for (int i = 0; i < a->nowned; i++) {
		const char *opt = a->owned[i], *eq = strchr(opt, '=');
		if (a->argv[1 + i] != opt)
			FAIL("accepted: the file's options are not first, in order");
		if (strncmp(opt, "--", 2) != 0)
			FAIL("accepted: an option without its dashes");
		const char *name = opt + 2;
		size_t nl = eq != NULL ? (size_t)(eq - name) : strlen(name);
		const struct option *o = known(name, nl);
		if (o == NULL || strcmp(o->name, "pin") == 0 || strcmp(o->name, "pin-env") == 0 ||
		    strcmp(o->name, "help") == 0 || strcmp(o->name, "config") == 0)
			FAIL("accepted: an option the file may not give");
		if ((eq != NULL) != (o->has_arg != no_argument) || (eq != NULL && eq[1] == '\0'))
			FAIL("accepted: value given to a flag, or missing");
		const char *s;
		size_t len;
		int ln = a->lines[i];
		if (ln <= prev || !file_line(d, size, ln, &s, &len))
			FAIL("accepted: an option's line is not in the file, or out of order");
		if (eq != NULL ? !line_is(s, len, name, nl, eq + 1, strlen(eq + 1)) :
		    flag_line(s, len, yes) != o)
			FAIL("accepted: an option is not its line (cut short or made up)");
		/* every line between the previous option's and this one gave none */
		for (int k = prev + 1; k < ln; k++) {
			const char *t;
			size_t tl;
			file_line(d, size, k, &t, &tl);
			size_t b = skip_blanks(t, 0, tl);
			if (b < tl && t[b] != '#' && flag_line(t, tl, no) == NULL)
				FAIL("accepted: a line that gave no option");
		}
		prev = ln;
		if (cli_config_line(a, opt) != ln || cli_config_line(a, opt + strlen(opt)) != ln ||
		    (eq != NULL && cli_config_line(a, eq + 1) != ln))
			FAIL("accepted: cli_config_line does not name the option's line");
	}
	const char *t;
	size_t tl;
	for (int k = prev + 1; file_line(d, size, k, &t, &tl); k++) {
		size_t b = skip_blanks(t, 0, tl);
		if (b < tl && t[b] != '#' && flag_line(t, tl, no) == NULL)
			FAIL("accepted: a line after the last option gave none");
	}
	for (int i = 3, k = 1 + a->nowned; i < argc; i++, k++)
		if (a->argv[k] != argv[i])
			FAIL("accepted: the command line's options were not kept, in order");
	if (cli_config_line(a, argv[3]) != 0)
		FAIL("accepted: a command-line string has a file line");
}

static void
check_refused(const uint8_t *d, size_t size, const struct cli_argv *a)
{
	if (a->argc != 0 || a->argv != NULL || a->nowned != 0 || a->owned != NULL)
		FAIL("refused: something left expanded");
	const char *m = shim_last_error();
	size_t pl = strlen(path);
	if (strncmp(m, path, pl) != 0 || m[pl] != ':')
		FAIL("refused: the message does not start with FILE:");
	if (strncmp(m + pl, ": more than ", 12) == 0)
		return;
	char *end;
	long ln = strtol(m + pl + 1, &end, 10);
	const char *s;
	size_t len;
	if (end == m + pl + 1 || *end != ':' || ln < 1 || !file_line(d, size, (int)ln, &s, &len))
		FAIL("refused: the message does not name a line of the file");
}

static int
run(const uint8_t *d, size_t size, struct cli_argv *a, char **argv, int argc)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(d, 1, size, f) != size || fclose(f) != 0)
		abort();
	shim_clear();
	return cli_config_expand(argc, argv, table, a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (path[0] == '\0')
		snprintf(path, sizeof(path), "%s/station.conf", cli_fuzz_dir());
	char *argv[] = { "personalize", "--config", path, "--reader", "sim:cmd.img", "--json", NULL };
	int argc = 6;
	struct cli_argv a, b;
	int rc = run(data, size, &a, argv, argc);
	char first[1000];
	snprintf(first, sizeof(first), "%s", shim_last_error());
	if (rc == DFI_EXIT_OK) {
		check_accepted(data, size, &a, argv, argc);
	} else {
		if (rc != DFI_EXIT_USAGE)
			FAIL("refused: not a usage error");
		check_refused(data, size, &a);
	}
	int rc2 = run(data, size, &b, argv, argc);
	if (rc2 != rc || b.nowned != a.nowned || strcmp(first, shim_last_error()) != 0)
		FAIL("the same file gave another result");
	for (int i = 0; i < a.nowned; i++)
		if (strcmp(a.owned[i], b.owned[i]) != 0 || a.lines[i] != b.lines[i])
			FAIL("the same file expanded otherwise");
	cli_config_free(&a);
	cli_config_free(&b);
	return 0;
}
