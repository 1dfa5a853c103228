/*
 * dfissue audit, the cards: the registry's records and state against the
 * station journals (docs/OPERATIONS.md 12.5).
 *
 *   - every record the registry holds of a given journal is that journal's
 *     line at that seq (the registry is never trusted over the journal);
 *   - every card record of every journal was told to the registry;
 *   - replaying the registry's records in the order it took them (the same
 *     rules as the journal index, across journals): no UID issued twice
 *     without an authorization (an intent from another key than the one a
 *     committed change left, with no re-issue authorized since); every
 *     intent resolved somewhere (its outcome, or a later key change of the
 *     same key slot at another station); the registry's per-slot state
 *     equal to the replay.
 *   - an intent told late (schema/004_late_intents.sql: its station had
 *     lost the claim or the registry, so no key change followed it) on a
 *     key slot another journal already had an intent for is resolved by
 *     that station, which had the card: no finding, and no second issue,
 *     unless its own journal then records its key change as done (a key
 *     change without the claim). A late intent on a slot nobody else
 *     touched is an open intent like any other until something resolves
 *     it; it never resolves another journal's intent.
 *   - change records (schema/006_change_records.sql: the LRP switch, an SDM
 *     file's settings) are intents too: resolved by their outcome or by the
 *     same change of the same card and application at another station,
 *     late by the same rules, and they move no key slot. Each key slot's
 *     profile digest (the intent behind its state) equals the replay's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "audit.h"
#include "cli.h"
#include "dfissue/pgregistry.h"
#include "dfissue/util.h"

/* ---- a small hash table of 16-byte keys ------------------------------------------- */

struct ent {
	uint8_t key[16];
	int used;
	int a, b;              /* slot: state, version; intent: open; card: authorization pending */
	int old_v, new_v;      /* intent */
	uint32_t gen;          /* intent */
	size_t oj;             /* slot: journal of its open intent (+1; 0 none) */
	uint64_t oseq;         /* slot: its seq */
	dfi_jkey jk;           /* intent and slot: the key */
	int seen;              /* slot: in the registry's table too */
	int late;              /* intent: told without the claim (schema 004); 2: and closed on arrival */
	size_t fj;             /* slot: the first journal with an intent for it (+1) */
	int multi;             /* slot: intents from more than one journal */
	int change;            /* intent: a change record (what) */
	char what[DFI_J_WHAT_MAX];
	int has_prof;          /* slot and intent: the profile digest */
	uint8_t prof[DFI_J_PROFILE_LEN];
};

struct tab {
	struct ent *v;
	size_t cap, n;
};

static uint64_t
hkey(const uint8_t k[16])
{
	uint64_t h = 1469598103934665603ULL;
	for (int i = 0; i < 16; i++)
		h = (h ^ k[i]) * 1099511628211ULL;
	return h;
}

static struct ent *
tget(struct tab *t, const uint8_t k[16], int add)
{
	if (add && 2 * (t->n + 1) > t->cap) {
		size_t nc = t->cap ? 2 * t->cap : 1024;
		struct ent *nv = calloc(nc, sizeof(*nv));
		if (nv == NULL)
			return NULL;
		for (size_t i = 0; i < t->cap; i++)
			if (t->v[i].used) {
				size_t j = hkey(t->v[i].key) & (nc - 1);
				while (nv[j].used)
					j = (j + 1) & (nc - 1);
				nv[j] = t->v[i];
			}
		free(t->v);
		t->v = nv;
		t->cap = nc;
	}
	if (t->cap == 0)
		return NULL;
	size_t j = hkey(k) & (t->cap - 1);
	while (t->v[j].used) {
		if (memcmp(t->v[j].key, k, 16) == 0)
			return &t->v[j];
		j = (j + 1) & (t->cap - 1);
	}
	if (!add)
		return NULL;
	memset(&t->v[j], 0, sizeof(t->v[j]));
	memcpy(t->v[j].key, k, 16);
	t->v[j].used = 1;
	t->n++;
	return &t->v[j];
}

static void
slot_key(const uint8_t *uid, size_t ul, uint32_t aid, uint8_t keyno, uint8_t k[16])
{
	memset(k, 0, 16);
	k[0] = (uint8_t)ul;
	memcpy(k + 1, uid, ul);
	k[11] = (uint8_t)(aid >> 16);
	k[12] = (uint8_t)(aid >> 8);
	k[13] = (uint8_t)aid;
	k[14] = keyno;
}

