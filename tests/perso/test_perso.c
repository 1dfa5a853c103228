/*
 * The personalization engine against the simulator with keys in a SoftHSM2
 * dev token and a signed journal: a clean run on a factory card, a second
 * tap on a finished card, the seed's scenario (tap 1 torn right after the
 * PICC master key change, tap 2 finishes), a card with unknown keys, and a
 * sweep of single tears at every APDU of a run in both modes.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "card_check.h"
#include "dfissue/desfire.h"
#include "perso_fix.h"

/* Notes the index of the ChangeKey sent at the PICC level (the PICC
 * master key change), through a pf_watch transport. */
struct spy {
	unsigned n;
	uint32_t selected;
	unsigned picc_changekey;
};

static void
spy_seen(void *arg, const uint8_t *c, size_t clen)
{
	struct spy *s = arg;
	if (c == NULL) { /* a new connection: the PICC level again */
		s->selected = 0;
		return;
	}
	s->n++;
	if (clen >= 5 && c[0] == 0x90 && c[1] == 0x5A && clen >= 8)
		s->selected = (uint32_t)c[5] | (uint32_t)c[6] << 8 | (uint32_t)c[7] << 16;
	if (clen >= 5 && c[0] == 0x90 && c[1] == 0xC4 && s->selected == 0)
		s->picc_changekey = s->n;
}

static void
tap(struct pfix *f, dfi_transport *t, struct dfi_perso_result *res)
{
	OK(dfi_perso_card(f->perso, t, f->row, res));
}

static void
assert_matches(struct pfix *f, dfi_sim *sim)
{
	char why[256];
	int m = dfi_test_card_matches_profile(sim, f->hsm, f->profile, f->row, why, sizeof(why));
	ck_assert_msg(m == 1, "card differs from the profile: %s", why);
}

START_TEST(clean_then_second_tap)
{
	struct pfix f;
	struct dfi_perso_result res;
	dfi_transport *t;
	pf_open(&f, "reference");
	dfi_sim *sim = pf_card(0xC1EA4, NULL);
	OK(dfi_sim_transport_new(sim, &t));

	tap(&f, t, &res);
	ck_assert_msg(res.outcome == DFI_PERSO_DONE, "outcome %s: %s",
	    dfi_perso_outcome_name(res.outcome), res.detail);
	ck_assert_uint_eq(res.uid_len, 7);
	ck_assert_uint_eq(res.key_changes, 6); /* PICC + 3 + 2 */
	ck_assert_uint_eq(res.steps_done, res.steps_total);
	ck_assert_uint_gt(res.steps_total, 10);
	ck_assert_uint_ge(res.apdus, dfi_perso_min_apdus(f.profile));
	fprintf(stderr, "clean: %u steps, %llu APDUs (minimum %u)\n", res.steps_total,
	    (unsigned long long)res.apdus, dfi_perso_min_apdus(f.profile));
	assert_matches(&f, sim);

	/* A new power cycle; the finished card needs nothing. */
	OK(dfi_sim_power_cycle(sim));
	tap(&f, t, &res);
	ck_assert_msg(res.outcome == DFI_PERSO_DONE, "second tap %s: %s",
	    dfi_perso_outcome_name(res.outcome), res.detail);
	ck_assert_uint_eq(res.key_changes, 0);
	ck_assert_uint_eq(res.steps_total, 0);
	fprintf(stderr, "second tap: %llu APDUs\n", (unsigned long long)res.apdus);
	assert_matches(&f, sim);
	ck_assert_uint_eq(pf_journal_verifies(&f), 6);

	dfi_transport_free(t);
	dfi_sim_free(sim);
	pf_close(&f);
}
END_TEST

/* The seed's scenario: factory card; tap 1 torn right after the PICC
 * master key change (the card executed it, the answer was lost); tap 2
 * resolves the open intent and finishes everything. */
