/* Read-only views of the committed card state, for tests. */
#include <string.h>

#include "dfissue/util.h"
#include "sim_int.h"

/* Inspection reads what a re-inserted card would hold: the committed
 * image, not the in-memory card with its pending transactions. */
static dfi_err
committed(const dfi_sim *s, struct sim_card **out)
{
	if (s == NULL)
		return DFI_E_INVALID_ARG;
	return sim_image_decode(s->blob, s->blob_len, out);
}

/* The committed card *c and on it application aid, where the application
 * and file queries start; on failure *c is already freed. */
static dfi_err
committed_app(const dfi_sim *s, uint32_t aid, struct sim_card **c, struct sim_app **a)
{
	dfi_err e = committed(s, c);
	if (e != DFI_OK)
		return e;
	if ((*a = sim_find_app(*c, aid)) == NULL) {
		sim_card_free(*c);
		return DFI_E_NOT_FOUND;
	}
	return DFI_OK;
}

dfi_err
dfi_sim_picc_info(const dfi_sim *s, struct dfi_sim_picc_info *out)
{
	struct sim_card *c;
	dfi_err e = committed(s, &c);
	if (e != DFI_OK || out == NULL) {
		if (e == DFI_OK)
			sim_card_free(c);
		return e != DFI_OK ? e : DFI_E_INVALID_ARG;
	}
	out->key_settings = c->picc_ks;
	out->config = c->config;
	out->free_memory = sim_free_memory(c);
	out->napps = c->napps;
	sim_card_free(c);
	return DFI_OK;
}

dfi_err
dfi_sim_list_apps(const dfi_sim *s, uint32_t *aids, size_t cap, size_t *n)
{
	struct sim_card *c;
	dfi_err e = committed(s, &c);
	if (e != DFI_OK)
		return e;
	for (size_t i = 0; i < c->napps && i < cap; i++)
		aids[i] = c->apps[i]->aid;
	if (n != NULL)
		*n = c->napps;
	sim_card_free(c);
	return DFI_OK;
}

dfi_err
dfi_sim_app_info(const dfi_sim *s, uint32_t aid, struct dfi_sim_app_info *out)
{
	struct sim_card *c;
	struct sim_app *a;
	dfi_err e = committed_app(s, aid, &c, &a);
	if (e != DFI_OK)
		return e;
	out->aid = aid;
	out->key_settings = a->ks;
	out->nkeys = a->nkeys;
	out->keytype = a->kfam == KF_AES ? DFI_KT_AES128 :
	    a->kfam == KF_3K3DES ? DFI_KT_3K3DES : DFI_KT_2K3DES;
	sim_card_free(c);
	return DFI_OK;
}

static dfi_err
key_of(struct sim_card *c, uint32_t aid, uint8_t keyno, struct dfi_sim_key_info *out)
{
	const struct sim_key *k;
	uint8_t kfam;
	if (aid == 0) {
		if (keyno != 0)
			return DFI_E_NOT_FOUND;
		k = &c->picc_key;
		kfam = c->picc_kfam;
	} else {
		struct sim_app *a = sim_find_app(c, aid);
		if (a == NULL || keyno >= a->nkeys)
			return DFI_E_NOT_FOUND;
		k = &a->keys[keyno];
		kfam = a->kfam;
	}
	memset(out, 0, sizeof(*out));
	out->version = sim_key_version(kfam, k);
	out->keylen = sim_kfam_keylen(kfam);
	memcpy(out->key, k->k, out->keylen);
	uint8_t tmp[DFI_MAX_KEY_LEN];
	size_t tl;
	out->type = sim_key_cipher(kfam, k, tmp, &tl);
	dfi_wipe(tmp, sizeof(tmp));
	return DFI_OK;
}

dfi_err
dfi_sim_key_info(const dfi_sim *s, uint32_t aid, uint8_t keyno, struct dfi_sim_key_info *out)
{
	struct sim_card *c;
	dfi_err e = committed(s, &c);
	if (e != DFI_OK)
		return e;
	e = out != NULL ? key_of(c, aid, keyno, out) : DFI_E_INVALID_ARG;
	sim_card_free(c);
	return e;
}

