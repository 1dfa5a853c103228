/*
 * NXP AN10922 key diversification, host half. AN10922 defines the
 * diversified key as CMAC(K, DIV || M) where DIV || M is padded to two
 * cipher blocks (0x80 00..) and the last block is XORed with subkey K2
 * when padded, K1 otherwise: AES-128 uses DIV 0x01 (32 bytes); 2K3DES runs
 * two CMACs with DIV 0x21 and 0x22, 3K3DES three with 0x31..0x33 (16 bytes
 * each, 8-byte blocks). A two-block CMAC is E(K, E(K, B1) XOR B2'), so the
 * host prepares B1 and B2' (which depend only on M and on L = E(K, 0^b),
 * not on the key) and the HSM does both encryptions; the second one is a
 * key derivation, so the result never leaves the HSM.
 */
#include <string.h>

#include "dfissue/util.h"
#include "hsm_int.h"

dfi_err
dfi_an10922_blocks(dfi_keytype t, const uint8_t *l, const uint8_t *m, size_t mlen, uint8_t *b1,
    uint8_t *b2, size_t *len)
{
	static const uint8_t div_aes[] = { 0x01 };
	static const uint8_t div_2k[] = { 0x21, 0x22 };
	static const uint8_t div_3k[] = { 0x31, 0x32, 0x33 };
	const uint8_t *div;
	size_t ndiv;
	switch (t) {
	case DFI_KT_AES128:
		div = div_aes;
		ndiv = 1;
		break;
	case DFI_KT_2K3DES:
		div = div_2k;
		ndiv = 2;
		break;
	case DFI_KT_3K3DES:
		div = div_3k;
		ndiv = 3;
		break;
	default:
		return DFI_E_UNSUPPORTED;
	}
	size_t bl = dfi_keytype_blocklen(t);
	/* Always 8 or 16 here; said so the optimizer can see the bounds. */
	if (bl == 0 || bl > DFI_MAX_BLOCK)
		return DFI_E_INTERNAL;
	if (l == NULL || m == NULL || mlen == 0 || mlen > 2 * bl - 1)
		return DFI_E_INVALID_ARG;
	uint8_t k1[DFI_MAX_BLOCK], k2[DFI_MAX_BLOCK], d[2 * DFI_MAX_BLOCK];
	dfi_cmac_subkeys(l, bl, k1, k2);
	const int padded = 1 + mlen < 2 * bl;
	for (size_t i = 0; i < ndiv; i++) {
		memset(d, 0, sizeof(d));
		d[0] = div[i];
		memcpy(d + 1, m, mlen);
		if (padded)
			d[1 + mlen] = 0x80;
		memcpy(b1 + i * bl, d, bl);
		for (size_t j = 0; j < bl; j++)
			b2[i * bl + j] = d[bl + j] ^ (padded ? k2[j] : k1[j]);
	}
	*len = ndiv * bl;
	return DFI_OK;
}

dfi_err
dfi_an10922_host(dfi_keytype t, const uint8_t *key, const uint8_t *m, size_t mlen, uint8_t *out)
{
	static const uint8_t zero[DFI_MAX_BLOCK];
	uint8_t l[DFI_MAX_BLOCK], b1[DFI_MAX_KEY_LEN], b2[DFI_MAX_KEY_LEN];
	size_t bl = dfi_keytype_blocklen(t), len = 0;
	if (bl == 0 || bl > DFI_MAX_BLOCK)
		return DFI_E_INVALID_ARG;
	dfi_err e = dfi_cipher(t, key, 1, NULL, zero, l, bl);
	if (e == DFI_OK)
		e = dfi_an10922_blocks(t, l, m, mlen, b1, b2, &len);
	/* out = E(K, E(K, B1) XOR B2') block by block. */
	if (e == DFI_OK)
		e = dfi_cipher(t, key, 1, NULL, b1, out, len);
	for (size_t i = 0; e == DFI_OK && i < len; i++)
		out[i] ^= b2[i];
	if (e == DFI_OK)
		e = dfi_cipher(t, key, 1, NULL, out, out, len);
	dfi_wipe(l, sizeof(l));
	if (e != DFI_OK)
		dfi_wipe(out, len);
	return e;
}
