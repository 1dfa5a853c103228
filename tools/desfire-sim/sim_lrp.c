/*
 * The card's side of LRP (--model ev3): SetConfiguration option 05 switches
 * the PICC to LRP mode for good; from then on its AES keys authenticate
 * only with AuthenticateLRPFirst (0x71 with PCDCap2.1 = 02) and NonFirst
 * (0x77 in an LRP session), and the session's secure messaging is EV2's
 * with CMAC_LRP and LRICB (NXP AN12304; the EV3 and NTAG 424 DNA data
 * sheets; AN12343's example).
 *
 *   part 1: <- 01 || RndB                                       91 AF
 *   part 2: -> RndA || CMAC_LRP(SesAuthMAC, RndA || RndB)
 *           <- First: PICCData || CMAC_LRP(SesAuthMAC, RndB || RndA || PICCData)
 *              NonFirst: CMAC_LRP(SesAuthMAC, RndB || RndA)      91 00
 * SesAuthMasterKey = CMAC_LRP(K, 00 01 00 80 || RndA[15..14] ||
 * (RndA[13..8] ^ RndB[15..10]) || RndB[9..0] || RndA[7..0] || 96 69);
 * SesAuthMAC/ENC are its updated keys 0/1; PICCData = LRICB(SesAuthENC,
 * EncCtr 0, TI || PDcap2 || PCDcap2), EncCtr 1 afterwards.
 */
#include <string.h>

#include "dfissue/util.h"
#include "sim_int.h"

static uint8_t
lrp_fail(dfi_sim *s, uint8_t st)
{
	dfi_wipe(&s->pend, offsetof(struct sim_pending, resp));
	s->pend.kind = PEND_NONE;
	s->pend.lrp = false;
	sm_clear(s);
	return st;
}

void
sim_lrp_pdcap2(const dfi_sim *s, uint8_t pdcap2[6])
{
	memset(pdcap2, 0, 6);
	if (s->card->lrp)
		pdcap2[0] = 0x02;
}

uint8_t
sim_lrp_set_capabilities(dfi_sim *s, const uint8_t *data, size_t len)
{
	if (len != 10)
		return ST_LENGTH;
	for (size_t i = 0; i < len; i++)
		if (data[i] & (i == 4 ? ~0x02 : 0xFF))
			return ST_PARAMETER; /* only the LRP bit is simulated */
	bool want = (data[4] & 0x02) != 0;
	if (s->card->lrp && !want)
		return ST_PARAMETER; /* LRP mode cannot be left */
	s->card->lrp = want;
	return ST_OK;
}

uint8_t
sim_lrp_auth_start(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, const uint8_t key[16],
    bool had_lrp, struct sim_resp *r)
{
	struct sim_pending *p = &s->pend;
	if (cmd == 0x71 && (n < 3 || d[1] < 1 || !(d[2] & 0x02)))
		return ST_AUTH; /* an LRP card's AES keys authenticate with LRP only */
	if (cmd == 0x77 && !had_lrp)
		return ST_AUTH;
	p->akt = DFI_KT_AES128;
	memcpy(p->akey, key, 16);
	p->auth_cmd = cmd;
	p->auth_keyno = d[0];
	memset(p->pcdcap, 0, sizeof(p->pcdcap));
	if (cmd == 0x71)
		memcpy(p->pcdcap, d + 2, d[1]);
	if (sim_rng_bytes(&s->rng, p->rndb, 16) != DFI_OK)
		return lrp_fail(s, ST_AUTH);
	p->kind = PEND_AUTH;
	p->lrp = true;
	r->raw = true;
	resp_u8(r, 0x01); /* AuthMode: LRP */
	resp_put(r, p->rndb, 16);
	return ST_MORE;
}

