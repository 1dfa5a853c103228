/*
 * The simulator's EEPROM accounting: CreateApplication and CreateFile
 * refuse what does not fit with OUT_OF_EEPROM_ERROR (0E) and leave the
 * card as it was, and a record file's size times its count is summed
 * without wrapping (0x010000 records of 0x010000 bytes are 4 GiB, not the
 * 32-byte header a 32-bit product left).
 *
 * Costs (32-byte blocks, sim_state.c): an application with one AES key
 * takes 96 bytes, a standard data file its size rounded up to a block
 * plus a 32-byte header; a fresh card has 7936 bytes.
 */
#include "simtest.h"

START_TEST(out_of_eeprom_leaves_the_card_as_it_was)
{
	dfi_sim *s = sim_open(NULL, 1);
	/* AID 000001, key settings 0F (free create), one AES key */
	ck_assert_str_eq(tx(s, "90CA0000050100000F8100"), "9100");
	ck_assert_str_eq(tx(s, "905A00000301000000"), "9100");
	/* file 1, 7000 bytes: 7040; 7936 - 96 - 7040 = 800 left */
	ck_assert_str_eq(tx(s, "90CD0000070100EEEE581B0000"), "9100");
	ck_assert_str_eq(tx(s, "906E000000"), "2003009100");
	/* file 2, 1000 bytes: 1056 > 800 */
	ck_assert_str_eq(tx(s, "90CD0000070200EEEEE8030000"), "910E");
	ck_assert_str_eq(tx(s, "906E000000"), "2003009100");
	/* file 3, a cyclic record file of 0x010000 records of 0x010000 bytes */
	ck_assert_str_eq(tx(s, "90C100000A0300EEEE00000100000100"), "910E");
	ck_assert_str_eq(tx(s, "906E000000"), "2003009100");
	ck_assert_str_eq(tx(s, "906F000000"), "019100"); /* file IDs: only 1 */
	/* file 2, 700 bytes: 736; 64 left */
	ck_assert_str_eq(tx(s, "90CD0000070200EEEEBC020000"), "9100");
	ck_assert_str_eq(tx(s, "906E000000"), "4000009100");
	/* back at the PICC: an application of 96 bytes does not fit in 64 */
	ck_assert_str_eq(tx(s, "905A00000300000000"), "9100");
	ck_assert_str_eq(tx(s, "90CA0000050200000F8100"), "910E");
	ck_assert_str_eq(tx(s, "906A000000"), "0100009100"); /* AIDs: only 000001 */
	ck_assert_str_eq(tx(s, "906E000000"), "4000009100");
	dfi_sim_free(s);
}
END_TEST

int
main(void)
{
	return dfi_test_main("sim_eeprom", &(struct dfi_test_case){ .setup = setup, .teardown = teardown },
	    (const TTest *[]){ out_of_eeprom_leaves_the_card_as_it_was, NULL });
}
