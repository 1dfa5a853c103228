/*
 * dfissue — the signed key-change journal.
 *
 * An append-only file of one strict-ASCII record per line. The records are
 * the leaves of an RFC 6962 Merkle tree; after each append (or group of
 * appends) a C2SP tlog-checkpoint over the tree is signed by the HSM as a
 * C2SP signed note and stored in the same file. docs/JOURNAL.md specifies
 * the format completely.
 *
 * A writer (dfi_journal) is the only process that appends (file lock). An
 * append returns only after the records and a checkpoint covering them are
 * on stable storage (fdatasync), so a caller may send a ChangeKey only after
 * dfi_journal_intent() returned DFI_OK. Threads may share one dfi_journal:
 * concurrent appends are group-committed (one checkpoint, one fdatasync).
 *
 * Lifetimes: a dfi_journal borrows its signer (dfi_journal_create and
 * dfi_journal_open keep the pointer, they do not take it): the signer
 * must outlive the journal, so dfi_journal_close comes before
 * dfi_signer_free, and before dfi_hsm_free for an HSM signer (hsm.h). The
 * journal signs on whichever appending thread leads a group commit and on
 * its own flusher thread (dfi_journal_append_async).
 *
 * Auditors use dfi_journal_verify_*() with nothing but the public key.
 */
#ifndef DFISSUE_JOURNAL_H
#define DFISSUE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dfissue/error.h"
#include "dfissue/signer.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DFI_JOURNAL_FILE "journal.log"  /* inside the journal directory */
#define DFI_JOURNAL_QDIR "quarantine"   /* quarantined tails, ditto */
/* The format new journals are written in (genesis format=). 2 since AIDs
 * are written in command order; 3 since a journal may hold change records
 * (DFI_JREC_CHANGE), which a format-1/2 reader refuses as an unknown type.
 * Format 1 journals (AIDs most significant byte first) and format 2
 * journals are still read, verified and appended to in their own format,
 * without change records (DFI_E_UNSUPPORTED). docs/JOURNAL.md section 3. */
#define DFI_JOURNAL_FORMAT 3
/* The first format that may hold change records. */
#define DFI_JOURNAL_FORMAT_CHANGE 3

#define DFI_J_LINE_MAX 4096   /* longest line, LF excluded */
#define DFI_J_STR_MAX 128     /* longest decoded text field, NUL included */
#define DFI_J_UID_MAX 10
#define DFI_J_BLOB_MAX 64     /* key object id, diversification input */
#define DFI_J_NOTE_MAX 1024   /* a signed checkpoint note */
#define DFI_J_WHAT_MAX 32     /* a change record's what=, NUL included */
#define DFI_J_TARGET_MAX 32   /* a change record's target= */
#define DFI_J_PROFILE_LEN 16  /* intent's profile digest (SHA-256, first 16 bytes) */

/* ---- records ------------------------------------------------------------ */

typedef enum dfi_jrec_type {
	DFI_JREC_GENESIS = 1,
	DFI_JREC_INTENT,
	DFI_JREC_COMMIT,
	DFI_JREC_ABORT,
	DFI_JREC_RESOLVE,
	DFI_JREC_RECOVERY,
	DFI_JREC_REFUSAL,       /* a card was refused: nothing was sent to it */
	DFI_JREC_AUTHORIZATION, /* an operator authorized re-issuing a UID */
	DFI_JREC_CHANGE,        /* an intent for a card change that is not a key change */
} dfi_jrec_type;
#define DFI_JREC_LAST DFI_JREC_CHANGE

/* Why a card was refused (refusal records). */
typedef enum dfi_jcause {
	DFI_JCAUSE_ISSUED = 1,    /* the UID was issued; the card shows less than the journal recorded */
	DFI_JCAUSE_TRANSPORT_KEY, /* the card did not authenticate with the transport key (or any key the journal names) */
	DFI_JCAUSE_ORIGINALITY,   /* no valid NXP originality signature, and the policy requires one */
	DFI_JCAUSE_CONFLICT,      /* the card holds an application or file the profile cannot reach without destroying data */
} dfi_jcause;

/* What a resolve found on the card. */
typedef enum dfi_jmatch {
	DFI_JMATCH_OLD = 1, /* the card still has the old key: ChangeKey did not happen */
	DFI_JMATCH_NEW,     /* the card has the new key: ChangeKey happened */
	DFI_JMATCH_NONE,    /* neither candidate authenticated */
} dfi_jmatch;

/* Which key of which card. */
typedef struct dfi_jkey {
	uint8_t uid[DFI_J_UID_MAX];
	uint8_t uid_len;  /* 4, 7 or 10 */
	uint32_t aid;     /* 24 bits; 0 = PICC level. As DESFire holds it: the
	                   * least significant byte is sent first, so the
	                   * profile's "F54010" is 0x1040F5 (printed with
	                   * DFI_AID_FMT, util.h) */
	uint8_t keyno;    /* 0..13 */
} dfi_jkey;

