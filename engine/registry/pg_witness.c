/* Witnessing: each station submits its journal's checkpoints to the
 * registry with an RFC 9162 consistency proof from the last one witnessed;
 * the registry's witness() function (schema/001_witness.sql) checks the
 * proof in SQL and refuses a checkpoint that does not extend it.
 *
 * The station side (dfi_pgwitness) keeps the tree's right edge at the
 * witnessed size and reads only the records added since, so a proof costs
 * O(records since the last witness), never a rescan of the journal.
 * While a station runs it witnesses off the card's path: a thread of the
 * witness, on a connection of its own, serves the requests
 * (dfi_pgwitness_request) and keeps the first failure, which the station
 * checks before each card (docs/JOURNAL.md 12.4). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../journal/journal_int.h"
#include "core/clock.h"
#include "core/grow.h"
#include "pg_int.h"
#include "pg_rows.h"

static const char *
alg_name(dfi_sigalg a)
{
	return a == DFI_SIG_ED25519 ? "ed25519" : "ecdsa-p256";
}

/* own: the connection of the witness thread, NULL for the pool */
static dfi_err
witness_on(dfi_pgreg *r, PGconn **own, const char *origin, uint32_t key_id, dfi_sigalg alg, uint64_t old_size,
    const uint8_t *note, size_t note_len, const uint8_t (*proof)[DFI_HASH_LEN], size_t plen,
    struct dfi_pgreg_witness *res, char *why, size_t cap)
{
	if (r == NULL || origin == NULL || note == NULL || res == NULL || (proof == NULL && plen > 0) ||
	    plen > DFI_MERKLE_CPROOF_MAX)
		return DFI_E_INVALID_ARG;
	memset(res, 0, sizeof(*res));
	dfi_checkpoint cp;
	if (dfi_note_open(note, note_len, NULL, &cp) != DFI_OK || strcmp(cp.origin, origin) != 0)
		return dfi_why(why, cap, DFI_E_INVALID_ARG, "not a checkpoint note of %s", origin);
	char *text = malloc(note_len + 1), *pr = malloc(2 * plen * DFI_HASH_LEN + 3);
	if (text == NULL || pr == NULL) {
		free(text);
		free(pr);
		return DFI_E_NOMEM;
	}
	memcpy(text, note, note_len);
	text[note_len] = '\0';
	uint8_t flat[DFI_MERKLE_CPROOF_MAX * DFI_HASH_LEN];
	if (plen > 0)
		memcpy(flat, proof, plen * DFI_HASH_LEN);
	pg_bytea_hex(flat, plen * DFI_HASH_LEN, pr);
	char kid[16], olds[24], news[24], root[2 * DFI_HASH_LEN + 3];
	snprintf(kid, sizeof(kid), "%" PRIu32, key_id);
	snprintf(olds, sizeof(olds), "%" PRIu64, old_size);
	snprintf(news, sizeof(news), "%" PRIu64, cp.size);
	pg_bytea_hex(cp.root, DFI_HASH_LEN, root);
	const char *vals[] = { origin, kid, alg_name(alg), r->station, olds, news, root, text, pr };
	PGresult *q = NULL;
	/* Idempotent: a retry of a witnessed checkpoint answers 'same'. */
	dfi_err e = pg_call_own(r, own,
	    "SELECT status, size, root, reason FROM " DFI_PGREG_SCHEMA ".witness($1, $2, $3, $4, $5, $6, $7, $8, $9)", 9,
	    vals, &q, 1, why, cap);
	free(text);
	free(pr);
	if (e != DFI_OK)
		return e;
	int bad = pg_row_witness(q, res);
	PQclear(q);
	return bad ? dfi_why(why, cap, DFI_E_REGISTRY, "the registry's witness() answered something unexpected") : DFI_OK;
}

dfi_err
dfi_pgreg_witness(dfi_pgreg *r, const char *origin, uint32_t key_id, dfi_sigalg alg, uint64_t old_size,
    const uint8_t *note, size_t note_len, const uint8_t (*proof)[DFI_HASH_LEN], size_t plen,
    struct dfi_pgreg_witness *res, char *why, size_t cap)
{
	return witness_on(r, NULL, origin, key_id, alg, old_size, note, note_len, proof, plen, res, why, cap);
}

