/* Block ciphers through OpenSSL EVP, in the shapes DESFire needs. */
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "dfissue/crypto.h"
#include "dfissue/util.h"
#include "core/nelem.h"
#include "cmac_int.h"

size_t
dfi_keytype_keylen(dfi_keytype t)
{
	switch (t) {
	case DFI_KT_DES: return 8;
	case DFI_KT_2K3DES: return 16;
	case DFI_KT_3K3DES: return 24;
	case DFI_KT_AES128: return 16;
	}
	return 0;
}

size_t
dfi_keytype_blocklen(dfi_keytype t)
{
	switch (t) {
	case DFI_KT_DES:
	case DFI_KT_2K3DES:
	case DFI_KT_3K3DES: return 8;
	case DFI_KT_AES128: return 16;
	}
	return 0;
}

const char *
dfi_keytype_name(dfi_keytype t)
{
	switch (t) {
	case DFI_KT_DES: return "des";
	case DFI_KT_2K3DES: return "2k3des";
	case DFI_KT_3K3DES: return "3k3des";
	case DFI_KT_AES128: return "aes";
	}
	return "?"; /* error.h, "NULL and unknown values" */
}

dfi_err
dfi_keytype_parse(const char *name, dfi_keytype *out)
{
	static const dfi_keytype all[] = { DFI_KT_DES, DFI_KT_2K3DES, DFI_KT_3K3DES, DFI_KT_AES128 };
	if (name == NULL || out == NULL)
		return DFI_E_INVALID_ARG;
	for (size_t i = 0; i < DFI_NELEM(all); i++) {
		if (strcmp(name, dfi_keytype_name(all[i])) == 0) {
			*out = all[i];
			return DFI_OK;
		}
	}
	if (strcmp(name, "aes128") == 0) {
		*out = DFI_KT_AES128;
		return DFI_OK;
	}
	return DFI_E_PARSE;
}

int
dfi_keytype_card_match(dfi_keytype want, dfi_keytype card)
{
	/* The key-count byte's flags tell AES and 3K3DES apart, but one DES
	 * family: a DES and a 2K3DES application look the same. */
	if (want == DFI_KT_AES128 || want == DFI_KT_3K3DES)
		return card == want;
	return card == DFI_KT_DES || card == DFI_KT_2K3DES;
}

/* OpenSSL 3 looks a cipher up in the provider store on every init given a
 * legacy EVP_des_* / EVP_aes_* object (an implicit fetch: ~7% of the
 * instructions of a personalized card, once per APDU MAC). The six ciphers
 * are fetched once per process; they are never modified afterwards, so
 * every thread may share them. */
enum { EVP_DES2_ECB, EVP_DES2_CBC, EVP_DES3_ECB, EVP_DES3_CBC, EVP_AES_ECB, EVP_AES_CBC, EVP_N };
static EVP_CIPHER *fetched[EVP_N];
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void
fetch_all(void)
{
	static const char *const names[EVP_N] = { "DES-EDE-ECB", "DES-EDE-CBC", "DES-EDE3-ECB",
		"DES-EDE3-CBC", "AES-128-ECB", "AES-128-CBC" };
	for (int i = 0; i < EVP_N; i++)
		fetched[i] = EVP_CIPHER_fetch(NULL, names[i], NULL);
}

static const EVP_CIPHER *
evp_get(int i, const EVP_CIPHER *legacy)
{
	pthread_once(&fetch_once, fetch_all);
	return fetched[i] != NULL ? fetched[i] : legacy;
}

/* Single DES is run as two-key 3DES with K1 = K2 (what the card does, and
 * it keeps us off OpenSSL's legacy provider). */
static const EVP_CIPHER *
evp_for(dfi_keytype t, int cbc)
{
	switch (t) {
	case DFI_KT_DES:
	case DFI_KT_2K3DES:
		return cbc ? evp_get(EVP_DES2_CBC, EVP_des_ede_cbc()) : evp_get(EVP_DES2_ECB, EVP_des_ede_ecb());
	case DFI_KT_3K3DES:
		return cbc ? evp_get(EVP_DES3_CBC, EVP_des_ede3_cbc()) : evp_get(EVP_DES3_ECB, EVP_des_ede3_ecb());
	case DFI_KT_AES128:
		return cbc ? evp_get(EVP_AES_CBC, EVP_aes_128_cbc()) : evp_get(EVP_AES_ECB, EVP_aes_128_ecb());
	}
	return NULL;
}

