/*
 * What the auditor's page (journal_html.c) asks of a journal's records,
 * answered from sorted arrays made once: which intent an outcome closes,
 * whether an intent has an outcome, which card a record is of, and each
 * card's records. Asking the record list each time made the page cubic in
 * the records: 2,000 cards took 68 s under ASan, a production journal of
 * 100,000 cards would never have finished (and a hostile one hung the
 * auditor's tool).
 */
#ifndef DFISSUE_JOURNAL_HTML_INDEX_H
#define DFISSUE_JOURNAL_HTML_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "journal_store.h"

#define JH_NONE SIZE_MAX

struct jh_index {
	size_t *owner;      /* owner[i]: the intent record i is of (itself for one), or JH_NONE */
	size_t *card;       /* card[i]: record i's card, numbered in order of first appearance */
	size_t *first;      /* first[c]: card c's first intent */
	size_t ncards;
	size_t *order;      /* the records of a card, card by card, in file order within one */
	size_t norder;
	uint64_t *outcomes; /* the intent numbers outcomes name, sorted */
	size_t nout;
};

/* A key intent or a change intent (an intent for a change that is not a
 * key change): both open until an outcome names them. */
int jh_is_intent(const struct jh_rec *r);

/* Indexes the n timeline records (file order). DFI_OK or DFI_E_NOMEM (ix
 * empty). */
dfi_err jh_index_make(const struct jh_rec *rec, size_t n, struct jh_index *ix);
/* Does an outcome (commit, abort, resolve) name intent seq? */
int jh_has_outcome(const struct jh_index *ix, uint64_t seq);
void jh_index_free(struct jh_index *ix);

#endif
