/*
 * The simulator as a DESFire EV3 (--model ev3), through the engine's
 * DESFire library: GetVersion, the LRP switch (SetConfiguration option 05,
 * irreversible, persistent), AuthenticateLRPFirst/NonFirst and LRP secure
 * messaging, Secure Dynamic Messaging settings and the mirrored read
 * checked by the backend's verifier, in AES and LRP mode, the counter's
 * persistence and tears on it, and the card's refusals.
 */
#include <stdio.h>
#include <unistd.h>

#include "simcard.h"
#include "simtest.h"
#include "testutil.h"

#include "dfissue/cardkey.h"
#include "dfissue/sdm.h"

#define AID 0x12E3E3

struct card {
	dfi_sim *s;
	dfi_transport *t;
	dfi_desfire *d;
	dfi_cardkey *des0, *aes0, *picc, *k[3];
};

static dfi_cardkey *
aes(uint8_t fill)
{
	uint8_t k[16];
	dfi_cardkey *ck;
	memset(k, fill, 16);
	ck_assert_int_eq(dfi_cardkey_new_plain(&ck, DFI_KT_AES128, k, 16, 1), DFI_OK);
	return ck;
}

static void
card_open(struct card *c, enum dfi_sim_model model, int with_image)
{
	struct dfi_sim_config cfg = { 0 };
	char path[128];
	uint8_t z[8] = { 0 };
	if (with_image) {
		sim_path(path, sizeof(path), "ev3.img");
		cfg.image = path;
		cfg.no_fsync = true;
	}
	cfg.has_seed = true;
	cfg.seed = 3;
	cfg.has_uid = true;
	memcpy(cfg.uid, "\x04\xE3\x01\x02\x03\x04\x05", 7);
	cfg.model = model;
	dfi_test_card_open(&cfg, &c->s, &c->t, &c->d);
	ck_assert_int_eq(dfi_cardkey_new_plain(&c->des0, DFI_KT_DES, z, 8, 0), DFI_OK);
	c->aes0 = aes(0);
	c->picc = aes(0x11);
	for (int i = 0; i < 3; i++)
		c->k[i] = aes((uint8_t)(0x20 + i));
}

static void
card_close(struct card *c)
{
	dfi_test_card_close(c->s, c->t, c->d);
	dfi_cardkey_free(c->des0);
	dfi_cardkey_free(c->aes0);
	dfi_cardkey_free(c->picc);
	for (int i = 0; i < 3; i++)
		dfi_cardkey_free(c->k[i]);
}

/* PICC key to AES, one application with three AES keys. */
static void
base_setup(struct card *c)
{
	OK(dfi_desfire_authenticate(c->d, DFI_DF_AUTH_LEGACY, 0, c->des0));
	OK(dfi_desfire_change_key(c->d, 0, c->picc, NULL));
	OK(dfi_desfire_authenticate(c->d, DFI_DF_AUTH_EV2_FIRST, 0, c->picc));
	OK(dfi_desfire_create_application(c->d, AID, 0x0B, 3, DFI_KT_AES128));
	OK(dfi_desfire_select_application(c->d, AID));
	OK(dfi_desfire_authenticate(c->d, DFI_DF_AUTH_EV2_FIRST, 0, c->aes0));
	OK(dfi_desfire_change_key(c->d, 1, c->k[1], c->aes0));
	OK(dfi_desfire_change_key(c->d, 2, c->k[2], c->aes0));
	OK(dfi_desfire_change_key(c->d, 0, c->k[0], NULL));
}

static void
lrp_switch(struct card *c)
{
	uint8_t cap[10] = { 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0 };
	OK(dfi_desfire_select_application(c->d, 0));
	OK(dfi_desfire_authenticate(c->d, DFI_DF_AUTH_EV2_FIRST, 0, c->picc));
	OK(dfi_desfire_set_configuration(c->d, 0x05, cap, sizeof(cap)));
}

