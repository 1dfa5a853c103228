/*
 * secfile.h: opening a file that holds a secret.
 *
 * The user PIN (hsm/pin.c, --pin-file) and the key ceremony's components
 * (the CLI's key import, --component-file) are read from files the
 * operator wrote. Such a file must be a regular file of ours that nobody
 * else can read, opened without following a symlink and of bounded size:
 * a FIFO or a device would block or feed us anything, a symlink may point
 * where the operator did not look, and a file others can read has already
 * leaked the secret (issue 17, finding 5; audit k36s). One opener keeps the
 * checks, and their words, the same for every kind of secret file; reading
 * the content is each caller's.
 */
#ifndef DFI_CORE_SECFILE_H
#define DFI_CORE_SECFILE_H

#include <stddef.h>

#include "dfissue/error.h"

/* What the file holds, for the checks and the reasons. */
struct dfi_secfile_kind {
	const char *what;          /* "PIN file": starts every reason */
	const char *put;           /* "the PIN": "put <put> in a regular file, mode 600" */
	const char *holds;         /* "the PIN on one line": "it must hold <holds>, at most" */
	unsigned long long max;    /* a larger file is refused */
	size_t shown_max;          /* the "at most N bytes" of that reason */
	dfi_err refused;           /* returned for a file the checks refuse */
};

/* Opens path read-only (close-on-exec, no controlling terminal) for a
 * secret of kind k. DFI_OK with *fd open, the caller's to close. On a
 * failure *fd is -1 and why (whycap bytes) says what is wrong and what to
 * do: k->refused for a symlink, a file that is not regular, not owned by
 * the effective uid, accessible to group or others, or larger than k->max;
 * the system's error when it does not let us open or stat the file
 * (DFI_E_NOT_FOUND, DFI_E_PERMISSION, DFI_E_IO: a refusal would send the
 * user looking for the wrong thing, audit k36l finding 11c). */
dfi_err dfi_secfile_open(const struct dfi_secfile_kind *k, const char *path, int *fd, char *why,
    size_t whycap);

#endif