/* One record. Only the fields of its type are used; the writer fills seq
 * and time. Text fields are C strings of at most DFI_J_STR_MAX-1 bytes, never
 * empty; they may hold any byte but NUL (stored percent-encoded). */
typedef struct dfi_jrec {
	dfi_jrec_type type;
	uint64_t seq;
	int64_t time;  /* seconds since the epoch, UTC */

	/* genesis */
	char origin[DFI_J_STR_MAX];  /* the checkpoint origin and note key name */
	dfi_sigalg alg;
	uint32_t key_id;             /* C2SP signed-note key ID of the journal key */

	/* intent */
	dfi_jkey key;
	uint8_t old_version, new_version;
	char key_label[DFI_J_STR_MAX];  /* HSM key label of the new key's base key */
	uint8_t key_objid[DFI_J_BLOB_MAX];
	size_t key_objid_len;           /* 0: no CKA_ID */
	uint32_t key_gen;               /* key generation */
	uint8_t div_input[DFI_J_BLOB_MAX];
	size_t div_input_len;           /* 0: not diversified */

	/* commit, abort, resolve */
	uint64_t intent;                /* seq of the intent */
	char reason[DFI_J_STR_MAX];     /* abort */
	int observed_version;           /* resolve: -1 when unknown */
	dfi_jmatch matched;             /* resolve */

	/* recovery */
	uint64_t q_lines, q_bytes, q_intents;
	uint8_t q_sha256[32];
	char q_file[DFI_J_STR_MAX];     /* file name inside quarantine/ */

	char station[DFI_J_STR_MAX];    /* every type */

	/* refusal (key.uid, reason, and these) and authorization (key.uid,
	 * reason): the UID's other key fields are unused */
	dfi_jcause cause;
	uint64_t tap;                   /* refusal: the journal's size when the tap began */

	/* intent, optional (rotation): the generation of the key the slot
	 * holds before the change, when it is one of the profile's
	 * generations (not factory or transport). Written as old_key_gen=
	 * only when has_old_gen is set; journals without it stay valid. */
	int has_old_gen;
	uint32_t old_key_gen;

	/* genesis: the journal's format (1, 2 or 3); 0 when formatting means
	 * DFI_JOURNAL_FORMAT. A journal's records are all in its genesis's
	 * format: format 1 wrote an intent's aid most significant byte first
	 * (1040F5 for the AID sent F5 40 10), formats 2 and 3 in command order
	 * (F54010); format 3 adds change records. dfi_jrec_format() and
	 * dfi_jrec_parse() read and write the command order of formats 2 and
	 * 3; the journal reader and writer convert a format-1 journal's
	 * intents, so key.aid always means the same AID. */
	unsigned format;

	/* change: an intent for a card change that is not a key change, in a
	 * journal of format DFI_JOURNAL_FORMAT_CHANGE or later. key.uid and
	 * key.aid (key.keyno unused) say where; what says which change
	 * ("lrp": the PICC's switch to LRP; "sdm:file=NN": an SDM file's
	 * settings): 1 to DFI_J_WHAT_MAX-1 characters of [a-z0-9:=._-],
	 * starting with a letter; target (0 to DFI_J_TARGET_MAX bytes) the
	 * state the change sets: a digest or the encoded settings. Its
	 * outcome is a commit, abort or resolve (matched new: the card has
	 * the target; old: it has not) naming its seq, as for a key intent. */
	char what[DFI_J_WHAT_MAX];
	uint8_t target[DFI_J_TARGET_MAX];
	size_t target_len;
	/* intent, optional: the digest of what the tap that wrote it was
	 * making of this card (the resolved target: keys, versions, files,
	 * settings, contents; docs/JOURNAL.md, profile=). A later tap with
	 * the same digest may take what this issue verified as verified.
	 * Written only when has_profile is set; journals without it stay
	 * valid. */
	int has_profile;
	uint8_t profile[DFI_J_PROFILE_LEN];
} dfi_jrec;

/* Formats rec as its one line (no LF; NUL-terminated) into buf.
 * DFI_E_INVALID_ARG for a record its type's grammar cannot express (an
 * unknown type, algorithm, cause or match, a UID of 0 or more than 10
 * bytes, an AID over 24 bits, a blob over DFI_J_BLOB_MAX, an empty or too
 * long text field, a format other than 0..DFI_JOURNAL_FORMAT): the ranges
 * of docs/JOURNAL.md section 3. */
dfi_err dfi_jrec_format(const dfi_jrec *rec, char *buf, size_t cap, size_t *len);
/* Parses one line (without LF). Only the canonical form is accepted: the
 * line must be exactly what dfi_jrec_format() makes of the result. */
