/* pg_batch.c: the records of one journaled() call as PostgreSQL array
 * literals, one text array per column (A_*). Private to the PostgreSQL
 * backend. */
#ifndef DFI_PG_BATCH_H
#define DFI_PG_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "dfissue/journal.h"

/* A growing array literal "{a,b,...": n elements; closed by pgb_arr_end. */
struct arr {
	char *p;
	size_t len, cap;
	int n;
};

/* The columns, in the order of journaled()'s array parameters. */
enum { A_SEQ, A_TYPE, A_UID, A_AID, A_KEYNO, A_OLD, A_NEW, A_GEN, A_INTENT, A_MATCH, A_WHAT, A_PROFILE, A_LINE, A_N };

struct batch {
	struct arr a[A_N];
	int n;
	int intents; /* how many of the n are intents (key or change) */
};

/* Frees b's arrays and empties it (b itself stays). */
void pgb_clear(struct batch *b);
/* pgb_clear, then free(b); b may be NULL. */
void pgb_free(struct batch *b);
/* Appends src's records to dst's (arrays of the same columns). -1: out of memory. */
int pgb_merge(struct batch *dst, const struct batch *src);
/* Adds record r (parsed from line) to the batch. -1: out of memory. */
int pgb_add(struct batch *b, const dfi_jrec *r, const char *line);
/* Closes a's literal ("}") and returns it; NULL: out of memory. */
const char *pgb_arr_end(struct arr *a);
/* pgb_arr_end closed b's arrays: reopens them for more elements. */
void pgb_reopen(struct batch *b);

/* Records the registry keeps of a card (intents, outcomes, refusals,
 * authorizations, changes). */
int pgb_is_card_record(dfi_jrec_type t);
int pgb_is_outcome(dfi_jrec_type t);
/* An intent (key or change), a refusal or an authorization names its card;
 * an outcome names its intent. */
int pgb_names_uid(dfi_jrec_type t);

#endif
