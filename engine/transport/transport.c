/* The transport handle: dispatch, the tear rule, and counters. */
#include <stdlib.h>

#include "dfissue/transport.h"
#include "core/owned.h"

struct dfi_transport {
	const struct dfi_transport_ops *ops;
	void *ctx;
	struct dfi_transport_stats stats;
	unsigned phase; /* the caller's tag (dfi_transport_set_phase) */
};

dfi_err
dfi_transport_new(dfi_transport **out, const struct dfi_transport_ops *ops, void *ctx)
{
	dfi_err e;
	dfi_transport *t = dfi_owned_new(sizeof(*t), out != NULL && ops != NULL && ops->transmit != NULL,
	    ops != NULL ? ops->destroy : NULL, ctx, &e);
	if (t == NULL)
		return e;
	t->ops = ops;
	t->ctx = ctx;
	*out = t;
	return DFI_OK;
}

void
dfi_transport_free(dfi_transport *t)
{
	if (t != NULL)
		dfi_owned_free(t, t->ops->destroy, t->ctx);
}

dfi_err
dfi_transport_transmit(dfi_transport *t, const uint8_t *capdu, size_t clen,
    uint8_t *rapdu, size_t rcap, size_t *rlen)
{
	if (t == NULL || capdu == NULL || rapdu == NULL || rlen == NULL ||
	    clen < 4 || clen > DFI_APDU_MAX || rcap < 2)
		return DFI_E_INVALID_ARG;
	*rlen = 0;
	t->stats.apdus++;
	t->stats.bytes_out += clen;
	dfi_err e = t->ops->transmit(t->ctx, capdu, clen, rapdu, rcap, rlen);
	if (e != DFI_OK)
		return e;
	if (*rlen > rcap)
		return DFI_E_INTERNAL;
	t->stats.bytes_in += *rlen;
	/* An empty or short answer is a card that left mid-command. */
	if (*rlen < 2)
		return DFI_E_CARD_TORN;
	return DFI_OK;
}

dfi_err
dfi_transport_wait_card(dfi_transport *t, int timeout_ms)
{
	if (t == NULL)
		return DFI_E_INVALID_ARG;
	return t->ops->wait_card != NULL ? t->ops->wait_card(t->ctx, timeout_ms) : DFI_OK;
}

dfi_err
dfi_transport_wait_removed(dfi_transport *t, int timeout_ms)
{
	if (t == NULL)
		return DFI_E_INVALID_ARG;
	return t->ops->wait_removed != NULL ? t->ops->wait_removed(t->ctx, timeout_ms) : DFI_OK;
}

const char *
dfi_transport_name(const dfi_transport *t)
{
	if (t == NULL || t->ops->name == NULL)
		return "transport";
	return t->ops->name(t->ctx);
}

void
dfi_transport_stats(const dfi_transport *t, struct dfi_transport_stats *out)
{
	if (t != NULL && out != NULL)
		*out = t->stats;
}

void
dfi_transport_set_phase(dfi_transport *t, unsigned phase)
{
	if (t != NULL)
		t->phase = phase;
}

unsigned
dfi_transport_phase(const dfi_transport *t)
{
	return t != NULL ? t->phase : 0;
}
