/* The journal's index: per (UID, AID, key number) the last known key version
 * and the open intent, and per record whether it is an intent and whether
 * it has an outcome. Built once from the scan at open, then updated by each
 * append, so a tap never rescans the file. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfissue/util.h"
#include "jint.h"

struct kent {
	dfi_jkey key;
	int version;         /* -1: unknown */
	uint64_t open_seq;   /* valid when has_open */
	int has_open;
	struct kent *next;
};

struct oent {
	dfi_jrec rec;
	struct kent *k;
	struct oent *next;
};

enum { K_OTHER = 0, K_INTENT_OPEN = 1, K_INTENT_CLOSED = 2 };

struct jindex {
	struct kent **kb;
	size_t nkb, nk;
	struct oent **ob;
	size_t nob, no;
	uint8_t *kind;  /* by record number */
	uint64_t n, cap;
};

static uint64_t
mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static uint64_t
khash(const dfi_jkey *k)
{
	uint64_t h = 1469598103934665603ULL;
	for (unsigned i = 0; i < k->uid_len && i < DFI_J_UID_MAX; i++)
		h = (h ^ k->uid[i]) * 1099511628211ULL;
	h = (h ^ k->uid_len) * 1099511628211ULL;
	h = (h ^ k->aid) * 1099511628211ULL;
	h = (h ^ k->keyno) * 1099511628211ULL;
	return mix(h);
}

static int
keq(const dfi_jkey *a, const dfi_jkey *b)
{
	return a->uid_len == b->uid_len && a->aid == b->aid && a->keyno == b->keyno &&
	    memcmp(a->uid, b->uid, a->uid_len) == 0;
}

jindex *
jindex_new(void)
{
	jindex *ix = calloc(1, sizeof(*ix));
	if (ix == NULL)
		return NULL;
	ix->nkb = ix->nob = 64;
	ix->kb = calloc(ix->nkb, sizeof(*ix->kb));
	ix->ob = calloc(ix->nob, sizeof(*ix->ob));
	if (ix->kb == NULL || ix->ob == NULL) {
		jindex_free(ix);
		return NULL;
	}
	return ix;
}

void
jindex_free(jindex *ix)
{
	if (ix == NULL)
		return;
	for (size_t i = 0; ix->kb && i < ix->nkb; i++)
		for (struct kent *e = ix->kb[i], *n; e; e = n) {
			n = e->next;
			free(e);
		}
	for (size_t i = 0; ix->ob && i < ix->nob; i++)
		for (struct oent *e = ix->ob[i], *n; e; e = n) {
			n = e->next;
			free(e);
		}
	free(ix->kb);
	free(ix->ob);
	free(ix->kind);
	free(ix);
}

static struct kent *
kfind(const jindex *ix, const dfi_jkey *k)
{
	for (struct kent *e = ix->kb[khash(k) & (ix->nkb - 1)]; e; e = e->next)
		if (keq(&e->key, k))
			return e;
	return NULL;
}

static dfi_err
kgrow(jindex *ix)
{
	size_t nn = ix->nkb * 2;
	struct kent **nb = calloc(nn, sizeof(*nb));
	if (nb == NULL)
		return DFI_E_NOMEM;
	for (size_t i = 0; i < ix->nkb; i++)
		for (struct kent *e = ix->kb[i], *n; e; e = n) {
			n = e->next;
			size_t b = khash(&e->key) & (nn - 1);
			e->next = nb[b];
			nb[b] = e;
		}
	free(ix->kb);
	ix->kb = nb;
	ix->nkb = nn;
	return DFI_OK;
}

static dfi_err
kget(jindex *ix, const dfi_jkey *k, struct kent **out)
{
	struct kent *e = kfind(ix, k);
	if (e == NULL) {
		if (ix->nk >= ix->nkb && kgrow(ix) != DFI_OK)
			return DFI_E_NOMEM;
		e = calloc(1, sizeof(*e));
		if (e == NULL)
			return DFI_E_NOMEM;
		e->key = *k;
		e->version = -1;
		size_t b = khash(k) & (ix->nkb - 1);
		e->next = ix->kb[b];
		ix->kb[b] = e;
		ix->nk++;
	}
	*out = e;
	return DFI_OK;
}

