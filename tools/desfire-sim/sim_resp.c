/* Growable response buffer and little-endian helpers. */
#include <stdlib.h>
#include <string.h>

#include "sim_int.h"

void
resp_reset(struct sim_resp *r)
{
	/* Everything back to its default but the buffer, which is reused. */
	*r = (struct sim_resp){ .data = r->data, .cap = r->cap, .mode = SM_MAC };
}

void
resp_put(struct sim_resp *r, const void *p, size_t n)
{
	if (r->oom || n == 0)
		return;
	if (r->len + n > r->cap) {
		size_t ncap = r->cap ? r->cap : 256;
		while (ncap < r->len + n)
			ncap *= 2;
		uint8_t *nd = realloc(r->data, ncap);
		if (nd == NULL) {
			r->oom = true;
			return;
		}
		r->data = nd;
		r->cap = ncap;
	}
	memcpy(r->data + r->len, p, n);
	r->len += n;
}

void
resp_u8(struct sim_resp *r, uint8_t v)
{
	resp_put(r, &v, 1);
}

void
resp_le24(struct sim_resp *r, uint32_t v)
{
	uint8_t b[3] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16) };
	resp_put(r, b, 3);
}

void
resp_le32(struct sim_resp *r, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	resp_put(r, b, 4);
}

uint32_t
le24(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
