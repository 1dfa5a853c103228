/* The PostgreSQL registry against a real server (a private cluster, one for
 * this binary): URLs without passwords, the versioned schema and its
 * migrations, roles and grants, the consistency check written in SQL
 * against the C one, witness() in every outcome, a station witnessing its
 * growing journal, a rolled-back and a forked journal refused, and a server
 * that stops and comes back; a schema-5 registry with records migrated to 6;
 * a schema-6 registry's claims migrated to 7 (a claim follows its journal). */
#include <pthread.h>

#include "jtest.h"
#include "regtest.h"
#include "testutil.h"

static char why[600];

START_TEST(url_without_password_only)
{
	ck_assert_int_eq(dfi_pgreg_check_url("postgresql://st@db.example/reg?sslmode=verify-full", why, sizeof(why)),
	    DFI_OK);
	ck_assert_int_eq(dfi_pgreg_check_url("postgres:///reg?host=/run/postgresql&user=st", why, sizeof(why)), DFI_OK);
	/* a URI only: a key=value string is refused, with the form to use */
	ck_assert_int_eq(dfi_pgreg_check_url("host=db.example dbname=reg user=st", why, sizeof(why)),
	    DFI_E_INVALID_ARG);
	ck_assert_ptr_nonnull(strstr(why, "postgresql://"));
	ck_assert_int_eq(dfi_pgreg_check_url("postgresql://st:hunter2@db.example/reg", why, sizeof(why)),
	    DFI_E_INVALID_ARG);
	ck_assert_ptr_nonnull(strstr(why, "password file"));
	ck_assert_ptr_null(strstr(why, "hunter2"));
	ck_assert_int_eq(dfi_pgreg_check_url("postgresql:///reg?password=hunter2", why, sizeof(why)), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_pgreg_check_url("host=x password=hunter2", why, sizeof(why)), DFI_E_INVALID_ARG);
	ck_assert_ptr_null(strstr(why, "hunter2"));
	ck_assert_int_eq(dfi_pgreg_check_url("postgresql://st@db/reg?sslcert=c.pem&sslkey=k.pem&sslpassword=hunter2",
	    why, sizeof(why)), DFI_E_INVALID_ARG);
	ck_assert_ptr_nonnull(strstr(why, "sslpassword"));
	ck_assert_ptr_null(strstr(why, "hunter2"));
	ck_assert_int_eq(dfi_pgreg_check_url("postgresql://[::1", why, sizeof(why)), DFI_E_PARSE);
	/* a URI libpq cannot parse: refused with libpq's words, never its
	 * quote of the URI (which would echo the password into a log) */
	const char *const bad[] = { "postgresql://st:hunter2@[::1/reg", "postgresql://st:hunter2@db/reg?sslmode",
		"postgresql://st:hunter2@db/reg?a=b=c", "postgresql://st:hunter2%zz@db/reg",
		"postgresql://st:hunter2@db/reg%00", "postgres://st:hunter2@[]/reg" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		ck_assert_int_ne(dfi_pgreg_check_url(bad[i], why, sizeof(why)), DFI_OK);
		ck_assert_msg(why[0] != '\0' && strstr(why, "hunter2") == NULL, "%s -> %s", bad[i], why);
	}
	ck_assert_int_eq(dfi_pgreg_check_url("", why, sizeof(why)), DFI_E_INVALID_ARG);
}
END_TEST

START_TEST(schema_created_migrated_and_checked)
{
	char url[PATH_MAX + 160];
	rt_newdb("t_schema", url, sizeof(url));
	dfi_pgreg *r = NULL;
	/* a station on a database without the schema is told what to do */
	struct dfi_pgreg_opts so = { .station = "st" };
	ck_assert_int_eq(dfi_pgreg_open(&r, url, &so, why, sizeof(why)), DFI_E_REGISTRY_SCHEMA);
	ck_assert_ptr_nonnull(strstr(why, "dfissue registry init"));
	struct dfi_pgreg_opts o = { .station = "init", .skip_schema_check = 1 };
	ck_assert_int_eq(dfi_pgreg_open(&r, url, &o, why, sizeof(why)), DFI_OK);
	int from = -1, to = -1, v = -1;
	ck_assert_int_eq(dfi_pgreg_schema_version(r, &v, why, sizeof(why)), DFI_OK);
	ck_assert_int_eq(v, 0);
	ck_assert_msg(dfi_pgreg_migrate(r, 1, &from, &to, why, sizeof(why)) == DFI_OK, "%s", why);
	ck_assert_int_eq(from, 0);
	ck_assert_int_eq(to, 1);
	ck_assert_int_eq(dfi_pgreg_migrate(r, 0, &from, &to, why, sizeof(why)), DFI_OK);
	ck_assert_int_eq(from, 1);
	ck_assert_int_eq(to, DFI_PGREG_SCHEMA_VERSION);
	ck_assert_int_eq(dfi_pgreg_migrate(r, 0, &from, &to, why, sizeof(why)), DFI_OK);
	ck_assert_int_eq(from, to);
	char nv[16];
	snprintf(nv, sizeof(nv), "%d", DFI_PGREG_SCHEMA_VERSION);
	ck_assert_str_eq(rt_val("t_schema", "SELECT count(*) FROM dfissue.schema_migrations"), nv);
	/* an applied migration edited by hand is noticed */
	rt_sql("t_schema", "UPDATE dfissue.schema_migrations SET sha256 = repeat('0', 64) WHERE version = 1");
	ck_assert_int_eq(dfi_pgreg_migrate(r, 0, &from, &to, why, sizeof(why)), DFI_E_REGISTRY_SCHEMA);
	ck_assert_ptr_nonnull(strstr(why, "edited by hand"));
	rt_sql("t_schema", "DELETE FROM dfissue.schema_migrations WHERE version = 1");
	/* a schema newer than this build: refused, and stations refuse it */
	rt_sql("t_schema", "INSERT INTO dfissue.schema_migrations (version, name, sha256) VALUES (999, 'future', 'x')");
	ck_assert_int_eq(dfi_pgreg_migrate(r, 0, &from, &to, why, sizeof(why)), DFI_E_REGISTRY_SCHEMA);
	ck_assert_ptr_nonnull(strstr(why, "upgrade dfissue"));
	dfi_pgreg_free(r);
	ck_assert_int_eq(dfi_pgreg_open(&r, url, &so, why, sizeof(why)), DFI_E_REGISTRY_SCHEMA);
	ck_assert_ptr_nonnull(strstr(why, "newer"));
	ck_assert_int_eq(dfi_pgreg_migrate(r, 5000, &from, &to, why, sizeof(why)), DFI_E_INVALID_ARG);
}
END_TEST

