/*
 * dfissue — the Leakage Resilient Primitive (NXP AN12304), as MIFARE
 * DESFire EV3 and NTAG 424 DNA use it: m = 4 (16 plaintexts), AES-128.
 *
 * LRP wraps AES so that no AES key is used on more than a few blocks of
 * data chosen by an attacker. From a key K:
 *  - plaintexts P_0..P_15: h = E(K, 55^16); P_i = E(h, AA^16), h = E(h, 55^16)
 *    (Algorithm 1);
 *  - updated keys UK_0..: h = E(K, AA^16); UK_i = E(h, AA^16), h = E(h, 55^16)
 *    (Algorithm 2);
 *  - EvalLRP(UK_i, x): y = UK_i; y = E(y, P_n) for every nibble n of x, most
 *    significant first; optionally y = E(y, 0^16) at the end (Algorithm 3);
 *  - LRICB: block j of a message is enciphered with the key EvalLRP(UK_i,
 *    counter, final), the counter incremented per block (Algorithms 4-5);
 *  - CMAC_LRP: NIST SP 800-38B CMAC with EvalLRP(UK_i, ., final) as the
 *    block cipher.
 *
 * Everything LRP needs from K is E(K, 55^16) and E(K, AA^16), the two
 * "seeds": dfi_lrp_init_cardkey() asks the key's holder (the HSM, for
 * dfi_cardkey handles made by the HSM layer) for exactly those two blocks,
 * in one ECB call, and derives the rest on the host. The seeds are worth
 * the key for LRP purposes: keep a struct dfi_lrp in locked memory
 * (dfi_secure_alloc) whenever it derives from a card key, and wipe it with
 * dfi_wipe() after use. See SECURITY.md.
 *
 * The block cipher is OpenSSL's AES; nothing here is thread-shared.
 */
#ifndef DFISSUE_LRP_H
#define DFISSUE_LRP_H

#include <stddef.h>
#include <stdint.h>

#include "dfissue/cardkey.h"
#include "dfissue/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DFI_LRP_BLOCK 16
#define DFI_LRP_NPLAIN 16 /* 2^m plaintexts, m = 4 */
#define DFI_LRP_NUPDATED 4 /* updated keys the DESFire family uses at most */

/* An LRP instance: the plaintexts of a key and one of its updated keys. */
struct dfi_lrp {
	uint8_t p[DFI_LRP_NPLAIN][DFI_LRP_BLOCK];
	uint8_t k[DFI_LRP_BLOCK]; /* the updated key in use */
};

/* The 32 bytes a key holder enciphers (ECB) to give the seeds:
 * 55^16 || AA^16. */
void dfi_lrp_seed_input(uint8_t in[2 * DFI_LRP_BLOCK]);

/* Algorithm 1 from h0 = E(K, 55^16). */
dfi_err dfi_lrp_plaintexts(const uint8_t h0[DFI_LRP_BLOCK],
    uint8_t p[DFI_LRP_NPLAIN][DFI_LRP_BLOCK]);
/* Algorithm 2 from g0 = E(K, AA^16): updated keys 0..n-1 (n <= 4). */
dfi_err dfi_lrp_updated_keys(const uint8_t g0[DFI_LRP_BLOCK], size_t n,
    uint8_t uk[][DFI_LRP_BLOCK]);

/* An instance with updated key upd (0..3) from the seeds E(K, 55^16) ||
 * E(K, AA^16). */
dfi_err dfi_lrp_init(struct dfi_lrp *l, const uint8_t seeds[2 * DFI_LRP_BLOCK], unsigned upd);
/* The same from a key held on the host (session keys, tests). */
dfi_err dfi_lrp_init_key(struct dfi_lrp *l, const uint8_t key[DFI_LRP_BLOCK], unsigned upd);
/* The same from a card key: one ECB operation by the key's holder. The key
 * must be AES-128. */
dfi_err dfi_lrp_init_cardkey(struct dfi_lrp *l, const dfi_cardkey *k, unsigned upd);

/* EvalLRP over the first nibbles nibbles of x (most significant nibble of
 * x[0] first), with the final encryption of a zero block when final. */
dfi_err dfi_lrp_eval(const struct dfi_lrp *l, const uint8_t *x, size_t nibbles, int final,
    uint8_t y[DFI_LRP_BLOCK]);

/* CMAC_LRP; mac receives the full 16 bytes. */
dfi_err dfi_lrp_cmac(const struct dfi_lrp *l, const uint8_t *msg, size_t len,
    uint8_t mac[DFI_LRP_BLOCK]);
/* The CMAC_LRP subkeys K1, K2 of an instance. */
dfi_err dfi_lrp_cmac_subkeys(const struct dfi_lrp *l, uint8_t k1[DFI_LRP_BLOCK],
    uint8_t k2[DFI_LRP_BLOCK]);

/* LRICB over len bytes (a multiple of 16; in and out may alias): block j
 * with the key EvalLRP(counter), the counter (ctrlen bytes, big-endian,
 * 1..16) incremented after each block, modulo 2^(8 ctrlen). No padding. */
dfi_err dfi_lrp_cipher(const struct dfi_lrp *l, int encrypt, uint8_t *ctr, size_t ctrlen,
    const uint8_t *in, uint8_t *out, size_t len);

#ifdef __cplusplus
}
#endif
#endif
