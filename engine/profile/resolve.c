/*
 * Per-card resolution: turns a profile's content and diversification
 * recipes into bytes for one card, from literals and the card's batch row.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile_int.h"

/* Widest fixed encoding of an integer field, or its decimal text. */
#define INT_BYTES_MAX 24

static const char *
row_file(const dfi_batch_row *row)
{
	return row != NULL ? row->file : "";
}

static int
row_line(const dfi_batch_row *row)
{
	return row != NULL ? row->line : 0;
}

/* A field whose type or presence does not suit the profile. In a CSV row
 * the header decides both, so the report names the header's line and the
 * declaration to write there; a JSON line types each value itself. */
static dfi_err
field_unfit(const struct dfi_profile_segment *s, const dfi_batch_row *row,
    const struct dfi_batch_value *v, int in_div, struct dfi_diag *diag)
{
	const char *f = s->field;
	if (row->header_line > 0) {
		if (v == NULL)
			return dfi_diag_set(diag, row->file, row->header_line, 0, f,
			    "missing: the profile needs this field: add a column %s to the header", f);
		if (s->fmt != DFI_FMT_AUTO)
			return dfi_diag_set(diag, row->file, row->header_line, 0, f,
			    "the profile formats it as %s: declare the column %s:int",
			    dfi_field_format_name(s->fmt), f);
		if (in_div)
			return dfi_diag_set(diag, row->file, row->header_line, 0, f,
			    "an integer cannot be part of a diversification input: declare the "
			    "column %s:hex", f);
		return dfi_diag_set(diag, row->file, row->header_line, 0, f,
		    "the profile uses its bytes: declare the column %s:hex or %s:string, or give "
		    "the content segment a \"format\"", f, f);
	}
	if (v == NULL)
		return dfi_diag_set(diag, row->file, row->line, 0, f,
		    "missing: the profile needs this field");
	if (s->fmt != DFI_FMT_AUTO)
		return dfi_diag_set(diag, row->file, row->line, 0, f,
		    "must be an integer: the profile formats it as %s",
		    dfi_field_format_name(s->fmt));
	return dfi_diag_set(diag, row->file, row->line, 0, f,
	    in_div ? "an integer cannot be part of a diversification input: "
		     "give the field as hex (name:hex)"
		   : "is an integer: give the content segment a \"format\" "
		     "(u8, le16, be16, le32, be32 or decimal)");
}

/* The bytes a field segment stands for in this row. tmp holds encoded
 * integers. */
static dfi_err
field_bytes(const struct dfi_profile_segment *s, const dfi_batch_row *row, int in_div,
    uint8_t tmp[INT_BYTES_MAX], const uint8_t **p, size_t *n, struct dfi_diag *diag)
{
	if (row == NULL)
		return dfi_diag_set(diag, "", 0, 0, s->field,
		    "the profile refers to this batch field, but no batch row was given");
	const struct dfi_batch_value *v = dfi_batch_row_get(row, s->field);
	if (v == NULL || (s->fmt == DFI_FMT_AUTO) == (v->type == DFI_VAL_INT))
		return field_unfit(s, row, v, in_div, diag);
	if (s->fmt == DFI_FMT_AUTO) {
		*p = v->bytes;
		*n = v->len;
		return DFI_OK;
	}
	int64_t x = v->i;
	uint64_t max = 0;
	switch (s->fmt) {
	case DFI_FMT_U8: max = 0xFF; break;
	case DFI_FMT_LE16: case DFI_FMT_BE16: max = 0xFFFF; break;
	case DFI_FMT_LE32: case DFI_FMT_BE32: max = 0xFFFFFFFFu; break;
	case DFI_FMT_DECIMAL: {
		int k = snprintf((char *)tmp, INT_BYTES_MAX, "%" PRId64, x);
		*p = tmp;
		*n = (size_t)k;
		return DFI_OK;
	}
	case DFI_FMT_AUTO: break;
	}
	if (x < 0 || (uint64_t)x > max)
		return dfi_diag_set(diag, row->file, row->line, 0, s->field,
		    "must be 0..%" PRIu64 " for the profile's %s (got %" PRId64 ")", max,
		    dfi_field_format_name(s->fmt), x);
	uint32_t u = (uint32_t)x;
	switch (s->fmt) {
	case DFI_FMT_U8: tmp[0] = (uint8_t)u; *n = 1; break;
	case DFI_FMT_LE16: tmp[0] = (uint8_t)u; tmp[1] = (uint8_t)(u >> 8); *n = 2; break;
	case DFI_FMT_BE16: tmp[0] = (uint8_t)(u >> 8); tmp[1] = (uint8_t)u; *n = 2; break;
	case DFI_FMT_LE32:
		for (int i = 0; i < 4; i++)
			tmp[i] = (uint8_t)(u >> (8 * i));
		*n = 4;
		break;
	case DFI_FMT_BE32:
		for (int i = 0; i < 4; i++)
			tmp[i] = (uint8_t)(u >> (8 * (3 - i)));
		*n = 4;
		break;
	default: return DFI_E_INTERNAL;
	}
	*p = tmp;
	return DFI_OK;
}