/* A change's "slot": card, application and what, hashed (what is text). */
static int
change_key(const dfi_jrec *r, uint8_t k[16])
{
	uint8_t buf[1 + DFI_J_UID_MAX + 3 + DFI_J_WHAT_MAX], md[EVP_MAX_MD_SIZE];
	size_t wl = strnlen(r->what, DFI_J_WHAT_MAX - 1), n = 0;
	buf[n++] = r->key.uid_len;
	memcpy(buf + n, r->key.uid, r->key.uid_len);
	n += r->key.uid_len;
	buf[n++] = (uint8_t)(r->key.aid >> 16);
	buf[n++] = (uint8_t)(r->key.aid >> 8);
	buf[n++] = (uint8_t)r->key.aid;
	memcpy(buf + n, r->what, wl);
	n += wl;
	if (EVP_Digest(buf, n, md, NULL, EVP_sha256(), NULL) != 1)
		return -1;
	memcpy(k, md, 16);
	return 0;
}

static void
intent_key(size_t j, uint64_t seq, uint8_t k[16])
{
	memset(k, 0, 16);
	memcpy(k, &j, sizeof(j) < 8 ? sizeof(j) : 8);
	memcpy(k + 8, &seq, 8);
}

/* ---- the journals' card records ---------------------------------------------------------- */

struct jcards {
	char **line;           /* by seq: the journal's line of a card record, else NULL */
	uint8_t *told;
	uint64_t n;
	int oom;
};

static int
is_card(dfi_jrec_type t)
{
	return t == DFI_JREC_INTENT || t == DFI_JREC_COMMIT || t == DFI_JREC_ABORT || t == DFI_JREC_RESOLVE ||
	    t == DFI_JREC_REFUSAL || t == DFI_JREC_AUTHORIZATION || t == DFI_JREC_CHANGE;
}

static void
jc_record(void *ctx, uint64_t line, const dfi_jrec *r)
{
	(void)line;
	struct jcards *c = ctx;
	char buf[DFI_J_LINE_MAX + 1];
	size_t len;
	if (!is_card(r->type) || r->seq >= c->n || dfi_jrec_format(r, buf, sizeof(buf), &len) != DFI_OK)
		return;
	if ((c->line[r->seq] = strdup(buf)) == NULL)
		c->oom = 1;
}

struct replay {
	struct audit *a;
	struct jcards *jc;     /* per journal */
	struct tab slots, intents, cards;
	struct tab changes;    /* change_key: a change's "slot" (no key slot; not in the registry's table) */
	struct tab late;       /* intent_key of every late intent */
	uint64_t records, unknown_origin;
	int oom;
};

static const char *
key_text(const dfi_jkey *k, char *out, size_t cap)
{
	char uid[2 * DFI_J_UID_MAX + 1] = "";
	(void)dfi_hex_encode(k->uid, k->uid_len, uid, sizeof(uid));
	snprintf(out, cap, "card %s app " DFI_AID_FMT " key %u", uid, DFI_AID_ARGS(k->aid), k->keyno);
	return out;
}

/* What an intent entry changes: a key slot or, for a change, its what. */
static const char *
intent_text(const struct ent *in, char *out, size_t cap)
{
	char uid[2 * DFI_J_UID_MAX + 1] = "";
	if (!in->change)
		return key_text(&in->jk, out, cap);
	(void)dfi_hex_encode(in->jk.uid, in->jk.uid_len, uid, sizeof(uid));
	snprintf(out, cap, "card %s app " DFI_AID_FMT " change %s", uid, DFI_AID_ARGS(in->jk.aid), in->what);
	return out;
}

