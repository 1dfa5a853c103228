/* D40 secure messaging, after the legacy Authenticate (0x0A): 4-byte MACs
 * from a DES/3DES CBC over the data, CRC16 (CRC_A) over the data, and the
 * "send mode" that deciphers outgoing blocks; the IV is zero for every
 * command. Plain commands and responses carry nothing. */
#include <string.h>

#include "desfire_int.h"

/* Outgoing: y_i = D(x_i XOR y_{i-1}), y_{-1} = 0. */
static dfi_err
send_decipher(dfi_desfire *d, uint8_t *buf, size_t len)
{
	uint8_t prev[8] = { 0 };
	for (size_t off = 0; off < len; off += 8) {
		for (size_t i = 0; i < 8; i++)
			buf[off + i] ^= prev[i];
		dfi_err e = dfi_cipher(d->skt, d->s->enc, 0, NULL, buf + off, buf + off, 8);
		if (e != DFI_OK)
			return e;
		memcpy(prev, buf + off, 8);
	}
	return DFI_OK;
}

/* The zero-padded copy goes to buf (cap bytes: the session's scratch of
 * the direction) and is wiped before returning. */
static dfi_err
mac4(dfi_desfire *d, const uint8_t *data, size_t len, uint8_t *buf, size_t cap, uint8_t mac[4])
{
	size_t padded = (len + 7) / 8 * 8;
	uint8_t iv[8] = { 0 };
	if (padded > cap)
		return DFI_E_INTERNAL; /* callers bound len */
	if (len > 0)
		memcpy(buf, data, len);
	memset(buf + len, 0, padded - len);
	dfi_err e = dfi_cipher(d->skt, d->s->enc, 1, iv, buf, buf, padded);
	if (e == DFI_OK)
		memcpy(mac, iv, 4);
	dfi_wipe(buf, padded);
	return e;
}

dfi_err
df_d40_wrap(dfi_desfire *d, const uint8_t *data, size_t datalen, unsigned mode, dfi_wr *w)
{
	dfi_err e = DFI_OK;

	if (dfi_keytype_blocklen(d->skt) != 8)
		return DFI_E_INTERNAL;
	if (mode == DFI_DF_COMM_PLAIN || datalen == 0) {
		dfi_wr_bytes(w, data, datalen);
		return DFI_OK;
	}
	if (mode == DFI_DF_COMM_MAC) {
		uint8_t mac[4];
		if ((e = mac4(d, data, datalen, d->s->tx, sizeof(d->s->tx), mac)) != DFI_OK)
			return e;
		dfi_wr_bytes(w, data, datalen);
		dfi_wr_bytes(w, mac, 4);
		return DFI_OK;
	}
	/* Enciphered: data || CRC16(data) (not for a prepared cryptogram),
	 * zero padded to the block. */
	size_t crclen = mode == DF_COMM_ENC_RAW ? 0 : 2;
	size_t padded = (datalen + crclen + 7) / 8 * 8;
	uint8_t *buf = d->s->tx;
	if (padded > sizeof(d->s->tx))
		return DFI_E_INTERNAL; /* df_wrap bounds datalen */
	memcpy(buf, data, datalen);
	memset(buf + datalen, 0, padded - datalen);
	if (crclen) {
		uint16_t crc = dfi_crc16_desfire(data, datalen);
		buf[datalen] = (uint8_t)crc;
		buf[datalen + 1] = (uint8_t)(crc >> 8);
	}
	if ((e = send_decipher(d, buf, padded)) == DFI_OK)
		dfi_wr_bytes(w, buf, padded);
	dfi_wipe(buf, padded);
	return e;
}

dfi_err
df_d40_unwrap(dfi_desfire *d, unsigned mode, const uint8_t *resp, size_t len, size_t expect,
    uint8_t *out, size_t cap, size_t *outlen)
{
	dfi_err e;
	size_t n = len;

	if (mode == DFI_DF_COMM_PLAIN || (mode == DFI_DF_COMM_ENC && len == 0 && expect == SIZE_MAX)) {
		return df_copy_out(resp, len, out, cap, outlen);
	}
	if (len > DF_RESP_MAX)
		return DFI_E_CARD_PROTOCOL;
	if (mode == DFI_DF_COMM_MAC) {
		uint8_t mac[4];
		if (len < 4)
			return DFI_E_CARD_PROTOCOL;
		n = len - 4;
		if ((e = mac4(d, resp, n, d->s->rx, sizeof(d->s->rx), mac)) != DFI_OK)
			return e;
		if (dfi_ct_memcmp(mac, resp + n, 4) != 0)
			return DFI_E_CARD_MAC;
		return df_copy_out(resp, n, out, cap, outlen);
	}
	/* Enciphered: plain CBC decryption from a zero IV. */
	if (len == 0 || len % 8 != 0)
		return DFI_E_CARD_PROTOCOL;
	uint8_t *buf = d->s->rx;
	uint8_t iv[8] = { 0 };
	e = dfi_cipher(d->skt, d->s->enc, 0, iv, resp, buf, len);
	if (e == DFI_OK)
		e = df_take_crc_data(buf, len, 8, 2, 0, 0, expect, out, cap, outlen);
	dfi_wipe(buf, len);
	return e;
}
