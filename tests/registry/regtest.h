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