static struct oent **
oslot(const jindex *ix, uint64_t seq)
{
	struct oent **p = &ix->ob[mix(seq) & (ix->nob - 1)];
	while (*p && (*p)->rec.seq != seq)
		p = &(*p)->next;
	return p;
}

static dfi_err
ogrow(jindex *ix)
{
	size_t nn = ix->nob * 2;
	struct oent **nb = calloc(nn, sizeof(*nb));
	if (nb == NULL)
		return DFI_E_NOMEM;
	for (size_t i = 0; i < ix->nob; i++)
		for (struct oent *e = ix->ob[i], *n; e; e = n) {
			n = e->next;
			size_t b = mix(e->rec.seq) & (nn - 1);
			e->next = nb[b];
			nb[b] = e;
		}
	free(ix->ob);
	ix->ob = nb;
	ix->nob = nn;
	return DFI_OK;
}

static void
fmt_key(const dfi_jkey *k, char *b, size_t cap)
{
	char uid[2 * DFI_J_UID_MAX + 1] = "";
	(void)dfi_hex_encode(k->uid, k->uid_len, uid, sizeof(uid));
	snprintf(b, cap, "card %s AID %06" PRIX32 " key %u", uid, k->aid, k->keyno);
}

#define FIND(code, ...)                                                                  \
	do {                                                                             \
		if (fn != NULL) {                                                        \
			char m_[512];                                                    \
			snprintf(m_, sizeof(m_), __VA_ARGS__);                           \
			fn(ctx, line, code, m_);                                         \
		}                                                                        \
	} while (0)

dfi_err
jindex_apply(jindex *ix, const dfi_jrec *r, uint64_t line, jfinding_fn fn, void *ctx)
{
	if (ix->n == ix->cap) {
		uint64_t nc = ix->cap ? ix->cap * 2 : 1024;
		uint8_t *nk = realloc(ix->kind, nc);
		if (nk == NULL)
			return DFI_E_NOMEM;
		ix->kind = nk;
		ix->cap = nc;
	}
	uint64_t n = ix->n;
	ix->kind[n] = K_OTHER;
	ix->n++;
	char ks[96];
	if (r->type == DFI_JREC_GENESIS) {
		if (n != 0)
			FIND(DFI_E_JOURNAL_CORRUPT, "record %" PRIu64 ": a second genesis record", r->seq);
		return DFI_OK;
	}
	if (n == 0)
		FIND(DFI_E_JOURNAL_CORRUPT, "record %" PRIu64 ": the first record is not a genesis record", r->seq);
	if (r->type == DFI_JREC_INTENT) {
		struct kent *k;
		if (kget(ix, &r->key, &k) != DFI_OK)
			return DFI_E_NOMEM;
		fmt_key(&r->key, ks, sizeof(ks));
		if (k->has_open)
			FIND(DFI_E_JOURNAL_CORRUPT, "intent %" PRIu64 " for %s while intent %" PRIu64 " is unresolved",
			    r->seq, ks, k->open_seq);
		if (k->version >= 0 && k->version != r->old_version)
			FIND(DFI_E_JOURNAL_CORRUPT,
			    "intent %" PRIu64 " for %s starts from version %u, but the journal last recorded version %d",
			    r->seq, ks, r->old_version, k->version);
		if (ix->no >= ix->nob && ogrow(ix) != DFI_OK)
			return DFI_E_NOMEM;
		struct oent *o = calloc(1, sizeof(*o));
		if (o == NULL)
			return DFI_E_NOMEM;
		o->rec = *r;
		o->k = k;
		struct oent **slot = oslot(ix, r->seq);
		if (*slot != NULL) { /* a repeated seq: findings already made by the walk */
			free(o);
			return DFI_OK;
		}
		*slot = o;
		ix->no++;
		k->has_open = 1;
		k->open_seq = r->seq;
		ix->kind[n] = K_INTENT_OPEN;
		return DFI_OK;
	}
	if (r->type == DFI_JREC_RECOVERY)
		return DFI_OK;
	/* commit, abort, resolve */
	const char *tn = dfi_jrec_type_name(r->type);
	if (r->intent >= n || ix->kind[r->intent] == K_OTHER) {
		FIND(DFI_E_JOURNAL_CORRUPT, "%s %" PRIu64 " refers to record %" PRIu64 ", which is not an earlier intent",
		    tn, r->seq, r->intent);
		return DFI_OK;
	}
	if (ix->kind[r->intent] == K_INTENT_CLOSED) {
		FIND(DFI_E_JOURNAL_CORRUPT, "%s %" PRIu64 ": intent %" PRIu64 " already has an outcome", tn,
		    r->seq, r->intent);
		return DFI_OK;
	}
	struct oent **slot = oslot(ix, r->intent);
	struct oent *o = *slot;
	if (o == NULL)
		return DFI_E_INTERNAL;
	struct kent *k = o->k;
	const dfi_jrec *in = &o->rec;
	int v = -1;
	switch (r->type) {
	case DFI_JREC_COMMIT: v = in->new_version; break;
	case DFI_JREC_ABORT: v = in->old_version; break;
	case DFI_JREC_RESOLVE:
		v = r->matched == DFI_JMATCH_NEW ? in->new_version :
		    r->matched == DFI_JMATCH_OLD ? in->old_version : -1;
		if (v >= 0 && r->observed_version >= 0 && r->observed_version != v)
			FIND(DFI_E_JOURNAL_CORRUPT,
			    "resolve %" PRIu64 " says the card matched the %s key but observed version %d, not %d",
			    r->seq, r->matched == DFI_JMATCH_NEW ? "new" : "old", r->observed_version, v);
		break;
	default: break;
	}
	k->version = v;
	if (k->has_open && k->open_seq == r->intent)
		k->has_open = 0;
	*slot = o->next;
	free(o);
	ix->no--;
	ix->kind[r->intent] = K_INTENT_CLOSED;
	return DFI_OK;
}

