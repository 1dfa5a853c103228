/* pg_be.h: the PostgreSQL registry backend's handle, shared by
 * pg_backend.c (claims, told records, lookups, witnessing) and
 * pg_release.c (releases off the card's path). Private to the backend. */
#ifndef DFI_PG_BE_H
#define DFI_PG_BE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "../journal/journal_int.h"
#include "dfissue/pgregistry.h"
#include "pg_batch.h"
#include "pg_int.h"

/* The reason of one call (dfi_why), on the caller's stack. */
#define WHY_CAP 600
#define WHY why, WHY_CAP

#define HELD_SEQS 64 /* intents told under one claim whose outcomes may wait */

/* A claim this handle holds (claims of a station's threads: a few). */
struct held {
	uint8_t uid[DFI_J_UID_MAX];
	size_t len;
	/* The lookup that came with the claim (claim_lookup): the engine's
	 * next call for this UID is its lookup, which takes it instead of a
	 * round trip. Dropped when anything of the card is told first. */
	PGresult *pre;
	/* Intents (key or change) told under this claim: their outcomes may
	 * wait for its release (deferred), since no other station can claim
	 * the card before the release tells them. */
	uint64_t seqs[HELD_SEQS];
	unsigned nseqs;
	unsigned refs;        /* claims of this UID by this handle (a claim is idempotent per handle) */
	struct held *next;
};

struct pgbe {
	dfi_pgreg *pg;
	dfi_journal *j;       /* NULL: lookups only (inspect) */
	dfi_pgwitness *w;
	char origin[DFI_J_STR_MAX];
	char token[40];       /* this handle's claims */
	pthread_mutex_t mu;   /* everything below */
	pthread_cond_t cv;    /* sending went down */
	unsigned lease_ms;    /* the lease of this handle's last claim (intents extend it) */
	char last[WHY_CAP];   /* the last failure's reason (dfi_registry_last_error) */
	struct held *held;    /* claims held */
	struct batch *pend;   /* outcomes told but not sent yet (deferred) */
	unsigned sending;     /* deferred batches taken out of pend, in flight */
	/* Releases sent off the card's path (rel_main), in order, on a
	 * connection of their own: the head is in flight until it committed.
	 * rq_batches: of sending, the batches the queue holds; rfailed: the
	 * first failed release (then none is sent any more and every later
	 * claim and tell fails with it: the station stops, fail closed). */
	struct rel *rq, **rq_tail;
	unsigned rq_batches;
	pthread_t rth;
	int rth_started, rstop;
	PGconn *rown;
	dfi_err rfailed;
	char rwhy[WHY_CAP];
};

/* A release waiting for the release thread: the claim, and the deferred
 * outcomes going with it (NULL: none). */
struct rel {
	uint8_t uid[DFI_J_UID_MAX];
	size_t len;
	struct batch *p;
	struct rel *next;
};

/* pg_backend.c */
/* The UID as a bytea literal ("\\x..."). */
void pgbe_uid_hex(const uint8_t *uid, size_t len, char out[2 * DFI_J_UID_MAX + 3]);
/* The parameters of journaled()/journaled_release() for batch b. */
dfi_err pgbe_batch_params(struct pgbe *be, struct batch *b, const char *first, const char *second, char st[160],
    const char *vals[4 + A_N]);
/* Under mu: takes the deferred outcomes (NULL: none); the caller must call
 * pgbe_pend_done for what it got. */
struct batch *pgbe_pend_take_locked(struct pgbe *be);
/* The end of a taken batch: freed when sent, back in pend when not. */
void pgbe_pend_done(struct pgbe *be, struct batch *p, int sent);
/* Under mu: one claim of uid by this handle ends. */
void pgbe_held_release_locked(struct pgbe *be, const uint8_t *uid, size_t len);

/* pg_release.c */
/* The registry op: the release goes to the release thread. */
void pgbe_release(void *vbe, const uint8_t *uid, size_t len, const char *holder);
/* Under mu: waits until no release of uid (NULL: any) is queued or in
 * flight, or one failed; the kept failure (DFI_OK: none) with its reason. */
dfi_err pgbe_rel_wait_locked(struct pgbe *be, const uint8_t *uid, size_t len, char *why);
/* Under mu: the kept release failure (DFI_OK: none), its reason in why. */
dfi_err pgbe_rel_failed_locked(struct pgbe *be, char *why);
/* Waits for every queued release; their failure, if one failed. */
dfi_err pgbe_rel_drain(struct pgbe *be, char *why);
/* At the handle's end: queued releases sent, the thread joined. */
void pgbe_rel_stop(struct pgbe *be);

#endif
