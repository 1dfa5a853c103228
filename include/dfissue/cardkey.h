/*
 * dfissue — a card key as the DESFire layer sees it: an opaque handle whose
 * cryptographic operations are performed by whoever holds the key.
 *
 * The HSM layer (hsm.h) makes card keys whose operations run inside the HSM
 * through PKCS#11; dfi_cardkey_new_plain() makes a host-held key for public
 * values (the factory all-zero key) and for tests. The DESFire layer only
 * ever calls the operations below, so it never learns where a key lives.
 *
 * Thread safety: a card key is immutable after dfi_cardkey_new and takes no
 * lock: its operations run on the calling thread, concurrently when threads
 * share it. The HSM's card keys and dfi_cardkey_new_plain's allow that; a
 * caller's own ops table must be reentrant, or serialize itself.
 */
#ifndef DFISSUE_CARDKEY_H
#define DFISSUE_CARDKEY_H

#include <stddef.h>
#include <stdint.h>

#include "dfissue/crypto.h"
#include "dfissue/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dfi_cardkey dfi_cardkey;

/* Called by dfi_cardkey_with_bytes() with the key's plaintext in locked
 * memory; the bytes are wiped as soon as fn returns. fn must not keep them. */
typedef dfi_err (*dfi_cardkey_bytes_fn)(void *arg, const uint8_t *key, size_t keylen);

struct dfi_cardkey_ops {
	/* ECB when iv == NULL; CBC otherwise, iv updated to chain (as
	 * dfi_cipher). len is a multiple of the block length. */
	dfi_err (*cipher)(void *ctx, int encrypt, uint8_t *iv, const uint8_t *in,
	    uint8_t *out, size_t len);
	/* SP 800-38B CMAC with a zero IV; mac receives a full block. */
	dfi_err (*cmac)(void *ctx, const uint8_t *msg, size_t len, uint8_t *mac);
	/* Materializes the key's bytes for the one use that needs them (a
	 * ChangeKey cryptogram). May be NULL: then such keys cannot be used as
	 * the old or new key of a ChangeKey. */
	dfi_err (*with_bytes)(void *ctx, dfi_cardkey_bytes_fn fn, void *arg);
	/* Releases ctx. May be NULL. */
	void (*destroy)(void *ctx);
};

/* Takes ownership of ctx (ops->destroy is called by dfi_cardkey_free, and
 * on failure here). version is the DESFire key version this key has. */
dfi_err dfi_cardkey_new(dfi_cardkey **out, dfi_keytype type, uint8_t version,
    const struct dfi_cardkey_ops *ops, void *ctx);

/* A host-held key, copied into locked memory. Only for public keys (the
 * factory default) and tests: production keys come from the HSM. */
dfi_err dfi_cardkey_new_plain(dfi_cardkey **out, dfi_keytype type,
    const uint8_t *key, size_t keylen, uint8_t version);

/* Runs ops->destroy(ctx) and frees the handle; a plain key's bytes are
 * wiped. */
void dfi_cardkey_free(dfi_cardkey *k);

/* The type and DESFire key version given when the key was made. */
dfi_keytype dfi_cardkey_type(const dfi_cardkey *k);
uint8_t dfi_cardkey_version(const dfi_cardkey *k);

/* The key's operations (struct dfi_cardkey_ops): DFI_E_INVALID_ARG for a
 * NULL key or a length that is not a multiple of the type's block;
 * dfi_cardkey_with_bytes gives DFI_E_UNSUPPORTED for a key whose holder
 * never materializes it (with_bytes NULL), else the holder's or fn's
 * error. */
dfi_err dfi_cardkey_cipher(const dfi_cardkey *k, int encrypt, uint8_t *iv,
    const uint8_t *in, uint8_t *out, size_t len);
dfi_err dfi_cardkey_cmac(const dfi_cardkey *k, const uint8_t *msg, size_t len,
    uint8_t *mac);
dfi_err dfi_cardkey_with_bytes(const dfi_cardkey *k, dfi_cardkey_bytes_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif
