/*
 * Secure messaging as the card performs it, for the three kinds of session:
 *
 *  D40 (after Authenticate 0x0A): MAC = first 4 bytes of the last block of
 *    a zero-IV CBC encryption of the data (after the command header),
 *    carried only by data-writing commands and by read responses.
 *    Enciphered: data || CRC16 || zero padding; the PCD "sends" with
 *    y_i = D(x_i ^ y_{i-1}), the card answers with plain CBC encryption;
 *    the IV restarts at zero for each message.
 *  EV1 (after 0x1A / 0xAA): one IV chains every CMAC and CBC operation of
 *    the session. Every command updates it with a CMAC over cmd || data
 *    (transmitted only by data-writing commands in MAC mode); every
 *    successful response carries CMAC(data || 0x00) truncated to 8 bytes,
 *    or, enciphered, E(data || CRC32(data || 0x00) || zero padding).
 *    Enciphered commands: header plain, E(data || CRC32(cmd || header ||
 *    data) || zero padding).
 *  EV2 (after 0x71 / 0x77): SesAuthENC/MAC keys, TI and a command counter.
 *    MAC = CMAC(SesAuthMAC, cmd || ctr || TI || header || data), bytes
 *    1, 3, ..., 15; responses MAC 0x00 || ctr+1 || TI || data. Enciphered
 *    data is ISO 9797-1 method 2 padded and CBC-encrypted under
 *    IV = E(SesAuthENC, A5 5A || TI || ctr || 0^8) (5A A5 and ctr+1 for
 *    responses).
 * Sources: NXP AN12343 (EV2 secure messaging), MF3ICD81 data sheet summary,
 * libfreefare mifare_desfire_crypto.c and Proxmark3 desfiresecurechan.c
 * (read for the facts; this is an independent implementation).
 */
#include <stdlib.h>
#include <string.h>

#include "dfissue/util.h"
#include "sim_int.h"

/* The CRC of deciphered data (a ChangeKey cryptogram's new key among them)
 * is compared as a MAC is, in constant time: a card whose answer came
 * sooner for a wrong first byte would tell a PCD that forges cryptograms
 * how much of the CRC it got right. */
bool
sm_crc_eq(const dfi_sim *s, const uint8_t *p, size_t n, const uint8_t *crc)
{
	size_t len = s->sess.kind == SESS_D40 ? 2 : 4;
	uint32_t c = len == 2 ? dfi_crc16_desfire(p, n) : dfi_crc32_desfire(p, n);
	uint8_t want[4];
	for (size_t i = 0; i < len; i++)
		want[i] = (uint8_t)(c >> (8 * i));
	return dfi_ct_memcmp(want, crc, len) == 0;
}

bool
sm_cmd_crc_ok(const dfi_sim *s, uint8_t cmd, const uint8_t *m, size_t hdrlen, size_t n)
{
	const uint8_t *crc = m + hdrlen + n;
	if (s->sess.kind == SESS_D40)
		return sm_crc_eq(s, m + hdrlen, n, crc);
	/* EV1: the CRC32 covers the command code too, which m does not hold;
	 * the copy may hold key material (ChangeKey), so it is wiped. */
	uint8_t *buf = malloc(1 + hdrlen + n);
	if (buf == NULL)
		return false;
	buf[0] = cmd;
	memcpy(buf + 1, m, hdrlen + n);
	bool ok = sm_crc_eq(s, buf, 1 + hdrlen + n, crc);
	dfi_wipe(buf, 1 + hdrlen + n);
	free(buf);
	return ok;
}

void
sm_clear(dfi_sim *s)
{
	dfi_wipe(&s->sess, sizeof(s->sess));
	s->sess.kind = SESS_NONE;
}

bool
sm_cmd_sends_mac(const dfi_sim *s, uint8_t cmd)
{
	if (s->sess.kind == SESS_EV2)
		return true;
	switch (cmd) {
	case 0x3D: case 0x3B: case 0x0C: case 0x1C: case 0xDC:
		return true;
	default:
		return false;
	}
}

static bool
d40_receive_mac(uint8_t cmd)
{
	return cmd == 0xBD || cmd == 0xBB || cmd == 0x6C;
}

static size_t
pad_to(size_t n, size_t bl)
{
	return (n + bl - 1) / bl * bl;
}

/* ---- D40 ---------------------------------------------------------------- */

static dfi_err
d40_mac(dfi_sim *s, const uint8_t *d, size_t n, uint8_t mac[4])
{
	size_t pl = pad_to(n ? n : 1, 8);
	uint8_t *buf = calloc(1, pl), iv[8] = { 0 };
	if (buf == NULL)
		return DFI_E_NOMEM;
	if (n)
		memcpy(buf, d, n);
	dfi_err e = dfi_cipher(s->sess.st, s->sess.sk, 1, iv, buf, buf, pl);
	memcpy(mac, buf + pl - 8, 4);
	free(buf);
	return e;
}

