/*
 * dfissue — the NXP originality signature of a DESFire card.
 *
 * DESFire EV2, EV3 and Light (not EV1) answer Read_Sig (native 0x3C,
 * address 00) with a 56-byte ECDSA signature on curve secp224r1 over the
 * card's UID, r || s, the UID itself standing for the hash. NXP publishes
 * the public keys. The signature is fixed per UID: a copier can replay it,
 * so it filters generic blanks and clones without it, and is never a
 * defense on its own (SECURITY.md).
 *
 * A trust list holds the public keys a signature may verify with: the NXP
 * keys built into dfissue (the same as profiles/originality-nxp.keys) and
 * any loaded from a file the operator keeps. Its format (docs/PROFILE.md):
 * '#' comments and blank lines; "NAME HEX" with HEX the uncompressed point
 * 04 || X || Y (57 bytes, 114 hex digits) as NXP publishes it; or a PEM
 * "PUBLIC KEY" block (named after the comment line just above it).
 * Verification runs on the host with OpenSSL.
 *
 * Thread safety: a list is built (new, load) by one thread; once loaded it
 * is only read, and threads may verify with it concurrently.
 */
#ifndef DFISSUE_ORIGINALITY_H
#define DFISSUE_ORIGINALITY_H

#include <stddef.h>
#include <stdint.h>

#include "dfissue/error.h"
#include "dfissue/profile.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DFI_ORIG_SIG_LEN 56      /* r || s, 28 bytes each */
#define DFI_ORIG_MAX_KEYS 256

typedef struct dfi_orig_keys dfi_orig_keys;

/* An empty list (builtin = 0) or one holding NXP's published DESFire
 * originality keys (builtin = 1). */
dfi_err dfi_orig_keys_new(dfi_orig_keys **out, int builtin);
void dfi_orig_keys_free(dfi_orig_keys *k);

/* Adds every key of a trusted-keys file (or buffer; name is used in
 * messages). Errors name the file and line: "keys.txt:4: not a secp224r1
 * point ...". DFI_E_PARSE on a bad file, DFI_E_IO when unreadable. */
dfi_err dfi_orig_keys_load(dfi_orig_keys *k, const char *path, struct dfi_diag *diag);
dfi_err dfi_orig_keys_load_buffer(dfi_orig_keys *k, const char *name, const char *buf, size_t len,
    struct dfi_diag *diag);

/* Reads a trusted-keys file as dfi_orig_keys_load does and keeps nothing:
 * a file a later step will load is checked before anything is opened (the
 * profile loader for originality.trusted_keys, the CLI for
 * --originality-keys). The same errors, with diag->message set for
 * DFI_E_PARSE and DFI_E_IO. */
dfi_err dfi_orig_keys_check(const char *path, struct dfi_diag *diag);

/* The number of keys, and the name of key i (NULL when i >= the count);
 * a name is owned by k and valid until dfi_orig_keys_free(k). */
size_t dfi_orig_keys_count(const dfi_orig_keys *k);
const char *dfi_orig_keys_name(const dfi_orig_keys *k, size_t i);

/* DFI_OK when sig verifies with a key of the list (*key_name, may be NULL,
 * names it: a string owned by k, valid until dfi_orig_keys_free(k); NULL
 * on failure); DFI_E_NOT_FOUND when it verifies with none. */
dfi_err dfi_orig_verify(const dfi_orig_keys *k, const uint8_t *uid, size_t uid_len,
    const uint8_t sig[DFI_ORIG_SIG_LEN], const char **key_name);

#ifdef __cplusplus
}
#endif
#endif
