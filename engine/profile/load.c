/* Profile loading: read, parse with jansson, map lines, validate. */
#include <stdlib.h>
#include <string.h>

#include "profile_int.h"
#include "core/grow.h"

void *
dfi_profile_alloc(struct dfi_profile *p, size_t n)
{
	void **na = dfi_grow(p->allocs, &p->capallocs, p->nallocs + 1, 32, sizeof(*na));
	if (na == NULL)
		return NULL;
	p->allocs = na;
	void *m = calloc(1, n ? n : 1);
	if (m != NULL)
		p->allocs[p->nallocs++] = m;
	return m;
}

char *
dfi_profile_strdup(struct dfi_profile *p, const char *s)
{
	size_t n = strlen(s);
	char *d = dfi_profile_alloc(p, n + 1);
	if (d != NULL)
		memcpy(d, s, n + 1);
	return d;
}

dfi_err
dfi_profile_note_field(struct dfi_profile *p, const char *name)
{
	p->needs_batch = 1;
	for (size_t i = 0; i < p->nfields; i++)
		if (strcmp(p->fields[i], name) == 0)
			return DFI_OK;
	const char **nf = dfi_grow(p->fields, &p->capfields, p->nfields + 1, 8, sizeof(*nf));
	if (nf == NULL)
		return DFI_E_NOMEM;
	p->fields = nf;
	p->fields[p->nfields++] = name;
	return DFI_OK;
}

size_t
dfi_profile_field_count(const dfi_profile *p)
{
	return p != NULL ? p->nfields : 0;
}

const char *
dfi_profile_field_name(const dfi_profile *p, size_t i)
{
	return p != NULL && i < p->nfields ? p->fields[i] : NULL;
}

void
dfi_profile_free(dfi_profile *p)
{
	if (p == NULL)
		return;
	free(p->fields);
	for (size_t i = 0; i < p->nallocs; i++)
		free(p->allocs[i]);
	free(p->allocs);
	free(p->file);
	free(p);
}

const struct dfi_profile_spec *
dfi_profile_spec(const dfi_profile *p)
{
	return p != NULL ? &p->spec : NULL;
}

int
dfi_profile_needs_batch(const dfi_profile *p)
{
	return p != NULL && p->needs_batch;
}

dfi_err
dfi_profile_load_buffer(dfi_profile **out, const char *name, const char *buf, size_t len,
    struct dfi_diag *diag)
{
	if (out == NULL || (buf == NULL && len > 0))
		return DFI_E_INVALID_ARG;
	*out = NULL;
	dfi_diag_clear(diag);
	if (name == NULL)
		name = "<profile>";
	if (len > DFI_PROFILE_MAX_BYTES)
		return dfi_diag_set(diag, name, 0, 0, NULL, "profile too large (%zu bytes, at most %d)",
		    len, DFI_PROFILE_MAX_BYTES);

	/* jansson's lexer and the line map must see the same text: a NUL byte
	 * is never valid JSON, so refuse it before either looks. */
	const char *nul = len > 0 ? memchr(buf, '\0', len) : NULL;
	if (nul != NULL) {
		int line = 1;
		for (const char *q = buf; q < nul; q++)
			line += *q == '\n';
		return dfi_diag_set(diag, name, line, 0, NULL, "invalid JSON: NUL byte in the text");
	}

	json_error_t jerr;
	json_t *root = json_loadb(buf != NULL ? buf : "", len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return dfi_diag_set(diag, name, jerr.line > 0 ? jerr.line : 0,
		    jerr.column > 0 ? jerr.column : 0, NULL, "invalid JSON: %s", jerr.text);

	dfi_err e = DFI_E_NOMEM;
	dfi_linemap *lm = NULL;
	dfi_profile *p = calloc(1, sizeof(*p));
	if (p == NULL || (p->file = strdup(name)) == NULL)
		goto fail;
	if ((e = dfi_linemap_build(&lm, buf, len)) != DFI_OK)
		goto fail;
	if ((e = dfi_profile_validate(p, root, lm, diag)) != DFI_OK)
		goto fail;
	dfi_linemap_free(lm);
	json_decref(root);
	*out = p;
	return DFI_OK;
fail:
	dfi_linemap_free(lm);
	json_decref(root);
	dfi_profile_free(p);
	return e;
}

dfi_err
dfi_profile_load(dfi_profile **out, const char *path, struct dfi_diag *diag)
{
	if (out == NULL || path == NULL)
		return DFI_E_INVALID_ARG;
	*out = NULL;
	dfi_diag_clear(diag);
	char *buf;
	size_t len;
	dfi_err e = dfi_read_file(path, DFI_PROFILE_MAX_BYTES, &buf, &len, diag);
	if (e != DFI_OK)
		return e;
	e = dfi_profile_load_buffer(out, path, buf, len, diag);
	free(buf);
	return e;
}
