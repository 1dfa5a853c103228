/*
 * Profile validation: walks the jansson tree once, checks every member
 * against the schema of docs/PROFILE.md and builds the typed tree of
 * profile.h. Unknown members are errors (typo protection); every number is
 * range-checked; the only defaults are the documented ones. The typed
 * member getters live in validate_json.c.
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
	dfi_err e = pv_want_array(c, arr, path, 1, MAX_DIV_ITEMS);
	if (e != DFI_OK)
		return e;
	size_t n = json_array_size(arr);
	struct dfi_profile_segment *seg = dfi_profile_alloc(c->p, n * sizeof(*seg));
	if (seg == NULL)
		return pv_nomem();
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
	dfi_err e = pv_want_array(c, arr, path, 1, DFI_PROFILE_MAX_PREVIOUS);
	if (e != DFI_OK)
		return e;
	size_t n = json_array_size(arr);
	struct dfi_profile_prev *pr = dfi_profile_alloc(c->p, n * sizeof(*pr));
	if (pr == NULL)
		return pv_nomem();
	for (size_t i = 0; i < n; i++) {
		char p[PATH_MAX_LEN], q[PATH_MAX_LEN];
		json_t *v = json_array_get(arr, i);
		long long x;
		pv_join_idx(p, path, i);
		if ((e = pv_want_object(c, v, p)) != DFI_OK ||
		    (e = pv_check_members(c, v, p, members, "a previous generation")) != DFI_OK)
			return e;
		pv_join(q, p, "base_key");
		if ((e = pv_get_owned_string(c, v, p, "base_key", 1, URI_MAX_LEN,
			 &pr[i].base_key)) != DFI_OK ||
		    (e = pv_check_uri(c, pr[i].base_key, q)) != DFI_OK)
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

static dfi_err
parse_key(struct vctx *c, json_t *v, const char *path, int is_picc, int uid_key,
    dfi_keytype type, uint8_t number, struct dfi_profile_key *k)
{
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
	const char *uri;
	char p[PATH_MAX_LEN];
	pv_join(p, path, "base_key");
	if ((e = pv_get_owned_string(c, v, path, "base_key", 1, URI_MAX_LEN, &uri)) != DFI_OK ||
	    (e = pv_check_uri(c, uri, p)) != DFI_OK)
		return e;
	k->base_key = uri;
	long long x;
	if ((e = pv_get_int(c, v, path, "version", 1, 0, 255, 0, &x)) != DFI_OK)
		return e;
	k->version = (uint8_t)x;
	if ((e = pv_get_int(c, v, path, "generation", 0, 0, 65535, 0, &x)) != DFI_OK)
		return e;
	k->generation = (uint32_t)x;
	json_t *d;
	if ((e = pv_member(c, v, path, "diversification", 1, &d)) != DFI_OK)
		return e;
	pv_join(p, path, "diversification");
	if ((e = parse_div(c, d, p, is_picc, uid_key, k)) != DFI_OK)
		return e;
	if ((e = pv_member(c, v, path, "previous", 0, &d)) != DFI_OK || d == NULL)
		return e;
	pv_join(p, path, "previous");
	return parse_previous(c, d, p, k);
}

/* Key settings: an integer 0..255 or an object of named flags. */
static dfi_err
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
		pv_join(p, path, "change_key_access");
		if ((e = pv_member(c, v, path, "change_key_access", 1, &a)) != DFI_OK)
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

/* ---- content ---------------------------------------------------------------- */

static const struct choice formats[] = {
	{ "auto", DFI_FMT_AUTO, 0 },
	{ "u8", DFI_FMT_U8, 1 },
	{ "le16", DFI_FMT_LE16, 2 },
	{ "be16", DFI_FMT_BE16, 2 },
	{ "le32", DFI_FMT_LE32, 4 },
	{ "be32", DFI_FMT_BE32, 4 },
	{ "decimal", DFI_FMT_DECIMAL, 0 },
	{ NULL, 0, 0 },
};

