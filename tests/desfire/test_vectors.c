/*
 * The DESFire protocol against published vectors and traces.
 *
 * Sources (values copied here, nothing read at run time):
 *  [AN12196] NXP AN12196 "NTAG 424 DNA and NTAG 424 DNA TagTamper features
 *     and hints", Rev. 2.0: Table 14 (AuthenticateEV2First, key 0),
 *     Table 20 (AuthenticateEV2First, key 3), Table 18 (ChangeFileSettings,
 *     CommMode.Full), Table 22 (WriteData, CommMode.Full), Table 26
 *     (ChangeKey, other key), Table 27 (ChangeKey, authenticated key), and
 *     the GetFileSettings CommMode.MAC example.
 *  [AN12343] NXP AN12343 "MIFARE DESFire Light features and hints",
 *     pp. 33-34 and Table 16: AuthenticateEV2First with the zero key and
 *     the session keys; Tables 23-24 (p. 54): WriteData and ReadData in
 *     CommMode.MAC; Tables 25-26: the same in CommMode.Full.
 *  [NIST] CSRC "TDES_CMAC" example values, two-key TDEA.
 *  [ELMUE] "DESFire EV1 Communication Examples" (Elmue, published with
 *     the CodeProject article "DIY electronic RFID Door Lock", 2016): full
 *     traces of AuthenticateISO with DES, 2K3DES and 3K3DES keys, of
 *     AuthenticateAES, CMAC-chained commands, ChangeKey in the same-key
 *     and other-key forms, files, data.
 */
#include "testutil.h"

#include "dfissue/cardkey.h"
#include "dfissue/desfire.h"
#include "replay.h"
#include "desfire/df_testhooks.h" /* test hooks: engine/desfire */

static dfi_cardkey *
key(dfi_keytype t, const char *hex, uint8_t version)
{
	uint8_t k[24];
	size_t n = HEX(k, hex);
	dfi_cardkey *ck;
	ck_assert_int_eq(dfi_cardkey_new_plain(&ck, t, k, n, version), DFI_OK);
	return ck;
}

static void
session_hex_eq(dfi_desfire *d, size_t keylen, const char *enc)
{
	struct dfi_df_session s;
	ck_assert_int_eq(dfi_desfire_get_session(d, &s), DFI_OK);
	ck_assert_hex_eq(s.enc_key, keylen, enc);
}

static void
set_ev2(dfi_desfire *d, const char *enc, const char *mac, const char *ti, uint16_t ctr,
    uint8_t keyno)
{
	struct dfi_df_session s;
	memset(&s, 0, sizeof(s));
	s.scheme = DFI_DF_SCHEME_EV2;
	s.keytype = DFI_KT_AES128;
	s.keyno = keyno;
	s.aid = 0x000001; /* an application is selected in the NTAG examples */
	HEX(s.enc_key, enc);
	HEX(s.mac_key, mac);
	HEX(s.ti, ti);
	s.cmd_ctr = ctr;
	ck_assert_int_eq(dfi_desfire_set_session(d, &s), DFI_OK);
}

/* ---- EV2 -------------------------------------------------------------- */

START_TEST(ev2_session_keys_an12343)
{
	uint8_t a[16], b[16], enc[16], mac[16], zero[16] = { 0 };
	dfi_cardkey *k;
	HEX(a, "B04D0787C93EE0CC8CACC8E86F16C6FE");
	HEX(b, "FA659AD0DCA738DD65DC7DC38612AD81");
	ck_assert_int_eq(dfi_cardkey_new_plain(&k, DFI_KT_AES128, zero, 16, 0), DFI_OK);
	ck_assert_int_eq(dfi_df_ev2_session_keys(k, a, b, enc, mac), DFI_OK);
	ck_assert_hex_eq(enc, 16, "63DC07286289A7A6C0334CA31C314A04");
	ck_assert_hex_eq(mac, 16, "774F26743ECE6AF5033B6AE8522946F6");
	dfi_cardkey_free(k);
}
END_TEST

/* AuthenticateEV2First with the zero key, replayed: the trace, the RndA
 * the host drew, and the session the exchange gives. */
static const struct ev2_first_vector {
	const char *rnda;
	uint8_t keyno;
	struct replay_step st[2];
	const char *ti, *enc, *mac;
} ev2_first_vectors[] = {
	/* [AN12196] Table 14, key 0. Part 1 goes out with LenCap 0 (no
	 * PCDcap2); the note's example sends LenCap 3 with PCDcap2 00 00 00,
	 * which the card's answer does not depend on. */
	{ "13C5DB8A5930439FC3DEF9A4C675360F", 0,
	    { { "9071000002000000", "A04C124213C186F22399D33AC2A3021591AF" },
	    { "90AF00002035C3E05A752E0144BAC0DE51C1F22C56B34408A23D8AEA266CAB947EA8E0118D00",
	    "3FA64DB5446D1F34CD6EA311167F5E4985B89690C04A05F17FA7AB2F081206639100" } },
	    "9D00C4DF", "1309C877509E5A215007FF0ED19CA564", "4C6626F5E72EA694202139295C7A7FC7" },
	/* [AN12196] Table 20, key 3. */
	{ "B98F4C50CF1C2E084FD150E33992B048", 3,
	    { { "9071000002030000", "B875CEB0E66A6C5CD00898DC371F92D191AF" },
	    { "90AF000020FF0306E47DFBC50087C4D8A78E88E62DE1E8BE457AA477C707E2F0874916A8B100",
	    "0CC9A8094A8EEA683ECAAC5C7BF20584206D0608D477110FC6B3D5D3F65C3A6A9100" } },
	    "7614281A", "7A93D6571E4B180FCA6AC90C9A7488D4", "FC4AF159B62E549B5812394CAB1918CC" },
	/* [AN12343] Table 16, key 0. */
	{ "B04D0787C93EE0CC8CACC8E86F16C6FE", 0,
	    { { "9071000002000000", "24677DDBD46349E623798FD729006E7991AF" },
	    { "90AF0000203B50445F21D21D77D500794DEB245E5A754F5F901844259F4C9B31A5C7335ACD00",
	    "04C6DBD67417ED0D31DDDE4D2E3FFAC2B4B074F638EEF7FFF9254963B65C77599100" } },
	    "8CF141F3", "63DC07286289A7A6C0334CA31C314A04", "774F26743ECE6AF5033B6AE8522946F6" },
};

