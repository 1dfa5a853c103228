/* engine/journal private interfaces: shared by the files of this module. */
#ifndef DFI_JOURNAL_INT_H
#define DFI_JOURNAL_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dfissue/journal.h"

/* base64 (RFC 4648 §4, padded). encode returns the length written (NUL
 * added), 0 when cap is too small; decode accepts only canonical input. */
size_t dfi_b64_encode(const uint8_t *in, size_t len, char *out, size_t cap);
dfi_err dfi_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen);

/* Converts an intent between format 2 (what dfi_jrec_format/parse write
 * and read: the AID in command order) and a journal of the given format:
 * for format 1 (the AID most significant byte first) the AID's outer bytes
 * swap, which is its own inverse; otherwise nothing changes. */
void jrec_aid_format1(dfi_jrec *r, unsigned format);

/* dfi_note_open, and on a refusal one line in why saying what is wrong
 * with the note's signatures (a foreign line, a high s, a bad signature);
 * why may be NULL. */
dfi_err jnote_open(const uint8_t *note, size_t len, const dfi_jpubkey *key, dfi_checkpoint *cp,
    char *why, size_t cap);
/* One thread's state for opening notes against one key again and again
 * (the signature threads'): the verify context initialized once and
 * copied for each signature, and the key ID of the last origin. NULL when
 * it cannot be made; jnotever_open is dfi_note_open(note, len, key, cp). */
struct jnotever;
struct jnotever *jnotever_new(const dfi_jpubkey *key);
void jnotever_free(struct jnotever *v);
dfi_err jnotever_open(struct jnotever *v, const uint8_t *note, size_t len, dfi_checkpoint *cp);
/* A decimal in [p, end): digits only, no leading zero, fits 64 bits. 0 or
 * -1. The one spelling every decimal in the journal's formats has. */
int jparse_u64(const char *p, const char *end, uint64_t *out);

/* A checkpoint line: "checkpoint " + base64(signed note). */
#define JCP_PREFIX "checkpoint "
#define JCP_PREFIX_LEN 11
/* Whether a line the scanner passes (NULL: over-long) is a checkpoint
 * line: the one test every reader of a journal makes, so that none
 * decides differently what is a record. Inline: the verify asks it of
 * every line. */
static inline int
jcp_is_line(const char *line, size_t len)
{
	return line != NULL && len >= JCP_PREFIX_LEN && memcmp(line, JCP_PREFIX, JCP_PREFIX_LEN) == 0;
}
dfi_err jcp_line(const uint8_t *note, size_t nlen, char *out, size_t cap, size_t *len);
/* A checkpoint line's note and its parse when it is well formed and for a
 * tree of exactly size records, its signature not checked: what the
 * readers that only look for the checkpoint over the records they have
 * (an inclusion proof, the registry's witness) accept, once they have
 * compared cp->root with their own root. Else DFI_E_NOT_FOUND. */
dfi_err jcp_note_sized(const char *line, size_t len, uint64_t size, uint8_t *note, size_t cap,
    size_t *nlen, dfi_checkpoint *cp);

/* ---- I/O helpers over an injectable table --------------------------------- */
/* On failure errno holds the reason (EIO for a write that wrote nothing). */
dfi_err jio_write_all(const struct dfi_journal_io *io, int fd, const void *buf, size_t len, uint64_t off);
dfi_err jio_errno(int err); /* maps errno to a dfi_err */

