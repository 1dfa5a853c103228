/* Checkpoint signatures verified in parallel, ahead of the walk.
 *
 * The auditor's verify is one pass over the journal (walk.c); on a journal
 * with many checkpoints nearly all of its time is signature checks, one per
 * checkpoint, each independent of the others. The pipe's reading thread
 * (pipe.c), which reads and hashes every line ahead of the walk, hands each
 * checkpoint line it meets to jsigpool_queue: the file is read once for the
 * hashing and the signatures alike. Verifier threads (one per online CPU)
 * check the signatures through OpenSSL (dfi_note_open, the same call the
 * walk makes); the walk, reaching a checkpoint, takes the verdict over the
 * same bytes and only parses the note. Nothing the walk decides depends on
 * the threads: a note the threads did not see, saw with other bytes or
 * found bad is checked again by the walk itself, so every finding and
 * error stays what the one-pass verify reports. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal_int.h"
#include "sigpool.h"
#include "core/monitor.h"

#define SIGPOOL_MAX_THREADS 8
/* Notes queued ahead of the walk (memory stays bounded by this, not by the
 * journal: about 250 bytes each). The jobs live in a ring of this many
 * slots: job i (a count from the start) is in slot i % SIGPOOL_AHEAD while
 * cursor <= i < n. The pipe's reader is never more than its ring of
 * batches (a few thousand lines) ahead of the walk, so the ring is not
 * full in practice; when it is, the line is not queued and the walk checks
 * it itself (the queue never waits: the walk that would make room may be
 * waiting for the very batch the reader is filling). */
#define SIGPOOL_AHEAD 4096

struct job {
	uint64_t off;     /* of the checkpoint line */
	uint8_t *note;    /* the decoded note; freed when the walk takes it */
	size_t nlen;
	int state;        /* 0 queued, 1 being verified, 2 verified */
	int ok;           /* the signature verifies over note */
};

struct jsigpool {
	pthread_mutex_t mu;
	pthread_cond_t cv;            /* a job queued or verified, stop */
	struct job *ring;             /* SIGPOOL_AHEAD slots */
	size_t n;                     /* jobs queued so far (a count, not a slot) */
	size_t next;                  /* next job for a verifier */
	size_t cursor;                /* the walk's position: jobs before it are taken */
	int stop;
	const dfi_jpubkey *pub;
	pthread_t workers[SIGPOOL_MAX_THREADS];
	unsigned nworkers;
};

/* Job i's slot (cursor <= i < n). */
static struct job *
job_at(jsigpool *p, size_t i)
{
	return &p->ring[i % SIGPOOL_AHEAD];
}

void
jsigpool_queue(jsigpool *p, uint64_t off, const char *line, size_t len)
{
	uint8_t note[DFI_J_NOTE_MAX];
	size_t nlen;

	if (p == NULL || jcp_note(line, len, note, sizeof(note), &nlen) != DFI_OK)
		return; /* the walk reports it */
	uint8_t *copy = malloc(nlen);
	if (copy == NULL)
		return; /* the walk verifies this one itself */
	memcpy(copy, note, nlen);
	pthread_mutex_lock(&p->mu);
	if (p->stop || p->n - p->cursor >= SIGPOOL_AHEAD) {
		pthread_mutex_unlock(&p->mu);
		free(copy);
		return;
	}
	*job_at(p, p->n++) = (struct job){ .off = off, .note = copy, .nlen = nlen };
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static void *
worker_run(void *arg)
{
	jsigpool *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->next >= p->n)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop)
			break;
		/* The slot is not reused while the job is being verified: the
		 * walk takes it only once it is verified (state 2), and the reader
		 * reuses it only after the walk took it. */
		struct job *j = job_at(p, p->next++);
		const uint8_t *note = j->note;
		size_t nlen = j->nlen;
		j->state = 1;
		pthread_mutex_unlock(&p->mu);
		dfi_checkpoint cp;
		int ok = dfi_note_open(note, nlen, p->pub, &cp) == DFI_OK;
		pthread_mutex_lock(&p->mu);
		j->ok = ok;
		j->state = 2;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static unsigned
ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	return n > SIGPOOL_MAX_THREADS ? SIGPOOL_MAX_THREADS : (unsigned)n;
}

dfi_err
jsigpool_start(jsigpool **out, const dfi_jpubkey *pub)
{
	if (out == NULL || pub == NULL)
		return DFI_E_INVALID_ARG;
	*out = NULL;
	jsigpool *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return DFI_E_NOMEM;
	p->pub = pub;
	p->ring = calloc(SIGPOOL_AHEAD, sizeof(*p->ring));
	if (p->ring == NULL || dfi_monitor_init(&p->mu, &p->cv) != DFI_OK) {
		free(p->ring);
		free(p);
		return DFI_E_NOMEM;
	}
	unsigned want = ncpus();
	for (unsigned i = 0; i < want; i++) {
		if (pthread_create(&p->workers[p->nworkers], NULL, worker_run, p) != 0)
			break;
		p->nworkers++;
	}
	if (p->nworkers == 0) {
		jsigpool_free(p);
		return DFI_E_NOMEM;
	}
	*out = p;
	return DFI_OK;
}

dfi_err
jsigpool_note_open(jsigpool *p, uint64_t off, const uint8_t *note, size_t nlen,
    const dfi_jpubkey *pub, dfi_checkpoint *cp)
{
	uint8_t *mine = NULL;
	size_t mlen = 0;
	int ok = 0;

	if (p != NULL) {
		pthread_mutex_lock(&p->mu);
		for (;;) {
			/* Lines before this one that the walk did not take as
			 * checkpoints: their notes are of no further use. */
			while (p->cursor < p->n && job_at(p, p->cursor)->off < off &&
			    job_at(p, p->cursor)->state == 2) {
				free(job_at(p, p->cursor)->note);
				job_at(p, p->cursor)->note = NULL;
				p->cursor++;
			}
			if (p->cursor < p->n && job_at(p, p->cursor)->off < off) {
				pthread_cond_wait(&p->cv, &p->mu); /* still being verified */
				continue;
			}
			/* Not queued: the reader queues a line before the walk
			 * can reach it, so it never will be. */
			if (p->cursor == p->n || job_at(p, p->cursor)->off > off)
				break;
			struct job *j = job_at(p, p->cursor);
			if (j->state != 2) {
				pthread_cond_wait(&p->cv, &p->mu);
				continue;
			}
			ok = j->ok;
			mine = j->note;
			mlen = j->nlen;
			j->note = NULL;
			p->cursor++;
			break;
		}
		pthread_mutex_unlock(&p->mu);
	}
	int same = ok && mine != NULL && mlen == nlen && memcmp(mine, note, nlen) == 0;
	free(mine);
	/* Verified over these very bytes: parse only. Otherwise the whole check. */
	return dfi_note_open(note, nlen, same ? NULL : pub, cp);
}

void
jsigpool_free(jsigpool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nworkers; i++)
		pthread_join(p->workers[i], NULL);
	for (size_t i = p->cursor; i < p->n; i++)
		free(job_at(p, i)->note);
	free(p->ring);
	dfi_monitor_destroy(&p->mu, &p->cv);
	free(p);
}
