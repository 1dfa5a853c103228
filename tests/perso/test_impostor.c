/*
 * Cards that have not earned keys, in-process (engine + simulator + SoftHSM2),
 * playing the attacker. Every card is reached through a transport that logs
 * each APDU's command byte, so a test can say what did and did not leave:
 *   - a second factory card with an issued UID is refused: nothing that
 *     writes (no ChangeKey, no CreateApplication, ...) reaches it, it stays
 *     a factory card, a refusal record is journaled and verifies;
 *   - an authorized re-issue (--reissue, or a batch row) succeeds, the
 *     journal shows the authorization first, and a third card is refused;
 *   - with a transport-key profile, a card that has the transport key is
 *     issued and recovers a tear at its PICC ChangeKey; a blank impostor is
 *     refused right after the failed authentication, nothing else sent;
 *   - originality "require" refuses a card with no signature, a signature by
 *     an untrusted key, another UID's signature, and an EV1 card; "warn"
 *     issues them with the status in the result;
 *   - a UID claimed by another reader is not touched beyond its UID.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "card_check.h"
#include "dfissue/originality.h"
#include "dfissue/registry.h"
#include "perso_fix.h"
#include "simcard.h"
#include "testutil.h"

#define UID_HEX "04AAAAAAAAAA01"

/* ---- a simulated card, each command's INS logged -------------------------------- */

struct card {
	dfi_sim *sim;
	dfi_transport *inner, *t; /* t: pf_watch_new over inner, logging into log */
	struct {
		uint8_t ins[512]; /* INS of each native command (0xFF for GET DATA) */
		size_t n;
	} log;
};

static void
log_seen(void *arg, const uint8_t *c, size_t clen)
{
	struct card *k = arg;
	if (c != NULL && k->log.n < sizeof(k->log.ins))
		k->log.ins[k->log.n++] = clen >= 2 ? (c[0] == 0x90 ? c[1] : 0xFF) : 0;
}

static void
card_open(struct card *c, const char *uid_hex, enum dfi_sim_model model, enum dfi_sim_originality orig,
    uint64_t seed)
{
	struct dfi_sim_config cfg;
	size_t n;
	pf_card_config(&cfg, seed, NULL);
	cfg.model = model;
	cfg.originality = orig;
	if (uid_hex != NULL) {
		cfg.has_uid = true;
		ck_assert_int_eq(dfi_hex_decode(uid_hex, cfg.uid, sizeof(cfg.uid), &n), DFI_OK);
	}
	ck_assert_int_eq(dfi_sim_new(&c->sim, &cfg), DFI_OK);
	ck_assert_int_eq(dfi_sim_transport_new(c->sim, &c->inner), DFI_OK);
	c->log.n = 0;
	pf_watch_new(c->inner, log_seen, c, &c->t);
}

static void
card_close(struct card *c)
{
	dfi_transport_free(c->t);
	dfi_test_card_close(c->sim, c->inner, NULL);
}

/* One tap: the card comes into the field, the engine runs. */
static dfi_err
tap(struct pfix *f, struct card *c, const dfi_batch_row *row, struct dfi_perso_result *res)
{
	c->log.n = 0;
	(void)dfi_transport_wait_removed(c->t, 0);
	ck_assert_int_eq(dfi_transport_wait_card(c->t, 0), DFI_OK);
	return dfi_perso_card(f->perso, c->t, row, res);
}

/* One tap that must end in outcome want (its detail shown when not). */
static void
tap_ends(struct pfix *f, struct card *c, const dfi_batch_row *row, struct dfi_perso_result *res,
    enum dfi_perso_outcome want)
{
	ck_assert_int_eq(tap(f, c, row, res), DFI_OK);
	ck_assert_msg(res->outcome == want, "%s: %s", dfi_perso_outcome_name(res->outcome),
	    res->detail);
}

/* Commands that change a card: none of them may reach a refused card. */
static int
writes(uint8_t ins)
{
	static const uint8_t w[] = { 0xC4, 0xCA, 0xDA, 0xFC, 0x5C, 0x54, 0xCD, 0xCB, 0xCC, 0xC1, 0xC0,
		0xDF, 0x5F, 0x3D, 0x3B, 0x0C, 0xDC, 0x1C, 0xEB, 0xC7 };
	for (size_t i = 0; i < sizeof(w); i++)
		if (w[i] == ins)
			return 1;
	return 0;
}

/* The APDU number (1-based) of the k-th ChangeKey a tap sent (0: the
 * last, the PICC's). */
static unsigned
change_key_at(const struct card *c, unsigned k)
{
	unsigned at = 0, seen = 0;
	for (size_t i = 0; i < c->log.n && (k == 0 || seen < k); i++)
		if (c->log.ins[i] == 0xC4) {
			at = (unsigned)i + 1;
			seen++;
		}
	ck_assert_uint_gt(at, 0);
	ck_assert(k == 0 || seen == k);
	return at;
}

static int
is_auth(uint8_t ins)
{
	return ins == 0x0A || ins == 0x1A || ins == 0xAA || ins == 0x71 || ins == 0x77 || ins == 0xAF;
}

