/*
 * Full DESFire sessions against the in-process simulator (tools/desfire-sim):
 * factory card, legacy authentication, PICC master key moved to AES,
 * applications, EV1 and EV2 authentication, every file type written and
 * read in every communication mode, key changes in every form, and a final
 * verification. The AES keys are AN10922 keys diversified inside a SoftHSM2
 * token (hsm-config/make-dev-token.sh) through the HSM layer; only the
 * public factory keys are host-held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "testutil.h"

#include "card_check.h"
#include "dfissue/cardkey.h"
#include "dfissue/hsm.h"
#include "simcard.h"

struct card {
	dfi_sim *sim;
	dfi_transport *t;
	dfi_desfire *d;
	uint8_t uid[7];
};

static void
card_open(struct card *c, uint64_t seed)
{
	struct dfi_sim_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.has_seed = true;
	cfg.seed = seed;
	cfg.model = DFI_SIM_MODEL_EV2;
	dfi_test_card_open(&cfg, &c->sim, &c->t, &c->d);
	dfi_sim_uid(c->sim, c->uid);
}

static void
card_close(struct card *c)
{
	dfi_test_card_close(c->sim, c->t, c->d);
}

static dfi_cardkey *
plain_key(dfi_keytype t, uint8_t version)
{
	static const uint8_t zero[24];
	dfi_cardkey *k;
	OK(dfi_cardkey_new_plain(&k, t, zero, dfi_keytype_keylen(t), version));
	return k;
}

static void
pattern(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + 7 * i);
}

/* Appends count records of len bytes to a record file, each committed on
 * its own; record k holds pattern(seed + k). */
static void
write_records(dfi_desfire *d, uint8_t fid, dfi_df_comm comm, uint8_t count, uint32_t len,
    uint8_t seed)
{
	uint8_t w[64];
	ck_assert_uint_le(len, sizeof(w));
	for (uint8_t k = 0; k < count; k++) {
		pattern(w, len, (uint8_t)(seed + k));
		OK(dfi_desfire_write_record(d, fid, comm, 0, w, len));
		OK(dfi_desfire_commit_transaction(d));
	}
}

/* Writes and reads back a std file in its mode, longer than one frame. */
static void
data_roundtrip(dfi_desfire *d, uint8_t fid, dfi_df_comm comm, uint32_t len, uint8_t seed)
{
	uint8_t w[200], r[200];
	ck_assert_uint_le(len, sizeof(w));
	pattern(w, len, seed);
	OK(dfi_desfire_write_data(d, fid, comm, 0, w, len));
	memset(r, 0, sizeof(r));
	OK(dfi_desfire_read_data(d, fid, comm, 0, len, r));
	ck_assert_mem_eq(r, w, len);
	/* A part in the middle. */
	OK(dfi_desfire_read_data(d, fid, comm, 13, 21, r));
	ck_assert_mem_eq(r, w + 13, 21);
}

/* Creates one file of each type in the given mode (ids base..base+4),
 * exercises each, and checks its settings. */
