/* The journal's index: per (UID, AID, key number) the last known key version
 * and the open intent, per UID what the one-issuance rule needs (which
 * slots hold a committed key, refusals, authorizations), and per record
 * whether it is an intent and whether it has an outcome. Built once from
 * the scan at open, then updated by each append, so a tap never rescans the
 * file. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfissue/util.h"
#include "bigmem.h"
#include "journal_int.h"
#include "core/grow.h"

/* A chained hash table of entries that begin with a struct hnode. The
 * node keeps its entry's hash, so growing needs no hash function, and being
 * first it is the entry's address. The three tables below (slots, cards,
 * open intents) share this code and differ only in their key and entry
 * size.
 *
 * Entries are cut from blocks (16 entries, doubling up to a 2 MiB huge
 * page's worth: bigmem.h), never malloc'd one by one: an auditor's verify
 * indexes a million records, and a malloc and free per record (with the
 * page faults and consolidation they bring) cost more than the index
 * itself. A removed entry goes on the table's free list and is
 * reused by the next add; the blocks are freed with the table. */
struct hnode {
	struct hnode *next;
	uint64_t hash;
};

#define HBLOCK_MIN 16   /* the first block: a small journal stays small */

struct hblock {
	struct hblock *next;
	max_align_t align[]; /* entries of the table's size */
};

struct htab {
	struct hnode **b;
	size_t nb, n;          /* buckets (a power of two), entries */
	size_t size;           /* of an entry */
	struct hblock *blocks; /* newest first */
	size_t used, cap;      /* entries cut from the newest block, its size */
	struct hnode *free;    /* removed entries, linked through next */
};

static int
htab_init(struct htab *t, size_t size)
{
	t->nb = 64;
	t->size = (size + _Alignof(max_align_t) - 1) / _Alignof(max_align_t) * _Alignof(max_align_t);
	t->b = calloc(t->nb, sizeof(*t->b));
	return t->b != NULL;
}

static void
htab_free(struct htab *t)
{
	for (struct hblock *bl = t->blocks, *n; bl != NULL; bl = n) {
		n = bl->next;
		free(bl);
	}
	free(t->b);
}

/* The link that points at the entry of hash h that match() accepts, or at
 * the end of its chain (NULL) when there is none: a lookup reads it, a
 * removal rewrites it. */
static struct hnode **
htab_link(const struct htab *t, uint64_t h, int (*match)(const struct hnode *, const void *),
    const void *key)
{
	struct hnode **p = &t->b[h & (t->nb - 1)];
	while (*p != NULL && !((*p)->hash == h && match(*p, key)))
		p = &(*p)->next;
	return p;
}

/* Doubles the buckets when the table holds as many entries as buckets. */
static dfi_err
htab_reserve(struct htab *t)
{
	if (t->n < t->nb)
		return DFI_OK;
	size_t nn = t->nb * 2;
	struct hnode **nb = jbig_calloc(nn, sizeof(*nb));
	if (nb == NULL)
		return DFI_E_NOMEM;
	for (size_t i = 0; i < t->nb; i++)
		for (struct hnode *e = t->b[i], *n; e != NULL; e = n) {
			n = e->next;
			e->next = nb[e->hash & (nn - 1)];
			nb[e->hash & (nn - 1)] = e;
		}
	free(t->b);
	t->b = nb;
	t->nb = nn;
	return DFI_OK;
}

/* Room for one entry: a removed one, or the next of the newest block. */
static struct hnode *
htab_entry(struct htab *t)
{
	struct hnode *e = t->free;
	if (e != NULL) {
		t->free = e->next;
		return e;
	}
	if (t->used == t->cap) {
		size_t big = (JBIG_PAGE - sizeof(struct hblock)) / t->size; /* a huge page's worth */
		size_t cap = t->blocks == NULL ? HBLOCK_MIN : 2 * t->cap < big ? 2 * t->cap : big;
		struct hblock *bl = jbig_alloc(sizeof(*bl) + cap * t->size);
		if (bl == NULL)
			return NULL;
		bl->next = t->blocks;
		t->blocks = bl;
		t->used = 0;
		t->cap = cap;
	}
	return (struct hnode *)((unsigned char *)t->blocks->align + t->used++ * t->size);
}

/* A new zeroed entry, already in the table under hash h (the caller fills
 * in its key); NULL when memory runs out. */
