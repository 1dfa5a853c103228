/* The registry's schema: created and migrated by `dfissue registry init`
 * (schema/NNN_name.sql, embedded), in one transaction under an advisory
 * lock so that two inits at once apply each migration once; every applied
 * migration is recorded with its SHA-256 so an edited one is noticed.
 * Roles: nothing is granted to PUBLIC; station roles may call the
 * functions (SECURITY DEFINER, the only writers), auditor roles may read. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "pg_int.h"
#include "pg_rows.h"

/* pg_advisory_xact_lock key: "dfissue schema" */
#define SCHEMA_LOCK "7310923151201"

static void
sha_hex(const unsigned char *p, size_t n, char out[65])
{
	uint8_t h[32];
	SHA256(p, n, h);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

dfi_err
pg_rows_migrations(const PGresult *res, const struct pgmig *m, size_t n, int *current, char *why, size_t cap)
{
	int latest = n > 0 ? m[n - 1].version : 0;
	*current = 0;
	if (res == NULL || PQnfields(res) != 3)
		return dfi_why(why, cap, DFI_E_REGISTRY_SCHEMA, "the registry's schema_migrations table is unreadable");
	/* a newer registry first: whatever else its table holds, this build
	 * cannot judge it */
	for (int i = 0; i < PQntuples(res); i++) {
		uint64_t v;
		if (pg_get_u64(res, i, 0, &v) == 0 && v > (uint64_t)latest)
			return dfi_why(why, cap, DFI_E_REGISTRY_SCHEMA,
			    "the registry's schema is version %" PRIu64 ", newer than this dfissue's %d: upgrade dfissue", v,
			    latest);
	}
	for (int i = 0; i < PQntuples(res); i++) {
		uint64_t v;
		char name[128], sha[65], h[65];
		if (pg_get_u64(res, i, 0, &v) != 0 || pg_get_text(res, i, 1, 1, name, sizeof(name)) != 0 ||
		    pg_get_text(res, i, 2, 1, sha, sizeof(sha)) != 0)
			return dfi_why(why, cap, DFI_E_REGISTRY_SCHEMA, "row %d of the registry's schema_migrations is malformed",
			    i + 1);
		/* applied in order from 1: a gap is a migration's row deleted (a
		 * hand edit, a partial restore), and the next migrate must not
		 * skip what that row said was applied */
		if (v != (uint64_t)i + 1)
			return dfi_why(why, cap, DFI_E_REGISTRY_SCHEMA,
			    "the registry's schema_migrations lists version %" PRIu64 " where %d belongs: a row was deleted or "
			    "edited by hand; compare with engine/registry/schema/ before going on", v, i + 1);
		const struct pgmig *g = NULL;
		for (size_t k = 0; k < n; k++)
			if ((uint64_t)m[k].version == v)
				g = &m[k];
		if (g != NULL)
			sha_hex(g->sql, g->len, h);
		if (g == NULL || strcmp(h, sha) != 0)
			return dfi_why(why, cap, DFI_E_REGISTRY_SCHEMA,
			    "migration %" PRIu64 " (%s) in the registry is not this dfissue's (edited by hand, or another "
			    "build): compare with engine/registry/schema/ before going on", v, name);
		*current = (int)v;
	}
	return DFI_OK;
}

dfi_err
dfi_pgreg_schema_version(dfi_pgreg *r, int *version, char *why, size_t cap)
{
	PGresult *res = NULL;
	dfi_err e = pg_call(r,
	    "SELECT CASE WHEN to_regclass('" DFI_PGREG_SCHEMA ".schema_migrations') IS NULL THEN -1 ELSE 0 END", 0, NULL,
	    &res, 1, why, cap);
	if (e != DFI_OK)
		return e;
	int missing = 0, bad = pg_row_schema_missing(res, &missing);
	PQclear(res);
	if (bad)
		return dfi_why(why, cap, DFI_E_REGISTRY_SCHEMA, "the registry's answer on its schema is unreadable");
	if (missing) {
		*version = 0;
		return DFI_OK;
	}
	if ((e = pg_call(r, "SELECT coalesce(max(version), 0) FROM " DFI_PGREG_SCHEMA ".schema_migrations", 0, NULL, &res,
		 1, why, cap)) != DFI_OK)
		return e;
	bad = pg_row_schema_version(res, version);
	PQclear(res);
	return bad ? dfi_why(why, cap, DFI_E_REGISTRY_SCHEMA, "the registry's schema_migrations table is unreadable")
		   : DFI_OK;
}

/* role: 1..63 bytes (dfi_pgreg_grant, pg_row_grant), so that the statement
 * always fits. */
static dfi_err
apply_grant(dfi_pgreg *r, PGconn *c, const char *role, int station, char *why, size_t cap)
{
	char *id = PQescapeIdentifier(c, role, strlen(role));
	if (id == NULL)
		return dfi_why(why, cap, DFI_E_NOMEM, "out of memory");
	char sql[1024];
	if (station)
		snprintf(sql, sizeof(sql),
		    "GRANT USAGE ON SCHEMA " DFI_PGREG_SCHEMA " TO %s; "
		    "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA " DFI_PGREG_SCHEMA " TO %s",
		    id, id);
	else
		snprintf(sql, sizeof(sql),
		    "GRANT USAGE ON SCHEMA " DFI_PGREG_SCHEMA " TO %s; "
		    "GRANT SELECT ON ALL TABLES IN SCHEMA " DFI_PGREG_SCHEMA " TO %s",
		    id, id);
	PQfreemem(id);
	return pg_exec_script(r, c, sql, why, cap);
}

/* Grants again what every recorded role needs (after a migration added
 * functions or tables), and nothing to PUBLIC. */
static dfi_err
regrant(dfi_pgreg *r, PGconn *c, char *why, size_t cap)
{
	dfi_err e = pg_exec_script(r, c,
	    "REVOKE ALL ON SCHEMA " DFI_PGREG_SCHEMA " FROM PUBLIC; "
	    "REVOKE ALL ON ALL TABLES IN SCHEMA " DFI_PGREG_SCHEMA " FROM PUBLIC; "
	    "REVOKE ALL ON ALL FUNCTIONS IN SCHEMA " DFI_PGREG_SCHEMA " FROM PUBLIC",
	    why, cap);
	PGresult *res = NULL;
	if (e == DFI_OK)
		e = pg_exec(r, c, "SELECT role, kind FROM " DFI_PGREG_SCHEMA ".role_grants ORDER BY role", 0, NULL, &res,
		    why, cap);
	for (int i = 0; e == DFI_OK && i < PQntuples(res); i++) {
		char role[64];
		int station;
		/* a role_grants row edited by hand: no grant from it */
		if (pg_row_grant(res, i, role, &station) != 0)
			e = dfi_why(why, cap, DFI_E_REGISTRY_SCHEMA, "row %d of the registry's role_grants is malformed", i + 1);
		else
			e = apply_grant(r, c, role, station, why, cap);
	}
	PQclear(res);
	return e;
}

/* The end of a transaction on c, which it gives back: committed when e is
 * DFI_OK, else rolled back (unless the connection broke: it is dropped,
 * and the server rolls back). Returns the outcome. */
static dfi_err
tx_end(dfi_pgreg *r, PGconn *c, dfi_err e, char *why, size_t cap)
{
	if (e == DFI_OK)
		e = pg_exec_script(r, c, "COMMIT", why, cap);
	if (e != DFI_OK && e != DFI_E_REGISTRY_UNREACHABLE) {
		char ignore[64];
		(void)pg_exec_script(r, c, "ROLLBACK", ignore, sizeof(ignore));
	}
	pg_release(r, c, e != DFI_OK);
	return e;
}

dfi_err
dfi_pgreg_migrate(dfi_pgreg *r, int target, int *from, int *to, char *why, size_t cap)
{
	if (r == NULL)
		return DFI_E_INVALID_ARG;
	int latest = pg_nmigrations > 0 ? pg_migrations[pg_nmigrations - 1].version : 0;
	if (target == 0)
		target = latest;
	if (target < 1 || target > latest)
		return dfi_why(why, cap, DFI_E_INVALID_ARG, "schema version %d is not one this dfissue knows (1..%d)", target,
		    latest);
	PGconn *c;
	dfi_err e = pg_acquire(r, &c, why, cap);
	if (e != DFI_OK)
		return e;
	e = pg_exec_script(r, c,
	    "BEGIN; "
	    "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK "); "
	    "CREATE SCHEMA IF NOT EXISTS " DFI_PGREG_SCHEMA "; "
	    "CREATE TABLE IF NOT EXISTS " DFI_PGREG_SCHEMA ".schema_migrations ("
	    " version integer PRIMARY KEY, name text NOT NULL, sha256 text NOT NULL,"
	    " applied_at timestamptz NOT NULL DEFAULT now(), applied_by text NOT NULL DEFAULT session_user)",
	    why, cap);
	PGresult *res = NULL;
	if (e == DFI_OK)
		e = pg_exec(r, c, "SELECT version, name, sha256 FROM " DFI_PGREG_SCHEMA ".schema_migrations ORDER BY version", 0,
		    NULL, &res, why, cap);
	int current = 0;
	if (e == DFI_OK)
		e = pg_rows_migrations(res, pg_migrations, pg_nmigrations, &current, why, cap);
	PQclear(res);
	if (e == DFI_OK && from != NULL)
		*from = current;
	for (size_t k = 0; e == DFI_OK && k < pg_nmigrations; k++) {
		const struct pgmig *m = &pg_migrations[k];
		if (m->version <= current || m->version > target)
			continue;
		char *sql = malloc(m->len + 1);
		if (sql == NULL) {
			e = dfi_why(why, cap, DFI_E_NOMEM, "out of memory");
			break;
		}
		memcpy(sql, m->sql, m->len);
		sql[m->len] = '\0';
		e = pg_exec_script(r, c, "SET LOCAL search_path = " DFI_PGREG_SCHEMA ", pg_catalog", why, cap);
		if (e == DFI_OK) {
			char ctx[600];
			e = pg_exec_script(r, c, sql, ctx, sizeof(ctx));
			if (e != DFI_OK)
				dfi_why(why, cap, e, "migration %03d (%s): %s", m->version, m->name, ctx);
		}
		free(sql);
		char ver[16], h[65];
		snprintf(ver, sizeof(ver), "%d", m->version);
		sha_hex(m->sql, m->len, h);
		const char *vals[] = { ver, m->name, h };
		if (e == DFI_OK)
			e = pg_exec(r, c, "INSERT INTO " DFI_PGREG_SCHEMA ".schema_migrations (version, name, sha256) VALUES ($1, $2, $3)",
			    3, vals, NULL, why, cap);
		if (e == DFI_OK)
			current = m->version;
	}
	if (e == DFI_OK && current > 0)
		e = regrant(r, c, why, cap);
	e = tx_end(r, c, e, why, cap);
	if (e == DFI_OK && to != NULL)
		*to = current;
	return e;
}