START_TEST(version_is_ev3)
{
	struct card c;
	struct dfi_df_version v;
	card_open(&c, DFI_SIM_MODEL_EV3, 1);
	OK(dfi_desfire_get_version(c.d, &v));
	ck_assert_uint_eq(v.hw_major, 0x33);
	ck_assert_uint_eq(v.sw_major, 0x33);
	ck_assert_uint_eq(v.hw_storage, 0x1A);
	ck_assert_int_eq(dfi_df_generation(&v), 3);
	card_close(&c);
	/* the image remembers the generation: opened without --model ev3 */
	card_open(&c, DFI_SIM_MODEL_EV2, 1);
	OK(dfi_desfire_get_version(c.d, &v));
	ck_assert_uint_eq(v.hw_major, 0x33);
	card_close(&c);
	/* and an EV2 stays an EV2 */
	card_open(&c, DFI_SIM_MODEL_EV2, 0);
	OK(dfi_desfire_get_version(c.d, &v));
	ck_assert_int_eq(dfi_df_generation(&v), 2);
	card_close(&c);
}
END_TEST

START_TEST(lrp_switch_auth_and_messaging)
{
	struct card c;
	bool lrp;
	uint8_t uid[10];
	size_t n;
	card_open(&c, DFI_SIM_MODEL_EV3, 1);
	base_setup(&c);
	/* Before the switch: LRP is refused as the AES form answers. */
	ck_assert_int_eq(dfi_desfire_authenticate(c.d, DFI_DF_AUTH_LRP_FIRST, 0, c.k[0]),
	    DFI_E_UNSUPPORTED);
	lrp_switch(&c);
	OK(dfi_sim_lrp_mode(c.s, &lrp));
	ck_assert(lrp);
	/* From now on AES keys take LRP only, at every level, after a power cycle too. */
	OK(dfi_sim_power_cycle(c.s));
	dfi_desfire_reset(c.d);
	ck_assert_int_eq(dfi_desfire_authenticate(c.d, DFI_DF_AUTH_EV2_FIRST, 0, c.picc),
	    DFI_E_DF_AUTHENTICATION_ERROR);
	ck_assert_int_eq(dfi_desfire_authenticate(c.d, DFI_DF_AUTH_AES, 0, c.picc),
	    DFI_E_DF_AUTHENTICATION_ERROR);
	OK(dfi_desfire_authenticate(c.d, DFI_DF_AUTH_LRP_FIRST, 0, c.picc));
	ck_assert_int_eq(dfi_desfire_lrp(c.d), 1);
	OK(dfi_desfire_get_card_uid(c.d, uid, sizeof(uid), &n));
	ck_assert_hex_eq(uid, n, "04E30102030405");
	/* irreversible: asking to leave LRP mode is a parameter error */
	uint8_t off[10] = { 0 };
	ck_assert_int_eq(dfi_desfire_set_configuration(c.d, 0x05, off, sizeof(off)),
	    DFI_E_DF_PARAMETER_ERROR);
	OK(dfi_desfire_authenticate(c.d, DFI_DF_AUTH_LRP_FIRST, 0, c.picc));
	/* asking again is harmless */
	uint8_t cap[10] = { 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0 };
	OK(dfi_desfire_set_configuration(c.d, 0x05, cap, sizeof(cap)));
	/* application level: LRP first and non-first, ChangeKey and data under LRP */
	OK(dfi_desfire_select_application(c.d, AID));
	OK(dfi_desfire_authenticate(c.d, DFI_DF_AUTH_LRP_FIRST, 0, c.k[0]));
	struct dfi_df_access acc = { .read = 1, .write = 1, .read_write = 1, .change = 0 };
	OK(dfi_desfire_create_std_file(c.d, 4, DFI_DF_COMM_ENC, &acc, 64));
	dfi_cardkey *k1b = aes(0x5A);
	OK(dfi_desfire_change_key(c.d, 1, k1b, c.k[1]));
	ck_assert_int_eq(dfi_desfire_authenticate(c.d, DFI_DF_AUTH_LRP_NONFIRST, 1, c.k[1]),
	    DFI_E_DF_AUTHENTICATION_ERROR);
	OK(dfi_desfire_authenticate(c.d, DFI_DF_AUTH_LRP_FIRST, 0, c.k[0]));
	OK(dfi_desfire_authenticate(c.d, DFI_DF_AUTH_LRP_NONFIRST, 1, k1b));
	uint8_t w[64], r[64];
	for (int i = 0; i < 64; i++)
		w[i] = (uint8_t)(i * 3);
	OK(dfi_desfire_write_data(c.d, 4, DFI_DF_COMM_ENC, 0, w, 64));
	OK(dfi_desfire_read_data(c.d, 4, DFI_DF_COMM_ENC, 0, 64, r));
	ck_assert_mem_eq(w, r, 64);
	/* MACed: a file in CommMode.MAC, with the application master key */
	OK(dfi_desfire_authenticate(c.d, DFI_DF_AUTH_LRP_NONFIRST, 0, c.k[0]));
	struct dfi_df_access am = { .read = 0, .write = 0, .read_write = 0, .change = 0 };
	OK(dfi_desfire_create_std_file(c.d, 5, DFI_DF_COMM_MAC, &am, 16));
	OK(dfi_desfire_write_data(c.d, 5, DFI_DF_COMM_MAC, 3, w, 5));
	OK(dfi_desfire_read_data(c.d, 5, DFI_DF_COMM_MAC, 3, 5, r));
	ck_assert_mem_eq(w, r, 5);
	struct dfi_df_key_settings ks;
	OK(dfi_desfire_get_key_settings(c.d, &ks));
	ck_assert_uint_eq(ks.max_keys, 3);
	uint8_t data[64];
	size_t dl;
	OK(dfi_sim_file_data(c.s, AID, 4, data, sizeof(data), &dl));
	ck_assert_mem_eq(data, w, 64);
	dfi_cardkey_free(k1b);
	card_close(&c);
}
END_TEST