static void *
htab_add(struct htab *t, uint64_t h)
{
	if (htab_reserve(t) != DFI_OK)
		return NULL;
	struct hnode *e = htab_entry(t);
	if (e == NULL)
		return NULL;
	memset(e, 0, t->size);
	struct hnode **c = &t->b[h & (t->nb - 1)];
	e->hash = h;
	e->next = *c;
	*c = e;
	t->n++;
	return e;
}

/* Takes out the entry *link points at (from htab_link); its room is
 * reused by the next add. */
static void
htab_remove(struct htab *t, struct hnode **link)
{
	struct hnode *e = *link;
	*link = e->next;
	e->next = t->free;
	t->free = e;
	t->n--;
}

struct uent;

struct kent {
	struct hnode h;      /* first: see struct hnode */
	dfi_jkey key;
	int version;         /* -1: unknown */
	uint64_t open_seq;   /* valid when has_open */
	int has_open;
	uint8_t state;       /* enum dfi_jslot_state */
	uint32_t gen;        /* CHANGED: generation of the key it holds */
	uint64_t changed_by; /* CHANGED: that intent's seq */
	struct uent *u;      /* the card */
	uint8_t has_profile; /* the intent behind state carried a profile digest */
	uint8_t profile[DFI_J_PROFILE_LEN];
	struct kent *unext;  /* the card's other slots */
};

/* One card (UID). */
struct uent {
	struct hnode h;
	uint8_t uid[DFI_J_UID_MAX];
	uint8_t uid_len;
	struct kent *slots;
	unsigned nslots;
	unsigned refusals, auths;
	uint64_t last_refusal, last_auth, last_intent;
	int has_intent, auth_pending;
	unsigned open_changes; /* change intents without an outcome */
};

/* An open intent: a key intent (k its slot) or a change intent (k NULL:
 * a change has no key slot; u is the card either way). */
struct oent {
	struct hnode h;
	dfi_jrec rec;
	struct kent *k;
	struct uent *u;
};

enum { K_OTHER = 0, K_INTENT_OPEN = 1, K_INTENT_CLOSED = 2 };

struct jindex {
	struct htab k, u, o; /* slots, cards, open intents */
	uint8_t *kind;  /* by record number */
	uint64_t n;
	size_t cap;
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

static uint64_t
uhash(const uint8_t *uid, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < len; i++)
		h = (h ^ uid[i]) * 1099511628211ULL;
	h = (h ^ len) * 1099511628211ULL;
	return mix(h);
}

/* The keys each table matches its entries by. */
struct ukey {
	const uint8_t *uid;
	size_t len;
};

static int
kmatch(const struct hnode *n, const void *key)
{
	const dfi_jkey *a = &((const struct kent *)n)->key, *b = key;
	return a->uid_len == b->uid_len && a->aid == b->aid && a->keyno == b->keyno &&
	    memcmp(a->uid, b->uid, a->uid_len) == 0;
}

static int
umatch(const struct hnode *n, const void *key)
{
	const struct uent *e = (const struct uent *)n;
	const struct ukey *k = key;
	return e->uid_len == k->len && memcmp(e->uid, k->uid, k->len) == 0;
}

static int
omatch(const struct hnode *n, const void *key)
{
	return ((const struct oent *)n)->rec.seq == *(const uint64_t *)key;
}

