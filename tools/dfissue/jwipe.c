/*
 * jansson's allocator in the CLI. A batch row's values (card numbers,
 * holders' names, diversification inputs) pass through jansson's lexer
 * buffers, string values and integer objects; jansson frees them as they
 * are, and a later malloc hands the bytes to whoever asks. The engine wipes
 * its own copies (engine/profile/batch.c), but the allocator jansson uses is
 * process-wide state (json_set_alloc_funcs), so the library must not set it;
 * the CLI owns its process and does, first thing in main().
 *
 * jansson's free is not told the size, so each block carries it in a header
 * ahead of what jansson sees. The header is as large as max_align_t, so the
 * block jansson gets is aligned as malloc's is. No state: both functions
 * are as thread-safe as malloc and free.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "dfissue/util.h"
#include "jwipe.h"

union jhdr {
	max_align_t align;
	size_t len;
};

static void *
jwipe_malloc(size_t n)
{
	if (n > SIZE_MAX - sizeof(union jhdr))
		return NULL;
	union jhdr *h = malloc(sizeof(*h) + n);
	if (h == NULL)
		return NULL;
	h->len = n;
	return h + 1;
}

static void
jwipe_free(void *p)
{
	if (p == NULL)
		return;
	union jhdr *h = (union jhdr *)p - 1;
	dfi_wipe(p, h->len);
	free(h);
}

void
cli_jwipe_install(void)
{
	json_set_alloc_funcs(jwipe_malloc, jwipe_free);
}

void
cli_json_puts(const json_t *o, size_t flags)
{
	char *s = o != NULL ? json_dumps(o, flags) : NULL;
	if (s == NULL)
		return;
	flockfile(stdout);
	fputs(s, stdout);
	putc('\n', stdout);
	funlockfile(stdout);
	cli_json_free(s);
}

void
cli_json_free(void *p)
{
	json_free_t jfree;
	json_get_alloc_funcs(NULL, &jfree);
	jfree(p);
}
