/* The five authentications (LRP's two are in auth_lrp.c). Every cryptogram made with the card key is made
 * by the key's holder (dfi_cardkey_cipher / dfi_cardkey_cmac); session keys
 * are derived on the host. */
#include <string.h>

#include "desfire_int.h"

static void
rotl1(const uint8_t *in, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = in[(i + 1) % n];
}

dfi_err
dfi_df_ev1_session_key(dfi_keytype t, const uint8_t *a, const uint8_t *b, uint8_t *out,
    size_t *outlen)
{
	/* The session key is 8-byte pieces RndA[o..o+3] || RndB[o..o+3], one
	 * piece per offset o. */
	static const size_t des[] = { 0 }, k2[] = { 0, 4 }, k3[] = { 0, 6, 12 }, aes[] = { 0, 12 };
	const size_t *off;
	size_t npieces;
	if (a == NULL || b == NULL || out == NULL || outlen == NULL)
		return DFI_E_INVALID_ARG;
	switch (t) {
	case DFI_KT_DES: off = des; npieces = 1; break;
	case DFI_KT_2K3DES: off = k2; npieces = 2; break;
	case DFI_KT_3K3DES: off = k3; npieces = 3; break;
	case DFI_KT_AES128: off = aes; npieces = 2; break;
	default: return DFI_E_INVALID_ARG;
	}
	for (size_t i = 0; i < npieces; i++) {
		memcpy(out + 8 * i, a + off[i], 4);
		memcpy(out + 8 * i + 4, b + off[i], 4);
	}
	*outlen = 8 * npieces;
	/* DES ignores the parity bits; clear them as the card's key version 0. */
	if (t != DFI_KT_AES128)
		for (size_t i = 0; i < *outlen; i++)
			out[i] &= 0xFE;
	return DFI_OK;
}

void
df_session_sv_body(const uint8_t a[16], const uint8_t b[16], uint8_t out[30])
{
	out[0] = 0x00;
	out[1] = 0x01;
	out[2] = 0x00;
	out[3] = 0x80;
	memcpy(out + 4, a, 2);
	for (int i = 0; i < 6; i++)
		out[6 + i] = a[2 + i] ^ b[i];
	memcpy(out + 12, b + 6, 10);
	memcpy(out + 22, a + 8, 8);
}

dfi_err
dfi_df_ev2_session_keys(const dfi_cardkey *key, const uint8_t a[16], const uint8_t b[16],
    uint8_t enc[16], uint8_t mac[16])
{
	uint8_t sv[32];
	dfi_err e;

	if (key == NULL || a == NULL || b == NULL || enc == NULL || mac == NULL ||
	    dfi_cardkey_type(key) != DFI_KT_AES128)
		return DFI_E_INVALID_ARG;
	/* SV = label || 00 01 00 80 || RndA[15..14] || (RndA[13..8] ^
	 * RndB[15..10]) || RndB[9..0] || RndA[7..0], byte 15 first. */
	sv[0] = 0xA5;
	sv[1] = 0x5A;
	df_session_sv_body(a, b, sv + 2);
	e = dfi_cardkey_cmac(key, sv, 32, enc);
	if (e == DFI_OK) {
		sv[0] = 0x5A;
		sv[1] = 0xA5;
		e = dfi_cardkey_cmac(key, sv, 32, mac);
	}
	dfi_wipe(sv, sizeof(sv));
	return e;
}

/*
 * One message of the three-pass handshake: the card must answer with
 * `want_sw2` (0xAF "more" after the first message, 0x00 after the second)
 * and exactly `want_len` bytes. Any other status is the card's error, or a
 * protocol error where the status itself means success.
 */
dfi_err
df_auth_exchange(dfi_desfire *d, uint8_t cmd, const uint8_t *data, size_t len, uint8_t want_sw2,
    uint8_t *r, size_t want_len)
{
	size_t rlen;
	uint8_t sw2;
	dfi_err e = df_frame(d, cmd, data, len, r, DFI_APDU_MAX, &rlen, &sw2);
	if (e != DFI_OK)
		return e;
	if (sw2 != want_sw2) {
		e = dfi_err_from_desfire_status(sw2);
		return e == DFI_OK ? DFI_E_CARD_PROTOCOL : e;
	}
	return rlen == want_len ? DFI_OK : DFI_E_CARD_PROTOCOL;
}

/* Legacy and EV1 authentication end alike: the session key from the two
 * randoms, the IV back to zero. */
static dfi_err
ev1_session_start(dfi_desfire *d, dfi_keytype kt, const uint8_t *rnda, const uint8_t *rndb,
    dfi_df_scheme scheme, uint8_t keyno)
{
	size_t klen;
	d->skt = kt;
	dfi_err e = dfi_df_ev1_session_key(kt, rnda, rndb, d->s->enc, &klen);
	if (e != DFI_OK)
		return e;
	memset(d->s->iv, 0, sizeof(d->s->iv));
	d->scheme = scheme;
	d->keyno = keyno;
	return DFI_OK;
}

