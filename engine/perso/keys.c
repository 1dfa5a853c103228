/* Key roles and candidates: the profile's base keys in the HSM, per-card
 * target keys diversified there, the public factory keys, and the keys an
 * open intent names. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfissue/util.h"
#include "perso_int.h"

static const char *
keytype_name(dfi_keytype t)
{
	switch (t) {
	case DFI_KT_DES: return "des";
	case DFI_KT_2K3DES: return "2k3des";
	case DFI_KT_3K3DES: return "3k3des";
	case DFI_KT_AES128: return "aes";
	}
	return "?";
}

/* Application key roles of the profile, all applications together. */
static size_t
app_roles(const struct dfi_profile_spec *s)
{
	size_t total = 0;
	for (size_t i = 0; i < s->napps; i++)
		total += s->apps[i].nkeys;
	return total;
}

/* A role set up before with the same base key URI, or NULL. */
static const struct perso_role *
shared_base(const dfi_perso *p, const char *uri)
{
	const struct dfi_profile_spec *s = p->spec;
	if (p->picc.base != NULL && strcmp(p->picc.pk->base_key, uri) == 0)
		return &p->picc;
	if (p->roles == NULL)
		return NULL;
	size_t total = app_roles(s);
	for (size_t i = 0; i < total && p->roles[i].pk != NULL; i++)
		if (p->roles[i].base != NULL && strcmp(p->roles[i].pk->base_key, uri) == 0)
			return &p->roles[i];
	return NULL;
}

static dfi_err
role_init(dfi_perso *p, struct perso_role *r, const struct dfi_profile_key *pk, const char *where)
{
	struct dfi_hsm_key_info *info = NULL;
	size_t n = 0;
	dfi_err e;

	r->pk = pk;
	if (pk->version == 0) {
		snprintf(p->err, sizeof(p->err),
		    "%s: key version 0 is the factory version: choose 1..255 so a changed key "
		    "can be told from a factory key", where);
		return DFI_E_PROFILE;
	}
	/* Roles naming the same base key (an application's keys usually do)
	 * share its handle: one search in the token each, not one per role. */
	const struct perso_role *same = shared_base(p, pk->base_key);
	if (same != NULL) {
		r->base = same->base;
		r->shared = 1;
		memcpy(r->objid, same->objid, same->objid_len);
		r->objid_len = same->objid_len;
	} else if ((e = dfi_hsm_key_find(p->hsm, pk->base_key, &r->base)) != DFI_OK) {
		char why[400];
		perso_err_text(p->hsm, e, why, sizeof(why));
		snprintf(p->err, sizeof(p->err), "%s: base key %s: %s", where, pk->base_key, why);
		return e;
	}
	if (dfi_hsm_key_type(r->base) != pk->type) {
		snprintf(p->err, sizeof(p->err), "%s: base key %s is %s, the profile wants %s",
		    where, dfi_hsm_key_label(r->base), keytype_name(dfi_hsm_key_type(r->base)),
		    keytype_name(pk->type));
		return DFI_E_HSM_KEY_TYPE;
	}
	/* CKA_ID goes into every intent, so the journal names the key object
	 * even if labels are reused. */
	if (!r->shared && dfi_hsm_key_list(p->hsm, pk->base_key, &info, &n) == DFI_OK && n >= 1 &&
	    info[0].id_len <= sizeof(r->objid)) {
		memcpy(r->objid, info[0].id, info[0].id_len);
		r->objid_len = info[0].id_len;
	}
	free(info);
	return DFI_OK;
}

/* The transport key: found (and its type checked) once, like the target
 * keys; a static one becomes one card key for every tap. Its version may be
 * anything the supplier chose, but not the target's: the version must tell
 * a changed PICC key from the one the card arrived with. */
