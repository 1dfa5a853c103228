/*
 * An HSM error at every PKCS#11 call of a personalization. The HSM layer
 * loads faultp11 (forwarding to SoftHSM2) instead of SoftHSM2; a clean tap
 * of the reference profile makes K calls (counted from the start of
 * dfi_perso_card; docs in faultp11.h say which calls count). For every
 * k in 1..K, on a fresh card and journal: call k fails with
 * CKR_DEVICE_ERROR, and
 *   - no ChangeKey leaves without a durable, signed intent (guard
 *     transport: checked at the moment each ChangeKey is sent);
 *   - the tap fails with a clear error: an HSM or journal error code and a
 *     non-empty one-line detail (or the fault hit a call whose failure is
 *     harmless, e.g. destroying a session key, and the tap still finished);
 *   - the next tap without a fault finishes the card (after a journal error
 *     returned by dfi_perso_card the station first reopens its journal, as
 *     a restarted station would), and the case ends in the full invariant
 *     (tear_check).
 */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#include "faultp11_ctl.h"
#include "tear_fix.h"

static void
kase_open(struct tear_env *e, struct tear_case *k)
{
	char why[400];
	ck_assert_msg(tear_case_open(e, k, why, sizeof(why)) == 0, "%s", why);
}

static int
clear_error(dfi_err r, const struct dfi_perso_result *res)
{
	dfi_err e = r != DFI_OK ? r : res->err;
	int hsm = e >= DFI_E_HSM_MODULE && e <= DFI_E_HSM_GENERAL;
	int journal = e >= DFI_E_JOURNAL_LOCKED && e <= DFI_E_JOURNAL_ROLLBACK;
	return (hsm || journal || e == DFI_E_IO) && (r != DFI_OK || res->detail[0] != '\0');
}

START_TEST(hsm_fault_every_call)
{
	struct tear_env e;
	struct tear_tally t;
	struct faultp11_ctl c;
	struct tear_case k;
	struct dfi_perso_result res;
	char why[600], label[160];
	unsigned absorbed = 0, failed_clearly = 0, unclear = 0, not_fired = 0;
	char absorbed_names[400] = "";
	int sign_shown = 0;
	memset(&t, 0, sizeof(t));
	ck_assert_msg(tear_env_open(&e, FAULTP11_PATH, NULL, why, sizeof(why)) == 0, "%s", why);
	faultp11_ctl_open(&c, FAULTP11_PATH);

	/* The clean run: how many calls. */
	kase_open(&e, &k);
	c.arm(0);
	ck_assert_int_eq(tear_tap(&k.c, &k.s, &res), DFI_OK);
	unsigned long n = c.calls();
	ck_assert_msg(res.outcome == DFI_PERSO_DONE, "clean run: %s (%s)",
	    dfi_perso_outcome_name(res.outcome), res.detail);
	ck_assert_msg(tear_check(&k.c, &k.s, why, sizeof(why)) == 1, "clean run: %s", why);
	tear_case_close(&k);
	ck_assert_uint_gt(n, 0);
	printf("hsm faults: a clean tap makes %lu PKCS#11 calls\n", n);

	for (unsigned long i = 1; i <= n; i++) {
		kase_open(&e, &k);
		c.arm(i);
		dfi_err r = tear_tap(&k.c, &k.s, &res);
		int fired = c.fired();
		char fn[64];
		snprintf(fn, sizeof(fn), "%s", c.name());
		c.arm(0);
		snprintf(label, sizeof(label), "hsm fault at call %lu (%s)", i, fn);
		if (!fired) {
			/* The journal signs queued batches in its own thread, and
			 * batches queued while one is being written go out under one
			 * checkpoint: a run can make fewer signing calls (two per
			 * checkpoint) than the counted one. Then every call it did
			 * make had its turn; the tap must simply have finished. */
			int ok = r == DFI_OK && res.outcome == DFI_PERSO_DONE &&
			    tear_check(&k.c, &k.s, why, sizeof(why)) == 1;
			not_fired++;
			tear_tally_add(&t, ok, 0, label,
			    ok ? "" : "the fault did not fire and the tap did not finish");
			tear_case_close(&k);
			continue;
		}
		int done = r == DFI_OK &&
		    (res.outcome == DFI_PERSO_DONE || res.outcome == DFI_PERSO_RESUMED);
		if (done) {
			absorbed++;
			size_t al = strlen(absorbed_names);
			if (al + strlen(fn) + 2 < sizeof(absorbed_names))
				snprintf(absorbed_names + al, sizeof(absorbed_names) - al, "%s%s",
				    al ? " " : "", fn);
		} else if (clear_error(r, &res)) {
			failed_clearly++;
			int first_sign = strcmp(fn, "C_Sign") == 0 && !sign_shown;
			if (first_sign)
				sign_shown = 1;
			if (failed_clearly <= 3 || first_sign) {
				/* What the operator reads (a few examples). */
				printf("hsm faults: call %lu (%s): %s: %s\n", i, fn,
				    r != DFI_OK ? "tap returned" : "tap failed",
				    r != DFI_OK ? dfi_strerror(r) : res.detail);
			}
		} else {
			unclear++;
			snprintf(why, sizeof(why), "unclear error: returned %s, outcome %s, err %s (%.300s)",
			    dfi_strerror(r), dfi_perso_outcome_name(res.outcome), dfi_strerror(res.err),
			    res.detail);
			tear_tally_add(&t, 0, 0, label, why);
			tear_case_close(&k);
			continue;
		}
		int unknown = res.outcome == DFI_PERSO_UNKNOWN_KEYS, ok = 0;
		why[0] = '\0';
		if (r != DFI_OK && tear_station_reopen(&k.s, why, sizeof(why)) != 0) {
			tear_tally_add(&t, 0, 0, label, why);
			tear_case_close(&k);
			continue;
		}
		enum dfi_perso_outcome o = done ? res.outcome
		    : tear_finish(&k.c, &k.s, 1, &unknown, why, sizeof(why));
		if (o == DFI_PERSO_DONE || o == DFI_PERSO_RESUMED)
			ok = tear_check(&k.c, &k.s, why, sizeof(why)) == 1;
		tear_tally_add(&t, ok && !unknown, unknown, label, why);
		tear_case_close(&k);
	}
	printf("hsm faults: %lu calls faulted: %u failed with a clear error, %u absorbed "
	       "(tap finished: %s), %u unclear, %u past the end of a run with merged journal batches\n",
	    n, failed_clearly, absorbed, absorbed ? absorbed_names : "-", unclear, not_fired);
	tear_tally_print(&e, &t, "hsm faults");
	tear_env_close(&e);
	ck_assert_uint_eq(t.cases, n);
	ck_assert_uint_eq(t.recovered, t.cases);
	/* At most every checkpoint of a card (7 on the reference profile, two
	 * signing calls each) merged away. */
	ck_assert_uint_le(not_fired, 14);
}
END_TEST

int
main(void)
{
	return dfi_test_main("tear-hsm", &(const struct dfi_test_case){ .timeout = DFI_TEST_NO_TIMEOUT, .run = tear_run_suite },
	    (const TTest *[]){ hsm_fault_every_call, NULL });
}
