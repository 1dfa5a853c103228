/* Opening a file that holds a secret: see secfile.h. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secfile.h"
#include "why.h"

/* Why fd, open on path, must not be read for a secret of kind k; DFI_OK
 * when it may. */
static dfi_err
check(const struct dfi_secfile_kind *k, const char *path, int fd, char *why, size_t whycap)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return dfi_why(why, whycap, DFI_E_IO, "cannot stat %s '%s': %s", k->what, path,
		    strerror(errno));
	if (!S_ISREG(st.st_mode))
		return dfi_why(why, whycap, k->refused, "%s '%s' is not a regular file (FIFO, device "
		    "or directory): put %s in a regular file, mode 600", k->what, path, k->put);
	if (st.st_uid != geteuid())
		return dfi_why(why, whycap, k->refused, "%s '%s' is owned by uid %u, not by this "
		    "user (uid %u): chown it", k->what, path, (unsigned)st.st_uid,
		    (unsigned)geteuid());
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		return dfi_why(why, whycap, k->refused, "%s '%s' is accessible to group or others "
		    "(mode %03o): chmod 600 it", k->what, path, (unsigned)(st.st_mode & 0777));
	if (st.st_size < 0 || (unsigned long long)st.st_size > k->max)
		return dfi_why(why, whycap, k->refused, "%s '%s' is %lld bytes: it must hold %s, at "
		    "most %zu bytes", k->what, path, (long long)st.st_size, k->holds, k->shown_max);
	return DFI_OK;
}

dfi_err
dfi_secfile_open(const struct dfi_secfile_kind *k, const char *path, int *fd, char *why,
    size_t whycap)
{
	/* O_NONBLOCK: opening a FIFO must not wait for a writer (the check
	 * refuses it right after). O_NOFOLLOW: a symlink fails with ELOOP. */
	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (*fd < 0) {
		int err = errno;
		if (err == ELOOP)
			return dfi_why(why, whycap, k->refused, "%s '%s' is a symbolic link: give the "
			    "file itself", k->what, path);
		return dfi_why(why, whycap, err == ENOENT ? DFI_E_NOT_FOUND
		    : err == EACCES || err == EPERM ? DFI_E_PERMISSION : DFI_E_IO,
		    "cannot open %s '%s': %s", k->what, path, strerror(err));
	}
	dfi_err e = check(k, path, *fd, why, whycap);
	if (e != DFI_OK) {
		close(*fd);
		*fd = -1;
	}
	return e;
}
