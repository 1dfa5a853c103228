/* Splits a journal into lines, from memory or from a file in bounded
 * chunks (a journal of millions of records is never read whole). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "journal_int.h"

dfi_err
jscan_buf(const uint8_t *data, size_t len, jscan_fn fn, void *ctx)
{
	size_t pos = 0;
	while (pos < len) {
		const uint8_t *nl = memchr(data + pos, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - (data + pos)) : len - pos;
		const char *line = l > DFI_J_LINE_MAX ? NULL : (const char *)data + pos;
		if (fn(ctx, line, l, nl != NULL, pos))
			return DFI_OK;
		pos += l + (nl != NULL);
	}
	return DFI_OK;
}

#define CHUNK (1u << 20)

dfi_err
jscan_fd(const struct dfi_journal_io *io, int fd, uint64_t limit, jscan_fn fn, void *ctx)
{
	char *buf = malloc(CHUNK + DFI_J_LINE_MAX + 1);
	if (buf == NULL)
		return DFI_E_NOMEM;
	uint64_t off = 0;     /* file offset of buf[0] */
	size_t have = 0;      /* bytes in buf */
	uint64_t skip_len = 0; /* inside an overlong line: bytes so far */
	uint64_t skip_off = 0;
	int eof = 0;
	dfi_err e = DFI_OK;
	for (;;) {
		if (!eof && have < CHUNK) {
			size_t want = CHUNK + DFI_J_LINE_MAX + 1 - have;
			if (off + have + want > limit)
				want = (size_t)(limit - off - have);
			ssize_t n = want ? io->pread(io->ctx, fd, buf + have, want, (off_t)(off + have)) : 0;
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				e = DFI_E_IO;
				break;
			}
			if (n == 0)
				eof = 1;
			have += (size_t)n;
		}
		if (have == 0 && eof) {
			/* An over-long last line without LF that ended exactly at
			 * a chunk boundary is still a line: report it, or the
			 * caller never learns the file has a tail. */
			if (skip_len > 0)
				(void)fn(ctx, NULL, skip_len, 0, skip_off);
			break;
		}
		size_t pos = 0;
		int stop = 0;
		while (pos < have) {
			char *nl = memchr(buf + pos, '\n', have - pos);
			if (skip_len > 0) {
				size_t l = nl ? (size_t)(nl - (buf + pos)) : have - pos;
				skip_len += l;
				pos += l;
				if (nl == NULL && !eof)
					break;
				stop = fn(ctx, NULL, skip_len, nl != NULL, skip_off);
				pos += nl != NULL;
				skip_len = 0;
				if (stop)
					break;
				continue;
			}
			if (nl == NULL) {
				size_t l = have - pos;
				if (l > DFI_J_LINE_MAX) {
					skip_off = off + pos;
					skip_len = l;
					pos = have;
					if (eof) {
						stop = fn(ctx, NULL, skip_len, 0, skip_off);
						skip_len = 0;
					}
					break;
				}
				if (eof) {
					stop = fn(ctx, buf + pos, l, 0, off + pos);
					pos = have;
				}
				break;
			}
			size_t l = (size_t)(nl - (buf + pos));
			stop = fn(ctx, l > DFI_J_LINE_MAX ? NULL : buf + pos, l, 1, off + pos);
			pos += l + 1;
			if (stop)
				break;
		}
		if (stop || (eof && pos >= have && skip_len == 0))
			break;
		memmove(buf, buf + pos, have - pos);
		off += pos;
		have -= pos;
		if (eof && have == 0 && skip_len == 0)
			break;
	}
	free(buf);
	return e;
}
