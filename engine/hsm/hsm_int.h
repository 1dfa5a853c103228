/*
 * Private to engine/hsm: the dfi_hsm handle, the session pool and the
 * PKCS#11 error mapping shared by the files of this module.
 */
#ifndef DFI_HSM_INT_H
#define DFI_HSM_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "detail.h"
#include "dfissue/hsm.h"
#include "p11_v3.h"

/* The mechanisms dfissue looks for (mech.c), in dfi_hsm_mechanisms order. */
enum dfi_mech {
	DFI_M_SP800_108,   /* CKM_SP800_108_COUNTER_KDF, derive */
	DFI_M_AES_CMAC,    /* sign: card-key CMAC, the SP 800-108 PRF */
	DFI_M_AES_ECB,     /* encrypt: AN10922's first block, L, KCV, card keys */
	DFI_M_AES_CBC,     /* encrypt/decrypt: card keys; ECB's stand-in */
	DFI_M_AES_ECB_DATA, /* CKM_AES_ECB_ENCRYPT_DATA, derive */
	DFI_M_AES_CBC_DATA, /* CKM_AES_CBC_ENCRYPT_DATA, derive */
	DFI_M_AES_KEY_GEN, /* the ephemeral wrapping key */
	DFI_M_AES_KEY_WRAP, /* wrap (SP 800-108 ChangeKey bytes) */
	DFI_M_DES3_CMAC,
	DFI_M_DES3_ECB,
	DFI_M_DES3_CBC,
	DFI_M_DES3_ECB_DATA,
	DFI_M_EC_EDWARDS_GEN,
	DFI_M_EDDSA,
	DFI_M_EC_GEN,
	DFI_M_ECDSA,
	/* NSS softoken's vendor mechanism: the SP 800-108 output as a data
	 * object, since NSS refuses to make a key derived from a
	 * non-extractable one extractable (sftk_DeriveSensitiveCheck). */
	DFI_M_NSS_SP800_DATA,
	DFI_M_COUNT
};

/* How the SP 800-108 path gets a per-card key's bytes for a ChangeKey
 * (derive.c), found on first use and kept per handle. */
enum dfi_sp800_bytes {
	DFI_SP800_BYTES_UNKNOWN = 0,
	DFI_SP800_BYTES_WRAP,        /* extractable copy wrapped, then decrypted */
	DFI_SP800_BYTES_EXTRACTABLE, /* non-sensitive copy, CKA_VALUE read */
	DFI_SP800_BYTES_NSS_DATA,    /* NSS: the derived bytes as a CKO_DATA object */
	DFI_SP800_BYTES_NONE,        /* the token lets none of them out */
};

/* Calls tracked in flight at once: one per station thread (at most 64
 * readers) is the common case; more are left untracked (inflight.c). */
#define DFI_HSM_INFLIGHT 64

struct dfi_hsm {
	CK_FUNCTION_LIST *fl;
	CK_FUNCTION_LIST **registered; /* non-NULL when loaded by p11-kit name */
	int initialized;
	CK_SLOT_ID slot;
	CK_TOKEN_INFO token;
	char token_label[33];
	int allow_insecure_keys;
	dfi_log_fn log; /* from the config; NULL: messages dropped */
	void *log_ctx;

	/* Session pool: sessions are opened on demand up to max and handed to
	 * one caller at a time. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	CK_SESSION_HANDLE *idle;
	size_t nidle;
	size_t nopen;
	size_t max;

	/* The user PIN, kept in locked memory only for re-login after
	 * CKR_USER_NOT_LOGGED_IN (a token may drop the login, e.g. after its
	 * last session closed). NULL when the token needs none. */
	char *pin;
	size_t pin_len;
	int protected_path;
	int login_required;

	/* Under mu: each failing thread's detail (detail.h). */
	struct dfi_hsm_detail details[DFI_HSM_DETAIL_SLOTS];
	uint64_t detail_clock;

	/* Login generation: bumped at each re-login, since a token may have
	 * invalidated object handles while logged out (SoftHSM2 does). */
	atomic_uint gen;
	pthread_mutex_t refmu; /* guards every dfi_hsm_ref and derived handle */

	atomic_uint_least64_t calls;
	atomic_uint_least64_t sessions;
	atomic_uint_least64_t logins;

