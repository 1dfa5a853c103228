/* The PostgreSQL backend behind dfi_registry (dfi_registry_new_pg), against
 * a real server (a private cluster for this binary): two stations with
 * their own journals and their own connections share claims, issued state
 * and open intents; leases run out (also of a station SIGKILLed while it
 * holds a claim); a record told twice is told once; a crash between the
 * journal and the registry is reconciled at the next open, also after
 * PostgreSQL was stopped in the middle of a card; many stations
 * racing for one UID: exactly one gets it; the connection cut at every
 * round trip of a card's registry calls (a key change and a change record):
 * nothing lost, nothing twice; change records (schema 6) handed over
 * between stations, and profile digests as the local backend keeps them. */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "jtest.h"
#include "regtest.h"
#include "testutil.h"

#include "dfissue/registry.h"

static char why[600];

/* A station: its journal, its own connections, its registry handle. */
struct station {
	struct jt_journal f;
	dfi_pgreg *pg;
	dfi_registry *reg;
};

static dfi_err
station_open_reg(struct station *s, const char *url, const char *name)
{
	struct dfi_pgreg_opts o = { .station = name, .timeout_ms = 5000, .max_conns = 2 };
	dfi_err e = dfi_pgreg_open(&s->pg, url, &o, why, sizeof(why));
	if (e == DFI_OK)
		e = dfi_registry_new_pg(&s->reg, s->pg, s->f.j, s->f.dir, s->f.pk, why, sizeof(why));
	return e;
}

static void
station_open(struct station *s, const char *url, const char *name, const char *origin)
{
	memset(s, 0, sizeof(*s));
	ck_assert_int_eq(jt_journal_open(&s->f, origin, DFI_SIG_ED25519), 0);
	ck_assert_msg(station_open_reg(s, url, name) == DFI_OK, "%s", why);
	ck_assert_str_eq(dfi_registry_backend(s->reg), "postgresql");
}

static void
station_close_reg(struct station *s)
{
	dfi_registry_free(s->reg);
	dfi_pgreg_free(s->pg);
	s->reg = NULL;
	s->pg = NULL;
}

static void
station_close(struct station *s)
{
	station_close_reg(s);
	jt_journal_close(&s->f);
}

/* A new registry (database db) and two stations on it, a and b, with the
 * journals NAME.example/a and NAME.example/b. */
static void
two_stations(const char *db, const char *name, char *url, size_t cap, struct station *a, struct station *b)
{
	char origin[64];
	dfi_pgreg_free(rt_registry(db, "init", url, cap));
	snprintf(origin, sizeof(origin), "%s.example/a", name);
	station_open(a, url, "station-a", origin);
	snprintf(origin, sizeof(origin), "%s.example/b", name);
	station_open(b, url, "station-b", origin);
}

/* Appends rec to the station's journal (durable), returns it with its seq. */
static dfi_jrec
append(struct station *s, dfi_jrec r)
{
	uint64_t seq;
	ck_assert_int_eq(dfi_journal_append(s->f.j, &r, 1, &seq), DFI_OK);
	r.seq = seq;
	return r;
}

static dfi_jrec
outcome(dfi_jrec_type t, uint64_t intent)
{
	dfi_jrec r;
	ck_assert_int_eq(dfi_jrec_outcome(&r, t, intent, t == DFI_JREC_ABORT ? "test" : NULL, -1, 0), DFI_OK);
	return r;
}

/* Tells r as the engine does: an intent under its card's claim (the
 * registry takes no intent otherwise, schema 3), released after. */
static void
tell(struct station *s, const dfi_jrec *r)
{
	dfi_reg_claim *c = NULL;
	if (r->type == DFI_JREC_INTENT)
		ck_assert_int_eq(dfi_registry_claim(s->reg, r->key.uid, r->key.uid_len, "tell", 0, &c, NULL, 0), DFI_OK);
	dfi_err e = dfi_registry_journaled(s->reg, r, 1);
	if (e != DFI_OK)
		dfi_registry_last_error(s->reg, why, sizeof(why));
	dfi_registry_release(c);
	ck_assert_msg(e == DFI_OK, "journaled: %s: %s", dfi_strerror(e), why);
}

/* A witnessing now: it comes after the releases queued before it (the
 * backend sends releases off the card's path). */
static void
witness_now(struct station *s)
{
	uint8_t note[DFI_J_NOTE_MAX];
	size_t nl;
	ck_assert_int_eq(dfi_journal_checkpoint(s->f.j, note, sizeof(note), &nl), DFI_OK);
	ck_assert_int_eq(dfi_registry_witness(s->reg, note, nl), DFI_OK);
}

struct seen {
	struct dfi_reg_slot slot[8];
	char slot_origin[8][64];
	unsigned nslots, nintents, local;
	uint64_t intent_seq[8];
};

static void
v_slot(void *ctx, const struct dfi_reg_slot *s)
{
	struct seen *v = ctx;
	if (v->nslots < 8) {
		snprintf(v->slot_origin[v->nslots], 64, "%s", s->origin);
		v->slot[v->nslots++] = *s;
	}
}

static void
v_intent(void *ctx, const dfi_jrec *in, int local)
{
	struct seen *v = ctx;
	if (v->nintents < 8)
		v->intent_seq[v->nintents] = in->seq;
	v->nintents++;
	v->local += local != 0;
}

static struct dfi_reg_card
lookup_in(dfi_registry *r, const char *uid_hex, struct seen *v)
{
	uint8_t uid[10];
	size_t n;
	struct dfi_reg_card c;
	struct dfi_reg_visit vis = { v_slot, v_intent, v };
	memset(v, 0, sizeof(*v));
	ck_assert_int_eq(dfi_hex_decode(uid_hex, uid, sizeof(uid), &n), DFI_OK);
	ck_assert_int_eq(dfi_registry_lookup(r, uid, n, &c, &vis), DFI_OK);
	return c;
}

static struct dfi_reg_card
lookup(struct station *s, const char *uid_hex, struct seen *v)
{
	return lookup_in(s->reg, uid_hex, v);
}

static const uint8_t U1[7] = { 0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66 };
#define U1HEX "04112233445566"

