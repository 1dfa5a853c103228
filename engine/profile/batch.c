/* Batch handle and rows, shared by the JSON-lines and CSV readers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dfissue/util.h"
#include "profile_int.h"
#include "core/grow.h"
#include "core/unconst.h"

/* Largest batch file read into memory. */
#define BATCH_MAX_BYTES ((size_t)1 << 30)

struct dfi_batch_row *
dfi_row_new(const char *file, int line)
{
	struct dfi_batch_row *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	if ((r->filecopy = strdup(file)) == NULL) {
		free(r);
		return NULL;
	}
	r->file = r->filecopy;
	r->line = line;
	return r;
}

/* A row's values are what is written to a card (card numbers,
 * diversification inputs): every copy of them is wiped before it is freed,
 * so that no freed block keeps them for the next allocation to show. The
 * field names and the file's name are not card data. */
void
dfi_batch_row_free(dfi_batch_row *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nvals; i++) {
		struct dfi_batch_value *v = &r->vals[i];
		free(dfi_unconst(v->name));
		/* a string's bytes are its text: one block, with its NUL */
		void *data = dfi_unconst(v->type == DFI_VAL_STRING ? (const void *)v->str : v->bytes);
		dfi_wipe(data, v->len + (v->type == DFI_VAL_STRING));
		free(data);
	}
	dfi_wipe(r->vals, r->vcap * sizeof(*r->vals)); /* the integers */
	free(r->vals);
	free(r->filecopy);
	free(r);
}

static dfi_err
row_slot(struct dfi_batch_row *r, const char *name, struct dfi_diag *diag,
    struct dfi_batch_value **slot)
{
	*slot = NULL;
	if (dfi_batch_row_get(r, name) != NULL) {
		dfi_diag_set(diag, r->file, r->line, 0, name, "field given twice");
		return DFI_E_PROFILE;
	}
	if (r->nvals >= 4096) {
		dfi_diag_set(diag, r->file, r->line, 0, name, "too many fields (at most 4096)");
		return DFI_E_PROFILE;
	}
	struct dfi_batch_value *nv = dfi_grow_wiped(r->vals, &r->vcap, r->nvals + 1, 8, sizeof(*nv));
	if (nv == NULL)
		return DFI_E_NOMEM;
	r->vals = nv;
	*slot = &nv[r->nvals];
	memset(*slot, 0, sizeof(**slot));
	if (((*slot)->name = strdup(name)) == NULL)
		return DFI_E_NOMEM;
	r->nvals++; /* counted now so dfi_batch_row_free releases the name */
	return DFI_OK;
}

static int
parse_int64(const char *s, size_t len, int64_t *out)
{
	if (len == 0 || len > 20)
		return 0;
	size_t i = 0;
	int neg = 0;
	if (s[0] == '-') {
		neg = 1;
		i = 1;
		if (len == 1)
			return 0;
	}
	uint64_t v = 0;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	if (!neg && v > (uint64_t)INT64_MAX)
		return 0;
	if (neg && v > (uint64_t)INT64_MAX + 1)
		return 0;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 1;
}

