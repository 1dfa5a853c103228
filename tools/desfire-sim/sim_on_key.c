/* Key management: ChangeKey, ChangeKeySettings, GetKeySettings, GetKeyVersion. */
#include <string.h>

#include "dfissue/util.h"
#include "sim_int.h"

static uint8_t *
cur_ks(dfi_sim *s)
{
	return s->sel ? &s->sel->ks : &s->card->picc_ks;
}

uint8_t
sim_on_change_key_settings(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	(void)cmd;
	if (!sim_master_authed(s))
		return ST_AUTH;
	if (n != 1)
		return ST_LENGTH;
	if (!(*cur_ks(s) & 0x08))
		return ST_PERMISSION;
	*cur_ks(s) = d[0];
	return sim_changed(s, r, 16, SM_FULL);
}

uint8_t
sim_on_get_key_settings(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	(void)cmd; (void)d; (void)n;
	if (!sim_master_authed(s) && !(*cur_ks(s) & 0x02))
		return ST_AUTH;
	resp_u8(r, *cur_ks(s));
	if (s->sel == NULL)
		resp_u8(r, (uint8_t)(0x01 | s->card->picc_kfam << 6));
	else
		resp_u8(r, (uint8_t)(s->sel->nkeys | s->sel->kfam << 6));
	r->mode = SM_MAC;
	return ST_OK;
}

uint8_t
sim_on_get_key_version(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	(void)cmd; (void)n;
	if (s->sel == NULL) {
		if (d[0] != 0)
			return ST_NO_SUCH_KEY;
		resp_u8(r, sim_key_version(s->card->picc_kfam, &s->card->picc_key));
	} else {
		if (d[0] >= s->sel->nkeys)
			return ST_NO_SUCH_KEY;
		resp_u8(r, sim_key_version(s->sel->kfam, &s->sel->keys[d[0]]));
	}
	r->mode = SM_MAC;
	return ST_OK;
}

/*
 * The cryptogram, after deciphering, by session kind (nl = new key length,
 * V = version byte, present for AES keys):
 *   same key  D40: K || V || CRC16(K||V)            EV1: K || V || CRC32(cmd||keyno||K||V)
 *   other key D40: K^O || V || CRC16(K^O||V) || CRC16(K)
 *             EV1: K^O || V || CRC32(cmd||keyno||K^O||V) || CRC32(K)
 *   EV2 (MAC-protected, ISO padding): K || V   or   K^O || V || CRC32(K)
 * zero-padded to the block size for D40 and EV1.
 */
uint8_t
sim_on_change_key(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	if (n < 1)
		return ST_LENGTH;
	if (s->sess.kind == SESS_NONE)
		return ST_AUTH;
	uint8_t kn = d[0], keyno, kfam;
	struct sim_key *slot;
	if (s->sel == NULL) {
		if ((kn & 0x3F) != 0)
			return ST_NO_SUCH_KEY;
		if ((kn & 0xC0) == 0xC0)
			return ST_PARAMETER;
		keyno = 0;
		kfam = kn & 0x80 ? KF_AES : kn & 0x40 ? KF_3K3DES : KF_2K3DES;
		slot = &s->card->picc_key;
		if (!sim_master_authed(s))
			return ST_AUTH;
		if (!(s->card->picc_ks & 0x01))
			return ST_PERMISSION;
	} else {
		keyno = kn;
		if (keyno >= s->sel->nkeys)
			return ST_NO_SUCH_KEY;
		kfam = s->sel->kfam;
		slot = &s->sel->keys[keyno];
		uint8_t cak = s->sel->ks >> 4;
		if (keyno == 0) {
			if (!sim_master_authed(s))
				return ST_AUTH;
			if (!(s->sel->ks & 0x01))
				return ST_PERMISSION;
		} else if (cak == 0xF) {
			return ST_PERMISSION;
		} else if (cak == 0xE) {
			if (!sim_authed_with(s, keyno))
				return ST_AUTH;
		} else if (!sim_authed_with(s, cak)) {
			return ST_AUTH;
		}
	}
	bool same = s->sess.keyno == keyno;
	size_t nl = sim_kfam_keylen(kfam), vl = kfam == KF_AES ? 1 : 0;
	uint8_t buf[DFI_SIM_MAX_FRAME + 16], nk[DFI_MAX_KEY_LEN] = { 0 };
	size_t len;
	uint8_t st = sm_in(s, cmd, d, n, 1, SM_FULL, false, SIZE_MAX, buf, &len);
	if (st != ST_OK)
		return st;
	const uint8_t *p = buf + 1;
	size_t pl = len - 1, need;
	uint8_t ver = 0;
	st = ST_INTEGRITY;
	if (s->sess.kind == SESS_EV2) {
		if (kfam != KF_AES && pl == nl + (same ? 0 : 4) + 1)
			vl = 1; /* a version byte for a DES-family key is accepted and ignored */
		need = nl + vl + (same ? 0 : 4);
		if (pl != need) {
			st = ST_LENGTH;
			goto out;
		}
	} else {
		size_t bl = s->sess.kind == SESS_D40 ? 8 : dfi_keytype_blocklen(s->sess.st);
		size_t crcs = s->sess.kind == SESS_D40 ? (same ? 2 : 4) : (same ? 4 : 8);
		need = (nl + vl + crcs + bl - 1) / bl * bl;
		if (pl != need) {
			st = ST_LENGTH;
			goto out;
		}
	}
	memcpy(nk, p, nl);
	if (vl)
		ver = p[nl];
	/* D40 and EV1: the cryptogram's CRC; buf holds keyno (the header)
	 * first. Then the new key's own CRC, whatever the first showed: no
	 * earlier answer tells which of the two a forged cryptogram missed. */
	bool ok = s->sess.kind == SESS_EV2 || sm_cmd_crc_ok(s, cmd, buf, 1, nl + vl);
	if (!same) {
		for (size_t i = 0; i < nl; i++)
			nk[i] ^= slot->k[i];
		const uint8_t *crc = p + nl + vl + (s->sess.kind == SESS_D40 ? 2 : s->sess.kind == SESS_EV1 ? 4 : 0);
		ok = sm_crc_eq(s, nk, nl, crc) && ok;
	}
	if (!ok)
		goto out;
	if (kfam != KF_AES)
		ver = 0;
	memset(slot->k, 0, sizeof(slot->k));
	memcpy(slot->k, nk, nl);
	slot->aes_ver = kfam == KF_AES ? ver : 0;
	if (s->sel == NULL)
		s->card->picc_kfam = kfam;
	s->dirty = true;
	s->eeprom_bytes += 32;
	if (same)
		sm_clear(s); /* the session key's parent changed: the session ends */
	r->mode = SM_FULL;
	st = ST_OK;
out:
	dfi_wipe(buf, sizeof(buf));
	dfi_wipe(nk, sizeof(nk));
	return st;
}
