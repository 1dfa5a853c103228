/*
 * Private to engine/hsm: a card key whose operations run in the HSM
 * (cardkey_hsm.c) and how a per-card key object is made on each
 * derivation path (derive.c).
 */
#ifndef DFI_HSM_CARDKEY_INT_H
#define DFI_HSM_CARDKEY_INT_H

#include "dfissue/cardkey.h"
#include "hsm_int.h"

#define DFI_AN10922_M_MAX 31

struct hkey {
	dfi_hsm *h;
	dfi_keytype type;
	/* The base key itself, or the master a derived key comes from. */
	struct dfi_hsm_ref master;
	/* Derived keys: a session object made on `path`, made again when a
	 * re-login invalidated it (under h->refmu). */
	int derived;
	dfi_hsm_path path;
	CK_MECHANISM_TYPE enc_mech; /* the master's block encryption */
	CK_OBJECT_HANDLE dobj;
	unsigned dgen;
	/* ECB, CBC, HOST: K = E(master, data) block by block, data = E(master,
	 * B1) XOR B2' (AN10922's two blocks); datalen = the key's length.
	 * CBC derives E(master, iv XOR b2) with iv = E(master, B1). SP 800-108
	 * derives from m (0x01 || m is the PRF input). None of these is key
	 * material: anyone allowed to use the master can compute them. */
	uint8_t data[DFI_MAX_KEY_LEN];
	size_t datalen;
	uint8_t iv[DFI_MAX_BLOCK], b2[DFI_MAX_BLOCK];
	uint8_t m[DFI_AN10922_M_MAX];
	size_t mlen;
	atomic_int no_cmac_mech; /* the token lacks CKM_*_CMAC: use CBC */
};

/* Makes k's per-card key object from master on session s (derive.c). */
CK_RV dfi_hkey_derive(dfi_hsm *h, CK_SESSION_HANDLE s, struct hkey *k, CK_OBJECT_HANDLE master,
    CK_OBJECT_HANDLE *out);
/* THE audited materialization (SECURITY.md §2.3): the per-card key's
 * bytes in locked memory for fn, wiped when it returns (derive.c). */
dfi_err dfi_hkey_with_bytes(void *ctx, dfi_cardkey_bytes_fn fn, void *arg);
/* K computed with C_Encrypt by the master into out (locked memory), for
 * the ECB, CBC and HOST paths (derive.c). */
CK_RV dfi_hkey_host_bytes(dfi_hsm *h, CK_SESSION_HANDLE s, struct hkey *k,
    CK_OBJECT_HANDLE master, uint8_t *out);

#endif