jindex *
jindex_new(void)
{
	jindex *ix = calloc(1, sizeof(*ix));
	if (ix == NULL)
		return NULL;
	if (!htab_init(&ix->k, sizeof(struct kent)) || !htab_init(&ix->u, sizeof(struct uent)) ||
	    !htab_init(&ix->o, sizeof(struct oent))) {
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
	htab_free(&ix->k);
	htab_free(&ix->u);
	htab_free(&ix->o);
	free(ix->kind);
	free(ix);
}

static struct kent *
kfind(const jindex *ix, const dfi_jkey *k)
{
	return (struct kent *)*htab_link(&ix->k, khash(k), kmatch, k);
}

static struct uent *
ufind(const jindex *ix, const uint8_t *uid, size_t len)
{
	struct ukey k = { uid, len };
	return (struct uent *)*htab_link(&ix->u, uhash(uid, len), umatch, &k);
}

/* The link to the open intent of record seq (see htab_link). */
static struct hnode **
olink(const jindex *ix, uint64_t seq)
{
	return htab_link(&ix->o, mix(seq), omatch, &seq);
}

static struct oent *
ofind(const jindex *ix, uint64_t seq)
{
	return (struct oent *)*olink(ix, seq);
}

static dfi_err
uget(jindex *ix, const uint8_t *uid, size_t len, struct uent **out)
{
	if (len == 0 || len > DFI_J_UID_MAX)
		return DFI_E_INVALID_ARG;
	struct uent *e = ufind(ix, uid, len);
	if (e == NULL) {
		e = htab_add(&ix->u, uhash(uid, len));
		if (e == NULL)
			return DFI_E_NOMEM;
		memcpy(e->uid, uid, len);
		e->uid_len = (uint8_t)len;
	}
	*out = e;
	return DFI_OK;
}

static dfi_err
kget(jindex *ix, const dfi_jkey *k, struct kent **out)
{
	struct kent *e = kfind(ix, k);
	if (e == NULL) {
		struct uent *u;
		dfi_err r = uget(ix, k->uid, k->uid_len, &u);
		if (r != DFI_OK)
			return r;
		e = htab_add(&ix->k, khash(k));
		if (e == NULL)
			return DFI_E_NOMEM;
		e->key = *k;
		e->version = -1;
		e->u = u;
		e->unext = u->slots;
		u->slots = e;
		u->nslots++;
	}
	*out = e;
	return DFI_OK;
}

void
jindex_prefetch(const jindex *ix, const dfi_jrec *r)
{
	if (r->type == DFI_JREC_INTENT && r->key.uid_len <= DFI_J_UID_MAX) {
		__builtin_prefetch(&ix->k.b[khash(&r->key) & (ix->k.nb - 1)]);
		__builtin_prefetch(&ix->u.b[uhash(r->key.uid, r->key.uid_len) & (ix->u.nb - 1)]);
	} else if (r->type == DFI_JREC_COMMIT || r->type == DFI_JREC_ABORT || r->type == DFI_JREC_RESOLVE) {
		/* the open-intent table is small and warm; its slot is not */
		const struct hnode *e = ix->o.b[mix(r->intent) & (ix->o.nb - 1)];
		if (e != NULL)
			__builtin_prefetch(((const struct oent *)e)->k);
	}
}

static void
fmt_key(const dfi_jkey *k, char *b, size_t cap)
{
	char uid[2 * DFI_J_UID_MAX + 1] = "";
	(void)dfi_hex_encode(k->uid, k->uid_len, uid, sizeof(uid));
	snprintf(b, cap, "card %s AID " DFI_AID_FMT " key %u", uid, DFI_AID_ARGS(k->aid), k->keyno);
}

#define FIND(code, ...)                                                                  \
	do {                                                                             \
		if (fn != NULL) {                                                        \
			char m_[512];                                                    \
			snprintf(m_, sizeof(m_), __VA_ARGS__);                           \
			fn(ctx, line, code, m_);                                         \
		}                                                                        \
	} while (0)

/* A refusal: the tap that wrote it [tap, seq] sent no key change to that
 * card before it (no intent of the UID in that window). An authorization:
 * the journal forgets what it recorded for the UID's keys, so a re-issue
 * starts from the factory key as a first issue does. */
static dfi_err
card_event(jindex *ix, const dfi_jrec *r, uint64_t line, jfinding_fn fn, void *ctx)
{
	struct uent *u;
	char uid[2 * DFI_J_UID_MAX + 1] = "";
	dfi_err e = uget(ix, r->key.uid, r->key.uid_len, &u);
	if (e != DFI_OK)
		return e;
	(void)dfi_hex_encode(r->key.uid, r->key.uid_len, uid, sizeof(uid));
	if (r->type == DFI_JREC_REFUSAL) {
		if (r->tap > r->seq)
			FIND(DFI_E_JOURNAL_CORRUPT,
			    "refusal %" PRIu64 " of card %s says its tap began at record %" PRIu64
			    ", after the refusal itself", r->seq, uid, r->tap);
		else if (u->has_intent && u->last_intent >= r->tap)
			FIND(DFI_E_JOURNAL_CORRUPT,
			    "refusal %" PRIu64 " of card %s: intent %" PRIu64
			    " of the same tap (from record %" PRIu64 ") precedes it: a key change began before the refusal",
			    r->seq, uid, u->last_intent, r->tap);
		u->refusals++;
		u->last_refusal = r->seq;
		return DFI_OK;
	}
	u->auths++;
	u->last_auth = r->seq;
	u->auth_pending = 1;
	for (struct kent *k = u->slots; k != NULL; k = k->unext) {
		k->version = -1;
		k->state = DFI_JSLOT_UNKNOWN;
		k->gen = 0;
		k->changed_by = 0;
		k->has_profile = 0;
	}
	return DFI_OK;
}

/* The first open change intent fn accepts, or NULL; fn sees them all
 * when it accepts none (a scan: open intents are few). */
static const struct oent *
each_open_change(const jindex *ix, int (*fn)(const struct oent *o, const void *arg), const void *arg)
{
	for (size_t i = 0; i < ix->o.nb; i++)
		for (const struct hnode *e = ix->o.b[i]; e != NULL; e = e->next) {
			const struct oent *o = (const struct oent *)e;
			if (o->k == NULL && fn(o, arg))
				return o;
		}
	return NULL;
}

static int
same_change(const struct oent *o, const void *arg)
{
	const dfi_jrec *r = arg;
	return o->rec.key.uid_len == r->key.uid_len && o->rec.key.aid == r->key.aid &&
	    strcmp(o->rec.what, r->what) == 0 &&
	    memcmp(o->rec.key.uid, r->key.uid, r->key.uid_len) == 0;
}

/* The open change intent of the same card, application and what as r. */
static const struct oent *
open_change(const jindex *ix, const dfi_jrec *r)
{
	return each_open_change(ix, same_change, r);
}

/* Records intent r (record n) as open, on key slot k (NULL for a change
 * intent) of card u. *added is 0 for a repeated seq: the walk has made
 * its findings already and the first intent stays the open one. */
static dfi_err
intent_open(jindex *ix, const dfi_jrec *r, uint64_t n, struct kent *k, struct uent *u, int *added)
{
	*added = 0;
	if (ofind(ix, r->seq) != NULL)
		return DFI_OK;
	struct oent *o = htab_add(&ix->o, mix(r->seq));
	if (o == NULL)
		return DFI_E_NOMEM;
	o->rec = *r;
	o->k = k;
	o->u = u;
	ix->kind[n] = K_INTENT_OPEN;
	*added = 1;
	return DFI_OK;
}

/* A change intent: open until its outcome, like a key intent, but on no
 * key slot; at most one open per (card, application, what). */
static dfi_err
change_intent(jindex *ix, const dfi_jrec *r, uint64_t n, uint64_t line, jfinding_fn fn, void *ctx)
{
	struct uent *u;
	dfi_err e = uget(ix, r->key.uid, r->key.uid_len, &u);
	if (e != DFI_OK)
		return e;
	u->has_intent = 1;
	u->last_intent = r->seq;
	u->auth_pending = 0;
	const struct oent *prev = open_change(ix, r);
	if (prev != NULL) {
		char uid[2 * DFI_J_UID_MAX + 1] = "";
		(void)dfi_hex_encode(r->key.uid, r->key.uid_len, uid, sizeof(uid));
		FIND(DFI_E_JOURNAL_CORRUPT,
		    "change %" PRIu64 " (%s) of card %s AID " DFI_AID_FMT " while change %" PRIu64
		    " is unresolved", r->seq, r->what, uid, DFI_AID_ARGS(r->key.aid), prev->rec.seq);
	}
	int added;
	if ((e = intent_open(ix, r, n, NULL, u, &added)) == DFI_OK && added)
		u->open_changes++;
	return e;
}

/* The outcome r of change intent o. */
static void
change_outcome(jindex *ix, struct hnode **slot, const dfi_jrec *r, uint64_t line, jfinding_fn fn,
    void *ctx)
{
	struct oent *o = (struct oent *)*slot;
	if (r->type == DFI_JREC_RESOLVE && r->observed_version >= 0)
		FIND(DFI_E_JOURNAL_CORRUPT,
		    "resolve %" PRIu64 " of change %" PRIu64 " states a key version: a change has none",
		    r->seq, r->intent);
	o->u->open_changes--;
	ix->kind[r->intent] = K_INTENT_CLOSED;
	htab_remove(&ix->o, slot);
}

/* The slot's state now comes from intent in: remember its profile digest. */
static void
slot_profile(struct kent *k, const dfi_jrec *in)
{
	k->has_profile = in->has_profile != 0;
	memcpy(k->profile, in->profile, sizeof(k->profile));
}

dfi_err
jindex_apply(jindex *ix, const dfi_jrec *r, uint64_t line, jfinding_fn fn, void *ctx)
{
	uint8_t *nk = dfi_grow(ix->kind, &ix->cap, ix->n + 1, 1024, 1);
	if (nk == NULL)
		return DFI_E_NOMEM;
	ix->kind = nk;
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
	if (r->type == DFI_JREC_REFUSAL || r->type == DFI_JREC_AUTHORIZATION)
		return card_event(ix, r, line, fn, ctx);
	if (r->type == DFI_JREC_CHANGE)
		return change_intent(ix, r, n, line, fn, ctx);
	if (r->type == DFI_JREC_INTENT) {
		struct kent *k;
		dfi_err ke = kget(ix, &r->key, &k);
		if (ke != DFI_OK)
			return ke;
		k->u->has_intent = 1;
		k->u->last_intent = r->seq;
		k->u->auth_pending = 0; /* a re-issue under way uses the authorization */
		/* the key's name only for a finding: formatting it for every
		 * intent was a tenth of a big journal's verify */
		/* Only a version the journal set by a change it recorded (commit,
		 * resolve matched=new) binds the next intent. After an abort or a
		 * resolve matched=old of a key no recorded change has set, the
		 * version is the card's own GetKeyVersion answer, which nothing
		 * proved: a card that answers another one at its next tap is not a
		 * journal that contradicts itself (docs/JOURNAL.md §7, rule 6). */
		int binds = k->state == DFI_JSLOT_CHANGED && k->version != r->old_version;
		if (k->has_open || binds)
			fmt_key(&r->key, ks, sizeof(ks));
		if (k->has_open)
			FIND(DFI_E_JOURNAL_CORRUPT, "intent %" PRIu64 " for %s while intent %" PRIu64 " is unresolved",
			    r->seq, ks, k->open_seq);
		if (binds)
			FIND(DFI_E_JOURNAL_CORRUPT,
			    "intent %" PRIu64 " for %s starts from version %u, but the journal last recorded version %d",
			    r->seq, ks, r->old_version, k->version);
		int added;
		if ((ke = intent_open(ix, r, n, k, k->u, &added)) == DFI_OK && added) {
			k->has_open = 1;
			k->open_seq = r->seq;
		}
		return ke;
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
	struct hnode **slot = olink(ix, r->intent);
	struct oent *o = (struct oent *)*slot;
	if (o == NULL)
		return DFI_E_INTERNAL;
	struct kent *k = o->k;
	const dfi_jrec *in = &o->rec;
	int v = -1, changed = 0;
	if (r->type != DFI_JREC_RESOLVE && o->u->refusals > 0 && o->u->last_refusal > r->intent) {
		/* Only the tap that wrote an intent commits or aborts it (later
		 * taps resolve); that tap ended with the refusal. */
		fmt_key(&in->key, ks, sizeof(ks));
		FIND(DFI_E_JOURNAL_CORRUPT,
		    "%s %" PRIu64 " of intent %" PRIu64 " for %s follows refusal %" PRIu64
		    " of that card: a key change was answered after the card was refused",
		    tn, r->seq, r->intent, ks, o->u->last_refusal);
	}
	if (k == NULL) {
		change_outcome(ix, slot, r, line, fn, ctx);
		return DFI_OK;
	}
	switch (r->type) {
	case DFI_JREC_COMMIT: v = in->new_version; changed = 1; break;
	case DFI_JREC_ABORT: v = in->old_version; break;
	case DFI_JREC_RESOLVE:
		v = r->matched == DFI_JMATCH_NEW ? in->new_version :
		    r->matched == DFI_JMATCH_OLD ? in->old_version : -1;
		changed = r->matched == DFI_JMATCH_NEW;
		if (v >= 0 && r->observed_version >= 0 && r->observed_version != v)
			FIND(DFI_E_JOURNAL_CORRUPT,
			    "resolve %" PRIu64 " says the card matched the %s key but observed version %d, not %d",
			    r->seq, r->matched == DFI_JMATCH_NEW ? "new" : "old", r->observed_version, v);
		break;
	default: break;
	}
	k->version = v;
	if (changed) {
		k->state = DFI_JSLOT_CHANGED;
		k->gen = in->key_gen;
		k->changed_by = in->seq;
		slot_profile(k, in);
	} else if (v < 0) {
		k->state = DFI_JSLOT_UNKNOWN;
		k->has_profile = 0;
	} else if (k->state != DFI_JSLOT_CHANGED) {
		k->state = DFI_JSLOT_INITIAL;
		slot_profile(k, in);
	}
	if (k->has_open && k->open_seq == r->intent)
		k->has_open = 0;
	htab_remove(&ix->o, slot);
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
	case DFI_JREC_ABORT: {
		/* Never a key change answered after the card was refused (the
		 * auditor's check too). */
		const struct oent *o = r->intent < ix->n && ix->kind[r->intent] == K_INTENT_OPEN ?
		    ofind(ix, r->intent) : NULL;
		if (o == NULL)
			return DFI_E_INVALID_ARG;
		return o->u->refusals > 0 && o->u->last_refusal > r->intent ? DFI_E_INVALID_ARG :
		    DFI_OK;
	}
	case DFI_JREC_RESOLVE:
		return r->intent < ix->n && ix->kind[r->intent] == K_INTENT_OPEN ? DFI_OK : DFI_E_INVALID_ARG;
	case DFI_JREC_RECOVERY:
		return DFI_OK;
	case DFI_JREC_REFUSAL: {
		/* The tap began at most at the end of the journal, and wrote no
		 * intent for the card before refusing it. */
		const struct uent *u = ufind(ix, r->key.uid, r->key.uid_len);
		if (r->tap > ix->n)
			return DFI_E_INVALID_ARG;
		return u != NULL && u->has_intent && u->last_intent >= r->tap ? DFI_E_INVALID_ARG : DFI_OK;
	}
	case DFI_JREC_AUTHORIZATION:
		return r->key.uid_len > 0 && r->key.uid_len <= DFI_J_UID_MAX ? DFI_OK : DFI_E_INVALID_ARG;
	case DFI_JREC_CHANGE:
		return open_change(ix, r) == NULL ? DFI_OK : DFI_E_INVALID_ARG;
	}
	return DFI_E_INVALID_ARG;
}

/* ---- per-card query (the local registry) -------------------------------------------- */

struct card_changes {
	const struct uent *u;
	void (*intent)(void *ctx, const dfi_jrec *in);
	void *ctx;
};

/* Hands an open change of the card to the caller; accepts none. */
static int
card_change(const struct oent *o, const void *arg)
{
	const struct card_changes *cc = arg;
	if (o->u == cc->u)
		cc->intent(cc->ctx, &o->rec);
	return 0;
}

dfi_err
jindex_card(const jindex *ix, const uint8_t *uid, size_t len, struct dfi_journal_card *out,
    void (*slot)(void *ctx, const struct dfi_journal_slot *s),
    void (*intent)(void *ctx, const dfi_jrec *in), void *ctx)
{
	memset(out, 0, sizeof(*out));
	if (len == 0 || len > DFI_J_UID_MAX)
		return DFI_E_INVALID_ARG;
	const struct uent *u = ufind(ix, uid, len);
	if (u == NULL)
		return DFI_OK;
	out->slots = u->nslots;
	out->refusals = u->refusals;
	out->last_refusal = u->last_refusal;
	out->authorizations = u->auths;
	out->last_authorization = u->last_auth;
	out->authorization_pending = u->auth_pending;
	out->has_intent = u->has_intent;
	out->last_intent = u->last_intent;
	for (const struct kent *k = u->slots; k != NULL; k = k->unext) {
		out->changed += k->state == DFI_JSLOT_CHANGED;
		out->open_intents += k->has_open != 0;
		if (slot != NULL) {
			struct dfi_journal_slot s = { .key = k->key, .state = (enum dfi_jslot_state)k->state,
				.version = k->version, .generation = k->gen, .changed_by = k->changed_by,
				.has_open = k->has_open, .open_seq = k->open_seq,
				.has_profile = k->has_profile };
			memcpy(s.profile, k->profile, sizeof(s.profile));
			slot(ctx, &s);
		}
		if (intent != NULL && k->has_open) {
			const struct oent *o = ofind(ix, k->open_seq);
			if (o != NULL)
				intent(ctx, &o->rec);
		}
	}
	out->open_intents += u->open_changes;
	if (intent != NULL && u->open_changes > 0) {
		struct card_changes cc = { u, intent, ctx };
		(void)each_open_change(ix, card_change, &cc);
	}
	return DFI_OK;
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
	struct oent *o = ofind(ix, e->open_seq);
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
	if (ix->o.n == 0)
		return 0;
	const struct oent **v = malloc(ix->o.n * sizeof(*v));
	size_t n = 0;
	if (v == NULL)
		return ix->o.n;
	for (size_t i = 0; i < ix->o.nb; i++)
		for (const struct hnode *e = ix->o.b[i]; e != NULL; e = e->next)
			v[n++] = (const struct oent *)e;
	qsort(v, n, sizeof(*v), byseq);
	for (size_t i = 0; fn != NULL && i < n; i++)
		fn(ctx, &v[i]->rec);
	free(v);
	return n;
}

uint64_t jindex_count(const jindex *ix) { return ix->n; }
