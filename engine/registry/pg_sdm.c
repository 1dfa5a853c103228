/* The SDM replay check against the registry (schema/005_sdm_counters.sql):
 * the last read counter accepted per UID, shared by every verifier. */
#include <stdio.h>
#include <string.h>

#include "pg_int.h"
#include "pg_rows.h"

dfi_err
dfi_pgreg_sdm_seen(dfi_pgreg *r, const uint8_t *uid, size_t uid_len, uint32_t ctr, int *accepted,
    int64_t *last, char *why, size_t whycap)
{
	if (r == NULL || uid == NULL || accepted == NULL || last == NULL)
		return dfi_why(why, whycap, DFI_E_INVALID_ARG, "sdm_seen: no registry, UID or result");
	if (uid_len < 4 || uid_len > DFI_J_UID_MAX)
		return dfi_why(why, whycap, DFI_E_INVALID_ARG, "sdm_seen: a UID has 4 to %d bytes, not %zu",
		    DFI_J_UID_MAX, uid_len);
	if (ctr > 0xFFFFFFu)
		return dfi_why(why, whycap, DFI_E_INVALID_ARG, "sdm_seen: a read counter has 24 bits, not %lu",
		    (unsigned long)ctr);
	char u[2 * DFI_J_UID_MAX + 3], c[16];
	pg_bytea_hex(uid, uid_len, u);
	snprintf(c, sizeof(c), "%lu", (unsigned long)ctr);
	const char *vals[] = { u, c, r->station };
	PGresult *q = NULL;
	/* not idempotent: a retry after a lost answer would refuse the tap */
	dfi_err e = pg_call(r, "SELECT accepted, last FROM " DFI_PGREG_SCHEMA ".sdm_seen($1, $2, $3)", 3, vals, &q,
	    0, why, whycap);
	if (e != DFI_OK)
		return e;
	int bad = pg_row_sdm(q, accepted, last);
	PQclear(q);
	return bad ? dfi_why(why, whycap, DFI_E_REGISTRY, "the registry's sdm_seen() answered something unexpected") : DFI_OK;
}