static void
assert_nothing_written(const struct card *c)
{
	for (size_t i = 0; i < c->log.n; i++)
		ck_assert_msg(!writes(c->log.ins[i]), "command %02X (APDU %zu) reached a refused card",
		    c->log.ins[i], i + 1);
}

static void
assert_factory(struct card *c, int transport)
{
	struct dfi_sim_picc_info pi;
	struct dfi_sim_key_info ki;
	static const uint8_t zero[16];
	ck_assert_int_eq(dfi_sim_picc_info(c->sim, &pi), DFI_OK);
	ck_assert_uint_eq(pi.napps, 0);
	ck_assert_uint_eq(pi.key_settings, 0x0F);
	ck_assert_uint_eq(pi.config, 0);
	ck_assert_int_eq(dfi_sim_key_info(c->sim, 0, 0, &ki), DFI_OK);
	if (!transport) {
		ck_assert_int_eq(ki.type, DFI_KT_DES);
		ck_assert_int_eq(memcmp(ki.key, zero, 8), 0);
	}
	ck_assert_uint_eq(ki.version, 0);
}

struct count_ctx {
	unsigned refusals, authorizations;
	dfi_jcause cause;
	char reason[DFI_J_STR_MAX];
	uint64_t auth_seq, first_intent_after_auth;
};

static void
count_rec(void *ctx, uint64_t line, const dfi_jrec *r)
{
	struct count_ctx *c = ctx;
	(void)line;
	if (r->type == DFI_JREC_REFUSAL) {
		c->refusals++;
		c->cause = r->cause;
		snprintf(c->reason, sizeof(c->reason), "%s", r->reason);
	} else if (r->type == DFI_JREC_AUTHORIZATION) {
		c->authorizations++;
		c->auth_seq = r->seq;
	} else if (r->type == DFI_JREC_INTENT && c->auth_seq != 0 && c->first_intent_after_auth == 0) {
		c->first_intent_after_auth = r->seq;
	}
}

static struct count_ctx
journal_records(struct pfix *f)
{
	struct count_ctx c;
	char path[600];
	memset(&c, 0, sizeof(c));
	snprintf(path, sizeof(path), "%s/%s", f->jdir, DFI_JOURNAL_FILE);
	struct dfi_jverify_opts o = { .record = count_rec, .ctx = &c };
	struct dfi_jverify_result res;
	(void)dfi_journal_verify_file(path, &o, &res);
	return c;
}

static void
open_with(struct pfix *f, const char *profile, const struct dfi_perso_reissue *re, size_t nre)
{
	pf_open(f, profile);
	if (re == NULL)
		return;
	/* A second handle on the same journal with the operator's list. */
	dfi_perso_free(f->perso);
	char detail[256] = "";
	struct dfi_perso_config pc = { .hsm = f->hsm, .journal = f->journal, .profile = f->profile,
		.station = "perso-test", .detail = detail, .detail_cap = sizeof(detail), .reissue = re,
		.nreissue = nre };
	ck_assert_msg(dfi_perso_new(&f->perso, &pc) == DFI_OK, "%s", detail);
}

/* ---- one issuance per UID ---------------------------------------------------------- */

START_TEST(second_card_with_an_issued_uid_is_refused)
{
	struct pfix f;
	struct card a, b, c;
	struct dfi_perso_result res;
	pf_open(&f, "reference");
	card_open(&a, UID_HEX, DFI_SIM_MODEL_EV2, DFI_SIM_ORIG_TEST, 1);
	card_open(&b, UID_HEX, DFI_SIM_MODEL_EV2, DFI_SIM_ORIG_TEST, 2);

	tap_ends(&f, &a, f.row, &res, DFI_PERSO_DONE);
	ck_assert_uint_eq(res.key_changes, 6);

	/* The impostor: same UID, factory keys. */
	ck_assert_int_eq(tap(&f, &b, f.row, &res), DFI_OK);
	printf("impostor: %s: %s (%llu APDUs)\n", dfi_perso_outcome_name(res.outcome), res.detail,
	    (unsigned long long)res.apdus);
	ck_assert_int_eq(res.outcome, DFI_PERSO_REFUSED);
	ck_assert_int_eq(res.err, DFI_E_REFUSED);
	ck_assert_int_eq(res.refusal_cause, DFI_JCAUSE_ISSUED);
	ck_assert_uint_gt(res.refusal_seq, 0);
	ck_assert_uint_eq(res.key_changes, 0);
	ck_assert_ptr_nonnull(strstr(res.detail, "UID already issued"));
	ck_assert_ptr_nonnull(strstr(res.detail, "PICC master key is the factory key"));
	assert_nothing_written(&b);
	assert_factory(&b, 0);

	/* The genuine card again: nothing to do, not refused. */
	tap_ends(&f, &a, f.row, &res, DFI_PERSO_DONE);
	ck_assert_uint_eq(res.key_changes, 0);

	/* A third impostor after it: refused again. */
	card_open(&c, UID_HEX, DFI_SIM_MODEL_EV2, DFI_SIM_ORIG_TEST, 3);
	tap_ends(&f, &c, f.row, &res, DFI_PERSO_REFUSED);
	assert_nothing_written(&c);

	/* The auditor: the journal verifies (refusals included) and lists them. */
	ck_assert_uint_eq(pf_journal_verifies(&f), 6);
	struct count_ctx cc = journal_records(&f);
	ck_assert_uint_eq(cc.refusals, 2);
	ck_assert_int_eq(cc.cause, DFI_JCAUSE_ISSUED);
	ck_assert_ptr_nonnull(strstr(cc.reason, "PICC master key is the factory key"));

	/* The card is unchanged: the genuine one still matches the profile. */
	char why[300];
	ck_assert_msg(dfi_test_card_matches_profile(a.sim, f.hsm, f.profile, f.row, why, sizeof(why)) == 1,
	    "%s", why);
	card_close(&a);
	card_close(&b);
	card_close(&c);
	pf_close(&f);
}
END_TEST

