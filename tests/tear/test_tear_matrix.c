/*
 * The tear matrix over the reference profile (profiles/reference.json, first
 * row of reference-batch.csv), on the in-process simulator with keys in a
 * SoftHSM2 dev token.
 *
 * A clean run counts C APDUs. Then, each case on a fresh card image and a
 * fresh journal:
 *   singles: a tear at APDU N (1..C) of the first tap, in mode before (the
 *            card never sees the command) or after (the card executes it,
 *            the answer is lost); then ONE tap without a tear must finish;
 *   pairs:   a first tear at N (one mode per ctest test), a second tear at
 *            every APDU M of the recovery tap (both modes), then ONE tap
 *            without a tear must finish.
 * Every case ends with tear_check(): the card equals the profile field by
 * field (keys compared inside the HSM), the journal verifies with the
 * public key with no unresolved intent, no open intent is left, and no
 * ChangeKey ever left without a durable, signed intent (guard transport).
 *
 * The part to run is argv[1]: singles, pairs-before or pairs-after. A stride
 * S > 1 (argv[2]; sanitizer builds) runs the pairs with M = N + 1 (mod S) only,
 * or the singles at every S-th N, a deterministic subset; the output says so. "case N MODE [M MODE2]" runs
 * one case (with TEAR_VERBOSE=1 the engine's progress, with TEAR_APDUS=1 too
 * every APDU, on stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "testutil.h"

#include "tear_fix.h"

static const char *part = "singles";
static unsigned stride = 1;
/* "case N MODE [M MODE2]": one case, to reproduce (with TEAR_VERBOSE=1). */
static unsigned one_n, one_m;
static enum dfi_sim_tear_mode one_mode, one_mode2;

static void
kase_open(struct tear_env *e, struct tear_case *k)
{
	char why[400];
	ck_assert_msg(tear_case_open(e, k, why, sizeof(why)) == 0, "%s", why);
}

/* C: the APDUs of a clean run (the simulator's count). */
static unsigned
clean_run(struct tear_env *e)
{
	struct tear_case k;
	struct dfi_perso_result res;
	struct dfi_sim_stats st, st0;
	char why[400];
	kase_open(e, &k);
	/* The tap's own APDUs: a scenario's prepare may have talked to the card. */
	dfi_sim_stats(k.c.sim, &st0);
	double t0 = now_s();
	ck_assert_int_eq(tear_tap(&k.c, &k.s, &res), DFI_OK);
	double dt = now_s() - t0;
	ck_assert_msg(res.outcome == DFI_PERSO_DONE, "clean run: %s: %s (%s)",
	    dfi_perso_outcome_name(res.outcome), dfi_strerror(res.err), res.detail);
	ck_assert_msg(tear_check(&k.c, &k.s, why, sizeof(why)) == 1, "clean run: %s", why);
	dfi_sim_stats(k.c.sim, &st);
	st.apdus -= st0.apdus;
	ck_assert_uint_gt(st.apdus, 0);
	ck_assert_uint_gt(tear_guard_change_keys(&k.c), 0);
	printf("clean run: %llu APDUs (guard saw %llu; engine minimum %u), %u ChangeKey, %.1f ms\n",
	    (unsigned long long)st.apdus, (unsigned long long)tear_guard_apdus(&k.c),
	    dfi_perso_min_apdus(e->profile), tear_guard_change_keys(&k.c), dt * 1e3);
	/* A finished card tapped again: nothing to do, still the target. */
	ck_assert_int_eq(tear_tap(&k.c, &k.s, &res), DFI_OK);
	ck_assert_msg(res.outcome == DFI_PERSO_DONE || res.outcome == DFI_PERSO_RESUMED,
	    "tap on a finished card: %s: %s (%s)", dfi_perso_outcome_name(res.outcome),
	    dfi_strerror(res.err), res.detail);
	ck_assert_msg(tear_check(&k.c, &k.s, why, sizeof(why)) == 1, "after a second tap: %s", why);
	tear_case_close(&k);
	return (unsigned)st.apdus;
}

