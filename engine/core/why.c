/* Reasons written into a caller's buffer (core/why.h). */
#include <stdio.h>
#include <string.h>

#include "why.h"

dfi_err
dfi_vwhy(char *why, size_t cap, dfi_err e, const char *fmt, va_list ap)
{
	if (why == NULL || cap == 0)
		return e;
	vsnprintf(why, cap, fmt, ap);
	/* A reason is shown on one line (the CLI, logs, JSON), and the text it
	 * quotes (libpq ends its messages with a newline and indents a hint
	 * on the next line with a tab; a path or a card's text may hold a
	 * break) must not break it: breaks that end it go, and a break inside
	 * with the blanks after it becomes one space. */
	size_t n = strlen(why);
	while (n > 0 && (why[n - 1] == '\n' || why[n - 1] == '\r'))
		why[--n] = '\0';
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (why[i] != '\n' && why[i] != '\r') {
			why[o++] = why[i];
			continue;
		}
		while (i + 1 < n && (why[i + 1] == '\n' || why[i + 1] == '\r' || why[i + 1] == '\t' ||
		    why[i + 1] == ' '))
			i++;
		if (o > 0 && why[o - 1] != ' ')
			why[o++] = ' ';
	}
	why[o] = '\0';
	return e;
}

dfi_err
dfi_why(char *why, size_t cap, dfi_err e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	e = dfi_vwhy(why, cap, e, fmt, ap);
	va_end(ap);
	return e;
}
