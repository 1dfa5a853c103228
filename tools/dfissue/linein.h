/* linein.h: one line of a stream into a buffer of the caller's, never more.
 *
 * Standard input of `sdm verify`, a configuration file and a journal the
 * auditor received are untrusted: getline would hold a line of any length
 * whole (a 4 GiB line without a newline, 4 GiB of memory), and fgets hides
 * a NUL byte in the line and splits a long one in two. */
#ifndef DFI_CLI_LINEIN_H
#define DFI_CLI_LINEIN_H

#include <stddef.h>
#include <stdio.h>

/* One line of f into buf (cap >= 2 bytes: its '\n' dropped, NUL-terminated,
 * *n bytes before the terminator, NUL bytes of the line included): 1; 0
 * when it does not fit in cap - 1 bytes (buf holds its start, f is inside
 * it: cli_line_skip reads past it); -1 at the end of the file or on a read
 * error (ferror(f) tells). */
int cli_line_read(FILE *f, char *buf, size_t cap, size_t *n);

/* Reads past the rest of the line f is inside (to its '\n' or the end of
 * the file), holding none of it. */
void cli_line_skip(FILE *f);

#endif
