/* EV1 secure messaging, after AuthenticateISO (0x1A) or AuthenticateAES
 * (0xAA): a CMAC with the session key over every command (code, header,
 * data) and every response (data, status), the IV chained through the
 * whole session; MACs on the wire are the first 8 bytes; enciphered data
 * carries a CRC32 over command code, header and data (responses: data and
 * status), zero padded, CBC with the chained IV. */
#include <string.h>

#include "desfire_int.h"

static dfi_err
cmac_chain(dfi_desfire *d, const uint8_t *msg, size_t len, uint8_t *mac)
{
	size_t bl = dfi_keytype_blocklen(d->skt);
	dfi_err e = dfi_cmac(d->skt, d->s->enc, d->s->iv, msg, len, mac);
	if (e == DFI_OK)
		memcpy(d->s->iv, mac, bl);
	return e;
}

dfi_err
df_ev1_wrap(dfi_desfire *d, uint8_t cmd, const uint8_t *hdr, size_t hdrlen, const uint8_t *data,
    size_t datalen, unsigned mode, dfi_wr *w)
{
	size_t bl = dfi_keytype_blocklen(d->skt);
	size_t mlen = 1 + hdrlen + datalen;
	size_t bufcap = mlen + 4 + bl;
	uint8_t mac[DFI_MAX_BLOCK];
	dfi_err e;

	/* In the session's scratch: cmd || hdr || data, then CRC32 and padding
	 * when enciphered (in place). */
	uint8_t *m = d->s->tx;
	if (bufcap > sizeof(d->s->tx))
		return DFI_E_INTERNAL; /* df_wrap bounds hdrlen and datalen */
	m[0] = cmd;
	if (hdrlen)
		memcpy(m + 1, hdr, hdrlen);
	if (datalen)
		memcpy(m + 1 + hdrlen, data, datalen);

	if (mode == DFI_DF_COMM_PLAIN || mode == DFI_DF_COMM_MAC || datalen == 0) {
		/* The CMAC is computed for every command to move the IV; it
		 * goes on the wire only for MACed data. */
		if ((e = cmac_chain(d, m, mlen, mac)) != DFI_OK)
			goto out;
		dfi_wr_bytes(w, data, datalen);
		if (mode == DFI_DF_COMM_MAC && datalen > 0)
			dfi_wr_bytes(w, mac, 8);
	} else {
		size_t plen = datalen;
		uint8_t *p = m + 1 + hdrlen;
		if (mode != DF_COMM_ENC_RAW) {
			uint32_t crc = dfi_crc32_desfire(m, mlen);
			for (int i = 0; i < 4; i++)
				p[plen++] = (uint8_t)(crc >> (8 * i));
		}
		while (plen % bl != 0)
			p[plen++] = 0x00;
		if ((e = dfi_cipher(d->skt, d->s->enc, 1, d->s->iv, p, p, plen)) != DFI_OK)
			goto out;
		dfi_wr_bytes(w, p, plen);
	}
	e = DFI_OK;
out:
	dfi_wipe(m, bufcap);
	dfi_wipe(mac, sizeof(mac));
	return e;
}

dfi_err
df_ev1_unwrap(dfi_desfire *d, unsigned mode, const uint8_t *resp, size_t len, uint8_t sw2,
    size_t expect, uint8_t *out, size_t cap, size_t *outlen)
{
	size_t bl = dfi_keytype_blocklen(d->skt);
	uint8_t mac[DFI_MAX_BLOCK];
	size_t n;
	dfi_err e;

	if (len > DF_RESP_MAX)
		return DFI_E_CARD_PROTOCOL;
	if (mode != DFI_DF_COMM_ENC) {
		if (len < 8)
			return DFI_E_CARD_PROTOCOL;
		n = len - 8;
		/* data || status, in the session's scratch */
		uint8_t *m = d->s->rx;
		if (n)
			memcpy(m, resp, n);
		m[n] = sw2;
		e = cmac_chain(d, m, n + 1, mac);
		dfi_wipe(m, n + 1);
		if (e != DFI_OK)
			return e;
		if (dfi_ct_memcmp(mac, resp + n, 8) != 0)
			return DFI_E_CARD_MAC;
		return df_copy_out(resp, n, out, cap, outlen);
	}
	if (len == 0 || len % bl != 0)
		return DFI_E_CARD_PROTOCOL;
	uint8_t *buf = d->s->rx;
	e = dfi_cipher(d->skt, d->s->enc, 0, d->s->iv, resp, buf, len);
	if (e == DFI_OK)
		e = df_take_crc_data(buf, len, bl, 4, 1, sw2, expect, out, cap, outlen);
	dfi_wipe(buf, len);
	return e;
}