/* An impostor of a card torn half-way (applications issued, PICC key not
 * yet): the applications the journal issued are missing on it. */
/* The genuine card (UID_HEX) on a fresh journal f, torn before its k-th
 * ChangeKey (0: the last, the PICC's), which a clean run on another
 * journal numbers; key_changes made before the tear. */
static void
torn_issue(struct pfix *f, struct card *a, unsigned k, unsigned key_changes)
{
	struct dfi_perso_result res;
	pf_open(f, "reference");
	card_open(a, UID_HEX, DFI_SIM_MODEL_EV2, DFI_SIM_ORIG_TEST, 4);
	ck_assert_int_eq(tap(f, a, f->row, &res), DFI_OK);
	ck_assert_uint_eq(a->log.ins[6], 0x64); /* a first tap: GetKeyVersion of the PICC */
	unsigned at = change_key_at(a, k);
	card_close(a);
	pf_close(f);

	pf_open(f, "reference");
	card_open(a, UID_HEX, DFI_SIM_MODEL_EV2, DFI_SIM_ORIG_TEST, 4);
	ck_assert_int_eq(dfi_sim_set_tear(a->sim, at, DFI_SIM_TEAR_BEFORE), DFI_OK);
	ck_assert_int_eq(tap(f, a, f->row, &res), DFI_OK);
	ck_assert_int_eq(res.err, DFI_E_CARD_TORN);
	ck_assert_uint_eq(res.key_changes, key_changes);
}

START_TEST(impostor_of_a_torn_card_is_refused)
{
	struct pfix f;
	struct card a, b;
	struct dfi_perso_result res;
	/* Torn before the PICC's ChangeKey: its applications are issued,
	 * its PICC key is not. */
	torn_issue(&f, &a, 0, 5);
	card_open(&b, UID_HEX, DFI_SIM_MODEL_EV2, DFI_SIM_ORIG_TEST, 5);

	ck_assert_int_eq(tap(&f, &b, f.row, &res), DFI_OK);
	printf("impostor of a torn card: %s: %s\n", dfi_perso_outcome_name(res.outcome), res.detail);
	ck_assert_int_eq(res.outcome, DFI_PERSO_REFUSED);
	ck_assert_ptr_nonnull(strstr(res.detail, "is missing"));
	assert_nothing_written(&b);
	assert_factory(&b, 0);

	/* The genuine card comes back and is finished. */
	tap_ends(&f, &a, f.row, &res, DFI_PERSO_RESUMED);
	/* 5 application keys, the PICC intent resolved "old", then the PICC key */
	ck_assert_uint_eq(pf_journal_verifies(&f), 7);
	card_close(&a);
	card_close(&b);
	pf_close(&f);
}
END_TEST

/* A torn first issue's PICC is tried with the factory key, then the
 * target, without GetKeyVersion (state.c): a card with that UID whose
 * PICC holds neither is sent nothing after the refused authentications
 * and nothing is written; the genuine card then resumes. */
START_TEST(torn_uid_with_another_picc_key)
{
	static const uint8_t other[16] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA,
		0xBB, 0xCC, 0xDD, 0xEE, 0xF0, 0x01 };
	struct pfix f;
	struct card a, b;
	struct dfi_perso_result res;
	/* Torn at the second ChangeKey: one application key recorded as
	 * changed, nothing of the PICC. */
	torn_issue(&f, &a, 2, 1);

	card_open(&b, UID_HEX, DFI_SIM_MODEL_EV2, DFI_SIM_ORIG_TEST, 6);
	ck_assert_int_eq(dfi_sim_set_picc_key(b.sim, DFI_KT_AES128, other, sizeof(other), 7), DFI_OK);
	ck_assert_int_eq(tap(&f, &b, f.row, &res), DFI_OK);
	printf("torn UID, another PICC key: %s: %s (%llu APDUs)\n", dfi_perso_outcome_name(res.outcome),
	    res.detail, (unsigned long long)res.apdus);
	ck_assert_int_eq(res.outcome, DFI_PERSO_UNKNOWN_KEYS);
	ck_assert_ptr_nonnull(strstr(res.detail, "neither the factory key nor the target"));
	assert_nothing_written(&b);
	ck_assert_uint_ge(b.log.n, 7);
	ck_assert_uint_eq(b.log.ins[6], 0x0A); /* the factory key first, no GetKeyVersion */
	for (size_t i = 6; i < b.log.n; i++)
		ck_assert_msg(is_auth(b.log.ins[i]), "command %02X after the failed authentication",
		    b.log.ins[i]);

	ck_assert_int_eq(tap(&f, &a, f.row, &res), DFI_OK);
	ck_assert_msg(res.outcome == DFI_PERSO_RESUMED, "%s: %s", dfi_perso_outcome_name(res.outcome),
	    res.detail);
	ck_assert_uint_eq(a.log.ins[6], 0x0A);
	card_close(&a);
	card_close(&b);
	pf_close(&f);
}
END_TEST

