/* The replay state of `dfissue sdm verify` (sdm_state.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/replace.h"
#include "dfissue/util.h"
#include "sdm_state.h"
#include "sdm_state_text.h"

#define STATE_MAX (64u << 20)

static dfi_err
io_fail(char *why, size_t cap, const char *what, const char *path)
{
	if (why != NULL && cap > 0)
		snprintf(why, cap, "%s %s: %s", what, path, strerror(errno));
	return DFI_E_IO;
}

/* Reads every entry; a missing file is an empty state. */
static dfi_err
load(const char *path, struct sdm_state_entry **out, size_t *n, char *why, size_t cap)
{
	*out = NULL;
	*n = 0;
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return errno == ENOENT ? DFI_OK : io_fail(why, cap, "reading", path);
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > STATE_MAX) {
		fclose(f);
		if (why != NULL && cap > 0)
			snprintf(why, cap, "%s: not a state file of a sane size", path);
		return DFI_E_PARSE;
	}
	/* The lock keeps other verifiers out, and the file is only ever
	 * replaced, never written in place: its size holds while it is read.
	 * One byte more than that size is asked for to see that it did. */
	size_t size = (size_t)st.st_size;
	char *text = malloc(size + 1);
	if (text == NULL) {
		fclose(f);
		return DFI_E_NOMEM;
	}
	size_t got = fread(text, 1, size + 1, f);
	dfi_err err = DFI_OK;
	if (ferror(f))
		err = io_fail(why, cap, "reading", path);
	else if (got != size) {
		if (why != NULL && cap > 0)
			snprintf(why, cap, "%s: changed while it was read (another writer?)", path);
		err = DFI_E_PARSE;
	}
	fclose(f);
	if (err == DFI_OK)
		err = sdm_state_parse(text, size, path, out, n, why, cap);
	free(text);
	return err;
}

/* Replaces path with the entries: a crash leaves the old state or the new. */
static dfi_err
store(const char *path, const struct sdm_state_entry *e, size_t n, char *why, size_t cap)
{
	size_t len;
	char *buf = sdm_state_format(e, n, &len);
	if (buf == NULL)
		return DFI_E_NOMEM;
	const char *step;
	dfi_err err = dfi_file_replace(path, buf, len, 1, &step);
	if (err == DFI_E_IO)
		io_fail(why, cap, step, path);
	free(buf);
	return err;
}

dfi_err
sdm_state_check(const char *path, const uint8_t *uid, size_t uidlen, uint32_t ctr,
    enum sdm_state_verdict *verdict, uint32_t *last, int *seen, char *why, size_t cap)
{
	char key[2 * SDM_STATE_UID_MAX + 1], lockpath[4096];
	/* a counter above 3 bytes would be stored and then refused as damage */
	if (path == NULL || uid == NULL || uidlen < 4 || uidlen > SDM_STATE_UID_MAX ||
	    ctr > SDM_STATE_CTR_MAX || verdict == NULL || last == NULL || seen == NULL)
		return DFI_E_INVALID_ARG;
	if (dfi_hex_encode(uid, uidlen, key, sizeof(key)) != DFI_OK)
		return DFI_E_INTERNAL;
	if ((size_t)snprintf(lockpath, sizeof(lockpath), "%s.lock", path) >= sizeof(lockpath))
		return DFI_E_INVALID_ARG;
	int lfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd < 0)
		return io_fail(why, cap, "opening the lock", lockpath);
	while (flock(lfd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			dfi_err e = io_fail(why, cap, "locking", lockpath);
			close(lfd);
			return e;
		}
	}
	struct sdm_state_entry *e = NULL;
	size_t n = 0, i;
	dfi_err err = load(path, &e, &n, why, cap);
	if (err != DFI_OK)
		goto out;
	for (i = 0; i < n; i++)
		if (strcmp(e[i].uid, key) == 0)
			break;
	*seen = i < n;
	*last = i < n ? e[i].ctr : 0;
	if (i < n && ctr <= e[i].ctr) {
		*verdict = SDM_STATE_REPLAY;
		goto out;
	}
	if (i == n) {
		struct sdm_state_entry *ne = realloc(e, (n + 1) * sizeof(*e));
		if (ne == NULL) {
			err = DFI_E_NOMEM;
			goto out;
		}
		e = ne;
		memcpy(e[n].uid, key, sizeof(key));
		n++;
	}
	e[i].ctr = ctr;
	if ((err = store(path, e, n, why, cap)) == DFI_OK)
		*verdict = SDM_STATE_ACCEPTED;
out:
	free(e);
	flock(lfd, LOCK_UN);
	close(lfd);
	return err;
}
