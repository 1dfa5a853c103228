/* Bounds-checked byte reader and writer: DESFire is little-endian.
 * A NULL reader or destination is DFI_E_INVALID_ARG and consumes nothing; a
 * NULL writer is a no-op (it has nowhere to keep the error) and a NULL
 * source makes the writer's sticky error DFI_E_INVALID_ARG (error.h, "NULL
 * and unknown values"). */
#include <string.h>

#include "dfissue/util.h"

dfi_err
dfi_rd_ptr(dfi_rd *r, const uint8_t **out, size_t n)
{
	if (r == NULL || out == NULL)
		return DFI_E_INVALID_ARG;
	if (r->left < n)
		return DFI_E_CARD_PROTOCOL;
	*out = r->p;
	r->p += n;
	r->left -= n;
	return DFI_OK;
}

dfi_err
dfi_rd_bytes(dfi_rd *r, uint8_t *out, size_t n)
{
	const uint8_t *p;
	if (out == NULL && n > 0)
		return DFI_E_INVALID_ARG;
	dfi_err e = dfi_rd_ptr(r, &p, n);
	if (e == DFI_OK && n > 0)
		memcpy(out, p, n);
	return e;
}

static dfi_err
rd_le(dfi_rd *r, size_t n, uint32_t *v)
{
	const uint8_t *p;
	if (v == NULL)
		return DFI_E_INVALID_ARG;
	dfi_err e = dfi_rd_ptr(r, &p, n);
	if (e != DFI_OK)
		return e;
	uint32_t x = 0;
	for (size_t i = n; i > 0; i--)
		x = (x << 8) | p[i - 1];
	*v = x;
	return DFI_OK;
}

dfi_err
dfi_rd_u8(dfi_rd *r, uint8_t *v)
{
	return dfi_rd_bytes(r, v, 1); /* one byte has no byte order */
}

dfi_err
dfi_rd_le16(dfi_rd *r, uint16_t *v)
{
	uint32_t x;
	if (v == NULL)
		return DFI_E_INVALID_ARG;
	dfi_err e = rd_le(r, 2, &x);
	if (e == DFI_OK)
		*v = (uint16_t)x;
	return e;
}

dfi_err
dfi_rd_le24(dfi_rd *r, uint32_t *v)
{
	return rd_le(r, 3, v);
}

dfi_err
dfi_rd_le32(dfi_rd *r, uint32_t *v)
{
	return rd_le(r, 4, v);
}

dfi_err
dfi_rd_end(const dfi_rd *r)
{
	if (r == NULL)
		return DFI_E_INVALID_ARG;
	return r->left == 0 ? DFI_OK : DFI_E_CARD_PROTOCOL;
}

void
dfi_wr_bytes(dfi_wr *w, const void *src, size_t n)
{
	if (w == NULL || w->err != DFI_OK)
		return;
	if (src == NULL && n > 0) {
		w->err = DFI_E_INVALID_ARG;
		return;
	}
	if (n > w->cap - w->len) {
		w->err = DFI_E_BUFFER_TOO_SMALL;
		return;
	}
	if (n > 0)
		memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void
wr_le(dfi_wr *w, uint32_t v, size_t n)
{
	uint8_t b[4];
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	dfi_wr_bytes(w, b, n);
}

void dfi_wr_u8(dfi_wr *w, uint8_t v) { wr_le(w, v, 1); }
void dfi_wr_le16(dfi_wr *w, uint16_t v) { wr_le(w, v, 2); }
void dfi_wr_le24(dfi_wr *w, uint32_t v) { wr_le(w, v, 3); }
void dfi_wr_le32(dfi_wr *w, uint32_t v) { wr_le(w, v, 4); }
