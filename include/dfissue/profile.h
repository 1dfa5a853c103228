/*
 * dfissue — personalization profiles and per-card batch data.
 *
 * A profile (JSON, docs/PROFILE.md) describes the target state of a card:
 * the PICC master key and settings, the applications, their keys and their
 * files. It is loaded and fully validated once; the engine then reads it
 * through the read-only tree below. A batch (JSON lines or CSV) gives the
 * per-card values a profile refers to by field name.
 *
 * Every error fills a struct dfi_diag whose message names the file, the
 * line and the field, e.g.
 *   reference.json:42: applications[1].files[0].size: must be 1..8192 (got 0)
 * Profiles and batches are untrusted input: every length and number is
 * checked before use.
 *
 * Thread safety: a loaded profile is immutable, so threads may read one
 * profile (and resolve card data from it) concurrently. A batch is read by
 * one thread at a time (dfi_batch_next advances it); each row it returns
 * belongs to the caller and may go to another thread.
 */
#ifndef DFISSUE_PROFILE_H
#define DFISSUE_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "dfissue/crypto.h"
#include "dfissue/desfire.h"
#include "dfissue/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- diagnostics -------------------------------------------------------- */

#define DFI_DIAG_FILE_MAX 256
#define DFI_DIAG_FIELD_MAX 192
#define DFI_DIAG_MESSAGE_MAX 640

/* Where and why input was rejected. line/column are 1-based, 0 when not
 * known; field is a JSON path ("applications[1].files[3].access.read") or a
 * batch field name, empty when the error is not about one field. message is
 * the complete one-line report: "file:line: field: what is wrong". */
struct dfi_diag {
	char file[DFI_DIAG_FILE_MAX];
	int line;
	int column;
	char field[DFI_DIAG_FIELD_MAX];
	char message[DFI_DIAG_MESSAGE_MAX];
};

/* ---- limits (DESFire EV1/EV2/EV3; see docs/PROFILE.md) ------------------ */

#define DFI_PROFILE_MAX_APPS 28
#define DFI_PROFILE_MAX_KEYS 14        /* keys per application */
#define DFI_PROFILE_MAX_FILE_NO 31
#define DFI_PROFILE_MAX_FILES 32       /* files per application */
#define DFI_PROFILE_CARD_MEMORY 8192   /* the largest DESFire card, bytes */
#define DFI_PROFILE_MAX_DIV_INPUT 31   /* AN10922 diversification input M */
#define DFI_PROFILE_UID_LEN 7
#define DFI_PROFILE_AID_LEN 3

/* ---- the validated profile ---------------------------------------------- */

/* One piece of a byte string built per card: a diversification input or a
 * file's initial content is the concatenation of its segments. */
enum dfi_segment_kind {
	DFI_SEG_BYTES, /* literal bytes (hex, text or sysid in the profile) */
	DFI_SEG_FIELD, /* a batch field, converted by fmt */
	DFI_SEG_UID,   /* the card's 7-byte UID (diversification only) */
	DFI_SEG_AID,   /* the key's application AID (diversification only) */
};

/* How a batch field becomes bytes. */
enum dfi_field_format {
	DFI_FMT_AUTO = 0, /* hex field: its bytes; string field: its UTF-8 */
	DFI_FMT_U8,       /* integer fields: fixed-width binary */
	DFI_FMT_LE16,
	DFI_FMT_BE16,
	DFI_FMT_LE32,
	DFI_FMT_BE32,
	DFI_FMT_DECIMAL,  /* integer field as ASCII decimal digits */
};

struct dfi_profile_segment {
	enum dfi_segment_kind kind;
	const uint8_t *bytes; /* DFI_SEG_BYTES */
	size_t len;           /* DFI_SEG_BYTES */
	const char *field;    /* DFI_SEG_FIELD: batch field name */
	enum dfi_field_format fmt; /* DFI_SEG_FIELD */
};

/* A generation of a key slot that an issued card may still hold (docs/
 * PROFILE.md, "previous"): same type and diversification recipe as the key
 * it belongs to, another base key, version and (older) generation. */
struct dfi_profile_prev {
	const char *base_key;  /* "pkcs11:" URI of the older base key */
	uint8_t version;       /* the key version that generation gave the card */
	uint32_t generation;   /* < the key's generation */
};

#define DFI_PROFILE_MAX_PREVIOUS 8

struct dfi_profile_key {
	uint8_t number;        /* 0: the application's (or the PICC's) master key */
	dfi_keytype type;
	const char *base_key;  /* "pkcs11:" URI of the HSM base key */
	uint8_t version;       /* DESFire key version the card will report */
	uint32_t generation;   /* base key generation (rotation counter) */
	/* AN10922 diversification input recipe; contains DFI_SEG_UID. */
	const struct dfi_profile_segment *div;
	size_t ndiv;
	/* Older generations this key replaces (rotation), newest first as the
	 * profile lists them; none on a profile for blank cards. */
	const struct dfi_profile_prev *previous;
	size_t nprevious;
};

