/*
 * A batch row's re-issue authorization (reissue_uid, reissue_reason): one
 * parser for the check before the first card and for admission at the
 * tap (engine/perso/admit.c), so the two cannot disagree on a row.
 */
#include <inttypes.h>
#include <string.h>

#include "dfissue/journal.h"
#include "dfissue/util.h"
#include "profile_int.h"

/* A CSV row without a re-issue has the columns, empty. */
static const struct dfi_batch_value *
given(const dfi_batch_row *row, const char *name)
{
	const struct dfi_batch_value *v = dfi_batch_row_get(row, name);
	if (v == NULL || (v->type != DFI_VAL_INT && v->len == 0))
		return NULL;
	return v;
}

/* The UID as --reissue takes it: 7 bytes, hex-typed or 14 hex digits. */
static dfi_err
parse_uid(const dfi_batch_row *row, const struct dfi_batch_value *v,
    uint8_t uid[DFI_PROFILE_UID_LEN], struct dfi_diag *diag)
{
	uint8_t b[DFI_PROFILE_UID_LEN + 1];
	size_t n = 0;
	if (v->type == DFI_VAL_HEX && v->len == DFI_PROFILE_UID_LEN) {
		memcpy(uid, v->bytes, DFI_PROFILE_UID_LEN);
		return DFI_OK;
	}
	if (v->type == DFI_VAL_STRING && dfi_hex_decode(v->str, b, sizeof(b), &n) == DFI_OK &&
	    n == DFI_PROFILE_UID_LEN) {
		memcpy(uid, b, DFI_PROFILE_UID_LEN);
		return DFI_OK;
	}
	static const char what[] = "must be a 7-byte UID as 14 hex digits, as --reissue takes it";
	if (v->type == DFI_VAL_INT)
		return dfi_diag_set(diag, row->file, row->line, 0, v->name, "%s (got the integer %" PRId64
		    ")", what, v->i);
	if (v->type == DFI_VAL_HEX)
		return dfi_diag_set(diag, row->file, row->line, 0, v->name, "%s (got %zu bytes)", what,
		    v->len);
	return dfi_diag_set(diag, row->file, row->line, 0, v->name, "%s (got \"%.40s\")", what,
	    v->str);
}

dfi_err
dfi_batch_row_reissue(const dfi_batch_row *row, uint8_t uid[DFI_PROFILE_UID_LEN],
    const char **reason, struct dfi_diag *diag)
{
	if (uid == NULL || reason == NULL)
		return DFI_E_INVALID_ARG;
	*reason = NULL;
	dfi_diag_clear(diag);
	if (row == NULL)
		return DFI_OK;
	const struct dfi_batch_value *u = given(row, "reissue_uid");
	const struct dfi_batch_value *why = given(row, "reissue_reason");
	if (u == NULL && why == NULL)
		return DFI_OK;
	if (why == NULL)
		return dfi_diag_set(diag, row->file, row->line, 0, "reissue_uid",
		    "needs reissue_reason in the same row (1..%d characters the journal keeps)",
		    DFI_J_STR_MAX - 1);
	if (u == NULL)
		return dfi_diag_set(diag, row->file, row->line, 0, "reissue_reason",
		    "needs reissue_uid in the same row (a 7-byte UID as 14 hex digits)");
	dfi_err e = parse_uid(row, u, uid, diag);
	if (e != DFI_OK)
		return e;
	/* Text only, and all of it kept: the journal refuses a longer one. */
	if (why->type != DFI_VAL_STRING)
		return dfi_diag_set(diag, row->file, row->line, 0, "reissue_reason",
		    "must be text of 1..%d characters the journal keeps (got %s)", DFI_J_STR_MAX - 1,
		    why->type == DFI_VAL_INT ? "an integer" : "a hex value");
	size_t len = strlen(why->str);
	if (len == 0 || len >= DFI_J_STR_MAX)
		return dfi_diag_set(diag, row->file, row->line, 0, "reissue_reason",
		    "must be text of 1..%d characters the journal keeps (got %zu)", DFI_J_STR_MAX - 1,
		    len);
	*reason = why->str;
	return DFI_OK;
}
