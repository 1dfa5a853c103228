/* See heapcount.h. The table is process-wide because malloc is: this is a
 * benchmark's instrument, not library code. An open-addressing hash of
 * pointer -> size under one mutex; the mutex is only taken while counting
 * is on (the mem part), so the timed parts pay one relaxed load per call. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "heapcount.h"

struct slot {
	void *p;
	size_t n;
};

static pthread_mutex_t hc_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int hc_on;
static struct slot *hc_tab; /* cap is a power of two; NULL p = empty */
static size_t hc_cap, hc_used;
static int64_t hc_bytes;

static size_t
hc_hash(const void *p, size_t cap)
{
	uint64_t h = (uint64_t)(uintptr_t)p;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (size_t)h & (cap - 1);
}

/* Caller holds hc_mu. Keeps the load under one half; on a failed grow the
 * allocation simply goes uncounted (only figures are at stake). */
static void
hc_insert(void *p, size_t n)
{
	if (2 * (hc_used + 1) > hc_cap) {
		size_t nc = hc_cap ? 2 * hc_cap : 4096;
		struct slot *nt = __real_calloc(nc, sizeof(*nt));
		if (nt == NULL)
			return;
		for (size_t i = 0; i < hc_cap; i++)
			if (hc_tab[i].p != NULL) {
				size_t j = hc_hash(hc_tab[i].p, nc);
				while (nt[j].p != NULL)
					j = (j + 1) & (nc - 1);
				nt[j] = hc_tab[i];
			}
		__real_free(hc_tab);
		hc_tab = nt;
		hc_cap = nc;
	}
	size_t i = hc_hash(p, hc_cap);
	while (hc_tab[i].p != NULL)
		i = (i + 1) & (hc_cap - 1);
	hc_tab[i].p = p;
	hc_tab[i].n = n;
	hc_used++;
	hc_bytes += (int64_t)n;
}

/* Caller holds hc_mu. Removes p (backward-shift deletion, so no tombstones);
 * 1 and its size in *n when it was counted. */
static int
hc_remove(void *p, size_t *n)
{
	if (hc_cap == 0)
		return 0;
	size_t i = hc_hash(p, hc_cap);
	while (hc_tab[i].p != p) {
		if (hc_tab[i].p == NULL)
			return 0;
		i = (i + 1) & (hc_cap - 1);
	}
	*n = hc_tab[i].n;
	hc_bytes -= (int64_t)hc_tab[i].n;
	hc_used--;
	for (size_t j = (i + 1) & (hc_cap - 1); hc_tab[j].p != NULL; j = (j + 1) & (hc_cap - 1)) {
		size_t home = hc_hash(hc_tab[j].p, hc_cap);
		/* Move j back into the hole at i unless its home lies in (i, j]. */
		int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!stays) {
			hc_tab[i] = hc_tab[j];
			i = j;
		}
	}
	hc_tab[i].p = NULL;
	hc_tab[i].n = 0;
	return 1;
}

static int
counting(void)
{
	return atomic_load_explicit(&hc_on, memory_order_relaxed);
}

void
heapcount_start(void)
{
	pthread_mutex_lock(&hc_mu);
	if (hc_tab != NULL)
		memset(hc_tab, 0, hc_cap * sizeof(*hc_tab));
	hc_used = 0;
	hc_bytes = 0;
	atomic_store(&hc_on, 1);
	pthread_mutex_unlock(&hc_mu);
}

void
heapcount_stop(void)
{
	pthread_mutex_lock(&hc_mu);
	atomic_store(&hc_on, 0);
	__real_free(hc_tab);
	hc_tab = NULL;
	hc_cap = hc_used = 0;
	hc_bytes = 0;
	pthread_mutex_unlock(&hc_mu);
}

void
heapcount_now(struct heapcount *out)
{
	pthread_mutex_lock(&hc_mu);
	out->bytes = hc_bytes;
	out->blocks = hc_used;
	pthread_mutex_unlock(&hc_mu);
}

void *
__wrap_malloc(size_t n)
{
	void *p = __real_malloc(n);
	if (p != NULL && counting()) {
		pthread_mutex_lock(&hc_mu);
		hc_insert(p, n);
		pthread_mutex_unlock(&hc_mu);
	}
	return p;
}

void *
__wrap_calloc(size_t n, size_t m)
{
	void *p = __real_calloc(n, m);
	if (p != NULL && counting()) {
		pthread_mutex_lock(&hc_mu);
		hc_insert(p, n * m); /* calloc succeeded: n * m did not overflow */
		pthread_mutex_unlock(&hc_mu);
	}
	return p;
}

void *
__wrap_realloc(void *p, size_t n)
{
	if (!counting())
		return __real_realloc(p, n);
	/* Forget p before the call: once realloc returns, another thread may be
	 * handed the same address. */
	size_t old = 0;
	int had = 0;
	pthread_mutex_lock(&hc_mu);
	if (p != NULL)
		had = hc_remove(p, &old);
	pthread_mutex_unlock(&hc_mu);
	void *q = __real_realloc(p, n);
	pthread_mutex_lock(&hc_mu);
	if (q != NULL)
		hc_insert(q, n);
	else if (had && n != 0)
		hc_insert(p, old); /* failed: p is still live */
	pthread_mutex_unlock(&hc_mu);
	return q;
}

void
__wrap_free(void *p)
{
	if (p != NULL && counting()) {
		size_t n;
		pthread_mutex_lock(&hc_mu);
		(void)hc_remove(p, &n);
		pthread_mutex_unlock(&hc_mu);
	}
	__real_free(p);
}
