/*
 * Allocation and OpenSSL failure injection (issue 18), as libfido2's
 * fuzz/wrap.c does it: every allocation and every OpenSSL object the
 * engine creates while it personalizes a card fails in turn, once each,
 * and the engine must
 *   - return (no crash, no abort; under ASan+UBSan no invalid access),
 *   - leak nothing (the sanitizer build's LeakSanitizer runs at exit),
 *   - lose nothing: the same card, presented again with the failure gone,
 *     ends done or resumed, equal to the profile, and the journal verifies
 *     with no open intent.
 *
 * How: this binary is linked with -Wl,--wrap for the functions below
 * (tests/perso/CMakeLists.txt). libdfissue is a static library, so every
 * call its objects make goes through __wrap_*; SoftHSM2 and OpenSSL's own
 * internals are shared libraries and are not redirected. Calls are counted
 * only while `armed` is set, which is around dfi_perso_card() alone; the
 * simulated card's own allocations do not count (the transport below
 * disarms while the card computes its answer). Run k fails the k-th counted
 * call; the loop ends at the first run in which nothing failed, which gives
 * the number of points covered, printed.
 *
 * The sanitizer build samples every DFI_FI_STRIDE-th point (CMake sets it)
 * to stay in the CI budget; the release build takes every point.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "testutil.h"

#include "card_check.h"
#include "perso_fix.h"

#ifndef DFI_FI_STRIDE
#define DFI_FI_STRIDE 1
#endif

/* ---- the wrapped functions --------------------------------------------- */

static atomic_int armed;
static atomic_ulong calls;     /* counted calls in this run */
static atomic_ulong fail_at;   /* 1-based call to fail; 0: none */
static atomic_int fired;       /* the run's failure happened */
static char fired_in[64];      /* which function failed */

/* True when this counted call is the one to fail. */
static int
inject(const char *fn)
{
	if (!atomic_load(&armed))
		return 0;
	unsigned long n = atomic_fetch_add(&calls, 1) + 1;
	if (n != atomic_load(&fail_at))
		return 0;
	atomic_store(&fired, 1);
	snprintf(fired_in, sizeof(fired_in), "%s", fn);
	return 1;
}

