/* Change records (issue 20): an intent for a card change that is not a key
 * change (the PICC's LRP switch, an SDM file's settings), its grammar, its
 * outcomes, what the index and the auditor make of it, and the journal
 * format (3) that may hold it (a format-1 journal refuses one:
 * test_journal_format). */
#include "testutil.h"
#include "jtest.h"

JT_SIGNER_FIXTURE

static const uint8_t uid7[7] = { 0x04, 0x78, 0x2E, 0x21, 0x80, 0x1D, 0x80 };

/* Formats r as record seq of station "s1" into line (DFI_J_LINE_MAX + 1
 * bytes), checks it is want when want is not NULL, and parses it back. */
static void
roundtrip(dfi_jrec *r, uint64_t seq, const char *want, char *line, dfi_jrec *back)
{
	size_t n;
	r->seq = seq;
	r->time = 1764059400;
	strcpy(r->station, "s1");
	ck_assert_int_eq(dfi_jrec_format(r, line, DFI_J_LINE_MAX + 1, &n), DFI_OK);
	if (want != NULL)
		ck_assert_str_eq(line, want);
	ck_assert_int_eq(dfi_jrec_parse(line, n, back), DFI_OK);
	ck_assert_int_eq(back->type, r->type);
}

START_TEST(change_record_grammar)
{
	static const uint8_t tgt[2] = { 0x00, 0x02 };
	dfi_jrec r, back;
	char line[DFI_J_LINE_MAX + 1];
	ck_assert_int_eq(dfi_jrec_change(&r, uid7, 7, 0, "lrp", tgt, 2), DFI_OK);
	roundtrip(&r, 5, "seq=5 time=2025-11-25T08:30:00Z type=change uid=04782E21801D80 "
	    "aid=000000 what=lrp target=0002 station=s1", line, &back);
	ck_assert_str_eq(back.what, "lrp");
	ck_assert_uint_eq(back.target_len, 2);
	ck_assert_int_eq(memcmp(back.key.uid, uid7, 7), 0);
	ck_assert_uint_eq(back.key.aid, 0);

	/* an SDM file of application F54010 (command order), a 32-byte target */
	uint8_t t32[32];
	memset(t32, 0xA5, sizeof(t32));
	ck_assert_int_eq(dfi_jrec_change(&r, uid7, 7, 0x1040F5, "sdm:file=02", t32, 32), DFI_OK);
	roundtrip(&r, 6, NULL, line, &back);
	ck_assert_ptr_nonnull(strstr(line, " aid=F54010 what=sdm:file=02 target=A5A5"));
	ck_assert_str_eq(back.what, "sdm:file=02");
	ck_assert_uint_eq(back.target_len, 32);
	/* no target: "-" */
	ck_assert_int_eq(dfi_jrec_change(&r, uid7, 4, 0, "lrp", NULL, 0), DFI_OK);
	roundtrip(&r, 7, NULL, line, &back);
	ck_assert_ptr_nonnull(strstr(line, " what=lrp target=- station=s1"));
	ck_assert_uint_eq(back.target_len, 0);

	/* the helper refuses what the grammar cannot say */
	uint8_t t33[33] = { 0 };
	ck_assert_int_eq(dfi_jrec_change(&r, uid7, 7, 0, "lrp", t33, 33), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_jrec_change(&r, uid7, 0, 0, "lrp", NULL, 0), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_jrec_change(&r, uid7, 11, 0, "lrp", NULL, 0), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_jrec_change(&r, uid7, 7, 0x1000000, "lrp", NULL, 0), DFI_E_INVALID_ARG);
	static const char *const bad_what[] = { "", "LRP", "1lrp", "lrp x", "lrp%", "a/b",
		"abcdefghijklmnopqrstuvwxyz012345", NULL };
	for (int i = 0; i < 8; i++)
		ck_assert_msg(dfi_jrec_change(&r, uid7, 7, 0, bad_what[i], NULL, 0) == DFI_E_INVALID_ARG,
		    "what #%d accepted", i);
	ck_assert_int_eq(dfi_jrec_change(&r, uid7, 7, 0, "abcdefghijklmnopqrstuvwxyz01234", NULL, 0),
	    DFI_OK); /* 31 characters: the longest */

	/* one spelling only */
	static const char *const bad[] = {
		"seq=5 time=2025-11-25T08:30:00Z type=change uid=04782E21801D80 aid=000000 what=LRP target=0002 station=s1",
		"seq=5 time=2025-11-25T08:30:00Z type=change uid=04782E21801D80 aid=000000 what=lrp target=0002 station=s1 ",
		"seq=5 time=2025-11-25T08:30:00Z type=change uid=04782E21801D80 aid=000000 what=%6Crp target=0002 station=s1",
		"seq=5 time=2025-11-25T08:30:00Z type=change uid=04782E21801D80 aid=000000 what=lrp target=0002 keyno=0 station=s1",
		"seq=5 time=2025-11-25T08:30:00Z type=change uid=04782E21801D80 aid=000000 target=0002 what=lrp station=s1",
		"seq=5 time=2025-11-25T08:30:00Z type=change uid=04782E21801D80 aid=000000 what=lrp target=00 02 station=s1",
		"seq=5 time=2025-11-25T08:30:00Z type=change uid=04782E21801D80 aid=000000 what=lrp target=0a station=s1",
		"seq=5 time=2025-11-25T08:30:00Z type=change uid=04782E21801D80 aid=0000 what=lrp target=00 station=s1",
		"seq=5 time=2025-11-25T08:30:00Z type=change uid=- aid=000000 what=lrp target=00 station=s1",
		"seq=5 time=2025-11-25T08:30:00Z type=change uid=04782E21801D80 aid=000000 what=lrp station=s1",
		"seq=5 time=2025-11-25T08:30:00Z type=change uid=04782E21801D80 aid=000000 what=lrp target= station=s1",
		"seq=5 time=2025-11-25T08:30:00Z type=change uid=04782E21801D80 aid=000000 what=lrp "
		"target=000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20 station=s1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(dfi_jrec_parse(bad[i], strlen(bad[i]), &back) == DFI_E_JOURNAL_FORMAT,
		    "accepted: %s", bad[i]);
}
END_TEST