/* The flags of a key settings byte, as the profile spelled them. */
#define DFI_KS_ALLOW_CHANGE_MK 0x01
#define DFI_KS_FREE_LISTING 0x02
#define DFI_KS_FREE_CREATE_DELETE 0x04
#define DFI_KS_CONFIG_CHANGEABLE 0x08
/* Bits 7..4 of an application's key settings: who may change keys. */
#define DFI_KS_CHANGE_KEY_MASTER 0x0  /* the application master key */
#define DFI_KS_CHANGE_KEY_SAME 0xE    /* each key itself */
#define DFI_KS_CHANGE_KEY_FROZEN 0xF  /* no key but the master key */

/* PICC configuration applied with SetConfiguration (option 0x00). Both
 * options are irreversible on a real card. */
struct dfi_profile_config {
	int present;         /* the profile has a "configuration" object */
	int format_disabled; /* FormatPICC no longer allowed */
	int random_uid;      /* the card answers anticollision with random IDs */
	/* Random ID is set as soon as the UID key is at its target, not last
	 * (docs/PERSONALIZATION.md); only with random_uid and a uid_key. */
	int random_uid_early;
};

/* The key the engine reads a random-ID card's UID with (picc.uid_key): an
 * application key of the profile whose diversification does not use the
 * UID (docs/PROFILE.md). After authenticating with it the engine asks the
 * card for its real UID (GetCardUID). */
struct dfi_profile_uid_key {
	int present;
	uint8_t aid[DFI_PROFILE_AID_LEN]; /* in command byte order */
	uint8_t number;                   /* the key's number in that application */
};

/* The PICC master key a card arrives with (docs/PROFILE.md, transport_key):
 * the public factory key, or a secret transport key agreed with the card
 * supplier, which a card must prove it holds before it gets anything. */
enum dfi_transport_kind {
	DFI_TRANSPORT_FACTORY = 0,  /* DES all-zero, version 0 (default) */
	DFI_TRANSPORT_STATIC,       /* one HSM key for every card: key.base_key is the key itself */
	DFI_TRANSPORT_DIVERSIFIED,  /* AN10922 per card from an HSM base key, like any other key */
};

struct dfi_profile_transport {
	enum dfi_transport_kind kind;
	/* STATIC: type, base_key (the key's URI), version (div NULL).
	 * DIVERSIFIED: a complete key object. */
	struct dfi_profile_key key;
};

struct dfi_profile_picc {
	struct dfi_profile_key key;  /* the target PICC master key */
	uint8_t key_settings;        /* final; the engine applies it last */
	struct dfi_profile_config config;
	struct dfi_profile_transport transport;
};

/* What the engine does with the NXP originality signature (Read_Sig). */
enum dfi_originality_policy {
	DFI_ORIGINALITY_WARN = 0,  /* check; a missing or bad signature is reported, the card is issued (default) */
	DFI_ORIGINALITY_REQUIRE,   /* a card without a valid signature by a trusted key is refused */
	DFI_ORIGINALITY_OFF,       /* not checked, nothing sent */
};

struct dfi_profile_originality {
	enum dfi_originality_policy policy;
	/* The trusted public keys file (resolved against the profile's
	 * directory), or NULL: the NXP keys built into dfissue. */
	const char *trusted_keys;
};

/* File types, communication modes and access rights are the card's own:
 * enum dfi_df_filetype, dfi_df_comm and struct dfi_df_access from
 * dfissue/desfire.h, so a profile file and the card's file settings are
 * compared field by field without conversions. */

struct dfi_profile_record {
	const struct dfi_profile_segment *seg;
	size_t nseg;
};

/* An SDM file (DESFire EV3): the template its content is laid out from,
 * and the settings ChangeFileSettings gives it (mirrors and offsets from
 * the template, access rights from the profile's key numbers). */
struct dfi_profile_sdm {
	const char *tmpl; /* the template, with {uid} {ctr} {picc} {enc:N} {mac} {macin} */
	int ndef;             /* the file is an NDEF URI record (else the text) */
	int lrp;              /* the card runs LRP: 48-character PICC data */
	struct dfi_df_sdm settings;
};

