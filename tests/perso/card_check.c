/* The "card equals profile" oracle (card_check.h). */
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "card_check.h"
#include "dfissue/cardkey.h"
#include "dfissue/util.h"

int
dfi_test_why(int rc, char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (why != NULL && cap > 0)
		vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return rc;
}

/* The card differs from the profile: 0 with why. */
#define differ(...) dfi_test_why(0, __VA_ARGS__)

static uint32_t
aid_u32(const uint8_t a[3])
{
	return (uint32_t)a[0] | (uint32_t)a[1] << 8 | (uint32_t)a[2] << 16;
}

struct eq_arg {
	dfi_sim *sim;
	uint32_t aid;
	uint8_t keyno;
	dfi_keytype type;
	uint8_t version;
	int eq;
};

/* The card stores a DES-family key with its version in the parity bits
 * of the first eight bytes (AES keeps the version apart). */
static dfi_err
stored_equals(void *arg, const uint8_t *key, size_t keylen)
{
	struct eq_arg *a = arg;
	uint8_t k[DFI_MAX_KEY_LEN];
	if (keylen > sizeof(k))
		return DFI_E_INVALID_ARG;
	memcpy(k, key, keylen);
	if (a->type != DFI_KT_AES128)
		dfi_des_set_key_version(k, keylen, a->version);
	a->eq = dfi_sim_key_equals(a->sim, a->aid, a->keyno, a->type, k, keylen);
	dfi_wipe(k, sizeof(k));
	return DFI_OK;
}

int
dfi_test_sim_holds_key(dfi_sim *sim, uint32_t aid, uint8_t keyno, const dfi_cardkey *ck)
{
	struct dfi_sim_key_info ki;
	struct eq_arg ea = { sim, aid, keyno, dfi_cardkey_type(ck), dfi_cardkey_version(ck), -1 };
	if (dfi_cardkey_with_bytes(ck, stored_equals, &ea) != DFI_OK || ea.eq < 0)
		return -1;
	if (dfi_sim_key_info(sim, aid, keyno, &ki) != DFI_OK)
		return -1;
	int rc = ea.eq == 1 && ki.version == ea.version;
	dfi_wipe(&ki, sizeof(ki));
	return rc;
}

/* Base keys found once per check: a search in a file-backed token (SoftHSM2)
 * costs more than the comparison itself. */
struct base_cache {
	const char *uri[16];
	dfi_hsm_key *key[16];
	size_t n;
};

static dfi_hsm_key *
cached_base(struct base_cache *c, dfi_hsm *hsm, const char *uri)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->uri[i], uri) == 0)
			return c->key[i];
	if (c->n == sizeof(c->key) / sizeof(c->key[0]))
		return NULL;
	if (dfi_hsm_key_find(hsm, uri, &c->key[c->n]) != DFI_OK)
		return NULL;
	c->uri[c->n] = uri;
	return c->key[c->n++];
}

static void
cache_free(struct base_cache *c)
{
	for (size_t i = 0; i < c->n; i++)
		dfi_hsm_key_free(c->key[i]);
	c->n = 0;
}

static int
key_is(dfi_sim *sim, dfi_hsm *hsm, struct base_cache *cache, const struct dfi_profile_key *k,
    uint32_t aid, uint8_t keyno, const dfi_batch_row *row)
{
	uint8_t uid[DFI_SIM_UID_LEN], a[3], m[DFI_PROFILE_MAX_DIV_INPUT];
	size_t mlen;
	dfi_hsm_key *base;
	dfi_cardkey *ck = NULL;
	int rc = -1;

	dfi_sim_uid(sim, uid);
	a[0] = (uint8_t)aid;
	a[1] = (uint8_t)(aid >> 8);
	a[2] = (uint8_t)(aid >> 16);
	if (dfi_profile_div_input(k, uid, a, row, m, sizeof(m), &mlen, NULL) != DFI_OK)
		return -1;
	if ((base = cached_base(cache, hsm, k->base_key)) == NULL)
		return -1;
	if (dfi_hsm_cardkey_diversified(hsm, base, k->type, m, mlen, k->version, &ck) != DFI_OK)
		goto out;
	rc = dfi_test_sim_holds_key(sim, aid, keyno, ck);
out:
	dfi_cardkey_free(ck);
	return rc;
}

int
dfi_test_card_key_is(dfi_sim *sim, dfi_hsm *hsm, const struct dfi_profile_key *k,
    uint32_t aid, uint8_t keyno, const dfi_batch_row *row)
{
	struct base_cache c = { .n = 0 };
	int rc = key_is(sim, hsm, &c, k, aid, keyno, row);
	cache_free(&c);
	return rc;
}

