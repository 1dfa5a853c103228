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
 * on demand), so threads do not serialize on one session. Key handles,
 * card keys and signers made from a dfi_hsm (dfi_hsm_key_find,
 * dfi_hsm_cardkey_*, dfi_hsm_signer_new) may be used from any thread while
 * it lives; they borrow it (every operation takes a session from its
 * pool), so they must all be freed before dfi_hsm_free: a card key used or
 * a signer signing after it reads freed memory. A journal that holds such a
 * signer (journal.h) must therefore be closed before the HSM is freed.
 * The detail of a failure (dfi_hsm_last_detail, dfi_hsm_detail_for) is
 * kept per calling thread: a thread reads only its own.
 */
#ifndef DFISSUE_HSM_H
#define DFISSUE_HSM_H

#include <stddef.h>
#include <stdint.h>

#include "dfissue/cardkey.h"
#include "dfissue/crypto.h"
#include "dfissue/error.h"
#include "dfissue/log.h"
#include "dfissue/signer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dfi_hsm dfi_hsm;
typedef struct dfi_hsm_key dfi_hsm_key;

#define DFI_HSM_DEFAULT_MODULE "softhsm2"
#define DFI_HSM_DEFAULT_PIN_ENV "DFISSUE_PIN"
#define DFI_HSM_DEFAULT_SESSIONS 8u

/* How a per-card key K = AN10922(base, M) is computed (SECURITY.md §2).
 * Chosen per base key from what the token offers (its mechanism list, read
 * once per handle) and what the key's attributes allow, in this order of
 * preference:
 *   SP800_108  one C_DeriveKey, CKM_SP800_108_COUNTER_KDF with AES-CMAC as
 *              PRF, an 8-bit counter from 1 and M as fixed input: counter
 *              1 gives CMAC(K, 0x01 || M), which is AN10922 exactly when
 *              0x01 || M fills 17..32 bytes (M of 16..31 bytes; shorter M
 *              falls back to the next path the key allows). AES-128 only;
 *              the base key needs CKA_DERIVE and nothing else.
 *   ECB        C_Encrypt (CKM_*_ECB) of the first AN10922 block, then
 *              CKM_*_ECB_ENCRYPT_DATA over (that XOR the second block).
 *              AES-128, 2K3DES, 3K3DES; CKA_ENCRYPT and CKA_DERIVE.
 *   CBC        C_Encrypt of the first block, then CKM_AES_CBC_ENCRYPT_DATA
 *              with that as IV over the second block. AES-128 only.
 *   HOST       opt-in (allow_host_derivation): K is computed with C_Encrypt
 *              into locked host memory and made a session key object, for
 *              tokens with no usable derive. Needs only CKA_ENCRYPT. */
typedef enum dfi_hsm_path {
	DFI_HSM_PATH_AUTO = 0, /* as a request: the token's best; as a result: none */
	DFI_HSM_PATH_SP800_108 = 1,
	DFI_HSM_PATH_ECB = 2,
	DFI_HSM_PATH_CBC = 3,
	DFI_HSM_PATH_HOST = 4,
} dfi_hsm_path;
#define DFI_HSM_PATH_NONE DFI_HSM_PATH_AUTO
#define DFI_HSM_PATH_COUNT 5

/* "sp800-108", "ecb-encrypt-data", "cbc-encrypt-data", "host", "auto". */
const char *dfi_hsm_path_name(dfi_hsm_path p);
/* Accepts the names above and the short forms "sp800", "ecb", "cbc". */
dfi_err dfi_hsm_path_parse(const char *name, dfi_hsm_path *out);

