/*
 * Inside the library only: why a signer's last signature failed, in the
 * words of whoever holds the key (an HSM signer: the PKCS#11 call, its
 * CK_RV name). The journal signs on its writer thread, where only the
 * signer is at hand: without this its account of a failed checkpoint
 * could name the error code but never the call that failed.
 */
#ifndef DFI_CRYPTO_SIGNER_INT_H
#define DFI_CRYPTO_SIGNER_INT_H

#include <stddef.h>

#include "dfissue/signer.h"

/* Sets the reason of the signature being made: for an ops->sign on its
 * failure only (the handle's lock is held then). */
void dfi_signer_why_set(dfi_signer *s, const char *why);
/* The reason the last dfi_signer_sign on s failed ("" when it succeeded or
 * its ops gave none), copied into buf. */
void dfi_signer_why(dfi_signer *s, char *buf, size_t cap);

#endif