static dfi_err
witnessed_on(dfi_pgreg *r, PGconn **own, const char *origin, uint64_t *size, uint8_t root[DFI_HASH_LEN],
    uint8_t *note, size_t ncap, size_t *note_len, char *why, size_t cap)
{
	if (r == NULL || origin == NULL || size == NULL || root == NULL)
		return DFI_E_INVALID_ARG;
	const char *vals[] = { origin };
	PGresult *q = NULL;
	dfi_err e = pg_call_own(r, own, "SELECT size, root, note FROM " DFI_PGREG_SCHEMA ".witnessed($1)", 1, vals, &q, 1,
	    why, cap);
	if (e != DFI_OK)
		return e;
	e = pg_row_witnessed(q, size, root, note, ncap, note_len);
	PQclear(q);
	if (e == DFI_E_REGISTRY)
		return dfi_why(why, cap, DFI_E_REGISTRY, "the registry's witnessed checkpoint of %s is unreadable", origin);
	return e;
}

dfi_err
dfi_pgreg_witnessed(dfi_pgreg *r, const char *origin, uint64_t *size, uint8_t root[DFI_HASH_LEN], uint8_t *note,
    size_t ncap, size_t *note_len, char *why, size_t cap)
{
	return witnessed_on(r, NULL, origin, size, root, note, ncap, note_len, why, cap);
}

/* ---- the station's witness of its journal ---------------------------------------- */

#define RING 4096
/* The witness thread's least time between two round trips: a refused
 * checkpoint is known at most this plus one round trip after the card
 * that wrote it (docs/JOURNAL.md, "Witnessing"). */
#define PG_WITNESS_GAP_MS 200

struct dfi_pgwitness {
	dfi_pgreg *r;
	const dfi_jpubkey *key;
	char path[PATH_MAX];
	char origin[DFI_J_STR_MAX];
	uint32_t key_id;
	dfi_sigalg alg;
	/* smu: one sync at a time (a caller's or the witness thread's), held
	 * across its round trips; mu: what the file reading and the thread's
	 * requests share, never held across a round trip, so that the station
	 * threads' dfi_pgwitness_line calls do not wait for the registry. */
	pthread_mutex_t smu, mu;
	/* the witness thread (dfi_pgwitness_request), under mu: started, a
	 * request pending, told to stop, the first failure (then every later
	 * call fails with it: the station stops) and its reason; its own
	 * connection (under smu) */
	pthread_t th;
	pthread_cond_t cv;
	int th_started, want, stop;
	dfi_err failed;
	char failwhy[600];
	PGconn *own;
	/* the registry's witnessed size, and the tree of that many records */
	uint64_t wsize;
	dfi_merkle edge;
	/* records read past wsize: their leaf hashes; the file offset where
	 * reading resumes (after the last complete line read) */
	uint8_t (*pend)[DFI_HASH_LEN];
	uint64_t npend;
	size_t cap;
	uint64_t off;
	/* the newest valid checkpoint read: its size and note */
	uint64_t head;
	uint8_t note[DFI_J_NOTE_MAX];
	size_t note_len;
	dfi_err err;
	/* during the first read: the size whose edge to keep */
	uint64_t want_edge;
	dfi_merkle all;
	int have_genesis;
	/* the lines of the last RING records read (by seq = record number), so
	 * records the engine appended are told as the journal has them */
	uint64_t nrec;
	struct wline_ent {
		uint64_t seq;
		char *line;
		size_t len;
	} ring[RING];
};

/* pread shifted by a base offset: jscan_fd reads from there */
struct shifted {
	int fd;
	uint64_t base;
};

static ssize_t
shifted_pread(void *ctx, int fd, void *buf, size_t len, off_t off)
{
	const struct shifted *s = ctx;
	(void)fd;
	return pread(s->fd, buf, len, (off_t)(s->base + (uint64_t)off));
}

static int
push_pend(struct dfi_pgwitness *w, const uint8_t leaf[DFI_HASH_LEN])
{
	if (w->npend >= SIZE_MAX)
		return -1;
	void *p = dfi_grow(w->pend, &w->cap, (size_t)w->npend + 1, 256, DFI_HASH_LEN);
	if (p == NULL)
		return -1;
	w->pend = p;
	memcpy(w->pend[w->npend++], leaf, DFI_HASH_LEN);
	return 0;
}

/* One line of the journal past the witnessed part. Records before the
 * registry's witnessed size (first read only) go into the edge. */
