/*
 * Profile validation, files: data, value and record files, their access
 * rights, initial content segments and the card memory they need (split
 * from validate.c).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "dfissue/util.h"
#include "validate_int.h"
#include "core/nelem.h"

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

const char *
dfi_field_format_name(enum dfi_field_format f)
{
	for (const struct choice *c = formats; c->name != NULL; c++)
		if (c->value == (int)f)
			return c->name;
	return "?";
}

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
	size_t n;
	struct dfi_profile_segment *s = pv_array_table(c, v, path, 1, MAX_SEGMENTS, sizeof(*s), &n, &e);
	if (s == NULL)
		return e;
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
	char p[PATH_MAX_LEN];
	dfi_err e = pv_member_at(c, a, path, key, 1, &v, p);
	if (e != DFI_OK)
		return e;
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

dfi_err
parse_file(struct vctx *c, json_t *v, const char *path, size_t nkeys,
    struct dfi_profile_file *f)
{
	static const char *const data_members[] = { "number", "name", "type", "comm", "access",
		"size", "content", "sdm", NULL };
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
	if ((e = pv_member_at(c, v, path, "access", 1, &a, p)) != DFI_OK ||
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
			size_t n;
			struct dfi_profile_record *r = pv_array_table(c, rs, p, 0, usable, sizeof(*r), &n,
			    &e);
			if (r == NULL)
				return e;
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
