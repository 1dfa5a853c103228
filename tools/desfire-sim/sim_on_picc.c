/* PICC-level commands: version, UID, applications, format, memory, configuration. */
#include <stdlib.h>
#include <string.h>

#include "dfissue/util.h"
#include "sim_int.h"

/* Production batch and date the simulated card reports (GetVersion). */
static const uint8_t batch[5] = { 0xD1, 0x5E, 0x00, 0x00, 0x01 };
#define PROD_WEEK 0x26
#define PROD_YEAR 0x24

uint8_t
sim_on_get_version(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	(void)cmd; (void)d; (void)n;
	/* vendor NXP, type DESFire, subtype, major, minor, 8 KB (2^13), ISO 14443-2/3 */
	static const uint8_t ev1_hw[7] = { 0x04, 0x01, 0x01, 0x01, 0x00, 0x1A, 0x05 };
	static const uint8_t ev1_sw[7] = { 0x04, 0x01, 0x01, 0x01, 0x04, 0x1A, 0x05 };
	static const uint8_t ev2_hw[7] = { 0x04, 0x01, 0x01, 0x12, 0x00, 0x1A, 0x05 };
	static const uint8_t ev2_sw[7] = { 0x04, 0x01, 0x01, 0x12, 0x00, 0x1A, 0x05 };
	/* EV3: major version 0x33 (hardware and software) */
	static const uint8_t ev3_hw[7] = { 0x04, 0x01, 0x01, 0x33, 0x00, 0x1A, 0x05 };
	bool ev1 = s->cfg.model == DFI_SIM_MODEL_EV1, ev3 = s->cfg.model == DFI_SIM_MODEL_EV3;
	resp_put(r, ev1 ? ev1_hw : ev3 ? ev3_hw : ev2_hw, 7);
	resp_put(r, ev1 ? ev1_sw : ev3 ? ev3_hw : ev2_sw, 7);
	uint8_t uid[DFI_SIM_UID_LEN] = { 0 };
	/* With random ID on, the card hides its UID until authenticated. */
	if (!(s->card->config & 0x02) || s->sess.kind != SESS_NONE)
		memcpy(uid, s->card->uid, sizeof(uid));
	resp_put(r, uid, sizeof(uid));
	resp_put(r, batch, sizeof(batch));
	resp_u8(r, PROD_WEEK);
	resp_u8(r, PROD_YEAR);
	r->version_split = true;
	r->mode = SM_MAC;
	return ST_OK;
}

uint8_t
sim_on_get_card_uid(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	(void)cmd; (void)d; (void)n;
	if (s->sess.kind == SESS_NONE)
		return ST_AUTH;
	resp_put(r, s->card->uid, DFI_SIM_UID_LEN);
	r->mode = SM_FULL;
	return ST_OK;
}

uint8_t
sim_on_select_app(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	(void)cmd; (void)n;
	/* Selecting ends the session and any open transaction. */
	sim_abort_transaction(s);
	sm_clear(s);
	uint32_t aid = le24(d);
	s->sel = NULL;
	s->sel_aid = 0;
	s->iso_ef = -1;
	if (aid != 0) {
		struct sim_app *a = sim_find_app(s->card, aid);
		if (a == NULL)
			return ST_APP_NOT_FOUND;
		s->sel = a;
		s->sel_aid = aid;
	}
	r->mode = SM_PLAIN;
	return ST_OK;
}

/* GetApplicationIDs (6A): every AID, 19 per frame; GetDFNames (6D): each
 * application with an ISO DF name, one per frame: AID, ISO FID, name.
 * Both at the PICC level only, with the PICC master key unless its
 * settings allow free listing (bit 1). */
uint8_t
sim_on_list_apps(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	(void)d; (void)n;
	if (s->sel != NULL)
		return ST_PERMISSION;
	if (!sim_master_authed(s) && !(s->card->picc_ks & 0x02))
		return ST_AUTH;
	for (size_t i = 0; i < s->card->napps; i++) {
		const struct sim_app *a = s->card->apps[i];
		if (cmd == 0x6A) {
			resp_le24(r, a->aid);
		} else if (a->has_iso) {
			resp_le24(r, a->aid);
			resp_u8(r, (uint8_t)a->iso_fid);
			resp_u8(r, (uint8_t)(a->iso_fid >> 8));
			resp_put(r, a->dfname, a->dfname_len);
			r->fsz[r->nfs++] = 5u + a->dfname_len;
		}
	}
	if (cmd == 0x6A)
		r->chunk = 57;
	r->mode = SM_MAC;
	return ST_OK;
}

/* Another application already using this ISO FID or DF name? */
static bool
iso_name_taken(const struct sim_card *c, uint16_t fid, const uint8_t *name, size_t nlen)
{
	for (size_t i = 0; i < c->napps; i++) {
		const struct sim_app *a = c->apps[i];
		if (!a->has_iso)
			continue;
		if (a->iso_fid == fid)
			return true;
		if (nlen > 0 && a->dfname_len == nlen && memcmp(a->dfname, name, nlen) == 0)
			return true;
	}
	return false;
}

