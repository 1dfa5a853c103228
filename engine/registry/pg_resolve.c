/* The registry's host names resolved on helper threads, within the
 * caller's deadline and abandonably (pg_resolve.h says why libpq cannot
 * be left to do it).
 *
 * One batch per connection attempt: a thread per name, each detached and
 * holding a reference to the batch, so that the caller may give up (out
 * of time, or abandoned) and return while a resolver still runs; whoever
 * drops the last reference frees the batch. Each thread writes one byte
 * to the batch's pipe when its answer is in, and the caller polls that
 * pipe together with the registry's wake pipe. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <poll.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "core/clock.h"
#include "core/why.h"
#include "pg_int.h"
#include "pg_resolve.h"

/* An address as text: INET6_ADDRSTRLEN, '%' and an interface name. */
#define ADDR_CAP 64

struct batch;

struct job {
	struct batch *b;
	const char *name; /* in b->names */
	/* under b->mu once the thread runs; read by the caller once done */
	int done, gai, sys;
	size_t naddr;
	char addr[PG_RESOLVE_MAX_ADDRS][ADDR_CAP];
};

struct batch {
	pthread_mutex_t mu;
	int refs; /* the caller's and each running thread's */
	int fd[2];
	char *names; /* the host list, cut at its commas */
	size_t n;
	struct job job[PG_RESOLVE_MAX_HOSTS];
};

static void
batch_unref(struct batch *b)
{
	pthread_mutex_lock(&b->mu);
	int last = --b->refs == 0;
	pthread_mutex_unlock(&b->mu);
	if (!last)
		return;
	pthread_mutex_destroy(&b->mu);
	close(b->fd[0]);
	close(b->fd[1]);
	free(b->names);
	free(b);
}

static void *
resolve_main(void *arg)
{
	struct job *j = arg;
	/* libpq's own hints: any family, stream sockets (one entry per
	 * address), in the order the resolver gives them (libpq tries them in
	 * that order). */
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai = NULL;
	errno = 0;
	int rc = getaddrinfo(j->name, NULL, &hints, &ai);
	int sys = errno;
	char addr[PG_RESOLVE_MAX_ADDRS][ADDR_CAP];
	size_t n = 0;
	for (struct addrinfo *p = rc == 0 ? ai : NULL; p != NULL && n < PG_RESOLVE_MAX_ADDRS; p = p->ai_next)
		if ((p->ai_family == AF_INET || p->ai_family == AF_INET6) &&
		    getnameinfo(p->ai_addr, p->ai_addrlen, addr[n], sizeof(addr[n]), NULL, 0, NI_NUMERICHOST) == 0)
			n++;
	if (ai != NULL)
		freeaddrinfo(ai);
	struct batch *b = j->b;
	pthread_mutex_lock(&b->mu);
	memcpy(j->addr, addr, n * sizeof(addr[0]));
	j->naddr = n;
	j->gai = rc;
	j->sys = sys;
	j->done = 1;
	/* non-blocking, never full (a byte per name): only a wake-up */
	ssize_t w = write(b->fd[1], "", 1);
	(void)w;
	pthread_mutex_unlock(&b->mu);
	batch_unref(b);
	return NULL;
}

/* Starts a detached thread per job, with every signal blocked: a stop
 * signal is for the station's own threads, and must not land on (nor
 * interrupt) a resolver. A thread that cannot start is an answer too. */
