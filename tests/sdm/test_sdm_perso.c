/*
 * Secure Dynamic Messaging in personalization (issue 20), in process on a
 * simulated EV3: profiles/ev3-reference.json issues the card with its SDM
 * file (settings as the profile says, read back from the card), a second
 * tap plans nothing; a profile whose SDM settings differ plans exactly one
 * ChangeFileSettings; a tear on that command (either way) is finished by
 * the next tap; an EV2 card is refused before anything is written to it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "card_check.h"
#include "dfissue/sdm.h"
#include "perso_fix.h"
#include "simcard.h"

#define SDM_AID 0x3040F5 /* F54030 in command order */

static dfi_sim *
ev3_card(uint64_t seed, enum dfi_sim_model m)
{
	struct dfi_sim_config cfg = { .has_seed = true, .seed = seed, .no_fsync = true, .model = m };
	dfi_sim *sim;
	OK(dfi_sim_new(&sim, &cfg));
	return sim;
}

static void
tap(struct pfix *f, dfi_transport *t, struct dfi_perso_result *res)
{
	OK(dfi_perso_card(f->perso, t, f->row, res));
}

/* A fresh card of model m, its transport in *t, tapped once into res. */
static dfi_sim *
first_tap(struct pfix *f, uint64_t seed, enum dfi_sim_model m, dfi_transport **t,
    struct dfi_perso_result *res)
{
	dfi_sim *sim = ev3_card(seed, m);
	OK(dfi_sim_transport_new(sim, t));
	tap(f, *t, res);
	return sim;
}

/* The file's settings as the card reports them (listing is free there). */
static void
card_sdm(dfi_sim *sim, struct dfi_df_file_settings *fs)
{
	dfi_transport *t;
	dfi_desfire *d;
	dfi_test_card_session(sim, &t, &d);
	OK(dfi_desfire_select_application(d, SDM_AID));
	OK(dfi_desfire_get_file_settings(d, 1, fs));
	dfi_test_card_close(NULL, t, d);
}

static const struct dfi_profile_sdm *
profile_sdm(const struct pfix *f)
{
	const struct dfi_profile_spec *s = dfi_profile_spec(f->profile);
	ck_assert_uint_eq(s->napps, 3);
	ck_assert_uint_eq(s->apps[2].nfiles, 1);
	ck_assert_ptr_nonnull(s->apps[2].files[0].sdm);
	return s->apps[2].files[0].sdm;
}

/* Issues a fresh EV3 card; returns it with its transport. */
static dfi_sim *
issue(struct pfix *f, uint64_t seed, dfi_transport **t)
{
	struct dfi_perso_result res;
	char why[256];
	dfi_sim *sim = first_tap(f, seed, DFI_SIM_MODEL_EV3, t, &res);
	ck_assert_msg(res.outcome == DFI_PERSO_DONE, "outcome %s: %s",
	    dfi_perso_outcome_name(res.outcome), res.detail);
	ck_assert_msg(dfi_test_card_matches_profile(sim, f->hsm, f->profile, f->row, why,
	    sizeof(why)) == 1, "card differs from the profile: %s", why);
	return sim;
}

START_TEST(ev3_issued_then_nothing)
{
	struct pfix f;
	struct dfi_perso_result res;
	struct dfi_df_file_settings fs;
	dfi_transport *t;
	pf_open(&f, "ev3-reference");
	const struct dfi_profile_sdm *ps = profile_sdm(&f);
	ck_assert_uint_eq(ps->settings.options, DFI_DF_SDM_UID | DFI_DF_SDM_CTR | DFI_DF_SDM_ASCII);
	ck_assert_uint_eq(ps->settings.meta_read, 0xE);
	ck_assert_uint_eq(ps->settings.file_read, 1);
	ck_assert_uint_eq(ps->settings.ctr_ret, 0xF);
	dfi_sim *sim = issue(&f, 0xE3, &t);
	card_sdm(sim, &fs);
	ck_assert(fs.sdm_enabled);
	ck_assert_uint_eq(fs.sdm.uid_offset, ps->settings.uid_offset);
	ck_assert_uint_eq(fs.sdm.ctr_offset, ps->settings.ctr_offset);
	ck_assert_uint_eq(fs.sdm.mac_offset, ps->settings.mac_offset);
	ck_assert_uint_eq(fs.sdm.mac_input_offset, ps->settings.mac_input_offset);
	tap(&f, t, &res);
	ck_assert_int_eq(res.outcome, DFI_PERSO_DONE);
	ck_assert_uint_eq(res.steps_total, 0);
	ck_assert_uint_eq(pf_journal_verifies(&f), 8); /* PICC + 3 + 2 + 2 keys */
	dfi_transport_free(t);
	dfi_sim_free(sim);
	pf_close(&f);
}
END_TEST

/* ev3-reference.json with a counter limit: the same file and content,
 * other SDM settings. */
static void
limited_profile(char *out, size_t cap)
{
	char msg[256];
	snprintf(out, cap, "%s/ev3-limited.json", pf_root);
	int rc = pf_run(msg, sizeof(msg), "sed 's/\"counter_read\": \"none\"/\"counter_limit\": 1000, &/' "
	    "'%s/profiles/ev3-reference.json' >'%s' && grep -q counter_limit '%s'",
	    getenv("DFI_SOURCE_DIR"), out, out);
	ck_assert_msg(rc == 0, "%s", msg);
}

