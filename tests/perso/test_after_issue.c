/*
 * Cards after their first issue (issue 12 items 2-3).
 *
 * Random-ID cards: a card personalized with profiles/random-id.json (random
 * ID set early) shows a fresh 4-byte random ID (08 first) at each
 * activation; `dfissue inspect` names it, reads the real UID through the
 * UID key and GetCardUID, and `dfissue personalize` rotates it to
 * profiles/random-id-g2.json, all through the CLI; the card then holds
 * every generation-2 key (authenticated by the oracle) and the journal
 * verifies. A random-ID card that no UID-independent key opens is left
 * untouched; one delivered with random ID and the factory PICC key is
 * issued with its real UID.
 *
 * Adding to issued cards: profiles/add-app.json on a card issued with
 * profiles/reference.json creates application F54050 and nothing else;
 * a profile whose existing applications differ in what cannot change
 * without destroying data is refused with every conflict named, and
 * nothing is written to the card.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "card_check.h"
#include "dfissue/desfire.h"
#include "dfissue/transport.h"
#include "perso_fix.h"

static char g_cli[512], g_src[512];

static dfi_profile *
load(const char *name)
{
	char path[700];
	struct dfi_diag diag;
	dfi_profile *p;
	snprintf(path, sizeof(path), "%s/profiles/%s", g_src, name);
	ck_assert_msg(dfi_profile_load(&p, path, &diag) == DFI_OK, "%s", diag.message);
	return p;
}

/* Progress lines of a tap, kept for the assertions. */
struct lines {
	char buf[8192];
	size_t len;
};

static void
keep_line(void *ctx, const char *event)
{
	struct lines *l = ctx;
	int n = snprintf(l->buf + l->len, sizeof(l->buf) - l->len, "%s\n", event);
	if (n > 0 && (size_t)n < sizeof(l->buf) - l->len)
		l->len += (size_t)n;
}

static dfi_perso *
perso_on(struct pfix *f, const dfi_profile *p, struct lines *l)
{
	char detail[256] = "";
	dfi_perso *h;
	struct dfi_perso_config pc = { .hsm = f->hsm, .journal = f->journal, .profile = p,
		.station = "after-issue", .detail = detail, .detail_cap = sizeof(detail),
		.progress = l ? keep_line : NULL, .progress_ctx = l };
	ck_assert_msg(dfi_perso_new(&h, &pc) == DFI_OK, "dfi_perso_new: %s", detail);
	return h;
}

#ifndef AFTER_ISSUE_NO_CLI
/* The ID the reader sees (GET DATA), hex. */
static void
reader_id(dfi_transport *t, char *hex, size_t cap)
{
	static const uint8_t getdata[5] = { 0xFF, 0xCA, 0x00, 0x00, 0x00 };
	uint8_t r[16];
	size_t n;
	OK(dfi_transport_transmit(t, getdata, sizeof(getdata), r, sizeof(r), &n));
	ck_assert_uint_ge(n, 2);
	ck_assert_uint_eq(r[n - 2], 0x90);
	OK(dfi_hex_encode(r, n - 2, hex, cap));
}

#define CRED "--batch '%s/profiles/reference-batch.csv' --token pkcs11:token=dfissue-dev " \
	"--pin-file '%s/dev/user.pin'"

