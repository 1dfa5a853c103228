/* Per-card records and checks of the journal (issue 11): refusal and
 * authorization records (grammar, canonical form), the index's per-card
 * state (dfi_journal_card: which key slots hold a committed key, refusals,
 * authorizations), the writer refusing what the auditor would flag, and the
 * auditor's findings on journals built by hand and signed properly. */
#include "testutil.h"
#include "jtest.h"

#define ORIGIN "dfissue.test/cards"
#define UID_A "04AAAAAAAAAA01"
#define UID_B "04BBBBBBBBBB02"

static const struct dfi_journal_opts base_opts = { .station = "test-station" };

JT_SIGNER_FIXTURE

static dfi_jrec
refusal(const char *uid_hex, dfi_jcause cause, uint64_t tap, const char *reason)
{
	uint8_t uid[DFI_J_UID_MAX];
	size_t n = HEX(uid, uid_hex);
	dfi_jrec r;
	ck_assert_int_eq(dfi_jrec_card_event(&r, DFI_JREC_REFUSAL, uid, n, cause, tap, reason), DFI_OK);
	return r;
}

static dfi_jrec
authorization(const char *uid_hex, const char *reason)
{
	uint8_t uid[DFI_J_UID_MAX];
	size_t n = HEX(uid, uid_hex);
	dfi_jrec r;
	ck_assert_int_eq(dfi_jrec_card_event(&r, DFI_JREC_AUTHORIZATION, uid, n, 0, 0, reason),
	    DFI_OK);
	return r;
}

static dfi_jrec
commit(uint64_t intent)
{
	dfi_jrec r;
	ck_assert_int_eq(dfi_jrec_outcome(&r, DFI_JREC_COMMIT, intent, NULL, -1, 0), DFI_OK);
	return r;
}

START_TEST(card_event_records_roundtrip)
{
	dfi_jrec r = refusal(UID_A, DFI_JCAUSE_ISSUED, 12, "issued: PICC key shows the factory key"), back;
	char line[DFI_J_LINE_MAX + 1];
	size_t n;
	r.seq = 17;
	r.time = 1764059400;
	strcpy(r.station, "line 1");
	ck_assert_int_eq(dfi_jrec_format(&r, line, sizeof(line), &n), DFI_OK);
	ck_assert_str_eq(line, "seq=17 time=2025-11-25T08:30:00Z type=refusal uid=04AAAAAAAAAA01 "
			       "cause=issued tap=12 reason=issued:%20PICC%20key%20shows%20the%20factory%20key "
			       "station=line%201");
	ck_assert_int_eq(dfi_jrec_parse(line, n, &back), DFI_OK);
	ck_assert_int_eq(back.type, DFI_JREC_REFUSAL);
	ck_assert_int_eq(back.cause, DFI_JCAUSE_ISSUED);
	ck_assert_uint_eq(back.tap, 12);
	ck_assert_uint_eq(back.key.uid_len, 7);
	ck_assert_str_eq(back.reason, r.reason);

	for (int c = DFI_JCAUSE_ISSUED; c <= DFI_JCAUSE_ORIGINALITY; c++) {
		dfi_jrec x = refusal(UID_B, (dfi_jcause)c, 0, "why");
		x.time = 1;
		strcpy(x.station, "s");
		ck_assert_int_eq(dfi_jrec_format(&x, line, sizeof(line), &n), DFI_OK);
		ck_assert_int_eq(dfi_jrec_parse(line, n, &back), DFI_OK);
		ck_assert_int_eq(back.cause, c);
		ck_assert_ptr_nonnull(strstr(line, dfi_jcause_name((dfi_jcause)c)));
	}

	r = authorization(UID_A, "chip replaced, ticket 4711");
	r.seq = 3;
	r.time = 1764059400;
	strcpy(r.station, "s");
	ck_assert_int_eq(dfi_jrec_format(&r, line, sizeof(line), &n), DFI_OK);
	ck_assert_str_eq(line, "seq=3 time=2025-11-25T08:30:00Z type=authorization uid=04AAAAAAAAAA01 "
			       "reason=chip%20replaced,%20ticket%204711 station=s");
	ck_assert_int_eq(dfi_jrec_parse(line, n, &back), DFI_OK);
	ck_assert_int_eq(back.type, DFI_JREC_AUTHORIZATION);
	ck_assert_str_eq(back.reason, "chip replaced, ticket 4711");

	/* the builder refuses what the grammar cannot hold */
	uint8_t uid[11] = { 0 };
	ck_assert_int_eq(dfi_jrec_card_event(&r, DFI_JREC_REFUSAL, uid, 0, DFI_JCAUSE_ISSUED, 0, "x"),
	    DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_jrec_card_event(&r, DFI_JREC_REFUSAL, uid, 11, DFI_JCAUSE_ISSUED, 0, "x"),
	    DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_jrec_card_event(&r, DFI_JREC_REFUSAL, uid, 7, (dfi_jcause)9, 0, "x"),
	    DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_jrec_card_event(&r, DFI_JREC_REFUSAL, uid, 7, DFI_JCAUSE_ISSUED, 0, ""),
	    DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_jrec_card_event(&r, DFI_JREC_COMMIT, uid, 7, DFI_JCAUSE_ISSUED, 0, "x"),
	    DFI_E_INVALID_ARG);
}
END_TEST

