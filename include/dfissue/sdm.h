/*
 * dfissue — Secure Dynamic Messaging (SDM, "SUN"): the cryptography of the
 * mirrored data a DESFire EV3 or NTAG 424 DNA file shows on every
 * unauthenticated read, for the backend that checks a tap and for the
 * simulator that produces one (NXP AN12196; AN12304 for LRP).
 *
 *  - PICC data, encrypted with the SDM meta-read key: PICCDataTag || [UID]
 *    || [SDMReadCtr, 3 bytes LSB first] || padding, 16 bytes, AES-CBC with a
 *    zero IV (AES mode), or PICCRand (8 bytes) || LRICB with updated key 0
 *    and counter PICCRand (LRP mode).
 *  - Session keys from the SDM file-read key K: AES mode SesSDMFileReadENC
 *    = CMAC(K, SV1), SesSDMFileReadMAC = CMAC(K, SV2), SV1/SV2 = C3 3C / 3C
 *    C3 || 00 01 00 80 || [UID] || [SDMReadCtr] zero-padded to 16 bytes;
 *    LRP mode SesSDMFileReadMaster = CMAC_LRP(K, 00 01 00 80 || [UID] ||
 *    [SDMReadCtr] || zeros || 1E E1), a multiple of 16 bytes, whose
 *    updated keys 0 and 1 MAC and encipher.
 *  - SDMMAC: the odd-numbered bytes (1, 3, .., 15) of the CMAC (CMAC_LRP)
 *    with the MAC session key over the file's bytes from SDMMACInputOffset
 *    up to SDMMACOffset.
 *  - Encrypted file data: AES-CBC with SesSDMFileReadENC from IV =
 *    E(SesSDMFileReadENC, SDMReadCtr || 0^13), or LRICB with updated key 1
 *    and counter SDMReadCtr || 00 00 00.
 *
 * Every operation with an SDM key is made by the key's holder through its
 * dfi_cardkey (the HSM for keys the HSM layer made): one ECB/CBC decryption
 * of the PICC data and two CMACs (AES mode), or one ECB of two constant
 * blocks per key (LRP mode, dfi_lrp_init_cardkey). Session keys live in
 * locked memory on the host.
 *
 * Thread safety: every function here is reentrant. A dfi_sdm_keys is
 * immutable once made (threads may share it); the card keys given are
 * used during the call only, never kept.
 */
#ifndef DFISSUE_SDM_H
#define DFISSUE_SDM_H

#include <stddef.h>
#include <stdint.h>

#include "dfissue/cardkey.h"
#include "dfissue/desfire.h"
#include "dfissue/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum dfi_sdm_cipher {
	DFI_SDM_AES = 0, /* a card in AES mode */
	DFI_SDM_LRP = 1, /* a card in LRP mode */
};

#define DFI_SDM_UID_LEN 7
#define DFI_SDM_PICC_AES 16 /* bytes of encrypted PICC data */
#define DFI_SDM_PICC_LRP 24
#define DFI_SDM_MAC_LEN 8

/* The PICCDataTag: bit 7 UID mirrored, bit 6 counter mirrored, bits 3..0
 * the UID length (7). */
struct dfi_sdm_picc {
	uint8_t tag;
	int has_uid, has_ctr;
	uint8_t uid[DFI_SDM_UID_LEN];
	uint32_t ctr;
};

/* Decrypts encrypted PICC data (16 bytes AES, 24 bytes LRP) with the meta
 * key and checks its tag (a wrong key gives a tag that is refused with
 * DFI_E_CARD_MAC, most of the time: the MAC check is what decides). */
dfi_err dfi_sdm_picc_decrypt(const dfi_cardkey *meta, enum dfi_sdm_cipher c,
    const uint8_t *enc, size_t len, struct dfi_sdm_picc *out);
/* The card's side: rnd holds the random bytes a card chooses (PICCRand
 * for LRP in the first 8, the padding after them), the PICC data goes to
 * out (16 or 24 bytes). */
dfi_err dfi_sdm_picc_encrypt(const dfi_cardkey *meta, enum dfi_sdm_cipher c,
    const struct dfi_sdm_picc *in, const uint8_t rnd[24], uint8_t *out, size_t cap,
    size_t *len);

/* Session keys for one read, in locked memory. uid/ctr: the mirrored values
 * (NULL when that mirror is off; they enter the session vector only then). */
typedef struct dfi_sdm_keys dfi_sdm_keys;
/* Derives them with file_read (used now, not kept). The caller frees *out
 * with dfi_sdm_keys_free, which wipes them. */
dfi_err dfi_sdm_keys_new(dfi_sdm_keys **out, const dfi_cardkey *file_read,
    enum dfi_sdm_cipher c, const uint8_t *uid, const uint32_t *ctr);
void dfi_sdm_keys_free(dfi_sdm_keys *k);
/* SDMMAC over the MAC input. */
dfi_err dfi_sdm_mac(const dfi_sdm_keys *k, const uint8_t *in, size_t len,
    uint8_t mac[DFI_SDM_MAC_LEN]);
/* Enciphers or deciphers len bytes (a multiple of 16) of file data. Needs
 * the counter (keys made with ctr). */
dfi_err dfi_sdm_file_crypt(const dfi_sdm_keys *k, int encrypt, const uint8_t *in,
    uint8_t *out, size_t len);