/* A torn first issue's application keys the journal never recorded as
 * changed are tried with the factory key, then the target, without
 * GetKeyVersion (state.c, app_arrival_likely): the recovery tap of a card
 * torn before F54010's second ChangeKey (key 1 changed, key 2's intent
 * open, key 0's aborted as never sent) authenticates right after
 * selecting the application (key 1 with its target, the journal's
 * record; key 0 with the factory key, last), and finishes the card. */
START_TEST(torn_app_key_without_getkeyversion)
{
	struct pfix f;
	struct card a;
	struct dfi_perso_result res;
	torn_issue(&f, &a, 2, 1);

	ck_assert_int_eq(tap(&f, &a, f.row, &res), DFI_OK);
	ck_assert_msg(res.outcome == DFI_PERSO_RESUMED, "%s: %s", dfi_perso_outcome_name(res.outcome),
	    res.detail);
	/* GET DATA, Select 000000, GetVersion (3), Read_Sig, the PICC's
	 * factory key (2), GetKeySettings, GetApplicationIDs, Select F54010 */
	ck_assert_uint_ge(a.log.n, 12);
	ck_assert_uint_eq(a.log.ins[10], 0x5A);
	ck_assert_msg(is_auth(a.log.ins[11]), "command %02X after selecting the application, not an "
	    "authentication", a.log.ins[11]);
	/* key 2's intent is open: GetKeyVersion orders its old and new key */
	size_t gkv = 0;
	for (size_t i = 0; i < a.log.n; i++)
		gkv += a.log.ins[i] == 0x64;
	ck_assert_uint_eq(gkv, 1);
	char why[300];
	ck_assert_msg(dfi_test_card_matches_profile(a.sim, f.hsm, f.profile, f.row, why, sizeof(why)) == 1,
	    "%s", why);
	card_close(&a);
	pf_close(&f);
}
END_TEST

