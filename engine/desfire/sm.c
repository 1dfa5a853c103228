/* Secure messaging dispatch and the command transaction. */
#include <stdlib.h>
#include <string.h>

#include "desfire_int.h"

static int
mode_ok(unsigned mode)
{
	return mode == DFI_DF_COMM_PLAIN || mode == DFI_DF_COMM_MAC ||
	    mode == DFI_DF_COMM_ENC || mode == DF_COMM_ENC_RAW || mode == DF_COMM_MGMT ||
	    mode == 2;
}

static unsigned
mgmt_mode(const dfi_desfire *d)
{
	return d->scheme == DFI_DF_SCHEME_EV2 ? DFI_DF_COMM_MAC : DFI_DF_COMM_PLAIN;
}

dfi_err
df_wrap(dfi_desfire *d, uint8_t cmd, const uint8_t *hdr, size_t hdrlen, const uint8_t *data,
    size_t datalen, unsigned mode, uint8_t *out, size_t cap, size_t *outlen)
{
	dfi_wr w;
	dfi_err e = DFI_OK;

	if (!mode_ok(mode) || (hdrlen > 0 && hdr == NULL) || (datalen > 0 && data == NULL) ||
	    hdrlen > DFI_DF_MAX_DATA || datalen > DFI_DF_MAX_DATA)
		return DFI_E_INVALID_ARG;
	if (mode == 2)
		mode = DFI_DF_COMM_PLAIN;
	if (mode == DF_COMM_MGMT)
		mode = mgmt_mode(d);
	dfi_wr_init(&w, out, cap);
	dfi_wr_bytes(&w, hdr, hdrlen);
	switch (d->scheme) {
	case DFI_DF_SCHEME_NONE:
		/* Unauthenticated, everything travels plain (free access). */
		dfi_wr_bytes(&w, data, datalen);
		break;
	case DFI_DF_SCHEME_D40:
		e = df_d40_wrap(d, data, datalen, mode, &w);
		break;
	case DFI_DF_SCHEME_EV1:
		e = df_ev1_wrap(d, cmd, hdr, hdrlen, data, datalen, mode, &w);
		break;
	case DFI_DF_SCHEME_EV2:
		e = df_ev2_wrap(d, cmd, hdr, hdrlen, data, datalen, mode, &w);
		break;
	}
	if (e == DFI_OK)
		e = w.err;
	if (e != DFI_OK)
		return e;
	*outlen = w.len;
	return DFI_OK;
}

dfi_err
df_unwrap(dfi_desfire *d, unsigned mode, const uint8_t *resp, size_t len, uint8_t sw2, size_t expect,
    uint8_t *out, size_t cap, size_t *outlen)
{
	if (!mode_ok(mode) || mode == DF_COMM_ENC_RAW || (len > 0 && resp == NULL) ||
	    outlen == NULL)
		return DFI_E_INVALID_ARG;
	if (mode == 2)
		mode = DFI_DF_COMM_PLAIN;
	if (mode == DF_COMM_MGMT)
		mode = mgmt_mode(d);
	switch (d->scheme) {
	case DFI_DF_SCHEME_NONE:
		break;
	case DFI_DF_SCHEME_D40:
		return df_d40_unwrap(d, mode, resp, len, expect, out, cap, outlen);
	case DFI_DF_SCHEME_EV1:
		return df_ev1_unwrap(d, mode, resp, len, sw2, expect, out, cap, outlen);
	case DFI_DF_SCHEME_EV2:
		return df_ev2_unwrap(d, mode, resp, len, sw2, out, cap, outlen);
	}
	return df_copy_out(resp, len, out, cap, outlen);
}

dfi_err
df_copy_out(const uint8_t *p, size_t n, uint8_t *out, size_t cap, size_t *outlen)
{
	if (n > cap)
		return DFI_E_CARD_PROTOCOL;
	if (n > 0)
		memcpy(out, p, n);
	*outlen = n;
	return DFI_OK;
}

dfi_err
df_find_crc(const uint8_t *p, size_t len, size_t bl, size_t crclen, int with_sw, uint8_t sw2,
    size_t expect, size_t *n)
{
	size_t lo = 0, hi = len;
	int found = 0;

	if (len < crclen || bl == 0)
		return DFI_E_CARD_MAC;
	if (expect != SIZE_MAX) {
		if (expect > len - crclen)
			return DFI_E_CARD_PROTOCOL;
		lo = hi = expect;
	} else {
		hi = len - crclen;
		lo = hi >= bl ? hi - bl + 1 : 0;
	}
	/* Shortest candidate first: a CRC16 over data || its own CRC is zero,
	 * so with zero padding the longer candidate would match as well. The
	 * padding after the CRC must be zero and shorter than a block. */
	for (size_t c = lo; c <= hi; c++) {
		size_t pad = len - c - crclen;
		if (pad >= bl)
			continue;
		int zero = 1;
		for (size_t i = c + crclen; i < len; i++)
			zero &= p[i] == 0;
		if (!zero)
			continue;
		uint8_t want[4];
		if (crclen == 2) {
			uint16_t crc = dfi_crc16_desfire(p, c);
			want[0] = (uint8_t)crc;
			want[1] = (uint8_t)(crc >> 8);
		} else {
			uint32_t crc = dfi_crc32_desfire(p, c);
			if (with_sw) {
				/* Continue the CRC over the status byte. */
				crc ^= sw2;
				for (int b = 0; b < 8; b++)
					crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
			}
			for (int i = 0; i < 4; i++)
				want[i] = (uint8_t)(crc >> (8 * i));
		}
		if (dfi_ct_memcmp(want, p + c, crclen) == 0) {
			*n = c;
			found = 1;
			break;
		}
	}
	return found ? DFI_OK : DFI_E_CARD_MAC;
}

