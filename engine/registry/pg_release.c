/* The PostgreSQL backend's releases, off the card's path (pg_backend.c
 * hands them over): a queue sent in order by a thread of its own on a
 * connection of its own. The card stays claimed in the registry until its
 * release commits, so no other station takes it early; this handle's own
 * claim of a UID waits for that UID's queued release (a late release would
 * delete the new claim); the first failed release is kept and stops the
 * station as a refused witnessing does (docs/JOURNAL.md 12.4). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfissue/util.h"
#include "pg_batch.h"
#include "pg_be.h"
#include "pg_int.h"

/* One release: the deferred outcomes x carries first, then the claim, in
 * one round trip (own: the release thread's connection, NULL for the
 * pool). A release that does not reach the registry leaves the claim to
 * expire with its lease. */
static dfi_err
rel_send(struct pgbe *be, PGconn **own, struct rel *x, char *why)
{
	char u[2 * DFI_J_UID_MAX + 3], st[160];
	pgbe_uid_hex(x->uid, x->len, u);
	if (x->p == NULL) {
		const char *vals[] = { u, be->token };
		return pg_call_own(be->pg, own, "SELECT " DFI_PGREG_SCHEMA ".release($1, $2)", 2, vals, NULL, 1, WHY);
	}
	const char *vals[4 + A_N];
	dfi_err e = pgbe_batch_params(be, x->p, u, be->token, st, vals);
	if (e == DFI_OK)
		e = pg_call_own(be->pg, own, "SELECT " DFI_PGREG_SCHEMA ".journaled_release($1, $2, $3, $4, $5, $6, "
		    "$7::bytea[], $8, $9, $10, $11, $12, $13, $14, $15, $16::bytea[], $17)", 4 + A_N, vals, NULL, 1, WHY);
	if (e != DFI_OK)
		pgb_reopen(x->p);
	return e;
}

/* The end of x (sent or not): out of the queue, its batch done (back in
 * pend when it was not sent), claims of its UID may go on. */
static void
rel_done(struct pgbe *be, struct rel *x, int sent)
{
	pthread_mutex_lock(&be->mu);
	be->rq = x->next;
	if (be->rq == NULL)
		be->rq_tail = &be->rq;
	if (x->p != NULL)
		be->rq_batches--;
	pthread_cond_broadcast(&be->cv);
	pthread_mutex_unlock(&be->mu);
	pgbe_pend_done(be, x->p, sent);
	free(x);
}

/* The release thread: the queue in order, the head left in it while it is
 * sent (a claim of its UID waits for it). After a failure nothing more is
 * sent: those claims stay until their leases run out (their outcomes go
 * back to pend, for the close or the next start). Told to stop, it sends
 * what is queued first. */
static void *
rel_main(void *arg)
{
	struct pgbe *be = arg;
	char why[WHY_CAP];
	pthread_mutex_lock(&be->mu);
	for (;;) {
		while (!be->rstop && be->rq == NULL)
			pthread_cond_wait(&be->cv, &be->mu);
		struct rel *x = be->rq;
		if (x == NULL)
			break;
		dfi_err failed = be->rfailed, e = failed;
		pthread_mutex_unlock(&be->mu);
		why[0] = '\0';
		/* a broken connection (or one cut while connecting) gets one more
		 * try: a release is idempotent */
		if (e == DFI_OK && (e = rel_send(be, &be->rown, x, why)) == DFI_E_REGISTRY_UNREACHABLE)
			e = rel_send(be, &be->rown, x, why);
		if (e != DFI_OK && failed == DFI_OK) {
			pthread_mutex_lock(&be->mu);
			be->rfailed = e;
			snprintf(be->rwhy, sizeof(be->rwhy), "releasing a card's claim failed: %.400s; the station takes no new "
			    "card: check the registry, then restart the station", why[0] ? why : dfi_strerror(e));
			pthread_mutex_unlock(&be->mu);
		}
		rel_done(be, x, e == DFI_OK);
		pthread_mutex_lock(&be->mu);
	}
	pthread_mutex_unlock(&be->mu);
	return NULL;
}

