/*
 * Secure Dynamic Messaging on the simulated EV3 (--model ev3): the file
 * settings of ChangeFileSettings as EV3 defines them (option bit 6, the SDM
 * settings after the access rights), their echo in GetFileSettings, the
 * mirrored read (every read granted by the free read right moves SDMReadCtr
 * on, persistently, and shows UID, counter, PICC data, encrypted file data
 * and SDMMAC in ASCII hex), and their place in the card image.
 *
 * The rules on the settings are the engine's (dfi_df_sdm_validate), the
 * cryptography the engine's SDM functions with the card's own key bytes:
 * what the card writes is checked against the AN12196 vectors there.
 */
#include <stdlib.h>
#include <string.h>

#include "dfissue/sdm.h"
#include "dfissue/util.h"
#include "sim_int.h"

void
sim_sdm_free(struct sim_sdm *sdm)
{
	if (sdm != NULL) {
		dfi_wipe(sdm, sizeof(*sdm));
		free(sdm);
	}
}

/* Checks the CRC a D40/EV1 enciphered command carries after its l bytes of
 * plaintext in m (after the file number, its header), and that only zeros
 * follow it. total: the deciphered length after the header. */
static bool
crc_ok(const dfi_sim *s, uint8_t cmd, const uint8_t *m, size_t l, size_t total)
{
	size_t crclen = s->sess.kind == SESS_D40 ? 2 : 4;
	if (l + crclen > total || !sm_cmd_crc_ok(s, cmd, m, 1, l))
		return false;
	uint8_t pad = 0; /* deciphered bytes: read whole, as the CRC was */
	for (size_t i = l + crclen; i < total; i++)
		pad |= m[1 + i];
	return pad == 0;
}

/* Parses option || access rights || [SDM settings] (l bytes) the way the
 * card's GetFileSettings would show them: the engine's parser checks that
 * exactly the fields the options call for are there. */
static bool
parse_settings(const struct sim_file *f, const uint8_t *p, size_t l, struct dfi_df_file_settings *fs)
{
	uint8_t g[3 + 3 + 3 + 3 + 8 * 3];
	if (l < 3 || l + 4 > sizeof(g))
		return false;
	g[0] = f->type;
	memcpy(g + 1, p, 3);
	g[4] = (uint8_t)f->size;
	g[5] = (uint8_t)(f->size >> 8);
	g[6] = (uint8_t)(f->size >> 16);
	memcpy(g + 7, p + 3, l - 3);
	return dfi_df_parse_file_settings(g, 4 + l, fs) == DFI_OK;
}

uint8_t
sim_sdm_change_file_settings(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n,
    struct sim_file *f, int mode, struct sim_resp *r)
{
	uint8_t buf[DFI_SIM_MAX_FRAME + 16];
	size_t len;
	struct dfi_df_file_settings fs;
	uint8_t st = sm_in(s, cmd, d, n, 1, (enum sm_mode)mode, false, SIZE_MAX, buf, &len);
	if (st != ST_OK)
		return st;
	const uint8_t *p = buf + 1;
	size_t plen = len - 1;
	bool crc = mode == SM_FULL && (s->sess.kind == SESS_D40 || s->sess.kind == SESS_EV1);
	bool found = false;
	if (!crc) {
		found = parse_settings(f, p, plen, &fs);
	} else {
		/* The length follows from the options; exactly one parses. */
		for (size_t l = 3; l + 2 <= plen && !found; l++)
			found = parse_settings(f, p, l, &fs) && crc_ok(s, cmd, buf, l, plen);
	}
	if (!found) {
		dfi_wipe(buf, sizeof(buf));
		return crc ? ST_INTEGRITY : ST_LENGTH;
	}
	uint8_t opt = p[0];
	dfi_wipe(buf, sizeof(buf));
	if (opt & ~(DFI_DF_FILE_OPTION_SDM | 0x03))
		return ST_PARAMETER; /* additional access rights: not simulated */
	if (fs.sdm_enabled) {
		if (f->type != DFI_SIM_FILE_STD)
			return ST_PARAMETER;
		const struct dfi_df_sdm *sd = &fs.sdm;
		uint8_t nk = s->sel->nkeys;
		if ((sd->ctr_ret <= 0xD && sd->ctr_ret >= nk) ||
		    (sd->meta_read <= 0xD && sd->meta_read >= nk) ||
		    (sd->file_read <= 0xD && sd->file_read >= nk) || s->sel->kfam != KF_AES)
			return ST_PARAMETER;
		if (dfi_df_sdm_validate(sd, f->size, s->card->lrp, NULL, 0) != DFI_OK)
			return ST_PARAMETER;
		if (f->sdm == NULL) {
			if ((f->sdm = calloc(1, sizeof(*f->sdm))) == NULL)
				return ST_OUT_OF_EEPROM;
			f->sdm->read_ctr = 0; /* reset when SDM is enabled */
		}
		f->sdm->s = *sd;
	} else {
		sim_sdm_free(f->sdm);
		f->sdm = NULL;
	}
	f->comm = opt & 0x03;
	f->ar = (uint16_t)(fs.access.read << 12 | fs.access.write << 8 |
	    fs.access.read_write << 4 | fs.access.change);
	s->dirty = true;
	s->eeprom_bytes += 32;
	r->mode = (enum sm_mode)mode;
	return ST_OK;
}