START_TEST(ev2_first_vector)
{
	const struct ev2_first_vector *v = &ev2_first_vectors[_i];
	struct rig g;
	struct dfi_df_session s;
	dfi_cardkey *k = key(DFI_KT_AES128, "00000000000000000000000000000000", 0);
	rig_open(&g, v->st, 2);
	rig_rnda(&g, v->rnda);
	OK(dfi_desfire_authenticate(g.d, DFI_DF_AUTH_EV2_FIRST, v->keyno, k));
	ck_assert_int_eq(dfi_desfire_get_session(g.d, &s), DFI_OK);
	ck_assert_int_eq(s.scheme, DFI_DF_SCHEME_EV2);
	ck_assert_int_eq(s.keyno, v->keyno);
	ck_assert_hex_eq(s.ti, 4, v->ti);
	ck_assert_hex_eq(s.enc_key, 16, v->enc);
	ck_assert_hex_eq(s.mac_key, 16, v->mac);
	ck_assert_uint_eq(s.cmd_ctr, 0);
	rig_close(&g);
	dfi_cardkey_free(k);
}
END_TEST

START_TEST(ev2_first_wrong_rnda_refused)
{
	/* Table 14 with one byte of the card's last answer changed: the
	 * RndA' it carries no longer matches, and no session results. */
	static const struct replay_step st[] = {
		{ "9071000002000000", "A04C124213C186F22399D33AC2A3021591AF" },
		{ "90AF00002035C3E05A752E0144BAC0DE51C1F22C56B34408A23D8AEA266CAB947EA8E0118D00",
		  "3FA64DB5446D1F34CD6EA311167F5E4A85B89690C04A05F17FA7AB2F081206639100" },
	};
	struct rig g;
	dfi_cardkey *k = key(DFI_KT_AES128, "00000000000000000000000000000000", 0);
	rig_open(&g, st, 2);
	rig_rnda(&g, "13C5DB8A5930439FC3DEF9A4C675360F");
	ck_assert_int_eq(dfi_desfire_authenticate(g.d, DFI_DF_AUTH_EV2_FIRST, 0, k),
	    DFI_E_CARD_AUTH);
	ck_assert_int_eq(dfi_desfire_scheme(g.d), DFI_DF_SCHEME_NONE);
	rig_close(&g);
	dfi_cardkey_free(k);
}
END_TEST

/* [AN12196] Table 18: ChangeFileSettings in CommMode.Full, the card's
 * answer as printed or tampered with; after: the session's scheme then. */
static void
change_file_settings_t18(const char *answer, dfi_err want, dfi_df_scheme after)
{
	const struct replay_step st[] = {
		{ "905F0000190261B6D97903566E84C3AE5274467E89EAD799B7C1A0EF7A0400", answer },
	};
	struct rig g;
	uint8_t h[1] = { 0x02 }, data[15], out[16];
	size_t n = 99;
	struct dfi_df_session s;
	rig_open(&g, st, 1);
	set_ev2(g.d, "1309C877509E5A215007FF0ED19CA564", "4C6626F5E72EA694202139295C7A7FC7",
	    "9D00C4DF", 1, 0);
	HEX(data, "4000E0C1F121200000430000430000");
	ck_assert_int_eq(dfi_desfire_command(g.d, 0x5F, h, 1, data, sizeof(data), DFI_DF_COMM_ENC,
	    DFI_DF_COMM_MAC, out, sizeof(out), &n), want);
	ck_assert_int_eq(dfi_desfire_scheme(g.d), after);
	if (want == DFI_OK) {
		ck_assert_uint_eq(n, 0);
		ck_assert_int_eq(dfi_desfire_get_session(g.d, &s), DFI_OK);
		ck_assert_uint_eq(s.cmd_ctr, 2);
	}
	rig_close(&g);
}

START_TEST(ev2_change_file_settings_an12196_t18)
{
	change_file_settings_t18("57BFF87B1241E93D9100", DFI_OK, DFI_DF_SCHEME_EV2);
}
END_TEST

START_TEST(ev2_response_mac_tamper_detected)
{
	/* One bit of the response MAC changed: a session whose MAC failed is
	 * not trusted any more. */
	change_file_settings_t18("57BFF87B1241E93E9100", DFI_E_CARD_MAC, DFI_DF_SCHEME_NONE);
}
END_TEST

