/* Batch rows carry card holders' data written to cards (card numbers,
 * diversification inputs): no block the engine frees while it reads a batch
 * and frees its rows may still hold a row's value (engine/profile/batch.c,
 * batch_csv.c wipe every copy first). free and realloc are wrapped through
 * the linker (--wrap) and every block they are handed is searched, over its
 * malloc_usable_size, for the values of the rows below (as text, as the
 * decoded hex bytes, as the int64) before it goes. That is glibc and GNU ld,
 * not portable C: a freed block cannot be seen otherwise.
 *
 * jansson's own blocks are not the engine's (batch_jsonl.c): it is given
 * the CLI's wiping allocator here (tools/dfissue/jwipe.c, as dfissue's main
 * does), so that a value it freed as it was cannot come back in a block the
 * engine is handed next. test_cli_json_wipe searches dfissue's own. */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "dfissue/profile.h"
#include "dfissue/util.h"
#include "jwipe.h"

void __real_free(void *p);
void *__real_realloc(void *p, size_t n);
void __wrap_free(void *p);
void *__wrap_realloc(void *p, size_t n);

#define HOLDER "Hopper-7Q2x-holder"
#define SECRET_HEX "C0FFEE5AFE1DC0DE0BADF00D"
#define CARD_NO 7311768291738192LL

static const uint8_t secret[] = { 0xC0, 0xFF, 0xEE, 0x5A, 0xFE, 0x1D, 0xC0, 0xDE, 0x0B, 0xAD, 0xF0, 0x0D };

static volatile int armed; /* searching: set around the engine's calls only (volatile: the
                           * compiler takes free for a builtin that reads no global) */
static unsigned searched;  /* blocks searched */
static char found[160];    /* the first value seen in a freed block */

static int
holds(const uint8_t *p, size_t n, const void *v, size_t vl)
{
	for (size_t i = 0; i + vl <= n; i++)
		if (memcmp(p + i, v, vl) == 0)
			return 1;
	return 0;
}

static void
search(void *p, const char *how)
{
	if (!armed || p == NULL)
		return;
	size_t n = malloc_usable_size(p);
	int64_t card = CARD_NO;
	const struct {
		const void *v;
		size_t len;
		const char *what;
	} vals[] = {
		{ HOLDER, strlen(HOLDER), "the holder's name" },
		{ SECRET_HEX, strlen(SECRET_HEX), "the secret as hex text" },
		{ secret, sizeof(secret), "the secret's bytes" },
		{ "7311768291738192", 16, "the card number as text" },
		{ &card, sizeof(card), "the card number as an int64" },
	};
	searched++;
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		if (found[0] == '\0' && holds(p, n, vals[i].v, vals[i].len))
			snprintf(found, sizeof(found), "%s in a block of %zu bytes given to %s", vals[i].what, n, how);
}

void
__wrap_free(void *p)
{
	search(p, "free");
	__real_free(p);
}

void *
__wrap_realloc(void *p, size_t n)
{
	search(p, "realloc"); /* a moved block is freed as it is */
	return __real_realloc(p, n);
}

/* Reads every row of text (named name), frees each and the batch, with the
 * search armed; returns the rows read and the reader's last answer. */
static dfi_err
read_all(const char *name, const char *text, int *rows)
{
	dfi_batch *b = NULL;
	struct dfi_diag d;
	dfi_err e;
	*rows = 0;
	found[0] = '\0';
	armed = 1;
	e = dfi_batch_open_buffer(&b, name, DFI_BATCH_AUTO, text, strlen(text), &d);
	for (dfi_batch_row *r = NULL; e == DFI_OK && (e = dfi_batch_next(b, &r, &d)) == DFI_OK && r != NULL;) {
		const struct dfi_batch_value *v = dfi_batch_row_get(r, "secret");
		ck_assert_ptr_nonnull(v);
		ck_assert_int_eq(memcmp(v->bytes, secret, sizeof(secret)), 0);
		(*rows)++;
		dfi_batch_row_free(r);
	}
	dfi_batch_free(b);
	armed = 0;
	return e;
}

START_TEST(the_search_sees_a_value)
{
	/* the check itself: a block freed with a value in it is seen */
	char *volatile p = malloc(64); /* volatile: no store to it is dead */
	ck_assert_ptr_nonnull(p);
	snprintf(p, 64, "x%sy", HOLDER);
	found[0] = '\0';
	armed = 1;
	free(p);
	armed = 0;
	ck_assert_msg(strstr(found, "holder") != NULL, "the search missed a value: %s", found);
}
END_TEST

/* Reads every row of text (named name): 20 good rows, then an error. */
static void
rows_leave_nothing(const char *name, const char *text)
{
	int rows;
	unsigned before = searched;
	ck_assert_int_eq(read_all(name, text, &rows), DFI_E_PROFILE);
	ck_assert_int_eq(rows, 20);
	ck_assert_msg(found[0] == '\0', "%s: %s", name, found);
	ck_assert_uint_gt(searched - before, 100);
}

START_TEST(csv_rows_leave_nothing)
{
	/* fields long enough to grow several times, and the row's value
	 * table too; the last record's bad hex fails after the secret was
	 * decoded in part */
	char text[8192];
	size_t at = (size_t)snprintf(text, sizeof(text), "card_number:int,holder,secret:hex\n");
	for (int i = 0; i < 20; i++)
		at += (size_t)snprintf(text + at, sizeof(text) - at, "%lld,\"%s, %d, a name long enough to grow "
		    "its field several times over\",%s\n", CARD_NO, HOLDER, i, SECRET_HEX);
	snprintf(text + at, sizeof(text) - at, "%lld,%s,%sZZ\n", CARD_NO, HOLDER, SECRET_HEX);
	rows_leave_nothing("wipe.csv", text);
}
END_TEST

START_TEST(jsonl_rows_leave_nothing)
{
	char text[8192];
	size_t at = 0;
	for (int i = 0; i < 20; i++)
		at += (size_t)snprintf(text + at, sizeof(text) - at,
		    "{\"card_number\": %lld, \"holder\": \"%s %d\", \"secret:hex\": \"%s\"}\n", CARD_NO, HOLDER, i,
		    SECRET_HEX);
	snprintf(text + at, sizeof(text) - at, "{\"card_number\": %lld, \"holder\": \"%s\", \"secret:hex\": \"%sZZ\"}\n",
	    CARD_NO, HOLDER, SECRET_HEX);
	rows_leave_nothing("wipe.jsonl", text);
}
END_TEST

int
main(void)
{
	cli_jwipe_install();
	return dfi_test_main("profile_batch_wipe", NULL,
	    (const TTest *[]){ the_search_sees_a_value, csv_rows_leave_nothing, jsonl_rows_leave_nothing, NULL });
}
