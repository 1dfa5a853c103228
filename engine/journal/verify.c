/* The auditor's side: verification of a whole journal with nothing but the
 * public key, and inclusion proofs against its last checkpoint. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "journal_int.h"
#include "sigpool.h"

struct vctx {
	const struct dfi_jverify_opts *o;
};

static dfi_err
setup(struct jwalk *w, const struct dfi_jverify_opts *o, dfi_checkpoint *ls)
{
	jwalk_init(w);
	w->pub = o->pubkey;
	w->verify_all = 1;
	w->semantic = 1;
	w->finding = o->finding;
	w->record = o->record;
	w->ctx = o->ctx;
	if (o->origin != NULL) {
		if (!dfi_journal_origin_valid(o->origin))
			return DFI_E_INVALID_ARG;
		memcpy(w->origin, o->origin, strlen(o->origin) + 1);
	}
	if (o->last_seen != NULL) {
		/* The anchor must itself be genuine: a forged "last seen" would
		 * prove nothing. */
		dfi_err e = dfi_note_open(o->last_seen, o->last_seen_len, o->pubkey, ls);
		if (e != DFI_OK)
			return e;
		w->last_seen = ls;
	}
	w->ix = jindex_new();
	return w->ix == NULL ? DFI_E_NOMEM : DFI_OK;
}

struct unres {
	const struct dfi_jverify_opts *o;
};

static void
unres_cb(void *ctx, const dfi_jrec *r)
{
	const struct dfi_jverify_opts *o = ((struct unres *)ctx)->o;
	if (o->unresolved != NULL)
		o->unresolved(o->ctx, r);
}

/* One card's history, asked of the index of a journal that verified,
 * before the index is freed (dfi_journal_file_card). */
struct cardq {
	const uint8_t *uid;
	size_t len;
	struct dfi_journal_card *out;
	void (*slot)(void *ctx, const struct dfi_journal_slot *s);
	void (*intent)(void *ctx, const dfi_jrec *in);
	void *ctx;
};

static dfi_err
finish(struct jwalk *w, const struct dfi_jverify_opts *o, struct dfi_jverify_result *res,
    const struct cardq *q)
{
	jwalk_finish(w, w->end);
	struct unres u = { o };
	size_t nun = jindex_foreach_open(w->ix, unres_cb, &u);
	if (res != NULL) {
		memset(res, 0, sizeof(*res));
		res->lines = w->lines;
		res->records = w->nrec;
		res->checkpoints = w->ncp;
		res->covered = w->covered;
		res->findings = w->findings;
		res->intents = w->counts[DFI_JREC_INTENT];
		res->commits = w->counts[DFI_JREC_COMMIT];
		res->aborts = w->counts[DFI_JREC_ABORT];
		res->resolves = w->counts[DFI_JREC_RESOLVE];
		res->recoveries = w->counts[DFI_JREC_RECOVERY];
		res->refusals = w->counts[DFI_JREC_REFUSAL];
		res->authorizations = w->counts[DFI_JREC_AUTHORIZATION];
		res->changes = w->counts[DFI_JREC_CHANGE];
		res->unresolved = nun;
		memcpy(res->root, w->root, DFI_HASH_LEN);
		memcpy(res->last_note, w->last_note, w->last_note_len);
		res->last_note_len = w->last_note_len;
		if (jwalk_tail_only(w)) {
			res->tail_from = w->good_cp_line + 1;
			res->tail_lines = w->lines - w->good_cp_line;
		}
	}
	/* Only records every check passed answer for a card: a journal with
	 * a finding answers nothing. */
	dfi_err e = w->findings == 0 ? DFI_OK : w->first_err;
	if (e == DFI_OK && q != NULL)
		e = jindex_card(w->ix, q->uid, q->len, q->out, q->slot, q->intent, q->ctx);
	jindex_free(w->ix);
	w->ix = NULL;
	return e;
}

dfi_err
dfi_journal_verify_buf(const uint8_t *data, size_t len, const struct dfi_jverify_opts *o,
    struct dfi_jverify_result *res)
{
	if ((data == NULL && len > 0) || o == NULL)
		return DFI_E_INVALID_ARG;
	struct jwalk *w = malloc(sizeof(*w));
	dfi_checkpoint ls;
	if (w == NULL)
		return DFI_E_NOMEM;
	dfi_err e = setup(w, o, &ls);
	jsigpool *sp = NULL;
	/* Signatures on the other cores while this thread walks; without the
	 * threads the walk checks them itself. */
	if (e == DFI_OK && o->pubkey != NULL && jsigpool_start(&sp, o->pubkey) == DFI_OK)
		w->sigs = sp;
	if (e == DFI_OK)
		e = jpipe_walk(w, NULL, -1, data, len);
	jsigpool_free(sp);
	w->sigs = NULL;
	if (e == DFI_OK)
		e = finish(w, o, res, NULL);
	jindex_free(w->ix);
	free(w);
	return e;
}

