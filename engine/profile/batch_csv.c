/*
 * Batch reader for CSV (RFC 4180): a header line of field names, then one
 * record per line. Fields are separated by commas; a field may be quoted
 * with '"', and then holds commas, line breaks and doubled quotes. Strict:
 * a quote inside an unquoted field, text after a closing quote, a lone CR
 * or a record whose field count differs from the header's is an error.
 */
#include <stdlib.h>
#include <string.h>

#include "dfissue/util.h"
#include "profile_int.h"
#include "core/grow.h"

#define CSV_MAX_COLS 256

struct field {
	char *p;
	size_t len, cap;
};

struct record {
	struct field *f;
	size_t n, cap;
};

/* A field holds a row's value as the file wrote it (card data): wiped
 * before it is freed, and when it grows (dfi_grow_wiped). */
static void
record_free(struct record *r)
{
	for (size_t i = 0; i < r->cap; i++) {
		dfi_wipe(r->f[i].p, r->f[i].cap);
		free(r->f[i].p);
	}
	free(r->f);
}

static dfi_err
field_push(struct field *f, char c)
{
	/* room for c and the terminating NUL */
	char *np = dfi_grow_wiped(f->p, &f->cap, f->len + 2, 32, 1);
	if (np == NULL)
		return DFI_E_NOMEM;
	f->p = np;
	f->p[f->len++] = c;
	f->p[f->len] = '\0';
	return DFI_OK;
}

static dfi_err
record_next_field(struct record *r, struct field **out)
{
	size_t old = r->cap;
	struct field *nf = dfi_grow(r->f, &r->cap, r->n + 1, 8, sizeof(*nf));
	if (nf == NULL)
		return DFI_E_NOMEM;
	/* new fields own no buffer yet */
	memset(nf + old, 0, (r->cap - old) * sizeof(*nf));
	r->f = nf;
	*out = &r->f[r->n++];
	(*out)->len = 0;
	if ((*out)->p != NULL)
		(*out)->p[0] = '\0';
	return DFI_OK;
}

/* Reads one record at b->pos. *eof is set when no record is left.
 * *start receives the line the record starts on. */
static dfi_err
read_record(struct dfi_batch *b, struct record *r, int *start, int *eof,
    struct dfi_diag *diag)
{
	const char *s = b->buf;
	size_t len = b->len;
	r->n = 0;
	*eof = 0;
	/* empty lines are skipped */
	for (;;) {
		if (b->pos < len && s[b->pos] == '\n') {
			b->pos++;
			b->line++;
		} else if (b->pos + 1 < len && s[b->pos] == '\r' && s[b->pos + 1] == '\n') {
			b->pos += 2;
			b->line++;
		} else
			break;
	}
	if (b->pos >= len) {
		*eof = 1;
		return DFI_OK;
	}
	*start = b->line;
	for (;;) {
		if (r->n >= CSV_MAX_COLS)
			return dfi_diag_set(diag, b->file, *start, 0, NULL,
			    "more than %d fields in a record", CSV_MAX_COLS);
		struct field *f;
		dfi_err e = record_next_field(r, &f);
		if (e != DFI_OK)
			return e;
		if (b->pos < len && s[b->pos] == '"') {
			int qline = b->line;
			b->pos++;
			for (;;) {
				if (b->pos >= len)
					return dfi_diag_set(diag, b->file, qline, 0, NULL,
					    "quoted field opened here is never closed");
				char c = s[b->pos];
				if (c == '"') {
					if (b->pos + 1 < len && s[b->pos + 1] == '"') {
						if ((e = field_push(f, '"')) != DFI_OK)
							return e;
						b->pos += 2;
						continue;
					}
					b->pos++;
					break;
				}
				if (c == '\n')
					b->line++;
				if ((e = field_push(f, c)) != DFI_OK)
					return e;
				b->pos++;
			}
			if (b->pos < len && s[b->pos] != ',' && s[b->pos] != '\n' &&
			    !(s[b->pos] == '\r' && b->pos + 1 < len && s[b->pos + 1] == '\n'))
				return dfi_diag_set(diag, b->file, b->line, 0, NULL,
				    "text after a closing quote (a quote inside a quoted field "
				    "is written \"\")");
		} else {
			while (b->pos < len && s[b->pos] != ',' && s[b->pos] != '\n') {
				char c = s[b->pos];
				if (c == '"')
					return dfi_diag_set(diag, b->file, b->line, 0, NULL,
					    "quote inside an unquoted field (quote the whole field "
					    "and double the quote)");
				if (c == '\r') {
					if (b->pos + 1 < len && s[b->pos + 1] == '\n')
						break;
					return dfi_diag_set(diag, b->file, b->line, 0, NULL,
					    "carriage return outside a quoted field");
				}
				if ((e = field_push(f, c)) != DFI_OK)
					return e;
				b->pos++;
			}
		}
		if (f->p == NULL) { /* an empty field still gets its "" */
			if ((f->p = calloc(1, 1)) == NULL)
				return DFI_E_NOMEM;
			f->cap = 1;
		}
		if (b->pos < len && s[b->pos] == ',') {
			b->pos++;
			continue;
		}
		if (b->pos < len && s[b->pos] == '\r')
			b->pos++;
		if (b->pos < len && s[b->pos] == '\n') {
			b->pos++;
			b->line++;
		}
		return DFI_OK;
	}
}

