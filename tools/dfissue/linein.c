/* Bounded line reading (linein.h). */
#include "linein.h"

int
cli_line_read(FILE *f, char *buf, size_t cap, size_t *n)
{
	int c = EOF;
	*n = 0;
	/* byte by byte, the stream locked once: a journal has millions of lines */
	flockfile(f);
	while (*n + 1 < cap && (c = getc_unlocked(f)) != EOF && c != '\n')
		buf[(*n)++] = (char)c;
	int full = *n + 1 >= cap && c != EOF && c != '\n';
	if (full) {
		/* the line fits only if its end comes next */
		c = getc_unlocked(f);
		full = c != '\n' && c != EOF;
	}
	funlockfile(f);
	buf[*n] = '\0';
	if (full)
		return 0;
	if (c == EOF && (ferror(f) || *n == 0))
		return -1; /* a read error: the caller reports it */
	return 1;
}

void
cli_line_skip(FILE *f)
{
	int c;
	flockfile(f);
	while ((c = getc_unlocked(f)) != EOF && c != '\n')
		;
	funlockfile(f);
}