/* The switch torn: before, the card is still in AES mode; after, it is in
 * LRP mode although the answer was lost. */
START_TEST(lrp_switch_torn)
{
	uint8_t cap[10] = { 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0 };
	for (int mode = DFI_SIM_TEAR_BEFORE; mode <= DFI_SIM_TEAR_AFTER; mode++) {
		struct card c;
		bool lrp;
		card_open(&c, DFI_SIM_MODEL_EV3, 1);
		base_setup(&c);
		OK(dfi_desfire_select_application(c.d, 0));
		OK(dfi_desfire_authenticate(c.d, DFI_DF_AUTH_EV2_FIRST, 0, c.picc));
		OK(dfi_sim_set_tear(c.s, 1, (enum dfi_sim_tear_mode)mode));
		ck_assert_int_eq(dfi_desfire_set_configuration(c.d, 0x05, cap, sizeof(cap)),
		    DFI_E_CARD_TORN);
		OK(dfi_transport_wait_card(c.t, 100));
		dfi_desfire_reset(c.d);
		OK(dfi_sim_lrp_mode(c.s, &lrp));
		ck_assert_int_eq(lrp, mode == DFI_SIM_TEAR_AFTER);
		/* the card tells which: one authentication or the other works */
		if (lrp) {
			ck_assert_int_eq(dfi_desfire_authenticate(c.d, DFI_DF_AUTH_EV2_FIRST, 0, c.picc),
			    DFI_E_DF_AUTHENTICATION_ERROR);
			OK(dfi_desfire_authenticate(c.d, DFI_DF_AUTH_LRP_FIRST, 0, c.picc));
		} else {
			ck_assert_int_eq(dfi_desfire_authenticate(c.d, DFI_DF_AUTH_LRP_FIRST, 0, c.picc),
			    DFI_E_UNSUPPORTED);
			OK(dfi_desfire_authenticate(c.d, DFI_DF_AUTH_EV2_FIRST, 0, c.picc));
		}
		card_close(&c);
		/* an image on disk: the same after a restart of the process */
		card_open(&c, DFI_SIM_MODEL_EV3, 1);
		OK(dfi_sim_lrp_mode(c.s, &lrp));
		ck_assert_int_eq(lrp, mode == DFI_SIM_TEAR_AFTER);
		card_close(&c);
		teardown();
		setup();
	}
}
END_TEST

START_TEST(lrp_switch_refused_on_ev2)
{
	struct card c;
	uint8_t cap[10] = { 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0 };
	card_open(&c, DFI_SIM_MODEL_EV2, 0);
	OK(dfi_desfire_authenticate(c.d, DFI_DF_AUTH_LEGACY, 0, c.des0));
	ck_assert_int_eq(dfi_desfire_set_configuration(c.d, 0x05, cap, sizeof(cap)),
	    DFI_E_DF_PARAMETER_ERROR);
	card_close(&c);
}
END_TEST

