/* Private to engine/journal: checkpoint signatures verified in parallel,
 * ahead of the walk (the auditor's verify). */
#ifndef DFI_JOURNAL_SIGPOOL_H
#define DFI_JOURNAL_SIGPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "dfissue/journal.h"

typedef struct jsigpool jsigpool;

/* Starts threads that verify checkpoint signatures with pub, one per
 * online CPU but one (at least 1, at most 8), while the caller walks the
 * journal (and verifies queued notes too while it would wait). *out is
 * NULL when the threads cannot start: the walk then verifies every
 * signature itself. */
dfi_err jsigpool_start(jsigpool **out, const dfi_jpubkey *pub);

/* Queues the checkpoint line at offset off (its note, decoded and copied)
 * for the threads; called by the walk's reader (pipe.c) before the walk
 * can reach that line. Never waits: a line it cannot queue (not a valid
 * checkpoint line, no memory, too many ahead) is left to the walk. */
void jsigpool_queue(jsigpool *p, uint64_t off, const char *line, size_t len);

/* The note of the checkpoint line at offset off, opened as
 * dfi_note_open(note, nlen, pub, cp) would open it: when a thread has
 * verified the signature over the same bytes, its parse is taken;
 * otherwise (different bytes, a failed check, a line the reader did not
 * see) the whole check runs here, so the result and its error are
 * always dfi_note_open's. When the threads are behind, verifies queued
 * notes itself meanwhile, and waits only when none is left to take. The
 * calls come in the file's order, from one thread. */
dfi_err jsigpool_note_open(jsigpool *p, uint64_t off, const uint8_t *note, size_t nlen,
    const dfi_jpubkey *pub, dfi_checkpoint *cp);

/* Stops the threads (they may still be ahead) and frees everything. */
void jsigpool_free(jsigpool *p);

#endif