START_TEST(two_stations_share_claims_issued_state_and_intents)
{
	char url[PATH_MAX + 160], who[128];
	struct station a, b;
	two_stations("t_two", "two", url, sizeof(url), &a, &b);
	struct seen v;

	/* claims: one holder at a time, across stations */
	dfi_reg_claim *ca = NULL, *cb = NULL;
	ck_assert_int_eq(dfi_registry_claim(a.reg, U1, 7, "station-a/r1", 0, &ca, who, sizeof(who)), DFI_OK);
	ck_assert_int_eq(dfi_registry_claim(b.reg, U1, 7, "station-b/r1", 0, &cb, who, sizeof(who)), DFI_E_UID_CLAIMED);
	ck_assert_str_eq(who, "station-a/r1");
	/* the same station's other reader too: the claim is per handle token */
	ck_assert_int_eq(dfi_registry_claim(a.reg, U1, 7, "station-a/r2", 0, &cb, who, sizeof(who)), DFI_OK);
	dfi_registry_release(cb);
	cb = NULL;

	/* a key change at A: the intent is visible at B, not B's to resolve */
	dfi_jrec in = append(&a, jt_intent(U1HEX, 0x112233, 1, 0, 1));
	tell(&a, &in);
	struct dfi_reg_card c = lookup(&b, U1HEX, &v);
	ck_assert_int_eq(c.issued, 0);
	ck_assert_uint_eq(c.open_intents, 1);
	ck_assert_uint_eq(v.nintents, 1);
	ck_assert_uint_eq(v.local, 0);
	ck_assert_uint_eq(v.intent_seq[0], in.seq);
	ck_assert_uint_eq(v.nslots, 1);
	ck_assert_int_eq(v.slot[0].has_open_intent, 1);
	c = lookup(&a, U1HEX, &v);
	ck_assert_uint_eq(v.local, 1);

	/* committed at A: told with the release of A's claim (an outcome told
	 * while the claim is held waits for it: one round trip less), then
	 * issued, everywhere */
	dfi_jrec cm = append(&a, outcome(DFI_JREC_COMMIT, in.seq));
	tell(&a, &cm);
	tell(&a, &cm); /* a retry: told once */
	ck_assert_str_eq(rt_val("t_two", "SELECT count(*) FROM dfissue.records"), "1");
	dfi_registry_release(ca);
	witness_now(&a); /* after the release, sent off the path */
	ck_assert_str_eq(rt_val("t_two", "SELECT count(*) FROM dfissue.claims"), "0");
	c = lookup(&b, U1HEX, &v);
	ck_assert_int_eq(c.issued, 1);
	ck_assert_uint_eq(c.changed, 1);
	ck_assert_uint_eq(c.open_intents, 0);
	ck_assert_uint_eq(v.nslots, 1);
	ck_assert_int_eq(v.slot[0].state, DFI_REG_SLOT_CHANGED);
	ck_assert_int_eq(v.slot[0].version, 1);
	ck_assert_uint_eq(v.slot[0].changed_by, in.seq);
	ck_assert_uint_eq(v.slot[0].aid, 0x112233);
	ck_assert_str_eq(v.slot_origin[0], "two.example/a");
	ck_assert_str_eq(rt_val("t_two", "SELECT count(*) FROM dfissue.records"), "2");

	/* never told before the journal holds it; never another record than the journal's */
	dfi_jrec future = cm;
	future.seq = dfi_journal_size(a.f.j);
	ck_assert_int_eq(dfi_registry_journaled(a.reg, &future, 1), DFI_E_INVALID_ARG);
	dfi_jrec wrong = in;
	wrong.type = DFI_JREC_COMMIT;
	wrong.intent = 99;
	ck_assert_int_eq(dfi_registry_journaled(a.reg, &wrong, 1), DFI_E_INVALID_ARG);

	/* a re-issue authorized at B: A sees it, and the slots start over */
	dfi_jrec au;
	ck_assert_int_eq(dfi_jrec_card_event(&au, DFI_JREC_AUTHORIZATION, U1, 7, 0, 0, "replaced chip"), DFI_OK);
	au = append(&b, au);
	tell(&b, &au);
	c = lookup(&a, U1HEX, &v);
	ck_assert_uint_eq(c.authorizations, 1);
	ck_assert_int_eq(c.authorization_pending, 1);
	ck_assert_uint_eq(c.last_authorization, 0); /* none in A's journal */
	ck_assert_int_eq(c.issued, 0);
	ck_assert_int_eq(v.slot[0].state, DFI_REG_SLOT_UNKNOWN);
	c = lookup(&b, U1HEX, &v);
	ck_assert_uint_eq(c.last_authorization, au.seq);

	/* torn at A (intent without outcome), finished at B: B's key change of
	 * the same slot closes A's intent; B's commit is the slot's state */
	dfi_jrec in2 = append(&a, jt_intent(U1HEX, 0x112233, 1, 0, 2));
	tell(&a, &in2);
	witness_now(&a); /* tell()'s release, sent off the path: B may claim */
	c = lookup(&b, U1HEX, &v);
	ck_assert_uint_eq(c.open_intents, 1);
	ck_assert_int_eq(c.authorization_pending, 0);
	dfi_jrec in3 = append(&b, jt_intent(U1HEX, 0x112233, 1, 0, 2));
	tell(&b, &in3);
	dfi_jrec cm3 = append(&b, outcome(DFI_JREC_COMMIT, in3.seq));
	tell(&b, &cm3);
	c = lookup(&a, U1HEX, &v);
	ck_assert_uint_eq(c.open_intents, 0);
	ck_assert_int_eq(c.issued, 1);
	ck_assert_int_eq(v.slot[0].version, 2);
	ck_assert_str_eq(v.slot_origin[0], "two.example/b");
	char q[200];
	snprintf(q, sizeof(q), "SELECT closed_by_origin || ' ' || closed_by_seq FROM dfissue.intents WHERE origin = "
	    "'two.example/a' AND seq = %llu", (unsigned long long)in2.seq);
	char want[64];
	snprintf(want, sizeof(want), "two.example/b %llu", (unsigned long long)in3.seq);
	ck_assert_str_eq(rt_val("t_two", q), want);

	/* a refusal at B, an abort at A of another key */
	dfi_jrec rf;
	ck_assert_int_eq(dfi_jrec_card_event(&rf, DFI_JREC_REFUSAL, U1, 7, DFI_JCAUSE_ISSUED, dfi_journal_size(b.f.j),
	    "UID already issued"), DFI_OK);
	rf = append(&b, rf);
	tell(&b, &rf);
	dfi_jrec in4 = append(&a, jt_intent(U1HEX, 0x112233, 2, 0, 1));
	witness_now(&b); /* tell()'s release of in3, sent off the path: A may claim */
	tell(&a, &in4);
	dfi_jrec ab = append(&a, outcome(DFI_JREC_ABORT, in4.seq));
	tell(&a, &ab);
	c = lookup(&b, U1HEX, &v);
	ck_assert_uint_eq(c.refusals, 1);
	ck_assert_uint_eq(c.last_refusal, rf.seq);
	ck_assert_uint_eq(c.slots, 2);
	ck_assert_uint_eq(c.changed, 1);
	for (unsigned i = 0; i < v.nslots; i++)
		if (v.slot[i].keyno == 2) {
			ck_assert_int_eq(v.slot[i].state, DFI_REG_SLOT_INITIAL);
			ck_assert_int_eq(v.slot[i].version, 0);
		}

	/* checkpoints through the registry handle: witnessed with proofs */
	uint8_t note[DFI_J_NOTE_MAX];
	size_t nl;
	ck_assert_int_eq(dfi_journal_checkpoint(a.f.j, note, sizeof(note), &nl), DFI_OK);
	ck_assert_int_eq(dfi_registry_witness(a.reg, note, nl), DFI_OK);
	rt_assert_witnessed("t_two", "two.example/a", dfi_journal_size(a.f.j));
	ck_assert_int_eq(dfi_registry_witness(a.reg, (const uint8_t *)"no note", 7), DFI_E_JOURNAL_FORMAT);

	/* a crash between the journal and the registry: A's next open tells
	 * the registry what its journal holds */
	const uint8_t U2[7] = { 0x04, 0x22, 0x22, 0x33, 0x44, 0x55, 0x66 };
	dfi_jrec in5 = append(&a, jt_intent("04222233445566", 0, 0, 0, 1));
	(void)append(&a, outcome(DFI_JREC_COMMIT, in5.seq));
	c = lookup(&b, "04222233445566", &v);
	ck_assert_int_eq(c.issued, 0);
	station_close_reg(&a);
	ck_assert_msg(station_open_reg(&a, url, "station-a") == DFI_OK, "%s", why);
	c = lookup(&b, "04222233445566", &v);
	ck_assert_int_eq(c.issued, 1);
	(void)U2;
	/* and reconciling again changes nothing */
	const char *n0 = strdup(rt_val("t_two", "SELECT count(*) FROM dfissue.records"));
	station_close_reg(&a);
	ck_assert_msg(station_open_reg(&a, url, "station-a") == DFI_OK, "%s", why);
	ck_assert_str_eq(rt_val("t_two", "SELECT count(*) FROM dfissue.records"), n0);

	/* an intent (a ChangeKey about to be sent) only while its station
	 * holds the card's claim: never without one, never once another
	 * station took the UID over after the lease ran out (schema 3) */
	static const uint8_t U3[7] = { 0x04, 0x33, 0x33, 0x33, 0x44, 0x55, 0x66 };
	dfi_jrec nc = append(&b, jt_intent("04333333445566", 0x112233, 1, 0, 1));
	ck_assert_int_eq(dfi_registry_journaled(b.reg, &nc, 1), DFI_E_REGISTRY);
	dfi_registry_last_error(b.reg, why, sizeof(why));
	ck_assert_msg(strstr(why, "claim lost: card 04333333445566") != NULL, "%s", why);
	ck_assert_int_eq(dfi_registry_claim(a.reg, U3, 7, "station-a/r1", 1, &ca, who, sizeof(who)), DFI_OK);
	usleep(20 * 1000); /* A stalls past its 1 ms lease; B takes the UID */
	ck_assert_int_eq(dfi_registry_claim(b.reg, U3, 7, "station-b/r1", 0, &cb, who, sizeof(who)), DFI_OK);
	dfi_jrec lost = append(&a, jt_intent("04333333445566", 0x112233, 1, 0, 1));
	ck_assert_int_eq(dfi_registry_journaled(a.reg, &lost, 1), DFI_E_REGISTRY);
	ck_assert_str_eq(rt_val("t_two", "SELECT count(*) FROM dfissue.records"), n0);
	/* B holds it: taken, and the lease extended */
	ck_assert_int_eq(dfi_registry_journaled(b.reg, &nc, 1), DFI_OK);
	ck_assert_str_eq(rt_val("t_two", "SELECT count(*) FROM dfissue.claims WHERE uid = '\\x04333333445566' AND "
	    "expires_at > clock_timestamp() + interval '30 seconds'"), "1");
	dfi_registry_release(cb);
	dfi_registry_release(ca); /* A's lost claim: releases nothing of B's */
	free((void *)n0);

	station_close(&a);
	station_close(&b);
}
END_TEST

/* Station a's process, forked (its journal and registry handle opened in
 * the child, so no thread of the parent's crosses the fork), claims U1 for
 * lease_ms, journals n intents of it (keys 0..n-1), tells the registry the
 * first `told` of them and is SIGKILLed: the torn card's station dies
 * holding the claim. Returns the child; *ready is read by killed_wait. */
static pid_t
killed_station(const char *url, struct station *a, unsigned lease_ms, unsigned n, unsigned told, int *ready)
{
	station_close_reg(a);
	if (a->f.j != NULL)
		dfi_journal_close(a->f.j);
	a->f.j = NULL;
	int pfd[2];
	ck_assert_int_eq(pipe(pfd), 0);
	pid_t pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		close(pfd[0]);
		dfi_reg_claim *c = NULL;
		if (jt_journal_reopen(&a->f) != 0 || station_open_reg(a, url, "station-a") != DFI_OK ||
		    dfi_registry_claim(a->reg, U1, 7, "station-a/r1", lease_ms, &c, NULL, 0) != DFI_OK)
			_exit(2);
		for (unsigned k = 0; k < n; k++) {
			dfi_jrec in = jt_intent(U1HEX, 0, (uint8_t)k, 0, 1);
			uint64_t seq;
			if (dfi_journal_append(a->f.j, &in, 1, &seq) != DFI_OK)
				_exit(3);
			in.seq = seq;
			if (k < told && dfi_registry_journaled(a->reg, &in, 1) != DFI_OK)
				_exit(4);
		}
		if (write(pfd[1], "x", 1) != 1)
			_exit(5);
		raise(SIGKILL);
		_exit(6);
	}
	close(pfd[1]);
	*ready = pfd[0];
	return pid;
}