struct initarg {
	const char *url;
	dfi_err e;
	int from, to;
};

static void *
init_thread(void *p)
{
	struct initarg *a = p;
	char w[600];
	struct dfi_pgreg_opts o = { .station = "init", .skip_schema_check = 1 };
	dfi_pgreg *r = NULL;
	a->e = dfi_pgreg_open(&r, a->url, &o, w, sizeof(w));
	if (a->e == DFI_OK)
		a->e = dfi_pgreg_migrate(r, 0, &a->from, &a->to, w, sizeof(w));
	dfi_pgreg_free(r);
	return NULL;
}

START_TEST(concurrent_inits_apply_each_migration_once)
{
	char url[PATH_MAX + 160];
	rt_newdb("t_conc", url, sizeof(url));
	struct initarg a[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		a[i].url = url;
		ck_assert_int_eq(pthread_create(&t[i], NULL, init_thread, &a[i]), 0);
	}
	int created = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(a[i].e, DFI_OK);
		ck_assert_int_eq(a[i].to, DFI_PGREG_SCHEMA_VERSION);
		created += a[i].from == 0;
	}
	ck_assert_int_eq(created, 1);
	char nv[16];
	snprintf(nv, sizeof(nv), "%d", DFI_PGREG_SCHEMA_VERSION);
	ck_assert_str_eq(rt_val("t_conc", "SELECT count(*) FROM dfissue.schema_migrations"), nv);
}
END_TEST

/* Connects as role with password pw (through a password file of its own). */
static PGconn *
connect_as(const char *db, const char *role, const char *pw, char *passfile)
{
	FILE *f = fopen(passfile, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "*:*:*:%s:%s\n", role, pw);
	fclose(f);
	chmod(passfile, 0600);
	char url[PATH_MAX + 300];
	snprintf(url, sizeof(url), "postgresql:///%s?host=%s&user=%s&passfile=%s", db, rt_pg.sock, role, passfile);
	PGconn *c = PQconnectdb(url);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	return c;
}

static int
allowed(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	return ok;
}

START_TEST(roles_get_only_what_they_need)
{
	char url[PATH_MAX + 160];
	dfi_pgreg *r = rt_registry("t_roles", "st", url, sizeof(url));
	rt_sql("postgres", "DROP ROLE IF EXISTS rt_station; DROP ROLE IF EXISTS rt_auditor; DROP ROLE IF EXISTS rt_other;"
			   "CREATE ROLE rt_station LOGIN PASSWORD 's1'; CREATE ROLE rt_auditor LOGIN PASSWORD 'a1';"
			   "CREATE ROLE rt_other LOGIN PASSWORD 'o1'");
	ck_assert_int_eq(dfi_pgreg_grant(r, "rt_station", DFI_PGREG_ROLE_STATION, why, sizeof(why)), DFI_OK);
	ck_assert_int_eq(dfi_pgreg_grant(r, "rt_auditor", DFI_PGREG_ROLE_AUDITOR, why, sizeof(why)), DFI_OK);
	ck_assert_int_eq(dfi_pgreg_grant(r, "rt_nobody", DFI_PGREG_ROLE_AUDITOR, why, sizeof(why)), DFI_E_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(why, "CREATE ROLE"));
	char pf[PATH_MAX + 32];
	snprintf(pf, sizeof(pf), "%s/rolepass", rt_pg.dir);
	PGconn *st = connect_as("t_roles", "rt_station", "s1", pf);
	ck_assert(allowed(st, "SELECT * FROM dfissue.witnessed('x')"));
	ck_assert(!allowed(st, "SELECT * FROM dfissue.journals"));
	ck_assert(!allowed(st, "DELETE FROM dfissue.checkpoints"));
	ck_assert(!allowed(st, "INSERT INTO dfissue.journals VALUES ('o', 1, 'ed25519', 1, '\\x00', 'n', 's')"));
	PQfinish(st);
	PGconn *au = connect_as("t_roles", "rt_auditor", "a1", pf);
	ck_assert(allowed(au, "SELECT * FROM dfissue.journals"));
	ck_assert(allowed(au, "SELECT * FROM dfissue.witness_refusals"));
	ck_assert(!allowed(au, "SELECT * FROM dfissue.witnessed('x')"));
	ck_assert(!allowed(au, "DELETE FROM dfissue.journals"));
	PQfinish(au);
	PGconn *ot = connect_as("t_roles", "rt_other", "o1", pf);
	ck_assert(!allowed(ot, "SELECT * FROM dfissue.journals"));
	ck_assert(!allowed(ot, "SELECT * FROM dfissue.witnessed('x')"));
	PQfinish(ot);
	/* a migration run again keeps the grants */
	ck_assert_int_eq(dfi_pgreg_migrate(r, 0, NULL, NULL, why, sizeof(why)), DFI_OK);
	st = connect_as("t_roles", "rt_station", "s1", pf);
	ck_assert(allowed(st, "SELECT * FROM dfissue.witnessed('x')"));
	PQfinish(st);
	dfi_pgreg_free(r);
	unlink(pf);
	rt_sql("postgres", "DROP DATABASE t_roles WITH (FORCE)");
	rt_sql("postgres", "DROP ROLE rt_station; DROP ROLE rt_auditor; DROP ROLE rt_other");
}
END_TEST

/* ---- the SQL consistency check agrees with the C one ---------------------- */

