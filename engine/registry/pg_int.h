/* engine/registry private interfaces of the PostgreSQL backend. */
#ifndef DFI_REGISTRY_PG_INT_H
#define DFI_REGISTRY_PG_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "core/why.h" /* every reason of the backend: dfi_why */
#include "dfissue/pgregistry.h"

/* The schema migrations, embedded from schema/NNN_name.sql. */
struct pgmig {
	int version;
	const char *name;
	const unsigned char *sql;
	size_t len;
};
extern const struct pgmig pg_migrations[];
extern const size_t pg_nmigrations;

struct pgconn {
	PGconn *c;
	struct pgconn *next;
};

struct dfi_pgreg {
	char *url;
	char station[128];
	int timeout_ms;
	unsigned max_conns;
	size_t nconns; /* under mu; given back with dfi_slot_drop */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pgconn *idle;        /* connections not in use */
	/* dfi_pgreg_abandon: set once, never cleared; then wake[0] is
	 * readable for good, in every poll() of a call, so that a call
	 * waiting on a frozen server returns at once. */
	atomic_int abandoned;
	int wake[2];
	struct dfi_pgreg_stats st;
	/* the last PG_CLAIM_RING claims' times, microseconds (under mu) */
	uint32_t claim_us[4096];
	uint64_t nclaims;
};
#define PG_CLAIM_RING 4096

/* Records one claim's time (dfi_pgreg_claim_times). */
void pg_note_claim(dfi_pgreg *r, long us);

/* A connection for one call or transaction: an idle one or a new one
 * (waiting while max_conns are in use). */
dfi_err pg_acquire(dfi_pgreg *r, PGconn **c, char *why, size_t cap);
/* Gives it back; broken drops it (after a connection error or timeout, or
 * with a transaction left open). */
void pg_release(dfi_pgreg *r, PGconn *c, int broken);

/* One statement, parameters in text form, within the deadline. DFI_OK with
 * *res (PGRES_TUPLES_OK or COMMAND_OK; the caller PQclear()s it, res may be
 * NULL); DFI_E_REGISTRY with the server's message (the connection is still
 * good); DFI_E_REGISTRY_UNREACHABLE when the connection broke or the
 * deadline passed, DFI_E_REGISTRY_ABANDONED when the registry was
 * abandoned before or during the call (either way the connection must be
 * dropped: whether the statement ran is unknown). */
dfi_err pg_exec(dfi_pgreg *r, PGconn *c, const char *sql, int n, const char *const *vals, PGresult **res,
    char *why, size_t cap);
/* Several statements (simple query protocol), e.g. a migration. */
dfi_err pg_exec_script(dfi_pgreg *r, PGconn *c, const char *sql, char *why, size_t cap);
/* acquire + exec + release. idempotent: a call that failed because the
 * connection broke is tried once more on a new connection (the registry's
 * functions are written so that running one twice is running it once);
 * an abandoned one is not. */
dfi_err pg_call(dfi_pgreg *r, const char *sql, int n, const char *const *vals, PGresult **res, int idempotent,
    char *why, size_t cap);
/* pg_call on a connection of the caller's own, outside the pool (*own:
 * NULL connects; dropped and NULL again when it broke): for a background
 * thread that must neither wait for the station threads' connections nor
 * hold one of them. own NULL: the pool (pg_call). */
dfi_err pg_call_own(dfi_pgreg *r, PGconn **own, const char *sql, int n, const char *const *vals, PGresult **res,
    int idempotent, char *why, size_t cap);

/* Runs select through a cursor in a read-only snapshot and calls row for
 * each row (nonzero stops; negative: a malformed row, DFI_E_REGISTRY). */
dfi_err pg_each(dfi_pgreg *r, const char *select, int (*row)(void *ctx, const PGresult *res, int i), void *ctx,
    char *why, size_t cap);

/* Wipes every value of opts (PQconninfoParse, PQconndefaults: a password
 * may be among them), then PQconninfoFree. NULL: nothing. */
void pg_conninfo_free(PQconninfoOption *opts);

/* Hex of n bytes as a bytea literal "\x...", into out (2n+3). */
void pg_bytea_hex(const uint8_t *p, size_t n, char *out);
/* Reading a result's fields and rows: pg_rows.h. */

#endif
