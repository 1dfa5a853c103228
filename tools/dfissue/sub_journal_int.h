/* Private to tools/dfissue/sub_journal*.c: what the journal subcommands share. */
#ifndef DFI_CLI_SUB_JOURNAL_INT_H
#define DFI_CLI_SUB_JOURNAL_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The --help text of every `dfissue journal` subcommand (pieces, NULL last). */
extern const char *const journal_help[];
/* p[0..n) as hex into out (cap bytes); "-" when n is 0, "?" when it does
 * not fit (journal_show.c: the listing's fuzz harness builds it alone). */
/* JOURNAL from --journal (opt) or the one positional argument; NULL when neither or both. */
const char *journal_arg(const char *opt, int argc, char **argv);
/* cli_parse() for the journal subcommand cmd whose one operand is JOURNAL:
 * opts holds its options, --journal among them (writing *jopt). Returns
 * CLI_GO_ON with *path set, else the exit status, after "<cmd>: <needs>"
 * when JOURNAL or a needed option is missing (needs NULL: "needs one
 * JOURNAL (try --help)"). */
struct cli_opt;
int journal_parse_one(const char *cmd, const struct cli_opt *opts, const char *needs,
    const char *const *jopt, int argc, char **argv, const char **path);
/* When res says every finding is in the journal's unsigned tail, one line
 * on stdout saying what that is and which command moves it to
 * quarantine/ (journal: a directory or its journal.log); else nothing. */
struct dfi_jverify_result;
void journal_tail_advice(const char *journal, const struct dfi_jverify_result *res);
/* dfissue journal show (sub_journal_show.c). */
int j_show(int argc, char **argv);

#endif
