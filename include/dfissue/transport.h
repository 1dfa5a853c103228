/*
 * dfissue — the link to a card: one small interface, two implementations
 * (PC/SC-Lite readers, and the in-process simulator for fast tests).
 *
 * A transport carries ISO 7816-4 APDUs. It never interprets them, except
 * that an empty or short (< 2 bytes) response is a tear (DFI_E_CARD_TORN),
 * never a success: PC/SC can return SCARD_S_SUCCESS with 0 bytes when the
 * card leaves mid-command.
 *
 * Thread safety: a transport is used by one thread at a time (a reader
 * talks to one card), and by at most one dfi_desfire session or
 * personalization at a time. Transports are independent of each other.
 */
#ifndef DFISSUE_TRANSPORT_H
#define DFISSUE_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "dfissue/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest APDU either way (short APDUs: 5 + 255 + 1; responses 256 + 2). */
#define DFI_APDU_MAX 261

typedef struct dfi_transport dfi_transport;

struct dfi_transport_ops {
	/* Sends one C-APDU and receives one R-APDU (data + SW1 SW2). */
	dfi_err (*transmit)(void *ctx, const uint8_t *capdu, size_t clen,
	    uint8_t *rapdu, size_t rcap, size_t *rlen);
	/* Waits up to timeout_ms (-1: forever) for a card and connects to it.
	 * DFI_E_TIMEOUT when none came. */
	dfi_err (*wait_card)(void *ctx, int timeout_ms);
	/* Waits up to timeout_ms for the current card to leave. */
	dfi_err (*wait_removed)(void *ctx, int timeout_ms);
	/* A short name for logs ("pcsc:ACS ACR122U 00 00", "sim:card.img"). */
	const char *(*name)(void *ctx);
	void (*destroy)(void *ctx);
};

/* Takes ownership of ctx (destroyed on failure too: ops->destroy(ctx) runs
 * here then, and in dfi_transport_free otherwise). ops is borrowed and must
 * outlive the transport (usually a static table). */
dfi_err dfi_transport_new(dfi_transport **out, const struct dfi_transport_ops *ops, void *ctx);
void dfi_transport_free(dfi_transport *t);

/* Transmits, then enforces the tear rule above; counts APDUs and bytes. */
dfi_err dfi_transport_transmit(dfi_transport *t, const uint8_t *capdu, size_t clen,
    uint8_t *rapdu, size_t rcap, size_t *rlen);
/* The ops' waits. A PC/SC transport (pcsc.h) reports an unplugged reader
 * and an unreachable pcscd alike as DFI_E_READER and keeps waiting
 * possible (a later wait finds a restarted pcscd); dfi_pcsc_list_readers
 * tells the two apart (DFI_E_PCSC_NO_SERVICE). */
dfi_err dfi_transport_wait_card(dfi_transport *t, int timeout_ms);
dfi_err dfi_transport_wait_removed(dfi_transport *t, int timeout_ms);
/* The ops' name ("transport" when there is none): the ctx's string, so
 * valid until dfi_transport_free(t) (PC/SC's and the simulator's never
 * change before). */
const char *dfi_transport_name(const dfi_transport *t);

struct dfi_transport_stats {
	uint64_t apdus;     /* transmit calls */
	uint64_t bytes_out; /* C-APDU bytes */
	uint64_t bytes_in;  /* R-APDU bytes */
};
/* The counters since dfi_transport_new, copied into *out. */
void dfi_transport_stats(const dfi_transport *t, struct dfi_transport_stats *out);

/* A tag the caller puts on the APDUs it sends next, for whoever wraps the
 * transport to read (a benchmark attributing APDUs and card time): the
 * personalization engine sets the phase of its tap (enum dfi_perso_phase).
 * The transport never interprets it; 0 until set. */
void dfi_transport_set_phase(dfi_transport *t, unsigned phase);
unsigned dfi_transport_phase(const dfi_transport *t);

#ifdef __cplusplus
}
#endif
#endif