/* ---- the directory and its files (dirsafe.c) ------------------------------- */
/* Writes one line into o->detail (when given) and returns e. */
dfi_err jdetail(const struct dfi_journal_opts *o, dfi_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* What an operator does about errno err on a journal's path (dirsafe.c).
 * may_move: the journal is being opened or created, so another --journal
 * is a way out; 0 when writing to an open journal failed, which cannot
 * move elsewhere (its open intents are in it): the file system must be
 * mended. */
const char *jremedy(int err, int may_move);
/* "<what> '<path>': <strerror> (<what to do>)", returns jio_errno(err). */
dfi_err jdetail_errno(const struct dfi_journal_opts *o, int err, const char *what, const char *path);
/* DFI_E_JOURNAL_UNSAFE unless dfd is a directory of this user that nobody
 * else can write. */
dfi_err jdir_check(const struct dfi_journal_opts *o, int dfd, const char *dir);
/* The same for an open journal file: a regular file of this user. */
dfi_err jfile_check(const struct dfi_journal_opts *o, int fd, const char *dir, const char *name);

/* ---- line scanner -------------------------------------------------------- */

/* Called once per line. len excludes the LF; complete is 0 for a last line
 * without LF. A line longer than DFI_J_LINE_MAX arrives with line == NULL
 * and its full length. off is the line's offset in the file. Return nonzero
 * to stop. */
typedef int (*jscan_fn)(void *ctx, const char *line, size_t len, int complete, uint64_t off);
dfi_err jscan_buf(const uint8_t *data, size_t len, jscan_fn fn, void *ctx);
dfi_err jscan_fd(const struct dfi_journal_io *io, int fd, uint64_t limit, jscan_fn fn, void *ctx);

/* Opens a journal given as its directory or as journal.log itself, for
 * reading (verify.c). */
dfi_err open_journal(const char *path, int *fd);

/* ---- a journal file's records (replay.c) ----------------------------------- */

/* What jreplay_file passes on: each record with its number from 0 (line
 * NULL for one longer than DFI_J_LINE_MAX), each checkpoint line (none
 * when checkpoint is NULL). Either returns nonzero to stop. */
struct jreplay_fn {
	int (*record)(void *ctx, uint64_t seq, const char *line, size_t len);
	int (*checkpoint)(void *ctx, const char *line, size_t len);
};
/* Reads the journal at path (as open_journal takes it) in order; a torn
 * last line is not passed on. */
dfi_err jreplay_file(const char *path, const struct jreplay_fn *fn, void *ctx);

/* ---- index --------------------------------------------------------------- */

typedef void (*jfinding_fn)(void *ctx, uint64_t line, dfi_err code, const char *msg);

typedef struct jindex jindex;
jindex *jindex_new(void);
void jindex_free(jindex *ix);
/* Applies record number n (r->seq is taken as given). Semantic problems are
 * reported through fn (may be NULL). */
dfi_err jindex_apply(jindex *ix, const dfi_jrec *r, uint64_t line, jfinding_fn fn, void *ctx);
/* Would appending r be consistent? (the writer's own check) */
dfi_err jindex_check(const jindex *ix, const dfi_jrec *r);
dfi_err jindex_key_version(const jindex *ix, const dfi_jkey *k, uint8_t *v);
dfi_err jindex_open_intent(const jindex *ix, const dfi_jkey *k, dfi_jrec *out);
size_t jindex_foreach_open(const jindex *ix, void (*fn)(void *ctx, const dfi_jrec *r), void *ctx);
/* What the index knows of one card (dfi_journal_card). */
dfi_err jindex_card(const jindex *ix, const uint8_t *uid, size_t len, struct dfi_journal_card *out,
    void (*slot)(void *ctx, const struct dfi_journal_slot *s),
    void (*intent)(void *ctx, const dfi_jrec *in), void *ctx);
uint64_t jindex_count(const jindex *ix);
/* A hint, no effect on the index: starts loading the table slots that
 * applying r will read (a walk ahead of its records, pipe.c). On a journal
 * of a million cards those slots are cache misses, most of the index's time. */
void jindex_prefetch(const jindex *ix, const dfi_jrec *r);

/* ---- Merkle hashing with a reused context (merkle.c) ------------------------ */

/* What dfi_merkle_leaf_hash, _push and _root compute, with one SHA-256
 * context kept from call to call (one thread's: a jsha is not shared). h
 * NULL: the one-shot path of the public functions. */
typedef struct jsha jsha;
jsha *jsha_new(void);
void jsha_free(jsha *h);
void jsha_leaf(jsha *h, const void *data, size_t len, uint8_t out[DFI_HASH_LEN]);
dfi_err jsha_push(jsha *h, dfi_merkle *m, const uint8_t leaf[DFI_HASH_LEN]);
/* A record's Merkle leaf as the scanner passes it (line NULL: over-long):
 * zero for an over-long line, which no checkpoint can match. The one
 * place that rule is written: the verify's walk, the consistency proofs
 * and the registry's witness all take their leaves here. h: a reused
 * hasher, or NULL for the one-shot hashes (the same leaves). */
void jreplay_leaf(jsha *h, const char *line, size_t len, uint8_t leaf[DFI_HASH_LEN]);
void jsha_root(jsha *h, const dfi_merkle *m, uint8_t out[DFI_HASH_LEN]);

/* ---- the walk: one pass over a journal's lines ------------------------------ */

/* What a line tells from its bytes alone, before any check: its kind, for
 * a record its leaf in the tree and its parse, for a checkpoint line the
 * tree's root over the records before it. jline_prep works it out (in the
 * walk's own thread, or ahead of it in the pipe's: pipe.c); jwalk_apply
 * makes every check and finding from it, in the file's order. */
enum { JL_RECORD, JL_LONG, JL_TORN, JL_CP };

struct jline {
	uint64_t off;
	size_t len;
	int kind, complete;
	int rollback;                 /* JL_RECORD: the tree so far is not last_seen's */
	int parsed;                   /* JL_RECORD: dfi_jrec_parse accepted it */
	uint8_t root[DFI_HASH_LEN];   /* JL_CP */
	const char *text;             /* JL_CP: the line (valid while it is applied) */
	dfi_jrec rec;                 /* JL_RECORD, when parsed */
};

/* The Merkle tree over the lines so far and the last-seen check on it. */
struct jtree {
	dfi_merkle tree;
	const dfi_checkpoint *last_seen;
	int last_seen_checked;
	jsha *sha;                    /* the hashing thread's, or NULL */
};

void jline_prep(struct jtree *t, const char *line, size_t len, int complete, uint64_t off,
    struct jline *jl);

struct jwalk {
	/* set by the caller */
	const dfi_jpubkey *pub;
	int verify_all;               /* check every checkpoint's signature */
	char origin[DFI_J_STR_MAX];   /* "" : from genesis */
	const dfi_checkpoint *last_seen;
	jfinding_fn finding;
	void (*record)(void *ctx, uint64_t line, const dfi_jrec *rec);
	int semantic;                 /* report index findings too */
	void *ctx;
	jindex *ix;                   /* may be NULL */

	/* state */
	struct jtree t;               /* the tree (t.last_seen: last_seen's copy) */
	uint64_t lines, nrec, ncp, covered;
	uint64_t cp_lines;            /* checkpoint lines seen (their ordinal) */
	uint64_t chain_ref;           /* records before the last checkpoint line */
	int key_mismatch;             /* the genesis names another key than pub */
	uint64_t refused_upto;        /* records before the last refused checkpoint line */
	uint64_t good_cp_end;         /* file offset after the last valid checkpoint */
	uint64_t last_cp_line_end;    /* after the last complete checkpoint-looking line */
	uint64_t first_bad_off;       /* offset of the first structural finding */
	uint64_t first_uncovered_line;
	uint64_t good_cp_line, good_cp_off;
	uint64_t end;                 /* offset after the last line seen */
	uint64_t prev_seq;            /* of the last record that parsed */
	int have_prev;
	uint64_t size_gap;            /* last reported checkpoint size - records */
	int size_gap_set;
	uint64_t findings;
	uint64_t min_finding_line;    /* the lowest line a finding named (0: the whole file) */
	dfi_err first_err;
	int have_genesis;
	dfi_jrec genesis;
	uint8_t root[DFI_HASH_LEN];
	uint8_t last_note[DFI_J_NOTE_MAX];
	size_t last_note_len;
	uint64_t counts[DFI_JREC_LAST + 1]; /* by record type */

	/* internal hook: every record that parses (after `record`) */
	void (*hook)(void *hctx, uint64_t line, const dfi_jrec *rec);
	void *hctx;
	/* NULL, or threads verifying checkpoint signatures ahead of the walk
	 * (sigpool.h; verify_all only) */
	struct jsigpool *sigs;
};

void jwalk_init(struct jwalk *w);
/* A non-structural finding from outside the walk (e.g. quarantine files). */
void jwalk_note(struct jwalk *w, uint64_t line, dfi_err code, const char *msg);
int jwalk_line(void *w, const char *line, size_t len, int complete, uint64_t off);
/* jl's record is converted to format 2 in place (jrec_aid_format1) once
 * the genesis has told the journal's format. */
void jwalk_apply(struct jwalk *w, struct jline *jl);
/* Walks the journal (the file at fd through io, or data/len when data is
 * not NULL) with w: the tree and the parsing in a thread of their own,
 * ahead of the checks made here (the same findings, in the same order, as
 * jscan_* with jwalk_line); in this thread alone when it cannot start. */
dfi_err jpipe_walk(struct jwalk *w, const struct dfi_journal_io *io, int fd, const uint8_t *data,
    size_t len);
void jwalk_finish(struct jwalk *w, uint64_t file_len);
/* After jwalk_finish: 1 when there are findings and every one is in the
 * lines after the last valid checkpoint, none structural before it (what
 * a failed write or a crash leaves, and what the writer's open
 * quarantines instead of halting); 0 otherwise. */
int jwalk_tail_only(const struct jwalk *w);

#endif
