/*
 * The HSM handle's detail is the calling thread's own (engine/hsm/detail.h).
 * One dfi_hsm serves every reader thread of a station: threads that fail
 * their own PKCS#11 call at the same time (faultp11 fails every C_Encrypt
 * and every C_Sign) each read the detail of their own failure, never the
 * other's; a thread that failed nothing reads "", also one the system gave
 * the pthread_t of a thread that failed and ended; and an error that
 * recorded no detail of its own is not explained by an earlier failure the
 * caller tolerated (dfi_hsm_detail_for, which the CLI's error line uses).
 * More threads than the handle keeps details for lose theirs (""), never
 * read another's.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#include "faultp11_ctl.h"
#include "hsm/detail.h"
#include "tear_fix.h"

#define MASTER "pkcs11:object=an10922-master;type=secret-key"
#define ROUNDS 3000u

/* The AN10922 §2.2.1 diversification input (test_faultp11.c). */
static const uint8_t div_m[] = { 0x04, 0x78, 0x2E, 0x21, 0x80, 0x1D, 0x80, 0x30, 0x42, 0xF5,
	0x4E, 0x58, 0x50, 0x20, 0x41, 0x62, 0x75 };

/* The dev token behind faultp11, its journal key the signer. */
static void
env_open(struct tear_env *e)
{
	char why[400];
	ck_assert_msg(tear_env_open(e, FAULTP11_PATH, NULL, why, sizeof(why)) == 0, "%s", why);
}

enum kind { ENCRYPT, SIGN, ABSENT_KEY, KINDS };

struct worker {
	struct tear_env *e;
	pthread_barrier_t *start;
	enum kind kind;
	dfi_cardkey *ck; /* ENCRYPT */
	unsigned bad, ok;
	char first_bad[1024];
};

/* One failing call of w's kind; want receives how its detail begins. */
static dfi_err
fail_once(struct worker *w, unsigned i, char *want, size_t cap)
{
	uint8_t iv[16] = { 0 }, zero[16] = { 0 }, out[128];
	size_t len = sizeof(out);
	char uri[96];
	dfi_hsm_key *k = NULL;
	dfi_err r;
	switch (w->kind) {
	case ENCRYPT:
		snprintf(want, cap, "C_Encrypt: ");
		return dfi_cardkey_cipher(w->ck, 1, iv, zero, out, 16);
	case SIGN:
		snprintf(want, cap, "C_Sign: ");
		return dfi_signer_sign(w->e->signer, zero, sizeof(zero), out, &len);
	default:
		/* The round's number in the URI: not even this thread's detail
		 * of an earlier round passes. */
		snprintf(uri, sizeof(uri), "pkcs11:object=absent-%u;type=secret-key", i);
		snprintf(want, cap, "no secret key matches '%s' ", uri);
		r = dfi_hsm_key_find(w->e->hsm, uri, &k);
		dfi_hsm_key_free(k);
		return r;
	}
}

static void *
work(void *arg)
{
	struct worker *w = arg;
	pthread_barrier_wait(w->start);
	for (unsigned i = 0; i < ROUNDS; i++) {
		char want[160], last[320], mine[320];
		dfi_err r = fail_once(w, i, want, sizeof(want));
		if (r == DFI_OK) {
			w->ok++;
			continue;
		}
		/* A reader thread may lose the CPU between its error and its
		 * line: the other threads fail meanwhile. */
		sched_yield();
		dfi_hsm_last_detail(w->e->hsm, last, sizeof(last));
		dfi_hsm_detail_for(w->e->hsm, r, mine, sizeof(mine));
		if (strncmp(last, want, strlen(want)) == 0 && strcmp(last, mine) == 0)
			continue;
		if (w->bad++ == 0)
			snprintf(w->first_bad, sizeof(w->first_bad),
			    "round %u: %s; want '%s...', last detail '%s', for the error '%s'", i,
			    dfi_errname(r), want, last, mine);
	}
	return NULL;
}

/* Three threads on one handle fail three different ways at once, ROUNDS
 * times each: every detail read is the reader's own. */