dfi_err
df_take_crc_data(const uint8_t *p, size_t len, size_t bl, size_t crclen, int with_sw,
    uint8_t sw2, size_t expect, uint8_t *out, size_t cap, size_t *outlen)
{
	size_t n;
	dfi_err e = df_find_crc(p, len, bl, crclen, with_sw, sw2, expect, &n);
	if (e != DFI_OK)
		return e;
	return df_copy_out(p, n, out, cap, outlen);
}

dfi_err
df_command(dfi_desfire *d, uint8_t cmd, const uint8_t *hdr, size_t hdrlen, const uint8_t *data,
    size_t datalen, unsigned cmd_mode, unsigned resp_mode, unsigned flags, size_t expect, uint8_t *out,
    size_t cap, size_t *outlen)
{
	size_t bodycap = hdrlen + datalen + 64, bodylen = 0;
	size_t rcap = (cap > DFI_DF_MAX_DATA ? DFI_DF_MAX_DATA : cap) + 64, rlen = 0;
	uint8_t sw2 = 0;
	dfi_err e;

	if (hdrlen > DFI_DF_MAX_DATA || datalen > DFI_DF_MAX_DATA || outlen == NULL ||
	    (cap > 0 && out == NULL))
		return DFI_E_INVALID_ARG;
	*outlen = 0;
	/* hdrlen, datalen <= DFI_DF_MAX_DATA (checked above), so both caps fit. */
	uint8_t *body = d->cmd_body;
	uint8_t *resp = d->cmd_resp;
	if (bodycap > sizeof(d->cmd_body) || rcap > sizeof(d->cmd_resp))
		return DFI_E_INTERNAL;
	if (cmd_mode == DF_COMM_ENC_RAW) {
		/* The caller wrapped already (ChangeKey). */
		if (datalen + hdrlen > bodycap) {
			e = DFI_E_INVALID_ARG;
			goto out;
		}
		if (hdrlen > 0)
			memcpy(body, hdr, hdrlen);
		if (datalen > 0)
			memcpy(body + hdrlen, data, datalen);
		bodylen = hdrlen + datalen;
	} else if ((e = df_wrap(d, cmd, hdr, hdrlen, data, datalen, cmd_mode, body, bodycap,
	    &bodylen)) != DFI_OK) {
		goto out;
	}
	if ((e = df_xfer(d, cmd, body, bodylen, resp, rcap, &rlen, &sw2)) != DFI_OK)
		goto out;
	if (sw2 != 0x00) {
		/* The card drops its authentication on every error. */
		df_drop_auth(d);
		e = dfi_err_from_desfire_status(sw2);
		if (e == DFI_OK)
			e = DFI_E_CARD_PROTOCOL;
		goto out;
	}
	if (flags & DF_F_NO_RESP_MAC) {
		df_drop_auth(d);
		e = rlen == 0 ? DFI_OK : DFI_E_CARD_PROTOCOL;
		goto out;
	}
	e = df_unwrap(d, resp_mode, resp, rlen, sw2, expect, out, cap, outlen);
	if (e != DFI_OK)
		df_drop_auth(d);
out:
	dfi_wipe(body, bodycap);
	dfi_wipe(resp, rcap);
	return e;
}

dfi_err
df_get(dfi_desfire *d, uint8_t cmd, const uint8_t *hdr, size_t hdrlen, uint8_t *out, size_t cap,
    size_t *outlen)
{
	if (d == NULL)
		return DFI_E_INVALID_ARG;
	return df_command(d, cmd, hdr, hdrlen, NULL, 0, DF_COMM_MGMT, DF_COMM_MGMT, 0, SIZE_MAX, out,
	    cap, outlen);
}

dfi_err
dfi_desfire_command(dfi_desfire *d, uint8_t cmd, const uint8_t *hdr, size_t hdrlen,
    const uint8_t *data, size_t datalen, dfi_df_comm cmd_mode, dfi_df_comm resp_mode,
    uint8_t *out, size_t cap, size_t *outlen)
{
	if (d == NULL || cmd_mode == DF_COMM_ENC_RAW)
		return DFI_E_INVALID_ARG;
	return df_command(d, cmd, hdr, hdrlen, data, datalen, cmd_mode, resp_mode, 0, SIZE_MAX,
	    out, cap, outlen);
}

dfi_err
dfi_desfire_sm_wrap(dfi_desfire *d, uint8_t cmd, const uint8_t *hdr, size_t hdrlen,
    const uint8_t *data, size_t datalen, dfi_df_comm mode, uint8_t *out, size_t cap,
    size_t *outlen)
{
	if (d == NULL || out == NULL || outlen == NULL)
		return DFI_E_INVALID_ARG;
	return df_wrap(d, cmd, hdr, hdrlen, data, datalen, mode, out, cap, outlen);
}

dfi_err
dfi_desfire_sm_unwrap(dfi_desfire *d, dfi_df_comm mode, const uint8_t *resp, size_t len,
    uint8_t sw2, uint8_t *out, size_t cap, size_t *outlen)
{
	if (d == NULL || outlen == NULL || (cap > 0 && out == NULL))
		return DFI_E_INVALID_ARG;
	if (sw2 != 0x00)
		return dfi_err_from_desfire_status(sw2) == DFI_OK ? DFI_E_CARD_PROTOCOL
		    : dfi_err_from_desfire_status(sw2);
	return df_unwrap(d, mode, resp, len, sw2, SIZE_MAX, out, cap, outlen);
}