	/* Under mu. Once C_Login refused the PIN (incorrect, locked, expired)
	 * the refusal is remembered and no thread tries that PIN again: each
	 * retry would burn the token's retry counter (issue 17, finding 4). */
	CK_RV pin_refused;
	/* Read once at open (mech.c). */
	struct dfi_hsm_mech_info mech[DFI_M_COUNT];
	struct dfi_hsm_module_info module;
	dfi_hsm_path derivation;
	int allow_host;
	/* enum dfi_sp800_bytes: how ChangeKey bytes leave on the SP 800-108
	 * path (derive.c). */
	atomic_int sp800_bytes;
	/* Session objects may not be created (HOST path keys stay on the host). */
	atomic_int no_session_import;
	/* Locked scratch slots for per-card key bytes (scratch.c); the busy
	 * mask is under refmu. */
	uint8_t *scratch;
	size_t scratch_len, scratch_n;
	uint64_t scratch_busy;

	/* The PKCS#11 calls in flight, under callmu (inflight.c): its own
	 * mutex, since calls are made while mu or refmu is held. */
	pthread_mutex_t callmu;
	struct dfi_hsm_call {
		const char *fn; /* static: the PKCS#11 function's name; NULL: free */
		long since_ms;  /* dfi_now_ms() when it was called */
	} inflight[DFI_HSM_INFLIGHT];
};

/* A token object remembered by identity (class, key type, label, id) so
 * it can be found again after a re-login invalidated its handle. */
struct dfi_hsm_ref {
	CK_OBJECT_HANDLE obj;
	unsigned gen; /* h->gen when obj was found */
	CK_OBJECT_CLASS cls;
	CK_KEY_TYPE kt;
	char label[65];
	size_t label_len;
	uint8_t id[64];
	size_t id_len;
};
/* Reads the identity of obj into r. */
CK_RV dfi_hsm_ref_init(dfi_hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj, struct dfi_hsm_ref *r);
/* The current handle of r, found again (on s) if a re-login happened. */
CK_RV dfi_hsm_ref_get(dfi_hsm *h, CK_SESSION_HANDLE s, struct dfi_hsm_ref *r, CK_OBJECT_HANDLE *out);

struct dfi_hsm_key {
	dfi_hsm *h;
	struct dfi_hsm_ref ref;
	dfi_keytype type;
	CK_KEY_TYPE ck_type;
	char label[65];
	/* L = E(K, 0^b): the CMAC subkey seed (its first 3 bytes are the KCV).
	 * Not key material: anyone may ask the HSM for it. Only keys that may
	 * encrypt have it (have_l). */
	uint8_t l[DFI_MAX_BLOCK];
	int have_l;
	uint8_t kcv[3]; /* from L, else CKA_CHECK_VALUE */
	int have_kcv;
	/* Block encryption with this key: CKM_*_ECB, or CKM_*_CBC with a zero
	 * IV one block at a time where ECB is absent or not allowed; 0 when the
	 * key may not encrypt. */
	CK_MECHANISM_TYPE enc_mech;
	unsigned paths;    /* 1 << path for every path this key can take */
	dfi_hsm_path path; /* the preferred one (NONE when paths == 0) */
	char why[240];     /* why the better paths do not apply */
};

/* ---- mechanisms and paths (mech.c) ---- */
/* Reads the slot's mechanism list and each known mechanism's info; a list
 * whose count is not to be believed fails the open (DFI_E_HSM_GENERAL). */
dfi_err dfi_hsm_mechs_load(dfi_hsm *h);
/* Present with every flag of need. */
int dfi_hsm_mech_ok(const dfi_hsm *h, enum dfi_mech m, CK_FLAGS need);
CK_MECHANISM_TYPE dfi_hsm_mech_type(enum dfi_mech m);
/* What a base key allows, read from its attributes (keys.c). */
struct dfi_hsm_key_caps {
	int encrypt, derive;
	int have_allowed; /* CKA_ALLOWED_MECHANISMS was reported */
	CK_MECHANISM_TYPE allowed[32];
	size_t nallowed;
};
/* Fills k->paths, k->path, k->enc_mech and k->why from the token's
 * mechanisms, the handle's configuration and the key's capabilities. */
void dfi_hsm_key_choose(dfi_hsm *h, struct dfi_hsm_key *k, const struct dfi_hsm_key_caps *c);
/* dfi_hsm_key_path, leaving out the paths in the mask skip (1 << path). */
dfi_err dfi_hsm_key_path_skip(const dfi_hsm_key *k, size_t mlen, unsigned skip, dfi_hsm_path *out);
/* The per-card key of m under master made on path p, which the caller
 * has checked the key allows (cardkey_hsm.c). */
