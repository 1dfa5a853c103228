/*
 * The simulator against what real cards do, where another host stack
 * showed it differed (issue 14). Each test names its public source:
 *
 *  - libfreefare (nfc-tools/libfreefare, written and tested against real
 *    cards): libfreefare/mifare_desfire.c (mifare_desfire_connect,
 *    mifare_desfire_set_ats), test/test_mifare_desfire.c,
 *    test/test_mifare_desfire_ev1_aes.c, test/test_mifare_desfire_ev1_iso.c;
 *  - Proxmark3 (client/src/mifare/desfirecore.c: DesfireSetConfiguration,
 *    "dynamic length" ATS with 0x80 padding);
 *  - ISO/IEC 7816-4 (SELECT, READ BINARY, records) and the NFC Forum Type 4
 *    Tag specification (NDEF application D2760000850101, capability
 *    container E103), as Android's and Proxmark3's Type 4 readers use them;
 *  - PC/SC part 3 for the ATR of an ISO 14443-4 card.
 */
#include "simcard.h"
#include "simtest.h"

#include "dfissue/cardkey.h"
#include "dfissue/crypto.h"
#include "dfissue/desfire.h"
#include "dfissue/transport.h"
#include "desfire/df_testhooks.h" /* test hooks: engine/desfire */

/* The tests that are an APDU script alone, each a card of its own: the
 * section of test_sim_realcard.apdu (which names the public source) and
 * the card's seed. */
static const struct {
	const char *section;
	uint64_t seed;
} scripts[] = {
	{ "select_desfire_aid_selects_the_picc", 21 },
	{ "iso_application_is_decided_by_its_fid", 23 },
	{ "duplicate_iso_fid_or_df_name_is_refused", 24 },
	{ "type4_ndef_read_as_a_phone_does", 26 },
};

START_TEST(script_alone)
{
	dfi_sim *s = sim_open(NULL, scripts[_i].seed);
	sim_script(s, "test_sim_realcard.apdu", scripts[_i].section);
	dfi_sim_free(s);
}
END_TEST

/* An application of DES keys, key settings 0x09 (no free listing: file
 * IDs need the master key), one file; then an engine session. */
static void
session_setup(dfi_sim *s, dfi_desfire **d, dfi_transport **t, dfi_keytype kt, dfi_cardkey **k)
{
	static const uint8_t zero[16];
	dfi_test_card_session(s, t, d);
	OK(dfi_cardkey_new_plain(k, kt, zero, dfi_keytype_keylen(kt), 0));
	OK(dfi_desfire_create_application(*d, 0x0A0B0C, 0x09, 1, kt));
	OK(dfi_desfire_select_application(*d, 0x0A0B0C));
	dfi_df_authcmd how = kt == DFI_KT_AES128 ? DFI_DF_AUTH_AES : DFI_DF_AUTH_LEGACY;
	OK(dfi_desfire_authenticate(*d, how, 0, *k));
	struct dfi_df_access a = { .read = 0, .write = 0, .read_write = 0, .change = 0 };
	OK(dfi_desfire_create_std_file(*d, 1, DFI_DF_COMM_PLAIN, &a, 16));
	OK(dfi_desfire_authenticate(*d, how, 0, *k));
}

/* libfreefare's legacy DES test (test/test_mifare_desfire.c, the record
 * file loop: "The previous failure has aborted the transaction, so clear
 * record again") goes on in the same session after a 91 9D; its EV1 AES
 * test of the same scenario (test_mifare_desfire_ev1_aes.c) authenticates
 * again first. So: an error keeps a legacy (0x0A) session and ends an EV1
 * one; in both it aborts the transaction. */
START_TEST(error_keeps_a_legacy_session_and_ends_an_ev1_one)
{
	for (int ev1 = 0; ev1 <= 1; ev1++) {
		dfi_sim *s = sim_open(NULL, 22);
		dfi_desfire *d;
		dfi_transport *t;
		dfi_cardkey *k;
		session_setup(s, &d, &t, ev1 ? DFI_KT_AES128 : DFI_KT_DES, &k);
		/* In the session, file IDs are listed (EV1 answers with a CMAC). */
		const char *r = tx(s, "906F000000");
		ck_assert_uint_eq(strlen(r), ev1 ? 2 * (1 + 8 + 2) : 2 * (1 + 2));
		/* An error: ReadData of a file that does not exist. */
		ck_assert_str_eq(sw(s, "90BD00000709000000000000"), "91F0");
		const char *want = ev1 ? "91AE" : "9100";
		ck_assert_str_eq(sw(s, "906F000000"), want);
		dfi_cardkey_free(k);
		dfi_test_card_close(s, t, d);
	}
}
END_TEST

/* SetConfiguration option 02 under an EV1 session: ATS || CRC32(5C 02 ATS)
 * || 80 00.. enciphered (libfreefare mifare_desfire_set_ats; Proxmark3
 * DesfireSetConfiguration pads the "dynamic length" ATS with 0x80). Built
 * here from the session the engine holds; the card must answer status want. */
