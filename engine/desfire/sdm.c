/*
 * Secure Dynamic Messaging cryptography (include/dfissue/sdm.h): PICC
 * data, session keys, SDMMAC and encrypted file data in AES and LRP mode,
 * and the check of one tap. Every operation with an SDM key goes through
 * its dfi_cardkey (the HSM); session keys are in locked memory.
 */
#include <stdlib.h>
#include <string.h>

#include "dfissue/lrp.h"
#include "dfissue/sdm.h"
#include "dfissue/util.h"

struct dfi_sdm_keys {
	enum dfi_sdm_cipher c;
	int has_ctr;
	uint8_t ctr[3];      /* SDMReadCtr, LSB first */
	uint8_t enc[16];     /* AES: SesSDMFileReadENC; LRP: the master */
	uint8_t mac[16];     /* AES: SesSDMFileReadMAC */
	struct dfi_lrp lmac; /* LRP: updated key 0 of the master */
	struct dfi_lrp lenc; /* LRP: updated key 1 */
};

static void
put_ctr(uint8_t p[3], uint32_t ctr)
{
	p[0] = (uint8_t)ctr;
	p[1] = (uint8_t)(ctr >> 8);
	p[2] = (uint8_t)(ctr >> 16);
}

dfi_err
dfi_sdm_picc_decrypt(const dfi_cardkey *meta, enum dfi_sdm_cipher c, const uint8_t *enc,
    size_t len, struct dfi_sdm_picc *out)
{
	uint8_t pt[16];
	dfi_err e;
	if (meta == NULL || enc == NULL || out == NULL || dfi_cardkey_type(meta) != DFI_KT_AES128)
		return DFI_E_INVALID_ARG;
	memset(out, 0, sizeof(*out));
	if (c == DFI_SDM_AES) {
		if (len != DFI_SDM_PICC_AES)
			return DFI_E_PARSE;
		/* CBC with a zero IV over one block: ECB. */
		e = dfi_cardkey_cipher(meta, 0, NULL, enc, pt, 16);
	} else if (c == DFI_SDM_LRP) {
		if (len != DFI_SDM_PICC_LRP)
			return DFI_E_PARSE;
		struct dfi_lrp *l = dfi_secure_alloc(sizeof(*l));
		uint8_t ctr[8];
		if (l == NULL)
			return DFI_E_NOMEM;
		memcpy(ctr, enc, 8); /* PICCRand */
		e = dfi_lrp_init_cardkey(l, meta, 0);
		if (e == DFI_OK)
			e = dfi_lrp_cipher(l, 0, ctr, sizeof(ctr), enc + 8, pt, 16);
		dfi_secure_free(l, sizeof(*l));
	} else {
		return DFI_E_INVALID_ARG;
	}
	if (e != DFI_OK)
		return e;
	/* Tag: bit 7 UID, bit 6 counter, bits 3..0 the UID length; a wrong
	 * key gives a random-looking tag, refused here most of the time. */
	out->tag = pt[0];
	out->has_uid = (pt[0] & 0x80) != 0;
	out->has_ctr = (pt[0] & 0x40) != 0;
	if ((pt[0] & 0x30) != 0 || (pt[0] & 0x0F) != (out->has_uid ? DFI_SDM_UID_LEN : 0) ||
	    (!out->has_uid && !out->has_ctr)) {
		dfi_wipe(pt, sizeof(pt));
		memset(out, 0, sizeof(*out));
		return DFI_E_CARD_MAC;
	}
	size_t at = 1;
	if (out->has_uid) {
		memcpy(out->uid, pt + at, DFI_SDM_UID_LEN);
		at += DFI_SDM_UID_LEN;
	}
	if (out->has_ctr)
		out->ctr = (uint32_t)pt[at] | (uint32_t)pt[at + 1] << 8 | (uint32_t)pt[at + 2] << 16;
	dfi_wipe(pt, sizeof(pt));
	return DFI_OK;
}

