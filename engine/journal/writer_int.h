/* The journal writer's handle, shared by writer.c (create, open, close,
 * queries) and append.c (appends, group commit, the flusher thread). */
#ifndef DFI_JOURNAL_WRITER_INT_H
#define DFI_JOURNAL_WRITER_INT_H

#include <pthread.h>

#include "journal_int.h"

struct dfi_journal {
	const struct dfi_journal_io *io;
	int dirfd, fd;
	dfi_signer *signer;
	char origin[DFI_J_STR_MAX];
	uint32_t key_id;
	char station[DFI_J_STR_MAX];
	unsigned format;       /* the genesis's: records are written in it */
	int64_t (*now)(void *);
	void *now_ctx;
	char *dir;             /* as the caller named it: for messages */

	pthread_mutex_t mu;
	pthread_cond_t cv;
	dfi_merkle tree;       /* durable tree */
	uint64_t file_len;     /* durable end of file */
	uint64_t next_seq;
	jindex *ix;
	uint8_t note[DFI_J_NOTE_MAX];
	size_t note_len;

	/* the batch being gathered */
	char *pbuf;
	size_t plen, pcap;
	uint8_t (*pleaf)[DFI_HASH_LEN];
	size_t pn, pncap;
	uint64_t enq_ticket, done_through, ok_through;
	int leading;
	dfi_err fatal;
	struct dfi_journal_failure failure; /* the last failed append's reason */

	/* Started by the first dfi_journal_append_async(): writes queued
	 * batches while their callers go on (talking to a card), so the
	 * fdatasync overlaps work that does not depend on it. */
	pthread_t flusher;
	int has_flusher, stopping;

	/* Batches that failed with nothing written while the handle went on
	 * (jw_reload): their tickets and error, which their waits return
	 * however late they look (ok_through alone would cover them once a
	 * later batch succeeds). Never dropped: when full, the next such
	 * failure stops the handle as any other. */
	struct jw_failed {
		uint64_t lo, hi;
		dfi_err e;
	} failed[32];
	size_t nfailed;
};

/* Writes everything queued under one checkpoint and one fdatasync. Called
 * with j->mu held and j->leading clear; returns with it held. */
void jw_lead(dfi_journal *j);

/* Keep why an append failed in j->failure (with j->mu held): op ("write",
 * "fdatasync") failed with errno err on the file, or the signer refused
 * with e, saying why (its HSM's call and CK_RV; "" when it said nothing). */
void jw_failed_file(dfi_journal *j, dfi_err e, const char *op, int err);
void jw_failed_signer(dfi_journal *j, dfi_err e, const char *why);

/* After a batch failed before any byte of it reached the file (its
 * checkpoint could not be signed, memory ran out), the file is as the last
 * durable checkpoint left it while the index already holds every queued
 * record: rebuilds the index from the file, so the handle goes on. Called
 * with j->mu held and nothing queued. An error leaves the index as it was
 * (the caller then stops the handle). */
dfi_err jw_reload(dfi_journal *j);

#endif