void
sim_sdm_put_settings(const struct sim_file *f, struct sim_resp *r)
{
	uint8_t b[32];
	size_t n;
	if (f->sdm != NULL && dfi_df_sdm_encode(&f->sdm->s, b, sizeof(b), &n) == DFI_OK)
		resp_put(r, b, n);
}

static void
put_hex(uint8_t *dst, const uint8_t *src, size_t n)
{
	static const char hx[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		dst[2 * i] = (uint8_t)hx[src[i] >> 4];
		dst[2 * i + 1] = (uint8_t)hx[src[i] & 0x0F];
	}
}

static dfi_err
app_key(const dfi_sim *s, uint8_t keyno, dfi_cardkey **out)
{
	uint8_t k[DFI_MAX_KEY_LEN];
	size_t kl;
	(void)sim_key_cipher(s->sel->kfam, &s->sel->keys[keyno], k, &kl);
	dfi_err e = dfi_cardkey_new_plain(out, DFI_KT_AES128, k, 16, 0);
	dfi_wipe(k, sizeof(k));
	return e;
}

uint8_t
sim_sdm_read(dfi_sim *s, struct sim_file *f, uint8_t **out)
{
	const struct dfi_df_sdm *sd = &f->sdm->s;
	enum dfi_sdm_cipher c = s->card->lrp ? DFI_SDM_LRP : DFI_SDM_AES;
	bool uid = sd->options & DFI_DF_SDM_UID, ctr = sd->options & DFI_DF_SDM_CTR;
	dfi_cardkey *meta = NULL, *fk = NULL;
	dfi_sdm_keys *k = NULL;
	uint8_t tmp[96], mac[DFI_SDM_MAC_LEN];
	size_t tl;
	dfi_err e = DFI_OK;

	if ((sd->options & DFI_DF_SDM_CTR_LIMIT) && f->sdm->read_ctr >= sd->ctr_limit)
		return ST_PERMISSION; /* the counter reached its limit */
	if (f->sdm->read_ctr >= 0xFFFFFF)
		return ST_PERMISSION;
	uint8_t *m = malloc(f->size);
	if (m == NULL)
		return ST_OUT_OF_EEPROM;
	memcpy(m, f->data, f->size);
	uint32_t rc = f->sdm->read_ctr + 1; /* moved on, then mirrored */
	if (sd->meta_read == 0xE && uid)
		put_hex(m + sd->uid_offset, s->card->uid, DFI_SIM_UID_LEN);
	if (sd->meta_read == 0xE && ctr) {
		uint8_t be[3] = { (uint8_t)(rc >> 16), (uint8_t)(rc >> 8), (uint8_t)rc };
		put_hex(m + sd->ctr_offset, be, 3);
	}
	if (sd->meta_read <= 0xD) {
		struct dfi_sdm_picc p = { .has_uid = uid, .has_ctr = ctr, .ctr = rc };
		uint8_t rnd[24];
		memcpy(p.uid, s->card->uid, DFI_SIM_UID_LEN);
		if ((e = sim_rng_bytes(&s->rng, rnd, sizeof(rnd))) == DFI_OK &&
		    (e = app_key(s, sd->meta_read, &meta)) == DFI_OK &&
		    (e = dfi_sdm_picc_encrypt(meta, c, &p, rnd, tmp, sizeof(tmp), &tl)) == DFI_OK)
			put_hex(m + sd->picc_offset, tmp, tl);
	}
	if (e == DFI_OK && sd->file_read <= 0xD) {
		if ((e = app_key(s, sd->file_read, &fk)) == DFI_OK)
			e = dfi_sdm_keys_new(&k, fk, c, uid ? s->card->uid : NULL, ctr ? &rc : NULL);
		if (e == DFI_OK && (sd->options & DFI_DF_SDM_ENC)) {
			size_t nb = sd->enc_length / 2;
			if ((e = dfi_sdm_file_crypt(k, 1, f->data + sd->enc_offset, tmp, nb)) == DFI_OK)
				put_hex(m + sd->enc_offset, tmp, nb);
		}
		if (e == DFI_OK && (e = dfi_sdm_mac(k, m + sd->mac_input_offset,
		    sd->mac_offset - sd->mac_input_offset, mac)) == DFI_OK)
			put_hex(m + sd->mac_offset, mac, sizeof(mac));
	}
	dfi_sdm_keys_free(k);
	dfi_cardkey_free(fk);
	dfi_cardkey_free(meta);
	dfi_wipe(tmp, sizeof(tmp));
	if (e != DFI_OK) {
		free(m);
		return ST_INTEGRITY;
	}
	f->sdm->read_ctr = rc;
	s->dirty = true; /* the counter is persistent */
	s->eeprom_bytes += 4;
	*out = m;
	return ST_OK;
}

