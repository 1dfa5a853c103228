/* --registry URL for personalize, inspect and recover: the PostgreSQL
 * registry many stations share, or (no URL) the local one, the journal
 * index. */
#ifndef DFI_CLI_REGISTRY_H
#define DFI_CLI_REGISTRY_H

#include "dfissue/journal.h"
#include "dfissue/pgregistry.h"
#include "dfissue/registry.h"
#include "dfissue/signer.h"

/* What --registry URL is; each command then says what it does with it
 * and without it (inspect has no journal, so no index to fall back on). */
#define CLI_REGISTRY_URL_HELP                                                                     \
	"  --registry URL         the registry stations of many hosts share (a libpq\n"           \
	"                         URI; no password in it: ~/.pgpass, PGPASSFILE or\n"             \
	"                         PGPASSWORD; see docs/OPERATIONS.md 12).\n"
#define CLI_REGISTRY_HELP \
	CLI_REGISTRY_URL_HELP "                         Default: this journal's own index\n"

struct cli_registry {
	dfi_pgreg *pg;
	dfi_jpubkey *key;
	dfi_registry *reg;
};

/* Opens the registry for command cmd: PostgreSQL when url is given (with
 * the journal j at journal_dir, signed by s; j NULL: lookups only), else
 * the local backend over j (nothing when j is NULL too). On failure prints
 * one line saying what to do and returns DFI_EXIT_FAIL (DFI_EXIT_USAGE for
 * a URL with a password). */
int cli_registry_open(struct cli_registry *r, const char *cmd, const char *url, const char *station,
    dfi_journal *j, const char *journal_dir, dfi_signer *s);
/* cli_registry_open in two steps, for a station that creates its journal:
 * connect (url NULL: nothing) reaches the server and checks its schema
 * before anything is created, so an unreachable registry leaves no new
 * journal behind; attach then binds the journal (or makes the local
 * backend when not connected). takes_cards: the command is a station,
 * said in the line of an unreachable registry. Both print and return as
 * cli_registry_open does; after a failure r holds nothing. */
int cli_registry_connect(struct cli_registry *r, const char *cmd, const char *url, const char *station,
    int takes_cards);
int cli_registry_attach(struct cli_registry *r, const char *cmd, dfi_journal *j, const char *journal_dir,
    dfi_signer *s);
/* At the end of a station's run: witnesses the journal's last checkpoint
 * now, waiting for the answer, then closes the registry handle
 * (dfi_registry_close: the releases and outcomes still queued are sent).
 * Each card's checkpoint is witnessed and each card's claim released off
 * the cards' path, so a refusal or a failed release would otherwise be
 * seen only at the next start; here this run reports it (one line saying
 * what to do) and returns DFI_EXIT_FAIL. Else returns rc. No witnessing
 * for the local registry or without a checkpoint. After a second stop
 * signal (which abandoned the PostgreSQL registry: signals.h) nothing is
 * witnessed or sent: one line says what was left to the claims' leases
 * and to the journal's next open, and it returns DFI_EXIT_INTERRUPTED.
 * cli_registry_close frees the rest (and tells signals.c to forget the
 * registry first). */
int cli_registry_finish(struct cli_registry *r, const char *cmd, dfi_journal *j, int rc);
void cli_registry_close(struct cli_registry *r);

#endif
