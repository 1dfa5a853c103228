/*
 * What the harnesses of the CLI's own files share (fuzz_cli_config.c,
 * fuzz_sdm_state.c, fuzz_journal_html.c, fuzz_journal_show.c):
 *  - the CLI's error printers: main.c defines them beside main(), which a
 *    libFuzzer binary cannot link; these keep the last line instead of
 *    printing it, so a harness can check what a refusal says (the real
 *    ones print "dfissue: " and the same text);
 *  - a scratch directory for the files the CLI code reads and writes;
 *  - FAIL(why): a broken property.
 */
#ifndef DFI_FUZZ_CLI_FUZZ_H
#define DFI_FUZZ_CLI_FUZZ_H

/* The last error line (without "dfissue: "), "" when none since the last
 * shim_clear(). */
const char *shim_last_error(void);
void shim_clear(void);

/* The harness's scratch directory, made by the first call (in /dev/shm
 * when there is one: files on disk made a harness 20 times slower),
 * emptied and removed at exit. */
const char *cli_fuzz_dir(void);

/* Says which property broke, then traps so that libFuzzer keeps the input. */
__attribute__((noreturn)) void cli_fuzz_fail(const char *harness, const char *why);
#define FAIL(why) cli_fuzz_fail(__FILE__, (why))

#endif
