/* Consistency proofs between two checkpoints of one journal: made from the
 * journal file, written and read in a line-oriented text form, and checked
 * with nothing but the journal key. Witnessing (the registry) and auditors
 * holding an older checkpoint both use them: a journal rolled back or
 * forked since cannot produce one. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfissue/util.h"
#include "core/grow.h"
#include "core/why.h"
#include "journal_int.h"

struct cctx {
	uint8_t (*leaves)[DFI_HASH_LEN];
	uint64_t n;
	size_t cap;
	dfi_merkle tree;
	uint64_t from, to;
	struct dfi_jconsistency *c;
	uint64_t last_size;             /* of the last valid checkpoint */
	uint8_t last_note[DFI_J_NOTE_MAX];
	size_t last_note_len;
	int have_old_root, have_to;
	dfi_err err;
};

static int
ccheckpoint(void *ctx, const char *line, size_t len)
{
	struct cctx *x = ctx;
	uint8_t note[DFI_J_NOTE_MAX], root[DFI_HASH_LEN];
	size_t nl;
	dfi_checkpoint cp;
	if (dfi_note_from_line(line, len, note, sizeof(note), &nl) != DFI_OK ||
	    dfi_note_open(note, nl, NULL, &cp) != DFI_OK || cp.size != x->n || cp.size == 0)
		return 0;
	dfi_merkle_root(&x->tree, root);
	if (memcmp(root, cp.root, DFI_HASH_LEN) != 0)
		return 0; /* not the records' checkpoint: ignored, as verify reports */
	x->last_size = cp.size;
	memcpy(x->last_note, note, nl);
	x->last_note_len = nl;
	if (cp.size == x->from) {
		memcpy(x->c->old_note, note, nl);
		x->c->old_note_len = nl;
	}
	if (x->to != 0 && cp.size == x->to) {
		memcpy(x->c->new_note, note, nl);
		x->c->new_note_len = nl;
		memcpy(x->c->new_root, root, DFI_HASH_LEN);
		x->have_to = 1;
		return 1; /* nothing after it is needed */
	}
	return 0;
}

static int
crecord(void *ctx, uint64_t seq, const char *line, size_t len)
{
	(void)seq;
	struct cctx *x = ctx;
	void *q = dfi_grow(x->leaves, &x->cap, x->n + 1, 1024, DFI_HASH_LEN);
	if (q == NULL) {
		x->err = DFI_E_NOMEM;
		return 1;
	}
	x->leaves = q;
	jreplay_leaf(NULL, line, len, x->leaves[x->n]);
	(void)dfi_merkle_push(&x->tree, x->leaves[x->n]);
	x->n++;
	if (x->n == x->from) {
		dfi_merkle_root(&x->tree, x->c->old_root);
		x->have_old_root = 1;
	}
	return 0;
}

dfi_err
dfi_journal_consistency_file(const char *path, uint64_t from, uint64_t to, struct dfi_jconsistency *c)
{
	if (path == NULL || c == NULL || from == 0 || (to != 0 && from > to))
		return DFI_E_INVALID_ARG;
	memset(c, 0, sizeof(*c));
	struct cctx *x = calloc(1, sizeof(*x));
	if (x == NULL)
		return DFI_E_NOMEM;
	dfi_merkle_init(&x->tree);
	x->from = from;
	x->to = to;
	x->c = c;
	static const struct jreplay_fn fn = { crecord, ccheckpoint };
	dfi_err e = jreplay_file(path, &fn, x);
	if (e == DFI_OK)
		e = x->err;
	if (e == DFI_OK && to == 0) {
		if (x->last_size == 0)
			e = DFI_E_NOT_FOUND;
		else {
			to = x->last_size;
			memcpy(c->new_note, x->last_note, x->last_note_len);
			c->new_note_len = x->last_note_len;
			dfi_checkpoint cp;
			e = dfi_note_open(c->new_note, c->new_note_len, NULL, &cp);
			memcpy(c->new_root, cp.root, DFI_HASH_LEN);
		}
	} else if (e == DFI_OK && !x->have_to) {
		e = DFI_E_NOT_FOUND;
	}
	if (e == DFI_OK && (from > to || !x->have_old_root))
		e = DFI_E_INVALID_ARG;
	if (e == DFI_OK) {
		c->from = from;
		c->to = to;
		e = dfi_merkle_consistency_proof((const uint8_t(*)[DFI_HASH_LEN])x->leaves, to, from, c->proof,
		    DFI_MERKLE_CPROOF_MAX, &c->plen);
	}
	free(x->leaves);
	free(x);
	return e;
}