struct dfi_profile_file {
	uint8_t number;  /* 0..31 */
	enum dfi_df_filetype type;
	dfi_df_comm comm;
	struct dfi_df_access access;
	/* std, backup */
	uint32_t size;
	/* value */
	int32_t lower_limit, upper_limit, value;
	int limited_credit;
	/* linear, cyclic */
	uint32_t record_size, max_records;
	/* std/backup: initial content (concatenated segments, at offset 0) */
	const struct dfi_profile_segment *content;
	size_t ncontent;
	/* record files: initial records, each a list of segments */
	const struct dfi_profile_record *records;
	size_t nrecords;
	/* std: Secure Dynamic Messaging (docs/PROFILE.md, "sdm"), NULL when
	 * off. The file's content is then the template's (content above). */
	const struct dfi_profile_sdm *sdm;
};

struct dfi_profile_app {
	uint8_t aid[DFI_PROFILE_AID_LEN]; /* in command byte order */
	const char *name;                 /* NULL when absent */
	dfi_keytype key_type;
	uint8_t key_settings;             /* final; the engine applies it last */
	const struct dfi_profile_key *keys;
	size_t nkeys;                     /* 1..14 */
	const struct dfi_profile_file *files;
	size_t nfiles;
};

/* Which secure messaging personalization uses with AES keys. */
enum dfi_profile_sm {
	DFI_PROFILE_SM_AUTO = 0, /* EV2 (AuthenticateEV2First/NonFirst) on an EV2 or later card, EV1 on an EV1 card */
	DFI_PROFILE_SM_EV1,      /* AuthenticateAES and EV1 messaging on every card */
	DFI_PROFILE_SM_LRP,      /* EV3 only: switch the card to LRP (irreversible), then AuthenticateLRPFirst/NonFirst and LRP messaging */
};

struct dfi_profile_spec {
	const char *name;
	const char *description; /* NULL when absent */
	struct dfi_profile_picc picc;
	const struct dfi_profile_app *apps;
	size_t napps;
	struct dfi_profile_originality originality;
	enum dfi_profile_sm secure_messaging; /* "secure_messaging": "auto" (default) | "ev1" | "lrp" */
	struct dfi_profile_uid_key uid_key; /* picc.uid_key; present 0 when absent */
};

typedef struct dfi_profile dfi_profile;

/* Loads and validates a profile file. On failure *out is NULL, diag (may be
 * NULL) says where and why, and the result is DFI_E_PROFILE (invalid
 * profile), DFI_E_IO (unreadable) or DFI_E_NOMEM. */
dfi_err dfi_profile_load(dfi_profile **out, const char *path, struct dfi_diag *diag);

/* The same from memory; name is used in diagnostics. */
dfi_err dfi_profile_load_buffer(dfi_profile **out, const char *name, const char *buf,
    size_t len, struct dfi_diag *diag);

/* Frees the profile and its tree: nothing derived from it (the spec, a
 * dfi_card_data's file and app pointers) may be used afterwards. */
void dfi_profile_free(dfi_profile *p);

/* The validated tree; valid until dfi_profile_free. */
const struct dfi_profile_spec *dfi_profile_spec(const dfi_profile *p);

/* Whether any file content or key recipe refers to a batch field. */
int dfi_profile_needs_batch(const dfi_profile *p);

/* The batch fields the profile refers to, each once, in order of first
 * use: a batch can be checked against them before the first card. */
/* A name is owned by p, valid until dfi_profile_free; NULL when i is not
 * below the count. */
size_t dfi_profile_field_count(const dfi_profile *p);
const char *dfi_profile_field_name(const dfi_profile *p, size_t i);

/* ---- batch data --------------------------------------------------------- */

typedef struct dfi_batch dfi_batch;
typedef struct dfi_batch_row dfi_batch_row;

enum dfi_batch_format {
	DFI_BATCH_AUTO = 0, /* by file name: *.jsonl / *.ndjson or *.csv */
	DFI_BATCH_JSONL,
	DFI_BATCH_CSV,
};

enum dfi_value_type {
	DFI_VAL_STRING,
	DFI_VAL_HEX,
	DFI_VAL_INT,
};

struct dfi_batch_value {
	const char *name;
	enum dfi_value_type type;
	const char *str;      /* DFI_VAL_STRING: UTF-8, NUL-terminated */
	const uint8_t *bytes; /* DFI_VAL_STRING (the same text) and DFI_VAL_HEX */
	size_t len;           /* length of bytes */
	int64_t i;            /* DFI_VAL_INT */
};

/* Opens a batch file (format from the file name). */
dfi_err dfi_batch_open(dfi_batch **out, const char *path, struct dfi_diag *diag);

/* A batch in memory (copied); name is used in diagnostics and, with
 * DFI_BATCH_AUTO, to choose the format. */
dfi_err dfi_batch_open_buffer(dfi_batch **out, const char *name, enum dfi_batch_format fmt,
    const char *buf, size_t len, struct dfi_diag *diag);

