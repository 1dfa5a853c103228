/*
 * SIGTERM and SIGINT for `dfissue personalize` (a station, or a service's
 * `systemctl stop`):
 *
 *  - the first signal stops taking new cards: a tap under way finishes (a
 *    tap is one pass over the card, a second or less, and every ChangeKey
 *    in it gets its journal outcome), a station waiting for a card or for
 *    a torn card to come back stops waiting, the summary is printed and
 *    the exit status is what the cards' outcomes make it (0 when all are
 *    done or resumed);
 *  - a second signal stops at once, still safely: every reader's transport
 *    refuses the next APDU as if the card had left before it (a tear of
 *    the "command lost" kind, which the tear matrix proves safe at every
 *    APDU): a ChangeKey whose intent is journaled but not sent stays an
 *    open intent that the card's next tap resolves, nothing half-sent.
 *    The summary is still printed; exit status DFI_EXIT_INTERRUPTED. The
 *    PostgreSQL registry (cli_signals_abandons) is abandoned in the
 *    handler itself (dfi_pgreg_abandon): a call waiting on a frozen server
 *    returns at once, and the close sends nothing more; the cards' claims
 *    run out with their leases and the journal's next open tells the
 *    registry what it missed.
 */
#ifndef DFISSUE_CLI_SIGNALS_H
#define DFISSUE_CLI_SIGNALS_H

#include "dfissue/pgregistry.h"
#include "dfissue/transport.h"

/* Installs the handlers (no SA_RESTART: waits return early). */
void cli_signals_install(void);
/* The registry a second signal abandons (NULL: none). */
void cli_signals_abandons(dfi_pgreg *pg);
/* Before pg is freed: no signal abandons it any more (nothing when it is
 * not the one cli_signals_abandons named). */
void cli_signals_forget(dfi_pgreg *pg);
/* How many stop signals have arrived (0, 1, 2 or more). */
int cli_signal_count(void);
/* Wraps *t (taking ownership) in a transport that refuses every APDU once
 * a second signal has arrived (DFI_E_CARD_TORN, the APDU not sent). */
dfi_err cli_signals_wrap(dfi_transport **t);

#endif
