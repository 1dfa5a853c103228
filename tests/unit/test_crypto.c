/*
 * Host-side crypto against public vectors:
 *  - AES-CMAC: NIST SP 800-38B Appendix D.1 (the same values as RFC 4493 §4).
 *  - TDES-CMAC (three-key): NIST SP 800-38B Appendix D.2.
 *  - CRC32 / CRC_A check values for "123456789" (Greg Cook's CRC catalogue:
 *    CRC-32/JAMCRC = 0x340BC6D9, CRC-16/ISO-IEC-14443-3-A = 0xBF05).
 *  - AN10922 §2.2.1 AES-128 diversification recomputed on the host from
 *    tests/data/an10922.txt (the HSM tests check the same through PKCS#11).
 */
#include <stdio.h>

#include "testutil.h"

#include "dfissue/cardkey.h"
#include "dfissue/crypto.h"

#define AES_KEY "2B7E151628AED2A6ABF7158809CF4F3C"
static const char *aes_key = AES_KEY;
static const char *msg64 =
    "6BC1BEE22E409F96E93D7E117393172AAE2D8A571E03AC9C9EB76FAC45AF8E51"
    "30C81C46A35CE411E5FBC1191A0A52EFF69F2445DF4F9B17AD2B417BE66C3710";

/* SP 800-38B D.1 (AES-128) and D.2 (three-key TDEA): the MAC of the
 * first len bytes of msg64 under each key. */
#define TDES_KEY "8AA83BF8CBDA10620BC1BF19FBB6CD58BC313D4A371CA8B5"
static const struct {
	dfi_keytype type;
	const char *key;
	size_t len;
	const char *mac;
} cmac_vectors[] = {
	{ DFI_KT_AES128, AES_KEY, 0, "BB1D6929E95937287FA37D129B756746" },
	{ DFI_KT_AES128, AES_KEY, 16, "070A16B46B4D4144F79BDD9DD04A287C" },
	{ DFI_KT_AES128, AES_KEY, 40, "DFA66747DE9AE63030CA32611497C827" },
	{ DFI_KT_AES128, AES_KEY, 64, "51F0BEBF7E3B9D92FC49741779363CFE" },
	{ DFI_KT_3K3DES, TDES_KEY, 0, "B7A688E122FFAF95" },
	{ DFI_KT_3K3DES, TDES_KEY, 8, "8E8F293136283797" },
	{ DFI_KT_3K3DES, TDES_KEY, 20, "743DDBE0CE2DC2ED" },
	{ DFI_KT_3K3DES, TDES_KEY, 32, "33E6B1092400EAE5" },
};

/* One vector per iteration (a loop test). */
START_TEST(cmac_sp800_38b)
{
	uint8_t k[24], m[64], mac[16];
	HEX(k, cmac_vectors[_i].key);
	HEX(m, msg64);
	ck_assert_int_eq(dfi_cmac(cmac_vectors[_i].type, k, NULL, m, cmac_vectors[_i].len, mac), DFI_OK);
	ck_assert_hex_eq(mac, strlen(cmac_vectors[_i].mac) / 2, cmac_vectors[_i].mac);
}
END_TEST

START_TEST(cmac_iv_chaining)
{
	/* CMAC from IV x over M equals CMAC from zero over M with its first
	 * block XORed with x, when M has at least one full block. */
	uint8_t k[16], m[64], m2[64], iv[16], a[16], b[16];
	HEX(k, aes_key);
	HEX(m, msg64);
	memcpy(m2, m, sizeof(m));
	HEX(iv, "000102030405060708090A0B0C0D0E0F");
	for (int i = 0; i < 16; i++)
		m2[i] ^= iv[i];
	ck_assert_int_eq(dfi_cmac(DFI_KT_AES128, k, iv, m, 40, a), DFI_OK);
	ck_assert_int_eq(dfi_cmac(DFI_KT_AES128, k, NULL, m2, 40, b), DFI_OK);
	ck_assert_mem_eq(a, b, 16);
}
END_TEST

