/* A simulated card seen through the engine: the simulator, its in-process
 * transport and a DESFire session on it, opened and closed in one place
 * so that every test talks to the card the same way. Header-only, like the
 * rest of tests/common; for programs linked with dfisim. */
#ifndef DFI_SIMCARD_H
#define DFI_SIMCARD_H

#include "testutil.h"

#include "desfire_sim.h"
#include "dfissue/desfire.h"
#include "dfissue/transport.h"

/* A session on sim (which stays the caller's) over the simulator's own
 * transport: the path the engine takes to a card in tests. */
static inline void
dfi_test_card_session(dfi_sim *sim, dfi_transport **t, dfi_desfire **d)
{
	ck_assert_int_eq(dfi_sim_transport_new(sim, t), DFI_OK);
	ck_assert_int_eq(dfi_desfire_new(d, *t), DFI_OK);
}

/* A new card made from cfg, with a session on it. */
static inline void
dfi_test_card_open(const struct dfi_sim_config *cfg, dfi_sim **sim, dfi_transport **t,
    dfi_desfire **d)
{
	ck_assert_int_eq(dfi_sim_new(sim, cfg), DFI_OK);
	dfi_test_card_session(*sim, t, d);
}

/* Ends the session, then frees the card (NULL: a card that is borrowed). */
static inline void
dfi_test_card_close(dfi_sim *sim, dfi_transport *t, dfi_desfire *d)
{
	dfi_desfire_free(d);
	dfi_transport_free(t);
	dfi_sim_free(sim);
}

#endif
