/*
 * The personalization CLI end to end: `dfissue personalize --reader
 * sim:IMAGE` on a factory card image with a tear injected after the PICC
 * master key change (--tear-at/--tear-mode), then `dfissue inspect` with
 * and without the profile, `dfissue recover`, and usage errors. The card
 * image is then opened with the simulator library and compared with the
 * profile field by field.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "perso_fix.h"

static char g_cli[512], g_src[512];

static void
paths(void)
{
	snprintf(g_cli, sizeof(g_cli), "%s/bin/dfissue", getenv("DFI_BUILD_DIR"));
	snprintf(g_src, sizeof(g_src), "%s", getenv("DFI_SOURCE_DIR"));
}

#define COMMON "--profile '%s/profiles/reference.json' --batch '%s/profiles/reference-batch.csv' " \
	"--token pkcs11:token=dfissue-dev --pin-file '%s/dev/user.pin'"

START_TEST(personalize_torn_then_inspect)
{
	static char out[65536];
	char img[400], jdir[400];
	int rc;

	paths();
	snprintf(img, sizeof(img), "%s/cli-card.img", pf_root);
	snprintf(jdir, sizeof(jdir), "%s/cli-journal", pf_root);

	/* Factory card, no keys: what the card shows freely. */
	rc = pf_run(out, sizeof(out), "'%s' inspect --reader 'sim:%s' 2>&1", g_cli, img);
	ck_assert_msg(rc == 0, "inspect: %s", out);
	ck_assert_msg(strstr(out, "PICC key settings 0F") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "0 application(s)") != NULL, "%s", out);

	/* Tap 1 torn in the middle of the plan (APDU 40, executed, answer
	 * lost); the CLI waits for the card again and tap 2 finishes it. */
	rc = pf_run(out, sizeof(out), "'%s' personalize " COMMON " --reader 'sim:%s' --journal '%s' "
	    "--create-journal --station cli-test --json --tear-at 40 --tear-mode after 2>/dev/null",
	    g_cli, g_src, g_src, pf_root, img, jdir);
	ck_assert_msg(rc == 0, "personalize rc %d: %s", rc, out);
	json_error_t je;
	json_t *o = json_loads(out, JSON_DECODE_ANY, &je);
	ck_assert_msg(o != NULL, "not JSON: %s", out);
	const char *outcome = json_string_value(json_object_get(o, "outcome"));
	ck_assert_ptr_nonnull(outcome);
	ck_assert_msg(strcmp(outcome, "resumed") == 0, "%s", out);
	ck_assert_ptr_nonnull(json_string_value(json_object_get(o, "uid")));
	ck_assert_int_eq(json_integer_value(json_object_get(o, "batch_line")), 2);
	json_decref(o);

	/* The card now equals the profile. */
	pf_assert_image_is("reference", 0, img);

	/* Inspect with the profile: nothing remains. */
	rc = pf_run(out, sizeof(out), "'%s' inspect --reader 'sim:%s' " COMMON " 2>&1", g_cli, img,
	    g_src, g_src, pf_root);
	ck_assert_msg(rc == 0, "inspect: %s", out);
	ck_assert_msg(strstr(out, "remaining steps: 0") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "target (authenticated)") != NULL, "%s", out);

	/* Keyless inspect of the finished card: listing is no longer free. */
	rc = pf_run(out, sizeof(out), "'%s' inspect --reader 'sim:%s' 2>&1", g_cli, img);
	ck_assert_msg(rc == 0, "inspect: %s", out);
	ck_assert_msg(strstr(out, "PICC master key 0: version 1") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "not listed without the PICC master key") != NULL, "%s", out);

	/* The journal: verifies, no unresolved intent. */
	rc = pf_run(out, sizeof(out), "'%s' recover --journal '%s' --pubkey '%s/dev/journal.pub.pem'",
	    g_cli, jdir, pf_root);
	ck_assert_msg(rc == 0, "recover: %s", out);
	ck_assert_msg(strstr(out, "0 unresolved intent(s)") != NULL, "%s", out);

	/* A second run on the finished card: done, nothing changed. */
	rc = pf_run(out, sizeof(out), "'%s' personalize " COMMON " --reader 'sim:%s' --journal '%s' "
	    "--once 2>/dev/null", g_cli, g_src, g_src, pf_root, img, jdir);
	ck_assert_msg(rc == 0, "personalize: %s", out);
	ck_assert_msg(strstr(out, ": done (0/0 steps, 0 key changes") != NULL, "%s", out);
}
END_TEST

static void
keep(void *ctx, const dfi_jrec *in)
{
	*(dfi_jrec *)ctx = *in;
}

/* A tap torn right after a ChangeKey (executed, answer lost) leaves an
 * open intent: the library runs taps with a tear at successive APDUs until
 * one does, then `dfissue recover` must list it. */
