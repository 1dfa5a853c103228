/*
 * Cross-station recovery: a card torn under station A (journal A) is
 * finished by station B (its own journal B, the same HSM keys), which knows
 * nothing of A's intents and must read the card and probe its keys.
 *
 * For every ChangeKey of a clean tap (the guard's APDU number c), tears at
 * c and at c + 1 in both modes under A; then one tap under B must finish. The
 * card must equal the profile and journal B verify with no unresolved
 * intent. Then the card comes back to A: A resolves whatever intent it
 * left open by probing the card, and journal A verifies with no unresolved
 * intent too.
 */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#include "tear_fix.h"

START_TEST(cross_station)
{
	struct tear_env e;
	struct tear_tally t;
	struct tear_case kc;
	struct tear_station b;
	struct dfi_perso_result res;
	char why[600], label[128], bdir[600];
	uint64_t ck[32];
	unsigned nck;
	memset(&t, 0, sizeof(t));
	ck_assert_msg(tear_env_open(&e, NULL, NULL, why, sizeof(why)) == 0, "%s", why);

	ck_assert_msg(tear_case_open(&e, &kc, why, sizeof(why)) == 0, "%s", why);
	ck_assert_int_eq(tear_tap(&kc.c, &kc.s, &res), DFI_OK);
	ck_assert_msg(res.outcome == DFI_PERSO_DONE, "clean run: %s (%s)",
	    dfi_perso_outcome_name(res.outcome), res.detail);
	nck = tear_guard_change_keys(&kc.c);
	ck_assert_uint_gt(nck, 0);
	ck_assert_uint_le(nck, 32);
	for (unsigned i = 0; i < nck; i++)
		ck[i] = tear_guard_change_key_at(&kc.c, i);
	tear_case_close(&kc);
	printf("cross: %u ChangeKey in a clean tap\n", nck);

	for (unsigned i = 0; i < nck; i++) {
		for (unsigned d = 0; d <= 1; d++) {
			for (int m = DFI_SIM_TEAR_BEFORE; m <= DFI_SIM_TEAR_AFTER; m++) {
				unsigned n = (unsigned)ck[i] + d;
				snprintf(label, sizeof(label), "cross ChangeKey #%u tear at %u mode %s", i + 1,
				    n, tear_mode_name((enum dfi_sim_tear_mode)m));
				ck_assert_msg(tear_case_open(&e, &kc, why, sizeof(why)) == 0, "%s", why);
				snprintf(bdir, sizeof(bdir), "%s/b", kc.dir);
				ck_assert_msg(tear_station_open(&b, &e, bdir, "station-b", 1, why,
				    sizeof(why)) == 0, "%s", why);
				ck_assert_int_eq(dfi_sim_set_tear(kc.c.sim, n, (enum dfi_sim_tear_mode)m),
				    DFI_OK);
				ck_assert_int_eq(tear_tap(&kc.c, &kc.s, &res), DFI_OK);
				int ok = 0, unknown = 0;
				why[0] = '\0';
				if (res.outcome != DFI_PERSO_FAILED || res.err != DFI_E_CARD_TORN) {
					snprintf(why, sizeof(why), "tap under A was not torn: %s (%.300s)",
					    dfi_perso_outcome_name(res.outcome), res.detail);
				} else {
					enum dfi_perso_outcome o = tear_finish(&kc.c, &b, 1, &unknown, why,
					    sizeof(why));
					if (o == DFI_PERSO_DONE || o == DFI_PERSO_RESUMED)
						ok = tear_check(&kc.c, &b, why, sizeof(why)) == 1;
					if (ok) {
						/* Back to A: its open intents get resolved. */
						ok = 0;
						o = tear_finish(&kc.c, &kc.s, 1, &unknown, why, sizeof(why));
						if (o == DFI_PERSO_DONE || o == DFI_PERSO_RESUMED)
							ok = tear_check(&kc.c, &kc.s, why, sizeof(why)) == 1;
						if (!ok) {
							/* Prefix in place, cutting the tail if it must. */
							static const char pre[] = "back at A: ";
							size_t pl = sizeof(pre) - 1;
							size_t keep = strnlen(why, sizeof(why) - 1);
							if (keep > sizeof(why) - 1 - pl)
								keep = sizeof(why) - 1 - pl;
							memmove(why + pl, why, keep);
							memcpy(why, pre, pl);
							why[pl + keep] = '\0';
						}
					}
				}
				tear_tally_add(&t, ok && !unknown, unknown, label, why);
				tear_station_close(&b);
				tear_case_close(&kc);
			}
		}
	}
	tear_tally_print(&e, &t, "cross-station");
	tear_env_close(&e);
	ck_assert_uint_eq(t.cases, 4 * nck);
	ck_assert_uint_eq(t.recovered, t.cases);
}
END_TEST

int
main(void)
{
	return dfi_test_main("tear-cross", &(const struct dfi_test_case){ .timeout = DFI_TEST_NO_TIMEOUT, .run = tear_run_suite },
	    (const TTest *[]){ cross_station, NULL });
}