/* Legacy 0x0A: the PCD deciphers what it sends, in the "send mode" chain. */
static dfi_err
auth_legacy(dfi_desfire *d, uint8_t keyno, const dfi_cardkey *key)
{
	struct df_auth_secrets *a = &d->s->auth;
	dfi_err e;

	if ((e = df_auth_exchange(d, 0x0A, &keyno, 1, 0xAF, a->r, 8)) != DFI_OK ||
	    (e = dfi_cardkey_cipher(key, 0, NULL, a->r, a->rndb, 8)) != DFI_OK ||
	    (e = df_random(d, a->rnda, 8)) != DFI_OK)
		return e;
	/* Send mode: y0 = D(RndA), y1 = D(RndB' ^ y0). Card-key operations
	 * never get aliased buffers (an HSM need not allow it). */
	rotl1(a->rndb, a->chk, 8);
	if ((e = dfi_cardkey_cipher(key, 0, NULL, a->rnda, a->tok, 8)) != DFI_OK)
		return e;
	for (int i = 0; i < 8; i++)
		a->chk[i] ^= a->tok[i];
	if ((e = dfi_cardkey_cipher(key, 0, NULL, a->chk, a->tok + 8, 8)) != DFI_OK ||
	    (e = df_auth_exchange(d, 0xAF, a->tok, 16, 0x00, a->r, 8)) != DFI_OK ||
	    (e = dfi_cardkey_cipher(key, 0, NULL, a->r, a->tok, 8)) != DFI_OK)
		return e;
	rotl1(a->rnda, a->chk, 8);
	if (dfi_ct_memcmp(a->chk, a->tok, 8) != 0)
		return DFI_E_CARD_AUTH;
	return ev1_session_start(d, dfi_cardkey_type(key), a->rnda, a->rndb, DFI_DF_SCHEME_D40,
	    keyno);
}

/*
 * The three passes shared by EV1 (ISO, AES) and EV2 authentication, all CBC
 * with the card key and n-byte randoms: E(RndB) from the card, E(RndA ||
 * RndB') back, and the card's answer of want bytes, deciphered into
 * a->plain, whose bytes from rnda_at must be RndA'. EV1 chains one IV
 * across the messages (chain_iv), EV2 starts every message from a zero IV.
 */
static dfi_err
auth_cbc(dfi_desfire *d, uint8_t cmd, const uint8_t *p1, size_t p1len, const dfi_cardkey *key,
    size_t n, int chain_iv, size_t want, size_t rnda_at)
{
	struct df_auth_secrets *a = &d->s->auth;
	uint8_t iv[16] = { 0 }; /* a cryptogram the card sent or zero: no secret */
	dfi_err e;

	if ((e = df_auth_exchange(d, cmd, p1, p1len, 0xAF, a->r, n)) != DFI_OK ||
	    (e = dfi_cardkey_cipher(key, 0, iv, a->r, a->rndb, n)) != DFI_OK ||
	    (e = df_random(d, a->rnda, n)) != DFI_OK)
		return e;
	memcpy(a->plain, a->rnda, n);
	rotl1(a->rndb, a->plain + n, n);
	if (!chain_iv)
		memset(iv, 0, sizeof(iv));
	if ((e = dfi_cardkey_cipher(key, 1, iv, a->plain, a->tok, 2 * n)) != DFI_OK ||
	    (e = df_auth_exchange(d, 0xAF, a->tok, 2 * n, 0x00, a->r, want)) != DFI_OK)
		return e;
	if (!chain_iv)
		memset(iv, 0, sizeof(iv));
	if ((e = dfi_cardkey_cipher(key, 0, iv, a->r, a->plain, want)) != DFI_OK)
		return e;
	rotl1(a->rnda, a->chk, n);
	return dfi_ct_memcmp(a->chk, a->plain + rnda_at, n) != 0 ? DFI_E_CARD_AUTH : DFI_OK;
}

/* ISO 0x1A and AES 0xAA: CBC with one IV chained across the three
 * messages, starting from zero. */
static dfi_err
auth_ev1(dfi_desfire *d, uint8_t cmd, uint8_t keyno, const dfi_cardkey *key)
{
	dfi_keytype kt = dfi_cardkey_type(key);
	size_t n = (kt == DFI_KT_3K3DES || kt == DFI_KT_AES128) ? 16 : 8;

	dfi_err e = auth_cbc(d, cmd, &keyno, 1, key, n, 1, n, 0);
	if (e == DFI_OK)
		e = ev1_session_start(d, kt, d->s->auth.rnda, d->s->auth.rndb, DFI_DF_SCHEME_EV1,
		    keyno);
	return e;
}

/* An EV2 session (AES or LRP) is up: First brings a new TI and counter 0,
 * NonFirst keeps the transaction's TI and counter. */
