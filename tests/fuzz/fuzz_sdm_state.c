/* libFuzzer harness: the replay state file of `dfissue sdm verify`
 * (tools/dfissue/sdm_state_text.c, and sdm_state.c reading and replacing
 * it on disk), a file another process may have written.
 *
 * An input is the file's bytes as they are: '#' comment lines and
 * "UIDHEX COUNTER" lines (sdm_state_text.h).
 *
 * What must hold (__builtin_trap otherwise):
 *  - a refused text is refused whole, with "FILE:..." and a reason: no
 *    entry handed out;
 *  - an accepted text is exactly its lines: one entry per line that is no
 *    comment, in order, each line "UID COUNTER" as the writer prints it
 *    (nothing skipped, nothing read past), each UID once;
 *  - what is accepted and written out reads back the same (round trip),
 *    and the written text is a fixed point;
 *  - on disk, sdm_state_check() agrees: a refused file is left byte for
 *    byte as it was and the check fails with DFI_E_PARSE; on an accepted
 *    one a tap of the first card with its counter is a replay that
 *    changes nothing, one with the counter + 1 is accepted and recorded,
 *    and a new card is appended, every other entry kept.
 * ASan/UBSan/LSan catch the rest. Seeds: corpus/sdm_state/ (files the
 * writer wrote, and damaged ones). The file is in cli_fuzz_dir(): /dev/shm
 * when there is one, as sdm_state.c syncs every replacement. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_fuzz.h"
#include "dfissue/sdm_state.h"
#include "dfissue/sdm_state_text.h"
#include "dfissue/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[96], lockpath[112];

static int
same(const struct sdm_state_entry *a, size_t na, const struct sdm_state_entry *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i].uid, b[i].uid) != 0 || a[i].ctr != b[i].ctr)
			return 0;
	return 1;
}

/* The text's lines that are no comment are the entries, as printed. */
static void
check_lines(const uint8_t *d, size_t size, const struct sdm_state_entry *e, size_t n)
{
	size_t at = 0, k = 0;
	while (at < size) {
		const uint8_t *nl = memchr(d + at, '\n', size - at);
		if (nl == NULL)
			FAIL("accepted: a last line without its end");
		size_t l = (size_t)(nl - (d + at));
		if (l == 0 || d[at] != '#') {
			char want[64];
			int w = k < n ? snprintf(want, sizeof(want), "%s %u", e[k].uid, (unsigned)e[k].ctr) : -1;
			if (w < 0 || (size_t)w != l || memcmp(want, d + at, l) != 0)
				FAIL("accepted: a line is not its entry");
			k++;
		}
		at += l + 1;
	}
	if (k != n)
		FAIL("accepted: more entries than lines");
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(e[i].uid, e[j].uid) == 0)
				FAIL("accepted: a UID twice");
}

static void
put_file(const uint8_t *d, size_t size)
{
	unlink(lockpath); /* the lock file's content does not matter; start clean */
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(d, 1, size, f) != size || fclose(f) != 0)
		abort();
}

/* The state on disk, parsed: must succeed (the writer wrote it). */
static struct sdm_state_entry *
on_disk(size_t *n)
{
	FILE *f = fopen(path, "rb");
	char *b = malloc(1 << 20);
	size_t l = f != NULL && b != NULL ? fread(b, 1, 1 << 20, f) : 0;
	if (f == NULL || b == NULL || ferror(f))
		abort();
	fclose(f);
	struct sdm_state_entry *e;
	if (sdm_state_parse(b, l, path, &e, n, NULL, 0) != DFI_OK)
		FAIL("disk: what sdm_state_check wrote does not parse");
	free(b);
	return e;
}

static void
tap(const char *uidhex, uint32_t ctr, enum sdm_state_verdict want, int want_seen, uint32_t want_last)
{
	uint8_t uid[SDM_STATE_UID_MAX];
	size_t ul;
	if (dfi_hex_decode(uidhex, uid, sizeof(uid), &ul) != DFI_OK)
		abort();
	enum sdm_state_verdict v;
	uint32_t last;
	int seen;
	char why[256];
	dfi_err e = sdm_state_check(path, uid, ul, ctr, &v, &last, &seen, why, sizeof(why));
	if (e != DFI_OK)
		FAIL("disk: a tap on an accepted state failed");
	if (v != want || seen != want_seen || last != want_last)
		FAIL("disk: the tap's verdict is not the state's");
}

