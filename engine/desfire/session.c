/* The session object: authentication state as the card keeps it. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "desfire_int.h"
#include "df_testhooks.h"

dfi_err
dfi_desfire_new(dfi_desfire **out, dfi_transport *t)
{
	if (out == NULL || t == NULL)
		return DFI_E_INVALID_ARG;
	dfi_desfire *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return DFI_E_NOMEM;
	d->s = dfi_secure_alloc(sizeof(*d->s));
	if (d->s == NULL) {
		free(d);
		return DFI_E_NOMEM;
	}
	memset(d->s, 0, sizeof(*d->s));
	d->t = t;
	d->keyno = -1;
	d->scheme = DFI_DF_SCHEME_NONE;
	*out = d;
	return DFI_OK;
}

void
dfi_desfire_free(dfi_desfire *d)
{
	if (d == NULL)
		return;
	dfi_secure_free(d->s, sizeof(*d->s));
	free(d);
}

void
dfi_desfire_set_rng(dfi_desfire *d, dfi_desfire_rng_fn fn, void *arg)
{
	if (d == NULL)
		return;
	d->rng = fn;
	d->rng_arg = arg;
}

dfi_err
df_random(dfi_desfire *d, uint8_t *out, size_t len)
{
	if (d->rng != NULL)
		return d->rng(d->rng_arg, out, len);
	return dfi_random(out, len);
}

/* df_drop_auth relies on every key preceding the scratch. */
_Static_assert(offsetof(struct df_secrets, tx) > offsetof(struct df_secrets, enc) &&
    offsetof(struct df_secrets, tx) > offsetof(struct df_secrets, mac) &&
    offsetof(struct df_secrets, tx) > offsetof(struct df_secrets, iv) &&
    offsetof(struct df_secrets, tx) >= offsetof(struct df_secrets, lenc) + sizeof(struct dfi_lrp) &&
    offsetof(struct df_secrets, rx) > offsetof(struct df_secrets, tx),
    "session keys must precede the scratch buffers");

void
df_drop_auth(dfi_desfire *d)
{
	d->scheme = DFI_DF_SCHEME_NONE;
	d->keyno = -1;
	d->ctr = 0;
	d->lrp = 0;
	memset(d->ti, 0, sizeof(d->ti));
	memset(d->lctr, 0, sizeof(d->lctr));
	/* The keys; the scratch after them is wiped after every use already. */
	dfi_wipe(d->s, offsetof(struct df_secrets, tx));
}

void
dfi_desfire_reset(dfi_desfire *d)
{
	if (d == NULL)
		return;
	df_drop_auth(d);
	d->aid = 0;
	d->last_sw2 = 0;
}

/* error.h, "NULL and unknown values": NULL reads as a session that is not
 * authenticated and has nothing selected. */
dfi_df_scheme dfi_desfire_scheme(const dfi_desfire *d) { return d != NULL ? d->scheme : DFI_DF_SCHEME_NONE; }
int dfi_desfire_auth_keyno(const dfi_desfire *d) { return d != NULL ? d->keyno : -1; }
uint32_t dfi_desfire_selected_aid(const dfi_desfire *d) { return d != NULL ? d->aid : 0; }
uint8_t dfi_desfire_last_status(const dfi_desfire *d) { return d != NULL ? d->last_sw2 : 0; }
int dfi_desfire_lrp(const dfi_desfire *d) { return d != NULL && d->scheme == DFI_DF_SCHEME_EV2 && d->lrp; }

dfi_err
dfi_desfire_set_session(dfi_desfire *d, const struct dfi_df_session *s)
{
	if (d == NULL || s == NULL || s->scheme > DFI_DF_SCHEME_EV2 ||
	    dfi_keytype_keylen(s->keytype) == 0)
		return DFI_E_INVALID_ARG;
	if (s->scheme == DFI_DF_SCHEME_EV2 && s->keytype != DFI_KT_AES128)
		return DFI_E_INVALID_ARG;
	if (s->lrp > 1 || (s->lrp && s->scheme != DFI_DF_SCHEME_EV2))
		return DFI_E_INVALID_ARG;
	df_drop_auth(d);
	if (s->aid > 0xFFFFFF)
		return DFI_E_INVALID_ARG;
	d->aid = s->aid;
	if (s->scheme == DFI_DF_SCHEME_NONE)
		return DFI_OK;
	d->scheme = s->scheme;
	d->keyno = s->keyno;
	d->skt = s->keytype;
	memcpy(d->s->enc, s->enc_key, sizeof(d->s->enc));
	memcpy(d->s->mac, s->mac_key, sizeof(d->s->mac));
	memcpy(d->s->iv, s->iv, sizeof(d->s->iv));
	memcpy(d->ti, s->ti, sizeof(d->ti));
	d->ctr = s->cmd_ctr;
	if (s->lrp) {
		dfi_err e = df_lrp_session_from_master(d);
		if (e != DFI_OK) {
			df_drop_auth(d);
			return e;
		}
		d->lrp = 1;
		for (int i = 0; i < 4; i++)
			d->lctr[i] = (uint8_t)(s->lrp_ctr >> (24 - 8 * i));
	}
	return DFI_OK;
}

dfi_err
dfi_desfire_get_session(const dfi_desfire *d, struct dfi_df_session *s)
{
	if (d == NULL || s == NULL)
		return DFI_E_INVALID_ARG;
	memset(s, 0, sizeof(*s));
	s->scheme = d->scheme;
	s->keyno = d->keyno < 0 ? 0 : (uint8_t)d->keyno;
	s->keytype = d->skt;
	memcpy(s->enc_key, d->s->enc, sizeof(s->enc_key));
	memcpy(s->mac_key, d->s->mac, sizeof(s->mac_key));
	memcpy(s->iv, d->s->iv, sizeof(s->iv));
	memcpy(s->ti, d->ti, sizeof(s->ti));
	s->cmd_ctr = d->ctr;
	s->aid = d->aid;
	s->lrp = (uint8_t)dfi_desfire_lrp(d);
	s->lrp_ctr = (uint32_t)d->lctr[0] << 24 | (uint32_t)d->lctr[1] << 16 |
	    (uint32_t)d->lctr[2] << 8 | d->lctr[3];
	return DFI_OK;
}
