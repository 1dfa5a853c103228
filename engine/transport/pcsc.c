/*
 * PC/SC-Lite transport. The facts that shape it (measured with pcscd 1.9.9
 * and vpcd): when a card leaves mid-command SCardTransmit may return
 * success with 0 bytes (the generic transport turns that into a tear),
 * the next call fails with SCARD_E_NOT_TRANSACTED, the removal event comes
 * ~400 ms later, and after re-insertion the old handle answers
 * SCARD_W_REMOVED_CARD until reconnected. So: after any card error the
 * handle is dropped and wait_card() connects afresh. A reader that goes
 * away or a pcscd that restarts during a command is a tear too; while the
 * reader or pcscd is gone, waits report DFI_E_READER and a later wait
 * establishes a new context (pcscd restarted) and finds the reader again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>

#include "dfissue/pcsc.h"
#include "core/clock.h"

/* SCardConnect retries while another application holds the card. */
#define BUSY_RETRIES 20
#define BUSY_PAUSE_MS 100
/* Longer than pcscd's power-off grace period and one presence poll. */
#define GRACE_MS 1500

struct pcsc {
	SCARDCONTEXT ctx;
	int have_ctx;
	SCARDHANDLE card;
	int have_card;
	DWORD proto;
	char *reader;
	char label[160];
};

static dfi_err
map_rv(LONG rv)
{
	switch (rv) {
	case SCARD_S_SUCCESS:
		return DFI_OK;
	case SCARD_W_REMOVED_CARD:
	case SCARD_W_RESET_CARD:
	case SCARD_W_UNPOWERED_CARD:
	case SCARD_W_UNRESPONSIVE_CARD:
	case SCARD_E_NO_SMARTCARD:
	case SCARD_E_NOT_TRANSACTED:
	case SCARD_F_COMM_ERROR:
	case SCARD_E_COMM_DATA_LOST:
		return DFI_E_CARD_TORN;
	case SCARD_E_READER_UNAVAILABLE:
	case SCARD_E_UNKNOWN_READER:
	case SCARD_E_NO_SERVICE:
	case SCARD_E_SERVICE_STOPPED:
	case SCARD_E_NO_READERS_AVAILABLE:
	case SCARD_E_INVALID_HANDLE:
		return DFI_E_READER;
	case SCARD_E_TIMEOUT:
		return DFI_E_TIMEOUT;
	case SCARD_E_NO_MEMORY:
		return DFI_E_NOMEM;
	case SCARD_E_CANCELLED:
		return DFI_E_CANCELLED;
	case SCARD_E_SHARING_VIOLATION:
		return DFI_E_READER_BUSY;
	default:
		return DFI_E_TRANSPORT;
	}
}

static void
drop_card(struct pcsc *p)
{
	if (p->have_card) {
		(void)SCardDisconnect(p->card, SCARD_LEAVE_CARD);
		p->have_card = 0;
	}
}

static void
drop_ctx(struct pcsc *p)
{
	drop_card(p);
	if (p->have_ctx) {
		(void)SCardReleaseContext(p->ctx);
		p->have_ctx = 0;
	}
}

/* A pcscd restart invalidates the context: establish a new one lazily. */
static dfi_err
ensure_ctx(struct pcsc *p)
{
	if (p->have_ctx && SCardIsValidContext(p->ctx) == SCARD_S_SUCCESS)
		return DFI_OK;
	drop_ctx(p);
	LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &p->ctx);
	if (rv != SCARD_S_SUCCESS)
		return DFI_E_READER;
	p->have_ctx = 1;
	return DFI_OK;
}

static dfi_err
pcsc_transmit(void *ctx, const uint8_t *capdu, size_t clen, uint8_t *rapdu, size_t rcap, size_t *rlen)
{
	struct pcsc *p = ctx;
	if (!p->have_card)
		return DFI_E_NO_CARD;
	const SCARD_IO_REQUEST *pci = p->proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
	DWORD n = (DWORD)rcap;
	LONG rv = SCardTransmit(p->card, pci, capdu, (DWORD)clen, NULL, rapdu, &n);
	if (rv != SCARD_S_SUCCESS) {
		/* Whatever failed (the card left, the reader was unplugged,
		 * pcscd restarted and answers with anything from
		 * SCARD_E_NO_SERVICE to SCARD_F_UNKNOWN_ERROR), the command may
		 * or may not have reached the card: its fate is unknown, so it
		 * is a tear. The handle is stale; a context that may have died
		 * with pcscd is re-established by the next wait_card(). */
		drop_card(p);
		if (rv != SCARD_W_REMOVED_CARD && rv != SCARD_W_RESET_CARD &&
		    rv != SCARD_E_NO_SMARTCARD && rv != SCARD_E_NOT_TRANSACTED)
			drop_ctx(p);
		return DFI_E_CARD_TORN;
	}
	if (n > rcap)
		return DFI_E_TRANSPORT;
	*rlen = n;
	if (n < 2)
		drop_card(p); /* a tear: the handle is stale from now on */
	return DFI_OK;
}

