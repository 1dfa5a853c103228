/*
 * The simulator through its in-process API, APDU by APDU: factory state,
 * status codes, access rules, legacy authentication with the zero key
 * (the PCD side written out here), image persistence, tears before and
 * after execution, transactions, determinism, the transport, and one
 * session through the engine's DESFire library (EV1 AES, EV2).
 *
 * Facts used (MF3ICD81 data sheet summary, NXP; libfreefare and Proxmark3
 * documentation): a fresh card has a DES PICC master key of zeros, key
 * version 0, key settings 0x0F, no applications; native commands are
 * wrapped as 90 INS 00 00 Lc data 00 and answered data || 91 status.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include "desfire_sim.h"
#include "dfissue/cardkey.h"
#include "dfissue/crypto.h"
#include "dfissue/desfire.h"
#include "desfire/df_testhooks.h" /* test hooks: engine/desfire */

#include "simcard.h"
#include "simtest.h"

START_TEST(factory_state)
{
	dfi_sim *s = sim_open(NULL, 1);
	ck_assert_str_eq(tx(s, "9060000000"), "04010112001A0591AF");
	ck_assert_str_eq(tx(s, "90AF000000"), "04010112001A0591AF");
	const char *r = tx(s, "90AF000000");
	ck_assert_uint_eq(strlen(r), 2 * (14 + 2));
	ck_assert(strncmp(r, "04102030405060", 14) == 0);
	sim_script(s, "test_sim.apdu", "factory_state");

	struct dfi_sim_picc_info pi;
	ck_assert_int_eq(dfi_sim_picc_info(s, &pi), DFI_OK);
	ck_assert_uint_eq(pi.key_settings, 0x0F);
	ck_assert_uint_eq(pi.napps, 0);
	ck_assert_uint_eq(pi.free_memory, 7936);
	uint8_t zero[8] = { 0 };
	ck_assert_int_eq(dfi_sim_key_equals(s, 0, 0, DFI_KT_DES, zero, 8), 1);
	struct dfi_sim_key_info ki;
	ck_assert_int_eq(dfi_sim_key_info(s, 0, 0, &ki), DFI_OK);
	ck_assert_int_eq(ki.type, DFI_KT_DES);
	ck_assert_uint_eq(ki.version, 0);
	uint8_t atr[16];
	size_t al = dfi_sim_atr(s, atr, sizeof(atr));
	ck_assert_hex_eq(atr, al, "3B8180018080");
	dfi_sim_free(s);
}
END_TEST

START_TEST(status_codes)
{
	dfi_sim *s = sim_open(NULL, 2);
	sim_script(s, "test_sim.apdu", "status_codes");
	/* A native frame longer than the card's 60-byte buffer. */
	char big[2 * 70 + 1] = "903D00003D";
	for (int i = 0; i < 61; i++)
		strcat(big, "00");
	strcat(big, "00");
	ck_assert_str_eq(sw(s, big), "917E");
	struct dfi_sim_stats st;
	dfi_sim_stats(s, &st);
	ck_assert_uint_eq(st.apdus, 28);
	dfi_sim_free(s);
}
END_TEST

/* Legacy authentication, PCD side: the card sends E(RndB); the PCD
 * answers D(RndA) || D(rot(RndB) ^ D(RndA)) ("send mode"); the card
 * proves itself with E(rot(RndA)). sk (when not NULL) receives the DES
 * session key. */