/* Undoes the PCD's send mode: x_i = E(y_i) ^ y_{i-1}, y_0 = 0. */
static dfi_err
d40_unsend(dfi_sim *s, const uint8_t *in, uint8_t *out, size_t n)
{
	uint8_t prev[8] = { 0 }, blk[8];
	for (size_t i = 0; i < n; i += 8) {
		dfi_err e = dfi_cipher(s->sess.st, s->sess.sk, 1, NULL, in + i, blk, 8);
		if (e != DFI_OK)
			return e;
		for (int j = 0; j < 8; j++)
			blk[j] ^= prev[j];
		memcpy(prev, in + i, 8);
		memcpy(out + i, blk, 8);
	}
	return DFI_OK;
}

/* An enciphered command of a D40 or EV1 session, hdrlen plain header
 * bytes then E(data || CRC || zero padding), the two differing only in
 * block size, CRC and how the PCD enciphers: deciphered into out after its
 * header, the whole of it when plainlen is SIZE_MAX, else its plainlen
 * bytes of data once their length and CRC are checked. */
static uint8_t
full_in(dfi_sim *s, uint8_t cmd, const uint8_t *raw, size_t rawlen, size_t hdrlen,
    size_t plainlen, uint8_t *out, size_t *outlen)
{
	bool d40 = s->sess.kind == SESS_D40;
	size_t bl = d40 ? 8 : dfi_keytype_blocklen(s->sess.st), elen = rawlen - hdrlen;
	if (elen == 0 || elen % bl != 0)
		return ST_LENGTH;
	if (plainlen != SIZE_MAX && elen != pad_to(plainlen + (d40 ? 2 : 4), bl))
		return ST_LENGTH;
	memcpy(out, raw, hdrlen);
	dfi_err e = d40 ? d40_unsend(s, raw + hdrlen, out + hdrlen, elen) :
	    dfi_cipher(s->sess.st, s->sess.sk, 0, s->sess.iv, raw + hdrlen, out + hdrlen, elen);
	if (e != DFI_OK)
		return ST_INTEGRITY;
	if (plainlen == SIZE_MAX) {
		*outlen = rawlen;
		return ST_OK;
	}
	if (!sm_cmd_crc_ok(s, cmd, out, hdrlen, plainlen))
		return ST_INTEGRITY;
	*outlen = hdrlen + plainlen;
	return ST_OK;
}

static uint8_t
d40_in(dfi_sim *s, uint8_t cmd, const uint8_t *raw, size_t rawlen, size_t hdrlen,
    enum sm_mode mode, bool mac_sent, size_t plainlen, uint8_t *out, size_t *outlen)
{
	if (mode == SM_MAC && mac_sent) {
		uint8_t mac[4];
		if (rawlen < hdrlen + 4)
			return ST_LENGTH;
		if (d40_mac(s, raw + hdrlen, rawlen - hdrlen - 4, mac) != DFI_OK)
			return ST_INTEGRITY;
		if (dfi_ct_memcmp(mac, raw + rawlen - 4, 4) != 0)
			return ST_INTEGRITY;
		memcpy(out, raw, rawlen - 4);
		*outlen = rawlen - 4;
		return ST_OK;
	}
	if (mode != SM_FULL) {
		memcpy(out, raw, rawlen);
		*outlen = rawlen;
		return ST_OK;
	}
	return full_in(s, cmd, raw, rawlen, hdrlen, plainlen, out, outlen);
}

/* ---- EV1 ---------------------------------------------------------------- */

/* CMAC over cmd || p (or over p alone when cmd < 0), chaining the IV. */
static dfi_err
ev1_cmac(dfi_sim *s, int cmd, const uint8_t *p, size_t n, uint8_t *mac)
{
	uint8_t *buf = calloc(1, n + 1);
	if (buf == NULL)
		return DFI_E_NOMEM;
	size_t off = 0;
	if (cmd >= 0)
		buf[off++] = (uint8_t)cmd;
	if (n)
		memcpy(buf + off, p, n);
	uint8_t full[DFI_MAX_BLOCK];
	dfi_err e = dfi_cmac(s->sess.st, s->sess.sk, s->sess.iv, buf, off + n, full);
	free(buf);
	if (e != DFI_OK)
		return e;
	size_t bl = dfi_keytype_blocklen(s->sess.st);
	memcpy(s->sess.iv, full, bl);
	memcpy(mac, full, 8);
	return DFI_OK;
}