/* AID(3) KS1 KS2 [ISO FID(2) [DF name(1..16)]]. Whether the application is
 * an ISO DF is decided by the presence of the ISO FID, as on a real card;
 * KS2 bit 5 says whether its files use ISO FIDs (libfreefare's
 * test_mifare_desfire_ev1_iso.c: FID 111F with KS2 0x01 succeeds and is
 * listed by GetDFNames; a second FID 111F or DF name "App2" is refused
 * with DUPLICATE_ERROR). */
uint8_t
sim_on_create_app(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	(void)cmd;
	if (s->sel != NULL)
		return ST_PERMISSION;
	if (n != 5 && (n < 7 || n > 7 + 16))
		return ST_LENGTH;
	if (!sim_master_authed(s) && !(s->card->picc_ks & 0x04))
		return ST_AUTH;
	bool iso = n >= 7;
	uint32_t aid = le24(d);
	uint8_t ks = d[3], nkeys = d[4] & 0x0F, kfam = d[4] >> 6;
	uint16_t fid = (uint16_t)(iso ? d[5] | d[6] << 8 : 0);
	if (aid == 0 || nkeys > DFI_SIM_MAX_KEYS || kfam > KF_AES || (d[4] & 0x10))
		return ST_PARAMETER;
	if (sim_find_app(s->card, aid) != NULL)
		return ST_DUPLICATE;
	if (iso && iso_name_taken(s->card, fid, d + 7, n - 7))
		return ST_DUPLICATE;
	if (s->card->napps >= DFI_SIM_MAX_APPS)
		return ST_COUNT;
	struct sim_app *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return ST_OUT_OF_EEPROM;
	a->aid = aid;
	a->ks = ks;
	a->nkeys = nkeys;
	a->kfam = kfam;
	a->iso_files = d[4] & 0x20;
	if (iso) {
		a->has_iso = true;
		a->iso_fid = fid;
		a->dfname_len = (uint8_t)(n - 7);
		memcpy(a->dfname, d + 7, a->dfname_len);
	}
	for (size_t k = 0; k < nkeys; k++) {
		if (s->card->has_default_key)
			a->keys[k] = s->card->default_key;
		if (kfam != KF_AES)
			a->keys[k].aes_ver = 0;
	}
	if (!sim_fits(s->card, sim_app_cost(a))) {
		sim_app_free(a);
		return ST_OUT_OF_EEPROM;
	}
	s->card->apps[s->card->napps++] = a;
	return sim_changed(s, r, 64, SM_MAC);
}

uint8_t
sim_on_delete_app(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	(void)cmd; (void)n;
	uint32_t aid = le24(d);
	if (aid == 0)
		return ST_PARAMETER;
	size_t i;
	for (i = 0; i < s->card->napps && s->card->apps[i]->aid != aid; i++)
		;
	if (i == s->card->napps)
		return ST_APP_NOT_FOUND;
	bool ok = (s->card->picc_ks & 0x04) ||
	    (s->sel == NULL && sim_master_authed(s)) ||
	    (s->sel != NULL && s->sel->aid == aid && sim_master_authed(s));
	if (!ok)
		return ST_AUTH;
	struct sim_app *a = s->card->apps[i];
	memmove(&s->card->apps[i], &s->card->apps[i + 1],
	    (s->card->napps - i - 1) * sizeof(s->card->apps[0]));
	s->card->napps--;
	if (s->sel == a) {
		/* The application is gone: back to the PICC level, unauthenticated. */
		s->sel = NULL;
		s->sel_aid = 0;
		sm_clear(s);
	}
	sim_app_free(a);
	return sim_changed(s, r, 32, SM_MAC);
}

uint8_t
sim_on_format(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	(void)cmd; (void)d; (void)n;
	if (s->sel != NULL)
		return ST_PERMISSION;
	if (!sim_master_authed(s))
		return ST_AUTH;
	if (s->card->config & 0x01)
		return ST_PERMISSION;
	for (size_t i = 0; i < s->card->napps; i++) {
		s->eeprom_bytes += 32;
		sim_app_free(s->card->apps[i]);
	}
	s->card->napps = 0;
	return sim_changed(s, r, 0, SM_MAC); /* each application's erase was charged above */
}

uint8_t
sim_on_free_mem(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	(void)cmd; (void)d; (void)n;
	resp_le24(r, sim_free_memory(s->card));
	r->mode = SM_MAC;
	return ST_OK;
}

/* The ATS the card answers an activation with: the one set with
 * SetConfiguration option 02, or a DESFire EV1's factory ATS (TL 06, T0
 * 75: FSCI 5, TA TB TC present, TA 77, TB 81, TC 02, historical byte 80). */
size_t
sim_card_ats(const struct sim_card *c, uint8_t *ats, size_t cap)
{
	static const uint8_t factory[] = { 0x06, 0x75, 0x77, 0x81, 0x02, 0x80 };
	const uint8_t *p = c->ats_len > 0 ? c->ats : factory;
	size_t n = c->ats_len > 0 ? c->ats_len : sizeof(factory);
	if (n > cap)
		return 0;
	memcpy(ats, p, n);
	return n;
}