START_TEST(card_event_records_non_canonical)
{
	static const char *const bad[] = {
		/* unknown cause, lower-case UID, missing tap, fields out of order,
		 * empty reason, a key field that has no place here */
		"seq=1 time=2025-11-25T08:30:01Z type=refusal uid=04AAAAAAAAAA01 cause=stolen tap=1 reason=x station=s",
		"seq=1 time=2025-11-25T08:30:01Z type=refusal uid=04aaaaaaaaaa01 cause=issued tap=1 reason=x station=s",
		"seq=1 time=2025-11-25T08:30:01Z type=refusal uid=04AAAAAAAAAA01 cause=issued reason=x station=s",
		"seq=1 time=2025-11-25T08:30:01Z type=refusal uid=04AAAAAAAAAA01 tap=1 cause=issued reason=x station=s",
		"seq=1 time=2025-11-25T08:30:01Z type=refusal uid=04AAAAAAAAAA01 cause=issued tap=01 reason=x station=s",
		"seq=1 time=2025-11-25T08:30:01Z type=refusal uid=- cause=issued tap=1 reason=x station=s",
		"seq=1 time=2025-11-25T08:30:01Z type=refusal uid=04AAAAAAAAAA0102030405 cause=issued tap=1 reason=x station=s",
		"seq=1 time=2025-11-25T08:30:01Z type=authorization uid=04AAAAAAAAAA01 reason= station=s",
		"seq=1 time=2025-11-25T08:30:01Z type=authorization uid=04AAAAAAAAAA01 aid=000000 reason=x station=s",
		"seq=1 time=2025-11-25T08:30:01Z type=authorization uid=04AAAAAAAAAA01 station=s",
	};
	dfi_jrec r;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(dfi_jrec_parse(bad[i], strlen(bad[i]), &r) == DFI_E_JOURNAL_FORMAT,
		    "accepted: %s", bad[i]);
	const char *good = "seq=1 time=2025-11-25T08:30:01Z type=refusal uid=04AAAAAAAAAA01 "
			   "cause=transport-key tap=0 reason=x station=s";
	ck_assert_int_eq(dfi_jrec_parse(good, strlen(good), &r), DFI_OK);
	ck_assert_int_eq(r.cause, DFI_JCAUSE_TRANSPORT_KEY);
}
END_TEST

/* ---- the writer's index --------------------------------------------------- */

struct seen {
	struct dfi_journal_slot slot[16];
	unsigned nslots, nintents;
	uint64_t intent_seq;
};