/* The next row, owned by the caller (dfi_batch_row_free); *row is NULL at
 * the end. A row holds copies of its file name and values: it outlives
 * its batch (dfi_batch_free may come first). A malformed row fails with
 * DFI_E_PROFILE and diag naming file, line and field; the reader then
 * stops (later calls repeat the error). */
dfi_err dfi_batch_next(dfi_batch *b, dfi_batch_row **row, struct dfi_diag *diag);

/* Frees the batch; rows already returned stay valid (above). */
void dfi_batch_free(dfi_batch *b);

/* What a row holds. Every string and value returned is owned by the row
 * and valid until dfi_batch_row_free(r), whatever became of its batch.
 * dfi_batch_row_file: the batch's name (its path, or the name given to
 * dfi_batch_open_buffer); dfi_batch_row_at: field i, NULL when i is not
 * below the count. */
const char *dfi_batch_row_file(const dfi_batch_row *r);
int dfi_batch_row_line(const dfi_batch_row *r);     /* where the row starts */
size_t dfi_batch_row_count(const dfi_batch_row *r); /* number of fields */
const struct dfi_batch_value *dfi_batch_row_at(const dfi_batch_row *r, size_t i);
/* NULL when the row has no such field. */
const struct dfi_batch_value *dfi_batch_row_get(const dfi_batch_row *r, const char *name);
void dfi_batch_row_free(dfi_batch_row *r);

/* A row's re-issue authorization (docs/OPERATIONS.md): the fields
 * reissue_uid (a 7-byte UID as 14 hex digits, hex- or string-typed) and
 * reissue_reason (text of 1..DFI_J_STR_MAX-1 bytes the journal keeps),
 * both or neither; an empty value counts as absent (a CSV row without a
 * re-issue). *reason is NULL when the row has none (row may be NULL),
 * else it points into the row and uid holds the UID. A field given
 * without the other, a malformed UID or an unusable reason fails with
 * DFI_E_PROFILE and diag naming the row and the field: such a row could
 * never authorize anything, so it is refused rather than ignored. */
dfi_err dfi_batch_row_reissue(const dfi_batch_row *row, uint8_t uid[DFI_PROFILE_UID_LEN],
    const char **reason, struct dfi_diag *diag);

/* ---- per-card resolution ------------------------------------------------ */

/* Concrete initial contents for one file.
 * std/backup: data holds the whole file (size bytes): the content, then
 *   zeros as a new file holds; content_len is the length the profile gave.
 * linear/cyclic: data holds nrecords records of record_size bytes each,
 *   each zero-padded; content_len = nrecords * record_size.
 * value: no data (the initial value is in the profile). */
struct dfi_file_data {
	const struct dfi_profile_file *file;
	uint8_t *data;
	size_t len;
	size_t content_len;
	size_t nrecords;
};

struct dfi_app_data {
	const struct dfi_profile_app *app;
	struct dfi_file_data *files; /* parallel to app->files */
	size_t nfiles;
};

struct dfi_card_data {
	struct dfi_app_data *apps; /* parallel to spec->apps */
	size_t napps;
};

/* Builds every file's initial content for one card from the profile and a
 * batch row (row may be NULL when the profile needs none). Fails with
 * DFI_E_PROFILE when a field is missing, has the wrong type, or does not
 * fit; diag names the batch file, the row's line and the field. */
/* *out is the caller's (dfi_card_data_free); its data is copied from the
 * row (the row may be freed), but its file and app pointers point into p's
 * tree: free it before p. */
dfi_err dfi_profile_card_data(const dfi_profile *p, const dfi_batch_row *row,
    struct dfi_card_data **out, struct dfi_diag *diag);

/* Frees the card data and its file contents. */
void dfi_card_data_free(struct dfi_card_data *d);

/* Checks one batch row against the profile as a tap would use it, before
 * any card: every file's content (dfi_profile_card_data), every key's
 * diversification input (with a zero UID and the key's AID: lengths and
 * types do not depend on the UID) and the row's re-issue fields
 * (dfi_batch_row_reissue). row may be NULL when the profile needs none.
 * Fails with DFI_E_PROFILE and diag naming the file, the line (a CSV
 * column's type or absence: the header's line) and the field. */
dfi_err dfi_profile_check_row(const dfi_profile *p, const dfi_batch_row *row,
    struct dfi_diag *diag);

/* Builds the AN10922 diversification input M (1..31 bytes) for a key from
 * its recipe. aid is the key's application AID (000000 for the PICC key);
 * row may be NULL when the recipe has no field. */
dfi_err dfi_profile_div_input(const struct dfi_profile_key *key,
    const uint8_t uid[DFI_PROFILE_UID_LEN], const uint8_t aid[DFI_PROFILE_AID_LEN],
    const dfi_batch_row *row, uint8_t *out, size_t cap, size_t *len,
    struct dfi_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