/* Appends segments to out[0..cap); what names the destination in errors. */
static dfi_err
build(const struct dfi_profile_segment *seg, size_t nseg, const dfi_batch_row *row,
    const uint8_t *uid, const uint8_t *aid, uint8_t *out, size_t cap, size_t *len,
    const char *what, struct dfi_diag *diag)
{
	size_t n = 0;
	for (size_t i = 0; i < nseg; i++) {
		const struct dfi_profile_segment *s = &seg[i];
		uint8_t tmp[INT_BYTES_MAX];
		const uint8_t *p = NULL;
		size_t k = 0;
		dfi_err e;
		switch (s->kind) {
		case DFI_SEG_BYTES: p = s->bytes; k = s->len; break;
		case DFI_SEG_UID: p = uid; k = DFI_PROFILE_UID_LEN; break;
		case DFI_SEG_AID: p = aid; k = DFI_PROFILE_AID_LEN; break;
		case DFI_SEG_FIELD:
			if ((e = field_bytes(s, row, uid != NULL, tmp, &p, &k, diag)) != DFI_OK)
				return e;
			break;
		}
		if (p == NULL && k > 0) {
			(void)dfi_diag_set(diag, row_file(row), row_line(row), 0, NULL,
			    "%s: the recipe uses the card's %s, and none was given", what,
			    s->kind == DFI_SEG_UID ? "UID" : "AID");
			return DFI_E_INVALID_ARG;
		}
		if (k > cap - n) {
			if (s->kind == DFI_SEG_FIELD)
				return dfi_diag_set(diag, row_file(row), row_line(row), 0, s->field,
				    "%zu bytes do not fit %s (%zu of %zu bytes already used)", k, what, n,
				    cap);
			return dfi_diag_set(diag, row_file(row), row_line(row), 0, NULL,
			    "%s: content longer than %zu bytes", what, cap);
		}
		if (k > 0)
			memcpy(out + n, p, k);
		n += k;
	}
	*len = n;
	return DFI_OK;
}

void
dfi_card_data_free(struct dfi_card_data *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->napps; i++) {
		for (size_t j = 0; j < d->apps[i].nfiles; j++)
			free(d->apps[i].files[j].data);
		free(d->apps[i].files);
	}
	free(d->apps);
	free(d);
}

static dfi_err
file_data(const struct dfi_profile_file *f, size_t ai, size_t fi, const dfi_batch_row *row,
    struct dfi_file_data *out, struct dfi_diag *diag)
{
	char what[96];
	out->file = f;
	if (f->type == DFI_DF_FILE_STD || f->type == DFI_DF_FILE_BACKUP) {
		snprintf(what, sizeof(what), "applications[%zu].files[%zu]", ai, fi);
		if ((out->data = calloc(1, f->size)) == NULL)
			return DFI_E_NOMEM;
		out->len = f->size;
		return build(f->content, f->ncontent, row, NULL, NULL, out->data, f->size,
		    &out->content_len, what, diag);
	}
	if (f->type == DFI_DF_FILE_LINEAR_RECORD || f->type == DFI_DF_FILE_CYCLIC_RECORD) {
		size_t total = (size_t)f->record_size * f->nrecords; /* <= 8192: validated */
		if ((out->data = calloc(1, total ? total : 1)) == NULL)
			return DFI_E_NOMEM;
		out->len = total;
		out->content_len = total;
		out->nrecords = f->nrecords;
		for (size_t r = 0; r < f->nrecords; r++) {
			size_t used;
			snprintf(what, sizeof(what), "applications[%zu].files[%zu].records[%zu]", ai, fi,
			    r);
			dfi_err e = build(f->records[r].seg, f->records[r].nseg, row, NULL, NULL,
			    out->data + r * f->record_size, f->record_size, &used, what, diag);
			if (e != DFI_OK)
				return e;
		}
	}
	return DFI_OK;
}

