/* Appending to the journal.
 *
 * Durability order for every append: the records and one checkpoint line
 * covering them are written in one pwrite at the end of the file, then one
 * fdatasync; only then is the append acknowledged. Threads that append while
 * a write is under way queue their records; the next leader writes all of
 * them under one checkpoint and one fdatasync (group commit). Asynchronous
 * appends queue without waiting; the handle's flusher thread leads. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dfissue/util.h"
#include "core/errclass.h"
#include "core/grow.h"
#include "crypto/signer_int.h"
#include "journal_int.h"
#include "writer_int.h"

static dfi_err
reserve(void **p, size_t *cap, size_t need, size_t elem)
{
	/* a first page's worth: most batches never grow it again */
	void *q = dfi_grow(*p, cap, need, 4096 / elem + 1, elem);
	if (q == NULL)
		return DFI_E_NOMEM;
	*p = q;
	return DFI_OK;
}

void
jw_lead(dfi_journal *j)
{
	if (j->fatal != DFI_OK) {
		/* after a failed write the file's tail is unknown: write nothing
		 * more, fail everything queued */
		j->plen = 0;
		j->pn = 0;
		j->done_through = j->enq_ticket;
		pthread_cond_broadcast(&j->cv);
		return;
	}
	j->leading = 1;
	char *buf = j->pbuf;
	size_t len = j->plen, bcap = j->pcap;
	uint8_t (*leaves)[DFI_HASH_LEN] = j->pleaf;
	size_t nl = j->pn;
	uint64_t target = j->enq_ticket;
	j->pbuf = NULL;
	j->plen = j->pcap = 0;
	j->pleaf = NULL;
	j->pn = j->pncap = 0;
	dfi_merkle t = j->tree;
	uint64_t prev = t.size;
	uint64_t off = j->file_len;
	pthread_mutex_unlock(&j->mu);

	dfi_err e = DFI_OK, se = DFI_OK;
	int wrote = 0; /* from here on the file's tail is unknown on failure */
	int err = 0;   /* errno of a failed write or sync */
	const char *op = NULL;
	dfi_checkpoint cp;
	uint8_t note[DFI_J_NOTE_MAX];
	size_t notelen = 0, cl;
	char why[320] = ""; /* the signer's reason when it refused */
	memset(&cp, 0, sizeof(cp));
	for (size_t i = 0; i < nl && e == DFI_OK; i++)
		e = dfi_merkle_push(&t, leaves[i]);
	snprintf(cp.origin, sizeof(cp.origin), "%s", j->origin);
	cp.size = t.size;
	cp.prev_size = prev;
	dfi_merkle_root(&t, cp.root);
	if (e == DFI_OK)
		e = se = dfi_note_sign_id(&cp, j->signer, j->key_id, note, sizeof(note), &notelen);
	if (se != DFI_OK)
		dfi_signer_why(j->signer, why, sizeof(why));
	if (e == DFI_OK)
		e = reserve((void **)&buf, &bcap, len + DFI_J_LINE_MAX + 2, 1);
	if (e == DFI_OK)
		e = jcp_line(note, notelen, buf + len, bcap - len, &cl);
	if (e == DFI_OK) {
		len += cl;
		buf[len++] = '\n';
		wrote = 1;
		if ((e = jio_write_all(j->io, j->fd, buf, len, off)) != DFI_OK) {
			err = errno;
			op = "write";
		}
	}
	if (e == DFI_OK && j->io->fdatasync(j->io->ctx, j->fd) != 0) {
		err = errno;
		op = "fdatasync";
		e = DFI_E_IO;
	}
	free(buf);
	free(leaves);

	pthread_mutex_lock(&j->mu);
	if (op != NULL)
		jw_failed_file(j, e, op, err);
	else if (dfi_err_is_hsm(se))
		jw_failed_signer(j, se, why);
	if (e == DFI_OK) {
		j->tree = t;
		j->file_len = off + len;
		memcpy(j->note, note, notelen);
		j->note_len = notelen;
		j->ok_through = target;
	} else if (!wrote && j->fatal == DFI_OK &&
	    j->nfailed < sizeof(j->failed) / sizeof(j->failed[0])) {
		/* Nothing reached the file: this batch and whatever was queued
		 * behind it fail with e, and the handle goes on from the file. */
		j->plen = 0;
		j->pn = 0;
		target = j->enq_ticket;
		if (jw_reload(j) == DFI_OK)
			j->failed[j->nfailed++] = (struct jw_failed){ j->done_through + 1, target, e };
		else
			j->fatal = e;
	} else if (j->fatal == DFI_OK) {
		j->fatal = e;
	}
	j->done_through = target;
	j->leading = 0;
	pthread_cond_broadcast(&j->cv);
}