static dfi_err
read_header(struct dfi_batch *b, struct record *r, struct dfi_diag *diag)
{
	int start = b->line, eof;
	dfi_err e = read_record(b, r, &start, &eof, diag);
	if (e != DFI_OK)
		return e;
	if (eof)
		return dfi_diag_set(diag, b->file, 1, 0, NULL,
		    "empty: the first line must name the fields");
	b->colnames = calloc(r->n, sizeof(*b->colnames));
	b->coltypes = calloc(r->n, sizeof(*b->coltypes));
	if (b->colnames == NULL || b->coltypes == NULL)
		return DFI_E_NOMEM;
	for (size_t i = 0; i < r->n; i++) {
		char name[DFI_FIELD_NAME_MAX + 1];
		int explicit_type;
		if (dfi_field_decl_parse(r->f[i].p, r->f[i].len, DFI_VAL_STRING, name, sizeof(name),
			&b->coltypes[i], &explicit_type) != DFI_OK)
			return dfi_diag_set(diag, b->file, start, 0, NULL,
			    "header field %zu \"%.40s\": a name of 1..%d of A-Z a-z 0-9 _ . -, "
			    "optionally with :hex, :int or :string",
			    i + 1, r->f[i].p, DFI_FIELD_NAME_MAX);
		for (size_t j = 0; j < i; j++)
			if (strcmp(b->colnames[j], name) == 0)
				return dfi_diag_set(diag, b->file, start, 0, name,
				    "field named twice in the header");
		if ((b->colnames[i] = strdup(name)) == NULL)
			return DFI_E_NOMEM;
		b->ncols = i + 1;
	}
	b->header_done = 1;
	b->header_line = start;
	return DFI_OK;
}

dfi_err
dfi_batch_csv_next(struct dfi_batch *b, struct dfi_batch_row **row, struct dfi_diag *diag)
{
	struct record rec = { 0 };
	dfi_err e = DFI_OK;
	*row = NULL;
	if (!b->header_done && (e = read_header(b, &rec, diag)) != DFI_OK)
		goto out;
	int start = b->line, eof;
	if ((e = read_record(b, &rec, &start, &eof, diag)) != DFI_OK || eof)
		goto out;
	if (rec.n < b->ncols) {
		e = dfi_diag_set(diag, b->file, start, 0, b->colnames[rec.n],
		    "missing: the record has %zu fields, the header names %zu", rec.n, b->ncols);
		goto out;
	}
	if (rec.n > b->ncols) {
		e = dfi_diag_set(diag, b->file, start, 0, NULL,
		    "extra fields: the record has %zu fields, the header names %zu", rec.n,
		    b->ncols);
		goto out;
	}
	struct dfi_batch_row *r = dfi_row_new(b->file, start);
	if (r == NULL) {
		e = DFI_E_NOMEM;
		goto out;
	}
	r->header_line = b->header_line;
	for (size_t i = 0; i < rec.n; i++) {
		if ((e = dfi_row_add_text(r, b->colnames[i], b->coltypes[i], rec.f[i].p, rec.f[i].len,
			 diag)) != DFI_OK) {
			dfi_batch_row_free(r);
			goto out;
		}
	}
	*row = r;
out:
	record_free(&rec);
	return e;
}
