/* Reader threads for the benchmarks (workers.h). */
#include "workers.h"

#include <pthread.h>
#include <stdatomic.h>

struct each {
	void (*fn)(void *worker);
	void *worker;
};

static void *
each_run(void *arg)
{
	struct each *e = arg;
	e->fn(e->worker);
	return NULL;
}

int
workers_each(unsigned n, void *workers, size_t size, void (*fn)(void *worker))
{
	if (n > WORKERS_MAX)
		return -1;
	pthread_t th[WORKERS_MAX];
	struct each arg[WORKERS_MAX];
	unsigned started = 0;
	for (; started < n; started++) {
		arg[started] = (struct each){ fn, (char *)workers + (size_t)started * size };
		if (pthread_create(&th[started], NULL, each_run, &arg[started]) != 0)
			break;
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	return started == n ? 0 : -1;
}

/* One pool thread: its worker, and the pool's counter and job. */
struct jobs {
	atomic_uint *next;
	unsigned total;
	void (*job)(void *worker, unsigned k);
	void *worker;
};

static void
jobs_run(void *arg)
{
	struct jobs *j = arg;
	for (unsigned k; (k = atomic_fetch_add(j->next, 1)) < j->total;)
		j->job(j->worker, k);
}

int
workers_jobs(unsigned n, void *workers, size_t size, unsigned total, void (*job)(void *worker, unsigned k))
{
	if (n > WORKERS_MAX)
		return -1;
	atomic_uint next;
	atomic_init(&next, 0);
	struct jobs arg[WORKERS_MAX];
	for (unsigned i = 0; i < n; i++)
		arg[i] = (struct jobs){ &next, total, job, (char *)workers + (size_t)i * size };
	return workers_each(n, arg, sizeof(arg[0]), jobs_run);
}