dfi_err
open_journal(const char *path, int *fd)
{
	/* A journal directory or the journal file itself. */
	int d = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d >= 0) {
		*fd = openat(d, DFI_JOURNAL_FILE, O_RDONLY | O_CLOEXEC);
		close(d);
	} else {
		*fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	return *fd < 0 ? jio_errno(errno) : DFI_OK;
}

/* Recovery records name the files they moved into quarantine/: when that
 * directory is present beside the journal, each file must be there with
 * the size and SHA-256 its record states (kept, not deleted). */
struct qrec {
	uint64_t line, bytes;
	uint8_t sha[32];
	char file[DFI_J_STR_MAX];
};

struct qlist {
	struct qrec *v;
	size_t n, cap;
};

static void
qhook(void *ctx, uint64_t line, const dfi_jrec *r)
{
	struct qlist *q = ctx;
	if (r->type != DFI_JREC_RECOVERY)
		return;
	if (q->n == q->cap) {
		size_t nc = q->cap ? q->cap * 2 : 8;
		void *p = realloc(q->v, nc * sizeof(*q->v));
		if (p == NULL)
			return;
		q->v = p;
		q->cap = nc;
	}
	struct qrec *e = &q->v[q->n++];
	e->line = line;
	e->bytes = r->q_bytes;
	memcpy(e->sha, r->q_sha256, 32);
	memcpy(e->file, r->q_file, DFI_J_STR_MAX);
}

static void
check_quarantine(struct jwalk *w, int qd, const struct qlist *q)
{
	char m[400];
	for (size_t i = 0; i < q->n; i++) {
		const struct qrec *e = &q->v[i];
		int fd = strchr(e->file, '/') == NULL ? openat(qd, e->file, O_RDONLY | O_CLOEXEC) : -1;
		if (fd < 0) {
			snprintf(m, sizeof(m), "quarantined file %s/%s named by this recovery record is missing",
			    DFI_JOURNAL_QDIR, e->file);
			jwalk_note(w, e->line, DFI_E_JOURNAL_CORRUPT, m);
			continue;
		}
		EVP_MD_CTX *c = EVP_MD_CTX_new();
		uint8_t buf[1 << 14], h[32];
		uint64_t n = 0;
		ssize_t k = 0;
		unsigned hl;
		int ok = c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1;
		while (ok && (k = read(fd, buf, sizeof(buf))) > 0) {
			EVP_DigestUpdate(c, buf, (size_t)k);
			n += (uint64_t)k;
		}
		ok = ok && k == 0 && EVP_DigestFinal_ex(c, h, &hl) == 1;
		EVP_MD_CTX_free(c);
		close(fd);
		if (!ok || n != e->bytes || memcmp(h, e->sha, 32) != 0) {
			snprintf(m, sizeof(m), "quarantined file %s/%s differs from this recovery record",
			    DFI_JOURNAL_QDIR, e->file);
			jwalk_note(w, e->line, DFI_E_JOURNAL_CORRUPT, m);
		}
	}
}

static dfi_err
verify_file(const char *path, const struct dfi_jverify_opts *o, struct dfi_jverify_result *res,
    const struct cardq *cq)
{
	int fd;
	dfi_err e = open_journal(path, &fd);
	if (e != DFI_OK)
		return e;
	/* the quarantine directory beside the journal, if there is one */
	char *dir = strdup(path);
	int qd = -1;
	if (dir != NULL) {
		struct stat st;
		if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode)) {
			char *slash = strrchr(dir, '/');
			if (slash == NULL)
				strcpy(dir, ".");
			else if (slash == dir)
				dir[1] = '\0';
			else
				*slash = '\0';
		}
		int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (d >= 0) {
			qd = openat(d, DFI_JOURNAL_QDIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			close(d);
		}
		free(dir);
	}
	struct qlist q = { 0 };
	struct jwalk *w = malloc(sizeof(*w));
	dfi_checkpoint ls;
	e = w == NULL ? DFI_E_NOMEM : setup(w, o, &ls);
	if (e == DFI_OK && qd >= 0) {
		w->hook = qhook;
		w->hctx = &q;
	}
	jsigpool *sp = NULL;
	if (e == DFI_OK && o->pubkey != NULL && jsigpool_start(&sp, o->pubkey) == DFI_OK)
		w->sigs = sp;
	if (e == DFI_OK)
		e = jpipe_walk(w, dfi_journal_io_posix(), fd, NULL, 0);
	jsigpool_free(sp);
	if (w != NULL)
		w->sigs = NULL;
	if (e == DFI_OK && qd >= 0)
		check_quarantine(w, qd, &q);
	if (e == DFI_OK)
		e = finish(w, o, res, cq);
	if (w != NULL)
		jindex_free(w->ix);
	free(w);
	free(q.v);
	if (qd >= 0)
		close(qd);
	close(fd);
	return e;
}