/* SesAuthMasterKey into m. */
static dfi_err
master(const uint8_t key[16], const uint8_t a[16], const uint8_t b[16], uint8_t m[16])
{
	struct dfi_lrp *l = dfi_secure_alloc(sizeof(*l));
	uint8_t sv[32];
	if (l == NULL)
		return DFI_E_NOMEM;
	sim_sv_body(a, b, sv);
	sv[30] = 0x96;
	sv[31] = 0x69;
	dfi_err e = dfi_lrp_init_key(l, key, 0);
	if (e == DFI_OK)
		e = dfi_lrp_cmac(l, sv, sizeof(sv), m);
	dfi_secure_free(l, sizeof(*l));
	dfi_wipe(sv, sizeof(sv));
	return e;
}

uint8_t
sim_lrp_auth_continue(dfi_sim *s, const uint8_t *d, size_t n, struct sim_resp *r)
{
	struct sim_pending *p = &s->pend;
	struct sim_lrp_session *ls = &s->sess.lrp;
	uint8_t m[16], msg[48], mac[16], picc[16];
	dfi_err e;
	r->raw = true;
	if (n != 32)
		return lrp_fail(s, ST_LENGTH);
	const uint8_t *rnda = d;
	if ((e = master(p->akey, rnda, p->rndb, m)) == DFI_OK &&
	    (e = dfi_lrp_init_key(&ls->lmac, m, 0)) == DFI_OK)
		e = dfi_lrp_init_key(&ls->lenc, m, 1);
	dfi_wipe(m, sizeof(m));
	memcpy(msg, rnda, 16);
	memcpy(msg + 16, p->rndb, 16);
	if (e == DFI_OK)
		e = dfi_lrp_cmac(&ls->lmac, msg, 32, mac);
	if (e != DFI_OK || dfi_ct_memcmp(mac, d + 16, 16) != 0) {
		dfi_wipe(msg, sizeof(msg));
		return lrp_fail(s, ST_AUTH);
	}
	memcpy(msg, p->rndb, 16);
	memcpy(msg + 16, rnda, 16);
	memset(ls->ctr, 0, sizeof(ls->ctr));
	bool first = p->auth_cmd == 0x71;
	if (first) {
		uint8_t pt[16];
		if (sim_rng_bytes(&s->rng, s->sess.ti, 4) != DFI_OK)
			return lrp_fail(s, ST_AUTH);
		s->sess.ctr = 0;
		memcpy(pt, s->sess.ti, 4);
		sim_lrp_pdcap2(s, pt + 4);
		memcpy(pt + 10, p->pcdcap, 6);
		e = dfi_lrp_cipher(&ls->lenc, 1, ls->ctr, sizeof(ls->ctr), pt, picc, 16);
		dfi_wipe(pt, sizeof(pt));
		memcpy(msg + 32, picc, 16);
	}
	if (e == DFI_OK)
		e = dfi_lrp_cmac(&ls->lmac, msg, first ? 48 : 32, mac);
	dfi_wipe(msg, sizeof(msg));
	if (e != DFI_OK)
		return lrp_fail(s, ST_AUTH);
	if (first)
		resp_put(r, picc, 16);
	resp_put(r, mac, 16);
	s->sess.kind = SESS_EV2;
	s->sess.keyno = p->auth_keyno;
	s->sess.st = DFI_KT_AES128;
	ls->on = true;
	dfi_wipe(p, offsetof(struct sim_pending, resp));
	p->kind = PEND_NONE;
	p->lrp = false;
	return ST_OK;
}

dfi_err
sim_lrp_mac(dfi_sim *s, const uint8_t *msg, size_t len, uint8_t full[16])
{
	return dfi_lrp_cmac(&s->sess.lrp.lmac, msg, len, full);
}

dfi_err
sim_lrp_crypt(dfi_sim *s, int encrypt, const uint8_t *in, uint8_t *out, size_t len)
{
	struct sim_lrp_session *ls = &s->sess.lrp;
	return dfi_lrp_cipher(&ls->lenc, encrypt, ls->ctr, sizeof(ls->ctr), in, out, len);
}