START_TEST(threads_read_their_own_detail)
{
	struct tear_env e;
	struct faultp11_ctl c;
	env_open(&e);
	faultp11_ctl_open(&c, FAULTP11_PATH);
	dfi_hsm_key *master = NULL;
	dfi_cardkey *ck = NULL;
	ck_assert_int_eq(dfi_hsm_key_find(e.hsm, MASTER, &master), DFI_OK);
	ck_assert_int_eq(dfi_hsm_cardkey_diversified(e.hsm, master, DFI_KT_AES128, div_m,
	    sizeof(div_m), 1, &ck), DFI_OK);

	c.fail_always("C_Encrypt,C_Sign");
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, KINDS);
	struct worker w[KINDS];
	pthread_t t[KINDS];
	for (int i = 0; i < KINDS; i++) {
		w[i] = (struct worker){ .e = &e, .start = &start, .kind = (enum kind)i, .ck = ck };
		ck_assert_int_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	unsigned bad = 0;
	for (int i = 0; i < KINDS; i++) {
		pthread_join(t[i], NULL);
		printf("detail: thread %d: %u rounds, %u succeeded, %u with a detail not its own%s%s\n",
		    i, ROUNDS, w[i].ok, w[i].bad, w[i].bad ? ": first " : "", w[i].first_bad);
		bad += w[i].bad + w[i].ok;
	}
	c.fail_always(NULL);
	pthread_barrier_destroy(&start);
	dfi_cardkey_free(ck);
	dfi_hsm_key_free(master);
	tear_env_close(&e);
	ck_assert_msg(bad == 0, "%u rounds failed without their own detail, or did not fail", bad);
}
END_TEST

struct solo {
	dfi_hsm *h;
	pthread_barrier_t *read;
	pthread_t self;
	dfi_err r;
	char last[320], mine[320];
};

/* Fails a key lookup, waits while another thread reads, then reads. */
static void *
fail_and_wait(void *arg)
{
	struct solo *s = arg;
	dfi_hsm_key *k = NULL;
	s->self = pthread_self();
	s->r = dfi_hsm_key_find(s->h, "pkcs11:object=absent-solo;type=secret-key", &k);
	pthread_barrier_wait(s->read);
	pthread_barrier_wait(s->read);
	dfi_hsm_last_detail(s->h, s->last, sizeof(s->last));
	dfi_hsm_detail_for(s->h, s->r, s->mine, sizeof(s->mine));
	return NULL;
}

static void *
read_only(void *arg)
{
	struct solo *s = arg;
	s->self = pthread_self();
	dfi_hsm_last_detail(s->h, s->last, sizeof(s->last));
	dfi_hsm_detail_for(s->h, DFI_E_HSM_KEY_NOT_FOUND, s->mine, sizeof(s->mine));
	return NULL;
}

/* A detail set by one thread is "" for a thread that failed nothing: one
 * running meanwhile, and one started after the first ended (glibc often
 * gives it the ended thread's pthread_t). */
START_TEST(other_threads_read_nothing)
{
	struct tear_env e;
	env_open(&e);
	pthread_barrier_t read;
	pthread_barrier_init(&read, NULL, 2);
	struct solo a = { .h = e.hsm, .read = &read }, b = { .h = e.hsm }, later = { .h = e.hsm };
	pthread_t ta, tb, tl;
	ck_assert_int_eq(pthread_create(&ta, NULL, fail_and_wait, &a), 0);
	pthread_barrier_wait(&read);
	ck_assert_int_eq(pthread_create(&tb, NULL, read_only, &b), 0);
	pthread_join(tb, NULL);
	pthread_barrier_wait(&read);
	pthread_join(ta, NULL);
	ck_assert_int_eq(pthread_create(&tl, NULL, read_only, &later), 0);
	pthread_join(tl, NULL);
	pthread_barrier_destroy(&read);
	printf("detail: the failing thread: '%s'; the thread started after it (%s pthread_t): '%s'\n",
	    a.last, pthread_equal(a.self, later.self) ? "the same" : "another", later.last);
	tear_env_close(&e);
	ck_assert_int_eq(a.r, DFI_E_HSM_KEY_NOT_FOUND);
	ck_assert_msg(strncmp(a.last, "no secret key matches 'pkcs11:object=absent-solo", 47) == 0,
	    "%s", a.last);
	ck_assert_str_eq(a.mine, a.last);
	ck_assert_str_eq(b.last, "");
	ck_assert_str_eq(b.mine, "");
	ck_assert_str_eq(later.last, "");
	ck_assert_str_eq(later.mine, "");
}
END_TEST

enum { CROWD = DFI_HSM_DETAIL_SLOTS + 2 };

struct crowd {
	dfi_hsm *h;
	pthread_barrier_t *written;
	unsigned n;
	char want[96], last[320];
};

static void *
crowd_member(void *arg)
{
	struct crowd *c = arg;
	char uri[64];
	dfi_hsm_key *k = NULL;
	snprintf(uri, sizeof(uri), "pkcs11:object=absent-crowd-%u;type=secret-key", c->n);
	snprintf(c->want, sizeof(c->want), "no secret key matches '%s' ", uri);
	(void)dfi_hsm_key_find(c->h, uri, &k);
	pthread_barrier_wait(c->written);
	dfi_hsm_last_detail(c->h, c->last, sizeof(c->last));
	return NULL;
}

