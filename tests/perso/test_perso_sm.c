/*
 * Which secure messaging personalization speaks, seen on the wire (issue
 * 20, item 0): the reference profile on a simulated EV2 card authenticates
 * its AES keys with AuthenticateEV2First/NonFirst (0x71/0x77) and never
 * with AuthenticateAES (0xAA), so every command after them runs under EV2
 * secure messaging (the simulator checks the transaction identifier and
 * command counter in every MAC); on an EV1 card, and with "secure_messaging":
 * "ev1" on an EV2 card, only AuthenticateAES. The PICC's factory DES key is
 * 0x0A in all three. Each card ends equal to the profile, and the journal
 * verifies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "card_check.h"
#include "perso_fix.h"

/* Counts the native authentication commands (a pf_watch observer). */
struct authspy {
	unsigned n0a, n1a, naa, n71, n77;
};

static void
spy_seen(void *arg, const uint8_t *c, size_t clen)
{
	struct authspy *s = arg;
	if (c == NULL || clen < 5 || c[0] != 0x90)
		return;
	s->n0a += c[1] == 0x0A;
	s->n1a += c[1] == 0x1A;
	s->naa += c[1] == 0xAA;
	s->n71 += c[1] == 0x71;
	s->n77 += c[1] == 0x77;
}

/* Personalizes a fresh card of model m with the profile; counts in *s. */
static void
run(const char *profile, enum dfi_sim_model m, struct authspy *s)
{
	struct pfix f;
	struct dfi_perso_result res;
	struct dfi_sim_config cfg = { .has_seed = true, .seed = 0x5E0 + (uint64_t)m,
		.no_fsync = true, .model = m };
	dfi_sim *sim;
	dfi_transport *t, *inner;
	char why[256];
	memset(s, 0, sizeof(*s));
	pf_open(&f, profile);
	OK(dfi_sim_new(&sim, &cfg));
	OK(dfi_sim_transport_new(sim, &inner));
	pf_watch_new(inner, spy_seen, s, &t);
	OK(dfi_perso_card(f.perso, t, f.row, &res));
	ck_assert_msg(res.outcome == DFI_PERSO_DONE, "outcome %s: %s",
	    dfi_perso_outcome_name(res.outcome), res.detail);
	ck_assert_uint_eq(res.key_changes, 6);
	int match = dfi_test_card_matches_profile(sim, f.hsm, f.profile, f.row, why, sizeof(why));
	ck_assert_msg(match == 1, "card differs from the profile: %s", why);
	ck_assert_uint_eq(pf_journal_verifies(&f), 6);
	fprintf(stderr, "%s on %s: 0x0A %u, 0x1A %u, 0xAA %u, 0x71 %u, 0x77 %u, %llu APDUs\n",
	    profile[0] == '/' ? "secure_messaging ev1" : profile,
	    m == DFI_SIM_MODEL_EV1 ? "EV1" : "EV2", s->n0a, s->n1a, s->naa, s->n71, s->n77,
	    (unsigned long long)res.apdus);
	dfi_transport_free(t);
	dfi_transport_free(inner);
	dfi_sim_free(sim);
	pf_close(&f);
}

START_TEST(ev2_card_ev2_messaging)
{
	struct authspy s;
	run("reference", DFI_SIM_MODEL_EV2, &s);
	ck_assert_uint_eq(s.naa, 0);
	ck_assert_uint_gt(s.n71, 0);
	ck_assert_uint_gt(s.n0a, 0); /* the factory DES PICC key */
	ck_assert_uint_eq(s.n1a, 0);
}
END_TEST

START_TEST(ev1_card_ev1_messaging)
{
	struct authspy s;
	run("reference", DFI_SIM_MODEL_EV1, &s);
	ck_assert_uint_eq(s.n71 + s.n77, 0);
	ck_assert_uint_gt(s.naa, 0);
	ck_assert_uint_gt(s.n0a, 0);
}
END_TEST

/* The profile asks for EV1 messaging: an EV2 card gets it. */
START_TEST(profile_asks_ev1)
{
	char src[512], dst[512], buf[65536];
	snprintf(src, sizeof(src), "%s/profiles/reference.json", getenv("DFI_SOURCE_DIR"));
	snprintf(dst, sizeof(dst), "%s/reference-ev1.json", pf_root);
	FILE *in = fopen(src, "r"), *out = fopen(dst, "w");
	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(out);
	size_t n = fread(buf, 1, sizeof(buf) - 1, in);
	buf[n] = 0;
	char *brace = strchr(buf, '{');
	ck_assert_ptr_nonnull(brace);
	fwrite(buf, 1, (size_t)(brace - buf) + 1, out);
	fputs("\n  \"secure_messaging\": \"ev1\",", out);
	fputs(brace + 1, out);
	fclose(in);
	fclose(out);
	struct authspy s;
	run(dst, DFI_SIM_MODEL_EV2, &s);
	ck_assert_uint_eq(s.n71 + s.n77, 0);
	ck_assert_uint_gt(s.naa, 0);
}
END_TEST

PF_TEST_MAIN("perso-sm", 300, ev2_card_ev2_messaging, ev1_card_ev1_messaging, profile_asks_ev1)
