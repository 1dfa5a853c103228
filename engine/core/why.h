/*
 * why.h: a reason for the caller, written into the buffer it gave.
 *
 * Engine calls that can fail in more ways than their dfi_err tells take
 * an optional buffer (why, cap) for the reason in words. Writing it is
 * the same everywhere: nothing when there is no buffer, cut to fit when
 * there is. Returning e lets a failure path say why and fail in one line:
 *   return dfi_why(why, cap, DFI_E_PARSE, "offset %zu past the file", off);
 */
#ifndef DFI_CORE_WHY_H
#define DFI_CORE_WHY_H

#include <stdarg.h>
#include <stddef.h>

#include "dfissue/error.h"

/* Formats the reason into why (cap bytes; nothing when why is NULL or cap
 * is 0) and returns e. The reason is one line: line breaks (CR, LF) at its
 * end are dropped, and one inside, with the blanks that follow it, becomes
 * one space. */
dfi_err dfi_why(char *why, size_t cap, dfi_err e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same for a function that takes its own variable arguments. */
dfi_err dfi_vwhy(char *why, size_t cap, dfi_err e, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

#endif
