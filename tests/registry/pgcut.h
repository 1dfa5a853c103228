/* pgcut — cuts the connection to PostgreSQL at a chosen round trip, as
 * tests/tear/faultp11 fails a chosen PKCS#11 call: a proxy on a Unix socket
 * between the registry client (libpq) and the real server, that speaks
 * just enough of the wire protocol (v3) to count round trips: a simple
 * Query ('Q') or an extended-protocol batch ending in Sync ('S'), after the
 * startup and authentication. Armed at round trip k, it cuts both sides of
 * that connection:
 *
 *   before  the round trip never reaches the server (the batch is dropped);
 *   after   the server runs it and answers, the answer is dropped
 *           (the client cannot know whether it ran).
 *
 * libpq sees a real broken connection, exactly as when the network or the
 * server goes away. Header-only; one thread serves every connection. It
 * listens on a Unix socket (pgcut_start) or on 127.0.0.1 (pgcut_start_tcp). */
#ifndef DFI_TEST_PGCUT_H
#define DFI_TEST_PGCUT_H

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define PGCUT_MAXC 64

struct pgcut_side {
	uint8_t *buf;
	size_t len, cap;
};

struct pgcut_conn {
	int cfd, sfd;            /* client, server */
	int started;             /* startup message seen */
	struct pgcut_side in;    /* client bytes not yet forwarded */
	struct pgcut_side out;   /* server bytes (while swallowing) */
	int swallow;             /* cut after the server's ReadyForQuery */
};

struct pgcut {
	char listen_path[108], target[108];
	int lfd;
	int wake[2];
	pthread_t th;
	pthread_mutex_t mu;
	uint64_t count;          /* round trips seen */
	uint64_t arm_at;         /* cut round trip number arm_at (0: none) */
	int after;
	int fired;
	int stop;
	struct pgcut_conn c[PGCUT_MAXC];
	int n;
};

