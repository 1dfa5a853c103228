/* The registry's host names resolved within the call's deadline and
 * abandonably (engine/registry/pg_resolve.c), not by libpq, which looks a
 * name up synchronously for as long as the resolver takes. The names are
 * answered by gaishim (linked in: real DNS cannot be made to hang without
 * changing the machine's configuration); the server is the fixture's,
 * reached over TCP through a pgcut proxy on 127.0.0.1 (the fixture
 * listens on its Unix socket only). */
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <time.h>

#include "gaishim.h"
#include "regtest.h"
#include "testutil.h"

#define TIMEOUT_MS 1000
#define HANG_MS 3000
/* what a failed call may take past its deadline: the wake-up and a
 * connection's teardown, on a loaded 2-core machine */
#define MARGIN_MS 250
#define ABANDON_MS 200

static void
nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* One test's registry: a fresh database behind a TCP proxy to the cluster
 * (the fixture listens on its Unix socket only), the hosts of the last
 * URL opened, and that open's handle, reason and time. */
struct rcase {
	const char *db;
	struct pgcut *x; /* NULL: the database postgres, no proxy */
	int port;
	char hosts[160], w[600];
	dfi_pgreg *r;
	long ms;
};

/* The shim's names answering at once; db NULL: no database of its own. */
static void
rcase_start(struct rcase *t, const char *db)
{
	memset(t, 0, sizeof(*t));
	gaishim_set(HANG_MS, 0);
	t->db = db != NULL ? db : "postgres";
	if (db == NULL)
		return;
	char url[PATH_MAX + 160], target[PATH_MAX + 32];
	rt_newdb(db, url, sizeof(url));
	snprintf(target, sizeof(target), "%s/.s.PGSQL.5432", rt_pg.sock);
	ck_assert_int_eq(pgcut_start_tcp(&t->x, target, &t->port), 0);
}

/* Opens the registry at postgresql://USER@HOSTS/db, HOSTS ("name:port,...")
 * made from fmt, no schema needed, with a deadline of timeout_ms. */
static dfi_err __attribute__((format(printf, 3, 4)))
rcase_open(struct rcase *t, int timeout_ms, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->hosts, sizeof(t->hosts), fmt, ap);
	va_end(ap);
	char url[512];
	snprintf(url, sizeof(url), "postgresql://%s@%s/%s", rt_pg.user, t->hosts, t->db);
	struct dfi_pgreg_opts o = { .station = "resolve", .timeout_ms = timeout_ms, .skip_schema_check = 1 };
	t->r = NULL;
	long t0 = dfi_pg_now_ms();
	dfi_err e = dfi_pgreg_open(&t->r, url, &o, t->w, sizeof(t->w));
	t->ms = dfi_pg_now_ms() - t0;
	return e;
}

/* localhost is looked up once, on a resolver thread, and libpq is given
 * its address: the connection is made over TCP (through the proxy). An IP
 * literal is not looked up at all. */
START_TEST(a_name_that_resolves_connects_over_tcp)
{
	struct rcase t;
	rcase_start(&t, "t_res_name");
	uint64_t c0 = pgcut_seen(t.x, NULL);
	ck_assert_msg(rcase_open(&t, TIMEOUT_MS, "localhost:%d", t.port) == DFI_OK, "%s", t.w);
	int v = -1;
	ck_assert_msg(dfi_pgreg_schema_version(t.r, &v, t.w, sizeof(t.w)) == DFI_OK, "%s", t.w);
	ck_assert_int_eq(v, 0);
	dfi_pgreg_free(t.r);
	ck_assert_uint_ge(pgcut_seen(t.x, NULL) - c0, 2); /* the set-up and the query, over TCP */
	unsigned on_main = 1;
	ck_assert_uint_eq(gaishim_calls("localhost", &on_main), 1);
	ck_assert_uint_eq(on_main, 0); /* neither the caller nor libpq looked it up */
	printf("resolve: %s connected over TCP in %ld ms\n", t.hosts, t.ms);

	ck_assert_msg(rcase_open(&t, TIMEOUT_MS, "127.0.0.1:%d", t.port) == DFI_OK, "%s", t.w);
	dfi_pgreg_free(t.r);
	ck_assert_uint_eq(gaishim_calls("localhost", NULL), 1);
	pgcut_stop(t.x);
}
END_TEST

