/* The POSIX implementation of the injectable I/O table, and helpers that
 * turn short writes and EINTR into complete writes or one error. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal_int.h"

static int p_open(void *c, const char *p, int f, mode_t m) { (void)c; return open(p, f | O_CLOEXEC, m); }
static int p_openat(void *c, int d, const char *p, int f, mode_t m) { (void)c; return openat(d, p, f | O_CLOEXEC, m); }
static ssize_t p_pwrite(void *c, int fd, const void *b, size_t n, off_t o) { (void)c; return pwrite(fd, b, n, o); }
static ssize_t p_pread(void *c, int fd, void *b, size_t n, off_t o) { (void)c; return pread(fd, b, n, o); }
static int p_fdatasync(void *c, int fd) { (void)c; return fdatasync(fd); }
static int p_fsync(void *c, int fd) { (void)c; return fsync(fd); }
static int p_ftruncate(void *c, int fd, off_t n) { (void)c; return ftruncate(fd, n); }
static int p_flock(void *c, int fd, int op) { (void)c; return flock(fd, op); }
static int p_close(void *c, int fd) { (void)c; return close(fd); }
static int p_renameat(void *c, int od, const char *op, int nd, const char *np) { (void)c; return renameat(od, op, nd, np); }
static int p_mkdirat(void *c, int d, const char *p, mode_t m) { (void)c; return mkdirat(d, p, m); }

static const struct dfi_journal_io posix_io = {
	p_open, p_openat, p_pwrite, p_pread, p_fdatasync, p_fsync, p_ftruncate, p_flock, p_close, p_renameat,
	p_mkdirat, NULL,
};

const struct dfi_journal_io *dfi_journal_io_posix(void) { return &posix_io; }

dfi_err
jio_errno(int err)
{
	switch (err) {
	case ENOMEM: return DFI_E_NOMEM;
	case ENOENT: return DFI_E_NOT_FOUND;
	case EACCES: case EPERM: case EROFS: return DFI_E_PERMISSION;
	case ELOOP: return DFI_E_JOURNAL_UNSAFE;
	case EWOULDBLOCK: return DFI_E_JOURNAL_LOCKED;
	default: return DFI_E_IO;
	}
}

dfi_err
jio_write_all(const struct dfi_journal_io *io, int fd, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = io->pwrite(io->ctx, fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO; /* no progress and no reason: call it the device's */
			return DFI_E_IO;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return DFI_OK;
}