static dfi_err
parse_segment(struct vctx *c, json_t *v, const char *path, size_t cap,
    struct dfi_profile_segment *s, size_t *fixed)
{
	static const char *const members[] = { "hex", "text", "field", "format", NULL };
	dfi_err e;
	if ((e = pv_want_object(c, v, path)) != DFI_OK ||
	    (e = pv_check_members(c, v, path, members, "a content segment")) != DFI_OK)
		return e;
	int have = (json_object_get(v, "hex") != NULL) + (json_object_get(v, "text") != NULL) +
	    (json_object_get(v, "field") != NULL);
	if (have != 1)
		return verr(c, path, "must have exactly one of \"hex\", \"text\" or \"field\"");
	if (json_object_get(v, "format") != NULL && json_object_get(v, "field") == NULL) {
		char p[PATH_MAX_LEN];
		pv_join(p, path, "format");
		return verr(c, p, "only a \"field\" segment has a format");
	}
	const char *str;
	char p[PATH_MAX_LEN];
	if (json_object_get(v, "hex") != NULL) {
		pv_join(p, path, "hex");
		if ((e = pv_get_string(c, v, path, "hex", 1, 2 * DFI_PROFILE_CARD_MEMORY + 64, &str)) !=
		    DFI_OK)
			return e;
		uint8_t *b;
		if ((e = pv_hex_bytes(c, str, p, DFI_PROFILE_CARD_MEMORY, &b, &s->len)) != DFI_OK)
			return e;
		s->kind = DFI_SEG_BYTES;
		s->bytes = b;
		*fixed += s->len;
	} else if (json_object_get(v, "text") != NULL) {
		if ((e = pv_get_string(c, v, path, "text", 1, DFI_PROFILE_CARD_MEMORY, &str)) != DFI_OK)
			return e;
		s->kind = DFI_SEG_BYTES;
		s->len = strlen(str);
		if ((s->bytes = (const uint8_t *)dfi_profile_strdup(c->p, str)) == NULL)
			return pv_nomem();
		*fixed += s->len;
	} else {
		pv_join(p, path, "field");
		if ((e = pv_get_string(c, v, path, "field", 1, DFI_FIELD_NAME_MAX, &str)) != DFI_OK)
			return e;
		if (!dfi_field_name_ok(str, strlen(str)))
			return verr(c, p, "field name must be 1..%d of A-Z a-z 0-9 _ . -",
			    DFI_FIELD_NAME_MAX);
		s->kind = DFI_SEG_FIELD;
		if ((s->field = dfi_profile_strdup(c->p, str)) == NULL)
			return pv_nomem();
		if ((e = dfi_profile_note_field(c->p, s->field)) != DFI_OK)
			return e;
		s->fmt = DFI_FMT_AUTO;
		const struct choice *f;
		if ((e = pv_get_choice(c, v, path, "format", 0, formats,
			 "one of auto, u8, le16, be16, le32, be32, decimal", &f)) != DFI_OK)
			return e;
		if (f != NULL) {
			s->fmt = (enum dfi_field_format)f->value;
			*fixed += f->width;
		}
	}
	if (*fixed > cap)
		return verr(c, path, "content is at least %zu bytes, more than the %zu available",
		    *fixed, cap);
	return DFI_OK;
}

/* Content: one segment object or an array of them. */
static dfi_err
parse_content(struct vctx *c, json_t *v, const char *path, size_t cap,
    const struct dfi_profile_segment **out, size_t *nout)
{
	dfi_err e;
	size_t fixed = 0;
	if (json_is_object(v)) {
		struct dfi_profile_segment *s = dfi_profile_alloc(c->p, sizeof(*s));
		if (s == NULL)
			return pv_nomem();
		if ((e = parse_segment(c, v, path, cap, s, &fixed)) != DFI_OK)
			return e;
		*out = s;
		*nout = 1;
		return DFI_OK;
	}
	if (!json_is_array(v))
		return verr(c, path, "must be a segment object or an array of them (got %s)",
		    dfi_profile_json_kind(v));
	if ((e = pv_want_array(c, v, path, 1, MAX_SEGMENTS)) != DFI_OK)
		return e;
	size_t n = json_array_size(v);
	struct dfi_profile_segment *s = dfi_profile_alloc(c->p, n * sizeof(*s));
	if (s == NULL)
		return pv_nomem();
	for (size_t i = 0; i < n; i++) {
		char p[PATH_MAX_LEN];
		pv_join_idx(p, path, i);
		if ((e = parse_segment(c, json_array_get(v, i), p, cap, &s[i], &fixed)) != DFI_OK)
			return e;
	}
	*out = s;
	*nout = n;
	return DFI_OK;
}

/* ---- files ------------------------------------------------------------------ */