/* A host-held key is secret and the caller keeps it in locked memory
 * (SECURITY.md §7): a copy on the ordinary stack would undo that (audit
 * k36s). AES, 2K3DES and 3K3DES keys are given to OpenSSL where they lie.
 * Only single DES needs a copy, K || K; it is built in a locked scratch of
 * the calling thread, made once per thread (an mlock per call would cost a
 * system call on every APDU's MAC) and wiped after every use. */
enum { DES_SCRATCH = 16 };
static pthread_key_t des_scratch_key;
static pthread_once_t des_scratch_once = PTHREAD_ONCE_INIT;
static int des_scratch_ok;

static void
des_scratch_free(void *p)
{
	dfi_secure_free(p, DES_SCRATCH);
}

static void
des_scratch_init(void)
{
	des_scratch_ok = pthread_key_create(&des_scratch_key, des_scratch_free) == 0;
}

/* The calling thread's scratch, or NULL when no locked page can be had. */
static uint8_t *
des_scratch(void)
{
	pthread_once(&des_scratch_once, des_scratch_init);
	if (!des_scratch_ok)
		return NULL;
	uint8_t *p = pthread_getspecific(des_scratch_key);
	if (p == NULL) {
		p = dfi_secure_alloc(DES_SCRATCH);
		if (p != NULL && pthread_setspecific(des_scratch_key, p) != 0) {
			dfi_secure_free(p, DES_SCRATCH);
			p = NULL;
		}
	}
	return p;
}

/* A context keyed for t in ECB (iv NULL on a CBC caller's behalf: cbc 0)
 * or CBC with iv, without padding; NULL with *err set on failure. */
static EVP_CIPHER_CTX *
cipher_ctx(dfi_keytype t, const uint8_t *key, int cbc, const uint8_t *iv, int encrypt,
    dfi_err *err)
{
	uint8_t *des = NULL;
	if (t == DFI_KT_DES) {
		des = des_scratch();
		if (des == NULL) {
			*err = DFI_E_NOMEM;
			return NULL;
		}
		memcpy(des, key, 8);
		memcpy(des + 8, key, 8);
	}
	const EVP_CIPHER *c = evp_for(t, cbc);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	*err = ctx == NULL ? DFI_E_NOMEM : DFI_E_CRYPTO;
	if (ctx != NULL && EVP_CipherInit_ex(ctx, c, NULL, des != NULL ? des : key, iv,
	    encrypt ? 1 : 0) != 1) {
		EVP_CIPHER_CTX_free(ctx);
		ctx = NULL;
	}
	if (ctx != NULL)
		EVP_CIPHER_CTX_set_padding(ctx, 0);
	if (des != NULL)
		dfi_wipe(des, DES_SCRATCH);
	return ctx;
}

dfi_err
dfi_cipher(dfi_keytype t, const uint8_t *key, int encrypt, uint8_t *iv,
    const uint8_t *in, uint8_t *out, size_t len)
{
	size_t bl = dfi_keytype_blocklen(t);
	dfi_err err = DFI_E_CRYPTO;
	int outl = 0, finl = 0;

	if (bl == 0 || key == NULL || (len > 0 && (in == NULL || out == NULL)))
		return DFI_E_INVALID_ARG;
	if (len % bl != 0 || len > INT32_MAX)
		return DFI_E_INVALID_ARG;
	if (len == 0)
		return DFI_OK;
	EVP_CIPHER_CTX *ctx = cipher_ctx(t, key, iv != NULL, iv, encrypt, &err);
	if (ctx == NULL)
		return err;
	err = DFI_E_CRYPTO;
	/* Keep the next IV before out may overwrite in (they may alias). */
	uint8_t next_iv[DFI_MAX_BLOCK];
	if (iv != NULL && !encrypt)
		memcpy(next_iv, in + len - bl, bl);
	if (EVP_CipherUpdate(ctx, out, &outl, in, (int)len) != 1 ||
	    EVP_CipherFinal_ex(ctx, out + outl, &finl) != 1 || (size_t)(outl + finl) != len)
		goto out;
	if (iv != NULL)
		memcpy(iv, encrypt ? out + len - bl : next_iv, bl);
	err = DFI_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	return err;
}