START_TEST(recover_lists_open_intent)
{
	static char out[65536];
	struct pfix f;
	struct dfi_perso_result res;
	dfi_transport *t;
	paths();
	pf_open(&f, "reference");
	dfi_sim *sim;
	unsigned at;
	int found = 0;
	for (at = 20; at < 90 && !found; at++) {
		sim = pf_card(0xC11 + at, NULL);
		ck_assert_int_eq(dfi_sim_transport_new(sim, &t), DFI_OK);
		ck_assert_int_eq(dfi_sim_set_tear(sim, at, DFI_SIM_TEAR_AFTER), DFI_OK);
		ck_assert_int_eq(dfi_perso_card(f.perso, t, f.row, &res), DFI_OK);
		dfi_jrec in;
		size_t open = dfi_journal_open_intents(f.journal, keep, &in);
		if (open) {
			found = 1;
			/* The CLI sees it (the journal is closed first: one writer). */
			dfi_perso_free(f.perso);
			f.perso = NULL;
			dfi_journal_close(f.journal);
			f.journal = NULL;
			int rc = pf_run(out, sizeof(out), "'%s' recover --journal '%s'", g_cli, f.jdir);
			ck_assert_msg(rc == 0, "recover: %s", out);
			ck_assert_msg(strstr(out, "1 unresolved intent(s)") != NULL, "%s", out);
			ck_assert_msg(strstr(out, "station perso-test") != NULL, "%s", out);
			rc = pf_run(out, sizeof(out), "'%s' recover --json --journal '%s'", g_cli, f.jdir);
			ck_assert_int_eq(rc, 0);
			json_error_t je;
			json_t *o = json_loads(out, JSON_DECODE_ANY, &je);
			ck_assert_msg(o != NULL, "%s", out);
			ck_assert_int_eq(json_integer_value(json_object_get(o, "intent_seq")),
			    (json_int_t)in.seq);
			json_decref(o);
		}
		dfi_transport_free(t);
		dfi_sim_free(sim);
	}
	ck_assert(found);
	pf_close(&f);
}
END_TEST

START_TEST(usage_and_help)
{
	static char out[16384];
	paths();
	const char *cmds[] = { "personalize", "inspect", "recover" };
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(pf_run(out, sizeof(out), "'%s' %s --help", g_cli, cmds[i]), 0);
		ck_assert_msg(strstr(out, "usage: dfissue") != NULL, "%s", out);
		ck_assert_int_eq(pf_run(out, sizeof(out), "'%s' %s --bogus 2>&1", g_cli, cmds[i]), 2);
		ck_assert_msg(strstr(out, "dfissue: ") == out, "%s", out);
		ck_assert_ptr_null(strchr(out, '\n') == NULL ? NULL : strchr(strchr(out, '\n') + 1, '\n'));
	}
	ck_assert_int_eq(pf_run(out, sizeof(out), "'%s' personalize --profile x.json 2>&1", g_cli), 2);
	ck_assert_int_eq(pf_run(out, sizeof(out), "'%s' inspect --reader bogus 2>&1", g_cli), 2);
	ck_assert_msg(strstr(out, "expected pcsc:NAME or sim:IMAGE") != NULL, "%s", out);
	ck_assert_int_eq(pf_run(out, sizeof(out), "'%s' personalize " COMMON " --reader sim:/nonexistent/x.img "
	    "--journal '%s/nojournal' 2>&1", g_cli, g_src, g_src, pf_root, pf_root), 1);
	ck_assert_msg(strstr(out, "--create-journal") != NULL, "%s", out);
}
END_TEST

/* dist/station.conf.example runs as given: only what is the site's (its
 * token and PIN file, the reader) is replaced by the test's, and the
 * profile's installed path by the source tree's. Run with -q on the
 * command line after the file's log-level = info: warnings and errors
 * only, so stderr stays empty; the next run without -q shows the notices
 * -q hid. */
START_TEST(station_conf_example)
{
	static char out[16384];
	char conf[400], img[400], jdir[400];
	paths();
	snprintf(conf, sizeof(conf), "%s/station.conf", pf_root);
	snprintf(img, sizeof(img), "%s/conf-card.img", pf_root);
	snprintf(jdir, sizeof(jdir), "%s/conf-journal", pf_root);
	int rc = pf_run(out, sizeof(out), "sed -e 's|^profile = /usr/share/dfissue/|profile = %s/|' "
	    "-e 's|^reader = .*|reader = sim:%s|' -e 's|^token = .*|token = pkcs11:token=dfissue-dev|' "
	    "-e 's|^pin-file = .*|pin-file = %s/dev/user.pin|' '%s/dist/station.conf.example' >'%s' && "
	    "grep -c '^[a-z]' '%s'", g_src, img, pf_root, g_src, conf, conf);
	ck_assert_msg(rc == 0, "%s", out);
	ck_assert_msg(strcmp(out, "9\n") == 0, "the example's settings changed: %s", out);
	/* stdout to /dev/null: out holds stderr alone. */
	rc = pf_run(out, sizeof(out), "'%s' personalize --config '%s' --journal '%s' --station st1 -q "
	    "2>&1 >/dev/null", g_cli, conf, jdir);
	ck_assert_msg(rc == 0, "personalize --config example -q: exit %d: %s", rc, out);
	ck_assert_msg(out[0] == '\0', "-q printed: %s", out);
	pf_assert_image_is("minimal", 0, img);
	rc = pf_run(out, sizeof(out), "'%s' personalize --config '%s' --journal '%s' --station st1 "
	    "2>&1 >/dev/null", g_cli, conf, jdir);
	ck_assert_msg(rc == 0, "personalize --config example: exit %d: %s", rc, out);
	ck_assert_msg(strstr(out, "1 card(s), 1 done or resumed") != NULL, "%s", out);
}
END_TEST

PF_TEST_MAIN("perso-cli", 300,
    personalize_torn_then_inspect,
    recover_lists_open_intent, usage_and_help, station_conf_example)