static uint8_t
ev1_in(dfi_sim *s, uint8_t cmd, const uint8_t *raw, size_t rawlen, size_t hdrlen,
    enum sm_mode mode, bool mac_sent, size_t plainlen, uint8_t *out, size_t *outlen)
{
	uint8_t mac[8];
	if (mode == SM_MAC && mac_sent) {
		if (rawlen < hdrlen + 8)
			return ST_LENGTH;
		if (ev1_cmac(s, cmd, raw, rawlen - 8, mac) != DFI_OK)
			return ST_INTEGRITY;
		if (dfi_ct_memcmp(mac, raw + rawlen - 8, 8) != 0)
			return ST_INTEGRITY;
		memcpy(out, raw, rawlen - 8);
		*outlen = rawlen - 8;
		return ST_OK;
	}
	if (mode != SM_FULL || (rawlen == hdrlen && plainlen == 0)) {
		if (ev1_cmac(s, cmd, raw, rawlen, mac) != DFI_OK)
			return ST_INTEGRITY;
		memcpy(out, raw, rawlen);
		*outlen = rawlen;
		return ST_OK;
	}
	return full_in(s, cmd, raw, rawlen, hdrlen, plainlen, out, outlen);
}

/* ---- EV2 ---------------------------------------------------------------- */

static dfi_err
ev2_mac(dfi_sim *s, uint8_t code, uint16_t ctr, const uint8_t *p, size_t n, uint8_t mac[8])
{
	uint8_t *buf = malloc(7 + n), full[16];
	if (buf == NULL)
		return DFI_E_NOMEM;
	buf[0] = code;
	buf[1] = (uint8_t)ctr;
	buf[2] = (uint8_t)(ctr >> 8);
	memcpy(buf + 3, s->sess.ti, 4);
	if (n)
		memcpy(buf + 7, p, n);
	dfi_err e = s->sess.lrp.on ? sim_lrp_mac(s, buf, 7 + n, full) :
	    dfi_cmac(DFI_KT_AES128, s->sess.kmac, NULL, buf, 7 + n, full);
	free(buf);
	for (int i = 0; i < 8; i++)
		mac[i] = full[2 * i + 1];
	return e;
}

static dfi_err
ev2_iv(dfi_sim *s, bool response, uint16_t ctr, uint8_t iv[16])
{
	uint8_t in[16] = { 0 };
	in[0] = response ? 0x5A : 0xA5;
	in[1] = response ? 0xA5 : 0x5A;
	memcpy(in + 2, s->sess.ti, 4);
	in[6] = (uint8_t)ctr;
	in[7] = (uint8_t)(ctr >> 8);
	return dfi_cipher(DFI_KT_AES128, s->sess.kenc, 1, NULL, in, iv, 16);
}

static uint8_t
ev2_in(dfi_sim *s, uint8_t cmd, const uint8_t *raw, size_t rawlen, size_t hdrlen,
    enum sm_mode mode, size_t plainlen, uint8_t *out, size_t *outlen)
{
	if (mode == SM_PLAIN) {
		memcpy(out, raw, rawlen);
		*outlen = rawlen;
		return ST_OK;
	}
	uint8_t mac[8];
	if (rawlen < hdrlen + 8)
		return ST_LENGTH;
	if (ev2_mac(s, cmd, s->sess.ctr, raw, rawlen - 8, mac) != DFI_OK ||
	    dfi_ct_memcmp(mac, raw + rawlen - 8, 8) != 0)
		return ST_INTEGRITY;
	size_t elen = rawlen - 8 - hdrlen;
	memcpy(out, raw, hdrlen);
	if (mode == SM_MAC || elen == 0) {
		if (mode == SM_FULL && plainlen != SIZE_MAX && plainlen != 0)
			return ST_LENGTH;
		memcpy(out + hdrlen, raw + hdrlen, elen);
		*outlen = hdrlen + elen;
		return ST_OK;
	}
	if (elen % 16 != 0)
		return ST_LENGTH;
	uint8_t iv[16];
	if (s->sess.lrp.on ? sim_lrp_crypt(s, 0, raw + hdrlen, out + hdrlen, elen) != DFI_OK :
	    (ev2_iv(s, false, s->sess.ctr, iv) != DFI_OK ||
	    dfi_cipher(DFI_KT_AES128, s->sess.kenc, 0, iv, raw + hdrlen, out + hdrlen, elen) != DFI_OK))
		return ST_INTEGRITY;
	size_t p = elen;
	while (p > 0 && out[hdrlen + p - 1] == 0x00)
		p--;
	if (p == 0 || out[hdrlen + p - 1] != 0x80 || elen - p >= 16)
		return ST_INTEGRITY;
	p--;
	if (plainlen != SIZE_MAX && p != plainlen)
		return ST_LENGTH;
	*outlen = hdrlen + p;
	return ST_OK;
}