/* Queues recs (checked, numbered, in the index) under j->mu; returns with
 * it held and the batch's ticket in *ticket. */
static dfi_err
enqueue(dfi_journal *j, const dfi_jrec *recs, size_t n, uint64_t *seqs, uint64_t *ticket)
{
	int64_t now = j->now != NULL ? j->now(j->now_ctx) : (int64_t)time(NULL);
	char line[DFI_J_LINE_MAX + 1];
	pthread_mutex_lock(&j->mu);
	dfi_err e = j->fatal;
	if (e == DFI_OK && j->stopping)
		e = DFI_E_INVALID_ARG;
	for (size_t i = 0; e == DFI_OK && i < n; i++)
		if (recs[i].type == DFI_JREC_GENESIS || jindex_check(j->ix, &recs[i]) != DFI_OK)
			e = DFI_E_INVALID_ARG;
		else if (recs[i].type == DFI_JREC_CHANGE && j->format < DFI_JOURNAL_FORMAT_CHANGE)
			e = DFI_E_UNSUPPORTED; /* an older journal format has no change records */
	size_t len0 = j->plen, pn0 = j->pn;
	for (size_t i = 0; e == DFI_OK && i < n; i++) {
		dfi_jrec r = recs[i];
		size_t ll;
		r.seq = j->next_seq + i;
		r.time = now;
		if (r.station[0] == '\0')
			memcpy(r.station, j->station, sizeof(r.station));
		jrec_aid_format1(&r, j->format);
		if ((e = dfi_jrec_format(&r, line, sizeof(line), &ll)) != DFI_OK)
			break;
		if ((e = reserve((void **)&j->pbuf, &j->pcap, j->plen + ll + 1, 1)) != DFI_OK ||
		    (e = reserve((void **)&j->pleaf, &j->pncap, j->pn + 1, DFI_HASH_LEN)) != DFI_OK)
			break;
		memcpy(j->pbuf + j->plen, line, ll);
		j->pbuf[j->plen + ll] = '\n';
		j->plen += ll + 1;
		dfi_merkle_leaf_hash(line, ll, j->pleaf[j->pn++]);
	}
	if (e != DFI_OK) { /* nothing of this call is queued */
		j->plen = len0;
		j->pn = pn0;
		return e;
	}
	/* Queued: the index reflects these records from now on. If the write
	 * fails the handle is dead, so nobody sees an index ahead of the file. */
	for (size_t i = 0; i < n; i++) {
		dfi_jrec r = recs[i];
		r.seq = j->next_seq + i;
		r.time = now;
		if (seqs != NULL)
			seqs[i] = r.seq;
		if (jindex_apply(j->ix, &r, 0, NULL, NULL) != DFI_OK && j->fatal == DFI_OK)
			j->fatal = DFI_E_NOMEM;
	}
	j->next_seq += n;
	*ticket = ++j->enq_ticket;
	return DFI_OK;
}