/* ---- text form ------------------------------------------------------------------- */

static int
put(char *buf, size_t cap, size_t *at, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
put(char *buf, size_t cap, size_t *at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *at, cap - *at, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *at)
		return -1;
	*at += (size_t)n;
	return 0;
}

dfi_err
dfi_jconsistency_format(const struct dfi_jconsistency *c, char *buf, size_t cap, size_t *len)
{
	if (c == NULL || buf == NULL || len == NULL || cap == 0 || c->plen > DFI_MERKLE_CPROOF_MAX ||
	    c->new_note_len > DFI_J_NOTE_MAX || c->old_note_len > DFI_J_NOTE_MAX)
		return DFI_E_INVALID_ARG;
	size_t at = 0;
	char h[2 * DFI_HASH_LEN + 1], h2[2 * DFI_HASH_LEN + 1];
	char b64[DFI_J_NOTE_MAX * 2];
	if (dfi_hex_encode(c->old_root, DFI_HASH_LEN, h, sizeof(h)) != DFI_OK ||
	    dfi_hex_encode(c->new_root, DFI_HASH_LEN, h2, sizeof(h2)) != DFI_OK)
		return DFI_E_INTERNAL;
	if (put(buf, cap, &at, "from %" PRIu64 "\nto %" PRIu64 "\nold-root %s\nnew-root %s\n", c->from, c->to,
		h, h2) != 0)
		return DFI_E_BUFFER_TOO_SMALL;
	for (size_t i = 0; i < c->plen; i++) {
		if (dfi_hex_encode(c->proof[i], DFI_HASH_LEN, h, sizeof(h)) != DFI_OK)
			return DFI_E_INTERNAL;
		if (put(buf, cap, &at, "path %s\n", h) != 0)
			return DFI_E_BUFFER_TOO_SMALL;
	}
	if (c->old_note_len > 0) {
		if (dfi_b64_encode(c->old_note, c->old_note_len, b64, sizeof(b64)) == 0 ||
		    put(buf, cap, &at, "old-checkpoint %s\n", b64) != 0)
			return DFI_E_BUFFER_TOO_SMALL;
	}
	if (c->new_note_len == 0 || dfi_b64_encode(c->new_note, c->new_note_len, b64, sizeof(b64)) == 0 ||
	    put(buf, cap, &at, "new-checkpoint %s\n", b64) != 0)
		return c->new_note_len == 0 ? DFI_E_INVALID_ARG : DFI_E_BUFFER_TOO_SMALL;
	*len = at;
	return DFI_OK;
}

/* The next line as [*p, eol), which must be "<key> <value>". */
static int
field(const char **p, const char *end, const char *key, const char **val, size_t *vlen)
{
	size_t kl = strlen(key);
	if (*p >= end)
		return 0;
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	if (nl == NULL || (size_t)(nl - *p) <= kl + 1 || memcmp(*p, key, kl) != 0 || (*p)[kl] != ' ')
		return 0;
	*val = *p + kl + 1;
	*vlen = (size_t)(nl - *val);
	*p = nl + 1;
	return 1;
}

static int
hash32(const char *v, size_t n, uint8_t out[DFI_HASH_LEN])
{
	char tmp[2 * DFI_HASH_LEN + 1];
	size_t l;
	if (n != 2 * DFI_HASH_LEN)
		return 0;
	memcpy(tmp, v, n);
	tmp[n] = '\0';
	return dfi_hex_decode(tmp, out, DFI_HASH_LEN, &l) == DFI_OK && l == DFI_HASH_LEN;
}

