/* The replay state of `dfissue sdm verify` (sdm_state.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/grow.h"
#include "core/replace.h"
#include "dfissue/util.h"
#include "sdm_state.h"

#define STATE_HEADER "# dfissue sdm state 1: UID counter, one card per line\n"
#define UID_MAX 10
#define STATE_MAX (64u << 20)

struct entry {
	char uid[2 * UID_MAX + 1];
	uint32_t ctr;
};

static dfi_err
io_fail(char *why, size_t cap, const char *what, const char *path)
{
	if (why != NULL && cap > 0)
		snprintf(why, cap, "%s %s: %s", what, path, strerror(errno));
	return DFI_E_IO;
}

/* Reads every entry; a missing file is an empty state. */
static dfi_err
load(const char *path, struct entry **out, size_t *n, char *why, size_t cap)
{
	*out = NULL;
	*n = 0;
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return errno == ENOENT ? DFI_OK : io_fail(why, cap, "reading", path);
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || (uint64_t)st.st_size > STATE_MAX) {
		fclose(f);
		if (why != NULL && cap > 0)
			snprintf(why, cap, "%s: not a state file of a sane size", path);
		return DFI_E_PARSE;
	}
	char line[128];
	size_t cap_e = 0, lineno = 0;
	struct entry *e = NULL;
	dfi_err err = DFI_OK;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (line[0] == '#')
			continue;
		struct entry x;
		char tail;
		unsigned long c;
		if (sscanf(line, "%20[0-9A-F] %lu%c", x.uid, &c, &tail) != 3 || tail != '\n' ||
		    strlen(x.uid) % 2 != 0 || strlen(x.uid) < 8 || c > 0xFFFFFF) {
			if (why != NULL && cap > 0)
				snprintf(why, cap, "%s:%zu: damaged state line (left as it is)", path,
				    lineno);
			err = DFI_E_PARSE;
			break;
		}
		x.ctr = (uint32_t)c;
		struct entry *ne = dfi_grow(e, &cap_e, *n + 1, 64, sizeof(*e));
		if (ne == NULL) {
			err = DFI_E_NOMEM;
			break;
		}
		e = ne;
		e[(*n)++] = x;
	}
	if (err == DFI_OK && ferror(f))
		err = io_fail(why, cap, "reading", path);
	fclose(f);
	if (err != DFI_OK) {
		free(e);
		*n = 0;
		return err;
	}
	*out = e;
	return DFI_OK;
}

/* Replaces path with the entries: a crash leaves the old state or the new. */
static dfi_err
store(const char *path, const struct entry *e, size_t n, char *why, size_t cap)
{
	/* a line: the UID, a space, a counter of at most 10 digits, a newline */
	const size_t line = sizeof(e->uid) + 12;
	if (n > (SIZE_MAX - sizeof(STATE_HEADER)) / line)
		return DFI_E_NOMEM;
	size_t max = sizeof(STATE_HEADER) + n * line, len = sizeof(STATE_HEADER) - 1;
	char *buf = malloc(max);
	if (buf == NULL)
		return DFI_E_NOMEM;
	memcpy(buf, STATE_HEADER, len);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, max - len, "%s %u\n", e[i].uid, e[i].ctr);
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
	char key[2 * UID_MAX + 1], lockpath[4096];
	if (path == NULL || uid == NULL || uidlen < 4 || uidlen > UID_MAX || verdict == NULL ||
	    last == NULL || seen == NULL)
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
	struct entry *e = NULL;
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
		struct entry *ne = realloc(e, (n + 1) * sizeof(*e));
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
