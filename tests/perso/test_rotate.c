/*
 * Key rotation (issue 12): a card issued with profiles/reference.json
 * (generation 1) converges to profiles/rotation-g2.json (generation 2, the
 * generation-1 keys named as "previous") through the same two-phase journal
 * protocol as first issuance; a second tap finds nothing to do; a tear
 * during the first issue (every ROT_STRIDE-th APDU, both modes) followed by
 * the rotation profile on the same journal ends with every key at
 * generation 2 and a journal that verifies. Prints the tear summary line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "card_check.h"
#include "perso_fix.h"

#ifndef ROT_STRIDE
#define ROT_STRIDE 5 /* every 5th tear point (the tear matrix has the rotation's all); sanitizer builds fewer */
#endif

/* The fixture's reference perso, and one on the same HSM and journal for
 * the generation-2 profile. */
struct rot {
	struct pfix f;
	dfi_profile *p2;
	dfi_perso *perso2;
};

static void
rot_open(struct rot *r)
{
	const char *src = getenv("DFI_SOURCE_DIR");
	char path[512], detail[256] = "";
	struct dfi_diag diag;
	pf_open(&r->f, "reference");
	snprintf(path, sizeof(path), "%s/profiles/rotation-g2.json", src);
	ck_assert_msg(dfi_profile_load(&r->p2, path, &diag) == DFI_OK, "%s", diag.message);
	struct dfi_perso_config pc = { .hsm = r->f.hsm, .journal = r->f.journal, .profile = r->p2,
		.station = "perso-test", .detail = detail, .detail_cap = sizeof(detail) };
	ck_assert_msg(dfi_perso_new(&r->perso2, &pc) == DFI_OK, "dfi_perso_new: %s", detail);
}

static void
rot_close(struct rot *r)
{
	dfi_perso_free(r->perso2);
	dfi_profile_free(r->p2);
	pf_close(&r->f);
}

static void
assert_at(struct rot *r, dfi_sim *sim, const dfi_profile *p, const char *what)
{
	char why[256];
	int m = dfi_test_card_matches_profile(sim, r->f.hsm, p, r->f.row, why, sizeof(why));
	ck_assert_msg(m == 1, "%s: card differs from the profile: %s", what, why);
}

/* A new presentation of the card to perso; the outcome must be want. */
static void
present(dfi_perso *p, dfi_sim *sim, dfi_transport *t, const dfi_batch_row *row,
    struct dfi_perso_result *res, enum dfi_perso_outcome want, const char *what)
{
	OK(dfi_sim_power_cycle(sim));
	OK(dfi_perso_card(p, t, row, res));
	ck_assert_msg(res->outcome == want, "%s: %s: %s", what, dfi_perso_outcome_name(res->outcome),
	    res->detail);
}

START_TEST(rotate_issued_card)
{
	struct rot r;
	struct dfi_perso_result res;
	dfi_transport *t;
	rot_open(&r);
	dfi_sim *sim = pf_card(0x2071, NULL);
	OK(dfi_sim_transport_new(sim, &t));

	present(r.f.perso, sim, t, r.f.row, &res, DFI_PERSO_DONE, "issue");
	ck_assert_uint_eq(res.key_changes, 6);
	assert_at(&r, sim, r.f.profile, "generation 1");

	present(r.perso2, sim, t, r.f.row, &res, DFI_PERSO_DONE, "rotate");
	/* PICC + 3 + 1: F54020's master key is frozen by its settings (the
	 * profile keeps it at generation 1); files and settings are right. */
	ck_assert_uint_eq(res.key_changes, 5);
	ck_assert_uint_eq(res.steps_total, 5);
	fprintf(stderr, "rotation: %u steps, %llu APDUs\n", res.steps_total,
	    (unsigned long long)res.apdus);
	/* Authenticates with every generation-2 per-card key, reads every file. */
	assert_at(&r, sim, r.p2, "generation 2");

	present(r.perso2, sim, t, r.f.row, &res, DFI_PERSO_DONE, "second rotate");
	ck_assert_uint_eq(res.key_changes, 0);
	ck_assert_uint_eq(res.steps_total, 0);

	/* The generation-1 profile now sees keys it cannot name. */
	present(r.f.perso, sim, t, r.f.row, &res, DFI_PERSO_UNKNOWN_KEYS, "generation-1 profile");

	ck_assert_uint_eq(pf_journal_verifies(&r.f), 11);
	dfi_transport_free(t);
	dfi_sim_free(sim);
	rot_close(&r);
}
END_TEST

/* A generation the token no longer holds (retired, destroyed) is no
 * candidate: the profile still loads, and a card still at that generation
 * is unknown-keys, left untouched (nothing journaled for it). */