START_TEST(seed_scenario)
{
	struct pfix f;
	struct dfi_perso_result res;
	dfi_transport *t, *st, *inner;
	struct spy spy = { 0 };
	unsigned at;

	pf_open(&f, "reference");
	/* Where the PICC ChangeKey falls, from a run on an identical card. */
	{
		dfi_sim *probe = pf_card(0x5EED, NULL);
		OK(dfi_sim_transport_new(probe, &inner));
		pf_watch_new(inner, spy_seen, &spy, &st);
		tap(&f, st, &res);
		ck_assert_int_eq(res.outcome, DFI_PERSO_DONE);
		at = spy.picc_changekey;
		ck_assert_uint_gt(at, 0);
		dfi_transport_free(st);
		dfi_transport_free(inner);
		dfi_sim_free(probe);
	}
	pf_close(&f);
	pf_open(&f, "reference"); /* a fresh journal */
	dfi_sim *sim = pf_card(0x5EED, NULL);
	OK(dfi_sim_transport_new(sim, &t));
	OK(dfi_sim_set_tear(sim, at, DFI_SIM_TEAR_AFTER));

	tap(&f, t, &res);
	ck_assert_int_eq(res.outcome, DFI_PERSO_FAILED);
	ck_assert_int_eq(res.err, DFI_E_CARD_TORN);
	ck_assert_uint_eq(res.key_changes, 5); /* application keys; PICC key unconfirmed */
	/* The card has the new PICC key; the journal an open intent for it. */
	struct dfi_sim_key_info ki;
	OK(dfi_sim_key_info(sim, 0, 0, &ki));
	ck_assert_int_eq(ki.type, DFI_KT_AES128);
	ck_assert_uint_eq(ki.version, 1);
	ck_assert_int_eq(dfi_test_card_key_is(sim, f.hsm, &dfi_profile_spec(f.profile)->picc.key,
	    0, 0, f.row), 1);
	dfi_jkey jk = { .uid_len = 7, .aid = 0, .keyno = 0 };
	dfi_sim_uid(sim, jk.uid);
	dfi_jrec open;
	OK(dfi_journal_open_intent(f.journal, &jk, &open));

	OK(dfi_transport_wait_card(t, 1000));
	tap(&f, t, &res);
	ck_assert_msg(res.outcome == DFI_PERSO_RESUMED, "tap 2 %s: %s",
	    dfi_perso_outcome_name(res.outcome), res.detail);
	ck_assert_uint_eq(res.intents_resolved, 1);
	ck_assert_uint_eq(res.key_changes, 0);
	assert_matches(&f, sim);
	ck_assert_int_eq(dfi_journal_open_intent(f.journal, &jk, &open), DFI_E_NOT_FOUND);
	ck_assert_uint_eq(pf_journal_verifies(&f), 6);

	dfi_transport_free(t);
	dfi_sim_free(sim);
	pf_close(&f);
}
END_TEST

/* A card whose PICC master key is neither the factory's nor the target:
 * reported, left untouched, nothing journaled. */
START_TEST(unknown_keys)
{
	static const uint8_t other[16] = { 0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
		11, 12 };
	static const uint8_t zero[8];
	struct pfix f;
	struct dfi_perso_result res;
	dfi_transport *t;
	dfi_desfire *d;
	dfi_cardkey *des0, *k;

	pf_open(&f, "reference");
	dfi_sim *sim = pf_card(0xBAD, NULL);
	OK(dfi_sim_transport_new(sim, &t));
	OK(dfi_desfire_new(&d, t));
	OK(dfi_cardkey_new_plain(&des0, DFI_KT_DES, zero, 8, 0));
	OK(dfi_cardkey_new_plain(&k, DFI_KT_AES128, other, 16, 1));
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_LEGACY, 0, des0));
	OK(dfi_desfire_change_key(d, 0, k, NULL));
	dfi_desfire_free(d);
	uint64_t before = dfi_journal_size(f.journal);
	struct dfi_sim_stats s0, s1;
	dfi_sim_stats(sim, &s0);

	tap(&f, t, &res);
	ck_assert_int_eq(res.outcome, DFI_PERSO_UNKNOWN_KEYS);
	ck_assert_int_eq(res.err, DFI_E_UNKNOWN_KEYS);
	ck_assert_msg(strstr(res.detail, "PICC master key") != NULL, "%s", res.detail);
	dfi_sim_stats(sim, &s1);
	ck_assert_uint_eq(s1.commits, s0.commits); /* nothing written */
	ck_assert_int_eq(dfi_sim_key_equals(sim, 0, 0, DFI_KT_AES128, other, 16), 1);
	struct dfi_sim_picc_info pi;
	OK(dfi_sim_picc_info(sim, &pi));
	ck_assert_uint_eq(pi.napps, 0);
	ck_assert_uint_eq(dfi_journal_size(f.journal), before);

	dfi_cardkey_free(des0);
	dfi_cardkey_free(k);
	dfi_transport_free(t);
	dfi_sim_free(sim);
	pf_close(&f);
}
END_TEST