/* Waits until the reader's state has (want_present) or lacks a card. */
static dfi_err
wait_state(struct pcsc *p, int want_present, int timeout_ms)
{
	long deadline = timeout_ms < 0 ? -1 : dfi_now_ms() + timeout_ms;
	SCARD_READERSTATE rs;
	memset(&rs, 0, sizeof(rs));
	rs.szReader = p->reader;
	rs.dwCurrentState = SCARD_STATE_UNAWARE;
	for (;;) {
		dfi_err e = ensure_ctx(p);
		if (e != DFI_OK)
			return e;
		/* Short slices so a pcscd restart or a deadline is noticed. */
		DWORD slice = 500;
		if (deadline >= 0) {
			long left = deadline - dfi_now_ms();
			if (left <= 0)
				return DFI_E_TIMEOUT;
			if (left < (long)slice)
				slice = (DWORD)left;
		}
		LONG rv = SCardGetStatusChange(p->ctx, slice, &rs, 1);
		if (rv == SCARD_E_TIMEOUT)
			continue;
		if (rv == SCARD_E_NO_SERVICE || rv == SCARD_E_SERVICE_STOPPED) {
			drop_ctx(p);
			return DFI_E_READER;
		}
		if (rv != SCARD_S_SUCCESS)
			return map_rv(rv);
		DWORD st = rs.dwEventState;
		if (st & (SCARD_STATE_UNKNOWN | SCARD_STATE_UNAVAILABLE))
			return DFI_E_READER;
		int present = (st & SCARD_STATE_PRESENT) && !(st & SCARD_STATE_MUTE);
		if (present == want_present)
			return DFI_OK;
		rs.dwCurrentState = st & ~(DWORD)SCARD_STATE_CHANGED;
	}
}

static dfi_err
pcsc_wait_card(void *ctx, int timeout_ms)
{
	struct pcsc *p = ctx;
	drop_card(p);
	dfi_err e = wait_state(p, 1, timeout_ms);
	if (e != DFI_OK)
		return e;
	/* Exclusive: nothing else may talk to a card being personalized.
	 * Desktop middleware often connects (shared) for a moment to every
	 * new card: retry briefly before reporting the card busy. */
	LONG rv = SCARD_E_SHARING_VIOLATION;
	int busy = 0;
	for (int i = 0; i < BUSY_RETRIES && rv == SCARD_E_SHARING_VIOLATION; i++) {
		if (i > 0) {
			struct timespec ts = { 0, BUSY_PAUSE_MS * 1000000L };
			nanosleep(&ts, NULL);
		}
		rv = SCardConnect(p->ctx, p->reader, SCARD_SHARE_EXCLUSIVE,
		    SCARD_PROTOCOL_T1 | SCARD_PROTOCOL_T0, &p->card, &p->proto);
		busy |= rv == SCARD_E_SHARING_VIOLATION;
	}
	if (rv == SCARD_S_SUCCESS && busy) {
		/* pcscd powers a card down a grace period after its last handle
		 * closes; a connection made while the other application was
		 * disconnecting can have the power cut under it (seen with pcscd
		 * 1.9.9: the card loses its session mid-personalization). Let
		 * the grace period pass with nobody connected, then connect
		 * again: pcscd powers the card up cleanly. */
		(void)SCardDisconnect(p->card, SCARD_LEAVE_CARD);
		struct timespec ts = { GRACE_MS / 1000, (GRACE_MS % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		rv = SCardConnect(p->ctx, p->reader, SCARD_SHARE_EXCLUSIVE,
		    SCARD_PROTOCOL_T1 | SCARD_PROTOCOL_T0, &p->card, &p->proto);
	}
	if (rv != SCARD_S_SUCCESS)
		return map_rv(rv);
	p->have_card = 1;
	return DFI_OK;
}

static dfi_err
pcsc_wait_removed(void *ctx, int timeout_ms)
{
	struct pcsc *p = ctx;
	drop_card(p);
	return wait_state(p, 0, timeout_ms);
}

static const char *
pcsc_name(void *ctx)
{
	struct pcsc *p = ctx;
	return p->label;
}

static void
pcsc_destroy(void *ctx)
{
	struct pcsc *p = ctx;
	drop_ctx(p);
	free(p->reader);
	free(p);
}

static const struct dfi_transport_ops pcsc_ops = {
	.transmit = pcsc_transmit,
	.wait_card = pcsc_wait_card,
	.wait_removed = pcsc_wait_removed,
	.name = pcsc_name,
	.destroy = pcsc_destroy,
};

dfi_err
dfi_pcsc_reader_check(const char *reader, struct dfi_pcsc_reader **readers, size_t *n)
{
	if (reader == NULL || readers == NULL || n == NULL)
		return DFI_E_INVALID_ARG;
	dfi_err e = dfi_pcsc_list_readers(readers, n);
	if (e != DFI_OK)
		return e;
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*readers)[i].name, reader) == 0)
			return DFI_OK;
	return DFI_E_UNKNOWN_READER;
}