/* Called with j->mu held; returns with it held. */
static dfi_err
wait_locked(dfi_journal *j, uint64_t ticket)
{
	while (j->done_through < ticket) {
		if (!j->leading)
			jw_lead(j);
		else
			pthread_cond_wait(&j->cv, &j->mu);
	}
	for (size_t i = 0; i < j->nfailed; i++)
		if (ticket >= j->failed[i].lo && ticket <= j->failed[i].hi)
			return j->failed[i].e;
	if (ticket <= j->ok_through)
		return DFI_OK;
	return j->fatal != DFI_OK ? j->fatal : DFI_E_IO;
}

dfi_err
dfi_journal_append(dfi_journal *j, const dfi_jrec *recs, size_t n, uint64_t *seqs)
{
	uint64_t my;
	if (j == NULL || recs == NULL || n == 0 || n > 1024)
		return DFI_E_INVALID_ARG;
	dfi_err e = enqueue(j, recs, n, seqs, &my);
	if (e == DFI_OK)
		e = wait_locked(j, my);
	pthread_mutex_unlock(&j->mu);
	return e;
}

static void *
flusher_main(void *arg)
{
	dfi_journal *j = arg;
	pthread_mutex_lock(&j->mu);
	for (;;) {
		if (j->done_through < j->enq_ticket && !j->leading)
			jw_lead(j);
		else if (j->stopping)
			break;
		else
			pthread_cond_wait(&j->cv, &j->mu);
	}
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

dfi_err
dfi_journal_append_async(dfi_journal *j, const dfi_jrec *recs, size_t n, uint64_t *seqs,
    uint64_t *ticket)
{
	uint64_t my;
	if (j == NULL || recs == NULL || n == 0 || n > 1024 || ticket == NULL)
		return DFI_E_INVALID_ARG;
	dfi_err e = enqueue(j, recs, n, seqs, &my);
	if (e == DFI_OK) {
		if (!j->has_flusher) {
			if (pthread_create(&j->flusher, NULL, flusher_main, j) == 0)
				j->has_flusher = 1;
			/* else: the batch is written by the next waiter (no overlap) */
		}
		pthread_cond_broadcast(&j->cv);
		*ticket = my;
	}
	pthread_mutex_unlock(&j->mu);
	return e;
}

dfi_err
dfi_journal_wait(dfi_journal *j, uint64_t ticket)
{
	if (j == NULL || ticket == 0)
		return DFI_E_INVALID_ARG;
	pthread_mutex_lock(&j->mu);
	dfi_err e = ticket > j->enq_ticket ? DFI_E_INVALID_ARG : wait_locked(j, ticket);
	pthread_mutex_unlock(&j->mu);
	return e;
}

dfi_err
dfi_journal_intent(dfi_journal *j, const dfi_jrec *intent, uint64_t *seq)
{
	if (intent == NULL)
		return DFI_E_INVALID_ARG;
	dfi_jrec r = *intent;
	r.type = DFI_JREC_INTENT;
	return dfi_journal_append(j, &r, 1, seq);
}

static dfi_err
outcome(dfi_journal *j, dfi_jrec_type t, uint64_t intent, const char *reason, int observed,
    dfi_jmatch m)
{
	dfi_jrec r;
	dfi_err e = dfi_jrec_outcome(&r, t, intent, reason, observed, m);
	return e != DFI_OK ? e : dfi_journal_append(j, &r, 1, NULL);
}

dfi_err dfi_journal_commit(dfi_journal *j, uint64_t s) { return outcome(j, DFI_JREC_COMMIT, s, NULL, -1, 0); }

dfi_err
dfi_journal_abort(dfi_journal *j, uint64_t s, const char *reason)
{
	return outcome(j, DFI_JREC_ABORT, s, reason, -1, 0);
}

dfi_err
dfi_journal_resolve(dfi_journal *j, uint64_t s, int observed, dfi_jmatch m)
{
	return outcome(j, DFI_JREC_RESOLVE, s, NULL, observed, m);
}