START_TEST(cipher_cbc_chains_and_aliases)
{
	uint8_t k[16], m[64], iv[16] = { 0 }, c1[64], c2[64], back[64];
	HEX(k, aes_key);
	HEX(m, msg64);
	/* One call over 64 bytes equals two chained calls over 32. */
	ck_assert_int_eq(dfi_cipher(DFI_KT_AES128, k, 1, iv, m, c1, 64), DFI_OK);
	memset(iv, 0, 16);
	ck_assert_int_eq(dfi_cipher(DFI_KT_AES128, k, 1, iv, m, c2, 32), DFI_OK);
	ck_assert_int_eq(dfi_cipher(DFI_KT_AES128, k, 1, iv, m + 32, c2 + 32, 32), DFI_OK);
	ck_assert_mem_eq(c1, c2, 64);
	/* SP 800-38A F.2.1 CBC-AES128 first block, IV 000102..0F. */
	HEX(iv, "000102030405060708090A0B0C0D0E0F");
	memcpy(back, m, 64);
	ck_assert_int_eq(dfi_cipher(DFI_KT_AES128, k, 1, iv, back, back, 64), DFI_OK);
	ck_assert_hex_eq(back, 16, "7649ABAC8119B246CEE98E9B12E9197D");
	HEX(iv, "000102030405060708090A0B0C0D0E0F");
	ck_assert_int_eq(dfi_cipher(DFI_KT_AES128, k, 0, iv, back, back, 64), DFI_OK);
	ck_assert_mem_eq(back, m, 64);
	ck_assert_int_eq(dfi_cipher(DFI_KT_AES128, k, 1, NULL, m, c1, 15), DFI_E_INVALID_ARG);
}
END_TEST