dfi_err
dfi_row_add_text(struct dfi_batch_row *r, const char *name, enum dfi_value_type type,
    const char *raw, size_t rawlen, struct dfi_diag *diag)
{
	if (memchr(raw, '\0', rawlen) != NULL)
		return dfi_diag_set(diag, r->file, r->line, 0, name, "value contains a NUL character");
	if (type == DFI_VAL_INT) {
		int64_t v;
		if (!parse_int64(raw, rawlen, &v))
			return dfi_diag_set(diag, r->file, r->line, 0, name,
			    "not a decimal integer (got \"%.*s\")", rawlen > 40 ? 40 : (int)rawlen, raw);
		return dfi_row_add_int(r, name, v, diag);
	}
	if (type == DFI_VAL_HEX) {
		/* checked before a slot is taken so a bad value leaves no trace */
		if (rawlen == 0)
			return dfi_diag_set(diag, r->file, r->line, 0, name, "empty hex value");
		size_t bcap = rawlen / 2 + 1;
		uint8_t *b = malloc(bcap);
		if (b == NULL)
			return DFI_E_NOMEM;
		char *tmp = strndup(raw, rawlen);
		size_t n = 0;
		dfi_err e = tmp == NULL ? DFI_E_NOMEM : dfi_hex_decode(tmp, b, bcap, &n);
		dfi_wipe(tmp, rawlen); /* NULL: nothing */
		free(tmp);
		if (e == DFI_OK && n == 0)
			e = DFI_E_PARSE;
		if (e != DFI_OK && e != DFI_E_NOMEM)
			e = dfi_diag_set(diag, r->file, r->line, 0, name,
			    "not valid hex (an even number of 0-9, A-F)");
		struct dfi_batch_value *v;
		if (e == DFI_OK)
			e = row_slot(r, name, diag, &v);
		if (e != DFI_OK) {
			dfi_wipe(b, bcap); /* a bad value may have been decoded in part */
			free(b);
			return e;
		}
		v->type = DFI_VAL_HEX;
		v->bytes = b;
		v->len = n;
		return DFI_OK;
	}
	struct dfi_batch_value *v;
	dfi_err e = row_slot(r, name, diag, &v);
	if (e != DFI_OK)
		return e;
	char *s = strndup(raw, rawlen);
	if (s == NULL)
		return DFI_E_NOMEM;
	v->type = DFI_VAL_STRING;
	v->str = s;
	v->bytes = (const uint8_t *)s;
	v->len = rawlen;
	return DFI_OK;
}

dfi_err
dfi_row_add_int(struct dfi_batch_row *r, const char *name, int64_t i, struct dfi_diag *diag)
{
	struct dfi_batch_value *v;
	dfi_err e = row_slot(r, name, diag, &v);
	if (e != DFI_OK)
		return e;
	v->type = DFI_VAL_INT;
	v->i = i;
	return DFI_OK;
}

dfi_err
dfi_field_decl_parse(const char *decl, size_t decllen, enum dfi_value_type def, char *name,
    size_t cap, enum dfi_value_type *type, int *explicit_type)
{
	const char *colon = memchr(decl, ':', decllen);
	size_t nlen = colon != NULL ? (size_t)(colon - decl) : decllen;
	*type = def;
	*explicit_type = 0;
	if (colon != NULL) {
		const char *t = colon + 1;
		size_t tlen = decllen - nlen - 1;
		if (tlen == 3 && memcmp(t, "hex", 3) == 0)
			*type = DFI_VAL_HEX;
		else if (tlen == 3 && memcmp(t, "int", 3) == 0)
			*type = DFI_VAL_INT;
		else if (tlen == 6 && memcmp(t, "string", 6) == 0)
			*type = DFI_VAL_STRING;
		else
			return DFI_E_PARSE;
		*explicit_type = 1;
	}
	if (!dfi_field_name_ok(decl, nlen) || nlen + 1 > cap)
		return DFI_E_PARSE;
	memcpy(name, decl, nlen);
	name[nlen] = '\0';
	return DFI_OK;
}

/* ---- the handle --------------------------------------------------------- */

static int
has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && strcasecmp(s + n - m, suf) == 0;
}

