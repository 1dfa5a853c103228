/*
 * interop_peer READER [--ats HEX]
 *
 * Talks to a card through pcscd as libfreefare's current source does
 * (nfc-tools/libfreefare, libfreefare/mifare_desfire.c), which Debian's
 * libfreefare 0.4.0 predates: mifare_desfire_connect() first sends the ISO
 * SELECT of the DESFire AID D2760000850100 without Le and gives up unless
 * the card answers 90 00; then native DESFire commands wrapped as
 * 90 INS 00 00 Lc data 00. After the SELECT it runs the sequence of
 * libfreefare's test/test_mifare_desfire_ev1_iso.c (applications with ISO
 * FIDs and DF names, the duplicates a card refuses, GetDFNames, files with
 * ISO FIDs, GetISOFileIDs) and, with --ats, SetConfiguration option 02 as
 * mifare_desfire_set_ats() builds it (ATS || CRC || 80 00.., under the
 * legacy or an EV1 session) so the caller can check the next activation's
 * ATR. Prints one line per step; exit 0 when every step gave what a real
 * card gives.
 *
 * The DESFire session (authentication, secure messaging) is dfissue's own
 * protocol layer over its PC/SC transport; the simulator is on the other
 * side of pcscd and vpcd, as a card would be.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfissue/cardkey.h"
#include "dfissue/crypto.h"
#include "dfissue/desfire.h"
#include "dfissue/pcsc.h"
#include "dfissue/transport.h"
#include "dfissue/util.h"
#include "desfire/df_testhooks.h" /* test hooks: engine/desfire */

static int failures;