static dfi_err
transport_init(dfi_perso *p)
{
	const struct dfi_profile_transport *t = &p->spec->picc.transport;
	struct perso_role *r = &p->transport;
	dfi_err e;

	if (t->kind == DFI_TRANSPORT_FACTORY)
		return DFI_OK;
	if (t->key.version == p->spec->picc.key.version) {
		snprintf(p->err, sizeof(p->err),
		    "picc.transport_key: version %u is also the target PICC key's: choose another so a "
		    "changed key can be told from the transport key", t->key.version);
		return DFI_E_PROFILE;
	}
	r->pk = &t->key;
	e = dfi_hsm_key_find(p->hsm, t->key.base_key, &r->base);
	char why[400];
	if (e != DFI_OK) {
		perso_err_text(p->hsm, e, why, sizeof(why));
		snprintf(p->err, sizeof(p->err), "picc.transport_key: %s: %s", t->key.base_key, why);
		return e;
	}
	if (dfi_hsm_key_type(r->base) != t->key.type) {
		snprintf(p->err, sizeof(p->err), "picc.transport_key: %s is %s, the profile wants %s",
		    dfi_hsm_key_label(r->base), keytype_name(dfi_hsm_key_type(r->base)),
		    keytype_name(t->key.type));
		return DFI_E_HSM_KEY_TYPE;
	}
	if (t->kind == DFI_TRANSPORT_STATIC) {
		e = dfi_hsm_cardkey_base(p->hsm, r->base, t->key.type, t->key.version,
		    &p->transport_static);
		if (e != DFI_OK) {
			perso_err_text(p->hsm, e, why, sizeof(why));
			snprintf(p->err, sizeof(p->err), "picc.transport_key: %s", why);
		}
	}
	return e;
}

/* The keys another handle looked up, shared: same HSM and profile, and it
 * outlives this one (its owner's promise, perso.h). */
static dfi_err
roles_share(dfi_perso *p, const dfi_perso *from)
{
	const struct dfi_profile_spec *s = p->spec;
	size_t total = app_roles(s);
	if (from->hsm != p->hsm || from->profile != p->profile) {
		snprintf(p->err, sizeof(p->err), "keys_from: a handle on another HSM or profile");
		return DFI_E_INVALID_ARG;
	}
	p->roles = calloc(total ? total : 1, sizeof(*p->roles));
	p->role_base = calloc(s->napps ? s->napps : 1, sizeof(*p->role_base));
	if (p->roles == NULL || p->role_base == NULL)
		return DFI_E_NOMEM;
	memcpy(p->roles, from->roles, total * sizeof(*p->roles));
	memcpy(p->role_base, from->role_base, s->napps * sizeof(*p->role_base));
	for (size_t i = 0; i < total; i++)
		p->roles[i].shared = 1;
	p->picc = from->picc;
	p->picc.shared = 1;
	p->transport = from->transport;
	p->transport.shared = 1;
	p->transport_static = from->transport_static;
	p->transport_static_shared = 1;
	p->prevs = from->prevs;
	p->nprevs = from->nprevs;
	p->prevs_shared = 1;
	return DFI_OK;
}

dfi_err
perso_roles_init(dfi_perso *p, const dfi_perso *from)
{
	static const uint8_t zero[DFI_MAX_KEY_LEN];
	const struct dfi_profile_spec *s = p->spec;
	size_t total = 0;
	char where[64];
	dfi_err e;

	for (int t = DFI_KT_DES; t <= DFI_KT_AES128; t++) {
		e = dfi_cardkey_new_plain(&p->factory[t], (dfi_keytype)t, zero,
		    dfi_keytype_keylen((dfi_keytype)t), 0);
		if (e != DFI_OK)
			return e;
	}
	if (from != NULL)
		return roles_share(p, from);
	e = role_init(p, &p->picc, &s->picc.key, "picc.key");
	if (e != DFI_OK)
		return e;
	e = transport_init(p);
	if (e != DFI_OK)
		return e;
	total = app_roles(s);
	p->roles = calloc(total ? total : 1, sizeof(*p->roles));
	p->role_base = calloc(s->napps ? s->napps : 1, sizeof(*p->role_base));
	if (p->roles == NULL || p->role_base == NULL)
		return DFI_E_NOMEM;
	total = 0;
	for (size_t i = 0; i < s->napps; i++) {
		p->role_base[i] = total;
		for (size_t k = 0; k < s->apps[i].nkeys; k++) {
			snprintf(where, sizeof(where), "applications[%zu].keys[%zu]", i, k);
			if (s->apps[i].keys[k].type != s->apps[i].key_type) {
				snprintf(p->err, sizeof(p->err), "%s: key type differs from the "
				    "application's key_type", where);
				return DFI_E_PROFILE;
			}
			e = role_init(p, &p->roles[total++], &s->apps[i].keys[k], where);
			if (e != DFI_OK)
				return e;
		}
	}
	return perso_prevs_init(p);
}