/* Several hosts and a name with several addresses: libpq's failover is
 * kept (each address tried in order), the ports follow their hosts, and a
 * host that does not resolve is left out, then named if no other host
 * answers. */
START_TEST(several_hosts_and_addresses_keep_failover)
{
	struct rcase t;
	rcase_start(&t, "t_res_multi");
	/* nx: left out; multi:1 refused at both addresses; multi:PORT refused
	 * at 127.0.0.2 (the proxy listens on 127.0.0.1 only), taken at
	 * 127.0.0.1 */
	uint64_t c0 = pgcut_seen(t.x, NULL);
	ck_assert_msg(rcase_open(&t, TIMEOUT_MS, GAISHIM_NX ":%d," GAISHIM_MULTI ":1," GAISHIM_MULTI ":%d", t.port,
			  t.port) == DFI_OK, "%s", t.w);
	dfi_pgreg_free(t.r);
	ck_assert_uint_ge(pgcut_seen(t.x, NULL) - c0, 1);
	ck_assert_uint_eq(gaishim_calls(GAISHIM_MULTI, NULL), 2);
	printf("resolve: %s connected in %ld ms\n", t.hosts, t.ms);

	ck_assert_int_eq(rcase_open(&t, TIMEOUT_MS, GAISHIM_NX ":%d," GAISHIM_MULTI ":1", t.port),
	    DFI_E_REGISTRY_UNREACHABLE);
	ck_assert_msg(strncmp(t.w, "cannot connect to the registry: ", 32) == 0, "%s", t.w);
	/* libpq names the addresses, tried in order; the message names the
	 * host they are of, and the host left out */
	const char *a2 = strstr(t.w, "\"127.0.0.2\", port 1 failed"), *a1 = strstr(t.w, "\"127.0.0.1\", port 1 failed");
	ck_assert_msg(a2 != NULL && a1 != NULL && a2 < a1, "%s", t.w);
	char want[200];
	snprintf(want, sizeof(want), "('" GAISHIM_MULTI "' is 127.0.0.2, 127.0.0.1; the registry host '" GAISHIM_NX
	    "' does not resolve: %s)", gai_strerror(EAI_NONAME));
	ck_assert_msg(strstr(t.w, want) != NULL, "%s", t.w);
	printf("resolve: %s\n", t.w);
	pgcut_stop(t.x);
}
END_TEST

/* A name no resolver knows: the error names it and the resolver's words,
 * at once. */
START_TEST(a_name_that_does_not_resolve_says_so)
{
	struct rcase t;
	char want[200];
	rcase_start(&t, NULL);
	ck_assert_int_eq(rcase_open(&t, TIMEOUT_MS, GAISHIM_NX ":5432"), DFI_E_REGISTRY_UNREACHABLE);
	snprintf(want, sizeof(want), "the registry host '" GAISHIM_NX "' does not resolve: %s", gai_strerror(EAI_NONAME));
	ck_assert_str_eq(t.w, want);
	ck_assert_int_le(t.ms, MARGIN_MS);
	printf("resolve: %s (%ld ms)\n", t.w, t.ms);
}
END_TEST

/* A name whose lookup hangs (HANG_MS): the connection fails at its
 * deadline, naming the host. libpq alone waits for the whole lookup: the
 * wait this bounds (and proof that gaishim answers libpq too). */
