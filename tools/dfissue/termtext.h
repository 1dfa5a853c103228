/*
 * Untrusted text (a journal's or a registry row's station, reason,
 * key_label, file, origin, database user; a card's report) written for a
 * terminal. A journal's text fields may hold any byte but NUL once
 * percent-decoded (docs/JOURNAL.md), so printed as they are they could
 * forge lines of a listing (a newline, then a fake "committed") or drive
 * the terminal (ESC or the C1 CSI: retitle the window, move the cursor
 * over earlier lines).
 *
 * The terminal form of a text, unit by unit:
 *  - a printable ASCII byte (0x20..0x7E) but the backslash: itself;
 *  - the backslash: "\\" (two backslashes), so every other backslash in
 *    the form starts an escape and the form reads back to one text only;
 *  - a well-formed UTF-8 sequence of a code point from U+00A0 on (OpenSSL's
 *    UTF8_getc: no overlong form, surrogate or code point past U+10FFFF):
 *    itself, so a station named in UTF-8 reads right;
 *  - anything else, each of its bytes as "\xHH" (upper-case hex): the C0
 *    controls 0x00..0x1F (newline, ESC, CR included), DEL 0x7F, the C1
 *    controls U+0080..U+009F (C2 80..C2 9F: U+009B is CSI), a byte that
 *    starts no well-formed sequence (a lone 0x9B is CSI to a terminal in
 *    an 8-bit mode), and the bidirectional controls (U+061C, U+200E,
 *    U+200F, U+202A..U+202E, U+2066..U+2069: in a terminal that applies
 *    the bidi algorithm they reorder what follows them on the line, the
 *    "Trojan Source" trick; journal_html.c leaves them off the page too).
 *
 * Every byte becomes at most 4 ("\xHH"): a text of n bytes needs at most
 * CLI_TT_CAP(n) bytes of buffer, NUL included.
 */
#ifndef DFISSUE_TERMTEXT_H
#define DFISSUE_TERMTEXT_H

#include <stddef.h>
#include <stdio.h>

#include "dfissue/journal.h"

#define CLI_TT_CAP(n) (4 * (size_t)(n) + 1)
/* For a journal text field (at most DFI_J_STR_MAX - 1 bytes): 509. */
#define CLI_TT_FIELD CLI_TT_CAP(DFI_J_STR_MAX - 1)
/* For a line of up to 1023 bytes: a log line (log.c), a verifier's
 * finding (at most 511 bytes today), an audit finding. */
#define CLI_TT_LINE CLI_TT_CAP(1023)

/* Writes the terminal form of s into out (cap > 0 bytes, NUL-terminated)
 * and returns out, to be printed with "%s". A form longer than cap - 1
 * stops before the first unit that does not fit whole (never half an
 * escape); CLI_TT_CAP(strlen(s)) bytes always hold it. */
const char *cli_tt(char *out, size_t cap, const char *s);

/* Writes the terminal form of the n bytes at s to f. */
void cli_tt_fwrite(FILE *f, const char *s, size_t n);

/* Writes s to f line by line: each newline kept (a line break the writer
 * of s meant, as in a multi-line report), each line in its terminal form. */
void cli_tt_lines(FILE *f, const char *s);

/* Is the code point u a bidirectional control (the list above)? */
int cli_tt_bidi(unsigned long u);

#endif