dfi_err
dfi_batch_open_buffer(dfi_batch **out, const char *name, enum dfi_batch_format fmt,
    const char *buf, size_t len, struct dfi_diag *diag)
{
	if (out == NULL || (buf == NULL && len > 0))
		return DFI_E_INVALID_ARG;
	*out = NULL;
	dfi_diag_clear(diag);
	if (name == NULL)
		name = "<batch>";
	if (fmt == DFI_BATCH_AUTO) {
		if (has_suffix(name, ".jsonl") || has_suffix(name, ".ndjson"))
			fmt = DFI_BATCH_JSONL;
		else if (has_suffix(name, ".csv"))
			fmt = DFI_BATCH_CSV;
		else
			return dfi_diag_set(diag, name, 0, 0, NULL,
			    "cannot tell the batch format: name the file *.jsonl or *.csv");
	}
	if (fmt != DFI_BATCH_JSONL && fmt != DFI_BATCH_CSV) {
		(void)dfi_diag_set(diag, name, 0, 0, NULL, "batch format %d is neither JSONL nor CSV",
		    (int)fmt);
		return DFI_E_INVALID_ARG;
	}
	if (len > BATCH_MAX_BYTES)
		return dfi_diag_set(diag, name, 0, 0, NULL, "batch too large (%zu bytes)", len);
	struct dfi_batch *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return DFI_E_NOMEM;
	b->fmt = fmt;
	b->file = strdup(name);
	b->buf = malloc(len + 1);
	if (b->file == NULL || b->buf == NULL) {
		dfi_batch_free(b);
		return DFI_E_NOMEM;
	}
	if (len > 0)
		memcpy(b->buf, buf, len);
	b->buf[len] = '\0';
	b->len = len;
	b->line = 1;
	/* A UTF-8 byte order mark is not part of the first line. */
	if (len >= 3 && memcmp(b->buf, "\xEF\xBB\xBF", 3) == 0)
		b->pos = 3;
	*out = b;
	return DFI_OK;
}

dfi_err
dfi_batch_open(dfi_batch **out, const char *path, struct dfi_diag *diag)
{
	if (out == NULL || path == NULL)
		return DFI_E_INVALID_ARG;
	*out = NULL;
	dfi_diag_clear(diag);
	if (!has_suffix(path, ".jsonl") && !has_suffix(path, ".ndjson") && !has_suffix(path, ".csv"))
		return dfi_diag_set(diag, path, 0, 0, NULL,
		    "cannot tell the batch format: name the file *.jsonl or *.csv");
	char *buf;
	size_t len;
	dfi_err e = dfi_read_file(path, BATCH_MAX_BYTES, &buf, &len, diag);
	if (e != DFI_OK)
		return e;
	e = dfi_batch_open_buffer(out, path, DFI_BATCH_AUTO, buf, len, diag);
	dfi_wipe(buf, len); /* every row's values: copied into the batch */
	free(buf);
	return e;
}

dfi_err
dfi_batch_next(dfi_batch *b, dfi_batch_row **row, struct dfi_diag *diag)
{
	if (b == NULL || row == NULL)
		return DFI_E_INVALID_ARG;
	*row = NULL;
	dfi_diag_clear(diag);
	if (b->sticky != DFI_OK) {
		if (diag != NULL)
			*diag = b->sticky_diag;
		return b->sticky;
	}
	struct dfi_diag local;
	dfi_err e = b->fmt == DFI_BATCH_CSV ? dfi_batch_csv_next(b, row, &local)
					     : dfi_batch_jsonl_next(b, row, &local);
	if (e != DFI_OK) {
		*row = NULL;
		b->sticky = e;
		b->sticky_diag = local;
		if (diag != NULL)
			*diag = local;
	}
	return e;
}

void
dfi_batch_free(dfi_batch *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->ncols; i++)
		free(b->colnames[i]);
	free(b->colnames);
	free(b->coltypes);
	/* the whole input: every row's values */
	dfi_wipe(b->buf, b->buf != NULL ? b->len + 1 : 0);
	free(b->buf);
	free(b->file);
	/* the sticky diagnostic may quote a value */
	dfi_wipe(b, sizeof(*b));
	free(b);
}

const char *
dfi_batch_row_file(const dfi_batch_row *r)
{
	return r != NULL ? r->file : "";
}

int
dfi_batch_row_line(const dfi_batch_row *r)
{
	return r != NULL ? r->line : 0;
}

size_t
dfi_batch_row_count(const dfi_batch_row *r)
{
	return r != NULL ? r->nvals : 0;
}

const struct dfi_batch_value *
dfi_batch_row_at(const dfi_batch_row *r, size_t i)
{
	return r != NULL && i < r->nvals ? &r->vals[i] : NULL;
}

const struct dfi_batch_value *
dfi_batch_row_get(const dfi_batch_row *r, const char *name)
{
	if (r == NULL || name == NULL)
		return NULL;
	for (size_t i = 0; i < r->nvals; i++)
		if (strcmp(r->vals[i].name, name) == 0)
			return &r->vals[i];
	return NULL;
}
