/*
 * The live status block of `dfissue personalize` on a terminal: one line
 * per reader (reader, card UID, step n/N or what it waits for, its cards
 * done/failed) and a total line (cards done/failed, cards per minute),
 * redrawn in place as cards progress. Log lines (log.c) are printed above
 * it: the block is erased, the line written, the block drawn again, all
 * under one lock. Nothing is drawn when stderr is not a terminal, when it
 * goes to the systemd journal, or with -q.
 */
#ifndef DFISSUE_CLI_STATUS_H
#define DFISSUE_CLI_STATUS_H

/* Starts the block for n readers named names[i] (copied); 0 when active,
 * -1 when not (not a terminal, or n is 0). */
int cli_status_start(unsigned n, const char *const *names);
/* Reader i: what it does now ("waiting for a card", "step 5/20: ...",
 * "done", "failed: ...") and the card's UID ("" when none). */
void cli_status_reader(unsigned i, const char *uid, const char *what);
/* Reader i's tally and the run's: redraws the block. */
void cli_status_counts(unsigned i, unsigned long done, unsigned long failed);
void cli_status_total(unsigned long done, unsigned long failed, double per_min);
/* Takes the block down for good. */
void cli_status_stop(void);

/* For log.c: the output lock, and erase/draw while holding it. */
void cli_status_lock(void);
void cli_status_unlock(void);
void cli_status_erase(void);
void cli_status_draw(void);

#endif