static int
legacy_auth(dfi_sim *s, const uint8_t key[16], uint8_t keyno, uint8_t sk[8])
{
	uint8_t c[32], r[64], rndb[8], rnda[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, tok[16], iv[8];
	size_t rl;
	dfi_keytype t = memcmp(key, key + 8, 8) == 0 ? DFI_KT_DES : DFI_KT_2K3DES;
	memcpy(c, "\x90\x0A\x00\x00\x01", 5);
	c[5] = keyno;
	c[6] = 0;
	ck_assert_int_eq(dfi_sim_process(s, c, 7, r, sizeof(r), &rl), DFI_OK);
	if (rl != 10 || r[8] != 0x91 || r[9] != 0xAF)
		return r[rl - 1];
	memset(iv, 0, 8);
	ck_assert_int_eq(dfi_cipher(t, key, 0, iv, r, rndb, 8), DFI_OK);
	uint8_t rot[8];
	for (int i = 0; i < 8; i++)
		rot[i] = rndb[(i + 1) % 8];
	ck_assert_int_eq(dfi_cipher(t, key, 0, NULL, rnda, tok, 8), DFI_OK);
	for (int i = 0; i < 8; i++)
		rot[i] ^= tok[i];
	ck_assert_int_eq(dfi_cipher(t, key, 0, NULL, rot, tok + 8, 8), DFI_OK);
	memcpy(c, "\x90\xAF\x00\x00\x10", 5);
	memcpy(c + 5, tok, 16);
	c[21] = 0;
	ck_assert_int_eq(dfi_sim_process(s, c, 22, r, sizeof(r), &rl), DFI_OK);
	if (rl != 10 || r[8] != 0x91 || r[9] != 0x00)
		return r[rl - 1];
	uint8_t back[8];
	memset(iv, 0, 8);
	ck_assert_int_eq(dfi_cipher(t, key, 0, iv, r, back, 8), DFI_OK);
	for (int i = 0; i < 8; i++)
		ck_assert_uint_eq(back[i], rnda[(i + 1) % 8]);
	if (sk != NULL) {
		memcpy(sk, rnda, 4);
		memcpy(sk + 4, rndb, 4);
	}
	return 0;
}

START_TEST(legacy_auth_zero_key)
{
	dfi_sim *s = sim_open(NULL, 3);
	uint8_t zero[16] = { 0 }, wrong[16] = { 0 };
	wrong[3] = 0x10;
	ck_assert_int_eq(legacy_auth(s, zero, 0, NULL), 0);
	/* Authenticated with the PICC master key: FormatPICC is allowed. */
	ck_assert_str_eq(sw(s, "90FC000000"), "9100");
	ck_assert_int_eq(legacy_auth(s, wrong, 0, NULL), 0xAE);
	ck_assert_str_eq(sw(s, "90FC000000"), "91AE");
	dfi_sim_free(s);
}
END_TEST

START_TEST(access_rules)
{
	dfi_sim *s = sim_open(NULL, 4);
	/* App 010203: free create/delete and listing (0x0F), 2 DES keys. */
	sim_script(s, "test_sim.apdu", "access_rules");
	sim_script(s, "test_sim.apdu", "access_rules.2");
	/* Authenticated with the app master key (zero DES): now allowed. */
	uint8_t zero[16] = { 0 };
	ck_assert_int_eq(legacy_auth(s, zero, 0, NULL), 0);
	sim_script(s, "test_sim.apdu", "access_rules.3");
	dfi_sim_free(s);
}
END_TEST

START_TEST(image_persistence)
{
	dfi_sim *s = sim_open("card.img", 5);
	sim_script(s, "test_sim.apdu", "image_persistence");
	struct dfi_sim_stats st;
	dfi_sim_stats(s, &st);
	ck_assert_uint_eq(st.commits, 3);
	/* Removal drops the selection: at the PICC level again. */
	dfi_sim_remove(s);
	uint8_t c[5] = { 0x90, 0x60, 0, 0, 0 }, r[64];
	size_t rl;
	ck_assert_int_eq(dfi_sim_process(s, c, 5, r, sizeof(r), &rl), DFI_E_NO_CARD);
	ck_assert_int_eq(dfi_sim_insert(s), DFI_OK);
	ck_assert_str_eq(sw(s, "90BD00000703000000000000"), "919D");
	dfi_sim_free(s);

	/* A new process sees the same card. */
	s = sim_open("card.img", 99);
	sim_script(s, "test_sim.apdu", "image_persistence.2");
	uint8_t data[16];
	size_t dl;
	ck_assert_int_eq(dfi_sim_file_data(s, 0x010203, 3, data, sizeof(data), &dl), DFI_OK);
	ck_assert_hex_eq(data, dl, "0102030405060708");
	dfi_sim_free(s);

	/* The image belongs to its UID. */
	struct dfi_sim_config cfg = { 0 };
	char path[128];
	sim_path(path, sizeof(path), "card.img");
	cfg.image = path;
	cfg.has_uid = true;
	memcpy(cfg.uid, "\x04\x99\x99\x99\x99\x99\x99", 7);
	ck_assert_int_eq(dfi_sim_new(&s, &cfg), DFI_E_INVALID_ARG);
	/* A damaged image is refused, never half-read. */
	int fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	uint8_t b;
	ck_assert_int_eq(pread(fd, &b, 1, 20), 1);
	b ^= 1;
	ck_assert_int_eq(pwrite(fd, &b, 1, 20), 1);
	close(fd);
	cfg.has_uid = false;
	ck_assert_int_eq(dfi_sim_new(&s, &cfg), DFI_E_PARSE);
}
END_TEST

static dfi_err
raw(dfi_sim *s, const char *hex, char *out)
{
	uint8_t c[300], r[300];
	size_t cl, rl;
	ck_assert_int_eq(dfi_hex_decode(hex, c, sizeof(c), &cl), DFI_OK);
	dfi_err e = dfi_sim_process(s, c, cl, r, sizeof(r), &rl);
	if (e == DFI_OK && out != NULL)
		dfi_hex_encode(r, rl, out, 601);
	return e;
}

START_TEST(tear_before_and_after)
{
	dfi_sim *s = sim_open("tear.img", 6);
	/* Before: CreateApplication never reaches the card. */
	ck_assert_int_eq(dfi_sim_set_tear(s, 2, DFI_SIM_TEAR_BEFORE), DFI_OK);
	ck_assert_str_eq(sw(s, "906A000000"), "9100");
	ck_assert_int_eq(raw(s, "90CA000005030201" "0F02", NULL), DFI_E_CARD_TORN);
	ck_assert(!dfi_sim_present(s));
	ck_assert_int_eq(raw(s, "906A000000", NULL), DFI_E_NO_CARD);
	ck_assert_int_eq(dfi_sim_insert(s), DFI_OK);
	ck_assert_str_eq(tx(s, "906A000000"), "9100");
	size_t n;
	ck_assert_int_eq(dfi_sim_list_apps(s, NULL, 0, &n), DFI_OK);
	ck_assert_uint_eq(n, 0);

	/* After: the card creates it, the answer is lost. */
	ck_assert_int_eq(dfi_sim_set_tear(s, 1, DFI_SIM_TEAR_AFTER), DFI_OK);
	ck_assert_int_eq(raw(s, "90CA000005030201" "0F02", NULL), DFI_E_CARD_TORN);
	ck_assert_int_eq(dfi_sim_insert(s), DFI_OK);
	ck_assert_str_eq(tx(s, "906A000000"), "0302019100");
	dfi_sim_free(s);
	/* ... and it is in the image. */
	s = sim_open("tear.img", 6);
	ck_assert_str_eq(tx(s, "906A000000"), "0302019100");
	/* A torn authentication leaves no session behind. */
	uint8_t zero[16] = { 0 };
	ck_assert_int_eq(dfi_sim_set_tear(s, 2, DFI_SIM_TEAR_AFTER), DFI_OK);
	ck_assert_str_eq(sw(s, "900A00000100"), "91AF");
	ck_assert_int_eq(raw(s, "90AF00001000000000000000000000000000000000", NULL), DFI_E_CARD_TORN);
	ck_assert_int_eq(dfi_sim_insert(s), DFI_OK);
	ck_assert_str_eq(sw(s, "90FC000000"), "91AE");
	ck_assert_int_eq(legacy_auth(s, zero, 0, NULL), 0);
	struct dfi_sim_stats st;
	dfi_sim_stats(s, &st);
	ck_assert_uint_eq(st.tears, 1);
	/* Disarmed: nothing fires. */
	ck_assert_int_eq(dfi_sim_set_tear(s, 1, DFI_SIM_TEAR_AFTER), DFI_OK);
	ck_assert_int_eq(dfi_sim_set_tear(s, 0, DFI_SIM_TEAR_AFTER), DFI_OK);
	ck_assert_str_eq(sw(s, "906A000000"), "9100");
	dfi_sim_free(s);
}
END_TEST

/* Every tear point of a short personalization, both modes: the image after
 * the tear equals the image of the run cut before the torn command
 * ("before") or just after it ("after"). */
static const char *const scenario[] = {
	"9060000000", "90AF000000", "90AF000000",
	"90CA00000503020109020F",                   /* app, not free */
	"900A00000100",                             /* auth starts (PICC key) */
	"905A00000303020100",
	"90CD0000070100EEEE08000000",               /* no free create there: AE */
	"905A00000300000000",                       /* back to the PICC */
	"90CA0000050302020F0200",                   /* app 020203, free create */
	"905A00000303020200",
	"90CD0000070100EEEE08000000",
	"90CB0000070200EEEE04000000",
	"903D00000F01000000080000010203040506070800",
	"903D00000B02000000040000A1A2A3A400",
	"90C7000000",
	"90DA00000303020100",
};
#define NSCEN (sizeof(scenario) / sizeof(scenario[0]))

static size_t
read_image(const char *name, uint8_t *buf, size_t cap)
{
	char path[128];
	sim_path(path, sizeof(path), name);
	size_t n = dfi_test_read_file(path, buf, cap);
	ck_assert_uint_lt(n, cap - 1); /* the whole image */
	return n;
}

START_TEST(tear_matrix)
{
	uint8_t ref[NSCEN + 1][2048];
	size_t reflen[NSCEN + 1];
	char name[32];
	/* Reference images after each prefix. */
	dfi_sim *s = sim_open("ref.img", 11);
	reflen[0] = read_image("ref.img", ref[0], sizeof(ref[0]));
	for (size_t k = 0; k < NSCEN; k++) {
		(void)tx(s, scenario[k]);
		reflen[k + 1] = read_image("ref.img", ref[k + 1], sizeof(ref[k + 1]));
	}
	dfi_sim_free(s);
	int changed = 0;
	for (size_t k = 1; k < NSCEN + 1; k++)
		changed += reflen[k] != reflen[k - 1] || memcmp(ref[k], ref[k - 1], reflen[k]) != 0;
	ck_assert_int_ge(changed, 6);

	uint8_t img[2048];
	for (int mode = DFI_SIM_TEAR_BEFORE; mode <= DFI_SIM_TEAR_AFTER; mode++) {
		for (size_t k = 1; k <= NSCEN; k++) {
			snprintf(name, sizeof(name), "t%d-%zu.img", mode, k);
			s = sim_open(name, 11);
			ck_assert_int_eq(dfi_sim_set_tear(s, (unsigned)k, (enum dfi_sim_tear_mode)mode), DFI_OK);
			for (size_t i = 0; i < k; i++) {
				dfi_err e = raw(s, scenario[i], NULL);
				ck_assert_int_eq(e, i + 1 == k ? DFI_E_CARD_TORN : DFI_OK);
			}
			size_t want = mode == DFI_SIM_TEAR_BEFORE ? k - 1 : k;
			size_t n = read_image(name, img, sizeof(img));
			ck_assert_msg(n == reflen[want] && memcmp(img, ref[want], n) == 0,
			    "tear %s at %zu: image differs", mode == DFI_SIM_TEAR_BEFORE ? "before" : "after", k);
			/* Re-inserted, the card holds the same. */
			ck_assert_int_eq(dfi_sim_insert(s), DFI_OK);
			struct dfi_sim_picc_info pi;
			ck_assert_int_eq(dfi_sim_picc_info(s, &pi), DFI_OK);
			dfi_sim_free(s);
		}
	}
}
END_TEST

START_TEST(backup_value_record_transactions)
{
	dfi_sim *s = sim_open("tx.img", 7);
	sim_script(s, "test_sim.apdu", "backup_value_record_transactions");

	/* Backup: written, invisible until commit; abort drops it. */
	sim_script(s, "test_sim.apdu", "backup_value_record_transactions.2");
	ck_assert_int_eq(dfi_sim_power_cycle(s), DFI_OK);
	sim_script(s, "test_sim.apdu", "backup_value_record_transactions.3");

	/* Value: credit/debit pending until commit; limits. */
	sim_script(s, "test_sim.apdu", "backup_value_record_transactions.4");
	struct dfi_sim_file_info fi;
	ck_assert_int_eq(dfi_sim_file_info(s, 0x010203, 2, &fi), DFI_OK);
	ck_assert_int_eq(fi.value, 25);
	ck_assert_int_eq(fi.limited_credit_value, 0);

	/* Linear records: two fit, the third is refused; cleared by commit. */
	sim_script(s, "test_sim.apdu", "backup_value_record_transactions.5");
	/* Cyclic, 3 records of which 2 usable: the oldest goes. */
	for (int i = 1; i <= 4; i++) {
		char cmd[64];
		snprintf(cmd, sizeof(cmd), "903B000008" "04" "000000" "010000" "0%d", i);
		ck_assert_str_eq(sw(s, cmd), "9100");
		ck_assert_str_eq(sw(s, "90C7000000"), "9100");
	}
	ck_assert_str_eq(tx(s, "90BB00000704000000000000"), "03049100");
	uint8_t data[16];
	size_t dl;
	ck_assert_int_eq(dfi_sim_file_data(s, 0x010203, 4, data, sizeof(data), &dl), DFI_OK);
	ck_assert_hex_eq(data, dl, "0304");
	dfi_sim_free(s);
}
END_TEST

/* Rights: a matching key right wins over a free one (then the file's
 * mode applies); without that key the free right gives plain access. An
 * error aborts the open transaction; a cleared record file takes no new
 * record in the same transaction. */
START_TEST(rights_and_transaction_errors)
{
	dfi_sim *s = sim_open(NULL, 12);
	uint8_t zero[16] = { 0 };
	sim_script(s, "test_sim.apdu", "rights_and_transaction_errors");
	/* With key 0 (the write key): MACed. A plain write is refused. */
	ck_assert_int_eq(legacy_auth(s, zero, 0, NULL), 0);
	/* A plain write is short of its MAC: the card waits for more. */
	ck_assert_str_eq(sw(s, "903D00000B01000000040000" "55667788"), "91AF");
	uint8_t sk[8];
	ck_assert_int_eq(legacy_auth(s, zero, 0, sk), 0);
	uint8_t data[8] = { 0x55, 0x66, 0x77, 0x88, 0, 0, 0, 0 }, iv[8] = { 0 }, mac[8];
	ck_assert_int_eq(dfi_cipher(DFI_KT_DES, sk, 1, iv, data, mac, 8), DFI_OK);
	char cmd[80];
	snprintf(cmd, sizeof(cmd), "903D00000F01000000040000" "55667788" "%02X%02X%02X%02X",
	    mac[0], mac[1], mac[2], mac[3]);
	ck_assert_str_eq(sw(s, cmd), "9100");
	/* An error (file 9 does not exist) aborts the transaction. */
	sim_script(s, "test_sim.apdu", "rights_and_transaction_errors.2");

	/* Linear record file, free: clear then write in one transaction. */
	sim_script(s, "test_sim.apdu", "rights_and_transaction_errors.3");
	dfi_sim_free(s);
}
END_TEST

/* ISO 7816-4 identifiers: DF names one per frame, ISO file IDs. */
START_TEST(iso_names)
{
	dfi_sim *s = sim_open(NULL, 13);
	/* App 010203 with ISO FID E110 and DF name D2760000850101 (NFC Forum). */
	sim_script(s, "test_sim.apdu", "iso_names");
	dfi_sim_free(s);
}
END_TEST

START_TEST(multi_frame_data)
{
	dfi_sim *s = sim_open(NULL, 8);
	sim_script(s, "test_sim.apdu", "multi_frame_data");
	/* WriteData of 100 bytes: 7 header + 52 data, then 48 in an AF frame. */
	char cmd[2 * 80 + 1], expect[2 * 110 + 1] = "";
	strcpy(cmd, "903D00003B" "05000000640000");
	for (int i = 0; i < 52; i++)
		sprintf(cmd + strlen(cmd), "%02X", i);
	strcat(cmd, "00");
	ck_assert_str_eq(tx(s, cmd), "91AF");
	strcpy(cmd, "90AF000030");
	for (int i = 52; i < 100; i++)
		sprintf(cmd + strlen(cmd), "%02X", i);
	strcat(cmd, "00");
	ck_assert_str_eq(tx(s, cmd), "9100");
	for (int i = 0; i < 100; i++)
		sprintf(expect + strlen(expect), "%02X", i);
	/* ReadData answers 59 bytes per frame. */
	const char *r = tx(s, "90BD00000705000000000000");
	ck_assert_uint_eq(strlen(r), 2 * 61);
	ck_assert(strncmp(r, expect, 2 * 59) == 0);
	ck_assert_str_eq(r + 2 * 59, "91AF");
	r = tx(s, "90AF000000");
	ck_assert(strncmp(r, expect + 2 * 59, 2 * 41) == 0);
	ck_assert_str_eq(r + 2 * 41, "9100");
	dfi_sim_free(s);
}
END_TEST

START_TEST(seed_determinism)
{
	struct dfi_sim_config cfg = { .has_seed = true, .seed = 42 };
	dfi_sim *a, *b, *c;
	ck_assert_int_eq(dfi_sim_new(&a, &cfg), DFI_OK);
	ck_assert_int_eq(dfi_sim_new(&b, &cfg), DFI_OK);
	cfg.seed = 43;
	ck_assert_int_eq(dfi_sim_new(&c, &cfg), DFI_OK);
	uint8_t ua[7], ub[7], uc[7];
	dfi_sim_uid(a, ua);
	dfi_sim_uid(b, ub);
	dfi_sim_uid(c, uc);
	ck_assert_mem_eq(ua, ub, 7);
	ck_assert_uint_eq(ua[0], 0x04);
	ck_assert(memcmp(ua, uc, 7) != 0);
	char ra[64], rb[64], rc[64];
	strcpy(ra, tx(a, "900A00000100"));
	strcpy(rb, tx(b, "900A00000100"));
	strcpy(rc, tx(c, "900A00000100"));
	ck_assert_str_eq(ra, rb);
	ck_assert_str_ne(ra, rc);
	dfi_sim_free(a);
	dfi_sim_free(b);
	dfi_sim_free(c);
}
END_TEST

START_TEST(transport_tear)
{
	dfi_sim *s = sim_open(NULL, 9);
	dfi_transport *t;
	ck_assert_int_eq(dfi_sim_transport_new(s, &t), DFI_OK);
	uint8_t c[5] = { 0x90, 0x6A, 0, 0, 0 }, r[64];
	size_t rl;
	ck_assert_int_eq(dfi_transport_transmit(t, c, 5, r, sizeof(r), &rl), DFI_OK);
	ck_assert_hex_eq(r, rl, "9100");
	ck_assert_int_eq(dfi_sim_set_tear(s, 1, DFI_SIM_TEAR_BEFORE), DFI_OK);
	ck_assert_int_eq(dfi_transport_transmit(t, c, 5, r, sizeof(r), &rl), DFI_E_CARD_TORN);
	ck_assert_int_eq(dfi_transport_transmit(t, c, 5, r, sizeof(r), &rl), DFI_E_NO_CARD);
	ck_assert_int_eq(dfi_transport_wait_card(t, 1000), DFI_OK);
	ck_assert_int_eq(dfi_transport_transmit(t, c, 5, r, sizeof(r), &rl), DFI_OK);
	ck_assert_int_eq(dfi_transport_wait_removed(t, 1000), DFI_OK);
	ck_assert(!dfi_sim_present(s));
	ck_assert_str_eq(dfi_transport_name(t), "sim:memory");
	/* A memory-only card keeps what was committed across removal. */
	ck_assert_int_eq(dfi_transport_wait_card(t, 1000), DFI_OK);
	uint8_t ca[11] = { 0x90, 0xCA, 0, 0, 5, 0x03, 0x02, 0x01, 0x0F, 0x01, 0x00 };
	ck_assert_int_eq(dfi_sim_set_tear(s, 1, DFI_SIM_TEAR_AFTER), DFI_OK);
	ck_assert_int_eq(dfi_transport_transmit(t, ca, 11, r, sizeof(r), &rl), DFI_E_CARD_TORN);
	ck_assert_int_eq(dfi_transport_wait_card(t, 1000), DFI_OK);
	ck_assert_int_eq(dfi_transport_transmit(t, c, 5, r, sizeof(r), &rl), DFI_OK);
	ck_assert_hex_eq(r, rl, "0302019100");
	ca[5] = 0x04;
	ck_assert_int_eq(dfi_sim_set_tear(s, 1, DFI_SIM_TEAR_BEFORE), DFI_OK);
	ck_assert_int_eq(dfi_transport_transmit(t, ca, 11, r, sizeof(r), &rl), DFI_E_CARD_TORN);
	ck_assert_int_eq(dfi_transport_wait_card(t, 1000), DFI_OK);
	ck_assert_int_eq(dfi_transport_transmit(t, c, 5, r, sizeof(r), &rl), DFI_OK);
	ck_assert_hex_eq(r, rl, "0302019100");
	dfi_transport_free(t);
	dfi_sim_free(s);
}
END_TEST

/* A session through the engine's DESFire library: DES -> AES PICC key,
 * AES and EV2 authentication, an AES application, enciphered data. */
START_TEST(engine_library_session)
{
	dfi_sim *s = sim_open(NULL, 10);
	dfi_transport *t;
	dfi_desfire *d;
	dfi_test_card_session(s, &t, &d);
	uint8_t zero[16] = { 0 }, kp[16], ka[16];
	for (int i = 0; i < 16; i++) {
		kp[i] = (uint8_t)(0xA0 + i);
		ka[i] = (uint8_t)(0x30 + 3 * i);
	}
	dfi_cardkey *des0, *aes0, *picc, *app;
	ck_assert_int_eq(dfi_cardkey_new_plain(&des0, DFI_KT_DES, zero, 8, 0), DFI_OK);
	ck_assert_int_eq(dfi_cardkey_new_plain(&aes0, DFI_KT_AES128, zero, 16, 0), DFI_OK);
	ck_assert_int_eq(dfi_cardkey_new_plain(&picc, DFI_KT_AES128, kp, 16, 7), DFI_OK);
	ck_assert_int_eq(dfi_cardkey_new_plain(&app, DFI_KT_AES128, ka, 16, 3), DFI_OK);

	ck_assert_int_eq(dfi_desfire_authenticate(d, DFI_DF_AUTH_LEGACY, 0, des0), DFI_OK);
	ck_assert_int_eq(dfi_desfire_change_key(d, 0, picc, NULL), DFI_OK);
	ck_assert_int_eq(dfi_sim_key_equals(s, 0, 0, DFI_KT_AES128, kp, 16), 1);
	uint8_t ver;
	ck_assert_int_eq(dfi_desfire_get_key_version(d, 0, &ver), DFI_OK);
	ck_assert_uint_eq(ver, 7);

	ck_assert_int_eq(dfi_desfire_authenticate(d, DFI_DF_AUTH_AES, 0, picc), DFI_OK);
	struct dfi_df_key_settings ks;
	ck_assert_int_eq(dfi_desfire_get_key_settings(d, &ks), DFI_OK);
	ck_assert_uint_eq(ks.settings, 0x0F);
	ck_assert_int_eq(dfi_desfire_create_application(d, 0x0A0B0C, 0x0B, 3, DFI_KT_AES128), DFI_OK);
	ck_assert_int_eq(dfi_desfire_change_key_settings(d, 0x09), DFI_OK);
	ck_assert_uint_eq(dfi_desfire_last_status(d), 0);

	ck_assert_int_eq(dfi_desfire_select_application(d, 0x0A0B0C), DFI_OK);
	ck_assert_int_eq(dfi_desfire_authenticate(d, DFI_DF_AUTH_EV2_FIRST, 0, aes0), DFI_OK);
	ck_assert_int_eq(dfi_desfire_change_key(d, 1, app, aes0), DFI_OK);
	ck_assert_int_eq(dfi_sim_key_equals(s, 0x0A0B0C, 1, DFI_KT_AES128, ka, 16), 1);
	struct dfi_df_access acc = { .read = 1, .write = 1, .read_write = 1, .change = 0 };
	ck_assert_int_eq(dfi_desfire_create_std_file(d, 1, DFI_DF_COMM_ENC, &acc, 80), DFI_OK);
	ck_assert_int_eq(dfi_desfire_authenticate(d, DFI_DF_AUTH_EV2_NONFIRST, 1, app), DFI_OK);
	uint8_t w[80], rd[80];
	for (int i = 0; i < 80; i++)
		w[i] = (uint8_t)(i * 5);
	ck_assert_int_eq(dfi_desfire_write_data(d, 1, DFI_DF_COMM_ENC, 0, w, 80), DFI_OK);
	ck_assert_int_eq(dfi_desfire_read_data(d, 1, DFI_DF_COMM_ENC, 0, 80, rd), DFI_OK);
	ck_assert_mem_eq(w, rd, 80);
	/* The same through EV1 AES secure messaging. */
	ck_assert_int_eq(dfi_desfire_authenticate(d, DFI_DF_AUTH_AES, 1, app), DFI_OK);
	ck_assert_int_eq(dfi_desfire_read_data(d, 1, DFI_DF_COMM_ENC, 10, 30, rd), DFI_OK);
	ck_assert_mem_eq(w + 10, rd, 30);
	uint8_t data[80];
	size_t dl;
	ck_assert_int_eq(dfi_sim_file_data(s, 0x0A0B0C, 1, data, sizeof(data), &dl), DFI_OK);
	ck_assert_mem_eq(data, w, 80);
	/* A wrong key is refused with AUTHENTICATION_ERROR. */
	ck_assert_int_ne(dfi_desfire_authenticate(d, DFI_DF_AUTH_AES, 2, app), DFI_OK);
	ck_assert_uint_eq(dfi_desfire_last_status(d), 0xAE);

	dfi_cardkey_free(des0);
	dfi_cardkey_free(aes0);
	dfi_cardkey_free(picc);
	dfi_cardkey_free(app);
	dfi_test_card_close(s, t, d);
}
END_TEST

/* A D40 (after Authenticate 0A) or EV1 (after AuthenticateISO 1A)
 * enciphered command is accepted as the engine protects it, and refused
 * with INTEGRITY_ERROR, changing nothing, when its CRC is wrong: one bit
 * of its last enciphered block is flipped, so the card deciphers another
 * last block, the one that holds the CRC. ChangeKey checks the CRC itself;
 * ChangeKeySettings through the generic path with a known length. */
START_TEST(enciphered_crc_checked)
{
	static const struct {
		const char *name;
		dfi_df_authcmd auth;
		uint8_t cmd;
		size_t hdrlen, datalen;
	} rows[] = {
		{ "D40 ChangeKey", DFI_DF_AUTH_LEGACY, 0xC4, 1, 16 },
		{ "EV1 ChangeKey", DFI_DF_AUTH_ISO, 0xC4, 1, 16 },
		{ "D40 ChangeKeySettings", DFI_DF_AUTH_LEGACY, 0x54, 0, 1 },
		{ "EV1 ChangeKeySettings", DFI_DF_AUTH_ISO, 0x54, 0, 1 },
	};
	uint8_t zero[8] = { 0 }, hdr[1] = { 0x00 }, data[16];
	for (int i = 0; i < 16; i++)
		data[i] = (uint8_t)(0x20 + 2 * i); /* a 2K3DES key of version 0; settings 20 */
	dfi_cardkey *des0;
	ck_assert_int_eq(dfi_cardkey_new_plain(&des0, DFI_KT_DES, zero, 8, 0), DFI_OK);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		for (int flip = 1; flip >= 0; flip--) {
			dfi_sim *s = sim_open(NULL, 20 + i);
			dfi_transport *t;
			dfi_desfire *d;
			dfi_test_card_session(s, &t, &d);
			ck_assert_int_eq(dfi_desfire_authenticate(d, rows[i].auth, 0, des0), DFI_OK);
			uint8_t c[64], r[64];
			size_t cl, rl;
			ck_assert_int_eq(dfi_desfire_sm_wrap(d, rows[i].cmd, hdr, rows[i].hdrlen, data,
			    rows[i].datalen, DFI_DF_COMM_ENC, c + 5, sizeof(c) - 6, &cl), DFI_OK);
			c[0] = 0x90;
			c[1] = rows[i].cmd;
			c[2] = c[3] = 0;
			c[4] = (uint8_t)cl;
			c[5 + cl] = 0;
			if (flip)
				c[5 + cl - 1] ^= 0x01;
			ck_assert_int_eq(dfi_sim_process(s, c, 6 + cl, r, sizeof(r), &rl), DFI_OK);
			ck_assert_uint_ge(rl, 2);
			ck_assert_msg(r[rl - 2] == 0x91 && r[rl - 1] == (flip ? 0x1E : 0x00),
			    "%s, CRC %s: status %02X%02X", rows[i].name, flip ? "wrong" : "right",
			    r[rl - 2], r[rl - 1]);
			if (rows[i].cmd == 0xC4)
				ck_assert_msg(dfi_sim_key_equals(s, 0, 0, DFI_KT_2K3DES, data, 16) == !flip,
				    "%s, CRC %s: the key", rows[i].name, flip ? "wrong" : "right");
			dfi_test_card_close(s, t, d);
		}
	}
	dfi_cardkey_free(des0);
}
END_TEST


