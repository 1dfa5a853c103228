/* Helpers of the simulator's in-process tests: a card in a temporary
 * directory of its own, and APDUs as hex strings. Header-only, like tests/common. */
#ifndef DFI_SIMTEST_H
#define DFI_SIMTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#include "desfire_sim.h"
#include "dfissue/util.h"

/* The fixture's directory for card images. A static, like the other check
 * fixtures' state: check's setup and teardown take no argument, and each
 * test runs in a child of its own. mkdtemp keeps the name unpredictable
 * under a shared /tmp. */
static char sim_tmpdir[64];

static inline void
setup(void)
{
	snprintf(sim_tmpdir, sizeof(sim_tmpdir), "/tmp/dfisim-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(sim_tmpdir));
}

static inline void
teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sim_tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* The path of the file name in the test's directory (cap bytes). */
static inline void
sim_path(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", sim_tmpdir, name);
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

/* Runs the APDU script of one section ("[name]") of the file
 * $DFI_TEST_DATA/sim/<file>: a line a step, "APDU sw|resp WANT note",
 * where sw checks the status word alone and resp the whole response, both
 * in hex; '#' starts a comment line. The scripts are data, read by this
 * one runner, so that each test keeps only what a table cannot say
 * (authentication, loops, the card's own state). The first answer that
 * differs fails the test naming the file's line, the APDU and the note. */
static inline void
sim_script(dfi_sim *s, const char *file, const char *section)
{
	const char *dir = getenv("DFI_TEST_DATA");
	ck_assert_msg(dir != NULL, "DFI_TEST_DATA is not set: run the test through ctest");
	char path[512], head[128], line[1024];
	snprintf(path, sizeof(path), "%s/sim/%s", dir, file);
	snprintf(head, sizeof(head), "[%s]", section);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	size_t lineno = 0, steps = 0;
	int in = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		ck_assert_msg(strchr(line, '\n') != NULL || feof(f), "%s:%zu: line too long", path,
		    lineno);
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '[') {
			if (in)
				break;
			in = strcmp(line, head) == 0;
			continue;
		}
		if (!in || line[0] == '#' || line[0] == '\0')
			continue;
		char apdu[SIM_HEX_MAX], how[5], want[SIM_HEX_MAX], out[SIM_HEX_MAX];
		int note = -1; /* stays -1 where sscanf stops before %n */
		ck_assert_msg(sscanf(line, "%600s %4s %600s %n", apdu, how, want, &note) == 3,
		    "%s:%zu: wanted \"APDU sw|resp WANT note\"", path, lineno);
		int whole = strcmp(how, "resp") == 0;
		ck_assert_msg(whole || strcmp(how, "sw") == 0, "%s:%zu: %s is neither sw nor resp",
		    path, lineno, how);
		const char *got = whole ? sim_tx(s, apdu, out) : sim_sw(s, apdu, out);
		ck_assert_msg(strcmp(got, want) == 0, "%s:%zu (%s): %s answered %s, wanted %s", path,
		    lineno, note > 0 && line[note] != '\0' ? line + note : "no note", apdu, got, want);
		steps++;
	}
	fclose(f);
	ck_assert_msg(steps > 0, "%s: no steps in section %s", path, head);
}

#endif
