/*
 * The text of the replay state file of `dfissue sdm verify` (sdm_state.h),
 * apart from its locking and replacing so that it can be fuzzed alone
 * (tests/fuzz/fuzz_sdm_state.c).
 *
 * The file: '#' comment lines, and one line per card, "UIDHEX COUNTER\n":
 * 8 to 20 upper-case hex digits (4 to 10 bytes), one space, the counter in
 * decimal without sign or leading zero, at most 0xFFFFFF (SDM counters
 * are 3 bytes), each UID once, every line ended by '\n'. That is exactly
 * what sdm_state_format writes; anything else is damage (another process
 * or a person wrote it) and is refused whole, never half-loaded.
 */
#ifndef DFI_CLI_SDM_STATE_TEXT_H
#define DFI_CLI_SDM_STATE_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "dfissue/error.h"

#define SDM_STATE_UID_MAX 10         /* bytes */
#define SDM_STATE_CTR_MAX 0xFFFFFFu

struct sdm_state_entry {
	char uid[2 * SDM_STATE_UID_MAX + 1]; /* upper-case hex */
	uint32_t ctr;
};

/* Parses len bytes of text (no terminator needed) into *out (n entries,
 * file order; free() it). DFI_E_PARSE with "PATH:LINE: why" in why (may be
 * NULL) for a damaged file, DFI_E_NOMEM; *out is NULL and *n 0 then. */
dfi_err sdm_state_parse(const char *text, size_t len, const char *path,
    struct sdm_state_entry **out, size_t *n, char *why, size_t whycap);

/* The file's text for n entries (a header comment, then a line each):
 * a malloc'ed buffer of *len bytes, or NULL when out of memory. */
char *sdm_state_format(const struct sdm_state_entry *e, size_t n, size_t *len);

#endif