START_TEST(authorized_reissue)
{
	struct pfix f;
	struct card a, b, c;
	struct dfi_perso_result res;
	struct dfi_perso_reissue re = { .uid_len = 7, .reason = "chip replaced, ticket 4711" };
	size_t n;
	ck_assert_int_eq(dfi_hex_decode(UID_HEX, re.uid, sizeof(re.uid), &n), DFI_OK);
	open_with(&f, "reference", &re, 1);
	card_open(&a, UID_HEX, DFI_SIM_MODEL_EV2, DFI_SIM_ORIG_TEST, 6);
	card_open(&b, UID_HEX, DFI_SIM_MODEL_EV2, DFI_SIM_ORIG_TEST, 7);
	card_open(&c, UID_HEX, DFI_SIM_MODEL_EV2, DFI_SIM_ORIG_TEST, 8);

	/* A first issue needs no authorization: none is journaled. */
	tap_ends(&f, &a, f.row, &res, DFI_PERSO_DONE);
	ck_assert_uint_eq(res.authorization_seq, 0);

	/* The replacement: authorized, journaled before its first key change. */
	tap_ends(&f, &b, f.row, &res, DFI_PERSO_DONE);
	ck_assert_uint_gt(res.authorization_seq, 0);
	ck_assert_uint_eq(res.key_changes, 6);
	char why[300];
	ck_assert_msg(dfi_test_card_matches_profile(b.sim, f.hsm, f.profile, f.row, why, sizeof(why)) == 1,
	    "%s", why);
	struct count_ctx cc = journal_records(&f);
	ck_assert_uint_eq(cc.authorizations, 1);
	ck_assert_uint_gt(cc.first_intent_after_auth, cc.auth_seq);
	ck_assert_uint_eq(cc.auth_seq, res.authorization_seq);

	/* Used once per run: another card with the UID is refused. */
	tap_ends(&f, &c, f.row, &res, DFI_PERSO_REFUSED);
	assert_nothing_written(&c);
	/* version continuity holds across the re-issue */
	ck_assert_uint_eq(pf_journal_verifies(&f), 12);
	card_close(&a);
	card_close(&b);
	card_close(&c);

	/* A batch row authorizing the same UID (columns reissue_uid, reissue_reason). */
	dfi_batch *bt;
	dfi_batch_row *row;
	struct dfi_diag d;
	static const char csv[] = "card_number:int,holder,secret_id:hex,site_code:hex,reissue_uid:hex,reissue_reason\n"
				  "1001,Ada Lovelace,00112233445566778899AABBCCDDEEFF,5349544530303031,04AAAAAAAAAA01,lost card replaced\n";
	ck_assert_int_eq(dfi_batch_open_buffer(&bt, "reissue.csv", DFI_BATCH_CSV, csv, strlen(csv), &d), DFI_OK);
	ck_assert_int_eq(dfi_batch_next(bt, &row, &d), DFI_OK);
	card_open(&c, UID_HEX, DFI_SIM_MODEL_EV2, DFI_SIM_ORIG_TEST, 9);
	tap_ends(&f, &c, row, &res, DFI_PERSO_DONE);
	ck_assert_uint_gt(res.authorization_seq, 0);
	cc = journal_records(&f);
	ck_assert_uint_eq(cc.authorizations, 2);
	ck_assert_str_eq(cc.reason, "UID already issued (6 key slot(s) changed); the PICC master key is the factory key, the journal recorded version 1");
	ck_assert_uint_eq(pf_journal_verifies(&f), 18);
	dfi_batch_row_free(row);
	dfi_batch_free(bt);
	card_close(&c);

	/* A malformed re-issue in the row authorizes nothing, and the refusal
	 * says so (dfi_batch_row_reissue, as the check before the first card). */
	static const char bad[] = "card_number:int,holder,secret_id:hex,site_code:hex,reissue_uid,reissue_reason\n"
				  "1001,Ada Lovelace,00112233445566778899AABBCCDDEEFF,5349544530303031,04:AA:AA:AA:AA:AA:01,lost card replaced\n";
	ck_assert_int_eq(dfi_batch_open_buffer(&bt, "bad.csv", DFI_BATCH_CSV, bad, strlen(bad), &d), DFI_OK);
	ck_assert_int_eq(dfi_batch_next(bt, &row, &d), DFI_OK);
	ck_assert_int_eq(dfi_profile_check_row(f.profile, row, &d), DFI_E_PROFILE);
	ck_assert_str_eq(d.field, "reissue_uid");
	card_open(&c, UID_HEX, DFI_SIM_MODEL_EV2, DFI_SIM_ORIG_TEST, 10);
	tap_ends(&f, &c, row, &res, DFI_PERSO_REFUSED);
	assert_nothing_written(&c);
	ck_assert_uint_eq(res.authorization_seq, 0);
	cc = journal_records(&f);
	ck_assert_uint_eq(cc.authorizations, 2);
	ck_assert_int_eq(cc.cause, DFI_JCAUSE_ISSUED);
	ck_assert_str_eq(cc.reason, "UID already issued (6 key slot(s) changed); batch line 2: reissue_uid "
	    "not valid; the PICC master key is the factory key, the jo");
	dfi_batch_row_free(row);
	dfi_batch_free(bt);
	card_close(&c);
	pf_close(&f);
}
END_TEST

/* ---- transport keys --------------------------------------------------------------- */

