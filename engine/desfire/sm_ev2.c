/* EV2 secure messaging (MIFARE DESFire EV2 data sheet §9.1.9-§9.1.11,
 * AN12196 §5): MACt = the odd-indexed bytes of a CMAC with SesAuthMACKey
 * over Cmd || CmdCtr || TI || header || data (responses: RC || CmdCtr ||
 * TI || data); enciphered data padded 0x80 00.. and CBC-enciphered with
 * SesAuthENCKey from IV = E(A5 5A || TI || CmdCtr || 0^8) (responses
 * 5A A5); CmdCtr counts command/response pairs. */
#include <stdlib.h>
#include <string.h>

#include "df_internal.h"

static dfi_err
mact(dfi_desfire *d, const uint8_t *msg, size_t len, uint8_t out[8])
{
	uint8_t mac[16];
	dfi_err e = dfi_cmac(DFI_KT_AES128, d->s->mac, NULL, msg, len, mac);
	if (e == DFI_OK)
		for (int i = 0; i < 8; i++)
			out[i] = mac[2 * i + 1];
	dfi_wipe(mac, sizeof(mac));
	return e;
}

static dfi_err
ev2_iv(dfi_desfire *d, int response, uint8_t iv[16])
{
	memset(iv, 0, 16);
	iv[0] = response ? 0x5A : 0xA5;
	iv[1] = response ? 0xA5 : 0x5A;
	memcpy(iv + 2, d->ti, 4);
	iv[6] = (uint8_t)d->ctr;
	iv[7] = (uint8_t)(d->ctr >> 8);
	return dfi_cipher(DFI_KT_AES128, d->s->enc, 1, NULL, iv, iv, 16);
}

/* Cmd/RC || CmdCtr || TI || a || b */
static uint8_t *
mac_input(dfi_desfire *d, uint8_t code, const uint8_t *a, size_t alen, const uint8_t *b,
    size_t blen, size_t *len)
{
	uint8_t *m = malloc(7 + alen + blen);
	if (m == NULL)
		return NULL;
	m[0] = code;
	m[1] = (uint8_t)d->ctr;
	m[2] = (uint8_t)(d->ctr >> 8);
	memcpy(m + 3, d->ti, 4);
	if (alen)
		memcpy(m + 7, a, alen);
	if (blen)
		memcpy(m + 7 + alen, b, blen);
	*len = 7 + alen + blen;
	return m;
}

dfi_err
df_ev2_wrap(dfi_desfire *d, uint8_t cmd, const uint8_t *hdr, size_t hdrlen, const uint8_t *data,
    size_t datalen, int mode, dfi_wr *w)
{
	uint8_t t[8], iv[16];
	uint8_t *p = NULL, *m = NULL;
	size_t plen = 0, mlen;
	dfi_err e;

	if (mode == DFI_DF_COMM_PLAIN) {
		dfi_wr_bytes(w, data, datalen);
		return DFI_OK;
	}
	if ((mode == DFI_DF_COMM_ENC || mode == DF_COMM_ENC_RAW) && datalen > 0) {
		plen = (datalen / 16 + 1) * 16;
		p = calloc(1, plen);
		if (p == NULL)
			return DFI_E_NOMEM;
		memcpy(p, data, datalen);
		p[datalen] = 0x80;
		if ((e = ev2_iv(d, 0, iv)) != DFI_OK ||
		    (e = dfi_cipher(DFI_KT_AES128, d->s->enc, 1, iv, p, p, plen)) != DFI_OK)
			goto out;
		m = mac_input(d, cmd, hdr, hdrlen, p, plen, &mlen);
	} else {
		m = mac_input(d, cmd, hdr, hdrlen, data, datalen, &mlen);
	}
	e = DFI_E_NOMEM;
	if (m == NULL)
		goto out;
	if ((e = mact(d, m, mlen, t)) != DFI_OK)
		goto out;
	if (p != NULL)
		dfi_wr_bytes(w, p, plen);
	else
		dfi_wr_bytes(w, data, datalen);
	dfi_wr_bytes(w, t, 8);
out:
	if (p != NULL) {
		dfi_wipe(p, plen);
		free(p);
	}
	free(m);
	return e;
}

dfi_err
df_ev2_unwrap(dfi_desfire *d, int mode, const uint8_t *resp, size_t len, uint8_t sw2,
    uint8_t *out, size_t cap, size_t *outlen)
{
	uint8_t t[8], iv[16];
	size_t mlen, n;
	dfi_err e;

	if (d->ctr == 0xFFFF)
		return DFI_E_CARD_PROTOCOL; /* the card refuses to wrap too */
	d->ctr++;
	if (mode == DFI_DF_COMM_PLAIN) {
		return df_copy_out(resp, len, out, cap, outlen);
	}
	if (len < 8)
		return DFI_E_CARD_PROTOCOL;
	n = len - 8;
	uint8_t *m = mac_input(d, sw2, resp, n, NULL, 0, &mlen);
	if (m == NULL)
		return DFI_E_NOMEM;
	e = mact(d, m, mlen, t);
	free(m);
	if (e != DFI_OK)
		return e;
	if (dfi_ct_memcmp(t, resp + n, 8) != 0)
		return DFI_E_CARD_MAC;
	if (mode == DFI_DF_COMM_MAC || n == 0) {
		return df_copy_out(resp, n, out, cap, outlen);
	}
	if (n % 16 != 0)
		return DFI_E_CARD_PROTOCOL;
	uint8_t *buf = malloc(n);
	if (buf == NULL)
		return DFI_E_NOMEM;
	if ((e = ev2_iv(d, 1, iv)) == DFI_OK)
		e = dfi_cipher(DFI_KT_AES128, d->s->enc, 0, iv, resp, buf, n);
	if (e == DFI_OK) {
		/* Strip 80 00..: the padding is always present, < 1 block + 1. */
		size_t k = n;
		while (k > 0 && n - k < 15 && buf[k - 1] == 0x00)
			k--;
		if (k == 0 || buf[k - 1] != 0x80)
			e = DFI_E_CARD_PROTOCOL;
		else
			e = df_copy_out(buf, k - 1, out, cap, outlen);
	}
	dfi_wipe(buf, n);
	free(buf);
	return e;
}
