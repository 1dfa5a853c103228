/*
 * dfissue — the HSM layer: any PKCS#11 module through p11-kit, tokens and
 * keys selected by RFC 7512 pkcs11: URIs, per-card keys diversified inside
 * the HSM (NXP AN10922), and the journal's signing key.
 *
 * Callers hold opaque handles, never master-key bytes. Card keys made here
 * are dfi_cardkey handles (cardkey.h) whose cipher and CMAC run in the HSM;
 * their with_bytes operation is the one audited place where a per-card key
 * is materialized on the host (locked memory, wiped at once; SECURITY.md).
 *
 * Thread safety: one dfi_hsm may be shared by several threads. Each call
 * borrows a PKCS#11 session from a small pool (at most max_sessions, opened
 * on demand), so threads do not serialize on one session. Key handles and
 * card keys may be used from any thread while their dfi_hsm lives; they
 * must be freed before it.
 */
#ifndef DFISSUE_HSM_H
#define DFISSUE_HSM_H

#include <stddef.h>
#include <stdint.h>

#include "dfissue/cardkey.h"
#include "dfissue/crypto.h"
#include "dfissue/error.h"
#include "dfissue/signer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dfi_hsm dfi_hsm;
typedef struct dfi_hsm_key dfi_hsm_key;

#define DFI_HSM_DEFAULT_MODULE "softhsm2"
#define DFI_HSM_DEFAULT_PIN_ENV "DFISSUE_PIN"
#define DFI_HSM_DEFAULT_SESSIONS 8u

struct dfi_hsm_config {
	/* A path to a PKCS#11 module (contains a '/'), or the name of a module
	 * registered in p11-kit's configuration. NULL = "softhsm2". */
	const char *module;
	/* pkcs11: URI selecting the token (only its token/slot attributes are
	 * used, so a key URI works too). NULL or "pkcs11:" = the only token
	 * present (an error when there are several). */
	const char *token_uri;
	/* PIN sources, tried in this order: the first line of pin_file; the
	 * environment variable pin_env (NULL = "DFISSUE_PIN"); a prompt with
	 * echo off on the controlling terminal when allow_prompt is set. Never
	 * argv. No source at all is DFI_E_HSM_PIN_REQUIRED (unless the token
	 * needs no login or has a protected authentication path). */
	const char *pin_file;
	const char *pin_env;
	int allow_prompt;
	/* Accept master keys that are extractable or not sensitive. For
	 * throwaway test tokens only: dfi_hsm_open warns loudly on stderr. */
	int allow_insecure_keys;
	/* Session pool size; 0 = DFI_HSM_DEFAULT_SESSIONS. */
	unsigned max_sessions;
	/* Optional: receives one line of detail on failure of dfi_hsm_open
	 * (e.g. "C_Login: CKR_PIN_INCORRECT"). May be NULL. */
	char *detail;
	size_t detail_cap;
};

/* Loads the module, finds the token, opens a first session and logs in as
 * the user. Errors: DFI_E_HSM_MODULE, DFI_E_HSM_URI, DFI_E_HSM_TOKEN_NOT_FOUND,
 * DFI_E_HSM_PIN_REQUIRED, DFI_E_HSM_PIN_INCORRECT, DFI_E_HSM_PIN_LOCKED, ... */
dfi_err dfi_hsm_open(dfi_hsm **out, const struct dfi_hsm_config *cfg);
void dfi_hsm_free(dfi_hsm *h);

/* One line naming the last PKCS#11 failure seen on this handle ("C_Sign:
 * CKR_KEY_HANDLE_INVALID"), or "" if none. Copied into buf. */
void dfi_hsm_last_detail(dfi_hsm *h, char *buf, size_t cap);

/* Token label (as the token reports it, trailing blanks removed). */
const char *dfi_hsm_token_label(const dfi_hsm *h);

/* ---- symmetric keys ---------------------------------------------------- */

/* Finds exactly one secret key by pkcs11: URI (object=, id=, type=).
 * DFI_E_HSM_KEY_NOT_FOUND when none, DFI_E_HSM_KEY_AMBIGUOUS for more than
 * one, DFI_E_HSM_KEY_INSECURE when CKA_EXTRACTABLE is true or CKA_SENSITIVE
 * false (unless allow_insecure_keys), DFI_E_HSM_KEY_TYPE for a key that is
 * not AES-128, 2K3DES (CKK_DES2) or 3K3DES (CKK_DES3). A URI whose token
 * attributes do not match the open token is DFI_E_HSM_TOKEN_NOT_FOUND. */
dfi_err dfi_hsm_key_find(dfi_hsm *h, const char *uri, dfi_hsm_key **out);
void dfi_hsm_key_free(dfi_hsm_key *k);
dfi_keytype dfi_hsm_key_type(const dfi_hsm_key *k);
const char *dfi_hsm_key_label(const dfi_hsm_key *k);