static int
wline(void *ctx, const char *line, size_t len, int complete, uint64_t off)
{
	struct shifted_ctx {
		struct dfi_pgwitness *w;
		uint64_t base;
	} *c = ctx;
	struct dfi_pgwitness *w = c->w;
	if (!complete)
		return 1; /* an append in progress: read it next time */
	uint64_t end = c->base + off + len + 1;
	if (jcp_is_line(line, len)) {
		uint8_t note[DFI_J_NOTE_MAX], root[DFI_HASH_LEN];
		size_t nl;
		dfi_checkpoint cp;
		/* inside the witnessed prefix (first read), the tree is `all` */
		int prefix = w->all.size < w->want_edge;
		uint64_t size = prefix ? w->all.size : w->wsize + w->npend;
		if (size > 0 && jcp_note_sized(line, len, size, note, sizeof(note), &nl, &cp) == DFI_OK) {
			if (prefix) {
				dfi_merkle_root(&w->all, root);
			} else {
				dfi_merkle t = w->edge;
				for (uint64_t i = 0; i < w->npend; i++)
					(void)dfi_merkle_push(&t, w->pend[i]);
				dfi_merkle_root(&t, root);
			}
			if (memcmp(root, cp.root, DFI_HASH_LEN) == 0) {
				w->head = size;
				memcpy(w->note, note, nl);
				w->note_len = nl;
			}
		}
		w->off = end;
		return 0;
	}
	uint8_t leaf[DFI_HASH_LEN];
	jreplay_leaf(NULL, line, len, leaf); /* the journal's rule for an over-long line */
	struct wline_ent *re = &w->ring[w->nrec % RING];
	free(re->line);
	re->seq = w->nrec++;
	re->line = line != NULL ? strndup(line, len) : NULL;
	re->len = line != NULL ? len : 0;
	if (line != NULL && re->line == NULL) {
		w->err = DFI_E_NOMEM;
		return 1;
	}
	if (!w->have_genesis && line != NULL) {
		dfi_jrec g;
		if (dfi_jrec_parse(line, len, &g) == DFI_OK && g.type == DFI_JREC_GENESIS && g.seq == 0) {
			memcpy(w->origin, g.origin, DFI_J_STR_MAX);
			w->key_id = g.key_id;
			w->alg = g.alg;
		}
		w->have_genesis = 1;
	}
	if (w->all.size < w->want_edge) {
		/* still inside what the registry witnessed (first read) */
		(void)dfi_merkle_push(&w->all, leaf);
		if (w->all.size == w->want_edge) {
			w->edge = w->all;
			w->wsize = w->want_edge;
		}
	} else if (push_pend(w, leaf) != 0) {
		w->err = DFI_E_NOMEM;
		return 1;
	}
	w->off = end;
	return 0;
}