dfi_err dfi_jrec_parse(const char *line, size_t len, dfi_jrec *rec);
/* The record type's word in the grammar ("genesis" ... "change"), the
 * cause's ("issued", "transport-key", "originality", "conflict"); "?" for
 * another value. Static strings. */
const char *dfi_jrec_type_name(dfi_jrec_type t);
const char *dfi_jcause_name(dfi_jcause c);
/* A refusal record of the card uid: cause, reason (one line for the
 * auditor) and tap, the journal size (dfi_journal_size) when the tap began.
 * An authorization record when t is DFI_JREC_AUTHORIZATION (cause and tap
 * unused). DFI_E_INVALID_ARG for a UID of 0 or more than 10 bytes, an
 * empty or too long reason, or another type. */
dfi_err dfi_jrec_card_event(dfi_jrec *r, dfi_jrec_type t, const uint8_t *uid, size_t uid_len,
    dfi_jcause cause, uint64_t tap, const char *reason);
/* An outcome record (DFI_JREC_COMMIT, _ABORT or _RESOLVE) of intent seq
 * intent, to append: observed and m matter for a resolve (else -1, 0); an
 * abort needs a reason. DFI_E_INVALID_ARG for another type, an abort
 * without a reason or a reason longer than the record holds. */
dfi_err dfi_jrec_outcome(dfi_jrec *r, dfi_jrec_type t, uint64_t intent, const char *reason,
    int observed, dfi_jmatch m);
/* A change record (DFI_JREC_CHANGE) of card uid, application aid (0: the
 * PICC): what and target as the record's fields say. DFI_E_INVALID_ARG for
 * a UID of 0 or more than 10 bytes, an AID over 24 bits, a what outside
 * the record's grammar, a target over DFI_J_TARGET_MAX bytes. */
dfi_err dfi_jrec_change(dfi_jrec *r, const uint8_t *uid, size_t uid_len, uint32_t aid,
    const char *what, const uint8_t *target, size_t target_len);
/* 1 when what may be a change record's what= (see dfi_jrec), else 0. */
int dfi_jrec_what_valid(const char *what);

/* ---- Merkle tree (RFC 6962 / RFC 9162 §2.1) ------------------------------ */

#define DFI_HASH_LEN 32

/* RFC 6962 leaf hash SHA-256(0x00 || data) and node hash SHA-256(0x01 ||
 * l || r) into out. Pure; the pointers must be valid. */
void dfi_merkle_leaf_hash(const void *data, size_t len, uint8_t out[DFI_HASH_LEN]);
void dfi_merkle_node_hash(const uint8_t l[DFI_HASH_LEN], const uint8_t r[DFI_HASH_LEN],
    uint8_t out[DFI_HASH_LEN]);

/* The right edge of a tree: what appending needs, nothing more. edge[i] is
 * the root of the complete subtree of 2^i leaves when bit i of size is set. */
typedef struct dfi_merkle {
	uint64_t size;
	uint8_t edge[64][DFI_HASH_LEN];
} dfi_merkle;

/* An empty tree; then one leaf hash appended (DFI_E_OVERFLOW at 2^64 - 1
 * leaves). The structure is the caller's: no lock, nothing to free. */
void dfi_merkle_init(dfi_merkle *m);
dfi_err dfi_merkle_push(dfi_merkle *m, const uint8_t leaf_hash[DFI_HASH_LEN]);
/* MTH of the leaves pushed so far (SHA-256 of nothing for an empty tree). */
void dfi_merkle_root(const dfi_merkle *m, uint8_t out[DFI_HASH_LEN]);
/* RFC 9162 §2.1.3.1 inclusion proof of leaves[index] in the tree of the n
 * leaf hashes given. proof holds cap hashes (64 always suffice). */
dfi_err dfi_merkle_inclusion_proof(const uint8_t (*leaves)[DFI_HASH_LEN], uint64_t n,
    uint64_t index, uint8_t (*proof)[DFI_HASH_LEN], size_t cap, size_t *plen);
/* RFC 9162 §2.1.3.2: DFI_OK when the proof binds leaf_hash at index to root. */
dfi_err dfi_merkle_verify_inclusion(uint64_t index, uint64_t size,
    const uint8_t leaf_hash[DFI_HASH_LEN], const uint8_t (*proof)[DFI_HASH_LEN],
    size_t plen, const uint8_t root[DFI_HASH_LEN]);

/* RFC 9162 §2.1.4 consistency proofs: that the tree of the first m leaves
 * is a prefix of the tree of n leaves (0 < m <= n). A proof holds at most
 * DFI_MERKLE_CPROOF_MAX hashes; m == n gives the empty proof. */
