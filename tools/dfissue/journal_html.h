/*
 * `dfissue journal show --html FILE`: a self-contained HTML page for
 * auditors (inline CSS, no script, no external resource): per card a
 * timeline of its key changes with their outcomes, the tears (intents
 * resolved by probing the card; aborts of ChangeKeys never sent), refusals
 * and unresolved intents; the journal's recoveries; every checkpoint with
 * its verification result against the public key (or "not checked"
 * without one); and the verifier's findings.
 */
#ifndef DFISSUE_JOURNAL_HTML_H
#define DFISSUE_JOURNAL_HTML_H

/* journal: a journal directory or its journal.log; pubkey_pem: the journal
 * key's public key file, or NULL; out: the page to write ("-": stdout).
 * Returns a DFI_EXIT_* code, one line printed on failure. */
int journal_html_write(const char *journal, const char *pubkey_pem, const char *out);

#endif