dfi_err
jindex_check(const jindex *ix, const dfi_jrec *r)
{
	switch (r->type) {
	case DFI_JREC_GENESIS:
		return ix->n == 0 ? DFI_OK : DFI_E_INVALID_ARG;
	case DFI_JREC_INTENT: {
		const struct kent *k = kfind(ix, &r->key);
		return k != NULL && k->has_open ? DFI_E_INVALID_ARG : DFI_OK;
	}
	case DFI_JREC_COMMIT:
	case DFI_JREC_ABORT:
	case DFI_JREC_RESOLVE:
		return r->intent < ix->n && ix->kind[r->intent] == K_INTENT_OPEN ? DFI_OK : DFI_E_INVALID_ARG;
	case DFI_JREC_RECOVERY:
		return DFI_OK;
	}
	return DFI_E_INVALID_ARG;
}

dfi_err
jindex_key_version(const jindex *ix, const dfi_jkey *k, uint8_t *v)
{
	const struct kent *e = kfind(ix, k);
	if (e == NULL || e->version < 0)
		return DFI_E_NOT_FOUND;
	*v = (uint8_t)e->version;
	return DFI_OK;
}

dfi_err
jindex_open_intent(const jindex *ix, const dfi_jkey *k, dfi_jrec *out)
{
	const struct kent *e = kfind(ix, k);
	if (e == NULL || !e->has_open)
		return DFI_E_NOT_FOUND;
	struct oent *o = *oslot(ix, e->open_seq);
	if (o == NULL)
		return DFI_E_INTERNAL;
	*out = o->rec;
	return DFI_OK;
}

static int
byseq(const void *a, const void *b)
{
	const struct oent *x = *(const struct oent *const *)a, *y = *(const struct oent *const *)b;
	return x->rec.seq < y->rec.seq ? -1 : x->rec.seq > y->rec.seq;
}

size_t
jindex_foreach_open(const jindex *ix, void (*fn)(void *ctx, const dfi_jrec *r), void *ctx)
{
	if (ix->no == 0)
		return 0;
	const struct oent **v = malloc(ix->no * sizeof(*v));
	size_t n = 0;
	if (v == NULL)
		return ix->no;
	for (size_t i = 0; i < ix->nob; i++)
		for (const struct oent *e = ix->ob[i]; e; e = e->next)
			v[n++] = e;
	qsort(v, n, sizeof(*v), byseq);
	for (size_t i = 0; fn != NULL && i < n; i++)
		fn(ctx, &v[i]->rec);
	free(v);
	return n;
}

uint64_t jindex_count(const jindex *ix) { return ix->n; }