/* The file-read key of the backend: the card's key 2. */
static dfi_err
file_key(void *arg, const uint8_t *uid, dfi_cardkey **out)
{
	(void)arg;
	ck_assert_ptr_nonnull(uid);
	ck_assert_mem_eq(uid, "\x04\xE3\x01\x02\x03\x04\x05", 7);
	uint8_t k[16];
	memset(k, 0x22, 16);
	return dfi_cardkey_new_plain(out, DFI_KT_AES128, k, 16, 1);
}

/* An unauthenticated read of the whole file, checked as a backend would;
 * returns the counter the card showed. */
static uint32_t
tap(struct card *c, const struct dfi_sdm_layout *l)
{
	uint8_t file[256];
	char hex[2 * 256 + 1], why[200];
	struct dfi_sdm_tap t;
	struct dfi_sdm_result res;
	dfi_desfire_reset(c->d);
	OK(dfi_desfire_select_application(c->d, AID));
	OK(dfi_desfire_read_data(c->d, 2, DFI_DF_COMM_PLAIN, 0, 256, file));
	ck_assert_int_eq(dfi_hex_encode(file, 256, hex, sizeof(hex)), DFI_OK);
	ck_assert_msg(dfi_sdm_tap_parse(l, hex, DFI_SDM_IN_HEX, &t, why, sizeof(why)) == DFI_OK,
	    "%s", why);
	dfi_cardkey *meta = aes(0x21); /* meta-read key 1 */
	OK(dfi_sdm_verify(l, &t, meta, file_key, NULL, &res));
	dfi_cardkey_free(meta);
	ck_assert_int_eq(res.has_uid, 1);
	ck_assert_hex_eq(res.uid, 7, "04E30102030405");
	ck_assert_uint_eq(res.file_len, 16);
	ck_assert_mem_eq(res.file, "card-secret-0001", 16);
	uint32_t ctr = res.ctr;
	/* an altered MAC is refused */
	t.mac[3] ^= 0x10;
	meta = aes(0x21);
	ck_assert_int_eq(dfi_sdm_verify(l, &t, meta, file_key, NULL, &res), DFI_E_CARD_MAC);
	dfi_cardkey_free(meta);
	return ctr;
}

/* Lays the SDM file out, writes it and turns SDM on (change right: key 0). */
static void
sdm_file(struct card *c, enum dfi_sdm_cipher ci, struct dfi_sdm_layout *l, dfi_df_authcmd how)
{
	char why[200];
	struct dfi_df_access acc = { .read = 0xE, .write = 0, .read_write = 0, .change = 0 };
	ck_assert_int_eq(dfi_sdm_layout_parse("https://tap.example/v?e={picc}&d={enc:16}&c={mac}",
	    ci, 1, l, why, sizeof(why)), DFI_OK);
	l->sdm.ctr_ret = 0xF;
	l->sdm.meta_read = 1;
	l->sdm.file_read = 2;
	ck_assert_int_eq(dfi_df_sdm_validate(&l->sdm, 256, ci == DFI_SDM_LRP, why, sizeof(why)),
	    DFI_OK);
	OK(dfi_desfire_select_application(c->d, AID));
	OK(dfi_desfire_authenticate(c->d, how, 0, c->k[0]));
	OK(dfi_desfire_create_std_file(c->d, 2, DFI_DF_COMM_PLAIN, &acc, 256));
	OK(dfi_desfire_write_data(c->d, 2, DFI_DF_COMM_PLAIN, 0, l->file, (uint32_t)l->file_len));
	OK(dfi_desfire_write_data(c->d, 2, DFI_DF_COMM_PLAIN, l->sdm.enc_offset,
	    (const uint8_t *)"card-secret-0001", 16));
	OK(dfi_desfire_change_file_settings_sdm(c->d, 2, DFI_DF_COMM_ENC, DFI_DF_COMM_PLAIN, &acc,
	    &l->sdm));
	struct dfi_df_file_settings fs;
	OK(dfi_desfire_get_file_settings(c->d, 2, &fs));
	ck_assert_int_eq(fs.sdm_enabled, 1);
	ck_assert_mem_eq(&fs.sdm, &l->sdm, sizeof(fs.sdm));
	struct dfi_df_sdm in_sim;
	uint32_t ctr = 99;
	OK(dfi_sim_sdm_info(c->s, AID, 2, &in_sim, &ctr));
	ck_assert_uint_eq(ctr, 0);
}

