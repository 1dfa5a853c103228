/*
 * dfissue — a signing key as the journal sees it: an opaque handle whose
 * signatures are made by whoever holds the private key (the HSM, through
 * PKCS#11; see hsm.h). The journal only calls the operations below.
 *
 * Thread safety: a dfi_signer may be shared by threads; the handle
 * serializes calls into its ops (one at a time per signer), so ops need not
 * be reentrant. They must not depend on the calling thread, though: a
 * journal signs on whichever thread leads a group commit, and on its own
 * flusher thread for dfi_journal_append_async (journal.h).
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
	 * requires). sig receives at most DFI_SIG_MAX bytes. Called with the
	 * handle's lock held, possibly on a journal's writer thread. */
	dfi_err (*sign)(void *ctx, const uint8_t *msg, size_t len, uint8_t *sig,
	    size_t *siglen);
	/* The public key as DER SubjectPublicKeyInfo. */
	dfi_err (*public_key_der)(void *ctx, uint8_t *der, size_t cap, size_t *len);
	void (*destroy)(void *ctx);
};

/* A signer of algorithm alg over ops (sign and public_key_der required;
 * ops is borrowed and must outlive the signer, usually a static table).
 * The signer owns ctx: ops->destroy(ctx) runs in dfi_signer_free, and here
 * already when this fails. Ownership of ctx says nothing of what the signer
 * borrows: a journal borrows the signer (dfi_journal_create/_open), and an
 * HSM signer borrows its dfi_hsm (hsm.h); free in that order. */
dfi_err dfi_signer_new(dfi_signer **out, dfi_sigalg alg, const struct dfi_signer_ops *ops, void *ctx);
/* Destroys ctx. No journal may still use s. */
void dfi_signer_free(dfi_signer *s);
/* The algorithm given to dfi_signer_new. */
dfi_sigalg dfi_signer_alg(const dfi_signer *s);
/* ops->sign and ops->public_key_der, one call at a time per signer. */
dfi_err dfi_signer_sign(dfi_signer *s, const uint8_t *msg, size_t len, uint8_t *sig, size_t *siglen);
dfi_err dfi_signer_public_key_der(dfi_signer *s, uint8_t *der, size_t cap, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
