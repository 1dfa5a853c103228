/* Checkpoint signatures verified in parallel, ahead of the walk.
 *
 * The auditor's verify is one pass over the journal (walk.c); on a journal
 * with many checkpoints nearly all of its time is signature checks, one per
 * checkpoint, each independent of the others. The pipe's reading thread
 * (pipe.c), which reads and hashes every line ahead of the walk, hands each
 * checkpoint line it meets to jsigpool_queue: the file is read once for the
 * hashing and the signatures alike. Verifier threads (one per online CPU)
 * check the signatures through OpenSSL (jnotever_open: dfi_note_open with a
 * verify context and key ID kept per thread); the walk, reaching a
 * checkpoint, takes the verdict and the parsed note over the same
 * bytes. Nothing the walk decides depends on the threads: a note the threads
 * did not see, saw with other bytes or found bad is checked again by the
 * walk itself, so every finding and error stays what the one-pass verify
 * reports.
 *
 * Issue 19: with a checkpoint every two records the hand-over itself cost
 * about a sixth of the CPU (a broadcast per queued and per verified note,
 * each waking every thread). So a thread is woken only when it sleeps and
 * has something to do: the reader signals one idle verifier, and a
 * verifier signals the walk only when the walk waits for that verdict.
 * Taking up to 16 notes per lock and waking the walk once per 32 verdicts
 * saved no CPU measurably and lost wall time on a loaded machine (a
 * verifier preempted with 16 notes stalls the walk and with it the
 * reader), so a verifier takes one note at a time.
 *
 * Still, the walk waited for nearly every verdict (the verifiers are the
 * bottleneck), and four threads on two cores spent ~1 CPU-s of 9.7 in the
 * kernel: futex wake-ups, reschedule IPIs, context switches. So the walk
 * no longer sleeps while there is work: reaching a note no verifier has
 * taken, it checks it itself; reaching one being verified, it verifies
 * the next queued note meanwhile, as a verifier would. With the walk
 * verifying, one verifier per CPU but one is enough (k20j: sys CPU 0.83
 * -> 0.12 s, the kernel's share 14 % -> 2 %). */
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
	dfi_checkpoint cp; /* the note parsed, when ok */
};

struct jsigpool {
	pthread_mutex_t mu;
	pthread_cond_t work;          /* a job queued, stop (verifiers wait) */
	pthread_cond_t done;          /* the walk's run verified (the walk waits) */
	struct job *ring;             /* SIGPOOL_AHEAD slots */
	size_t n;                     /* jobs queued so far (a count, not a slot) */
	size_t next;                  /* next job for a verifier */
	size_t front;                 /* every job before it is verified */
	size_t cursor;                /* the walk's position: jobs before it are taken */
	size_t want;                  /* the walk waits until front >= want; 0: not waiting */
	unsigned idle;                /* verifiers waiting on work */
	int stop;
	const dfi_jpubkey *pub;
	struct jnotever *wv;          /* the walk's own (NULL: fresh contexts) */
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

	if (p == NULL || dfi_note_from_line(line, len, note, sizeof(note), &nlen) != DFI_OK)
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
	if (p->idle > 0)
		pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
}

/* Job i verified: moves the front, wakes the walk when it waits for a
 * verdict now in. Under the lock. */
static void
mark_verified(jsigpool *p, size_t i, int ok, const dfi_checkpoint *cp)
{
	struct job *j = job_at(p, i);
	j->ok = ok;
	if (ok)
		j->cp = *cp;
	j->state = 2;
	while (p->front < p->n && job_at(p, p->front)->state == 2)
		p->front++;
	if (p->want != 0 && p->front >= p->want)
		pthread_cond_signal(&p->done);
}

/* Takes the next queued job and verifies it on the calling thread (a
 * verifier, or the walk while its own verdict is not in), the lock
 * released meanwhile. Under the lock, p->next < p->n. */
static void
verify_next(jsigpool *p, struct jnotever *v)
{
	/* The slot is not reused while the job is being verified: the walk
	 * takes it only once it is verified (state 2), and the reader reuses
	 * it only after the walk took it. */
	size_t i = p->next++;
	struct job *j = job_at(p, i);
	const uint8_t *note = j->note;
	size_t nlen = j->nlen;
	j->state = 1;
	if (p->next < p->n && p->idle > 0)
		pthread_cond_signal(&p->work); /* more than this one takes */
	pthread_mutex_unlock(&p->mu);
	dfi_checkpoint cp;
	int ok = (v != NULL ? jnotever_open(v, note, nlen, &cp) : dfi_note_open(note, nlen, p->pub, &cp)) ==
	    DFI_OK;
	pthread_mutex_lock(&p->mu);
	mark_verified(p, i, ok, &cp);
}