void
df_ev2_established(dfi_desfire *d, const uint8_t ti[4], uint16_t ctr, uint8_t keyno)
{
	memcpy(d->ti, ti, 4);
	d->ctr = ctr;
	memset(d->s->iv, 0, sizeof(d->s->iv));
	d->skt = DFI_KT_AES128;
	d->scheme = DFI_DF_SCHEME_EV2;
	d->keyno = keyno;
}

/* EV2 First (0x71) and NonFirst (0x77): every message CBC from a zero IV;
 * First answers TI || RndA' || PDcap2 || PCDcap2, NonFirst only RndA'. */
static dfi_err
auth_ev2(dfi_desfire *d, uint8_t cmd, uint8_t keyno, const dfi_cardkey *key, uint16_t ctr_keep)
{
	struct df_auth_secrets *a = &d->s->auth;
	uint8_t p1[2] = { keyno, 0x00 };
	int first = cmd == 0x71;

	dfi_err e = auth_cbc(d, cmd, p1, first ? 2 : 1, key, 16, 0, first ? 32 : 16, first ? 4 : 0);
	if (e == DFI_OK)
		e = dfi_df_ev2_session_keys(key, a->rnda, a->rndb, d->s->enc, d->s->mac);
	if (e == DFI_OK)
		df_ev2_established(d, first ? a->plain : a->ti, first ? 0 : ctr_keep, keyno);
	return e;
}

dfi_df_authcmd
dfi_df_auth_choose(int generation, dfi_keytype t, unsigned flags, int in_ev2_session)
{
	switch (t) {
	case DFI_KT_DES:
	case DFI_KT_2K3DES:
		return DFI_DF_AUTH_LEGACY;
	case DFI_KT_3K3DES:
		return DFI_DF_AUTH_ISO;
	default:
		break;
	}
	if (flags & DFI_DF_SM_LRP)
		return in_ev2_session ? DFI_DF_AUTH_LRP_NONFIRST : DFI_DF_AUTH_LRP_FIRST;
	if (generation < 2 || (flags & DFI_DF_SM_EV1))
		return DFI_DF_AUTH_AES;
	return in_ev2_session ? DFI_DF_AUTH_EV2_NONFIRST : DFI_DF_AUTH_EV2_FIRST;
}

dfi_err
dfi_desfire_authenticate(dfi_desfire *d, dfi_df_authcmd how, uint8_t keyno,
    const dfi_cardkey *key)
{
	if (d == NULL || key == NULL || keyno > 0x0D)
		return DFI_E_INVALID_ARG;
	dfi_keytype kt = dfi_cardkey_type(key);
	uint16_t ctr = d->ctr;
	int was_ev2 = d->scheme == DFI_DF_SCHEME_EV2, was_lrp = was_ev2 && d->lrp;
	dfi_err e;

	switch (how) {
	case DFI_DF_AUTH_LEGACY:
		if (kt != DFI_KT_DES && kt != DFI_KT_2K3DES)
			return DFI_E_INVALID_ARG;
		break;
	case DFI_DF_AUTH_ISO:
		if (kt == DFI_KT_AES128)
			return DFI_E_INVALID_ARG;
		break;
	case DFI_DF_AUTH_AES:
	case DFI_DF_AUTH_EV2_FIRST:
	case DFI_DF_AUTH_EV2_NONFIRST:
	case DFI_DF_AUTH_LRP_FIRST:
	case DFI_DF_AUTH_LRP_NONFIRST:
		if (kt != DFI_KT_AES128)
			return DFI_E_INVALID_ARG;
		/* A NonFirst continues a session of its own kind. */
		if ((how == DFI_DF_AUTH_EV2_NONFIRST && (!was_ev2 || was_lrp)) ||
		    (how == DFI_DF_AUTH_LRP_NONFIRST && !was_lrp))
			return DFI_E_NOT_AUTHENTICATED;
		break;
	default:
		return DFI_E_INVALID_ARG;
	}
	/* Starting an authentication ends the current one, on the card too;
	 * a NonFirst keeps the TI it had. */
	memcpy(d->s->auth.ti, d->ti, 4);
	df_drop_auth(d);
	switch (how) {
	case DFI_DF_AUTH_LEGACY:
		e = auth_legacy(d, keyno, key);
		break;
	case DFI_DF_AUTH_ISO:
	case DFI_DF_AUTH_AES:
		e = auth_ev1(d, (uint8_t)how, keyno, key);
		break;
	case DFI_DF_AUTH_LRP_FIRST:
	case DFI_DF_AUTH_LRP_NONFIRST:
		e = df_auth_lrp(d, how == DFI_DF_AUTH_LRP_FIRST, keyno, key, ctr);
		break;
	default:
		e = auth_ev2(d, (uint8_t)how, keyno, key, ctr);
		break;
	}
	if (e != DFI_OK)
		df_drop_auth(d);
	/* The exchange's one wipe, whichever step ended it. */
	dfi_wipe(&d->s->auth, sizeof(d->s->auth));
	return e;
}