static dfi_err
parse_access_right(struct vctx *c, json_t *a, const char *path, const char *key,
    size_t nkeys, uint8_t *out)
{
	json_t *v;
	dfi_err e = pv_member(c, a, path, key, 1, &v);
	if (e != DFI_OK)
		return e;
	char p[PATH_MAX_LEN];
	pv_join(p, path, key);
	if (json_is_string(v) && strcmp(json_string_value(v), "free") == 0) {
		*out = DFI_DF_ACCESS_FREE;
		return DFI_OK;
	}
	if (json_is_string(v) && strcmp(json_string_value(v), "never") == 0) {
		*out = DFI_DF_ACCESS_NEVER;
		return DFI_OK;
	}
	if (!json_is_integer(v))
		return verr(c, p, "must be a key number 0..%zu, \"free\" or \"never\"", nkeys - 1);
	long long x = json_integer_value(v);
	if (x < 0 || x >= (long long)nkeys)
		return verr(c, p, "key %lld does not exist: the application has keys 0..%zu", x,
		    nkeys - 1);
	*out = (uint8_t)x;
	return DFI_OK;
}

static size_t
blocks32(uint64_t n)
{
	return (size_t)((n + 31) / 32 * 32);
}

static dfi_err
add_memory(struct vctx *c, const char *path, uint64_t n)
{
	c->memory += blocks32(n);
	if (c->memory > DFI_PROFILE_CARD_MEMORY)
		return verr(c, path, "the files up to here need %zu bytes of card memory "
				     "(32-byte blocks); no DESFire card has more than %d",
		    c->memory, DFI_PROFILE_CARD_MEMORY);
	return DFI_OK;
}

static const struct choice file_types[] = {
	{ "std", DFI_DF_FILE_STD, 0 },
	{ "backup", DFI_DF_FILE_BACKUP, 0 },
	{ "value", DFI_DF_FILE_VALUE, 0 },
	{ "linear", DFI_DF_FILE_LINEAR_RECORD, 0 },
	{ "cyclic", DFI_DF_FILE_CYCLIC_RECORD, 0 },
	{ NULL, 0, 0 },
};

static const struct choice comm_modes[] = {
	{ "plain", DFI_DF_COMM_PLAIN, 0 },
	{ "mac", DFI_DF_COMM_MAC, 0 },
	{ "full", DFI_DF_COMM_ENC, 0 },
	{ NULL, 0, 0 },
};

static dfi_err
parse_file(struct vctx *c, json_t *v, const char *path, size_t nkeys,
    struct dfi_profile_file *f)
{
	static const char *const data_members[] = { "number", "name", "type", "comm", "access",
		"size", "content", NULL };
	static const char *const value_members[] = { "number", "name", "type", "comm", "access",
		"lower_limit", "upper_limit", "value", "limited_credit", NULL };
	static const char *const record_members[] = { "number", "name", "type", "comm", "access",
		"record_size", "max_records", "records", NULL };
	dfi_err e;
	char p[PATH_MAX_LEN];
	if ((e = pv_want_object(c, v, path)) != DFI_OK)
		return e;

	const struct choice *t;
	if ((e = pv_get_choice(c, v, path, "type", 1, file_types,
		 "\"std\", \"backup\", \"value\", \"linear\" or \"cyclic\"", &t)) != DFI_OK)
		return e;
	f->type = (enum dfi_df_filetype)t->value;
	int is_data = f->type == DFI_DF_FILE_STD || f->type == DFI_DF_FILE_BACKUP;
	int is_record = f->type == DFI_DF_FILE_LINEAR_RECORD || f->type == DFI_DF_FILE_CYCLIC_RECORD;
	char what[40];
	snprintf(what, sizeof(what), "a %s file", t->name);
	if ((e = pv_check_members(c, v, path,
		 is_data ? data_members : is_record ? record_members : value_members, what)) !=
	    DFI_OK)
		return e;

	long long x;
	if ((e = pv_get_int(c, v, path, "number", 1, 0, DFI_PROFILE_MAX_FILE_NO, 0, &x)) != DFI_OK)
		return e;
	f->number = (uint8_t)x;
	const char *name;
	if ((e = pv_get_string(c, v, path, "name", 0, NAME_MAX_LEN, &name)) != DFI_OK)
		return e;

	const struct choice *comm;
	if ((e = pv_get_choice(c, v, path, "comm", 1, comm_modes,
		 "\"plain\", \"mac\" or \"full\"", &comm)) != DFI_OK)
		return e;
	f->comm = (dfi_df_comm)comm->value;

