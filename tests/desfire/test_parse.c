/* Response parsers: well-formed answers, and every truncation and
 * extension of them refused. */
#include "testutil.h"

#include "dfissue/desfire.h"

START_TEST(parse_version)
{
	uint8_t b[29];
	struct dfi_df_version v;
	size_t n = HEX(b, "04010101001A0504010101041A0504063F72633480BA4519E3204913");
	ck_assert_int_eq(dfi_df_parse_version(b, n, &v), DFI_OK);
	ck_assert_uint_eq(v.hw_type, 1);
	ck_assert_hex_eq(v.uid, 7, "04063F72633480");
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(dfi_df_parse_version(b, i, &v), DFI_E_CARD_PROTOCOL);
}
END_TEST

START_TEST(parse_file_settings_all_types)
{
	uint8_t b[64];
	size_t n;
	struct dfi_df_file_settings fs;
	static const struct { const char *hex; uint8_t type; } v[] = {
		{ "00031032500000", DFI_DF_FILE_STD },
		{ "01011032200000", DFI_DF_FILE_BACKUP },
		{ "0200E110F6FFFFFFE803000064000000" "01", DFI_DF_FILE_VALUE },
		{ "030012001000000A0000030000", DFI_DF_FILE_LINEAR_RECORD },
		{ "040312001000000A0000090000", DFI_DF_FILE_CYCLIC_RECORD },
		{ "00830000200000" "01" "1234", DFI_DF_FILE_STD },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		n = HEX(b, v[i].hex);
		ck_assert_int_eq(dfi_df_parse_file_settings(b, n, &fs), DFI_OK);
		ck_assert_uint_eq(fs.type, v[i].type);
		for (size_t k = 0; k < n; k++)
			ck_assert_int_eq(dfi_df_parse_file_settings(b, k, &fs), DFI_E_CARD_PROTOCOL);
		b[n] = 0;
		ck_assert_int_eq(dfi_df_parse_file_settings(b, n + 1, &fs), DFI_E_CARD_PROTOCOL);
	}
	n = HEX(b, "00031032500000");
	ck_assert_int_eq(dfi_df_parse_file_settings(b, n, &fs), DFI_OK);
	ck_assert_int_eq(fs.comm, DFI_DF_COMM_ENC);
	ck_assert_uint_eq(fs.access.read_write, 1);
	ck_assert_uint_eq(fs.access.change, 0);
	ck_assert_uint_eq(fs.access.read, 3);
	ck_assert_uint_eq(fs.access.write, 2);
	ck_assert_uint_eq(fs.size, 0x50);
	n = HEX(b, "0200E110F6FFFFFFE803000064000000" "01");
	ck_assert_int_eq(dfi_df_parse_file_settings(b, n, &fs), DFI_OK);
	ck_assert_int_eq(fs.lower, -10);
	ck_assert_int_eq(fs.upper, 1000);
	ck_assert_int_eq(fs.limited_credit, 100);
	n = HEX(b, "040312001000000A0000090000");
	ck_assert_int_eq(dfi_df_parse_file_settings(b, n, &fs), DFI_OK);
	ck_assert_uint_eq(fs.record_size, 16);
	ck_assert_uint_eq(fs.max_records, 10);
	ck_assert_uint_eq(fs.cur_records, 9);
	/* More records than room, and unknown types, are refused. */
	n = HEX(b, "040312001000000A00000B0000");
	ck_assert_int_eq(dfi_df_parse_file_settings(b, n, &fs), DFI_E_CARD_PROTOCOL);
	n = HEX(b, "05031200100000");
	ck_assert_int_eq(dfi_df_parse_file_settings(b, n, &fs), DFI_E_CARD_PROTOCOL);
}
END_TEST

