/*
 * Profile validation, keys: a key's diversification recipe, its previous
 * versions, the key itself and the key settings byte (split from validate.c).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "dfissue/util.h"
#include "validate_int.h"
#include "core/nelem.h"

/* A key's diversification input recipe. Every key needs the UID in it
 * except the UID key (uid_key set), which must not use it nor a batch
 * field: it opens a card whose UID is still unknown (random ID). */
static dfi_err
parse_div(struct vctx *c, json_t *arr, const char *path, int is_picc, int uid_key,
    struct dfi_profile_key *k)
{
	dfi_err e;
	size_t n;
	struct dfi_profile_segment *seg = pv_array_table(c, arr, path, 1, MAX_DIV_ITEMS, sizeof(*seg),
	    &n, &e);
	if (seg == NULL)
		return e;
	size_t fixed = 0;
	int have_uid = 0;
	for (size_t i = 0; i < n; i++) {
		char p[PATH_MAX_LEN];
		pv_join_idx(p, path, i);
		json_t *v = json_array_get(arr, i);
		if (!json_is_string(v))
			return verr(c, p, "must be a string: \"uid\", \"aid\", \"sysid:HEX\", "
					  "\"hex:HEX\" or \"field:NAME\" (got %s)", dfi_profile_json_kind(v));
		const char *s = json_string_value(v);
		if (uid_key && (strcmp(s, "uid") == 0 || strncmp(s, "field:", 6) == 0))
			return verr(c, p, "the UID key (picc.uid_key) opens random-ID cards before "
					  "their UID is known: its diversification takes no \"uid\" "
					  "nor \"field:\" (use \"aid\", \"sysid:HEX\", \"hex:HEX\")");
		if (strcmp(s, "uid") == 0) {
			seg[i].kind = DFI_SEG_UID;
			fixed += DFI_PROFILE_UID_LEN;
			have_uid = 1;
		} else if (strcmp(s, "aid") == 0) {
			(void)is_picc; /* the PICC key's AID is 000000 */
			seg[i].kind = DFI_SEG_AID;
			fixed += DFI_PROFILE_AID_LEN;
		} else if (strncmp(s, "sysid:", 6) == 0 || strncmp(s, "hex:", 4) == 0) {
			const char *hex = strchr(s, ':') + 1;
			uint8_t *b;
			size_t len;
			if ((e = pv_hex_bytes(c, hex, p, DFI_PROFILE_MAX_DIV_INPUT, &b, &len)) != DFI_OK)
				return e;
			seg[i].kind = DFI_SEG_BYTES;
			seg[i].bytes = b;
			seg[i].len = len;
			fixed += len;
		} else if (strncmp(s, "field:", 6) == 0) {
			const char *name = s + 6;
			if (!dfi_field_name_ok(name, strlen(name)))
				return verr(c, p, "field name must be 1..%d of A-Z a-z 0-9 _ . -",
				    DFI_FIELD_NAME_MAX);
			seg[i].kind = DFI_SEG_FIELD;
			seg[i].fmt = DFI_FMT_AUTO;
			if ((seg[i].field = dfi_profile_strdup(c->p, name)) == NULL)
				return pv_nomem();
			if ((e = dfi_profile_note_field(c->p, seg[i].field)) != DFI_OK)
				return e;
		} else {
			return verr(c, p, "unknown item \"%.40s\" (expected \"uid\", \"aid\", "
					  "\"sysid:HEX\", \"hex:HEX\" or \"field:NAME\")", s);
		}
		if (fixed > DFI_PROFILE_MAX_DIV_INPUT)
			return verr(c, p, "diversification input exceeds %d bytes (AN10922)",
			    DFI_PROFILE_MAX_DIV_INPUT);
	}
	if (!have_uid && !uid_key)
		return verr(c, path, "must contain \"uid\": every card needs its own keys");
	k->div = seg;
	k->ndiv = n;
	return DFI_OK;
}

