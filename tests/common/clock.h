/* The monotonic clock in seconds, for tests and benchmarks that time
 * themselves (one copy instead of one per program). */
#ifndef DFI_TEST_CLOCK_H
#define DFI_TEST_CLOCK_H

#include <time.h>

static inline double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The same in whole milliseconds, for deadlines counted in them. */
static inline long
now_ms(void)
{
	return (long)(now_s() * 1e3);
}

#endif
