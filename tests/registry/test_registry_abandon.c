/* Abandoning the registry (dfi_registry_abandon, dfi_pgreg_abandon) while
 * its server is frozen (the private cluster SIGSTOPped, as a host that
 * stops answering): every call in flight returns within ABANDON_MS with
 * DFI_E_REGISTRY_ABANDONED, a connection being made included; no call is
 * sent after it; the close waits for neither the queued release nor the
 * witness. Thawed, the journal's next open tells the registry the records
 * it missed (reconciliation) and takes the abandoned claim over at once. */
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <time.h>

#include "jtest.h"
#include "regtest.h"
#include "testutil.h"

#include "dfissue/registry.h"

/* The brief's bound for a call in flight once abandoned; the cluster
 * frozen, each such call would otherwise wait its 5 s deadline (twice when
 * it is retried). */
#define ABANDON_MS 200
#define TIMEOUT_MS 5000

static const uint8_t U1[7] = { 0x04, 0xAB, 0x00, 0x00, 0x00, 0x00, 0x01 };
#define U1HEX "04AB0000000001"

static void
nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* One call made on a thread of its own, so that the test can abandon the
 * registry while the call waits for the frozen server. */
struct inflight {
	dfi_registry *reg;   /* rec told to it, or a lookup of uid on it; or */
	dfi_pgreg *pg;       /* a schema-version query on it */
	const dfi_jrec *rec;
	const uint8_t *uid;
	pthread_t th;
	dfi_err e;           /* read after the join */
	atomic_long done_ms; /* when it returned (0: not yet) */
};

static void *
inflight_main(void *arg)
{
	struct inflight *x = arg;
	char w[600];
	int v;
	struct dfi_reg_card c;
	dfi_err e = x->rec != NULL ? dfi_registry_journaled(x->reg, x->rec, 1) :
	    x->reg != NULL ? dfi_registry_lookup(x->reg, x->uid, 7, &c, NULL) :
	    dfi_pgreg_schema_version(x->pg, &v, w, sizeof(w));
	x->e = e;
	atomic_store(&x->done_ms, dfi_pg_now_ms());
	return NULL;
}

static void
inflight_start(struct inflight *x)
{
	ck_assert_int_eq(pthread_create(&x->th, NULL, inflight_main, x), 0);
}

static long
inflight_done(struct inflight *x)
{
	return atomic_load(&x->done_ms);
}

static void
inflight_join(struct inflight *x)
{
	pthread_join(x->th, NULL);
}

/* Thaws the cluster first (a failed assertion must not leave it frozen),
 * then checks that the calls x and y were both still waiting when the
 * registry was abandoned at t0 and returned within ABANDON_MS of it,
 * abandoned. */
static void
thaw_and_check(const struct inflight *x, const struct inflight *y, int waiting, long t0)
{
	ck_assert_int_eq(dfi_pg_signal_all(&rt_pg, SIGCONT), 0);
	ck_assert_msg(waiting, "a call returned before the registry was abandoned: the server was not frozen");
	ck_assert_int_eq(x->e, DFI_E_REGISTRY_ABANDONED);
	ck_assert_int_eq(y->e, DFI_E_REGISTRY_ABANDONED);
	ck_assert_int_le(x->done_ms - t0, ABANDON_MS);
	ck_assert_int_le(y->done_ms - t0, ABANDON_MS);
}

/* Two calls on a pool holding one idle connection: the first takes it, the
 * second connects; the server frozen, both wait. Abandoned: both return at
 * once, and the next call is not even sent. */
