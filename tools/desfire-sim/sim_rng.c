/*
 * The card's random numbers. Seeded: AES-128 in counter mode keyed by
 * SHA-256("desfire-sim" || seed), so a run is reproducible from the seed
 * and the number of draws. Unseeded: OpenSSL's CSPRNG.
 */
#include <string.h>

#include <openssl/sha.h>

#include "dfissue/util.h"
#include "sim_int.h"

void
sim_rng_init(struct sim_rng *r, bool seeded, uint64_t seed)
{
	memset(r, 0, sizeof(*r));
	r->seeded = seeded;
	if (!seeded)
		return;
	uint8_t in[11 + 8], md[SHA256_DIGEST_LENGTH];
	memcpy(in, "desfire-sim", 11);
	for (int i = 0; i < 8; i++)
		in[11 + i] = (uint8_t)(seed >> (8 * i));
	SHA256(in, sizeof(in), md);
	memcpy(r->key, md, 16);
	dfi_wipe(md, sizeof(md));
}

dfi_err
sim_rng_bytes(struct sim_rng *r, uint8_t *out, size_t len)
{
	if (!r->seeded)
		return dfi_random(out, len);
	while (len > 0) {
		uint8_t blk[16];
		dfi_err e = dfi_cipher(DFI_KT_AES128, r->key, 1, NULL, r->ctr, blk, 16);
		if (e != DFI_OK)
			return e;
		for (int i = 15; i >= 0 && ++r->ctr[i] == 0; i--)
			;
		size_t n = len < 16 ? len : 16;
		memcpy(out, blk, n);
		out += n;
		len -= n;
		dfi_wipe(blk, sizeof(blk));
	}
	return DFI_OK;
}