	json_t *a;
	static const char *const access_members[] = { "read", "write", "read_write", "change",
		NULL };
	pv_join(p, path, "access");
	if ((e = pv_member(c, v, path, "access", 1, &a)) != DFI_OK ||
	    (e = pv_want_object(c, a, p)) != DFI_OK ||
	    (e = pv_check_members(c, a, p, access_members, "access rights")) != DFI_OK ||
	    (e = parse_access_right(c, a, p, "read", nkeys, &f->access.read)) != DFI_OK ||
	    (e = parse_access_right(c, a, p, "write", nkeys, &f->access.write)) != DFI_OK ||
	    (e = parse_access_right(c, a, p, "read_write", nkeys, &f->access.read_write)) != DFI_OK ||
	    (e = parse_access_right(c, a, p, "change", nkeys, &f->access.change)) != DFI_OK)
		return e;

	if (is_data) {
		if ((e = pv_get_int(c, v, path, "size", 1, 1, DFI_PROFILE_CARD_MEMORY, 0, &x)) != DFI_OK)
			return e;
		f->size = (uint32_t)x;
		if ((e = add_memory(c, path, f->type == DFI_DF_FILE_BACKUP ? 2ull * f->size : f->size)) !=
		    DFI_OK)
			return e;
		json_t *ct = json_object_get(v, "content");
		if (ct != NULL) {
			pv_join(p, path, "content");
			if ((e = parse_content(c, ct, p, f->size, &f->content, &f->ncontent)) != DFI_OK)
				return e;
		}
	} else if (is_record) {
		if ((e = pv_get_int(c, v, path, "record_size", 1, 1, DFI_PROFILE_CARD_MEMORY, 0, &x)) !=
		    DFI_OK)
			return e;
		f->record_size = (uint32_t)x;
		long long minrec = f->type == DFI_DF_FILE_CYCLIC_RECORD ? 2 : 1;
		if ((e = pv_get_int(c, v, path, "max_records", 1, minrec, DFI_PROFILE_CARD_MEMORY, 0,
			 &x)) != DFI_OK)
			return e;
		f->max_records = (uint32_t)x;
		uint64_t total = (uint64_t)f->record_size * f->max_records;
		if (total > DFI_PROFILE_CARD_MEMORY) {
			pv_join(p, path, "max_records");
			return verr(c, p, "record_size * max_records = %llu bytes: more than the %d "
					  "of the largest card",
			    (unsigned long long)total, DFI_PROFILE_CARD_MEMORY);
		}
		if ((e = add_memory(c, path, total)) != DFI_OK)
			return e;
		json_t *rs = json_object_get(v, "records");
		if (rs != NULL) {
			/* A cyclic file keeps one record free for its rotation. */
			size_t usable = f->type == DFI_DF_FILE_CYCLIC_RECORD ? f->max_records - 1 : f->max_records;
			pv_join(p, path, "records");
			if ((e = pv_want_array(c, rs, p, 0, usable)) != DFI_OK)
				return e;
			size_t n = json_array_size(rs);
			struct dfi_profile_record *r = dfi_profile_alloc(c->p, n * sizeof(*r));
			if (r == NULL)
				return pv_nomem();
			for (size_t i = 0; i < n; i++) {
				char rp[PATH_MAX_LEN];
				pv_join_idx(rp, p, i);
				if ((e = parse_content(c, json_array_get(rs, i), rp, f->record_size,
					 &r[i].seg, &r[i].nseg)) != DFI_OK)
					return e;
			}
			f->records = r;
			f->nrecords = n;
		}
	} else {
		long long lo, hi, val;
		if ((e = pv_get_int(c, v, path, "lower_limit", 1, INT32_MIN, INT32_MAX, 0, &lo)) != DFI_OK ||
		    (e = pv_get_int(c, v, path, "upper_limit", 1, INT32_MIN, INT32_MAX, 0, &hi)) != DFI_OK ||
		    (e = pv_get_int(c, v, path, "value", 1, INT32_MIN, INT32_MAX, 0, &val)) != DFI_OK ||
		    (e = pv_get_bool(c, v, path, "limited_credit", 0, 0, &f->limited_credit)) != DFI_OK)
			return e;
		if (lo > hi) {
			pv_join(p, path, "upper_limit");
			return verr(c, p, "must be >= lower_limit (%lld > %lld)", lo, hi);
		}
		if (val < lo || val > hi) {
			pv_join(p, path, "value");
			return verr(c, p, "must be within lower_limit..upper_limit (%lld..%lld, got %lld)",
			    lo, hi, val);
		}
		f->lower_limit = (int32_t)lo;
		f->upper_limit = (int32_t)hi;
		f->value = (int32_t)val;
		if ((e = add_memory(c, path, 32)) != DFI_OK)
			return e;
	}
	return DFI_OK;
}

