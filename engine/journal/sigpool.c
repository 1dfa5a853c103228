/* Checkpoint signatures verified in parallel, ahead of the walk.
 *
 * The auditor's verify is one pass over the journal (walk.c); on a journal
 * with many checkpoints nearly all of its time is signature checks, one per
 * checkpoint, each independent of the others. A reader thread scans the
 * same journal for checkpoint lines and queues their notes; verifier
 * threads (one per online CPU) check the signatures through OpenSSL
 * (dfi_note_open, the same call the walk makes); the walk, reaching a
 * checkpoint, takes the verdict over the same bytes and only parses the
 * note. Nothing the walk decides depends on the threads: a note the
 * threads did not see, saw with other bytes (the file changed between the
 * two reads) or found bad is checked again by the walk itself, so every
 * finding and error stays what the one-pass verify reports. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal_int.h"
#include "sigpool.h"

#define SIGPOOL_MAX_THREADS 8
/* Notes the reader may hold ahead of the walk (memory stays bounded by
 * this, not by the journal: about 250 bytes each). The jobs live in a ring
 * of this many slots: job i (a count from the start of the scan) is in
 * slot i % SIGPOOL_AHEAD while cursor <= i < n, and the reader never runs
 * more than SIGPOOL_AHEAD jobs ahead of the walk's cursor, so a slot is
 * reused only once the walk has taken (and freed) its note. */
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
	pthread_cond_t cv;            /* a job queued or verified, the reader done, stop */
	struct job *ring;             /* SIGPOOL_AHEAD slots, allocated with the first job */
	size_t n;                     /* jobs queued so far (a count, not a slot) */
	size_t next;                  /* next job for a verifier */
	size_t cursor;                /* the walk's position: jobs before it are taken */
	int reading_done, stop;
	const struct dfi_journal_io *io;
	int fd;
	const uint8_t *data;
	size_t len;
	const dfi_jpubkey *pub;
	pthread_t reader, workers[SIGPOOL_MAX_THREADS];
	unsigned nworkers;
	int reader_started;
};

/* Job i's slot (cursor <= i < n). */
static struct job *
job_at(jsigpool *p, size_t i)
{
	return &p->ring[i % SIGPOOL_AHEAD];
}

static int
reader_line(void *ctx, const char *line, size_t len, int complete, uint64_t off)
{
	jsigpool *p = ctx;
	uint8_t note[DFI_J_NOTE_MAX];
	size_t nlen;

	if (line == NULL || !complete || len < JCP_PREFIX_LEN ||
	    memcmp(line, JCP_PREFIX, JCP_PREFIX_LEN) != 0)
		return 0;
	if (jcp_note(line, len, note, sizeof(note), &nlen) != DFI_OK)
		return 0; /* the walk reports it */
	uint8_t *copy = malloc(nlen);
	if (copy == NULL)
		return 0; /* the walk verifies this one itself */
	memcpy(copy, note, nlen);
	pthread_mutex_lock(&p->mu);
	while (!p->stop && p->n - p->cursor >= SIGPOOL_AHEAD)
		pthread_cond_wait(&p->cv, &p->mu);
	if (p->stop) {
		pthread_mutex_unlock(&p->mu);
		free(copy);
		return 1;
	}
	if (p->ring == NULL) {
		p->ring = calloc(SIGPOOL_AHEAD, sizeof(*p->ring));
		if (p->ring == NULL) {
			pthread_mutex_unlock(&p->mu);
			free(copy);
			return 0;
		}
	}
	*job_at(p, p->n++) = (struct job){ .off = off, .note = copy, .nlen = nlen };
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

static void *
reader_run(void *arg)
{
	jsigpool *p = arg;
	if (p->data != NULL)
		(void)jscan_buf(p->data, p->len, reader_line, p);
	else
		(void)jscan_fd(p->io, p->fd, UINT64_MAX, reader_line, p);
	pthread_mutex_lock(&p->mu);
	p->reading_done = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void *
worker_run(void *arg)
{
	jsigpool *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->next >= p->n && !p->reading_done)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop || p->next >= p->n)
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
jsigpool_start(jsigpool **out, const struct dfi_journal_io *io, int fd, const uint8_t *data,
    size_t len, const dfi_jpubkey *pub)
{
	if (out == NULL || pub == NULL || (data == NULL && io == NULL))
		return DFI_E_INVALID_ARG;
	*out = NULL;
	jsigpool *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return DFI_E_NOMEM;
	p->io = io;
	p->fd = fd;
	p->data = data;
	p->len = len;
	p->pub = pub;
	if (pthread_mutex_init(&p->mu, NULL) != 0) {
		free(p);
		return DFI_E_NOMEM;
	}
	if (pthread_cond_init(&p->cv, NULL) != 0) {
		pthread_mutex_destroy(&p->mu);
		free(p);
		return DFI_E_NOMEM;
	}
	if (pthread_create(&p->reader, NULL, reader_run, p) != 0) {
		jsigpool_free(p);
		return DFI_E_NOMEM;
	}
	p->reader_started = 1;
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
				pthread_cond_broadcast(&p->cv); /* room for the reader */
			}
			if (p->cursor < p->n && job_at(p, p->cursor)->off < off) {
				pthread_cond_wait(&p->cv, &p->mu); /* still being verified */
				continue;
			}
			if (p->cursor < p->n && job_at(p, p->cursor)->off > off)
				break; /* the reader never saw this line */
			if (p->cursor < p->n) {
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
				pthread_cond_broadcast(&p->cv); /* room for the reader */
				break;
			}
			if (p->reading_done)
				break;
			pthread_cond_wait(&p->cv, &p->mu);
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
	if (p->reader_started)
		pthread_join(p->reader, NULL);
	for (unsigned i = 0; i < p->nworkers; i++)
		pthread_join(p->workers[i], NULL);
	for (size_t i = p->cursor; i < p->n; i++)
		free(job_at(p, i)->note);
	free(p->ring);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
