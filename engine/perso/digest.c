/* The profile digest of a tap: what this tap makes of this card (the
 * resolved target: every key's identity, version and generation, every
 * application's and file's settings, every file's initial content for
 * this card's batch row, the PICC's key, configuration and settings).
 * Written on every intent (dfi_jrec profile=); a later tap takes an
 * application the journal shows verified as verified only when the
 * intents behind it carry this tap's digest (state.c, verified_earlier),
 * so a card issued with one profile and tapped with another (an
 * application added, a file changed, another batch row) is read again. */
#include <string.h>

#include <openssl/evp.h>

#include "perso_int.h"

struct dg {
	EVP_MD_CTX *c;
	int ok;
};

static void
put(struct dg *d, const void *p, size_t n)
{
	if (d->ok && EVP_DigestUpdate(d->c, p, n) != 1)
		d->ok = 0;
}

/* Integers big-endian, 4 bytes; variable-length fields length-prefixed:
 * no two different targets serialize alike. */
static void
put_u32(struct dg *d, uint64_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	put(d, b, sizeof(b));
}

static void
put_blob(struct dg *d, const void *p, size_t n)
{
	put_u32(d, n);
	put(d, p, n);
}

static void
put_key(struct dg *d, const struct tap *tp, const dfi_batch_row *row, int app, uint8_t keyno,
    const uint8_t aid[3])
{
	const struct perso_role *r = perso_role(tp->p, app, keyno);
	uint8_t div[DFI_J_BLOB_MAX];
	size_t ndiv = 0;

	if (r == NULL) {
		put_u32(d, 0xFFFFFFFFu);
		return;
	}
	put_u32(d, keyno);
	put_u32(d, (uint64_t)r->pk->type);
	put_u32(d, r->pk->version);
	put_u32(d, r->pk->generation);
	put_blob(d, r->pk->base_key, r->pk->base_key != NULL ? strlen(r->pk->base_key) : 0);
	put_blob(d, r->objid, r->objid_len);
	if (dfi_profile_div_input(r->pk, tp->uid, aid, row, div, sizeof(div), &ndiv, NULL) != DFI_OK)
		d->ok = 0;
	put_blob(d, div, ndiv);
}

static void
put_file(struct dg *d, const struct dfi_profile_file *f, const struct dfi_file_data *fd)
{
	put_u32(d, f->number);
	put_u32(d, (uint64_t)f->type);
	put_u32(d, (uint64_t)f->comm);
	put_u32(d, (uint64_t)f->access.read << 12 | (uint64_t)f->access.write << 8 |
	    (uint64_t)f->access.read_write << 4 | f->access.change);
	put_u32(d, f->size);
	put_u32(d, (uint32_t)f->lower_limit);
	put_u32(d, (uint32_t)f->upper_limit);
	put_u32(d, (uint32_t)f->value);
	put_u32(d, (uint64_t)f->limited_credit);
	put_u32(d, f->record_size);
	put_u32(d, f->max_records);
	put_u32(d, fd->nrecords);
	put_u32(d, fd->content_len);
	put_blob(d, fd->data, fd->len);
	/* SDM settings (k20S): what every later keyless read shows. */
	uint8_t sdm[64];
	size_t nsdm = 0;
	if (f->sdm != NULL && dfi_df_sdm_encode(&f->sdm->settings, sdm, sizeof(sdm), &nsdm) != DFI_OK)
		d->ok = 0;
	put_blob(d, sdm, nsdm);
}

dfi_err
perso_digest_of(const struct tap *tp, const dfi_batch_row *row, const struct dfi_card_data *cd,
    uint8_t out[DFI_J_PROFILE_LEN])
{
	const struct dfi_profile_spec *s = tp->p->spec;
	static const uint8_t picc_aid[3] = { 0, 0, 0 };
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	struct dg d = { EVP_MD_CTX_new(), 1 };

	if (d.c == NULL)
		return DFI_E_NOMEM;
	if (EVP_DigestInit_ex(d.c, EVP_sha256(), NULL) != 1)
		d.ok = 0;
	put(&d, "dfissue profile digest 1", 24);
	put_u32(&d, s->napps);
	for (size_t i = 0; i < s->napps; i++) {
		const struct dfi_profile_app *a = &s->apps[i];
		const struct dfi_app_data *ad = &cd->apps[i];
		put(&d, a->aid, sizeof(a->aid));
		put_u32(&d, (uint64_t)a->key_type);
		put_u32(&d, a->key_settings);
		put_u32(&d, a->nkeys);
		for (size_t k = 0; k < a->nkeys; k++)
			put_key(&d, tp, row, (int)i, a->keys[k].number, a->aid);
		put_u32(&d, a->nfiles);
		for (size_t f = 0; f < a->nfiles; f++)
			put_file(&d, &a->files[f], &ad->files[f]);
	}
	put_key(&d, tp, row, -1, 0, picc_aid);
	put_u32(&d, s->picc.key_settings);
	put_u32(&d, (uint64_t)s->picc.config.present << 3 | (uint64_t)s->picc.config.format_disabled << 2 |
	    (uint64_t)s->picc.config.random_uid << 1 | (uint64_t)s->picc.config.random_uid_early);
	/* The messaging mode: "lrp" switches the card for good (lrp.c). */
	put_u32(&d, (uint64_t)s->secure_messaging);
	if (d.ok && EVP_DigestFinal_ex(d.c, md, &mdlen) != 1)
		d.ok = 0;
	EVP_MD_CTX_free(d.c);
	if (!d.ok || mdlen < DFI_J_PROFILE_LEN)
		return DFI_E_CRYPTO;
	memcpy(out, md, DFI_J_PROFILE_LEN);
	return DFI_OK;
}

dfi_err
perso_digest(struct tap *tp)
{
	return perso_digest_of(tp, tp->row, tp->cd, tp->digest);
}