static void
files_in_mode(dfi_desfire *d, uint8_t base, dfi_df_comm comm)
{
	struct dfi_df_access a = { .read = 0, .write = 0, .read_write = 0, .change = 0 };
	struct dfi_df_file_settings fs;
	uint8_t w[64], r[256];
	size_t n;
	int32_t v;

	OK(dfi_desfire_create_std_file(d, base, comm, &a, 160));
	OK(dfi_desfire_create_backup_file(d, base + 1, comm, &a, 64));
	OK(dfi_desfire_create_value_file(d, base + 2, comm, &a, -100, 1000, 10, 0));
	OK(dfi_desfire_create_linear_record_file(d, base + 3, comm, &a, 20, 4));
	OK(dfi_desfire_create_cyclic_record_file(d, base + 4, comm, &a, 12, 3));

	for (uint8_t i = 0; i < 5; i++) {
		OK(dfi_desfire_get_file_settings(d, base + i, &fs));
		ck_assert_uint_eq(fs.type, i);
		ck_assert_int_eq(fs.comm, comm);
	}
	data_roundtrip(d, base, comm, 150, base);

	/* Backup file: invisible until committed. */
	pattern(w, 40, 0x33);
	OK(dfi_desfire_write_data(d, base + 1, comm, 4, w, 40));
	OK(dfi_desfire_commit_transaction(d));
	OK(dfi_desfire_read_data(d, base + 1, comm, 4, 40, r));
	ck_assert_mem_eq(r, w, 40);

	/* Value file. */
	OK(dfi_desfire_get_value(d, base + 2, comm, &v));
	ck_assert_int_eq(v, 10);
	OK(dfi_desfire_credit(d, base + 2, comm, 25));
	OK(dfi_desfire_debit(d, base + 2, comm, 5));
	OK(dfi_desfire_commit_transaction(d));
	OK(dfi_desfire_get_value(d, base + 2, comm, &v));
	ck_assert_int_eq(v, 30);
	OK(dfi_desfire_debit(d, base + 2, comm, 7));
	OK(dfi_desfire_abort_transaction(d));
	OK(dfi_desfire_get_value(d, base + 2, comm, &v));
	ck_assert_int_eq(v, 30);

	/* Linear records. */
	write_records(d, base + 3, comm, 2, 20, 0x50);
	OK(dfi_desfire_read_records(d, base + 3, comm, 0, 0, 20, r, sizeof(r), &n));
	ck_assert_uint_eq(n, 40);
	pattern(w, 20, 0x50);
	ck_assert_mem_eq(r, w, 20); /* oldest first */
	OK(dfi_desfire_read_records(d, base + 3, comm, 0, 1, 20, r, sizeof(r), &n));
	pattern(w, 20, 0x51);
	ck_assert_mem_eq(r, w, 20); /* record 0 is the newest */

	/* Cyclic records: four writes into room for two. */
	write_records(d, base + 4, comm, 4, 12, 0x70);
	OK(dfi_desfire_read_records(d, base + 4, comm, 0, 1, 12, r, sizeof(r), &n));
	ck_assert_uint_eq(n, 12);
	pattern(w, 12, 0x73);
	ck_assert_mem_eq(r, w, 12);
}

/* ---- HSM fixture ------------------------------------------------------- */

struct hsm_fix {
	char dir[256];
	dfi_hsm *h;
	dfi_hsm_key *picc, *app1;
};

static int
hsm_open(struct hsm_fix *f)
{
	const char *src = getenv("DFI_SOURCE_DIR"), *bld = getenv("DFI_BUILD_DIR");
	char cmd[1400], conf[400], pin[400];
	if (src == NULL || bld == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/dfi-df-session.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd),
	    "'%s/hsm-config/make-dev-token.sh' '%s/dev' '%s/bin/dfissue' >/dev/null </dev/null",
	    src, f->dir, bld);
	if (system(cmd) != 0)
		return -1;
	snprintf(conf, sizeof(conf), "%s/dev/softhsm2.conf", f->dir);
	snprintf(pin, sizeof(pin), "%s/dev/user.pin", f->dir);
	setenv("SOFTHSM2_CONF", conf, 1);
	struct dfi_hsm_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.module = getenv("SOFTHSM2_MODULE");
	cfg.token_uri = "pkcs11:token=dfissue-dev";
	cfg.pin_file = pin;
	if (dfi_hsm_open(&f->h, &cfg) != DFI_OK)
		return -1;
	if (dfi_hsm_key_find(f->h, "pkcs11:object=picc-master;type=secret-key", &f->picc) != DFI_OK ||
	    dfi_hsm_key_find(f->h, "pkcs11:object=app1-master;type=secret-key", &f->app1) != DFI_OK)
		return -1;
	return 0;
}

static void
hsm_close(struct hsm_fix *f)
{
	char cmd[400];
	dfi_hsm_key_free(f->picc);
	dfi_hsm_key_free(f->app1);
	dfi_hsm_free(f->h);
	if (f->dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", f->dir);
	}
}