START_TEST(transport_key_card_and_impostor)
{
	struct pfix f;
	struct card good, blank, torn;
	struct dfi_perso_result res;
	char why[300];
	pf_open(&f, "transport");
	card_open(&good, NULL, DFI_SIM_MODEL_EV2, DFI_SIM_ORIG_TEST, 10);
	ck_assert_msg(dfi_test_card_arrives_with_transport(good.sim, f.hsm, f.profile, f.row, why,
	    sizeof(why)) == 0, "%s", why);
	tap_ends(&f, &good, f.row, &res, DFI_PERSO_DONE);
	ck_assert_msg(dfi_test_card_matches_profile(good.sim, f.hsm, f.profile, f.row, why, sizeof(why)) == 1,
	    "%s", why);
	/* The zero key was never tried: no legacy DES authentication at all. */
	for (size_t i = 0; i < good.log.n; i++)
		ck_assert_msg(good.log.ins[i] != 0x0A, "legacy DES authentication on a transport card");

	/* A blank impostor (factory zero key), a UID never seen. */
	card_open(&blank, "04BBBBBBBBBB02", DFI_SIM_MODEL_EV2, DFI_SIM_ORIG_TEST, 11);
	ck_assert_int_eq(tap(&f, &blank, f.row, &res), DFI_OK);
	printf("blank impostor: %s: %s (%llu APDUs)\n", dfi_perso_outcome_name(res.outcome),
	    res.detail, (unsigned long long)res.apdus);
	ck_assert_int_eq(res.outcome, DFI_PERSO_REFUSED);
	ck_assert_int_eq(res.refusal_cause, DFI_JCAUSE_TRANSPORT_KEY);
	assert_nothing_written(&blank);
	assert_factory(&blank, 0);
	/* Nothing after the failed authentications, and no zero-key attempt. */
	ck_assert_uint_gt(blank.log.n, 0);
	ck_assert_msg(is_auth(blank.log.ins[blank.log.n - 1]), "last command %02X is not an "
	    "authentication", blank.log.ins[blank.log.n - 1]);
	for (size_t i = 0; i < blank.log.n; i++)
		ck_assert(blank.log.ins[i] != 0x0A);
	size_t first_auth = 0;
	while (first_auth < blank.log.n && (!is_auth(blank.log.ins[first_auth]) ||
	    blank.log.ins[first_auth] == 0xAF))
		first_auth++;
	ck_assert_uint_lt(first_auth, blank.log.n);
	for (size_t i = first_auth; i < blank.log.n; i++)
		ck_assert_msg(is_auth(blank.log.ins[i]), "command %02X after the failed authentication",
		    blank.log.ins[i]);

	/* The same impostor with the genuine card's UID: refused too. */
	uint8_t uid[7];
	dfi_sim_uid(good.sim, uid);
	char uh[15];
	dfi_hex_encode(uid, 7, uh, sizeof(uh));
	card_close(&blank);
	card_open(&blank, uh, DFI_SIM_MODEL_EV2, DFI_SIM_ORIG_TEST, 12);
	tap_ends(&f, &blank, f.row, &res, DFI_PERSO_REFUSED);
	ck_assert_int_eq(res.refusal_cause, DFI_JCAUSE_TRANSPORT_KEY);
	ck_assert_msg(strstr(res.detail, "already issued") != NULL, "%s", res.detail);
	assert_nothing_written(&blank);

	/* A transport card torn right after its PICC ChangeKey: the next tap
	 * resolves the intent with the transport key as a candidate. */
	card_open(&torn, NULL, DFI_SIM_MODEL_EV2, DFI_SIM_ORIG_TEST, 13);
	ck_assert_msg(dfi_test_card_arrives_with_transport(torn.sim, f.hsm, f.profile, f.row, why,
	    sizeof(why)) == 0, "%s", why);
	ck_assert_int_eq(dfi_sim_set_tear(torn.sim, change_key_at(&good, 0), DFI_SIM_TEAR_BEFORE),
	    DFI_OK);
	ck_assert_int_eq(tap(&f, &torn, f.row, &res), DFI_OK);
	ck_assert_int_eq(res.err, DFI_E_CARD_TORN);
	tap_ends(&f, &torn, f.row, &res, DFI_PERSO_RESUMED);
	ck_assert_uint_eq(res.intents_resolved, 1);
	ck_assert_msg(dfi_test_card_matches_profile(torn.sim, f.hsm, f.profile, f.row, why, sizeof(why)) == 1,
	    "%s", why);
	/* 6 for the first card, 6 + the PICC intent the tear left for the other */
	ck_assert_uint_eq(pf_journal_verifies(&f), 13);
	card_close(&good);
	card_close(&blank);
	card_close(&torn);
	pf_close(&f);
}
END_TEST

/* ---- originality ------------------------------------------------------------------ */

static void
open_originality(struct pfix *f, const char *policy)
{
	/* The reference profile with an originality policy trusting only the
	 * simulator's test key. */
	char src[600], text[16384], tmp[600], keys[600];
	snprintf(src, sizeof(src), "%s/profiles/reference.json", getenv("DFI_SOURCE_DIR"));
	snprintf(keys, sizeof(keys), "%s/sim-originality.keys", getenv("DFI_TEST_DATA"));
	FILE *in = fopen(src, "r");
	ck_assert_ptr_nonnull(in);
	size_t n = fread(text, 1, sizeof(text) - 1, in);
	fclose(in);
	text[n] = '\0';
	char *last = strrchr(text, '}');
	ck_assert_ptr_nonnull(last);
	snprintf(tmp, sizeof(tmp), "%s/orig-%s.json", pf_root, policy);
	FILE *out = fopen(tmp, "w");
	ck_assert_ptr_nonnull(out);
	fprintf(out, "%.*s, \"originality\": {\"policy\": \"%s\", \"trusted_keys\": \"%s\"}}\n",
	    (int)(last - text), text, policy, keys);
	fclose(out);
	pf_open(f, "reference");
	dfi_perso_free(f->perso);
	dfi_profile_free(f->profile);
	struct dfi_diag d;
	ck_assert_msg(dfi_profile_load(&f->profile, tmp, &d) == DFI_OK, "%s", d.message);
	char detail[256] = "";
	struct dfi_perso_config pc = { .hsm = f->hsm, .journal = f->journal, .profile = f->profile,
		.station = "perso-test", .detail = detail, .detail_cap = sizeof(detail) };
	ck_assert_msg(dfi_perso_new(&f->perso, &pc) == DFI_OK, "%s", detail);
}

