/*
 * LRP authentication and secure messaging against published traces.
 *
 * Sources (values copied here, nothing read at run time):
 *  [AN12343] NXP AN12343 "MIFARE DESFire Light features and hints": the
 *     AuthenticateLRPFirst example with the all-zero key 3 (RndA
 *     74D7DF6A..., RndB 56109A31..., TI 58EE9424; SesAuthMasterKey
 *     132D7E6F35BA861F39B37221214E25A5, "page 49" as Proxmark3's
 *     client/src/mifare/desfiretest.c TestLRPSessionKeys cites it), the
 *     APDUs as icedevml/nfc-ev2-crypto test_lrp_auth.py gives them.
 *  [EV2C] icedevml/nfc-ev2-crypto test_lrp_cmd.py: LRP secure messaging
 *     traces with the zero key: three GetCardUID in CommMode.Full, and
 *     WriteData/ReadData (NTAG codes 8D/AD) in CommMode.Full.
 */
#include "testutil.h"

#include "dfissue/cardkey.h"
#include "dfissue/desfire.h"
#include "dfissue/lrp.h"
#include "replay.h"
#include "desfire/df_testhooks.h" /* test hooks: engine/desfire */

static dfi_cardkey *
zero_key(void)
{
	uint8_t k[16] = { 0 };
	dfi_cardkey *ck;
	ck_assert_int_eq(dfi_cardkey_new_plain(&ck, DFI_KT_AES128, k, 16, 0), DFI_OK);
	return ck;
}

static const struct replay_step an12343_auth[] = {
	{ "9071000003030102" "00", "0156109A31977C855319CD4618C9D2AED291AF" },
	{ "90AF00002074D7DF6A2CEC0B72B412DE0D2B1117E6189B59DCEDC31A3D3F38EF8D4810B3B400",
	  "F4FC209D9D60623588B299FA5D6B2D710125F8547D9FB8D572C90D2C2A14E2359100" },
};

START_TEST(lrp_session_master_an12343)
{
	uint8_t a[16], b[16], m[16];
	dfi_cardkey *k = zero_key();
	HEX(a, "74D7DF6A2CEC0B72B412DE0D2B1117E6");
	HEX(b, "56109A31977C855319CD4618C9D2AED2");
	ck_assert_int_eq(dfi_df_lrp_session_master(k, a, b, m), DFI_OK);
	ck_assert_hex_eq(m, 16, "132D7E6F35BA861F39B37221214E25A5");
	dfi_cardkey_free(k);
}
END_TEST

/* AuthenticateLRPFirst with key 3 (the zero key in every trace here) on
 * a replayed trace, the PCD's RndA that of [AN12343]; g stays open. */
static dfi_err
lrp_first(struct rig *g, const struct replay_step *st, size_t n, const dfi_cardkey *k)
{
	rig_open(g, st, n);
	rig_rnda(g, "74D7DF6A2CEC0B72B412DE0D2B1117E6");
	return dfi_desfire_authenticate(g->d, DFI_DF_AUTH_LRP_FIRST, 3, k);
}

START_TEST(lrp_first_an12343)
{
	struct rig g;
	struct dfi_df_session s;
	dfi_cardkey *k = zero_key();
	OK(lrp_first(&g, an12343_auth, 2, k));
	ck_assert_int_eq(dfi_desfire_scheme(g.d), DFI_DF_SCHEME_EV2);
	ck_assert_int_eq(dfi_desfire_lrp(g.d), 1);
	ck_assert_int_eq(dfi_desfire_auth_keyno(g.d), 3);
	ck_assert_int_eq(dfi_desfire_get_session(g.d, &s), DFI_OK);
	ck_assert_hex_eq(s.ti, 4, "58EE9424");
	ck_assert_hex_eq(s.enc_key, 16, "132D7E6F35BA861F39B37221214E25A5");
	ck_assert_uint_eq(s.cmd_ctr, 0);
	ck_assert_uint_eq(s.lrp, 1);
	ck_assert_uint_eq(s.lrp_ctr, 1); /* PICCData took EncCtr 0 */
	rig_close(&g);
	dfi_cardkey_free(k);
}
END_TEST

START_TEST(lrp_first_tampered_picc_response_refused)
{
	static const struct replay_step st[] = {
		an12343_auth[0],
		{ "90AF00002074D7DF6A2CEC0B72B412DE0D2B1117E6189B59DCEDC31A3D3F38EF8D4810B3B400",
		  "F4FC209D9D60623588B299FA5D6B2D710125F8547D9FB8D572C90D2C2A14E2119100" },
	};
	struct rig g;
	dfi_cardkey *k = zero_key();
	ck_assert_int_eq(lrp_first(&g, st, 2, k), DFI_E_CARD_AUTH);
	ck_assert_int_eq(dfi_desfire_scheme(g.d), DFI_DF_SCHEME_NONE);
	ck_assert_int_eq(dfi_desfire_lrp(g.d), 0);
	rig_close(&g);
	dfi_cardkey_free(k);
}
END_TEST

/* A card in AES mode answers E(RndB), 16 bytes: not LRP. */
START_TEST(lrp_first_on_aes_card_is_unsupported)
{
	static const struct replay_step st[] = {
		{ "907100000303010200", "A04C124213C186F22399D33AC2A3021591AF" },
	};
	struct rig g;
	dfi_cardkey *k = zero_key();
	ck_assert_int_eq(lrp_first(&g, st, 1, k), DFI_E_UNSUPPORTED);
	ck_assert_int_eq(dfi_desfire_scheme(g.d), DFI_DF_SCHEME_NONE);
	rig_close(&g);
	/* NonFirst needs an LRP session, EV2 NonFirst an AES one. */
	rig_open(&g, st, 0);
	ck_assert_int_eq(dfi_desfire_authenticate(g.d, DFI_DF_AUTH_LRP_NONFIRST, 3, k),
	    DFI_E_NOT_AUTHENTICATED);
	rig_close(&g);
	dfi_cardkey_free(k);
}
END_TEST