#define WRAP(ret, name, params, args, failval)                                    \
	ret __real_##name params;                                                 \
	ret __wrap_##name params;                                                 \
	ret __wrap_##name params                                                  \
	{                                                                         \
		if (inject(#name))                                                \
			return failval;                                           \
		return __real_##name args;                                        \
	}

WRAP(void *, malloc, (size_t n), (n), NULL)
WRAP(void *, calloc, (size_t n, size_t m), (n, m), NULL)
WRAP(void *, realloc, (void *p, size_t n), (p, n), NULL)
WRAP(char *, strdup, (const char *s), (s), NULL)
WRAP(char *, strndup, (const char *s, size_t n), (s, n), NULL)
WRAP(EVP_MD_CTX *, EVP_MD_CTX_new, (void), (), NULL)
WRAP(EVP_CIPHER_CTX *, EVP_CIPHER_CTX_new, (void), (), NULL)
WRAP(EVP_PKEY_CTX *, EVP_PKEY_CTX_new_from_pkey, (OSSL_LIB_CTX *l, EVP_PKEY *k, const char *q),
    (l, k, q), NULL)
WRAP(EVP_PKEY_CTX *, EVP_PKEY_CTX_new_from_name, (OSSL_LIB_CTX *l, const char *n, const char *q),
    (l, n, q), NULL)
WRAP(BIGNUM *, BN_bin2bn, (const unsigned char *s, int len, BIGNUM *r), (s, len, r), NULL)
WRAP(ECDSA_SIG *, ECDSA_SIG_new, (void), (), NULL)
WRAP(EVP_PKEY *, d2i_PUBKEY, (EVP_PKEY **a, const unsigned char **pp, long len), (a, pp, len), NULL)
WRAP(int, EVP_DigestInit_ex, (EVP_MD_CTX *c, const EVP_MD *t, ENGINE *e), (c, t, e), 0)
WRAP(int, EVP_DigestFinal_ex, (EVP_MD_CTX *c, unsigned char *md, unsigned int *s), (c, md, s), 0)

/* ---- a transport that keeps the card out of the count ------------------ */

struct quiet {
	dfi_transport *inner;
};

/* The card's side of each call is not the engine's: not counted. */
static int
disarm(void)
{
	return atomic_exchange(&armed, 0);
}

static dfi_err
rearm(int was, dfi_err e)
{
	atomic_store(&armed, was);
	return e;
}

static dfi_err
q_transmit(void *ctx, const uint8_t *c, size_t clen, uint8_t *r, size_t rcap, size_t *rlen)
{
	int was = disarm();
	return rearm(was, dfi_transport_transmit(((struct quiet *)ctx)->inner, c, clen, r, rcap, rlen));
}

static dfi_err
q_wait(void *ctx, int ms)
{
	int was = disarm();
	return rearm(was, dfi_transport_wait_card(((struct quiet *)ctx)->inner, ms));
}

static dfi_err
q_removed(void *ctx, int ms)
{
	int was = disarm();
	return rearm(was, dfi_transport_wait_removed(((struct quiet *)ctx)->inner, ms));
}

static const char *
q_name(void *ctx)
{
	(void)ctx;
	return "failinject";
}

static const struct dfi_transport_ops q_ops = { q_transmit, q_wait, q_removed, q_name, NULL };

/* ---- the test ------------------------------------------------------------ */

struct tally {
	unsigned error, done, other; /* how the failing taps ended */
	unsigned restarts;           /* the next tap needed a restarted station */
};

/* One card, with the k-th counted call failing (k = 0: none). Returns
 * whether the failure fired; checks the card converges afterwards. */
static int
one_card(struct pfix *f, unsigned long k, unsigned long *ncalls, struct tally *tl)
{
	struct dfi_perso_result res;
	struct quiet q;
	dfi_transport *t;
	dfi_sim *sim = pf_card(0xF1000 + k, NULL);
	OK(dfi_sim_transport_new(sim, &q.inner));
	OK(dfi_transport_new(&t, &q_ops, &q));

	atomic_store(&calls, 0);
	atomic_store(&fail_at, k);
	atomic_store(&fired, 0);
	atomic_store(&armed, 1);
	dfi_err e = dfi_perso_card(f->perso, t, f->row, &res);
	atomic_store(&armed, 0);
	int hit = atomic_load(&fired);
	*ncalls = atomic_load(&calls);

	if (!hit) {
		ck_assert_msg(e == DFI_OK && res.outcome == DFI_PERSO_DONE,
		    "run %lu without a failure: %s, outcome %s: %s", k, dfi_strerror(e),
		    dfi_perso_outcome_name(res.outcome), res.detail);
	} else {
		if (e != DFI_OK)
			tl->error++;
		else if (res.outcome == DFI_PERSO_DONE)
			tl->done++;
		else
			tl->other++;
		/* The same card again, nothing failing: it converges. A tap that
		 * failed may leave the card mid-sequence: a new power cycle. */
		OK(dfi_sim_power_cycle(sim));
		struct dfi_perso_result again;
		e = dfi_perso_card(f->perso, t, f->row, &again);
		if (e != DFI_OK || (again.outcome != DFI_PERSO_DONE && again.outcome != DFI_PERSO_RESUMED)) {
			/* The journal stops taking records after a failure that
			 * left its index ahead of its file (fail-stop, by design):
			 * the station is restarted, and then the card finishes. */
			tl->restarts++;
			pf_restart(f);
			OK(dfi_sim_power_cycle(sim));
			OK(dfi_perso_card(f->perso, t, f->row, &again));
		}
		ck_assert_msg(again.outcome == DFI_PERSO_DONE || again.outcome == DFI_PERSO_RESUMED,
		    "after %s failed at call %lu: the tap after a restart ended %s: %s", fired_in, k,
		    dfi_perso_outcome_name(again.outcome), again.detail);
	}
	char why[256];
	int m = dfi_test_card_matches_profile(sim, f->hsm, f->profile, f->row, why, sizeof(why));
	ck_assert_msg(m == 1, "after a failure at call %lu (%s): card differs from the profile: %s",
	    k, hit ? fired_in : "none", why);
	dfi_transport_free(t);
	dfi_transport_free(q.inner);
	dfi_sim_free(sim);
	return hit;
}

START_TEST(every_failure_point)
{
	struct pfix f;
	struct tally tl = { 0, 0, 0, 0 };
	unsigned long ncalls = 0, points = 0, runs = 0;
	pf_open(&f, "reference");
	/* The first card alone: how many counted calls a clean run makes. */
	ck_assert_int_eq(one_card(&f, 0, &ncalls, &tl), 0);
	ck_assert_uint_gt(ncalls, 0);
	unsigned long clean = ncalls, last = ncalls, missed = 0;
	/* The count varies by a few calls from card to card (the journal's
	 * writer thread batches what it is given as it comes): k runs up to the
	 * largest count seen in a run where nothing failed. */
	for (unsigned long k = 1; k <= last; k += DFI_FI_STRIDE) {
		if (one_card(&f, k, &ncalls, &tl)) {
			points++;
		} else {
			missed++; /* this card made fewer than k calls */
			if (ncalls > last)
				last = ncalls;
		}
		runs++;
	}
	fprintf(stderr,
	    "failure injection: a clean card makes %lu counted calls; %lu failure points taken "
	    "(stride %d, %lu runs, %lu of them made fewer calls than k), each converged on the "
	    "next tap; the failing taps ended: %u with an error, %u done anyway, %u with another "
	    "outcome; %u needed a restarted station\n",
	    clean, points, DFI_FI_STRIDE, runs, missed, tl.error, tl.done, tl.other, tl.restarts);
	/* Nearly every point was taken (a few runs near the end may be short). */
	ck_assert_uint_ge(points * DFI_FI_STRIDE + 16, clean);
	pf_journal_verifies(&f);
	pf_close(&f);
}
END_TEST

PF_TEST_MAIN("failinject", 900, every_failure_point)