static void
step(int ok, const char *fmt, ...)
{
	va_list ap;
	printf("%s: ", ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		failures++;
}

/* One raw APDU; returns SW1SW2, the data in r/rl. */
static unsigned
apdu(dfi_transport *t, const char *hex, uint8_t *r, size_t *rl)
{
	uint8_t c[300];
	size_t cl;
	if (dfi_hex_decode(hex, c, sizeof(c), &cl) != DFI_OK)
		return 0;
	size_t n = 0;
	uint8_t buf[300];
	if (dfi_transport_transmit(t, c, cl, buf, sizeof(buf), &n) != DFI_OK || n < 2)
		return 0;
	if (r != NULL) {
		memcpy(r, buf, n - 2);
		*rl = n - 2;
	}
	return (unsigned)buf[n - 2] << 8 | buf[n - 1];
}

/* A native command in the session's plain/MAC'd form; returns the card's
 * status byte (0x00 ok), or 0x100 for a host-side failure. */
static unsigned
native(dfi_desfire *d, uint8_t cmd, const char *hex, uint8_t *out, size_t cap, size_t *outlen)
{
	uint8_t data[64];
	size_t dl = 0, ol = 0;
	if (hex != NULL && dfi_hex_decode(hex, data, sizeof(data), &dl) != DFI_OK)
		return 0x100;
	dfi_err e = dfi_desfire_command(d, cmd, NULL, 0, data, dl, DFI_DF_COMM_PLAIN,
	    DFI_DF_COMM_PLAIN, out, cap, outlen ? outlen : &ol);
	if (e == DFI_OK)
		return 0x00;
	unsigned st = dfi_desfire_last_status(d);
	return st != 0 ? st : 0x100;
}

/* mifare_desfire_set_ats(): ATS || CRC || 80, enciphered with zeros as
 * padding; CRC16 over the ATS under the legacy session, CRC32 over
 * 5C 02 ATS under EV1. D40 enciphers in "send mode" (CBC with decryption);
 * EV1 in CBC with the session's chained IV. */
static unsigned
set_ats(dfi_transport *t, dfi_desfire *d, const uint8_t *ats, size_t n)
{
	struct dfi_df_session ss;
	if (dfi_desfire_get_session(d, &ss) != DFI_OK)
		return 0x100;
	size_t bl = ss.scheme == DFI_DF_SCHEME_D40 ? 8 : dfi_keytype_blocklen(ss.keytype), pl = n;
	uint8_t pt[64] = { 0 }, ct[64];
	memcpy(pt, ats, n);
	if (ss.scheme == DFI_DF_SCHEME_D40) {
		uint16_t crc = dfi_crc16_desfire(ats, n);
		pt[pl++] = (uint8_t)crc;
		pt[pl++] = (uint8_t)(crc >> 8);
	} else {
		uint8_t in[2 + 48] = { 0x5C, 0x02 };
		memcpy(in + 2, ats, n);
		uint32_t crc = dfi_crc32_desfire(in, n + 2);
		for (int i = 0; i < 4; i++)
			pt[pl++] = (uint8_t)(crc >> (8 * i));
	}
	pt[pl++] = 0x80;
	size_t len = (pl + bl - 1) / bl * bl;
	dfi_err e = DFI_OK;
	if (ss.scheme == DFI_DF_SCHEME_D40) {
		uint8_t prev[8] = { 0 }, x[8];
		for (size_t i = 0; e == DFI_OK && i < len; i += 8) {
			for (size_t j = 0; j < 8; j++)
				x[j] = pt[i + j] ^ prev[j];
			e = dfi_cipher(ss.keytype, ss.enc_key, 0, NULL, x, ct + i, 8);
			memcpy(prev, ct + i, 8);
		}
	} else {
		e = dfi_cipher(ss.keytype, ss.enc_key, 1, ss.iv, pt, ct, len);
	}
	dfi_wipe(&ss, sizeof(ss));
	if (e != DFI_OK)
		return 0x100;
	char hex[2 * 80 + 32], body[2 * 64 + 1];
	dfi_hex_encode(ct, len, body, sizeof(body));
	snprintf(hex, sizeof(hex), "905C0000%02X02%s00", (unsigned)(len + 1), body);
	return apdu(t, hex, NULL, NULL);
}

int
main(int argc, char **argv)
{
	if (argc != 2 && !(argc == 4 && strcmp(argv[2], "--ats") == 0)) {
		fprintf(stderr, "usage: interop_peer READER [--ats HEX]\n");
		return 2;
	}
	uint8_t ats[32];
	size_t atslen = 0;
	if (argc == 4 && (dfi_hex_decode(argv[3], ats, sizeof(ats), &atslen) != DFI_OK || atslen < 2)) {
		fprintf(stderr, "interop_peer: --ats takes the ATS in hex (TL first)\n");
		return 2;
	}
	dfi_transport *t;
	dfi_desfire *d;
	dfi_cardkey *des0;
	static const uint8_t zero[8];
	if (dfi_pcsc_transport_new(&t, argv[1]) != DFI_OK || dfi_transport_wait_card(t, 5000) != DFI_OK ||
	    dfi_desfire_new(&d, t) != DFI_OK ||
	    dfi_cardkey_new_plain(&des0, DFI_KT_DES, zero, 8, 0) != DFI_OK) {
		fprintf(stderr, "interop_peer: no card in '%s'\n", argv[1]);
		return 1;
	}
	uint8_t r[256];
	size_t rl;

	/* mifare_desfire_connect(): exactly its APDU, no Le. */
	unsigned sw = apdu(t, "00A4040007D2760000850100", NULL, NULL);
	step(sw == 0x9000, "SELECT of the DESFire AID D2760000850100 answered %04X", sw);
	struct dfi_df_version v;
	step(dfi_desfire_get_version(d, &v) == DFI_OK, "GetVersion after the SELECT");

	/* test_mifare_desfire_ev1_iso.c */
	step(dfi_desfire_authenticate(d, DFI_DF_AUTH_LEGACY, 0, des0) == DFI_OK,
	    "legacy authentication with the PICC's zero DES key");
	step(dfi_desfire_format_picc(d) == DFI_OK, "FormatPICC");
	unsigned st = native(d, 0x6D, NULL, r, sizeof(r), &rl);
	step(st == 0 && rl == 0, "GetDFNames on an empty card: status %02X, %zu bytes", st, rl);
	st = native(d, 0xCA, "101111" "FF" "01" "1F11", NULL, 0, NULL);
	step(st == 0, "CreateApplication 111110 with ISO FID 111F, KS2 01: status %02X", st);
	st = native(d, 0xCA, "202222" "FF" "01" "2F22" "4170703200", NULL, 0, NULL);
	step(st == 0, "CreateApplication 222220, FID 222F, DF name \"App2\": status %02X", st);
	st = native(d, 0xCA, "303333" "FF" "01" "3F33" "4170703300", NULL, 0, NULL);
	step(st == 0, "CreateApplication 333330, FID 333F, DF name \"App3\": status %02X", st);
	st = native(d, 0xCA, "404444" "FF" "01" "1F11", NULL, 0, NULL);
	step(st == 0xDE, "CreateApplication 444440 with FID 111F again: status %02X (DUPLICATE)", st);
	st = native(d, 0xCA, "404444" "FF" "01" "4F44" "4170703200", NULL, 0, NULL);
	step(st == 0xDE, "CreateApplication 444440 with DF name \"App2\" again: status %02X (DUPLICATE)", st);
	st = native(d, 0x6D, NULL, r, sizeof(r), &rl);
	char hex[2 * 256 + 1];
	dfi_hex_encode(r, rl, hex, sizeof(hex));
	step(st == 0 && strcmp(hex, "1011111F11" "2022222F224170703200" "3033333F334170703300") == 0,
	    "GetDFNames lists 111110/111F, 222220/222F/App2, 333330/333F/App3: %s", hex);
	st = native(d, 0xCA, "505555" "FF" "21" "5F55", NULL, 0, NULL);
	step(st == 0, "CreateApplication 555550, FID 555F, KS2 21 (ISO file IDs): status %02X", st);
	step(dfi_desfire_select_application(d, 0x555550) == DFI_OK, "SelectApplication 555550");
	st = native(d, 0xCD, "01" "3412" "00" "EEEE" "200000", NULL, 0, NULL);
	step(st == 0, "CreateStdDataFile 1 with ISO FID 1234: %02X", st);
	st = native(d, 0xCB, "02" "4523" "00" "EEEE" "200000", NULL, 0, NULL);
	step(st == 0, "CreateBackupDataFile 2 with ISO FID 2345: %02X", st);
	st = native(d, 0xC1, "03" "5634" "00" "EEEE" "200000" "0A0000", NULL, 0, NULL);
	step(st == 0, "CreateLinearRecordFile 3 with ISO FID 3456: %02X", st);
	st = native(d, 0xC0, "04" "6745" "00" "EEEE" "200000" "0A0000", NULL, 0, NULL);
	step(st == 0, "CreateCyclicRecordFile 4 with ISO FID 4567: %02X", st);
	st = native(d, 0x61, NULL, r, sizeof(r), &rl);
	dfi_hex_encode(r, rl, hex, sizeof(hex));
	step(st == 0 && strcmp(hex, "3412452356346745") == 0, "GetISOFileIDs: %s", hex);

	if (atslen > 0) {
		/* back to the PICC, under the legacy session and under EV1 */
		step(dfi_desfire_select_application(d, 0) == DFI_OK, "SelectApplication 000000");
		step(dfi_desfire_authenticate(d, DFI_DF_AUTH_ISO, 0, des0) == DFI_OK,
		    "EV1 ISO authentication with the PICC key");
		uint8_t bad[] = { 0x05, 0xF8, 0x77, 0x81, 0x02 }; /* T0 says TA TB TC, RFU bit set */
		st = set_ats(t, d, bad, sizeof(bad)) & 0xFF;
		step(st == 0x9E, "SetConfiguration 02 with a malformed ATS: %02X (PARAMETER_ERROR)", st);
		step(dfi_desfire_authenticate(d, DFI_DF_AUTH_LEGACY, 0, des0) == DFI_OK,
		    "legacy authentication with the PICC key");
		sw = set_ats(t, d, ats, atslen);
		step(sw == 0x9100, "SetConfiguration 02 (ATS %s): %04X", argv[3], sw);
	}
	dfi_cardkey_free(des0);
	dfi_desfire_free(d);
	dfi_transport_free(t);
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "OK", failures);
	return failures ? 1 : 0;
}