/* The first tap with a tear armed at n: it must fire and the tap must say
 * FAILED/torn. 0 when so, else why. */
static int
torn_tap(struct tear_case *k, unsigned n, enum dfi_sim_tear_mode m, char *why, size_t cap,
    int *finished)
{
	struct dfi_perso_result res;
	struct dfi_sim_stats before, after;
	dfi_sim_stats(k->c.sim, &before);
	ck_assert_int_eq(dfi_sim_set_tear(k->c.sim, n, m), DFI_OK);
	dfi_err r = tear_tap(&k->c, &k->s, &res);
	dfi_sim_stats(k->c.sim, &after);
	dfi_sim_set_tear(k->c.sim, 0, m);
	*finished = r == DFI_OK &&
	    (res.outcome == DFI_PERSO_DONE || res.outcome == DFI_PERSO_RESUMED);
	if (after.tears == before.tears)
		return snprintf(why, cap, "tear did not fire (tap: %s)",
		    dfi_perso_outcome_name(res.outcome)), 1;
	if (r != DFI_OK || res.outcome != DFI_PERSO_FAILED || res.err != DFI_E_CARD_TORN) {
		snprintf(why, cap, "torn tap returned %s, outcome %s, err %s (%.300s)", dfi_strerror(r),
		    dfi_perso_outcome_name(res.outcome), dfi_strerror(res.err), res.detail);
		return -1;
	}
	return 0;
}

static void
finish_and_check(struct tear_case *k, struct tear_tally *t, const char *label)
{
	char why[600] = "";
	int unknown = 0, ok = 0;
	enum dfi_perso_outcome o = tear_finish(&k->c, &k->s, 1, &unknown, why, sizeof(why));
	if (o == DFI_PERSO_DONE || o == DFI_PERSO_RESUMED)
		ok = tear_check(&k->c, &k->s, why, sizeof(why)) == 1;
	tear_tally_add(t, ok && !unknown, unknown, label, why);
}

static void
single(struct tear_env *e, struct tear_tally *t, unsigned n, enum dfi_sim_tear_mode m)
{
	struct tear_case k;
	char label[64], why[400];
	snprintf(label, sizeof(label), "single N=%u mode=%s", n, tear_mode_name(m));
	kase_open(e, &k);
	int fin;
	int r = torn_tap(&k, n, m, why, sizeof(why), &fin);
	if (r != 0)
		tear_tally_add(t, 0, 0, label, why);
	else
		finish_and_check(&k, t, label);
	tear_case_close(&k);
}

/* 1 when the second tear fired (a case was counted), 0 when the recovery
 * tap ended before APDU m2 (no more cases for this n). */
static int
pair(struct tear_env *e, struct tear_tally *t, unsigned n, enum dfi_sim_tear_mode m1, unsigned m2,
    enum dfi_sim_tear_mode mode2)
{
	struct tear_case k;
	char label[96], why[400];
	int fired = 1, fin;
	snprintf(label, sizeof(label), "pair N=%u mode=%s M=%u mode=%s", n, tear_mode_name(m1), m2,
	    tear_mode_name(mode2));
	kase_open(e, &k);
	int r = torn_tap(&k, n, m1, why, sizeof(why), &fin);
	if (r != 0) {
		tear_tally_add(t, 0, 0, label, why);
		fired = 0; /* the first tear is the same for every m2: once is enough */
	} else {
		r = torn_tap(&k, m2, mode2, why, sizeof(why), &fin);
		if (r > 0) {
			/* No APDU m2 in the recovery tap: no more cases for this n. */
			fired = 0;
			if (!fin)
				tear_tally_add(t, 0, 0, label,
				    "the recovery tap stopped without finishing and without a tear");
		} else if (r < 0)
			tear_tally_add(t, 0, 0, label, why);
		else
			finish_and_check(&k, t, label);
	}
	tear_case_close(&k);
	return fired;
}

