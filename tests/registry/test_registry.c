/* The registry interface over its local backend (the journal index): card
 * lookups as the journal grows, claims shared by threads (never two
 * holders of one UID at once), the journal-before-registry order, and
 * witnessing checkpoints. */
#include <pthread.h>

#include "dfissue/registry.h"
#include "jtest.h"
#include "testutil.h"

#define ORIGIN "dfissue.test/registry"

/* A journal (jtest.h) and the local registry over it. */
struct fix {
	struct jt_journal t;
	dfi_registry *r;
};

static void
fix_open(struct fix *f)
{
	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(jt_journal_open(&f->t, ORIGIN, DFI_SIG_ED25519), 0);
	ck_assert_int_eq(dfi_registry_new_local(&f->r, f->t.j), DFI_OK);
	ck_assert_str_eq(dfi_registry_backend(f->r), "local");
}

/* The local backend has nothing waiting at close. */
static void
fix_close(struct fix *f)
{
	char why[100];
	ck_assert_int_eq(dfi_registry_close(f->r, why, sizeof(why)), DFI_OK);
	ck_assert_str_eq(why, "");
	jt_journal_close(&f->t);
}

static uint64_t
append1(struct fix *f, dfi_jrec r)
{
	uint64_t seq;
	ck_assert_int_eq(dfi_journal_append(f->t.j, &r, 1, &seq), DFI_OK);
	r.seq = seq;
	/* what the engine does after every durable append */
	ck_assert_int_eq(dfi_registry_journaled(f->r, &r, 1), DFI_OK);
	return seq;
}

static dfi_jrec
outcome(dfi_jrec_type t, uint64_t intent)
{
	dfi_jrec r;
	ck_assert_int_eq(dfi_jrec_outcome(&r, t, intent, t == DFI_JREC_ABORT ? "card said no" : NULL,
	    -1, 0), DFI_OK);
	return r;
}

struct visit {
	struct dfi_reg_slot slots[8];
	unsigned nslots, nintents, nonlocal;
	uint64_t intent;
	char origin[DFI_J_STR_MAX];
};

static void
v_slot(void *ctx, const struct dfi_reg_slot *s)
{
	struct visit *v = ctx;
	if (v->nslots < 8)
		v->slots[v->nslots++] = *s;
	snprintf(v->origin, sizeof(v->origin), "%s", s->origin);
}

static void
v_intent(void *ctx, const dfi_jrec *in, int local)
{
	struct visit *v = ctx;
	v->nintents++;
	v->nonlocal += !local;
	v->intent = in->seq;
}

static struct dfi_reg_card
lookup(struct fix *f, const char *uid_hex, struct visit *v)
{
	uint8_t uid[10];
	size_t n = HEX(uid, uid_hex);
	struct dfi_reg_card c;
	struct dfi_reg_visit vis = { v_slot, v_intent, v };
	memset(v, 0, sizeof(*v));
	ck_assert_int_eq(dfi_registry_lookup(f->r, uid, n, &c, &vis), DFI_OK);
	return c;
}