/* ---- the image's EV3 section -------------------------------------------- */

#define EV3_MARK 0xE3
#define EV3_F_LRP 0x01
#define EV3_F_EV3 0x02

void
sim_ev3_model(dfi_sim *s)
{
	if (s->card->ev3)
		s->cfg.model = DFI_SIM_MODEL_EV3;
	else if (s->cfg.model == DFI_SIM_MODEL_EV3)
		s->card->ev3 = true;
}

size_t
sim_ev3_image_bound(const struct sim_card *c)
{
	size_t n = 3;
	for (size_t i = 0; i < c->napps; i++)
		for (size_t f = 0; f < DFI_SIM_MAX_FILES; f++)
			if (c->apps[i]->files[f] != NULL && c->apps[i]->files[f]->sdm != NULL)
				n += 4 + 4 + 8 * 3 + 3;
	return n;
}

void
sim_ev3_image_encode(const struct sim_card *c, dfi_wr *w)
{
	size_t nsdm = 0;
	for (size_t i = 0; i < c->napps; i++)
		for (size_t f = 0; f < DFI_SIM_MAX_FILES; f++)
			nsdm += c->apps[i]->files[f] != NULL && c->apps[i]->files[f]->sdm != NULL;
	if (!c->ev3 && !c->lrp && nsdm == 0)
		return; /* an EV1/EV2 image stays as it was */
	dfi_wr_u8(w, EV3_MARK);
	dfi_wr_u8(w, (uint8_t)((c->lrp ? EV3_F_LRP : 0) | (c->ev3 ? EV3_F_EV3 : 0)));
	dfi_wr_u8(w, (uint8_t)nsdm);
	for (size_t i = 0; i < c->napps; i++) {
		for (size_t f = 0; f < DFI_SIM_MAX_FILES; f++) {
			const struct sim_file *fl = c->apps[i]->files[f];
			if (fl == NULL || fl->sdm == NULL)
				continue;
			const struct dfi_df_sdm *sd = &fl->sdm->s;
			dfi_wr_le24(w, c->apps[i]->aid);
			dfi_wr_u8(w, fl->fid);
			dfi_wr_u8(w, sd->options);
			dfi_wr_u8(w, sd->ctr_ret);
			dfi_wr_u8(w, sd->meta_read);
			dfi_wr_u8(w, sd->file_read);
			const uint32_t v[8] = { sd->uid_offset, sd->ctr_offset, sd->picc_offset,
				sd->mac_input_offset, sd->enc_offset, sd->enc_length, sd->mac_offset,
				sd->ctr_limit };
			for (size_t k = 0; k < 8; k++)
				dfi_wr_le24(w, v[k]);
			dfi_wr_le24(w, fl->sdm->read_ctr);
		}
	}
}