START_TEST(parse_key_settings_ids)
{
	uint8_t b[8], ids[32];
	uint32_t aids[4];
	size_t n;
	struct dfi_df_key_settings ks;
	n = HEX(b, "0F82");
	ck_assert_int_eq(dfi_df_parse_key_settings(b, n, &ks), DFI_OK);
	ck_assert_uint_eq(ks.settings, 0x0F);
	ck_assert_uint_eq(ks.max_keys, 2);
	ck_assert_int_eq(ks.keytype, DFI_KT_AES128);
	ck_assert_int_eq(dfi_df_parse_key_settings(b, 1, &ks), DFI_E_CARD_PROTOCOL);
	n = HEX(b, "0FC2");
	ck_assert_int_eq(dfi_df_parse_key_settings(b, n, &ks), DFI_E_CARD_PROTOCOL);
	n = HEX(b, "16DE0024DE00");
	ck_assert_int_eq(dfi_df_parse_aids(b, n, aids, 4, &n), DFI_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(aids[1], 0x00DE24);
	ck_assert_int_eq(dfi_df_parse_aids(b, 5, aids, 4, &n), DFI_E_CARD_PROTOCOL);
	ck_assert_int_eq(dfi_df_parse_aids(b, 6, aids, 1, &n), DFI_E_BUFFER_TOO_SMALL);
	n = HEX(b, "00011F");
	ck_assert_int_eq(dfi_df_parse_file_ids(b, n, ids, 32, &n), DFI_OK);
	ck_assert_uint_eq(n, 3);
	b[0] = 32;
	ck_assert_int_eq(dfi_df_parse_file_ids(b, 3, ids, 32, &n), DFI_E_CARD_PROTOCOL);
}
END_TEST

START_TEST(access_roundtrip)
{
	struct dfi_df_access a = { .read = 1, .write = 2, .read_write = 3, .change = 0xE }, b;
	uint16_t v = dfi_df_access_encode(&a);
	ck_assert_uint_eq(v, 0x123E);
	dfi_df_access_decode(v, &b);
	ck_assert_mem_eq(&a, &b, sizeof(a));
}
END_TEST

/* GetVersion answers of the three generations (the simulator's, which
 * follow the data sheets' hardware versions 01, 12 and 33), and the
 * authentication each key type takes. */
START_TEST(generation_and_auth_choice)
{
	struct dfi_df_version v;
	uint8_t p[28];
	static const struct {
		const char *hex;
		int gen;
	} cards[] = {
		{ "0401010100" "1A05" "0401010104" "1A05" "04112233445566" "D15E000001" "2624", 1 },
		{ "0401011200" "1A05" "0401011200" "1A05" "04112233445566" "D15E000001" "2624", 2 },
		{ "0401013300" "1A05" "0401013300" "1A05" "04112233445566" "D15E000001" "2624", 3 },
		{ "0401010000" "1805" "0401010000" "1805" "04112233445566" "D15E000001" "2624", 0 },
		{ "0402013300" "1A05" "0402013300" "1A05" "04112233445566" "D15E000001" "2624", 0 },
	};
	for (size_t i = 0; i < sizeof(cards) / sizeof(cards[0]); i++) {
		size_t n = HEX(p, cards[i].hex);
		ck_assert_int_eq(dfi_df_parse_version(p, n, &v), DFI_OK);
		ck_assert_int_eq(dfi_df_generation(&v), cards[i].gen);
	}
	ck_assert_int_eq(dfi_df_generation(NULL), 0);
	/* DES family: what every DESFire does */
	ck_assert_int_eq(dfi_df_auth_choose(3, DFI_KT_DES, 0, 0), DFI_DF_AUTH_LEGACY);
	ck_assert_int_eq(dfi_df_auth_choose(3, DFI_KT_2K3DES, 0, 1), DFI_DF_AUTH_LEGACY);
	ck_assert_int_eq(dfi_df_auth_choose(2, DFI_KT_3K3DES, 0, 0), DFI_DF_AUTH_ISO);
	/* AES: EV2 by default from EV2 on, EV1 on EV1, unknown cards or on request */
	ck_assert_int_eq(dfi_df_auth_choose(1, DFI_KT_AES128, 0, 0), DFI_DF_AUTH_AES);
	ck_assert_int_eq(dfi_df_auth_choose(0, DFI_KT_AES128, 0, 0), DFI_DF_AUTH_AES);
	ck_assert_int_eq(dfi_df_auth_choose(2, DFI_KT_AES128, 0, 0), DFI_DF_AUTH_EV2_FIRST);
	ck_assert_int_eq(dfi_df_auth_choose(3, DFI_KT_AES128, 0, 1), DFI_DF_AUTH_EV2_NONFIRST);
	ck_assert_int_eq(dfi_df_auth_choose(3, DFI_KT_AES128, DFI_DF_SM_EV1, 1), DFI_DF_AUTH_AES);
	/* LRP mode: LRP whatever else was asked */
	ck_assert_int_eq(dfi_df_auth_choose(3, DFI_KT_AES128, DFI_DF_SM_LRP, 0),
	    DFI_DF_AUTH_LRP_FIRST);
	ck_assert_int_eq(dfi_df_auth_choose(3, DFI_KT_AES128, DFI_DF_SM_LRP | DFI_DF_SM_EV1, 1),
	    DFI_DF_AUTH_LRP_NONFIRST);
}
END_TEST

int
main(void)
{
	return dfi_test_main("desfire_parse", NULL,
	    (const TTest *[]){ parse_version, parse_file_settings_all_types,
	    parse_key_settings_ids, access_roundtrip, generation_and_auth_choice, NULL });
}
