/* Helpers of the simulator's in-process tests: a card in a temporary
 * directory of its own, and APDUs as hex strings. Header-only, like tests/common. */
#ifndef DFI_SIMTEST_H
#define DFI_SIMTEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include "desfire_sim.h"
#include "dfissue/util.h"

/* The test's directory for card images, named by the test's process (check
 * runs each test in a child of its own): per test, with no static to hold
 * it. dir has SIM_DIR_MAX bytes. */
#define SIM_DIR_MAX 64
static inline const char *
sim_dir(char *dir)
{
	snprintf(dir, SIM_DIR_MAX, "/tmp/dfisim-test-%ld", (long)getpid());
	return dir;
}

static inline void
teardown(void)
{
	char dir[SIM_DIR_MAX], cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sim_dir(dir));
	ck_assert_int_eq(system(cmd), 0);
}

/* mkdir, not mkdtemp: the name is the pid's. A directory left by a dead
 * process of the same pid is removed first; mkdir never follows a link. */
static inline void
setup(void)
{
	char dir[SIM_DIR_MAX];
	if (mkdir(sim_dir(dir), 0700) != 0 && errno == EEXIST) {
		teardown();
		ck_assert_int_eq(mkdir(dir, 0700), 0);
	}
	struct stat st;
	ck_assert_msg(lstat(dir, &st) == 0 && S_ISDIR(st.st_mode), "cannot make %s", dir);
}

/* The path of the file name in the test's directory (cap bytes). */
static inline void
sim_path(char *buf, size_t cap, const char *name)
{
	char dir[SIM_DIR_MAX];
	snprintf(buf, cap, "%s/%s", sim_dir(dir), name);
}

static inline dfi_sim *
sim_open(const char *image, uint64_t seed)
{
	struct dfi_sim_config cfg = { 0 };
	char path[128];
	if (image != NULL) {
		sim_path(path, sizeof(path), image);
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

/* Sends a hex APDU and returns the response as hex in out (SIM_HEX_MAX
 * bytes). */
#define SIM_HEX_MAX (2 * 300 + 1)
static inline const char *
sim_tx(dfi_sim *s, const char *hex, char *out)
{
	uint8_t c[300], r[300];
	size_t cl = 0, rl;
	ck_assert_int_eq(dfi_hex_decode(hex, c, sizeof(c), &cl), DFI_OK);
	ck_assert_int_eq(dfi_sim_process(s, c, cl, r, sizeof(r), &rl), DFI_OK);
	ck_assert_int_eq(dfi_hex_encode(r, rl, out, SIM_HEX_MAX), DFI_OK);
	return out;
}

/* The status word of a response, in out (SIM_HEX_MAX bytes). */
static inline const char *
sim_sw(dfi_sim *s, const char *hex, char *out)
{
	const char *r = sim_tx(s, hex, out);
	return r + strlen(r) - 4;
}

/* tx and sw answer in a buffer of the caller's block (a compound literal
 * lives until its enclosing block ends), so that two answers never share
 * one and no static buffer is written. */
#define tx(s, hex) sim_tx((s), (hex), (char[SIM_HEX_MAX]){ 0 })
#define sw(s, hex) sim_sw((s), (hex), (char[SIM_HEX_MAX]){ 0 })

#endif
