/*
 * cmac_int.h: what the two CMACs of the engine share.
 *
 * DESFire MACs with the SP 800-38B CMAC over a block cipher (cipher.c)
 * and, on LRP cards, with the same construction over LRP (lrp.c,
 * AN12304). Only the block function differs; the subkeys, the last
 * block and the chaining are the same and are written here once (inline,
 * so that the static analyzer sees that one block is all an empty message
 * has).
 */
#ifndef DFI_CRYPTO_CMAC_INT_H
#define DFI_CRYPTO_CMAC_INT_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dfissue/crypto.h"
#include "dfissue/util.h"

/* What one CMAC computes from the key: the subkeys, the chaining value
 * and the prepared last block. One struct so that both CMACs wipe all of
 * it with one dfi_wipe(w, sizeof(*w)) and cannot forget a part. */
struct dfi_cmac_work {
	uint8_t k1[DFI_MAX_BLOCK], k2[DFI_MAX_BLOCK];
	uint8_t x[DFI_MAX_BLOCK]; /* chaining value: the IV, then each block's output */
	uint8_t last[DFI_MAX_BLOCK];
};

/* x = F(x) for one bl-byte block, in place, under the CMAC's key. */
typedef dfi_err (*dfi_cmac_block_fn)(void *ctx, uint8_t *x);

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

/* SP 800-38B steps 5-7 with w->k1, w->k2 set and w->x holding the IV:
 * chain msg's blocks through f and give the tag in mac. */
static inline dfi_err
dfi_cmac_chain(struct dfi_cmac_work *w, const uint8_t *msg, size_t len, size_t bl,
    dfi_cmac_block_fn f, void *ctx, uint8_t *mac)
{
	size_t nblocks = dfi_cmac_last_block(msg, len, bl, w->k1, w->k2, w->last);
	/* An empty message (msg may be NULL) is the one block last: the
	 * analyzer does not follow that out of the helper's arithmetic. */
	assert(msg != NULL || nblocks == 1);
	for (size_t b = 0; b < nblocks; b++) {
		const uint8_t *blk = (b + 1 == nblocks) ? w->last : msg + b * bl;
		for (size_t i = 0; i < bl; i++)
			w->x[i] ^= blk[i];
		dfi_err e = f(ctx, w->x);
		if (e != DFI_OK)
			return e;
	}
	memcpy(mac, w->x, bl);
	return DFI_OK;
}

#endif
