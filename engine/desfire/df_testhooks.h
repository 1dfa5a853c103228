/*
 * df_testhooks.h: test hooks of the DESFire layer, for this tree's tests,
 * vector checks and fuzzers only. Not installed, not exported by
 * libdfissue.so (libdfissue.map), reached through the static library.
 *
 * They hand session keys across the API in plaintext, which no program
 * outside the tests has a reason to do: a vector check sets the session an
 * authentication would have left and compares protected frames; a fuzzer
 * starts from an authenticated state without a card.
 */
#ifndef DFI_DF_TESTHOOKS_H
#define DFI_DF_TESTHOOKS_H

#include "dfissue/desfire.h"

/* A session state set directly, as an authentication would leave it. */
struct dfi_df_session {
	dfi_df_scheme scheme;
	uint8_t keyno;
	dfi_keytype keytype;          /* session key type (EV2: AES) */
	uint8_t enc_key[DFI_MAX_KEY_LEN]; /* D40/EV1 session key; EV2 SesAuthENCKey */
	uint8_t mac_key[16];          /* EV2 SesAuthMACKey */
	uint8_t iv[DFI_MAX_BLOCK];    /* EV1 chained IV */
	uint8_t ti[4];                /* EV2 */
	uint16_t cmd_ctr;             /* EV2 */
	uint32_t aid;                 /* selected application */
	/* EV2 in LRP mode: enc_key holds SesAuthMasterKey (mac_key unused),
	 * lrp_ctr the LRICB encryption counter EncCtr. */
	uint8_t lrp;
	uint32_t lrp_ctr;
};
dfi_err dfi_desfire_set_session(dfi_desfire *d, const struct dfi_df_session *s);
/* Copies the session out, session keys included: for vector checks and
 * tests only; the caller wipes s. */
dfi_err dfi_desfire_get_session(const dfi_desfire *d, struct dfi_df_session *s);

#endif