/* Key check value: leftmost 3 bytes of ECB(K, zero block) — 16 zero bytes
 * for AES, 8 for the DES family. Computed in the HSM. */
dfi_err dfi_hsm_kcv(dfi_hsm *h, const dfi_hsm_key *key, uint8_t kcv[3]);
/* The same for any card key, through its cipher operation. */
dfi_err dfi_hsm_cardkey_kcv(const dfi_cardkey *k, uint8_t kcv[3]);

/* A per-card key K = AN10922(master, m), m = UID || AID || system
 * identifier (the caller builds m). type must equal the master's type:
 * AES-128 (§2.2, 1 <= mlen <= 31), 2K3DES (§2.3) or 3K3DES (§2.4)
 * (1 <= mlen <= 15). The derived key is a sensitive, non-extractable
 * session object in the HSM; version is the DESFire key version the card
 * key carries (the key bytes are those AN10922 gives; DES parity bits are
 * left as derived). */
dfi_err dfi_hsm_cardkey_diversified(dfi_hsm *h, const dfi_hsm_key *master, dfi_keytype type,
    const uint8_t *m, size_t mlen, uint8_t version, dfi_cardkey **out);

/* The base key itself as a card key (no diversification). Its with_bytes
 * is NULL: a base key is never materialized. */
dfi_err dfi_hsm_cardkey_base(dfi_hsm *h, const dfi_hsm_key *key, dfi_keytype type,
    uint8_t version, dfi_cardkey **out);

/* Key listing for `dfissue key list`. */
struct dfi_hsm_key_info {
	char label[65];
	uint8_t id[32];
	size_t id_len; /* 0 when absent; ids longer than 32 bytes are truncated */
	char type[16]; /* "aes", "2k3des", "3k3des", "des", "ec", "ec-edwards", ... */
	unsigned long ck_class; /* CKO_* */
	char cls[8];            /* "secret", "private", "public" */
	size_t value_len; /* bytes, 0 if unknown */
	int sensitive, extractable, is_token;
	int has_kcv; /* KCV computed (secret keys allowed to encrypt) */
	uint8_t kcv[3];
};
/* Every secret, private and public key object on the token (optionally
 * restricted by a pkcs11: URI; NULL = all). Caller frees *out with free(). */
dfi_err dfi_hsm_key_list(dfi_hsm *h, const char *uri, struct dfi_hsm_key_info **out, size_t *n);

/* A pkcs11: URI naming the secret key with this label (percent-encoded by
 * p11-kit). Caller frees *uri with free(). */
dfi_err dfi_hsm_secret_key_uri(const char *label, char **uri);

/* Creates a token key from host bytes (the key ceremony): CKA_TOKEN,
 * CKA_SENSITIVE true, CKA_EXTRACTABLE false; may encrypt, decrypt, sign
 * (CMAC) and derive. type AES128, 2K3DES or 3K3DES. Refuses a label that
 * already exists (DFI_E_INVALID_ARG). The caller wipes key. */
dfi_err dfi_hsm_key_import(dfi_hsm *h, dfi_keytype type, const uint8_t *key, size_t keylen,
    const char *label, const uint8_t *id, size_t id_len);

/* ---- journal signing key ----------------------------------------------- */

/* A signer on the private key the URI names (type=private implied). The
 * algorithm follows the key: CKK_EC_EDWARDS = Ed25519 (CKM_EDDSA),
 * CKK_EC on P-256 = ECDSA (CKM_ECDSA over a host SHA-256; raw r||s). */
dfi_err dfi_hsm_signer_new(dfi_hsm *h, const char *uri, dfi_signer **out);

/* Generates a token key pair labelled label (private key sensitive and
 * non-extractable). Refuses an existing label. */
dfi_err dfi_hsm_journal_key_generate(dfi_hsm *h, const char *label, dfi_sigalg alg);

/* The public key of the key pair the URI names, as a PEM SubjectPublicKeyInfo
 * ("-----BEGIN PUBLIC KEY-----"); built by OpenSSL from CKA_EC_POINT and
 * CKA_EC_PARAMS. Caller frees *pem with free(). */
dfi_err dfi_hsm_public_key_pem(dfi_hsm *h, const char *uri, char **pem);
/* DER SubjectPublicKeyInfo to PEM (any signer). Caller frees *pem. */
dfi_err dfi_pubkey_der_to_pem(const uint8_t *der, size_t len, char **pem);

/* ---- statistics -------------------------------------------------------- */

struct dfi_hsm_stats {
	uint64_t calls;    /* PKCS#11 function calls made through this handle */
	uint64_t sessions; /* sessions opened */
	uint64_t logins;   /* C_Login calls (first login and re-logins) */
};
void dfi_hsm_stats(dfi_hsm *h, struct dfi_hsm_stats *out);

#ifdef __cplusplus
}
#endif
#endif