/* K = AN10922(master, UID || AID || "NXP Abu"), in the HSM. */
static dfi_cardkey *
div_key(struct hsm_fix *f, const dfi_hsm_key *master, const uint8_t uid[7], uint32_t aid,
    uint8_t keyno, uint8_t version)
{
	uint8_t m[7 + 3 + 1 + 7];
	memcpy(m, uid, 7);
	m[7] = (uint8_t)aid;
	m[8] = (uint8_t)(aid >> 8);
	m[9] = (uint8_t)(aid >> 16);
	m[10] = keyno;
	memcpy(m + 11, "NXP Abu", 7);
	dfi_cardkey *k;
	OK(dfi_hsm_cardkey_diversified(f->h, master, DFI_KT_AES128, m, sizeof(m), version, &k));
	return k;
}

/* The card holds exactly this key (checked through the simulator's
 * inspection interface, key bytes only inside the HSM callback). */
static void
assert_card_key(dfi_sim *sim, uint32_t aid, uint8_t keyno, const dfi_cardkey *k)
{
	ck_assert_int_eq(dfi_test_sim_holds_key(sim, aid, keyno, k), 1);
}

START_TEST(full_session_hsm_keys)
{
	struct hsm_fix f;
	struct card c;
	memset(&f, 0, sizeof(f));
	ck_assert_msg(hsm_open(&f) == 0, "SoftHSM2 dev token could not be made");
	card_open(&c, 0x5EED0001);
	dfi_desfire *d = c.d;
	const uint32_t aid = 0x0A1B2C;

	dfi_cardkey *des0 = plain_key(DFI_KT_DES, 0);
	dfi_cardkey *aes0 = plain_key(DFI_KT_AES128, 0);
	dfi_cardkey *picc = div_key(&f, f.picc, c.uid, 0, 0, 1);
	/* The next generation of the PICC key comes from another master. */
	dfi_cardkey *picc2 = div_key(&f, f.app1, c.uid, 0, 0, 2);
	dfi_cardkey *k0 = div_key(&f, f.app1, c.uid, aid, 0, 1);
	dfi_cardkey *k1 = div_key(&f, f.app1, c.uid, aid, 1, 1);
	dfi_cardkey *k2 = div_key(&f, f.app1, c.uid, aid, 2, 1);

	/* Factory card: version, legacy authentication with the zero DES key. */
	struct dfi_df_version v;
	struct dfi_df_key_settings ks;
	uint8_t ver, uid[10];
	size_t n;
	OK(dfi_desfire_get_version(d, &v));
	ck_assert_mem_eq(v.uid, c.uid, 7);
	OK(dfi_desfire_get_key_settings(d, &ks));
	ck_assert_uint_eq(ks.settings, 0x0F);
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_LEGACY, 0, des0));
	ck_assert_int_eq(dfi_desfire_scheme(d), DFI_DF_SCHEME_D40);
	OK(dfi_desfire_get_card_uid(d, uid, sizeof(uid), &n));
	ck_assert_uint_eq(n, 7);
	ck_assert_mem_eq(uid, c.uid, 7);

	/* PICC master key DES -> AES (key number flag 0x80, D40 cryptogram). */
	OK(dfi_desfire_change_key(d, 0, picc, NULL));
	ck_assert_int_eq(dfi_desfire_scheme(d), DFI_DF_SCHEME_NONE);
	ck_assert_int_eq(dfi_desfire_authenticate(d, DFI_DF_AUTH_LEGACY, 0, des0),
	    DFI_E_DF_AUTHENTICATION_ERROR);
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_AES, 0, picc));
	ck_assert_int_eq(dfi_desfire_scheme(d), DFI_DF_SCHEME_EV1);
	OK(dfi_desfire_get_key_settings(d, &ks));
	ck_assert_int_eq(ks.keytype, DFI_KT_AES128);
	OK(dfi_desfire_get_key_version(d, 0, &ver));
	ck_assert_uint_eq(ver, 1);
	OK(dfi_desfire_get_card_uid(d, uid, sizeof(uid), &n));
	ck_assert_mem_eq(uid, c.uid, 7);

	/* SetConfiguration (enciphered): keep FormatPICC allowed, no random ID. */
	uint8_t cfgbyte = 0x00;
	struct dfi_sim_picc_info pi;
	OK(dfi_desfire_set_configuration(d, 0x00, &cfgbyte, 1));
	OK(dfi_sim_picc_info(c.sim, &pi));
	ck_assert_uint_eq(pi.config, 0x00);

	/* Application with AES keys. */
	uint32_t aids[28];
	OK(dfi_desfire_create_application(d, aid, 0x0B, 5, DFI_KT_AES128));
	OK(dfi_desfire_get_application_ids(d, aids, 28, &n));
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(aids[0], aid);

	/* The PICC level under EV2: management commands MACed both ways,
	 * GetCardUID enciphered, GetVersion's frames under one MAC. */
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_EV2_FIRST, 0, picc));
	OK(dfi_desfire_get_version(d, &v));
	ck_assert_mem_eq(v.uid, c.uid, 7);
	OK(dfi_desfire_get_application_ids(d, aids, 28, &n));
	ck_assert_uint_eq(n, 1);
	OK(dfi_desfire_get_key_settings(d, &ks));
	ck_assert_int_eq(ks.keytype, DFI_KT_AES128);
	OK(dfi_desfire_get_card_uid(d, uid, sizeof(uid), &n));
	ck_assert_mem_eq(uid, c.uid, 7);
	OK(dfi_desfire_get_key_version(d, 0, &ver));
	ck_assert_uint_eq(ver, 1);

	/* EV2 inside the application; change key 0 (same-key form), key 1
	 * (XOR + CRC32 form), with the session ending and restarting. */
	OK(dfi_desfire_select_application(d, aid));
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_EV2_FIRST, 0, aes0));
	ck_assert_int_eq(dfi_desfire_scheme(d), DFI_DF_SCHEME_EV2);
	OK(dfi_desfire_change_key(d, 0, k0, NULL));
	ck_assert_int_eq(dfi_desfire_scheme(d), DFI_DF_SCHEME_NONE);
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_EV2_FIRST, 0, k0));
	OK(dfi_desfire_change_key(d, 1, k1, aes0));
	OK(dfi_desfire_get_key_version(d, 1, &ver));
	ck_assert_uint_eq(ver, 1);

	/* Every file type in every mode under EV2. */
	files_in_mode(d, 0, DFI_DF_COMM_PLAIN);
	files_in_mode(d, 5, DFI_DF_COMM_MAC);
	files_in_mode(d, 10, DFI_DF_COMM_ENC);
	uint8_t ids[32];
	OK(dfi_desfire_get_file_ids(d, ids, sizeof(ids), &n));
	ck_assert_uint_eq(n, 15);

	/* ChangeFileSettings, enciphered. */
	struct dfi_df_access a2 = { .read = 1, .write = 0, .read_write = 0, .change = 0 };
	struct dfi_df_file_settings fs;
	OK(dfi_desfire_change_file_settings(d, 0, DFI_DF_COMM_ENC, DFI_DF_COMM_MAC, &a2));
	OK(dfi_desfire_get_file_settings(d, 0, &fs));
	ck_assert_int_eq(fs.comm, DFI_DF_COMM_MAC);
	ck_assert_uint_eq(fs.access.read, 1);

	/* EV2 NonFirst with key 1 keeps the transaction; read with it. */
	uint8_t r[160], w[160];
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_EV2_NONFIRST, 1, k1));
	OK(dfi_desfire_read_data(d, 0, DFI_DF_COMM_MAC, 0, 150, r));
	pattern(w, 150, 0);
	ck_assert_mem_eq(r, w, 150);

	/* The same files under EV1 AES secure messaging. */
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_AES, 0, k0));
	data_roundtrip(d, 5, DFI_DF_COMM_MAC, 120, 0x11);
	data_roundtrip(d, 10, DFI_DF_COMM_ENC, 150, 0x22);
	OK(dfi_desfire_change_key(d, 2, k2, aes0));
	OK(dfi_desfire_change_key_settings(d, 0x09));
	OK(dfi_desfire_get_key_settings(d, &ks));
	ck_assert_uint_eq(ks.settings, 0x09);
	ck_assert_uint_eq(ks.max_keys, 5);

	/* PICC master key AES -> AES with a new version (EV1 same-key form). */
	OK(dfi_desfire_select_application(d, 0));
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_AES, 0, picc));
	OK(dfi_desfire_change_key(d, 0, picc2, NULL));
	ck_assert_int_eq(dfi_desfire_authenticate(d, DFI_DF_AUTH_AES, 0, picc),
	    DFI_E_DF_AUTHENTICATION_ERROR);

	/* Verify: a fresh power cycle, every key authenticates, versions,
	 * stored keys equal the HSM's, data survived. */
	dfi_desfire_reset(d);
	OK(dfi_sim_power_cycle(c.sim));
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_AES, 0, picc2));
	OK(dfi_desfire_get_key_version(d, 0, &ver));
	ck_assert_uint_eq(ver, 2);
	OK(dfi_desfire_select_application(d, aid));
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_EV2_FIRST, 2, k2));
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_EV2_NONFIRST, 1, k1));
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_EV2_FIRST, 0, k0));
	OK(dfi_desfire_read_data(d, 10, DFI_DF_COMM_ENC, 0, 150, r));
	pattern(w, 150, 0x22);
	ck_assert_mem_eq(r, w, 150);
	assert_card_key(c.sim, 0, 0, picc2);
	assert_card_key(c.sim, aid, 0, k0);
	assert_card_key(c.sim, aid, 1, k1);
	assert_card_key(c.sim, aid, 2, k2);

	dfi_cardkey_free(des0);
	dfi_cardkey_free(aes0);
	dfi_cardkey_free(picc);
	dfi_cardkey_free(picc2);
	dfi_cardkey_free(k0);
	dfi_cardkey_free(k1);
	dfi_cardkey_free(k2);
	card_close(&c);
	hsm_close(&f);
}
END_TEST