/* "previous": the older generations a card may still hold in this slot,
 * each {base_key, version, generation}. A generation is older than the
 * key's and named once; its version differs from the key's so that
 * GetKeyVersion tells a rotated slot from one still to rotate. */
static dfi_err
parse_previous(struct vctx *c, json_t *arr, const char *path, struct dfi_profile_key *k)
{
	static const char *const members[] = { "base_key", "version", "generation", NULL };
	dfi_err e;
	size_t n;
	struct dfi_profile_prev *pr = pv_array_table(c, arr, path, 1, DFI_PROFILE_MAX_PREVIOUS,
	    sizeof(*pr), &n, &e);
	if (pr == NULL)
		return e;
	for (size_t i = 0; i < n; i++) {
		char p[PATH_MAX_LEN], q[PATH_MAX_LEN];
		json_t *v = json_array_get(arr, i);
		long long x;
		pv_join_idx(p, path, i);
		if ((e = pv_want_object(c, v, p)) != DFI_OK ||
		    (e = pv_check_members(c, v, p, members, "a previous generation")) != DFI_OK)
			return e;
		if ((e = pv_get_uri(c, v, p, "base_key", &pr[i].base_key)) != DFI_OK)
			return e;
		if ((e = pv_get_int(c, v, p, "version", 1, 0, 255, 0, &x)) != DFI_OK)
			return e;
		pr[i].version = (uint8_t)x;
		pv_join(q, p, "version");
		if (pr[i].version == k->version)
			return verr(c, q, "must differ from the key's version %u: the version tells "
					  "a rotated key from one still to rotate", k->version);
		if ((e = pv_get_int(c, v, p, "generation", 1, 0, 65535, 0, &x)) != DFI_OK)
			return e;
		pr[i].generation = (uint32_t)x;
		pv_join(q, p, "generation");
		if (pr[i].generation >= k->generation)
			return verr(c, q, "must be older than the key's generation %u (got %u)",
			    (unsigned)k->generation, (unsigned)pr[i].generation);
		for (size_t j = 0; j < i; j++)
			if (pr[j].generation == pr[i].generation)
				return verr(c, q, "generation %u is named twice",
				    (unsigned)pr[i].generation);
	}
	k->previous = pr;
	k->nprevious = n;
	return DFI_OK;
}

dfi_err
parse_key(struct vctx *c, json_t *v, const char *path, enum pv_key_role role, int uid_key,
    dfi_keytype type, uint8_t number, struct dfi_profile_key *k)
{
	int is_picc = role != PV_KEY_APP;
	static const char *const picc_members[] = { "type", "base_key", "version", "generation",
		"diversification", "previous", NULL };
	static const char *const app_members[] = { "base_key", "version", "generation",
		"diversification", "previous", NULL };
	dfi_err e;
	if ((e = pv_want_object(c, v, path)) != DFI_OK ||
	    (e = pv_check_members(c, v, path, is_picc ? picc_members : app_members,
		 is_picc ? "the PICC key" : "an application key (its type is the "
					    "application's key_type)")) != DFI_OK)
		return e;
	k->number = number;
	k->type = type;
	if (is_picc && (e = pv_get_keytype(c, v, path, "type", &k->type)) != DFI_OK)
		return e;
	if ((e = pv_get_uri(c, v, path, "base_key", &k->base_key)) != DFI_OK)
		return e;
	long long x;
	if ((e = pv_get_int(c, v, path, "version", 1, 0, 255, 0, &x)) != DFI_OK)
		return e;
	k->version = (uint8_t)x;
	/* A key this profile writes must not carry the factory version: the
	 * version is how a changed key is told from a factory one. The
	 * transport key is what the supplier wrote: any version. */
	if (role != PV_KEY_TRANSPORT && x == 0) {
		char q[PATH_MAX_LEN];
		pv_join(q, path, "version");
		return verr(c, q, "must be 1..255: 0 is the factory version, and a changed key "
				  "must be told from a factory one (got 0)");
	}
	if ((e = pv_get_int(c, v, path, "generation", 0, 0, 65535, 0, &x)) != DFI_OK)
		return e;
	k->generation = (uint32_t)x;
	json_t *d;
	char p[PATH_MAX_LEN];
	if ((e = pv_member_at(c, v, path, "diversification", 1, &d, p)) != DFI_OK)
		return e;
	if ((e = parse_div(c, d, p, is_picc, uid_key, k)) != DFI_OK)
		return e;
	if ((e = pv_member(c, v, path, "previous", 0, &d)) != DFI_OK || d == NULL)
		return e;
	pv_join(p, path, "previous");
	return parse_previous(c, d, p, k);
}

