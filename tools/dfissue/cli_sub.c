/* What several subcommands share: the usage error line, the --help text,
 * dispatching to a subcommand by name, reading a small file whole, printing a journal time
 * and a journal's bytes. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "dfissue/util.h"

int
cli_usage_error(const char *cmd)
{
	return cli_usagef("%s: invalid arguments (see 'dfissue %s --help')", cmd, cmd);
}

void
cli_help_print(const char *const *help)
{
	for (; *help != NULL; help++)
		fputs(*help, stdout);
}

int
cli_subcommand(const char *cmd, int argc, char **argv, const char *const *help,
    const struct cli_sub *subs)
{
	if (argc < 2)
		return cli_usage_error(cmd);
	if (cli_is_help(argv[1])) {
		cli_help_print(help);
		return DFI_EXIT_OK;
	}
	for (; subs->name != NULL; subs++)
		if (strcmp(argv[1], subs->name) == 0)
			return subs->run(argc - 1, argv + 1);
	return cli_usagef("%s: unknown command '%s' (try 'dfissue %s --help')", cmd, argv[1], cmd);
}

void
cli_utc_time(int64_t t, char sep, char *b, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (gmtime_r(&tt, &tm) == NULL || strftime(b, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(b, cap, "%" PRId64, t);
	else
		*strchr(b, 'T') = sep; /* the format's only T */
}

char *
cli_read_file(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	char *b = malloc(max + 1);
	size_t n = b ? fread(b, 1, max + 1, f) : 0;
	int bad = b == NULL || ferror(f) || n > max;
	fclose(f);
	if (bad) {
		free(b);
		return NULL;
	}
	b[n] = '\0';
	*len = n;
	return b;
}

void
cli_hexs(const uint8_t *p, size_t n, char *out, size_t cap)
{
	if (n == 0)
		snprintf(out, cap, "-");
	else if (dfi_hex_encode(p, n, out, cap) != DFI_OK)
		snprintf(out, cap, "?");
}