struct dfi_hsm_config {
	/* A path to a PKCS#11 module (contains a '/'), the path of a p11-kit
	 * module file ("NAME.module", pkcs11.conf(5): its "module:" and
	 * "x-init-reserved:" lines are used, the file need not be registered),
	 * or the name of a module registered in p11-kit's configuration.
	 * NULL = "softhsm2". A module whose C_Initialize refuses its arguments
	 * fails with DFI_E_HSM_INIT. */
	const char *module;
	/* pkcs11: URI selecting the token (only its token/slot attributes are
	 * used, so a key URI works too). NULL or "pkcs11:" = the only token
	 * present (an error when there are several). */
	const char *token_uri;
	/* PIN sources, tried in this order: the first line of pin_file; the
	 * environment variable pin_env (NULL = "DFISSUE_PIN"); a prompt with
	 * echo off on the controlling terminal when allow_prompt is set. Never
	 * argv. No source at all is DFI_E_HSM_PIN_REQUIRED (unless the token
	 * needs no login or has a protected authentication path), and so is a
	 * source refused (a PIN file that is a link, not a regular file, not
	 * ours, open to others, empty or too long; an unset pin_env). A
	 * pin_file the system does not let us open or read is the system's
	 * answer: DFI_E_NOT_FOUND, DFI_E_PERMISSION or DFI_E_IO. Either way
	 * the detail (cfg->detail below) names the file and the reason. */
	const char *pin_file;
	const char *pin_env;
	int allow_prompt;
	/* Accept master keys that are extractable or not sensitive. For
	 * throwaway test tokens only: the handle warns (log, below) when it is
	 * opened so and each time it uses such a key. */
	int allow_insecure_keys;
	/* Session pool size; 0 = DFI_HSM_DEFAULT_SESSIONS. */
	unsigned max_sessions;
	/* Optional: receives one line of detail on failure of dfi_hsm_open
	 * (e.g. "C_Login: CKR_PIN_INCORRECT"). May be NULL. */
	char *detail;
	size_t detail_cap;
	/* The derivation path for every base key: AUTO (the default) picks
	 * the best one each key allows; any other value is the only path used
	 * (dfi_hsm_cardkey_diversified fails where it does not apply). */
	dfi_hsm_path derivation;
	/* Allow the HOST path (per-card keys computed on the host; SECURITY.md
	 * §2.4). Without it HOST is never chosen nor accepted. */
	int allow_host_derivation;
	/* C_Initialize's pReserved string (p11-kit's x-init-reserved), e.g.
	 * NSS softoken's "configdir='sql:DIR' ...". NULL = the module file's
	 * x-init-reserved when module names a p11-kit module file (a path
	 * ending in ".module"), else none. */
	const char *init_args;
	/* Optional: receives the handle's messages for a person (dfissue/log.h),
	 * from dfi_hsm_open on; NULL drops them. */
	dfi_log_fn log;
	void *log_ctx;
};

/* Checks a pkcs11: URI (RFC 7512) as the token and key lookups will read
 * it, without loading a module: DFI_OK; DFI_E_HSM_URI with the reason in
 * why (cap bytes, one line, without the URI: the caller names it) when
 * p11-kit cannot parse it, when it has an attribute p11-kit does not know
 * (a typo such as "tokn=" would otherwise match nothing and read as an
 * absent HSM or key) or when it carries a pin-value; DFI_E_NOMEM. what is
 * "token" or "key": what the URI names, for the reason's words. */
dfi_err dfi_hsm_uri_check(const char *uri, const char *what, char *why, size_t cap);
/* The label (object=, CKA_LABEL) a key URI names, as the key lookups read
 * it (percent-decoded by p11-kit), NUL-terminated into label: DFI_OK;
 * DFI_E_NOT_FOUND when the URI names no label (or one holding a NUL byte);
 * DFI_E_HSM_URI when dfi_hsm_uri_check() refuses it;
 * DFI_E_BUFFER_TOO_SMALL; DFI_E_NOMEM. */
dfi_err dfi_hsm_uri_label(const char *uri, char *label, size_t cap);

/* Loads the module, finds the token, opens a first session and logs in as
 * the user. Errors: DFI_E_HSM_MODULE, DFI_E_HSM_URI, DFI_E_HSM_TOKEN_NOT_FOUND,
 * DFI_E_HSM_PIN_REQUIRED, DFI_E_HSM_PIN_INCORRECT, DFI_E_HSM_PIN_LOCKED, ... */
dfi_err dfi_hsm_open(dfi_hsm **out, const struct dfi_hsm_config *cfg);
void dfi_hsm_free(dfi_hsm *h);