static void
batch_start(struct batch *b)
{
	pthread_attr_t at;
	sigset_t all, old;
	int have_attr = pthread_attr_init(&at) == 0 &&
	    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED) == 0;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (size_t i = 0; i < b->n; i++) {
		struct job *j = &b->job[i];
		pthread_t th;
		pthread_mutex_lock(&b->mu);
		b->refs++;
		pthread_mutex_unlock(&b->mu);
		int err = have_attr ? pthread_create(&th, &at, resolve_main, j) : ENOMEM;
		if (err != 0) {
			pthread_mutex_lock(&b->mu);
			b->refs--;
			j->gai = EAI_SYSTEM;
			j->sys = err;
			j->done = 1;
			pthread_mutex_unlock(&b->mu);
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (have_attr)
		pthread_attr_destroy(&at);
}

/* Waits until every job is answered: 0; -2 the deadline passed (*late:
 * the first name not answered); -3 wake_fd woke. */
static int
batch_wait(struct batch *b, long deadline, int wake_fd, const char **late)
{
	for (;;) {
		size_t done = 0;
		*late = NULL;
		pthread_mutex_lock(&b->mu);
		for (size_t i = 0; i < b->n; i++)
			if (b->job[i].done)
				done++;
			else if (*late == NULL)
				*late = b->job[i].name;
		pthread_mutex_unlock(&b->mu);
		if (done == b->n)
			return 0;
		long left = deadline - dfi_now_ms();
		if (left <= 0)
			return -2;
		struct pollfd p[2] = { { b->fd[0], POLLIN, 0 }, { wake_fd, POLLIN, 0 } };
		if (poll(p, 2, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR)
			return -2; /* cannot wait: as out of time, with the name */
		if (p[1].revents != 0)
			return -3;
		char sink[PG_RESOLVE_MAX_HOSTS];
		while (read(b->fd[0], sink, sizeof(sink)) > 0) {
		}
	}
}

static struct batch *
batch_new(const char *hosts)
{
	struct batch *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	if ((b->names = strdup(hosts)) == NULL || pipe2(b->fd, O_CLOEXEC | O_NONBLOCK) != 0) {
		free(b->names);
		free(b);
		return NULL;
	}
	pthread_mutex_init(&b->mu, NULL);
	b->refs = 1;
	return b;
}

/* Cuts s at its commas (libpq's list syntax: no quoting) into at most max
 * entries: their count, or max + 1 when there are more. */
static size_t
split(char *s, char **out, size_t max)
{
	size_t n = 0;
	for (;;) {
		if (n == max)
			return max + 1;
		out[n++] = s;
		char *c = strchr(s, ',');
		if (c == NULL)
			return n;
		*c = '\0';
		s = c + 1;
	}
}

/* A host libpq would look up: not empty (the default socket), not a Unix
 * socket directory ('/', or '@' for the abstract namespace), not an IP
 * literal (getaddrinfo with AI_NUMERICHOST: no lookup, and it takes what
 * libpq takes, a scoped IPv6 address included). */
static int
is_name(const char *h)
{
	if (h[0] == '\0' || h[0] == '/' || h[0] == '@')
		return 0;
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST, .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	int rc = getaddrinfo(h, NULL, &hints, &ai);
	if (ai != NULL)
		freeaddrinfo(ai);
	return rc != 0;
}

/* Why job j has no address, in words. */
static const char *
job_why(const struct job *j)
{
	if (j->gai == EAI_SYSTEM)
		return strerror(j->sys);
	return j->gai != 0 ? gai_strerror(j->gai) : "it has no IPv4 or IPv6 address";
}

/* Appends to the message buf (cap bytes, *len used), cut to fit. */
static void __attribute__((format(printf, 4, 5)))
note(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len = *len + (size_t)n < cap ? *len + (size_t)n : cap - 1;
}

struct lists {
	FILE *f[3]; /* host, hostaddr, port */
	char *s[3];
	size_t len[3];
	size_t count;
};

static void
emit(struct lists *l, const char *host, const char *addr, const char *port)
{
	const char *sep = l->count++ > 0 ? "," : "";
	fprintf(l->f[0], "%s%s", sep, host);
	fprintf(l->f[1], "%s%s", sep, addr);
	if (port != NULL)
		fprintf(l->f[2], "%s%s", sep, port);
}

/* The lists for libpq from the answers: entry i of h (its port p[i] when
 * ports follow the hosts) once per address, or once with an empty hostaddr
 * when it is libpq's (job[i] < 0); a name that does not resolve is left
 * out and noted in out->dropped. */
static dfi_err
build(struct batch *b, char **h, size_t nh, char **p, int ports, const int *job, struct pg_hosts *out, char *why,
    size_t cap)
{
	struct lists l = { .count = 0 };
	int ok = 1;
	for (int k = 0; k < 3; k++)
		ok = (l.f[k] = open_memstream(&l.s[k], &l.len[k])) != NULL && ok;
	size_t nd = 0, dlen = 0, rlen = 0;
	for (size_t i = 0; ok && i < nh; i++) {
		const char *port = ports ? p[i] : NULL;
		if (job[i] < 0) {
			emit(&l, h[i], "", port);
			continue;
		}
		const struct job *j = &b->job[job[i]];
		for (size_t k = 0; k < j->naddr; k++)
			emit(&l, h[i], j->addr[k], port);
		if (j->naddr == 0) {
			note(out->dropped, sizeof(out->dropped), &dlen, "%sthe registry host '%s' does not resolve: %s",
			    nd++ > 0 ? "; " : "", h[i], job_why(j));
			continue;
		}
		size_t seen = 0; /* a name given twice (two ports) is told once */
		while (seen < i && (job[seen] < 0 || b->job[job[seen]].naddr == 0 || strcmp(h[seen], h[i]) != 0))
			seen++;
		if (seen < i)
			continue;
		note(out->resolved, sizeof(out->resolved), &rlen, "%s'%s' is %s", rlen > 0 ? "; " : "", h[i], j->addr[0]);
		for (size_t k = 1; k < j->naddr; k++)
			note(out->resolved, sizeof(out->resolved), &rlen, ", %s", j->addr[k]);
	}
	for (int k = 0; k < 3; k++)
		if (l.f[k] != NULL && fclose(l.f[k]) != 0)
			ok = 0;
	if (ok && l.count > 0) {
		out->host = l.s[0];
		out->hostaddr = l.s[1];
		out->port = ports ? l.s[2] : NULL;
		if (!ports)
			free(l.s[2]);
		return DFI_OK;
	}
	for (int k = 0; k < 3; k++)
		free(l.s[k]);
	if (!ok)
		return dfi_why(why, cap, DFI_E_NOMEM, "out of memory");
	return dfi_why(why, cap, DFI_E_REGISTRY_UNREACHABLE, "%s", out->dropped);
}

/* Resolves the names among the nh hosts h (b->names) on b's threads and
 * builds the lists (ports: p follows h), as pg_resolve. */
static dfi_err
resolve_names(struct batch *b, char **h, size_t nh, char **p, int ports, long deadline, int timeout_ms,
    int wake_fd, struct pg_hosts *out, char *why, size_t cap)
{
	int job[PG_RESOLVE_MAX_HOSTS];
	for (size_t i = 0; i < nh; i++) {
		job[i] = is_name(h[i]) ? (int)b->n : -1;
		if (job[i] >= 0) {
			b->job[b->n].b = b;
			b->job[b->n++].name = h[i];
		}
	}
	if (b->n == 0)
		return DFI_OK; /* libpq looks nothing up */
	batch_start(b);
	const char *late = NULL;
	int w = batch_wait(b, deadline, wake_fd, &late);
	if (w == -3)
		return DFI_E_REGISTRY_ABANDONED;
	if (w == -2)
		return dfi_why(why, cap, DFI_E_REGISTRY_UNREACHABLE, "the registry host '%s' did not resolve within %d ms",
		    late, timeout_ms);
	return build(b, h, nh, p, ports, job, out, why, cap);
}

/* Resolves the names of the host list hosts (ports: the port list, or
 * NULL), as pg_resolve. */
static dfi_err
resolve_list(const char *hosts, const char *ports, long deadline, int timeout_ms, int wake_fd, struct pg_hosts *out,
    char *why, size_t cap)
{
	struct batch *b = batch_new(hosts);
	char *pcopy = ports != NULL ? strdup(ports) : NULL;
	if (b == NULL || (ports != NULL && pcopy == NULL)) {
		if (b != NULL)
			batch_unref(b);
		free(pcopy);
		return dfi_why(why, cap, DFI_E_NOMEM, "out of memory");
	}
	char *h[PG_RESOLVE_MAX_HOSTS], *p[PG_RESOLVE_MAX_HOSTS];
	size_t nh = split(b->names, h, PG_RESOLVE_MAX_HOSTS);
	size_t np = pcopy != NULL ? split(pcopy, p, PG_RESOLVE_MAX_HOSTS) : 0;
	dfi_err e = DFI_OK;
	if (nh > PG_RESOLVE_MAX_HOSTS)
		e = dfi_why(why, cap, DFI_E_INVALID_ARG, "the registry URL names more than %d hosts",
		    PG_RESOLVE_MAX_HOSTS);
	else if (np <= 1 || np == nh) /* (other counts: libpq says so, looking nothing up) */
		e = resolve_names(b, h, nh, p, np > 1, deadline, timeout_ms, wake_fd, out, why, cap);
	free(pcopy);
	batch_unref(b);
	return e;
}

/* The value of keyword kw: the URL's, else (where the URL does not set it,
 * as libpq fills in) libpq's default: its environment variable, a
 * PGSERVICE file; else NULL. */
static const char *
opt(const PQconninfoOption *url, const PQconninfoOption *def, const char *kw)
{
	for (const PQconninfoOption *o = url; o->keyword != NULL; o++)
		if (strcmp(o->keyword, kw) == 0 && o->val != NULL)
			return o->val;
	for (const PQconninfoOption *o = def; o->keyword != NULL; o++)
		if (strcmp(o->keyword, kw) == 0)
			return o->val;
	return NULL;
}

dfi_err
pg_resolve(const char *url, long deadline, int timeout_ms, int wake_fd, struct pg_hosts *out, char *why, size_t cap)
{
	memset(out, 0, sizeof(*out));
	PQconninfoOption *u = PQconninfoParse(url, NULL);
	if (u == NULL) /* parse error or out of memory (the URL was checked at open) */
		return dfi_why(why, cap, DFI_E_PARSE, "the registry URL is not a libpq connection URI");
	PQconninfoOption *d = PQconndefaults();
	if (d == NULL) {
		pg_conninfo_free(u);
		return dfi_why(why, cap, DFI_E_NOMEM, "out of memory");
	}
	dfi_err e = DFI_OK;
	const char *host = opt(u, d, "host"), *hostaddr = opt(u, d, "hostaddr");
	/* hostaddr given: libpq looks nothing up; no host: a socket */
	if ((hostaddr == NULL || hostaddr[0] == '\0') && host != NULL && host[0] != '\0')
		e = resolve_list(host, opt(u, d, "port"), deadline, timeout_ms, wake_fd, out, why, cap);
	pg_conninfo_free(u);
	pg_conninfo_free(d);
	return e;
}

void
pg_hosts_free(struct pg_hosts *h)
{
	free(h->host);
	free(h->hostaddr);
	free(h->port);
	h->host = h->hostaddr = h->port = NULL;
}
