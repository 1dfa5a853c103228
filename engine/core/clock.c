/* The monotonic clock in milliseconds (core/clock.h). */
#include <time.h>

#include "clock.h"

long
dfi_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