START_TEST(ev2_write_data_full_an12196_t22)
{
	static const struct replay_step st[] = {
		{ "908D00001F030000000A00006B5E6804909962FC4E3FF5522CF0F8436C0C53315B9C73AA00",
		  "C26D236E4A7C046D9100" },
	};
	struct rig g;
	uint8_t data[10];
	rig_open(&g, st, 1);
	set_ev2(g.d, "7A93D6571E4B180FCA6AC90C9A7488D4", "FC4AF159B62E549B5812394CAB1918CC",
	    "7614281A", 0, 3);
	HEX(data, "0102030405060708090A");
	/* NTAG 424 uses the ISO-compatible WriteData code 0x8D; the native
	 * 0x3D differs only in its code byte, so the generic path is used. */
	size_t n;
	uint8_t h[7] = { 0x03, 0, 0, 0, 0x0A, 0, 0 };
	OK(dfi_desfire_command(g.d, 0x8D, h, 7, data, 10, DFI_DF_COMM_ENC, DFI_DF_COMM_MAC,
	    NULL, 0, &n));
	rig_close(&g);
}
END_TEST

START_TEST(ev2_get_file_settings_mac_an12196)
{
	static const struct replay_step st[] = {
		{ "90F5000009026597A457C8CD442C00",
		  "0040EEEE000100D1FE001F00004400004400002000006A00002A474282E7A479869100" },
	};
	struct rig g;
	uint8_t h[1] = { 0x02 }, out[64];
	size_t n;
	rig_open(&g, st, 1);
	set_ev2(g.d, "00000000000000000000000000000000", "8248134A386E86EB7FAF54A52E536CB6",
	    "7A21085E", 0, 0);
	OK(dfi_desfire_command(g.d, 0xF5, h, 1, NULL, 0, DFI_DF_COMM_MAC, DFI_DF_COMM_MAC, out,
	    sizeof(out), &n));
	ck_assert_hex_eq(out, n, "0040EEEE000100D1FE001F00004400004400002000006A0000");
	rig_close(&g);
}
END_TEST

/* ChangeKey of keyno to new_hex (version 1) in the AES key 0 session of
 * [AN12196] Tables 26-27 (command counter ctr), replaying st; a key other
 * than the authenticated one is changed from the zero key. after: the
 * session's scheme then. */
static void
ev2_change_key(const struct replay_step *st, uint8_t keyno, const char *new_hex, uint16_t ctr,
    dfi_df_scheme after)
{
	struct rig g;
	dfi_cardkey *nk = key(DFI_KT_AES128, new_hex, 1);
	dfi_cardkey *ok = keyno != 0 ? key(DFI_KT_AES128, "00000000000000000000000000000000", 0) :
	    NULL;
	rig_open(&g, st, 1);
	set_ev2(g.d, "4CF3CB41A22583A61E89B158D252FC53", "5529860B2FC5FB6154B7F28361D30BF9",
	    "7614281A", ctr, 0);
	OK(dfi_desfire_change_key(g.d, keyno, nk, ok));
	ck_assert_int_eq(dfi_desfire_scheme(g.d), after);
	rig_close(&g);
	dfi_cardkey_free(nk);
	dfi_cardkey_free(ok);
}

START_TEST(ev2_change_key_other_an12196_t26)
{
	static const struct replay_step st[] = {
		{ "90C4000029022CF362B7BF4311FF3BE1DAA295E8C68DE09050560D19B9E16C2393AE9CD1FAC75D0CE20BCD1D06E600",
		  "203BB55D1089D5879100" },
	};
	ev2_change_key(st, 2, "F3847D627727ED3BC9C4CC050489B966", 2, DFI_DF_SCHEME_EV2);
}
END_TEST

START_TEST(ev2_change_key_same_an12196_t27)
{
	static const struct replay_step st[] = {
		{ "90C400002900C0EB4DEEFEDDF0B513A03A95A75491818580503190D4D05053FF75668A01D6FDA6610234BDED643200",
		  "9100" },
	};
	/* Changing the authenticated key ends the session. */
	ev2_change_key(st, 0, "5004BF991F408672B1EF00F08F9E8647", 3, DFI_DF_SCHEME_NONE);
}
END_TEST

START_TEST(ev2_mac_write_read_an12343)
{
	/* [AN12343] p. 54: WriteData then ReadData in CommMode.MAC on a
	 * DESFire Light (ISO-style codes 0x8D / 0xAD, native framing). */
	char w[2 * 64 + 1], r[2 * 80 + 1];
	strcpy(w, "908D00002800000000190000");
	for (int i = 0; i < 25; i++)
		strcat(w, "22");
	strcat(w, "68F2C28C575A162800");
	r[0] = 0;
	for (int i = 0; i < 25; i++)
		strcat(r, "22");
	for (int i = 0; i < 23; i++)
		strcat(r, "00");
	strcat(r, "A49A44222D9266669100");
	const struct replay_step st[] = {
		{ w, "0820F68898C2A7F19100" },
		{ "90AD00000F000000003000000D9BE191D596083400", r },
	};
	struct rig g;
	uint8_t h1[7] = { 0x00, 0, 0, 0, 0x19, 0, 0 }, h2[7] = { 0x00, 0, 0, 0, 0x30, 0, 0 };
	uint8_t data[25], out[64];
	size_t n;
	memset(data, 0x22, sizeof(data));
	rig_open(&g, st, 2);
	set_ev2(g.d, "00000000000000000000000000000000", "9366FA195EB566F5BD2BAD4020B83002",
	    "E2D3AF69", 0, 0);
	OK(dfi_desfire_command(g.d, 0x8D, h1, 7, data, sizeof(data), DFI_DF_COMM_MAC,
	    DFI_DF_COMM_MAC, NULL, 0, &n));
	OK(dfi_desfire_command(g.d, 0xAD, h2, 7, NULL, 0, DFI_DF_COMM_MAC, DFI_DF_COMM_MAC, out,
	    sizeof(out), &n));
	ck_assert_uint_eq(n, 48);
	ck_assert_mem_eq(out, data, 25);
	rig_close(&g);
}
END_TEST