static void
apply(struct replay *x, size_t ji, const dfi_jrec *r)
{
	struct audit *a = x->a;
	const char *origin = a->j[ji].origin;
	uint8_t k[16];
	char kt[80];
	struct ent *slot, *in, *card;
	if (r->type == DFI_JREC_REFUSAL)
		return;
	if (r->type == DFI_JREC_AUTHORIZATION) {
		slot_key(r->key.uid, r->key.uid_len, 0, 0, k);
		memset(k + 11, 0xFF, 5); /* the card's entry: no key slot has this key */
		if ((card = tget(&x->cards, k, 1)) == NULL) {
			x->oom = 1;
			return;
		}
		card->a = 1;
		for (size_t i = 0; i < x->slots.cap; i++) {
			struct ent *s = &x->slots.v[i];
			if (s->used && s->jk.uid_len == r->key.uid_len && memcmp(s->jk.uid, r->key.uid, r->key.uid_len) == 0) {
				s->a = DFI_REG_SLOT_UNKNOWN;
				s->b = -1;
				s->has_prof = 0;
			}
		}
		return;
	}
	if (r->type == DFI_JREC_INTENT || r->type == DFI_JREC_CHANGE) {
		/* a change's "slot" tracks its open intent and first journal only */
		int ch = r->type == DFI_JREC_CHANGE;
		struct tab *st = ch ? &x->changes : &x->slots;
		if (ch && change_key(r, k) != 0) {
			x->oom = 1;
			return;
		}
		if (!ch)
			slot_key(r->key.uid, r->key.uid_len, r->key.aid, r->key.keyno, k);
		int fresh = tget(st, k, 0) == NULL;
		if ((slot = tget(st, k, 1)) == NULL) {
			x->oom = 1;
			return;
		}
		if (fresh) {
			slot->a = DFI_REG_SLOT_UNKNOWN;
			slot->b = -1;
			slot->jk = r->key;
		}
		intent_key(ji, r->seq, k);
		int late = tget(&x->late, k, 0) != NULL;
		/* late, and another station had the card: it resolved this one */
		int closed = late && slot->fj != 0 && (slot->fj != ji + 1 || slot->multi);
		if (slot->fj == 0)
			slot->fj = ji + 1;
		else if (slot->fj != ji + 1)
			slot->multi = 1;
		slot_key(r->key.uid, r->key.uid_len, 0, 0, k);
		memset(k + 11, 0xFF, 5);
		if ((card = tget(&x->cards, k, 1)) == NULL) {
			x->oom = 1;
			return;
		}
		if (!ch && !closed && slot->a == DFI_REG_SLOT_CHANGED && slot->b != r->old_version && !card->a)
			audit_finding(a, "registry",
			    "%s issued twice without authorization: intent %" PRIu64 " of %s changes it from version %u, "
			    "a committed change left version %d",
			    key_text(&r->key, kt, sizeof(kt)), r->seq, origin, r->old_version, slot->b);
		card->a = 0;
		/* an intent left open at another station: this station found the card's key
		 * (a late intent never touched the card: it found nothing) */
		if (!late && slot->oj != 0 && slot->oj - 1 != ji) {
			intent_key(slot->oj - 1, slot->oseq, k);
			struct ent *o = tget(&x->intents, k, 0);
			if (o != NULL)
				o->a = 0;
		}
		intent_key(ji, r->seq, k);
		if ((in = tget(&x->intents, k, 1)) == NULL) {
			x->oom = 1;
			return;
		}
		in->a = !closed;
		in->late = closed ? 2 : late;
		in->change = ch;
		snprintf(in->what, sizeof(in->what), "%s", ch ? r->what : "");
		in->has_prof = r->has_profile;
		memcpy(in->prof, r->profile, sizeof(in->prof));
		in->old_v = r->old_version;
		in->new_v = r->new_version;
		in->gen = r->key_gen;
		in->jk = r->key;
		in->oseq = r->seq;
		in->oj = ji + 1;
		if (!closed) {
			slot->oj = ji + 1;
			slot->oseq = r->seq;
		}
		return;
	}
	/* commit, abort, resolve */
	intent_key(ji, r->intent, k);
	if ((in = tget(&x->intents, k, 0)) == NULL) {
		audit_finding(a, "registry", "%s %" PRIu64 " of %s answers intent %" PRIu64 ", which the registry never took",
		    dfi_jrec_type_name(r->type), r->seq, origin, r->intent);
		return;
	}
	in->a = 0;
	int changed = r->type == DFI_JREC_COMMIT || (r->type == DFI_JREC_RESOLVE && r->matched == DFI_JMATCH_NEW);
	if (changed && in->late == 2)
		audit_finding(a, "registry",
		    "%s %s: %s %" PRIu64 " of %s says intent %" PRIu64 " was done, "
		    "an intent the registry took late, without the station holding the card's claim, after another "
		    "station had taken the card", intent_text(in, kt, sizeof(kt)),
		    in->change ? "changed without the claim" : "issued twice without authorization",
		    dfi_jrec_type_name(r->type), r->seq, origin, r->intent);
	if (in->change) {
		dfi_jrec cr;
		memset(&cr, 0, sizeof(cr));
		cr.key = in->jk;
		snprintf(cr.what, sizeof(cr.what), "%s", in->what);
		if (change_key(&cr, k) == 0 && (slot = tget(&x->changes, k, 0)) != NULL && slot->oj == ji + 1 &&
		    slot->oseq == r->intent)
			slot->oj = 0;
		return; /* a change moves no key slot */
	}
	slot_key(in->jk.uid, in->jk.uid_len, in->jk.aid, in->jk.keyno, k);
	if ((slot = tget(&x->slots, k, 0)) == NULL)
		return;
	int v = changed ? in->new_v : r->type == DFI_JREC_ABORT || r->matched == DFI_JMATCH_OLD ? in->old_v : -1;
	slot->b = v;
	/* the profile digest follows the state as in the journal index */
	if (changed || (v >= 0 && slot->a != DFI_REG_SLOT_CHANGED)) {
		slot->has_prof = in->has_prof;
		memcpy(slot->prof, in->prof, sizeof(slot->prof));
	} else if (v < 0) {
		slot->has_prof = 0;
	}
	slot->a = changed ? DFI_REG_SLOT_CHANGED : v < 0 ? DFI_REG_SLOT_UNKNOWN :
	    slot->a == DFI_REG_SLOT_CHANGED ? DFI_REG_SLOT_CHANGED : DFI_REG_SLOT_INITIAL;
	if (slot->oj == ji + 1 && slot->oseq == r->intent)
		slot->oj = 0;
}

