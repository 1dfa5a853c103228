/* The auditor's page's index of a journal's records (journal_html_index.h). */
#include <stdlib.h>
#include <string.h>

#include "journal_html_index.h"

int
jh_is_intent(const struct jh_rec *r)
{
	return r->type == DFI_JREC_INTENT || r->type == DFI_JREC_CHANGE;
}

static int
is_outcome(const struct jh_rec *r)
{
	return r->type == DFI_JREC_COMMIT || r->type == DFI_JREC_ABORT || r->type == DFI_JREC_RESOLVE;
}

static int
cmp_size(size_t a, size_t b)
{
	return (a > b) - (a < b);
}

static int
by_index(const void *a, const void *b)
{
	return cmp_size(*(const size_t *)a, *(const size_t *)b);
}

static int
by_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* qsort_r's context for the comparators over records. */
struct records {
	const struct jh_rec *rec;
};

/* Record indices by card UID, then file order. */
static int
by_uid(const void *a, const void *b, void *ctx)
{
	const struct jh_rec *rec = ((struct records *)ctx)->rec;
	size_t i = *(const size_t *)a, k = *(const size_t *)b;
	int c = jh_uid_cmp(&rec[i], &rec[k]);
	return c != 0 ? c : cmp_size(i, k);
}

/* Record indices by number, then file order: the first in the file wins a
 * number that a damaged journal uses twice. */
static int
by_seq(const void *a, const void *b, void *ctx)
{
	const struct jh_rec *rec = ((struct records *)ctx)->rec;
	size_t i = *(const size_t *)a, k = *(const size_t *)b;
	return rec[i].seq != rec[k].seq ? (rec[i].seq > rec[k].seq) - (rec[i].seq < rec[k].seq) :
	    cmp_size(i, k);
}

/* Record indices by card, then file order (ctx: the card of each). */
static int
by_card(const void *a, const void *b, void *ctx)
{
	const size_t *card = ctx;
	size_t i = *(const size_t *)a, k = *(const size_t *)b;
	return card[i] != card[k] ? cmp_size(card[i], card[k]) : cmp_size(i, k);
}

/* The first intent numbered seq among in[] (sorted by_seq), or JH_NONE. */
static size_t
intent_of(const struct jh_rec *rec, const size_t *in, size_t nin, uint64_t seq)
{
	size_t lo = 0, hi = nin;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (rec[in[mid]].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < nin && rec[in[lo]].seq == seq ? in[lo] : JH_NONE;
}

/* Numbers the cards in order of first appearance and sets ix->card[] of
 * every intent; in[] (the intents) is left sorted by UID. */
static void
number_cards(const struct jh_rec *rec, size_t *in, size_t nin, struct jh_index *ix)
{
	/* Sorted by UID, each run of in[] is one card and starts with its
	 * first intent; card[] holds that first intent until the firsts,
	 * sorted, give the numbers. */
	struct records r = { rec };
	qsort_r(in, nin, sizeof(*in), by_uid, &r);
	for (size_t i = 0; i < nin; i++) {
		if (i == 0 || jh_uid_cmp(&rec[in[i - 1]], &rec[in[i]]) != 0)
			ix->first[ix->ncards++] = in[i];
		ix->card[in[i]] = ix->first[ix->ncards - 1];
	}
	qsort(ix->first, ix->ncards, sizeof(*ix->first), by_index);
	for (size_t i = 0; i < nin; i++) {
		size_t *c = bsearch(&ix->card[in[i]], ix->first, ix->ncards, sizeof(*ix->first),
		    by_index);
		ix->card[in[i]] = c != NULL ? (size_t)(c - ix->first) : JH_NONE; /* always found */
	}
}

/* malloc of n elements of size bytes (at least one: malloc(0) may be
 * NULL); n * size does not wrap, as n counts records already held. */
static void *
table(size_t n, size_t size)
{
	return malloc((n > 0 ? n : 1) * size);
}

dfi_err
jh_index_make(const struct jh_rec *rec, size_t n, struct jh_index *ix)
{
	memset(ix, 0, sizeof(*ix));
	/* Each table sized for what it holds: the peak is the page's. */
	size_t nin = 0, nout = 0;
	for (size_t i = 0; i < n; i++) {
		nin += jh_is_intent(&rec[i]) ? 1u : 0u;
		nout += is_outcome(&rec[i]) ? 1u : 0u;
	}
	size_t *in = table(nin, sizeof(*in));
	ix->owner = table(n, sizeof(*ix->owner));
	ix->card = table(n, sizeof(*ix->card));
	ix->first = table(nin, sizeof(*ix->first));
	ix->order = table(n, sizeof(*ix->order));
	ix->outcomes = table(nout, sizeof(*ix->outcomes));
	if (in == NULL || ix->owner == NULL || ix->card == NULL || ix->first == NULL ||
	    ix->order == NULL || ix->outcomes == NULL) {
		free(in);
		jh_index_free(ix);
		return DFI_E_NOMEM;
	}
	nin = 0;
	for (size_t i = 0; i < n; i++) {
		ix->card[i] = JH_NONE;
		if (jh_is_intent(&rec[i]))
			in[nin++] = i;
		if (is_outcome(&rec[i]))
			ix->outcomes[ix->nout++] = rec[i].u.out.intent;
	}
	qsort(ix->outcomes, ix->nout, sizeof(*ix->outcomes), by_u64);
	number_cards(rec, in, nin, ix);
	struct records r = { rec };
	qsort_r(in, nin, sizeof(*in), by_seq, &r);
	for (size_t i = 0; i < n; i++) {
		size_t o = jh_is_intent(&rec[i]) ? i : is_outcome(&rec[i]) ?
		    intent_of(rec, in, nin, rec[i].u.out.intent) : JH_NONE;
		ix->owner[i] = o;
		ix->card[i] = o != JH_NONE ? ix->card[o] : JH_NONE;
		if (o != JH_NONE)
			ix->order[ix->norder++] = i;
	}
	qsort_r(ix->order, ix->norder, sizeof(*ix->order), by_card, ix->card);
	free(in);
	return DFI_OK;
}

int
jh_has_outcome(const struct jh_index *ix, uint64_t seq)
{
	return bsearch(&seq, ix->outcomes, ix->nout, sizeof(*ix->outcomes), by_u64) != NULL;
}

void
jh_index_free(struct jh_index *ix)
{
	free(ix->owner);
	free(ix->card);
	free(ix->first);
	free(ix->order);
	free(ix->outcomes);
	memset(ix, 0, sizeof(*ix));
}
