/* dfissue — command-line front end: dispatches to one file per subcommand. */
#include <ctype.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jwipe.h"
#include "log.h"

static int sub_version(int argc, char **argv);

/* One entry per subcommand; each lives in its own sub_*.c file. A summary
 * longer than a line of --help (64 columns after the name) is split with
 * '\n', once, where its continuation starts. */
static const struct dfi_cli_cmd commands[] = {
	{ "readers", "list PC/SC readers and card presence", sub_readers },
	{ "key", "list, import and check HSM keys (KCV, AN10922 derive-kcv)", sub_key },
	{ "hsm", "check a PKCS#11 module and token: mechanisms, derivation\npath, vectors", sub_hsm },
	{ "journal-key", "generate the journal signing key or export its public key", sub_journal_key },
	{ "journal", "create, verify, show and prove the signed key-change journal", sub_journal },
	{ "personalize", "personalize cards as a profile says, with tear recovery and\nthe journal", sub_personalize },
	{ "inspect", "show what a card holds and what remains to do for a profile", sub_inspect },
	{ "recover", "list the journal's unresolved key-change intents with their\ncards", sub_recover },
	{ "registry", "create or migrate the PostgreSQL registry shared by many\nstations", sub_registry },
	{ "audit", "audit every station journal against the registry they share", sub_audit },
	{ "sdm", "verify Secure Dynamic Messaging taps (UID, counter, MAC,\nreplays)", sub_sdm },
	{ "version", "print the version", sub_version },
};

static int
sub_version(int argc, char **argv)
{
	if (argc > 1 && cli_is_help(argv[1])) {
		printf("usage: dfissue version\n\nPrints the version of dfissue.\n");
		return DFI_EXIT_OK;
	}
	if (argc > 1)
		return cli_usagef("version: unexpected argument '%s'", argv[1]);
	printf("dfissue %s\n", DFISSUE_VERSION);
	return DFI_EXIT_OK;
}

/*
 * The first error of the run, for the JSON error object. Process state, as
 * stderr is: one command per process, and the line is kept where it is
 * printed, by cli_errorf() from any of ~200 places in every subcommand and
 * from the engine's callbacks and station threads (hence the lock). A
 * context handed down to each of them would thread a parameter through
 * every error path for one value that main() reads once at the end.
 */
static pthread_mutex_t g_err_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_err_msg[1024];
static char g_err_code[48];
static char g_next_code[48];

void
cli_error_code(const char *code)
{
	pthread_mutex_lock(&g_err_mu);
	snprintf(g_next_code, sizeof(g_next_code), "%s", code);
	pthread_mutex_unlock(&g_err_mu);
}

static void
keep_error(const char *msg)
{
	pthread_mutex_lock(&g_err_mu);
	if (g_err_msg[0] == '\0') {
		snprintf(g_err_msg, sizeof(g_err_msg), "%s", msg);
		snprintf(g_err_code, sizeof(g_err_code), "%s", g_next_code);
	}
	g_next_code[0] = '\0';
	pthread_mutex_unlock(&g_err_mu);
}

static void verrorf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static void
verrorf(const char *fmt, va_list ap)
{
	char msg[1000], line[1024];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	snprintf(line, sizeof(line), "dfissue: %s", msg);
	keep_error(msg);
	cli_log_line(CLI_LOG_ERR, line);
}

void
cli_errorf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verrorf(fmt, ap);
	va_end(ap);
}

int
cli_usagef(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verrorf(fmt, ap);
	va_end(ap);
	return DFI_EXIT_USAGE;
}

void
cli_error_code_of(dfi_err e)
{
	pthread_mutex_lock(&g_err_mu);
	if (g_next_code[0] == '\0') {
		/* DFI_E_HSM_PIN_INCORRECT -> hsm_pin_incorrect: stable as the enum. */
		const char *n = dfi_errname(e);
		size_t i = 0;
		if (strncmp(n, "DFI_E_", 6) == 0)
			n += 6;
		for (; n[i] != '\0' && i < sizeof(g_next_code) - 1; i++)
			g_next_code[i] = (char)tolower((unsigned char)n[i]);
		g_next_code[i] = '\0';
	}
	pthread_mutex_unlock(&g_err_mu);
}

int
cli_fail(const char *what, dfi_err e)
{
	cli_error_code_of(e);
	cli_errorf("%s: %s", what, dfi_strerror(e));
	return DFI_EXIT_FAIL;
}

/* The JSON error object of a command run with --json that returned
 * exit_status (cli.h). */
static void
json_error_flush(int exit_status)
{
	if (exit_status == DFI_EXIT_OK)
		return;
	pthread_mutex_lock(&g_err_mu);
	const char *code = g_err_code[0] ? g_err_code :
	    exit_status == DFI_EXIT_USAGE ? "usage" : "failed";
	const char *msg = g_err_msg[0] ? g_err_msg : "invalid arguments (see --help)";
	int have = g_err_msg[0] != '\0' || exit_status == DFI_EXIT_USAGE;
	json_t *o = have ? json_pack("{s:s, s:s, s:i}", "error", code, "message", msg, "exit",
	    exit_status) : NULL;
	pthread_mutex_unlock(&g_err_mu);
	cli_json_puts(o, JSON_COMPACT);
	fflush(stdout);
	json_decref(o);
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
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const char *s = commands[i].summary, *nl = strchr(s, '\n');
		if (nl == NULL)
			fprintf(f, "  %-13s %s\n", commands[i].name, s);
		else /* the continuation under the summary's first line */
			fprintf(f, "  %-13s %.*s\n%16s%s\n", commands[i].name, (int)(nl - s), s, "",
			    nl + 1);
	}
	fprintf(f, "\n'dfissue <command> --help' describes each command; man dfissue-<command>\n"
		   "gives the same in full.\n\n"
		   "exit status:\n"
		   "  0  success (personalize: every card done or resumed, also after a SIGTERM)\n"
		   "  1  the operation failed: a card failed or has unknown keys, or an HSM,\n"
		   "     journal, pcscd or file error (the message says which and what to do)\n"
		   "  2  usage error: a bad option, argument or configuration file line\n"
		   "  3  personalize stopped at once by a second SIGTERM/SIGINT (a card cut\n"
		   "     short is finished by its next tap)\n"
		   "With --json, an error is also one JSON object on stdout:\n"
		   "  {\"error\": CODE, \"message\": TEXT, \"exit\": STATUS} (codes: dfissue(1)).\n");
}

/* Does the subcommand's argument list ask for JSON? (Before "--".) */
static int
wants_json(int argc, char **argv)
{
	for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0)
			return 1;
	return 0;
}

int
main(int argc, char **argv)
{
	/* First: secrets (the PIN) may be read from here on. */
	if (cli_harden_process() != 0)
		return DFI_EXIT_FAIL;
	/* Before any JSON value exists (a block jansson took from malloc
	 * must not reach the wiping free) and before any thread: every block
	 * jansson frees from here on is wiped first (jwipe.c). */
	cli_jwipe_install();
	cli_log_init();
	if (argc < 2) {
		usage(stderr);
		return DFI_EXIT_USAGE;
	}
	if (cli_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return DFI_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0)
		return sub_version(argc - 1, argv + 1);
	int json = wants_json(argc, argv); /* before the command's getopt reorders argv */
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0) {
			int rc = commands[i].run(argc - 1, argv + 1);
			if (json)
				json_error_flush(rc);
			return rc;
		}
	return cli_usagef("unknown command '%s' (try 'dfissue --help')", argv[1]);
}