START_TEST(ev2_full_write_read_an12343_t25_t26)
{
	/* [AN12343] Tables 25 and 26: WriteData and ReadData in CommMode.Full;
	 * the 48-byte answer carries a whole block of padding. */
	char r[2 * 80 + 1];
	strcpy(r, "8848D0F9B9FD4495770C89925B2A85C7274D350FA9029C484D43804886662DC4"
	    "2D7F40A6D7A415E4A71EFF79EB8E5721AC3BF1CAAFE8EB2CAA2DC162E67A97A3"
	    "8ED7888F22B3A5879100");
	const struct replay_step st[] = {
		{ "908D00002F00000000190000D7446FBC912580C0A65E738D28B609E43ADBB8FB2B4CA68744D1BBEBB37EBD32700ADF7BB9F62A6C00",
		  "B9A534A7A73EE0DD9100" },
		{ "90AD00000F000000003000007CF94F122B3DB05F00", r },
	};
	struct rig g;
	uint8_t h1[7] = { 0x00, 0, 0, 0, 0x19, 0, 0 }, h2[7] = { 0x00, 0, 0, 0, 0x30, 0, 0 };
	uint8_t data[25], out[64], want[48];
	size_t n;
	struct dfi_df_session ses;
	memset(data, 0x22, sizeof(data));
	memset(want, 0, sizeof(want));
	memset(want, 0x22, 25);
	rig_open(&g, st, 2);
	set_ev2(g.d, "FFBCFE1F41840A09C9A88D0A4B10DF05", "37E7234B11BEBEFDE41A8F290090EF80",
	    "CD73D8E5", 0, 0);
	OK(dfi_desfire_command(g.d, 0x8D, h1, 7, data, sizeof(data), DFI_DF_COMM_ENC,
	    DFI_DF_COMM_MAC, NULL, 0, &n));
	OK(dfi_desfire_command(g.d, 0xAD, h2, 7, NULL, 0, DFI_DF_COMM_ENC, DFI_DF_COMM_ENC, out,
	    sizeof(out), &n));
	ck_assert_uint_eq(n, 48);
	ck_assert_mem_eq(out, want, 48);
	ck_assert_int_eq(dfi_desfire_get_session(g.d, &ses), DFI_OK);
	ck_assert_uint_eq(ses.cmd_ctr, 2);
	rig_close(&g);
}
END_TEST

START_TEST(cmac_2tdea_nist)
{
	/* NIST CSRC "TDES_CMAC" examples, two-key TDEA (the EV1 CMAC with a
	 * 2K3DES session key is this function). */
	static const struct { size_t len; const char *mac; } v[] = {
		{ 0, "79CE52A7F786A960" },
		{ 16, "CC18A0B79AF2413B" },
		{ 20, "C06D377ECD101969" },
		{ 32, "9CD33580F9B64DFB" },
	};
	uint8_t k[16], m[32], mac[8];
	HEX(k, "0123456789ABCDEF23456789ABCDEF01");
	HEX(m, "6BC1BEE22E409F96E93D7E117393172AAE2D8A571E03AC9C9EB76FAC45AF8E51");
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ck_assert_int_eq(dfi_cmac(DFI_KT_2K3DES, k, NULL, m, v[i].len, mac), DFI_OK);
		ck_assert_hex_eq(mac, 8, v[i].mac);
	}
}
END_TEST

/* ---- EV1: AuthenticateISO with a DES key at the PICC level [ELMUE] ------- */

