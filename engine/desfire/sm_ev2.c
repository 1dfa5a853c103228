/* EV2 secure messaging (MIFARE DESFire EV2 data sheet §9.1.9-§9.1.11,
 * AN12196 §5): MACt = the odd-indexed bytes of a CMAC with SesAuthMACKey
 * over Cmd || CmdCtr || TI || header || data (responses: RC || CmdCtr ||
 * TI || data); enciphered data padded 0x80 00.. and CBC-enciphered with
 * SesAuthENCKey from IV = E(A5 5A || TI || CmdCtr || 0^8) (responses
 * 5A A5); CmdCtr counts command/response pairs.
 * In LRP mode (AN12304; DESFire EV3, NTAG 424 DNA) the layout is the same;
 * the CMAC is CMAC_LRP with SesAuthMACKey and the cipher is LRICB with
 * SesAuthENCKey and the session's EncCtr, which counts every block
 * enciphered or deciphered, both ways, from the authentication on. */
#include <string.h>

#include "desfire_int.h"

static dfi_err
mact(dfi_desfire *d, const uint8_t *msg, size_t len, uint8_t out[8])
{
	uint8_t mac[16];
	dfi_err e = d->lrp ? dfi_lrp_cmac(&d->s->lmac, msg, len, mac) :
	    dfi_cmac(DFI_KT_AES128, d->s->mac, NULL, msg, len, mac);
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

/* Enciphers (response: deciphers) n bytes in place (out may be buf) as
 * the session's mode says. */
static dfi_err
ev2_crypt(dfi_desfire *d, int response, const uint8_t *in, uint8_t *out, size_t n)
{
	uint8_t iv[16];
	if (d->lrp)
		return dfi_lrp_cipher(&d->s->lenc, !response, d->lctr, sizeof(d->lctr), in, out, n);
	dfi_err e = ev2_iv(d, response, iv);
	if (e == DFI_OK)
		e = dfi_cipher(DFI_KT_AES128, d->s->enc, !response, iv, in, out, n);
	return e;
}

/* Cmd/RC || CmdCtr || TI || a into m; returns its length. */
static size_t
mac_input(const dfi_desfire *d, uint8_t *m, uint8_t code, const uint8_t *a, size_t alen)
{
	m[0] = code;
	m[1] = (uint8_t)d->ctr;
	m[2] = (uint8_t)(d->ctr >> 8);
	memcpy(m + 3, d->ti, 4);
	if (alen)
		memcpy(m + 7, a, alen);
	return 7 + alen;
}

dfi_err
df_ev2_wrap(dfi_desfire *d, uint8_t cmd, const uint8_t *hdr, size_t hdrlen, const uint8_t *data,
    size_t datalen, unsigned mode, dfi_wr *w)
{
	uint8_t t[8];
	size_t plen = datalen, off;
	int enc = (mode == DFI_DF_COMM_ENC || mode == DF_COMM_ENC_RAW) && datalen > 0;
	dfi_err e;

	if (mode == DFI_DF_COMM_PLAIN) {
		dfi_wr_bytes(w, data, datalen);
		return DFI_OK;
	}
	if (enc)
		plen = (datalen / 16 + 1) * 16;
	/* The MAC input, in the session's scratch: Cmd || CmdCtr || TI || hdr
	 * || data, the data padded and enciphered in place when enciphered,
	 * so that what is MACed is what goes on the wire. */
	uint8_t *m = d->s->tx;
	if (7 + hdrlen + plen > sizeof(d->s->tx))
		return DFI_E_INTERNAL; /* df_wrap bounds hdrlen and datalen */
	off = mac_input(d, m, cmd, hdr, hdrlen);
	uint8_t *p = m + off;
	if (datalen)
		memcpy(p, data, datalen);
	if (enc) {
		memset(p + datalen, 0, plen - datalen);
		p[datalen] = 0x80;
		if ((e = ev2_crypt(d, 0, p, p, plen)) != DFI_OK)
			goto out;
	}
	if ((e = mact(d, m, off + plen, t)) != DFI_OK)
		goto out;
	dfi_wr_bytes(w, p, plen);
	dfi_wr_bytes(w, t, 8);
out:
	dfi_wipe(m, off + plen);
	return e;
}

dfi_err
df_ev2_unwrap(dfi_desfire *d, unsigned mode, const uint8_t *resp, size_t len, uint8_t sw2,
    uint8_t *out, size_t cap, size_t *outlen)
{
	uint8_t t[8];
	size_t mlen, n;
	dfi_err e;

	if (d->ctr == 0xFFFF)
		return DFI_E_CARD_PROTOCOL; /* the card refuses to wrap too */
	d->ctr++;
	if (mode == DFI_DF_COMM_PLAIN) {
		return df_copy_out(resp, len, out, cap, outlen);
	}
	if (len < 8 || len > DF_RESP_MAX)
		return DFI_E_CARD_PROTOCOL;
	n = len - 8;
	/* The session's scratch holds the MAC input, then the plaintext. */
	uint8_t *buf = d->s->rx;
	mlen = mac_input(d, buf, sw2, resp, n);
	e = mact(d, buf, mlen, t);
	dfi_wipe(buf, mlen);
	if (e != DFI_OK)
		return e;
	if (dfi_ct_memcmp(t, resp + n, 8) != 0)
		return DFI_E_CARD_MAC;
	if (mode == DFI_DF_COMM_MAC || n == 0) {
		return df_copy_out(resp, n, out, cap, outlen);
	}
	if (n % 16 != 0)
		return DFI_E_CARD_PROTOCOL;
	e = ev2_crypt(d, 1, resp, buf, n);
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
	return e;
}
