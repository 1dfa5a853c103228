/* The replay state's text (sdm_state_text.h). */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "sdm_state_text.h"

#define STATE_HEADER "# dfissue sdm state 1: UID counter, one card per line\n"

static dfi_err
damaged(char *why, size_t cap, const char *path, size_t lineno, const char *what)
{
	if (why != NULL && cap > 0)
		snprintf(why, cap, "%s:%zu: %s (left as it is)", path, lineno, what);
	return DFI_E_PARSE;
}

/* One card line (without its '\n'): NULL, or what is wrong with it. */
static const char *
entry_line(const char *s, size_t len, struct sdm_state_entry *x)
{
	size_t h = 0;
	while (h < len && ((s[h] >= '0' && s[h] <= '9') || (s[h] >= 'A' && s[h] <= 'F')))
		h++;
	if (h < 8 || h > 2 * SDM_STATE_UID_MAX || h % 2 != 0)
		return "damaged state line: not a UID of 4 to 10 bytes in upper-case hex";
	if (h + 1 >= len || s[h] != ' ')
		return "damaged state line: not 'UID COUNTER'";
	const char *d = s + h + 1;
	size_t nd = len - h - 1;
	/* As written: no sign, no leading zero, no trailing text; 8 digits
	 * are enough for 0xFFFFFF and cannot overflow. */
	if (nd > 8 || (nd > 1 && d[0] == '0'))
		return "damaged state line: counter out of range";
	uint32_t c = 0;
	for (size_t i = 0; i < nd; i++) {
		if (d[i] < '0' || d[i] > '9')
			return "damaged state line: counter is not a decimal number";
		c = c * 10 + (uint32_t)(d[i] - '0');
	}
	if (c > SDM_STATE_CTR_MAX)
		return "damaged state line: counter out of range";
	memcpy(x->uid, s, h);
	x->uid[h] = '\0';
	x->ctr = c;
	return NULL;
}

static int
by_uid(const void *a, const void *b)
{
	const struct sdm_state_entry *const *x = a, *const *y = b;
	return strcmp((*x)->uid, (*y)->uid);
}

/* The first UID listed twice, or NULL (the lookup takes the first line of
 * a UID: a second one would be a counter silently ignored). */
static const struct sdm_state_entry *
duplicate(const struct sdm_state_entry *e, size_t n, int *oom)
{
	const struct sdm_state_entry **p = n > 1 ? malloc(n * sizeof(*p)) : NULL;
	const struct sdm_state_entry *dup = NULL;
	*oom = n > 1 && p == NULL;
	if (p == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		p[i] = &e[i];
	qsort(p, n, sizeof(*p), by_uid);
	for (size_t i = 1; i < n && dup == NULL; i++)
		if (strcmp(p[i - 1]->uid, p[i]->uid) == 0)
			dup = p[i];
	free(p);
	return dup;
}

dfi_err
sdm_state_parse(const char *text, size_t len, const char *path, struct sdm_state_entry **out,
    size_t *n, char *why, size_t cap)
{
	struct sdm_state_entry *e = NULL;
	size_t cap_e = 0, k = 0, lineno = 0, at = 0;
	dfi_err err = DFI_OK;
	*out = NULL;
	*n = 0;
	while (err == DFI_OK && at < len) {
		lineno++;
		const char *s = text + at, *nl = memchr(s, '\n', len - at);
		if (nl == NULL) {
			/* the writer ends every line: a torn or foreign file */
			err = damaged(why, cap, path, lineno, "damaged state line: no end of line");
			break;
		}
		size_t ll = (size_t)(nl - s);
		at += ll + 1;
		if (ll > 0 && s[0] == '#')
			continue;
		struct sdm_state_entry x;
		const char *bad = entry_line(s, ll, &x);
		if (bad != NULL) {
			err = damaged(why, cap, path, lineno, bad);
			break;
		}
		struct sdm_state_entry *ne = dfi_grow(e, &cap_e, k + 1, 64, sizeof(*e));
		if (ne == NULL) {
			err = DFI_E_NOMEM;
			break;
		}
		e = ne;
		e[k++] = x;
	}
	int oom = 0;
	const struct sdm_state_entry *dup = err == DFI_OK ? duplicate(e, k, &oom) : NULL;
	if (oom)
		err = DFI_E_NOMEM;
	else if (dup != NULL) {
		if (why != NULL && cap > 0)
			snprintf(why, cap, "%s: UID %s listed twice (left as it is)", path, dup->uid);
		err = DFI_E_PARSE;
	}
	if (err != DFI_OK) {
		free(e);
		return err;
	}
	*out = e;
	*n = k;
	return DFI_OK;
}

char *
sdm_state_format(const struct sdm_state_entry *e, size_t n, size_t *len)
{
	/* a line: the UID, a space, a counter of at most 10 digits, a newline */
	const size_t line = sizeof(e->uid) + 12;
	if (n > (SIZE_MAX - sizeof(STATE_HEADER)) / line)
		return NULL;
	size_t max = sizeof(STATE_HEADER) + n * line, l = sizeof(STATE_HEADER) - 1;
	char *buf = malloc(max);
	if (buf == NULL)
		return NULL;
	memcpy(buf, STATE_HEADER, l);
	for (size_t i = 0; i < n; i++)
		l += (size_t)snprintf(buf + l, max - l, "%s %" PRIu32 "\n", e[i].uid, e[i].ctr);
	*len = l;
	return buf;
}
