/* Private to engine/profile: diagnostics, the path-to-line map, and the
 * structures behind the opaque handles of profile.h. */
#ifndef DFI_PROFILE_INT_H
#define DFI_PROFILE_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dfissue/profile.h"

/* Longest field name accepted in a batch or referenced by a profile. */
#define DFI_FIELD_NAME_MAX 64

/* ---- diag.c ------------------------------------------------------------- */

/* Fills diag (may be NULL) as "file:line: field: message" and returns
 * DFI_E_PROFILE. line 0 leaves the line out; field NULL or "" leaves the
 * field out. */
dfi_err dfi_diag_set(struct dfi_diag *diag, const char *file, int line, int column,
    const char *field, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
dfi_err dfi_diag_vset(struct dfi_diag *diag, const char *file, int line, int column,
    const char *field, const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));
/* Clears diag (may be NULL). */
void dfi_diag_clear(struct dfi_diag *diag);

/* Field names: 1..64 of [A-Za-z0-9_.-]. */
int dfi_field_name_ok(const char *name, size_t len);

/* Reads a whole file into a NUL-terminated heap buffer (at most max bytes);
 * DFI_E_IO with diag set when it cannot. */
dfi_err dfi_read_file(const char *path, size_t max, char **buf, size_t *len,
    struct dfi_diag *diag);

/* ---- validate_file.c ----------------------------------------------------- */

/* A content format's name as a profile spells it ("be32"); "?" if none. */
const char *dfi_field_format_name(enum dfi_field_format f);

/* ---- linemap.c ---------------------------------------------------------- */

/* Maps JSON paths ("applications[1].files[0].size") to the line and column
 * where that member's key (or that array element) appears in the raw text.
 * jansson reports positions only for syntax errors, so after a successful
 * parse this small scanner walks the same text once, tracking only
 * structure and member names; values are never interpreted here. */
typedef struct dfi_linemap dfi_linemap;

dfi_err dfi_linemap_build(dfi_linemap **out, const char *text, size_t len);
/* Position of path, or of its nearest recorded ancestor; 0 if none. */
void dfi_linemap_find(const dfi_linemap *m, const char *path, int *line, int *column);
void dfi_linemap_free(dfi_linemap *m);

/* ---- the profile behind the handle ---------------------------------------- */

struct dfi_profile {
	struct dfi_profile_spec spec;
	char *file;      /* name for diagnostics */
	int needs_batch;
	const char **fields; /* batch fields referred to (strings in allocs) */
	size_t nfields, capfields;
	/* every allocation the tree holds, freed together */
	void **allocs;
	size_t nallocs, capallocs;
};

/* Largest profile file accepted. */
#define DFI_PROFILE_MAX_BYTES (1024 * 1024)

/* Zeroed memory owned by the profile (freed by dfi_profile_free); NULL on
 * allocation failure. */
void *dfi_profile_alloc(struct dfi_profile *p, size_t n);
char *dfi_profile_strdup(struct dfi_profile *p, const char *s);
/* "an object", "a string", ...: what a JSON value is, for error messages
 * (validate.c). */
const char *dfi_profile_json_kind(const json_t *v);
/* Records a batch field the profile refers to (once per name). */
dfi_err dfi_profile_note_field(struct dfi_profile *p, const char *name);

/* validate.c: checks the parsed document and fills p->spec. */
dfi_err dfi_profile_validate(struct dfi_profile *p, json_t *root, const dfi_linemap *lm,
    struct dfi_diag *diag);

/* ---- batch rows ------------------------------------------------------------ */

struct dfi_batch_row {
	const char *file; /* points into the row's own copy */
	int line;
	/* CSV: the header's line, which decides every field's type and
	 * presence (an error there is fixed in the header); 0 for JSON lines. */
	int header_line;
	struct dfi_batch_value *vals; /* grown and freed wiped: card data */
	size_t nvals, vcap;
	char *filecopy;
};

/* Row building (batch.c), shared by the two readers. */
struct dfi_batch_row *dfi_row_new(const char *file, int line);
/* Adds a field; name_with_type may carry a ":hex", ":int" or ":string"
 * suffix that decides how raw is typed (default: def). Reports a duplicate
 * name, a bad name, bad hex or a bad integer via diag. */
dfi_err dfi_row_add_text(struct dfi_batch_row *r, const char *name, enum dfi_value_type type,
    const char *raw, size_t rawlen, struct dfi_diag *diag);
dfi_err dfi_row_add_int(struct dfi_batch_row *r, const char *name, int64_t v,
    struct dfi_diag *diag);
/* Splits "name:type" into a name (copied into name, cap bytes) and a type
 * (def when there is no suffix). Reports an unknown type or a bad name. */
dfi_err dfi_field_decl_parse(const char *decl, size_t decllen, enum dfi_value_type def,
    char *name, size_t cap, enum dfi_value_type *type, int *explicit_type);

/* ---- the readers ------------------------------------------------------------- */

struct dfi_batch {
	enum dfi_batch_format fmt;
	char *file;
	char *buf;  /* NUL-terminated copy of the input */
	size_t len;
	size_t pos;
	int line;   /* line number of buf[pos] */
	dfi_err sticky;
	struct dfi_diag sticky_diag;
	/* CSV header */
	char **colnames;
	enum dfi_value_type *coltypes;
	size_t ncols;
	int header_done;
	int header_line;
};

dfi_err dfi_batch_jsonl_next(struct dfi_batch *b, struct dfi_batch_row **row,
    struct dfi_diag *diag);
dfi_err dfi_batch_csv_next(struct dfi_batch *b, struct dfi_batch_row **row,
    struct dfi_diag *diag);

#endif