/* D40 (legacy) and EV1 ISO secure messaging on DES-family applications,
 * with the public factory keys. */
START_TEST(des_family_applications)
{
	struct card c;
	card_open(&c, 0x5EED0002);
	dfi_desfire *d = c.d;
	dfi_cardkey *des0 = plain_key(DFI_KT_DES, 0);
	dfi_cardkey *k3 = plain_key(DFI_KT_3K3DES, 0);
	uint8_t key2[16], key3[24];
	pattern(key2, 16, 0x21);
	pattern(key3, 24, 0x31);
	dfi_cardkey *n2, *n3, *n2b;
	OK(dfi_cardkey_new_plain(&n2, DFI_KT_2K3DES, key2, 16, 0x42));
	OK(dfi_cardkey_new_plain(&n3, DFI_KT_3K3DES, key3, 24, 0x43));
	pattern(key2, 16, 0x5F);
	OK(dfi_cardkey_new_plain(&n2b, DFI_KT_2K3DES, key2, 16, 0x44));
	uint8_t ver;

	/* PICC master key DES -> 3K3DES (key number flag 0x40). */
	uint8_t kp[24];
	dfi_cardkey *picc3;
	struct dfi_df_key_settings ks;
	pattern(kp, 24, 0x91);
	OK(dfi_cardkey_new_plain(&picc3, DFI_KT_3K3DES, kp, 24, 0x07));
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_LEGACY, 0, des0));
	OK(dfi_desfire_change_key(d, 0, picc3, NULL));
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_ISO, 0, picc3));
	OK(dfi_desfire_get_key_settings(d, &ks));
	ck_assert_int_eq(ks.keytype, DFI_KT_3K3DES);
	OK(dfi_desfire_get_key_version(d, 0, &ver));
	ck_assert_uint_eq(ver, 0x07);
	OK(dfi_desfire_create_application(d, 0x000D40, 0x0F, 3, DFI_KT_DES));
	OK(dfi_desfire_create_application(d, 0x0003DE, 0x0F, 3, DFI_KT_3K3DES));

	/* D40: files in all modes, ChangeKey both forms, DES -> 2K3DES. */
	OK(dfi_desfire_select_application(d, 0x000D40));
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_LEGACY, 0, des0));
	files_in_mode(d, 0, DFI_DF_COMM_PLAIN);
	files_in_mode(d, 5, DFI_DF_COMM_MAC);
	files_in_mode(d, 10, DFI_DF_COMM_ENC);
	OK(dfi_desfire_change_key(d, 1, n2, des0));
	OK(dfi_desfire_change_key(d, 0, n2b, NULL));
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_LEGACY, 0, n2b));
	OK(dfi_desfire_get_key_version(d, 1, &ver));
	ck_assert_uint_eq(ver, 0x42);
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_ISO, 1, n2));
	/* The files belong to key 0: key 1 may not write them. */
	ck_assert_int_eq(dfi_desfire_write_data(d, 10, DFI_DF_COMM_ENC, 0, &ver, 1),
	    DFI_E_DF_AUTHENTICATION_ERROR);
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_ISO, 0, n2b));
	data_roundtrip(d, 10, DFI_DF_COMM_ENC, 90, 3);
	data_roundtrip(d, 5, DFI_DF_COMM_MAC, 90, 4);

	/* EV1 ISO with 3K3DES. */
	OK(dfi_desfire_select_application(d, 0x0003DE));
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_ISO, 0, k3));
	files_in_mode(d, 0, DFI_DF_COMM_ENC);
	files_in_mode(d, 5, DFI_DF_COMM_MAC);
	OK(dfi_desfire_change_key(d, 2, n3, k3));
	OK(dfi_desfire_change_key(d, 0, n3, NULL));
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_ISO, 0, n3));
	OK(dfi_desfire_authenticate(d, DFI_DF_AUTH_ISO, 2, n3));
	OK(dfi_desfire_get_key_version(d, 2, &ver));
	ck_assert_uint_eq(ver, 0x43);

	/* Errors drop the authentication, as on the card. */
	ck_assert_int_eq(dfi_desfire_read_data(d, 31, DFI_DF_COMM_PLAIN, 0, 1, &ver),
	    DFI_E_DF_FILE_NOT_FOUND);
	ck_assert_int_eq(dfi_desfire_scheme(d), DFI_DF_SCHEME_NONE);

	dfi_cardkey_free(des0);
	dfi_cardkey_free(k3);
	dfi_cardkey_free(n2);
	dfi_cardkey_free(n3);
	dfi_cardkey_free(n2b);
	dfi_cardkey_free(picc3);
	card_close(&c);
}
END_TEST