static void
rec_cb(void *ctx, const char *origin, uint64_t seq, const char *line, size_t len)
{
	struct replay *x = ctx;
	struct audit *a = x->a;
	x->records++;
	size_t ji = a->nj;
	for (size_t i = 0; i < a->nj; i++)
		if (strcmp(a->j[i].origin, origin) == 0)
			ji = i;
	if (ji == a->nj) {
		x->unknown_origin++; /* its journal is not among those given: a finding of the witness check */
		return;
	}
	struct jcards *c = &x->jc[ji];
	dfi_jrec r;
	if (seq >= c->n || c->line[seq] == NULL || strlen(c->line[seq]) != len || memcmp(c->line[seq], line, len) != 0) {
		audit_finding(a, a->j[ji].path,
		    "the registry holds record %" PRIu64 " of %s as a line the journal does not have there", seq, origin);
		return;
	}
	if (c->told[seq]) {
		audit_finding(a, "registry", "record %" PRIu64 " of %s is in the registry twice", seq, origin);
		return;
	}
	c->told[seq] = 1;
	if (dfi_jrec_parse(line, len, &r) != DFI_OK)
		return; /* the journal's own verification reports it */
	r.seq = seq;
	apply(x, ji, &r);
}

static void
late_cb(void *ctx, const char *origin, uint64_t seq)
{
	struct replay *x = ctx;
	uint8_t k[16];
	for (size_t i = 0; i < x->a->nj; i++)
		if (strcmp(x->a->j[i].origin, origin) == 0) {
			intent_key(i, seq, k);
			if (tget(&x->late, k, 1) == NULL)
				x->oom = 1;
		}
}

