/*
 * dfissue — small shared utilities: hex, bounds-checked byte reader and
 * writer (in the manner of OpenSSH's sshbuf: every read checks what is
 * left first), locked secret memory, constant-time compare.
 */
#ifndef DFISSUE_UTIL_H
#define DFISSUE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "dfissue/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- hex ---------------------------------------------------------------- */

/* Parses hex (upper or lower case, no separators; surrounding white space
 * is ignored) into out. *outlen receives the byte count. Fails with
 * DFI_E_PARSE on an odd length or a non-hex character and
 * DFI_E_BUFFER_TOO_SMALL when it does not fit. */
dfi_err dfi_hex_decode(const char *hex, uint8_t *out, size_t cap, size_t *outlen);

/* Writes 2*len upper-case hex characters and a NUL into out (cap bytes). */
dfi_err dfi_hex_encode(const uint8_t *in, size_t len, char *out, size_t cap);

/* ---- AIDs --------------------------------------------------------------- */

/* An AID is printed in one byte order everywhere: the command order, the
 * three bytes in the order SelectApplication and CreateApplication send
 * them, which is also how profiles write them ("aid": "F54010" is sent
 * F5 40 10) and how format-2 journal records store them (docs/JOURNAL.md).
 * Code holds an AID as a uint32_t whose least significant byte is sent
 * first (DESFire's little-endian order): 0x1040F5 is printed F54010.
 *   printf("application " DFI_AID_FMT "\n", DFI_AID_ARGS(aid));
 * DFI_AID_ARGS evaluates aid three times. */
#define DFI_AID_FMT "%02X%02X%02X"
#define DFI_AID_ARGS(aid) \
	(unsigned)((aid) & 0xFFu), (unsigned)((aid) >> 8 & 0xFFu), (unsigned)((aid) >> 16 & 0xFFu)

/* ---- bounds-checked reader --------------------------------------------- */

/* A reader and a writer are plain structures of the caller's (no lock,
 * nothing to free) over a buffer the caller keeps alive. */

typedef struct dfi_rd {
	const uint8_t *p;
	size_t left;
} dfi_rd;

static inline void dfi_rd_init(dfi_rd *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->left = len;
}

/* Read the next 1, 2, 3 or 4 bytes as a little-endian number, or the next
 * n bytes into out, and advance. DFI_E_CARD_PROTOCOL when fewer are left
 * (nothing is consumed then); DFI_E_INVALID_ARG for a NULL reader or
 * destination. */
dfi_err dfi_rd_u8(dfi_rd *r, uint8_t *v);
dfi_err dfi_rd_le16(dfi_rd *r, uint16_t *v);
dfi_err dfi_rd_le24(dfi_rd *r, uint32_t *v);
dfi_err dfi_rd_le32(dfi_rd *r, uint32_t *v);
dfi_err dfi_rd_bytes(dfi_rd *r, uint8_t *out, size_t n);
/* Points *out at the next n bytes without copying. */
dfi_err dfi_rd_ptr(dfi_rd *r, const uint8_t **out, size_t n);
/* DFI_OK only when nothing is left (a trailing byte is a protocol error). */
dfi_err dfi_rd_end(const dfi_rd *r);

/* ---- bounds-checked writer into a caller's fixed buffer ----------------- */

typedef struct dfi_wr {
	uint8_t *p;
	size_t cap;
	size_t len;
	dfi_err err; /* sticky: the first overflow is kept, later writes no-op */
} dfi_wr;

static inline void dfi_wr_init(dfi_wr *w, uint8_t *p, size_t cap)
{
	w->p = p;
	w->cap = cap;
	w->len = 0;
	w->err = DFI_OK;
}

/* Append 1, 2, 3 or 4 bytes of v little-endian, or n bytes of src. When
 * they do not fit, w->err becomes DFI_E_BUFFER_TOO_SMALL and nothing is
 * written, by this call or any later one: check w->err once at the end. A
 * NULL src with n > 0 sets DFI_E_INVALID_ARG; a NULL w does nothing. */
void dfi_wr_u8(dfi_wr *w, uint8_t v);
void dfi_wr_le16(dfi_wr *w, uint16_t v);
void dfi_wr_le24(dfi_wr *w, uint32_t v);
void dfi_wr_le32(dfi_wr *w, uint32_t v);
void dfi_wr_bytes(dfi_wr *w, const void *src, size_t n);

/* ---- secrets ----------------------------------------------------------- */

/* Secret memory: page-aligned, mlock()ed, excluded from core dumps
 * (MADV_DONTDUMP) and wiped with OPENSSL_cleanse on free. Use for every
 * buffer that holds key bytes, session keys or PINs. */
void *dfi_secure_alloc(size_t len);
void dfi_secure_free(void *p, size_t len);

/* Wipes memory the compiler may not elide (OPENSSL_cleanse). */
void dfi_wipe(void *p, size_t len);

/* Constant-time comparison: 0 when equal. For MACs and cryptograms. */
int dfi_ct_memcmp(const void *a, const void *b, size_t len);

#ifdef __cplusplus
}
#endif
#endif