/* ---- applications ----------------------------------------------------------- */

static dfi_err
parse_app(struct vctx *c, json_t *v, const char *path, struct dfi_profile_app *app,
    const struct dfi_profile_app *prev, size_t nprev)
{
	static const char *const members[] = { "aid", "name", "key_type", "key_settings", "keys",
		"files", NULL };
	dfi_err e;
	char p[PATH_MAX_LEN];
	if ((e = pv_want_object(c, v, path)) != DFI_OK ||
	    (e = pv_check_members(c, v, path, members, "an application")) != DFI_OK)
		return e;

	const char *aid;
	pv_join(p, path, "aid");
	if ((e = pv_get_string(c, v, path, "aid", 1, 16, &aid)) != DFI_OK)
		return e;
	size_t n;
	if (strlen(aid) != 6 || dfi_hex_decode(aid, app->aid, sizeof(app->aid), &n) != DFI_OK ||
	    n != 3)
		return verr(c, p, "must be 6 hex digits (3 bytes in command order), got \"%.16s\"",
		    aid);
	if (app->aid[0] == 0 && app->aid[1] == 0 && app->aid[2] == 0)
		return verr(c, p, "000000 is the PICC itself, not an application");
	for (size_t i = 0; i < nprev; i++)
		if (memcmp(prev[i].aid, app->aid, 3) == 0)
			return verr(c, p, "AID %s is already used by applications[%zu]", aid, i);

	if ((e = pv_get_owned_string(c, v, path, "name", 0, NAME_MAX_LEN, &app->name)) != DFI_OK)
		return e;
	if ((e = pv_get_keytype(c, v, path, "key_type", &app->key_type)) != DFI_OK)
		return e;

	json_t *keys;
	pv_join(p, path, "keys");
	if ((e = pv_member(c, v, path, "keys", 1, &keys)) != DFI_OK ||
	    (e = pv_want_array(c, keys, p, 1, DFI_PROFILE_MAX_KEYS)) != DFI_OK)
		return e;
	app->nkeys = json_array_size(keys);
	struct dfi_profile_key *k = dfi_profile_alloc(c->p, app->nkeys * sizeof(*k));
	if (k == NULL)
		return pv_nomem();
	for (size_t i = 0; i < app->nkeys; i++) {
		char kp[PATH_MAX_LEN];
		pv_join_idx(kp, p, i);
		const struct dfi_profile_uid_key *uk = &c->p->spec.uid_key;
		int is_uid_key = uk->present && memcmp(uk->aid, app->aid, 3) == 0 && uk->number == i;
		if ((e = parse_key(c, json_array_get(keys, i), kp, 0, is_uid_key, app->key_type,
			 (uint8_t)i, &k[i])) != DFI_OK)
			return e;
	}
	app->keys = k;

	json_t *ks;
	pv_join(p, path, "key_settings");
	if ((e = pv_member(c, v, path, "key_settings", 1, &ks)) != DFI_OK ||
	    (e = parse_key_settings(c, ks, p, 1, app->nkeys, &app->key_settings)) != DFI_OK)
		return e;

	json_t *files = json_object_get(v, "files");
	if (files != NULL) {
		pv_join(p, path, "files");
		if ((e = pv_want_array(c, files, p, 0, DFI_PROFILE_MAX_FILES)) != DFI_OK)
			return e;
		app->nfiles = json_array_size(files);
		struct dfi_profile_file *f = dfi_profile_alloc(c->p, app->nfiles * sizeof(*f));
		if (f == NULL)
			return pv_nomem();
		for (size_t i = 0; i < app->nfiles; i++) {
			char fp[PATH_MAX_LEN];
			pv_join_idx(fp, p, i);
			if ((e = parse_file(c, json_array_get(files, i), fp, app->nkeys, &f[i])) != DFI_OK)
				return e;
			for (size_t j = 0; j < i; j++) {
				if (f[j].number == f[i].number) {
					char np[PATH_MAX_LEN];
					pv_join(np, fp, "number");
					return verr(c, np, "file number %u is already used by files[%zu]",
					    f[i].number, j);
				}
			}
		}
		app->files = f;
	}
	return DFI_OK;
}

/* ---- PICC and top level ----------------------------------------------------- */