static void *
worker_run(void *arg)
{
	jsigpool *p = arg;
	struct jnotever *v = jnotever_new(p->pub); /* NULL: the fresh-context path */
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->next >= p->n) {
			p->idle++;
			pthread_cond_wait(&p->work, &p->mu);
			p->idle--;
		}
		if (p->stop)
			break;
		verify_next(p, v);
	}
	pthread_mutex_unlock(&p->mu);
	jnotever_free(v);
	return NULL;
}

/* One verifier per online CPU but one (at most 8, at least 1): the walk
 * verifies too whenever it would otherwise wait, and the reader hashes on
 * what is left. */
static unsigned
verifiers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 2)
		return 1;
	return n - 1 > SIGPOOL_MAX_THREADS ? SIGPOOL_MAX_THREADS : (unsigned)(n - 1);
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
	if (p->ring == NULL || dfi_monitor_init(&p->mu, &p->work) != DFI_OK) {
		free(p->ring);
		free(p);
		return DFI_E_NOMEM;
	}
	if (pthread_cond_init(&p->done, NULL) != 0) {
		dfi_monitor_destroy(&p->mu, &p->work);
		free(p->ring);
		free(p);
		return DFI_E_NOMEM;
	}
	p->wv = jnotever_new(pub);
	unsigned want = verifiers();
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

/* The whole check of a note on the walk's thread: dfi_note_open's result
 * (jnotever_open is dfi_note_open with a context kept for the key). */
static dfi_err
walk_check(jsigpool *p, const uint8_t *note, size_t nlen, const dfi_jpubkey *pub, dfi_checkpoint *cp)
{
	if (p != NULL && p->wv != NULL && pub == p->pub)
		return jnotever_open(p->wv, note, nlen, cp);
	return dfi_note_open(note, nlen, pub, cp);
}

dfi_err
jsigpool_note_open(jsigpool *p, uint64_t off, const uint8_t *note, size_t nlen,
    const dfi_jpubkey *pub, dfi_checkpoint *cp)
{
	uint8_t *mine = NULL;
	size_t mlen = 0;
	int ok = 0;
	dfi_checkpoint theirs;

	if (p != NULL) {
		pthread_mutex_lock(&p->mu);
		for (;;) {
			/* Lines before this one that the walk did not take as
			 * checkpoints: their notes are of no further use. */
			while (p->cursor < p->front && job_at(p, p->cursor)->off < off) {
				free(job_at(p, p->cursor)->note);
				job_at(p, p->cursor)->note = NULL;
				p->cursor++;
			}
			/* Not queued: the reader queues a line before the walk
			 * can reach it, so it never will be. */
			if (p->cursor == p->n || job_at(p, p->cursor)->off > off)
				break;
			if (p->cursor < p->front) {
				struct job *j = job_at(p, p->cursor); /* this line's */
				ok = j->ok;
				if (ok)
					theirs = j->cp; /* the slot is the reader's once taken */
				mine = j->note;
				mlen = j->nlen;
				j->note = NULL;
				p->cursor++;
				break;
			}
			if (p->cursor == p->next) {
				/* No verifier has taken it (cursor == front == next):
				 * the walk checks its own bytes below instead of
				 * sleeping until a verifier would. An earlier line's
				 * (not a checkpoint to the walk) is dropped unchecked. */
				struct job *j = job_at(p, p->cursor);
				int own = j->off == off;
				free(j->note);
				j->note = NULL;
				p->next++;
				p->front++;
				p->cursor++;
				if (own)
					break;
				continue;
			}
			/* Being verified by a verifier. Rather than sleep, the walk
			 * verifies a later queued note (issue 19: the sleeps and
			 * wake-ups were most of the kernel's share); it waits only
			 * when none is queued. */
			if (p->next < p->n) {
				verify_next(p, p->wv);
				continue;
			}
			p->want = p->cursor + 1;
			while (p->front < p->want)
				pthread_cond_wait(&p->done, &p->mu);
			p->want = 0;
		}
		pthread_mutex_unlock(&p->mu);
	}
	int same = ok && mine != NULL && mlen == nlen && memcmp(mine, note, nlen) == 0;
	free(mine);
	if (same) {
		/* Verified and parsed over these very bytes: what
		 * dfi_note_open(note, nlen, pub, cp) gives. */
		*cp = theirs;
		return DFI_OK;
	}
	return walk_check(p, note, nlen, pub, cp); /* the whole check */
}

void
jsigpool_free(jsigpool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nworkers; i++)
		pthread_join(p->workers[i], NULL);
	for (size_t i = p->cursor; i < p->n; i++)
		free(job_at(p, i)->note);
	free(p->ring);
	jnotever_free(p->wv);
	pthread_cond_destroy(&p->done);
	dfi_monitor_destroy(&p->mu, &p->work);
	free(p);
}