static void
on_slot(void *ctx, const struct dfi_journal_slot *s)
{
	struct seen *v = ctx;
	if (v->nslots < 16)
		v->slot[v->nslots++] = *s;
}

static void
on_intent(void *ctx, const dfi_jrec *in)
{
	struct seen *v = ctx;
	v->nintents++;
	v->intent_seq = in->seq;
}

static const struct dfi_journal_slot *
find_slot(const struct seen *v, uint32_t aid, uint8_t keyno)
{
	for (unsigned i = 0; i < v->nslots; i++)
		if (v->slot[i].key.aid == aid && v->slot[i].key.keyno == keyno)
			return &v->slot[i];
	return NULL;
}

static struct dfi_journal_card
card(dfi_journal *j, const char *uid_hex, struct seen *v)
{
	uint8_t uid[DFI_J_UID_MAX];
	size_t n = HEX(uid, uid_hex);
	struct dfi_journal_card c;
	memset(v, 0, sizeof(*v));
	ck_assert_int_eq(dfi_journal_card(j, uid, n, &c, on_slot, on_intent, v), DFI_OK);
	return c;
}

static uint64_t
append1(dfi_journal *j, dfi_jrec r)
{
	uint64_t seq;
	ck_assert_int_eq(dfi_journal_append(j, &r, 1, &seq), DFI_OK);
	return seq;
}

