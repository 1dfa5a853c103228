/* Trimming a line in place (core/trim.h). */
#include <ctype.h>
#include <string.h>

#include "trim.h"

char *
dfi_trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}