static void
set_ats_ev1(dfi_sim *s, dfi_desfire *d, const uint8_t *ats, size_t n, const char *want)
{
	struct dfi_df_session ss;
	OK(dfi_desfire_get_session(d, &ss));
	ck_assert_int_eq(ss.scheme, DFI_DF_SCHEME_EV1);
	size_t bl = dfi_keytype_blocklen(ss.keytype);
	uint8_t pt[48] = { 0 }, ct[48], crcin[40];
	memcpy(pt, ats, n);
	crcin[0] = 0x5C;
	crcin[1] = 0x02;
	memcpy(crcin + 2, ats, n);
	uint32_t crc = dfi_crc32_desfire(crcin, n + 2);
	for (int i = 0; i < 4; i++)
		pt[n + (size_t)i] = (uint8_t)(crc >> (8 * i));
	pt[n + 4] = 0x80;
	size_t len = (n + 5 + bl - 1) / bl * bl;
	OK(dfi_cipher(ss.keytype, ss.enc_key, 1, ss.iv, pt, ct, len));
	dfi_wipe(&ss, sizeof(ss));
	char hex[2 * 64 + 32], body[2 * 48 + 1];
	OK(dfi_hex_encode(ct, len, body, sizeof(body)));
	snprintf(hex, sizeof(hex), "905C0000%02X02%s00", (unsigned)(len + 1), body);
	ck_assert_str_eq(sw(s, hex), want);
}

/* EV1 and later accept option 02 (libfreefare's
 * mifare-desfire-ev1-configure-ats; the simulator refused it with 91 9E);
 * the next activation shows the new ATS's historical bytes in the PC/SC
 * part 3 ATR (3B 8n 80 01 hist TCK). */
START_TEST(set_ats_shows_at_the_next_activation)
{
	dfi_sim *s = sim_open(NULL, 25);
	uint8_t atr[32];
	size_t an = dfi_sim_atr(s, atr, sizeof(atr));
	char hex[80];
	OK(dfi_hex_encode(atr, an, hex, sizeof(hex)));
	ck_assert_str_eq(hex, "3B8180018080"); /* factory ATS 06 75 77 81 02 80 */

	dfi_transport *t;
	dfi_desfire *d;
	dfi_cardkey *des0;
	static const uint8_t zero[16];
	dfi_test_card_session(s, &t, &d);
	OK(dfi_cardkey_new_plain(&des0, DFI_KT_DES, zero, 8, 0));
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_ISO, 0, des0));
	/* TL 08, T0 78 (TA TB TC, FSCI 8), TA 77 TB 81 TC 02, history 80 C1 */
	static const uint8_t ats[] = { 0x08, 0x78, 0x77, 0x81, 0x02, 0x80, 0xC1, 0x05 };
	/* A malformed one (TL says 9 bytes, 8 follow... then refused): */
	static const uint8_t bad[] = { 0x05, 0xF8, 0x77, 0x81, 0x02 };
	set_ats_ev1(s, d, bad, sizeof(bad), "919E");
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_ISO, 0, des0));
	set_ats_ev1(s, d, ats, sizeof(ats), "9100");
	/* The running activation keeps its ATS until the card is tapped again. */
	dfi_sim_remove(s);
	OK(dfi_sim_insert(s));
	an = dfi_sim_atr(s, atr, sizeof(atr));
	OK(dfi_hex_encode(atr, an, hex, sizeof(hex)));
	/* 3B 83 80 01 80 C1 05, TCK = 83^80^01^80^C1^05 = 46 */
	ck_assert_str_eq(hex, "3B83800180C10546");
	dfi_cardkey_free(des0);
	dfi_test_card_close(s, t, d);
}
END_TEST

/* Records through ISO 7816-4: APPEND RECORD, READ RECORD (linear: record 1
 * is the first written; cyclic: the last written), rights. */
START_TEST(iso_records_and_rights)
{
	dfi_sim *s = sim_open(NULL, 27);
	sim_script(s, "test_sim_realcard.apdu", "iso_records_and_rights");
	/* cyclic, by short file id 4 in P2 */
	for (int i = 0; i < 3; i++) {
		char c[40];
		snprintf(c, sizeof(c), "00E2002004" "0%d0%d0%d0%d", i, i, i, i);
		ck_assert_str_eq(tx(s, c), "9000");
	}
	sim_script(s, "test_sim_realcard.apdu", "iso_records_and_rights.2");
	ck_assert_uint_eq(strlen(tx(s, "0084000008")), 2 * (8 + 2));
	ck_assert_str_eq(tx(s, "0084000005"), "6700");
	/* the records survive a power cycle (committed at once) */
	dfi_sim_remove(s);
	OK(dfi_sim_insert(s));
	ck_assert_str_eq(tx(s, "00A4000C020707"), "9000");
	ck_assert_str_eq(tx(s, "00B2011C00"), "A1A2A3A4" "9000");
	dfi_sim_free(s);
}
END_TEST

int
main(void)
{
	return dfi_test_main("sim_realcard",
	    &(struct dfi_test_case){ .setup = setup, .teardown = teardown,
		.loops = (const struct dfi_test_loop[]){ { script_alone, DFI_TEST_ROWS(scripts) },
		    { NULL, 0 } } },
	    (const TTest *[]){ error_keeps_a_legacy_session_and_ends_an_ev1_one,
	    set_ats_shows_at_the_next_activation, iso_records_and_rights, NULL });
}