START_TEST(index_tracks_issued_cards)
{
	char *d = jt_tmpdir();
	dfi_journal *j;
	struct seen v;
	ck_assert_int_eq(dfi_journal_create(d, ORIGIN, g_signer, &base_opts), DFI_OK);
	ck_assert_int_eq(dfi_journal_open(&j, d, g_signer, &base_opts, NULL), DFI_OK);

	struct dfi_journal_card c = card(j, UID_A, &v);
	ck_assert_uint_eq(c.slots, 0);
	ck_assert_uint_eq(c.changed, 0);

	/* First issue: app key 1 committed, PICC key intent left open (torn). */
	dfi_jrec in1 = jt_intent(UID_A, 0xF54010, 1, 0, 1);
	in1.key_gen = 3;
	uint64_t s1 = append1(j, in1);
	append1(j, commit(s1));
	uint64_t s2 = append1(j, jt_intent(UID_A, 0, 0, 0, 1));
	c = card(j, UID_A, &v);
	ck_assert_uint_eq(c.slots, 2);
	ck_assert_uint_eq(c.changed, 1);
	ck_assert_uint_eq(c.open_intents, 1);
	ck_assert_int_eq(c.has_intent, 1);
	ck_assert_uint_eq(c.last_intent, s2);
	ck_assert_uint_eq(v.nintents, 1);
	ck_assert_uint_eq(v.intent_seq, s2);
	const struct dfi_journal_slot *sl = find_slot(&v, 0xF54010, 1);
	ck_assert_ptr_nonnull(sl);
	ck_assert_int_eq(sl->state, DFI_JSLOT_CHANGED);
	ck_assert_int_eq(sl->version, 1);
	ck_assert_uint_eq(sl->generation, 3);
	ck_assert_uint_eq(sl->changed_by, s1);
	sl = find_slot(&v, 0, 0);
	ck_assert_ptr_nonnull(sl);
	ck_assert_int_eq(sl->has_open, 1);
	ck_assert_int_eq(sl->state, DFI_JSLOT_UNKNOWN);

	/* The next tap resolves it: the card still had its old key. */
	dfi_jrec rs;
	ck_assert_int_eq(dfi_jrec_outcome(&rs, DFI_JREC_RESOLVE, s2, NULL, 0, DFI_JMATCH_OLD), DFI_OK);
	append1(j, rs);
	c = card(j, UID_A, &v);
	ck_assert_uint_eq(c.open_intents, 0);
	ck_assert_int_eq(find_slot(&v, 0, 0)->state, DFI_JSLOT_INITIAL);
	ck_assert_int_eq(find_slot(&v, 0, 0)->version, 0);

	/* An impostor tap: refused, the tap began at the current size. */
	uint64_t tap = dfi_journal_size(j);
	uint64_t sr = append1(j, refusal(UID_A, DFI_JCAUSE_ISSUED, tap, "issued"));
	c = card(j, UID_A, &v);
	ck_assert_uint_eq(c.refusals, 1);
	ck_assert_uint_eq(c.last_refusal, sr);
	ck_assert_uint_eq(c.changed, 1);

	/* The writer refuses what the auditor would flag: a refusal whose tap
	 * wrote an intent before it, a tap beginning past the end. */
	uint64_t s3 = append1(j, jt_intent(UID_A, 0xF54010, 2, 0, 1));
	dfi_jrec bad = refusal(UID_A, DFI_JCAUSE_ISSUED, s3, "after an intent of its tap");
	ck_assert_int_eq(dfi_journal_append(j, &bad, 1, NULL), DFI_E_INVALID_ARG);
	bad = refusal(UID_A, DFI_JCAUSE_ISSUED, dfi_journal_size(j) + 5, "from the future");
	ck_assert_int_eq(dfi_journal_append(j, &bad, 1, NULL), DFI_E_INVALID_ARG);
	append1(j, commit(s3));

	/* An intent open across a refusal may be resolved later, never
	 * committed or aborted (only its own tap does that, and it ended). */
	uint64_t s4 = append1(j, jt_intent(UID_B, 0xF54010, 0, 0, 1));
	append1(j, refusal(UID_B, DFI_JCAUSE_TRANSPORT_KEY, dfi_journal_size(j), "no transport key"));
	dfi_jrec late = commit(s4);
	ck_assert_int_eq(dfi_journal_append(j, &late, 1, NULL), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_jrec_outcome(&late, DFI_JREC_ABORT, s4, "x", -1, 0), DFI_OK);
	ck_assert_int_eq(dfi_journal_append(j, &late, 1, NULL), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_jrec_outcome(&rs, DFI_JREC_RESOLVE, s4, NULL, 1, DFI_JMATCH_NEW), DFI_OK);
	append1(j, rs);

	/* An authorization forgets what the journal recorded for the card: a
	 * re-issue starts from the factory key. */
	uint64_t sa = append1(j, authorization(UID_A, "chip replaced"));
	c = card(j, UID_A, &v);
	ck_assert_uint_eq(c.changed, 0);
	ck_assert_uint_eq(c.authorizations, 1);
	ck_assert_uint_eq(c.last_authorization, sa);
	ck_assert_int_eq(c.authorization_pending, 1);
	for (unsigned i = 0; i < v.nslots; i++) {
		ck_assert_int_eq(v.slot[i].state, DFI_JSLOT_UNKNOWN);
		ck_assert_int_eq(v.slot[i].version, -1);
	}
	uint64_t s5 = append1(j, jt_intent(UID_A, 0xF54010, 1, 0, 1));
	c = card(j, UID_A, &v);
	ck_assert_int_eq(c.authorization_pending, 0);
	append1(j, commit(s5));
	c = card(j, UID_A, &v);
	ck_assert_uint_eq(c.changed, 1);

	/* The same state after a reopen (the index is rebuilt from the file). */
	dfi_journal_close(j);
	ck_assert_int_eq(dfi_journal_open(&j, d, g_signer, &base_opts, NULL), DFI_OK);
	struct dfi_journal_card c2 = card(j, UID_A, &v);
	ck_assert_uint_eq(c2.changed, c.changed);
	ck_assert_uint_eq(c2.refusals, 1);
	ck_assert_uint_eq(c2.authorizations, 1);
	ck_assert_uint_eq(c2.slots, c.slots);
	dfi_journal_close(j);

	struct dfi_jverify_result res;
	struct dfi_jverify_opts o = { .pubkey = g_pub };
	ck_assert_int_eq(dfi_journal_verify_file(d, &o, &res), DFI_OK);
	ck_assert_uint_eq(res.refusals, 2);
	ck_assert_uint_eq(res.authorizations, 1);
	jt_rmrf(d);
	free(d);
}
END_TEST