static dfi_err
read_more(struct dfi_pgwitness *w)
{
	int fd = open(w->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return DFI_E_IO;
	struct shifted s = { fd, w->off };
	struct dfi_journal_io io = *dfi_journal_io_posix();
	io.pread = shifted_pread;
	io.ctx = &s;
	struct {
		struct dfi_pgwitness *w;
		uint64_t base;
	} c = { w, w->off };
	w->err = DFI_OK;
	dfi_err e = jscan_fd(&io, fd, UINT64_MAX, wline, &c);
	close(fd);
	return e != DFI_OK ? e : w->err;
}

/* Reads the journal from the start, keeping the tree edge at `size`. */
static dfi_err
reread(struct dfi_pgwitness *w, uint64_t size)
{
	w->off = 0;
	w->npend = 0;
	w->head = 0;
	w->note_len = 0;
	w->have_genesis = 0;
	dfi_merkle_init(&w->edge);
	dfi_merkle_init(&w->all);
	w->wsize = 0;
	w->nrec = 0;
	w->want_edge = size;
	dfi_err e = read_more(w);
	w->want_edge = 0;
	if (e == DFI_OK && w->wsize != size) {
		/* the journal has fewer records than the registry witnessed:
		 * keep what there is; the registry will refuse it */
		w->edge = w->all;
		w->wsize = w->all.size;
		w->npend = 0;
		return DFI_E_JOURNAL_ROLLBACK;
	}
	return e;
}

/* Submits the head, once; adapts to the answer. The proof is made from a
 * snapshot under mu; the round trip runs without it (own: the witness
 * thread's connection, NULL for the pool). */
static dfi_err
submit(struct dfi_pgwitness *w, PGconn **own, uint64_t reg_size, char *why, size_t cap)
{
	uint8_t proof[DFI_MERKLE_CPROOF_MAX][DFI_HASH_LEN], note[DFI_J_NOTE_MAX];
	size_t plen = 0, nlen;
	pthread_mutex_lock(&w->mu);
	uint64_t head = w->head, wsize = w->wsize;
	/* records the head adds to the witnessed part (none when the journal
	 * is behind what was witnessed: the registry refuses that) */
	uint64_t k = head >= wsize ? head - wsize : 0;
	dfi_err e = DFI_OK;
	if (reg_size > 0 && wsize == reg_size && head >= wsize)
		e = dfi_merkle_consistency_proof_edge(&w->edge, (const uint8_t(*)[DFI_HASH_LEN])w->pend, k, proof,
		    DFI_MERKLE_CPROOF_MAX, &plen);
	nlen = w->note_len;
	memcpy(note, w->note, nlen);
	pthread_mutex_unlock(&w->mu);
	if (e != DFI_OK)
		return dfi_why(why, cap, e, "cannot prove the journal's checkpoint of %" PRIu64 " records", head);
	/* never submit what the journal key did not sign */
	dfi_checkpoint cp;
	if (dfi_note_open(note, nlen, w->key, &cp) != DFI_OK)
		return dfi_why(why, cap, DFI_E_JOURNAL_SIGNATURE,
		    "the journal's checkpoint of %" PRIu64 " records does not verify with the journal key", head);
	struct dfi_pgreg_witness res;
	e = witness_on(w->r, own, w->origin, w->key_id, w->alg, reg_size, note, nlen,
	    (const uint8_t(*)[DFI_HASH_LEN])proof, plen, &res, why, cap);
	if (e != DFI_OK)
		return e;
	switch (res.status) {
	case DFI_PGREG_W_REGISTERED:
	case DFI_PGREG_W_WITNESSED:
	case DFI_PGREG_W_SAME:
		if (head < wsize)
			return dfi_why(why, cap, DFI_E_REGISTRY, "the registry accepted a checkpoint behind the witnessed one");
		/* only a sync (under smu) takes from pend's front: the k leaves
		 * are still there, the file reading only appended */
		pthread_mutex_lock(&w->mu);
		for (uint64_t i = 0; i < k; i++)
			(void)dfi_merkle_push(&w->edge, w->pend[i]);
		memmove(w->pend, w->pend + k, (size_t)(w->npend - k) * DFI_HASH_LEN);
		w->npend -= k;
		w->wsize = head;
		pthread_mutex_unlock(&w->mu);
		return DFI_OK;
	case DFI_PGREG_W_STALE:
		return DFI_E_JOURNAL_ROLLBACK; /* caller: re-read at res.w_size and try again */
	default:
		return dfi_why(why, cap, DFI_E_REGISTRY_REFUSED, "the registry refused checkpoint %" PRIu64 " of %s: %s",
		    head, w->origin, res.reason);
	}
}

/* Reads the journal from the start (reread), under mu. */
static dfi_err
reread_mu(struct dfi_pgwitness *w, uint64_t size, uint64_t *head)
{
	pthread_mutex_lock(&w->mu);
	dfi_err e = reread(w, size);
	*head = w->head;
	pthread_mutex_unlock(&w->mu);
	return e;
}

/* One sync, under smu (own: as submit). */
static dfi_err
sync_locked(struct dfi_pgwitness *w, PGconn **own, int first, char *why, size_t cap)
{
	dfi_err e;
	uint64_t head;
	if (first) {
		/* the genesis record names the journal */
		e = reread_mu(w, 0, &head);
		if (e != DFI_OK && e != DFI_E_JOURNAL_ROLLBACK)
			return dfi_why(why, cap, e, "cannot read the journal %s", w->path);
		if (w->origin[0] == '\0')
			return dfi_why(why, cap, DFI_E_JOURNAL_FORMAT, "%s has no genesis record", w->path);
	}
	for (int attempt = 0; attempt < 3; attempt++) {
		uint64_t reg = 0;
		uint8_t root[DFI_HASH_LEN];
		if (first || attempt > 0) {
			/* learn what the registry witnessed, and the journal's tree
			 * of that size */
			e = witnessed_on(w->r, own, w->origin, &reg, root, NULL, 0, NULL, why, cap);
			if (e == DFI_E_NOT_FOUND)
				reg = 0;
			else if (e != DFI_OK)
				return e;
			e = reread_mu(w, reg, &head);
			if (e != DFI_OK && e != DFI_E_JOURNAL_ROLLBACK)
				return dfi_why(why, cap, e, "cannot read the journal %s", w->path);
			if (head == 0)
				return dfi_why(why, cap, DFI_E_JOURNAL_CORRUPT, "%s has no valid checkpoint", w->path);
			first = 0;
		} else {
			pthread_mutex_lock(&w->mu);
			reg = w->wsize;
			e = read_more(w);
			int nothing = w->head <= w->wsize;
			pthread_mutex_unlock(&w->mu);
			if (e != DFI_OK)
				return dfi_why(why, cap, e, "cannot read the journal %s", w->path);
			if (nothing)
				return DFI_OK; /* nothing new */
		}
		e = submit(w, own, reg, why, cap);
		if (e != DFI_E_JOURNAL_ROLLBACK)
			return e;
		/* stale: the registry witnessed another size (a response lost
		 * before, another process on this journal): learn it, prove
		 * again */
	}
	return dfi_why(why, cap, DFI_E_REGISTRY, "the registry's witnessed size of %s keeps changing", w->origin);
}

/* The two mutexes and the condition (on the monotonic clock, for the
 * thread's timed waits); 0, or -1 with none of them left initialized. */
static int
sync_init(struct dfi_pgwitness *w)
{
	pthread_condattr_t ca;
	if (pthread_condattr_init(&ca) != 0)
		return -1;
	int cv = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&w->cv, &ca) == 0;
	pthread_condattr_destroy(&ca);
	int smu = cv && pthread_mutex_init(&w->smu, NULL) == 0;
	int mu = smu && pthread_mutex_init(&w->mu, NULL) == 0;
	if (mu)
		return 0;
	if (smu)
		pthread_mutex_destroy(&w->smu);
	if (cv)
		pthread_cond_destroy(&w->cv);
	return -1;
}