dfi_err
dfi_sdm_picc_encrypt(const dfi_cardkey *meta, enum dfi_sdm_cipher c, const struct dfi_sdm_picc *in,
    const uint8_t rnd[24], uint8_t *out, size_t cap, size_t *len)
{
	uint8_t pt[16];
	size_t at = 1;
	dfi_err e;
	if (meta == NULL || in == NULL || rnd == NULL || out == NULL || len == NULL ||
	    (!in->has_uid && !in->has_ctr) || in->ctr > 0xFFFFFF)
		return DFI_E_INVALID_ARG;
	size_t need = c == DFI_SDM_LRP ? DFI_SDM_PICC_LRP : DFI_SDM_PICC_AES;
	if (cap < need)
		return DFI_E_BUFFER_TOO_SMALL;
	memcpy(pt, rnd + 8, 16); /* the padding: whatever is not overwritten */
	pt[0] = (uint8_t)((in->has_uid ? 0x80 | DFI_SDM_UID_LEN : 0) | (in->has_ctr ? 0x40 : 0));
	if (in->has_uid) {
		memcpy(pt + at, in->uid, DFI_SDM_UID_LEN);
		at += DFI_SDM_UID_LEN;
	}
	if (in->has_ctr)
		put_ctr(pt + at, in->ctr);
	if (c == DFI_SDM_AES) {
		e = dfi_cardkey_cipher(meta, 1, NULL, pt, out, 16);
	} else if (c == DFI_SDM_LRP) {
		struct dfi_lrp *l = dfi_secure_alloc(sizeof(*l));
		uint8_t ctr[8];
		if (l == NULL)
			return DFI_E_NOMEM;
		memcpy(ctr, rnd, 8);
		memcpy(out, rnd, 8);
		e = dfi_lrp_init_cardkey(l, meta, 0);
		if (e == DFI_OK)
			e = dfi_lrp_cipher(l, 1, ctr, sizeof(ctr), pt, out + 8, 16);
		dfi_secure_free(l, sizeof(*l));
	} else {
		e = DFI_E_INVALID_ARG;
	}
	dfi_wipe(pt, sizeof(pt));
	if (e == DFI_OK)
		*len = need;
	return e;
}

void
dfi_sdm_keys_free(dfi_sdm_keys *k)
{
	if (k != NULL)
		dfi_secure_free(k, sizeof(*k));
}

dfi_err
dfi_sdm_keys_new(dfi_sdm_keys **out, const dfi_cardkey *fk, enum dfi_sdm_cipher c,
    const uint8_t *uid, const uint32_t *ctr)
{
	uint8_t sv[32];
	size_t n = 0;
	dfi_err e;
	if (out == NULL || fk == NULL || dfi_cardkey_type(fk) != DFI_KT_AES128 ||
	    (c != DFI_SDM_AES && c != DFI_SDM_LRP) || (ctr != NULL && *ctr > 0xFFFFFF))
		return DFI_E_INVALID_ARG;
	dfi_sdm_keys *k = dfi_secure_alloc(sizeof(*k));
	if (k == NULL)
		return DFI_E_NOMEM;
	memset(k, 0, sizeof(*k));
	k->c = c;
	if (ctr != NULL) {
		k->has_ctr = 1;
		put_ctr(k->ctr, *ctr);
	}
	memset(sv, 0, sizeof(sv));
	if (c == DFI_SDM_AES) {
		sv[0] = 0xC3;
		sv[1] = 0x3C;
		n = 2;
	}
	sv[n++] = 0x00;
	sv[n++] = 0x01;
	sv[n++] = 0x00;
	sv[n++] = 0x80;
	if (uid != NULL) {
		memcpy(sv + n, uid, DFI_SDM_UID_LEN);
		n += DFI_SDM_UID_LEN;
	}
	if (ctr != NULL) {
		memcpy(sv + n, k->ctr, 3);
		n += 3;
	}
	if (c == DFI_SDM_AES) {
		/* SV1 (ENC) and SV2 (MAC), zero-padded to one block. */
		e = dfi_cardkey_cmac(fk, sv, 16, k->enc);
		sv[0] = 0x3C;
		sv[1] = 0xC3;
		if (e == DFI_OK)
			e = dfi_cardkey_cmac(fk, sv, 16, k->mac);
	} else {
		/* zeros, then 1E E1 closing a multiple of 16 bytes */
		size_t total = n + 2 <= 16 ? 16 : 32;
		sv[total - 2] = 0x1E;
		sv[total - 1] = 0xE1;
		struct dfi_lrp *kl = &k->lenc; /* the card key's room, overwritten below */
		e = dfi_lrp_init_cardkey(kl, fk, 0);
		if (e == DFI_OK)
			e = dfi_lrp_cmac(kl, sv, total, k->enc);
		if (e == DFI_OK)
			e = dfi_lrp_init_key(&k->lmac, k->enc, 0);
		if (e == DFI_OK)
			e = dfi_lrp_init_key(&k->lenc, k->enc, 1);
	}
	dfi_wipe(sv, sizeof(sv));
	if (e != DFI_OK) {
		dfi_sdm_keys_free(k);
		return e;
	}
	*out = k;
	return DFI_OK;
}

dfi_err
dfi_sdm_mac(const dfi_sdm_keys *k, const uint8_t *in, size_t len, uint8_t mac[DFI_SDM_MAC_LEN])
{
	uint8_t full[16];
	if (k == NULL || mac == NULL || (len > 0 && in == NULL))
		return DFI_E_INVALID_ARG;
	dfi_err e = k->c == DFI_SDM_LRP ? dfi_lrp_cmac(&k->lmac, in, len, full) :
	    dfi_cmac(DFI_KT_AES128, k->mac, NULL, in, len, full);
	if (e == DFI_OK)
		for (int i = 0; i < DFI_SDM_MAC_LEN; i++)
			mac[i] = full[2 * i + 1];
	dfi_wipe(full, sizeof(full));
	return e;
}