/* Under mu: the kept release failure (DFI_OK when none), with its reason. */
dfi_err
pgbe_rel_failed_locked(struct pgbe *be, char *why)
{
	if (be->rfailed != DFI_OK)
		snprintf(why, WHY_CAP, "%s", be->rwhy);
	return be->rfailed;
}

/* Under mu: waits until no release of uid (NULL: none at all) is queued or
 * in flight, or one failed. A late release of a card this handle claims
 * again would delete the new claim. */
dfi_err
pgbe_rel_wait_locked(struct pgbe *be, const uint8_t *uid, size_t len, char *why)
{
	for (;;) {
		int busy = 0;
		for (struct rel *x = be->rq; x != NULL && !busy; x = x->next)
			busy = uid == NULL || (x->len == len && memcmp(x->uid, uid, len) == 0);
		if (!busy || be->rfailed != DFI_OK)
			return pgbe_rel_failed_locked(be, why);
		pthread_cond_wait(&be->cv, &be->mu);
	}
}

/* Off the card's path: the release goes to the release thread and this
 * returns; the card stays claimed in the registry until it commits, so no
 * other station takes it early (docs/JOURNAL.md 12.5).
 *
 * Why the order is right: outcomes deferred under this claim are in pend,
 * in flight in another thread's send (journaled_held with its intents),
 * which may fail and put them back, or in a release queued before this
 * one. So a release first waits for the sends in flight outside the queue
 * while pend is empty, then takes pend: the outcomes of this card then go
 * with this release (in one transaction), or with a release queued before
 * it (sent first, and after its failure no later release is sent), or back
 * in pend after a failed send whose release did not happen either (the
 * card stays claimed until its lease runs out), or were sent before. A
 * release never lets the card go while one of its outcomes is untold. */
void
pgbe_release(void *vbe, const uint8_t *uid, size_t len, const char *holder)
{
	struct pgbe *be = vbe;
	(void)holder;
	struct rel *x = calloc(1, sizeof(*x));
	pthread_mutex_lock(&be->mu);
	pgbe_held_release_locked(be, uid, len);
	while (be->pend == NULL && be->sending > be->rq_batches)
		pthread_cond_wait(&be->cv, &be->mu);
	if (x == NULL) {
		/* out of memory: the claim runs out with its lease, the
		 * outcomes wait in pend */
		pthread_mutex_unlock(&be->mu);
		return;
	}
	memcpy(x->uid, uid, len);
	x->len = len;
	x->p = pgbe_pend_take_locked(be);
	if (!be->rth_started && pthread_create(&be->rth, NULL, rel_main, be) == 0)
		be->rth_started = 1;
	if (!be->rth_started) {
		/* no thread: released on the card's path, as before */
		pthread_mutex_unlock(&be->mu);
		char why[WHY_CAP] = "";
		dfi_err e = rel_send(be, NULL, x, why);
		pgbe_pend_done(be, x->p, e == DFI_OK);
		free(x);
		return;
	}
	if (x->p != NULL)
		be->rq_batches++;
	*be->rq_tail = x;
	be->rq_tail = &x->next;
	pthread_cond_broadcast(&be->cv);
	pthread_mutex_unlock(&be->mu);
}

/* Waits for the queued releases; their failure, if one failed. */
dfi_err
pgbe_rel_drain(struct pgbe *be, char *why)
{
	pthread_mutex_lock(&be->mu);
	dfi_err e = pgbe_rel_wait_locked(be, NULL, 0, why);
	pthread_mutex_unlock(&be->mu);
	return e;
}

/* At the handle's end: the queued releases are sent (the thread stops when
 * the queue is empty), then the thread and its connection go. A second
 * call (the close's drain, then the destroy) finds nothing to do. */
void
pgbe_rel_stop(struct pgbe *be)
{
	pthread_mutex_lock(&be->mu);
	be->rstop = 1;
	pthread_cond_broadcast(&be->cv);
	pthread_mutex_unlock(&be->mu);
	/* rth_started is written by releases only, and none runs any more */
	if (be->rth_started)
		pthread_join(be->rth, NULL);
	be->rth_started = 0;
	if (be->rown != NULL)
		PQfinish(be->rown);
	be->rown = NULL;
}