dfi_err
dfi_jconsistency_parse(const char *text, size_t len, struct dfi_jconsistency *c)
{
	if (text == NULL || c == NULL)
		return DFI_E_INVALID_ARG;
	memset(c, 0, sizeof(*c));
	if (len == 0 || len > DFI_JCONSISTENCY_TEXT_MAX || text[len - 1] != '\n')
		return DFI_E_PARSE;
	const char *p = text, *end = text + len, *v;
	size_t vl;
	if (!field(&p, end, "from", &v, &vl) || jparse_u64(v, v + vl, &c->from) != 0 || !field(&p, end, "to", &v, &vl) ||
	    jparse_u64(v, v + vl, &c->to) != 0 || c->from == 0 || c->from > c->to ||
	    !field(&p, end, "old-root", &v, &vl) || !hash32(v, vl, c->old_root) ||
	    !field(&p, end, "new-root", &v, &vl) || !hash32(v, vl, c->new_root))
		return DFI_E_PARSE;
	while (p < end && field(&p, end, "path", &v, &vl)) {
		if (c->plen == DFI_MERKLE_CPROOF_MAX || !hash32(v, vl, c->proof[c->plen]))
			return DFI_E_PARSE;
		c->plen++;
	}
	const char *save = p;
	if (field(&p, end, "old-checkpoint", &v, &vl)) {
		if (dfi_b64_decode(v, vl, c->old_note, sizeof(c->old_note), &c->old_note_len) != DFI_OK)
			return DFI_E_PARSE;
	} else {
		p = save;
	}
	if (!field(&p, end, "new-checkpoint", &v, &vl) ||
	    dfi_b64_decode(v, vl, c->new_note, sizeof(c->new_note), &c->new_note_len) != DFI_OK || p != end)
		return DFI_E_PARSE;
	return DFI_OK;
}

/* ---- checking ------------------------------------------------------------------------ */

dfi_err
dfi_jconsistency_verify(const struct dfi_jconsistency *c, const dfi_jpubkey *key,
    const uint8_t *last_seen, size_t last_seen_len, char *w, size_t wcap)
{
	if (c == NULL || key == NULL)
		return DFI_E_INVALID_ARG;
	if (w != NULL && wcap > 0)
		w[0] = '\0';
	dfi_checkpoint nc, oc, ls;
	dfi_err e = dfi_note_open(c->new_note, c->new_note_len, key, &nc);
	if (e != DFI_OK)
		return dfi_why(w, wcap, e, "the new checkpoint %s",
		    e == DFI_E_JOURNAL_SIGNATURE ? "is not signed by this key" : "is not a signed checkpoint note");
	if (nc.size != c->to || memcmp(nc.root, c->new_root, DFI_HASH_LEN) != 0)
		return dfi_why(w, wcap, DFI_E_JOURNAL_CORRUPT,
		    "the new checkpoint (size %" PRIu64 ") is not the proof's tree of size %" PRIu64 " and its root",
		    nc.size, c->to);
	int have_old = 0;
	if (c->old_note_len > 0) {
		if ((e = dfi_note_open(c->old_note, c->old_note_len, key, &oc)) != DFI_OK)
			return dfi_why(w, wcap, e, "the old checkpoint %s",
			    e == DFI_E_JOURNAL_SIGNATURE ? "is not signed by this key" :
							   "is not a signed checkpoint note");
		have_old = 1;
	}
	if (last_seen != NULL) {
		if ((e = dfi_note_open(last_seen, last_seen_len, key, &ls)) != DFI_OK)
			return dfi_why(w, wcap, e, "the last-seen checkpoint %s",
			    e == DFI_E_JOURNAL_SIGNATURE ? "is not signed by this key" :
							   "is not a signed checkpoint note");
		if (have_old && (oc.size != ls.size || memcmp(oc.root, ls.root, DFI_HASH_LEN) != 0 ||
				    strcmp(oc.origin, ls.origin) != 0))
			return dfi_why(w, wcap, DFI_E_JOURNAL_ROLLBACK,
			    "the proof's old checkpoint (size %" PRIu64 ") is not the last-seen one (size %" PRIu64
			    ")%s", oc.size, ls.size,
			    oc.size == ls.size ? ": the journal was rolled back or forked since" : "");
		oc = ls;
		have_old = 1;
	}
	if (!have_old)
		return dfi_why(w, wcap, DFI_E_NOT_FOUND,
		    "the old tree (size %" PRIu64 ") is no signed checkpoint: give the checkpoint you kept (--last-seen)",
		    c->from);
	if (strcmp(oc.origin, nc.origin) != 0)
		return dfi_why(w, wcap, DFI_E_JOURNAL_CORRUPT, "the two checkpoints are of different logs ('%s', '%s')",
		    oc.origin, nc.origin);
	if (oc.size != c->from || memcmp(oc.root, c->old_root, DFI_HASH_LEN) != 0)
		return dfi_why(w, wcap, DFI_E_JOURNAL_ROLLBACK,
		    "the old checkpoint (size %" PRIu64 ") is not the proof's tree of size %" PRIu64 " and its root%s",
		    oc.size, c->from, oc.size == c->from ? ": the journal was rolled back or forked since" : "");
	if (dfi_merkle_verify_consistency(c->from, c->to, c->old_root, c->new_root,
		(const uint8_t(*)[DFI_HASH_LEN])c->proof, c->plen) != DFI_OK)
		return dfi_why(w, wcap, DFI_E_JOURNAL_ROLLBACK,
		    "the proof does not show the tree of %" PRIu64 " records extends the tree of %" PRIu64
		    ": the journal was rolled back or forked",
		    c->to, c->from);
	return DFI_OK;
}