/* An application key changed to something else beforehand, and an
 * application of another key type: unknown-keys and a conflict, the card
 * untouched either way. */
START_TEST(application_unknown_key_and_conflict)
{
	static const uint8_t other[16] = { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0xA, 0xB, 0xC, 0xD, 0xE,
		0xF };
	static const uint8_t zero[16];
	struct pfix f;
	struct dfi_perso_result res;
	struct dfi_sim_stats s0, s1;
	dfi_transport *t;
	dfi_desfire *d;
	dfi_cardkey *aes0, *k;
	const uint32_t aid1 = 0x1040F5; /* F54010 in command order */

	pf_open(&f, "reference");
	OK(dfi_cardkey_new_plain(&aes0, DFI_KT_AES128, zero, 16, 0));
	OK(dfi_cardkey_new_plain(&k, DFI_KT_AES128, other, 16, 7));

	/* Key 1 of the first application is neither factory nor target. */
	dfi_sim *sim = pf_card(0xA99, NULL);
	OK(dfi_sim_transport_new(sim, &t));
	OK(dfi_desfire_new(&d, t));
	OK(dfi_desfire_create_application(d, aid1, 0x0F, 3, DFI_KT_AES128));
	OK(dfi_desfire_select_application(d, aid1));
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_AES, 0, aes0));
	OK(dfi_desfire_change_key(d, 1, k, aes0));
	dfi_desfire_free(d);
	uint64_t before = dfi_journal_size(f.journal);
	dfi_sim_stats(sim, &s0);
	tap(&f, t, &res);
	ck_assert_int_eq(res.outcome, DFI_PERSO_UNKNOWN_KEYS);
	ck_assert_msg(strstr(res.detail, "application F54010 key 1") != NULL, "%s", res.detail);
	dfi_sim_stats(sim, &s1);
	ck_assert_uint_eq(s1.commits, s0.commits);
	ck_assert_uint_eq(dfi_journal_size(f.journal), before);
	dfi_transport_free(t);
	dfi_sim_free(sim);

	/* The first application exists with DES keys: a conflict, not deleted. */
	sim = pf_card(0xA9A, NULL);
	OK(dfi_sim_transport_new(sim, &t));
	OK(dfi_desfire_new(&d, t));
	OK(dfi_desfire_create_application(d, aid1, 0x0F, 3, DFI_KT_DES));
	dfi_desfire_free(d);
	dfi_sim_stats(sim, &s0);
	tap(&f, t, &res);
	/* Refused (issue 12: every conflict named, journaled), nothing written. */
	ck_assert_int_eq(res.outcome, DFI_PERSO_REFUSED);
	ck_assert_int_eq(res.refusal_cause, DFI_JCAUSE_CONFLICT);
	ck_assert_uint_eq(res.conflicts, 1);
	ck_assert_msg(strstr(res.detail, "F54010") != NULL, "%s", res.detail);
	dfi_sim_stats(sim, &s1);
	ck_assert_uint_eq(s1.commits, s0.commits);
	struct dfi_sim_app_info ai;
	OK(dfi_sim_app_info(sim, aid1, &ai));
	ck_assert_int_ne(ai.keytype, DFI_KT_AES128);
	ck_assert_uint_eq(dfi_journal_size(f.journal), before + 1); /* the refusal record */
	dfi_transport_free(t);
	dfi_sim_free(sim);

	dfi_cardkey_free(aes0);
	dfi_cardkey_free(k);
	pf_close(&f);
}
END_TEST

/* One tear at APDU n (both modes), then taps until done: the card ends in
 * the target state and the journal verifies without open intents. */
