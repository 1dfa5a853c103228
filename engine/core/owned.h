/*
 * owned.h: handles that own the context of their table of operations.
 *
 * A card key, a signer, a transport and a registry are each a table of
 * operations over a caller's context, and each takes ownership of that
 * context at _new (include/dfissue/cardkey.h and the others: "destroyed
 * on failure too"). The rule is kept here once: a _new that fails for a
 * bad argument or for memory destroys the context, and _free destroys it
 * before freeing the handle. Inline so that the static analyzer
 * (tests/lint) sees that a handle is returned only for good arguments.
 */
#ifndef DFI_CORE_OWNED_H
#define DFI_CORE_OWNED_H

#include <stddef.h>
#include <stdlib.h>

#include "dfissue/error.h"

/* A zeroed handle of size bytes when args_ok; otherwise, or when memory
 * runs out, destroys ctx (destroy may be NULL) and returns NULL with *e
 * DFI_E_INVALID_ARG or DFI_E_NOMEM. */
static inline void *
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

/* Destroys ctx (destroy may be NULL), then frees the handle h. */
static inline void
dfi_owned_free(void *h, void (*destroy)(void *), void *ctx)
{
	if (destroy != NULL)
		destroy(ctx);
	free(h);
}

#endif
