/*
 * The replay state of `dfissue sdm verify`: the highest SDM read counter
 * accepted per card UID, in a small text file ("UIDHEX COUNTER" lines).
 * Every update holds an exclusive lock (flock on FILE.lock, so processes
 * serving the same file take turns) and replaces the file atomically
 * (temporary file, fsync, rename, fsync of the directory): a crash leaves
 * the old or the new state, never a mix, and a tap is only reported
 * accepted once its counter is on disk.
 */
#ifndef DFI_CLI_SDM_STATE_H
#define DFI_CLI_SDM_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "dfissue/error.h"

enum sdm_state_verdict {
	SDM_STATE_ACCEPTED = 0, /* counter above the last one seen: recorded */
	SDM_STATE_REPLAY,       /* counter not above it: nothing changed */
};

/* Checks ctr against the last counter seen for uid and records it when it
 * is higher. *last receives the previous counter (0 when the UID is new;
 * *seen says whether it was). DFI_E_IO with errno's text in why (may be
 * NULL) when the file cannot be read, locked or replaced; DFI_E_PARSE
 * when its content is damaged (it is then left alone). */
dfi_err sdm_state_check(const char *path, const uint8_t *uid, size_t uidlen, uint32_t ctr,
    enum sdm_state_verdict *verdict, uint32_t *last, int *seen, char *why, size_t whycap);

#endif
