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
#include <sys/stat.h>

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
	/* Version bytes in hex as NXP writes them (major 12h: EV2), not 18.0. */
	ck_assert_msg(strstr(out, "DESFire hardware 12.00, software 12.00, storage 1A,") != NULL, "%s",
	    out);
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

/* Audit k34a, finding 1: the journal's file system fills up in the
 * middle of a card. The card's detail names the file and the system's
 * reason, says that nothing more is sent and what to do; doing it (space
 * freed, personalize again on the same journal) finishes the card. The
 * journal is on a 12 KiB tmpfs in a private mount namespace: root, as the
 * journal tests' read-only mount. */
/* Runs body (sh) after mounting a 12 KiB tmpfs on mnt (made here), in a
 * private mount namespace; out gets what it prints. The rig itself must
 * succeed: what the runs in it return, body echoes. */
static void
tmpfs_rig(const char *mnt, const char *body, char *out, size_t cap)
{
	char script[600];
	snprintf(script, sizeof(script), "%s.sh", mnt);
	ck_assert_int_eq(mkdir(mnt, 0700), 0);
	FILE *f = fopen(script, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "mount -t tmpfs -o size=12k,mode=0700 tmpfs '%s' || exit 10\n%s", mnt, body);
	fclose(f);
	int rc = pf_run(out, cap, "unshare --mount --propagation private sh '%s'", script);
	fprintf(stderr, "%s", out);
	ck_assert_msg(rc == 0, "rig: rc %d: %s", rc, out);
}

START_TEST(journal_disk_full_says_why_and_what_to_do)
{
	static char out[65536], body[8192];
	char img[400], mnt[400], want[1200];
	paths();
	snprintf(img, sizeof(img), "%s/full-card.img", pf_root);
	snprintf(mnt, sizeof(mnt), "%s/full-mnt", pf_root);
	/* Card A fills most of the journal's page, the filler takes the
	 * other two: card B meets the full disk when the file crosses the page;
	 * freed, they hold the quarantined torn tail and what follows. */
	snprintf(body, sizeof(body),
	    "run() { img=$1; shift; '%s' personalize " COMMON " --reader \"sim:$img\" "
	    "--journal '%s/j' --station full --json \"$@\" 2>/dev/null; echo \"rc=$?\"; }\n"
	    "run '%s-a' --create-journal >/dev/null\n"
	    "dd if=/dev/zero of='%s/filler' bs=4096 count=2 2>/dev/null || exit 11\n"
	    "stat -c 'journal %%s bytes' '%s/j/journal.log' >&2\n"
	    "run '%s'\n"
	    "rm '%s/filler'\n"
	    "run '%s'\n",
	    g_cli, g_src, g_src, pf_root, mnt, img, mnt, mnt, img, mnt, img);
	tmpfs_rig(mnt, body, out, sizeof(out));

	/* Run 1: the card line (JSON), then the run's error object, exit 1. */
	json_error_t je;
	json_t *o = json_loads(out, JSON_DISABLE_EOF_CHECK, &je);
	ck_assert_msg(o != NULL, "not JSON: %s", out);
	const char *detail = json_string_value(json_object_get(o, "detail"));
	const char *uid = json_string_value(json_object_get(o, "uid"));
	ck_assert_ptr_nonnull(detail);
	ck_assert_ptr_nonnull(uid);
	ck_assert_str_eq(json_string_value(json_object_get(o, "outcome")), "failed");
	ck_assert_str_eq(json_string_value(json_object_get(o, "error")), "DFI_E_IO");
	snprintf(want, sizeof(want), "journal %s/j/journal.log: write failed: No space left on device: "
	    "nothing more is sent to any card; free space on that file system and run personalize "
	    "again on this journal; card %s (", mnt, uid);
	ck_assert_msg(strncmp(detail, want, strlen(want)) == 0, "%s", detail);
	const char *card = detail + strlen(want), *tail = ") is finished by its next tap";
	ck_assert_msg(strlen(card) > strlen(tail) &&
	    strcmp(card + strlen(card) - strlen(tail), tail) == 0, "%s", detail);
	/* what this card holds: one of the engine's three accounts */
	ck_assert_msg(strncmp(card, "its next ChangeKey not sent)", 28) == 0 ||
	    strncmp(card, "a key change sent, its outcome not journaled)", 45) == 0 ||
	    strstr(card, " key change(s) sent, their outcome not journaled; its next ChangeKey "
	    "not sent)") != NULL, "%s", detail);
	json_decref(o);
	/* the run's error: the journal's account, the JSON code still io */
	const char *nl = strchr(out, '\n');
	ck_assert_ptr_nonnull(nl);
	o = json_loads(nl + 1, JSON_DISABLE_EOF_CHECK, &je);
	ck_assert_msg(o != NULL, "not JSON: %s", nl + 1);
	ck_assert_str_eq(json_string_value(json_object_get(o, "error")), "io");
	snprintf(want, sizeof(want), "journal %s/j/journal.log: write failed: No space left on device: "
	    "nothing more is sent to any card; free space on that file system, then run personalize "
	    "again on this journal (each card's line says what it holds)", mnt);
	ck_assert_str_eq(json_string_value(json_object_get(o, "message")), want);
	json_decref(o);
	const char *rc1 = strstr(out, "rc=");
	ck_assert_ptr_nonnull(rc1);
	ck_assert_int_eq(strncmp(rc1, "rc=1\n", 5), 0);
	/* Run 2, with space: the same card is finished from the journal. */
	o = json_loads(rc1 + 5, JSON_DISABLE_EOF_CHECK, &je);
	ck_assert_msg(o != NULL, "not JSON: %s", rc1 + 5);
	ck_assert_str_eq(json_string_value(json_object_get(o, "outcome")), "resumed");
	json_decref(o);
	ck_assert_ptr_nonnull(strstr(rc1 + 5, "rc=0\n"));
	pf_assert_image_is("reference", 0, img);
}
END_TEST

