/*
 * hexdigit.h: the value of one hex digit.
 *
 * dfi_hex_decode (hex.c) takes either case; the journal's record parser
 * (journal/record.c) takes upper case only, the one canonical form of a
 * line that is hashed. Both read a digit here; inline because the journal
 * reads two for every byte of every record it verifies.
 */
#ifndef DFI_CORE_HEXDIGIT_H
#define DFI_CORE_HEXDIGIT_H

/* 0..15 for 0-9, a-f, A-F; -1 for any other character. */
static inline int
dfi_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
