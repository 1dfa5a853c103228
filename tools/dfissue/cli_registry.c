/* --registry URL: opening the registry a station command uses. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_registry.h"
#include "log.h"
#include "signals.h"

/* One line for a registry that did not open: why, and for a station (it
 * takes cards) that it took none. */
static int
open_failed(struct cli_registry *r, const char *cmd, dfi_err e, const char *why, int station)
{
	cli_error_code(e == DFI_E_REGISTRY_REFUSED ? "registry_refused" : "registry");
	cli_errorf("%s: registry: %s%s", cmd, why,
	    e == DFI_E_REGISTRY_UNREACHABLE && station ?
		" (nothing was sent to any card: a station without its registry takes no card)" : "");
	cli_registry_close(r);
	return DFI_EXIT_FAIL;
}

int
cli_registry_connect(struct cli_registry *r, const char *cmd, const char *url, const char *station,
    int takes_cards)
{
	char why[700];
	memset(r, 0, sizeof(*r));
	if (url == NULL)
		return DFI_EXIT_OK;
	if (dfi_pgreg_check_url(url, why, sizeof(why)) != DFI_OK)
		return cli_usagef("%s: --registry: %s", cmd, why);
	struct dfi_pgreg_opts o = { .station = station };
	dfi_err e = dfi_pgreg_open(&r->pg, url, &o, why, sizeof(why));
	return e != DFI_OK ? open_failed(r, cmd, e, why, takes_cards) : DFI_EXIT_OK;
}

int
cli_registry_attach(struct cli_registry *r, const char *cmd, dfi_journal *j, const char *journal_dir,
    dfi_signer *s)
{
	char why[700] = "";
	if (r->pg == NULL) {
		if (j != NULL && dfi_registry_new_local(&r->reg, j) != DFI_OK)
			return cli_fail("registry", DFI_E_NOMEM);
		return DFI_EXIT_OK;
	}
	dfi_err e = DFI_OK;
	if (j != NULL && (e = dfi_jpubkey_from_signer(s, &r->key)) != DFI_OK)
		snprintf(why, sizeof(why), "the journal key: %s", dfi_strerror(e));
	if (e == DFI_OK)
		e = dfi_registry_new_pg(&r->reg, r->pg, j, journal_dir, r->key, why, sizeof(why));
	return e != DFI_OK ? open_failed(r, cmd, e, why, j != NULL) : DFI_EXIT_OK;
}

int
cli_registry_open(struct cli_registry *r, const char *cmd, const char *url, const char *station, dfi_journal *j,
    const char *journal_dir, dfi_signer *s)
{
	int rc = cli_registry_connect(r, cmd, url, station, j != NULL);
	return rc == DFI_EXIT_OK ? cli_registry_attach(r, cmd, j, journal_dir, s) : rc;
}

int
cli_registry_finish(struct cli_registry *r, const char *cmd, dfi_journal *j, int rc)
{
	uint8_t note[DFI_J_NOTE_MAX];
	size_t len = 0;
	char why[600];
	dfi_err e = DFI_OK;
	/* After a second stop signal the exit status stays 3, as documented,
	 * whatever the registry says at the end: the station's next start
	 * tells it what the journal holds. A PostgreSQL registry was abandoned
	 * by the signal (signals.c): nothing is sent to it any more, and what
	 * that leaves is said in one line instead of each call's failure. */
	int at_once = cli_signal_count() >= 2;
	/* the witnessing now comes after the releases queued before it */
	if (r->pg != NULL && j != NULL && !at_once && dfi_journal_checkpoint(j, note, sizeof(note), &len) == DFI_OK &&
	    len > 0 && (e = dfi_registry_witness(r->reg, note, len)) != DFI_OK && e != DFI_E_REGISTRY_ABANDONED) {
		dfi_registry_last_error(r->reg, why, sizeof(why));
		cli_error_code(e == DFI_E_JOURNAL_ROLLBACK ? "registry_refused" : "registry");
		cli_errorf("%s: the journal's last checkpoint was not witnessed: %s%s%s%s", cmd, dfi_strerror(e),
		    why[0] != '\0' ? " (" : "", why, why[0] != '\0' ? ")" : "");
		rc = DFI_EXIT_FAIL;
	}
	/* what still waits (a release, outcomes) is sent now, unless the
	 * registry was abandoned; a failure the witnessing reported is not
	 * said twice */
	dfi_err c = dfi_registry_close(r->reg, why, sizeof(why));
	r->reg = NULL;
	/* a second signal may also come while the witnessing or the close
	 * waits for the registry */
	if (r->pg != NULL && cli_signal_count() >= 2) {
		cli_log(CLI_LOG_WARNING, "%s: the registry was abandoned (a second stop signal): nothing more was sent "
		    "to it; a card this run held stays claimed until its lease runs out (--claim-lease; this journal's "
		    "next run takes it over at once), and the records it was not told reach it at this journal's "
		    "next open", cmd);
		return rc == DFI_EXIT_USAGE ? rc : DFI_EXIT_INTERRUPTED;
	}
	if (c != DFI_OK && e == DFI_OK) {
		cli_error_code("registry");
		cli_errorf("%s: the registry was not told everything at close: %s (%s)", cmd, dfi_strerror(c),
		    why[0] != '\0' ? why : "check the registry; the station's next start tells it what the journal holds");
		rc = DFI_EXIT_FAIL;
	}
	return rc;
}

void
cli_registry_close(struct cli_registry *r)
{
	dfi_registry_free(r->reg);
	dfi_jpubkey_free(r->key);
	cli_signals_forget(r->pg);
	dfi_pgreg_free(r->pg);
	memset(r, 0, sizeof(*r));
}
