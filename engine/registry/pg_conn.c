/* The PostgreSQL backend's connections: URL checks (no password in it),
 * a small pool, and every round trip bounded by a deadline (asynchronous
 * libpq calls and poll()), so that a registry that stops answering fails a
 * call instead of hanging a station. Abandoning the registry
 * (dfi_pgreg_abandon) ends every wait at once: each poll() also watches a
 * pipe that the abandonment makes readable. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/monitor.h"
#include "core/slots.h"
#include "core/why.h"
#include "dfissue/util.h"
#include "pg_int.h"
#include "pg_resolve.h"

dfi_err
dfi_pgreg_check_url(const char *url, char *why, size_t cap)
{
	if (url == NULL || url[0] == '\0')
		return dfi_why(why, cap, DFI_E_INVALID_ARG, "the registry URL is empty");
	/* A URI only (the two prefixes libpq takes), never a key=value string:
	 * one spelling in configuration files, logs and docs, and none where a
	 * stray space turns a value into another keyword. libpq parses it. */
	if (strncmp(url, "postgresql://", 13) != 0 && strncmp(url, "postgres://", 11) != 0)
		return dfi_why(why, cap, DFI_E_INVALID_ARG,
		    "the registry URL must be a libpq connection URI, postgresql://[user@]host[:port]/dbname"
		    "[?param=value&...] (e.g. ?sslmode=verify-full), not a key=value string");
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &err);
	if (opts == NULL) {
		/* libpq ends most of these messages with the URI, or a part of
		 * it, quoted after ': "' (e.g. '...in URI: "postgresql://st:pw@[::1"'):
		 * keep its words, never the quote, which may hold a password. */
		char msg[160] = "out of memory";
		if (err != NULL) {
			const char *q = strstr(err, ": \"");
			size_t n = q != NULL ? (size_t)(q - err) : strcspn(err, "\n");
			snprintf(msg, sizeof(msg), "%.*s", (int)(n < sizeof(msg) - 1 ? n : sizeof(msg) - 1), err);
			dfi_wipe(err, strlen(err));
			PQfreemem(err);
		}
		return dfi_why(why, cap, DFI_E_PARSE, "the registry URL is not a libpq connection URI (%s)", msg);
	}
	dfi_err e = DFI_OK;
	/* password, and sslpassword (the client key's passphrase): secrets,
	 * never in a command line every user of the host can read. */
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
		if ((strcmp(o->keyword, "password") == 0 || strcmp(o->keyword, "sslpassword") == 0) &&
		    o->val != NULL && o->val[0] != '\0')
			e = dfi_why(why, cap, DFI_E_INVALID_ARG,
			    "the registry URL carries a %s: command lines are visible to every user of "
			    "the host. Remove it and put it in the libpq password file (~/.pgpass or the file "
			    "PGPASSFILE names, mode 0600), or in PGPASSWORD, or use a client certificate "
			    "(sslcert/sslkey, the key unencrypted with mode 0600)",
			    o->keyword[0] == 's' ? "client key passphrase (sslpassword)" : "password");
	pg_conninfo_free(opts);
	return e;
}

void
pg_conninfo_free(PQconninfoOption *opts)
{
	if (opts == NULL)
		return;
	/* PQconninfoFree frees without clearing: a refused password would stay
	 * in freed heap (and a core dump) until reused. Wipe every value. */
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
		if (o->val != NULL)
			dfi_wipe(o->val, strlen(o->val));
	PQconninfoFree(opts);
}

static void
quiet_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* A signal handler may abandon the registry: the flag must be lock-free. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "dfi_pgreg_abandon is async-signal-safe");

void
dfi_pgreg_abandon(dfi_pgreg *r)
{
	if (r == NULL || atomic_exchange(&r->abandoned, 1) != 0)
		return;
	/* async-signal-safe: an atomic store and write(2), errno kept */
	int saved = errno;
	ssize_t w = write(r->wake[1], "", 1);
	(void)w; /* the flag alone stops new calls; the byte wakes the polls */
	errno = saved;
}

static int
abandoned(dfi_pgreg *r)
{
	return atomic_load(&r->abandoned) != 0;
}

static dfi_err
abandoned_why(char *why, size_t cap, int sent)
{
	return dfi_why(why, cap, DFI_E_REGISTRY_ABANDONED, sent ?
	    "the call's answer was not waited for: whether the registry took it is unknown" :
	    "this call was not sent");
}

/* poll() on the connection's socket and the abandonment's pipe: the
 * socket's result, or -3 once the registry is abandoned. */