START_TEST(sql_consistency_check_agrees_with_c)
{
	char url[PATH_MAX + 160];
	dfi_pgreg *r = rt_registry("t_sqlc", "st", url, sizeof(url));
	dfi_pgreg_free(r);
	enum { N = 33 };
	uint8_t lh[N][32], roots[N + 1][32];
	dfi_merkle t;
	dfi_merkle_init(&t);
	for (int i = 0; i < N; i++) {
		uint8_t b[2] = { (uint8_t)i, 0x77 };
		dfi_merkle_leaf_hash(b, 2, lh[i]);
		dfi_merkle_push(&t, lh[i]);
		dfi_merkle_root(&t, roots[i + 1]);
	}
	PGconn *c = PQconnectdb(url);
	ck_assert(PQstatus(c) == CONNECTION_OK);
	unsigned checked = 0;
	/* every pair of sizes up to N leaves; DFI_SANITIZE builds up to
	 * DFI_SQLC_LEAVES (the SQL side is the same in every build) */
	uint64_t leaves = N;
	const char *lv = getenv("DFI_SQLC_LEAVES");
	if (lv != NULL && atoi(lv) >= 9 && atoi(lv) < N)
		leaves = (uint64_t)atoi(lv);
	for (uint64_t n = 1; n <= leaves; n++)
		for (uint64_t m = 1; m <= n; m++) {
			uint8_t p[DFI_MERKLE_CPROOF_MAX][32];
			size_t len;
			ck_assert_int_eq(dfi_merkle_consistency_proof((const uint8_t(*)[32])lh, n, m, p, DFI_MERKLE_CPROOF_MAX, &len),
			    DFI_OK);
			for (int variant = 0; variant < 3; variant++) {
				/* 0: the proof; 1: a flipped bit; 2: the roots swapped */
				uint8_t q[DFI_MERKLE_CPROOF_MAX][32];
				memcpy(q, p, len * 32);
				const uint8_t *rm = roots[m], *rn = roots[n];
				if (variant == 1 && len > 0)
					q[len / 2][7] ^= 0x20;
				if (variant == 2) {
					rm = roots[n];
					rn = roots[m];
				}
				if (variant == 1 && len == 0)
					continue;
				int cwant = dfi_merkle_verify_consistency(m, n, rm, rn, (const uint8_t(*)[32])q, len) == DFI_OK;
				char ms[24], ns[24], a[70], b[70], pr[2 * DFI_MERKLE_CPROOF_MAX * 32 + 3];
				snprintf(ms, sizeof(ms), "%llu", (unsigned long long)m);
				snprintf(ns, sizeof(ns), "%llu", (unsigned long long)n);
				static const char d[] = "0123456789abcdef";
				const uint8_t *srcs[2] = { rm, rn };
				char *dsts[2] = { a, b };
				for (int k = 0; k < 2; k++) {
					dsts[k][0] = '\\';
					dsts[k][1] = 'x';
					for (int i = 0; i < 32; i++) {
						dsts[k][2 + 2 * i] = d[srcs[k][i] >> 4];
						dsts[k][3 + 2 * i] = d[srcs[k][i] & 15];
					}
					dsts[k][66] = '\0';
				}
				pr[0] = '\\';
				pr[1] = 'x';
				for (size_t i = 0; i < len * 32; i++) {
					pr[2 + 2 * i] = d[((uint8_t *)q)[i] >> 4];
					pr[3 + 2 * i] = d[((uint8_t *)q)[i] & 15];
				}
				pr[2 + 64 * len] = '\0';
				const char *vals[] = { ms, ns, a, b, pr };
				PGresult *res = PQexecParams(c, "SELECT dfissue.verify_consistency($1, $2, $3, $4, $5)", 5, NULL,
				    vals, NULL, NULL, 0);
				ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(res));
				int sqlok = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
				PQclear(res);
				ck_assert_msg(sqlok == cwant, "m=%llu n=%llu variant %d: SQL %d, C %d", (unsigned long long)m,
				    (unsigned long long)n, variant, sqlok, cwant);
				if (variant == 0)
					ck_assert(sqlok);
				checked++;
			}
		}
	ck_assert_uint_gt(checked, 2 * leaves * (leaves + 1) / 2);
	PQfinish(c);
}
END_TEST

/* ---- witness(): every outcome --------------------------------------------------- */

static unsigned jf_tag = 0xAB;

static void
jf_open(struct jt_journal *f, const char *origin)
{
	ck_assert_int_eq(jt_journal_open(f, origin, DFI_SIG_ED25519), 0);
}

static void
jf_add(struct jt_journal *f, unsigned n)
{
	ck_assert_int_eq(jt_journal_add(f, n, jf_tag), 0);
}

static void
proof_between(struct jt_journal *f, uint64_t m, struct dfi_jconsistency *c)
{
	ck_assert_int_eq(dfi_journal_consistency_file(f->dir, m, 0, c), DFI_OK);
}

/* The witness tests' fixture (the "witness" test case): before each, a new
 * database WF_DB's registry (station st-1) and a new journal of WF_ORIGIN
 * in g_wf; after it, both closed. */
#define WF_DB "t_witness"
#define WF_ORIGIN "reg.example/w1"
struct wfix {
	char url[PATH_MAX + 160];
	dfi_pgreg *r;
	struct jt_journal f;
};
static struct wfix g_wf;

static void
wf_open(void)
{
	g_wf.r = rt_registry(WF_DB, "st-1", g_wf.url, sizeof(g_wf.url));
	jf_open(&g_wf.f, WF_ORIGIN);
}

static void
wf_close(void)
{
	jt_journal_close(&g_wf.f);
	dfi_pgreg_free(g_wf.r);
}

/* Submits c, a proof from size m to the fixture journal's head, to the
 * registry under key ID key_id; the outcome in *w. */
static dfi_err
wf_witness_proof(uint32_t key_id, uint64_t m, const struct dfi_jconsistency *c, struct dfi_pgreg_witness *w)
{
	return dfi_pgreg_witness(g_wf.r, WF_ORIGIN, key_id, DFI_SIG_ED25519, m, c->new_note, c->new_note_len,
	    (const uint8_t(*)[32])c->proof, c->plen, w, why, sizeof(why));
}

