/* Untrusted text for a terminal (termtext.h). */
#include <string.h>

#include <openssl/asn1.h>

#include "termtext.h"

int
cli_tt_bidi(unsigned long u)
{
	return u == 0x061C || u == 0x200E || u == 0x200F || (u >= 0x202A && u <= 0x202E) ||
	    (u >= 0x2066 && u <= 0x2069);
}

/* The form of the unit at p (len > 0 bytes) in f (at most 16 bytes: 4
 * escaped bytes), its length returned; *used: the bytes of p it stands
 * for. */
static size_t
form(const unsigned char *p, size_t len, char f[16], size_t *used)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 1;
	int raw;
	if (*p < 0x80) {
		if (*p == '\\') {
			*used = 1;
			memcpy(f, "\\\\", 2);
			return 2;
		}
		raw = *p >= 0x20 && *p != 0x7F;
	} else {
		unsigned long u;
		int k = UTF8_getc(p, len < 4 ? (int)len : 4, &u);
		/* a surrogate or a code point past U+10FFFF is no character,
		 * whatever the OpenSSL version makes of it */
		raw = k > 0 && u >= 0xA0 && u <= 0x10FFFF && !(u >= 0xD800 && u <= 0xDFFF) && !cli_tt_bidi(u);
		n = k > 0 ? (size_t)k : 1;
	}
	*used = n;
	if (raw) {
		memcpy(f, p, n);
		return n;
	}
	for (size_t i = 0; i < n; i++) {
		char *e = f + 4 * i;
		e[0] = '\\', e[1] = 'x', e[2] = hex[p[i] >> 4], e[3] = hex[p[i] & 15];
	}
	return 4 * n;
}

const char *
cli_tt(char *out, size_t cap, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), at = 0;
	while (len > 0) {
		char f[16];
		size_t used, fl = form(p, len, f, &used);
		if (fl >= cap - at)
			break;
		memcpy(out + at, f, fl);
		at += fl, p += used, len -= used;
	}
	out[at] = '\0';
	return out;
}

void
cli_tt_fwrite(FILE *o, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	while (n > 0) {
		char f[16];
		size_t used, fl = form(p, n, f, &used);
		fwrite(f, 1, fl, o);
		p += used, n -= used;
	}
}

void
cli_tt_lines(FILE *o, const char *s)
{
	for (const char *nl; (nl = strchr(s, '\n')) != NULL; s = nl + 1) {
		cli_tt_fwrite(o, s, (size_t)(nl - s));
		fputc('\n', o);
	}
	cli_tt_fwrite(o, s, strlen(s));
}