/* Key settings: an integer 0..255 or an object of named flags. */
dfi_err
parse_key_settings(struct vctx *c, json_t *v, const char *path, int is_app, size_t nkeys,
    uint8_t *out)
{
	dfi_err e;
	if (json_is_integer(v)) {
		long long x;
		if ((e = pv_int_range(c, v, path, 0, 255, &x)) != DFI_OK)
			return e;
		unsigned hi = (unsigned)x >> 4;
		if (!is_app && hi != 0)
			return verr(c, path, "bits 7..4 of the PICC key settings are reserved and "
					     "must be 0 (got 0x%02llX)", x);
		if (is_app && hi >= nkeys && hi < DFI_KS_CHANGE_KEY_SAME)
			return verr(c, path, "bits 7..4 name key %u, but the application has %zu keys",
			    hi, nkeys);
		*out = (uint8_t)x;
		return DFI_OK;
	}
	if (!json_is_object(v))
		return verr(c, path, "must be an integer 0..255 or an object of named flags "
				     "(got %s)", dfi_profile_json_kind(v));
	static const char *const picc_members[] = { "allow_change_mk", "free_listing",
		"free_create_delete", "config_changeable", NULL };
	static const char *const app_members[] = { "allow_change_mk", "free_listing",
		"free_create_delete", "config_changeable", "change_key_access", NULL };
	if ((e = pv_check_members(c, v, path, is_app ? app_members : picc_members,
		 "key settings")) != DFI_OK)
		return e;
	static const struct {
		const char *name;
		uint8_t bit;
	} flags[] = {
		{ "allow_change_mk", DFI_KS_ALLOW_CHANGE_MK },
		{ "free_listing", DFI_KS_FREE_LISTING },
		{ "free_create_delete", DFI_KS_FREE_CREATE_DELETE },
		{ "config_changeable", DFI_KS_CONFIG_CHANGEABLE },
	};
	uint8_t ks = 0;
	for (size_t i = 0; i < DFI_NELEM(flags); i++) {
		int b;
		if ((e = pv_get_bool(c, v, path, flags[i].name, 1, 0, &b)) != DFI_OK)
			return e;
		if (b)
			ks |= flags[i].bit;
	}
	if (is_app) {
		json_t *a;
		char p[PATH_MAX_LEN];
		if ((e = pv_member_at(c, v, path, "change_key_access", 1, &a, p)) != DFI_OK)
			return e;
		unsigned hi;
		if (json_is_string(a) && strcmp(json_string_value(a), "master") == 0)
			hi = DFI_KS_CHANGE_KEY_MASTER;
		else if (json_is_string(a) && strcmp(json_string_value(a), "same") == 0)
			hi = DFI_KS_CHANGE_KEY_SAME;
		else if (json_is_string(a) && strcmp(json_string_value(a), "frozen") == 0)
			hi = DFI_KS_CHANGE_KEY_FROZEN;
		else if (json_is_integer(a)) {
			long long x;
			if ((e = pv_int_range(c, a, p, 0, (long long)nkeys - 1, &x)) != DFI_OK)
				return e;
			hi = (unsigned)x;
		} else
			return verr(c, p, "must be \"master\", \"same\", \"frozen\" or a key number "
					  "0..%zu", nkeys - 1);
		ks |= (uint8_t)(hi << 4);
	}
	*out = ks;
	return DFI_OK;
}