void
perso_roles_free(dfi_perso *p)
{
	perso_prevs_free(p);
	if (!p->picc.shared)
		dfi_hsm_key_free(p->picc.base);
	if (p->roles != NULL) {
		size_t total = app_roles(p->spec);
		for (size_t i = 0; i < total; i++)
			if (!p->roles[i].shared)
				dfi_hsm_key_free(p->roles[i].base);
	}
	free(p->roles);
	free(p->role_base);
	for (size_t t = 0; t < 4; t++)
		dfi_cardkey_free(p->factory[t]);
	if (!p->transport_static_shared)
		dfi_cardkey_free(p->transport_static);
	if (!p->transport.shared)
		dfi_hsm_key_free(p->transport.base);
}

const struct perso_role *
perso_role(const dfi_perso *p, int app, uint8_t keyno)
{
	if (app < 0)
		return &p->picc;
	const struct dfi_profile_app *a = &p->spec->apps[app];
	for (size_t k = 0; k < a->nkeys; k++)
		if (a->keys[k].number == keyno)
			return &p->roles[p->role_base[app] + k];
	return NULL;
}

const dfi_cardkey *
perso_factory(const dfi_perso *p, int app)
{
	/* An all-zero DES-family key has equal halves: the card treats it as
	 * single DES (session keys included), so it is handed to the DESFire
	 * layer as a DES key. */
	if (app < 0)
		return p->factory[DFI_KT_DES];
	dfi_keytype t = p->spec->apps[app].key_type;
	return p->factory[t == DFI_KT_2K3DES ? DFI_KT_DES : t];
}

const dfi_cardkey *
perso_initial(const struct tap *tp, int app)
{
	return app < 0 && tp->picc_initial != NULL ? tp->picc_initial : perso_factory(tp->p, app);
}

static dfi_err
div_input(struct tap *tp, const struct dfi_profile_key *pk, uint32_t aid, uint8_t *m, size_t cap,
    size_t *mlen)
{
	uint8_t a[3] = { (uint8_t)aid, (uint8_t)(aid >> 8), (uint8_t)(aid >> 16) };
	struct dfi_diag diag;
	dfi_err e = dfi_profile_div_input(pk, tp->uid, a, tp->row, m, cap, mlen, &diag);
	if (e != DFI_OK)
		perso_detail(tp, "%s", diag.message);
	return e;
}

dfi_err
perso_derive(struct tap *tp, const struct perso_role *r, uint32_t aid, dfi_cardkey **out)
{
	uint8_t m[DFI_PROFILE_MAX_DIV_INPUT];
	size_t mlen;
	dfi_err e = div_input(tp, r->pk, aid, m, sizeof(m), &mlen);
	if (e != DFI_OK)
		return e;
	e = dfi_hsm_cardkey_diversified(tp->p->hsm, r->base, r->pk->type, m, mlen,
	    r->pk->version, out);
	if (e != DFI_OK) {
		/* The HSM layer says why (e.g. no derivation path for this M). */
		char d[160];
		dfi_hsm_detail_for(tp->p->hsm, e, d, sizeof(d));
		if (d[0] != '\0')
			perso_detail(tp, "%s", d);
	}
	return e;
}

