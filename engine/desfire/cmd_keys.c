/* Key management: settings, versions and ChangeKey in all its forms. */
#include <string.h>

#include "desfire_int.h"

dfi_err
dfi_desfire_get_key_settings(dfi_desfire *d, struct dfi_df_key_settings *ks)
{
	uint8_t buf[8];
	size_t n;
	if (ks == NULL)
		return DFI_E_INVALID_ARG;
	dfi_err e = df_get(d, 0x45, NULL, 0, buf, sizeof(buf), &n);
	return e != DFI_OK ? e : dfi_df_parse_key_settings(buf, n, ks);
}

dfi_err
dfi_desfire_change_key_settings(dfi_desfire *d, uint8_t settings)
{
	size_t n;

	if (d == NULL)
		return DFI_E_INVALID_ARG;
	if (d->scheme == DFI_DF_SCHEME_NONE)
		return DFI_E_NOT_AUTHENTICATED;
	return df_command(d, 0x54, NULL, 0, &settings, 1, DFI_DF_COMM_ENC, DF_COMM_MGMT, 0, 0,
	    NULL, 0, &n);
}

dfi_err
dfi_desfire_get_key_version(dfi_desfire *d, uint8_t keyno, uint8_t *version)
{
	uint8_t buf[8];
	size_t n;
	if (version == NULL)
		return DFI_E_INVALID_ARG;
	dfi_err e = df_get(d, 0x64, &keyno, 1, buf, sizeof(buf), &n);
	return e != DFI_OK ? e : dfi_df_parse_key_version(buf, n, version);
}

/* ---- ChangeKey ------------------------------------------------------------ */

struct ck {
	dfi_desfire *d;
	uint8_t kn;                /* key number byte with type flags */
	int same;                  /* changing the authenticated key */
	dfi_keytype ntype;
	uint8_t nver, over;
	dfi_keytype otype;
	const dfi_cardkey *old;
	const uint8_t *nk;         /* expanded new key, valid inside the callbacks */
	size_t nklen;
	uint8_t body[DFI_APDU_MAX]; /* key number || protected cryptogram */
	size_t bodylen;
};

/* A key as the card stores it: DES doubled to 16 bytes, and for the DES
 * family the version in the parity bits of the first eight bytes. */
static dfi_err
expand(dfi_keytype t, uint8_t ver, const uint8_t *key, size_t keylen, uint8_t *out,
    size_t *outlen)
{
	if (keylen != dfi_keytype_keylen(t))
		return DFI_E_INVALID_ARG;
	if (t == DFI_KT_DES) {
		memcpy(out, key, 8);
		dfi_des_set_key_version(out, 8, ver);
		memcpy(out + 8, out, 8);
		*outlen = 16;
		return DFI_OK;
	}
	memcpy(out, key, keylen);
	if (t != DFI_KT_AES128)
		dfi_des_set_key_version(out, keylen, ver);
	*outlen = keylen;
	return DFI_OK;
}

static void
put_crc32(uint8_t *p, uint32_t crc)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(crc >> (8 * i));
}

static void
put_crc16(uint8_t *p, uint16_t crc)
{
	p[0] = (uint8_t)crc;
	p[1] = (uint8_t)(crc >> 8);
}

/* Builds the plaintext cryptogram in the session's locked scratch,
 * enciphers it with the session key and wipes the plaintext. ok is NULL
 * for the same-key form. */