START_TEST(originality_require)
{
	static const struct {
		enum dfi_sim_model model;
		enum dfi_sim_originality orig;
		const char *status;
	} bad[] = {
		{ DFI_SIM_MODEL_EV2, DFI_SIM_ORIG_NONE, "no signature" },
		{ DFI_SIM_MODEL_EV2, DFI_SIM_ORIG_FOREIGN, "bad signature" },
		{ DFI_SIM_MODEL_EV2, DFI_SIM_ORIG_CORRUPT, "bad signature" },
		/* The version bytes in hex, as NXP writes them. */
		{ DFI_SIM_MODEL_EV1, DFI_SIM_ORIG_TEST,
		    "not supported (DESFire hardware 01.00: EV1 or older)" },
	};
	struct pfix f;
	struct card c;
	struct dfi_perso_result res;
	open_originality(&f, "require");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		card_open(&c, NULL, bad[i].model, bad[i].orig, 20 + i);
		ck_assert_int_eq(tap(&f, &c, f.row, &res), DFI_OK);
		printf("originality require, card %zu: %s: %s\n", i, dfi_perso_outcome_name(res.outcome),
		    res.detail);
		ck_assert_int_eq(res.outcome, DFI_PERSO_REFUSED);
		ck_assert_int_eq(res.refusal_cause, DFI_JCAUSE_ORIGINALITY);
		ck_assert_msg(strncmp(res.originality, bad[i].status, strlen(bad[i].status)) == 0, "%s",
		    res.originality);
		assert_nothing_written(&c);
		assert_factory(&c, 0);
		/* Nothing after Read_Sig (nor anything at all for an EV1: it
		 * has none) but the reading of UID and version. */
		for (size_t k = 0; k < c.log.n; k++)
			ck_assert_msg(c.log.ins[k] == 0xFF || c.log.ins[k] == 0x5A || c.log.ins[k] == 0x60 ||
			    c.log.ins[k] == 0xAF || c.log.ins[k] == 0x3C, "command %02X on a card refused "
			    "for originality", c.log.ins[k]);
		ck_assert(bad[i].model == DFI_SIM_MODEL_EV1 || c.log.ins[c.log.n - 1] == 0x3C);
		card_close(&c);
	}
	/* The simulator's genuine-looking card is issued. */
	card_open(&c, NULL, DFI_SIM_MODEL_EV2, DFI_SIM_ORIG_TEST, 30);
	tap_ends(&f, &c, f.row, &res, DFI_PERSO_DONE);
	ck_assert_str_eq(res.originality, "verified by desfire-sim-test");
	card_close(&c);
	struct count_ctx cc = journal_records(&f);
	ck_assert_uint_eq(cc.refusals, 4);
	ck_assert_int_eq(cc.cause, DFI_JCAUSE_ORIGINALITY);
	ck_assert_uint_eq(pf_journal_verifies(&f), 6);
	pf_close(&f);
}
END_TEST

START_TEST(originality_warn_and_default)
{
	/* policy "warn": a card whose signature no trusted key verifies is
	 * issued all the same. NULL: the reference profile, which names no
	 * policy: warn, with NXP's keys, which never trust a simulated card. */
	static const struct {
		const char *policy;
		enum dfi_sim_originality orig;
		uint64_t seed;
	} cases[] = {
		{ "warn", DFI_SIM_ORIG_FOREIGN, 40 },
		{ NULL, DFI_SIM_ORIG_TEST, 41 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pfix f;
		struct card c;
		struct dfi_perso_result res;
		if (cases[i].policy != NULL)
			open_originality(&f, cases[i].policy);
		else
			pf_open(&f, "reference");
		card_open(&c, NULL, DFI_SIM_MODEL_EV2, cases[i].orig, cases[i].seed);
		tap_ends(&f, &c, f.row, &res, DFI_PERSO_DONE);
		ck_assert_str_eq(res.originality, "bad signature (no trusted key verifies it)");
		card_close(&c);
		pf_close(&f);
	}
}
END_TEST

START_TEST(builtin_keys_equal_the_shipped_file)
{
	dfi_orig_keys *a, *b;
	struct dfi_diag d;
	char path[600];
	snprintf(path, sizeof(path), "%s/profiles/originality-nxp.keys", getenv("DFI_SOURCE_DIR"));
	ck_assert_int_eq(dfi_orig_keys_new(&a, 1), DFI_OK);
	ck_assert_int_eq(dfi_orig_keys_new(&b, 0), DFI_OK);
	ck_assert_msg(dfi_orig_keys_load(b, path, &d) == DFI_OK, "%s", d.message);
	ck_assert_uint_eq(dfi_orig_keys_count(a), dfi_orig_keys_count(b));
	ck_assert_uint_ge(dfi_orig_keys_count(a), 5);
	for (size_t i = 0; i < dfi_orig_keys_count(a); i++)
		ck_assert_str_eq(dfi_orig_keys_name(a, i), dfi_orig_keys_name(b, i));
	dfi_orig_keys_free(a);
	dfi_orig_keys_free(b);

	/* The key file parser refuses what is not a key, naming the line. */
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "# nothing\n", "k: no key in the file" },
		{ "a b c\n", "k:1: expected NAME HEX" },
		{ "name 0411\n", "k:1: the public key must be 114 hex digits" },
		{ "\nn 04B304DC4C615F5326FE9383DDEC9AA892DF3A57FA7FFB3276192BC0EAA252ED45A865E3B093A3D0DCE5BE29E92F1392CE7DE321E3E5C52B3B\n",
		    "k:2: not an uncompressed point (04 || X || Y) on secp224r1" },
		{ "n 05B304DC4C615F5326FE9383DDEC9AA892DF3A57FA7FFB3276192BC0EAA252ED45A865E3B093A3D0DCE5BE29E92F1392CE7DE321E3E5C52B3A\n",
		    "k:1: not an uncompressed point" },
		{ "n zzB304DC4C615F5326FE9383DDEC9AA892DF3A57FA7FFB3276192BC0EAA252ED45A865E3B093A3D0DCE5BE29E92F1392CE7DE321E3E5C52B3A\n",
		    "k:1: the public key is not valid hex" },
		{ "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n",
		    "k:1: this PEM block is not an EC public key on secp224r1" },
		{ "-----BEGIN PUBLIC KEY-----\nMCow\n", "k:1: PEM block without its END line" },
		{ "n\x01x\n", "k:1: only printable ASCII" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(dfi_orig_keys_new(&a, 0), DFI_OK);
		ck_assert_int_eq(dfi_orig_keys_load_buffer(a, "k", bad[i].text, strlen(bad[i].text), &d),
		    DFI_E_PARSE);
		ck_assert_msg(strncmp(d.message, bad[i].msg, strlen(bad[i].msg)) == 0, "case %zu: %s", i,
		    d.message);
		dfi_orig_keys_free(a);
	}
	/* PEM and named hex both load; the sim's test key verifies its card. */
	static const char good[] = "# desfire-sim in PEM\n"
				   "-----BEGIN PUBLIC KEY-----\n"
				   "ME4wEAYHKoZIzj0CAQYFK4EEACEDOgAEGZMY/DwdL19kvu4xoh1SIsiLiqwkmynN\n"
				   "SihntJQXi5L+LBpBPXO9Dht1cIomYnCrZWc3USEdZdI=\n"
				   "-----END PUBLIC KEY-----\n";
	ck_assert_int_eq(dfi_orig_keys_new(&a, 0), DFI_OK);
	ck_assert_msg(dfi_orig_keys_load_buffer(a, "k", good, strlen(good), &d) == DFI_OK, "%s", d.message);
	ck_assert_str_eq(dfi_orig_keys_name(a, 0), "desfire-sim in PEM");
	dfi_sim *sim = pf_card(50, NULL);
	uint8_t uid[7], cmd[] = { 0x90, 0x3C, 0x00, 0x00, 0x01, 0x00, 0x00 }, r[80];
	size_t rl;
	const char *who = NULL;
	dfi_sim_uid(sim, uid);
	ck_assert_int_eq(dfi_sim_process(sim, cmd, sizeof(cmd), r, sizeof(r), &rl), DFI_OK);
	ck_assert_uint_eq(rl, 58);
	ck_assert_int_eq(dfi_orig_verify(a, uid, 7, r, &who), DFI_OK);
	ck_assert_str_eq(who, "desfire-sim in PEM");
	uid[0] ^= 1;
	ck_assert_int_eq(dfi_orig_verify(a, uid, 7, r, &who), DFI_E_NOT_FOUND);
	dfi_sim_free(sim);
	dfi_orig_keys_free(a);
}
END_TEST

