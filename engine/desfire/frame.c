/* ISO/IEC 7816-4 wrapping of native commands and 0xAF frame chaining. */
#include <string.h>

#include "desfire_int.h"

dfi_err
df_frame(dfi_desfire *d, uint8_t ins, const uint8_t *data, size_t len, uint8_t *out,
    size_t cap, size_t *outlen, uint8_t *sw2)
{
	uint8_t capdu[DFI_APDU_MAX], rapdu[DFI_APDU_MAX];
	size_t rlen = 0, n = 0;

	if (len > 255)
		return DFI_E_INVALID_ARG;
	capdu[n++] = 0x90;
	capdu[n++] = ins;
	capdu[n++] = 0x00;
	capdu[n++] = 0x00;
	if (len > 0) {
		capdu[n++] = (uint8_t)len;
		memcpy(capdu + n, data, len);
		n += len;
	}
	capdu[n++] = 0x00;
	dfi_err e = dfi_transport_transmit(d->t, capdu, n, rapdu, sizeof(rapdu), &rlen);
	dfi_wipe(capdu, sizeof(capdu));
	if (e != DFI_OK) {
		/* The card may have lost power: it has forgotten the session
		 * and, once back, starts at the PICC level. */
		df_drop_auth(d);
		d->aid = 0;
		return e;
	}
	if (rlen < 2)
		return DFI_E_CARD_TORN;
	if (rapdu[rlen - 2] != 0x91) {
		df_drop_auth(d);
		return DFI_E_CARD_PROTOCOL;
	}
	*sw2 = rapdu[rlen - 1];
	d->last_sw2 = *sw2;
	if (rlen - 2 > cap) {
		df_drop_auth(d);
		return DFI_E_CARD_PROTOCOL;
	}
	if (rlen > 2)
		memcpy(out, rapdu, rlen - 2);
	*outlen = rlen - 2;
	dfi_wipe(rapdu, sizeof(rapdu));
	return DFI_OK;
}

dfi_err
df_xfer(dfi_desfire *d, uint8_t cmd, const uint8_t *body, size_t bodylen, uint8_t *out,
    size_t cap, size_t *outlen, uint8_t *sw2)
{
	size_t sent = 0, got = 0, n;
	uint8_t ins = cmd;
	dfi_err e;

	*outlen = 0;
	/* Command frames: every one but the last must be answered 91 AF with
	 * no data. */
	for (;;) {
		size_t chunk = bodylen - sent;
		if (chunk > DFI_DF_FRAME_DATA)
			chunk = DFI_DF_FRAME_DATA;
		e = df_frame(d, ins, body + sent, chunk, out, cap, &n, sw2);
		if (e != DFI_OK)
			return e;
		sent += chunk;
		ins = 0xAF;
		if (sent == bodylen)
			break;
		if (*sw2 == 0x00) {
			/* Success before it had the whole command: not a card
			 * we can trust with the rest of the session. */
			df_drop_auth(d);
			return DFI_E_CARD_PROTOCOL;
		}
		if (*sw2 != 0xAF)
			return DFI_OK; /* the card stopped us early: an error status */
		if (n != 0) {
			df_drop_auth(d);
			return DFI_E_CARD_PROTOCOL;
		}
	}
	got = n;
	/* Response frames, bounded: a card answering 91 AF for ever must not
	 * keep us here. */
	for (unsigned frames = 0; *sw2 == 0xAF; frames++) {
		if (frames > DFI_DF_MAX_DATA / 8) {
			df_drop_auth(d);
			return DFI_E_CARD_PROTOCOL;
		}
		e = df_frame(d, 0xAF, NULL, 0, out + got, cap - got, &n, sw2);
		if (e != DFI_OK)
			return e;
		got += n;
	}
	*outlen = got;
	return DFI_OK;
}
