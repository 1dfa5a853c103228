/* A journal file read back as what it holds: records numbered from 0 and
 * checkpoint lines, the torn tail of an append in progress left out. The
 * readers that rebuild the record tree from the file (consistency proofs,
 * roots at given sizes) share it rather than each re-deciding what a line
 * is. */
#include <string.h>
#include <unistd.h>

#include "journal_int.h"

struct replay {
	const struct jreplay_fn *fn;
	void *ctx;
	uint64_t seq;
};

static int
replay_line(void *ctx, const char *line, size_t len, int complete, uint64_t off)
{
	(void)off;
	struct replay *r = ctx;
	if (!complete)
		return 1; /* a torn last line: nothing after it counts */
	if (jcp_is_line(line, len))
		return r->fn->checkpoint != NULL && r->fn->checkpoint(r->ctx, line, len);
	return r->fn->record(r->ctx, r->seq++, line, len);
}

dfi_err
jreplay_file(const char *path, const struct jreplay_fn *fn, void *ctx)
{
	int fd;
	dfi_err e = open_journal(path, &fd);
	if (e != DFI_OK)
		return e;
	struct replay r = { fn, ctx, 0 };
	e = jscan_fd(dfi_journal_io_posix(), fd, UINT64_MAX, replay_line, &r);
	close(fd);
	return e;
}

void
jreplay_leaf(jsha *h, const char *line, size_t len, uint8_t leaf[DFI_HASH_LEN])
{
	if (line == NULL)
		memset(leaf, 0, DFI_HASH_LEN);
	else
		jsha_leaf(h, line, len, leaf);
}
