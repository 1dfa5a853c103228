/* Rotation's probing candidates: the older generations of every key role
 * (profile "previous"). Their base keys are looked up once per handle; a
 * generation the operator no longer holds in the HSM is no candidate. The
 * per-card keys are derived on a tap only when a slot may hold them: its
 * version says so, or no other candidate has its version. So a blank card
 * costs no HSM call for them, and a card at the target none either. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perso_int.h"

static size_t
count_prevs(const struct dfi_profile_spec *s)
{
	size_t n = s->picc.key.nprevious;
	for (size_t i = 0; i < s->napps; i++)
		for (size_t k = 0; k < s->apps[i].nkeys; k++)
			n += s->apps[i].keys[k].nprevious;
	return n;
}

static dfi_err
role_prevs(dfi_perso *p, struct perso_role *r, size_t *at)
{
	const struct dfi_profile_key *pk = r->pk;
	dfi_err e;

	r->prev_first = *at;
	r->nprev = pk->nprevious;
	for (size_t i = 0; i < pk->nprevious; i++) {
		struct perso_prev *pv = &p->prevs[(*at)++];
		const struct dfi_profile_prev *pp = &pk->previous[i];
		pv->pk = *pk;
		pv->pk.base_key = pp->base_key;
		pv->pk.version = pp->version;
		pv->pk.generation = pp->generation;
		pv->pk.previous = NULL;
		pv->pk.nprevious = 0;
		for (size_t j = 0; j + 1 < *at; j++)
			if (p->prevs[j].base != NULL && !p->prevs[j].shared &&
			    strcmp(p->prevs[j].pk.base_key, pp->base_key) == 0) {
				pv->base = p->prevs[j].base;
				pv->shared = 1;
				break;
			}
		if (pv->base != NULL)
			continue;
		e = dfi_hsm_key_find(p->hsm, pp->base_key, &pv->base);
		if (e == DFI_E_HSM_KEY_NOT_FOUND) {
			/* Retired and destroyed: cards still at this generation
			 * will show unknown keys, which is what the operator chose. */
			pv->base = NULL;
			continue;
		}
		if (e != DFI_OK) {
			char why[400];
			perso_err_text(p->hsm, e, why, sizeof(why));
			snprintf(p->err, sizeof(p->err), "previous generation %u: base key %s: %s",
			    (unsigned)pp->generation, pp->base_key, why);
			return e;
		}
		if (dfi_hsm_key_type(pv->base) != pk->type) {
			snprintf(p->err, sizeof(p->err), "previous generation %u: base key %s has "
			    "another type than the key it precedes", (unsigned)pp->generation,
			    pp->base_key);
			return DFI_E_HSM_KEY_TYPE;
		}
	}
	return DFI_OK;
}

dfi_err
perso_prevs_init(dfi_perso *p)
{
	const struct dfi_profile_spec *s = p->spec;
	size_t n = count_prevs(s), at = 0;
	dfi_err e;

	if (n == 0)
		return DFI_OK;
	p->prevs = calloc(n, sizeof(*p->prevs));
	if (p->prevs == NULL)
		return DFI_E_NOMEM;
	p->nprevs = n;
	e = role_prevs(p, &p->picc, &at);
	for (size_t i = 0; e == DFI_OK && i < s->napps; i++)
		for (size_t k = 0; e == DFI_OK && k < s->apps[i].nkeys; k++)
			e = role_prevs(p, &p->roles[p->role_base[i] + k], &at);
	return e;
}

void
perso_prevs_free(dfi_perso *p)
{
	if (!p->prevs_shared) {
		for (size_t i = 0; i < p->nprevs; i++)
			if (!p->prevs[i].shared)
				dfi_hsm_key_free(p->prevs[i].base);
		free(p->prevs);
	}
	p->prevs = NULL;
	p->nprevs = 0;
}

void
perso_prevs_tap_free(struct tap *tp)
{
	for (size_t i = 0; i < tp->nprevk; i++)
		dfi_cardkey_free(tp->prevk[i].k);
	free(tp->prevk);
	tp->prevk = NULL;
	tp->nprevk = tp->capprevk = 0;
}

/* The per-card key of an older generation for this card, derived once. */
static dfi_err
prev_key(struct tap *tp, const struct perso_prev *pv, uint32_t aid, const dfi_cardkey **out)
{
	struct perso_role r;
	dfi_cardkey *k = NULL;
	dfi_err e;

	for (size_t i = 0; i < tp->nprevk; i++)
		if (tp->prevk[i].pv == pv && tp->prevk[i].aid == aid) {
			*out = tp->prevk[i].k;
			return DFI_OK;
		}
	if (tp->nprevk == tp->capprevk) {
		size_t cap = tp->capprevk ? 2 * tp->capprevk : 8;
		struct tap_prev *np = realloc(tp->prevk, cap * sizeof(*np));
		if (np == NULL)
			return DFI_E_NOMEM;
		tp->prevk = np;
		tp->capprevk = cap;
	}
	memset(&r, 0, sizeof(r));
	r.pk = &pv->pk;
	r.base = pv->base;
	e = perso_derive(tp, &r, aid, &k);
	if (e != DFI_OK)
		return e;
	tp->prevk[tp->nprevk].pv = pv;
	tp->prevk[tp->nprevk].aid = aid;
	tp->prevk[tp->nprevk].k = k;
	tp->nprevk++;
	*out = k;
	return DFI_OK;
}

static int
has_version(const dfi_cardkey *const *cand, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (dfi_cardkey_version(cand[i]) == v)
			return 1;
	return 0;
}

dfi_err
perso_prev_candidates(struct tap *tp, int app, uint8_t keyno, uint8_t v,
    const dfi_cardkey **cand, size_t *nc, size_t cap)
{
	const struct perso_role *r = perso_role(tp->p, app, keyno);
	uint32_t aid = app < 0 ? 0 : perso_aid(tp->p->spec->apps[app].aid);
	int all;

	if (r == NULL || r->nprev == 0)
		return DFI_OK;
	all = !has_version(cand, *nc, v);
	for (size_t i = 0; i < r->nprev; i++) {
		const struct perso_prev *pv = &tp->p->prevs[r->prev_first + i];
		const dfi_cardkey *k;
		dfi_err e;
		if (pv->base == NULL || (!all && pv->pk.version != v))
			continue;
		if (*nc >= cap)
			return DFI_E_OVERFLOW;
		e = prev_key(tp, pv, aid, &k);
		if (e != DFI_OK)
			return e;
		cand[(*nc)++] = k;
	}
	return DFI_OK;
}

int
perso_key_generation(const struct tap *tp, int app, uint8_t keyno, const dfi_cardkey *k,
    uint32_t *gen)
{
	const struct perso_role *r = perso_role(tp->p, app, keyno);
	const dfi_cardkey *target = app < 0 ? tp->picc_target : tp->apps[app].target[keyno];

	if (r == NULL || k == NULL)
		return 0;
	if (k == target) {
		*gen = r->pk->generation;
		return 1;
	}
	for (size_t i = 0; i < tp->nprevk; i++)
		if (tp->prevk[i].k == k) {
			*gen = tp->prevk[i].pv->pk.generation;
			return 1;
		}
	return 0;
}
