/* The journal directory and its files as the writer may trust them: the
 * directory belongs to this user and nobody else can write it (else anyone
 * who can could plant a symbolic link where the writer creates a file, and
 * have the genesis record or a quarantined tail written over another file),
 * and no file of the journal is ever reached through a symbolic link.
 * Failures say which path and why, in the caller's detail buffer. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal_int.h"
#include "core/why.h"

dfi_err
jdetail(const struct dfi_journal_opts *o, dfi_err e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	e = dfi_vwhy(o != NULL ? o->detail : NULL, o != NULL ? o->detail_cap : 0, e, fmt, ap);
	va_end(ap);
	return e;
}

const char *
jremedy(int err, int may_move)
{
	switch (err) {
	case ENOENT: return "create the parent directory first, or give another --journal";
	case EACCES:
	case EPERM:
		return may_move ? "give this user access to it, or give another --journal" :
				  "give this user write access to the journal file again";
	case EROFS:
		return may_move ? "the file system is mounted read-only: remount it read-write or "
				  "give another --journal" :
				  "remount that file system read-write";
	case ENOSPC:
	case EDQUOT: return "free space on that file system";
	case ELOOP: return "a journal file must not be a symbolic link: remove the link";
	case ENOTDIR: return "a path component is not a directory";
	case EIO: return "the device failed: check the kernel log (dmesg) and the disk";
	default: return may_move ? "check the path and the file system" : "check that file system";
	}
}

dfi_err
jdetail_errno(const struct dfi_journal_opts *o, int err, const char *what, const char *path)
{
	return jdetail(o, jio_errno(err), "%s '%s': %s (%s)", what, path, strerror(err), jremedy(err, 1));
}

dfi_err
jdir_check(const struct dfi_journal_opts *o, int dfd, const char *dir)
{
	struct stat st;
	if (fstat(dfd, &st) != 0)
		return jdetail_errno(o, errno, "cannot examine the journal directory", dir);
	if (!S_ISDIR(st.st_mode))
		return jdetail(o, DFI_E_JOURNAL_UNSAFE, "'%s' is not a directory", dir);
	if (st.st_uid != geteuid())
		return jdetail(o, DFI_E_JOURNAL_UNSAFE,
		    "journal directory '%s' belongs to uid %u, not to this user (uid %u): "
		    "chown it to the user dfissue runs as", dir, (unsigned)st.st_uid, (unsigned)geteuid());
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return jdetail(o, DFI_E_JOURNAL_UNSAFE,
		    "journal directory '%s' is writable by %s (mode %04o): run 'chmod go-w %s' "
		    "(0700 is what dfissue creates)", dir,
		    (st.st_mode & S_IWOTH) ? "everyone" : "its group", (unsigned)(st.st_mode & 07777), dir);
	return DFI_OK;
}

dfi_err
jfile_check(const struct dfi_journal_opts *o, int fd, const char *dir, const char *name)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return jdetail_errno(o, errno, "cannot examine the journal file in", dir);
	if (!S_ISREG(st.st_mode))
		return jdetail(o, DFI_E_JOURNAL_UNSAFE, "'%s/%s' is not a regular file", dir, name);
	if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return jdetail(o, DFI_E_JOURNAL_UNSAFE,
		    "'%s/%s' is owned by uid %u with mode %04o: it must belong to this user "
		    "(uid %u) and be writable by nobody else", dir, name, (unsigned)st.st_uid,
		    (unsigned)(st.st_mode & 07777), (unsigned)geteuid());
	return DFI_OK;
}
