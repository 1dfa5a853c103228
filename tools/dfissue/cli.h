/* dfissue CLI: the subcommand table and small shared helpers. */
#ifndef DFISSUE_CLI_H
#define DFISSUE_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dfissue/error.h"

struct dfi_cli_cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
};

/* A macro's number as a string literal, for a help text or a needs line. */
#define CLI_STRING_OF(x) CLI_STRING_OF_(x)
#define CLI_STRING_OF_(x) #x

/* Exit codes (the table in `dfissue --help` and dfissue(1)): 0 success,
 * 1 operation failed, 2 usage error, 3 personalize stopped at once by a
 * second signal. */
#define DFI_EXIT_OK 0
#define DFI_EXIT_FAIL 1
#define DFI_EXIT_USAGE 2
#define DFI_EXIT_INTERRUPTED 3

/* Prints "dfissue: <msg>" as one line on stderr (log level error). The
 * first error of a run is kept for the JSON error object (below). */
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* cli_errorf() for a usage error (a missing, extra or malformed
 * argument): prints the line and returns DFI_EXIT_USAGE. */
int cli_usagef(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "dfissue: <cmd>: invalid arguments (see 'dfissue <cmd> --help')";
 * returns DFI_EXIT_USAGE (cli_sub.c). */
int cli_usage_error(const char *cmd);
/* Prints "dfissue: <what>: <dfi_strerror(e)>" and returns DFI_EXIT_FAIL;
 * the JSON error code is the error's name (DFI_E_HSM_PIN_INCORRECT ->
 * "hsm_pin_incorrect") unless cli_error_code() named one. */
int cli_fail(const char *what, dfi_err e);
/* The JSON error code of the error printed next: e's name, as cli_fail
 * gives it (unless cli_error_code() named one). */
void cli_error_code_of(dfi_err e);
/* cli_fail("journal", e) when personalization stopped on the journal j,
 * with the journal's account of its failure (which file or key, why, what
 * to do) in place of dfi_strerror(e) when it has one (sub_journal_fail.c);
 * token (may be NULL): the label of the journal key's token, named when
 * the key is what failed. */
struct dfi_journal;
int cli_journal_fail(struct dfi_journal *j, dfi_err e, const char *token);
/* Names the stable JSON error code of the error printed next (e.g.
 * "unknown_reader", "pcscd_unreachable"); dfissue(1) lists them. */
void cli_error_code(const char *code);
/* With --json a failing command also prints one JSON object on stdout:
 * {"error": CODE, "message": the error line, "exit": status}: main() sees
 * --json and prints it when the command returns non-zero. */
/* Is arg one of "-h", "--help"? */
int cli_is_help(const char *arg);

/* A subcommand of a command ("key list"): its name and what runs it with
 * the arguments from its name on. */
struct cli_sub {
	const char *name;
	int (*run)(int argc, char **argv);
};
/* Runs the subcommand argv[1] of cmd from subs (ended by a NULL name).
 * --help prints help on stdout; no subcommand or an unknown one is a
 * usage error that says so. Returns the exit status. (cli_sub.c) */
int cli_subcommand(const char *cmd, int argc, char **argv, const char *const *help,
    const struct cli_sub *subs);
/* Prints a command's --help text on stdout: its pieces in order up to the
 * NULL that ends them. A command's text is pieces because the parts it
 * shares with others (the HSM options, --reader) are written once, and
 * because ISO C promises string literals of 4095 characters only. */
void cli_help_print(const char *const *help);
/* The whole file at path, NUL-terminated, in a buffer the caller frees;
 * NULL when it cannot be read or holds more than max bytes. */
char *cli_read_file(const char *path, size_t max, size_t *len);
/* A journal time (seconds since the epoch) as UTC, date and time joined by
 * sep: "2026-12-05T18:20:21Z" with 'T'; the bare number if it has no such
 * date or cap is too short. */
void cli_utc_time(int64_t t, char sep, char *b, size_t cap);
/* The n bytes at p in upper-case hex into out (cap bytes): "-" when n is
 * 0, "?" when out is too small (cli_sub.c). */
void cli_hexs(const uint8_t *p, size_t n, char *out, size_t cap);

/* PC/SC errors shared by the reader subcommands (sub_readers.c): pcscd
 * unreachable (says how to start it; JSON code pcscd_unreachable) or any
 * other dfi_err; returns DFI_EXIT_FAIL. */
int cli_pcsc_fail(const char *what, dfi_err e);
/* DFI_EXIT_OK when pcscd knows the reader `name`; otherwise prints which
 * readers it has (code unknown_reader) or that pcscd is down (as cmd's
 * error), and returns DFI_EXIT_FAIL. */
int cli_pcsc_check_reader(const char *cmd, const char *name);
/* Prints that the --reader value spec (pcsc:NAME or pcsc:PATTERN) names
 * none of the n readers r pcscd has: "reader 'SPEC': WHAT; it has N: ..."
 * (code unknown_reader); returns DFI_EXIT_FAIL. */
struct dfi_pcsc_reader;
int cli_pcsc_unknown(const char *spec, const char *what, const struct dfi_pcsc_reader *r,
    size_t n);

/* Subcommands, one file each (sub_NAME.c), listed in main.c. */
int sub_readers(int argc, char **argv);
int sub_key(int argc, char **argv);
int sub_journal_key(int argc, char **argv);
int sub_journal(int argc, char **argv);
int sub_personalize(int argc, char **argv);
int sub_inspect(int argc, char **argv);
int sub_recover(int argc, char **argv);
int sub_registry(int argc, char **argv);
int sub_audit(int argc, char **argv);
int sub_sdm(int argc, char **argv);
int sub_hsm(int argc, char **argv);

/* Options shared by every subcommand that opens the HSM: --module --token
 * --pin-file --pin-env --allow-insecure-keys --derivation
 * --allow-host-derivation, and with journal_hsm the --journal-* options.
 * cli_parse() takes them into the struct cli_hsm_opts its spec names
 * (opts.c); the helpers working with them are in cli_hsm.c. */
struct dfi_hsm;
struct dfi_signer;
struct cli_hsm_opts {
	const char *module, *token, *pin_file, *pin_env;
	int allow_insecure;
	const char *derivation; /* --derivation PATH (NULL = auto) */
	int allow_host;         /* --allow-host-derivation */
	/* The journal key's HSM when it is another module or token
	 * (--journal-module, --journal-token, --journal-pin-file,
	 * --journal-pin-env: personalize, journal init/recover, hsm check);
	 * NULL = the one above. */
	const char *jmodule, *jtoken, *jpin_file, *jpin_env;
};
/* The dfi_hsm_open configuration of o (token from --token, else
 * $DFISSUE_TOKEN, else fallback_uri), detail pointing at detail/cap; on a
 * bad option value prints one line and returns DFI_EXIT_USAGE. */
struct dfi_hsm_config;
/* Checks the pkcs11: URI of option name (a --token: what "token"; a key:
 * "key") before any module loads: DFI_EXIT_OK (also for NULL), or one
 * usage line naming the option and DFI_EXIT_USAGE. */
int cli_uri_check(const char *name, const char *uri, const char *what);
int cli_hsm_config(const struct cli_hsm_opts *o, const char *fallback_uri,
    struct dfi_hsm_config *cfg, char *detail, size_t cap);
/* Opens the HSM (cli_hsm_config); on failure prints one line and returns
 * DFI_EXIT_FAIL. */
int cli_hsm_open(const struct cli_hsm_opts *o, const char *fallback_uri, struct dfi_hsm **out);
/* Once every HSM o names is open, for a command that runs on (a station):
 * overwrites in place the value of each environment variable a PIN may
 * have come from (--pin-env or DFISSUE_PIN, --journal-pin-env), which
 * would otherwise stay readable, unlocked and in core dumps for the whole
 * run (audit k36s, finding 1); the handle keeps its copy in locked memory.
 * In place, not unsetenv(): other threads (libpq's) may read the
 * environment meanwhile. */
void cli_hsm_pin_env_forget(const struct cli_hsm_opts *o);
/* The journal signing key key_uri with only the journal's HSM open: the
 * --journal-* options where given, else the HSM options. On failure prints
 * "<what>: journal key: ..." and leaves nothing open. */
int cli_signer_open(const struct cli_hsm_opts *o, const char *key_uri, const char *what,
    struct dfi_hsm **h, struct dfi_signer **s);
/* The journal signing key beside an open base-key HSM h: on h itself, or,
 * with --journal-module/--journal-token, on a second handle *jh (NULL
 * otherwise) that the caller frees after *s. */
int cli_journal_signer(const struct cli_hsm_opts *o, const char *key_uri, const char *what,
    struct dfi_hsm *h, struct dfi_hsm **jh, struct dfi_signer **s);
/* Does o name a separate HSM for the journal key? */
int cli_journal_hsm_separate(const struct cli_hsm_opts *o);
/* The options of the journal key's HSM: o with the --journal-* values. */
void cli_journal_hsm_opts(const struct cli_hsm_opts *o, struct cli_hsm_opts *out);
/* The help text of the --journal-* options. */
extern const char cli_journal_hsm_help[];
/* Prints "dfissue: <what>: <error> (<PKCS#11 detail>)"; returns DFI_EXIT_FAIL. */
int cli_hsm_fail(struct dfi_hsm *h, const char *what, dfi_err e);
/* The help text block describing the shared HSM options. */
extern const char cli_hsm_help[];

/* harden.c: no core dumps, not dumpable (SECURITY.md §6). 0 or -1 (said). */
int cli_harden_process(void);
/* What to say of DFI_E_NOMEM where locked memory was being allocated (a
 * station's keys and scratch): the process's RLIMIT_MEMLOCK and how to
 * raise it, since dfi_strerror's "out of memory (or memory could not be
 * locked)" names no fix (audit k36s, finding 5). */
void cli_nomem_advice(char *buf, size_t cap);
/* Reads a journal public key from path: PEM, or a signed-note verifier key
 * (its key name into name, when given). On failure prints one line naming
 * what and returns DFI_EXIT_FAIL (cli_pubkey.c). */
struct dfi_jpubkey;
int cli_load_pubkey(const char *what, const char *path, struct dfi_jpubkey **out, char *name, size_t namecap);

#endif
