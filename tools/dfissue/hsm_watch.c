/* The HSM watchdog (hsm_watch.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "core/clock.h"
#include "hsm_watch.h"
#include "log.h"
#include "signals.h"

/* How long a second stop signal waits for an HSM call it cannot interrupt. */
#define STOP_GRACE_MS 2000

/* What one handle's watch remembers between ticks. */
struct stall {
	const char *fn; /* the call said stalled, NULL: none */
	long said_ms;   /* its age when last said */
};

static const char *
which(unsigned i)
{
	return i == 0 ? "the HSM" : "the journal key's HSM";
}

static void
tick(const struct cli_hsm_watch *w, dfi_hsm *h, unsigned i, int serving, struct stall *st)
{
	const char *fn = NULL;
	long ms = 0;
	if (w->stall_s == 0 || dfi_hsm_oldest_call(h, &fn, &ms) != DFI_OK)
		return; /* --hsm-stall 0: never said */
	long limit = (long)w->stall_s * 1000;
	const char *token = dfi_hsm_token_label(h);
	if (st->fn != NULL && (fn != st->fn || ms < st->said_ms)) {
		/* The stalled call returned (another, younger one may be in
		 * flight: that is the HSM working again). */
		cli_log(CLI_LOG_NOTICE, "dfissue: %s (token '%s') answered %s again", which(i), token,
		    st->fn);
		st->fn = NULL;
	}
	if (fn == NULL || ms < limit)
		return;
	/* Said when the call passes the limit, then once a minute. */
	if (st->fn == NULL || ms - st->said_ms >= 60000) {
		cli_log(CLI_LOG_WARNING, "dfissue: WARNING: %s (token '%s') has not answered %s for "
		    "%ld s: check its connection, power and load; %s", which(i), token, fn, ms / 1000,
		    serving ? "the cards in the readers wait for it (a second stop signal ends the "
		    "run: a card cut short is finished by its next tap)" : "the run is still "
		    "opening: no card was touched yet");
		st->fn = fn;
		st->said_ms = ms;
	}
}

/* A step of the run's opening that takes stall_s seconds is said, once a
 * minute while it lasts, unless a call in flight was said already (the
 * step's own HSM call, on a handle that exists). */
static void
tick_opening(const struct cli_hsm_watch *w, const char *what, long since, const struct stall st[2],
    long *said)
{
	if (w->stall_s == 0 || what == NULL || st[0].fn != NULL || st[1].fn != NULL)
		return;
	long ms = dfi_now_ms() - since;
	if (ms < (long)w->stall_s * 1000 || (*said != 0 && ms - *said < 60000))
		return;
	cli_log(CLI_LOG_WARNING, "dfissue: WARNING: %s has taken %ld s: a PKCS#11 module that "
	    "waits for its HSM may never return: check the HSM, its network and power; no card "
	    "was touched yet (a stop signal ends the run)", what, ms / 1000);
	*said = ms;
}

/* The second stop signal promises a stop at once, but a station inside an
 * HSM call that does not return cannot hear it, and the run cannot end
 * without that thread. When a call made before the signal is still in
 * flight STOP_GRACE_MS after it, the process ends here without it, as a
 * crash would: every intent is in the journal before its ChangeKey, and
 * the journal's next open and each card's next tap finish the rest
 * (docs/JOURNAL.md section 6). */
static void
stop_unheard(dfi_hsm *const h[2], long *second_at)
{
	if (cli_signal_count() < 2)
		return;
	long now = dfi_now_ms();
	if (*second_at == 0)
		*second_at = now;
	long since = now - *second_at;
	if (since < STOP_GRACE_MS)
		return;
	for (unsigned i = 0; i < 2; i++) {
		const char *fn = NULL;
		long ms = 0;
		if (h[i] == NULL || dfi_hsm_oldest_call(h[i], &fn, &ms) != DFI_OK || fn == NULL ||
		    ms < since)
			continue;
		cli_log(CLI_LOG_ERR, "dfissue: %s (token '%s') has not answered %s (in flight for %ld "
		    "s) in the %ld s since the second stop signal: exiting without it (exit %d), as "
		    "after a crash: the journal's next open and each card's next tap finish what this "
		    "run left", which(i), dfi_hsm_token_label(h[i]), fn, ms / 1000, since / 1000,
		    DFI_EXIT_INTERRUPTED);
		fflush(stdout);
		_exit(DFI_EXIT_INTERRUPTED);
	}
}

static void *
watch_main(void *arg)
{
	struct cli_hsm_watch *w = arg;
	struct stall st[2] = { { 0 }, { 0 } };
	long second_at = 0, said_opening = 0, opening_since = 0;
	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		t.tv_sec += 1;
		if (pthread_cond_timedwait(&w->cv, &w->mu, &t) != ETIMEDOUT)
			continue;
		dfi_hsm *h[2] = { w->hsm[0], w->hsm[1] };
		int serving = w->serving;
		const char *opening = w->opening;
		if (w->opening_since != opening_since) { /* another step: not said yet */
			opening_since = w->opening_since;
			said_opening = 0;
		}
		pthread_mutex_unlock(&w->mu);
		for (unsigned i = 0; i < 2; i++)
			if (h[i] != NULL)
				tick(w, h[i], i, serving, &st[i]);
		tick_opening(w, opening, opening_since, st, &said_opening);
		if (serving)
			stop_unheard(h, &second_at);
		pthread_mutex_lock(&w->mu);
	}
	/* One last look: a stall said must be seen to end in the log too. */
	dfi_hsm *h[2] = { w->hsm[0], w->hsm[1] };
	pthread_mutex_unlock(&w->mu);
	for (unsigned i = 0; i < 2; i++)
		if (h[i] != NULL && st[i].fn != NULL)
			tick(w, h[i], i, 1, &st[i]);
	return NULL;
}

void
cli_hsm_watch_start(struct cli_hsm_watch *w, unsigned stall_s)
{
	memset(w, 0, sizeof(*w));
	w->stall_s = stall_s; /* 0: no warnings; the second signal still ends a stall */
	/* The tick is timed on the monotonic clock: a clock step must not
	 * hide a stall or invent one. */
	pthread_condattr_t a;
	int ok = 0;
	if (pthread_condattr_init(&a) == 0) {
		ok = pthread_condattr_setclock(&a, CLOCK_MONOTONIC) == 0 &&
		    pthread_cond_init(&w->cv, &a) == 0;
		pthread_condattr_destroy(&a);
	}
	if (ok && pthread_mutex_init(&w->mu, NULL) != 0) {
		pthread_cond_destroy(&w->cv);
		ok = 0;
	}
	if (ok && pthread_create(&w->tid, NULL, watch_main, w) != 0) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		ok = 0;
	}
	if (!ok) {
		cli_log(CLI_LOG_WARNING, "dfissue: WARNING: cannot start the HSM watch (out of "
		    "resources): a stalled HSM call will not be reported");
		return;
	}
	w->started = 1;
}

void
cli_hsm_watch_set(struct cli_hsm_watch *w, dfi_hsm *h, dfi_hsm *jh, int serving)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->mu);
	w->hsm[0] = h;
	w->hsm[1] = jh != h ? jh : NULL;
	w->serving = serving;
	pthread_mutex_unlock(&w->mu);
}

void
cli_hsm_watch_opening(struct cli_hsm_watch *w, const char *what)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->mu);
	w->opening = what;
	w->opening_since = dfi_now_ms();
	pthread_mutex_unlock(&w->mu);
}

void
cli_hsm_watch_stop(struct cli_hsm_watch *w)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->tid, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	w->started = 0;
}