static int
poll_or_abandoned(dfi_pgreg *r, struct pollfd *p, int ms)
{
	struct pollfd fds[2] = { *p, { r->wake[0], POLLIN, 0 } };
	int n = poll(fds, 2, ms);
	if (fds[1].revents != 0 || abandoned(r))
		return -3;
	if (n > 0)
		n = fds[0].revents != 0;
	p->revents = fds[0].revents;
	return n;
}

static dfi_err round_trip(dfi_pgreg *r, PGconn *c, int background, int script, const char *sql, int n,
    const char *const *vals, PGresult **res, char *why, size_t cap);

/* Connects within the deadline: the host names resolved first (pg_resolve,
 * on threads of their own: libpq would look them up synchronously), then
 * PQconnectStartParams + PQconnectPoll. background: the connection is a
 * thread's own (release, witness), so its set-up round trip is counted as
 * theirs, not the station's. */
static dfi_err
pg_connect(dfi_pgreg *r, PGconn **out, int background, char *why, size_t cap)
{
	char tmo[16], app[160];
	snprintf(tmo, sizeof(tmo), "%d", r->timeout_ms / 1000 > 2 ? r->timeout_ms / 1000 : 2);
	snprintf(app, sizeof(app), "dfissue %s", r->station);
	if (abandoned(r))
		return abandoned_why(why, cap, 0);
	long deadline = dfi_now_ms() + r->timeout_ms;
	struct pg_hosts hs;
	dfi_err re = pg_resolve(r->url, deadline, r->timeout_ms, r->wake[0], &hs, why, cap);
	if (re != DFI_OK)
		return re == DFI_E_REGISTRY_ABANDONED ? abandoned_why(why, cap, 0) : re;
	/* Later keywords override earlier ones: the URL may set its own
	 * timeout and name; the encoding is ours (notes are UTF-8), and so
	 * are the resolved hosts (the URL's names, each with its addresses). */
	const char *kw[8] = { "connect_timeout", "application_name", "dbname", "client_encoding" };
	const char *val[8] = { tmo, app, r->url, "UTF8" };
	const char *const extra[3][2] = { { "host", hs.host }, { "hostaddr", hs.hostaddr }, { "port", hs.port } };
	size_t nkw = 4;
	for (size_t i = 0; i < 3; i++)
		if (extra[i][1] != NULL) {
			kw[nkw] = extra[i][0];
			val[nkw++] = extra[i][1];
		}
	PGconn *c = PQconnectStartParams(kw, val, 1);
	pg_hosts_free(&hs); /* libpq keeps copies */
	if (c == NULL)
		return dfi_why(why, cap, DFI_E_NOMEM, "out of memory");
	PostgresPollingStatusType ps = PGRES_POLLING_WRITING;
	while (PQstatus(c) != CONNECTION_BAD && ps != PGRES_POLLING_OK && ps != PGRES_POLLING_FAILED) {
		long left = deadline - dfi_now_ms();
		if (left <= 0) {
			PQfinish(c);
			return dfi_why(why, cap, DFI_E_REGISTRY_UNREACHABLE,
			    "no connection to the registry within %d ms", r->timeout_ms);
		}
		struct pollfd p = { PQsocket(c), ps == PGRES_POLLING_READING ? POLLIN : POLLOUT, 0 };
		if (p.fd >= 0) {
			int n = poll_or_abandoned(r, &p, (int)(left > 1000 ? 1000 : left));
			if (n == -3) {
				PQfinish(c); /* not connected yet: nothing is sent */
				return abandoned_why(why, cap, 1);
			}
			if (n < 0 && errno != EINTR)
				break;
			if (n == 0)
				continue;
		}
		ps = PQconnectPoll(c);
	}
	if (PQstatus(c) != CONNECTION_OK) {
		/* libpq names the addresses it was given: the names are ours */
		int rn = hs.resolved[0] != '\0', dn = hs.dropped[0] != '\0';
		dfi_err e = dfi_why(why, cap, DFI_E_REGISTRY_UNREACHABLE, "cannot connect to the registry: %s%s%s%s%s%s",
		    PQerrorMessage(c), rn || dn ? " (" : "", hs.resolved, rn && dn ? "; " : "", hs.dropped,
		    rn || dn ? ")" : "");
		PQfinish(c);
		return e;
	}
	/* NOTICEs ("already exists, skipping") are not for the operator */
	PQsetNoticeProcessor(c, quiet_notice, NULL);
	/* Bounded on the server's side too: a statement or a lock wait never
	 * outlives the client's deadline. */
	char set[160];
	snprintf(set, sizeof(set), "SET statement_timeout = %d; SET lock_timeout = %d; SET idle_in_transaction_session_timeout = %d",
	    r->timeout_ms, r->timeout_ms, r->timeout_ms * 3);
	dfi_err e = round_trip(r, c, background, 1, set, 0, NULL, NULL, why, cap);
	if (e != DFI_OK) {
		PQfinish(c);
		return e == DFI_E_REGISTRY ? DFI_E_REGISTRY_UNREACHABLE : e;
	}
	pthread_mutex_lock(&r->mu);
	r->st.connects++;
	pthread_mutex_unlock(&r->mu);
	*out = c;
	return DFI_OK;
}

