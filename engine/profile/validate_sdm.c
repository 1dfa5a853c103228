/*
 * Profile validation of Secure Dynamic Messaging files (docs/PROFILE.md,
 * "sdm"): a standard data file of an AES application whose content is laid
 * out from a template (dfi_sdm_layout_parse computes the offsets) and whose
 * SDM access rights name keys of that application. It runs once the rest
 * of the profile is valid, because it refers to the application's keys
 * (their diversification) and to the profile's secure messaging.
 */
#include <stdio.h>
#include <string.h>

#include "core/unconst.h"
#include "dfissue/sdm.h"
#include "validate_int.h"

/* A right of the "sdm" object: a key number of the application, or one of
 * two words (word_e for 0xE, "none" for 0xF; word_e NULL: not allowed). */
static dfi_err
sdm_right(struct vctx *c, json_t *s, const char *path, const char *key, const char *word_e,
    size_t nkeys, int required, uint8_t def, uint8_t *out)
{
	char p[PATH_MAX_LEN];
	json_t *v = json_object_get(s, key);
	pv_join(p, path, key);
	*out = def;
	if (v == NULL) {
		if (required)
			return verr(c, p, "missing: the key number (0..%zu) that %s", nkeys - 1,
			    strcmp(key, "file_read") == 0 ? "computes the SDMMAC" :
			    "encrypts the PICC data");
		return DFI_OK;
	}
	if (json_is_string(v)) {
		const char *w = json_string_value(v);
		if (word_e != NULL && strcmp(w, word_e) == 0) {
			*out = 0xE;
			return DFI_OK;
		}
		if (strcmp(w, "none") == 0 && strcmp(key, "counter_read") == 0) {
			*out = 0xF;
			return DFI_OK;
		}
	}
	long long x = json_is_integer(v) ? json_integer_value(v) : -1;
	if (x >= 0 && x < (long long)nkeys) {
		*out = (uint8_t)x;
		return DFI_OK;
	}
	if (json_is_integer(v))
		return verr(c, p, "key %lld does not exist: the application has keys 0..%zu", x,
		    nkeys - 1);
	return verr(c, p, "must be a key number 0..%zu%s%s%s", nkeys - 1,
	    word_e != NULL ? ", \"" : "", word_e != NULL ? word_e : "",
	    word_e == NULL ? "" : strcmp(key, "counter_read") == 0 ? "\" or \"none\"" : "\"");
}

static const struct dfi_profile_key *
app_key(const struct dfi_profile_app *a, uint8_t n)
{
	for (size_t k = 0; k < a->nkeys; k++)
		if (a->keys[k].number == n)
			return &a->keys[k];
	return NULL;
}

/* The file's own rules: a plain standard file that phones read freely and
 * the engine reads back with a key (a free read would move the counter and
 * show the mirrors, not what was written). */
static dfi_err
sdm_file_rules(struct vctx *c, const struct dfi_profile_app *a, const struct dfi_profile_file *f,
    json_t *fo, const char *fpath, const char *spath)
{
	char p[PATH_MAX_LEN];
	if (f->type != DFI_DF_FILE_STD)
		return verr(c, spath, "SDM is for standard data files (\"type\": \"std\")");
	if (a->key_type != DFI_KT_AES128)
		return verr(c, spath, "SDM needs an AES application (key_type \"aes\"): its keys "
		    "compute the mirrors");
	if (json_object_get(fo, "content") != NULL) {
		pv_join(p, fpath, "content");
		return verr(c, p, "an SDM file's content is its template: leave \"content\" out");
	}
	if (f->comm != DFI_DF_COMM_PLAIN) {
		pv_join(p, fpath, "comm");
		return verr(c, p, "an SDM file is read by phones without a session: it must be "
		    "\"plain\"");
	}
	pv_join(p, fpath, "access.read");
	if (f->access.read != DFI_DF_ACCESS_FREE)
		return verr(c, p, "an SDM file mirrors on a read without a key: it must be \"free\"");
	pv_join(p, fpath, "access.read_write");
	if (f->access.read_write > 0xD)
		return verr(c, p, "must be a key number for an SDM file: the engine reads the file "
		    "back with it (a free read moves the SDM read counter)");
	pv_join(p, fpath, "access.change");
	if (f->access.change == DFI_DF_ACCESS_NEVER)
		return verr(c, p, "SDM is turned on with ChangeFileSettings: an SDM file's change "
		    "right cannot be \"never\"");
	return DFI_OK;
}

