/* Helpers shared by the check tests. Header-only to keep tests standalone. */
#ifndef DFI_TESTUTIL_H
#define DFI_TESTUTIL_H

#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dfissue/util.h"

/* Runs a shell command; returns its exit status (-1: killed), its
 * standard output in out (cap bytes, NUL-terminated, cut when longer). */
static inline int
dfi_test_run(const char *cmd, char *out, size_t cap)
{
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Asserts that the dfi_err expression x is DFI_OK, naming the call and
 * the error when it is not: the tests' one form of "this must succeed".
 * OK(x) is its short name (a test that wants more in the message defines
 * its own after #undef OK). */
#define ck_assert_ok(x)                                                          \
	do {                                                                     \
		dfi_err e_ = (x);                                                \
		ck_assert_msg(e_ == DFI_OK, "%s: %s", #x, dfi_strerror(e_));    \
	} while (0)
#define OK(x) ck_assert_ok(x)

/* Decodes a hex literal into buf (of cap bytes), failing the test on
 * malformed input; returns the number of bytes. */
static inline size_t
dfi_test_hex(const char *hex, uint8_t *buf, size_t cap)
{
	size_t n = 0;
	ck_assert_int_eq(dfi_hex_decode(hex, buf, cap, &n), DFI_OK);
	return n;
}
#define HEX(buf, hex) dfi_test_hex((hex), (buf), sizeof(buf))

/* Reads the file at path into buf (cap bytes, the last kept for a NUL
 * that ends what was read), failing the test when it cannot be opened;
 * returns the number of bytes read. */
static inline size_t
dfi_test_read_file(const char *path, void *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	size_t n = fread(buf, 1, cap - 1, f);
	fclose(f);
	((char *)buf)[n] = '\0';
	return n;
}

/* Writes text to the file at path (created or emptied), failing the test
 * when it cannot be written. */
static inline void
dfi_test_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	fputs(text, f);
	ck_assert_msg(fclose(f) == 0, "cannot write %s", path);
}

/* Writes text to path as a file holding a secret must be written (a PIN,
 * a key component: core/secfile.h): created mode 600, and made so if it
 * was there already. */
static inline void
dfi_test_write_secret(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_msg(fd >= 0, "cannot open %s", path);
	ck_assert_msg(fchmod(fd, 0600) == 0, "cannot chmod %s", path);
	size_t n = strlen(text);
	ck_assert_msg(write(fd, text, n) == (ssize_t)n, "cannot write %s", path);
	ck_assert_msg(close(fd) == 0, "cannot write %s", path);
}

/* Asserts len bytes at p equal the hex string. */
#define ck_assert_hex_eq(p, len, hex)                                            \
	do {                                                                     \
		char got_[2 * 512 + 1];                                          \
		ck_assert_uint_le((len), 512);                                   \
		ck_assert_int_eq(dfi_hex_encode((p), (len), got_, sizeof(got_)), DFI_OK); \
		ck_assert_str_eq(got_, (hex));                                   \
	} while (0)

/* Adds the tests of a NULL-terminated list to tc, in order: a suite's
 * list of tests is data, written once, not one call per test. */
static inline void
dfi_test_add(TCase *tc, const TTest *const *tests)
{
	for (; *tests != NULL; tests++)
		tcase_add_test(tc, *tests);
}

/* Runs a suite and returns the process exit status; in_process: the
 * tests share this process (CK_NOFORK) instead of a child each. */
static inline int
dfi_run_suite_in(Suite *s, int in_process)
{
	SRunner *sr = srunner_create(s);
	if (in_process)
		srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static inline int
dfi_run_suite(Suite *s)
{
	return dfi_run_suite_in(s, 0);
}

/* A check loop test: runs n times, with _i from 0 to n - 1 (one table
 * entry each). */
struct dfi_test_loop {
	const TTest *test;
	int n;
};

/* A further test case of a program's suite: its tests share a set-up that
 * the others do not need (a database and a journal, say), made by setup
 * before each of them and undone by teardown after it (a checked fixture,
 * either may be NULL); the timeout is the program's. */
struct dfi_test_group {
	const char *name;
	void (*setup)(void), (*teardown)(void);
	const TTest *const *tests; /* NULL-terminated */
};

/* How a program's one test case runs. Zero is check's default for each
 * member, so a designated initializer names only what differs. */
struct dfi_test_case {
	void (*setup)(void), (*teardown)(void);
	int once;       /* the fixture runs once around all tests (else around each) */
	int timeout;    /* seconds; 0: check's default; DFI_TEST_NO_TIMEOUT: none */
	int in_process; /* CK_NOFORK: the tests share the process (one token) */
	/* Loop tests, run after the plain ones, ended by one whose test is
	 * NULL (may be NULL itself). */
	const struct dfi_test_loop *loops;
	/* Runs the suite and returns the exit status, for programs whose
	 * runs need more around them (the tear tests' temporary root); NULL:
	 * dfi_run_suite_in(s, in_process). */
	int (*run)(Suite *s);
	/* Further test cases, each with its own fixture, run after the
	 * first; ended by one whose name is NULL (may be NULL itself). */
	const struct dfi_test_group *groups;
};
#define DFI_TEST_NO_TIMEOUT (-1)

/* A test case of suite s named name, with the program's timeout (of a
 * struct dfi_test_case) and the NULL-terminated list of tests. */
static inline TCase *
dfi_test_tcase(Suite *s, const char *name, int timeout, const TTest *const *tests)
{
	TCase *tc = tcase_create(name);
	if (timeout != 0)
		tcase_set_timeout(tc, timeout == DFI_TEST_NO_TIMEOUT ? 0 : timeout);
	dfi_test_add(tc, tests);
	suite_add_tcase(s, tc);
	return tc;
}

/* The main() of a check program: one suite of one test case, both named
 * name, running the NULL-terminated list of tests (c may be NULL), and
 * c's further groups. Returns the process exit status. */
static inline int
dfi_test_main(const char *name, const struct dfi_test_case *c, const TTest *const *tests)
{
	static const struct dfi_test_case plain;
	if (c == NULL)
		c = &plain;
	Suite *s = suite_create(name);
	TCase *tc = dfi_test_tcase(s, name, c->timeout, tests);
	if (c->setup != NULL || c->teardown != NULL) {
		if (c->once)
			tcase_add_unchecked_fixture(tc, c->setup, c->teardown);
		else
			tcase_add_checked_fixture(tc, c->setup, c->teardown);
	}
	for (const struct dfi_test_loop *l = c->loops; l != NULL && l->test != NULL; l++)
		tcase_add_loop_test(tc, l->test, 0, l->n);
	for (const struct dfi_test_group *g = c->groups; g != NULL && g->name != NULL; g++)
		tcase_add_checked_fixture(dfi_test_tcase(s, g->name, c->timeout, g->tests), g->setup, g->teardown);
	return c->run != NULL ? c->run(s) : dfi_run_suite_in(s, c->in_process);
}

/* The number of rows of a table (an array, not a pointer). */
#define DFI_TEST_ROWS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* dfi_test_main with one loop test, run once per row of a table of rows
 * rows (DFI_TEST_ROWS), after the plain tests. */
static inline int
dfi_test_main_rows(const char *name, const TTest *loop, int rows, const TTest *const *tests)
{
	const struct dfi_test_loop loops[] = { { loop, rows }, { NULL, 0 } };
	return dfi_test_main(name, &(const struct dfi_test_case){ .loops = loops }, tests);
}

#endif