/* A session as [EV2C] sets it up: master from SV, EncCtr 1 after the
 * authentication's PICCData. */
static void
set_lrp(dfi_desfire *d, const char *sv_hex, const char *ti)
{
	uint8_t sv[32], zero[16] = { 0 };
	struct dfi_df_session s;
	struct dfi_lrp *l = dfi_secure_alloc(sizeof(*l));
	ck_assert_ptr_nonnull(l);
	HEX(sv, sv_hex);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(dfi_lrp_init_key(l, zero, 0), DFI_OK);
	ck_assert_int_eq(dfi_lrp_cmac(l, sv, 32, s.enc_key), DFI_OK);
	dfi_secure_free(l, sizeof(*l));
	s.scheme = DFI_DF_SCHEME_EV2;
	s.keytype = DFI_KT_AES128;
	s.aid = 0x000001;
	s.lrp = 1;
	s.lrp_ctr = 1;
	HEX(s.ti, ti);
	ck_assert_int_eq(dfi_desfire_set_session(d, &s), DFI_OK);
	dfi_wipe(&s, sizeof(s));
}

START_TEST(lrp_get_card_uid_full_ev2c)
{
	static const struct replay_step st[] = {
		{ "9051000008C37D6270F674CC6D00",
		  "5EC351196B8E2943DB04FCD4A952F53DA2830DC2258E45399100" },
		{ "9051000008D65CCB81E559140000",
		  "D80B735F7B4C8E7E8A3CDAAA4410F35F752769C8EBC48E1A9100" },
		{ "90510000088C677D7DCC34937100",
		  "9CCD031474A50199C696D8EF272E231A10173FAF41B614E49100" },
	};
	struct rig g;
	uint8_t uid[10];
	size_t n;
	struct dfi_df_session s;
	rig_open(&g, st, 3);
	set_lrp(g.d, "00010080993C4EED466BFC0E7EE1D30C1EBD0DEA6F6481E0D70E9A174E789669",
	    "4F5E8407");
	for (int i = 0; i < 3; i++) {
		OK(dfi_desfire_get_card_uid(g.d, uid, sizeof(uid), &n));
		ck_assert_hex_eq(uid, n, "04940D2A2F7080");
	}
	ck_assert_int_eq(dfi_desfire_get_session(g.d, &s), DFI_OK);
	ck_assert_uint_eq(s.cmd_ctr, 3);
	ck_assert_uint_eq(s.lrp_ctr, 4); /* one block per answer */
	rig_close(&g);
}
END_TEST

START_TEST(lrp_write_read_full_ev2c)
{
	static const struct replay_step st[] = {
		{ "908D00001F03000000030000EAF0FAD0430ECDC947A822E12EC8D5F3BB75F218B405FDBC00",
		  "D5B8D8F8CD67F23C9100" },
		{ "90AD00000F0300000003000059858E133A7F487D00",
		  "39665FAE8AF18FEB23DA1767EAF2274BB97FC66CC94377139100" },
	};
	struct rig g;
	uint8_t h[7] = { 0x03, 0, 0, 0, 0x03, 0, 0 }, data[3] = { 1, 2, 3 }, out[32];
	size_t n;
	rig_open(&g, st, 2);
	set_lrp(g.d, "0001008008A6953C60BC3D34E53766689732E2A203FF23855751D644ED519669",
	    "204F2276");
	OK(dfi_desfire_command(g.d, 0x8D, h, 7, data, 3, DFI_DF_COMM_ENC, DFI_DF_COMM_MAC, NULL,
	    0, &n));
	OK(dfi_desfire_command(g.d, 0xAD, h, 7, NULL, 0, DFI_DF_COMM_MAC, DFI_DF_COMM_ENC, out,
	    sizeof(out), &n));
	ck_assert_hex_eq(out, n, "010203");
	rig_close(&g);
}
END_TEST

START_TEST(lrp_response_mac_tamper_detected)
{
	static const struct replay_step st[] = {
		{ "9051000008C37D6270F674CC6D00",
		  "5EC351196B8E2943DB04FCD4A952F53DA2830DC2258E45389100" },
	};
	struct rig g;
	uint8_t uid[10];
	size_t n;
	rig_open(&g, st, 1);
	set_lrp(g.d, "00010080993C4EED466BFC0E7EE1D30C1EBD0DEA6F6481E0D70E9A174E789669",
	    "4F5E8407");
	ck_assert_int_eq(dfi_desfire_get_card_uid(g.d, uid, sizeof(uid), &n), DFI_E_CARD_MAC);
	ck_assert_int_eq(dfi_desfire_scheme(g.d), DFI_DF_SCHEME_NONE);
	rig_close(&g);
}
END_TEST

int
main(void)
{
	return dfi_test_main("desfire-lrp-vectors", NULL,
	    (const TTest *[]){ lrp_session_master_an12343, lrp_first_an12343,
	    lrp_first_tampered_picc_response_refused, lrp_first_on_aes_card_is_unsupported,
	    lrp_get_card_uid_full_ev2c, lrp_write_read_full_ev2c, lrp_response_mac_tamper_detected,
	    NULL });
}