dfi_err
dfi_pcsc_transport_new(dfi_transport **out, const char *reader)
{
	if (out == NULL || reader == NULL || *reader == '\0')
		return DFI_E_INVALID_ARG;
	struct pcsc *p = calloc(1, sizeof(*p));
	if (p == NULL || (p->reader = strdup(reader)) == NULL) {
		free(p);
		return DFI_E_NOMEM;
	}
	snprintf(p->label, sizeof(p->label), "pcsc:%s", reader);
	return dfi_transport_new(out, &pcsc_ops, p);
}

void
dfi_pcsc_readers_free(struct dfi_pcsc_reader *r, size_t n)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(r[i].name);
	free(r);
}

dfi_err
dfi_pcsc_list_readers(struct dfi_pcsc_reader **out, size_t *n)
{
	SCARDCONTEXT ctx;
	DWORD len = 0;
	char *names = NULL;
	struct dfi_pcsc_reader *r = NULL;
	SCARD_READERSTATE *rs = NULL;
	size_t count = 0;
	dfi_err e;

	if (out == NULL || n == NULL)
		return DFI_E_INVALID_ARG;
	*out = NULL;
	*n = 0;
	/* pcsc-lite answers SCARD_E_NO_SERVICE when its socket is absent or
	 * refuses (pcscd stopped, or not started by its systemd socket). */
	LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
	if (rv != SCARD_S_SUCCESS)
		return rv == SCARD_E_NO_SERVICE || rv == SCARD_E_SERVICE_STOPPED ?
		    DFI_E_PCSC_NO_SERVICE : DFI_E_READER;
	rv = SCardListReaders(ctx, NULL, NULL, &len);
	if (rv == SCARD_E_NO_READERS_AVAILABLE) {
		e = DFI_OK;
		goto out;
	}
	if (rv == SCARD_E_NO_SERVICE || rv == SCARD_E_SERVICE_STOPPED) {
		e = DFI_E_PCSC_NO_SERVICE;
		goto out;
	}
	if (rv != SCARD_S_SUCCESS || len == 0) {
		e = map_rv(rv);
		goto out;
	}
	if ((names = calloc(1, (size_t)len + 1)) == NULL) {
		e = DFI_E_NOMEM;
		goto out;
	}
	rv = SCardListReaders(ctx, NULL, names, &len);
	if (rv == SCARD_E_NO_READERS_AVAILABLE) {
		e = DFI_OK;
		goto out;
	}
	if (rv != SCARD_S_SUCCESS) {
		e = map_rv(rv);
		goto out;
	}
	/* A multi-string: names separated by NUL, ended by an empty name. */
	for (const char *s = names; s < names + len && *s; s += strlen(s) + 1)
		count++;
	if (count == 0) {
		e = DFI_OK;
		goto out;
	}
	r = calloc(count, sizeof(*r));
	rs = calloc(count, sizeof(*rs));
	if (r == NULL || rs == NULL) {
		e = DFI_E_NOMEM;
		goto out;
	}
	size_t i = 0;
	for (const char *s = names; i < count; s += strlen(s) + 1, i++) {
		if ((r[i].name = strdup(s)) == NULL) {
			e = DFI_E_NOMEM;
			goto out;
		}
		rs[i].szReader = r[i].name;
		rs[i].dwCurrentState = SCARD_STATE_UNAWARE;
	}
	rv = SCardGetStatusChange(ctx, 0, rs, (DWORD)count);
	if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT) {
		e = map_rv(rv);
		goto out;
	}
	for (i = 0; i < count; i++) {
		r[i].card_present = (rs[i].dwEventState & SCARD_STATE_PRESENT) &&
		    !(rs[i].dwEventState & SCARD_STATE_MUTE);
		size_t al = rs[i].cbAtr;
		if (al > sizeof(r[i].atr))
			al = sizeof(r[i].atr);
		memcpy(r[i].atr, rs[i].rgbAtr, al);
		r[i].atr_len = r[i].card_present ? al : 0;
	}
	*out = r;
	*n = count;
	r = NULL;
	count = 0;
	e = DFI_OK;
out:
	dfi_pcsc_readers_free(r, count);
	free(rs);
	free(names);
	SCardReleaseContext(ctx);
	return e;
}
