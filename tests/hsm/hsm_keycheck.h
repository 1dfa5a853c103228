/* Checks on card keys shared by the HSM tests: the host's KCV of key bytes
 * and a dfi_cardkey_with_bytes callback that keeps a copy of them. */
#ifndef DFI_HSM_KEYCHECK_H
#define DFI_HSM_KEYCHECK_H

#include <check.h>
#include <string.h>

#include "dfissue/cardkey.h"
#include "dfissue/crypto.h"
#include "dfissue/hsm.h"

static inline void
host_kcv(dfi_keytype t, const uint8_t *key, uint8_t kcv[3])
{
	uint8_t zero[16] = { 0 }, out[16];
	ck_assert_int_eq(dfi_cipher(t, key, 1, NULL, zero, out, dfi_keytype_blocklen(t)), DFI_OK);
	memcpy(kcv, out, 3);
}

struct got {
	uint8_t key[24];
	size_t len;
};

/* A dfi_cardkey_bytes_fn: copies the key's bytes into struct got. */
static inline dfi_err
grab(void *arg, const uint8_t *key, size_t len)
{
	struct got *g = arg;
	ck_assert_uint_le(len, sizeof(g->key));
	memcpy(g->key, key, len);
	g->len = len;
	return DFI_OK;
}

/* The card key holds the vector's key want (wl bytes): its KCV computed in
 * the HSM and the bytes of the audited materialization (DES keys without
 * their parity bits, which carry the key version). */
static inline void
check_cardkey_value(const dfi_cardkey *ck, dfi_keytype t, const uint8_t *want, size_t wl)
{
	uint8_t kcv_hsm[3], kcv_host[3];
	ck_assert_int_eq(dfi_hsm_cardkey_kcv(ck, kcv_hsm), DFI_OK);
	host_kcv(t, want, kcv_host);
	ck_assert_mem_eq(kcv_hsm, kcv_host, 3);
	struct got g = { { 0 }, 0 };
	ck_assert_int_eq(dfi_cardkey_with_bytes(ck, grab, &g), DFI_OK);
	ck_assert_uint_eq(g.len, wl);
	uint8_t mask = t == DFI_KT_AES128 ? 0xff : 0xfe;
	for (size_t i = 0; i < wl; i++)
		ck_assert_uint_eq(g.key[i] & mask, want[i] & mask);
}

/* Every operation of an HSM card key equals host crypto on the same
 * bytes (plain): ECB, CBC chained over two calls in place, CMAC of
 * lengths around the block boundaries. */
static inline void
check_cardkey_ops(const dfi_cardkey *ck, const dfi_cardkey *plain, dfi_keytype t)
{
	size_t bl = dfi_keytype_blocklen(t);
	uint8_t in[64], a[64], b[64], iva[16], ivb[16];
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 13 + 5);
	for (int enc = 0; enc <= 1; enc++) {
		ck_assert_int_eq(dfi_cardkey_cipher(ck, enc, NULL, in, a, 2 * bl), DFI_OK);
		ck_assert_int_eq(dfi_cardkey_cipher(plain, enc, NULL, in, b, 2 * bl), DFI_OK);
		ck_assert_mem_eq(a, b, 2 * bl);
		memset(iva, 0x5a, sizeof(iva));
		memset(ivb, 0x5a, sizeof(ivb));
		memcpy(a, in, 4 * bl);
		ck_assert_int_eq(dfi_cardkey_cipher(ck, enc, iva, a, a, bl), DFI_OK);
		ck_assert_int_eq(dfi_cardkey_cipher(ck, enc, iva, a + bl, a + bl, 3 * bl), DFI_OK);
		ck_assert_int_eq(dfi_cardkey_cipher(plain, enc, ivb, in, b, bl), DFI_OK);
		ck_assert_int_eq(dfi_cardkey_cipher(plain, enc, ivb, in + bl, b + bl, 3 * bl), DFI_OK);
		ck_assert_mem_eq(a, b, 4 * bl);
		ck_assert_mem_eq(iva, ivb, bl);
	}
	static const size_t lens[] = { 0, 1, 7, 8, 15, 16, 17, 32, 33, 40 };
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		ck_assert_int_eq(dfi_cardkey_cmac(ck, in, lens[i], a), DFI_OK);
		ck_assert_int_eq(dfi_cardkey_cmac(plain, in, lens[i], b), DFI_OK);
		ck_assert_mem_eq(a, b, bl);
	}
}

#endif
