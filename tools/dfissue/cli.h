/* dfissue CLI: the subcommand table and small shared helpers. */
#ifndef DFISSUE_CLI_H
#define DFISSUE_CLI_H

#include "dfissue/error.h"

struct dfi_cli_cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
};

/* Exit codes: 0 success, 1 operation failed, 2 usage error. */
#define DFI_EXIT_OK 0
#define DFI_EXIT_FAIL 1
#define DFI_EXIT_USAGE 2

/* Prints "dfissue: <msg>" as one line on stderr. */
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "dfissue: <what>: <dfi_strerror(e)>" and returns DFI_EXIT_FAIL. */
int cli_fail(const char *what, dfi_err e);
/* Is arg one of "-h", "--help"? */
int cli_is_help(const char *arg);

/* Subcommands, one file each (cmd_NAME.c), listed in main.c. */
int cmd_readers(int argc, char **argv);

#endif