/* The SDM file read without a key, torn at its READ DATA (mode: before
 * or after the card runs it); the card is back on the reader after. */
static void
torn_read(struct card *c, enum dfi_sim_tear_mode mode)
{
	uint8_t buf[256];
	OK(dfi_desfire_select_application(c->d, AID));
	ck_assert_int_eq(dfi_sim_set_tear(c->s, 1, mode), DFI_OK);
	ck_assert_int_eq(dfi_desfire_read_data(c->d, 2, DFI_DF_COMM_PLAIN, 0, 256, buf),
	    DFI_E_CARD_TORN);
	OK(dfi_transport_wait_card(c->t, 100));
}

static void
sdm_reads(struct card *c, const struct dfi_sdm_layout *l, dfi_df_authcmd how)
{
	ck_assert_uint_eq(tap(c, l), 1);
	ck_assert_uint_eq(tap(c, l), 2);
	/* persistent */
	OK(dfi_sim_power_cycle(c->s));
	ck_assert_uint_eq(tap(c, l), 3);
	/* a read torn after the card ran it moved the counter on */
	torn_read(c, DFI_SIM_TEAR_AFTER);
	ck_assert_uint_eq(tap(c, l), 5);
	/* torn before: not */
	torn_read(c, DFI_SIM_TEAR_BEFORE);
	ck_assert_uint_eq(tap(c, l), 6);
	/* read with the read&write key: the stored file, no mirror, no count */
	uint8_t buf[256];
	OK(dfi_desfire_select_application(c->d, AID));
	OK(dfi_desfire_authenticate(c->d, how, 0, c->k[0]));
	OK(dfi_desfire_read_data(c->d, 2, DFI_DF_COMM_PLAIN, 0, 256, buf));
	ck_assert_mem_eq(buf, l->file, l->sdm.picc_offset);
	ck_assert_uint_eq(buf[l->sdm.picc_offset], '0');
	ck_assert_uint_eq(tap(c, l), 7);
}

/* A factory EV3 card (with_image: kept in a file, as card_open) with
 * base_setup's application and its SDM file in cipher ci, set up under
 * the authentication how; for LRP the card is switched first. */
static void
sdm_card(struct card *c, struct dfi_sdm_layout *l, int with_image, enum dfi_sdm_cipher ci,
    dfi_df_authcmd how)
{
	card_open(c, DFI_SIM_MODEL_EV3, with_image);
	base_setup(c);
	if (ci == DFI_SDM_LRP)
		lrp_switch(c);
	sdm_file(c, ci, l, how);
}

START_TEST(sdm_aes_mode)
{
	struct card c;
	struct dfi_sdm_layout l;
	sdm_card(&c, &l, 1, DFI_SDM_AES, DFI_DF_AUTH_EV2_FIRST);
	sdm_reads(&c, &l, DFI_DF_AUTH_EV2_FIRST);
	card_close(&c);
}
END_TEST

START_TEST(sdm_lrp_mode)
{
	struct card c;
	struct dfi_sdm_layout l;
	sdm_card(&c, &l, 1, DFI_SDM_LRP, DFI_DF_AUTH_LRP_FIRST);
	ck_assert_uint_eq(l.sdm.mac_offset - l.sdm.picc_offset, 48 + 3 + 32 + 3);
	sdm_reads(&c, &l, DFI_DF_AUTH_LRP_FIRST);
	card_close(&c);
}
END_TEST

/* ChangeFileSettings with SDM in an EV1 (AES) session: the CRC32 form. */
START_TEST(sdm_settings_in_ev1_session)
{
	struct card c;
	struct dfi_sdm_layout l;
	sdm_card(&c, &l, 0, DFI_SDM_AES, DFI_DF_AUTH_AES);
	ck_assert_uint_eq(tap(&c, &l), 1);
	card_close(&c);
}
END_TEST

