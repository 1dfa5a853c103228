/*
 * The card's side of authentication: legacy 0x0A (DES/2K3DES; the card
 * enciphers, the PCD works in "send mode"), ISO 0x1A (DES/2K3DES/3K3DES)
 * and AES 0xAA (one CBC chain across the three messages), and EV2
 * AuthenticateEV2First 0x71 / NonFirst 0x77 (AES, zero IV per message,
 * session keys from SV1/SV2 by CMAC).
 */
#include <string.h>

#include "dfissue/util.h"
#include "sim_int.h"

static void
rotl1(const uint8_t *in, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = in[(i + 1) % n];
}

static uint8_t
fail(dfi_sim *s)
{
	dfi_wipe(&s->pend, offsetof(struct sim_pending, resp));
	s->pend.kind = PEND_NONE;
	sm_clear(s);
	return ST_AUTH;
}

uint8_t
sim_on_authenticate(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	uint8_t saved_ti[4];
	uint16_t saved_ctr = s->sess.ctr;
	bool had_ev2 = s->sess.kind == SESS_EV2, had_lrp = had_ev2 && s->sess.lrp.on;
	memcpy(saved_ti, s->sess.ti, 4);
	/* Any authentication attempt ends the current session. */
	sm_clear(s);

	if (n < 1)
		return ST_LENGTH;
	if (cmd == 0x71) {
		if (n < 2 || d[1] > 6 || n != 2u + d[1])
			return ST_LENGTH;
	} else if (n != 1) {
		return ST_LENGTH;
	}
	uint8_t keyno = d[0];
	const struct sim_key *k;
	uint8_t kfam;
	if (s->sel == NULL) {
		if (keyno != 0)
			return ST_NO_SUCH_KEY;
		k = &s->card->picc_key;
		kfam = s->card->picc_kfam;
	} else {
		if (keyno >= s->sel->nkeys)
			return ST_NO_SUCH_KEY;
		k = &s->sel->keys[keyno];
		kfam = s->sel->kfam;
	}
	bool ok;
	switch (cmd) {
	case 0x0A: ok = kfam == KF_2K3DES; break;
	case 0x1A: ok = kfam == KF_2K3DES || kfam == KF_3K3DES; break;
	default: ok = kfam == KF_AES; break;
	}
	if (!ok)
		return ST_AUTH;
	if (cmd == 0x77 && !had_ev2)
		return ST_AUTH;
	if (s->card->lrp && kfam == KF_AES) {
		/* EV3 in LRP mode: AES keys take LRP only (sim_lrp.c). */
		uint8_t key[DFI_MAX_KEY_LEN];
		size_t kl;
		if (cmd == 0xAA)
			return ST_AUTH;
		(void)sim_key_cipher(kfam, k, key, &kl);
		if (cmd == 0x77) {
			memcpy(s->sess.ti, saved_ti, 4);
			s->sess.ctr = saved_ctr;
		}
		uint8_t st = sim_lrp_auth_start(s, cmd, d, n, key, had_lrp, r);
		dfi_wipe(key, sizeof(key));
		return st;
	}

	struct sim_pending *p = &s->pend;
	size_t klen;
	p->akt = sim_key_cipher(kfam, k, p->akey, &klen);
	p->auth_cmd = cmd;
	p->auth_keyno = keyno;
	memset(p->pcdcap, 0, sizeof(p->pcdcap));
	if (cmd == 0x71 && d[1] > 0)
		memcpy(p->pcdcap, d + 2, d[1]);
	if (cmd == 0x77) {
		memcpy(s->sess.ti, saved_ti, 4);
		s->sess.ctr = saved_ctr;
	}
	size_t rl = (p->akt == DFI_KT_DES || p->akt == DFI_KT_2K3DES) ? 8 : 16;
	uint8_t ek[16], iv[16] = { 0 };
	if (sim_rng_bytes(&s->rng, p->rndb, rl) != DFI_OK ||
	    dfi_cipher(p->akt, p->akey, 1, iv, p->rndb, ek, rl) != DFI_OK)
		return fail(s);
	size_t bl = dfi_keytype_blocklen(p->akt);
	memcpy(p->ekrndb_last, ek + rl - bl, bl);
	p->kind = PEND_AUTH;
	r->raw = true;
	resp_put(r, ek, rl);
	return ST_MORE;
}

static void
session_key_ev1(dfi_sim *s, dfi_keytype kt, const uint8_t *a, const uint8_t *b)
{
	uint8_t *sk = s->sess.sk;
	switch (kt) {
	case DFI_KT_DES:
		memcpy(sk, a, 4); memcpy(sk + 4, b, 4);
		break;
	case DFI_KT_2K3DES:
		memcpy(sk, a, 4); memcpy(sk + 4, b, 4);
		memcpy(sk + 8, a + 4, 4); memcpy(sk + 12, b + 4, 4);
		break;
	case DFI_KT_3K3DES:
		memcpy(sk, a, 4); memcpy(sk + 4, b, 4);
		memcpy(sk + 8, a + 6, 4); memcpy(sk + 12, b + 6, 4);
		memcpy(sk + 16, a + 12, 4); memcpy(sk + 20, b + 12, 4);
		break;
	case DFI_KT_AES128:
		memcpy(sk, a, 4); memcpy(sk + 4, b, 4);
		memcpy(sk + 8, a + 12, 4); memcpy(sk + 12, b + 12, 4);
		break;
	}
	s->sess.st = kt;
}