START_TEST(ev1_iso_des_picc_elmue)
{
	static const struct replay_step st[] = {
		{ "901A0000010000", "5D994CE085F2408991AF" },
		{ "90AF00001021D0AD5F2FD97454A746CC80567F1B1C00", "913C6DED84221C419100" },
		{ "9060000000", "04010101001A0591AF" },
		{ "90AF000000", "04010101041A0591AF" },
		{ "90AF000000", "04063F72633480BA4519E3204913CDC810BAFA4017599100" },
		{ "90FC000000", "9C2C813A065C45F79100" },
		{ "90CA00000516DE000F0200", "0A1379B01D85AD479100" },
		{ "90CA00000524DE000F4200", "5D73AE5287A1BBE49100" },
		{ "90CA00000516AE000F8200", "3B68D72A3BE0D20C9100" },
		{ "90CA000005CCBBAA0F0100", "F11AC0738EF838789100" },
		{ "906A000000", "16DE0024DE0016AE00CCBBAA2739154E2630D6509100" },
		{ "90DA000003CCBBAA00", "A9AF19052292F6629100" },
		{ "906A000000", "16DE0024DE0016AE00520E51E00AF06D5E9100" },
	};
	struct rig g;
	struct dfi_df_version v;
	uint32_t aids[28];
	size_t n;
	dfi_cardkey *k = key(DFI_KT_DES, "0000000000000000", 0);
	rig_open(&g, st, sizeof(st) / sizeof(st[0]));
	rig_rnda(&g, "849B36C5F8BF4A09");
	OK(dfi_desfire_authenticate(g.d, DFI_DF_AUTH_ISO, 0, k));
	session_hex_eq(g.d, 8, "849A36C44ED0B658");
	OK(dfi_desfire_get_version(g.d, &v));
	ck_assert_uint_eq(v.hw_vendor, 0x04);
	ck_assert_uint_eq(v.hw_storage, 0x1A);
	ck_assert_uint_eq(v.sw_minor, 0x04);
	ck_assert_hex_eq(v.uid, 7, "04063F72633480");
	ck_assert_hex_eq(v.batch, 5, "BA4519E320");
	ck_assert_uint_eq(v.week, 0x49);
	ck_assert_uint_eq(v.year, 0x13);
	OK(dfi_desfire_format_picc(g.d));
	OK(dfi_desfire_create_application(g.d, 0x00DE16, 0x0F, 2, DFI_KT_2K3DES));
	OK(dfi_desfire_create_application(g.d, 0x00DE24, 0x0F, 2, DFI_KT_3K3DES));
	OK(dfi_desfire_create_application(g.d, 0x00AE16, 0x0F, 2, DFI_KT_AES128));
	OK(dfi_desfire_create_application(g.d, 0xAABBCC, 0x0F, 1, DFI_KT_DES));
	OK(dfi_desfire_get_application_ids(g.d, aids, 28, &n));
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(aids[0], 0x00DE16);
	ck_assert_uint_eq(aids[3], 0xAABBCC);
	OK(dfi_desfire_delete_application(g.d, 0xAABBCC));
	OK(dfi_desfire_get_application_ids(g.d, aids, 28, &n));
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(aids[2], 0x00AE16);
	rig_close(&g);
	dfi_cardkey_free(k);
}
END_TEST

/* ISO auth with a DES key, ChangeKey to 2K3DES (same-key form, CRC32 over
 * C4 || key number || key), ISO auth with 3K3DES and ChangeKey [ELMUE]. */
START_TEST(ev1_iso_change_keys_elmue)
{
	static const struct replay_step st[] = {
		{ "905A00000316DE0000", "9100" },
		{ "901A0000010000", "DE50F92310CAF5A591AF" },
		{ "90AF000010E006166687 04D5549C8D6A13A0F8FCED00", "1D9D2954697DE7609100" },
		{ "90C400001900BEDE0FC6ED347DCF0D51C717DF75D97D2C5A2BA6CAC7479D00", "9100" },
		{ "905A00000324DE0000", "9100" },
		{ "901A0000010000", "BC1C570BC948156187132364E4DCE17691AF" },
		{ "90AF000020DDDC9A77597F03A40C7FAA362F45A8EADBE46A115D98198CBF36A6E51B39D87C00",
		  "7244D935ED9A1306CD8C841A7C1DE39A9100" },
		{ "90C400002100F4F865F318CB9DE80B2B165145021F4F3AFEF1244FEA42FC997726FDE750741D00",
		  "9100" },
	};
	struct rig g;
	dfi_cardkey *des0 = key(DFI_KT_DES, "0000000000000000", 0);
	dfi_cardkey *k2 = key(DFI_KT_2K3DES, "00102030405060708090A0B0B0A09080", 0x10);
	dfi_cardkey *k3z = key(DFI_KT_3K3DES, "000000000000000000000000000000000000000000000000", 0);
	dfi_cardkey *k3 = key(DFI_KT_3K3DES, "00102030405060708090A0B0B0A090807060504030201000", 0x10);
	rig_open(&g, st, sizeof(st) / sizeof(st[0]));
	OK(dfi_desfire_select_application(g.d, 0x00DE16));
	rig_rnda(&g, "C96CE35E4D6087F2");
	OK(dfi_desfire_authenticate(g.d, DFI_DF_AUTH_ISO, 0, des0));
	session_hex_eq(g.d, 8, "C86CE25E4C647E56");
	OK(dfi_desfire_change_key(g.d, 0, k2, NULL));
	ck_assert_int_eq(dfi_desfire_scheme(g.d), DFI_DF_SCHEME_NONE);
	OK(dfi_desfire_select_application(g.d, 0x00DE24));
	rig_rnda(&g, "36C5F8BF4A09AC239E8DA0C73251D4AB");
	OK(dfi_desfire_authenticate(g.d, DFI_DF_AUTH_ISO, 0, k3z));
	session_hex_eq(g.d, 24, "36C4F8BE306E6C76AC229E8CF824BA303250D4AA643656A2");
	OK(dfi_desfire_change_key(g.d, 0, k3, NULL));
	rig_close(&g);
	dfi_cardkey_free(des0);
	dfi_cardkey_free(k2);
	dfi_cardkey_free(k3z);
	dfi_cardkey_free(k3);
}
END_TEST

/* ---- EV1: AuthenticateAES, ChangeKey, files and data [ELMUE] -------------- */