/* With several readers the journal's failure stops every station, and the
 * run says why once, not once per reader (audit k34a, finding 1: three
 * readers printed it three times). Two sim: readers meet a full disk
 * together: the run's line comes once, each card's report (stdout) names
 * the failure too. */
START_TEST(journal_failure_said_once_per_run)
{
	static char out[65536], body[8192];
	char mnt[400];
	paths();
	snprintf(mnt, sizeof(mnt), "%s/full2-mnt", pf_root);
	snprintf(body, sizeof(body),
	    "'%s' personalize " COMMON " --reader 'sim:%s/f2-a.img' --journal '%s/j' --station full "
	    "--create-journal 2>/dev/null >/dev/null || exit 11\n"
	    "dd if=/dev/zero of='%s/filler' bs=4096 count=2 2>/dev/null || exit 12\n"
	    "'%s' personalize " COMMON " --reader 'sim:%s/f2-b.img' --reader 'sim:%s/f2-c.img' "
	    "--journal '%s/j' --station full 2>&1\n"
	    "echo \"rc=$?\"\n",
	    g_cli, g_src, g_src, pf_root, pf_root, mnt, mnt, g_cli, g_src, g_src, pf_root, pf_root,
	    pf_root, mnt);
	tmpfs_rig(mnt, body, out, sizeof(out));
	ck_assert_msg(strstr(out, "rc=1\n") != NULL, "%s", out);
	/* The card whose write failed names it on its own line; the other
	 * names it too when it also reached an append, but the stop may find
	 * it before one (seen once in six runs under load): 1 or 2 lines. */
	unsigned cards = 0, runs = 0;
	for (const char *l = out; l != NULL && *l != '\0'; l = strchr(l, '\n'), l = l ? l + 1 : l) {
		if (strncmp(l, "card ", 5) == 0 && strstr(l, "write failed: No space left on device") != NULL &&
		    strstr(l, "write failed") < strchr(l, '\n'))
			cards++;
		if (strncmp(l, "dfissue: journal ", 17) == 0 && strstr(l, "write failed") != NULL &&
		    strstr(l, "write failed") < strchr(l, '\n'))
			runs++;
	}
	ck_assert_msg(cards >= 1 && cards <= 2, "%u card lines name the failure: %s", cards, out);
	ck_assert_msg(runs == 1, "the run's line came %u times: %s", runs, out);
}
END_TEST

/* Audit k34a, finding 8a: a journal another process holds stops the run
 * at once, saying who holds it and what to do (here the holder is this
 * test's own open journal). */
START_TEST(locked_journal_says_what_to_do)
{
	static char out[16384];
	struct pfix f;
	char want[1200];
	paths();
	pf_open(&f, "reference");
	int rc = pf_run(out, sizeof(out), "'%s' personalize " COMMON " --reader 'sim:%s/locked.img' "
	    "--journal '%s' --station locked 2>&1", g_cli, g_src, g_src, pf_root, pf_root, f.jdir);
	fprintf(stderr, "%s", out);
	ck_assert_int_eq(rc, 1);
	snprintf(want, sizeof(want), "dfissue: journal '%s': journal is locked: another dfissue "
	    "process (a station still running?) holds it: stop it, or give this station its own "
	    "--journal\n", f.jdir);
	ck_assert_str_eq(out, want);
	pf_close(&f);
}
END_TEST