START_TEST(retired_generation_is_no_candidate)
{
	const char *src = getenv("DFI_SOURCE_DIR");
	char path[512], detail[256] = "", *buf, *at;
	struct rot r;
	struct dfi_perso_result res;
	struct dfi_diag diag;
	dfi_profile *retired;
	dfi_perso *p;
	dfi_transport *t;
	FILE *fp;
	long n;

	rot_open(&r);
	snprintf(path, sizeof(path), "%s/profiles/rotation-g2.json", src);
	fp = fopen(path, "rb");
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	ck_assert_int_gt(n, 0);
	rewind(fp);
	buf = calloc(1, (size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	/* The PICC key's previous generation: "picc-master" -> "picc-mastex". */
	at = strstr(buf, "object=picc-master;");
	ck_assert_ptr_nonnull(at);
	at[strlen("object=picc-maste")] = 'x';
	ck_assert_msg(dfi_profile_load_buffer(&retired, "retired.json", buf, (size_t)n, &diag) ==
	    DFI_OK, "%s", diag.message);
	free(buf);
	struct dfi_perso_config pc = { .hsm = r.f.hsm, .journal = r.f.journal, .profile = retired,
		.station = "perso-test", .detail = detail, .detail_cap = sizeof(detail) };
	ck_assert_msg(dfi_perso_new(&p, &pc) == DFI_OK, "dfi_perso_new: %s", detail);

	dfi_sim *sim = pf_card(0x2072, NULL);
	OK(dfi_sim_transport_new(sim, &t));
	present(r.f.perso, sim, t, r.f.row, &res, DFI_PERSO_DONE, "issue");
	present(p, sim, t, r.f.row, &res, DFI_PERSO_UNKNOWN_KEYS, "retired generation");
	ck_assert_uint_eq(res.key_changes, 0);
	assert_at(&r, sim, r.f.profile, "left at generation 1");
	ck_assert_uint_eq(pf_journal_verifies(&r.f), 6);

	dfi_transport_free(t);
	dfi_sim_free(sim);
	dfi_perso_free(p);
	dfi_profile_free(retired);
	rot_close(&r);
}
END_TEST

/* Taps with perso until it is done (or 4 taps), after an armed tear. */
static void
finish(dfi_perso *p, dfi_transport *t, const dfi_batch_row *row, struct dfi_perso_result *res)
{
	int taps = 1;
	while (res->outcome == DFI_PERSO_FAILED && res->err == DFI_E_CARD_TORN && taps < 4) {
		OK(dfi_transport_wait_card(t, 1000));
		OK(dfi_perso_card(p, t, row, res));
		taps++;
	}
}

struct tally {
	unsigned cases, recovered, unknown, failures;
};

/* A tear during the first issue (reference) at every ROT_STRIDE-th APDU;
 * the operator has moved on to generation 2 before the card comes back, so
 * the rotation profile finishes it: the slot of the torn ChangeKey holds
 * the factory key or the intent's (generation 1) key, an open intent of
 * this journal; the others generation 1 or factory. */
static void
sweep(struct rot *r, enum dfi_sim_tear_mode mode, struct tally *tl)
{
	struct dfi_perso_result res;
	unsigned total, n;
	const char *mname = mode == DFI_SIM_TEAR_AFTER ? "after" : "before";

	{
		dfi_sim *probe = pf_card(0x61000 + (unsigned)mode, NULL);
		dfi_transport *t;
		OK(dfi_sim_transport_new(probe, &t));
		OK(dfi_perso_card(r->f.perso, t, r->f.row, &res));
		ck_assert_int_eq(res.outcome, DFI_PERSO_DONE);
		total = (unsigned)res.apdus;
		dfi_transport_free(t);
		dfi_sim_free(probe);
	}
	for (n = 1 + (unsigned)mode % ROT_STRIDE; n <= total; n += ROT_STRIDE) {
		dfi_sim *sim = pf_card(0x51000 + 2 * n + (unsigned)mode, NULL);
		dfi_transport *t;
		char why[256];
		OK(dfi_sim_transport_new(sim, &t));
		OK(dfi_sim_set_tear(sim, n, mode));
		OK(dfi_perso_card(r->f.perso, t, r->f.row, &res));
		if (res.outcome == DFI_PERSO_FAILED && res.err == DFI_E_CARD_TORN) {
			OK(dfi_transport_wait_card(t, 1000));
			OK(dfi_perso_card(r->perso2, t, r->f.row, &res));
		}
		finish(r->perso2, t, r->f.row, &res);
		tl->cases++;
		if (res.outcome == DFI_PERSO_UNKNOWN_KEYS)
			tl->unknown++;
		if (res.outcome != DFI_PERSO_DONE && res.outcome != DFI_PERSO_RESUMED) {
			tl->failures++;
			ck_abort_msg("first issue tear %s at APDU %u: %s: %s", mname, n,
			    dfi_perso_outcome_name(res.outcome), res.detail);
		}
		if (dfi_test_card_matches_profile(sim, r->f.hsm, r->p2, r->f.row, why,
			sizeof(why)) != 1) {
			tl->failures++;
			ck_abort_msg("first issue tear %s at APDU %u: %s", mname, n, why);
		}
		tl->recovered++;
		dfi_transport_free(t);
		dfi_sim_free(sim);
	}
	fprintf(stderr, "first issue then rotation, tear %s: %u APDUs, every %u-th torn\n", mname,
	    total, ROT_STRIDE);
}

START_TEST(tear_first_issue_then_rotation)
{
	struct rot r;
	struct tally tl = { 0 };
	rot_open(&r);
	sweep(&r, DFI_SIM_TEAR_BEFORE, &tl);
	sweep(&r, DFI_SIM_TEAR_AFTER, &tl);
	pf_journal_verifies(&r.f);
	fprintf(stderr, "rotation (torn first issue, same journal): tear cases: %u, recovered: %u, "
	    "unknown-keys: %u, failures: %u\n", tl.cases, tl.recovered, tl.unknown, tl.failures);
	ck_assert_uint_eq(tl.unknown, 0);
	ck_assert_uint_eq(tl.failures, 0);
	ck_assert_uint_gt(tl.cases, 0);
	rot_close(&r);
}
END_TEST

/* Tears during the rotation of an issued card: the tear matrix's rotation
 * scenario (tests/tear); here the first issue torn on this station's
 * journal, its open intent a candidate of the rotation. The key ceremony
 * of generation 2 first. */
int
main(void)
{
	return pf_test_main("rotate", &(struct dfi_test_case){ .timeout = 600 }, 1,
	    (const TTest *[]){ rotate_issued_card, retired_generation_is_no_candidate,
	    tear_first_issue_then_rotation, NULL });
}