START_TEST(ev1_aes_session_elmue)
{
	static const struct replay_step st[] = {
		{ "905A00000316AE0000", "9100" },
		/* key 0 = zero key */
		{ "90AA0000010000", "B969FDFE56FD91FC9DE6F6F213B8FD1E91AF" },
		{ "90AF00002036AAD7DF6E436BA08D18613830A70D5AD43E3D3F4A8D47541EEE623A934E477400",
		  "800DB680BC146BD121D6578F2D2E20599100" },
		{ "90C400002100E9F85E219496C2B58C1090DC3935FAE9E840CF61B383D953194625 6B1F110C1000",
		  "9100" },
		/* key 0 = 00102030... */
		{ "90AA0000010000", "CCC8316C2B2613FE9A189BAC9CC89D0391AF" },
		{ "90AF000020C02E061E72E17726489CAEEC997C523758BF863EFE7671C55B4665D06ACCD97B00",
		  "72ACCC0BDEA482B53185BB5AD00862469100" },
		{ "90C4000021002945E3760E60F4A4046BB8A505B31CF559A3A2E05213BC82942CA6AB5DBCECF500",
		  "9100" },
		/* key 0 = 10182028... */
		{ "90AA0000010000", "3E2BE626C05E7798EE518355A751648E91AF" },
		{ "90AF000020FABF71BB0DC45B8F31BAEDDFF7F3439652D4094DF12C17EF0C94353E6D7770C800",
		  "1CE6C574E24923D404E18B6A240C1B089100" },
		{ "90640000010000", "108A8FA36F55CD210D9100" },
		{ "90C400002100635375E4919F8AF2E9E86B1C1BA55B0C0807EAF484D7A7EF6E0C3084160F5A6100",
		  "9100" },
		/* key 0 = zero again; change key 1 twice (other-key form) */
		{ "90AA0000010000", "EDDAF0C5D9A7CF42B8808BE2013899A191AF" },
		{ "90AF000020D8105F874E2CA57B76C354A8066B0D7880B0C4EC399DBF253438DB46D75F8F6000",
		  "459C76B71AB9F1736413F5ACD73E7DF99100" },
		{ "90C400002101E7ECCB6BD1CA64BC161A12B1C024F71430337408C8A87EACAB7A1FF18951FCA300",
		  "2128D3CD9C9ACFFF9100" },
		{ "90C400002101284193 8C40A4BC2C33064482FEADA5F43EC535D34255B0286C2352CD173863C700",
		  "CAF3BF0B2836E9DE9100" },
		/* key 1 = 10182028...; files */
		{ "90AA0000010100", "B351CB2465D4F33AC627FD6E87A168F291AF" },
		{ "90AF000020044B6CAC343A0865895149649CA8DDE1F5AC4EC67BD208900AF02F049E05F0B000",
		  "A2EE144B1012FBEB7B2F11132D95A4549100" },
		{ "90CD0000070500110050000000", "A75316AD1596B9539100" },
		{ "906F000000", "052D5FF67FFEC9D2D39100" },
		{ "90F50000010500", "000011005000002AAC7517024E09DC9100" },
		{ "903D00003B05000000340000000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F30313233 00",
		  "765C9DAA50ECB62F9100" },
		{ "903D000023053400001C00003435363738393A3B3C3D3E3F404142434445464748494A4B4C4D4E4F00",
		  "3E0AED986B8B0F379100" },
		{ "90BD0000070500000030000000",
		  "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F4C65F1F842262BAC9100" },
		{ "90BD0000070530000020000000",
		  "303132333435363738393A3B3C3D3E3F404142434445464748494A4B4C4D4E4FF02205CF913C03C99100" },
		{ "90DF0000010500", "1BEF0D32B6D1D7F99100" },
		{ "906F000000", "FC194EA93E3EF8E79100" },
	};
	struct rig g;
	uint8_t ver, ids[32], data[80], rd[80];
	size_t n;
	struct dfi_df_file_settings fs;
	struct dfi_df_access acc = { .read = 0, .write = 0, .read_write = 1, .change = 1 };
	dfi_cardkey *z = key(DFI_KT_AES128, "00000000000000000000000000000000", 0);
	dfi_cardkey *ka = key(DFI_KT_AES128, "00102030405060708090A0B0B0A09080", 0x10);
	dfi_cardkey *kb = key(DFI_KT_AES128, "10182028303840485058606870788088", 0x10);
	for (int i = 0; i < 80; i++)
		data[i] = (uint8_t)i;
	rig_open(&g, st, sizeof(st) / sizeof(st[0]));
	OK(dfi_desfire_select_application(g.d, 0x00AE16));
	rig_rnda(&g, "F44B26F5686F3A391CD38EBD10772281");
	OK(dfi_desfire_authenticate(g.d, DFI_DF_AUTH_AES, 0, z));
	session_hex_eq(g.d, 16, "F44B26F5C05DDD7110772281C4D066E8");
	OK(dfi_desfire_change_key(g.d, 0, ka, NULL));
	rig_rnda(&g, "C2A1E47B96A5589FAAE90C03FE6D00A7");
	OK(dfi_desfire_authenticate(g.d, DFI_DF_AUTH_AES, 0, ka));
	session_hex_eq(g.d, 16, "C2A1E47B27104712FE6D00A71177A19B");
	OK(dfi_desfire_change_key(g.d, 0, kb, NULL));
	rig_rnda(&g, "90F7A201C4DB760538FF8A49EC63DECD");
	OK(dfi_desfire_authenticate(g.d, DFI_DF_AUTH_AES, 0, kb));
	OK(dfi_desfire_get_key_version(g.d, 0, &ver));
	ck_assert_uint_eq(ver, 0x10);
	OK(dfi_desfire_change_key(g.d, 0, z, NULL));
	rig_rnda(&g, "C2A1E47B96A5589FAAE90C03FE6D00A7");
	OK(dfi_desfire_authenticate(g.d, DFI_DF_AUTH_AES, 0, z));
	OK(dfi_desfire_change_key(g.d, 1, ka, z));
	OK(dfi_desfire_change_key(g.d, 1, kb, ka));
	ck_assert_int_eq(dfi_desfire_scheme(g.d), DFI_DF_SCHEME_EV1);
	rig_rnda(&g, "40E7D27174CBA675E8EFBAB99C530E3D");
	OK(dfi_desfire_authenticate(g.d, DFI_DF_AUTH_AES, 1, kb));
	session_hex_eq(g.d, 16, "40E7D271626FFBD49C530E3D304F5B17");
	OK(dfi_desfire_create_std_file(g.d, 5, DFI_DF_COMM_PLAIN, &acc, 80));
	OK(dfi_desfire_get_file_ids(g.d, ids, sizeof(ids), &n));
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(ids[0], 5);
	OK(dfi_desfire_get_file_settings(g.d, 5, &fs));
	ck_assert_uint_eq(fs.type, DFI_DF_FILE_STD);
	ck_assert_uint_eq(fs.size, 80);
	ck_assert_uint_eq(fs.access.read_write, 1);
	ck_assert_uint_eq(fs.access.change, 1);
	ck_assert_uint_eq(fs.access.read, 0);
	OK(dfi_desfire_write_data(g.d, 5, DFI_DF_COMM_PLAIN, 0, data, 52));
	OK(dfi_desfire_write_data(g.d, 5, DFI_DF_COMM_PLAIN, 52, data + 52, 28));
	OK(dfi_desfire_read_data(g.d, 5, DFI_DF_COMM_PLAIN, 0, 48, rd));
	OK(dfi_desfire_read_data(g.d, 5, DFI_DF_COMM_PLAIN, 48, 32, rd + 48));
	ck_assert_mem_eq(rd, data, 80);
	OK(dfi_desfire_delete_file(g.d, 5));
	OK(dfi_desfire_get_file_ids(g.d, ids, sizeof(ids), &n));
	ck_assert_uint_eq(n, 0);
	rig_close(&g);
	dfi_cardkey_free(z);
	dfi_cardkey_free(ka);
	dfi_cardkey_free(kb);
}
END_TEST