static inline int
pgcut_put(struct pgcut_side *s, const void *p, size_t n)
{
	if (s->len + n > s->cap) {
		size_t nc = (s->len + n) * 2 + 1024;
		void *b = realloc(s->buf, nc);
		if (b == NULL)
			return -1;
		s->buf = b;
		s->cap = nc;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 0;
}

static inline int
pgcut_write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static inline void
pgcut_close(struct pgcut *x, int i)
{
	close(x->c[i].cfd);
	close(x->c[i].sfd);
	free(x->c[i].in.buf);
	free(x->c[i].out.buf);
	x->c[i] = x->c[--x->n];
}

static inline uint32_t
pgcut_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Client bytes: forward complete messages; a round trip is held until its
 * last message and then forwarded or cut. Returns -1 to close. */
static inline int
pgcut_from_client(struct pgcut *x, struct pgcut_conn *c)
{
	size_t pos = 0, fwd = 0;
	for (;;) {
		uint8_t *p = c->in.buf + pos;
		size_t left = c->in.len - pos;
		size_t mlen;
		char type = 0;
		if (!c->started) {
			if (left < 4)
				break;
			mlen = pgcut_be32(p);
		} else {
			if (left < 5)
				break;
			type = (char)p[0];
			mlen = 1 + (size_t)pgcut_be32(p + 1);
		}
		if (mlen < 4 || mlen > (1u << 30))
			return -1;
		if (left < mlen)
			break;
		pos += mlen;
		if (!c->started) {
			/* an SSLRequest or GSSENCRequest (a TCP client's, before
			 * its startup message): the server answers one byte */
			uint32_t code = mlen == 8 ? pgcut_be32(p + 4) : 0;
			c->started = code != 80877103 && code != 80877104;
			if (pgcut_write_all(c->sfd, c->in.buf + fwd, pos - fwd) != 0)
				return -1;
			fwd = pos;
			continue;
		}
		if (type == 'Q' || type == 'S') {
			pthread_mutex_lock(&x->mu);
			uint64_t k = ++x->count;
			int cut = x->arm_at != 0 && k == x->arm_at && !x->fired;
			if (cut)
				x->fired = 1;
			int after = x->after;
			pthread_mutex_unlock(&x->mu);
			if (cut && !after)
				return -1; /* never reaches the server */
			if (pgcut_write_all(c->sfd, c->in.buf + fwd, pos - fwd) != 0)
				return -1;
			fwd = pos;
			if (cut)
				c->swallow = 1; /* the answer will be dropped */
		} else if (type != 'P' && type != 'B' && type != 'D' && type != 'E' && type != 'H' && type != 'C') {
			/* password, terminate...: not part of a round trip */
			if (pgcut_write_all(c->sfd, c->in.buf + fwd, pos - fwd) != 0)
				return -1;
			fwd = pos;
		}
	}
	/* what was forwarded leaves the buffer; held messages stay */
	if (fwd > 0) {
		memmove(c->in.buf, c->in.buf + fwd, c->in.len - fwd);
		c->in.len -= fwd;
	}
	return 0;
}

/* Server bytes: relayed, unless swallowing: then read up to ReadyForQuery
 * ('Z') and cut. Returns -1 to close. */
static inline int
pgcut_from_server(struct pgcut_conn *c, const uint8_t *p, size_t n)
{
	if (!c->swallow)
		return pgcut_write_all(c->cfd, p, n);
	if (pgcut_put(&c->out, p, n) != 0)
		return -1;
	size_t pos = 0;
	while (c->out.len - pos >= 5) {
		size_t mlen = 1 + (size_t)pgcut_be32(c->out.buf + pos + 1);
		if (c->out.len - pos < mlen)
			break;
		if (c->out.buf[pos] == 'Z')
			return -1; /* the server is done with it: cut */
		pos += mlen;
	}
	return 0;
}

static inline void *
pgcut_main(void *arg)
{
	struct pgcut *x = arg;
	uint8_t buf[65536];
	for (;;) {
		struct pollfd pf[2 + 2 * PGCUT_MAXC];
		int np = 0;
		pf[np++] = (struct pollfd){ x->wake[0], POLLIN, 0 };
		pf[np++] = (struct pollfd){ x->lfd, POLLIN, 0 };
		for (int i = 0; i < x->n; i++) {
			pf[np++] = (struct pollfd){ x->c[i].cfd, POLLIN, 0 };
			pf[np++] = (struct pollfd){ x->c[i].sfd, POLLIN, 0 };
		}
		if (poll(pf, (nfds_t)np, -1) < 0 && errno != EINTR)
			break;
		pthread_mutex_lock(&x->mu);
		int stop = x->stop;
		pthread_mutex_unlock(&x->mu);
		if (stop)
			break;
		if (pf[1].revents & POLLIN) {
			int cfd = accept(x->lfd, NULL, NULL);
			if (cfd >= 0 && x->n < PGCUT_MAXC) {
				int sfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
				struct sockaddr_un a = { .sun_family = AF_UNIX };
				snprintf(a.sun_path, sizeof(a.sun_path), "%s", x->target);
				if (sfd >= 0 && connect(sfd, (struct sockaddr *)&a, sizeof(a)) == 0) {
					memset(&x->c[x->n], 0, sizeof(x->c[0]));
					x->c[x->n].cfd = cfd;
					x->c[x->n].sfd = sfd;
					x->n++;
				} else {
					if (sfd >= 0)
						close(sfd);
					close(cfd); /* the server is down: so is the proxy */
				}
			} else if (cfd >= 0) {
				close(cfd);
			}
		}
		/* connections in the order polled; closing swaps the last in, so
		 * walk backwards */
		int nc = (np - 2) / 2;
		for (int i = nc - 1; i >= 0; i--) {
			struct pgcut_conn *c = &x->c[i];
			int bad = 0;
			if (pf[2 + 2 * i].revents & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t r = recv(c->cfd, buf, sizeof(buf), 0);
				bad = r <= 0 || pgcut_put(&c->in, buf, (size_t)r) != 0 || pgcut_from_client(x, c) != 0;
			}
			if (!bad && (pf[3 + 2 * i].revents & (POLLIN | POLLHUP | POLLERR))) {
				ssize_t r = recv(c->sfd, buf, sizeof(buf), 0);
				bad = r <= 0 || pgcut_from_server(c, buf, (size_t)r) != 0;
			}
			if (bad)
				pgcut_close(x, i);
		}
	}
	while (x->n > 0)
		pgcut_close(x, x->n - 1);
	return NULL;
}

/* x's thread started on its listening socket x->lfd: 0, or -1 with x
 * freed. */
static inline int
pgcut_run(struct pgcut *x, struct pgcut **out)
{
	if (x->lfd < 0 || listen(x->lfd, 64) != 0 || pipe(x->wake) != 0 ||
	    pthread_create(&x->th, NULL, pgcut_main, x) != 0) {
		if (x->lfd >= 0)
			close(x->lfd);
		free(x);
		return -1;
	}
	*out = x;
	return 0;
}

static inline struct pgcut *
pgcut_new(const char *target)
{
	if (strlen(target) >= sizeof(((struct pgcut *)0)->target))
		return NULL;
	struct pgcut *x = calloc(1, sizeof(*x));
	if (x == NULL)
		return NULL;
	memcpy(x->target, target, strlen(target) + 1);
	pthread_mutex_init(&x->mu, NULL);
	x->lfd = -1;
	return x;
}

/* Listens on DIR/.s.PGSQL.5432 (a libpq host=DIR) and forwards to the
 * server socket target. 0 or -1. */
static inline int
pgcut_start(struct pgcut **out, const char *dir, const char *target)
{
	/* Unix socket paths hold 107 bytes */
	if (strlen(dir) + 16 >= sizeof(((struct pgcut *)0)->listen_path))
		return -1;
	struct pgcut *x = pgcut_new(target);
	if (x == NULL)
		return -1;
	memcpy(x->listen_path, dir, strlen(dir));
	memcpy(x->listen_path + strlen(dir), "/.s.PGSQL.5432", 15);
	x->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", x->listen_path);
	unlink(x->listen_path);
	if (x->lfd >= 0 && bind(x->lfd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(x->lfd);
		x->lfd = -1;
	}
	return pgcut_run(x, out);
}

/* The same over TCP: listens on 127.0.0.1 at a port the system picks
 * (*port; libpq host=127.0.0.1, or a name for it, with that port), for a
 * client that must connect over TCP while the fixture's server listens on
 * its Unix socket only (the server sees a local connection). */
static inline int
pgcut_start_tcp(struct pgcut **out, const char *target, int *port)
{
	struct pgcut *x = pgcut_new(target);
	if (x == NULL)
		return -1;
	x->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	if (x->lfd >= 0 && (bind(x->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(x->lfd, (struct sockaddr *)&a, &al) != 0)) {
		close(x->lfd);
		x->lfd = -1;
	}
	*port = ntohs(a.sin_port);
	return pgcut_run(x, out);
}

/* Cuts round trip number k counted from now (1 = the next one); 0 disarms. */
static inline void
pgcut_arm(struct pgcut *x, uint64_t k, int after)
{
	pthread_mutex_lock(&x->mu);
	x->arm_at = k ? x->count + k : 0;
	x->after = after;
	x->fired = 0;
	pthread_mutex_unlock(&x->mu);
}

/* The round trips counted so far; fired (may be NULL): whether the armed
 * cut was made. */
static inline uint64_t
pgcut_seen(struct pgcut *x, int *fired)
{
	pthread_mutex_lock(&x->mu);
	uint64_t n = x->count;
	if (fired != NULL)
		*fired = x->fired;
	pthread_mutex_unlock(&x->mu);
	return n;
}

static inline void
pgcut_stop(struct pgcut *x)
{
	pthread_mutex_lock(&x->mu);
	x->stop = 1;
	pthread_mutex_unlock(&x->mu);
	if (write(x->wake[1], "x", 1) != 1) {
		/* the thread also wakes on any socket activity */
	}
	pthread_join(x->th, NULL);
	close(x->lfd);
	close(x->wake[0]);
	close(x->wake[1]);
	if (x->listen_path[0] != '\0')
		unlink(x->listen_path);
	pthread_mutex_destroy(&x->mu);
	free(x);
}

#endif