START_TEST(witness_every_outcome)
{
	jf_add(&g_wf.f, 4); /* 5 records */
	struct dfi_jconsistency *c = malloc(sizeof(*c));
	struct dfi_pgreg_witness w;
	uint8_t note[DFI_J_NOTE_MAX];
	size_t nl;
	ck_assert_int_eq(dfi_journal_checkpoint(g_wf.f.j, note, sizeof(note), &nl), DFI_OK);
	/* unknown journal: none witnessed */
	uint64_t size;
	uint8_t root[32];
	ck_assert_int_eq(dfi_pgreg_witnessed(g_wf.r, WF_ORIGIN, &size, root, NULL, 0, NULL, why, sizeof(why)),
	    DFI_E_NOT_FOUND);
	/* first: registered */
	ck_assert_msg(dfi_pgreg_witness(g_wf.r, WF_ORIGIN, g_wf.f.key_id, DFI_SIG_ED25519, 0, note, nl, NULL, 0, &w,
			  why, sizeof(why)) == DFI_OK, "%s", why);
	ck_assert_int_eq(w.status, DFI_PGREG_W_REGISTERED);
	ck_assert_uint_eq(w.w_size, 5);
	/* again: same */
	ck_assert_int_eq(dfi_pgreg_witness(g_wf.r, WF_ORIGIN, g_wf.f.key_id, DFI_SIG_ED25519, 5, note, nl, NULL, 0,
			     &w, why, sizeof(why)), DFI_OK);
	ck_assert_int_eq(w.status, DFI_PGREG_W_SAME);
	/* grown, with the proof: witnessed */
	jf_add(&g_wf.f, 6);
	proof_between(&g_wf.f, 5, c);
	ck_assert_int_eq(wf_witness_proof(g_wf.f.key_id, 5, c, &w), DFI_OK);
	ck_assert_int_eq(w.status, DFI_PGREG_W_WITNESSED);
	ck_assert_uint_eq(w.w_size, 11);
	ck_assert_int_eq(dfi_pgreg_witnessed(g_wf.r, WF_ORIGIN, &size, root, note, sizeof(note), &nl, why,
	    sizeof(why)), DFI_OK);
	ck_assert_uint_eq(size, 11);
	ck_assert_mem_eq(root, c->new_root, 32);
	ck_assert_mem_eq(note, c->new_note, nl);
	/* from a size the registry did not witness: stale, with the witnessed size */
	jf_add(&g_wf.f, 2);
	proof_between(&g_wf.f, 6, c);
	ck_assert_int_eq(wf_witness_proof(g_wf.f.key_id, 6, c, &w), DFI_OK);
	ck_assert_int_eq(w.status, DFI_PGREG_W_STALE);
	ck_assert_uint_eq(w.w_size, 11);
	/* a proof that does not hold: refused, and recorded */
	proof_between(&g_wf.f, 11, c);
	c->proof[0][0] ^= 1;
	ck_assert_int_eq(wf_witness_proof(g_wf.f.key_id, 11, c, &w), DFI_OK);
	ck_assert_int_eq(w.status, DFI_PGREG_W_REFUSED);
	ck_assert_ptr_nonnull(strstr(w.reason, "does not extend"));
	ck_assert_uint_eq(w.w_size, 11);
	/* another key ID for the same log */
	c->proof[0][0] ^= 1;
	ck_assert_int_eq(wf_witness_proof(g_wf.f.key_id ^ 1, 11, c, &w), DFI_OK);
	ck_assert_int_eq(w.status, DFI_PGREG_W_REFUSED);
	ck_assert_ptr_nonnull(strstr(w.reason, "key changed"));
	/* the good one goes through */
	ck_assert_int_eq(wf_witness_proof(g_wf.f.key_id, 11, c, &w), DFI_OK);
	ck_assert_int_eq(w.status, DFI_PGREG_W_WITNESSED);
	/* an older checkpoint (rolled back): refused */
	ck_assert_int_eq(dfi_pgreg_witness(g_wf.r, WF_ORIGIN, g_wf.f.key_id, DFI_SIG_ED25519, 13, note, nl, NULL, 0,
			     &w, why, sizeof(why)), DFI_OK);
	ck_assert_int_eq(w.status, DFI_PGREG_W_REFUSED);
	ck_assert_ptr_nonnull(strstr(w.reason, "rolled back"));
	/* a note that names another size than it is submitted for: refused by
	 * the SQL even though the caller's parse would not allow it: forge the
	 * call directly */
	PGconn *pc = PQconnectdb(g_wf.url);
	PGresult *q = PQexec(pc, "SELECT status, reason FROM dfissue.witness('" WF_ORIGIN "', 1, 'ed25519', 'x', 13, 99, "
				 "'\\x0000000000000000000000000000000000000000000000000000000000000000', "
				 "E'" WF_ORIGIN "\\n98\\nAAAA\\nprev 1\\n\\n\\u2014 " WF_ORIGIN " AAAA\\n', '\\x')");
	ck_assert_str_eq(PQgetvalue(q, 0, 0), "refused");
	ck_assert_ptr_nonnull(strstr(PQgetvalue(q, 0, 1), "does not name"));
	PQclear(q);
	PQfinish(pc);
	ck_assert_str_eq(rt_val(WF_DB, "SELECT count(*) FROM dfissue.witness_refusals"), "4");
	ck_assert_str_eq(rt_val(WF_DB, "SELECT count(*) FROM dfissue.checkpoints"), "3");
	ck_assert_str_eq(rt_val(WF_DB, "SELECT size FROM dfissue.journals"), "13");
	free(c);
}
END_TEST