struct seen {
	unsigned changes, intents, unresolved;
	uint64_t open_seq;
	char what[DFI_J_WHAT_MAX];
	char finding[2048];
};

static void
on_intent(void *ctx, const dfi_jrec *in)
{
	struct seen *s = ctx;
	if (in->type == DFI_JREC_CHANGE) {
		s->changes++;
		s->open_seq = in->seq;
		strcpy(s->what, in->what);
	} else {
		s->intents++;
	}
}

static void
on_unresolved(void *ctx, const dfi_jrec *in)
{
	struct seen *s = ctx;
	s->unresolved++;
	if (in->type == DFI_JREC_CHANGE)
		strcpy(s->what, in->what);
}

static void
on_finding(void *ctx, uint64_t line, dfi_err code, const char *msg)
{
	(void)line;
	(void)code;
	struct seen *s = ctx;
	size_t n = strlen(s->finding);
	snprintf(s->finding + n, sizeof(s->finding) - n, "%s; ", msg);
}

/* A new journal (format 3) in a new directory *dir, open for appending. */
static dfi_journal *
new_journal(char **dir)
{
	struct dfi_journal_opts jo = { .station = "t" };
	dfi_journal *j = NULL;
	*dir = jt_tmpdir();
	ck_assert_ptr_nonnull(*dir);
	ck_assert_int_eq(dfi_journal_create(*dir, "dfissue.example/change", g_signer, &jo), DFI_OK);
	ck_assert_int_eq(dfi_journal_open(&j, *dir, g_signer, &jo, NULL), DFI_OK);
	return j;
}

/* What `dfissue ARGS` printed (stdout and stderr), in buf. */
static void
cli(char *buf, size_t cap, const char *args)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "%s/bin/dfissue %s 2>&1", getenv("DFI_BUILD_DIR"), args);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	size_t n = fread(buf, 1, cap - 1, p);
	buf[n] = '\0';
	pclose(p);
}

/* Appends, outcomes, the index's view (the registry's and recovery's
 * source) and the auditor's, across a reopen. */
