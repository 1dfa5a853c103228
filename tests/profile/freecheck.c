/*
 * LD_PRELOAD for test_cli_json_wipe: free and realloc of a whole process
 * (of dfissue as it is built), every block they are handed searched, over
 * its malloc_usable_size, for values the test names. Not --wrap: the calls
 * to free that matter are libjansson.so's own, which only the dynamic
 * linker can send elsewhere. glibc (malloc_usable_size, RTLD_NEXT).
 *
 * DFI_FREECHECK_VALUES: a file of values, each a length byte then its
 * bytes. DFI_FREECHECK_REPORT: where the report goes at exit, two lines:
 * "searched N" (blocks) and "found I SIZE" (the first value found, its
 * index in the file, the block's size) or "found none".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXV 8

static uint8_t vals[MAXV][255];
static size_t vlen[MAXV];
static size_t nvals;
static void (*real_free)(void *);
static void *(*real_realloc)(void *, size_t);
static atomic_int resolving;
static atomic_uint searched;
static atomic_int found = -1; /* the value's index, once */
static size_t found_size;

/* The real functions; 0 while dlsym is under way (re-entered from it, a
 * block is leaked rather than freed with a function not yet known). */
static int
resolve(void)
{
	if (real_free != NULL && real_realloc != NULL)
		return 1;
	if (atomic_exchange(&resolving, 1))
		return 0;
	real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	atomic_store(&resolving, 0);
	return real_free != NULL && real_realloc != NULL;
}

static void
search(void *p)
{
	if (p == NULL || nvals == 0)
		return;
	size_t n = malloc_usable_size(p);
	atomic_fetch_add(&searched, 1);
	for (size_t i = 0; i < nvals; i++) {
		int none = -1;
		if (memmem(p, n, vals[i], vlen[i]) != NULL &&
		    atomic_compare_exchange_strong(&found, &none, (int)i))
			found_size = n;
	}
}

void
free(void *p)
{
	search(p);
	if (resolve())
		real_free(p);
}

void *
realloc(void *p, size_t n)
{
	search(p); /* a moved block is freed as it is */
	return resolve() ? real_realloc(p, n) : NULL;
}

__attribute__((constructor)) static void
load(void)
{
	const char *path = getenv("DFI_FREECHECK_VALUES");
	uint8_t buf[MAXV * 256];
	ssize_t n = 0;
	int fd;
	resolve();
	if (path == NULL || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	for (size_t at = 0; n > 0 && at < (size_t)n && nvals < MAXV;) {
		size_t l = buf[at++];
		if (l == 0 || l > (size_t)n - at)
			break;
		memcpy(vals[nvals], buf + at, l);
		vlen[nvals++] = l;
		at += l;
	}
}

__attribute__((destructor)) static void
report(void)
{
	const char *path = getenv("DFI_FREECHECK_REPORT");
	char line[128];
	int fd, l, i = atomic_load(&found);
	if (path == NULL || (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return;
	if (i < 0)
		l = snprintf(line, sizeof(line), "searched %u\nfound none\n", atomic_load(&searched));
	else
		l = snprintf(line, sizeof(line), "searched %u\nfound %d %zu\n", atomic_load(&searched), i,
		    found_size);
	if (l > 0 && write(fd, line, (size_t)l) != l)
		l = -1;
	close(fd);
}
