/*
 * dfissue — PC/SC-Lite readers as dfi_transport links.
 *
 * Each transport owns its own PC/SC context (one per reader thread), so
 * transports may be used from different threads at once. A card that
 * leaves mid-command, a reader that disappears and a pcscd restart all
 * surface as clear errors (DFI_E_CARD_TORN, DFI_E_READER); the transport
 * reconnects on the next dfi_transport_wait_card(). While pcscd is
 * unreachable the waits say DFI_E_READER too, not DFI_E_PCSC_NO_SERVICE:
 * the CLI's stations wait on DFI_E_READER for the reader or pcscd to come
 * back and ask dfi_pcsc_list_readers which of the two is gone.
 */
#ifndef DFISSUE_PCSC_H
#define DFISSUE_PCSC_H

#include <stddef.h>
#include <stdint.h>

#include "dfissue/error.h"
#include "dfissue/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dfi_pcsc_reader {
	char *name;
	int card_present;
	uint8_t atr[33];
	size_t atr_len;
};

/* Lists the readers pcscd knows, with card presence and ATR. The caller
 * frees with dfi_pcsc_readers_free. Zero readers is DFI_OK with *n = 0;
 * pcscd not running (or its socket unreachable) is DFI_E_PCSC_NO_SERVICE,
 * another PC/SC failure DFI_E_READER. */
dfi_err dfi_pcsc_list_readers(struct dfi_pcsc_reader **out, size_t *n);
void dfi_pcsc_readers_free(struct dfi_pcsc_reader *r, size_t n);

/* Whether pcscd knows the reader named exactly `reader`: DFI_OK, or
 * DFI_E_UNKNOWN_READER, or dfi_pcsc_list_readers()'s error. Unless that
 * failed, *readers and *n hold the list (to name the readers there are;
 * the caller frees it with dfi_pcsc_readers_free). */
dfi_err dfi_pcsc_reader_check(const char *reader, struct dfi_pcsc_reader **readers, size_t *n);

/* A transport on the reader named exactly `reader`. Nothing is connected
 * until dfi_transport_wait_card(). */
dfi_err dfi_pcsc_transport_new(dfi_transport **out, const char *reader);

#ifdef __cplusplus
}
#endif
#endif