dfi_err
dfi_sdm_file_crypt(const dfi_sdm_keys *k, int encrypt, const uint8_t *in, uint8_t *out,
    size_t len)
{
	uint8_t iv[16] = { 0 };
	if (k == NULL || (len > 0 && (in == NULL || out == NULL)) || len % 16 != 0)
		return DFI_E_INVALID_ARG;
	if (!k->has_ctr)
		return DFI_E_INVALID_ARG; /* the card only enciphers with both mirrors */
	memcpy(iv, k->ctr, 3);
	dfi_err e;
	if (k->c == DFI_SDM_LRP) {
		/* counter SDMReadCtr || 00 00 00 */
		uint8_t ctr[6] = { k->ctr[0], k->ctr[1], k->ctr[2], 0, 0, 0 };
		e = dfi_lrp_cipher(&k->lenc, encrypt, ctr, sizeof(ctr), in, out, len);
	} else {
		e = dfi_cipher(DFI_KT_AES128, k->enc, 1, NULL, iv, iv, 16);
		if (e == DFI_OK)
			e = dfi_cipher(DFI_KT_AES128, k->enc, encrypt, iv, in, out, len);
	}
	dfi_wipe(iv, sizeof(iv));
	return e;
}

dfi_err
dfi_sdm_keys_export(const dfi_sdm_keys *k, uint8_t enc[16], uint8_t mac[16])
{
	if (k == NULL || enc == NULL || mac == NULL)
		return DFI_E_INVALID_ARG;
	memcpy(enc, k->enc, 16);
	memcpy(mac, k->c == DFI_SDM_LRP ? k->enc : k->mac, 16);
	return DFI_OK;
}

dfi_err
dfi_sdm_verify(const struct dfi_sdm_layout *l, const struct dfi_sdm_tap *t,
    const dfi_cardkey *meta, dfi_sdm_file_key_fn file_key, void *arg,
    struct dfi_sdm_result *out)
{
	struct dfi_sdm_picc picc;
	dfi_cardkey *fk = NULL;
	dfi_sdm_keys *k = NULL;
	uint8_t mac[DFI_SDM_MAC_LEN];
	dfi_err e;

	if (l == NULL || t == NULL || file_key == NULL || out == NULL)
		return DFI_E_INVALID_ARG;
	memset(out, 0, sizeof(*out));
	memset(&picc, 0, sizeof(picc));
	if (!l->has_mac)
		return DFI_E_INVALID_ARG; /* nothing to verify */
	if (l->has_picc) {
		if (meta == NULL)
			return DFI_E_INVALID_ARG;
		if ((e = dfi_sdm_picc_decrypt(meta, l->cipher, t->picc, t->picc_len, &picc)) != DFI_OK)
			return e;
		/* The tag must say what the layout mirrors. */
		if (picc.has_uid != ((l->sdm.options & DFI_DF_SDM_UID) != 0) ||
		    picc.has_ctr != ((l->sdm.options & DFI_DF_SDM_CTR) != 0))
			return DFI_E_CARD_MAC;
	} else {
		picc.has_uid = l->has_uid;
		picc.has_ctr = l->has_ctr;
		memcpy(picc.uid, t->uid, DFI_SDM_UID_LEN);
		picc.ctr = t->ctr;
	}
	if ((e = file_key(arg, picc.has_uid ? picc.uid : NULL, &fk)) != DFI_OK)
		return e;
	e = dfi_sdm_keys_new(&k, fk, l->cipher, picc.has_uid ? picc.uid : NULL,
	    picc.has_ctr ? &picc.ctr : NULL);
	if (e == DFI_OK)
		e = dfi_sdm_mac(k, (const uint8_t *)t->text + t->mac_in_at, t->mac_in_len, mac);
	if (e == DFI_OK && dfi_ct_memcmp(mac, t->mac, sizeof(mac)) != 0)
		e = DFI_E_CARD_MAC;
	if (e == DFI_OK && l->has_enc) {
		if (t->enc_len > sizeof(out->file))
			e = DFI_E_PARSE;
		else if ((e = dfi_sdm_file_crypt(k, 0, t->enc, out->file, t->enc_len)) == DFI_OK)
			out->file_len = t->enc_len;
	}
	if (e == DFI_OK) {
		out->has_uid = picc.has_uid;
		out->has_ctr = picc.has_ctr;
		memcpy(out->uid, picc.uid, DFI_SDM_UID_LEN);
		out->ctr = picc.ctr;
	} else {
		dfi_wipe(out->file, sizeof(out->file));
	}
	dfi_sdm_keys_free(k);
	dfi_cardkey_free(fk);
	dfi_wipe(&picc, sizeof(picc));
	return e;
}
