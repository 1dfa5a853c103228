/*
 * Configuration files for `dfissue personalize --config FILE` (the station
 * service's /etc/dfissue/NAME.conf; dfissue-station.conf(5)).
 *
 * One "key = value" per line, '#' comment lines, blank lines. A key is a
 * long option of the command without its dashes, so every option has a key
 * by construction; an option without an argument takes yes/no (true/false,
 * 1/0). The file becomes options placed before the command line's, so a
 * single-valued option on the command line wins and repeatable ones
 * (--reader) add up. There is no PIN key, and pin-env is refused: a
 * service's PIN comes from a file (pin-file) or the token's PIN pad.
 */
#ifndef DFISSUE_CLI_CONFIG_H
#define DFISSUE_CLI_CONFIG_H

struct option;

struct cli_argv {
	int argc;
	char **argv;   /* argv[0] is the subcommand; NULL-terminated */
	char **owned;  /* strings made from the file */
	int *lines;    /* lines[i]: the file's line owned[i] was made from */
	int nowned;
	int own_argv;  /* argv was made here */
	const char *path; /* the file (points into the caller's argv), or NULL */
};

/* When argv holds --config FILE (or --config=FILE), reads FILE and makes
 * out the argument list: argv[0], the file's options, then argv[1..] less
 * the --config option. Otherwise out is argv as given. lo is the command's
 * getopt_long table. Returns DFI_EXIT_OK, or DFI_EXIT_USAGE/DFI_EXIT_FAIL
 * with one line printed ("FILE:LINE: ..."). */
int cli_config_expand(int argc, char **argv, const struct option *lo, struct cli_argv *out);
void cli_config_free(struct cli_argv *a);

/* The file line an option string came from: s points into one of the
 * strings made from the file ("--wait-ms=30s", or its value as getopt's
 * optarg and the stored option keep it), so an error found once the
 * options are parsed can still name "FILE:LINE". 0 for a string of the
 * command line (or a == NULL). */
int cli_config_line(const struct cli_argv *a, const char *s);

#endif
