/* jansson's memory in the CLI: every block wiped before it is freed. */
#ifndef DFISSUE_CLI_JWIPE_H
#define DFISSUE_CLI_JWIPE_H

#include <jansson.h>

/* Gives jansson the wiping allocator, for the whole process: once, in
 * main(), before any JSON value exists and before any thread. */
void cli_jwipe_install(void);

/* Prints o on stdout as JSON text and a newline, under stdout's lock, as
 * json_dumps(o, flags) formats it; nothing when o is NULL or jansson fails.
 * json_dumps's text comes from jansson's allocator and must go back to it
 * (free() would be handed a pointer inside a block): this does both. */
void cli_json_puts(const json_t *o, size_t flags);

/* Frees p, text json_dumps returned, through jansson's allocator (with
 * cli_jwipe_install's, free() would be handed a pointer inside a block). */
void cli_json_free(void *p);

#endif
