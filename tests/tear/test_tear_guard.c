/*
 * The guard transport is the tear tests' witness for "no ChangeKey without
 * a durable intent": show that it does see what it must. A ChangeKey APDU
 * sent by hand through it is a violation without an intent, is accepted
 * once a signed intent for that card, application and key is in the
 * journal, is a violation again while another journal file has unsynced
 * writes or while the intent's batch is written but not yet synced, and
 * after the intent is committed.
 */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#include "tear_fix.h"

static void
send_change_key(struct tear_card *c, uint8_t keyno)
{
	/* ChangeKey with a dummy cryptogram: the card refuses it; the guard
	 * judges before it leaves. */
	uint8_t capdu[5 + 1 + 32 + 1] = { 0x90, 0xC4, 0x00, 0x00, 33, keyno };
	uint8_t r[64];
	size_t rlen;
	(void)dfi_transport_transmit(c->t, capdu, sizeof(capdu), r, sizeof(r), &rlen);
}

START_TEST(guard_sees_violations)
{
	struct tear_env e;
	struct tear_case k;
	struct dfi_perso_result res;
	char why[400], first[320];
	ck_assert_msg(tear_env_open(&e, NULL, NULL, why, sizeof(why)) == 0, "%s", why);
	ck_assert_msg(tear_case_open(&e, &k, why, sizeof(why)) == 0, "%s", why);
	/* Attach the station to the guard the way a tap does (the tap itself
	 * personalizes the card, which does not matter here). */
	ck_assert_int_eq(tear_tap(&k.c, &k.s, &res), DFI_OK);
	ck_assert_uint_eq(tear_guard_violations(&k.c, NULL, 0), 0);
	/* PICC level (the guard follows SelectApplication). */
	uint8_t sel[] = { 0x90, 0x5A, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00 }, r[64];
	size_t rlen;
	ck_assert_int_eq(dfi_transport_transmit(k.c.t, sel, sizeof(sel), r, sizeof(r), &rlen), DFI_OK);

	send_change_key(&k.c, 0x80);
	ck_assert_uint_eq(tear_guard_violations(&k.c, first, sizeof(first)), 1);
	ck_assert_msg(strstr(first, "without an open intent") != NULL, "%s", first);

	dfi_jrec in;
	memset(&in, 0, sizeof(in));
	in.type = DFI_JREC_INTENT;
	memcpy(in.key.uid, k.c.uid, DFI_SIM_UID_LEN);
	in.key.uid_len = DFI_SIM_UID_LEN;
	in.key.aid = 0;
	in.key.keyno = 0;
	in.old_version = 1;
	in.new_version = 2;
	snprintf(in.key_label, sizeof(in.key_label), "picc-master");
	in.key_gen = 2;
	uint64_t seq;
	ck_assert_int_eq(k.s.track.log_synced, k.s.track.log_written);
	uint64_t before = k.s.track.log_synced;
	ck_assert_int_eq(dfi_journal_intent(k.s.j, &in, &seq), DFI_OK);
	ck_assert_uint_gt(k.s.track.log_synced, before);
	send_change_key(&k.c, 0x80);
	ck_assert_uint_eq(tear_guard_violations(&k.c, NULL, 0), 1);

	/* Pretend another journal file was written without syncing. */
	k.s.track.dirty[0] = 1000;
	k.s.track.ndirty = 1;
	send_change_key(&k.c, 0x80);
	ck_assert_uint_eq(tear_guard_violations(&k.c, NULL, 0), 2);
	k.s.track.ndirty = 0;

	/* Pretend the intent's batch was written but its fdatasync had not
	 * completed: the durable part of journal.log ends before it. */
	uint64_t synced = k.s.track.log_synced;
	k.s.track.log_synced = before;
	send_change_key(&k.c, 0x80);
	ck_assert_uint_eq(tear_guard_violations(&k.c, first, sizeof(first)), 3);
	k.s.track.log_synced = synced;
	send_change_key(&k.c, 0x80);
	ck_assert_uint_eq(tear_guard_violations(&k.c, NULL, 0), 3);

	ck_assert_int_eq(dfi_journal_commit(k.s.j, seq), DFI_OK);
	send_change_key(&k.c, 0x80);
	ck_assert_uint_eq(tear_guard_violations(&k.c, NULL, 0), 4);
	/* Another key number of the same application: never intended. */
	ck_assert_int_eq(dfi_journal_intent(k.s.j, &in, &seq), DFI_OK);
	send_change_key(&k.c, 0x81);
	ck_assert_uint_eq(tear_guard_violations(&k.c, NULL, 0), 5);
	ck_assert_int_eq(dfi_journal_abort(k.s.j, seq, "test"), DFI_OK);

	tear_case_close(&k);
	tear_env_close(&e);
}
END_TEST

int
main(void)
{
	return dfi_test_main("tear-guard", &(const struct dfi_test_case){ .run = tear_run_suite },
	    (const TTest *[]){ guard_sees_violations, NULL });
}
