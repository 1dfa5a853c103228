/* Helpers for the registry tests: one private PostgreSQL cluster per test
 * binary (tests/common/pgfix.h, started in main before the suite runs), a
 * database per test, libpq for the checks the tests make directly. */
#ifndef DFI_REGTEST_H
#define DFI_REGTEST_H

#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfissue/pgregistry.h"
#include "pgcut.h"
#include "pgfix.h"

static struct dfi_pg rt_pg;

/* The admin URL of database db. */
static inline void
rt_url(const char *db, char *out, size_t cap)
{
	snprintf(out, cap, "postgresql:///%s?host=%s&user=%s", db, rt_pg.sock, rt_pg.user);
}

static inline void
rt_quiet(void *a, const char *m)
{
	(void)a;
	(void)m;
}

/* Runs sql (several statements) on database db as the superuser. */
static inline void
rt_sql(const char *db, const char *sql)
{
	char url[PATH_MAX + 160];
	rt_url(db, url, sizeof(url));
	PGconn *c = PQconnectdb(url);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	PQsetNoticeProcessor(c, rt_quiet, NULL);
	PGresult *r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
	    PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

/* The one value of a query, as text (static buffer). */
static inline const char *
rt_val(const char *db, const char *sql)
{
	static char buf[4096];
	char url[PATH_MAX + 160];
	rt_url(db, url, sizeof(url));
	PGconn *c = PQconnectdb(url);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	PGresult *r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", sql, PQresultErrorMessage(r));
	snprintf(buf, sizeof(buf), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return buf;
}

/* Checks that database db's registry holds the head of the journal of
 * origin: its witnessed size is size (the journal's record count). */
static inline void
rt_assert_witnessed(const char *db, const char *origin, uint64_t size)
{
	char q[256], want[24];
	snprintf(q, sizeof(q), "SELECT size FROM dfissue.journals WHERE origin = '%s'", origin);
	snprintf(want, sizeof(want), "%llu", (unsigned long long)size);
	ck_assert_str_eq(rt_val(db, q), want);
}

/* The origin of one case of a cut sweep (rt_cut_sweep): a new journal per
 * round trip k and side, so that no case sees another's records. */
static inline void
rt_cut_origin(char *out, size_t cap, const char *host, uint64_t k, int after)
{
	snprintf(out, cap, "%s/%llu-%s", host, (unsigned long long)k, after ? "after" : "before");
}

/* From now on the registry of database db fails every release of a claim
 * (a server error naming "the test refuses releases"). */
static inline void
rt_refuse_releases(const char *db)
{
	rt_sql(db, "CREATE FUNCTION dfissue.t_no_release() RETURNS trigger LANGUAGE plpgsql AS "
	    "$$ BEGIN RAISE EXCEPTION 'the test refuses releases'; END $$");
	rt_sql(db, "CREATE TRIGGER t_no_release BEFORE DELETE ON dfissue.claims FOR EACH ROW EXECUTE FUNCTION "
	    "dfissue.t_no_release()");
}

/* A fresh database for one test, its URL in url. */
static inline void
rt_newdb(const char *db, char *url, size_t cap)
{
	char sql[256];
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
	rt_sql("postgres", sql);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s TEMPLATE template0", db);
	rt_sql("postgres", sql);
	rt_url(db, url, cap);
}

/* A fresh database with the current schema, and a registry handle on it. */
static inline dfi_pgreg *
rt_registry(const char *db, const char *station, char *url, size_t cap)
{
	char why[600];
	rt_newdb(db, url, cap);
	struct dfi_pgreg_opts o = { .station = "init", .skip_schema_check = 1 };
	dfi_pgreg *r = NULL;
	ck_assert_msg(dfi_pgreg_open(&r, url, &o, why, sizeof(why)) == DFI_OK, "%s", why);
	ck_assert_msg(dfi_pgreg_migrate(r, 0, NULL, NULL, why, sizeof(why)) == DFI_OK, "%s", why);
	dfi_pgreg_free(r);
	struct dfi_pgreg_opts so = { .station = station, .timeout_ms = 5000 };
	ck_assert_msg(dfi_pgreg_open(&r, url, &so, why, sizeof(why)) == DFI_OK, "%s", why);
	return r;
}

/* A pgcut proxy (pgcut.h) in front of the cluster, listening in the
 * fixture's directory sub/; the URL of database db through it in curl. */
static inline struct pgcut *
rt_cut(const char *db, const char *sub, char *curl, size_t cap)
{
	char cutdir[PATH_MAX + 16], target[PATH_MAX + 32];
	snprintf(cutdir, sizeof(cutdir), "%s/%s", rt_pg.dir, sub);
	mkdir(cutdir, 0700);
	snprintf(target, sizeof(target), "%s/.s.PGSQL.5432", rt_pg.sock);
	struct pgcut *x = NULL;
	ck_assert_int_eq(pgcut_start(&x, cutdir, target), 0);
	snprintf(curl, cap, "postgresql:///%s?host=%s&user=%s", db, cutdir, rt_pg.user);
	return x;
}

/* A sweep's stride from the environment (DFI_SANITIZE builds set one:
 * tests/registry/CMakeLists.txt); 1 when unset. */
static inline uint64_t
rt_stride(const char *env)
{
	const char *v = getenv(env);
	return v != NULL && atoi(v) > 1 ? (uint64_t)atoi(v) : 1;
}

/* A sweep of cuts on a new database db's registry, through a pgcut proxy:
 * run(url, k, after, &failures) sets up, runs and checks one case of a
 * scenario against the registry at url (the proxy's), retrying its failed
 * calls and counting them in failures. It runs once clean (k 0), which
 * must make at least min_trips round trips and surface no failure, then
 * once for every stride-th of those round trips (rt_stride(stride_env)),
 * cut before the server answered and after (pgcut_arm); each cut must be
 * reached, and no checkpoint refused. Prints what was swept. */
static inline void
rt_cut_sweep(const char *db, const char *what, const char *stride_env, uint64_t min_trips,
    void (*run)(const char *url, uint64_t k, int after, unsigned *failures))
{
	char url[PATH_MAX + 160], curl[PATH_MAX + 200];
	dfi_pgreg_free(rt_registry(db, "init", url, sizeof(url)));
	struct pgcut *x = rt_cut(db, db, curl, sizeof(curl));
	uint64_t stride = rt_stride(stride_env);
	unsigned failures = 0, cases = 0, visible = 0;
	int fired = 0;
	uint64_t c0 = pgcut_seen(x, NULL);
	run(curl, 0, 0, &failures);
	uint64_t trips = pgcut_seen(x, NULL) - c0;
	ck_assert_uint_eq(failures, 0);
	ck_assert_uint_ge(trips, min_trips);
	for (uint64_t k = 1; k <= trips; k += stride)
		for (int after = 0; after < 2; after++) {
			pgcut_arm(x, k, after);
			failures = 0;
			run(curl, k, after, &failures);
			(void)pgcut_seen(x, &fired);
			ck_assert_msg(fired, "round trip %llu was never made", (unsigned long long)k);
			visible += failures > 0;
			cases++;
		}
	pgcut_arm(x, 0, 0);
	ck_assert_str_eq(rt_val(db, "SELECT count(*) FROM dfissue.witness_refusals"), "0");
	printf("%s cut at every%s round trip: %u round trips, %u cases (before/after), %u surfaced a failure (retried "
	       "by the caller), 0 refusals\n", what, stride > 1 ? " stride-th" : "", (unsigned)trips, cases, visible);
	pgcut_stop(x);
}

/* main(): one cluster for every test of the binary. */
static inline int
rt_main(Suite *s)
{
	if (dfi_pg_setup(&rt_pg, "fsync = off\nfull_page_writes = off\n") != 0)
		return 1;
	setenv("PGPASSFILE", rt_pg.passfile, 1);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	dfi_pg_teardown(&rt_pg);
	return failed == 0 ? 0 : 1;
}

#endif
