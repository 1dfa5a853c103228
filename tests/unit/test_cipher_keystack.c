/*
 * Audit k36s, finding 2: dfi_cipher copied the host-held key into a stack
 * buffer on every call (cipher.c, uint8_t kb[DFI_MAX_KEY_LEN], wiped
 * after), although SECURITY.md §7 says no secret lies in a stack buffer.
 * Wiped after, the copy can only be seen while it exists: this binary is
 * linked with --wrap=EVP_CipherInit_ex, and the wrapper searches the stack
 * from its own frame up to the test's (the frames of dfi_cipher or
 * dfi_cmac and their helpers, live and dead) for the key at the moment
 * OpenSSL is given it, and checks that the key OpenSSL is given does not
 * lie there either. Keys come from locked memory, as the engine's callers
 * keep them. The old code fails at the first call.
 */
#include <stdio.h>

#include <openssl/evp.h>

#include "testutil.h"

#include "dfissue/crypto.h"
#include "dfissue/util.h"

static const uint8_t *g_top;   /* the test's frame: the scan ends here */
static uint8_t g_key[24];      /* what is searched for */
static size_t g_keylen;
static unsigned g_scans, g_hits;
static char g_hit[160];

int __real_EVP_CipherInit_ex(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *type, ENGINE *impl,
    const unsigned char *key, const unsigned char *iv, int enc);
int __wrap_EVP_CipherInit_ex(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *type, ENGINE *impl,
    const unsigned char *key, const unsigned char *iv, int enc);

/* Compares without a library call, so that the scan itself puts nothing
 * on the stack it searches. */
static __attribute__((noinline)) void
scan(const uint8_t *from, const unsigned char *given)
{
	g_scans++;
	if (given >= from && given < g_top) {
		g_hits++;
		snprintf(g_hit, sizeof(g_hit), "OpenSSL was given a key on the stack, %td bytes "
		    "below the test's frame", g_top - given);
		return;
	}
	for (const uint8_t *p = from; p + g_keylen <= g_top; p++) {
		size_t i = 0;
		while (i < g_keylen && p[i] == g_key[i])
			i++;
		if (i == g_keylen) {
			g_hits++;
			snprintf(g_hit, sizeof(g_hit), "the key is on the stack, %td bytes below the "
			    "test's frame", g_top - p);
			return;
		}
	}
}

int
__wrap_EVP_CipherInit_ex(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *type, ENGINE *impl,
    const unsigned char *key, const unsigned char *iv, int enc)
{
	if (g_top != NULL && key != NULL)
		scan(__builtin_frame_address(0), key);
	return __real_EVP_CipherInit_ex(ctx, type, impl, key, iv, enc);
}

/* Runs dfi_cipher (ECB and CBC, both ways) and dfi_cmac with a key of type
 * t from locked memory and asserts that no scan found it. */
static __attribute__((noinline)) void
check_type(dfi_keytype t)
{
	size_t kl = dfi_keytype_keylen(t), bl = dfi_keytype_blocklen(t);
	uint8_t *key = dfi_secure_alloc(kl);
	ck_assert_ptr_nonnull(key);
	for (size_t i = 0; i < kl; i++)
		key[i] = (uint8_t)(0xA7 ^ (i * 0x3D)); /* distinct, and halves that differ */
	/* the key as the caller holds it (for DES the 8 bytes, which the old
	 * code put on the stack twice) */
	for (size_t i = 0; i < kl; i++)
		g_key[i] = key[i];
	g_keylen = kl;
	uint8_t in[32] = { 0 }, out[32], iv[16] = { 0 }, mac[16];
	g_scans = g_hits = 0;
	g_top = __builtin_frame_address(0);
	dfi_err e1 = dfi_cipher(t, key, 1, NULL, in, out, 2 * bl);
	dfi_err e2 = dfi_cipher(t, key, 0, iv, out, in, 2 * bl);
	dfi_err e3 = dfi_cmac(t, key, NULL, in, 3, mac);
	g_top = NULL;
	dfi_secure_free(key, kl);
	ck_assert_int_eq(e1, DFI_OK);
	ck_assert_int_eq(e2, DFI_OK);
	ck_assert_int_eq(e3, DFI_OK);
	ck_assert_uint_ge(g_scans, 3);
	ck_assert_msg(g_hits == 0, "%s: %s", dfi_keytype_name(t), g_hit);
}

START_TEST(des_key_not_on_stack)
{
	check_type(DFI_KT_DES);
}
END_TEST

START_TEST(des2_key_not_on_stack)
{
	check_type(DFI_KT_2K3DES);
}
END_TEST

START_TEST(des3_key_not_on_stack)
{
	check_type(DFI_KT_3K3DES);
}
END_TEST

START_TEST(aes_key_not_on_stack)
{
	check_type(DFI_KT_AES128);
}
END_TEST

int
main(void)
{
	return dfi_test_main("cipher_keystack", NULL, (const TTest *[]){ des_key_not_on_stack,
	    des2_key_not_on_stack, des3_key_not_on_stack, aes_key_not_on_stack, NULL });
}