START_TEST(tear_matrix)
{
	struct tear_env e;
	struct tear_tally t;
	char why[400];
	memset(&t, 0, sizeof(t));
	ck_assert_msg(tear_env_open(&e, NULL, NULL, why, sizeof(why)) == 0, "%s", why);
	unsigned c = clean_run(&e);
	double t0 = now_s();

	if (strcmp(part, "case") == 0) {
		if (one_m == 0)
			single(&e, &t, one_n, one_mode);
		else
			(void)pair(&e, &t, one_n, one_mode, one_m, one_mode2);
		ck_assert_uint_eq(t.cases, 1);
	} else if (strcmp(part, "singles") == 0) {
		if (stride > 1)
			printf("singles: every %u-th tear point only (a deterministic subset, offset by "
			    "mode); the release build runs all\n", stride);
		for (int m = DFI_SIM_TEAR_BEFORE; m <= DFI_SIM_TEAR_AFTER; m++)
			for (unsigned n = 1 + (stride > 1 ? (unsigned)m % stride : 0); n <= c; n += stride)
				single(&e, &t, n, (enum dfi_sim_tear_mode)m);
		if (stride == 1)
			ck_assert_uint_eq(t.cases, 2 * c);
		else
			ck_assert_uint_ge(t.cases, 2 * (c / stride));
	} else {
		enum dfi_sim_tear_mode m1 = strcmp(part, "pairs-before") == 0 ? DFI_SIM_TEAR_BEFORE
		    : DFI_SIM_TEAR_AFTER;
		ck_assert_msg(strcmp(part, "pairs-before") == 0 || strcmp(part, "pairs-after") == 0,
		    "unknown part %s", part);
		if (stride > 1)
			printf("%s: sanitizer build: the pairs with M = N + 1 (mod %u) only (a deterministic "
			    "1/%u subset); the release build runs all\n", part, stride, stride);
		for (unsigned n = 1; n <= c; n++) {
			if (n % 10 == 0) {
				printf("%s: N=%u/%u, %u cases so far, %.0f s\n", part, n, c, t.cases,
				    now_s() - t0);
				fflush(stdout);
			}
			for (int m2 = DFI_SIM_TEAR_BEFORE; m2 <= DFI_SIM_TEAR_AFTER; m2++) {
				for (unsigned mm = 1 + (stride > 1 ? n % stride : 0);; mm += stride) {
					if (!pair(&e, &t, n, m1, mm, (enum dfi_sim_tear_mode)m2))
						break;
				}
			}
		}
		ck_assert_uint_gt(t.cases, 2 * c);
	}
	double dt = now_s() - t0;
	printf("%s: %u cases in %.1f s (%.1f ms per case)\n", part, t.cases, dt,
	    t.cases ? dt * 1e3 / t.cases : 0.0);
	tear_tally_print(&e, &t, part);
	tear_env_close(&e);
	ck_assert_uint_eq(t.unknown, 0);
	ck_assert_uint_eq(t.failures, 0);
	ck_assert_uint_eq(t.recovered, t.cases);
}
END_TEST

static enum dfi_sim_tear_mode
mode_arg(const char *s)
{
	return strcmp(s, "after") == 0 ? DFI_SIM_TEAR_AFTER : DFI_SIM_TEAR_BEFORE;
}

int
main(int argc, char **argv)
{
	if (argc > 1)
		part = argv[1];
	if (strcmp(part, "case") == 0) {
		if (argc != 4 && argc != 6) {
			fprintf(stderr, "usage: %s case N before|after [M before|after]\n", argv[0]);
			return 2;
		}
		one_n = (unsigned)strtoul(argv[2], NULL, 10);
		one_mode = mode_arg(argv[3]);
		if (argc == 6) {
			one_m = (unsigned)strtoul(argv[4], NULL, 10);
			one_mode2 = mode_arg(argv[5]);
		}
	} else if (argc > 2) {
		stride = (unsigned)strtoul(argv[2], NULL, 10);
	}
	if (stride == 0)
		stride = 1;
	return dfi_test_main(part,
	    &(const struct dfi_test_case){ .timeout = DFI_TEST_NO_TIMEOUT, .run = tear_run_suite },
	    (const TTest *[]){ tear_matrix, NULL });
}
