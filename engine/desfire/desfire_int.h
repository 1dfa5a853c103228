/* Private state and helpers of the DESFire layer. */
#ifndef DFI_DESFIRE_INT_H
#define DFI_DESFIRE_INT_H

#include <stdint.h>

#include "dfissue/desfire.h"
#include "dfissue/lrp.h"
#include "dfissue/util.h"

/* Longest protected command body df_wrap() builds: header and data of up
 * to DFI_DF_MAX_DATA each, plus CRC, MAC and padding. */
#define DF_BODY_MAX (2 * DFI_DF_MAX_DATA + 64)
/* Longest protected response df_command() collects and the scheme unwraps
 * accept (a longer one is no DESFire response). */
#define DF_RESP_MAX (DFI_DF_MAX_DATA + 64)

/* Secrets of one authentication exchange (auth.c, auth_lrp.c): the two
 * randoms, what is built from them and the card's answers. RndA and RndB
 * give the session keys, so they live with those keys in the session's
 * locked memory (df_secrets.auth), not on the ordinary stack, and are
 * wiped once, by dfi_desfire_authenticate() when the exchange ends,
 * whatever its outcome; the steps of an exchange wipe nothing themselves. */
struct df_auth_secrets {
	uint8_t r[DFI_APDU_MAX]; /* the card's last answer */
	uint8_t rnda[16], rndb[16];
	uint8_t plain[48];       /* built from the randoms: sent, MACed, or the card's answer deciphered */
	uint8_t tok[32];         /* a cryptogram or MAC of plain */
	uint8_t chk[16];         /* the rotated random the card must prove; LRP: PICCData */
	uint8_t ti[4];           /* the TI a NonFirst keeps */
};

/* Secrets of one session, in locked memory.
 *
 * tx and rx are the secure-messaging scratch of one command: the MAC input
 * and the plaintext before enciphering (ChangeKey cryptograms included),
 * and the response's MAC input and deciphered data. They are here, and not
 * allocated per APDU (issue 7), and here rather than in the handle because
 * they hold session plaintext: locked, never swapped, not in core dumps.
 * The price is 7 locked pages (28 KiB) per session instead of 1: 16
 * readers take 448 KiB of the 8 MiB RLIMIT_MEMLOCK default (Debian 12,
 * `ulimit -l` 8192). Each is wiped after every use, so between commands
 * they hold nothing; one per direction because a command's wrap and its
 * response's unwrap are different roles (they never overlap in time, and
 * keeping them apart keeps it so if that changes). */
struct df_secrets {
	uint8_t enc[DFI_MAX_KEY_LEN]; /* D40/EV1 session key, EV2 SesAuthENCKey */
	uint8_t mac[16];              /* EV2 SesAuthMACKey */
	uint8_t iv[DFI_MAX_BLOCK];    /* EV1 chained IV */
	/* EV2 in LRP mode: SesAuthMACKey and SesAuthENCKey as LRP instances
	 * (plaintexts and updated keys 0 and 1 of SesAuthMasterKey, which
	 * enc holds). During an LRP authentication lmac holds the card key's
	 * instance first. */
	struct dfi_lrp lmac, lenc;
	/* scratch: keep after the keys (df_drop_auth wipes up to tx) */
	uint8_t tx[DF_BODY_MAX];                 /* command being wrapped */
	uint8_t rx[DF_RESP_MAX + DFI_MAX_BLOCK]; /* response: room for padding */
	/* ChangeKey plaintext (cmd_keys.c): the new key and the old key as the
	 * card stores them, the cryptogram before it is enciphered and the
	 * CRC input. Per-card keys live here, never on the ordinary stack
	 * (SECURITY.md §1); wiped as soon as the cryptogram is enciphered. */
	uint8_t ck_new[DFI_MAX_KEY_LEN];
	uint8_t ck_old[DFI_MAX_KEY_LEN];
	uint8_t ck_pt[64];
	uint8_t ck_crc[2 + 64];
	struct df_auth_secrets auth; /* during an authentication only */
};

struct dfi_desfire {
	dfi_transport *t;
	dfi_desfire_rng_fn rng;
	void *rng_arg;
	dfi_df_scheme scheme;
	int keyno;           /* authenticated key, -1 when none */
	dfi_keytype skt;     /* session key type */
	struct df_secrets *s;
	uint8_t ti[4];
	uint16_t ctr;
	int lrp;             /* the EV2 session runs in LRP mode */
	uint8_t lctr[4];     /* LRP: EncCtr, big-endian */
	uint32_t aid;
	uint8_t last_sw2;
	/* Wire scratch of df_command(), reused instead of two heap buffers
	 * per APDU; only df_command() touches them, and it does not nest. */
	uint8_t cmd_body[DF_BODY_MAX];
	uint8_t cmd_resp[DF_RESP_MAX];
};

/* Internal communication mode: the data is a complete, already
 * integrity-protected cryptogram that is only padded and enciphered
 * (ChangeKey). */
#define DF_COMM_ENC_RAW 4
/* Management commands: plain under D40, CMAC-chained under EV1 (the
 * response carries the MAC), MACt both ways under EV2. */
#define DF_COMM_MGMT 5
/* Response of a write in mode m. */
#define DF_WRITE_RESP(m) ((m) == DFI_DF_COMM_PLAIN ? DFI_DF_COMM_PLAIN : DF_COMM_MGMT)
/* Flags of df_command(). */
#define DF_F_NO_RESP_MAC 0x01 /* the card sends no MAC (auth key changed) */

/* Drops the authentication (and wipes the session keys). */
void df_drop_auth(dfi_desfire *d);

/* Sends body as the command cmd, in as many 0xAF frames as it needs, and
 * collects the response data of all frames into out. *sw2 is the final
 * status. Status errors are returned as DFI_OK with *sw2 set: callers map. */