dfi_err dfi_hsm_cardkey_on_path(dfi_hsm *h, const dfi_hsm_key *master, dfi_keytype type,
    const uint8_t *m, size_t mlen, uint8_t version, dfi_hsm_path p, dfi_cardkey **out);
/* dfi_hsm_token_path_check, optionally ignoring the HOST path's opt-in
 * (the self-test's public keys need none). */
dfi_err dfi_hsm_path_check_optin(dfi_hsm *h, dfi_keytype t, dfi_hsm_path p, int ignore_optin,
    char *why, size_t cap);
/* Creates a secret key from bytes with the usages path p needs, on the
 * token (token = 1) or as a session object (import.c). */
dfi_err dfi_hsm_key_create(dfi_hsm *h, dfi_keytype type, const uint8_t *key, size_t keylen,
    const char *label, const uint8_t *id, size_t id_len, dfi_hsm_path p, int token,
    CK_OBJECT_HANDLE *obj, int *without_allowed);
/* The mechanisms a base key for path p of type t is created with
 * (CKA_ALLOWED_MECHANISMS); returns how many. */
size_t dfi_hsm_path_mechs(dfi_hsm *h, dfi_keytype t, dfi_hsm_path p, CK_MECHANISM_TYPE *out,
    size_t cap);

/* ---- module loading (module.c) ---- */
/* Loads cfg's module into h (p11-kit), with C_Initialize's arguments, and
 * fills h->module. */
dfi_err dfi_hsm_module_load(dfi_hsm *h, const struct dfi_hsm_config *cfg);
void dfi_hsm_module_unload(dfi_hsm *h);
/* More slots than this is no answer to believe. */
#define DFI_HSM_SLOTS_MAX 1024
/* C_GetSlotList's two calls: *ids (malloc()ed, NULL when *n is 0) holds
 * the *n slots. */
CK_RV dfi_hsm_slot_list(dfi_hsm *h, CK_BBOOL present, CK_SLOT_ID **ids, CK_ULONG *n);

/* In sanitizer builds, allocations made inside the PKCS#11 module are not
 * reported as leaks: the module is third-party code (SoftHSM2 2.6.1 leaks
 * OpenSSL objects on every EdDSA signature) and is dlclose()d before
 * LeakSanitizer reports, so no suppression could name it. Only the calling
 * thread, and only for the duration of the call, is exempted. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DFI_HSM_LSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(DFI_HSM_LSAN)
#define DFI_HSM_LSAN 1
#endif
#ifdef DFI_HSM_LSAN
#include <sanitizer/lsan_interface.h>
#define DFI_LSAN_OFF() __lsan_disable()
#define DFI_LSAN_ON() __lsan_enable()
#else
#define DFI_LSAN_OFF() ((void)0)
#define DFI_LSAN_ON() ((void)0)
#endif

/* ---- calls in flight (inflight.c) ---- */
/* At allocation, before any P11(); and at free. */
dfi_err dfi_hsm_calls_init(dfi_hsm *h);
void dfi_hsm_calls_fini(dfi_hsm *h);
/* Registers a call to fn (a static string); returns the slot for _end
 * (-1: untracked, the table was full). */
int dfi_hsm_call_begin(dfi_hsm *h, const char *fn);
void dfi_hsm_call_end(dfi_hsm *h, int slot);

/* Counts one PKCS#11 call, registers it in flight and makes it: every
 * call goes through this. */
