/* Why an append failed, kept on the handle so that whoever stops on it can
 * say which file or key, the reason, and what to do (the error code alone
 * says "input/output error"). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "journal_int.h"
#include "writer_int.h"

void
jw_failed_file(dfi_journal *j, dfi_err e, const char *op, int err)
{
	struct dfi_journal_failure *f = &j->failure;
	f->kind = DFI_JFAIL_FILE;
	f->code = e;
	f->sys_errno = err;
	snprintf(f->what, sizeof(f->what), "journal %s/%s: %s failed: %s", j->dir, DFI_JOURNAL_FILE,
	    op, strerror(err));
	snprintf(f->todo, sizeof(f->todo), "%s", jremedy(err, 0));
}

void
jw_failed_signer(dfi_journal *j, dfi_err e, const char *why)
{
	struct dfi_journal_failure *f = &j->failure;
	f->kind = DFI_JFAIL_SIGNER;
	f->code = e;
	f->sys_errno = 0;
	/* dfi_strerror's text is start-up advice ("check label/id"): the key
	 * signed at open, so what changed is the HSM. */
	snprintf(f->what, sizeof(f->what), "journal %s: the journal key (checkpoint origin %s) "
	    "could not sign a checkpoint (%s%s%s): it signed at start, so its HSM lost it: the "
	    "token was removed or its store became unreadable", j->dir, j->origin, dfi_errname(e),
	    why[0] != '\0' ? ": " : "", why);
	snprintf(f->todo, sizeof(f->todo), "bring the HSM back (reconnect the token, restore its "
	    "store)");
}

dfi_err
dfi_journal_last_failure(dfi_journal *j, struct dfi_journal_failure *out)
{
	if (j == NULL || out == NULL)
		return DFI_E_INVALID_ARG;
	pthread_mutex_lock(&j->mu);
	*out = j->failure;
	pthread_mutex_unlock(&j->mu);
	return DFI_OK;
}