START_TEST(random_id_card_inspected_and_rotated_cli)
{
	static char out[65536];
	char img[400], jdir[400], why[256], uidhex[16], id1[16], id2[16];
	uint8_t uid[DFI_SIM_UID_LEN];
	struct pfix f;
	dfi_transport *t;
	int rc;

	snprintf(img, sizeof(img), "%s/rid-card.img", pf_root);
	snprintf(jdir, sizeof(jdir), "%s/rid-journal", pf_root);

	/* First issue: random ID is set right after the UID key's change. */
	rc = pf_run(out, sizeof(out), "'%s' personalize --profile '%s/profiles/random-id.json' " CRED
	    " --reader 'sim:%s' --journal '%s' --create-journal --station rid --once -v 2>&1",
	    g_cli, g_src, g_src, pf_root, img, jdir);
	ck_assert_msg(rc == 0, "personalize: %s", out);
	/* The plan changes an application's keys first (docs/PERSONALIZATION.md):
	 * the UID key (key 1 of F54030) is step 2, random ID follows at once. */
	ck_assert_msg(strstr(out, "step 2/9: change key 1 of F54030 to version 1\n"
	    "  step 3/9: set PICC configuration 02\n") != NULL, "%s", out);

	/* Two activations, two random IDs; neither is the UID. */
	pf_open(&f, "reference");
	dfi_sim *sim = pf_card(0, img);
	dfi_sim_uid(sim, uid);
	OK(dfi_hex_encode(uid, sizeof(uid), uidhex, sizeof(uidhex)));
	OK(dfi_sim_transport_new(sim, &t));
	reader_id(t, id1, sizeof(id1));
	OK(dfi_sim_power_cycle(sim));
	reader_id(t, id2, sizeof(id2));
	ck_assert_msg(strlen(id1) == 8 && strncmp(id1, "08", 2) == 0, "%s", id1);
	ck_assert_msg(strlen(id2) == 8 && strncmp(id2, "08", 2) == 0, "%s", id2);
	ck_assert_str_ne(id1, id2);
	/* GetCardUID needs an authentication. */
	{
		static const uint8_t getcarduid[5] = { 0x90, 0x51, 0x00, 0x00, 0x00 };
		uint8_t r[16];
		size_t n;
		OK(dfi_transport_transmit(t, getcarduid, sizeof(getcarduid), r, sizeof(r), &n));
		ck_assert_uint_eq(n, 2);
		ck_assert_uint_eq(r[1], 0xAE);
	}
	dfi_transport_free(t);
	dfi_sim_free(sim);

	/* Inspect without a profile: a random ID, said so. */
	rc = pf_run(out, sizeof(out), "'%s' inspect --reader 'sim:%s' 2>&1", g_cli, img);
	ck_assert_msg(rc == 0, "inspect: %s", out);
	ck_assert_msg(strstr(out, "UID 08") != NULL && strstr(out, "a random ID") != NULL, "%s",
	    out);
	ck_assert_msg(strstr(out, uidhex) == NULL, "the real UID shown without a key: %s", out);
	/* With the profile: the real UID through the UID key, nothing to do. */
	rc = pf_run(out, sizeof(out), "'%s' inspect --reader 'sim:%s' --profile "
	    "'%s/profiles/random-id.json' " CRED " 2>&1", g_cli, img, g_src, g_src, pf_root);
	ck_assert_msg(rc == 0, "inspect: %s", out);
	ck_assert_msg(strstr(out, uidhex) != NULL, "%s: %s", uidhex, out);
	ck_assert_msg(strstr(out, "random ID: UID read with GetCardUID (UID key") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "remaining steps: 0") != NULL, "%s", out);
	/* With the generation-2 profile: three keys to rotate. */
	rc = pf_run(out, sizeof(out), "'%s' inspect --reader 'sim:%s' --profile "
	    "'%s/profiles/random-id-g2.json' " CRED " 2>&1", g_cli, img, g_src, g_src, pf_root);
	ck_assert_msg(rc == 0, "inspect: %s", out);
	ck_assert_msg(strstr(out, "remaining steps: 3") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "older generation, to rotate") != NULL, "%s", out);

	/* The rotation, through the CLI. */
	rc = pf_run(out, sizeof(out), "'%s' personalize --profile '%s/profiles/random-id-g2.json' "
	    CRED " --reader 'sim:%s' --journal '%s' --station rid --once -v 2>&1", g_cli, g_src,
	    g_src, pf_root, img, jdir);
	ck_assert_msg(rc == 0, "rotate: %s", out);
	ck_assert_msg(strstr(out, "UID read with GetCardUID") != NULL, "%s", out);
	ck_assert_msg(strstr(out, uidhex) != NULL, "%s", out);
	ck_assert_msg(strstr(out, ": done (3/3 steps, 3 key changes") != NULL, "%s", out);
	/* Again: the UID key's generation 2 reads the UID, nothing to do. */
	rc = pf_run(out, sizeof(out), "'%s' personalize --profile '%s/profiles/random-id-g2.json' "
	    CRED " --reader 'sim:%s' --journal '%s' --station rid --once 2>&1", g_cli, g_src,
	    g_src, pf_root, img, jdir);
	ck_assert_msg(rc == 0 && strstr(out, ": done (0/0 steps, 0 key changes") != NULL, "%s", out);

	/* Every generation-2 key authenticates, every file as the profile's. */
	dfi_profile *g2 = load("random-id-g2.json");
	sim = pf_card(0, img);
	ck_assert_msg(dfi_test_card_matches_profile(sim, f.hsm, g2, f.row, why, sizeof(why)) == 1,
	    "%s", why);
	dfi_sim_free(sim);
	dfi_profile_free(g2);
	pf_close(&f);

	/* The journal verifies; the card's history is under its real UID. */
	rc = pf_run(out, sizeof(out), "'%s' journal verify --pubkey '%s/dev/journal.pub.pem' '%s' 2>&1",
	    g_cli, pf_root, jdir);
	ck_assert_msg(rc == 0, "journal verify: %s", out);
	rc = pf_run(out, sizeof(out), "'%s' journal show --uid %s '%s' 2>&1", g_cli, uidhex, jdir);
	ck_assert_msg(rc == 0, "journal show: %s", out);
	ck_assert_msg(strstr(out, "generation 2") != NULL || strstr(out, "gen 2") != NULL ||
	    strstr(out, "-> 2") != NULL, "%s", out);
}
END_TEST
#endif

