/* Live-heap accounting of this binary's own code (the engine and the
 * simulator are static libraries, plus the benchmark itself), apart from
 * the shared libraries it loads (SoftHSM2, OpenSSL, p11-kit, libc).
 *
 * The benchmark is linked with -Wl,--wrap=malloc,calloc,realloc,free: every
 * call to those from an object file of this binary lands in the __wrap_
 * functions below; calls made inside shared libraries do not. While
 * counting is on, each allocation made here is remembered (pointer, size)
 * until it is freed, so "live bytes" after card N against after the last
 * card is this code's own growth per card, and live bytes after every handle
 * is closed is what it leaked. Memory a shared library allocated and this
 * code frees (strdup, getline ...) is not in the table and is ignored. */
#ifndef DFI_BENCH_HEAPCOUNT_H
#define DFI_BENCH_HEAPCOUNT_H

#include <stddef.h>
#include <stdint.h>

struct heapcount {
	int64_t bytes;   /* live bytes allocated by this binary's code */
	uint64_t blocks; /* live allocations */
};

/* Starts counting from zero (allocations made before are never counted). */
void heapcount_start(void);
/* Stops counting and forgets every remembered allocation. */
void heapcount_stop(void);
void heapcount_now(struct heapcount *out);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);

#endif