dfi_err
dfi_profile_card_data(const dfi_profile *p, const dfi_batch_row *row,
    struct dfi_card_data **out, struct dfi_diag *diag)
{
	if (p == NULL || out == NULL)
		return DFI_E_INVALID_ARG;
	*out = NULL;
	dfi_diag_clear(diag);
	const struct dfi_profile_spec *spec = &p->spec;
	struct dfi_card_data *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return DFI_E_NOMEM;
	dfi_err e = DFI_OK;
	if (spec->napps > 0 && (d->apps = calloc(spec->napps, sizeof(*d->apps))) == NULL) {
		e = DFI_E_NOMEM;
		goto fail;
	}
	d->napps = spec->napps;
	for (size_t i = 0; i < spec->napps; i++) {
		const struct dfi_profile_app *app = &spec->apps[i];
		struct dfi_app_data *ad = &d->apps[i];
		ad->app = app;
		if (app->nfiles == 0)
			continue;
		if ((ad->files = calloc(app->nfiles, sizeof(*ad->files))) == NULL) {
			e = DFI_E_NOMEM;
			goto fail;
		}
		ad->nfiles = app->nfiles;
		for (size_t j = 0; j < app->nfiles; j++)
			if ((e = file_data(&app->files[j], i, j, row, &ad->files[j], diag)) != DFI_OK)
				goto fail;
	}
	*out = d;
	return DFI_OK;
fail:
	dfi_card_data_free(d);
	return e;
}

dfi_err
dfi_profile_div_input(const struct dfi_profile_key *key, const uint8_t uid[DFI_PROFILE_UID_LEN],
    const uint8_t aid[DFI_PROFILE_AID_LEN], const dfi_batch_row *row, uint8_t *out, size_t cap,
    size_t *len, struct dfi_diag *diag)
{
	if (key == NULL || uid == NULL || aid == NULL || out == NULL || len == NULL)
		return DFI_E_INVALID_ARG;
	*len = 0;
	dfi_diag_clear(diag);
	uint8_t m[DFI_PROFILE_MAX_DIV_INPUT];
	size_t n = 0;
	dfi_err e = build(key->div, key->ndiv, row, uid, aid, m, sizeof(m), &n,
	    "the diversification input (AN10922: at most 31 bytes)", diag);
	if (e != DFI_OK)
		return e;
	if (n == 0)
		return DFI_E_INTERNAL; /* validation requires "uid" */
	if (n > cap)
		return DFI_E_BUFFER_TOO_SMALL;
	memcpy(out, m, n);
	*len = n;
	return DFI_OK;
}

/* Every diversification input of one key: M only needs the UID's length. */
static dfi_err
check_key(const struct dfi_profile_key *k, const uint8_t aid[DFI_PROFILE_AID_LEN],
    const dfi_batch_row *row, struct dfi_diag *diag)
{
	static const uint8_t zero_uid[DFI_PROFILE_UID_LEN];
	uint8_t m[DFI_PROFILE_MAX_DIV_INPUT];
	size_t n;
	if (k->ndiv == 0) /* a static transport key: used as it is */
		return DFI_OK;
	return dfi_profile_div_input(k, zero_uid, aid, row, m, sizeof(m), &n, diag);
}

dfi_err
dfi_profile_check_row(const dfi_profile *p, const dfi_batch_row *row, struct dfi_diag *diag)
{
	static const uint8_t picc_aid[DFI_PROFILE_AID_LEN];
	if (p == NULL)
		return DFI_E_INVALID_ARG;
	const struct dfi_profile_spec *spec = &p->spec;
	struct dfi_card_data *cd = NULL;
	dfi_err e = dfi_profile_card_data(p, row, &cd, diag);
	dfi_card_data_free(cd);
	if (e == DFI_OK)
		e = check_key(&spec->picc.key, picc_aid, row, diag);
	if (e == DFI_OK && spec->picc.transport.kind == DFI_TRANSPORT_DIVERSIFIED)
		e = check_key(&spec->picc.transport.key, picc_aid, row, diag);
	for (size_t i = 0; e == DFI_OK && i < spec->napps; i++)
		for (size_t k = 0; e == DFI_OK && k < spec->apps[i].nkeys; k++)
			e = check_key(&spec->apps[i].keys[k], spec->apps[i].aid, row, diag);
	if (e == DFI_OK) {
		uint8_t uid[DFI_PROFILE_UID_LEN];
		const char *reason;
		e = dfi_batch_row_reissue(row, uid, &reason, diag);
	}
	return e;
}