START_TEST(calls_and_a_connection_in_flight_return_at_once)
{
	char url[PATH_MAX + 160], w[600];
	dfi_pgreg_free(rt_registry("t_abandon_pool", "init", url, sizeof(url)));
	struct dfi_pgreg_opts o = { .station = "pool", .timeout_ms = TIMEOUT_MS, .max_conns = 2 };
	dfi_pgreg *pg = NULL;
	ck_assert_msg(dfi_pgreg_open(&pg, url, &o, w, sizeof(w)) == DFI_OK, "%s", w);
	struct inflight a = { .pg = pg }, b = { .pg = pg };
	ck_assert_int_eq(dfi_pg_signal_all(&rt_pg, SIGSTOP), 0);
	inflight_start(&a);
	nap_ms(100); /* a has the idle connection: b connects */
	inflight_start(&b);
	nap_ms(300);
	int waiting = inflight_done(&a) == 0 && inflight_done(&b) == 0;
	struct dfi_pgreg_stats s0, s1;
	dfi_pgreg_get_stats(pg, &s0);
	long t0 = dfi_pg_now_ms();
	dfi_pgreg_abandon(pg);
	dfi_pgreg_abandon(pg); /* twice is once */
	inflight_join(&a);
	inflight_join(&b);
	int v = -1;
	long t1 = dfi_pg_now_ms();
	dfi_err late = dfi_pgreg_schema_version(pg, &v, w, sizeof(w));
	long t2 = dfi_pg_now_ms();
	dfi_pgreg_get_stats(pg, &s1);
	thaw_and_check(&a, &b, waiting, t0);
	ck_assert_int_eq(s0.connects, 1); /* b's connection was being made */
	ck_assert_int_eq(late, DFI_E_REGISTRY_ABANDONED);
	ck_assert_str_eq(w, "this call was not sent");
	ck_assert_int_le(t2 - t1, 10);
	/* a's round trip ended (failed); b never connected; none sent after */
	ck_assert_uint_eq(s1.connects, s0.connects);
	ck_assert_uint_eq(s1.calls, s0.calls + 1);
	ck_assert_uint_eq(s1.failures, s0.failures + 1);
	printf("abandon: 2 calls in flight (one connecting) returned in %ld and %ld ms; the next failed in %ld ms, "
	       "not sent\n", a.done_ms - t0, b.done_ms - t0, t2 - t1);
	dfi_pgreg_free(pg);
}
END_TEST

/* A station's handle: a held intent's tell in flight and a release queued
 * when the server freezes. Abandoned: the tell returns at once, the close
 * at once (the release is not sent: the card stays claimed). Thawed, the
 * journal's next open tells the registry what it missed and takes the
 * claim over. */