START_TEST(station_witnesses_its_growing_journal)
{
	jf_add(&g_wf.f, 3);
	dfi_pgwitness *w = NULL;
	ck_assert_msg(dfi_pgwitness_new(&w, g_wf.r, g_wf.f.dir, g_wf.f.pk, why, sizeof(why)) == DFI_OK, "%s", why);
	ck_assert_uint_eq(dfi_pgwitness_size(w), 4);
	for (int round = 0; round < 20; round++) {
		jf_add(&g_wf.f, (unsigned)(round % 4));
		ck_assert_msg(dfi_pgwitness_sync(w, why, sizeof(why)) == DFI_OK, "%s", why);
		ck_assert_uint_eq(dfi_pgwitness_size(w), dfi_journal_size(g_wf.f.j));
	}
	ck_assert_str_eq(rt_val(WF_DB, "SELECT size FROM dfissue.journals"), rt_val(WF_DB,
	    "SELECT max(size) FROM dfissue.checkpoints"));
	ck_assert_str_eq(rt_val(WF_DB, "SELECT count(*) FROM dfissue.witness_refusals"), "0");
	/* the records' lines, as the file has them, from memory and not */
	size_t flen;
	char *file = (char *)jt_read(g_wf.f.path, &flen), line[DFI_J_LINE_MAX + 1];
	uint64_t seq = 0;
	for (char *p = file, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		if (strncmp(p, "checkpoint ", 11) == 0)
			continue;
		size_t len;
		ck_assert_int_eq(dfi_pgwitness_line(w, seq, line, sizeof(line), &len), DFI_OK);
		ck_assert_uint_eq(len, (size_t)(nl - p));
		ck_assert_int_eq(memcmp(line, p, len), 0);
		seq++;
	}
	ck_assert_uint_eq(seq, dfi_journal_size(g_wf.f.j));
	ck_assert_int_eq(dfi_pgwitness_line(w, seq, line, sizeof(line), &flen), DFI_E_NOT_FOUND);
	jf_add(&g_wf.f, 1); /* appended since: read on demand */
	ck_assert_int_eq(dfi_pgwitness_line(w, seq, line, sizeof(line), &flen), DFI_OK);
	ck_assert_ptr_nonnull(strstr(line, "type=intent"));
	free(file);
	dfi_pgwitness_free(w);
	/* a station restarting on the same journal starts from the registry's size */
	jf_add(&g_wf.f, 5);
	ck_assert_int_eq(dfi_pgwitness_new(&w, g_wf.r, g_wf.f.dir, g_wf.f.pk, why, sizeof(why)), DFI_OK);
	ck_assert_uint_eq(dfi_pgwitness_size(w), dfi_journal_size(g_wf.f.j));
	dfi_pgwitness_free(w);
	/* another key: not this journal's */
	dfi_signer *o = jt_signer_new(DFI_SIG_ED25519);
	dfi_jpubkey *opk = jt_pubkey(o);
	ck_assert_int_ne(dfi_pgwitness_new(&w, g_wf.r, g_wf.f.dir, opk, why, sizeof(why)), DFI_OK);
	dfi_jpubkey_free(opk);
	dfi_signer_free(o);
}
END_TEST

START_TEST(rolled_back_and_forked_journals_refused)
{
	jf_add(&g_wf.f, 9);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/" DFI_JOURNAL_FILE, g_wf.f.dir);
	size_t blen;
	uint8_t *backup = jt_read(path, &blen); /* 10 records */
	jf_add(&g_wf.f, 10);
	dfi_pgwitness *w = NULL;
	ck_assert_int_eq(dfi_pgwitness_new(&w, g_wf.r, g_wf.f.dir, g_wf.f.pk, why, sizeof(why)), DFI_OK);
	ck_assert_uint_eq(dfi_pgwitness_size(w), 20);
	dfi_pgwitness_free(w);
	/* the backup comes back: behind what was witnessed */
	dfi_journal_close(g_wf.f.j);
	g_wf.f.j = NULL;
	ck_assert_int_eq(jt_write(path, backup, blen), 0);
	ck_assert_int_eq(jt_journal_reopen(&g_wf.f), 0);
	ck_assert_int_eq(dfi_pgwitness_new(&w, g_wf.r, g_wf.f.dir, g_wf.f.pk, why, sizeof(why)), DFI_E_REGISTRY_REFUSED);
	ck_assert_msg(strstr(why, "rolled back") != NULL, "%s", why);
	/* appended to (other cards) until it is longer than what was
	 * witnessed: still refused */
	jf_tag = 0xCD;
	jf_add(&g_wf.f, 15);
	jf_tag = 0xAB;
	ck_assert_int_eq(dfi_pgwitness_new(&w, g_wf.r, g_wf.f.dir, g_wf.f.pk, why, sizeof(why)), DFI_E_REGISTRY_REFUSED);
	ck_assert_msg(strstr(why, "does not extend") != NULL, "%s", why);
	ck_assert_str_eq(rt_val(WF_DB, "SELECT size FROM dfissue.journals"), "20");
	ck_assert_str_eq(rt_val(WF_DB, "SELECT count(*) FROM dfissue.witness_refusals"), "2");
	free(backup);
}
END_TEST

START_TEST(server_stopped_then_back)
{
	dfi_pgwitness *w = NULL;
	ck_assert_int_eq(dfi_pgwitness_new(&w, g_wf.r, g_wf.f.dir, g_wf.f.pk, why, sizeof(why)), DFI_OK);
	ck_assert_int_eq(dfi_pg_stop(&rt_pg), 0);
	jf_add(&g_wf.f, 2);
	long t0 = dfi_pg_now_ms();
	ck_assert_int_eq(dfi_pgwitness_sync(w, why, sizeof(why)), DFI_E_REGISTRY_UNREACHABLE);
	ck_assert_int_lt(dfi_pg_now_ms() - t0, 12000); /* within two deadlines (5 s each) */
	ck_assert_uint_eq(dfi_pgwitness_size(w), 1);
	ck_assert_int_eq(dfi_pg_start(&rt_pg), 0);
	ck_assert_msg(dfi_pgwitness_sync(w, why, sizeof(why)) == DFI_OK, "%s", why);
	ck_assert_uint_eq(dfi_pgwitness_size(w), 3);
	struct dfi_pgreg_stats st;
	dfi_pgreg_get_stats(g_wf.r, &st);
	ck_assert_uint_ge(st.connects, 2);
	ck_assert_uint_ge(st.failures, 1);
	dfi_pgwitness_free(w);
}
END_TEST

/* One station's witnessing, every call retried on failure (as the station
 * does): open, witness the new journal, then three rounds of growth. */
static void
witness_scenario(const char *url, struct jt_journal *f, unsigned *failures)
{
	struct dfi_pgreg_opts so = { .station = "st-cut", .timeout_ms = 5000, .max_conns = 2 };
	dfi_pgreg *r = NULL;
	dfi_pgwitness *w = NULL;
	int tries = 0;
	while (dfi_pgreg_open(&r, url, &so, why, sizeof(why)) != DFI_OK) {
		ck_assert_msg(++tries < 3, "open: %s", why);
		(*failures)++;
	}
	tries = 0;
	for (dfi_err e; (e = dfi_pgwitness_new(&w, r, f->dir, f->pk, why, sizeof(why))) != DFI_OK;) {
		ck_assert_msg(e == DFI_E_REGISTRY_UNREACHABLE && ++tries < 3, "witness_new: %s", why);
		(*failures)++;
	}
	for (int round = 0; round < 3; round++) {
		jf_add(f, 2);
		tries = 0;
		for (dfi_err e; (e = dfi_pgwitness_sync(w, why, sizeof(why))) != DFI_OK;) {
			ck_assert_msg(e == DFI_E_REGISTRY_UNREACHABLE && ++tries < 3, "sync: %s", why);
			(*failures)++;
		}
		ck_assert_uint_eq(dfi_pgwitness_size(w), dfi_journal_size(f->j));
	}
	dfi_pgwitness_free(w);
	dfi_pgreg_free(r);
}