/* ---- roots at given sizes ------------------------------------------------------------- */

struct want {
	uint64_t size;
	size_t i;
};

struct rctx {
	dfi_merkle tree;
	struct want *order;     /* the sizes asked for, ascending */
	size_t n, next;
	uint8_t (*roots)[DFI_HASH_LEN];
	int *found;
};

static int
rrecord(void *ctx, uint64_t seq, const char *line, size_t len)
{
	(void)seq;
	struct rctx *x = ctx;
	uint8_t leaf[DFI_HASH_LEN];
	jreplay_leaf(NULL, line, len, leaf);
	(void)dfi_merkle_push(&x->tree, leaf);
	while (x->next < x->n && x->order[x->next].size <= x->tree.size) {
		size_t i = x->order[x->next++].i;
		if (x->order[x->next - 1].size == x->tree.size) {
			dfi_merkle_root(&x->tree, x->roots[i]);
			x->found[i] = 1;
		}
	}
	return 0;
}

static int
by_size(const void *a, const void *b)
{
	uint64_t x = ((const struct want *)a)->size, y = ((const struct want *)b)->size;
	return x < y ? -1 : x > y;
}

dfi_err
dfi_journal_roots_file(const char *path, const uint64_t *sizes, size_t n, uint8_t (*roots)[DFI_HASH_LEN],
    int *found, uint64_t *records)
{
	if (path == NULL || (n > 0 && (sizes == NULL || roots == NULL || found == NULL)))
		return DFI_E_INVALID_ARG;
	struct rctx x;
	memset(&x, 0, sizeof(x));
	dfi_merkle_init(&x.tree);
	x.order = calloc(n ? n : 1, sizeof(*x.order));
	if (x.order == NULL)
		return DFI_E_NOMEM;
	for (size_t i = 0; i < n; i++) {
		x.order[i].size = sizes[i];
		x.order[i].i = i;
		found[i] = 0;
	}
	qsort(x.order, n, sizeof(*x.order), by_size);
	x.n = n;
	x.roots = roots;
	x.found = found;
	static const struct jreplay_fn fn = { rrecord, NULL };
	dfi_err e = jreplay_file(path, &fn, &x);
	if (e == DFI_OK && records != NULL)
		*records = x.tree.size;
	free(x.order);
	return e;
}
