/*
 * dfissue — a signing key as the journal sees it: an opaque handle whose
 * signatures are made by whoever holds the private key (the HSM, through
 * PKCS#11; see hsm.h). The journal only calls the operations below.
 */
#ifndef DFISSUE_SIGNER_H
#define DFISSUE_SIGNER_H

#include <stddef.h>
#include <stdint.h>

#include "dfissue/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dfi_sigalg {
	DFI_SIG_ED25519 = 1,    /* PureEdDSA over the message; 64-byte signature */
	DFI_SIG_ECDSA_P256 = 2, /* ECDSA over SHA-256(message); raw r||s, 64 bytes */
} dfi_sigalg;

#define DFI_SIG_MAX 64
#define DFI_PUBKEY_DER_MAX 128

typedef struct dfi_signer dfi_signer;

struct dfi_signer_ops {
	/* Signs msg (the whole message: the signer hashes where the algorithm
	 * requires). sig receives at most DFI_SIG_MAX bytes. */
	dfi_err (*sign)(void *ctx, const uint8_t *msg, size_t len, uint8_t *sig,
	    size_t *siglen);
	/* The public key as DER SubjectPublicKeyInfo. */
	dfi_err (*public_key_der)(void *ctx, uint8_t *der, size_t cap, size_t *len);
	void (*destroy)(void *ctx);
};

/* Takes ownership of ctx (destroyed on failure too). */
dfi_err dfi_signer_new(dfi_signer **out, dfi_sigalg alg, const struct dfi_signer_ops *ops, void *ctx);
void dfi_signer_free(dfi_signer *s);
dfi_sigalg dfi_signer_alg(const dfi_signer *s);
dfi_err dfi_signer_sign(dfi_signer *s, const uint8_t *msg, size_t len, uint8_t *sig, size_t *siglen);
dfi_err dfi_signer_public_key_der(dfi_signer *s, uint8_t *der, size_t cap, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