/* Until the killed_station child is dead of its SIGKILL. */
static void
killed_wait(pid_t pid, int ready)
{
	char x;
	ck_assert_int_eq(read(ready, &x, 1), 1);
	close(ready);
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

/* A station SIGKILLed while it holds a claim, with a key change journaled
 * and told: the UID stays its own until the lease runs out, then another
 * station claims it and sees the torn card's open intent. */
START_TEST(lease_of_a_killed_station_runs_out)
{
	char url[PATH_MAX + 160], who[128];
	dfi_pgreg_free(rt_registry("t_lease", "init", url, sizeof(url)));
	struct station a, b;
	memset(&a, 0, sizeof(a));
	ck_assert_int_eq(jt_journal_open(&a.f, "lease.example/a", DFI_SIG_ED25519), 0);
	int ready;
	pid_t pid = killed_station(url, &a, 1500, 1, 1, &ready);
	/* B is open before A dies: its first claim comes right after A's
	 * death, well inside A's lease (opening takes a while under ASan) */
	station_open(&b, url, "station-b", "lease.example/b");
	killed_wait(pid, ready);
	long t0 = dfi_pg_now_ms();
	dfi_reg_claim *cb = NULL;
	ck_assert_int_eq(dfi_registry_claim(b.reg, U1, 7, "station-b/r1", 0, &cb, who, sizeof(who)), DFI_E_UID_CLAIMED);
	ck_assert_str_eq(who, "station-a/r1");
	dfi_err e;
	while ((e = dfi_registry_claim(b.reg, U1, 7, "station-b/r1", 0, &cb, who, sizeof(who))) == DFI_E_UID_CLAIMED) {
		ck_assert_int_lt(dfi_pg_now_ms() - t0, 10000);
		usleep(100 * 1000);
	}
	ck_assert_int_eq(e, DFI_OK);
	printf("lease: a SIGKILLed station's claim (1500 ms lease) taken over after %ld ms\n", dfi_pg_now_ms() - t0);
	struct seen v;
	struct dfi_reg_card c = lookup(&b, U1HEX, &v);
	ck_assert_uint_eq(c.open_intents, 1);
	ck_assert_uint_eq(v.local, 0);
	dfi_registry_release(cb);
	station_close(&b);
	jt_journal_close(&a.f);
}
END_TEST

/* A station SIGKILLed in the middle of a card (lease 60 s) and started again
 * on the same journal (schema 7): its first intent was told, its second
 * reached the journal only (killed between the journal's append and the
 * registry's update). At the restart the station tells the registry the
 * second (reconciliation: late, no ChangeKey followed it), which another
 * station sees open; that other station is refused the card (another
 * journal: the lease holds), the restarted one takes its dead
 * predecessor's claim at once, finds both intents its own, resolves them,
 * and the audit says OK. */
static int audit_run(const char *url, struct station *a, struct station *b, char *out, size_t cap);

START_TEST(a_restarted_station_finishes_its_own_torn_card)
{
	char url[PATH_MAX + 160], who[128], out[8192];
	struct station a, b;
	two_stations("t_restart", "restart", url, sizeof(url), &a, &b);
	/* two intents journaled, the registry told of the first only */
	int ready;
	pid_t pid = killed_station(url, &a, 60000, 2, 1, &ready);
	killed_wait(pid, ready);
	struct seen v;
	ck_assert_uint_eq(lookup(&b, U1HEX, &v).open_intents, 1);
	/* restarted: the journal's tail told, the second intent late */
	ck_assert_int_eq(jt_journal_reopen(&a.f), 0);
	ck_assert_msg(station_open_reg(&a, url, "station-a") == DFI_OK, "%s", why);
	ck_assert_str_eq(rt_val("t_restart", "SELECT string_agg(held::text || ' ' || open::text, ', ' ORDER BY seq) "
					     "FROM dfissue.records JOIN dfissue.intents USING (origin, seq)"),
	    "true true, false true");
	ck_assert_uint_eq(lookup(&b, U1HEX, &v).open_intents, 2);
	ck_assert_uint_eq(v.local, 0);
	dfi_reg_claim *ca = NULL, *cb = NULL;
	ck_assert_int_eq(dfi_registry_claim(b.reg, U1, 7, "station-b/r1", 0, &cb, who, sizeof(who)), DFI_E_UID_CLAIMED);
	ck_assert_str_eq(who, "station-a/r1");
	long t0 = dfi_pg_now_ms();
	ck_assert_int_eq(dfi_registry_claim(a.reg, U1, 7, "station-a/r1", 60000, &ca, who, sizeof(who)), DFI_OK);
	long took = dfi_pg_now_ms() - t0;
	ck_assert_int_lt(took, 5000);
	struct dfi_reg_card card = lookup(&a, U1HEX, &v);
	ck_assert_uint_eq(card.open_intents, 2);
	ck_assert_uint_eq(v.local, 2);
	/* the probe: key 0 has the new key (its ChangeKey went), key 1 the
	 * old one (never sent); then key 1 changed under the new claim */
	dfi_jrec rs;
	ck_assert_int_eq(dfi_jrec_outcome(&rs, DFI_JREC_RESOLVE, v.intent_seq[0] < v.intent_seq[1] ? v.intent_seq[0] :
	    v.intent_seq[1], NULL, -1, DFI_JMATCH_NEW), DFI_OK);
	dfi_jrec ab = outcome(DFI_JREC_ABORT, v.intent_seq[0] < v.intent_seq[1] ? v.intent_seq[1] : v.intent_seq[0]);
	dfi_jrec done[2] = { append(&a, rs), append(&a, ab) };
	ck_assert_int_eq(dfi_registry_journaled(a.reg, done, 2), DFI_OK);
	dfi_jrec in3 = append(&a, jt_intent(U1HEX, 0, 1, 0, 1));
	ck_assert_int_eq(dfi_registry_journaled(a.reg, &in3, 1), DFI_OK);
	dfi_jrec cm3 = append(&a, outcome(DFI_JREC_COMMIT, in3.seq));
	ck_assert_int_eq(dfi_registry_journaled(a.reg, &cm3, 1), DFI_OK);
	dfi_registry_release(ca);
	witness_now(&a); /* after the release, sent off the path */
	card = lookup(&b, U1HEX, &v);
	ck_assert_uint_eq(card.open_intents, 0);
	ck_assert_uint_eq(card.changed, 2);
	int rc = audit_run(url, &a, &b, out, sizeof(out));
	ck_assert_msg(rc == 0 && strstr(out, "audit: OK") != NULL, "audit exit %d:\n%s", rc, out);
	printf("restart: a SIGKILLed station's claim (60 s lease) taken over by its restart on the same journal after "
	       "%ld ms; the intent the registry never heard of told at the restart; audit OK\n", took);
	station_close(&a);
	station_close(&b);
}
END_TEST

/* A journal behind what its station told the registry (a copy taken
 * before the last records, then put back): its head is still the
 * checkpoint witnessed last, but the registry has records it lacks. The
 * station refuses to open: it would take those records' intents, and its
 * predecessor's claims (schema 7), as its own. */
START_TEST(a_journal_behind_the_registry_is_refused)
{
	char url[PATH_MAX + 160], out[2 * PATH_MAX + 200], cmd[4 * PATH_MAX + 100];
	struct station a, b;
	two_stations("t_behind", "behind", url, sizeof(url), &a, &b);
	snprintf(cmd, sizeof(cmd), "cp -a '%s' '%s.copy'", a.f.dir, a.f.dir);
	ck_assert_int_eq(dfi_test_run(cmd, out, sizeof(out)), 0);
	dfi_jrec in = append(&a, jt_intent(U1HEX, 0, 0, 0, 1));
	tell(&a, &in);
	station_close_reg(&a);
	dfi_journal_close(a.f.j);
	a.f.j = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mv '%s.copy' '%s'", a.f.dir, a.f.dir, a.f.dir);
	ck_assert_int_eq(dfi_test_run(cmd, out, sizeof(out)), 0);
	ck_assert_int_eq(jt_journal_reopen(&a.f), 0);
	ck_assert_int_eq(station_open_reg(&a, url, "station-a"), DFI_E_REGISTRY_REFUSED);
	ck_assert_msg(strstr(why, "rolled back, restored from a backup or copied") != NULL, "%s", why);
	printf("behind: %s\n", why);
	station_close(&a);
	station_close(&b);
}
END_TEST

/* PostgreSQL stopped in the middle of a card: the station's calls fail
 * within their deadline (the engine then stops: fail closed), the journal
 * keeps what it made durable, and once the server is back the station's
 * next open tells the registry what it missed. */
START_TEST(server_stopped_in_the_middle_of_a_card)
{
	char url[PATH_MAX + 160], who[128];
	dfi_pgreg_free(rt_registry("t_stop", "init", url, sizeof(url)));
	struct station a;
	station_open(&a, url, "station-a", "stop.example/a");
	dfi_reg_claim *c = NULL;
	ck_assert_int_eq(dfi_registry_claim(a.reg, U1, 7, "station-a/r1", 0, &c, who, sizeof(who)), DFI_OK);
	dfi_jrec in = append(&a, jt_intent(U1HEX, 0, 0, 0, 1));
	tell(&a, &in);
	/* tell's release is sent off the path: done before the server stops
	 * (a release the stopped server lost would stop the station) */
	witness_now(&a);
	ck_assert_int_eq(dfi_pg_stop(&rt_pg), 0);
	/* the card answered; its commit is durable in the journal, and waits
	 * for the release of the card's claim (an outcome: nothing waits on it) */
	dfi_jrec cm = append(&a, outcome(DFI_JREC_COMMIT, in.seq));
	long t0 = dfi_pg_now_ms();
	ck_assert_int_eq(dfi_registry_journaled(a.reg, &cm, 1), DFI_OK);
	struct dfi_reg_card card;
	ck_assert_int_eq(dfi_registry_lookup(a.reg, U1, 7, &card, NULL), DFI_E_REGISTRY_UNREACHABLE);
	dfi_registry_last_error(a.reg, why, sizeof(why));
	ck_assert_msg(why[0] != '\0', "no reason given");
	/* the next intent (held: sent at once, the commit with it) fails */
	dfi_jrec in2 = append(&a, jt_intent(U1HEX, 0, 1, 0, 1));
	ck_assert_int_eq(dfi_registry_journaled(a.reg, &in2, 1), DFI_E_REGISTRY_UNREACHABLE);
	ck_assert_int_lt(dfi_pg_now_ms() - t0, 12000);
	dfi_registry_release(c); /* lost with the server: the lease covers it */
	station_close_reg(&a);
	ck_assert_int_eq(dfi_pg_start(&rt_pg), 0);
	/* restarted, the station opens again: reconciled */
	ck_assert_msg(station_open_reg(&a, url, "station-a") == DFI_OK, "%s", why);
	struct seen v;
	card = lookup(&a, U1HEX, &v);
	ck_assert_int_eq(card.issued, 1);
	ck_assert_uint_eq(card.open_intents, 1); /* the second intent's card is in hand: its next tap resolves it */
	station_close(&a);
}
END_TEST

/* ---- many stations, one UID ----------------------------------------------- */

#define RACERS 6
#define RACE_ROUNDS 12

struct racer {
	const char *url;
	int id;
	pthread_barrier_t *bar;
	int won[RACE_ROUNDS];
	dfi_err err;
};

static void *
race_thread(void *p)
{
	struct racer *r = p;
	char name[32], w[600];
	snprintf(name, sizeof(name), "racer-%d", r->id);
	struct dfi_pgreg_opts o = { .station = name, .timeout_ms = 5000, .max_conns = 1 };
	dfi_pgreg *pg = NULL;
	dfi_registry *reg = NULL;
	r->err = dfi_pgreg_open(&pg, r->url, &o, w, sizeof(w));
	if (r->err == DFI_OK)
		r->err = dfi_registry_new_pg(&reg, pg, NULL, NULL, NULL, w, sizeof(w));
	for (int k = 0; k < RACE_ROUNDS; k++) {
		uint8_t uid[7] = { 0x04, 0x77, 0, 0, 0, 0, (uint8_t)k };
		dfi_reg_claim *c = NULL;
		pthread_barrier_wait(r->bar);
		dfi_err e = reg != NULL ? dfi_registry_claim(reg, uid, 7, name, 0, &c, NULL, 0) : DFI_E_INVALID_ARG;
		r->won[k] = e == DFI_OK;
		if (e != DFI_OK && e != DFI_E_UID_CLAIMED && r->err == DFI_OK)
			r->err = e;
		/* everyone has tried before the winner lets go */
		pthread_barrier_wait(r->bar);
		dfi_registry_release(c);
	}
	dfi_registry_free(reg);
	dfi_pgreg_free(pg);
	return NULL;
}

START_TEST(stations_racing_for_one_uid_exactly_one_wins)
{
	char url[PATH_MAX + 160];
	dfi_pgreg_free(rt_registry("t_race", "init", url, sizeof(url)));
	pthread_barrier_t bar;
	pthread_barrier_init(&bar, NULL, RACERS);
	struct racer r[RACERS];
	pthread_t t[RACERS];
	for (int i = 0; i < RACERS; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].url = url;
		r[i].id = i;
		r[i].bar = &bar;
		ck_assert_int_eq(pthread_create(&t[i], NULL, race_thread, &r[i]), 0);
	}
	for (int i = 0; i < RACERS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&bar);
	unsigned spread[RACERS] = { 0 };
	for (int i = 0; i < RACERS; i++)
		ck_assert_msg(r[i].err == DFI_OK, "racer %d: %s", i, dfi_strerror(r[i].err));
	for (int k = 0; k < RACE_ROUNDS; k++) {
		int winners = 0;
		for (int i = 0; i < RACERS; i++) {
			winners += r[i].won[k];
			spread[i] += (unsigned)r[i].won[k];
		}
		ck_assert_msg(winners == 1, "round %d: %d winners", k, winners);
	}
	ck_assert_str_eq(rt_val("t_race", "SELECT count(*) FROM dfissue.claims"), "0");
	printf("race: %d stations x %d UIDs at once: exactly one claim each time (wins per station:", RACERS, RACE_ROUNDS);
	for (int i = 0; i < RACERS; i++)
		printf(" %u", spread[i]);
	printf(")\n");
}
END_TEST

