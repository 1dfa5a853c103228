/* Per-card queries on the writer's index: what the local registry
 * (engine/registry) reads before a card gets its first key. */
#include <pthread.h>

#include "writer_int.h"

dfi_err
dfi_journal_card(dfi_journal *j, const uint8_t *uid, size_t uid_len, struct dfi_journal_card *out,
    void (*slot)(void *ctx, const struct dfi_journal_slot *s),
    void (*intent)(void *ctx, const dfi_jrec *in), void *ctx)
{
	if (j == NULL || uid == NULL || out == NULL)
		return DFI_E_INVALID_ARG;
	pthread_mutex_lock(&j->mu);
	dfi_err e = j->fatal != DFI_OK ? j->fatal :
	    jindex_card(j->ix, uid, uid_len, out, slot, intent, ctx);
	pthread_mutex_unlock(&j->mu);
	return e;
}

const char *
dfi_journal_origin(const dfi_journal *j)
{
	/* Set once at open, never changed: no lock needed. */
	return j != NULL ? j->origin : "";
}