static void
check_disk(const uint8_t *d, size_t size, const struct sdm_state_entry *e, size_t n, dfi_err perr)
{
	put_file(d, size);
	if (perr != DFI_OK) {
		enum sdm_state_verdict v;
		uint32_t last;
		int seen;
		char why[256] = "";
		static const uint8_t uid[7] = { 0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66 };
		if (sdm_state_check(path, uid, sizeof(uid), 1, &v, &last, &seen, why, sizeof(why)) !=
		    DFI_E_PARSE || why[0] == '\0')
			FAIL("disk: a refused state was not refused with a reason");
		FILE *f = fopen(path, "rb");
		uint8_t *b = malloc(size + 1);
		size_t l = f != NULL && b != NULL ? fread(b, 1, size + 1, f) : 0;
		if (f == NULL || b == NULL)
			abort();
		fclose(f);
		if (l != size || memcmp(b, d, size) != 0)
			FAIL("disk: a refused state was changed");
		free(b);
		return;
	}
	/* a new card: appended at the end, nothing else changed */
	static const char fresh[] = "FFEEDDCCBBAA9988";
	int known = 0;
	for (size_t i = 0; i < n; i++)
		known |= strcmp(e[i].uid, fresh) == 0;
	if (n > 0) {
		tap(e[0].uid, e[0].ctr, SDM_STATE_REPLAY, 1, e[0].ctr);
		if (e[0].ctr < SDM_STATE_CTR_MAX)
			tap(e[0].uid, e[0].ctr + 1, SDM_STATE_ACCEPTED, 1, e[0].ctr);
	}
	if (!known)
		tap(fresh, 5, SDM_STATE_ACCEPTED, 0, 0);
	size_t m;
	struct sdm_state_entry *now = on_disk(&m);
	if (m != n + !known)
		FAIL("disk: entries lost or added");
	for (size_t i = 0; i < n; i++) {
		uint32_t want = i == 0 && e[0].ctr < SDM_STATE_CTR_MAX ? e[0].ctr + 1 : e[i].ctr;
		if (strcmp(now[i].uid, e[i].uid) != 0 || now[i].ctr != want)
			FAIL("disk: an entry changed that no tap touched");
	}
	if (!known && (strcmp(now[n].uid, fresh) != 0 || now[n].ctr != 5))
		FAIL("disk: the new card is not recorded");
	free(now);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (path[0] == '\0') {
		snprintf(path, sizeof(path), "%s/sdm.state", cli_fuzz_dir());
		snprintf(lockpath, sizeof(lockpath), "%s.lock", path);
	}
	struct sdm_state_entry *e = (void *)1;
	size_t n = 99;
	char why[256] = "";
	dfi_err err = sdm_state_parse((const char *)data, size, path, &e, &n, why, sizeof(why));
	if (err != DFI_OK) {
		if (err != DFI_E_PARSE || e != NULL || n != 0)
			FAIL("refused: not a parse error, or half-loaded");
		size_t pl = strlen(path);
		if (strncmp(why, path, pl) != 0 || why[pl] != ':' || why[pl + 1] == '\0')
			FAIL("refused: no FILE: and reason");
		check_disk(data, size, NULL, 0, err);
		return 0;
	}
	check_lines(data, size, e, n);
	size_t tl;
	char *text = sdm_state_format(e, n, &tl);
	if (text == NULL)
		abort();
	struct sdm_state_entry *e2;
	size_t n2;
	if (sdm_state_parse(text, tl, path, &e2, &n2, why, sizeof(why)) != DFI_OK ||
	    !same(e, n, e2, n2))
		FAIL("round trip: the written state does not read back the same");
	size_t tl2;
	char *text2 = sdm_state_format(e2, n2, &tl2);
	if (text2 == NULL)
		abort();
	if (tl2 != tl || memcmp(text, text2, tl) != 0)
		FAIL("round trip: the written text is not a fixed point");
	check_disk(data, size, e, n, err);
	free(text);
	free(text2);
	free(e);
	free(e2);
	return 0;
}