dfi_err
sim_ev3_image_decode(dfi_rd *r, struct sim_card *c)
{
	uint8_t mark, flags, nsdm;
	if (r->left == 0)
		return DFI_OK;
	if (dfi_rd_u8(r, &mark) != DFI_OK || mark != EV3_MARK || dfi_rd_u8(r, &flags) != DFI_OK ||
	    (flags & ~(EV3_F_LRP | EV3_F_EV3)) || dfi_rd_u8(r, &nsdm) != DFI_OK)
		return DFI_E_PARSE;
	c->lrp = flags & EV3_F_LRP;
	c->ev3 = flags & EV3_F_EV3;
	for (size_t i = 0; i < nsdm; i++) {
		uint32_t aid, v[8], ctr;
		uint8_t fid;
		struct dfi_df_sdm sd;
		memset(&sd, 0, sizeof(sd));
		if (dfi_rd_le24(r, &aid) != DFI_OK || dfi_rd_u8(r, &fid) != DFI_OK ||
		    dfi_rd_u8(r, &sd.options) != DFI_OK || dfi_rd_u8(r, &sd.ctr_ret) != DFI_OK ||
		    dfi_rd_u8(r, &sd.meta_read) != DFI_OK || dfi_rd_u8(r, &sd.file_read) != DFI_OK)
			return DFI_E_PARSE;
		for (size_t k = 0; k < 8; k++)
			if (dfi_rd_le24(r, &v[k]) != DFI_OK)
				return DFI_E_PARSE;
		if (dfi_rd_le24(r, &ctr) != DFI_OK)
			return DFI_E_PARSE;
		sd.uid_offset = v[0];
		sd.ctr_offset = v[1];
		sd.picc_offset = v[2];
		sd.mac_input_offset = v[3];
		sd.enc_offset = v[4];
		sd.enc_length = v[5];
		sd.mac_offset = v[6];
		sd.ctr_limit = v[7];
		struct sim_app *a = sim_find_app(c, aid);
		struct sim_file *f = a != NULL && fid < DFI_SIM_MAX_FILES ? a->files[fid] : NULL;
		if (f == NULL || f->sdm != NULL || f->type != DFI_SIM_FILE_STD ||
		    dfi_df_sdm_validate(&sd, f->size, c->lrp, NULL, 0) != DFI_OK)
			return DFI_E_PARSE;
		if ((f->sdm = calloc(1, sizeof(*f->sdm))) == NULL)
			return DFI_E_NOMEM;
		f->sdm->s = sd;
		f->sdm->read_ctr = ctr;
	}
	return DFI_OK;
}

/* ---- inspection ------------------------------------------------------------ */

dfi_err
dfi_sim_lrp_mode(const dfi_sim *s, bool *lrp)
{
	if (s == NULL || lrp == NULL)
		return DFI_E_INVALID_ARG;
	struct sim_card *c;
	dfi_err e = sim_image_decode(s->blob, s->blob_len, &c);
	if (e != DFI_OK)
		return e;
	*lrp = c->lrp;
	sim_card_free(c);
	return DFI_OK;
}

dfi_err
dfi_sim_sdm_info(const dfi_sim *s, uint32_t aid, uint8_t fid, struct dfi_df_sdm *settings,
    uint32_t *read_ctr)
{
	if (s == NULL)
		return DFI_E_INVALID_ARG;
	struct sim_card *c;
	dfi_err e = sim_image_decode(s->blob, s->blob_len, &c);
	if (e != DFI_OK)
		return e;
	struct sim_app *a = sim_find_app(c, aid);
	struct sim_file *f = a != NULL && fid < DFI_SIM_MAX_FILES ? a->files[fid] : NULL;
	if (f == NULL || f->sdm == NULL) {
		e = DFI_E_NOT_FOUND;
	} else {
		if (settings != NULL)
			*settings = f->sdm->s;
		if (read_ctr != NULL)
			*read_ctr = f->sdm->read_ctr;
	}
	sim_card_free(c);
	return e;
}