uint8_t
sm_in(dfi_sim *s, uint8_t cmd, const uint8_t *raw, size_t rawlen, size_t hdrlen,
    enum sm_mode mode, bool mac_sent, size_t plainlen, uint8_t *out, size_t *outlen)
{
	if (hdrlen > rawlen)
		return ST_LENGTH;
	/* An enciphered command without data (a read) is MACed like any other. */
	if (mode == SM_FULL && plainlen == 0)
		mode = SM_MAC;
	switch (s->sess.kind) {
	case SESS_D40:
		return d40_in(s, cmd, raw, rawlen, hdrlen, mode, mac_sent, plainlen, out, outlen);
	case SESS_EV1:
		return ev1_in(s, cmd, raw, rawlen, hdrlen, mode, mac_sent, plainlen, out, outlen);
	case SESS_EV2:
		return ev2_in(s, cmd, raw, rawlen, hdrlen, mode, plainlen, out, outlen);
	default:
		if (rawlen)
			memcpy(out, raw, rawlen);
		*outlen = rawlen;
		return ST_OK;
	}
}

dfi_err
sm_out(dfi_sim *s, uint8_t cmd, const struct sim_resp *r, uint8_t *out, size_t *outlen)
{
	const uint8_t *d = r->data;
	size_t n = r->len;
	dfi_err e = DFI_OK;

	if (r->raw || s->sess.kind == SESS_NONE) {
		if (n)
			memcpy(out, d, n);
		*outlen = n;
		return DFI_OK;
	}
	if (s->sess.kind == SESS_D40) {
		if (r->mode == SM_FULL) {
			if (n == 0) {
				*outlen = 0;
				return DFI_OK;
			}
			size_t pl = pad_to(n + 2, 8);
			uint8_t iv[8] = { 0 };
			memset(out, 0, pl);
			memcpy(out, d, n);
			uint16_t crc = dfi_crc16_desfire(d, n);
			out[n] = (uint8_t)crc;
			out[n + 1] = (uint8_t)(crc >> 8);
			*outlen = pl;
			return dfi_cipher(s->sess.st, s->sess.sk, 1, iv, out, out, pl);
		}
		if (n)
			memcpy(out, d, n);
		*outlen = n;
		if (r->mode == SM_MAC && d40_receive_mac(cmd)) {
			e = d40_mac(s, d, n, out + n);
			*outlen = n + 4;
		}
		return e;
	}
	if (s->sess.kind == SESS_EV1) {
		if (r->mode == SM_FULL && n > 0) {
			size_t bl = dfi_keytype_blocklen(s->sess.st);
			size_t pl = pad_to(n + 4, bl);
			memset(out, 0, pl);
			memcpy(out, d, n);
			out[n] = 0x00;
			uint32_t crc = dfi_crc32_desfire(out, n + 1);
			for (int i = 0; i < 4; i++)
				out[n + (size_t)i] = (uint8_t)(crc >> (8 * i));
			*outlen = pl;
			return dfi_cipher(s->sess.st, s->sess.sk, 1, s->sess.iv, out, out, pl);
		}
		uint8_t *buf = malloc(n + 1), mac[8];
		if (buf == NULL)
			return DFI_E_NOMEM;
		if (n)
			memcpy(buf, d, n);
		buf[n] = 0x00;
		e = ev1_cmac(s, -1, buf, n + 1, mac);
		free(buf);
		if (e != DFI_OK)
			return e;
		if (n)
			memcpy(out, d, n);
		memcpy(out + n, mac, 8);
		*outlen = n + 8;
		return e;
	}
	/* EV2: the counter advances with every command/response pair. */
	s->sess.ctr++;
	if (r->mode == SM_PLAIN) {
		if (n)
			memcpy(out, d, n);
		*outlen = n;
		return DFI_OK;
	}
	size_t m = n;
	if (r->mode == SM_FULL && n > 0) {
		uint8_t iv[16];
		m = pad_to(n + 1, 16);
		memset(out, 0, m);
		memcpy(out, d, n);
		out[n] = 0x80;
		if (s->sess.lrp.on)
			e = sim_lrp_crypt(s, 1, out, out, m);
		else if ((e = ev2_iv(s, true, s->sess.ctr, iv)) == DFI_OK)
			e = dfi_cipher(DFI_KT_AES128, s->sess.kenc, 1, iv, out, out, m);
		if (e != DFI_OK)
			return e;
	} else if (n) {
		memcpy(out, d, n);
	}
	e = ev2_mac(s, 0x00, s->sess.ctr, out, m, out + m);
	*outlen = m + 8;
	return e;
}
