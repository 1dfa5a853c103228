/* Helpers shared by the check tests. Header-only to keep tests standalone. */
#ifndef DFI_TESTUTIL_H
#define DFI_TESTUTIL_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dfissue/util.h"

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

/* Asserts len bytes at p equal the hex string. */
#define ck_assert_hex_eq(p, len, hex)                                            \
	do {                                                                     \
		char got_[2 * 512 + 1];                                          \
		ck_assert_uint_le((len), 512);                                   \
		ck_assert_int_eq(dfi_hex_encode((p), (len), got_, sizeof(got_)), DFI_OK); \
		ck_assert_str_eq(got_, (hex));                                   \
	} while (0)

/* Runs a suite and returns the process exit status. */
static inline int
dfi_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
