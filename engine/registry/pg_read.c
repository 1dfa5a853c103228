/* Reading the registry's tables, for the auditor (`dfissue audit`): a row
 * callback over a server-side cursor, so a registry of millions of rows is
 * read in bounded memory. Every row is untrusted input: the callbacks get
 * the values pg_rows.h decoded and checked. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_int.h"
#include "pg_rows.h"

#define FETCH_ROWS "2000"

dfi_err
pg_each(dfi_pgreg *r, const char *select, int (*row)(void *ctx, const PGresult *res, int i), void *ctx, char *why,
    size_t cap)
{
	PGconn *c;
	dfi_err e = pg_acquire(r, &c, why, cap);
	if (e != DFI_OK)
		return e;
	char *decl = malloc(strlen(select) + 64);
	if (decl == NULL) {
		pg_release(r, c, 0);
		return DFI_E_NOMEM;
	}
	sprintf(decl, "DECLARE dfi_rows NO SCROLL CURSOR FOR %s", select);
	/* a consistent snapshot of every table for the whole read */
	e = pg_exec_script(r, c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", why, cap);
	if (e == DFI_OK)
		e = pg_exec_script(r, c, decl, why, cap);
	free(decl);
	int stop = 0;
	while (e == DFI_OK && !stop) {
		PGresult *res = NULL;
		e = pg_exec(r, c, "FETCH " FETCH_ROWS " FROM dfi_rows", 0, NULL, &res, why, cap);
		if (e != DFI_OK)
			break;
		int n = PQntuples(res);
		for (int i = 0; i < n && !stop; i++)
			stop = row(ctx, res, i);
		PQclear(res);
		if (n == 0)
			break;
	}
	if (e != DFI_E_REGISTRY_UNREACHABLE) {
		char ignore[64];
		(void)pg_exec_script(r, c, "ROLLBACK", ignore, sizeof(ignore));
	}
	pg_release(r, c, e != DFI_OK);
	if (e == DFI_OK && stop < 0)
		e = dfi_why(why, cap, DFI_E_REGISTRY, "a registry row is malformed");
	return e;
}

/* The caller's callback and context, carried through pg_each: each reader
 * stores its callback as its own member and its row function reads that
 * member back, so no function pointer is ever called as another type. */
struct rowctx {
	union {
		void (*checkpoint)(void *, const struct dfi_pgreg_checkpoint *);
		void (*refusal)(void *, const struct dfi_pgreg_refusal *);
		void (*open_intent)(void *, const char *, const dfi_jrec *, const char *);
		void (*record)(void *, const char *, uint64_t, const char *, size_t);
		void (*late)(void *, const char *, uint64_t);
		void (*slot)(void *, const struct dfi_pgreg_slot *);
	} fn;
	void *ctx;
};

static int
cp_row(void *vctx, const PGresult *res, int i)
{
	const struct rowctx *x = vctx;
	struct dfi_pgreg_checkpoint cp;
	if (pg_row_checkpoint(res, i, &cp) != 0)
		return -1;
	x->fn.checkpoint(x->ctx, &cp);
	return 0;
}

dfi_err
dfi_pgreg_each_checkpoint(dfi_pgreg *r, void (*fn)(void *ctx, const struct dfi_pgreg_checkpoint *cp), void *ctx,
    char *why, size_t cap)
{
	struct rowctx x = { .fn.checkpoint = fn, .ctx = ctx };
	return pg_each(r,
	    "SELECT c.origin, c.size, c.root, c.note, c.station, to_char(c.witnessed_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), c.size = j.size FROM " DFI_PGREG_SCHEMA ".checkpoints c JOIN "
	    DFI_PGREG_SCHEMA ".journals j USING (origin) ORDER BY c.origin, c.size",
	    cp_row, &x, why, cap);
}

static int
rf_row(void *vctx, const PGresult *res, int i)
{
	const struct rowctx *x = vctx;
	struct dfi_pgreg_refusal rf;
	if (pg_row_refusal(res, i, &rf) != 0)
		return -1;
	x->fn.refusal(x->ctx, &rf);
	return 0;
}

