/* The auditor's walk on two cores: a thread reads the journal, hashes every
 * record into the Merkle tree and parses it (jline_prep), ahead of the
 * caller's thread, which makes every check and finding from what it
 * prepared (jwalk_apply) in the file's order.
 *
 * The split is where the walk stops depending on its own findings: the
 * tree and a record's parse depend on the line's bytes alone, while the
 * checks (sequence, checkpoints, genesis key, the index) depend on what
 * came before. The lines travel in batches, so the two threads meet once
 * per batch, not once per line; a checkpoint line's text travels with its
 * batch, so the caller's thread checks the very bytes that were hashed.
 * The memory is bounded by the ring of batches, not by the journal.
 *
 * The same thread queues each checkpoint line for the signature threads
 * (sigpool.c) as it meets it, so the file is read once for both. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "journal_int.h"
#include "sigpool.h"
#include "core/monitor.h"

#define PIPE_LINES 256             /* lines per batch */
#define PIPE_TEXT (64u * 1024u)    /* checkpoint-line bytes per batch */
#define PIPE_BATCHES 8             /* batches in the ring */
#define PIPE_AHEAD 8               /* records the index prefetches ahead */

struct batch {
	size_t n, tlen;
	struct jline v[PIPE_LINES];
	char text[PIPE_TEXT];
};

struct jpipe {
	pthread_mutex_t mu;
	pthread_cond_t cv;           /* a batch produced or consumed, the end */
	struct batch *ring;          /* PIPE_BATCHES */
	size_t head, tail;           /* batches produced, consumed (counts) */
	int done;
	dfi_err err;                 /* the scan's */
	struct jtree t;              /* the producer's */
	struct jsigpool *sigs;       /* NULL, or the signature threads */
	const struct dfi_journal_io *io;
	int fd;
	const uint8_t *data;
	size_t len;
};

/* The batch the producer fills next: waits for room (the caller's thread
 * takes every batch, so room always comes). */
static struct batch *
fill_batch(struct jpipe *p)
{
	pthread_mutex_lock(&p->mu);
	while (p->head - p->tail >= PIPE_BATCHES)
		pthread_cond_wait(&p->cv, &p->mu);
	struct batch *b = &p->ring[p->head % PIPE_BATCHES];
	pthread_mutex_unlock(&p->mu);
	return b;
}

static void
publish(struct jpipe *p)
{
	pthread_mutex_lock(&p->mu);
	p->head++;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

struct prod {
	struct jpipe *p;
	struct batch *b; /* being filled, NULL: none yet */
};

static int
prod_line(void *ctx, const char *line, size_t len, int complete, uint64_t off)
{
	struct prod *pr = ctx;
	int cp = complete && jcp_is_line(line, len);
	if (pr->b != NULL && (pr->b->n == PIPE_LINES || (cp && pr->b->tlen + len > PIPE_TEXT))) {
		publish(pr->p);
		pr->b = NULL;
	}
	if (pr->b == NULL) {
		pr->b = fill_batch(pr->p);
		pr->b->n = 0;
		pr->b->tlen = 0;
	}
	struct jline *jl = &pr->b->v[pr->b->n++];
	jline_prep(&pr->p->t, line, len, complete, off, jl);
	if (cp) {
		/* len <= DFI_J_LINE_MAX < PIPE_TEXT: an empty batch has room */
		char *t = pr->b->text + pr->b->tlen;
		memcpy(t, line, len);
		pr->b->tlen += len;
		jl->text = t;
		jsigpool_queue(pr->p->sigs, off, line, len);
	}
	return 0;
}

static void *
prod_run(void *arg)
{
	struct jpipe *p = arg;
	struct prod pr = { p, NULL };
	p->t.sha = jsha_new(); /* NULL: the one-shot hashes, slower, the same */
	dfi_err e = p->data != NULL ? jscan_buf(p->data, p->len, prod_line, &pr) :
				      jscan_fd(p->io, p->fd, UINT64_MAX, prod_line, &pr);
	jsha_free(p->t.sha);
	p->t.sha = NULL;
	pthread_mutex_lock(&p->mu);
	if (pr.b != NULL)
		p->head++;
	p->err = e;
	p->done = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static dfi_err
walk_alone(struct jwalk *w, const struct dfi_journal_io *io, int fd, const uint8_t *data, size_t len)
{
	w->t.sha = jsha_new();
	dfi_err e = data != NULL ? jscan_buf(data, len, jwalk_line, w) :
				   jscan_fd(io, fd, UINT64_MAX, jwalk_line, w);
	jsha_free(w->t.sha);
	w->t.sha = NULL;
	return e;
}

dfi_err
jpipe_walk(struct jwalk *w, const struct dfi_journal_io *io, int fd, const uint8_t *data, size_t len)
{
	struct jpipe *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return walk_alone(w, io, fd, data, len);
	p->ring = malloc(PIPE_BATCHES * sizeof(*p->ring));
	if (p->ring == NULL || dfi_monitor_init(&p->mu, &p->cv) != DFI_OK) {
		free(p->ring);
		free(p);
		return walk_alone(w, io, fd, data, len);
	}
	p->t = w->t;
	p->t.last_seen = w->last_seen;
	p->sigs = w->sigs;
	p->io = io;
	p->fd = fd;
	p->data = data;
	p->len = len;
	pthread_t th;
	int started = pthread_create(&th, NULL, prod_run, p) == 0;
	dfi_err e = DFI_OK;
	if (started) {
		pthread_mutex_lock(&p->mu);
		for (;;) {
			while (p->tail == p->head && !p->done)
				pthread_cond_wait(&p->cv, &p->mu);
			if (p->tail == p->head)
				break;
			struct batch *b = &p->ring[p->tail % PIPE_BATCHES];
			pthread_mutex_unlock(&p->mu);
			for (size_t i = 0; i < b->n; i++) {
				const struct jline *ahead = &b->v[i + PIPE_AHEAD < b->n ? i + PIPE_AHEAD : i];
				if (w->ix != NULL && ahead->kind == JL_RECORD && ahead->parsed)
					jindex_prefetch(w->ix, &ahead->rec);
				jwalk_apply(w, &b->v[i]);
			}
			pthread_mutex_lock(&p->mu);
			p->tail++;
			pthread_cond_broadcast(&p->cv);
		}
		e = p->err;
		pthread_mutex_unlock(&p->mu);
		pthread_join(th, NULL);
		w->t = p->t;
	}
	dfi_monitor_destroy(&p->mu, &p->cv);
	free(p->ring);
	free(p);
	return started ? e : walk_alone(w, io, fd, data, len);
}