#define DFI_MERKLE_CPROOF_MAX 66
/* MTH(D[a:b]) of the tree being proven, for the proof generator. */
typedef dfi_err (*dfi_merkle_range_fn)(void *ctx, uint64_t a, uint64_t b, uint8_t out[DFI_HASH_LEN]);
/* The proof from m to n leaves, asking fn for each subtree root it needs
 * (fn's error is returned as is); DFI_E_INVALID_ARG unless 0 < m <= n. */
dfi_err dfi_merkle_consistency_proof_fn(uint64_t m, uint64_t n, dfi_merkle_range_fn fn, void *ctx,
    uint8_t (*proof)[DFI_HASH_LEN], size_t cap, size_t *plen);
/* The proof from the n leaf hashes given. */
dfi_err dfi_merkle_consistency_proof(const uint8_t (*leaves)[DFI_HASH_LEN], uint64_t n, uint64_t m,
    uint8_t (*proof)[DFI_HASH_LEN], size_t cap, size_t *plen);
/* The proof from old->size to old->size + nadded, knowing only the old
 * tree's right edge and the leaves added since: every proof node left of
 * the old size is an edge node. What a station witnessing its journal
 * needs, without keeping every leaf. */
dfi_err dfi_merkle_consistency_proof_edge(const dfi_merkle *old, const uint8_t (*added)[DFI_HASH_LEN],
    uint64_t nadded, uint8_t (*proof)[DFI_HASH_LEN], size_t cap, size_t *plen);
/* RFC 9162 §2.1.4.2: DFI_OK when proof shows root_m (size m) is a prefix
 * of root_n (size n); DFI_E_JOURNAL_CORRUPT otherwise. */
dfi_err dfi_merkle_verify_consistency(uint64_t m, uint64_t n, const uint8_t root_m[DFI_HASH_LEN],
    const uint8_t root_n[DFI_HASH_LEN], const uint8_t (*proof)[DFI_HASH_LEN], size_t plen);

/* ---- checkpoints and signed notes (C2SP) -------------------------------- */

/* A public key for verification, from PEM or DER SubjectPublicKeyInfo
 * (Ed25519 or ECDSA P-256). */
typedef struct dfi_jpubkey dfi_jpubkey;
/* A key from len bytes of PEM or DER, or from a signer's public key (the
 * key is copied: it does not borrow s). DFI_E_PARSE for anything that is
 * not an Ed25519 or P-256 SubjectPublicKeyInfo. The caller frees *out with
 * dfi_jpubkey_free. A key is immutable: threads may share it. */
dfi_err dfi_jpubkey_from_pem(const char *pem, size_t len, dfi_jpubkey **out);
dfi_err dfi_jpubkey_from_der(const uint8_t *der, size_t len, dfi_jpubkey **out);
dfi_err dfi_jpubkey_from_signer(dfi_signer *s, dfi_jpubkey **out);
void dfi_jpubkey_free(dfi_jpubkey *k);
/* The key's algorithm. */
dfi_sigalg dfi_jpubkey_alg(const dfi_jpubkey *k);
/* C2SP signed-note key ID of this key under key name `name`. */
dfi_err dfi_jpubkey_key_id(const dfi_jpubkey *k, const char *name, uint32_t *id);
/* The C2SP signed-note verifier key of k under key name `name` (the
 * journal's origin): "<name>+<8 hex key ID>+<base64(type || public key)>",
 * type 0x01 with the 32-byte Ed25519 key, 0x02 with the DER
 * SubjectPublicKeyInfo (ECDSA P-256), as golang.org/x/mod/sumdb/note and
 * transparency-dev/formats read it. */
#define DFI_VKEY_MAX 320
/* Writes it NUL-terminated into out (cap bytes; DFI_VKEY_MAX suffices). */
dfi_err dfi_jpubkey_vkey(const dfi_jpubkey *k, const char *name, char *out, size_t cap);
/* Parses a verifier key (len bytes, no newline); the key ID in it must be
 * the key's under its name (DFI_E_PARSE otherwise). name receives the key
 * name (namecap bytes). */
dfi_err dfi_jpubkey_from_vkey(const char *vkey, size_t len, dfi_jpubkey **out, char *name,
    size_t namecap);

typedef struct dfi_checkpoint {
	char origin[DFI_J_STR_MAX];
	uint64_t size;
	uint8_t root[DFI_HASH_LEN];
	/* Extension line "prev <n>": the tree size of the journal's previous
	 * checkpoint (0 for the first), so a removed checkpoint line shows. */
	uint64_t prev_size;
} dfi_checkpoint;

/* Signs a checkpoint as a signed note with key name = origin: one
 * signature line; an ECDSA P-256 signature in its low-s form (s <= n/2,
 * s -> n - s when the signer gave the other one). */
dfi_err dfi_note_sign(const dfi_checkpoint *cp, dfi_signer *s, uint8_t *note, size_t cap,
    size_t *len);
/* The same with the key ID already known (dfi_jpubkey_key_id): what the
 * writer uses for every checkpoint, so no public key is parsed per append. */
