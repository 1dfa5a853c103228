/* One pass over a journal's lines: the Merkle tree over the records, every
 * checkpoint against it, sequence numbers, the genesis key, and (through the
 * index) intent/outcome pairing and key-version continuity. The writer's
 * open and the auditor's verify both walk with this; they differ only in
 * which signatures are checked and what they do with the findings. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "journal_int.h"
#include "sigpool.h"

void
jwalk_init(struct jwalk *w)
{
	memset(w, 0, sizeof(*w));
	dfi_merkle_init(&w->t.tree);
	w->first_bad_off = UINT64_MAX;
	dfi_merkle_root(&w->t.tree, w->root);
}

static void
report(struct jwalk *w, uint64_t line, uint64_t off, int structural, dfi_err code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void
report(struct jwalk *w, uint64_t line, uint64_t off, int structural, dfi_err code, const char *fmt, ...)
{
	char m[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	if (w->findings++ == 0 || line < w->min_finding_line)
		w->min_finding_line = line;
	if (w->first_err == DFI_OK)
		w->first_err = code;
	if (structural && off < w->first_bad_off)
		w->first_bad_off = off;
	if (w->finding != NULL)
		w->finding(w->ctx, line, code, m);
}

void
jwalk_note(struct jwalk *w, uint64_t line, dfi_err code, const char *msg)
{
	report(w, line, UINT64_MAX, 0, code, "%s", msg);
}

static void
ix_finding(void *ctx, uint64_t line, dfi_err code, const char *msg)
{
	struct jwalk *w = ctx;
	if (w->findings++ == 0 || line < w->min_finding_line)
		w->min_finding_line = line;
	if (w->first_err == DFI_OK)
		w->first_err = code;
	if (w->finding != NULL)
		w->finding(w->ctx, line, code, msg);
}

/* One finding per root cause (issue 17, finding 7): a checkpoint line that
 * is refused (bad base64, a bad or foreign signature) is reported once and
 * still ends the previous checkpoint's span, so the next checkpoint's
 * "prev" is checked against the records before this line, not against the
 * last good checkpoint: a later checkpoint that is itself fine reports
 * nothing. A line that was inserted is equally forgiven by accepting the
 * last good checkpoint's size as "prev". */