/* A well-formed ATS (ISO/IEC 14443-4 5.2): TL counts itself, T0's bits
 * 4..6 announce TA, TB, TC, and historical bytes fill the rest. */
static bool
ats_ok(const uint8_t *ats, size_t n)
{
	if (n < 2 || ats[0] != n || n > sizeof(((struct sim_card *)0)->ats) || (ats[1] & 0x80))
		return false;
	size_t need = 2u + (ats[1] & 0x10 ? 1u : 0u) + (ats[1] & 0x20 ? 1u : 0u) + (ats[1] & 0x40 ? 1u : 0u);
	return need <= n;
}

/* Option 02, the ATS: the plaintext is ATS || CRC || 80 00.. (ISO 9797-1
 * padding method 2; CRC16 over the ATS under D40, CRC32 over 5C 02 ATS
 * under EV1: libfreefare's mifare_desfire_set_ats), or ATS alone under EV2
 * (whose enciphered data is padded so already). TL, the ATS's first byte,
 * gives its length. */
static uint8_t
set_ats(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n)
{
	uint8_t buf[DFI_SIM_MAX_FRAME + 16];
	size_t len;
	uint8_t st = sm_in(s, cmd, d, n, 1, SM_FULL, false, SIZE_MAX, buf, &len);
	if (st != ST_OK)
		return st;
	const uint8_t *p = buf + 1;
	size_t pl = len - 1, tl = pl > 0 ? p[0] : 0;
	st = ST_PARAMETER;
	if (tl == 0 || tl > pl)
		goto out;
	if (s->sess.kind != SESS_EV2) {
		/* The CRC before the padding, and the padding read whole: a
		 * padding error answered apart from a CRC error, or sooner,
		 * would tell a PCD that forges cryptograms where the plaintext
		 * ends in 80 00.. (a padding oracle). */
		size_t crcl = s->sess.kind == SESS_D40 ? 2 : 4, i = tl + crcl;
		if (i >= pl)
			goto out;
		st = ST_INTEGRITY;
		if (!sm_cmd_crc_ok(s, cmd, buf, 1, tl)) /* buf: option 02, then the ATS */
			goto out;
		st = ST_PARAMETER;
		uint8_t bad = p[i] ^ 0x80;
		while (++i < pl)
			bad |= p[i];
		if (bad != 0)
			goto out;
	} else if (tl != pl) {
		goto out;
	}
	if (!ats_ok(p, tl))
		goto out;
	memcpy(s->card->ats, p, tl);
	s->card->ats_len = (uint8_t)tl;
	st = ST_OK;
out:
	dfi_wipe(buf, sizeof(buf));
	return st;
}

/* Options: 0x00 card configuration (bit 0 disable FormatPICC, bit 1
 * random ID; both irreversible), 0x01 default key for new applications
 * (24 key bytes + version), 0x02 the ATS of the next activations (EV1
 * and later: libfreefare's mifare-desfire-ev1-configure-ats). Others are
 * refused. */
uint8_t
sim_on_set_config(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	if (n < 1)
		return ST_LENGTH;
	if (s->sel != NULL)
		return ST_PERMISSION;
	if (!sim_master_authed(s))
		return ST_AUTH;
	size_t plainlen;
	switch (d[0]) {
	case 0x00: plainlen = 1; break;
	case 0x01: plainlen = 25; break;
	case 0x02: plainlen = SIZE_MAX; break;
	case 0x05: /* EV3: capability data, the LRP switch (sim_lrp.c) */
		if (s->cfg.model != DFI_SIM_MODEL_EV3)
			return ST_PARAMETER;
		plainlen = 10;
		break;
	default: return ST_PARAMETER;
	}
	if (d[0] == 0x02) {
		uint8_t st = set_ats(s, cmd, d, n);
		if (st != ST_OK)
			return st;
	} else {
		uint8_t buf[DFI_SIM_MAX_FRAME + 16];
		size_t len;
		uint8_t st = sm_in(s, cmd, d, n, 1, SM_FULL, false, plainlen, buf, &len);
		if (st != ST_OK)
			return st;
		if (len != 1 + plainlen) {
			dfi_wipe(buf, sizeof(buf));
			return ST_LENGTH;
		}
		if (d[0] == 0x00) {
			if (buf[1] & ~0x03)
				return ST_PARAMETER;
			s->card->config |= buf[1];
		} else if (d[0] == 0x05) {
			uint8_t st5 = sim_lrp_set_capabilities(s, buf + 1, plainlen);
			if (st5 != ST_OK) {
				dfi_wipe(buf, sizeof(buf));
				return st5;
			}
		} else {
			memcpy(s->card->default_key.k, buf + 1, 24);
			s->card->default_key.aes_ver = buf[25];
			s->card->has_default_key = true;
		}
		dfi_wipe(buf, sizeof(buf));
	}
	return sim_changed(s, r, 32, SM_FULL);
}