static void
gf_double(const uint8_t *in, uint8_t *out, size_t bl)
{
	/* Doubling in GF(2^b): Rb is 0x87 for 128-bit, 0x1B for 64-bit blocks. */
	uint8_t carry = in[0] & 0x80;
	for (size_t i = 0; i < bl; i++)
		out[i] = (uint8_t)((in[i] << 1) | (i + 1 < bl ? in[i + 1] >> 7 : 0));
	if (carry)
		out[bl - 1] ^= (bl == 16) ? 0x87 : 0x1B;
}

void
dfi_cmac_subkeys(const uint8_t *l, size_t bl, uint8_t *k1, uint8_t *k2)
{
	gf_double(l, k1, bl);
	gf_double(k1, k2, bl);
}

/* One block of the CMAC: ctx is the ECB context keyed once. */
static dfi_err
ecb_block(void *ctx, uint8_t *x)
{
	int outl = 0;
	/* The block length is the context's (8 or 16): one block in, one out. */
	int bl = EVP_CIPHER_CTX_get_block_size(ctx);
	return EVP_EncryptUpdate(ctx, x, &outl, x, bl) == 1 && outl == bl ? DFI_OK : DFI_E_CRYPTO;
}

/* SP 800-38B written out because DESFire chains the CMAC IV, which the
 * OpenSSL EVP_MAC interface cannot express; the block cipher is OpenSSL's,
 * one ECB context keyed once for L and every block (a context per block
 * was a key schedule per block of every APDU MAC). */
dfi_err
dfi_cmac(dfi_keytype t, const uint8_t *key, const uint8_t *iv,
    const uint8_t *msg, size_t len, uint8_t *mac)
{
	size_t bl = dfi_keytype_blocklen(t);
	struct dfi_cmac_work w = { 0 };
	dfi_err err;

	if (bl == 0 || key == NULL || mac == NULL || (msg == NULL && len > 0))
		return DFI_E_INVALID_ARG;
	EVP_CIPHER_CTX *ctx = cipher_ctx(t, key, 0, NULL, 1, &err);
	if (ctx == NULL)
		return err;
	/* L = E(0^b) in x, the subkeys from it, then x is the IV. */
	if ((err = ecb_block(ctx, w.x)) == DFI_OK) {
		dfi_cmac_subkeys(w.x, bl, w.k1, w.k2);
		if (iv != NULL)
			memcpy(w.x, iv, bl);
		else
			memset(w.x, 0, bl);
		err = dfi_cmac_chain(&w, msg, len, bl, ecb_block, ctx, mac);
	}
	EVP_CIPHER_CTX_free(ctx);
	dfi_wipe(&w, sizeof(w));
	return err;
}

uint32_t
dfi_crc32_desfire(const uint8_t *p, size_t len)
{
	uint32_t crc = 0xFFFFFFFFu;
	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
	}
	return crc;
}

uint16_t
dfi_crc16_desfire(const uint8_t *p, size_t len)
{
	uint16_t crc = 0x6363;
	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (uint16_t)((crc >> 1) ^ (0x8408u & (0u - (crc & 1u))));
	}
	return crc;
}

uint8_t
dfi_des_key_version(const uint8_t *key)
{
	uint8_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (uint8_t)((v << 1) | (key[i] & 1));
	return v;
}

void
dfi_des_set_key_version(uint8_t *key, size_t len, uint8_t version)
{
	/* The version is the parity bits of the first eight bytes, most
	 * significant bit first; later bytes are left as they are. */
	for (size_t i = 0; i < len && i < 8; i++)
		key[i] = (uint8_t)((key[i] & 0xFE) | ((version >> (7 - i)) & 1));
}

dfi_err
dfi_random(uint8_t *out, size_t len)
{
	if (len > INT32_MAX)
		return DFI_E_INVALID_ARG;
	return RAND_bytes(out, (int)len) == 1 ? DFI_OK : DFI_E_CRYPTO;
}