dfi_err dfi_note_sign_id(const dfi_checkpoint *cp, dfi_signer *s, uint32_t key_id, uint8_t *note,
    size_t cap, size_t *len);
/* Parses a signed checkpoint note and, when key is not NULL, verifies the
 * signature by key (key name = the checkpoint's origin). Returns
 * DFI_E_JOURNAL_FORMAT on a malformed note, DFI_E_JOURNAL_SIGNATURE when no
 * valid signature by key is present. The note must carry exactly one
 * signature line, the journal key's (key name = origin; with key, its key
 * ID): any other line is DFI_E_JOURNAL_SIGNATURE, with or without key. With
 * key, a high-s ECDSA signature (s > n/2) is DFI_E_JOURNAL_SIGNATURE. */
dfi_err dfi_note_open(const uint8_t *note, size_t len, const dfi_jpubkey *key,
    dfi_checkpoint *cp);
/* The signed note a journal line carries, for a reader of journal.log that
 * shows checkpoints itself (dfi_note_open then parses it): line is len
 * bytes without the newline. Returns DFI_OK with the note in note (cap
 * bytes; DFI_J_NOTE_MAX always suffices for a note the journal accepts)
 * and its length in *nlen; DFI_E_NOT_FOUND when line is not a checkpoint
 * line (a record); DFI_E_JOURNAL_FORMAT when it is one whose base64 is
 * malformed or decodes to more than cap bytes; DFI_E_INVALID_ARG for a
 * NULL note or nlen. The test of what is a checkpoint line is the one
 * every reader in the library makes. */
dfi_err dfi_note_from_line(const char *line, size_t len, uint8_t *note, size_t cap, size_t *nlen);

/* ---- injectable I/O ------------------------------------------------------ */

/* Every file operation of the writer goes through this table so tests can
 * simulate ENOSPC, EIO and crashes. Return values and errno as POSIX. */
struct dfi_journal_io {
	int (*open)(void *ctx, const char *path, int flags, mode_t mode);
	int (*openat)(void *ctx, int dirfd, const char *path, int flags, mode_t mode);
	ssize_t (*pwrite)(void *ctx, int fd, const void *buf, size_t len, off_t off);
	ssize_t (*pread)(void *ctx, int fd, void *buf, size_t len, off_t off);
	int (*fdatasync)(void *ctx, int fd);
	int (*fsync)(void *ctx, int fd);
	int (*ftruncate)(void *ctx, int fd, off_t len);
	int (*flock)(void *ctx, int fd, int op);
	int (*close)(void *ctx, int fd);
	int (*renameat)(void *ctx, int olddirfd, const char *oldpath, int newdirfd, const char *newpath);
	int (*mkdirat)(void *ctx, int dirfd, const char *path, mode_t mode);
	void *ctx;
};

/* The plain POSIX implementation. */
const struct dfi_journal_io *dfi_journal_io_posix(void);

/* ---- writer ------------------------------------------------------------- */

typedef struct dfi_journal dfi_journal;

struct dfi_journal_opts {
	const char *station;                /* required: names this station in records */
	const struct dfi_journal_io *io;    /* NULL: POSIX */
	int64_t (*now)(void *ctx);          /* NULL: time(NULL) */
	void *now_ctx;
	/* Optional: why an open halted (one call per finding). */
	void (*finding)(void *ctx, uint64_t line, dfi_err code, const char *msg);
	void *finding_ctx;
	/* Optional: when create or open fails on the file system, one line
	 * naming the path, the system's reason (strerror) and what to do. */
	char *detail;
	size_t detail_cap;
};

/* Creates DIR (if missing, mode 0700) and DIR/journal.log holding a genesis
 * record and its checkpoint, atomically (temporary file created with
 * O_EXCL|O_NOFOLLOW, fdatasync, rename, directory fsync). DFI_E_INVALID_ARG
 * if a journal already exists there. An existing DIR must belong to this
 * process's user and be writable by nobody else, else DFI_E_JOURNAL_UNSAFE
 * (a directory others can write lets them plant links to other files).
 * File-system failures are DFI_E_NOT_FOUND, DFI_E_PERMISSION or DFI_E_IO
 * with opts->detail saying which path and why. */
dfi_err dfi_journal_create(const char *dir, const char *origin, dfi_signer *signer,
    const struct dfi_journal_opts *opts);

/* 1 when origin can name a journal (dfi_journal_create accepts it): the
 * checkpoints' key name, 1..127 bytes of printable ASCII without spaces
 * or '+' (docs/JOURNAL.md section 5); 0 otherwise and for NULL. Lets a
 * caller refuse an origin before it opens the HSM. */
int dfi_journal_origin_valid(const char *origin);

