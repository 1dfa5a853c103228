/* Handles owning their operations' context (core/owned.h). */
#include <stdlib.h>

#include "owned.h"

void *
dfi_owned_new(size_t size, int args_ok, void (*destroy)(void *), void *ctx, dfi_err *e)
{
	void *h = args_ok ? calloc(1, size) : NULL;
	if (h == NULL) {
		if (destroy != NULL)
			destroy(ctx);
		*e = args_ok ? DFI_E_NOMEM : DFI_E_INVALID_ARG;
	}
	return h;
}

void
dfi_owned_free(void *h, void (*destroy)(void *), void *ctx)
{
	if (destroy != NULL)
		destroy(ctx);
	free(h);
}