/* The detail of the calling thread's last failure on h: one line naming
 * the PKCS#11 call and its return value ("C_Sign: An error occurred on the
 * device (CKR 0x30)"), or what else was wrong ("no secret key matches
 * 'pkcs11:object=x' on token 'y'", a PIN source and its fix). It is copied
 * into buf, the caller's (cap bytes, NUL-terminated, cut to fit); nothing
 * is allocated and h keeps its own copy. buf receives "" when this thread
 * has failed nothing on h, when h is NULL, and for a thread whose detail
 * was given up for another's: h keeps the details of the last 8 threads
 * that failed on it, each for its own thread only, so a station's reader
 * never reads another reader's failure. Nothing is written when buf is
 * NULL or cap is 0.
 *
 * The detail stays until the thread's next failure on h, also after calls
 * that succeed, and may be of a failure the library tolerated on the way
 * to a success or to another error (a key looked up under another class):
 * to explain an error a call returned, use dfi_hsm_detail_for. */
void dfi_hsm_last_detail(dfi_hsm *h, char *buf, size_t cap);

/* As dfi_hsm_last_detail, but only when that detail was recorded for the
 * error e, the error in hand (a call on h returned it to this thread);
 * otherwise buf receives "" (also for e DFI_OK): an error that recorded no
 * detail of its own is never explained by an earlier failure's. A detail
 * of an earlier failure with the very same error is not told apart. */
void dfi_hsm_detail_for(dfi_hsm *h, dfi_err e, char *buf, size_t cap);

/* Token label (as the token reports it, trailing blanks removed); owned
 * by h, valid until dfi_hsm_free(h). */
const char *dfi_hsm_token_label(const dfi_hsm *h);

/* ---- module, slots and mechanisms (dfissue hsm check) ------------------ */

struct dfi_hsm_module_info {
	char path[256];         /* the library loaded */
	char manufacturer[33];  /* CK_INFO, trailing blanks removed */
	char description[33];
	unsigned cryptoki_major, cryptoki_minor; /* PKCS#11 version */
	unsigned lib_major, lib_minor;
	int init_args; /* C_Initialize was given pReserved */
};

struct dfi_hsm_slot_info {
	unsigned long id;
	char description[65];
	int token_present;
	/* The token's, when present: */
	char label[33], manufacturer[33], model[17], serial[17];
	int initialized, login_required, protected_path, user_pin_locked;
	int user_pin_initialized, user_pin_to_be_changed;
};

/* Loads the module as dfi_hsm_open would (module, init_args), reads CK_INFO
 * and every slot with its token, and unloads it. No session, no login: for
 * `dfissue hsm check` to show what is there even when dfi_hsm_open fails.
 * *slots is malloc()ed (free()). detail as in the config. */
dfi_err dfi_hsm_probe(const struct dfi_hsm_config *cfg, struct dfi_hsm_module_info *info,
    struct dfi_hsm_slot_info **slots, size_t *nslots);

/* The module of an open handle. */
void dfi_hsm_module(const dfi_hsm *h, struct dfi_hsm_module_info *info);

/* A mechanism dfissue can use, as the open token reports it. */
struct dfi_hsm_mech_info {
	const char *name;    /* "CKM_AES_ECB" */
	unsigned long type;  /* CKM_* value */
	const char *use;     /* what dfissue uses it for, one phrase */
	int present;         /* in C_GetMechanismList */
	unsigned long flags; /* CKF_* from C_GetMechanismInfo (0 if absent) */
	int usable;          /* present with the flags dfissue needs */
};
/* Every mechanism dfissue looks for, in a fixed order; the array lives as
 * long as h. */
size_t dfi_hsm_mechanisms(dfi_hsm *h, const struct dfi_hsm_mech_info **out);

/* The path keys of type t would use on this token (the first usable one,
 * the configured one when not AUTO), given base keys created for it (see
 * dfi_hsm_key_import_path). DFI_HSM_PATH_NONE when none applies. */