static void
checkpoint_line(struct jwalk *w, const char *line, size_t len, uint64_t off,
    const uint8_t root[DFI_HASH_LEN])
{
	uint64_t ln = w->lines, no = ++w->cp_lines;
	uint8_t note[DFI_J_NOTE_MAX];
	size_t nlen;
	dfi_checkpoint cp;
	uint64_t prev_ref = w->chain_ref;
	w->chain_ref = w->nrec;
	w->last_cp_line_end = off + len + 1;
	w->refused_upto = w->nrec; /* until it proves good */
	if (dfi_note_from_line(line, len, note, sizeof(note), &nlen) != DFI_OK) {
		report(w, ln, off, 1, DFI_E_JOURNAL_FORMAT, "checkpoint line is not valid base64 of a note");
		return;
	}
	/* Against a key that is not the genesis's every signature fails: that
	 * one root cause is reported at the genesis; here only the structure. */
	const dfi_jpubkey *pub = w->verify_all && !w->key_mismatch ? w->pub : NULL;
	char why[400] = "";
	dfi_err e = w->sigs != NULL && pub != NULL ? jsigpool_note_open(w->sigs, off, note, nlen, pub, &cp)
						     : jnote_open(note, nlen, pub, &cp, why, sizeof(why));
	if (e == DFI_E_JOURNAL_SIGNATURE && why[0] == '\0')
		(void)jnote_open(note, nlen, pub, &cp, why, sizeof(why)); /* the pool's: say why */
	if (e == DFI_E_JOURNAL_SIGNATURE) {
		report(w, ln, off, 1, e, "checkpoint %" PRIu64 " (tree size %" PRIu64 "): %s", no, cp.size,
		    why[0] ? why : "signature does not verify with the given public key");
		return;
	}
	if (e != DFI_OK) {
		report(w, ln, off, 1, DFI_E_JOURNAL_FORMAT, "checkpoint is not a well-formed signed note");
		return;
	}
	const char *want = w->origin[0] ? w->origin : w->have_genesis ? w->genesis.origin : NULL;
	int ok = !w->key_mismatch;
	if (want != NULL && strcmp(want, cp.origin) != 0) {
		report(w, ln, off, 1, DFI_E_JOURNAL_CORRUPT, "checkpoint origin '%s' is not '%s'", cp.origin, want);
		ok = 0;
	}
	if (cp.size != w->nrec) {
		/* After a deleted or inserted record every later checkpoint is
		 * off by the same amount: say so once. */
		uint64_t gap = cp.size - w->nrec;
		if (!w->size_gap_set || gap != w->size_gap)
			report(w, ln, off, 1, DFI_E_JOURNAL_CORRUPT,
			    "checkpoint covers %" PRIu64 " records but %" PRIu64 " precede it", cp.size, w->nrec);
		else
			w->first_err = w->first_err ? w->first_err : DFI_E_JOURNAL_CORRUPT;
		w->size_gap = gap;
		w->size_gap_set = 1;
		if (off < w->first_bad_off)
			w->first_bad_off = off;
		return;
	}
	uint64_t good_ref = w->ncp > 0 ? w->covered : 0;
	if (cp.prev_size != prev_ref && cp.prev_size != good_ref) {
		report(w, ln, off, 1, DFI_E_JOURNAL_CORRUPT,
		    "checkpoint says the previous checkpoint covered %" PRIu64 " records, but it covered %" PRIu64
		    " (a checkpoint line was removed or moved)",
		    cp.prev_size, prev_ref);
		ok = 0;
	}
	if (w->ncp > 0 && cp.size <= w->covered) {
		report(w, ln, off, 1, DFI_E_JOURNAL_CORRUPT,
		    "checkpoint for %" PRIu64 " records repeats an earlier tree size", cp.size);
		ok = 0;
	}
	if (memcmp(root, cp.root, DFI_HASH_LEN) != 0) {
		report(w, ln, off, 1, DFI_E_JOURNAL_CORRUPT,
		    "checkpoint root does not match the records before it (a covered record was changed)");
		return;
	}
	if (!ok)
		return;
	w->refused_upto = 0;
	w->ncp++;
	w->covered = cp.size;
	w->good_cp_end = off + len + 1;
	memcpy(w->root, root, DFI_HASH_LEN);
	memcpy(w->last_note, note, nlen);
	w->last_note_len = nlen;
	w->good_cp_line = ln;
	w->good_cp_off = off;
}

static const char *
sigalg_name(dfi_sigalg a)
{
	return a == DFI_SIG_ED25519 ? "ed25519" : a == DFI_SIG_ECDSA_P256 ? "ecdsa-p256" : "unknown";
}

static void
genesis_checks(struct jwalk *w, const dfi_jrec *r, uint64_t ln, uint64_t off)
{
	w->have_genesis = 1;
	w->genesis = *r;
	if (w->origin[0] && strcmp(w->origin, r->origin) != 0)
		report(w, ln, off, 1, DFI_E_JOURNAL_CORRUPT, "journal origin '%s' is not the expected '%s'",
		    r->origin, w->origin);
	if (w->pub != NULL) {
		/* The given key's own ID under this origin, whatever its type. */
		uint32_t id = 0;
		dfi_sigalg ga = dfi_jpubkey_alg(w->pub);
		int id_ok = dfi_jpubkey_key_id(w->pub, r->origin, &id) == DFI_OK;
		if (ga != r->alg) {
			w->key_mismatch = 1;
			report(w, ln, off, 1, DFI_E_JOURNAL_SIGNATURE,
			    "the genesis record names journal key %08" PRIX32 " (%s), but the given public key "
			    "%08" PRIX32 " is %s: the key type does not match the journal's",
			    r->key_id, sigalg_name(r->alg), id, sigalg_name(ga));
		} else if (!id_ok || id != r->key_id) {
			w->key_mismatch = 1;
			report(w, ln, off, 1, DFI_E_JOURNAL_SIGNATURE,
			    "the genesis record names journal key %08" PRIX32 " (%s), not the given public key (%08" PRIX32 ")",
			    r->key_id, sigalg_name(r->alg), id);
		}
	}
}

