/* Reasons written into a caller's buffer (core/why.h). */
#include <stdio.h>

#include "why.h"

dfi_err
dfi_vwhy(char *why, size_t cap, dfi_err e, const char *fmt, va_list ap)
{
	if (why != NULL && cap > 0)
		vsnprintf(why, cap, fmt, ap);
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
