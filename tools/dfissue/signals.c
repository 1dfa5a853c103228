/* Stop signals: a flag the stations poll, a transport that obeys it, and
 * the registry the second signal abandons. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "signals.h"

/* Written by the handler only: the one thing a handler may safely do. */
static volatile sig_atomic_t g_count;
/* The two messages, prefixed for journald when needed, made before any
 * signal can arrive (the handler may only write(2)). */
static char g_msg[2][200];
/* The registry the second signal abandons (cli_signals_abandons), and how
 * many handlers are using it right now: the handler may run on any thread,
 * so cli_signals_forget waits for them before the registry is freed. */
_Static_assert(ATOMIC_POINTER_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2, "used in a signal handler");
static _Atomic(dfi_pgreg *) g_reg;
static atomic_int g_using;

static void
on_signal(int sig)
{
	int saved = errno;
	int n = g_count < 2 ? g_count + 1 : 2;
	g_count = n;
	const char *m = g_msg[n - 1];
	ssize_t w = write(STDERR_FILENO, m, strlen(m));
	(void)w;
	(void)sig;
	/* Here, not in a thread that polls the count: every thread may be
	 * inside a registry call (and the main thread inside the close). */
	if (n == 2) {
		atomic_fetch_add(&g_using, 1);
		dfi_pgreg_abandon(atomic_load(&g_reg));
		atomic_fetch_sub(&g_using, 1);
	}
	errno = saved;
}

void
cli_signals_abandons(dfi_pgreg *pg)
{
	atomic_store(&g_reg, pg);
}

void
cli_signals_forget(dfi_pgreg *pg)
{
	dfi_pgreg *want = pg;
	if (pg == NULL || !atomic_compare_exchange_strong(&g_reg, &want, NULL))
		return;
	/* A handler that loaded pg before the exchange is still counted:
	 * it only writes one byte, so this waits microseconds. */
	while (atomic_load(&g_using) > 0) {
		struct timespec ts = { 0, 1000000L };
		nanosleep(&ts, NULL);
	}
}

void
cli_signals_install(void)
{
	const char *p = cli_log_to_journal() ? "<5>" : "";
	snprintf(g_msg[0], sizeof(g_msg[0]), "%sdfissue: stop requested: no new cards; the card in "
	    "each reader is finished or left safely (signal again to stop at once)\n", p);
	snprintf(g_msg[1], sizeof(g_msg[1]), "%sdfissue: stopping at once: no APDU is sent any "
	    "more; a card cut short is finished by its next tap\n", p);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

int
cli_signal_count(void)
{
	return g_count;
}

/* ---- the transport that stops at the second signal ---------------------- */

static dfi_err
c_transmit(void *ctx, const uint8_t *capdu, size_t clen, uint8_t *rapdu, size_t rcap,
    size_t *rlen)
{
	if (g_count >= 2)
		return DFI_E_CARD_TORN; /* not sent: the card is as before it */
	return dfi_transport_transmit(ctx, capdu, clen, rapdu, rcap, rlen);
}

static dfi_err
c_wait_card(void *ctx, int timeout_ms)
{
	if (g_count >= 1)
		return DFI_E_TIMEOUT;
	return dfi_transport_wait_card(ctx, timeout_ms);
}

static dfi_err
c_wait_removed(void *ctx, int timeout_ms)
{
	return dfi_transport_wait_removed(ctx, timeout_ms);
}

static const char *
c_name(void *ctx)
{
	return dfi_transport_name(ctx);
}

static void
c_destroy(void *ctx)
{
	dfi_transport_free(ctx);
}

static const struct dfi_transport_ops cancel_ops = {
	.transmit = c_transmit,
	.wait_card = c_wait_card,
	.wait_removed = c_wait_removed,
	.name = c_name,
	.destroy = c_destroy,
};

dfi_err
cli_signals_wrap(dfi_transport **t)
{
	dfi_transport *outer = NULL;
	/* dfi_transport_new destroys the context (the inner transport) on
	 * failure, so *t is consumed either way. */
	dfi_err e = dfi_transport_new(&outer, &cancel_ops, *t);
	*t = e == DFI_OK ? outer : NULL;
	return e;
}