/* ---- the auditor on journals built by hand -------------------------------------- */

/* A journal of the given records (genesis first, added here) under one
 * signed checkpoint, as a writer that broke the rules would have made it. */
static char *
forge(const dfi_jrec *recs, size_t n, size_t *len)
{
	size_t cap = 65536, off = 0;
	char *buf = malloc(cap);
	dfi_merkle t;
	dfi_merkle_init(&t);
	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i <= n; i++) {
		dfi_jrec r;
		if (i == 0) {
			memset(&r, 0, sizeof(r));
			r.type = DFI_JREC_GENESIS;
			strcpy(r.origin, ORIGIN);
			r.alg = DFI_SIG_ED25519;
			ck_assert_int_eq(dfi_jpubkey_key_id(g_pub, ORIGIN, &r.key_id), DFI_OK);
		} else {
			r = recs[i - 1];
		}
		r.seq = i;
		r.time = 1764059400 + (int64_t)i;
		if (r.station[0] == '\0')
			strcpy(r.station, "forger");
		size_t ll;
		ck_assert_int_eq(dfi_jrec_format(&r, buf + off, cap - off, &ll), DFI_OK);
		uint8_t leaf[DFI_HASH_LEN];
		dfi_merkle_leaf_hash(buf + off, ll, leaf);
		ck_assert_int_eq(dfi_merkle_push(&t, leaf), DFI_OK);
		off += ll;
		buf[off++] = '\n';
	}
	dfi_checkpoint cp;
	memset(&cp, 0, sizeof(cp));
	strcpy(cp.origin, ORIGIN);
	cp.size = t.size;
	dfi_merkle_root(&t, cp.root);
	uint8_t note[DFI_J_NOTE_MAX];
	size_t nl;
	ck_assert_int_eq(dfi_note_sign(&cp, g_signer, note, sizeof(note), &nl), DFI_OK);
	off += (size_t)snprintf(buf + off, cap - off, "checkpoint ");
	off += (size_t)EVP_EncodeBlock((unsigned char *)buf + off, note, (int)nl);
	buf[off++] = '\n';
	*len = off;
	return buf;
}

struct findings {
	unsigned n;
	char all[2048];
};

static void
collect(void *ctx, uint64_t line, dfi_err code, const char *msg)
{
	struct findings *f = ctx;
	(void)code;
	f->n++;
	size_t l = strlen(f->all);
	snprintf(f->all + l, sizeof(f->all) - l, "%llu: %s\n", (unsigned long long)line, msg);
}

static struct findings
audit(const dfi_jrec *recs, size_t n)
{
	struct findings f;
	memset(&f, 0, sizeof(f));
	size_t len;
	char *buf = forge(recs, n, &len);
	struct dfi_jverify_opts o = { .pubkey = g_pub, .finding = collect, .ctx = &f };
	struct dfi_jverify_result res;
	dfi_err e = dfi_journal_verify_buf((const uint8_t *)buf, len, &o, &res);
	ck_assert_int_eq(e == DFI_OK, f.n == 0);
	free(buf);
	return f;
}