static void
sweep(const char *profile, enum dfi_sim_tear_mode mode)
{
	struct pfix f;
	struct dfi_perso_result res;
	unsigned total, n;

	pf_open(&f, profile);
	{
		dfi_sim *probe = pf_card(0x7EA2, NULL);
		dfi_transport *t;
		OK(dfi_sim_transport_new(probe, &t));
		tap(&f, t, &res);
		ck_assert_int_eq(res.outcome, DFI_PERSO_DONE);
		total = (unsigned)res.apdus;
		dfi_transport_free(t);
		dfi_sim_free(probe);
	}
	for (n = 1; n <= total; n++) {
		dfi_sim *sim = pf_card(0x7EA2 + n, NULL);
		dfi_transport *t;
		OK(dfi_sim_transport_new(sim, &t));
		OK(dfi_sim_set_tear(sim, n, mode));
		tap(&f, t, &res);
		int taps = 1;
		while (res.outcome == DFI_PERSO_FAILED && res.err == DFI_E_CARD_TORN && taps < 4) {
			OK(dfi_transport_wait_card(t, 1000));
			tap(&f, t, &res);
			taps++;
		}
		ck_assert_msg(res.outcome == DFI_PERSO_DONE || res.outcome == DFI_PERSO_RESUMED,
		    "tear %s at APDU %u: %s: %s", mode == DFI_SIM_TEAR_AFTER ? "after" : "before",
		    n, dfi_perso_outcome_name(res.outcome), res.detail);
		char why[256];
		int m = dfi_test_card_matches_profile(sim, f.hsm, f.profile, f.row, why,
		    sizeof(why));
		ck_assert_msg(m == 1, "tear at APDU %u: %s", n, why);
		dfi_transport_free(t);
		dfi_sim_free(sim);
	}
	fprintf(stderr, "%s, tear %s: %u tear points, all finished\n", profile,
	    mode == DFI_SIM_TEAR_AFTER ? "after" : "before", total);
	pf_journal_verifies(&f);
	pf_close(&f);
}

START_TEST(tear_sweep_after)
{
	sweep("reference", DFI_SIM_TEAR_AFTER);
	sweep("des-legacy", DFI_SIM_TEAR_AFTER);
}
END_TEST

START_TEST(tear_sweep_before)
{
	sweep("reference", DFI_SIM_TEAR_BEFORE);
	sweep("des-legacy", DFI_SIM_TEAR_BEFORE);
}
END_TEST

/* The other shipped profiles: DES-family application keys (legacy and ISO
 * authentication, versions in parity bits) and the minimal profile. */
START_TEST(other_profiles)
{
	static const char *names[] = { "des-legacy", "minimal" };
	for (size_t i = 0; i < 2; i++) {
		struct pfix f;
		struct dfi_perso_result res;
		dfi_transport *t;
		pf_open(&f, names[i]);
		dfi_sim *sim = pf_card(0x0E0 + i, NULL);
		OK(dfi_sim_transport_new(sim, &t));
		tap(&f, t, &res);
		ck_assert_msg(res.outcome == DFI_PERSO_DONE, "%s: %s: %s", names[i],
		    dfi_perso_outcome_name(res.outcome), res.detail);
		assert_matches(&f, sim);
		fprintf(stderr, "%s: %u steps, %llu APDUs (minimum %u)\n", names[i],
		    res.steps_total, (unsigned long long)res.apdus, dfi_perso_min_apdus(f.profile));
		ck_assert_uint_ge(res.apdus, dfi_perso_min_apdus(f.profile));
		OK(dfi_sim_power_cycle(sim));
		tap(&f, t, &res);
		ck_assert_msg(res.outcome == DFI_PERSO_DONE && res.key_changes == 0, "%s again: %s",
		    names[i], res.detail);
		dfi_transport_free(t);
		dfi_sim_free(sim);
		pf_journal_verifies(&f);
		pf_close(&f);
	}
}
END_TEST

/* A profile whose target key version is the factory's is refused at load,
 * with the line, before any HSM is opened (audit k33p); dfi_perso_new
 * keeps its own check (keys.c) for a spec that did not come from the
 * loader. */
START_TEST(version_zero_refused)
{
	char path[512];
	struct dfi_diag diag;
	dfi_profile *p = NULL;
	snprintf(path, sizeof(path), "%s/profiles/minimal.json", getenv("DFI_SOURCE_DIR"));
	FILE *fp = fopen(path, "r");
	ck_assert_ptr_nonnull(fp);
	static char buf[8192];
	size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	char *v = strstr(buf, "\"version\": 1");
	ck_assert_ptr_nonnull(v);
	v[11] = '0';
	ck_assert_int_eq(dfi_profile_load_buffer(&p, "v0.json", buf, n, &diag), DFI_E_PROFILE);
	ck_assert_ptr_null(p);
	ck_assert_str_eq(diag.message, "v0.json:9: picc.key.version: must be 1..255: 0 is the "
	    "factory version, and a changed key must be told from a factory one (got 0)");
}
END_TEST

/* The claim lease (dfi_perso_config.claim_lease_ms): 0 is the default,
 * 1 s .. 1 h are taken, anything else is refused with a line saying what
 * to give. */