static int
check_file(dfi_sim *sim, uint32_t aid, const struct dfi_file_data *fd, char *why, size_t cap)
{
	const struct dfi_profile_file *f = fd->file;
	struct dfi_sim_file_info fi;
	uint8_t buf[DFI_PROFILE_CARD_MEMORY];
	size_t len;

	if (dfi_sim_file_info(sim, aid, f->number, &fi) != DFI_OK)
		return differ(why, cap, "app %06X: file %u missing", aid, f->number);
	if ((int)fi.type != (int)f->type)
		return differ(why, cap, "app %06X file %u: type %d, want %d", aid, f->number,
		    (int)fi.type, (int)f->type);
	if (fi.comm != (uint8_t)f->comm)
		return differ(why, cap, "app %06X file %u: comm %u, want %u", aid, f->number,
		    fi.comm, (unsigned)f->comm);
	if (fi.access != dfi_df_access_encode(&f->access))
		return differ(why, cap, "app %06X file %u: access %04X, want %04X", aid, f->number,
		    fi.access, dfi_df_access_encode(&f->access));
	if (dfi_sim_file_data(sim, aid, f->number, buf, sizeof(buf), &len) != DFI_OK)
		return differ(why, cap, "app %06X file %u: content unreadable", aid, f->number);
	switch (f->type) {
	case DFI_DF_FILE_STD:
	case DFI_DF_FILE_BACKUP:
		if (fi.size != f->size)
			return differ(why, cap, "app %06X file %u: size %u, want %u", aid, f->number,
			    fi.size, f->size);
		if (len != fd->len || memcmp(buf, fd->data, len) != 0)
			return differ(why, cap, "app %06X file %u: content differs", aid, f->number);
		break;
	case DFI_DF_FILE_VALUE:
		if (fi.lower != f->lower_limit || fi.upper != f->upper_limit)
			return differ(why, cap, "app %06X file %u: limits differ", aid, f->number);
		if (fi.value != f->value)
			return differ(why, cap, "app %06X file %u: value %d, want %d", aid, f->number,
			    fi.value, f->value);
		if ((fi.value_flags & 1) != (f->limited_credit ? 1 : 0))
			return differ(why, cap, "app %06X file %u: limited credit differs", aid,
			    f->number);
		break;
	case DFI_DF_FILE_LINEAR_RECORD:
	case DFI_DF_FILE_CYCLIC_RECORD:
		if (fi.record_size != f->record_size || fi.max_records != f->max_records)
			return differ(why, cap, "app %06X file %u: record geometry differs", aid,
			    f->number);
		if (fi.records != fd->nrecords)
			return differ(why, cap, "app %06X file %u: %u records, want %zu", aid,
			    f->number, fi.records, fd->nrecords);
		if (len != fd->len || memcmp(buf, fd->data, len) != 0)
			return differ(why, cap, "app %06X file %u: records differ", aid, f->number);
		break;
	}
	return 1;
}