START_TEST(change_intent_lifecycle)
{
	char *dir;
	struct dfi_journal_opts jo = { .station = "t" };
	dfi_journal *j = new_journal(&dir);
	dfi_jrec c, sdm, out;
	static const uint8_t tgt[1] = { 0x02 };
	ck_assert_int_eq(dfi_jrec_change(&c, uid7, 7, 0, "lrp", tgt, 1), DFI_OK);
	ck_assert_int_eq(dfi_jrec_change(&sdm, uid7, 7, 0x1040F5, "sdm:file=02", tgt, 1), DFI_OK);
	uint64_t seq_lrp, seq_sdm;
	ck_assert_int_eq(dfi_journal_append(j, &c, 1, &seq_lrp), DFI_OK);
	/* a second open change of the same what is refused, another what not */
	ck_assert_int_eq(dfi_journal_append(j, &c, 1, NULL), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_journal_append(j, &sdm, 1, &seq_sdm), DFI_OK);
	/* a key intent of the same card meanwhile is independent */
	dfi_jrec ki = jt_intent("04782E21801D80", 0x1040F5, 1, 0, 1);
	uint64_t seq_key;
	ck_assert_int_eq(dfi_journal_intent(j, &ki, &seq_key), DFI_OK);
	struct dfi_journal_card card;
	struct seen s = { 0 };
	ck_assert_int_eq(dfi_journal_card(j, uid7, 7, &card, NULL, on_intent, &s), DFI_OK);
	ck_assert_uint_eq(card.open_intents, 3);
	ck_assert_uint_eq(card.slots, 1); /* a change has no key slot */
	ck_assert_uint_eq(s.changes, 2);
	ck_assert_uint_eq(s.intents, 1);
	ck_assert(card.has_intent && card.last_intent == seq_key);
	ck_assert_uint_eq(dfi_journal_open_intents(j, NULL, NULL), 3);
	/* a refusal of a tap that began before the change is refused too */
	dfi_jrec ref;
	ck_assert_int_eq(dfi_jrec_card_event(&ref, DFI_JREC_REFUSAL, uid7, 7, DFI_JCAUSE_ISSUED,
	    seq_lrp, "x"), DFI_OK);
	ck_assert_int_eq(dfi_journal_append(j, &ref, 1, NULL), DFI_E_INVALID_ARG);

	/* outcomes: commit the switch, resolve the SDM change (not applied) */
	ck_assert_int_eq(dfi_journal_commit(j, seq_lrp), DFI_OK);
	ck_assert_int_eq(dfi_journal_commit(j, seq_lrp), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_jrec_outcome(&out, DFI_JREC_RESOLVE, seq_sdm, NULL, -1, DFI_JMATCH_OLD), DFI_OK);
	ck_assert_int_eq(dfi_journal_append(j, &out, 1, NULL), DFI_OK);
	ck_assert_int_eq(dfi_journal_commit(j, seq_key), DFI_OK);
	/* the same change again once the first has its outcome */
	ck_assert_int_eq(dfi_journal_append(j, &sdm, 1, &seq_sdm), DFI_OK);
	dfi_journal_close(j);

	/* reopened: the index rebuilt from the file sees the open change */
	j = NULL;
	ck_assert_int_eq(dfi_journal_open(&j, dir, g_signer, &jo, NULL), DFI_OK);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(dfi_journal_card(j, uid7, 7, &card, NULL, on_intent, &s), DFI_OK);
	ck_assert_uint_eq(card.open_intents, 1);
	ck_assert_uint_eq(s.changes, 1);
	ck_assert_uint_eq(s.open_seq, seq_sdm);
	ck_assert_str_eq(s.what, "sdm:file=02");
	ck_assert_int_eq(dfi_journal_abort(j, seq_sdm, "card left the field"), DFI_OK);
	ck_assert_int_eq(dfi_journal_append(j, &c, 1, &seq_lrp), DFI_OK);
	dfi_journal_close(j);

	/* the auditor: verifies, counts the changes, lists the open one */
	char path[512];
	snprintf(path, sizeof(path), "%s/" DFI_JOURNAL_FILE, dir);
	memset(&s, 0, sizeof(s));
	struct dfi_jverify_opts vo = { .pubkey = g_pub, .unresolved = on_unresolved,
		.finding = on_finding, .ctx = &s };
	struct dfi_jverify_result res;
	ck_assert_int_eq(dfi_journal_verify_file(path, &vo, &res), DFI_OK);
	ck_assert_uint_eq(res.findings, 0);
	ck_assert_uint_eq(res.changes, 4);
	ck_assert_uint_eq(res.intents, 1);
	ck_assert_uint_eq(res.commits, 2);
	ck_assert_uint_eq(res.resolves, 1);
	ck_assert_uint_eq(res.aborts, 1);
	ck_assert_uint_eq(res.unresolved, 1);
	ck_assert_uint_eq(s.unresolved, 1);
	ck_assert_str_eq(s.what, "lrp");
	size_t len;
	char *txt = (char *)jt_read(path, &len);
	ck_assert_ptr_nonnull(txt);
	ck_assert_ptr_nonnull(strstr(txt, " type=genesis format=3 "));
	ck_assert_ptr_nonnull(strstr(txt, " type=change uid=04782E21801D80 aid=000000 what=lrp target=02 station=t\n"));

	/* what the CLI shows of them: journal show (text, JSON, HTML), verify, recover */
	static char o[65536];
	char args[1024];
	snprintf(args, sizeof(args), "journal show %s", dir);
	cli(o, sizeof(o), args);
	ck_assert_msg(strstr(o, "AID 000000 change lrp -> 02  committed") != NULL, "%s", o);
	ck_assert_msg(strstr(o, "AID F54010 change sdm:file=02 -> 02  resolved-old") != NULL, "%s", o);
	ck_assert_msg(strstr(o, "AID F54010 change sdm:file=02 -> 02  aborted") != NULL, "%s", o);
	ck_assert_msg(strstr(o, "unresolved intents: 1\n  card 04782E21801D80  ") != NULL, "%s", o);
	snprintf(args, sizeof(args), "journal show --json %s", dir);
	cli(o, sizeof(o), args);
	ck_assert_msg(strstr(o, "\"what\": \"sdm:file=02\"") != NULL, "%s", o);
	ck_assert_msg(strstr(o, "\"outcome\": \"resolved-old\"") != NULL, "%s", o);
	snprintf(args, sizeof(args), "journal show --html %s/j.html %s", dir, dir);
	cli(o, sizeof(o), args);
	char hp[600];
	snprintf(hp, sizeof(hp), "%s/j.html", dir);
	size_t hl;
	char *html = (char *)jt_read(hp, &hl);
	ck_assert_ptr_nonnull(html);
	ck_assert_ptr_nonnull(strstr(html, "card change UNRESOLVED: lrp"));
	ck_assert_ptr_nonnull(strstr(html, "the card confirmed the change"));
	ck_assert_ptr_nonnull(strstr(html, "probing it showed the change not made"));
	free(html);
	snprintf(args, sizeof(args), "journal verify --pubkey %s/pub.pem %s", dir, dir);
	snprintf(hp, sizeof(hp), "%s/pub.pem", dir);
	ck_assert_int_eq(jt_write_pubkey_pem(g_signer, hp), 0);
	cli(o, sizeof(o), args);
	char want[128];
	snprintf(want, sizeof(want), "unresolved intent %llu: card 04782E21801D80 AID 000000 change lrp -> 02 (",
	    (unsigned long long)seq_lrp);
	ck_assert_msg(strstr(o, want) != NULL, "%s", o);
	snprintf(args, sizeof(args), "recover --journal %s --pubkey %s", dir, hp);
	cli(o, sizeof(o), args);
	ck_assert_msg(strstr(o, "card 04782E21801D80  app 000000 change lrp -> 02\n") != NULL, "%s", o);
	ck_assert_msg(strstr(o, "1 unresolved intent(s)") != NULL, "%s", o);

	/* the same records under a genesis saying format 2: what an older
	 * reader would refuse, this one reports at the change (signatures
	 * not checked: the genesis was edited) */
	char *g = strstr(txt, " format=3 ");
	ck_assert_ptr_nonnull(g);
	g[8] = '2';
	memset(&s, 0, sizeof(s));
	struct dfi_jverify_opts so = { .finding = on_finding, .ctx = &s };
	ck_assert_int_ne(dfi_journal_verify_buf((const uint8_t *)txt, len, &so, &res), DFI_OK);
	ck_assert_msg(strstr(s.finding, "a change record in a format-2 journal (change records need format 3)") != NULL,
	    "findings: %s", s.finding);
	free(txt);
	jt_rmrf(dir);
	free(dir);
}
END_TEST

