/* ISO 7816-4 wrapping and 0xAF chaining, and how card misbehaviour on the
 * link is refused: early success, early errors, non-DESFire status words,
 * data where none may be, torn answers. The card's answers here are
 * synthetic by design: each names one protocol rule. */
#include "testutil.h"

#include "dfissue/desfire.h"
#include "replay.h"
#include "desfire/df_testhooks.h" /* test hooks: engine/desfire */

static void
hexcat(char *dst, const uint8_t *p, size_t n)
{
	char tmp[2 * 256 + 1];
	ck_assert_int_eq(dfi_hex_encode(p, n, tmp, sizeof(tmp)), DFI_OK);
	strcat(dst, tmp);
}

START_TEST(write_splits_into_frames)
{
	uint8_t data[130];
	char f1[300] = "903D00003B01000000820000", f2[300] = "90AF00003B", f3[300] = "90AF000013";
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	hexcat(f1, data, 52);
	strcat(f1, "00");
	hexcat(f2, data + 52, 59);
	strcat(f2, "00");
	hexcat(f3, data + 111, 19);
	strcat(f3, "00");
	const struct replay_step st[] = { { f1, "91AF" }, { f2, "91AF" }, { f3, "9100" } };
	struct rig g;
	rig_open(&g, st, 3);
	ck_assert_int_eq(dfi_desfire_write_data(g.d, 1, DFI_DF_COMM_PLAIN, 0, data, 130), DFI_OK);
	rig_close(&g);
}
END_TEST

/* A 100-byte write whose first frame the card answers wrongly: the rest is
 * never sent. */
static const struct {
	const char *answer;
	dfi_err want;
	int status; /* the card status then reported, or -1 */
} first_frame_answers[] = {
	{ "9100", DFI_E_CARD_PROTOCOL, -1 },          /* early success */
	{ "919D", DFI_E_DF_PERMISSION_DENIED, 0x9D }, /* early error */
	{ "0191AF", DFI_E_CARD_PROTOCOL, -1 },        /* data in an intermediate frame */
};

START_TEST(first_frame_answer_ends_write)
{
	uint8_t data[100] = { 0 };
	char f1[300] = "903D00003B01000000640000";
	hexcat(f1, data, 52);
	strcat(f1, "00");
	const struct replay_step st[] = { { f1, first_frame_answers[_i].answer } };
	struct rig g;
	rig_open(&g, st, 1);
	ck_assert_int_eq(dfi_desfire_write_data(g.d, 1, DFI_DF_COMM_PLAIN, 0, data, 100),
	    first_frame_answers[_i].want);
	if (first_frame_answers[_i].status >= 0)
		ck_assert_uint_eq(dfi_desfire_last_status(g.d), (unsigned)first_frame_answers[_i].status);
	rig_close(&g);
}
END_TEST

/* GetApplicationIDs against what a card may answer: the AIDs over two
 * frames joined, then non-DESFire status words and torn answers. */
static const struct {
	const char *first, *more; /* the answer, and to 90 AF (NULL: not asked) */
	dfi_err want;
	size_t naids; /* with DFI_OK: how many, the last being AID naids */
} aid_answers[] = {
	{ "01000002000091AF", "0300009100", DFI_OK, 3 },
	{ "6A82", NULL, DFI_E_CARD_PROTOCOL, 0 },
	{ "", NULL, DFI_E_CARD_TORN, 0 },
	{ "91", NULL, DFI_E_CARD_TORN, 0 },
	{ "91CA", NULL, DFI_E_DF_COMMAND_ABORTED, 0 },
};

START_TEST(application_ids_answers)
{
	for (size_t i = 0; i < sizeof(aid_answers) / sizeof(aid_answers[0]); i++) {
		const struct replay_step st[] = { { "906A000000", aid_answers[i].first },
			{ "90AF000000", aid_answers[i].more } };
		struct rig g;
		uint32_t aids[4];
		size_t n;
		rig_open(&g, st, aid_answers[i].more != NULL ? 2 : 1);
		dfi_err e = dfi_desfire_get_application_ids(g.d, aids, 4, &n);
		ck_assert_msg(e == aid_answers[i].want, "answer %zu (%s): %s, wanted %s", i + 1,
		    aid_answers[i].first, dfi_strerror(e), dfi_strerror(aid_answers[i].want));
		if (aid_answers[i].want == DFI_OK) {
			ck_assert_uint_eq(n, aid_answers[i].naids);
			ck_assert_uint_eq(aids[n - 1], aid_answers[i].naids);
		}
		rig_close(&g);
	}
}
END_TEST

START_TEST(error_status_ends_session)
{
	static const struct replay_step st[] = { { "9045000000", "91AE" } };
	struct rig g;
	struct dfi_df_session s;
	struct dfi_df_key_settings ks;
	memset(&s, 0, sizeof(s));
	s.scheme = DFI_DF_SCHEME_EV1;
	s.keytype = DFI_KT_AES128;
	rig_open(&g, st, 1);
	ck_assert_int_eq(dfi_desfire_set_session(g.d, &s), DFI_OK);
	ck_assert_int_eq(dfi_desfire_auth_keyno(g.d), 0);
	ck_assert_int_eq(dfi_desfire_get_key_settings(g.d, &ks), DFI_E_DF_AUTHENTICATION_ERROR);
	ck_assert_int_eq(dfi_desfire_scheme(g.d), DFI_DF_SCHEME_NONE);
	ck_assert_int_eq(dfi_desfire_auth_keyno(g.d), -1);
	rig_close(&g);
}
END_TEST

START_TEST(endless_frames_bounded)
{
	/* A card that keeps answering 91 AF with nothing is cut off. */
	struct replay_step st[DFI_DF_MAX_DATA / 8 + 3];
	size_t n = 0;
	st[n++] = (struct replay_step){ "906A000000", "91AF" };
	while (n < sizeof(st) / sizeof(st[0]))
		st[n++] = (struct replay_step){ "90AF000000", "91AF" };
	struct rig g;
	uint32_t aids[4];
	size_t k;
	rig_open(&g, st, n);
	ck_assert_int_eq(dfi_desfire_get_application_ids(g.d, aids, 4, &k), DFI_E_CARD_PROTOCOL);
	ck_assert_uint_le(g.rp.pos, n);
	dfi_desfire_free(g.d);
	dfi_transport_free(g.t);
}
END_TEST

int
main(void)
{
	return dfi_test_main_rows("desfire_frame", first_frame_answer_ends_write,
	    DFI_TEST_ROWS(first_frame_answers),
	    (const TTest *[]){ write_splits_into_frames, application_ids_answers,
	    error_status_ends_session, endless_frames_bounded, NULL });
}
