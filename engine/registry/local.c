/* The local registry backend: the station's own journal index (registry.h
 * says what each call does here and why). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "registry_int.h"

struct lclaim {
	uint8_t uid[DFI_J_UID_MAX];
	size_t uid_len;
	char holder[REG_HOLDER_MAX];
};

struct local {
	dfi_journal *j;
	pthread_mutex_t mu;       /* claims and the witnessed checkpoint */
	struct lclaim *claims;
	size_t nclaims, cap;
	int witnessed;
	dfi_checkpoint last;
};

static struct lclaim *
find_claim(struct local *l, const uint8_t *uid, size_t len)
{
	for (size_t i = 0; i < l->nclaims; i++)
		if (l->claims[i].uid_len == len && memcmp(l->claims[i].uid, uid, len) == 0)
			return &l->claims[i];
	return NULL;
}

/* In-process exclusivity: the journal's writer lock keeps other processes
 * off this journal, so the claims of this process are all there are.
 * Leases do not expire here: a slow station thread (waiting for the HSM,
 * for the card) must never lose its card to another thread. */
static dfi_err
l_claim(void *be, const uint8_t *uid, size_t len, const char *holder, unsigned lease_ms, char *who,
    size_t who_cap)
{
	struct local *l = be;
	dfi_err e = DFI_OK;
	(void)lease_ms;
	pthread_mutex_lock(&l->mu);
	struct lclaim *c = find_claim(l, uid, len);
	if (c != NULL) {
		if (who != NULL && who_cap > 0)
			snprintf(who, who_cap, "%s", c->holder);
		e = DFI_E_UID_CLAIMED;
	} else {
		struct lclaim *p = dfi_grow(l->claims, &l->cap, l->nclaims + 1, 16, sizeof(*p));
		if (p == NULL)
			e = DFI_E_NOMEM;
		else
			l->claims = p;
	}
	if (e == DFI_OK) {
		c = &l->claims[l->nclaims++];
		memcpy(c->uid, uid, len);
		c->uid_len = len;
		snprintf(c->holder, sizeof(c->holder), "%s", holder);
	}
	pthread_mutex_unlock(&l->mu);
	return e;
}

static dfi_err
l_renew(void *be, const uint8_t *uid, size_t len, const char *holder, unsigned lease_ms)
{
	struct local *l = be;
	(void)lease_ms;
	pthread_mutex_lock(&l->mu);
	struct lclaim *c = find_claim(l, uid, len);
	dfi_err e = c != NULL && strcmp(c->holder, holder) == 0 ? DFI_OK : DFI_E_UID_CLAIMED;
	pthread_mutex_unlock(&l->mu);
	return e;
}

static void
l_release(void *be, const uint8_t *uid, size_t len, const char *holder)
{
	struct local *l = be;
	pthread_mutex_lock(&l->mu);
	struct lclaim *c = find_claim(l, uid, len);
	if (c != NULL && strcmp(c->holder, holder) == 0)
		*c = l->claims[--l->nclaims];
	pthread_mutex_unlock(&l->mu);
}

void
reg_journal_slot(void *ctx, const struct dfi_journal_slot *s)
{
	const struct reg_journal_lookup *c = ctx;
	struct dfi_reg_slot r = {
		.aid = s->key.aid,
		.keyno = s->key.keyno,
		.state = s->state == DFI_JSLOT_CHANGED ? DFI_REG_SLOT_CHANGED :
		    s->state == DFI_JSLOT_INITIAL ? DFI_REG_SLOT_INITIAL : DFI_REG_SLOT_UNKNOWN,
		.version = s->version,
		.generation = s->generation,
		.changed_by = s->changed_by,
		.has_open_intent = s->has_open,
		.origin = c->origin,
		.has_profile = s->has_profile,
	};
	memcpy(r.profile, s->profile, sizeof(r.profile));
	c->v->slot(c->v->ctx, &r);
}

void
reg_journal_intent(void *ctx, const dfi_jrec *in)
{
	const struct reg_journal_lookup *c = ctx;
	c->v->intent(c->v->ctx, in, 1); /* every intent of one journal is its station's */
}