/* One case of the sweep: a new journal witnessed with the connection cut
 * at round trip k; the registry then holds exactly the journal's head. */
static void
witness_case(const char *curl, uint64_t k, int after, unsigned *failures)
{
	char origin[64];
	struct jt_journal f;
	rt_cut_origin(origin, sizeof(origin), "cut.example", k, after);
	jf_open(&f, origin);
	witness_scenario(curl, &f, failures);
	rt_assert_witnessed("t_cut", origin, dfi_journal_size(f.j));
	jt_journal_close(&f);
}

START_TEST(witnessing_survives_a_cut_at_every_round_trip)
{
	/* DFI_SANITIZE builds cut every DFI_WCUT_STRIDE-th round trip */
	rt_cut_sweep("t_cut", "witnessing (every journal's head witnessed)", "DFI_WCUT_STRIDE", 8, witness_case);
}
END_TEST

/* ---- the SDM replay state (schema 5) --------------------------------------- */

struct seen_case {
	uint8_t uid;      /* last byte of a 7-byte UID */
	uint32_t ctr;
	int accepted;
	int64_t last;     /* the counter accepted before; -1: none */
};

START_TEST(sdm_counters_refuse_replays)
{
	char url[PATH_MAX + 160];
	dfi_pgreg *r = rt_registry("t_sdm", "st", url, sizeof(url));
	static const struct seen_case cases[] = {
		{ 1, 3, 1, -1 },       /* a new card */
		{ 1, 3, 0, 3 },        /* the same tap again: a replay */
		{ 1, 2, 0, 3 },        /* an older tap */
		{ 1, 5, 1, 3 },        /* a later one */
		{ 2, 0, 1, -1 },       /* another card, counter 0 */
		{ 2, 0xFFFFFF, 1, 0 }, /* the largest counter */
		{ 1, 4, 0, 5 },        /* card 1 unchanged by card 2 */
	};
	uint8_t uid[7] = { 0x04, 0xA0, 0x7A, 0x00, 0x00, 0x00, 0x00 };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int acc = -1;
		int64_t last = -2;
		uid[6] = cases[i].uid;
		ck_assert_int_eq(dfi_pgreg_sdm_seen(r, uid, sizeof(uid), cases[i].ctr, &acc, &last, why, sizeof(why)),
		    DFI_OK);
		ck_assert_msg(acc == cases[i].accepted && last == cases[i].last,
		    "case %zu: accepted %d last %lld, want %d %lld", i, acc, (long long)last, cases[i].accepted,
		    (long long)cases[i].last);
	}
	int acc;
	int64_t last;
	ck_assert_int_eq(dfi_pgreg_sdm_seen(r, uid, sizeof(uid), 0x1000000, &acc, &last, why, sizeof(why)),
	    DFI_E_INVALID_ARG);
	ck_assert_ptr_nonnull(strstr(why, "24 bits"));
	ck_assert_int_eq(dfi_pgreg_sdm_seen(r, uid, 3, 1, &acc, &last, why, sizeof(why)), DFI_E_INVALID_ARG);
	/* what the table holds: the last accepted counter per card */
	ck_assert_str_eq(rt_val("t_sdm", "SELECT string_agg(encode(uid, 'hex') || '=' || ctr, ',' ORDER BY uid) "
					 "FROM dfissue.sdm_counters"), "04a07a00000001=5,04a07a00000002=16777215");
	dfi_pgreg_free(r);
	rt_sql("postgres", "DROP DATABASE t_sdm WITH (FORCE)");
}
END_TEST

/* ---- migration 5 -> 6 (change records, profile digests) -------------------- */

/* A new database whose registry schema is at version (an older one), and
 * the init handle on it. */
static dfi_pgreg *
registry_at(const char *db, int version, char *url, size_t cap)
{
	rt_newdb(db, url, cap);
	struct dfi_pgreg_opts o = { .station = "init", .skip_schema_check = 1 };
	dfi_pgreg *r = NULL;
	int from = -1, to = -1;
	ck_assert_int_eq(dfi_pgreg_open(&r, url, &o, why, sizeof(why)), DFI_OK);
	ck_assert_msg(dfi_pgreg_migrate(r, version, &from, &to, why, sizeof(why)) == DFI_OK, "%s", why);
	ck_assert_int_eq(to, version);
	return r;
}

/* A schema-5 registry that stations of version 5 told records (through
 * version 5's SQL functions: a committed key change, an open one) is
 * migrated to 6: what it held is kept and answered with version 6's
 * columns; the open intent is closed by an outcome told through version 6's
 * functions; change records and profile digests are taken, held only under
 * the claim, late ones by schema 4's rules. */
