/*
 * Parallel stations for `dfissue personalize`: several readers served at
 * once, one thread per reader, all sharing one dfi_hsm (its session pool is
 * thread-safe), one dfi_journal (thread-safe, concurrent appends are group
 * committed), the read-only profile and the batch (rows handed out under a
 * lock, one per card in arrival order). Each thread prints its own progress
 * lines prefixed with its reader; the run ends with a summary (cards done,
 * resumed, failed, cards per minute).
 */
#ifndef DFISSUE_STATIONS_H
#define DFISSUE_STATIONS_H

#include "dfissue/hsm.h"
#include "dfissue/journal.h"
#include "dfissue/perso.h"
#include "dfissue/profile.h"
#include "dfissue/registry.h"

#define STATIONS_MAX 64

/* The --reader options as given (several allowed). */
struct stations_spec {
	const char *spec[STATIONS_MAX];
	unsigned n;
};

/* Records one --reader; 0, or -1 (one line printed) when there are too many. */
int stations_add(struct stations_spec *s, const char *spec);
/* 1 when the readers are served by stations_run(): more than one --reader,
 * or any pcsc: reader (a name or a pattern: pcsc:* or any shell wildcard). */
int stations_wanted(const struct stations_spec *s);

/* Before anything is created: pcscd answers, every pcsc:NAME is a reader
 * it knows, and every pcsc:PATTERN matches one at least (waiting for
 * readers to come up as stations_run() does, at most 10 s or wait_ms when
 * that is shorter; wait_ms -1: no --wait-ms). DFI_EXIT_OK, or one line
 * printed (pcscd_unreachable, unknown_reader) and DFI_EXIT_FAIL. */
int stations_check(const struct stations_spec *s, int wait_ms);

struct stations_config {
	dfi_hsm *hsm;
	dfi_journal *journal;
	const char *journal_token; /* the journal key's token label, for a failure's line */
	const dfi_profile *profile;
	dfi_batch *batch;       /* may be NULL */
	const char *batch_path; /* its file: read again for a card's own row */
	const char *station;
	unsigned long cards;    /* stop after this many cards in all (0: batch end / forever) */
	int wait_ms;            /* a reader idle this long stops (-1: never) */
	int json;               /* one JSON object per card on stdout */
	unsigned long total;    /* cards this run will serve, for "card n of N" (0: unknown) */
	dfi_registry *registry; /* shared by the stations (their claims) */
	const struct dfi_perso_reissue *reissue; /* operator re-issue authorizations */
	size_t nreissue;
	const char *originality_keys;
	const dfi_perso *keys_from; /* base keys looked up once for every station (may be NULL) */
	unsigned claim_lease_ms;    /* dfi_perso_config's */
};

/* Expands the specs (patterns against the readers pcscd lists, waiting as
 * stations_check() does for them to appear), runs one thread per reader until the
 * stop condition, prints the summary. Returns a DFI_EXIT_* code: OK when
 * at least one card was served and every card ended done or resumed, or
 * when a stop signal ended the run and neither journal nor HSM failed
 * (signals.h); DFI_EXIT_INTERRUPTED after a second signal. A pcsc: name
 * that pcscd does not know, or pcscd down, fails at once. */
int stations_run(const struct stations_spec *s, const struct stations_config *c);

#endif