START_TEST(lookup_follows_the_journal)
{
	struct fix f;
	struct visit v;
	fix_open(&f);
	struct dfi_reg_card c = lookup(&f, "04AAAAAAAAAA01", &v);
	ck_assert_int_eq(c.issued, 0);
	ck_assert_uint_eq(c.slots, 0);
	ck_assert_uint_eq(v.nslots, 0);

	/* An application key issued, the PICC key in flight. */
	dfi_jrec in = jt_intent("04AAAAAAAAAA01", 0xF54010, 0, 0, 1);
	in.key_gen = 2;
	uint64_t s1 = append1(&f, in);
	c = lookup(&f, "04AAAAAAAAAA01", &v);
	ck_assert_int_eq(c.issued, 0);
	ck_assert_uint_eq(c.open_intents, 1);
	ck_assert_uint_eq(v.nintents, 1);
	ck_assert_uint_eq(v.intent, s1);
	ck_assert_uint_eq(v.nonlocal, 0);
	append1(&f, outcome(DFI_JREC_COMMIT, s1));
	uint64_t s2 = append1(&f, jt_intent("04AAAAAAAAAA01", 0, 0, 0, 1));
	c = lookup(&f, "04AAAAAAAAAA01", &v);
	ck_assert_int_eq(c.issued, 1);
	ck_assert_uint_eq(c.changed, 1);
	ck_assert_uint_eq(c.slots, 2);
	ck_assert_uint_eq(c.open_intents, 1);
	ck_assert_uint_eq(v.nslots, 2);
	ck_assert_str_eq(v.origin, ORIGIN);
	for (unsigned i = 0; i < v.nslots; i++) {
		if (v.slots[i].aid == 0xF54010) {
			ck_assert_int_eq(v.slots[i].state, DFI_REG_SLOT_CHANGED);
			ck_assert_int_eq(v.slots[i].version, 1);
			ck_assert_uint_eq(v.slots[i].generation, 2);
			ck_assert_uint_eq(v.slots[i].changed_by, s1);
			ck_assert_int_eq(v.slots[i].has_open_intent, 0);
		} else {
			ck_assert_int_eq(v.slots[i].has_open_intent, 1);
		}
	}
	append1(&f, outcome(DFI_JREC_ABORT, s2));
	c = lookup(&f, "04AAAAAAAAAA01", &v);
	ck_assert_uint_eq(c.open_intents, 0);

	/* Another card is another entry; a refusal and an authorization. */
	c = lookup(&f, "04BBBBBBBBBB02", &v);
	ck_assert_int_eq(c.issued, 0);
	uint8_t uid[7];
	HEX(uid, "04AAAAAAAAAA01");
	dfi_jrec ev;
	ck_assert_int_eq(dfi_jrec_card_event(&ev, DFI_JREC_REFUSAL, uid, 7, DFI_JCAUSE_ISSUED,
	    dfi_journal_size(f.t.j), "issued"), DFI_OK);
	uint64_t sr = append1(&f, ev);
	ck_assert_int_eq(dfi_jrec_card_event(&ev, DFI_JREC_AUTHORIZATION, uid, 7, 0, 0,
	    "chip replaced"), DFI_OK);
	uint64_t sa = append1(&f, ev);
	c = lookup(&f, "04AAAAAAAAAA01", &v);
	ck_assert_uint_eq(c.refusals, 1);
	ck_assert_uint_eq(c.last_refusal, sr);
	ck_assert_uint_eq(c.authorizations, 1);
	ck_assert_uint_eq(c.last_authorization, sa);
	ck_assert_int_eq(c.authorization_pending, 1);
	ck_assert_int_eq(c.issued, 0);

	/* Bad arguments never reach the backend. */
	ck_assert_int_eq(dfi_registry_lookup(f.r, uid, 0, &c, NULL), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_registry_lookup(f.r, uid, 11, &c, NULL), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_registry_lookup(f.r, NULL, 7, &c, NULL), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_registry_lookup(f.r, uid, 7, &c, NULL), DFI_OK);
	fix_close(&f);
}
END_TEST

START_TEST(journaled_only_after_the_journal)
{
	struct fix f;
	fix_open(&f);
	dfi_jrec in = jt_intent("04AAAAAAAAAA01", 0, 0, 0, 1);
	/* Not appended: the journal does not cover it. */
	in.seq = dfi_journal_size(f.t.j);
	ck_assert_int_eq(dfi_registry_journaled(f.r, &in, 1), DFI_E_INVALID_ARG);
	/* Queued but not yet durable: neither. */
	uint64_t seq, ticket;
	ck_assert_int_eq(dfi_journal_append_async(f.t.j, &in, 1, &seq, &ticket), DFI_OK);
	in.seq = seq;
	ck_assert_int_eq(dfi_journal_wait(f.t.j, ticket), DFI_OK);
	ck_assert_int_eq(dfi_registry_journaled(f.r, &in, 1), DFI_OK);
	ck_assert_int_eq(dfi_registry_journaled(f.r, NULL, 0), DFI_OK);
	fix_close(&f);
}
END_TEST

START_TEST(claims_are_exclusive)
{
	struct fix f;
	dfi_reg_claim *a, *b;
	char who[64];
	uint8_t uid[7], other[7];
	fix_open(&f);
	HEX(uid, "04AAAAAAAAAA01");
	HEX(other, "04BBBBBBBBBB02");
	ck_assert_int_eq(dfi_registry_claim(f.r, uid, 7, "st/reader-1", 0, &a, who, sizeof(who)), DFI_OK);
	ck_assert_int_eq(dfi_registry_claim(f.r, uid, 7, "st/reader-2", 5000, &b, who, sizeof(who)),
	    DFI_E_UID_CLAIMED);
	ck_assert_ptr_null(b);
	ck_assert_str_eq(who, "st/reader-1");
	ck_assert_int_eq(dfi_registry_claim(f.r, other, 7, "st/reader-2", 0, &b, NULL, 0), DFI_OK);
	ck_assert_int_eq(dfi_registry_renew(a, 1000), DFI_OK);
	dfi_registry_release(a);
	ck_assert_int_eq(dfi_registry_claim(f.r, uid, 7, "st/reader-2", 0, &a, who, sizeof(who)), DFI_OK);
	dfi_registry_release(a);
	dfi_registry_release(b);
	ck_assert_int_eq(dfi_registry_claim(f.r, uid, 7, "", 0, &a, NULL, 0), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_registry_claim(f.r, uid, 0, "x", 0, &a, NULL, 0), DFI_E_INVALID_ARG);
	fix_close(&f);
}
END_TEST

struct race {
	dfi_registry *r;
	pthread_mutex_t mu;
	int inside, max_inside;
	unsigned got, refused;
};