/* ---- claims -------------------------------------------------------------------------- */

START_TEST(claimed_uid_is_not_touched)
{
	struct pfix f;
	struct card c;
	struct dfi_perso_result res;
	dfi_registry *reg;
	dfi_reg_claim *cl;
	uint8_t uid[7];
	size_t n;
	pf_open(&f, "reference");
	ck_assert_int_eq(dfi_registry_new_local(&reg, f.journal), DFI_OK);
	dfi_perso_free(f.perso);
	char detail[256] = "";
	struct dfi_perso_config pc = { .hsm = f.hsm, .journal = f.journal, .profile = f.profile,
		.station = "perso-test", .detail = detail, .detail_cap = sizeof(detail), .registry = reg };
	ck_assert_msg(dfi_perso_new(&f.perso, &pc) == DFI_OK, "%s", detail);
	ck_assert_int_eq(dfi_hex_decode(UID_HEX, uid, sizeof(uid), &n), DFI_OK);
	ck_assert_int_eq(dfi_registry_claim(reg, uid, 7, "station-x/reader 2", 0, &cl, NULL, 0), DFI_OK);
	card_open(&c, UID_HEX, DFI_SIM_MODEL_EV2, DFI_SIM_ORIG_TEST, 60);
	tap_ends(&f, &c, f.row, &res, DFI_PERSO_FAILED);
	ck_assert_int_eq(res.err, DFI_E_UID_CLAIMED);
	ck_assert_ptr_nonnull(strstr(res.detail, "station-x/reader 2"));
	ck_assert_uint_eq(c.log.n, 1); /* the UID, nothing else */
	dfi_registry_release(cl);
	tap_ends(&f, &c, f.row, &res, DFI_PERSO_DONE);
	card_close(&c);
	dfi_perso_free(f.perso);
	f.perso = NULL;
	dfi_registry_free(reg);
	pf_close(&f);
}
END_TEST

PF_TEST_MAIN("impostor", 300,
    second_card_with_an_issued_uid_is_refused,
    impostor_of_a_torn_card_is_refused, torn_uid_with_another_picc_key,
    torn_app_key_without_getkeyversion, authorized_reissue,
    transport_key_card_and_impostor, originality_require, originality_warn_and_default,
    builtin_keys_equal_the_shipped_file, claimed_uid_is_not_touched)