START_TEST(migration_5_to_6_keeps_what_it_held)
{
	char url[PATH_MAX + 160];
	int from = -1, to = -1;
	dfi_pgreg *r = registry_at("t_mig6", 5, url, sizeof(url));
	/* U = 04aabbccddeeff: key 0 committed (seq 1, 2), key 1 open (seq 3) */
	rt_sql("t_mig6", "SELECT dfissue.journaled('o5', 'st5', '{1,2,3}', '{intent,commit,intent}', "
			 "ARRAY[decode('04aabbccddeeff', 'hex'), NULL, decode('04aabbccddeeff', 'hex')], '{0,NULL,0}', "
			 "'{0,NULL,1}', '{0,NULL,0}', '{1,NULL,1}', '{1,NULL,1}', '{NULL,1,NULL}', '{NULL,NULL,NULL}', "
			 "'{l1,l2,l3}')");
	ck_assert_msg(dfi_pgreg_migrate(r, 6, &from, &to, why, sizeof(why)) == DFI_OK, "%s", why);
	ck_assert_int_eq(from, 5);
	ck_assert_int_eq(to, 6);
	ck_assert_str_eq(rt_val("t_mig6", "SELECT count(*) FROM dfissue.records"), "3");
	ck_assert_str_eq(rt_val("t_mig6", "SELECT string_agg(keyno || ':' || state || '/' || version || '/' || "
					  "coalesce(profile::text, '-'), ',' ORDER BY keyno) FROM dfissue.slots"),
	    "0:2/1/-,1:0/-1/-");
	ck_assert_str_eq(rt_val("t_mig6", "SELECT string_agg(origin || ':' || seq, ',') FROM dfissue.open_intents()"),
	    "o5:3");
	/* lookup(), version 6's columns: card, 2 slots, the open intent; no digest */
	ck_assert_str_eq(rt_val("t_mig6", "SELECT count(*) || ' ' || count(h) FROM dfissue.lookup("
					  "decode('04aabbccddeeff', 'hex'), 'o5')"), "4 0");
	/* version 6's functions: the open intent resolved (new), a key intent
	 * with a profile digest committed, an LRP change left open */
	rt_sql("t_mig6", "SELECT dfissue.journaled('o5', 'st6', '{4,5,6,7}', '{resolve,intent,commit,change}', "
			 "ARRAY[NULL, decode('04aabbccddeeff', 'hex'), NULL, decode('04aabbccddeeff', 'hex')], "
			 "'{NULL,0,NULL,0}', '{NULL,2,NULL,NULL}', '{NULL,0,NULL,NULL}', '{NULL,1,NULL,NULL}', "
			 "'{NULL,1,NULL,NULL}', '{3,NULL,5,NULL}', '{new,NULL,NULL,NULL}', '{NULL,NULL,NULL,lrp}', "
			 "ARRAY[NULL, decode('00112233445566778899aabbccddeeff', 'hex'), NULL, NULL], '{l4,l5,l6,l7}')");
	ck_assert_str_eq(rt_val("t_mig6", "SELECT string_agg(keyno || ':' || state || '/' || version || '/' || "
					  "coalesce(profile::text, '-'), ',' ORDER BY keyno) FROM dfissue.slots"),
	    "0:2/1/-,1:2/1/-,2:2/1/\\x00112233445566778899aabbccddeeff");
	ck_assert_str_eq(rt_val("t_mig6", "SELECT string_agg(origin || ':' || seq, ',') FROM dfissue.open_intents()"),
	    "o5:7");
	ck_assert_str_eq(rt_val("t_mig6", "SELECT what || ' ' || (keyno IS NULL)::text FROM dfissue.intents WHERE seq = 7"),
	    "lrp true");
	/* the change's outcome: nothing open, no key slot moved */
	rt_sql("t_mig6", "SELECT dfissue.journaled('o5', 'st6', '{8}', '{abort}', '{NULL}', '{NULL}', '{NULL}', '{NULL}', "
			 "'{NULL}', '{NULL}', '{7}', '{NULL}', '{NULL}', '{NULL}', '{l8}')");
	ck_assert_str_eq(rt_val("t_mig6", "SELECT count(*) FROM dfissue.open_intents()"), "0");
	ck_assert_str_eq(rt_val("t_mig6", "SELECT count(*) FROM dfissue.slots WHERE state = 2"), "3");
	/* changes told late (without the claim, schema 4's rules on what): the
	 * same change another journal had is closed on arrival by it; a change
	 * nobody else had stays open, and a held one of another journal closes
	 * it */
#define RT_CHANGE(origin, seq, what) \
	"'" origin "', 'st', '{" seq "}', '{change}', ARRAY[decode('04aabbccddeeff', 'hex')], '{0}', '{NULL}', " \
	"'{NULL}', '{NULL}', '{NULL}', '{NULL}', '{NULL}', '{\"" what "\"}', '{NULL}', '{m" seq "}'"
	rt_sql("t_mig6", "SELECT dfissue.journaled(" RT_CHANGE("o6", "1", "lrp") ")");
	rt_sql("t_mig6", "SELECT dfissue.journaled(" RT_CHANGE("o6", "2", "sdm:file=01") ")");
	ck_assert_str_eq(rt_val("t_mig6", "SELECT string_agg(seq || ' ' || held::text || ' ' || open::text || ' ' || "
					  "coalesce(closed_by_origin || ':' || closed_by_seq, '-'), ',' ORDER BY seq) FROM "
					  "dfissue.records JOIN dfissue.intents USING (origin, seq) WHERE origin = 'o6'"),
	    "1 false false o5:7,2 false true -");
	PGconn *c = PQconnectdb(url);
	ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
	/* held: only under the card's claim */
	PGresult *q = PQexec(c, "SELECT dfissue.journaled_held('tok', 60000, " RT_CHANGE("o7", "1", "sdm:file=01") ")");
	ck_assert_int_eq(PQresultStatus(q), PGRES_FATAL_ERROR);
	ck_assert_ptr_nonnull(strstr(PQresultErrorMessage(q), "claim lost"));
	PQclear(q);
	rt_sql("t_mig6", "SELECT dfissue.claim(decode('04aabbccddeeff', 'hex'), 'h', 'tok', 'st7', 60000)");
	rt_sql("t_mig6", "SELECT dfissue.journaled_held('tok', 60000, " RT_CHANGE("o7", "1", "sdm:file=01") ")");
	ck_assert_str_eq(rt_val("t_mig6", "SELECT string_agg(origin || ':' || seq, ',') FROM dfissue.open_intents()"),
	    "o7:1");
	ck_assert_str_eq(rt_val("t_mig6", "SELECT held::text FROM dfissue.records WHERE origin = 'o7'"), "true");
#undef RT_CHANGE
	/* an outcome of an intent never told is still refused */
	q = PQexec(c, "SELECT dfissue.journaled('o5', 'st6', '{9}', '{commit}', '{NULL}', '{NULL}', '{NULL}', "
		      "'{NULL}', '{NULL}', '{NULL}', '{99}', '{NULL}', '{NULL}', '{NULL}', '{l9}')");
	ck_assert_int_eq(PQresultStatus(q), PGRES_FATAL_ERROR);
	ck_assert_ptr_nonnull(strstr(PQresultErrorMessage(q), "never told"));
	PQclear(q);
	PQfinish(c);
	dfi_pgreg_free(r);
	rt_sql("postgres", "DROP DATABASE t_mig6 WITH (FORCE)");
}
END_TEST