START_TEST(a_hanging_name_fails_at_the_deadline)
{
	struct rcase t;
	rcase_start(&t, NULL);
	dfi_err e = rcase_open(&t, TIMEOUT_MS, GAISHIM_HANG ":5432");
	printf("resolve: a hanging name failed in %ld ms (deadline %d ms): %s\n", t.ms, TIMEOUT_MS, t.w);
	fflush(stdout); /* before an assertion ends the test */
	ck_assert_int_eq(e, DFI_E_REGISTRY_UNREACHABLE);
	ck_assert_str_eq(t.w, "the registry host '" GAISHIM_HANG "' did not resolve within 1000 ms");
	ck_assert_int_ge(t.ms, TIMEOUT_MS);
	ck_assert_int_le(t.ms, TIMEOUT_MS + MARGIN_MS);
	unsigned on_main = 1;
	ck_assert_uint_eq(gaishim_calls(GAISHIM_HANG, &on_main), 1);
	ck_assert_uint_eq(on_main, 0);

	long t0 = dfi_pg_now_ms();
	PGconn *c = PQconnectdb("host=" GAISHIM_HANG " port=5432 dbname=postgres connect_timeout=1");
	long raw = dfi_pg_now_ms() - t0;
	ck_assert_int_ne(PQstatus(c), CONNECTION_OK);
	PQfinish(c);
	ck_assert_uint_eq(gaishim_calls(GAISHIM_HANG, &on_main), 2);
	ck_assert_uint_eq(on_main, 1);
	ck_assert_int_ge(raw, HANG_MS);
	printf("resolve: libpq alone (connect_timeout=1) took %ld ms\n", raw);
}
END_TEST

struct inflight {
	dfi_pgreg *r;
	pthread_t th;
	dfi_err e;
	char why[600];
	atomic_long done_ms;
};

static void *
inflight_main(void *arg)
{
	struct inflight *x = arg;
	int v;
	x->e = dfi_pgreg_schema_version(x->r, &v, x->why, sizeof(x->why));
	atomic_store(&x->done_ms, dfi_pg_now_ms());
	return NULL;
}

/* A handle whose connection broke (its server process terminated) while
 * its host's lookups started to hang: the call's retry connects again and
 * waits for the lookup; abandoned, it returns at once. */
START_TEST(abandon_ends_a_hanging_lookup)
{
	struct rcase t;
	rcase_start(&t, "t_res_abandon");
	ck_assert_msg(rcase_open(&t, 5000, GAISHIM_FLIP ":%d", t.port) == DFI_OK, "%s", t.w);
	ck_assert_uint_eq(gaishim_calls(GAISHIM_FLIP, NULL), 1);
	rt_sql("postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 't_res_abandon'");
	nap_ms(100); /* the server process gone: the idle connection is broken */
	gaishim_set(HANG_MS, 1);
	struct inflight a = { .r = t.r };
	ck_assert_int_eq(pthread_create(&a.th, NULL, inflight_main, &a), 0);
	nap_ms(300);
	int waiting = atomic_load(&a.done_ms) == 0 && gaishim_calls(GAISHIM_FLIP, NULL) == 2;
	long t0 = dfi_pg_now_ms();
	dfi_pgreg_abandon(t.r);
	pthread_join(a.th, NULL);
	long took = a.done_ms - t0;
	dfi_pgreg_free(t.r);
	pgcut_stop(t.x);
	printf("resolve: opened in %ld ms; a call waiting for a hanging lookup returned %ld ms after the abandon: %s\n",
	    t.ms, took, a.why);
	fflush(stdout);
	ck_assert_msg(waiting, "the call was not waiting for the lookup when abandoned (%s)", a.why);
	ck_assert_int_eq(a.e, DFI_E_REGISTRY_ABANDONED);
	ck_assert_str_eq(a.why, "this call was not sent");
	ck_assert_int_le(took, ABANDON_MS);
}
END_TEST

int
main(void)
{
	return dfi_test_main("registry_resolve", &(struct dfi_test_case){ .timeout = 60, .run = rt_main },
	    (const TTest *[]){ a_name_that_resolves_connects_over_tcp, several_hosts_and_addresses_keep_failover,
		a_name_that_does_not_resolve_says_so, a_hanging_name_fails_at_the_deadline,
		abandon_ends_a_hanging_lookup, NULL });
}
