/*
 * LRP (NXP AN12304), m = 4, AES-128 (include/dfissue/lrp.h).
 *
 * LRP changes the AES key at every step, so one EVP context per top-level
 * call is re-keyed for each block (EVP_EncryptInit_ex with a NULL cipher
 * keeps the cipher and only runs the key schedule again).
 */
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include "dfissue/crypto.h"
#include "dfissue/lrp.h"
#include "dfissue/util.h"
#include "cmac_int.h"

#define BL DFI_LRP_BLOCK

static EVP_CIPHER *aes_fetched;
static pthread_once_t aes_once = PTHREAD_ONCE_INIT;

static void
fetch_aes(void)
{
	aes_fetched = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
}

/* One AES-128 ECB engine, re-keyed per block. */
struct aes1 {
	EVP_CIPHER_CTX *c;
	int enc; /* direction the context was set up for */
};

static dfi_err
aes1_open(struct aes1 *a, int encrypt)
{
	static const uint8_t zero[BL];
	pthread_once(&aes_once, fetch_aes);
	const EVP_CIPHER *ci = aes_fetched != NULL ? aes_fetched : EVP_aes_128_ecb();
	a->enc = encrypt;
	a->c = EVP_CIPHER_CTX_new();
	if (a->c == NULL)
		return DFI_E_NOMEM;
	if (EVP_CipherInit_ex(a->c, ci, NULL, zero, NULL, encrypt) != 1) {
		EVP_CIPHER_CTX_free(a->c);
		a->c = NULL;
		return DFI_E_CRYPTO;
	}
	EVP_CIPHER_CTX_set_padding(a->c, 0);
	return DFI_OK;
}

static void
aes1_close(struct aes1 *a)
{
	EVP_CIPHER_CTX_free(a->c); /* cleanses the key schedule */
	a->c = NULL;
}

/* out = E(key, in) (or D when the context decrypts); in and out may alias. */
static dfi_err
aes1(struct aes1 *a, const uint8_t key[BL], const uint8_t in[BL], uint8_t out[BL])
{
	uint8_t t[BL];
	int n = 0;
	if (EVP_CipherInit_ex(a->c, NULL, NULL, key, NULL, a->enc) != 1 ||
	    EVP_CipherUpdate(a->c, t, &n, in, BL) != 1 || n != BL)
		return DFI_E_CRYPTO;
	memcpy(out, t, BL);
	dfi_wipe(t, sizeof(t));
	return DFI_OK;
}

void
dfi_lrp_seed_input(uint8_t in[2 * BL])
{
	memset(in, 0x55, BL);
	memset(in + BL, 0xAA, BL);
}

/* The two generators differ only in which constant yields the output and
 * which one moves the chain on: h = E(K, first) was applied by the caller;
 * out_i = E(h, AA^16), h = E(h, 55^16). */
static dfi_err
chain(const uint8_t h0[BL], size_t n, uint8_t out[][BL])
{
	uint8_t h[BL], c55[BL], cAA[BL];
	struct aes1 a;
	dfi_err e = aes1_open(&a, 1);
	if (e != DFI_OK)
		return e;
	memset(c55, 0x55, BL);
	memset(cAA, 0xAA, BL);
	memcpy(h, h0, BL);
	for (size_t i = 0; i < n && e == DFI_OK; i++) {
		e = aes1(&a, h, cAA, out[i]);
		if (e == DFI_OK)
			e = aes1(&a, h, c55, h);
	}
	aes1_close(&a);
	dfi_wipe(h, sizeof(h));
	return e;
}

dfi_err
dfi_lrp_plaintexts(const uint8_t h0[BL], uint8_t p[DFI_LRP_NPLAIN][BL])
{
	if (h0 == NULL || p == NULL)
		return DFI_E_INVALID_ARG;
	return chain(h0, DFI_LRP_NPLAIN, p);
}

dfi_err
dfi_lrp_updated_keys(const uint8_t g0[BL], size_t n, uint8_t uk[][BL])
{
	if (g0 == NULL || uk == NULL || n == 0 || n > DFI_LRP_NUPDATED)
		return DFI_E_INVALID_ARG;
	return chain(g0, n, uk);
}

dfi_err
dfi_lrp_init(struct dfi_lrp *l, const uint8_t seeds[2 * BL], unsigned upd)
{
	uint8_t uk[DFI_LRP_NUPDATED][BL];
	if (l == NULL || seeds == NULL || upd >= DFI_LRP_NUPDATED)
		return DFI_E_INVALID_ARG;
	dfi_err e = dfi_lrp_plaintexts(seeds, l->p);
	if (e == DFI_OK)
		e = dfi_lrp_updated_keys(seeds + BL, upd + 1, uk);
	if (e == DFI_OK)
		memcpy(l->k, uk[upd], BL);
	dfi_wipe(uk, sizeof(uk));
	if (e != DFI_OK)
		dfi_wipe(l, sizeof(*l));
	return e;
}

dfi_err
dfi_lrp_init_key(struct dfi_lrp *l, const uint8_t key[BL], unsigned upd)
{
	uint8_t in[2 * BL], seeds[2 * BL];
	if (key == NULL)
		return DFI_E_INVALID_ARG;
	dfi_lrp_seed_input(in);
	dfi_err e = dfi_cipher(DFI_KT_AES128, key, 1, NULL, in, seeds, sizeof(in));
	if (e == DFI_OK)
		e = dfi_lrp_init(l, seeds, upd);
	dfi_wipe(seeds, sizeof(seeds));
	return e;
}