/* Random-ID cards no UID-independent key opens are left as found; one
 * delivered with random ID and the factory PICC key gets its real UID. */
START_TEST(random_id_without_a_key)
{
	struct pfix f;
	struct dfi_perso_result res;
	struct dfi_sim_stats s0, s1;
	uint8_t uid[DFI_SIM_UID_LEN];
	dfi_transport *t;
	dfi_desfire *d;
	dfi_cardkey *des0;
	static const uint8_t zero[8];
	uint8_t cfg = 0x02;

	pf_open(&f, "reference");
	OK(dfi_cardkey_new_plain(&des0, DFI_KT_DES, zero, 8, 0));

	/* Random ID on at the factory: the PICC factory key reads the UID. */
	dfi_sim *sim = pf_card(0x12D1, NULL);
	OK(dfi_sim_transport_new(sim, &t));
	OK(dfi_desfire_new(&d, t));
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_LEGACY, 0, des0));
	OK(dfi_desfire_set_configuration(d, 0x00, &cfg, 1));
	dfi_desfire_free(d);
	OK(dfi_sim_power_cycle(sim));
	OK(dfi_perso_card(f.perso, t, f.row, &res));
	ck_assert_msg(res.outcome == DFI_PERSO_DONE, "%s: %s", dfi_perso_outcome_name(res.outcome),
	    res.detail);
	ck_assert_int_eq(res.random_id, 1);
	dfi_sim_uid(sim, uid);
	ck_assert_uint_eq(res.uid_len, DFI_SIM_UID_LEN);
	ck_assert_mem_eq(res.uid, uid, DFI_SIM_UID_LEN);

	/* Now issued: its PICC key needs the UID, and reference.json names no
	 * UID key. Failed, nothing written, nothing journaled. */
	uint64_t before = dfi_journal_size(f.journal);
	OK(dfi_sim_power_cycle(sim));
	dfi_sim_stats(sim, &s0);
	OK(dfi_perso_card(f.perso, t, f.row, &res));
	ck_assert_int_eq(res.outcome, DFI_PERSO_FAILED);
	ck_assert_int_eq(res.err, DFI_E_UNKNOWN_KEYS);
	ck_assert_msg(strstr(res.detail, "names no picc.uid_key") != NULL, "%s", res.detail);
	/* Inspect says the same, read-only. */
	char *report = NULL;
	OK(dfi_sim_power_cycle(sim));
	OK(dfi_perso_inspect(f.perso, t, f.row, &report));
	ck_assert_msg(report != NULL && strstr(report, "random-ID card (ID 08") != NULL &&
	    strstr(report, "names no picc.uid_key") != NULL, "%s", report ? report : "(null)");
	free(report);
	dfi_sim_stats(sim, &s1);
	ck_assert_uint_eq(s1.commits, s0.commits);
	ck_assert_uint_eq(dfi_journal_size(f.journal), before);
	ck_assert_uint_eq(pf_journal_verifies(&f), 6);

	dfi_transport_free(t);
	dfi_sim_free(sim);
	dfi_cardkey_free(des0);
	pf_close(&f);
}
END_TEST