static void
slot_cb(void *ctx, const struct dfi_pgreg_slot *s)
{
	struct replay *x = ctx;
	uint8_t k[16];
	char kt[80];
	dfi_jkey jk;
	memset(&jk, 0, sizeof(jk));
	memcpy(jk.uid, s->uid, s->uid_len);
	jk.uid_len = (uint8_t)s->uid_len;
	jk.aid = s->aid;
	jk.keyno = s->keyno;
	slot_key(s->uid, s->uid_len, s->aid, s->keyno, k);
	struct ent *e = tget(&x->slots, k, 0);
	if (e == NULL) {
		audit_finding(x->a, "registry", "%s: the registry has a key slot no journal's record made",
		    key_text(&jk, kt, sizeof(kt)));
		return;
	}
	e->seen = 1;
	if (e->a != s->state || e->b != s->version)
		audit_finding(x->a, "registry",
		    "%s: the registry says state %d version %d, the journals' records say state %d version %d",
		    key_text(&jk, kt, sizeof(kt)), s->state, s->version, e->a, e->b);
	else if (e->has_prof != s->has_profile || (e->has_prof && memcmp(e->prof, s->profile, sizeof(e->prof)) != 0))
		audit_finding(x->a, "registry",
		    "%s: the registry's profile digest is not the one of the intent the journals' records say put the "
		    "key slot in its state", key_text(&jk, kt, sizeof(kt)));
}

int
audit_cards(struct audit *a, dfi_pgreg *r)
{
	struct replay x;
	char why[600];
	int rc = 0;
	memset(&x, 0, sizeof(x));
	x.a = a;
	if ((x.jc = calloc(a->nj, sizeof(*x.jc))) == NULL)
		return -1;
	for (size_t i = 0; i < a->nj && rc == 0; i++) {
		struct jcards *c = &x.jc[i];
		if (a->j[i].origin[0] == '\0')
			continue;
		c->n = a->j[i].records;
		c->line = calloc(c->n + 1, sizeof(*c->line));
		c->told = calloc(c->n + 1, 1);
		struct dfi_jverify_opts o = { .record = jc_record, .ctx = c };
		struct dfi_jverify_result *res = calloc(1, sizeof(*res));
		if (c->line == NULL || c->told == NULL || res == NULL) {
			free(res);
			rc = -1;
			break;
		}
		(void)dfi_journal_verify_file(a->j[i].path, &o, res);
		free(res);
		if (c->oom)
			rc = -1;
	}
	if (rc == 0 && dfi_pgreg_each_late_intent(r, late_cb, &x, why, sizeof(why)) != DFI_OK) {
		cli_errorf("audit: reading the registry's late intents: %s", why);
		rc = -1;
	}
	if (rc == 0 && dfi_pgreg_each_record(r, rec_cb, &x, why, sizeof(why)) != DFI_OK) {
		cli_errorf("audit: reading the registry's records: %s", why);
		rc = -1;
	}
	if (rc == 0 && dfi_pgreg_each_slot(r, slot_cb, &x, why, sizeof(why)) != DFI_OK) {
		cli_errorf("audit: reading the registry's key slots: %s", why);
		rc = -1;
	}
	if (rc == 0 && x.oom)
		rc = -1;
	if (rc == 0) {
		char kt[80];
		for (size_t i = 0; i < a->nj; i++)
			for (uint64_t s = 0; s < x.jc[i].n; s++)
				if (x.jc[i].line[s] != NULL && !x.jc[i].told[s])
					audit_finding(a, a->j[i].path, "record %" PRIu64 " of %s was never told to the registry",
					    s, a->j[i].origin);
		for (size_t i = 0; i < x.intents.cap; i++) {
			const struct ent *e = &x.intents.v[i];
			if (e->used && e->a)
				audit_finding(a, a->j[e->oj - 1].path,
				    "intent %" PRIu64 " of %s (%s)%s has no outcome at any station: present the card to a "
				    "station (dfissue recover --registry lists it)",
				    e->oseq, a->j[e->oj - 1].origin, intent_text(e, kt, sizeof(kt)),
				    e->late ? ", told late (no key change followed it)," : "");
		}
		for (size_t i = 0; i < x.slots.cap; i++) {
			const struct ent *e = &x.slots.v[i];
			if (e->used && !e->seen)
				audit_finding(a, "registry", "%s: the journals' records make a key slot the registry lacks",
				    key_text(&e->jk, kt, sizeof(kt)));
		}
		a->card_records = x.records;
	}
	for (size_t i = 0; i < a->nj; i++) {
		for (uint64_t s = 0; x.jc[i].line != NULL && s < x.jc[i].n; s++)
			free(x.jc[i].line[s]);
		free(x.jc[i].line);
		free(x.jc[i].told);
	}
	free(x.jc);
	free(x.slots.v);
	free(x.intents.v);
	free(x.cards.v);
	free(x.changes.v);
	free(x.late.v);
	return rc;
}