dfi_err
dfi_pgwitness_new(dfi_pgwitness **out, dfi_pgreg *r, const char *path, const dfi_jpubkey *key, char *why,
    size_t cap)
{
	if (out == NULL || r == NULL || path == NULL || key == NULL)
		return DFI_E_INVALID_ARG;
	*out = NULL;
	struct dfi_pgwitness *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return DFI_E_NOMEM;
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		snprintf(w->path, sizeof(w->path), "%s/%s", path, DFI_JOURNAL_FILE);
	else
		snprintf(w->path, sizeof(w->path), "%s", path);
	w->r = r;
	w->key = key;
	if (sync_init(w) != 0) {
		free(w);
		return dfi_why(why, cap, DFI_E_NOMEM, "out of memory");
	}
	dfi_err e = sync_locked(w, NULL, 1, why, cap);
	if (e == DFI_OK) {
		uint32_t id;
		if (dfi_jpubkey_key_id(key, w->origin, &id) != DFI_OK || id != w->key_id || dfi_jpubkey_alg(key) != w->alg)
			e = dfi_why(why, cap, DFI_E_JOURNAL_SIGNATURE, "the journal %s is not signed by this journal key", path);
	}
	if (e != DFI_OK) {
		dfi_pgwitness_free(w);
		return e;
	}
	*out = w;
	return DFI_OK;
}

static dfi_err ask(struct dfi_pgwitness *w, int request, char *why, size_t cap);

dfi_err
dfi_pgwitness_sync(dfi_pgwitness *w, char *why, size_t cap)
{
	dfi_err e = ask(w, 0, why, cap);
	if (e != DFI_OK)
		return e;
	pthread_mutex_lock(&w->smu);
	e = sync_locked(w, NULL, 0, why, cap);
	pthread_mutex_unlock(&w->smu);
	return e;
}

/* Waits on cv (a CLOCK_MONOTONIC condition) until the monotonic time
 * `until` (ms) or a signal; mu held. */
static void
wait_until(struct dfi_pgwitness *w, long until)
{
	struct timespec ts = { .tv_sec = until / 1000, .tv_nsec = (until % 1000) * 1000000L };
	(void)pthread_cond_timedwait(&w->cv, &w->mu, &ts);
}

/* The witness thread: one sync per wake-up, however many requests came
 * meanwhile (the newest checkpoint proves every one before it), and at
 * most one every PG_WITNESS_GAP_MS: the cards of that time share one
 * round trip and one commit. A request pending when it is told to stop is
 * served at once. */