START_TEST(tear_drops_session)
{
	struct card c;
	card_open(&c, 0x5EED0003);
	dfi_cardkey *des0 = plain_key(DFI_KT_DES, 0);
	struct dfi_df_version v;
	OK(dfi_desfire_authenticate(c.d, DFI_DF_AUTH_LEGACY, 0, des0));
	OK(dfi_desfire_create_application(c.d, 0x000ABC, 0x0F, 1, DFI_KT_AES128));
	OK(dfi_desfire_select_application(c.d, 0x000ABC));
	OK(dfi_sim_set_tear(c.sim, 2, DFI_SIM_TEAR_AFTER)); /* second frame of GetVersion */
	ck_assert_int_eq(dfi_desfire_get_version(c.d, &v), DFI_E_CARD_TORN);
	ck_assert_int_eq(dfi_desfire_scheme(c.d), DFI_DF_SCHEME_NONE);
	ck_assert_uint_eq(dfi_desfire_selected_aid(c.d), 0);
	OK(dfi_transport_wait_card(c.t, 1000));
	OK(dfi_desfire_get_version(c.d, &v));
	dfi_cardkey_free(des0);
	card_close(&c);
}
END_TEST

int
main(void)
{
	return dfi_test_main("desfire_session", &(struct dfi_test_case){ .timeout = 120 },
	    (const TTest *[]){ full_session_hsm_keys, des_family_applications,
	    tear_drops_session, NULL });
}
