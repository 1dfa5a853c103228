/*
 * A program built against the installed libdfissue only (pkg-config
 * --cflags --libs dfissue): every public header must compile on its own,
 * and a few calls must work through the shared library's exports.
 * Prints the library version and the file it was loaded from (dladdr);
 * exits 0 when every check held.
 */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>

#include <dfissue/cardkey.h>
#include <dfissue/crypto.h>
#include <dfissue/desfire.h>
#include <dfissue/error.h>
#include <dfissue/hsm.h>
#include <dfissue/journal.h>
#include <dfissue/pcsc.h>
#include <dfissue/perso.h>
#include <dfissue/profile.h>
#include <dfissue/signer.h>
#include <dfissue/transport.h>
#include <dfissue/util.h>
#include <dfissue/version.h>

#include <stdio.h>
#include <string.h>

static const char profile[] =
    "{\"schema\":\"dfissue-profile/1\",\"name\":\"installed\",\"picc\":{\"key\":{\"type\":\"aes\","
    "\"base_key\":\"pkcs11:object=picc-master\",\"version\":1,\"diversification\":[\"uid\"]},"
    "\"key_settings\":11},\"applications\":[]}";

int
main(int argc, char **argv)
{
	const uint8_t in[3] = { 0xDF, 0x15, 0x5E };
	char hex[8];
	int bad = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: use_dfissue EXPECTED_VERSION\n");
		return 2;
	}
	printf("libdfissue %s\n", dfi_version());
	Dl_info info;
	if (dladdr((void *)dfi_version, &info) != 0 && info.dli_fname != NULL)
		printf("loaded from %s\n", info.dli_fname);
	else
		bad = 1;
	bad |= strcmp(dfi_version(), argv[1]) != 0;
	bad |= dfi_hex_encode(in, sizeof(in), hex, sizeof(hex)) != DFI_OK || strcmp(hex, "DF155E") != 0;
	bad |= strcmp(dfi_errname(DFI_E_CARD_TORN), "DFI_E_CARD_TORN") != 0;
	printf("%s: %s\n", dfi_errname(DFI_E_PCSC_NO_SERVICE), dfi_strerror(DFI_E_PCSC_NO_SERVICE));

	/* The profile parser through the shared library. */
	dfi_profile *p = NULL;
	struct dfi_diag d;
	memset(&d, 0, sizeof(d));
	dfi_err e = dfi_profile_load_buffer(&p, "installed.json", profile, strlen(profile), &d);
	if (e != DFI_OK)
		fprintf(stderr, "profile: %s\n", d.message);
	bad |= e != DFI_OK || strcmp(dfi_profile_spec(p)->name, "installed") != 0;
	dfi_profile_free(p);

	/* An RFC 6962 leaf hash (SHA-256 of 0x00 || data), a known value. */
	uint8_t h[DFI_HASH_LEN];
	char hh[2 * DFI_HASH_LEN + 1];
	dfi_merkle_leaf_hash("", 0, h);
	dfi_hex_encode(h, sizeof(h), hh, sizeof(hh));
	bad |= strcmp(hh, "6E340B9CFFB37A989CA544E6BB780A2C78901D3FB33738768511A30617AFA01D") != 0;
	printf("%s\n", bad ? "FAILED" : "OK");
	return bad;
}