dfi_err
perso_targets(struct tap *tp)
{
	const struct dfi_profile_spec *s = tp->p->spec;
	dfi_err e = perso_derive(tp, &tp->p->picc, 0, &tp->picc_target);
	switch (s->picc.transport.kind) {
	case DFI_TRANSPORT_DIVERSIFIED:
		if (e == DFI_OK)
			e = perso_derive(tp, &tp->p->transport, 0, &tp->picc_transport);
		tp->picc_initial = tp->picc_transport;
		break;
	case DFI_TRANSPORT_STATIC:
		tp->picc_initial = tp->p->transport_static;
		break;
	case DFI_TRANSPORT_FACTORY:
		tp->picc_initial = perso_factory(tp->p, -1);
		break;
	}
	for (size_t i = 0; e == DFI_OK && i < s->napps; i++) {
		uint32_t aid = perso_aid(s->apps[i].aid);
		for (size_t k = 0; e == DFI_OK && k < s->apps[i].nkeys; k++) {
			const struct perso_role *r = &tp->p->roles[tp->p->role_base[i] + k];
			e = perso_derive(tp, r, aid, &tp->apps[i].target[r->pk->number]);
		}
	}
	return e;
}

void
perso_tap_keys_free(struct tap *tp)
{
	dfi_cardkey_free(tp->picc_target);
	tp->picc_target = NULL;
	dfi_cardkey_free(tp->picc_transport);
	tp->picc_transport = NULL;
	tp->picc_initial = NULL;
	if (tp->apps != NULL)
		for (size_t i = 0; i < tp->p->spec->napps; i++)
			for (size_t k = 0; k < DFI_PROFILE_MAX_KEYS; k++) {
				dfi_cardkey_free(tp->apps[i].target[k]);
				tp->apps[i].target[k] = NULL;
			}
	for (size_t i = 0; i < tp->nextra; i++)
		dfi_cardkey_free(tp->extra[i]);
	tp->nextra = 0;
	perso_prevs_tap_free(tp);
}

/* The new key an intent names. The profile's target when the identity is
 * the same (label, diversification input, version); otherwise derived from
 * the intent's identity, so a profile edited between taps still resolves. */
dfi_err
perso_intent_key(struct tap *tp, const dfi_jrec *in, int app, const dfi_cardkey **out)
{
	const struct perso_role *r = perso_role(tp->p, app, in->key.keyno);
	uint8_t m[DFI_PROFILE_MAX_DIV_INPUT];
	size_t mlen = 0;
	dfi_hsm_key *base = NULL;
	char *uri = NULL;
	dfi_cardkey *k = NULL;
	dfi_err e;

	/* A tap always has its perso (the analyzer, seeing r tested for NULL,
	 * would otherwise take tp->p as possibly NULL: the PICC role is in it). */
	assert(tp->p != NULL);
	*out = NULL;
	if (r != NULL && div_input(tp, r->pk, in->key.aid, m, sizeof(m), &mlen) == DFI_OK &&
	    strcmp(dfi_hsm_key_label(r->base), in->key_label) == 0 &&
	    mlen == in->div_input_len && memcmp(m, in->div_input, mlen) == 0 &&
	    in->new_version == r->pk->version) {
		*out = app < 0 ? tp->picc_target : tp->apps[app].target[in->key.keyno];
		return DFI_OK;
	}
	if (tp->nextra >= PERSO_MAX_INTENTS || in->div_input_len == 0)
		return DFI_OK; /* no way to name it: not a candidate */
	e = dfi_hsm_secret_key_uri(in->key_label, &uri);
	if (e == DFI_OK)
		e = dfi_hsm_key_find(tp->p->hsm, uri, &base);
	free(uri);
	if (e == DFI_OK && base != NULL)
		e = dfi_hsm_cardkey_diversified(tp->p->hsm, base, dfi_hsm_key_type(base),
		    in->div_input, in->div_input_len, in->new_version, &k);
	dfi_hsm_key_free(base);
	if (e == DFI_E_HSM_KEY_NOT_FOUND || e == DFI_E_HSM_KEY_AMBIGUOUS)
		return DFI_OK; /* the candidate does not exist here */
	if (e != DFI_OK)
		return e;
	if (k != NULL) {
		tp->extra[tp->nextra++] = k;
		*out = k;
	}
	return DFI_OK;
}