static void *
witness_main(void *arg)
{
	struct dfi_pgwitness *w = arg;
	char why[sizeof(w->failwhy)];
	long next = 0;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->stop && (!w->want || dfi_now_ms() < next)) {
			if (w->want)
				wait_until(w, next);
			else
				pthread_cond_wait(&w->cv, &w->mu);
		}
		if (!w->want)
			break;
		w->want = 0;
		if (w->failed != DFI_OK)
			continue;
		pthread_mutex_unlock(&w->mu);
		why[0] = '\0';
		pthread_mutex_lock(&w->smu);
		dfi_err e = sync_locked(w, &w->own, 0, why, sizeof(why));
		pthread_mutex_unlock(&w->smu);
		next = dfi_now_ms() + PG_WITNESS_GAP_MS;
		pthread_mutex_lock(&w->mu);
		if (e != DFI_OK) {
			w->failed = e;
			snprintf(w->failwhy, sizeof(w->failwhy), "%s", why[0] ? why : dfi_strerror(e));
		}
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* The kept failure (DFI_OK when none); with request, and none, a request
 * for the thread (started at the first). */
static dfi_err
ask(struct dfi_pgwitness *w, int request, char *why, size_t cap)
{
	if (w == NULL)
		return DFI_E_INVALID_ARG;
	pthread_mutex_lock(&w->mu);
	dfi_err e = w->failed;
	if (e != DFI_OK)
		dfi_why(why, cap, e, "%s", w->failwhy);
	if (request && e == DFI_OK && !w->th_started) {
		if (pthread_create(&w->th, NULL, witness_main, w) != 0)
			e = dfi_why(why, cap, DFI_E_NOMEM, "cannot start the witness thread");
		else
			w->th_started = 1;
	}
	if (request && e == DFI_OK) {
		w->want = 1;
		pthread_cond_signal(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return e;
}

dfi_err
dfi_pgwitness_request(dfi_pgwitness *w, char *why, size_t cap)
{
	return ask(w, 1, why, cap);
}

dfi_err
dfi_pgwitness_failed(dfi_pgwitness *w, char *why, size_t cap)
{
	return ask(w, 0, why, cap);
}

uint64_t
dfi_pgwitness_size(dfi_pgwitness *w)
{
	if (w == NULL)
		return 0;
	pthread_mutex_lock(&w->mu);
	uint64_t s = w->wsize;
	pthread_mutex_unlock(&w->mu);
	return s;
}

/* The slow path, for a record older than the ring: one scan of the file. */
struct findline {
	uint64_t want;
	char *out;
	size_t cap, *len;
	int found;
};

static int
find_record(void *ctx, uint64_t seq, const char *line, size_t len)
{
	struct findline *f = ctx;
	if (seq != f->want)
		return 0;
	if (line != NULL && len < f->cap) {
		memcpy(f->out, line, len);
		f->out[len] = '\0';
		*f->len = len;
		f->found = 1;
	}
	return 1;
}

dfi_err
dfi_pgwitness_line(dfi_pgwitness *w, uint64_t seq, char *out, size_t cap, size_t *len)
{
	if (w == NULL || out == NULL || len == NULL)
		return DFI_E_INVALID_ARG;
	pthread_mutex_lock(&w->mu);
	dfi_err e = DFI_OK;
	if (seq >= w->nrec)
		e = read_more(w);
	const struct wline_ent *re = &w->ring[seq % RING];
	if (e == DFI_OK && seq < w->nrec && re->seq == seq && re->line != NULL) {
		if (re->len >= cap)
			e = DFI_E_BUFFER_TOO_SMALL;
		else {
			memcpy(out, re->line, re->len);
			out[re->len] = '\0';
			*len = re->len;
		}
		pthread_mutex_unlock(&w->mu);
		return e;
	}
	pthread_mutex_unlock(&w->mu);
	if (e != DFI_OK)
		return e;
	struct findline f = { seq, out, cap, len, 0 };
	static const struct jreplay_fn fn = { find_record, NULL };
	e = jreplay_file(w->path, &fn, &f);
	return e != DFI_OK ? e : f.found ? DFI_OK : DFI_E_NOT_FOUND;
}

void
dfi_pgwitness_free(dfi_pgwitness *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	int started = w->th_started;
	pthread_mutex_unlock(&w->mu);
	if (started)
		pthread_join(w->th, NULL); /* after the last request's sync */
	if (w->own != NULL)
		PQfinish(w->own);
	for (size_t i = 0; i < RING; i++)
		free(w->ring[i].line);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->smu);
	pthread_mutex_destroy(&w->mu);
	free(w->pend);
	free(w);
}