/* More threads fail than the handle keeps details for: every thread reads
 * its own detail or, for the two whose slots went to later ones, "". */
START_TEST(more_threads_than_slots)
{
	struct tear_env e;
	env_open(&e);
	pthread_barrier_t written;
	pthread_barrier_init(&written, NULL, CROWD);
	struct crowd c[CROWD];
	pthread_t t[CROWD];
	for (unsigned i = 0; i < CROWD; i++) {
		c[i] = (struct crowd){ .h = e.hsm, .written = &written, .n = i };
		ck_assert_int_eq(pthread_create(&t[i], NULL, crowd_member, &c[i]), 0);
	}
	unsigned own = 0, none = 0;
	for (unsigned i = 0; i < CROWD; i++) {
		pthread_join(t[i], NULL);
		if (strncmp(c[i].last, c[i].want, strlen(c[i].want)) == 0)
			own++;
		else
			ck_assert_msg(c[i].last[0] == '\0', "thread %u read '%s'", i, c[i].last);
		none += c[i].last[0] == '\0';
	}
	pthread_barrier_destroy(&written);
	tear_env_close(&e);
	printf("detail: %d threads failed: %u read their own detail, %u read \"\"\n", CROWD, own,
	    none);
	ck_assert_uint_eq(own, DFI_HSM_DETAIL_SLOTS);
	ck_assert_uint_eq(none, CROWD - DFI_HSM_DETAIL_SLOTS);
}
END_TEST

/* The detail of a failure the caller tolerated (a key that is not there)
 * is kept, but only for its own error: a later error that recorded none
 * gets "" from dfi_hsm_detail_for, not the earlier text. Details set
 * without a PKCS#11 call (no such key, an argument out of range) are
 * recorded with the error they go with. */
START_TEST(tolerated_detail_is_not_appended)
{
	struct tear_env e;
	char d[320];
	env_open(&e);
	dfi_hsm_key *master = NULL, *k = NULL;
	dfi_cardkey *ck = NULL;
	ck_assert_int_eq(dfi_hsm_key_find(e.hsm, MASTER, &master), DFI_OK);

	ck_assert_int_eq(dfi_hsm_key_find(e.hsm, "pkcs11:object=absent;type=secret-key", &k),
	    DFI_E_HSM_KEY_NOT_FOUND);
	dfi_hsm_detail_for(e.hsm, DFI_E_HSM_KEY_NOT_FOUND, d, sizeof(d));
	ck_assert_msg(strncmp(d, "no secret key matches 'pkcs11:object=absent;", 44) == 0, "%s", d);

	/* A 3K3DES card key of an AES master: refused without a detail. */
	dfi_err r = dfi_hsm_cardkey_diversified(e.hsm, master, DFI_KT_3K3DES, div_m, sizeof(div_m),
	    1, &ck);
	ck_assert_int_eq(r, DFI_E_HSM_KEY_TYPE);
	dfi_hsm_detail_for(e.hsm, r, d, sizeof(d));
	ck_assert_str_eq(d, "");
	/* The handle still holds the tolerated one: what the CLI printed. */
	dfi_hsm_last_detail(e.hsm, d, sizeof(d));
	ck_assert_msg(strncmp(d, "no secret key matches", 21) == 0, "%s", d);

	uint8_t longm[40] = { 0 };
	r = dfi_hsm_cardkey_diversified(e.hsm, master, DFI_KT_AES128, longm, sizeof(longm), 1, &ck);
	ck_assert_int_eq(r, DFI_E_INVALID_ARG);
	dfi_hsm_detail_for(e.hsm, r, d, sizeof(d));
	ck_assert_str_eq(d, "diversification input of 40 bytes: a aes key takes 1..31");
	dfi_hsm_detail_for(e.hsm, DFI_E_HSM_KEY_NOT_FOUND, d, sizeof(d));
	ck_assert_str_eq(d, "");
	dfi_hsm_detail_for(e.hsm, DFI_OK, d, sizeof(d));
	ck_assert_str_eq(d, "");
	dfi_hsm_detail_for(NULL, r, d, sizeof(d));
	ck_assert_str_eq(d, "");
	dfi_hsm_key_free(master);
	tear_env_close(&e);
}
END_TEST

int
main(void)
{
	return dfi_test_main("hsm_detail",
	    &(const struct dfi_test_case){ .run = tear_run_suite },
	    (const TTest *[]){ threads_read_their_own_detail, other_threads_read_nothing,
		more_threads_than_slots, tolerated_detail_is_not_appended, NULL });
}