/* What dfi_journal_open() found and did. */
struct dfi_journal_recovery {
	uint64_t records;          /* records covered after open */
	uint64_t quarantined_lines, quarantined_bytes, quarantined_intents;
	unsigned recoveries;       /* recovery records appended by this open */
	char quarantine_file[DFI_J_STR_MAX]; /* last file written, "" if none */
	/* The intents the quarantined lines held (at most 16 listed). They were
	 * never acknowledged to a caller, but the card is probed anyway. */
	dfi_jrec lost_intents[16];
	unsigned n_lost_intents;
};

/* Opens DIR/journal.log for appending (DIR checked as by create; the file
 * must be a regular file, never followed through a symbolic link, else
 * DFI_E_JOURNAL_UNSAFE): takes the lock (DFI_E_JOURNAL_LOCKED
 * when another writer holds it), checks every covered record against the
 * checkpoints and every checkpoint's signature (DFI_E_JOURNAL_CORRUPT /
 * DFI_E_JOURNAL_SIGNATURE halt: nothing is repaired), quarantines an
 * uncovered tail into DIR/quarantine/ and appends a recovery record, and
 * builds the index. rec may be NULL. */
dfi_err dfi_journal_open(dfi_journal **out, const char *dir, dfi_signer *signer,
    const struct dfi_journal_opts *opts, struct dfi_journal_recovery *rec);
void dfi_journal_close(dfi_journal *j);

/* Appends n records (1..1024; seq and time are assigned, station defaults to
 * the handle's; seqs[i] receives each seq when seqs is not NULL) and returns
 * once they and a checkpoint covering them are durable. The records of one
 * call are checked against the index as it was before the call: an outcome
 * must name an open intent, an intent a key without one, else
 * DFI_E_INVALID_ARG and nothing is written. Any write, sync or signing
 * failure is returned and makes the handle fail every later append (reopen
 * to recover). */
dfi_err dfi_journal_append(dfi_journal *j, const dfi_jrec *recs, size_t n, uint64_t *seqs);

/* The same in two halves, so that the fdatasync overlaps other work (the
 * card's time): dfi_journal_append_async() checks and queues the records
 * (they are in the index at once, exactly as after dfi_journal_append) and
 * returns a ticket; a thread of the handle, started on the first call,
 * writes, signs and syncs queued batches; dfi_journal_wait() returns once
 * the ticket's batch is durable under a signed checkpoint, or its error.
 * Nothing covered by a ticket may be acted on (no ChangeKey sent) before
 * dfi_journal_wait() said DFI_OK. Tickets are waited for in any order, by
 * any thread; dfi_journal_close() still writes what was queued. */
dfi_err dfi_journal_append_async(dfi_journal *j, const dfi_jrec *recs, size_t n, uint64_t *seqs,
    uint64_t *ticket);
dfi_err dfi_journal_wait(dfi_journal *j, uint64_t ticket);

/* Conveniences over dfi_journal_append(). station comes from the options. */
dfi_err dfi_journal_intent(dfi_journal *j, const dfi_jrec *intent, uint64_t *seq);
dfi_err dfi_journal_commit(dfi_journal *j, uint64_t intent_seq);
dfi_err dfi_journal_abort(dfi_journal *j, uint64_t intent_seq, const char *reason);
dfi_err dfi_journal_resolve(dfi_journal *j, uint64_t intent_seq, int observed_version,
    dfi_jmatch matched);

/* ---- index (built at open, kept current by appends) ---------------------- */

/* Last known version of a key: DFI_E_NOT_FOUND if the journal knows none. */
dfi_err dfi_journal_key_version(dfi_journal *j, const dfi_jkey *key, uint8_t *version);
/* The open (unresolved) intent for a key, if any: DFI_E_NOT_FOUND otherwise. */
dfi_err dfi_journal_open_intent(dfi_journal *j, const dfi_jkey *key, dfi_jrec *intent);
/* Calls fn for every open intent, in seq order; returns their count. */
size_t dfi_journal_open_intents(dfi_journal *j, void (*fn)(void *ctx, const dfi_jrec *intent),
    void *ctx);
/* What the index knows of one card: the local registry's source
 * (registry.h). A key slot is a (UID, AID, key number) the journal has
 * records for. */