dfi_hsm_path dfi_hsm_token_path(dfi_hsm *h, dfi_keytype t);
/* Whether path p can serve keys of type t on this token: DFI_OK, or
 * DFI_E_HSM_MECHANISM with why (if not NULL) saying in plain words what
 * is missing and what would fix it. */
dfi_err dfi_hsm_token_path_check(dfi_hsm *h, dfi_keytype t, dfi_hsm_path p, char *why, size_t cap);

/* Known-answer test: runs the AN10922 vectors of type t (AES-128: the
 * application note's §2.2.1 example; 2K3DES, 3K3DES: §2.3, §2.4 as
 * libfreefare's tests use them) through path p with temporary session
 * keys (never token objects), checking the derived key's KCV in the HSM
 * and, where the path can materialize it, its bytes. DFI_OK when every
 * vector matched; DFI_E_CRYPTO on a wrong result; DFI_E_UNSUPPORTED when
 * the token makes no session key from bytes (the vector cannot run there);
 * other errors when the path failed (detail in why). kcv receives the first vector's
 * derived-key KCV (NULL allowed). */
dfi_err dfi_hsm_selftest(dfi_hsm *h, dfi_keytype t, dfi_hsm_path p, uint8_t kcv[3], char *why,
    size_t cap);

/* ---- symmetric keys ---------------------------------------------------- */

/* Finds exactly one secret key by pkcs11: URI (object=, id=, type=).
 * DFI_E_HSM_KEY_NOT_FOUND when none, DFI_E_HSM_KEY_AMBIGUOUS for more than
 * one, DFI_E_HSM_KEY_INSECURE when CKA_EXTRACTABLE is true or CKA_SENSITIVE
 * false (unless allow_insecure_keys), DFI_E_HSM_KEY_TYPE for a key that is
 * not AES-128, 2K3DES (CKK_DES2) or 3K3DES (CKK_DES3). A URI whose token
 * attributes do not match the open token is DFI_E_HSM_TOKEN_NOT_FOUND. */
/* The caller frees *out with dfi_hsm_key_free, before h. */
dfi_err dfi_hsm_key_find(dfi_hsm *h, const char *uri, dfi_hsm_key **out);
void dfi_hsm_key_free(dfi_hsm_key *k);
/* The key's type and its CKA_LABEL ("" when it has none); the label is
 * owned by k and valid until dfi_hsm_key_free(k). */
dfi_keytype dfi_hsm_key_type(const dfi_hsm_key *k);
const char *dfi_hsm_key_label(const dfi_hsm_key *k);
/* The path this key's per-card keys take for an M of mlen bytes (SP800_108
 * only serves 16..31 bytes: shorter M takes the next path the key allows).
 * DFI_E_HSM_MECHANISM when none applies, with the reason as the handle's
 * last detail. */
dfi_err dfi_hsm_key_path(const dfi_hsm_key *k, size_t mlen, dfi_hsm_path *out);

/* Key check value: leftmost 3 bytes of ECB(K, zero block) — 16 zero bytes
 * for AES, 8 for the DES family. Computed in the HSM; for a key that may
 * not encrypt (the SP 800-108 path) the token's CKA_CHECK_VALUE, and
 * DFI_E_UNSUPPORTED when the token has none. */
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
	int has_kcv; /* KCV computed (secret keys allowed to encrypt), else
		      * the token's CKA_CHECK_VALUE */
	uint8_t kcv[3];
	int encrypt, derive;   /* CKA_ENCRYPT, CKA_DERIVE */
	int value_len_unknown; /* an AES key whose token reports no CKA_VALUE_LEN */
};
/* Every secret, private and public key object on the token (optionally
 * restricted by a pkcs11: URI; NULL = all). Caller frees *out with free(). */
dfi_err dfi_hsm_key_list(dfi_hsm *h, const char *uri, struct dfi_hsm_key_info **out, size_t *n);

/* A pkcs11: URI naming the secret key with this label (percent-encoded by
 * p11-kit). Caller frees *uri with free(). */
dfi_err dfi_hsm_secret_key_uri(const char *label, char **uri);