/* "factory", or a static HSM key {type, key, version}, or a diversified
 * key object {type, base_key, version, generation, diversification}. */
static dfi_err
parse_transport(struct vctx *c, json_t *v, const char *path, struct dfi_profile_transport *t)
{
	static const char *const static_members[] = { "type", "key", "version", NULL };
	dfi_err e;
	char p[PATH_MAX_LEN];
	memset(t, 0, sizeof(*t));
	if (json_is_string(v)) {
		if (strcmp(json_string_value(v), "factory") != 0)
			return verr(c, path, "must be \"factory\" or a key object (got \"%.40s\")",
			    json_string_value(v));
		t->kind = DFI_TRANSPORT_FACTORY;
		return DFI_OK;
	}
	if ((e = pv_want_object(c, v, path)) != DFI_OK)
		return e;
	int has_key = json_object_get(v, "key") != NULL, has_base = json_object_get(v, "base_key") != NULL;
	if (has_key == has_base)
		return verr(c, path, "needs exactly one of \"key\" (one static HSM key for every card) "
				  "and \"base_key\" with \"diversification\" (a key per card)");
	if (has_base) {
		t->kind = DFI_TRANSPORT_DIVERSIFIED;
		if ((e = parse_key(c, v, path, 1, 0, DFI_KT_AES128, 0, &t->key)) != DFI_OK)
			return e;
		if (t->key.nprevious > 0) {
			pv_join(p, path, "previous");
			return verr(c, p, "a transport key has no generations to rotate from: name "
					  "older PICC keys in picc.key.previous");
		}
		return DFI_OK;
	}
	t->kind = DFI_TRANSPORT_STATIC;
	if ((e = pv_check_members(c, v, path, static_members, "a static transport key")) != DFI_OK ||
	    (e = pv_get_keytype(c, v, path, "type", &t->key.type)) != DFI_OK)
		return e;
	const char *uri;
	pv_join(p, path, "key");
	if ((e = pv_get_owned_string(c, v, path, "key", 1, URI_MAX_LEN, &uri)) != DFI_OK ||
	    (e = pv_check_uri(c, uri, p)) != DFI_OK)
		return e;
	t->key.base_key = uri;
	long long x;
	if ((e = pv_get_int(c, v, path, "version", 1, 0, 255, 0, &x)) != DFI_OK)
		return e;
	t->key.version = (uint8_t)x;
	return DFI_OK;
}

/* "require" | "warn" | "off", or {"policy": ..., "trusted_keys": FILE}. */
static dfi_err
parse_originality(struct vctx *c, json_t *v, const char *path, struct dfi_profile_originality *o)
{
	static const struct choice policies[] = { { "warn", DFI_ORIGINALITY_WARN, 0 },
		{ "require", DFI_ORIGINALITY_REQUIRE, 0 }, { "off", DFI_ORIGINALITY_OFF, 0 },
		{ NULL, 0, 0 } };
	static const char *const members[] = { "policy", "trusted_keys", NULL };
	const struct choice *ch;
	dfi_err e;
	memset(o, 0, sizeof(*o));
	if (json_is_string(v)) {
		for (ch = policies; ch->name != NULL; ch++)
			if (strcmp(ch->name, json_string_value(v)) == 0) {
				o->policy = (enum dfi_originality_policy)ch->value;
				return DFI_OK;
			}
		return verr(c, path, "must be \"require\", \"warn\" or \"off\" (got \"%.40s\")",
		    json_string_value(v));
	}
	if ((e = pv_want_object(c, v, path)) != DFI_OK ||
	    (e = pv_check_members(c, v, path, members, "originality")) != DFI_OK ||
	    (e = pv_get_choice(c, v, path, "policy", 0, policies, "\"require\", \"warn\" or \"off\"",
		 &ch)) != DFI_OK)
		return e;
	o->policy = ch != NULL ? (enum dfi_originality_policy)ch->value : DFI_ORIGINALITY_WARN;
	const char *file;
	if ((e = pv_get_string(c, v, path, "trusted_keys", 0, 4096, &file)) != DFI_OK)
		return e;
	if (file == NULL)
		return DFI_OK;
	if (file[0] == '\0') {
		char p[PATH_MAX_LEN];
		pv_join(p, path, "trusted_keys");
		return verr(c, p, "must name a file");
	}
	/* Relative to the profile's directory, as an operator reads it. */
	const char *slash = strrchr(c->file, '/');
	size_t dl = file[0] == '/' || slash == NULL ? 0 : (size_t)(slash - c->file) + 1;
	char *full = dfi_profile_alloc(c->p, dl + strlen(file) + 1);
	if (full == NULL)
		return pv_nomem();
	memcpy(full, c->file, dl);
	memcpy(full + dl, file, strlen(file) + 1);
	o->trusted_keys = full;
	return DFI_OK;
}