START_TEST(other_settings_one_step)
{
	struct pfix f, g;
	struct dfi_perso_result res;
	struct dfi_df_file_settings fs;
	char path[512];
	dfi_transport *t;
	pf_open(&f, "ev3-reference");
	dfi_sim *sim = issue(&f, 0xE4, &t);
	pf_close(&f);
	limited_profile(path, sizeof(path));
	pf_open(&g, path);
	tap(&g, t, &res);
	/* resumed: the card had been begun (issued) before this journal */
	ck_assert_msg(res.outcome == DFI_PERSO_DONE || res.outcome == DFI_PERSO_RESUMED, "%s: %s",
	    dfi_perso_outcome_name(res.outcome),
	    res.detail);
	ck_assert_uint_eq(res.steps_total, 1);
	ck_assert_uint_eq(res.key_changes, 0);
	card_sdm(sim, &fs);
	ck_assert(fs.sdm.options & DFI_DF_SDM_CTR_LIMIT);
	ck_assert_uint_eq(fs.sdm.ctr_limit, 1000);
	dfi_transport_free(t);
	dfi_sim_free(sim);
	pf_close(&g);
}
END_TEST

struct tear_at_5f {
	dfi_sim *sim;
	enum dfi_sim_tear_mode mode;
	int armed;
};

static void
tear_seen(void *arg, const uint8_t *c, size_t clen)
{
	struct tear_at_5f *a = arg;
	if (a->armed && c != NULL && clen > 2 && c[0] == 0x90 && c[1] == 0x5F) {
		ck_assert_int_eq(dfi_sim_set_tear(a->sim, 1, a->mode), DFI_OK);
		a->armed = 0;
	}
}

static void
torn_sdm_step(enum dfi_sim_tear_mode mode)
{
	struct pfix f;
	struct dfi_perso_result res;
	struct dfi_df_file_settings fs;
	dfi_transport *t, *inner;
	char why[256];
	pf_open(&f, "ev3-reference");
	dfi_sim *sim = ev3_card(0xE5 + mode, DFI_SIM_MODEL_EV3);
	struct tear_at_5f a = { sim, mode, 1 };
	OK(dfi_sim_transport_new(sim, &inner));
	pf_watch_new(inner, tear_seen, &a, &t);
	tap(&f, t, &res);
	ck_assert_int_eq(a.armed, 0);
	ck_assert_int_eq(res.outcome, DFI_PERSO_FAILED);
	ck_assert_int_eq(res.err, DFI_E_CARD_TORN);
	OK(dfi_transport_wait_card(t, 1000));
	tap(&f, t, &res);
	ck_assert_msg(res.outcome == DFI_PERSO_DONE || res.outcome == DFI_PERSO_RESUMED, "%s: %s",
	    dfi_perso_outcome_name(res.outcome), res.detail);
	/* The PICC's four steps (key, the LRP switch, configuration,
	 * settings) follow the SDM step; executed before the tear it is not
	 * planned again. Its change intent, left open by the tear, is resolved
	 * by the state read (new or old as the card shows) before anything is
	 * planned. */
	ck_assert_uint_eq(res.steps_total, mode == DFI_SIM_TEAR_AFTER ? 4 : 5);
	ck_assert_uint_eq(res.intents_resolved, 1);
	card_sdm(sim, &fs);
	ck_assert(fs.sdm_enabled);
	ck_assert_msg(dfi_test_card_matches_profile(sim, f.hsm, f.profile, f.row, why,
	    sizeof(why)) == 1, "card differs from the profile: %s", why);
	pf_journal_verifies(&f);
	dfi_transport_free(t);
	dfi_transport_free(inner);
	dfi_sim_free(sim);
	pf_close(&f);
}

START_TEST(torn_change_file_settings_after)
{
	torn_sdm_step(DFI_SIM_TEAR_AFTER);
}
END_TEST

START_TEST(torn_change_file_settings_before)
{
	torn_sdm_step(DFI_SIM_TEAR_BEFORE);
}
END_TEST

START_TEST(ev2_card_refused)
{
	struct pfix f;
	struct dfi_perso_result res;
	dfi_transport *t;
	pf_open(&f, "ev3-reference");
	dfi_sim *sim = first_tap(&f, 0xE2, DFI_SIM_MODEL_EV2, &t, &res);
	ck_assert_int_ne(res.outcome, DFI_PERSO_DONE);
	/* the LRP profile is refused first (lrp.c); either refusal names EV3 */
	ck_assert_msg(strstr(res.detail, "needs a DESFire EV3") != NULL, "%s", res.detail);
	/* The version bytes in hex, as NXP writes them (major 12h: EV2). */
	ck_assert_msg(strstr(res.detail, "this card reports hardware 12.00 (DESFire EV2)") != NULL, "%s",
	    res.detail);
	ck_assert_uint_eq(res.steps_done, 0);
	ck_assert_uint_eq(res.key_changes, 0);
	dfi_transport_free(t);
	dfi_sim_free(sim);
	pf_close(&f);
}
END_TEST

/* Under the sanitizers (SDM_PERSO_SUBSET, tests/sdm/CMakeLists.txt) the
 * issue, one tear and the refusal; the settings change and the other tear
 * run in release builds (the tear matrix's ev3 scenario tears every
 * APDU there). */
int
main(void)
{
	const TTest *all[] = { ev3_issued_then_nothing, torn_change_file_settings_after,
		ev2_card_refused, other_settings_one_step, torn_change_file_settings_before, NULL };
	if (getenv("SDM_PERSO_SUBSET") != NULL) {
		fprintf(stderr, "sdm-perso: the sanitizer subset (3 of 5 tests)\n");
		all[3] = NULL;
	}
	if (pf_make_token() != 0) {
		fprintf(stderr, "dev token could not be made\n");
		pf_remove_root();
		return EXIT_FAILURE;
	}
	int rc = dfi_test_main("sdm-perso", &(struct dfi_test_case){ .timeout = 300 }, all);
	pf_remove_root();
	return rc;
}
