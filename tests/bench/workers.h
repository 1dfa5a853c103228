/* Reader threads for the benchmarks: a set of workers (one struct each, in
 * an array) run at once, and a pool of them working through numbered jobs
 * (cards) taken from one shared counter, so that a fast reader takes more
 * cards than a slow one, as at a real station. */
#ifndef DFI_BENCH_WORKERS_H
#define DFI_BENCH_WORKERS_H

#include <stddef.h>

/* The most threads one call runs (their handles live on its stack: no
 * allocation, which bench_perso's heap accounting would see). */
#define WORKERS_MAX 64

/* Runs fn(worker) on n threads at once, worker i being the i-th element
 * (of size bytes) of the array workers, and returns once all have ended:
 * 0, or -1 when n exceeds WORKERS_MAX or a thread could not start (those
 * started are waited for first). */
int workers_each(unsigned n, void *workers, size_t size, void (*fn)(void *worker));

/* Runs the jobs 0 .. total-1 on n threads as workers_each does: each
 * thread takes the next job number from one atomic counter and runs
 * job(worker, k), until no job is left. Returns as workers_each. */
int workers_jobs(unsigned n, void *workers, size_t size, unsigned total,
    void (*job)(void *worker, unsigned k));

/* A reader thread of a personalization run: its own engine handle (one
 * per reader, as a station has) and the run it takes cards for. */
struct dfi_perso;
struct workers_reader {
	void *run;
	struct dfi_perso *p;
};

#endif