/* The profile's text with edits applied (path of members, new value). */
static dfi_profile *
edited(const char *name, void (*edit)(json_t *root))
{
	char path[700];
	json_error_t je;
	struct dfi_diag diag;
	dfi_profile *p;
	snprintf(path, sizeof(path), "%s/profiles/%s", g_src, name);
	json_t *root = json_load_file(path, 0, &je);
	ck_assert_msg(root != NULL, "%s", je.text);
	edit(root);
	char *text = json_dumps(root, JSON_INDENT(2));
	ck_assert_ptr_nonnull(text);
	ck_assert_msg(dfi_profile_load_buffer(&p, "conflicts.json", text, strlen(text), &diag) ==
	    DFI_OK, "%s", diag.message);
	free(text);
	json_decref(root);
	return p;
}

static json_t *
app_file(json_t *root, size_t app, size_t file)
{
	return json_array_get(json_object_get(json_array_get(json_object_get(root,
	    "applications"), app), "files"), file);
}

/* F54010 file 0 larger, F54010 file 1 MACed instead of enciphered,
 * F54020 file 0 cyclic instead of linear, F54020 with a third key. */
static void
make_conflicts(json_t *root)
{
	json_object_set_new(app_file(root, 0, 0), "size", json_integer(64));
	json_object_set_new(app_file(root, 0, 1), "comm", json_string("mac"));
	json_object_set_new(app_file(root, 1, 0), "type", json_string("cyclic"));
	json_t *keys = json_object_get(json_array_get(json_object_get(root, "applications"), 1),
	    "keys");
	json_t *k = json_deep_copy(json_array_get(keys, 1));
	json_array_append_new(json_object_get(k, "diversification"), json_string("hex:02"));
	json_array_append_new(keys, k);
}

