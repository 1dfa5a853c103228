/* Batch reader for JSON lines: one JSON object per line, parsed by jansson.
 *
 * The row's own copies of the values are wiped when freed (batch.c); the
 * object jansson decodes a line into, and its lexer's buffer, are jansson's
 * and freed by it as they are: only json_set_alloc_funcs could wipe them,
 * and it replaces the allocator of the whole process, the application's
 * choice, not the library's (dfissue makes it: tools/dfissue/jwipe.c). */
#include <stdlib.h>
#include <string.h>

#include "profile_int.h"

static dfi_err
add_member(struct dfi_batch_row *r, const char *key, json_t *v, struct dfi_diag *diag)
{
	char name[DFI_FIELD_NAME_MAX + 1];
	enum dfi_value_type type;
	int explicit_type;
	if (dfi_field_decl_parse(key, strlen(key), DFI_VAL_STRING, name, sizeof(name), &type,
		&explicit_type) != DFI_OK)
		return dfi_diag_set(diag, r->file, r->line, 0, NULL,
		    "bad field name \"%.40s\": 1..%d of A-Z a-z 0-9 _ . -, optionally with "
		    ":hex, :int or :string",
		    key, DFI_FIELD_NAME_MAX);
	if (!explicit_type && json_is_integer(v))
		type = DFI_VAL_INT;
	if (type == DFI_VAL_INT) {
		if (!json_is_integer(v))
			return dfi_diag_set(diag, r->file, r->line, 0, name,
			    "must be an integer (got %s)", dfi_profile_json_kind(v));
		return dfi_row_add_int(r, name, json_integer_value(v), diag);
	}
	if (!json_is_string(v))
		return dfi_diag_set(diag, r->file, r->line, 0, name,
		    type == DFI_VAL_HEX ? "must be a hex string (got %s)"
					: "must be a string or an integer (got %s)",
		    dfi_profile_json_kind(v));
	return dfi_row_add_text(r, name, type, json_string_value(v), json_string_length(v), diag);
}

dfi_err
dfi_batch_jsonl_next(struct dfi_batch *b, struct dfi_batch_row **row, struct dfi_diag *diag)
{
	while (b->pos < b->len) {
		const char *start = b->buf + b->pos;
		const char *nl = memchr(start, '\n', b->len - b->pos);
		size_t linelen = nl != NULL ? (size_t)(nl - start) : b->len - b->pos;
		int lineno = b->line;
		b->pos += linelen + (nl != NULL);
		b->line++;
		if (linelen > 0 && start[linelen - 1] == '\r')
			linelen--;
		size_t k = 0;
		while (k < linelen && (start[k] == ' ' || start[k] == '\t'))
			k++;
		if (k == linelen)
			continue; /* blank lines separate nothing */

		json_error_t jerr;
		json_t *obj = json_loadb(start, linelen, JSON_REJECT_DUPLICATES, &jerr);
		if (obj == NULL)
			return dfi_diag_set(diag, b->file, lineno, jerr.column > 0 ? jerr.column : 0,
			    NULL, "invalid JSON: %s", jerr.text);
		if (!json_is_object(obj)) {
			json_decref(obj);
			return dfi_diag_set(diag, b->file, lineno, 0, NULL,
			    "each line must be one JSON object");
		}
		struct dfi_batch_row *r = dfi_row_new(b->file, lineno);
		if (r == NULL) {
			json_decref(obj);
			return DFI_E_NOMEM;
		}
		const char *key;
		json_t *v;
		json_object_foreach(obj, key, v) {
			dfi_err e = add_member(r, key, v, diag);
			if (e != DFI_OK) {
				json_decref(obj);
				dfi_batch_row_free(r);
				return e;
			}
		}
		json_decref(obj);
		*row = r;
		return DFI_OK;
	}
	*row = NULL;
	return DFI_OK;
}