dfi_err
dfi_pgreg_each_refusal(dfi_pgreg *r, void (*fn)(void *ctx, const struct dfi_pgreg_refusal *rf), void *ctx,
    char *why, size_t cap)
{
	struct rowctx x = { .fn.refusal = fn, .ctx = ctx };
	return pg_each(r,
	    "SELECT origin, station, db_user, new_size, reason, to_char(refused_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM " DFI_PGREG_SCHEMA ".witness_refusals ORDER BY id",
	    rf_row, &x, why, cap);
}

static int
oi_row(void *vctx, const PGresult *res, int i)
{
	const struct rowctx *x = vctx;
	dfi_jrec r;
	char origin[DFI_J_STR_MAX], station[DFI_J_STR_MAX];
	if (pg_row_open_intent(res, i, origin, &r, station) != 0)
		return -1;
	x->fn.open_intent(x->ctx, origin, &r, station);
	return 0;
}

dfi_err
dfi_pgreg_each_open_intent(dfi_pgreg *r, void (*fn)(void *ctx, const char *origin, const dfi_jrec *intent,
    const char *station), void *ctx, char *why, size_t cap)
{
	struct rowctx x = { .fn.open_intent = fn, .ctx = ctx };
	return pg_each(r,
	    "SELECT origin, seq, line, station FROM " DFI_PGREG_SCHEMA ".open_intents()",
	    oi_row, &x, why, cap);
}

static int
rec_row(void *vctx, const PGresult *res, int i)
{
	const struct rowctx *x = vctx;
	char origin[DFI_J_STR_MAX];
	uint64_t seq;
	const char *line;
	size_t len;
	if (pg_row_record(res, i, origin, &seq, &line, &len) != 0)
		return -1;
	x->fn.record(x->ctx, origin, seq, line, len);
	return 0;
}

dfi_err
dfi_pgreg_each_record(dfi_pgreg *r, void (*fn)(void *ctx, const char *origin, uint64_t seq, const char *line,
    size_t len), void *ctx, char *why, size_t cap)
{
	struct rowctx x = { .fn.record = fn, .ctx = ctx };
	return pg_each(r,
	    "SELECT origin, seq, line FROM " DFI_PGREG_SCHEMA ".records ORDER BY told_at, origin, seq",
	    rec_row, &x, why, cap);
}

static int
late_row(void *vctx, const PGresult *res, int i)
{
	const struct rowctx *x = vctx;
	char origin[DFI_J_STR_MAX];
	uint64_t seq;
	if (pg_row_late(res, i, origin, &seq) != 0)
		return -1;
	x->fn.late(x->ctx, origin, seq);
	return 0;
}

dfi_err
dfi_pgreg_each_late_intent(dfi_pgreg *r, void (*fn)(void *ctx, const char *origin, uint64_t seq), void *ctx,
    char *why, size_t cap)
{
	struct rowctx x = { .fn.late = fn, .ctx = ctx };
	return pg_each(r,
	    "SELECT origin, seq FROM " DFI_PGREG_SCHEMA ".records WHERE type IN ('intent', 'change') AND held IS FALSE "
	    "ORDER BY origin, seq",
	    late_row, &x, why, cap);
}

static int
slot_row(void *vctx, const PGresult *res, int i)
{
	const struct rowctx *x = vctx;
	struct dfi_pgreg_slot s;
	if (pg_row_slot(res, i, &s) != 0)
		return -1;
	x->fn.slot(x->ctx, &s);
	return 0;
}

dfi_err
dfi_pgreg_each_slot(dfi_pgreg *r, void (*fn)(void *ctx, const struct dfi_pgreg_slot *s), void *ctx, char *why,
    size_t cap)
{
	struct rowctx x = { .fn.slot = fn, .ctx = ctx };
	return pg_each(r, "SELECT uid, aid, keyno, state, version, profile FROM " DFI_PGREG_SCHEMA ".slots ORDER BY uid, aid, keyno",
	    slot_row, &x, why, cap);
}