START_TEST(claim_lease_bounds)
{
	static const struct {
		unsigned ms;
		dfi_err want;
	} c[] = { { 0, DFI_OK }, { 1000, DFI_OK }, { 3600000, DFI_OK }, { 999, DFI_E_INVALID_ARG },
		{ 3600001, DFI_E_INVALID_ARG } };
	struct pfix f;
	pf_open(&f, "minimal");
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char detail[256] = "";
		dfi_perso *ps = NULL;
		struct dfi_perso_config pc = { .hsm = f.hsm, .journal = f.journal, .profile = f.profile,
			.detail = detail, .detail_cap = sizeof(detail), .claim_lease_ms = c[i].ms,
			.keys_from = f.perso };
		ck_assert_int_eq(dfi_perso_new(&ps, &pc), c[i].want);
		if (c[i].want == DFI_OK) {
			ck_assert_ptr_nonnull(ps);
		} else {
			ck_assert_ptr_null(ps);
			ck_assert_msg(strstr(detail, "(1 s to 1 h)") != NULL, "%u ms: %s", c[i].ms, detail);
		}
		dfi_perso_free(ps);
	}
	pf_close(&f);
}
END_TEST

/* Several stations in one process: one dfi_perso per thread sharing the
 * HSM, the journal and the profile, each on its own card. */
struct station {
	struct pfix *f;
	dfi_perso *perso;
	dfi_sim *sim;
	dfi_transport *t;
	struct dfi_perso_result res[3];
	dfi_err e;
};

static void *
station_run(void *arg)
{
	struct station *st = arg;
	/* A tear on the first tap of every card, then taps until done. */
	st->e = dfi_sim_set_tear(st->sim, 50, DFI_SIM_TEAR_AFTER);
	for (int i = 0; i < 3 && st->e == DFI_OK; i++) {
		if (i > 0)
			st->e = dfi_transport_wait_card(st->t, 1000);
		if (st->e == DFI_OK)
			st->e = dfi_perso_card(st->perso, st->t, st->f->row, &st->res[i]);
		if (st->e == DFI_OK && st->res[i].outcome != DFI_PERSO_FAILED)
			break;
	}
	return NULL;
}

START_TEST(parallel_stations)
{
	enum { N = 4 };
	struct pfix f;
	struct station st[N];
	pthread_t th[N];
	char why[256];

	pf_open(&f, "reference");
	for (int i = 0; i < N; i++) {
		memset(&st[i], 0, sizeof(st[i]));
		st[i].f = &f;
		struct dfi_perso_config pc = { .hsm = f.hsm, .journal = f.journal,
			.profile = f.profile, .station = "thread" };
		OK(dfi_perso_new(&st[i].perso, &pc));
		st[i].sim = pf_card(0x9A0 + (uint64_t)i, NULL);
		OK(dfi_sim_transport_new(st[i].sim, &st[i].t));
	}
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, station_run, &st[i]), 0);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	for (int i = 0; i < N; i++) {
		OK(st[i].e);
		ck_assert_int_eq(st[i].res[0].err, DFI_E_CARD_TORN);
		ck_assert_msg(st[i].res[1].outcome == DFI_PERSO_RESUMED, "station %d: %s", i,
		    st[i].res[1].detail);
		ck_assert_msg(dfi_test_card_matches_profile(st[i].sim, f.hsm, f.profile, f.row, why,
		    sizeof(why)) == 1, "station %d: %s", i, why);
		dfi_transport_free(st[i].t);
		dfi_sim_free(st[i].sim);
		dfi_perso_free(st[i].perso);
	}
	ck_assert_uint_eq(pf_journal_verifies(&f), N * 6);
	pf_close(&f);
}
END_TEST

START_TEST(min_apdus_formula)
{
	struct dfi_diag diag;
	dfi_profile *p;
	char path[512];
	snprintf(path, sizeof(path), "%s/profiles/minimal.json", getenv("DFI_SOURCE_DIR"));
	ck_assert_msg(dfi_profile_load(&p, path, &diag) == DFI_OK, "%s", diag.message);
	unsigned m = dfi_perso_min_apdus(p);
	ck_assert_uint_gt(m, 0);
	dfi_profile_free(p);
	ck_assert_uint_eq(dfi_perso_min_apdus(NULL), 0);
}
END_TEST

PF_TEST_MAIN("perso", 600,
    clean_then_second_tap, seed_scenario, unknown_keys,
    application_unknown_key_and_conflict, tear_sweep_after, tear_sweep_before,
    min_apdus_formula, other_profiles, version_zero_refused, parallel_stations,
    claim_lease_bounds)
