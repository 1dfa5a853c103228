/* Replacing a file whole through a temporary file (core/replace.h). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replace.h"

static int
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes and renames the temporary file tmp (open as fd, closed here);
 * the name of the failed step, or NULL. errno is the failure's. */
static const char *
fill_and_rename(int fd, const char *tmp, const char *path, const void *data, size_t len,
    int sync)
{
	const char *failed = NULL;
	int err = 0;
	if (write_all(fd, data, len) != 0 || (sync && fsync(fd) != 0)) {
		failed = "writing";
		err = errno;
	}
	if (close(fd) != 0 && failed == NULL) {
		failed = "writing";
		err = errno;
	}
	if (failed == NULL && rename(tmp, path) != 0) {
		failed = "replacing";
		err = errno;
	}
	if (failed != NULL) {
		unlink(tmp);
		errno = err;
	}
	return failed;
}

dfi_err
dfi_file_replace(const char *path, const void *data, size_t len, int sync, const char **step)
{
	if (path == NULL || (data == NULL && len > 0))
		return DFI_E_INVALID_ARG;
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 16), *dcopy = strdup(path);
	const char *failed = NULL;
	dfi_err e = DFI_OK;
	if (tmp == NULL || dcopy == NULL) {
		e = DFI_E_NOMEM;
		goto out;
	}
	snprintf(tmp, plen + 16, "%s.tmpXXXXXX", path);
	int fd = mkstemp(tmp);
	if (fd < 0)
		failed = "creating a temporary file for";
	else
		failed = fill_and_rename(fd, tmp, path, data, len, sync);
	if (failed == NULL && sync) {
		/* the rename itself is durable only once the directory is */
		int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || fsync(dfd) != 0)
			failed = "syncing the directory of";
		if (dfd >= 0) {
			int err = errno;
			close(dfd);
			errno = err;
		}
	}
	if (failed != NULL) {
		e = DFI_E_IO;
		if (step != NULL)
			*step = failed;
	}
out:
	free(tmp);
	free(dcopy);
	return e;
}