START_TEST(auditor_checks_refusals_and_reissue)
{
	/* records are numbered from 1 (0 is the genesis) */
	dfi_jrec r[8];
	struct findings f;

	/* Legitimate: issued, an impostor refused, the card itself later
	 * (nothing to do), then a re-issue after an authorization. */
	r[0] = jt_intent(UID_A, 0, 0, 0, 1);          /* 1 */
	r[1] = commit(1);                            /* 2 */
	r[2] = refusal(UID_A, DFI_JCAUSE_ISSUED, 3, "issued: PICC shows the factory key"); /* 3 */
	r[3] = authorization(UID_A, "chip replaced"); /* 4 */
	r[4] = jt_intent(UID_A, 0, 0, 0, 1);          /* 5: from version 0 again */
	r[5] = commit(5);                            /* 6 */
	f = audit(r, 6);
	ck_assert_msg(f.n == 0, "%s", f.all);

	/* The issue's double issuance: a second card from version 0 without an
	 * authorization breaks version continuity. */
	r[0] = jt_intent(UID_A, 0, 0, 0, 1);
	r[1] = commit(1);
	r[2] = jt_intent(UID_A, 0, 0, 0, 1);
	r[3] = commit(3);
	f = audit(r, 4);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_ptr_nonnull(strstr(f.all, "starts from version 0, but the journal last recorded version 1"));

	/* fuzz_perso's finding: a tampered GetKeyVersion gave the first
	 * intent version 96 and the tap ended before its ChangeKey (abort);
	 * the next tap reads 0. Nothing proved 96: no finding. Likewise after
	 * resolve matched=old. */
	r[0] = jt_intent(UID_A, 0, 0, 96, 1);        /* 1 */
	ck_assert_int_eq(dfi_jrec_outcome(&r[1], DFI_JREC_ABORT, 1, "not sent", -1, 0), DFI_OK);
	r[2] = jt_intent(UID_A, 0, 0, 0, 1);          /* 3 */
	ck_assert_int_eq(dfi_jrec_outcome(&r[3], DFI_JREC_RESOLVE, 3, NULL, -1, DFI_JMATCH_OLD), DFI_OK);
	r[4] = jt_intent(UID_A, 0, 0, 0, 1);          /* 5 */
	r[5] = commit(5);                            /* 6 */
	f = audit(r, 6);
	ck_assert_msg(f.n == 0, "%s", f.all);
	/* ...but the version a commit set still binds, through an abort. */
	r[6] = jt_intent(UID_A, 0, 0, 1, 2);          /* 7 */
	ck_assert_int_eq(dfi_jrec_outcome(&r[7], DFI_JREC_ABORT, 7, "refused", -1, 0), DFI_OK);
	f = audit(r, 8);
	ck_assert_msg(f.n == 0, "%s", f.all);
	r[6] = jt_intent(UID_A, 0, 0, 96, 2);
	f = audit(r, 8);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_ptr_nonnull(strstr(f.all, "starts from version 96, but the journal last recorded version 1"));

	/* A key change began in the refused tap before the refusal. */
	r[0] = jt_intent(UID_A, 0xF54010, 1, 0, 1); /* 1 */
	r[1] = refusal(UID_A, DFI_JCAUSE_TRANSPORT_KEY, 1, "transport key"); /* 2: tap from 1 */
	ck_assert_int_eq(dfi_jrec_outcome(&r[2], DFI_JREC_RESOLVE, 1, NULL, 0, DFI_JMATCH_OLD), DFI_OK);
	f = audit(r, 3);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_ptr_nonnull(strstr(f.all, "a key change began before the refusal"));

	/* The same intent from an earlier tap (tap starts after it): fine. */
	r[1] = refusal(UID_A, DFI_JCAUSE_TRANSPORT_KEY, 2, "transport key");
	f = audit(r, 3);
	ck_assert_msg(f.n == 0, "%s", f.all);

	/* A key change answered after the refusal (a commit of an intent
	 * written before it). */
	r[2] = commit(1);
	f = audit(r, 3);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_ptr_nonnull(strstr(f.all, "a key change was answered after the card was refused"));

	/* A refusal naming a tap after itself. */
	r[0] = refusal(UID_B, DFI_JCAUSE_ORIGINALITY, 9, "no signature");
	f = audit(r, 1);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_ptr_nonnull(strstr(f.all, "after the refusal itself"));
}
END_TEST

/* dfi_journal_file_card: the file read answers as the open journal does,
 * with or without the key; a journal with a finding answers nothing. */
