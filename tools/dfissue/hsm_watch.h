/*
 * A watchdog on the HSM: a PKCS#11 call that does not return (a network
 * HSM that lost its peer, a wedged token) cannot be bounded from outside
 * the call, so the stations would wait in silence, and a second stop
 * signal could not end the run. A thread asks each HSM handle once a
 * second which call has been in flight longest (dfi_hsm_oldest_call) and
 * says so when it passes the limit, again once a minute while it lasts,
 * and once more when the HSM answers; after a second stop signal it ends
 * the process if such a call keeps the run from ending.
 */
#ifndef DFISSUE_HSM_WATCH_H
#define DFISSUE_HSM_WATCH_H

#include <pthread.h>

#include "dfissue/hsm.h"

#define CLI_HSM_STALL_DEFAULT_S 30

struct cli_hsm_watch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	dfi_hsm *hsm[2]; /* under mu: the keys' HSM, the journal key's (NULL: none yet) */
	unsigned stall_s;
	pthread_t tid;
	int stop, started;
	int serving; /* under mu */
	const char *opening; /* under mu: what the run is opening, NULL: nothing */
	long opening_since;  /* under mu: dfi_now_ms() when it began */
};

/* Starts the watch before any HSM opens, so that a call that hangs while
 * the run opens is said too: stall_s > 0 says a call in flight for stall_s
 * seconds (0: never). Whatever stall_s, once the readers serve, a call
 * still in flight 2 s after a second stop signal ends the process (exit
 * 3) with one line: the stop the signal promised. A watch that cannot
 * start says so once and the run goes on without it. */
void cli_hsm_watch_start(struct cli_hsm_watch *w, unsigned stall_s);
/* What the watch watches as the run opens: h the keys' HSM, jh the
 * journal key's (NULL, or h: none of its own), either NULL while not
 * open; serving 1 once the readers serve cards (the stop signals are
 * installed), so that the warning says the cards wait. No-op when the
 * watch did not start. */
void cli_hsm_watch_set(struct cli_hsm_watch *w, dfi_hsm *h, dfi_hsm *jh, int serving);
/* The run is opening what (a static string, "opening the HSM"; NULL: done):
 * a module that waits for its HSM inside C_Initialize or C_Login does so
 * before a handle exists to ask, so the time the step takes is watched
 * instead, with the same limit. No-op when the watch did not start. */
void cli_hsm_watch_opening(struct cli_hsm_watch *w, const char *what);
/* Stops the thread (within a few milliseconds), before the HSMs are
 * freed; w may be unstarted. */
void cli_hsm_watch_stop(struct cli_hsm_watch *w);

#endif