static dfi_err
build(struct ck *c, const uint8_t *ok, size_t oklen)
{
	dfi_desfire *d = c->d;
	uint8_t *pt = d->s->ck_pt;
	size_t n = 0, outlen = 0;
	dfi_err e;

	if (ok != NULL && oklen != c->nklen)
		return DFI_E_INVALID_ARG; /* key types must match to XOR */
	memcpy(pt, c->nk, c->nklen);
	if (ok != NULL)
		for (size_t i = 0; i < c->nklen; i++)
			pt[i] ^= ok[i];
	n = c->nklen;
	if (c->ntype == DFI_KT_AES128 || d->scheme == DFI_DF_SCHEME_EV2)
		pt[n++] = c->nver;
	switch (d->scheme) {
	case DFI_DF_SCHEME_D40:
		put_crc16(pt + n, dfi_crc16_desfire(pt, n));
		n += 2;
		if (ok != NULL) {
			put_crc16(pt + n, dfi_crc16_desfire(c->nk, c->nklen));
			n += 2;
		}
		break;
	case DFI_DF_SCHEME_EV1: {
		/* CRC32 over C4 || key number || cryptogram so far. */
		uint8_t *tmp = d->s->ck_crc;
		tmp[0] = 0xC4;
		tmp[1] = c->kn;
		memcpy(tmp + 2, pt, n);
		uint32_t crc = dfi_crc32_desfire(tmp, n + 2);
		dfi_wipe(tmp, sizeof(d->s->ck_crc));
		put_crc32(pt + n, crc);
		n += 4;
		if (ok != NULL) {
			put_crc32(pt + n, dfi_crc32_desfire(c->nk, c->nklen));
			n += 4;
		}
		break;
	}
	case DFI_DF_SCHEME_EV2:
		if (ok != NULL) {
			put_crc32(pt + n, dfi_crc32_desfire(c->nk, c->nklen));
			n += 4;
		}
		break;
	default:
		dfi_wipe(pt, sizeof(d->s->ck_pt));
		return DFI_E_NOT_AUTHENTICATED;
	}
	e = df_wrap(d, 0xC4, &c->kn, 1, pt, n, DF_COMM_ENC_RAW, c->body, sizeof(c->body),
	    &outlen);
	dfi_wipe(pt, sizeof(d->s->ck_pt));
	if (e == DFI_OK)
		c->bodylen = outlen;
	return e;
}

static dfi_err
with_old(void *arg, const uint8_t *key, size_t keylen)
{
	struct ck *c = arg;
	uint8_t *ok = c->d->s->ck_old;
	size_t oklen;
	dfi_err e = expand(c->otype, c->over, key, keylen, ok, &oklen);
	if (e == DFI_OK)
		e = build(c, ok, oklen);
	dfi_wipe(ok, sizeof(c->d->s->ck_old));
	return e;
}

static dfi_err
with_new(void *arg, const uint8_t *key, size_t keylen)
{
	struct ck *c = arg;
	uint8_t *nk = c->d->s->ck_new;
	dfi_err e = expand(c->ntype, c->nver, key, keylen, nk, &c->nklen);
	if (e == DFI_OK) {
		c->nk = nk;
		if (c->same)
			e = build(c, NULL, 0);
		else
			e = dfi_cardkey_with_bytes(c->old, with_old, c);
		c->nk = NULL;
	}
	dfi_wipe(nk, sizeof(c->d->s->ck_new));
	return e;
}

dfi_err
dfi_desfire_change_key(dfi_desfire *d, uint8_t keyno, const dfi_cardkey *new_key,
    const dfi_cardkey *old_key)
{
	struct ck c;
	size_t n;
	dfi_err e;

	if (d == NULL || new_key == NULL || keyno > 0x0D)
		return DFI_E_INVALID_ARG;
	if (d->scheme == DFI_DF_SCHEME_NONE)
		return DFI_E_NOT_AUTHENTICATED;
	memset(&c, 0, sizeof(c));
	c.d = d;
	c.kn = keyno;
	c.same = d->keyno == keyno;
	c.ntype = dfi_cardkey_type(new_key);
	c.nver = dfi_cardkey_version(new_key);
	if (!c.same) {
		if (old_key == NULL)
			return DFI_E_INVALID_ARG;
		c.old = old_key;
		c.otype = dfi_cardkey_type(old_key);
		c.over = dfi_cardkey_version(old_key);
	}
	/* At the PICC level the master key's new type rides in the key
	 * number, since the PICC has no application key type. */
	if (d->aid == 0 && keyno == 0) {
		if (c.ntype == DFI_KT_AES128)
			c.kn |= 0x80;
		else if (c.ntype == DFI_KT_3K3DES)
			c.kn |= 0x40;
	}
	e = dfi_cardkey_with_bytes(new_key, with_new, &c);
	if (e == DFI_OK)
		e = df_command(d, 0xC4, NULL, 0, c.body, c.bodylen, DF_COMM_ENC_RAW, DF_COMM_MGMT,
		    c.same ? DF_F_NO_RESP_MAC : 0, 0, NULL, 0, &n);
	dfi_wipe(&c, sizeof(c));
	return e;
}