struct take {
	dfi_pgreg *r;
	PGconn **c;
};

/* Under r->mu: an idle connection into *c, if there is one. */
static int
take_idle(void *ctx)
{
	struct take *t = ctx;
	struct pgconn *p = t->r->idle;
	if (p == NULL)
		return 0;
	t->r->idle = p->next;
	*t->c = p->c;
	free(p);
	return 1;
}

dfi_err
pg_acquire(dfi_pgreg *r, PGconn **c, char *why, size_t cap)
{
	struct take t = { r, c };
	while (dfi_slot_take(&r->mu, &r->cv, &r->nconns, r->max_conns, take_idle, &t) == DFI_SLOT_IDLE) {
		if (PQstatus(*c) == CONNECTION_OK)
			return DFI_OK;
		PQfinish(*c); /* known broken: give its slot back and take another */
		dfi_slot_drop(&r->mu, &r->cv, &r->nconns);
	}
	dfi_err e = pg_connect(r, c, 0, why, cap);
	if (e != DFI_OK)
		dfi_slot_drop(&r->mu, &r->cv, &r->nconns);
	return e;
}

void
pg_release(dfi_pgreg *r, PGconn *c, int broken)
{
	struct pgconn *p = broken ? NULL : malloc(sizeof(*p));
	if (p == NULL || PQtransactionStatus(c) != PQTRANS_IDLE) {
		free(p);
		PQfinish(c);
		dfi_slot_drop(&r->mu, &r->cv, &r->nconns);
		return;
	}
	p->c = c;
	pthread_mutex_lock(&r->mu);
	p->next = r->idle;
	r->idle = p;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

/* Waits for the socket (readable, or writable while libpq has output
 * queued) until the deadline: 0 ready, -1 broken, -2 out of time, -3 the
 * registry abandoned. */
static int
wait_sock(dfi_pgreg *r, PGconn *c, long deadline, int want_write)
{
	for (;;) {
		long left = deadline - dfi_now_ms();
		if (left <= 0)
			return -2;
		struct pollfd p = { PQsocket(c), (short)(POLLIN | (want_write ? POLLOUT : 0)), 0 };
		if (p.fd < 0)
			return -1;
		int n = poll_or_abandoned(r, &p, (int)left);
		if (n == -3)
			return -3;
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* The connection cannot be used any more: it broke, timed out, or the
 * registry was abandoned mid-call (pg_release drops it). */
static int
conn_lost(dfi_err e)
{
	return e == DFI_E_REGISTRY_UNREACHABLE || e == DFI_E_REGISTRY_ABANDONED;
}

/* Sends what is queued and collects every result, keeping the last good
 * one; on a server error the rest is still read (the connection stays
 * usable) and the first error is returned. */
static dfi_err
collect(dfi_pgreg *r, PGconn *c, long deadline, int background, PGresult **res, char *why, size_t cap)
{
	int f, w = 0;
	while ((f = PQflush(c)) == 1)
		if ((w = wait_sock(r, c, deadline, 1)) != 0 || PQconsumeInput(c) == 0) {
			f = -1;
			break;
		}
	dfi_err e = DFI_OK;
	PGresult *last = NULL;
	if (w == -3)
		e = abandoned_why(why, cap, 1);
	else if (f != 0)
		e = dfi_why(why, cap, DFI_E_REGISTRY_UNREACHABLE, "the connection to the registry broke: %s",
		    PQerrorMessage(c));
	while (!conn_lost(e)) {
		while (PQisBusy(c)) {
			w = wait_sock(r, c, deadline, 0);
			if (w == -3) {
				e = abandoned_why(why, cap, 1);
				break;
			}
			if (w == -2) {
				e = dfi_why(why, cap, DFI_E_REGISTRY_UNREACHABLE,
				    "the registry did not answer within %d ms", r->timeout_ms);
				break;
			}
			if (w != 0 || PQconsumeInput(c) == 0) {
				e = dfi_why(why, cap, DFI_E_REGISTRY_UNREACHABLE, "the connection to the registry broke: %s",
				    PQerrorMessage(c));
				break;
			}
		}
		if (conn_lost(e))
			break;
		PGresult *g = PQgetResult(c);
		if (g == NULL)
			break;
		ExecStatusType st = PQresultStatus(g);
		if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
			if (PQstatus(c) == CONNECTION_BAD)
				e = dfi_why(why, cap, DFI_E_REGISTRY_UNREACHABLE, "the connection to the registry broke: %s",
				    PQresultErrorMessage(g));
			else if (e == DFI_OK)
				e = dfi_why(why, cap, DFI_E_REGISTRY, "the registry says: %s", PQresultErrorMessage(g));
			PQclear(g);
			continue;
		}
		PQclear(last);
		last = g;
	}
	/* Counted together, so that calls - background (the station's round
	 * trips) never includes a background call in flight. */
	pthread_mutex_lock(&r->mu);
	r->st.calls++;
	if (background)
		r->st.background++;
	if (e != DFI_OK)
		r->st.failures++;
	pthread_mutex_unlock(&r->mu);
	if (e != DFI_OK || res == NULL)
		PQclear(last);
	else
		*res = last;
	return e;
}

/* Sends sql and collects its results, counted as a background call (a
 * thread's own connection: the release and witness threads) when
 * background is set. script: the simple query protocol (several
 * statements, no parameters: a migration, the connection's set-up); else
 * one statement with n text parameters. */
static dfi_err
round_trip(dfi_pgreg *r, PGconn *c, int background, int script, const char *sql, int n,
    const char *const *vals, PGresult **res, char *why, size_t cap)
{
	if (res != NULL)
		*res = NULL;
	if (abandoned(r))
		return abandoned_why(why, cap, 0);
	long deadline = dfi_now_ms() + r->timeout_ms;
	int sent = PQsetnonblocking(c, 1) == 0 && (script ? PQsendQuery(c, sql) :
	    PQsendQueryParams(c, sql, n, NULL, vals, NULL, NULL, 0));
	if (!sent)
		return dfi_why(why, cap, DFI_E_REGISTRY_UNREACHABLE, "the connection to the registry broke: %s",
		    PQerrorMessage(c));
	return collect(r, c, deadline, background, res, why, cap);
}

dfi_err
pg_exec(dfi_pgreg *r, PGconn *c, const char *sql, int n, const char *const *vals, PGresult **res, char *why,
    size_t cap)
{
	return round_trip(r, c, 0, 0, sql, n, vals, res, why, cap);
}

dfi_err
pg_exec_script(dfi_pgreg *r, PGconn *c, const char *sql, char *why, size_t cap)
{
	return round_trip(r, c, 0, 1, sql, 0, NULL, NULL, why, cap);
}

dfi_err
pg_call_own(dfi_pgreg *r, PGconn **own, const char *sql, int n, const char *const *vals, PGresult **res,
    int idempotent, char *why, size_t cap)
{
	dfi_err e = DFI_E_INTERNAL;
	for (int attempt = 0; attempt < (idempotent ? 2 : 1); attempt++) {
		PGconn *c = own != NULL ? *own : NULL;
		if (c == NULL && (e = own != NULL ? pg_connect(r, &c, 1, why, cap) : pg_acquire(r, &c, why, cap)) != DFI_OK)
			return e;
		e = round_trip(r, c, own != NULL, 0, sql, n, vals, res, why, cap);
		int broken = conn_lost(e);
		if (own == NULL) {
			pg_release(r, c, broken);
		} else if (broken || PQtransactionStatus(c) != PQTRANS_IDLE) {
			PQfinish(c); /* the next call connects again */
			*own = NULL;
		} else {
			*own = c;
		}
		if (e != DFI_E_REGISTRY_UNREACHABLE)
			break; /* done, or abandoned: no second try */
	}
	return e;
}

dfi_err
pg_call(dfi_pgreg *r, const char *sql, int n, const char *const *vals, PGresult **res, int idempotent, char *why,
    size_t cap)
{
	return pg_call_own(r, NULL, sql, n, vals, res, idempotent, why, cap);
}

dfi_err
dfi_pgreg_open(dfi_pgreg **out, const char *url, const struct dfi_pgreg_opts *o, char *why, size_t cap)
{
	if (out == NULL || o == NULL || o->station == NULL || o->station[0] == '\0')
		return dfi_why(why, cap, DFI_E_INVALID_ARG, "the registry needs a station name");
	*out = NULL;
	dfi_err e = dfi_pgreg_check_url(url, why, cap);
	if (e != DFI_OK)
		return e;
	dfi_pgreg *r = calloc(1, sizeof(*r));
	if (r == NULL || (r->url = strdup(url)) == NULL) {
		free(r);
		return dfi_why(why, cap, DFI_E_NOMEM, "out of memory");
	}
	snprintf(r->station, sizeof(r->station), "%s", o->station);
	r->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
	r->max_conns = o->max_conns > 0 ? o->max_conns : 8;
	atomic_init(&r->abandoned, 0);
	/* non-blocking: an abandonment never waits on it (one byte, once) */
	if (pipe2(r->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		free(r->url);
		free(r);
		return dfi_why(why, cap, DFI_E_IO, "cannot make a pipe: %s", strerror(errno));
	}
	if (dfi_monitor_init(&r->mu, &r->cv) != DFI_OK) {
		close(r->wake[0]);
		close(r->wake[1]);
		free(r->url);
		free(r);
		return dfi_why(why, cap, DFI_E_NOMEM, "out of memory");
	}
	/* One connection now: a wrong URL or password shows here, not at the
	 * first card. */
	PGconn *c = NULL; /* set when pg_acquire succeeds */
	if ((e = pg_acquire(r, &c, why, cap)) != DFI_OK) {
		dfi_pgreg_free(r);
		return e;
	}
	pg_release(r, c, 0);
	if (!o->skip_schema_check) {
		int v = 0;
		if ((e = dfi_pgreg_schema_version(r, &v, why, cap)) == DFI_OK && v != DFI_PGREG_SCHEMA_VERSION)
			e = dfi_why(why, cap, DFI_E_REGISTRY_SCHEMA,
			    v == 0 ? "the database has no dfissue registry (schema version 0): run 'dfissue registry init URL'" :
			    v < DFI_PGREG_SCHEMA_VERSION ?
				     "the registry's schema is version %d, this dfissue needs %d: run 'dfissue registry init URL' to migrate it" :
				     "the registry's schema is version %d, newer than this dfissue's %d: upgrade dfissue",
			    v, DFI_PGREG_SCHEMA_VERSION);
		if (e != DFI_OK) {
			dfi_pgreg_free(r);
			return e;
		}
	}
	*out = r;
	return DFI_OK;
}

void
dfi_pgreg_free(dfi_pgreg *r)
{
	if (r == NULL)
		return;
	while (r->idle != NULL) {
		struct pgconn *p = r->idle;
		r->idle = p->next;
		PQfinish(p->c);
		free(p);
	}
	dfi_monitor_destroy(&r->mu, &r->cv);
	close(r->wake[0]);
	close(r->wake[1]);
	free(r->url);
	free(r);
}

void
dfi_pgreg_get_stats(dfi_pgreg *r, struct dfi_pgreg_stats *s)
{
	if (s == NULL)
		return;
	if (r == NULL) {
		memset(s, 0, sizeof(*s));
		return;
	}
	pthread_mutex_lock(&r->mu);
	*s = r->st;
	pthread_mutex_unlock(&r->mu);
}

void
pg_note_claim(dfi_pgreg *r, long us)
{
	pthread_mutex_lock(&r->mu);
	r->claim_us[r->nclaims++ % PG_CLAIM_RING] = us < 0 ? 0 : us > (long)UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	pthread_mutex_unlock(&r->mu);
}

size_t
dfi_pgreg_claim_times(dfi_pgreg *r, uint32_t *us, size_t cap)
{
	if (r == NULL || us == NULL)
		return 0;
	pthread_mutex_lock(&r->mu);
	uint64_t have = r->nclaims < PG_CLAIM_RING ? r->nclaims : PG_CLAIM_RING;
	size_t n = have < cap ? (size_t)have : cap;
	for (size_t i = 0; i < n; i++)
		us[i] = r->claim_us[(r->nclaims - n + i) % PG_CLAIM_RING];
	pthread_mutex_unlock(&r->mu);
	return n;
}

void
pg_bytea_hex(const uint8_t *p, size_t n, char *out)
{
	out[0] = '\\';
	out[1] = 'x';
	(void)dfi_hex_encode(p, n, out + 2, 2 * n + 1); /* PostgreSQL takes either case */
}