/* For vectors: the AES session keys (ENC, MAC), or the LRP master in both. */
dfi_err dfi_sdm_keys_export(const dfi_sdm_keys *k, uint8_t enc[16], uint8_t mac[16]);

/* ---- where the mirrors are: a file laid out from a template ------------- *
 * A template is the text of the file, usually a URL, with placeholders
 * that the card fills on every read:
 *   {uid}   the UID, 14 hex characters (plain mirror)
 *   {ctr}   SDMReadCtr, 6 hex characters, most significant first (plain)
 *   {picc}  the encrypted PICC data, 32 (AES) or 48 (LRP) hex characters
 *   {enc:N} N bytes of the file (N a multiple of 16) mirrored enciphered,
 *           2N hex characters
 *   {mac}   SDMMAC, 16 hex characters
 *   {macin} no characters: where the MAC input starts (default: at {enc}
 *           when there is one, else at {mac}, an empty input)
 * {uid}/{ctr} and {picc} exclude each other. With ndef set the file is an
 * NDEF message holding one URI record (NFC Forum URI RTD), the template an
 * absolute http(s) URL; its prefix is abbreviated as the RTD says. */
#define DFI_SDM_TEMPLATE_MAX 240 /* characters of the text */

struct dfi_sdm_layout {
	enum dfi_sdm_cipher cipher;
	int ndef;
	uint8_t file[7 + DFI_SDM_TEMPLATE_MAX]; /* the content as written, */
	size_t file_len;                         /* placeholders holding '0' */
	char text[DFI_SDM_TEMPLATE_MAX + 1]; /* the full text, placeholders as '0' */
	size_t text_len;
	size_t prefix_len; /* leading text characters the file abbreviates (NDEF URI prefix) */
	size_t text_at;    /* offset in the file of text[prefix_len] */
	/* placeholder positions in text (SIZE_MAX when absent) */
	size_t uid_at, ctr_at, picc_at, enc_at, mac_at, macin_at;
	/* mirrors and offsets as ChangeFileSettings takes them; the caller
	 * sets the rights (ctr_ret, meta_read, file_read). */
	struct dfi_df_sdm sdm;
	int has_uid, has_ctr, has_picc, has_enc, has_mac;
	size_t enc_bytes; /* N of {enc:N} */
};

/* Parses a template. On failure DFI_E_PARSE with the reason in why. The
 * caller's rights decide nothing here; dfi_df_sdm_validate() then checks
 * the result against them. */
dfi_err dfi_sdm_layout_parse(const char *tmpl, enum dfi_sdm_cipher c, int ndef,
    struct dfi_sdm_layout *out, char *why, size_t whycap);

/* One tap, its fields located through the layout. */
struct dfi_sdm_tap {
	char text[DFI_SDM_TEMPLATE_MAX + 1]; /* the file's text as the card showed it */
	size_t text_len;
	uint8_t uid[DFI_SDM_UID_LEN];   /* plain mirrors */
	uint32_t ctr;
	uint8_t picc[DFI_SDM_PICC_LRP]; /* encrypted PICC data */
	size_t picc_len;
	uint8_t enc[DFI_SDM_TEMPLATE_MAX / 2]; /* encrypted file data */
	size_t enc_len;
	uint8_t mac[DFI_SDM_MAC_LEN];
	size_t mac_in_at, mac_in_len; /* the MAC input, in text */
};

/* What tap data is. */
enum dfi_sdm_input {
	DFI_SDM_IN_AUTO = 0, /* URL if it has "://", the file's bytes if it is all
	                      * hex, a query if it has '?' or '=', else text */
	DFI_SDM_IN_URL,      /* the full URL a phone opened */
	DFI_SDM_IN_QUERY,    /* the URL's query (after '?', which may be included) */
	DFI_SDM_IN_HEX,      /* the file's bytes (a ReadData of the file) in hex */
	DFI_SDM_IN_TEXT,     /* the file's text itself */
};

/* Matches tap data against the layout. Every literal part must be as the
 * template says and every placeholder upper- or lower-case hex of its
 * length. DFI_E_PARSE with the reason otherwise. */
dfi_err dfi_sdm_tap_parse(const struct dfi_sdm_layout *l, const char *data,
    enum dfi_sdm_input kind, struct dfi_sdm_tap *out, char *why, size_t whycap);

/* The result of checking one tap. */
struct dfi_sdm_result {
	uint8_t uid[DFI_SDM_UID_LEN];
	int has_uid;
	uint32_t ctr;
	int has_ctr;
	uint8_t file[DFI_SDM_TEMPLATE_MAX / 2]; /* deciphered {enc} bytes */
	size_t file_len;
};

/* The SDM file-read key for a card, given its UID (NULL when the layout
 * mirrors no UID): the caller diversifies as the profile says. */
typedef dfi_err (*dfi_sdm_file_key_fn)(void *arg, const uint8_t *uid, dfi_cardkey **out);

/* Checks a parsed tap: decrypts the PICC data with meta (when the layout
 * has {picc}), derives the file-read key through file_key, verifies the
 * MAC in constant time (DFI_E_CARD_MAC when it fails) and deciphers the
 * encrypted data. Counter freshness is the caller's business. */
dfi_err dfi_sdm_verify(const struct dfi_sdm_layout *l, const struct dfi_sdm_tap *t,
    const dfi_cardkey *meta, dfi_sdm_file_key_fn file_key, void *arg,
    struct dfi_sdm_result *out);

#ifdef __cplusplus
}
#endif
#endif