/* A journal signer whose HSM loses the key after `left` signatures (the
 * token's store moved away mid-run), forwarding to the fixture's until
 * then and again once `left` is raised (the HSM is back). */
struct lost_key {
	dfi_signer *inner;
	int left;
};

static dfi_err
lost_pub(void *ctx, uint8_t *der, size_t cap, size_t *len)
{
	return dfi_signer_public_key_der(((struct lost_key *)ctx)->inner, der, cap, len);
}

static dfi_err
lost_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t *sig, size_t *siglen)
{
	struct lost_key *l = ctx;
	if (l->left <= 0)
		return DFI_E_HSM_KEY_NOT_FOUND;
	l->left--;
	return dfi_signer_sign(l->inner, msg, len, sig, siglen);
}

static const struct dfi_signer_ops lost_ops = { lost_sign, lost_pub, NULL };

/* Audit k34a, finding 2: the journal key's HSM fails in the middle of a
 * card. The detail names the journal key and its HSM, not start-up
 * advice ("check label/id"), and says what becomes of the card; with the
 * HSM back, the next tap finishes it. */
START_TEST(journal_key_lost_mid_card_names_the_hsm)
{
	struct pfix f;
	struct dfi_perso_result res;
	dfi_transport *t;
	dfi_signer *s;
	char want[1200], uid[15];
	pf_open(&f, "reference");
	struct lost_key l = { f.signer, 2 };
	ck_assert_int_eq(dfi_signer_new(&s, dfi_signer_alg(f.signer), &lost_ops, &l), DFI_OK);
	f.signer = s;
	pf_restart(&f);
	dfi_sim *sim = pf_card(0x105E, NULL);
	ck_assert_int_eq(dfi_sim_transport_new(sim, &t), DFI_OK);
	ck_assert_int_eq(dfi_perso_card(f.perso, t, f.row, &res), DFI_E_HSM_KEY_NOT_FOUND);
	fprintf(stderr, "journal key lost: %s\n", res.detail);
	ck_assert_int_eq(res.outcome, DFI_PERSO_FAILED);
	ck_assert_int_eq(dfi_hex_encode(res.uid, res.uid_len, uid, sizeof(uid)), DFI_OK);
	snprintf(want, sizeof(want), "journal %s: the journal key (checkpoint origin "
	    "issuer.example/perso-test) could not sign a checkpoint (DFI_E_HSM_KEY_NOT_FOUND): it "
	    "signed at start, so its HSM lost it: the token was removed or its store became "
	    "unreadable: nothing more is sent to any card; bring the HSM back (reconnect the token, "
	    "restore its store) and run personalize again on this journal: the open intents (card "
	    "%s: ", f.jdir, uid);
	ck_assert_msg(strncmp(res.detail, want, strlen(want)) == 0, "%s", res.detail);
	const char *tail = ") are resolved by the cards' next taps";
	size_t dl = strlen(res.detail);
	ck_assert_msg(dl > strlen(tail) && strcmp(res.detail + dl - strlen(tail), tail) == 0, "%s",
	    res.detail);
	/* The HSM is back: the station restarts on the same journal. */
	l.left = 1000;
	pf_restart(&f);
	ck_assert_int_eq(dfi_perso_card(f.perso, t, f.row, &res), DFI_OK);
	ck_assert_msg(res.outcome == DFI_PERSO_RESUMED, "%s: %s", dfi_perso_outcome_name(res.outcome),
	    res.detail);
	dfi_transport_free(t);
	dfi_sim_free(sim);
	dfi_perso_free(f.perso);
	f.perso = NULL;
	dfi_journal_close(f.journal);
	f.journal = NULL;
	dfi_signer_free(s);
	f.signer = l.inner;
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

/* A card keeps the batch row it began with from one run to the next. The
 * journal names no rows, but the profile digest on its intents covers
 * the row's contents; a run hands out rows from the first one, so before
 * this a card torn in one run and presented in the next was given another
 * row, and its tap stopped ("holds records other than the profile's").
 * Runs here on one journal, each batch file ordering the reference rows
 * differently:
 *   1. card T, batch 1002,1001,1003: torn on all three taps (left torn,
 *      row 1002 begun);
 *   2. card U, the reference batch: done with row 1001;
 *   3. T and U at once, batch 1003,1001,1002: T resumes with row 1002
 *      (line 4), U is done again with row 1001 (line 3); the rows they
 *      were claimed with go back to the run (and nothing leaks). */
static void
write_batch(const char *path, const int order[3])
{
	static const char *const rows[3] = {
		"1001,Ada Lovelace,00112233445566778899AABBCCDDEEFF,5349544530303031\n",
		"1002,\"Grace Hopper, RADM\",102132435465768798A9BACBDCEDFE0F,5349544530303031\n",
		"1003,\"Brian \"\"bwk\"\" Kernighan\",FFEEDDCCBBAA99887766554433221100,5349544530303032\n",
	};
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("card_number:int,holder,secret_id:hex,site_code:hex\n", f);
	for (int i = 0; i < 3; i++)
		fputs(rows[order[i] - 1001], f);
	ck_assert_int_eq(fclose(f), 0);
}

/* The batch_line of the JSON object of card UID in out (-1 if none). */
static long
line_of(const char *out, const char *reader)
{
	for (const char *l = out; l != NULL && *l != '\0'; l = strchr(l, '\n'), l = l ? l + 1 : l) {
		json_error_t je;
		const char *end = strchr(l, '\n');
		json_t *o = json_loadb(l, end != NULL ? (size_t)(end - l) : strlen(l), 0, &je);
		const char *r = o != NULL ? json_string_value(json_object_get(o, "reader")) : NULL;
		long v = r != NULL && strcmp(r, reader) == 0 ? (long)json_integer_value(json_object_get(o, "batch_line")) : -1;
		json_decref(o);
		if (v >= 0)
			return v;
	}
	return -1;
}

START_TEST(batch_row_follows_the_card)
{
	static char out[65536];
	static const int first[3] = { 1002, 1001, 1003 }, ref[3] = { 1001, 1002, 1003 },
			 third[3] = { 1003, 1001, 1002 };
	char b1[400], b2[400], b3[400], t[400], u[400], jdir[400];
	int rc;

	paths();
	snprintf(b1, sizeof(b1), "%s/own-1.csv", pf_root);
	snprintf(b2, sizeof(b2), "%s/own-2.csv", pf_root);
	snprintf(b3, sizeof(b3), "%s/own-3.csv", pf_root);
	snprintf(t, sizeof(t), "%s/own-t.img", pf_root);
	snprintf(u, sizeof(u), "%s/own-u.img", pf_root);
	snprintf(jdir, sizeof(jdir), "%s/own-journal", pf_root);
	write_batch(b1, first);
	write_batch(b2, ref);
	write_batch(b3, third);
#define OWN "--profile '%s/profiles/reference.json' --token pkcs11:token=dfissue-dev " \
	"--pin-file '%s/dev/user.pin' --journal '%s' --station own --json"

	/* 1. Torn after its files were written, on every tap. */
	rc = pf_run(out, sizeof(out), "'%s' personalize " OWN " --create-journal --batch '%s' "
	    "--reader 'sim:%s' --tear-at 55,1,1 --tear-mode after 2>/dev/null", g_cli, g_src, pf_root,
	    jdir, b1, t);
	ck_assert_msg(rc == 1 && strstr(out, "\"outcome\":\"failed\"") != NULL &&
	    strstr(out, "\"batch_line\":2") != NULL, "run 1: rc %d: %s", rc, out);
	/* inspect with the journal read as a file and no --row: the row T
	 * began with (1002: line 3 of the reference order) is found and said,
	 * with its signatures checked, and no conflict with its files. */
	char want[480];
	rc = pf_run(out, sizeof(out), "'%s' inspect --reader 'sim:%s' --profile "
	    "'%s/profiles/reference.json' --batch '%s' --journal '%s' --pubkey '%s/dev/journal.pub.pem' "
	    "--token pkcs11:token=dfissue-dev --pin-file '%s/dev/user.pin' 2>&1", g_cli, t, g_src, b2,
	    jdir, pf_root, pf_root);
	snprintf(want, sizeof(want), "  batch row: line 3 of %s, the row this card began with", b2);
	ck_assert_msg(rc == 0 && strstr(out, want) != NULL &&
	    strstr(out, "  registry (journal file): ") != NULL &&
	    strstr(out, "other than the profile's") == NULL &&
	    strstr(out, "signatures not checked") == NULL, "inspect --journal: rc %d: %s", rc, out);
	/* Without --pubkey it says the signatures were not checked. */
	rc = pf_run(out, sizeof(out), "'%s' inspect --reader 'sim:%s' --profile "
	    "'%s/profiles/reference.json' --batch '%s' --journal '%s' --token pkcs11:token=dfissue-dev "
	    "--pin-file '%s/dev/user.pin' 2>&1", g_cli, t, g_src, b2, jdir, pf_root);
	ck_assert_msg(rc == 0 && strstr(out, want) != NULL &&
	    strstr(out, "  (the journal's signatures not checked: give --pubkey)") != NULL,
	    "inspect --journal, no --pubkey: rc %d: %s", rc, out);
	/* A journal with a line no checkpoint covers answers nothing: inspect
	 * says so and fails, without a report of a card state it never read. */
	rc = pf_run(out, sizeof(out), "cp -a '%s' '%s.torn' && echo 'seq=99 torn' >>'%s.torn/journal.log' && "
	    "'%s' inspect --reader 'sim:%s' --profile '%s/profiles/reference.json' --batch '%s' "
	    "--journal '%s.torn' --token pkcs11:token=dfissue-dev --pin-file '%s/dev/user.pin' 2>&1",
	    jdir, jdir, jdir, g_cli, t, g_src, b2, jdir, pf_root);
	ck_assert_msg(rc == 1 && strstr(out, "dfissue: inspect: registry (journal file): lookup failed: ") != NULL &&
	    strstr(out, ".torn does not verify, so it answers nothing: line ") != NULL &&
	    strstr(out, "application F54010") == NULL, "inspect, journal torn: rc %d: %s", rc, out);
	/* 2. Another card, the reference batch: row 1001. */
	rc = pf_run(out, sizeof(out), "'%s' personalize " OWN " --batch '%s' --reader 'sim:%s' 2>/dev/null",
	    g_cli, g_src, pf_root, jdir, b2, u);
	ck_assert_msg(rc == 0 && strstr(out, "\"outcome\":\"done\"") != NULL &&
	    strstr(out, "\"batch_line\":2") != NULL, "run 2: rc %d: %s", rc, out);
	/* 3. Both, rows in another order: each is given its own. */
	rc = pf_run(out, sizeof(out), "'%s' personalize " OWN " --batch '%s' --reader 'sim:%s' "
	    "--reader 'sim:%s' 2>&1", g_cli, g_src, pf_root, jdir, b3, t, u);
	ck_assert_msg(rc == 0, "run 3: rc %d: %s", rc, out);
	char rt[420], ru[420];
	snprintf(rt, sizeof(rt), "sim:%s", t);
	snprintf(ru, sizeof(ru), "sim:%s", u);
	ck_assert_msg(line_of(out, rt) == 4, "card T: not given line 4 (row 1002): %s", out);
	ck_assert_msg(line_of(out, ru) == 3, "card U: not given line 3 (row 1001): %s", out);
	ck_assert_msg(strstr(out, "2 card(s) on 2 reader(s): 1 done, 1 resumed") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "given line 4 of the batch, the row it began with in an earlier run") !=
	    NULL, "%s", out);
	/* Each card now holds its own row's target. */
	rc = pf_run(out, sizeof(out), "'%s' inspect --reader 'sim:%s' --profile "
	    "'%s/profiles/reference.json' --batch '%s' --row 3 --token pkcs11:token=dfissue-dev "
	    "--pin-file '%s/dev/user.pin' 2>&1", g_cli, t, g_src, b3, pf_root);
	ck_assert_msg(rc == 0 && strstr(out, "remaining steps: 0") != NULL, "inspect T: %s", out);
	rc = pf_run(out, sizeof(out), "'%s' inspect --reader 'sim:%s' --profile "
	    "'%s/profiles/reference.json' --batch '%s' --row 2 --token pkcs11:token=dfissue-dev "
	    "--pin-file '%s/dev/user.pin' 2>&1", g_cli, u, g_src, b3, pf_root);
	ck_assert_msg(rc == 0 && strstr(out, "remaining steps: 0") != NULL, "inspect U: %s", out);
#undef OWN
}
END_TEST

PF_TEST_MAIN("perso-cli", 300,
    personalize_torn_then_inspect,
    recover_lists_open_intent, usage_and_help, station_conf_example,
    journal_disk_full_says_why_and_what_to_do, journal_failure_said_once_per_run,
    locked_journal_says_what_to_do,
    journal_key_lost_mid_card_names_the_hsm, batch_row_follows_the_card)