#define P11(h, fn, ...)                                                \
	__extension__({                                                \
		atomic_fetch_add(&(h)->calls, 1);                      \
		int p11_slot_ = dfi_hsm_call_begin((h), #fn);          \
		DFI_LSAN_OFF();                                        \
		CK_RV p11_rv_ = (h)->fl->fn(__VA_ARGS__);              \
		DFI_LSAN_ON();                                         \
		dfi_hsm_call_end((h), p11_slot_);                      \
		p11_rv_;                                               \
	})

/* ---- the module's answers (answer.c) ---- */
/* A vendor return value no module returns to dfissue: the caller refused
 * the module's answer and recorded why (dfi_hsm_bad_answer); dfi_hsm_fail
 * keeps that detail and maps it to DFI_E_HSM_GENERAL. */
#define DFI_CKR_BAD_ANSWER (CKR_VENDOR_DEFINED | 0xdf1aUL)
/* Records "<why>: a malformed answer from the PKCS#11 module, refused" as
 * the detail, for DFI_E_HSM_GENERAL (what dfi_hsm_fail and dfi_hsm_ckr
 * map it to), and returns DFI_CKR_BAD_ANSWER. */
CK_RV dfi_hsm_bad_answer(dfi_hsm *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* At most this many attributes per dfi_hsm_getattrs call. */
#define DFI_HSM_ATTRS_MAX 16
/* C_GetAttributeValue into fixed buffers: an answer longer than its buffer
 * is refused (DFI_CKR_BAD_ANSWER), or taken as unavailable when the module
 * also said CKR_BUFFER_TOO_SMALL; otherwise rv is the module's. */
CK_RV dfi_hsm_getattrs(dfi_hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE *t,
    size_t n);
/* 1 when the attribute came back with exactly size bytes (a CK_ULONG, a
 * CK_BBOOL: anything else is not that value). */
int dfi_hsm_attr_is(const CK_ATTRIBUTE *a, size_t size);
/* The longest variable-length attribute dfi_hsm_attr reads. */
#define DFI_HSM_ATTR_MAX 65536u
/* CKR_OK when an output of what (a call's name) has want bytes, else
 * DFI_CKR_BAD_ANSWER with the detail saying what came back. */
CK_RV dfi_hsm_check_len(dfi_hsm *h, const char *what, CK_ULONG got, size_t want);
/* CKR_OK when a count of what is at most max, else DFI_CKR_BAD_ANSWER. */
CK_RV dfi_hsm_check_count(dfi_hsm *h, const char *what, CK_ULONG got, size_t max);
/* Replaces every byte of s outside printable ASCII with '?': labels a
 * token reports are printed, and may hold terminal escapes. */
void dfi_hsm_printable(char *s);
/* A blank-padded text field of an info struct into dst (cap bytes,
 * NUL-terminated): up to its first NUL, printable ASCII only (module.c). */
void dfi_hsm_text(char *dst, size_t cap, const unsigned char *src, size_t n);

/* ---- errors (ckr.c) ---- */
dfi_err dfi_hsm_ckr(CK_RV rv);
/* Maps rv and records "<what>: <p11-kit message> (CKR 0x..)" as the
 * calling thread's detail, for the mapped error, which it returns (DFI_OK
 * for CKR_OK, recording nothing). The setters are in detail.h. */
dfi_err dfi_hsm_fail(dfi_hsm *h, const char *what, CK_RV rv);
/* One message to the handle's log handler (dfissue/log.h), if it has one. */
void dfi_hsm_log(dfi_hsm *h, dfi_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- session pool (pool.c) ---- */
typedef CK_RV (*dfi_hsm_op)(dfi_hsm *h, CK_SESSION_HANDLE s, void *arg);
/* Borrows a session, runs op, returns the session. On
 * CKR_USER_NOT_LOGGED_IN logs in again and retries once; on a closed or
 * invalid session opens a fresh one and retries once. op must be safe to
 * repeat. Failures are mapped and recorded with what. */
dfi_err dfi_hsm_run(dfi_hsm *h, const char *what, dfi_hsm_op op, void *arg);
dfi_err dfi_hsm_login(dfi_hsm *h, CK_SESSION_HANDLE s);
void dfi_hsm_pool_close(dfi_hsm *h);

/* ---- PIN sources (pin.c) ---- */
/* Reads the PIN from the configured sources into dfi_secure_alloc memory
 * (*pin, capacity *cap, length *len, NUL-terminated). */
/* why (whycap bytes) says on failure what is wrong and what to do. */
dfi_err dfi_hsm_pin_read(const struct dfi_hsm_config *cfg, char **pin, size_t *cap, size_t *len,
    char *why, size_t whycap);
#define DFI_HSM_PIN_CAP 256

/* ---- objects (keys.c) ---- */
/* ---- URIs (uri.c) ---- */
/* Parses uristr into uri (p11_kit_uri_new()ed by the caller) as
 * dfi_hsm_uri_check() checks it: DFI_OK; DFI_E_HSM_URI with the reason in
 * why (without the URI); DFI_E_NOMEM. */
dfi_err dfi_hsm_uri_parse(const char *uristr, const char *what, P11KitUri *uri, char *why,
    size_t cap);

/* Parses a pkcs11: URI, checks its token part against the open token and
 * finds objects matching its object attributes plus cls. Up to max handles
 * are stored; *n receives how many matched (up to max). */
dfi_err dfi_hsm_find(dfi_hsm *h, const char *uri, CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE *objs,
    size_t max, size_t *n);
/* Reads one attribute of variable length (at most DFI_HSM_ATTR_MAX bytes)
 * into a malloc()ed, NUL-terminated buffer (answer.c). */
CK_RV dfi_hsm_attr(dfi_hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t,
    uint8_t **val, size_t *len);
/* One-shot ECB/CBC encryption (encrypt 1) or decryption (0) with an
 * object; the output must be as long as the input. */
CK_RV dfi_hsm_cipher(dfi_hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, int encrypt,
    CK_MECHANISM_TYPE mech, const uint8_t *iv, size_t ivlen, const uint8_t *in, uint8_t *out,
    size_t len);
/* One-shot C_SignInit + C_Sign; *siglen is the capacity in, the length out. */
CK_RV dfi_hsm_sign(dfi_hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, CK_MECHANISM_TYPE mech,
    const uint8_t *msg, size_t len, uint8_t *sig, CK_ULONG *siglen);
/* Block-by-block encryption (ECB semantics) with mech CKM_*_ECB, or
 * CKM_*_CBC and a zero IV per block, on session s. */
CK_RV dfi_hsm_block_encrypt(dfi_hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key,
    CK_MECHANISM_TYPE mech, dfi_keytype t, const uint8_t *in, uint8_t *out, size_t len);
/* The same with a referenced key, in a pooled session (dfi_hsm_run). */
dfi_err dfi_hsm_ecb_encrypt(dfi_hsm *h, struct dfi_hsm_ref *key, CK_MECHANISM_TYPE mech,
    dfi_keytype t, const uint8_t *in, uint8_t *out, size_t len);
/* C_DestroyObject of obj in a pooled session (cleanup; errors ignored). */
void dfi_hsm_destroy(dfi_hsm *h, CK_OBJECT_HANDLE obj);
/* Reads a base key's identity and capabilities and makes its handle
 * (key_find's second half; also used on a freshly created object). */
dfi_err dfi_hsm_key_from_object(dfi_hsm *h, CK_OBJECT_HANDLE obj, const char *name,
    dfi_hsm_key **out);
/* DFI_OK when no object of class cls has the label; DFI_E_INVALID_ARG
 * (with the detail set) when one has. */
dfi_err dfi_hsm_label_unused(dfi_hsm *h, const char *label, CK_OBJECT_CLASS cls);

/* ---- locked scratch (scratch.c) ---- */
/* One slot: a key and the 64 bytes of wrapping scratch (derive.c). */
#define DFI_HSM_SCRATCH_SLOT 128
/* Maps the handle's locked page of slots (DFI_E_NOMEM when it cannot be
 * locked); _fini wipes and unmaps it. */
dfi_err dfi_hsm_scratch_init(dfi_hsm *h);
void dfi_hsm_scratch_fini(dfi_hsm *h);
/* len bytes of locked memory: a free slot, else a dfi_secure_alloc block.
 * NULL when neither is available. */
uint8_t *dfi_hsm_scratch_get(dfi_hsm *h, size_t len);
/* Wipes p and gives it back (len as given to _get). */
void dfi_hsm_scratch_put(dfi_hsm *h, uint8_t *p, size_t len);

/* ---- secret-key templates (secret.c) ---- */
/* What every secret-key template dfissue makes opens with: class, key
 * type, where the object lives and who may read its value. The
 * attributes point into this struct, so it lives as long as the template. */
struct dfi_hsm_secret {
	CK_OBJECT_CLASS cls;
	CK_KEY_TYPE kt;
	CK_BBOOL token, priv, sensitive, extractable;
};
#define DFI_HSM_SECRET_NATTRS 6
/* Fills s and t[0..DFI_HSM_SECRET_NATTRS-1]: a private secret key of type
 * kt; returns the index of t's next attribute. */
CK_ULONG dfi_hsm_secret_attrs(struct dfi_hsm_secret *s, CK_KEY_TYPE kt, int token, int sensitive,
    int extractable, CK_ATTRIBUTE *t);

/* ---- AN10922 (an10922.c) ---- */
/* The host half of AN10922 for m under a master whose CMAC seed is l:
 * b1 receives the first block of each DIV-constant message (1 for AES, 2
 * for 2K3DES, 3 for 3K3DES), b2 the matching second blocks already XORed
 * with the CMAC subkey. Then K = ECB(master, ECB(master, b1) XOR b2). */
dfi_err dfi_an10922_blocks(dfi_keytype t, const uint8_t *l, const uint8_t *m, size_t mlen,
    uint8_t *b1, uint8_t *b2, size_t *len);
/* The whole of AN10922 on the host, from the key's bytes (the key
 * ceremony's check of what it created): out receives the key's length. */
dfi_err dfi_an10922_host(dfi_keytype t, const uint8_t *key, const uint8_t *m, size_t mlen,
    uint8_t *out);

#endif