/* ---- migration 6 -> 7 (claims know their journal's origin) ------------------ */

/* claim_lookup's answer: "t" when taken, else "f <holder>". */
#define RT_CLAIM(db, uid, holder, token, origin) \
	rt_val(db, "SELECT f || coalesce(' ' || CASE WHEN f = 'f' THEN g END, '') FROM dfissue.claim_lookup(decode('" uid \
	    "', 'hex'), '" holder "', '" token "', 'st', 60000, '" origin "') WHERE kind = 'claim'")

/* A schema-6 registry with a live claim (60 s lease) is migrated to 7: the
 * claim is kept (no origin: nobody succeeds it); then a claim of journal
 * o1 is taken over at once by another process of o1 (the same journal:
 * the holder is dead), with the intent held under it, while another
 * journal's process, or one without a journal, is refused as before; the
 * dead process's token can no longer tell an intent. */
START_TEST(migration_6_to_7_claims_follow_their_journal)
{
	char url[PATH_MAX + 160];
	int from = -1, to = -1;
	dfi_pgreg *r = registry_at("t_mig7", 6, url, sizeof(url));
	ck_assert_str_eq(rt_val("t_mig7", "SELECT f FROM dfissue.claim_lookup(decode('04aa000000000a', 'hex'), 'h6', "
					  "'tok6', 'st', 60000, 'o1') WHERE kind = 'claim'"), "t");
	ck_assert_msg(dfi_pgreg_migrate(r, 0, &from, &to, why, sizeof(why)) == DFI_OK, "%s", why);
	ck_assert_int_eq(from, 6);
	ck_assert_int_eq(to, 7);
	/* version 6's claim: kept, no origin, so not even o1 takes it */
	ck_assert_str_eq(rt_val("t_mig7", "SELECT holder || ' ' || coalesce(origin, '-') FROM dfissue.claims"), "h6 -");
	ck_assert_str_eq(RT_CLAIM("t_mig7", "04aa000000000a", "h7", "tok7", "o1"), "f h6");
	/* o1's process A claims and holds an intent; it dies (nothing
	 * released); B on another journal is refused, so is a process without
	 * one; A' on o1 takes it at once */
	ck_assert_str_eq(RT_CLAIM("t_mig7", "04bb000000000b", "a/r1", "tokA", "o1"), "t");
	rt_sql("t_mig7", "SELECT dfissue.journaled_held('tokA', 60000, 'o1', 'st', '{1}', '{intent}', "
			 "ARRAY[decode('04bb000000000b', 'hex')], '{0}', '{0}', '{0}', '{1}', '{1}', '{NULL}', '{NULL}', "
			 "'{NULL}', '{NULL}', '{l1}')");
	ck_assert_str_eq(RT_CLAIM("t_mig7", "04bb000000000b", "b/r1", "tokB", "o2"), "f a/r1");
	ck_assert_str_eq(RT_CLAIM("t_mig7", "04bb000000000b", "inspect", "tokI", ""), "f a/r1");
	ck_assert_str_eq(RT_CLAIM("t_mig7", "04bb000000000b", "a/r2", "tokA2", "o1"), "t");
	ck_assert_str_eq(rt_val("t_mig7", "SELECT token || ' ' || origin || ' ' || (expires_at > clock_timestamp() + "
					  "interval '50 seconds')::text FROM dfissue.claims WHERE uid = '\\x04bb000000000b'"),
	    "tokA2 o1 true");
	/* the intent A held is A''s now: open, seen by its lookup as its own
	 * journal's, closed by A''s outcome */
	ck_assert_str_eq(rt_val("t_mig7", "SELECT count(*) FROM dfissue.lookup(decode('04bb000000000b', 'hex'), 'o1') "
					  "WHERE kind = 'intent' AND f = 'o1'"), "1");
	PGconn *c = PQconnectdb(url);
	ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
	PGresult *q = PQexec(c, "SELECT dfissue.journaled_held('tokA', 60000, 'o1', 'st', '{2}', '{intent}', "
				"ARRAY[decode('04bb000000000b', 'hex')], '{0}', '{1}', '{0}', '{1}', '{1}', '{NULL}', '{NULL}', "
				"'{NULL}', '{NULL}', '{l2}')");
	ck_assert_int_eq(PQresultStatus(q), PGRES_FATAL_ERROR);
	ck_assert_ptr_nonnull(strstr(PQresultErrorMessage(q), "claim lost"));
	PQclear(q);
	PQfinish(c);
	rt_sql("t_mig7", "SELECT dfissue.journaled_release(decode('04bb000000000b', 'hex'), 'tokA2', 'o1', 'st', '{3}', "
			 "'{commit}', '{NULL}', '{NULL}', '{NULL}', '{NULL}', '{NULL}', '{NULL}', '{1}', '{NULL}', '{NULL}', "
			 "'{NULL}', '{l3}')");
	ck_assert_str_eq(rt_val("t_mig7", "SELECT count(*) FROM dfissue.open_intents()"), "0");
	ck_assert_str_eq(rt_val("t_mig7", "SELECT count(*) FROM dfissue.claims WHERE uid = '\\x04bb000000000b'"), "0");
	dfi_pgreg_free(r);
	rt_sql("postgres", "DROP DATABASE t_mig7 WITH (FORCE)");
}
END_TEST
#undef RT_CLAIM

int
main(void)
{
	const struct dfi_test_group witness[] = {
		{ "witness", wf_open, wf_close,
		    (const TTest *[]){ witness_every_outcome, station_witnesses_its_growing_journal,
			rolled_back_and_forked_journals_refused, server_stopped_then_back, NULL } },
		{ NULL, NULL, NULL, NULL },
	};
	return dfi_test_main("registry_pg", &(struct dfi_test_case){ .timeout = 120, .run = rt_main, .groups = witness },
	    (const TTest *[]){ url_without_password_only, schema_created_migrated_and_checked,
		concurrent_inits_apply_each_migration_once, roles_get_only_what_they_need,
		sql_consistency_check_agrees_with_c, witnessing_survives_a_cut_at_every_round_trip,
		sdm_counters_refuse_replays, migration_5_to_6_keeps_what_it_held,
		migration_6_to_7_claims_follow_their_journal, NULL });
}
