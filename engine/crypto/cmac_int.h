/*
 * cmac_int.h: what the two CMACs of the engine share.
 *
 * DESFire MACs with the SP 800-38B CMAC over a block cipher (cipher.c)
 * and, on LRP cards, with the same construction over LRP (lrp.c,
 * AN12304). Only the block function differs; the last block is prepared
 * the same way and is prepared here once (inline, so that the static
 * analyzer sees that one block is all an empty message has).
 */
#ifndef DFI_CRYPTO_CMAC_INT_H
#define DFI_CRYPTO_CMAC_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* SP 800-38B steps 3-4: last = the final block of msg (len bytes in
 * bl-byte blocks) XORed with k1 when it is complete, else padded with
 * 0x80 0x00... and XORed with k2. Returns the number of blocks n, the
 * last one included (1 for an empty message): the caller chains blocks
 * 0..n-2 of msg and then last. */
static inline size_t
dfi_cmac_last_block(const uint8_t *msg, size_t len, size_t bl, const uint8_t *k1,
    const uint8_t *k2, uint8_t *last)
{
	size_t nblocks = len == 0 ? 1 : (len + bl - 1) / bl;
	size_t lastlen = len - (nblocks - 1) * bl;
	memset(last, 0, bl);
	if (lastlen > 0)
		memcpy(last, msg + (nblocks - 1) * bl, lastlen);
	if (lastlen < bl)
		last[lastlen] = 0x80;
	const uint8_t *k = lastlen == bl ? k1 : k2;
	for (size_t i = 0; i < bl; i++)
		last[i] ^= k[i];
	return nblocks;
}

#endif
