/*
 * replace.h: replacing a small file whole, so that a crash leaves either
 * the old contents or the new, never a mix.
 *
 * The data go to a temporary file beside the target (the same directory,
 * so that rename(2) is atomic) which is then renamed over it. With sync,
 * the file is fsync()ed before the rename and its directory after it, so
 * the new contents outlive a power cut once the call returns. State files
 * (the CLI's SDM replay counters, the simulator's card images) are written
 * this way; the journal, which only appends, is not.
 */
#ifndef DFI_CORE_REPLACE_H
#define DFI_CORE_REPLACE_H

#include <stddef.h>

#include "dfissue/error.h"

/* Replaces path with the len bytes at data (a new file is created with
 * mode 0600). DFI_E_IO when a step fails: then *step (when step is not
 * NULL) names it for a message "<step> <path>: <strerror(errno)>", errno
 * holds its cause, and path is as it was. DFI_E_NOMEM, DFI_E_INVALID_ARG. */
dfi_err dfi_file_replace(const char *path, const void *data, size_t len, int sync,
    const char **step);

#endif