START_TEST(sdm_settings_refused)
{
	struct card c;
	struct dfi_sdm_layout l;
	char why[200];
	struct dfi_df_access acc = { .read = 0xE, .write = 0, .read_write = 0, .change = 0 };
	card_open(&c, DFI_SIM_MODEL_EV3, 0);
	base_setup(&c);
	ck_assert_int_eq(dfi_sdm_layout_parse("https://tap.example/v?e={picc}&c={mac}",
	    DFI_SDM_AES, 1, &l, why, sizeof(why)), DFI_OK);
	l.sdm.ctr_ret = 0xF;
	l.sdm.meta_read = 1;
	l.sdm.file_read = 2;
	OK(dfi_desfire_select_application(c.d, AID));
	OK(dfi_desfire_authenticate(c.d, DFI_DF_AUTH_EV2_FIRST, 0, c.k[0]));
	OK(dfi_desfire_create_backup_file(c.d, 3, DFI_DF_COMM_PLAIN, &acc, 64));
	OK(dfi_desfire_create_std_file(c.d, 2, DFI_DF_COMM_PLAIN, &acc, 96));
	/* a backup file takes no SDM */
	ck_assert_int_eq(dfi_desfire_change_file_settings_sdm(c.d, 3, DFI_DF_COMM_ENC,
	    DFI_DF_COMM_PLAIN, &acc, &l.sdm), DFI_E_DF_PARAMETER_ERROR);
	/* a key the application does not have */
	OK(dfi_desfire_authenticate(c.d, DFI_DF_AUTH_EV2_FIRST, 0, c.k[0]));
	struct dfi_df_sdm b = l.sdm;
	b.file_read = 5;
	ck_assert_int_eq(dfi_desfire_change_file_settings_sdm(c.d, 2, DFI_DF_COMM_ENC,
	    DFI_DF_COMM_PLAIN, &acc, &b), DFI_E_DF_PARAMETER_ERROR);
	/* the MAC beyond the file's end */
	OK(dfi_desfire_authenticate(c.d, DFI_DF_AUTH_EV2_FIRST, 0, c.k[0]));
	b = l.sdm;
	b.mac_offset = 90;
	b.mac_input_offset = 90;
	ck_assert_int_eq(dfi_desfire_change_file_settings_sdm(c.d, 2, DFI_DF_COMM_ENC,
	    DFI_DF_COMM_PLAIN, &acc, &b), DFI_E_DF_PARAMETER_ERROR);
	/* nothing was changed by the refusals */
	ck_assert_int_eq(dfi_sim_sdm_info(c.s, AID, 2, NULL, NULL), DFI_E_NOT_FOUND);
	/* SDM off again: plain settings */
	OK(dfi_desfire_authenticate(c.d, DFI_DF_AUTH_EV2_FIRST, 0, c.k[0]));
	OK(dfi_desfire_change_file_settings_sdm(c.d, 2, DFI_DF_COMM_ENC, DFI_DF_COMM_PLAIN, &acc,
	    &l.sdm));
	OK(dfi_sim_sdm_info(c.s, AID, 2, NULL, NULL));
	OK(dfi_desfire_change_file_settings(c.d, 2, DFI_DF_COMM_ENC, DFI_DF_COMM_MAC, &acc));
	ck_assert_int_eq(dfi_sim_sdm_info(c.s, AID, 2, NULL, NULL), DFI_E_NOT_FOUND);
	struct dfi_df_file_settings fs;
	OK(dfi_desfire_get_file_settings(c.d, 2, &fs));
	ck_assert_int_eq(fs.sdm_enabled, 0);
	ck_assert_int_eq(fs.comm, DFI_DF_COMM_MAC);
	card_close(&c);
}
END_TEST

int
main(void)
{
	return dfi_test_main("sim-ev3",
	    &(const struct dfi_test_case){ .setup = setup, .teardown = teardown },
	    (const TTest *[]){ version_is_ev3, lrp_switch_auth_and_messaging,
	    lrp_switch_refused_on_ev2, lrp_switch_torn, sdm_aes_mode, sdm_lrp_mode,
	    sdm_settings_in_ev1_session, sdm_settings_refused, NULL });
}