START_TEST(single_des_is_3des_with_equal_halves)
{
	uint8_t k8[8], k16[16], in[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, a[8], b[8];
	HEX(k8, "0123456789ABCDEF");
	memcpy(k16, k8, 8);
	memcpy(k16 + 8, k8, 8);
	ck_assert_int_eq(dfi_cipher(DFI_KT_DES, k8, 1, NULL, in, a, 8), DFI_OK);
	ck_assert_int_eq(dfi_cipher(DFI_KT_2K3DES, k16, 1, NULL, in, b, 8), DFI_OK);
	ck_assert_mem_eq(a, b, 8);
	/* FIPS 81 / classic DES example: key 0123456789ABCDEF,
	 * "Now is t" (4E6F772069732074) -> 3FA40E8A984D4815. */
	uint8_t p[8];
	HEX(p, "4E6F772069732074");
	ck_assert_int_eq(dfi_cipher(DFI_KT_DES, k8, 1, NULL, p, a, 8), DFI_OK);
	ck_assert_hex_eq(a, 8, "3FA40E8A984D4815");
}
END_TEST

START_TEST(crc_check_values)
{
	const uint8_t s[] = "123456789";
	ck_assert_uint_eq(dfi_crc32_desfire(s, 9), 0x340BC6D9u);
	ck_assert_uint_eq(dfi_crc16_desfire(s, 9), 0xBF05u);
	ck_assert_uint_eq(dfi_crc32_desfire(s, 0), 0xFFFFFFFFu);
}
END_TEST

START_TEST(des_key_version_bits)
{
	uint8_t k[16] = { 0 };
	dfi_des_set_key_version(k, sizeof(k), 0xA5);
	ck_assert_uint_eq(dfi_des_key_version(k), 0xA5);
	ck_assert_hex_eq(k, 8, "0100010000010001");
	ck_assert_uint_eq(k[8], 0);
}
END_TEST

/* Reads "name = value" from tests/data/an10922.txt. */
static void
vector(const char *name, char *out, size_t cap)
{
	char path[1024], line[256];
	const char *dir = getenv("DFI_TEST_DATA");
	ck_assert_ptr_nonnull(dir);
	snprintf(path, sizeof(path), "%s/an10922.txt", dir);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	out[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		char k[64], v[128];
		if (line[0] != '#' && sscanf(line, "%63s = %127s", k, v) == 2 && strcmp(k, name) == 0)
			snprintf(out, cap, "%s", v);
	}
	fclose(f);
	ck_assert_str_ne(out, "");
}

START_TEST(an10922_aes_on_host)
{
	char mk[64], m[128], div[64];
	uint8_t key[16], buf[32], mac[16];
	size_t mlen;
	vector("master_key", mk, sizeof(mk));
	vector("M", m, sizeof(m));
	vector("diversified", div, sizeof(div));
	HEX(key, mk);
	buf[0] = 0x01;
	ck_assert_int_eq(dfi_hex_decode(m, buf + 1, sizeof(buf) - 1, &mlen), DFI_OK);
	/* AN10922: pad 0x01||M to 32 bytes; CMAC then uses K2 exactly as
	 * SP 800-38B does for a short final block, so CMAC(0x01||M) agrees
	 * whenever 0x01||M is shorter than 32 bytes. */
	ck_assert_uint_lt(mlen + 1, 32);
	ck_assert_uint_gt(mlen + 1, 16);
	ck_assert_int_eq(dfi_cmac(DFI_KT_AES128, key, NULL, buf, mlen + 1, mac), DFI_OK);
	ck_assert_hex_eq(mac, 16, div);
}
END_TEST

/* A card reports DES and 2K3DES applications as one family (their key-count
 * flags are the same); 3K3DES and AES each stand alone. */
START_TEST(keytype_card_match_by_family)
{
	static const int match[4][4] = {
		/* card reports: DES, 2K3DES, 3K3DES, AES */
		[DFI_KT_DES] = { 1, 1, 0, 0 },
		[DFI_KT_2K3DES] = { 1, 1, 0, 0 },
		[DFI_KT_3K3DES] = { 0, 0, 1, 0 },
		[DFI_KT_AES128] = { 0, 0, 0, 1 },
	};
	for (int want = DFI_KT_DES; want <= DFI_KT_AES128; want++)
		for (int card = DFI_KT_DES; card <= DFI_KT_AES128; card++)
			ck_assert_int_eq(dfi_keytype_card_match((dfi_keytype)want, (dfi_keytype)card),
			    match[want][card]);
}
END_TEST

START_TEST(plain_cardkey_ops)
{
	uint8_t k[16], in[16] = { 0 }, a[16], b[16];
	dfi_cardkey *ck = NULL;
	HEX(k, aes_key);
	ck_assert_int_eq(dfi_cardkey_new_plain(&ck, DFI_KT_AES128, k, 16, 7), DFI_OK);
	ck_assert_uint_eq(dfi_cardkey_version(ck), 7);
	ck_assert_int_eq(dfi_cardkey_type(ck), DFI_KT_AES128);
	ck_assert_int_eq(dfi_cardkey_cipher(ck, 1, NULL, in, a, 16), DFI_OK);
	ck_assert_int_eq(dfi_cipher(DFI_KT_AES128, k, 1, NULL, in, b, 16), DFI_OK);
	ck_assert_mem_eq(a, b, 16);
	ck_assert_int_eq(dfi_cardkey_cmac(ck, NULL, 0, a), DFI_OK);
	ck_assert_hex_eq(a, 16, "BB1D6929E95937287FA37D129B756746");
	ck_assert_int_eq(dfi_cardkey_cipher(ck, 1, NULL, in, a, 8), DFI_E_INVALID_ARG);
	ck_assert_int_eq(dfi_cardkey_new_plain(&ck, DFI_KT_AES128, k, 8, 0), DFI_E_INVALID_ARG);
	dfi_cardkey_free(ck);
}
END_TEST

int
main(void)
{
	return dfi_test_main_rows("crypto", cmac_sp800_38b, DFI_TEST_ROWS(cmac_vectors),
	    (const TTest *[]){ cmac_iv_chaining, cipher_cbc_chains_and_aliases,
	    single_des_is_3des_with_equal_halves, crc_check_values, des_key_version_bits,
	    an10922_aes_on_host, plain_cardkey_ops, keytype_card_match_by_family, NULL });
}
