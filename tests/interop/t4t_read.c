/*
 * t4t_read READER OUTFILE
 *
 * Reads the NDEF message of an NFC Forum Type 4 tag the way a phone does
 * (NFC Forum Type 4 Tag Operation, mapping version 2.0, as Android's
 * NfcService and Proxmark3's "hf 14a ndefread" implement it), over plain
 * PC/SC (libpcsclite) with nothing of dfissue in between:
 *   SELECT the NDEF Tag Application by name D2760000850101,
 *   SELECT the capability container E103, READ BINARY its 15 bytes,
 *   take the NDEF file's ID, size and read right from its NDEF File Control
 *   TLV (T=04) and MLe, SELECT the NDEF file, READ BINARY NLEN (2 bytes),
 *   READ BINARY the message in pieces of at most MLe bytes.
 * Writes the message to OUTFILE. Exit 0 when every step answered 90 00.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <PCSC/winscard.h>

static SCARDHANDLE card;
static DWORD proto;

static int
xfer(const uint8_t *c, size_t cl, uint8_t *r, size_t *rl, const char *what)
{
	uint8_t buf[258];
	DWORD n = sizeof(buf);
	const SCARD_IO_REQUEST *pci = proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
	LONG rv = SCardTransmit(card, pci, c, (DWORD)cl, NULL, buf, &n);
	if (rv != SCARD_S_SUCCESS || n < 2) {
		fprintf(stderr, "t4t_read: %s: SCardTransmit: %s\n", what, pcsc_stringify_error(rv));
		return -1;
	}
	printf("%-28s -> SW %02X%02X, %lu byte(s)\n", what, buf[n - 2], buf[n - 1],
	    (unsigned long)n - 2);
	if (buf[n - 2] != 0x90 || buf[n - 1] != 0x00)
		return -1;
	if (r != NULL) {
		memcpy(r, buf, n - 2);
		*rl = n - 2;
	}
	return 0;
}

static int
select_file(const uint8_t *id, size_t n, int by_name, const char *what)
{
	uint8_t c[32] = { 0x00, 0xA4, by_name ? 0x04 : 0x00, by_name ? 0x00 : 0x0C, (uint8_t)n };
	memcpy(c + 5, id, n);
	size_t cl = 5 + n;
	if (by_name)
		c[cl++] = 0x00; /* Le: a phone asks for the FCI */
	return xfer(c, cl, NULL, NULL, what);
}

static int
read_binary(unsigned off, unsigned len, uint8_t *out, const char *what)
{
	uint8_t c[5] = { 0x00, 0xB0, (uint8_t)(off >> 8), (uint8_t)off, (uint8_t)len };
	size_t rl = 0;
	if (xfer(c, 5, out, &rl, what) != 0)
		return -1;
	if (rl != len) {
		fprintf(stderr, "t4t_read: %s: %zu bytes instead of %u\n", what, rl, len);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: t4t_read READER OUTFILE\n");
		return 2;
	}
	SCARDCONTEXT ctx;
	LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
	if (rv == SCARD_S_SUCCESS)
		rv = SCardConnect(ctx, argv[1], SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
		    &card, &proto);
	if (rv != SCARD_S_SUCCESS) {
		fprintf(stderr, "t4t_read: %s: %s\n", argv[1], pcsc_stringify_error(rv));
		return 1;
	}
	static const uint8_t app[] = { 0xD2, 0x76, 0x00, 0x00, 0x85, 0x01, 0x01 };
	static const uint8_t cc_id[] = { 0xE1, 0x03 };
	uint8_t cc[15], msg[0x10000], nlen[2];
	int rc = 1;
	if (select_file(app, sizeof(app), 1, "SELECT NDEF application") != 0 ||
	    select_file(cc_id, 2, 0, "SELECT CC file E103") != 0 ||
	    read_binary(0, sizeof(cc), cc, "READ BINARY CC") != 0)
		goto out;
	unsigned cclen = cc[0] << 8 | cc[1], mle = cc[3] << 8 | cc[4];
	/* NDEF File Control TLV: T=04 L=06 FileID(2) MaxSize(2) Read Write */
	if (cclen < 15 || cc[7] != 0x04 || cc[8] != 0x06 || mle < 0x0F) {
		fprintf(stderr, "t4t_read: capability container malformed\n");
		goto out;
	}
	unsigned maxsize = cc[11] << 8 | cc[12];
	printf("CC: mapping %u.%u, MLe %u, NDEF file %02X%02X, max %u bytes, read 0x%02X write 0x%02X\n",
	    cc[2] >> 4, cc[2] & 0x0F, mle, cc[9], cc[10], maxsize, cc[13], cc[14]);
	if (cc[13] != 0x00) {
		fprintf(stderr, "t4t_read: the NDEF file is not freely readable\n");
		goto out;
	}
	if (select_file(cc + 9, 2, 0, "SELECT NDEF file") != 0 ||
	    read_binary(0, 2, nlen, "READ BINARY NLEN") != 0)
		goto out;
	unsigned len = nlen[0] << 8 | nlen[1];
	if (len + 2 > maxsize) {
		fprintf(stderr, "t4t_read: NLEN %u exceeds the file's %u bytes\n", len, maxsize);
		goto out;
	}
	for (unsigned off = 0; off < len;) {
		unsigned n = len - off < mle ? len - off : mle;
		if (n > 255)
			n = 255;
		if (read_binary(2 + off, n, msg + off, "READ BINARY message") != 0)
			goto out;
		off += n;
	}
	FILE *f = fopen(argv[2], "wb");
	if (f == NULL || fwrite(msg, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "t4t_read: cannot write %s\n", argv[2]);
		goto out;
	}
	printf("NDEF message: %u bytes\n", len);
	rc = 0;
out:
	SCardDisconnect(card, SCARD_LEAVE_CARD);
	SCardReleaseContext(ctx);
	return rc;
}
