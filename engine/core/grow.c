/* Growing heap arrays by doubling (core/grow.h). */
#include <stdint.h>
#include <stdlib.h>

#include "grow.h"

void *
dfi_grow(void *p, size_t *cap, size_t need, size_t first, size_t elem)
{
	if (need <= *cap)
		return p;
	size_t ncap = *cap ? *cap : (first ? first : 1);
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return NULL;
		ncap *= 2;
	}
	if (elem == 0 || ncap > SIZE_MAX / elem)
		return NULL;
	void *np = realloc(p, ncap * elem);
	if (np != NULL)
		*cap = ncap;
	return np;
}
