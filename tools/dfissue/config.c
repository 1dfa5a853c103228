/* key = value files turned into long options. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "linein.h"
#include "core/trim.h"

#define CONFIG_MAX_LINES 512
#define CONFIG_LINE_MAX 4096

static const struct option *
find_opt(const struct option *lo, const char *key)
{
	for (; lo->name != NULL; lo++)
		if (strcmp(lo->name, key) == 0)
			return lo;
	return NULL;
}

/* 1 yes, 0 no, -1 neither. */
static int
parse_bool(const char *v)
{
	static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false",
		"off", "0" };
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return 1;
		if (strcasecmp(v, no[i]) == 0)
			return 0;
	}
	return -1;
}

static int
push(struct cli_argv *a, char *s, int ln)
{
	char **o = realloc(a->owned, (size_t)(a->nowned + 1) * sizeof(*o));
	if (o != NULL)
		a->owned = o;
	int *l = o != NULL ? realloc(a->lines, (size_t)(a->nowned + 1) * sizeof(*l)) : NULL;
	if (l == NULL) {
		free(s);
		return -1;
	}
	a->lines = l;
	a->lines[a->nowned] = ln;
	a->owned[a->nowned++] = s;
	return 0;
}

/* One line: adds "--key=value" or "--key" to a->owned. */
static int
config_line(const char *path, int ln, char *line, const struct option *lo, struct cli_argv *a)
{
	char *eq = strchr(line, '=');
	if (eq == NULL)
		return cli_usagef("%s:%d: expected 'key = value', got '%s'", path, ln, line);
	*eq = '\0';
	char *key = dfi_trim(line), *val = dfi_trim(eq + 1);
	const struct option *o = find_opt(lo, key);
	if (strcmp(key, "pin") == 0 || strcmp(key, "pin-env") == 0)
		return cli_usagef("%s:%d: a configuration file takes no PIN and no PIN variable: put the PIN "
		    "in a file readable by the station's user only and name it with 'pin-file'", path, ln);
	if (o == NULL || strcmp(key, "help") == 0 || strcmp(key, "config") == 0)
		return cli_usagef("%s:%d: unknown key '%s' (keys are the command's long options, see --help)",
		    path, ln, key);
	char *arg;
	if (o->has_arg == no_argument) {
		int b = parse_bool(val);
		if (b < 0)
			return cli_usagef("%s:%d: '%s' takes yes or no, not '%s'", path, ln, key, val);
		if (b == 0)
			return DFI_EXIT_OK;
		arg = malloc(strlen(key) + 3);
		if (arg != NULL)
			sprintf(arg, "--%s", key);
	} else {
		if (*val == '\0')
			return cli_usagef("%s:%d: '%s' needs a value", path, ln, key);
		arg = malloc(strlen(key) + strlen(val) + 4);
		if (arg != NULL)
			sprintf(arg, "--%s=%s", key, val);
	}
	if (arg == NULL || push(a, arg, ln) != 0)
		return cli_fail(path, DFI_E_NOMEM);
	return DFI_EXIT_OK;
}

static int
read_config(const char *path, const struct option *lo, struct cli_argv *a)
{
	/* A file that is missing or unreadable is a configuration error
	 * (exit 2) like a bad line in it: the station unit does not restart
	 * after exit 2 (RestartPreventExitStatus), and restarting every 5 s
	 * would not make the file appear. */
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		int err = errno;
		return cli_usagef("configuration file '%s': %s: %s", path, strerror(err),
		    err == ENOENT ? "create it (dfissue-station.conf(5)) or give another --config" :
		    "make it readable by the user dfissue runs as");
	}
	char line[CONFIG_LINE_MAX + 1];
	size_t n;
	int ln = 0, rc = DFI_EXIT_OK, got;
	while (rc == DFI_EXIT_OK && (got = cli_line_read(f, line, sizeof(line), &n)) >= 0) {
		ln++;
		if (ln > CONFIG_MAX_LINES) {
			cli_errorf("%s: more than %d lines", path, CONFIG_MAX_LINES);
			rc = DFI_EXIT_USAGE;
		} else if (got == 0) {
			cli_errorf("%s:%d: line longer than %d characters", path, ln, CONFIG_LINE_MAX);
			rc = DFI_EXIT_USAGE;
		} else if (memchr(line, '\0', n) != NULL) {
			cli_errorf("%s:%d: a NUL byte: not a text file", path, ln);
			rc = DFI_EXIT_USAGE;
		} else {
			char *s = dfi_trim(line);
			if (*s != '\0' && *s != '#')
				rc = config_line(path, ln, s, lo, a);
		}
	}
	if (rc == DFI_EXIT_OK && ferror(f)) {
		/* A directory opens but does not read (EISDIR). */
		cli_errorf("configuration file '%s': %s: give a regular file", path, strerror(errno));
		rc = DFI_EXIT_USAGE;
	}
	fclose(f);
	return rc;
}

int
cli_config_expand(int argc, char **argv, const struct option *lo, struct cli_argv *out)
{
	const char *path = NULL;
	int at = -1, span = 0;

	memset(out, 0, sizeof(*out));
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= argc)
				return cli_usagef("--config needs a file");
			path = argv[i + 1], at = i, span = 2;
			break;
		}
		if (strncmp(argv[i], "--config=", 9) == 0) {
			path = argv[i] + 9, at = i, span = 1;
			break;
		}
	}
	if (path == NULL) {
		out->argc = argc;
		out->argv = argv;
		return DFI_EXIT_OK;
	}
	out->path = path;
	int rc = read_config(path, lo, out);
	if (rc != DFI_EXIT_OK) {
		cli_config_free(out);
		return rc;
	}
	char **v = calloc((size_t)(argc + out->nowned + 1), sizeof(*v));
	if (v == NULL) {
		cli_config_free(out);
		return cli_fail(path, DFI_E_NOMEM);
	}
	int n = 0;
	v[n++] = argv[0];
	for (int i = 0; i < out->nowned; i++)
		v[n++] = out->owned[i];
	for (int i = 1; i < argc; i++)
		if (i < at || i >= at + span)
			v[n++] = argv[i];
	v[n] = NULL;
	out->argc = n;
	out->argv = v;
	out->own_argv = 1;
	return DFI_EXIT_OK;
}

int
cli_config_line(const struct cli_argv *a, const char *s)
{
	/* Compared as addresses: s may point into any of the strings. */
	uintptr_t at = (uintptr_t)s;
	for (int i = 0; a != NULL && s != NULL && i < a->nowned; i++) {
		uintptr_t b = (uintptr_t)a->owned[i];
		if (at >= b && at <= b + strlen(a->owned[i]))
			return a->lines[i];
	}
	return 0;
}

void
cli_config_free(struct cli_argv *a)
{
	for (int i = 0; i < a->nowned; i++)
		free(a->owned[i]);
	free(a->owned);
	free(a->lines);
	if (a->own_argv)
		free(a->argv);
	memset(a, 0, sizeof(*a));
}