void
reg_journal_card(const struct dfi_journal_card *jc, struct dfi_reg_card *out)
{
	out->issued = jc->changed > 0;
	out->slots = jc->slots;
	out->changed = jc->changed;
	out->open_intents = jc->open_intents;
	out->refusals = jc->refusals;
	out->last_refusal = jc->last_refusal;
	out->authorizations = jc->authorizations;
	out->last_authorization = jc->last_authorization;
	out->authorization_pending = jc->authorization_pending;
}

static dfi_err
l_lookup(void *be, const uint8_t *uid, size_t len, struct dfi_reg_card *out,
    const struct dfi_reg_visit *v)
{
	struct local *l = be;
	struct reg_journal_lookup c = { v, dfi_journal_origin(l->j) };
	struct dfi_journal_card jc;
	dfi_err e = dfi_journal_card(l->j, uid, len, &jc, v->slot ? reg_journal_slot : NULL,
	    v->intent ? reg_journal_intent : NULL, &c);
	if (e == DFI_OK)
		reg_journal_card(&jc, out);
	return e;
}

/* The index took the records in when they were appended: nothing to
 * store. What can be checked is the order the interface promises: a record
 * reaches the registry only once the journal covers it. */
static dfi_err
l_journaled(void *be, const dfi_jrec *recs, size_t n)
{
	struct local *l = be;
	uint64_t size = dfi_journal_size(l->j);
	for (size_t i = 0; i < n; i++)
		if (recs[i].seq >= size)
			return DFI_E_INVALID_ARG;
	return DFI_OK;
}

/* The journal is its own and only state here: a checkpoint must be this
 * journal's, not beyond its end, equal to its own when of the same size,
 * and never behind the last one witnessed. */
static dfi_err
l_witness(void *be, const uint8_t *note, size_t len)
{
	struct local *l = be;
	dfi_checkpoint cp, cur;
	uint8_t curnote[DFI_J_NOTE_MAX];
	size_t curlen;
	if (dfi_note_open(note, len, NULL, &cp) != DFI_OK ||
	    strcmp(cp.origin, dfi_journal_origin(l->j)) != 0)
		return DFI_E_JOURNAL_FORMAT;
	dfi_err e = dfi_journal_checkpoint(l->j, curnote, sizeof(curnote), &curlen);
	if (e != DFI_OK)
		return e;
	if (dfi_note_open(curnote, curlen, NULL, &cur) != DFI_OK)
		return DFI_E_INTERNAL;
	if (cp.size > cur.size)
		return DFI_E_JOURNAL_FORMAT;
	if (cp.size == cur.size && memcmp(cp.root, cur.root, DFI_HASH_LEN) != 0)
		return DFI_E_JOURNAL_ROLLBACK;
	pthread_mutex_lock(&l->mu);
	if (l->witnessed && (cp.size < l->last.size ||
	    (cp.size == l->last.size && memcmp(cp.root, l->last.root, DFI_HASH_LEN) != 0)))
		e = DFI_E_JOURNAL_ROLLBACK;
	else {
		l->last = cp;
		l->witnessed = 1;
	}
	pthread_mutex_unlock(&l->mu);
	return e;
}

static void
l_destroy(void *be)
{
	struct local *l = be;
	if (l == NULL)
		return;
	pthread_mutex_destroy(&l->mu);
	free(l->claims);
	free(l);
}

static const struct dfi_registry_ops local_ops = {
	.name = "local",
	.claim = l_claim,
	.renew = l_renew,
	.release = l_release,
	.lookup = l_lookup,
	.journaled = l_journaled,
	.witness = l_witness,
	.destroy = l_destroy,
};

dfi_err
dfi_registry_new_local(dfi_registry **out, dfi_journal *journal)
{
	if (out != NULL)
		*out = NULL;
	if (out == NULL || journal == NULL)
		return DFI_E_INVALID_ARG;
	struct local *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return DFI_E_NOMEM;
	if (pthread_mutex_init(&l->mu, NULL) != 0) {
		free(l);
		return DFI_E_NOMEM;
	}
	l->j = journal;
	return dfi_registry_new_backend(out, &local_ops, l);
}