void
sim_sv_body(const uint8_t a[16], const uint8_t b[16], uint8_t out[30])
{
	out[0] = 0x00; out[1] = 0x01; out[2] = 0x00; out[3] = 0x80;
	out[4] = a[0];
	out[5] = a[1];
	for (int i = 0; i < 6; i++)
		out[6 + i] = a[2 + i] ^ b[i];
	memcpy(out + 12, b + 6, 10);
	memcpy(out + 22, a + 8, 8);
}

static dfi_err
session_keys_ev2(dfi_sim *s, const uint8_t *key, const uint8_t *a, const uint8_t *b)
{
	uint8_t sv[32];
	sv[0] = 0xA5; sv[1] = 0x5A;
	sim_sv_body(a, b, sv + 2);
	dfi_err e = dfi_cmac(DFI_KT_AES128, key, NULL, sv, 32, s->sess.kenc);
	sv[0] = 0x5A; sv[1] = 0xA5;
	if (e == DFI_OK)
		e = dfi_cmac(DFI_KT_AES128, key, NULL, sv, 32, s->sess.kmac);
	dfi_wipe(sv, sizeof(sv));
	return e;
}

uint8_t
sim_on_auth_continue(dfi_sim *s, const uint8_t *d, size_t n, struct sim_resp *r)
{
	struct sim_pending *p = &s->pend;
	size_t rl = (p->akt == DFI_KT_DES || p->akt == DFI_KT_2K3DES) ? 8 : 16;
	size_t bl = dfi_keytype_blocklen(p->akt);
	uint8_t plain[32], rot[16], out[32], iv[16] = { 0 };
	if (p->lrp)
		return sim_lrp_auth_continue(s, d, n, r);
	r->raw = true;
	if (n != 2 * rl) {
		fail(s);
		return ST_LENGTH;
	}
	dfi_err e;
	if (p->auth_cmd == 0x0A) {
		/* Undo send mode: x_i = E(y_i) ^ y_{i-1}. */
		e = dfi_cipher(p->akt, p->akey, 1, NULL, d, plain, 16);
		for (size_t i = 0; i < 8; i++)
			plain[8 + i] ^= d[i];
	} else if (p->auth_cmd == 0x1A || p->auth_cmd == 0xAA) {
		memcpy(iv, p->ekrndb_last, bl);
		e = dfi_cipher(p->akt, p->akey, 0, iv, d, plain, 2 * rl);
	} else {
		e = dfi_cipher(p->akt, p->akey, 0, iv, d, plain, 2 * rl);
	}
	rotl1(p->rndb, rot, rl);
	if (e != DFI_OK || dfi_ct_memcmp(rot, plain + rl, rl) != 0) {
		dfi_wipe(plain, sizeof(plain));
		return fail(s);
	}
	const uint8_t *rnda = plain;
	rotl1(rnda, rot, rl);
	size_t olen = rl;
	memset(iv, 0, sizeof(iv));
	switch (p->auth_cmd) {
	case 0x0A:
	case 0x1A:
	case 0xAA:
		/* EV1 chains the IV on from the PCD's last cipher block; the
		 * legacy (D40) authentication starts again from zero. */
		if (p->auth_cmd != 0x0A)
			memcpy(iv, d + 2 * rl - bl, bl);
		memcpy(out, rot, rl);
		e = dfi_cipher(p->akt, p->akey, 1, iv, out, out, rl);
		session_key_ev1(s, p->akt, rnda, p->rndb);
		s->sess.kind = p->auth_cmd == 0x0A ? SESS_D40 : SESS_EV1;
		break;
	case 0x71:
		if (sim_rng_bytes(&s->rng, s->sess.ti, 4) != DFI_OK) {
			e = DFI_E_CRYPTO;
			break;
		}
		s->sess.ctr = 0;
		memcpy(out, s->sess.ti, 4);
		memcpy(out + 4, rot, 16);
		memset(out + 20, 0, 6); /* PDcap2 */
		memcpy(out + 26, p->pcdcap, 6);
		olen = 32;
		e = dfi_cipher(DFI_KT_AES128, p->akey, 1, iv, out, out, 32);
		if (e == DFI_OK)
			e = session_keys_ev2(s, p->akey, rnda, p->rndb);
		s->sess.kind = SESS_EV2;
		break;
	default: /* 0x77 keeps TI and the command counter */
		memcpy(out, rot, 16);
		e = dfi_cipher(DFI_KT_AES128, p->akey, 1, iv, out, out, 16);
		if (e == DFI_OK)
			e = session_keys_ev2(s, p->akey, rnda, p->rndb);
		s->sess.kind = SESS_EV2;
		break;
	}
	dfi_wipe(plain, sizeof(plain));
	dfi_wipe(rot, sizeof(rot));
	if (e != DFI_OK)
		return fail(s);
	s->sess.keyno = p->auth_keyno;
	memset(s->sess.iv, 0, sizeof(s->sess.iv));
	dfi_wipe(p, offsetof(struct sim_pending, resp));
	p->kind = PEND_NONE;
	resp_put(r, out, olen);
	return ST_OK;
}
