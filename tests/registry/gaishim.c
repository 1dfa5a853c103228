/* gaishim: getaddrinfo for the registry's resolution tests.
 *
 * A name whose lookup hangs (or fails) cannot be had from real DNS without
 * changing the machine's configuration (/etc/resolv.conf, a resolver that
 * drops queries), which a test must not touch; so this getaddrinfo answers
 * for the names of gaishim.h itself, and hands every other lookup (and
 * every numeric-only one, AI_NUMERICHOST) to the next definition, libc's
 * (or a sanitizer's). It is linked into the test program, not preloaded:
 * a definition in the executable comes first in the dynamic linker's
 * search as a preloaded one would, so libpq's calls land here too (which
 * test_registry_resolve checks: libpq alone blocks for the whole sleep),
 * and a sanitizer build, whose runtime must be the first library loaded,
 * runs it as well. glibc: dlsym(RTLD_NEXT), and a freeaddrinfo that frees
 * node by node (GAISHIM_MULTI's answer is two answers chained). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "gaishim.h"

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);

static atomic_int hang_ms = 3000, flip;
static pthread_t main_thread;
static atomic_int main_set;

static const char *const names[] = { GAISHIM_HANG, GAISHIM_NX, GAISHIM_MULTI, GAISHIM_FLIP, "localhost" };
#define NNAMES (sizeof(names) / sizeof(names[0]))
static atomic_uint calls[NNAMES], calls_main[NNAMES];

void
gaishim_set(int ms, int flip_hangs)
{
	if (!atomic_exchange(&main_set, 1))
		main_thread = pthread_self();
	atomic_store(&hang_ms, ms);
	atomic_store(&flip, flip_hangs);
}

unsigned
gaishim_calls(const char *name, unsigned *on_main)
{
	for (size_t i = 0; i < NNAMES; i++)
		if (strcmp(names[i], name) == 0) {
			if (on_main != NULL)
				*on_main = atomic_load(&calls_main[i]);
			return atomic_load(&calls[i]);
		}
	return 0;
}

static int
real(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res)
{
	gai_fn next = (gai_fn)dlsym(RTLD_NEXT, "getaddrinfo");
	return next != NULL ? next(node, service, hints, res) : EAI_SYSTEM;
}

static int
hang(void)
{
	int ms = atomic_load(&hang_ms);
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0) {
	}
	return EAI_AGAIN; /* as a resolver that gave up */
}

/* 127.0.0.1, or 127.0.0.2 then 127.0.0.1, as libc answers those literals. */
static int
loopback(int two, const char *service, const struct addrinfo *hints, struct addrinfo **res)
{
	struct addrinfo h = { .ai_flags = AI_NUMERICHOST, .ai_family = AF_INET,
		.ai_socktype = hints != NULL ? hints->ai_socktype : 0 };
	struct addrinfo *a = NULL, *b = NULL;
	int rc = real("127.0.0.1", service, &h, &b);
	if (rc != 0 || !two) {
		*res = b;
		return rc;
	}
	if ((rc = real("127.0.0.2", service, &h, &a)) != 0) {
		freeaddrinfo(b);
		return rc;
	}
	struct addrinfo *t = a;
	while (t->ai_next != NULL)
		t = t->ai_next;
	t->ai_next = b;
	*res = a;
	return 0;
}

int
getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res)
{
	if (node == NULL || (hints != NULL && (hints->ai_flags & AI_NUMERICHOST)))
		return real(node, service, hints, res);
	size_t i = 0;
	while (i < NNAMES && strcmp(names[i], node) != 0)
		i++;
	if (i < NNAMES) {
		atomic_fetch_add(&calls[i], 1);
		if (atomic_load(&main_set) && pthread_equal(pthread_self(), main_thread))
			atomic_fetch_add(&calls_main[i], 1);
	}
	if (strcmp(node, GAISHIM_HANG) == 0 || (strcmp(node, GAISHIM_FLIP) == 0 && atomic_load(&flip)))
		return hang();
	if (strcmp(node, GAISHIM_NX) == 0)
		return EAI_NONAME;
	if (strcmp(node, GAISHIM_MULTI) == 0 || strcmp(node, GAISHIM_FLIP) == 0)
		return loopback(strcmp(node, GAISHIM_MULTI) == 0, service, hints, res);
	return real(node, service, hints, res);
}