/* Creates a token key from host bytes (the key ceremony): CKA_TOKEN,
 * CKA_SENSITIVE true, CKA_EXTRACTABLE false, and only the usages the
 * derivation path needs (SP800_108: CKA_DERIVE; ECB, CBC: CKA_ENCRYPT and
 * CKA_DERIVE; HOST: CKA_ENCRYPT), with CKA_ALLOWED_MECHANISMS naming the
 * path's mechanisms where the token takes that attribute. path AUTO = what
 * dfi_hsm_token_path gives for type; *used (may be NULL) receives it. type
 * AES128, 2K3DES or 3K3DES. Refuses a label that already exists
 * (DFI_E_INVALID_ARG). The new object is then checked through the path
 * (the AN10922 key of a test M, derived in the HSM, against the host's
 * computation from key): on any failure after it was created, it is
 * destroyed again. The caller wipes key. */
dfi_err dfi_hsm_key_import_path(dfi_hsm *h, dfi_keytype type, const uint8_t *key, size_t keylen,
    const char *label, const uint8_t *id, size_t id_len, dfi_hsm_path path, dfi_hsm_path *used);
/* Usages a key gets beyond its derivation path's (dfi_hsm_key_import_usage). */
enum {
	/* An AES key that Secure Dynamic Messaging uses as it is (not
	 * diversified: `dfissue sdm verify --meta-key/--file-key` without
	 * --meta-div/--file-div): CKA_ENCRYPT, CKA_DECRYPT (the PICC data in
	 * AES mode) and CKA_SIGN (the SDM session keys by CMAC), with
	 * CKM_AES_ECB and CKM_AES_CMAC added to CKA_ALLOWED_MECHANISMS. */
	DFI_HSM_USAGE_SDM = 1u << 0,
};
/* dfi_hsm_key_import_path, the key also allowed the usages in usage
 * (DFI_HSM_USAGE_*; 0 = the path's only). DFI_E_INVALID_ARG for an
 * unknown bit or DFI_HSM_USAGE_SDM on a key that is not AES. */
dfi_err dfi_hsm_key_import_usage(dfi_hsm *h, dfi_keytype type, const uint8_t *key, size_t keylen,
    const char *label, const uint8_t *id, size_t id_len, dfi_hsm_path path, unsigned usage,
    dfi_hsm_path *used);
/* dfi_hsm_key_import_path with DFI_HSM_PATH_AUTO. */
dfi_err dfi_hsm_key_import(dfi_hsm *h, dfi_keytype type, const uint8_t *key, size_t keylen,
    const char *label, const uint8_t *id, size_t id_len);

/* ---- journal signing key ----------------------------------------------- */

/* A signer on the private key the URI names (type=private implied). The
 * algorithm follows the key: CKK_EC_EDWARDS = Ed25519 (CKM_EDDSA),
 * CKK_EC on P-256 = ECDSA (CKM_ECDSA over a host SHA-256; raw r||s).
 * DFI_E_HSM_KEY_INSECURE when the private key is extractable or not
 * sensitive (unless allow_insecure_keys), as for base keys. The signer
 * borrows h: free it (and close any journal using it) before
 * dfi_hsm_free(h). Its sign may be called from any thread. */
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
/* The counters so far, read atomically one by one (a call in progress may
 * show in one and not yet in another). */
void dfi_hsm_stats(dfi_hsm *h, struct dfi_hsm_stats *out);

/* The PKCS#11 call on h that has been in flight longest, for a watchdog
 * (a network HSM that lost its peer may never answer, and no caller can
 * bound a call from outside): its function name in *fn ("C_Sign", a
 * static string the caller does not free) and its age in milliseconds in
 * *ms; *fn NULL and *ms 0 when no call is in flight. DFI_E_INVALID_ARG
 * for a NULL argument. Thread-safe: meant to be asked from another
 * thread than the ones calling the HSM; it takes a mutex every PKCS#11
 * call also takes, for a few instructions. */
dfi_err dfi_hsm_oldest_call(dfi_hsm *h, const char **fn, long *ms);

#ifdef __cplusplus
}
#endif
#endif
