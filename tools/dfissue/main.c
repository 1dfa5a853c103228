/* dfissue — command-line front end: dispatches to one file per subcommand. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int cmd_version(int argc, char **argv);

/* One line per subcommand; each lives in its own cmd_*.c file. */
static const struct dfi_cli_cmd commands[] = {
	{ "readers", "list PC/SC readers and card presence", cmd_readers },
	{ "key", "list, import and check HSM keys (KCV, AN10922 derive-kcv)", cmd_key },
	{ "journal-key", "generate the journal signing key or export its public key", cmd_journal_key },
	{ "journal", "create, verify, show and prove the signed key-change journal", cmd_journal },
	{ "personalize", "personalize cards as a profile says, with tear recovery and the journal", cmd_personalize },
	{ "inspect", "show what a card holds and what remains to do for a profile", cmd_inspect },
	{ "recover", "list the journal's unresolved key-change intents with their cards", cmd_recover },
	{ "registry", "create or migrate the PostgreSQL registry shared by many stations", cmd_registry },
	{ "audit", "audit every station journal against the registry they share", cmd_audit },
	{ "version", "print the version", cmd_version },
};

static int
cmd_version(int argc, char **argv)
{
	if (argc > 1 && cli_is_help(argv[1])) {
		printf("usage: dfissue version\n\nPrints the version of dfissue.\n");
		return DFI_EXIT_OK;
	}
	if (argc > 1) {
		cli_errorf("version: unexpected argument '%s'", argv[1]);
		return DFI_EXIT_USAGE;
	}
	printf("dfissue %s\n", DFISSUE_VERSION);
	return DFI_EXIT_OK;
}

void
cli_errorf(const char *fmt, ...)
{
	va_list ap;
	fputs("dfissue: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
cli_fail(const char *what, dfi_err e)
{
	cli_errorf("%s: %s", what, dfi_strerror(e));
	return DFI_EXIT_FAIL;
}

int
cli_is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: dfissue <command> [options]\n\n"
		   "Personalizes MIFARE DESFire cards from a PKCS#11 HSM, with tear recovery\n"
		   "and a signed key-change journal.\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'dfissue <command> --help' describes each command.\n");
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return DFI_EXIT_USAGE;
	}
	if (cli_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return DFI_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	cli_errorf("unknown command '%s' (try 'dfissue --help')", argv[1]);
	return DFI_EXIT_USAGE;
}