dfi_err
dfi_lrp_init_cardkey(struct dfi_lrp *l, const dfi_cardkey *k, unsigned upd)
{
	uint8_t in[2 * BL], seeds[2 * BL];
	if (k == NULL)
		return DFI_E_INVALID_ARG;
	if (dfi_cardkey_type(k) != DFI_KT_AES128)
		return DFI_E_INVALID_ARG;
	dfi_lrp_seed_input(in);
	/* The one operation with the card key: both seeds in one ECB call. */
	dfi_err e = dfi_cardkey_cipher(k, 1, NULL, in, seeds, sizeof(in));
	if (e == DFI_OK)
		e = dfi_lrp_init(l, seeds, upd);
	dfi_wipe(seeds, sizeof(seeds));
	return e;
}

static dfi_err
eval(struct aes1 *a, const struct dfi_lrp *l, const uint8_t *x, size_t nibbles, int final,
    uint8_t y[BL])
{
	static const uint8_t zero[BL];
	uint8_t t[BL];
	dfi_err e = DFI_OK;
	memcpy(t, l->k, BL);
	for (size_t i = 0; i < nibbles && e == DFI_OK; i++) {
		unsigned nib = (i % 2 == 0) ? x[i / 2] >> 4 : x[i / 2] & 0x0F;
		e = aes1(a, t, l->p[nib], t);
	}
	if (e == DFI_OK && final)
		e = aes1(a, t, zero, t);
	if (e == DFI_OK)
		memcpy(y, t, BL);
	dfi_wipe(t, sizeof(t));
	return e;
}

dfi_err
dfi_lrp_eval(const struct dfi_lrp *l, const uint8_t *x, size_t nibbles, int final,
    uint8_t y[BL])
{
	struct aes1 a;
	if (l == NULL || y == NULL || (nibbles > 0 && x == NULL) || nibbles > 2 * BL)
		return DFI_E_INVALID_ARG;
	dfi_err e = aes1_open(&a, 1);
	if (e == DFI_OK)
		e = eval(&a, l, x, nibbles, final, y);
	aes1_close(&a);
	return e;
}

static dfi_err
subkeys(struct aes1 *a, const struct dfi_lrp *l, uint8_t k1[BL], uint8_t k2[BL])
{
	static const uint8_t zero[BL];
	uint8_t k0[BL];
	/* K0 = EvalLRP(0^128); K1 = 2 K0, K2 = 4 K0 in GF(2^128): the SP
	 * 800-38B doubling with L = K0. */
	dfi_err e = eval(a, l, zero, 2 * BL, 1, k0);
	if (e == DFI_OK)
		dfi_cmac_subkeys(k0, BL, k1, k2);
	dfi_wipe(k0, sizeof(k0));
	return e;
}

dfi_err
dfi_lrp_cmac_subkeys(const struct dfi_lrp *l, uint8_t k1[BL], uint8_t k2[BL])
{
	struct aes1 a;
	if (l == NULL || k1 == NULL || k2 == NULL)
		return DFI_E_INVALID_ARG;
	dfi_err e = aes1_open(&a, 1);
	if (e == DFI_OK)
		e = subkeys(&a, l, k1, k2);
	aes1_close(&a);
	return e;
}

/* One block of the LRP CMAC: x = EvalLRP(x), final. */
_Static_assert(BL <= DFI_MAX_BLOCK, "an LRP block fits the CMAC's work");
struct lrp_block {
	struct aes1 *a;
	const struct dfi_lrp *l;
};

static dfi_err
lrp_block(void *ctx, uint8_t *x)
{
	struct lrp_block *c = ctx;
	return eval(c->a, c->l, x, 2 * BL, 1, x);
}

dfi_err
dfi_lrp_cmac(const struct dfi_lrp *l, const uint8_t *msg, size_t len, uint8_t mac[BL])
{
	struct dfi_cmac_work w = { 0 }; /* x: the zero IV */
	struct aes1 a;
	if (l == NULL || mac == NULL || (len > 0 && msg == NULL))
		return DFI_E_INVALID_ARG;
	dfi_err e = aes1_open(&a, 1);
	if (e == DFI_OK)
		e = subkeys(&a, l, w.k1, w.k2);
	if (e == DFI_OK) {
		struct lrp_block c = { &a, l };
		e = dfi_cmac_chain(&w, msg, len, BL, lrp_block, &c, mac);
	}
	aes1_close(&a);
	dfi_wipe(&w, sizeof(w));
	return e;
}

dfi_err
dfi_lrp_cipher(const struct dfi_lrp *l, int encrypt, uint8_t *ctr, size_t ctrlen,
    const uint8_t *in, uint8_t *out, size_t len)
{
	struct aes1 ev, bc;
	uint8_t key[BL];
	if (l == NULL || ctr == NULL || ctrlen == 0 || ctrlen > BL || len % BL != 0 ||
	    (len > 0 && (in == NULL || out == NULL)))
		return DFI_E_INVALID_ARG;
	if (len == 0)
		return DFI_OK;
	dfi_err e = aes1_open(&ev, 1);
	if (e != DFI_OK)
		return e;
	if ((e = aes1_open(&bc, encrypt)) != DFI_OK) {
		aes1_close(&ev);
		return e;
	}
	for (size_t b = 0; b < len && e == DFI_OK; b += BL) {
		e = eval(&ev, l, ctr, 2 * ctrlen, 1, key);
		if (e == DFI_OK)
			e = aes1(&bc, key, in + b, out + b);
		/* counter + 1, big-endian, wrapping */
		for (size_t i = ctrlen; i-- > 0;)
			if (++ctr[i] != 0)
				break;
	}
	aes1_close(&bc);
	aes1_close(&ev);
	dfi_wipe(key, sizeof(key));
	return e;
}