/* "uid_key": {"application": AID, "key": N}: which application key reads
 * a random-ID card's UID. It must exist (checked once the applications
 * are parsed, uid_key_check) and is diversified without the UID. */
static dfi_err
parse_uid_key(struct vctx *c, json_t *v, const char *path, struct dfi_profile_uid_key *uk)
{
	static const char *const members[] = { "application", "key", NULL };
	const char *aid;
	char p[PATH_MAX_LEN];
	long long x;
	size_t n;
	dfi_err e;
	if ((e = pv_want_object(c, v, path)) != DFI_OK ||
	    (e = pv_check_members(c, v, path, members, "the UID key")) != DFI_OK ||
	    (e = pv_get_string(c, v, path, "application", 1, 16, &aid)) != DFI_OK ||
	    (e = pv_get_int(c, v, path, "key", 1, 0, DFI_PROFILE_MAX_KEYS - 1, 0, &x)) != DFI_OK)
		return e;
	pv_join(p, path, "application");
	if (strlen(aid) != 6 || dfi_hex_decode(aid, uk->aid, sizeof(uk->aid), &n) != DFI_OK ||
	    n != 3 || (uk->aid[0] | uk->aid[1] | uk->aid[2]) == 0)
		return verr(c, p, "must be the 6 hex digits of one of the profile's applications "
				  "(the PICC master key is diversified with the UID), got \"%.16s\"", aid);
	uk->number = (uint8_t)x;
	uk->present = 1;
	return DFI_OK;
}

/* After the applications: the UID key names one of them and one of its
 * keys; random ID needs it (a random-ID card whose every key is
 * diversified with the UID could never be opened again). */
static dfi_err
uid_key_check(struct vctx *c, const struct dfi_profile_spec *s)
{
	const struct dfi_profile_uid_key *uk = &s->uid_key;
	if (!uk->present) {
		if (s->picc.config.random_uid)
			return verr(c, "picc.configuration.random_uid", "needs picc.uid_key: a key "
					  "diversified without the UID, to read a random-ID card's UID with");
		return DFI_OK;
	}
	for (size_t i = 0; i < s->napps; i++) {
		if (memcmp(s->apps[i].aid, uk->aid, 3) != 0)
			continue;
		if (uk->number < s->apps[i].nkeys)
			return DFI_OK;
		return verr(c, "picc.uid_key.key", "application %02X%02X%02X has %zu key(s): no key %u",
		    uk->aid[0], uk->aid[1], uk->aid[2], s->apps[i].nkeys, uk->number);
	}
	return verr(c, "picc.uid_key.application", "no application %02X%02X%02X in the profile",
	    uk->aid[0], uk->aid[1], uk->aid[2]);
}