dfi_err df_xfer(dfi_desfire *d, uint8_t cmd, const uint8_t *body, size_t bodylen,
    uint8_t *out, size_t cap, size_t *outlen, uint8_t *sw2);
/* One frame: 90 ins 00 00 [Lc data] 00. */
dfi_err df_frame(dfi_desfire *d, uint8_t ins, const uint8_t *data, size_t len,
    uint8_t *out, size_t cap, size_t *outlen, uint8_t *sw2);

/* Full command: wrap, exchange, status, unwrap. expect is the exact
 * length of the unprotected response data when known, SIZE_MAX if not. */
dfi_err df_command(dfi_desfire *d, uint8_t cmd, const uint8_t *hdr, size_t hdrlen,
    const uint8_t *data, size_t datalen, unsigned cmd_mode, unsigned resp_mode, unsigned flags,
    size_t expect, uint8_t *out, size_t cap, size_t *outlen);

/* The Get* management reads (version, key settings, key version, AIDs, file
 * IDs, file settings): cmd with an optional one-byte key or file number,
 * no data, the response data into out, MACed as DF_COMM_MGMT. One place
 * so the six readers differ only in what they parse. */
dfi_err df_get(dfi_desfire *d, uint8_t cmd, const uint8_t *hdr, size_t hdrlen, uint8_t *out,
    size_t cap, size_t *outlen);

dfi_err df_wrap(dfi_desfire *d, uint8_t cmd, const uint8_t *hdr, size_t hdrlen,
    const uint8_t *data, size_t datalen, unsigned mode, uint8_t *out, size_t cap, size_t *outlen);
dfi_err df_unwrap(dfi_desfire *d, unsigned mode, const uint8_t *resp, size_t len, uint8_t sw2,
    size_t expect, uint8_t *out, size_t cap, size_t *outlen);

/* Per-scheme secure messaging. */
dfi_err df_d40_wrap(dfi_desfire *d, const uint8_t *data, size_t datalen, unsigned mode,
    dfi_wr *w);
dfi_err df_d40_unwrap(dfi_desfire *d, unsigned mode, const uint8_t *resp, size_t len,
    size_t expect, uint8_t *out, size_t cap, size_t *outlen);
dfi_err df_ev1_wrap(dfi_desfire *d, uint8_t cmd, const uint8_t *hdr, size_t hdrlen,
    const uint8_t *data, size_t datalen, unsigned mode, dfi_wr *w);
dfi_err df_ev1_unwrap(dfi_desfire *d, unsigned mode, const uint8_t *resp, size_t len, uint8_t sw2,
    size_t expect, uint8_t *out, size_t cap, size_t *outlen);
dfi_err df_ev2_wrap(dfi_desfire *d, uint8_t cmd, const uint8_t *hdr, size_t hdrlen,
    const uint8_t *data, size_t datalen, unsigned mode, dfi_wr *w);
dfi_err df_ev2_unwrap(dfi_desfire *d, unsigned mode, const uint8_t *resp, size_t len, uint8_t sw2,
    uint8_t *out, size_t cap, size_t *outlen);

/* The n bytes of a response's data into out; more than cap bytes is the
 * card's error (the caller sized out for what the command returns). */
dfi_err df_copy_out(const uint8_t *p, size_t n, uint8_t *out, size_t cap, size_t *outlen);
/* Finds the data length n of a deciphered plaintext p[0..len) laid out as
 * data || CRC || zero padding (padding shorter than a block), where the CRC
 * (crclen 2: CRC16 over data; 4: CRC32 over data || sw2 when with_sw) is
 * valid. expect narrows the search to one length. */
dfi_err df_find_crc(const uint8_t *p, size_t len, size_t bl, size_t crclen, int with_sw,
    uint8_t sw2, size_t expect, size_t *n);
/* df_find_crc, then the data before the CRC into out (at most cap bytes):
 * what both schemes do with a deciphered response. */
dfi_err df_take_crc_data(const uint8_t *p, size_t len, size_t bl, size_t crclen, int with_sw,
    uint8_t sw2, size_t expect, uint8_t *out, size_t cap, size_t *outlen);

dfi_err df_random(dfi_desfire *d, uint8_t *out, size_t len);

/* SDM settings after a file's access rights (sdm_settings.c). */
dfi_err df_parse_sdm(dfi_rd *r, struct dfi_df_sdm *s);

/* One message of an authentication: the card must answer with status
 * want_sw2 and exactly want_len bytes (r holds DFI_APDU_MAX). */
/* The part the EV2 (AES) and LRP session vectors share: 00 01 00 80 ||
 * RndA[15..14] || (RndA[13..8] ^ RndB[15..10]) || RndB[9..0] ||
 * RndA[7..0], byte 15 first (30 bytes). */
void df_session_sv_body(const uint8_t a[16], const uint8_t b[16], uint8_t out[30]);
dfi_err df_auth_exchange(dfi_desfire *d, uint8_t cmd, const uint8_t *data, size_t len,
    uint8_t want_sw2, uint8_t *r, size_t want_len);
/* An EV2 session is up (AES or LRP): TI, counter, zero IV, scheme, key (auth.c). */
void df_ev2_established(dfi_desfire *d, const uint8_t ti[4], uint16_t ctr, uint8_t keyno);
/* AuthenticateLRPFirst (first != 0) / NonFirst (auth_lrp.c). */
dfi_err df_auth_lrp(dfi_desfire *d, int first, uint8_t keyno, const dfi_cardkey *key,
    uint16_t ctr_keep);
/* The session instances from SesAuthMasterKey (in d->s->enc). */
dfi_err df_lrp_session_from_master(dfi_desfire *d);

static inline void
df_put_le24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
}

#endif