enum dfi_jslot_state {
	DFI_JSLOT_UNKNOWN = 0, /* nothing known (or forgotten by an authorization, or resolved none) */
	DFI_JSLOT_INITIAL,     /* still the key it had before any recorded change (aborted / resolved old) */
	DFI_JSLOT_CHANGED,     /* holds the new key of a committed (or resolved-new) intent */
};
struct dfi_journal_slot {
	dfi_jkey key;
	enum dfi_jslot_state state;
	int version;             /* last recorded version, -1 unknown */
	uint32_t generation;     /* CHANGED: the key generation that intent named */
	uint64_t changed_by;     /* CHANGED: the seq of that intent */
	int has_open;            /* an intent for this slot has no outcome yet */
	uint64_t open_seq;
	/* The profile digest of the intent that put the slot in its state
	 * (CHANGED: the change; INITIAL: the aborted or resolved-old one),
	 * when that intent carried one. */
	int has_profile;
	uint8_t profile[DFI_J_PROFILE_LEN];
};
struct dfi_journal_card {
	unsigned slots, changed, open_intents;
	unsigned refusals;
	uint64_t last_refusal;        /* seq; valid when refusals > 0 */
	unsigned authorizations;
	uint64_t last_authorization;  /* seq; valid when authorizations > 0 */
	int authorization_pending;    /* no intent for the UID since the last authorization */
	int has_intent;
	uint64_t last_intent;         /* seq of the newest intent; valid when has_intent */
};
/* Looks a card up in the index: *out (zeroed for a UID the journal does
 * not know), then slot() per key slot and intent() per open intent (either
 * may be NULL). The callbacks run under the journal's lock: they must not
 * call into the journal. */
dfi_err dfi_journal_card(dfi_journal *j, const uint8_t *uid, size_t uid_len,
    struct dfi_journal_card *out, void (*slot)(void *ctx, const struct dfi_journal_slot *s),
    void (*intent)(void *ctx, const dfi_jrec *in), void *ctx);

/* The journal's origin (its checkpoint origin and note key name); owned
 * by j and valid until dfi_journal_close(j). */
const char *dfi_journal_origin(const dfi_journal *j);

/* Records covered so far and the latest signed checkpoint note. */
uint64_t dfi_journal_size(dfi_journal *j);
dfi_err dfi_journal_checkpoint(dfi_journal *j, uint8_t *note, size_t cap, size_t *len);

/* Why the last append failed, for a message that says what to do. An
 * append fails on the file system (a write or its fdatasync: the handle
 * then takes nothing more) or at the signer (the checkpoint could not be
 * signed: nothing reached the file). */
enum dfi_journal_failed {
	DFI_JFAIL_NONE = 0,
	DFI_JFAIL_FILE,   /* writing or syncing DIR/journal.log failed */
	DFI_JFAIL_SIGNER, /* the journal key could not sign a checkpoint */
};
struct dfi_journal_failure {
	enum dfi_journal_failed kind;
	dfi_err code;     /* what the append returned */
	int sys_errno;    /* DFI_JFAIL_FILE: the system's reason (errno) */
	/* One line naming the journal file (or key) and the reason, and one
	 * saying what an operator does about it; "" when kind is NONE. */
	char what[640];
	char todo[160];
};
/* Fills *out with the last failure of an append on j (kind NONE when
 * none failed). */
dfi_err dfi_journal_last_failure(dfi_journal *j, struct dfi_journal_failure *out);

/* ---- verification (auditor) ---------------------------------------------- */

struct dfi_jverify_opts {
	const dfi_jpubkey *pubkey;   /* NULL: signatures are not checked (show) */
	const char *origin;          /* NULL: the genesis record's origin; else a
	                              * key name (DFI_E_INVALID_ARG if not) */
	const uint8_t *last_seen;    /* a signed checkpoint note kept earlier, or NULL */
	size_t last_seen_len;
	/* One call per finding (a reason the journal does not verify). line is
	 * 1-based, 0 for the file as a whole. */
	void (*finding)(void *ctx, uint64_t line, dfi_err code, const char *msg);
	/* Optional: every record that parses, in file order. */
	void (*record)(void *ctx, uint64_t line, const dfi_jrec *rec);
	/* Optional: every intent without an outcome at the end. */
	void (*unresolved)(void *ctx, const dfi_jrec *intent);
	void *ctx;
};

struct dfi_jverify_result {
	uint64_t lines, records, checkpoints;
	uint64_t covered;            /* records covered by the last valid checkpoint */
	uint64_t findings;
	uint64_t intents, commits, aborts, resolves, recoveries, unresolved;
	uint8_t root[DFI_HASH_LEN];  /* of the covered tree */
	uint8_t last_note[DFI_J_NOTE_MAX];
	size_t last_note_len;        /* the last valid checkpoint note */
	uint64_t refusals, authorizations;
	uint64_t changes;            /* change records (intents for non-key changes) */
	/* When every finding is in the lines after the last valid checkpoint
	 * (torn or uncovered: the trace of a failed write or a crash, never
	 * covered by a signature, which the writer's next open moves to
	 * quarantine/): the first of those lines and their count; else 0. */
	uint64_t tail_from, tail_lines;
};

/* Verifies a whole journal. DFI_OK when there is no finding; otherwise the
 * code of the first finding (DFI_E_IO etc. when the file cannot be read). */
dfi_err dfi_journal_verify_buf(const uint8_t *data, size_t len, const struct dfi_jverify_opts *o,
    struct dfi_jverify_result *res);