static dfi_err
sdm_one(struct vctx *c, const struct dfi_profile_app *a, struct dfi_profile_file *f, json_t *fo,
    const char *fpath, int lrp)
{
	static const char *const members[] = { "template", "ndef", "meta_read", "file_read",
		"counter_read", "counter_limit", NULL };
	char sp[PATH_MAX_LEN], p[PATH_MAX_LEN], why[160];
	json_t *s = json_object_get(fo, "sdm");
	dfi_err e;

	pv_join(sp, fpath, "sdm");
	if ((e = pv_want_object(c, s, sp)) != DFI_OK ||
	    (e = pv_check_members(c, s, sp, members, "an SDM file")) != DFI_OK ||
	    (e = sdm_file_rules(c, a, f, fo, fpath, sp)) != DFI_OK)
		return e;
	struct dfi_profile_sdm *out = dfi_profile_alloc(c->p, sizeof(*out));
	if (out == NULL)
		return pv_nomem();
	if ((e = pv_get_owned_string(c, s, sp, "template", 1, DFI_SDM_TEMPLATE_MAX, &out->tmpl)) !=
	    DFI_OK)
		return e;
	int url = strncmp(out->tmpl, "https://", 8) == 0 || strncmp(out->tmpl, "http://", 7) == 0;
	if ((e = pv_get_bool(c, s, sp, "ndef", 0, url, &out->ndef)) != DFI_OK)
		return e;
	out->lrp = lrp;

	struct dfi_sdm_layout *l = dfi_profile_alloc(c->p, sizeof(*l));
	if (l == NULL)
		return pv_nomem();
	pv_join(p, sp, "template");
	if (dfi_sdm_layout_parse(out->tmpl, lrp ? DFI_SDM_LRP : DFI_SDM_AES, out->ndef, l, why,
	    sizeof(why)) != DFI_OK)
		return verr(c, p, "%s", why);
	if (!(l->has_picc || (l->has_uid && l->has_ctr)) || !l->has_mac)
		return verr(c, p, "must mirror the UID and the read counter ({picc}, or {uid} and "
		    "{ctr}) and a MAC ({mac}): a backend proves a tap and refuses replays with them");
	if (l->file_len > f->size) {
		pv_join(p, fpath, "size");
		return verr(c, p, "the template's file takes %zu bytes: more than the file's %u",
		    l->file_len, f->size);
	}

	struct dfi_df_sdm *st = &out->settings;
	*st = l->sdm;
	/* Who reads the mirrors: the template decides plain or encrypted. */
	if ((e = sdm_right(c, s, sp, "meta_read", "plain", a->nkeys, l->has_picc,
	    0xE, &st->meta_read)) != DFI_OK ||
	    (e = sdm_right(c, s, sp, "file_read", NULL, a->nkeys, 1, 0xF, &st->file_read)) !=
		DFI_OK ||
	    (e = sdm_right(c, s, sp, "counter_read", "free", a->nkeys, 0, 0xF, &st->ctr_ret)) !=
		DFI_OK)
		return e;
	pv_join(p, sp, "meta_read");
	if (l->has_picc && st->meta_read == 0xE)
		return verr(c, p, "the template has {picc}: name the key that encrypts it");
	if (!l->has_picc && st->meta_read != 0xE)
		return verr(c, p, "the template mirrors {uid}/{ctr} in plain: \"plain\" or leave "
		    "it out ({picc} is what a meta-read key encrypts)");
	if (l->has_picc) {
		/* The backend decrypts the PICC data before it knows the UID. */
		const struct dfi_profile_key *mk = app_key(a, st->meta_read);
		for (size_t i = 0; mk != NULL && i < mk->ndiv; i++)
			if (mk->div[i].kind == DFI_SEG_UID)
				return verr(c, p, "key %u is diversified with the UID: a backend cannot "
				    "derive it before it has decrypted the UID with it; give the "
				    "meta-read key a diversification without \"uid\"", st->meta_read);
	}
	long long lim;
	if ((e = pv_get_int(c, s, sp, "counter_limit", 0, 1, 0xFFFFFF, 0, &lim)) != DFI_OK)
		return e;
	if (lim > 0) {
		st->options |= DFI_DF_SDM_CTR_LIMIT;
		st->ctr_limit = (uint32_t)lim;
	}
	if (dfi_df_sdm_validate(st, f->size, lrp, why, sizeof(why)) != DFI_OK)
		return verr(c, sp, "the card would refuse these settings: %s", why);

	/* The file holds the template's bytes (placeholders as '0'), written
	 * as any content is and compared with what a key reads back. */
	struct dfi_profile_segment *seg = dfi_profile_alloc(c->p, sizeof(*seg));
	uint8_t *bytes = dfi_profile_alloc(c->p, l->file_len);
	if (seg == NULL || bytes == NULL)
		return pv_nomem();
	memcpy(bytes, l->file, l->file_len);
	seg->kind = DFI_SEG_BYTES;
	seg->bytes = bytes;
	seg->len = l->file_len;
	f->content = seg;
	f->ncontent = 1;
	f->sdm = out;
	return DFI_OK;
}

dfi_err
pv_validate_sdm(struct vctx *c, json_t *root)
{
	const struct dfi_profile_spec *spec = &c->p->spec;
	json_t *apps = json_object_get(root, "applications");
	/* A card switched to LRP ("secure_messaging": "lrp", validate_sm.c)
	 * runs SDM in LRP too: 48-character PICC data, CMAC_LRP. */
	int lrp = spec->secure_messaging == DFI_PROFILE_SM_LRP;
	for (size_t i = 0; i < spec->napps; i++) {
		const struct dfi_profile_app *a = &spec->apps[i];
		json_t *files = json_object_get(json_array_get(apps, i), "files");
		for (size_t k = 0; k < a->nfiles; k++) {
			json_t *fo = json_array_get(files, k);
			char ap[PATH_MAX_LEN], fp[PATH_MAX_LEN];
			if (json_object_get(fo, "sdm") == NULL)
				continue;
			pv_join_idx(ap, "applications", i);
			pv_join(fp, ap, "files");
			pv_join_idx(ap, fp, k);
			/* The tree is the profile's own memory, handed out through a
			 * const view: the file gains its settings and content. */
			dfi_err e = sdm_one(c, a, dfi_unconst(&a->files[k]), fo, ap, lrp);
			if (e != DFI_OK)
				return e;
		}
	}
	return DFI_OK;
}