static dfi_err
parse_picc(struct vctx *c, json_t *v, const char *path, struct dfi_profile_picc *picc)
{
	static const char *const members[] = { "key", "key_settings", "configuration",
		"transport_key", "uid_key", NULL };
	dfi_err e;
	char p[PATH_MAX_LEN];
	if ((e = pv_want_object(c, v, path)) != DFI_OK ||
	    (e = pv_check_members(c, v, path, members, "picc")) != DFI_OK)
		return e;
	json_t *k;
	pv_join(p, path, "key");
	if ((e = pv_member(c, v, path, "key", 1, &k)) != DFI_OK ||
	    (e = parse_key(c, k, p, 1, 0, DFI_KT_AES128, 0, &picc->key)) != DFI_OK)
		return e;
	json_t *ks;
	pv_join(p, path, "key_settings");
	if ((e = pv_member(c, v, path, "key_settings", 1, &ks)) != DFI_OK ||
	    (e = parse_key_settings(c, ks, p, 0, 1, &picc->key_settings)) != DFI_OK)
		return e;
	json_t *cf = json_object_get(v, "configuration");
	if (cf != NULL) {
		static const char *const cmembers[] = { "format_disabled", "random_uid",
			"random_uid_early", NULL };
		pv_join(p, path, "configuration");
		if ((e = pv_want_object(c, cf, p)) != DFI_OK ||
		    (e = pv_check_members(c, cf, p, cmembers, "the PICC configuration")) != DFI_OK ||
		    (e = pv_get_bool(c, cf, p, "format_disabled", 0, 0, &picc->config.format_disabled)) !=
			DFI_OK ||
		    (e = pv_get_bool(c, cf, p, "random_uid", 0, 0, &picc->config.random_uid)) != DFI_OK ||
		    (e = pv_get_bool(c, cf, p, "random_uid_early", 0, 0,
			 &picc->config.random_uid_early)) != DFI_OK)
			return e;
		picc->config.present = 1;
		if (picc->config.random_uid_early && !picc->config.random_uid) {
			char q[PATH_MAX_LEN];
			pv_join(q, p, "random_uid_early");
			return verr(c, q, "needs \"random_uid\": true");
		}
	}
	json_t *uk = json_object_get(v, "uid_key");
	if (uk != NULL) {
		pv_join(p, path, "uid_key");
		if ((e = parse_uid_key(c, uk, p, &c->p->spec.uid_key)) != DFI_OK)
			return e;
	}
	json_t *tk = json_object_get(v, "transport_key");
	if (tk != NULL) {
		pv_join(p, path, "transport_key");
		if ((e = parse_transport(c, tk, p, &picc->transport)) != DFI_OK)
			return e;
	}
	return DFI_OK;
}

dfi_err
dfi_profile_validate(struct dfi_profile *p, json_t *root, const dfi_linemap *lm,
    struct dfi_diag *diag)
{
	struct vctx c = { p, lm, p->file, diag, 0 };
	static const char *const members[] = { "schema", "name", "description", "picc",
		"applications", "originality", "secure_messaging", NULL };
	static const struct choice sms[] = { { "auto", DFI_PROFILE_SM_AUTO, 0 },
		{ "ev1", DFI_PROFILE_SM_EV1, 0 }, { NULL, 0, 0 } };
	const struct choice *sm;
	dfi_err e;
	if (!json_is_object(root))
		return verr(&c, "", "the profile must be a JSON object (got %s)",
		    dfi_profile_json_kind(root));
	if ((e = pv_check_members(&c, root, "", members, "the profile")) != DFI_OK)
		return e;
	const char *schema;
	if ((e = pv_get_string(&c, root, "", "schema", 1, 64, &schema)) != DFI_OK)
		return e;
	if (strcmp(schema, SCHEMA_ID) != 0)
		return verr(&c, "schema", "must be \"" SCHEMA_ID "\" (got \"%s\")", schema);
	if ((e = pv_get_owned_string(&c, root, "", "name", 1, NAME_MAX_LEN, &p->spec.name)) != DFI_OK ||
	    (e = pv_get_owned_string(&c, root, "", "description", 0, 4096, &p->spec.description)) !=
		DFI_OK)
		return e;
	json_t *picc;
	if ((e = pv_member(&c, root, "", "picc", 1, &picc)) != DFI_OK ||
	    (e = parse_picc(&c, picc, "picc", &p->spec.picc)) != DFI_OK)
		return e;
	json_t *orig = json_object_get(root, "originality");
	if (orig != NULL && (e = parse_originality(&c, orig, "originality", &p->spec.originality)) != DFI_OK)
		return e;
	if ((e = pv_get_choice(&c, root, "", "secure_messaging", 0, sms, "\"auto\" or \"ev1\"",
	    &sm)) != DFI_OK)
		return e;
	p->spec.secure_messaging = sm != NULL ? (enum dfi_profile_sm)sm->value : DFI_PROFILE_SM_AUTO;
	json_t *apps;
	if ((e = pv_member(&c, root, "", "applications", 1, &apps)) != DFI_OK ||
	    (e = pv_want_array(&c, apps, "applications", 0, DFI_PROFILE_MAX_APPS)) != DFI_OK)
		return e;
	size_t n = json_array_size(apps);
	struct dfi_profile_app *a = dfi_profile_alloc(p, n * sizeof(*a));
	if (a == NULL)
		return pv_nomem();
	p->spec.apps = a;
	for (size_t i = 0; i < n; i++) {
		char ap[PATH_MAX_LEN];
		pv_join_idx(ap, "applications", i);
		if ((e = parse_app(&c, json_array_get(apps, i), ap, &a[i], a, i)) != DFI_OK)
			return e;
		p->spec.napps = i + 1;
	}
	return uid_key_check(&c, &p->spec);
}