dfi_err
dfi_pgreg_grant(dfi_pgreg *r, const char *role, dfi_pgreg_role kind, char *why, size_t cap)
{
	if (r == NULL || role == NULL || role[0] == '\0' || strlen(role) > 63 ||
	    (kind != DFI_PGREG_ROLE_STATION && kind != DFI_PGREG_ROLE_AUDITOR))
		return dfi_why(why, cap, DFI_E_INVALID_ARG, "a role name is 1 to 63 bytes");
	const char *k = kind == DFI_PGREG_ROLE_STATION ? "station" : "auditor";
	PGconn *c;
	dfi_err e = pg_acquire(r, &c, why, cap);
	if (e != DFI_OK)
		return e;
	const char *vals[] = { role, k };
	e = pg_exec_script(r, c, "BEGIN", why, cap);
	PGresult *res = NULL;
	if (e == DFI_OK)
		e = pg_exec(r, c, "SELECT 1 FROM pg_roles WHERE rolname = $1", 1, vals, &res, why, cap);
	if (e == DFI_OK && PQntuples(res) != 1)
		e = dfi_why(why, cap, DFI_E_NOT_FOUND,
		    "there is no database role '%s': create it first (CREATE ROLE \"%s\" LOGIN; see docs/OPERATIONS.md)", role,
		    role);
	PQclear(res);
	if (e == DFI_OK)
		e = pg_exec(r, c,
		    "INSERT INTO " DFI_PGREG_SCHEMA ".role_grants (role, kind) VALUES ($1, $2) "
		    "ON CONFLICT (role) DO UPDATE SET kind = excluded.kind, granted_at = now()",
		    2, vals, NULL, why, cap);
	if (e == DFI_OK)
		e = apply_grant(r, c, role, kind == DFI_PGREG_ROLE_STATION, why, cap);
	e = tx_end(r, c, e, why, cap);
	return e;
}
