/* The replay state file of `dfissue sdm verify` (tools/dfissue/sdm_state.c)
 * on files another process wrote: what fuzz_sdm_state found in the
 * fgets/sscanf reader it replaced, each a file it misread. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "testutil.h"

#include "dfissue/util.h"
#include "sdm_state.h"

static char dir[64], path[96];

static void
put(const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* A tap of the card uidhex with counter ctr against the file as it is. */
static dfi_err
tap(const char *uidhex, uint32_t ctr, enum sdm_state_verdict *v, uint32_t *last, int *seen,
    char *why, size_t cap)
{
	uint8_t uid[10];
	size_t ul;
	ck_assert_int_eq(dfi_hex_decode(uidhex, uid, sizeof(uid), &ul), DFI_OK);
	return sdm_state_check(path, uid, ul, ctr, v, last, seen, why, cap);
}

static void
refused(const char *text, const char *reason)
{
	enum sdm_state_verdict v;
	uint32_t last;
	int seen;
	char why[256] = "";
	put(text);
	ck_assert_int_eq(tap("04AABBCCDDEE80", 20, &v, &last, &seen, why, sizeof(why)), DFI_E_PARSE);
	ck_assert_msg(strstr(why, reason) != NULL, "why: '%s', expected '%s'", why, reason);
	ck_assert_msg(strncmp(why, path, strlen(path)) == 0, "why does not name the file: %s", why);
}

START_TEST(a_uid_without_counter_is_damage)
{
	/* 21 hex digits: the old "%20[0-9A-F] %lu" took the 21st for the
	 * counter and accepted card 0123456789ABCDEF0123 at counter 4 */
	refused("04AABBCCDDEE80 17\n0123456789ABCDEF01234\n", ":2: damaged state line");
}
END_TEST

START_TEST(a_uid_listed_twice_is_damage)
{
	/* the lookup takes the first line: the second's counter was ignored */
	refused("04AABBCCDDEE80 17\n04112233 1\n04AABBCCDDEE80 30\n", "UID 04AABBCCDDEE80 listed twice");
}
END_TEST

START_TEST(only_what_the_writer_writes)
{
	refused("04AABBCCDDEE80 +17\n", ":1: damaged state line: counter is not");
	refused("04AABBCCDDEE80 017\n", ":1: damaged state line: counter out of range");
	refused("04AABBCCDDEE80 16777216\n", ":1: damaged state line: counter out of range");
	refused("04aabbccddee80 17\n", ":1: damaged state line: not a UID");
	refused("04AABBCCDDEE80  17\n", ":1: damaged state line: counter is not");
	refused("04AABBCCDDEE80 17", ":1: damaged state line: no end of line");
	refused("\n", ":1: damaged state line: not a UID");
}
END_TEST

START_TEST(a_long_comment_is_one_line)
{
	/* fgets into 128 bytes read the comment's tail as a card line:
	 * card 04AABBCCDDEE80 seen at counter 5 that no tap had recorded */
	char text[400];
	memset(text, 'x', 200);
	memcpy(text, "# ", 2);
	snprintf(text + 200, sizeof(text) - 200, " 04AABBCCDDEE80 5\n04112233 9\n");
	put(text);
	enum sdm_state_verdict v;
	uint32_t last;
	int seen;
	char why[256] = "";
	ck_assert_int_eq(tap("04AABBCCDDEE80", 3, &v, &last, &seen, why, sizeof(why)), DFI_OK);
	ck_assert_int_eq(v, SDM_STATE_ACCEPTED);
	ck_assert_int_eq(seen, 0);
	ck_assert_int_eq(tap("04112233", 9, &v, &last, &seen, why, sizeof(why)), DFI_OK);
	ck_assert_int_eq(v, SDM_STATE_REPLAY);
	ck_assert_int_eq(seen, 1);
	ck_assert_uint_eq(last, 9);
	ck_assert_int_eq(tap("04AABBCCDDEE80", 3, &v, &last, &seen, why, sizeof(why)), DFI_OK);
	ck_assert_int_eq(v, SDM_STATE_REPLAY);
}
END_TEST

START_TEST(a_counter_above_three_bytes_is_not_stored)
{
	/* it would be written and then refused as damage on the next tap */
	put("");
	enum sdm_state_verdict v;
	uint32_t last;
	int seen;
	ck_assert_int_eq(tap("04AABBCCDDEE80", 0x1000000, &v, &last, &seen, NULL, 0),
	    DFI_E_INVALID_ARG);
	ck_assert_int_eq(tap("04AABBCCDDEE80", 0xFFFFFF, &v, &last, &seen, NULL, 0), DFI_OK);
	ck_assert_int_eq(v, SDM_STATE_ACCEPTED);
	ck_assert_int_eq(tap("04AABBCCDDEE80", 0xFFFFFF, &v, &last, &seen, NULL, 0), DFI_OK);
	ck_assert_int_eq(v, SDM_STATE_REPLAY);
	ck_assert_uint_eq(last, 0xFFFFFF);
}
END_TEST

int
main(void)
{
	/* made before the tests fork, removed after */
	snprintf(dir, sizeof(dir), "/tmp/test-sdm-state-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/sdm.state", dir);
	int rc = dfi_test_main("sdm_state", NULL,
	    (const TTest *[]){ a_uid_without_counter_is_damage, a_uid_listed_twice_is_damage,
	    only_what_the_writer_writes, a_long_comment_is_one_line,
	    a_counter_above_three_bytes_is_not_stored, NULL });
	unlink(path);
	snprintf(path + strlen(path), sizeof(path) - strlen(path), ".lock");
	unlink(path);
	rmdir(dir);
	return rc;
}
