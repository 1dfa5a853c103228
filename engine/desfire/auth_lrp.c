/*
 * AuthenticateLRPFirst / NonFirst: AuthenticateEV2First (0x71) with
 * PCDCap2.1 = 0x02, and AuthenticateEV2NonFirst (0x77) on an LRP session,
 * on a card in LRP mode (MIFARE DESFire EV3, NTAG 424 DNA; NXP AN12304 for
 * LRP, AN12343 for a worked example).
 *
 *   PCD -> 71 KeyNo 01 02          (First; NonFirst: 77 KeyNo)
 *   PICC <- 01 || RndB             (AuthMode LRP, RndB in the clear) 91 AF
 *   PCD -> AF RndA || CMAC_LRP(SesAuthMAC, RndA || RndB)
 *   PICC <- First: PICCData || CMAC_LRP(SesAuthMAC, RndB || RndA || PICCData)
 *           NonFirst: CMAC_LRP(SesAuthMAC, RndB || RndA)              91 00
 *
 * with SesAuthMasterKey = CMAC_LRP(K, SV) and PICCData = LRICB(SesAuthENC,
 * EncCtr 0, TI || PDcap2 || PCDcap2). The only operation with the card key
 * K is the one that gives its LRP instance (dfi_lrp_init_cardkey: one ECB
 * of two constant blocks by the key's holder); that instance lives in the
 * session's locked memory for the duration of the exchange.
 */
#include <string.h>

#include "desfire_int.h"

/* SV of the LRP session key (AN12343; EV3/NTAG 424 DNA data sheets). */
static void
lrp_sv(const uint8_t a[16], const uint8_t b[16], uint8_t sv[32])
{
	df_session_sv_body(a, b, sv);
	sv[30] = 0x96;
	sv[31] = 0x69;
}

/* master = CMAC_LRP(key, SV), kl the (locked) room for the key's instance. */
static dfi_err
master_key(struct dfi_lrp *kl, const dfi_cardkey *key, const uint8_t a[16], const uint8_t b[16],
    uint8_t master[16])
{
	uint8_t sv[32];
	lrp_sv(a, b, sv);
	dfi_err e = dfi_lrp_init_cardkey(kl, key, 0);
	if (e == DFI_OK)
		e = dfi_lrp_cmac(kl, sv, sizeof(sv), master);
	dfi_wipe(kl, sizeof(*kl));
	dfi_wipe(sv, sizeof(sv));
	return e;
}

dfi_err
dfi_df_lrp_session_master(const dfi_cardkey *key, const uint8_t rnda[16], const uint8_t rndb[16],
    uint8_t master[16])
{
	if (key == NULL || rnda == NULL || rndb == NULL || master == NULL ||
	    dfi_cardkey_type(key) != DFI_KT_AES128)
		return DFI_E_INVALID_ARG;
	struct dfi_lrp *kl = dfi_secure_alloc(sizeof(*kl));
	if (kl == NULL)
		return DFI_E_NOMEM;
	dfi_err e = master_key(kl, key, rnda, rndb, master);
	dfi_secure_free(kl, sizeof(*kl));
	return e;
}

dfi_err
df_lrp_session_from_master(dfi_desfire *d)
{
	dfi_err e = dfi_lrp_init_key(&d->s->lmac, d->s->enc, 0);
	if (e == DFI_OK)
		e = dfi_lrp_init_key(&d->s->lenc, d->s->enc, 1);
	return e;
}

dfi_err
df_auth_lrp(dfi_desfire *d, int first, uint8_t keyno, const dfi_cardkey *key, uint16_t ctr_keep)
{
	struct df_auth_secrets *a = &d->s->auth;
	uint8_t p1[3] = { keyno, 0x01, 0x02 }; /* LenCap 1, PCDCap2.1 = LRP */
	size_t rlen;
	uint8_t sw2;
	dfi_err e;

	e = df_frame(d, first ? 0x71 : 0x77, p1, first ? 3 : 1, a->r, DFI_APDU_MAX, &rlen, &sw2);
	if (e != DFI_OK)
		return e;
	if (sw2 != 0xAF) {
		e = dfi_err_from_desfire_status(sw2);
		return e == DFI_OK ? DFI_E_CARD_PROTOCOL : e;
	}
	/* 16 bytes are E(RndB) of the AES form: the card is not in LRP mode.
	 * The pending exchange is abandoned by the next command. */
	if (rlen == 16)
		return DFI_E_UNSUPPORTED;
	if (rlen != 17 || a->r[0] != 0x01)
		return DFI_E_CARD_PROTOCOL;
	memcpy(a->rndb, a->r + 1, 16);
	if ((e = df_random(d, a->rnda, 16)) != DFI_OK)
		return e;
	/* SesAuthMasterKey into the session's key slot, then its two
	 * instances; lmac is the card key's room meanwhile. */
	if ((e = master_key(&d->s->lmac, key, a->rnda, a->rndb, d->s->enc)) != DFI_OK ||
	    (e = df_lrp_session_from_master(d)) != DFI_OK)
		return e;
	memcpy(a->plain, a->rnda, 16);
	memcpy(a->plain + 16, a->rndb, 16);
	if ((e = dfi_lrp_cmac(&d->s->lmac, a->plain, 32, a->tok)) != DFI_OK)
		return e;
	memcpy(a->plain + 16, a->tok, 16); /* RndA || PCDResponse */
	if ((e = df_auth_exchange(d, 0xAF, a->plain, 32, 0x00, a->r, first ? 32 : 16)) != DFI_OK)
		return e;
	/* PICCResponse over RndB || RndA [|| PICCData] */
	memcpy(a->plain, a->rndb, 16);
	memcpy(a->plain + 16, a->rnda, 16);
	if (first)
		memcpy(a->plain + 32, a->r, 16);
	if ((e = dfi_lrp_cmac(&d->s->lmac, a->plain, first ? 48 : 32, a->tok)) != DFI_OK)
		return e;
	if (dfi_ct_memcmp(a->tok, a->r + (first ? 16 : 0), 16) != 0)
		return DFI_E_CARD_AUTH;
	memset(d->lctr, 0, sizeof(d->lctr));
	/* First: TI || PDcap2 || PCDcap2 from PICCData, EncCtr 0; the
	 * session goes on at 1. */
	if (first && (e = dfi_lrp_cipher(&d->s->lenc, 0, d->lctr, 4, a->r, a->chk, 16)) != DFI_OK)
		return e;
	df_ev2_established(d, first ? a->chk : a->ti, first ? 0 : ctr_keep, keyno);
	d->lrp = 1;
	return DFI_OK;
}