dfi_err dfi_journal_verify_file(const char *path, const struct dfi_jverify_opts *o,
    struct dfi_jverify_result *res);

/* dfi_journal_card for a journal read, not opened (dfissue inspect
 * --journal): path (a journal directory or its journal.log) is verified
 * as dfi_journal_verify_file does with o (its callbacks are called as
 * there; o->pubkey NULL: signatures not checked), and when it verifies,
 * the card's history is answered from its records as dfi_journal_card
 * answers from an open journal: *out, then slot() per key slot and
 * intent() per open intent (either may be NULL). No lock is taken and
 * nothing is written: a station may be appending to the file. A journal
 * with any finding answers nothing: the code of its first finding is
 * returned (DFI_E_IO etc. when the file cannot be read) and *out is
 * zeroed. */
dfi_err dfi_journal_file_card(const char *path, const struct dfi_jverify_opts *o,
    const uint8_t *uid, size_t uid_len, struct dfi_journal_card *out,
    void (*slot)(void *ctx, const struct dfi_journal_slot *s),
    void (*intent)(void *ctx, const dfi_jrec *in), void *ctx);

/* Inclusion proof of record seq against the last valid checkpoint of the
 * journal file at path. proof holds up to 64 hashes. */
struct dfi_jproof {
	uint64_t index, size;
	uint8_t leaf[DFI_HASH_LEN];
	uint8_t proof[64][DFI_HASH_LEN];
	size_t plen;
	char line[DFI_J_LINE_MAX + 1];
	uint8_t note[DFI_J_NOTE_MAX];
	size_t note_len;
};
/* Fills *p (zeroed first); DFI_E_NOT_FOUND when no valid checkpoint
 * covers record seq; the file's read errors as dfi_journal_verify_file's. */
dfi_err dfi_journal_proof_file(const char *path, uint64_t seq, struct dfi_jproof *p);

/* ---- consistency proofs between two checkpoints (witnessing) ------------- */

/* That the journal's tree of `from` records is a prefix of its tree of `to`
 * records (RFC 9162 §2.1.4), with the signed checkpoint of size `to` and,
 * when the journal has one, of size `from`. docs/JOURNAL.md, "Witnessing
 * and consistency proofs", specifies the text form. */
struct dfi_jconsistency {
	uint64_t from, to;
	uint8_t old_root[DFI_HASH_LEN], new_root[DFI_HASH_LEN];
	uint8_t proof[DFI_MERKLE_CPROOF_MAX][DFI_HASH_LEN];
	size_t plen;
	uint8_t old_note[DFI_J_NOTE_MAX];
	size_t old_note_len;           /* 0: no checkpoint of size `from` */
	uint8_t new_note[DFI_J_NOTE_MAX];
	size_t new_note_len;
};
#define DFI_JCONSISTENCY_TEXT_MAX 8192

/* The proof from record count `from` (1..to) to the checkpoint of size `to`
 * (0: the last valid checkpoint) of the journal at path. A checkpoint counts
 * when its root is the records' (signatures are not checked here: the
 * verifier does). DFI_E_NOT_FOUND when `to` is not the size of such a
 * checkpoint, DFI_E_INVALID_ARG when `from` is 0 or above it. */
dfi_err dfi_journal_consistency_file(const char *path, uint64_t from, uint64_t to,
    struct dfi_jconsistency *c);
/* The text form (NUL-terminated) and its strict parser (DFI_E_PARSE). */
dfi_err dfi_jconsistency_format(const struct dfi_jconsistency *c, char *buf, size_t cap, size_t *len);
dfi_err dfi_jconsistency_parse(const char *text, size_t len, struct dfi_jconsistency *c);
/* Checks a proof with nothing but the journal key: the new checkpoint is
 * signed by key and names `to` and the new root; the old tree is a signed
 * checkpoint too (the proof's own, or last_seen, a note the auditor kept;
 * both must agree when both are given) of the same origin naming `from`
 * and the old root; and the proof binds the two roots. DFI_OK, or an error
 * with a one-line reason in why. */
dfi_err dfi_jconsistency_verify(const struct dfi_jconsistency *c, const dfi_jpubkey *key,
    const uint8_t *last_seen, size_t last_seen_len, char *why, size_t whycap);

/* The root of the tree of the first sizes[i] records of the journal at
 * path, for each i (sizes in any order): found[i] is 0 when the journal has
 * fewer records. records (may be NULL) receives the number of complete
 * record lines. One pass over the file: an auditor checks every checkpoint
 * a registry witnessed against the journal with it. */
dfi_err dfi_journal_roots_file(const char *path, const uint64_t *sizes, size_t n,
    uint8_t (*roots)[DFI_HASH_LEN], int *found, uint64_t *records);

#ifdef __cplusplus
}
#endif
#endif