/* ChangeKeySettings (EV1 enciphered command: CRC32 over 54 || settings,
 * IV chained from the last response CMAC) with a DES session [ELMUE]. */
START_TEST(ev1_change_key_settings_elmue)
{
	static const struct replay_step st[] = {
		{ "905A00000316DE0000", "9100" },
		{ "901A0000010000", "8476D1CF3024B7C791AF" },
		{ "90AF000010DAC67AB743763DC9FAF8A0AE504E80C500", "13E9E4FA4388BF169100" },
		{ "9045000000", "0F0225DD8D7731B1CFD59100" },
		{ "905400000827882805FC3FD49D00", "A628378374270ACD9100" },
		{ "9045000000", "0D02613FB2D3F453D2E49100" },
	};
	struct rig g;
	struct dfi_df_key_settings ks;
	dfi_cardkey *des0 = key(DFI_KT_DES, "0000000000000000", 0);
	rig_open(&g, st, sizeof(st) / sizeof(st[0]));
	OK(dfi_desfire_select_application(g.d, 0x00DE16));
	rig_rnda(&g, "49EC63DECDE00772");
	OK(dfi_desfire_authenticate(g.d, DFI_DF_AUTH_ISO, 0, des0));
	session_hex_eq(g.d, 8, "48EC62DE3A3CFE62");
	OK(dfi_desfire_get_key_settings(g.d, &ks));
	ck_assert_uint_eq(ks.settings, 0x0F);
	ck_assert_uint_eq(ks.max_keys, 2);
	ck_assert_int_eq(ks.keytype, DFI_KT_2K3DES);
	OK(dfi_desfire_change_key_settings(g.d, 0x0D));
	OK(dfi_desfire_get_key_settings(g.d, &ks));
	ck_assert_uint_eq(ks.settings, 0x0D);
	rig_close(&g);
	dfi_cardkey_free(des0);
}
END_TEST

/* ChangeKey in the other-key form for DES-family keys: DES -> 2K3DES and
 * 2K3DES -> 2K3DES (the old key's version in its parity bits), 3K3DES ->
 * 3K3DES, with the IV chained between them; then authentication with the
 * new key [ELMUE]. */