START_TEST(add_application_and_conflicts)
{
	struct pfix f;
	struct dfi_perso_result res;
	struct dfi_sim_stats s0, s1;
	struct lines l = { .len = 0 };
	char why[256];
	dfi_transport *t;

	pf_open(&f, "reference");
	dfi_profile *add = load("add-app.json");
	dfi_perso *padd = perso_on(&f, add, &l);
	dfi_sim *sim = pf_card(0xADD1, NULL);
	OK(dfi_sim_transport_new(sim, &t));
	OK(dfi_perso_card(f.perso, t, f.row, &res));
	ck_assert_int_eq(res.outcome, DFI_PERSO_DONE);

	/* The addition: application F54050, its two files (and their
	 * contents), its two keys and its settings; nothing else. */
	OK(dfi_sim_power_cycle(sim));
	OK(dfi_perso_card(padd, t, f.row, &res));
	ck_assert_msg(res.outcome == DFI_PERSO_DONE, "%s: %s", dfi_perso_outcome_name(res.outcome),
	    res.detail);
	ck_assert_uint_eq(res.steps_total, 8);
	ck_assert_uint_eq(res.key_changes, 2);
	ck_assert_msg(strstr(l.buf, "step 1/8: create application F54050") != NULL, "%s", l.buf);
	for (const char *s = l.buf; (s = strstr(s, "step ")) != NULL; s++) {
		const char *eol = strchr(s, '\n');
		ck_assert_msg(eol != NULL && memmem(s, (size_t)(eol - s), "F54050", 6) != NULL,
		    "a step outside the new application: %.*s", (int)(eol ? eol - s : 40), s);
	}
	ck_assert_msg(dfi_test_card_matches_profile(sim, f.hsm, add, f.row, why, sizeof(why)) == 1,
	    "%s", why);
	OK(dfi_sim_power_cycle(sim));
	OK(dfi_perso_card(padd, t, f.row, &res));
	ck_assert_int_eq(res.outcome, DFI_PERSO_DONE);
	ck_assert_uint_eq(res.steps_total, 0);

	/* Conflicts: every one named, the card refused, nothing written. */
	dfi_profile *bad = edited("add-app.json", make_conflicts);
	l.len = 0;
	l.buf[0] = '\0';
	dfi_perso *pbad = perso_on(&f, bad, &l);
	uint64_t before = dfi_journal_size(f.journal);
	OK(dfi_sim_power_cycle(sim));
	dfi_sim_stats(sim, &s0);
	OK(dfi_perso_card(pbad, t, f.row, &res));
	ck_assert_msg(res.outcome == DFI_PERSO_REFUSED, "%s: %s",
	    dfi_perso_outcome_name(res.outcome), res.detail);
	ck_assert_int_eq(res.refusal_cause, DFI_JCAUSE_CONFLICT);
	ck_assert_uint_eq(res.conflicts, 4);
	ck_assert_msg(strstr(l.buf, "conflict: application F54010 file 0: size 32 (profile 64)"),
	    "%s", l.buf);
	ck_assert_msg(strstr(l.buf, "conflict: application F54010 file 1: communication full "
	    "(profile mac)"), "%s", l.buf);
	ck_assert_msg(strstr(l.buf, "conflict: application F54020 has 2 key(s)"), "%s", l.buf);
	ck_assert_msg(strstr(l.buf, "conflict: application F54020 file 0: type linear (profile "
	    "cyclic)"), "%s", l.buf);
	dfi_sim_stats(sim, &s1);
	ck_assert_uint_eq(s1.commits, s0.commits);
	ck_assert_uint_gt(dfi_journal_size(f.journal), before); /* the refusal record */
	ck_assert_msg(dfi_test_card_matches_profile(sim, f.hsm, add, f.row, why, sizeof(why)) == 1,
	    "%s", why);
	pf_journal_verifies(&f);

	dfi_perso_free(pbad);
	dfi_profile_free(bad);
	dfi_transport_free(t);
	dfi_sim_free(sim);
	dfi_perso_free(padd);
	dfi_profile_free(add);
	pf_close(&f);
}
END_TEST

int
main(void)
{
	const char *src = getenv("DFI_SOURCE_DIR"), *bld = getenv("DFI_BUILD_DIR");
	/* without them pf_test_main fails before any test runs */
	snprintf(g_cli, sizeof(g_cli), "%s/bin/dfissue", bld != NULL ? bld : "");
	snprintf(g_src, sizeof(g_src), "%s", src != NULL ? src : "");
	/* Sanitizer builds (CI time): the engine's cases in process; the CLI
	 * case runs the same engine paths through nine CLI processes. */
	return pf_test_main("after_issue", &(struct dfi_test_case){ .timeout = 300 }, 1,
	    (const TTest *[]){
#ifndef AFTER_ISSUE_NO_CLI
	    random_id_card_inspected_and_rotated_cli,
#endif
	    random_id_without_a_key, add_application_and_conflicts, NULL });
}