START_TEST(a_station_abandoned_closes_at_once_and_reconciles_later)
{
	char url[PATH_MAX + 160], w[600];
	dfi_pgreg_free(rt_registry("t_abandon", "init", url, sizeof(url)));
	struct jt_journal f;
	ck_assert_int_eq(jt_journal_open(&f, "abandon.example/a", DFI_SIG_ED25519), 0);
	struct dfi_pgreg_opts o = { .station = "station-a", .timeout_ms = TIMEOUT_MS, .max_conns = 2 };
	dfi_pgreg *pg = NULL;
	dfi_registry *reg = NULL;
	ck_assert_msg(dfi_pgreg_open(&pg, url, &o, w, sizeof(w)) == DFI_OK, "%s", w);
	ck_assert_msg(dfi_registry_new_pg(&reg, pg, f.j, f.dir, f.pk, w, sizeof(w)) == DFI_OK, "%s", w);
	dfi_reg_claim *c = NULL;
	ck_assert_int_eq(dfi_registry_claim(reg, U1, 7, "station-a/r1", 0, &c, NULL, 0), DFI_OK);
	dfi_jrec in = jt_intent(U1HEX, 0, 0, 0, 1), cm, in2 = jt_intent(U1HEX, 0, 1, 0, 1);
	uint64_t seq;
	ck_assert_int_eq(dfi_journal_append(f.j, &in, 1, &seq), DFI_OK);
	in.seq = seq;
	ck_assert_int_eq(dfi_registry_journaled(reg, &in, 1), DFI_OK);
	/* the card answered: its commit is durable, deferred to go with the
	 * card's next intent (no round trip) */
	ck_assert_int_eq(dfi_jrec_outcome(&cm, DFI_JREC_COMMIT, in.seq, NULL, -1, 0), DFI_OK);
	ck_assert_int_eq(dfi_journal_append(f.j, &cm, 1, &seq), DFI_OK);
	cm.seq = seq;
	ck_assert_int_eq(dfi_registry_journaled(reg, &cm, 1), DFI_OK);
	ck_assert_int_eq(dfi_journal_append(f.j, &in2, 1, &seq), DFI_OK);
	in2.seq = seq;

	ck_assert_int_eq(dfi_pg_signal_all(&rt_pg, SIGSTOP), 0);
	/* the next intent's tell (the commit with it) waits for the frozen
	 * server on one thread; a lookup of another card on another */
	static const uint8_t U2[7] = { 0x04, 0xAB, 0x00, 0x00, 0x00, 0x00, 0x02 };
	struct inflight tl = { .reg = reg, .rec = &in2 }, look = { .reg = reg, .uid = U2 };
	long t_tell = dfi_pg_now_ms();
	inflight_start(&tl);
	inflight_start(&look);
	nap_ms(300);
	int waiting = inflight_done(&look) == 0 && inflight_done(&tl) == 0;
	long t0 = dfi_pg_now_ms();
	dfi_registry_abandon(reg);
	inflight_join(&tl);
	inflight_join(&look);
	/* the release goes to the release thread, a witnessing to the witness
	 * thread (a request: its failure comes later); the close waits for
	 * neither */
	dfi_registry_release(c);
	uint8_t note[DFI_J_NOTE_MAX];
	size_t nl;
	ck_assert_int_eq(dfi_journal_checkpoint(f.j, note, sizeof(note), &nl), DFI_OK);
	dfi_err we = dfi_registry_witness_async(reg, note, nl);
	long t1 = dfi_pg_now_ms();
	dfi_err ce = dfi_registry_close(reg, w, sizeof(w));
	long t2 = dfi_pg_now_ms();
	dfi_pgreg_free(pg);
	thaw_and_check(&tl, &look, waiting, t0);
	ck_assert_int_eq(we, DFI_OK);
	ck_assert_int_eq(ce, DFI_E_REGISTRY_ABANDONED);
	ck_assert_msg(strstr(w, "releasing a card's claim failed") != NULL, "%s", w);
	ck_assert_int_le(t2 - t1, ABANDON_MS);
	printf("abandon: a station's tell and lookup in flight returned in %ld and %ld ms (waited %ld ms before), "
	       "its close in %ld ms: %s\n", tl.done_ms - t0, look.done_ms - t0, t0 - t_tell, t2 - t1, w);

	/* thawed: the registry has the intent, not its commit nor in2 */
	ck_assert_str_eq(rt_val("t_abandon", "SELECT count(*) FROM dfissue.intents WHERE open"), "1");
	ck_assert_str_eq(rt_val("t_abandon", "SELECT count(*) FROM dfissue.claims"), "1");
	/* the journal's next open: reconciled, and the claim taken over */
	ck_assert_msg(dfi_pgreg_open(&pg, url, &o, w, sizeof(w)) == DFI_OK, "%s", w);
	ck_assert_msg(dfi_registry_new_pg(&reg, pg, f.j, f.dir, f.pk, w, sizeof(w)) == DFI_OK, "%s", w);
	ck_assert_str_eq(rt_val("t_abandon", "SELECT count(*) FROM dfissue.intents WHERE NOT open"), "1");
	ck_assert_str_eq(rt_val("t_abandon", "SELECT count(*) FROM dfissue.intents WHERE open"), "1"); /* in2 */
	ck_assert_int_eq(dfi_registry_claim(reg, U1, 7, "station-a/r1", 0, &c, NULL, 0), DFI_OK);
	dfi_registry_release(c);
	ck_assert_int_eq(dfi_registry_close(reg, w, sizeof(w)), DFI_OK);
	ck_assert_str_eq(rt_val("t_abandon", "SELECT count(*) FROM dfissue.claims"), "0");
	dfi_pgreg_free(pg);
	jt_journal_close(&f);
}
END_TEST

int
main(void)
{
	return dfi_test_main("registry_abandon", &(struct dfi_test_case){ .timeout = 60, .run = rt_main },
	    (const TTest *[]){ calls_and_a_connection_in_flight_return_at_once,
		a_station_abandoned_closes_at_once_and_reconciles_later, NULL });
}