START_TEST(file_card_answers_as_the_open_journal)
{
	char *d = jt_tmpdir();
	dfi_journal *j;
	dfi_jpubkey *pk;
	struct seen open_v, file_v;
	uint8_t uid[DFI_J_UID_MAX];
	size_t n = HEX(uid, UID_A);
	ck_assert_int_eq(dfi_jpubkey_from_signer(g_signer, &pk), DFI_OK);
	ck_assert_int_eq(dfi_journal_create(d, ORIGIN, g_signer, &base_opts), DFI_OK);
	ck_assert_int_eq(dfi_journal_open(&j, d, g_signer, &base_opts, NULL), DFI_OK);
	dfi_jrec in1 = jt_intent(UID_A, 0xF54010, 1, 0, 1);
	in1.key_gen = 3;
	append1(j, commit(append1(j, in1)));
	append1(j, jt_intent(UID_A, 0, 0, 0, 1)); /* left open */
	struct dfi_journal_card want = card(j, UID_A, &open_v);

	const struct dfi_jverify_opts keyed = { .pubkey = pk }, unkeyed = { 0 };
	const struct dfi_jverify_opts *opts[] = { &keyed, &unkeyed };
	for (size_t k = 0; k < 2; k++) {
		struct dfi_journal_card got;
		memset(&file_v, 0, sizeof(file_v));
		/* the station still holds the journal open: no lock is needed */
		ck_assert_int_eq(dfi_journal_file_card(d, opts[k], uid, n, &got, on_slot, on_intent,
				     &file_v), DFI_OK);
		ck_assert_mem_eq(&got, &want, sizeof(got));
		ck_assert_uint_eq(file_v.nslots, open_v.nslots);
		for (unsigned i = 0; i < open_v.nslots; i++) {
			const struct dfi_journal_slot *a = &file_v.slot[i], *b = &open_v.slot[i];
			ck_assert_msg(a->key.aid == b->key.aid && a->key.keyno == b->key.keyno &&
			    a->state == b->state && a->version == b->version &&
			    a->generation == b->generation && a->changed_by == b->changed_by &&
			    a->has_open == b->has_open && a->has_profile == b->has_profile,
			    "slot %u differs (%s)", i, k == 0 ? "keyed" : "unkeyed");
		}
		ck_assert_uint_eq(file_v.nintents, 1);
		ck_assert_uint_eq(file_v.intent_seq, open_v.intent_seq);
	}
	dfi_journal_close(j);

	/* A line no checkpoint covers (a torn write): nothing is answered. */
	char path[600];
	snprintf(path, sizeof(path), "%s/%s", d, DFI_JOURNAL_FILE);
	FILE *f = fopen(path, "a");
	ck_assert_ptr_nonnull(f);
	fputs("seq=99 time=2025-11-25T08:30:00Z type=abort\n", f);
	fclose(f);
	struct dfi_journal_card got;
	memset(&file_v, 0, sizeof(file_v));
	ck_assert_int_ne(dfi_journal_file_card(d, &keyed, uid, n, &got, on_slot, on_intent, &file_v),
	    DFI_OK);
	ck_assert_uint_eq(got.slots, 0);
	ck_assert_uint_eq(got.open_intents, 0);
	ck_assert_uint_eq(file_v.nslots + file_v.nintents, 0);
	ck_assert_int_eq(dfi_journal_file_card(d, NULL, uid, n, &got, NULL, NULL, NULL), DFI_E_INVALID_ARG);
	dfi_jpubkey_free(pk);
	jt_rmrf(d);
	free(d);
}
END_TEST

int
main(void)
{
	return dfi_test_main("journal-cards",
	    &(struct dfi_test_case){ .setup = setup, .teardown = teardown },
	    (const TTest *[]){ card_event_records_roundtrip,
	    card_event_records_non_canonical, index_tracks_issued_cards,
	    auditor_checks_refusals_and_reissue, file_card_answers_as_the_open_journal, NULL });
}