void
jline_prep(struct jtree *t, const char *line, size_t len, int complete, uint64_t off,
    struct jline *jl)
{
	jl->off = off;
	jl->len = len;
	jl->text = line;
	jl->complete = complete;
	if (line != NULL && !complete) {
		jl->kind = JL_TORN;
		return;
	}
	if (jcp_is_line(line, len)) {
		jl->kind = JL_CP;
		jsha_root(t->sha, &t->tree, jl->root);
		return;
	}
	/* A record, or an over-long line that stands in the tree as one
	 * (torn or not: it is reported either way). */
	uint8_t leaf[DFI_HASH_LEN];
	jreplay_leaf(t->sha, line, len, leaf);
	(void)jsha_push(t->sha, &t->tree, leaf);
	if (line == NULL) {
		jl->kind = JL_LONG;
		return;
	}
	jl->kind = JL_RECORD;
	jl->rollback = 0;
	if (t->last_seen != NULL && !t->last_seen_checked && t->tree.size == t->last_seen->size) {
		uint8_t root[DFI_HASH_LEN];
		jsha_root(t->sha, &t->tree, root);
		t->last_seen_checked = 1;
		jl->rollback = memcmp(root, t->last_seen->root, DFI_HASH_LEN) != 0;
	}
	jl->parsed = dfi_jrec_parse(line, len, &jl->rec) == DFI_OK;
}

void
jwalk_apply(struct jwalk *w, struct jline *jl)
{
	uint64_t ln = ++w->lines, off = jl->off;
	w->end = off + jl->len + (jl->complete ? 1 : 0);
	switch (jl->kind) {
	case JL_LONG:
		report(w, ln, off, 1, DFI_E_JOURNAL_FORMAT, "line is longer than %d bytes", DFI_J_LINE_MAX);
		if (w->nrec == w->covered)
			w->first_uncovered_line = ln;
		w->nrec++;
		return;
	case JL_TORN:
		report(w, ln, off, 1, DFI_E_JOURNAL_FORMAT, "last line is incomplete (a torn write)");
		return;
	case JL_CP:
		checkpoint_line(w, jl->text, jl->len, off, jl->root);
		return;
	default:
		break;
	}
	if (w->nrec == w->covered)
		w->first_uncovered_line = ln;
	uint64_t pos = w->nrec++;
	if (jl->rollback)
		report(w, ln, off, 1, DFI_E_JOURNAL_ROLLBACK,
		    "the first %" PRIu64 " records do not match the last-seen checkpoint: the journal was rewritten",
		    w->last_seen->size);
	if (!jl->parsed) {
		report(w, ln, off, 1, DFI_E_JOURNAL_FORMAT, "record does not follow the grammar");
		return;
	}
	/* Here, in file order, because the genesis decides the format. */
	if (w->have_genesis)
		jrec_aid_format1(&jl->rec, w->genesis.format);
	const dfi_jrec *r = &jl->rec;
	if (r->seq != pos) {
		/* reported where the sequence breaks, not on every later record */
		if (!w->have_prev || r->seq != w->prev_seq + 1)
			report(w, ln, off, 1, DFI_E_JOURNAL_CORRUPT,
			    "record has seq %" PRIu64 " where %" PRIu64
			    " was expected (a line was deleted, moved or repeated)",
			    r->seq, pos);
		else if (off < w->first_bad_off)
			w->first_bad_off = off;
	}
	w->prev_seq = r->seq;
	w->have_prev = 1;
	if (r->type < DFI_JREC_GENESIS || r->type > DFI_JREC_LAST)
		return;
	w->counts[r->type]++;
	if (r->type == DFI_JREC_GENESIS && pos == 0)
		genesis_checks(w, r, ln, off);
	if (r->type == DFI_JREC_CHANGE && w->have_genesis &&
	    w->genesis.format < DFI_JOURNAL_FORMAT_CHANGE)
		/* A format-1/2 reader refuses the type: such a journal must say
		 * format 3, so an older reader fails at its genesis, not here. */
		report(w, ln, off, 1, DFI_E_JOURNAL_FORMAT,
		    "a change record in a format-%u journal (change records need format %d)",
		    w->genesis.format, DFI_JOURNAL_FORMAT_CHANGE);
	if (w->ix != NULL && r->seq == pos &&
	    jindex_apply(w->ix, r, ln, w->semantic ? ix_finding : NULL, w) != DFI_OK)
		report(w, ln, off, 1, DFI_E_NOMEM, "out of memory while indexing");
	if (w->record != NULL)
		w->record(w->ctx, ln, r);
	if (w->hook != NULL)
		w->hook(w->hctx, ln, r);
}