START_TEST(ev1_change_other_des_family_elmue)
{
	static const struct replay_step st[] = {
		{ "901A0000010000", "53A670D78C0DFFD691AF" },
		{ "90AF000010B308408B575A2025253D49D693CCC29C00", "525BB01E5B70B7949100" },
		{ "90C400001901" "4EB669E48DCA584749542E1BE89CB4C7845A38C57D19DE59" "00",
		  "2EAD04DCF121E0FE9100" },
		{ "90C400001901" "FA7BEFA6782C93E8D69CF7352CFD33DF5BC8AC4FBA4906FC" "00",
		  "CB0A5064055128939100" },
		{ "901A0000010100", "87D3AC1E09570AAD91AF" },
		{ "90AF000010D82E8C092631FE15257D67629FC929D500", "C4132CEF0D13F8129100" },
		{ "901A0000010000", "8F3154AFA86DA533EABE28859E5D574291AF" },
		{ "90AF0000201DD98B71B9006198B8B80043FF296386775ED2C2DBC877BBD952FD06F5F8736100",
		  "AECD4704210BCAAFE1533D483FBEF3F89100" },
		{ "90C400002101" "0170A4721342A8C4C5C4DB5BA1F1AEDFE9CEF73BB46BAC44B8C11498CA17D945" "00",
		  "DC85C9A5A753B17A9100" },
		{ "90C400002101" "E3E2DD9F1E2C8DB578652F78C30C533EADE1E663625E0F74DD13D4F9B9B3E43C" "00",
		  "FA142DEBA30801919100" },
		{ "901A0000010100", "660B0E97E23B9C0F93FD82D0F069C29891AF" },
		{ "90AF00002046D182F6B3C5C458EC1EC8BD43F0CA898CC9CD77F9BBC87F4E60617C1FF9426600",
		  "8018B80E2246BD1C1C05A067CD8E6E179100" },
	};
	struct rig g;
	dfi_cardkey *des0 = key(DFI_KT_DES, "0000000000000000", 0);
	dfi_cardkey *a2 = key(DFI_KT_2K3DES, "00102030405060708090A0B0B0A09080", 0x10);
	dfi_cardkey *b2 = key(DFI_KT_2K3DES, "10182028303840485058606870788088", 0x10);
	dfi_cardkey *z3 = key(DFI_KT_3K3DES, "000000000000000000000000000000000000000000000000", 0);
	dfi_cardkey *a3 = key(DFI_KT_3K3DES, "00102030405060708090A0B0B0A090807060504030201000", 0x10);
	dfi_cardkey *b3 = key(DFI_KT_3K3DES, "101820283038404850586068707880889098A0A8B0B8C0C8", 0x10);
	rig_open(&g, st, sizeof(st) / sizeof(st[0]));
	rig_rnda(&g, "CBA675E8EFBAB99C");
	OK(dfi_desfire_authenticate(g.d, DFI_DF_AUTH_ISO, 0, des0));
	session_hex_eq(g.d, 8, "CAA674E8CAE8525E");
	OK(dfi_desfire_change_key(g.d, 1, a2, des0));
	OK(dfi_desfire_change_key(g.d, 1, b2, a2));
	rig_rnda(&g, "F7A201C4DB760538");
	OK(dfi_desfire_authenticate(g.d, DFI_DF_AUTH_ISO, 1, b2));
	session_hex_eq(g.d, 16, "F6A200C4608AECD6DA7604380A7E4834");
	rig_rnda(&g, "02E124BBD6E598DFEA294C433EAD40E7");
	OK(dfi_desfire_authenticate(g.d, DFI_DF_AUTH_ISO, 0, z3));
	OK(dfi_desfire_change_key(g.d, 1, a3, z3));
	OK(dfi_desfire_change_key(g.d, 1, b3, a3));
	rig_rnda(&g, "7F0AC96CE35E4D6087F211946BC61508");
	OK(dfi_desfire_authenticate(g.d, DFI_DF_AUTH_ISO, 1, b3));
	session_hex_eq(g.d, 24, "7E0AC86C40C40C7E4C6086F2700C08A26AC6140804D014E8");
	rig_close(&g);
	dfi_cardkey_free(des0);
	dfi_cardkey_free(a2);
	dfi_cardkey_free(b2);
	dfi_cardkey_free(z3);
	dfi_cardkey_free(a3);
	dfi_cardkey_free(b3);
}
END_TEST

START_TEST(ev1_session_key_layouts)
{
	/* [ELMUE]: AES, 2K3DES and 3K3DES session keys from RndA/RndB. */
	uint8_t a[16], b[16], k[24];
	size_t n;
	HEX(a, "F44B26F5686F3A391CD38EBD10772281");
	HEX(b, "C05DDD714FD788A6B7B754F3C4D066E8");
	ck_assert_int_eq(dfi_df_ev1_session_key(DFI_KT_AES128, a, b, k, &n), DFI_OK);
	ck_assert_hex_eq(k, n, "F44B26F5C05DDD7110772281C4D066E8");
	HEX(a, "530E3D90F7A201C4");
	HEX(b, "BCD8299747332DAF");
	ck_assert_int_eq(dfi_df_ev1_session_key(DFI_KT_2K3DES, a, b, k, &n), DFI_OK);
	ck_assert_hex_eq(k, n, "520E3C90BCD82896F6A200C446322CAE");
	HEX(a, "03FE6D00A79231348B6635A8AF7A795C");
	HEX(b, "F4D65642AEEB3D12FB8AC6FE46CE7A2F");
	ck_assert_int_eq(dfi_df_ev1_session_key(DFI_KT_3K3DES, a, b, k, &n), DFI_OK);
	ck_assert_hex_eq(k, n, "02FE6C00F4D6564230348A663C12FA8AAE7A785C46CE7A2E");
}
END_TEST

int
main(void)
{
	return dfi_test_main_rows("desfire_vectors", ev2_first_vector,
	    DFI_TEST_ROWS(ev2_first_vectors),
	    (const TTest *[]){ ev2_session_keys_an12343, ev2_first_wrong_rnda_refused,
	    ev2_change_file_settings_an12196_t18, ev2_response_mac_tamper_detected,
	    ev2_write_data_full_an12196_t22, ev2_get_file_settings_mac_an12196,
	    ev2_change_key_other_an12196_t26, ev2_change_key_same_an12196_t27,
	    ev2_mac_write_read_an12343,
	    ev2_full_write_read_an12343_t25_t26, cmac_2tdea_nist, ev1_iso_des_picc_elmue,
	    ev1_iso_change_keys_elmue, ev1_aes_session_elmue, ev1_change_key_settings_elmue,
	    ev1_change_other_des_family_elmue, ev1_session_key_layouts, NULL });
}
