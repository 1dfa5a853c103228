/* Helpers of the simulator's in-process tests: a card in a temporary
 * directory, and APDUs as hex strings. Header-only, like tests/common. */
#ifndef DFI_SIMTEST_H
#define DFI_SIMTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "desfire_sim.h"
#include "dfissue/util.h"

static char tmpdir[64];

static inline void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/dfisim-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static inline void
teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static inline dfi_sim *
sim_open(const char *image, uint64_t seed)
{
	struct dfi_sim_config cfg = { 0 };
	char path[128];
	if (image != NULL) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, image);
		cfg.image = path;
	}
	cfg.has_seed = true;
	cfg.seed = seed;
	cfg.has_uid = true;
	memcpy(cfg.uid, "\x04\x10\x20\x30\x40\x50\x60", 7);
	dfi_sim *s;
	ck_assert_int_eq(dfi_sim_new(&s, &cfg), DFI_OK);
	return s;
}

/* Sends a hex APDU and returns the response as hex (static buffer). */
static inline const char *
tx(dfi_sim *s, const char *hex)
{
	static char out[2 * 300 + 1];
	uint8_t c[300], r[300];
	size_t cl = 0, rl;
	ck_assert_int_eq(dfi_hex_decode(hex, c, sizeof(c), &cl), DFI_OK);
	ck_assert_int_eq(dfi_sim_process(s, c, cl, r, sizeof(r), &rl), DFI_OK);
	ck_assert_int_eq(dfi_hex_encode(r, rl, out, sizeof(out)), DFI_OK);
	return out;
}

/* The status word of a response. */
static inline const char *
sw(dfi_sim *s, const char *hex)
{
	const char *r = tx(s, hex);
	return r + strlen(r) - 4;
}

#endif