dfi_err
dfi_journal_verify_file(const char *path, const struct dfi_jverify_opts *o,
    struct dfi_jverify_result *res)
{
	if (path == NULL || o == NULL)
		return DFI_E_INVALID_ARG;
	return verify_file(path, o, res, NULL);
}

dfi_err
dfi_journal_file_card(const char *path, const struct dfi_jverify_opts *o, const uint8_t *uid,
    size_t uid_len, struct dfi_journal_card *out, void (*slot)(void *ctx, const struct dfi_journal_slot *s),
    void (*intent)(void *ctx, const dfi_jrec *in), void *ctx)
{
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (path == NULL || o == NULL || uid == NULL || out == NULL)
		return DFI_E_INVALID_ARG;
	const struct cardq q = { uid, uid_len, out, slot, intent, ctx };
	dfi_err e = verify_file(path, o, NULL, &q);
	if (e != DFI_OK)
		memset(out, 0, sizeof(*out)); /* a history cut short answers nothing */
	return e;
}

/* ---- inclusion proofs ------------------------------------------------------------ */

struct pctx {
	uint8_t (*leaves)[DFI_HASH_LEN];
	uint64_t n, cap, covered;
	uint64_t seq;
	struct dfi_jproof *p;
	dfi_merkle tree;     /* over the leaves so far: a checkpoint must match it */
	int found;
	dfi_err err;
	char line[DFI_J_LINE_MAX + 1];
	size_t line_len;
};

static int
pline(void *ctx, const char *line, size_t len, int complete, uint64_t off)
{
	(void)off;
	struct pctx *c = ctx;
	if (line == NULL || !complete)
		return 1;
	if (jcp_is_line(line, len)) {
		uint8_t note[DFI_J_NOTE_MAX];
		size_t nl;
		dfi_checkpoint cp;
		uint8_t root[DFI_HASH_LEN];
		dfi_merkle_root(&c->tree, root);
		/* Only a checkpoint over exactly these records: a proof against
		 * any other root (a record changed after it was signed) would
		 * not verify, yet be printed as the proof. */
		if (jcp_note_sized(line, len, c->n, note, sizeof(note), &nl, &cp) == DFI_OK &&
		    memcmp(cp.root, root, DFI_HASH_LEN) == 0) {
			c->covered = c->n;
			memcpy(c->p->note, note, nl);
			c->p->note_len = nl;
		}
		return 0;
	}
	if (c->n == c->cap) {
		uint64_t nc = c->cap ? c->cap * 2 : 1024;
		void *q = realloc(c->leaves, nc * DFI_HASH_LEN);
		if (q == NULL) {
			c->err = DFI_E_NOMEM;
			return 1;
		}
		c->leaves = q;
		c->cap = nc;
	}
	dfi_merkle_leaf_hash(line, len, c->leaves[c->n]);
	(void)dfi_merkle_push(&c->tree, c->leaves[c->n]); /* fails only at 2^64 leaves */
	if (c->n == c->seq) {
		memcpy(c->p->line, line, len);
		c->p->line[len] = '\0';
		c->found = 1;
	}
	c->n++;
	return 0;
}

dfi_err
dfi_journal_proof_file(const char *path, uint64_t seq, struct dfi_jproof *p)
{
	if (path == NULL || p == NULL)
		return DFI_E_INVALID_ARG;
	memset(p, 0, sizeof(*p));
	int fd;
	dfi_err e = open_journal(path, &fd);
	if (e != DFI_OK)
		return e;
	struct pctx c;
	memset(&c, 0, sizeof(c));
	c.seq = seq;
	c.p = p;
	dfi_merkle_init(&c.tree);
	e = jscan_fd(dfi_journal_io_posix(), fd, UINT64_MAX, pline, &c);
	close(fd);
	if (e == DFI_OK)
		e = c.err;
	if (e == DFI_OK && (!c.found || seq >= c.covered))
		e = DFI_E_NOT_FOUND;
	if (e == DFI_OK) {
		p->index = seq;
		p->size = c.covered;
		memcpy(p->leaf, c.leaves[seq], DFI_HASH_LEN);
		e = dfi_merkle_inclusion_proof((const uint8_t(*)[DFI_HASH_LEN])c.leaves, c.covered, seq,
		    p->proof, 64, &p->plen);
	}
	free(c.leaves);
	return e;
}