/* ChangeKey of another key than the authenticated one carries two CRCs:
 * one over the command (D40: over K^O) and one over the new key K. The
 * card refuses the cryptogram, changing nothing, when any one byte of
 * either is wrong, whichever it is (the simulator compares them in
 * constant time, the second whatever the first showed). The cryptogram is
 * built here from the session the engine holds, so that one CRC byte alone
 * can be wrong. */
START_TEST(change_key_checks_both_crcs)
{
	uint8_t zero[8] = { 0 }, nk[16];
	for (int i = 0; i < 16; i++)
		nk[i] = (uint8_t)(0x31 + 5 * i); /* 2K3DES, halves apart; the old key is zero */
	dfi_cardkey *des0;
	ck_assert_int_eq(dfi_cardkey_new_plain(&des0, DFI_KT_DES, zero, 8, 0), DFI_OK);
	for (int d40 = 0; d40 <= 1; d40++) {
		size_t crcl = d40 ? 2 : 4;
		/* wrong: 0 none, else byte wrong - 1 of the two CRCs */
		for (size_t wrong = 0; wrong <= 2 * crcl; wrong++) {
			dfi_df_authcmd auth = d40 ? DFI_DF_AUTH_LEGACY : DFI_DF_AUTH_ISO;
			dfi_sim *s = sim_open(NULL, 40 + wrong);
			dfi_transport *t;
			dfi_desfire *d;
			dfi_test_card_session(s, &t, &d);
			OK(dfi_desfire_authenticate(d, auth, 0, des0));
			OK(dfi_desfire_create_application(d, 0x000001, 0x0F, 2, DFI_KT_2K3DES));
			OK(dfi_desfire_select_application(d, 0x000001));
			OK(dfi_desfire_authenticate(d, auth, 0, des0));
			struct dfi_df_session ss;
			OK(dfi_desfire_get_session(d, &ss));
			/* K^O (O zero) || CRC || CRC(K) || zero padding to 24 */
			uint8_t pt[24] = { 0 }, in[18] = { 0xC4, 0x01 };
			memcpy(pt, nk, 16);
			memcpy(in + 2, nk, 16);
			uint32_t c1 = d40 ? dfi_crc16_desfire(nk, 16) : dfi_crc32_desfire(in, 18);
			uint32_t c2 = d40 ? dfi_crc16_desfire(nk, 16) : dfi_crc32_desfire(nk, 16);
			for (size_t i = 0; i < crcl; i++) {
				pt[16 + i] = (uint8_t)(c1 >> (8 * i));
				pt[16 + crcl + i] = (uint8_t)(c2 >> (8 * i));
			}
			if (wrong)
				pt[16 + wrong - 1] ^= 0x01;
			uint8_t c[6 + 25] = { 0x90, 0xC4, 0x00, 0x00, 25, 0x01 }, r[16];
			if (d40) { /* the PCD's send mode: y_i = D(x_i ^ y_{i-1}) */
				uint8_t prev[8] = { 0 };
				for (size_t b = 0; b < 24; b += 8) {
					for (size_t j = 0; j < 8; j++)
						prev[j] ^= pt[b + j];
					OK(dfi_cipher(ss.keytype, ss.enc_key, 0, NULL, prev, prev, 8));
					memcpy(c + 6 + b, prev, 8);
				}
			} else {
				OK(dfi_cipher(ss.keytype, ss.enc_key, 1, ss.iv, pt, c + 6, 24));
			}
			dfi_wipe(&ss, sizeof(ss));
			size_t rl;
			OK(dfi_sim_process(s, c, sizeof(c), r, sizeof(r), &rl));
			ck_assert_uint_ge(rl, 2); /* EV1: a CMAC before the status when accepted */
			ck_assert_msg(r[rl - 2] == 0x91 && r[rl - 1] == (wrong ? 0x1E : 0x00),
			    "%s, CRC byte %zu wrong: %02X%02X", d40 ? "D40" : "EV1", wrong, r[rl - 2], r[rl - 1]);
			ck_assert_int_eq(dfi_sim_key_equals(s, 0x000001, 1, DFI_KT_2K3DES, nk, 16), !wrong);
			dfi_test_card_close(s, t, d);
		}
	}
	dfi_cardkey_free(des0);
}
END_TEST

int
main(void)
{
	return dfi_test_main("sim", &(struct dfi_test_case){ .setup = setup, .teardown = teardown },
	    (const TTest *[]){ factory_state, status_codes, legacy_auth_zero_key,
	    access_rules, image_persistence, tear_before_and_after, tear_matrix,
	    backup_value_record_transactions, rights_and_transaction_errors, iso_names,
	    multi_frame_data, seed_determinism, transport_tear, engine_library_session,
	    enciphered_crc_checked, change_key_checks_both_crcs, NULL });
}