int
dfi_sim_key_equals(const dfi_sim *s, uint32_t aid, uint8_t keyno, dfi_keytype type,
    const uint8_t *key, size_t keylen)
{
	struct dfi_sim_key_info ki;
	if (dfi_sim_key_info(s, aid, keyno, &ki) != DFI_OK)
		return -1;
	uint8_t want[DFI_MAX_KEY_LEN] = { 0 };
	size_t wl;
	int eq = 0;
	/* Compare as the card stores it: DES doubled to 16 bytes. */
	if (type == DFI_KT_DES && keylen == 8) {
		memcpy(want, key, 8);
		memcpy(want + 8, key, 8);
		wl = 16;
	} else if (keylen <= sizeof(want)) {
		memcpy(want, key, keylen);
		wl = keylen;
	} else {
		return -1;
	}
	bool fam_ok = (type == DFI_KT_AES128) == (ki.type == DFI_KT_AES128) &&
	    (type == DFI_KT_3K3DES) == (ki.type == DFI_KT_3K3DES);
	if (fam_ok && wl == ki.keylen && dfi_ct_memcmp(want, ki.key, wl) == 0)
		eq = 1;
	dfi_wipe(&ki, sizeof(ki));
	dfi_wipe(want, sizeof(want));
	return eq;
}

dfi_err
dfi_sim_list_files(const dfi_sim *s, uint32_t aid, uint8_t *fids, size_t cap, size_t *n)
{
	struct sim_card *c;
	struct sim_app *a;
	dfi_err e = committed_app(s, aid, &c, &a);
	if (e != DFI_OK)
		return e;
	size_t k = 0;
	for (uint8_t i = 0; i < DFI_SIM_MAX_FILES; i++) {
		if (a->files[i] == NULL)
			continue;
		if (k < cap)
			fids[k] = i;
		k++;
	}
	if (n != NULL)
		*n = k;
	sim_card_free(c);
	return DFI_OK;
}

/* The committed card *c and on it file fid of application aid; on
 * failure *c is already freed. */
static dfi_err
committed_file(const dfi_sim *s, uint32_t aid, uint8_t fid, struct sim_card **c,
    struct sim_file **f)
{
	struct sim_app *a;
	dfi_err e = committed_app(s, aid, c, &a);
	if (e != DFI_OK)
		return e;
	if (fid >= DFI_SIM_MAX_FILES || (*f = a->files[fid]) == NULL) {
		sim_card_free(*c);
		return DFI_E_NOT_FOUND;
	}
	return DFI_OK;
}

dfi_err
dfi_sim_file_info(const dfi_sim *s, uint32_t aid, uint8_t fid, struct dfi_sim_file_info *out)
{
	struct sim_card *c;
	struct sim_file *f;
	dfi_err e = committed_file(s, aid, fid, &c, &f);
	if (e != DFI_OK)
		return e;
	if (out == NULL) {
		sim_card_free(c);
		return DFI_E_INVALID_ARG;
	}
	memset(out, 0, sizeof(*out));
	out->fid = fid;
	out->type = (enum dfi_sim_file_type)f->type;
	out->comm = f->comm;
	out->access = f->ar;
	if (f->type == DFI_SIM_FILE_STD || f->type == DFI_SIM_FILE_BACKUP) {
		out->size = f->size;
	} else if (f->type == DFI_SIM_FILE_VALUE) {
		out->lower = f->lower;
		out->upper = f->upper;
		out->value = f->value;
		out->limited_credit_value = f->lc_value;
		out->value_flags = f->vflags;
	} else {
		out->record_size = f->size;
		out->max_records = f->max_rec;
		out->records = f->nrec;
	}
	sim_card_free(c);
	return DFI_OK;
}

dfi_err
dfi_sim_file_data(const dfi_sim *s, uint32_t aid, uint8_t fid, uint8_t *buf, size_t cap, size_t *len)
{
	struct sim_card *c;
	struct sim_file *f;
	dfi_err e = committed_file(s, aid, fid, &c, &f);
	if (e != DFI_OK)
		return e;
	size_t need;
	if (f->type == DFI_SIM_FILE_VALUE)
		need = 4;
	else if (f->type == DFI_SIM_FILE_STD || f->type == DFI_SIM_FILE_BACKUP)
		need = f->size;
	else
		need = (size_t)f->size * f->nrec;
	if (len != NULL)
		*len = need;
	if (need > cap || buf == NULL) {
		sim_card_free(c);
		return DFI_E_BUFFER_TOO_SMALL;
	}
	if (f->type == DFI_SIM_FILE_VALUE) {
		uint32_t v = (uint32_t)f->value;
		for (int i = 0; i < 4; i++)
			buf[i] = (uint8_t)(v >> (8 * i));
	} else if (f->type == DFI_SIM_FILE_STD || f->type == DFI_SIM_FILE_BACKUP) {
		memcpy(buf, f->data, f->size);
	} else {
		for (uint32_t i = 0; i < f->nrec; i++)
			memcpy(buf + (size_t)i * f->size, f->data + sim_record_offset(f, i), f->size);
	}
	sim_card_free(c);
	return DFI_OK;
}
