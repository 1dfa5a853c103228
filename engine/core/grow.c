/* Growing heap arrays by doubling (core/grow.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dfissue/util.h"
#include "grow.h"

/* Both growers; wiped: the old block is copied and wiped, not realloc'd. */
static void *
grow(void *p, size_t *cap, size_t need, size_t first, size_t elem, int wiped)
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
	void *np;
	if (!wiped) {
		np = realloc(p, ncap * elem);
	} else if ((np = malloc(ncap * elem)) != NULL && p != NULL) {
		memcpy(np, p, *cap * elem);
		dfi_wipe(p, *cap * elem);
		free(p);
	}
	if (np != NULL)
		*cap = ncap;
	return np;
}

void *
dfi_grow(void *p, size_t *cap, size_t need, size_t first, size_t elem)
{
	return grow(p, cap, need, first, elem, 0);
}

void *
dfi_grow_wiped(void *p, size_t *cap, size_t need, size_t first, size_t elem)
{
	return grow(p, cap, need, first, elem, 1);
}