static void *
racer(void *arg)
{
	struct race *rc = arg;
	uint8_t uid[7] = { 0x04, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0x01 };
	char holder[32];
	snprintf(holder, sizeof(holder), "thread-%lx", (unsigned long)pthread_self());
	for (int i = 0; i < 2000; i++) {
		dfi_reg_claim *c;
		dfi_err e = dfi_registry_claim(rc->r, uid, 7, holder, 0, &c, NULL, 0);
		pthread_mutex_lock(&rc->mu);
		if (e == DFI_OK) {
			rc->got++;
			if (++rc->inside > rc->max_inside)
				rc->max_inside = rc->inside;
		} else {
			ck_assert_int_eq(e, DFI_E_UID_CLAIMED);
			rc->refused++;
		}
		pthread_mutex_unlock(&rc->mu);
		if (e == DFI_OK) {
			sched_yield();
			pthread_mutex_lock(&rc->mu);
			rc->inside--;
			pthread_mutex_unlock(&rc->mu);
			dfi_registry_release(c);
		}
	}
	return NULL;
}

START_TEST(claims_race_between_threads)
{
	struct fix f;
	struct race rc;
	pthread_t t[8];
	fix_open(&f);
	memset(&rc, 0, sizeof(rc));
	rc.r = f.r;
	pthread_mutex_init(&rc.mu, NULL);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, racer, &rc), 0);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	printf("claims: %u taken, %u refused, at most %d holder(s) at once\n", rc.got, rc.refused,
	    rc.max_inside);
	ck_assert_int_eq(rc.max_inside, 1);
	ck_assert_uint_eq(rc.got + rc.refused, 8 * 2000);
	ck_assert_uint_gt(rc.got, 0);
	pthread_mutex_destroy(&rc.mu);
	fix_close(&f);
}
END_TEST

static size_t
checkpoint(struct fix *f, uint8_t *note)
{
	size_t n;
	ck_assert_int_eq(dfi_journal_checkpoint(f->t.j, note, DFI_J_NOTE_MAX, &n), DFI_OK);
	return n;
}

START_TEST(witness_checkpoints)
{
	struct fix f;
	uint8_t old[DFI_J_NOTE_MAX], cur[DFI_J_NOTE_MAX], other[DFI_J_NOTE_MAX];
	fix_open(&f);
	size_t oldlen = checkpoint(&f, old);
	ck_assert_int_eq(dfi_registry_witness(f.r, old, oldlen), DFI_OK);
	append1(&f, jt_intent("04AAAAAAAAAA01", 0, 0, 0, 1));
	size_t curlen = checkpoint(&f, cur);
	ck_assert_int_eq(dfi_registry_witness(f.r, cur, curlen), DFI_OK);
	ck_assert_int_eq(dfi_registry_witness(f.r, cur, curlen), DFI_OK);
	/* Going back to an older checkpoint is a rollback. */
	ck_assert_int_eq(dfi_registry_witness(f.r, old, oldlen), DFI_E_JOURNAL_ROLLBACK);
	/* A checkpoint of the same size with another root: a fork. */
	dfi_checkpoint cp;
	ck_assert_int_eq(dfi_note_open(cur, curlen, NULL, &cp), DFI_OK);
	cp.root[0] ^= 1;
	size_t ol;
	ck_assert_int_eq(dfi_note_sign(&cp, f.t.s, other, sizeof(other), &ol), DFI_OK);
	ck_assert_int_eq(dfi_registry_witness(f.r, other, ol), DFI_E_JOURNAL_ROLLBACK);
	/* Another journal's, one beyond the end, and garbage. */
	cp.root[0] ^= 1;
	snprintf(cp.origin, sizeof(cp.origin), "dfissue.test/another");
	ck_assert_int_eq(dfi_note_sign(&cp, f.t.s, other, sizeof(other), &ol), DFI_OK);
	ck_assert_int_eq(dfi_registry_witness(f.r, other, ol), DFI_E_JOURNAL_FORMAT);
	snprintf(cp.origin, sizeof(cp.origin), "%s", ORIGIN);
	cp.size += 10;
	ck_assert_int_eq(dfi_note_sign(&cp, f.t.s, other, sizeof(other), &ol), DFI_OK);
	ck_assert_int_eq(dfi_registry_witness(f.r, other, ol), DFI_E_JOURNAL_FORMAT);
	ck_assert_int_eq(dfi_registry_witness(f.r, (const uint8_t *)"no note", 7), DFI_E_JOURNAL_FORMAT);
	fix_close(&f);
}
END_TEST

int
main(void)
{
	return dfi_test_main("registry", NULL,
	    (const TTest *[]){ lookup_follows_the_journal,
	    journaled_only_after_the_journal, claims_are_exclusive, claims_race_between_threads,
	    witness_checkpoints, NULL });
}
