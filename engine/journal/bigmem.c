/* Huge-page-backed allocations for the journal's large tables (bigmem.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bigmem.h"

void *
jbig_alloc(size_t len)
{
	/* Below 7/8 of a huge page the page would be mostly waste. */
	if (len < JBIG_PAGE - JBIG_PAGE / 8)
		return malloc(len);
	if (len > SIZE_MAX - JBIG_PAGE)
		return NULL;
	size_t round = (len + JBIG_PAGE - 1) / JBIG_PAGE * JBIG_PAGE;
	void *p = NULL;
	if (posix_memalign(&p, JBIG_PAGE, round) != 0)
		return NULL;
#ifdef MADV_HUGEPAGE
	(void)madvise(p, round, MADV_HUGEPAGE); /* advice: refused, it is 4 KiB pages */
#endif
	return p;
}

void *
jbig_calloc(size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	if (n * size < JBIG_PAGE - JBIG_PAGE / 8)
		return calloc(n, size);
	void *p = jbig_alloc(n * size);
	if (p != NULL)
		memset(p, 0, n * size);
	return p;
}