int
jwalk_line(void *vw, const char *line, size_t len, int complete, uint64_t off)
{
	struct jwalk *w = vw;
	struct jline jl;
	w->t.last_seen = w->last_seen;
	jline_prep(&w->t, line, len, complete, off, &jl);
	jwalk_apply(w, &jl);
	return 0;
}

void
jwalk_finish(struct jwalk *w, uint64_t file_len)
{
	(void)file_len;
	if (w->lines == 0) {
		report(w, 0, 0, 1, DFI_E_JOURNAL_FORMAT, "the journal is empty");
		return;
	}
	if (!w->have_genesis)
		report(w, 0, 0, 1, DFI_E_JOURNAL_FORMAT, "the journal does not start with a genesis record");
	/* With another key than the genesis's no checkpoint is valid: that
	 * was reported at the genesis, once. */
	if (w->ncp == 0 && !w->key_mismatch)
		report(w, 0, 0, 1, DFI_E_JOURNAL_CORRUPT, "the journal has no valid checkpoint");
	/* Records whose only checkpoint was refused (and reported): that
	 * checkpoint is their finding. */
	if (w->nrec > w->covered && !w->key_mismatch && w->nrec != w->refused_upto)
		report(w, w->first_uncovered_line, UINT64_MAX, 0, DFI_E_JOURNAL_CORRUPT,
		    "%" PRIu64 " record(s) from this line on are not covered by a signed checkpoint",
		    w->nrec - w->covered);
	if (w->pub != NULL && !w->verify_all && !w->key_mismatch && w->last_note_len > 0) {
		dfi_checkpoint cp;
		if (dfi_note_open(w->last_note, w->last_note_len, w->pub, &cp) != DFI_OK)
			report(w, w->good_cp_line, w->good_cp_off, 1, DFI_E_JOURNAL_SIGNATURE,
			    "the last checkpoint's signature does not verify with the journal key");
	}
	if (w->last_seen != NULL) {
		const char *o = w->have_genesis ? w->genesis.origin : w->origin;
		if (strcmp(o, w->last_seen->origin) != 0)
			report(w, 0, 0, 1, DFI_E_JOURNAL_ROLLBACK,
			    "the last-seen checkpoint is for origin '%s', not this journal's '%s'",
			    w->last_seen->origin, o);
		else if (w->last_seen->size > w->covered)
			report(w, 0, 0, 1, DFI_E_JOURNAL_ROLLBACK,
			    "the journal covers %" PRIu64 " records, fewer than the %" PRIu64
			    " of the last-seen checkpoint: truncated or rolled back",
			    w->covered, w->last_seen->size);
		else if (w->last_seen->size == 0) {
			uint8_t empty[DFI_HASH_LEN];
			dfi_merkle leaf0;
			dfi_merkle_init(&leaf0);
			dfi_merkle_root(&leaf0, empty);
			if (memcmp(empty, w->last_seen->root, DFI_HASH_LEN) != 0)
				report(w, 0, 0, 1, DFI_E_JOURNAL_ROLLBACK, "the last-seen checkpoint of size 0 has a wrong root");
		}
	}
}

int
jwalk_tail_only(const struct jwalk *w)
{
	return w->findings > 0 && w->have_genesis && w->ncp > 0 && !w->key_mismatch &&
	    w->min_finding_line > w->good_cp_line && w->first_bad_off >= w->last_cp_line_end;
}
