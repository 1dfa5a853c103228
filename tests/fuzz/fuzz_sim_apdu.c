/*
 * Arbitrary APDU sequences against the card simulator (an EV3: EV2 plus
 * LRP and SDM), starting from a card that has an application with one
 * free-access file of each type (so file commands get past the access
 * checks) and an AES application with an SDM file (plain UID and counter
 * mirrors, a MAC with key 0). Input: records of
 * [len][len bytes]; len 0xFF power-cycles the card, 0xFE arms a tear on
 * the next APDU (mode from the following byte). Each APDU's response must
 * fit the frame limit; the committed state must always re-load.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "desfire-sim/desfire_sim.h"
#include "dfissue/util.h"

static const char *const setup_apdus[] = {
	"90CA0000050403020F8300",            /* app 020304, 3 AES keys */
	"905A00000304030200",
	"90CD0000070700EEEE40000000",        /* std, 64 bytes, free access */
	/* SDM: UID at 0, counter at 14, MAC of [0, 20) at 20, key 0 */
	"905F0000130740EEEEC1FFE00000000E000000000014000000",
	"905A00000300000000",                /* back to the PICC level */
	"90CA0000050302010F0200",            /* app 010203, free create/list, 2 DES keys */
	"905A00000303020100",
	"90CD0000070100EEEE20000000",        /* std, 32 bytes */
	"90CB0000070200EEEE20000000",        /* backup, 32 bytes */
	"90CC0000110300EEEE00000000E803000064000000010000", /* value 0..1000 = 100, LC */
	"90C100000A0400EEEE04000004000000",  /* linear 4 x 4 */
	"90C000000A0500EEEE04000003000000",  /* cyclic 3 x 4 */
	"90CD0000070601EEEE10000000",        /* std, MACed, free access */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dfi_sim_config cfg = { .has_seed = true, .seed = 1, .model = DFI_SIM_MODEL_EV3 };
	dfi_sim *s;
	uint8_t c[DFI_APDU_MAX], r[DFI_APDU_MAX + 2];
	size_t cl, rl;
	if (dfi_sim_new(&s, &cfg) != DFI_OK)
		abort();
	for (size_t i = 0; i < sizeof(setup_apdus) / sizeof(setup_apdus[0]); i++) {
		if (dfi_hex_decode(setup_apdus[i], c, sizeof(c), &cl) != DFI_OK ||
		    dfi_sim_process(s, c, cl, r, sizeof(r), &rl) != DFI_OK || rl != 2 || r[1] != 0)
			abort();
	}
	size_t pos = 0;
	while (pos < size) {
		uint8_t len = data[pos++];
		if (len == 0xFF) {
			if (dfi_sim_power_cycle(s) != DFI_OK)
				abort();
			continue;
		}
		if (len == 0xFE) {
			uint8_t m = pos < size ? data[pos++] : 0;
			dfi_sim_set_tear(s, 1, (m & 1) ? DFI_SIM_TEAR_AFTER : DFI_SIM_TEAR_BEFORE);
			continue;
		}
		if (len > size - pos)
			len = (uint8_t)(size - pos);
		dfi_err e = dfi_sim_process(s, data + pos, len, r, sizeof(r), &rl);
		pos += len;
		if (e == DFI_E_CARD_TORN || e == DFI_E_NO_CARD) {
			if (dfi_sim_insert(s) != DFI_OK)
				abort();
			continue;
		}
		if (e != DFI_OK || rl < 2 || rl > DFI_SIM_MAX_FRAME + 1)
			abort();
	}
	/* Whatever happened, the committed state reads back. */
	struct dfi_sim_picc_info pi;
	if (dfi_sim_picc_info(s, &pi) != DFI_OK)
		abort();
	dfi_sim_free(s);
	return 0;
}