/* ---- the connection cut at every round trip --------------------------------- */

/* One card's registry calls at a station, each retried by the caller when
 * it fails (the engine stops instead; a retry is what the next tap does):
 * open (witness, reconcile), claim, lookup, intent, witness, commit,
 * witness, release. */
#define RETRY(expr)                                                                            \
	do {                                                                                   \
		int tries_ = 0;                                                                \
		for (dfi_err e_; (e_ = (expr)) != DFI_OK;) {                                   \
			ck_assert_msg(e_ == DFI_E_REGISTRY_UNREACHABLE && ++tries_ < 3, "%s: %s", \
			    #expr, dfi_strerror(e_));                                            \
			(*failures)++;                                                         \
		}                                                                              \
	} while (0)

static void
card_scenario(const char *url, struct station *s, const uint8_t *uid, unsigned *failures)
{
	char uidhex[15];
	dfi_hex_encode(uid, 7, uidhex, sizeof(uidhex));
	RETRY(station_open_reg(s, url, "st-cut"));
	dfi_reg_claim *c = NULL;
	RETRY(dfi_registry_claim(s->reg, uid, 7, "st-cut/r1", 0, &c, NULL, 0));
	struct dfi_reg_card card;
	RETRY(dfi_registry_lookup(s->reg, uid, 7, &card, NULL));
	ck_assert_int_eq(card.issued, 0);
	dfi_jrec in = append(s, jt_intent(uidhex, 0, 0, 0, 1));
	RETRY(dfi_registry_journaled(s->reg, &in, 1));
	uint8_t note[DFI_J_NOTE_MAX];
	size_t nl;
	ck_assert_int_eq(dfi_journal_checkpoint(s->f.j, note, sizeof(note), &nl), DFI_OK);
	RETRY(dfi_registry_witness(s->reg, note, nl));
	/* a change record (schema 6; the LRP switch), held as an intent */
	static const uint8_t caps[10] = { 0, 0, 0, 0, 2, 0, 0, 0, 0, 0 };
	dfi_jrec ch;
	ck_assert_int_eq(dfi_jrec_change(&ch, uid, 7, 0, "lrp", caps, sizeof(caps)), DFI_OK);
	ch = append(s, ch);
	RETRY(dfi_registry_journaled(s->reg, &ch, 1));
	dfi_jrec cm[2] = { append(s, outcome(DFI_JREC_COMMIT, in.seq)), append(s, outcome(DFI_JREC_COMMIT, ch.seq)) };
	RETRY(dfi_registry_journaled(s->reg, cm, 2));
	ck_assert_int_eq(dfi_journal_checkpoint(s->f.j, note, sizeof(note), &nl), DFI_OK);
	RETRY(dfi_registry_witness(s->reg, note, nl));
	dfi_registry_release(c);
	station_close_reg(s);
}

/* One case of the sweep: a card's registry calls at a new station with the
 * connection cut at round trip k (the UID ends in k and after). Nothing
 * lost, nothing twice: four records, one issued slot, two intents closed
 * (the key's, the change's), the journal's head witnessed. */
static void
rcut_case(const char *curl, uint64_t k, int after, unsigned *failures)
{
	char origin[64], q[300];
	struct station s;
	uint8_t uid[7] = { 0x04, 0x99, 0, 0, 0, (uint8_t)k, (uint8_t)after };
	memset(&s, 0, sizeof(s));
	rt_cut_origin(origin, sizeof(origin), "rcut.example", k, after);
	ck_assert_int_eq(jt_journal_open(&s.f, origin, DFI_SIG_ED25519), 0);
	card_scenario(curl, &s, uid, failures);
	snprintf(q, sizeof(q), "SELECT count(*) FROM dfissue.records WHERE origin = '%s'", origin);
	ck_assert_str_eq(rt_val("t_rcut", q), "4");
	snprintf(q, sizeof(q), "SELECT count(*) || ' ' || sum(state) || ' ' || sum(version) FROM dfissue.slots "
	    "WHERE uid = '\\x0499000000%02x%02x'", (unsigned)uid[5], (unsigned)uid[6]);
	ck_assert_str_eq(rt_val("t_rcut", q), "1 2 1");
	snprintf(q, sizeof(q), "SELECT count(*) || ' ' || count(what) FROM dfissue.intents WHERE origin = '%s' "
	    "AND NOT open", origin);
	ck_assert_str_eq(rt_val("t_rcut", q), "2 1");
	rt_assert_witnessed("t_rcut", origin, dfi_journal_size(s.f.j));
	jt_journal_close(&s.f);
}

START_TEST(registry_calls_survive_a_cut_at_every_round_trip)
{
	/* DFI_SANITIZE builds cut every DFI_RCUT_STRIDE-th round trip */
	rt_cut_sweep("t_rcut", "registry calls (every record told once, nothing lost)", "DFI_RCUT_STRIDE", 10, rcut_case);
	/* no claim left */
	ck_assert_str_eq(rt_val("t_rcut", "SELECT count(*) FROM dfissue.claims"), "0");
}
END_TEST

/* ---- an intent told late (schema 4) ---------------------------------------- */

/* Runs `dfissue audit` over both stations' journals; its output in out. */
static int
audit_run(const char *url, struct station *a, struct station *b, char *out, size_t cap)
{
	const char *bd = getenv("DFI_BUILD_DIR");
	ck_assert_ptr_nonnull(bd);
	char pa[PATH_MAX + 16], pb[PATH_MAX + 16], cmd[4 * PATH_MAX + 400];
	snprintf(pa, sizeof(pa), "%s/a.pub.pem", a->f.dir);
	snprintf(pb, sizeof(pb), "%s/b.pub.pem", b->f.dir);
	ck_assert_int_eq(jt_write_pubkey_pem(a->f.s, pa), 0);
	ck_assert_int_eq(jt_write_pubkey_pem(b->f.s, pb), 0);
	snprintf(cmd, sizeof(cmd), "'%s/bin/dfissue' audit --registry '%s' --pubkey '%s' --pubkey '%s' '%s' '%s' 2>&1", bd,
	    url, pa, pb, a->f.dir, b->f.dir);
	return dfi_test_run(cmd, out, cap);
}

/* Station a claims the card with a short lease and stalls past it; station
 * b takes the claim. a's intent, journaled meanwhile, is refused (no key
 * change may follow); a tells it at its next open, late. Returns it. */
static dfi_jrec
late_intent(const char *url, struct station *a, struct station *b, const char *uid_hex, int b_finishes)
{
	uint8_t uid[10];
	size_t n;
	ck_assert_int_eq(dfi_hex_decode(uid_hex, uid, sizeof(uid), &n), DFI_OK);
	dfi_reg_claim *ca = NULL, *cb = NULL;
	ck_assert_int_eq(dfi_registry_claim(a->reg, uid, n, "station-a/r1", 200, &ca, NULL, 0), DFI_OK);
	long t0 = dfi_pg_now_ms();
	dfi_err e;
	while ((e = dfi_registry_claim(b->reg, uid, n, "station-b/r1", 0, &cb, NULL, 0)) == DFI_E_UID_CLAIMED) {
		ck_assert_int_lt(dfi_pg_now_ms() - t0, 10000);
		usleep(50 * 1000);
	}
	ck_assert_int_eq(e, DFI_OK);
	if (b_finishes) {
		dfi_jrec ib = append(b, jt_intent(uid_hex, 0, 0, 0, 1));
		ck_assert_int_eq(dfi_registry_journaled(b->reg, &ib, 1), DFI_OK);
		dfi_jrec ob = append(b, outcome(DFI_JREC_COMMIT, ib.seq));
		ck_assert_int_eq(dfi_registry_journaled(b->reg, &ob, 1), DFI_OK);
	}
	dfi_registry_release(cb);
	/* a wakes up: its intent is durable in its journal, the registry refuses it */
	dfi_jrec ia = append(a, jt_intent(uid_hex, 0, 0, 0, 1));
	ck_assert_int_eq(dfi_registry_journaled(a->reg, &ia, 1), DFI_E_REGISTRY);
	dfi_registry_last_error(a->reg, why, sizeof(why));
	ck_assert_msg(strstr(why, "claim lost") != NULL, "%s", why);
	dfi_registry_release(ca);
	station_close_reg(a);
	ck_assert_msg(station_open_reg(a, url, "station-a") == DFI_OK, "%s", why);
	return ia;
}

START_TEST(an_intent_told_late_is_audited)
{
	char url[PATH_MAX + 160], out[8192], q[512];
	struct station a, b;
	two_stations("t_late", "late", url, sizeof(url), &a, &b);
	/* 1. b finished the card before a told its intent: resolved by b */
	dfi_jrec ia = late_intent(url, &a, &b, U1HEX, 1);
	snprintf(q, sizeof(q), "SELECT held::text || ' ' || open::text || ' ' || closed_by_origin FROM dfissue.records "
	    "JOIN dfissue.intents USING (origin, seq) WHERE origin = 'late.example/a' AND seq = %" PRIu64, ia.seq);
	ck_assert_str_eq(rt_val("t_late", q), "false false late.example/b");
	struct seen v;
	ck_assert_uint_eq(lookup(&b, U1HEX, &v).open_intents, 0);
	int rc = audit_run(url, &a, &b, out, sizeof(out));
	ck_assert_msg(rc == 0 && strstr(out, "audit: OK") != NULL, "audit exit %d:\n%s", rc, out);
	/* 3. b took the card over and left it (no key change): nothing resolved
	 * a's late intent, a finding that says it was told late */
	dfi_jrec ia2 = late_intent(url, &a, &b, "04222222222222", 0);
	rc = audit_run(url, &a, &b, out, sizeof(out));
	ck_assert_msg(rc != 0, "audit passed an unresolved late intent:\n%s", out);
	snprintf(q, sizeof(q), "intent %" PRIu64 " of late.example/a (card 04222222222222 app 000000 key 0), told late",
	    ia2.seq);
	ck_assert_msg(strstr(out, q) != NULL, "%s", out);
	ck_assert_msg(strstr(out, "issued twice") == NULL, "%s", out);
	/* ... which station a resolves when the card comes back (key unchanged) */
	dfi_jrec ra = outcome(DFI_JREC_ABORT, ia2.seq);
	ra = append(&a, ra);
	ck_assert_int_eq(dfi_registry_journaled(a.reg, &ra, 1), DFI_OK);
	rc = audit_run(url, &a, &b, out, sizeof(out));
	ck_assert_msg(rc == 0, "audit exit %d:\n%s", rc, out);
	/* 4. a's journal says its late intent of 1 changed the key after all:
	 * a key change without the claim, a finding */
	dfi_jrec ca = append(&a, outcome(DFI_JREC_COMMIT, ia.seq));
	ck_assert_int_eq(dfi_registry_journaled(a.reg, &ca, 1), DFI_OK);
	rc = audit_run(url, &a, &b, out, sizeof(out));
	ck_assert_msg(rc != 0 && strstr(out, "without the station holding the card's claim") != NULL, "%s", out);
	/* 5. a late intent never closes another station's open intent (it
	 * never touched the card): b's torn card stays open */
	uint8_t u3[7];
	size_t n3;
	ck_assert_int_eq(dfi_hex_decode("04333333333333", u3, sizeof(u3), &n3), DFI_OK);
	dfi_reg_claim *c3 = NULL;
	ck_assert_int_eq(dfi_registry_claim(b.reg, u3, n3, "station-b/r1", 0, &c3, NULL, 0), DFI_OK);
	dfi_jrec ib3 = append(&b, jt_intent("04333333333333", 0, 0, 0, 1));
	ck_assert_int_eq(dfi_registry_journaled(b.reg, &ib3, 1), DFI_OK);
	dfi_registry_release(c3);
	(void)append(&a, jt_intent("04333333333333", 0, 0, 0, 1)); /* a crashed before telling it */
	station_close_reg(&a);
	ck_assert_msg(station_open_reg(&a, url, "station-a") == DFI_OK, "%s", why);
	snprintf(q, sizeof(q), "SELECT string_agg(origin || ' ' || open::text, ', ' ORDER BY origin) FROM dfissue.intents "
	    "WHERE uid = '\\x04333333333333'");
	ck_assert_str_eq(rt_val("t_late", q), "late.example/a false, late.example/b true");
	printf("late intent: resolved by the other station: audit OK; left unresolved: a finding; committed after all: "
	       "a finding\n");
	station_close(&a);
	station_close(&b);
}
END_TEST

/* ---- change records and profile digests (schema 6) -------------------------- */

/* Lookup of one card through the local backend over station s's journal. */
static struct dfi_reg_card
lookup_local(struct station *s, const char *uid_hex, struct seen *v)
{
	dfi_registry *l = NULL;
	ck_assert_int_eq(dfi_registry_new_local(&l, s->f.j), DFI_OK);
	struct dfi_reg_card c = lookup_in(l, uid_hex, v);
	dfi_registry_free(l);
	return c;
}

/* Station a issues a key with a profile digest and is torn at the card's
 * LRP switch (a change record left open); both backends answer the same of
 * it; station b, which gets the card, sees the change open and not its
 * own, takes it over (the same change in its journal closes a's), resolves
 * it; the audit replays it all. */
START_TEST(change_records_handed_over_between_stations)
{
	char url[PATH_MAX + 160], out[8192];
	static const uint8_t caps[10] = { 0, 0, 0, 0, 2, 0, 0, 0, 0, 0 };
	struct station a, b;
	two_stations("t_change", "change", url, sizeof(url), &a, &b);
	dfi_reg_claim *ca = NULL, *cb = NULL;
	ck_assert_int_eq(dfi_registry_claim(a.reg, U1, 7, "station-a/r1", 0, &ca, NULL, 0), DFI_OK);
	dfi_jrec in = jt_intent(U1HEX, 0, 0, 0, 1);
	in.has_profile = 1;
	for (int i = 0; i < DFI_J_PROFILE_LEN; i++)
		in.profile[i] = (uint8_t)(0xA0 + i);
	in = append(&a, in);
	ck_assert_int_eq(dfi_registry_journaled(a.reg, &in, 1), DFI_OK);
	dfi_jrec cm = append(&a, outcome(DFI_JREC_COMMIT, in.seq));
	ck_assert_int_eq(dfi_registry_journaled(a.reg, &cm, 1), DFI_OK);
	dfi_jrec ch;
	ck_assert_int_eq(dfi_jrec_change(&ch, U1, 7, 0, "lrp", caps, sizeof(caps)), DFI_OK);
	ch = append(&a, ch);
	ck_assert_int_eq(dfi_registry_journaled(a.reg, &ch, 1), DFI_OK); /* the card torn: no outcome */
	dfi_registry_release(ca);
	witness_now(&a); /* after the release, sent off the path: b may claim */

	/* both backends: one slot changed with the intent's digest, one open
	 * intent, the change, this station's */
	struct seen vl, vp;
	struct dfi_reg_card cl = lookup_local(&a, U1HEX, &vl), cp = lookup(&a, U1HEX, &vp);
	ck_assert_uint_eq(cl.open_intents, 1);
	ck_assert_uint_eq(cp.open_intents, cl.open_intents);
	ck_assert_int_eq(cp.issued, cl.issued);
	ck_assert_uint_eq(vp.nintents, 1);
	ck_assert_uint_eq(vp.local, vl.local);
	ck_assert_uint_eq(vp.intent_seq[0], ch.seq);
	ck_assert_uint_eq(vp.nslots, 1);
	ck_assert_uint_eq(vl.nslots, 1);
	ck_assert_int_eq(vp.slot[0].has_open_intent, 0);
	ck_assert_int_eq(vl.slot[0].has_profile, 1);
	ck_assert_int_eq(vp.slot[0].has_profile, 1);
	ck_assert_mem_eq(vp.slot[0].profile, in.profile, DFI_J_PROFILE_LEN);
	ck_assert_mem_eq(vl.slot[0].profile, in.profile, DFI_J_PROFILE_LEN);

	/* station b: a's change is open and not b's; b takes it over */
	struct dfi_reg_card cbc = lookup(&b, U1HEX, &vp);
	ck_assert_uint_eq(cbc.open_intents, 1);
	ck_assert_uint_eq(vp.local, 0);
	ck_assert_int_eq(dfi_registry_claim(b.reg, U1, 7, "station-b/r1", 0, &cb, NULL, 0), DFI_OK);
	dfi_jrec adopt = ch;
	adopt.seq = 0;
	adopt.time = 0;
	adopt.station[0] = '\0';
	adopt = append(&b, adopt);
	ck_assert_int_eq(dfi_registry_journaled(b.reg, &adopt, 1), DFI_OK);
	char q[400];
	snprintf(q, sizeof(q), "SELECT open::text || ' ' || closed_by_origin || ' ' || closed_by_seq FROM dfissue.intents "
	    "WHERE origin = 'change.example/a' AND seq = %" PRIu64, ch.seq);
	char want[80];
	snprintf(want, sizeof(want), "false change.example/b %" PRIu64, adopt.seq);
	ck_assert_str_eq(rt_val("t_change", q), want);
	/* b's probe: the card is in LRP mode */
	dfi_jrec rs;
	ck_assert_int_eq(dfi_jrec_outcome(&rs, DFI_JREC_RESOLVE, adopt.seq, NULL, -1, DFI_JMATCH_NEW), DFI_OK);
	rs = append(&b, rs);
	ck_assert_int_eq(dfi_registry_journaled(b.reg, &rs, 1), DFI_OK);
	dfi_registry_release(cb); /* the deferred resolve goes with it */
	witness_now(&b);
	ck_assert_uint_eq(lookup(&a, U1HEX, &vp).open_intents, 0);
	ck_assert_str_eq(rt_val("t_change", "SELECT count(*) FROM dfissue.records WHERE type = 'change'"), "2");
	/* a change moves no key slot: the digest is still the key intent's */
	ck_assert_uint_eq(vp.nslots, 1);
	ck_assert_mem_eq(vp.slot[0].profile, in.profile, DFI_J_PROFILE_LEN);
	int rc = audit_run(url, &a, &b, out, sizeof(out));
	ck_assert_msg(rc == 0 && strstr(out, "audit: OK") != NULL, "audit exit %d:\n%s", rc, out);
	/* the registry's digest edited by hand: the audit finds it */
	rt_sql("t_change", "UPDATE dfissue.slots SET profile = NULL");
	rc = audit_run(url, &a, &b, out, sizeof(out));
	ck_assert_msg(rc != 0 && strstr(out, "profile digest") != NULL, "audit exit %d:\n%s", rc, out);
	printf("change records: torn at station a, taken over and resolved at b; both backends agree; audit OK\n");
	station_close(&a);
	station_close(&b);
}
END_TEST

/* dfi_registry_close sends what still waits before it frees the handle,
 * and says whether it reached the registry: a release queued off the
 * card's path, with the outcome deferred to go with it, is in the registry
 * when close returns; a release the registry refuses (a trigger) comes
 * back with the server's reason, and its card stays claimed until its
 * lease runs out. */
START_TEST(close_sends_the_queued_releases_and_reports_a_failed_one)
{
	char url[PATH_MAX + 160];
	struct station a, b;
	two_stations("t_close", "close", url, sizeof(url), &a, &b);
	dfi_reg_claim *c = NULL;
	ck_assert_int_eq(dfi_registry_claim(a.reg, U1, 7, "station-a/r1", 0, &c, NULL, 0), DFI_OK);
	dfi_jrec in = append(&a, jt_intent(U1HEX, 0, 0, 0, 1));
	ck_assert_int_eq(dfi_registry_journaled(a.reg, &in, 1), DFI_OK);
	dfi_jrec cm = append(&a, outcome(DFI_JREC_COMMIT, in.seq));
	ck_assert_int_eq(dfi_registry_journaled(a.reg, &cm, 1), DFI_OK);
	/* the commit waits for the release */
	ck_assert_str_eq(rt_val("t_close", "SELECT count(*) FROM dfissue.intents WHERE open"), "1");
	dfi_registry_release(c);
	ck_assert_int_eq(dfi_registry_close(a.reg, why, sizeof(why)), DFI_OK);
	a.reg = NULL;
	ck_assert_str_eq(why, "");
	ck_assert_str_eq(rt_val("t_close", "SELECT count(*) FROM dfissue.claims"), "0");
	ck_assert_str_eq(rt_val("t_close", "SELECT count(*) FROM dfissue.intents WHERE open"), "0");

	rt_refuse_releases("t_close");
	ck_assert_int_eq(dfi_registry_claim(b.reg, U1, 7, "station-b/r1", 0, &c, NULL, 0), DFI_OK);
	dfi_registry_release(c);
	dfi_err e = dfi_registry_close(b.reg, why, sizeof(why));
	b.reg = NULL;
	ck_assert_msg(e == DFI_E_REGISTRY && strstr(why, "the test refuses releases") != NULL, "%s: %s",
	    dfi_strerror(e), why);
	ck_assert_str_eq(rt_val("t_close", "SELECT count(*) FROM dfissue.claims"), "1");
	printf("close: a refused release reported: %s\n", why);
	station_close(&a);
	station_close(&b);
}
END_TEST

int
main(void)
{
	return dfi_test_main("registry_pgbe", &(struct dfi_test_case){ .timeout = 120, .run = rt_main },
	    (const TTest *[]){ two_stations_share_claims_issued_state_and_intents, lease_of_a_killed_station_runs_out,
		a_restarted_station_finishes_its_own_torn_card, a_journal_behind_the_registry_is_refused,
		server_stopped_in_the_middle_of_a_card, stations_racing_for_one_uid_exactly_one_wins,
		registry_calls_survive_a_cut_at_every_round_trip, an_intent_told_late_is_audited,
		change_records_handed_over_between_stations, close_sends_the_queued_releases_and_reports_a_failed_one,
		NULL });
}
