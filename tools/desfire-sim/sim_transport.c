/* An in-process dfi_transport on the simulator: the fast path for tests. */
#include <stdio.h>
#include <stdlib.h>

#include "sim_int.h"

struct sim_tr {
	dfi_sim *sim;
	char name[64];
};

static dfi_err
tr_transmit(void *ctx, const uint8_t *capdu, size_t clen, uint8_t *rapdu, size_t rcap, size_t *rlen)
{
	struct sim_tr *t = ctx;
	return dfi_sim_process(t->sim, capdu, clen, rapdu, rcap, rlen);
}

static dfi_err
tr_wait_card(void *ctx, int timeout_ms)
{
	struct sim_tr *t = ctx;
	(void)timeout_ms;
	/* The operator puts the card (back) on the reader at once. */
	return dfi_sim_present(t->sim) ? DFI_OK : dfi_sim_insert(t->sim);
}

static dfi_err
tr_wait_removed(void *ctx, int timeout_ms)
{
	struct sim_tr *t = ctx;
	(void)timeout_ms;
	dfi_sim_remove(t->sim);
	return DFI_OK;
}

static const char *
tr_name(void *ctx)
{
	return ((struct sim_tr *)ctx)->name;
}

static void
tr_destroy(void *ctx)
{
	free(ctx);
}

static const struct dfi_transport_ops sim_tr_ops = {
	.transmit = tr_transmit,
	.wait_card = tr_wait_card,
	.wait_removed = tr_wait_removed,
	.name = tr_name,
	.destroy = tr_destroy,
};

dfi_err
dfi_sim_transport_new(dfi_sim *sim, dfi_transport **out)
{
	if (sim == NULL || out == NULL)
		return DFI_E_INVALID_ARG;
	struct sim_tr *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return DFI_E_NOMEM;
	t->sim = sim;
	snprintf(t->name, sizeof(t->name), "sim:%s", sim->image ? sim->image : "memory");
	return dfi_transport_new(out, &sim_tr_ops, t);
}