/* A resolve of a change names no key version; a resolve stating one is a
 * finding. Written by hand (the writer's own record is well-formed). */
START_TEST(change_resolve_with_version_is_a_finding)
{
	char *dir;
	dfi_journal *j = new_journal(&dir);
	dfi_jrec c, out;
	uint64_t seq;
	ck_assert_int_eq(dfi_jrec_change(&c, uid7, 7, 0, "lrp", NULL, 0), DFI_OK);
	ck_assert_int_eq(dfi_journal_append(j, &c, 1, &seq), DFI_OK);
	ck_assert_int_eq(dfi_jrec_outcome(&out, DFI_JREC_RESOLVE, seq, NULL, 3, DFI_JMATCH_NEW), DFI_OK);
	ck_assert_int_eq(dfi_journal_append(j, &out, 1, NULL), DFI_OK);
	dfi_journal_close(j);
	char path[512];
	snprintf(path, sizeof(path), "%s/" DFI_JOURNAL_FILE, dir);
	struct seen s = { 0 };
	struct dfi_jverify_opts vo = { .pubkey = g_pub, .finding = on_finding, .ctx = &s };
	struct dfi_jverify_result res;
	ck_assert_int_eq(dfi_journal_verify_file(path, &vo, &res), DFI_E_JOURNAL_CORRUPT);
	ck_assert_msg(strstr(s.finding, "resolve 2 of change 1 states a key version") != NULL,
	    "finding: %s", s.finding);
	jt_rmrf(dir);
	free(dir);
}
END_TEST


int
main(void)
{
	return dfi_test_main("journal_change", &(struct dfi_test_case){ .setup = setup, .teardown = teardown },
	    (const TTest *[]){ change_record_grammar, change_intent_lifecycle,
	    change_resolve_with_version_is_a_finding, NULL });
}