int
dfi_test_card_matches_profile(dfi_sim *sim, dfi_hsm *hsm, const dfi_profile *p,
    const dfi_batch_row *row, char *why, size_t cap)
{
	const struct dfi_profile_spec *s = dfi_profile_spec(p);
	struct dfi_card_data *cd = NULL;
	struct dfi_sim_picc_info pi;
	struct dfi_sim_app_info ai;
	uint32_t aids[DFI_SIM_MAX_APPS];
	uint8_t fids[DFI_SIM_MAX_FILES];
	size_t n;
	int rc;
	struct base_cache cache = { .n = 0 };

	if (why != NULL && cap > 0)
		why[0] = '\0';
	if (dfi_sim_picc_info(sim, &pi) != DFI_OK) {
		differ(why, cap, "simulator inspection failed");
		return -1;
	}
	if (pi.key_settings != s->picc.key_settings)
		return differ(why, cap, "PICC key settings %02X, want %02X", pi.key_settings,
		    s->picc.key_settings);
	if (s->picc.config.present) {
		uint8_t want = (uint8_t)((s->picc.config.format_disabled ? 1 : 0) |
		    (s->picc.config.random_uid ? 2 : 0));
		if (pi.config != want)
			return differ(why, cap, "PICC configuration %02X, want %02X", pi.config, want);
	}
	/* "secure_messaging": "lrp": the card was switched to LRP (issue 20);
	 * any other profile leaves it in AES mode. */
	bool lrp = false;
	if (dfi_sim_lrp_mode(sim, &lrp) != DFI_OK) {
		differ(why, cap, "simulator inspection failed");
		return -1;
	}
	if (lrp != (s->secure_messaging == DFI_PROFILE_SM_LRP))
		return differ(why, cap, "the card is %s LRP mode, the profile wants %s", lrp ? "in" : "not in",
		    s->secure_messaging == DFI_PROFILE_SM_LRP ? "LRP" : "AES mode");
	rc = key_is(sim, hsm, &cache, &s->picc.key, 0, 0, row);
	if (rc != 1) {
		differ(why, cap, rc < 0 ? "PICC key check failed" : "PICC master key differs");
		cache_free(&cache);
		return rc < 0 ? -1 : 0;
	}
	if (dfi_sim_list_apps(sim, aids, DFI_SIM_MAX_APPS, &n) != DFI_OK) {
		cache_free(&cache);
		return differ(why, cap, "application list unreadable");
	}
	if (n != s->napps) {
		cache_free(&cache);
		return differ(why, cap, "%zu applications, want %zu", n, s->napps);
	}
	if (dfi_profile_card_data(p, row, &cd, NULL) != DFI_OK) {
		cache_free(&cache);
		differ(why, cap, "profile data for this row failed");
		return -1;
	}
	rc = 1;
	for (size_t i = 0; i < s->napps && rc == 1; i++) {
		const struct dfi_profile_app *a = &s->apps[i];
		uint32_t aid = aid_u32(a->aid);
		if (dfi_sim_app_info(sim, aid, &ai) != DFI_OK) {
			rc = differ(why, cap, "application %06X missing", aid);
			break;
		}
		if (ai.key_settings != a->key_settings) {
			rc = differ(why, cap, "app %06X: key settings %02X, want %02X", aid,
			    ai.key_settings, a->key_settings);
			break;
		}
		if (ai.nkeys != a->nkeys || !dfi_keytype_card_match(a->key_type, ai.keytype)) {
			rc = differ(why, cap, "app %06X: key count or type differs", aid);
			break;
		}
		for (size_t k = 0; k < a->nkeys && rc == 1; k++) {
			int kr = key_is(sim, hsm, &cache, &a->keys[k], aid, a->keys[k].number, row);
			if (kr != 1) {
				differ(why, cap, kr < 0 ? "app %06X key %u: check failed" :
				    "app %06X key %u differs", aid, a->keys[k].number);
				rc = kr < 0 ? -1 : 0;
			}
		}
		if (rc != 1)
			break;
		if (dfi_sim_list_files(sim, aid, fids, DFI_SIM_MAX_FILES, &n) != DFI_OK ||
		    n != a->nfiles) {
			rc = differ(why, cap, "app %06X: file count differs", aid);
			break;
		}
		for (size_t f = 0; f < a->nfiles && rc == 1; f++)
			rc = check_file(sim, aid, &cd->apps[i].files[f], why, cap);
	}
	dfi_card_data_free(cd);
	cache_free(&cache);
	return rc;
}

struct provision_arg {
	dfi_sim *sim;
	dfi_keytype type;
	uint8_t version;
	dfi_err e;
};

static dfi_err
provision(void *arg, const uint8_t *key, size_t keylen)
{
	struct provision_arg *a = arg;
	a->e = dfi_sim_set_picc_key(a->sim, a->type, key, keylen, a->version);
	return DFI_OK;
}

int
dfi_test_card_arrives_with_transport(dfi_sim *sim, dfi_hsm *hsm, const dfi_profile *p,
    const dfi_batch_row *row, char *why, size_t cap)
{
	const struct dfi_profile_transport *t = &dfi_profile_spec(p)->picc.transport;
	uint8_t uid[DFI_SIM_UID_LEN], a[3] = { 0, 0, 0 }, m[DFI_PROFILE_MAX_DIV_INPUT];
	size_t mlen;
	dfi_hsm_key *base = NULL;
	dfi_cardkey *ck = NULL;
	dfi_err e;

	if (t->kind == DFI_TRANSPORT_FACTORY)
		return 0;
	if (t->kind != DFI_TRANSPORT_DIVERSIFIED)
		return differ(why, cap, "only a diversified transport key can be made here"), -1;
	dfi_sim_uid(sim, uid);
	e = dfi_profile_div_input(&t->key, uid, a, row, m, sizeof(m), &mlen, NULL);
	if (e == DFI_OK)
		e = dfi_hsm_key_find(hsm, t->key.base_key, &base);
	if (e == DFI_OK)
		e = dfi_hsm_cardkey_diversified(hsm, base, t->key.type, m, mlen, t->key.version, &ck);
	struct provision_arg pa = { sim, t->key.type, t->key.version, DFI_E_INTERNAL };
	if (e == DFI_OK)
		e = dfi_cardkey_with_bytes(ck, provision, &pa);
	if (e == DFI_OK)
		e = pa.e;
	dfi_cardkey_free(ck);
	dfi_hsm_key_free(base);
	if (e != DFI_OK)
		return differ(why, cap, "transport key for the card: %s", dfi_strerror(e)), -1;
	return 0;
}
