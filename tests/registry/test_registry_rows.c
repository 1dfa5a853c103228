/* The registry's row decoders (engine/registry/pg_rows.h) on results built
 * with libpq's PQmakeEmptyPGresult/PQsetvalue, no server: each shape
 * accepted as the schema writes it, and the rows a hand edit, an old backup
 * or a compromised station role can write refused. Several of these were
 * accepted (or read through a NULL pointer) before the decoders: each test
 * says which. tests/fuzz/fuzz_registry_rows.c fuzzes the same decoders. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <openssl/sha.h>

#include "registry/pg_rows.h"
#include "clock.h"
#include "testutil.h"

#define ORIGIN "dfissue.test/rows"
#define LINE                                                                                                          \
	"seq=1 time=2026-11-25T08:44:49Z type=intent uid=04782E21801D80 aid=3042F5 keyno=1 old_version=0 new_version=1 " \
	"key_label=app1-master key_objid=- key_gen=1 div_input=04782E21801D80 station=seed%20station"
#define AID "3162869" /* 0x3042F5, LINE's */
#define ROOT "\\x5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a"

static const uint8_t uid7[] = { 0x04, 0x78, 0x2E, 0x21, 0x80, 0x1D, 0x80 };

/* A result of ncols text columns and nrows rows, cells row by row (a NULL
 * cell is SQL NULL). */
static PGresult *
rows(int ncols, int nrows, const char *const *cells)
{
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	ck_assert_ptr_nonnull(res);
	PGresAttDesc att[16];
	ck_assert_int_le(ncols, 16);
	for (int c = 0; c < ncols; c++)
		att[c] = (PGresAttDesc){ .name = "c", .typid = 25, .typlen = -1, .atttypmod = -1 };
	ck_assert_int_eq(PQsetResultAttrs(res, ncols, ncols > 0 ? att : NULL), 1);
	for (int i = 0; i < nrows; i++)
		for (int c = 0; c < ncols; c++) {
			const char *v = cells[i * ncols + c];
			ck_assert_int_eq(PQsetvalue(res, i, c, (char *)(uintptr_t)v, v == NULL ? -1 : (int)strlen(v)), 1);
		}
	return res;
}

/* A field replaced by len bytes of p (which may hold NULs). */
static void
set_bytes(PGresult *res, int i, int c, const char *p, int len)
{
	ck_assert_int_eq(PQsetvalue(res, i, c, (char *)(uintptr_t)p, len), 1);
}

START_TEST(slot_rows_in_range)
{
	const char *ok[] = { "\\x04782e21", "0", "13", "2", "-1", NULL };
	PGresult *res = rows(6, 1, ok);
	struct dfi_pgreg_slot s;
	ck_assert_int_eq(pg_row_slot(res, 0, &s), 0);
	ck_assert_uint_eq(s.uid_len, 4);
	ck_assert_int_eq(s.keyno, 13);
	ck_assert_int_eq(s.version, -1);
	ck_assert_int_eq(s.has_profile, 0);
	/* UIDs of 1 and 3 bytes were accepted before (only the hex's length
	 * of 4 was checked, i.e. one byte); 11 bytes never fitted */
	static const char *const bad_uids[] = { "\\x04", "\\x047822", "\\x0102030405060708090a0b",
		"04782e21", "\\x04782e2", "\\x04782g21" };
	for (size_t k = 0; k < sizeof(bad_uids) / sizeof(bad_uids[0]); k++) {
		set_bytes(res, 0, 0, bad_uids[k], (int)strlen(bad_uids[k]));
		ck_assert_msg(pg_row_slot(res, 0, &s) != 0, "uid %s accepted", bad_uids[k]);
	}
	set_bytes(res, 0, 0, "\\x0102030405060708090a", 22);
	ck_assert_int_eq(pg_row_slot(res, 0, &s), 0);
	ck_assert_uint_eq(s.uid_len, 10);
	/* numbers: exact decimals in range */
	static const struct {
		int col;
		const char *v;
	} bad[] = { { 1, "16777216" }, { 1, "-1" }, { 1, "+1" }, { 1, " 1" }, { 1, "01" }, { 2, "14" }, { 3, "3" },
		{ 4, "256" }, { 4, "-2" }, { 4, "" }, { 4, NULL }, { 5, "\\x00" } };
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		PGresult *r2 = rows(6, 1, ok);
		set_bytes(r2, 0, bad[k].col, bad[k].v, bad[k].v == NULL ? -1 : (int)strlen(bad[k].v));
		ck_assert_msg(pg_row_slot(r2, 0, &s) != 0, "column %d \"%s\" accepted", bad[k].col, bad[k].v);
		PQclear(r2);
	}
	PQclear(res);
}
END_TEST

/* A result with fewer columns than the shape: the auditor's slot and
 * checkpoint readers called strcmp() on PQgetvalue()'s NULL for the
 * missing column (a crash), renew() and witness() did for no column. */
START_TEST(missing_columns_are_refused)
{
	const char *slot5[] = { "\\x04782e21", "0", "1", "2", "-1" };
	PGresult *res = rows(5, 1, slot5);
	struct dfi_pgreg_slot s;
	ck_assert_int_ne(pg_row_slot(res, 0, &s), 0);
	PQclear(res);
	const char *cp6[] = { ORIGIN, "5", ROOT, "note", "station", "2026-12-07T03:00:00Z" };
	res = rows(6, 1, cp6);
	struct dfi_pgreg_checkpoint cp;
	ck_assert_int_ne(pg_row_checkpoint(res, 0, &cp), 0);
	PQclear(res);
	res = rows(0, 0, NULL);
	int flag, missing;
	struct dfi_pgreg_witness w;
	ck_assert_int_ne(pg_get_flag(res, 0, 0, &flag), 0);
	ck_assert_int_ne(pg_row_witness(res, &w), 0);
	ck_assert_int_ne(pg_row_schema_missing(res, &missing), 0);
	PQclear(res);
	/* and a row index out of range, either side */
	const char *late[] = { ORIGIN, "1" };
	res = rows(2, 1, late);
	char origin[DFI_J_STR_MAX];
	uint64_t seq;
	ck_assert_int_eq(pg_row_late(res, 0, origin, &seq), 0);
	ck_assert_int_ne(pg_row_late(res, 1, origin, &seq), 0);
	ck_assert_int_ne(pg_row_late(res, -1, origin, &seq), 0);
	PQclear(res);
}
END_TEST

/* A NULL or empty origin was read as "" (the columns are NOT NULL). */
START_TEST(origins_are_required)
{
	const char *rec[] = { NULL, "1", LINE, "", "2", LINE };
	PGresult *res = rows(3, 2, rec);
	char origin[DFI_J_STR_MAX];
	uint64_t seq;
	const char *line;
	size_t len;
	ck_assert_int_ne(pg_row_record(res, 0, origin, &seq, &line, &len), 0);
	ck_assert_int_ne(pg_row_record(res, 1, origin, &seq, &line, &len), 0);
	char longer[DFI_J_STR_MAX + 1];
	memset(longer, 'o', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	set_bytes(res, 1, 0, longer, DFI_J_STR_MAX);
	ck_assert_int_ne(pg_row_record(res, 1, origin, &seq, &line, &len), 0);
	set_bytes(res, 1, 0, longer, DFI_J_STR_MAX - 1);
	ck_assert_int_eq(pg_row_record(res, 1, origin, &seq, &line, &len), 0);
	ck_assert_uint_eq(strlen(origin), DFI_J_STR_MAX - 1);
	ck_assert_uint_eq(seq, 2);
	ck_assert_uint_eq(len, strlen(LINE));
	PQclear(res);
}
END_TEST

/* An open intent's line must be an intent or change whose seq is the
 * row's: the row's seq replaced the line's before, so a row could pair
 * one record's line with another's seq. */
START_TEST(open_intent_lines_match_their_rows)
{
	const char *oi[] = { ORIGIN, "1", LINE, "station-a" };
	PGresult *res = rows(4, 1, oi);
	char origin[DFI_J_STR_MAX], station[DFI_J_STR_MAX];
	dfi_jrec r;
	ck_assert_int_eq(pg_row_open_intent(res, 0, origin, &r, station), 0);
	ck_assert_int_eq(r.type, DFI_JREC_INTENT);
	ck_assert_uint_eq(r.seq, 1);
	ck_assert_str_eq(station, "station-a");
	set_bytes(res, 0, 1, "2", 1);
	ck_assert_int_ne(pg_row_open_intent(res, 0, origin, &r, station), 0);
	set_bytes(res, 0, 1, "1", 1);
	static const char commit[] = "seq=1 time=2026-11-25T08:44:49Z type=commit intent=1 station=seed%20station";
	set_bytes(res, 0, 2, commit, (int)strlen(commit));
	ck_assert_int_ne(pg_row_open_intent(res, 0, origin, &r, station), 0);
	set_bytes(res, 0, 2, LINE, (int)strlen(LINE));
	set_bytes(res, 0, 3, NULL, -1);
	ck_assert_int_ne(pg_row_open_intent(res, 0, origin, &r, station), 0);
	PQclear(res);
}
END_TEST

/* A refusal row keeps what a refused station sent: never malformed, cut. */
START_TEST(refusal_rows_are_cut)
{
	char longer[300];
	memset(longer, 'o', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	const char *rf[] = { longer, "station-a", NULL, "-5", NULL, "2026-12-07T03:00:00Z" };
	PGresult *res = rows(6, 1, rf);
	struct dfi_pgreg_refusal r;
	ck_assert_int_eq(pg_row_refusal(res, 0, &r), 0);
	ck_assert_uint_eq(strlen(r.origin), sizeof(r.origin) - 1);
	ck_assert_uint_eq(r.new_size, 0);
	ck_assert_str_eq(r.db_user, "");
	set_bytes(res, 0, 3, "12", 2);
	set_bytes(res, 0, 1, "st\0b", 4);
	ck_assert_int_eq(pg_row_refusal(res, 0, &r), 0);
	ck_assert_uint_eq(r.new_size, 12);
	ck_assert_str_eq(r.station, "st");
	PQclear(res);
}
END_TEST

struct seen {
	unsigned slots, intents, marked;
};

static void
v_slot(void *ctx, const struct dfi_reg_slot *s)
{
	struct seen *x = ctx;
	x->slots++;
	x->marked += (unsigned)s->has_open_intent;
	ck_assert_str_eq(s->origin, ORIGIN);
}

static void
v_intent(void *ctx, const dfi_jrec *r, int local)
{
	struct seen *x = ctx;
	x->intents++;
	ck_assert_int_eq(local, 1);
	ck_assert_uint_eq(r->seq, 1);
}

#define LOOKUP_ROWS(changed_by, ikeyno, iseq)                                                                          \
	"card", "2", "1", "0", "7", "0", NULL, NULL, NULL, "slot", AID, "1", "2", "0", "1", changed_by, ORIGIN, NULL,      \
	    "intent", AID, ikeyno, iseq, "0", "0", ORIGIN, LINE, NULL

START_TEST(lookup_rows)
{
	const char *ok[] = { LOOKUP_ROWS("0", "1", "1") };
	PGresult *res = rows(9, 3, ok);
	struct seen x = { 0, 0, 0 };
	struct dfi_reg_visit v = { v_slot, v_intent, &x };
	struct dfi_reg_card out;
	uint64_t open[4];
	unsigned nopen;
	ck_assert_int_eq(pg_rows_lookup(res, 0, uid7, sizeof(uid7), ORIGIN, &out, &v, open, 4, &nopen), 0);
	ck_assert_uint_eq(out.slots, 1);
	ck_assert_uint_eq(out.changed, 1);
	ck_assert_int_eq(out.issued, 1);
	ck_assert_uint_eq(out.refusals, 2);
	ck_assert_uint_eq(out.last_refusal, 7);
	ck_assert_uint_eq(out.open_intents, 1);
	ck_assert_uint_eq(nopen, 1);
	ck_assert_uint_eq(open[0], 1);
	ck_assert_uint_eq(x.slots, 1);
	ck_assert_uint_eq(x.intents, 1);
	ck_assert_uint_eq(x.marked, 1);
	/* another UID's line, or a row of another kind: malformed */
	ck_assert_int_ne(pg_rows_lookup(res, 0, uid7, 4, ORIGIN, &out, NULL, open, 4, &nopen), 0);
	set_bytes(res, 0, 0, "claim", 5);
	ck_assert_int_ne(pg_rows_lookup(res, 0, uid7, sizeof(uid7), ORIGIN, &out, NULL, open, 4, &nopen), 0);
	PQclear(res);
	/* a change intent (no key number) marks no slot */
	const char *change[] = { LOOKUP_ROWS("0", NULL, "1") };
	res = rows(9, 3, change);
	x = (struct seen){ 0, 0, 0 };
	ck_assert_int_eq(pg_rows_lookup(res, 0, uid7, sizeof(uid7), ORIGIN, &out, &v, open, 4, &nopen), 0);
	ck_assert_uint_eq(x.marked, 0);
	PQclear(res);
	/* changed_by "12" then a NUL: strlen() parsed "12" before */
	res = rows(9, 3, ok);
	set_bytes(res, 1, 6, "12\0zz", 5);
	ck_assert_int_ne(pg_rows_lookup(res, 0, uid7, sizeof(uid7), ORIGIN, &out, NULL, open, 4, &nopen), 0);
	PQclear(res);
	/* an intent row whose seq is not its line's; one whose key number is
	 * out of range (compared as text, unchecked, before) */
	const char *const *bad[] = { (const char *[]){ LOOKUP_ROWS("0", "1", "2") },
		(const char *[]){ LOOKUP_ROWS("0", "14", "1") }, (const char *[]){ LOOKUP_ROWS("0", "01", "1") },
		(const char *[]){ LOOKUP_ROWS(NULL, "1", "1") } };
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		res = rows(9, 3, bad[k]);
		ck_assert_msg(pg_rows_lookup(res, 0, uid7, sizeof(uid7), ORIGIN, &out, NULL, open, 4, &nopen) != 0,
		    "lookup rows %zu accepted", k);
		PQclear(res);
	}
}
END_TEST

/* A UID with thousands of slots and as many open intents (a station role
 * cannot write them, a restored backup or the owner role can): decoded in
 * n log n. Each slot row searched every intent row before, S x I row
 * reads: 2,000 x 2,000 took 0.72-0.86 s here, where sorting the intents'
 * slots once takes 0.009-0.013 s (RelWithDebInfo, 2-core machine shared
 * with other builds). The bound is 20x the new figure (room for ASan and a
 * loaded machine) and a third of the old one. */
#define BIG_SLOTS 2000
#define BIG_INTENTS 2000
#define LOOKUP_BOUND_S 0.25

/* Slot i's (aid, keyno): 14 key numbers per application. */
static void
big_slot(int i, char aid[16], char keyno[4])
{
	snprintf(aid, 16, "%d", 0x100000 + i / 14);
	snprintf(keyno, 4, "%d", i % 14);
}

START_TEST(lookup_rows_linear)
{
	int n = 1 + BIG_SLOTS + BIG_INTENTS;
	PGresult *res = rows(9, 0, NULL);
	const char *card[] = { "card", "2", "1", "0", "7", "0", NULL, NULL, NULL };
	for (int c = 0; c < 9; c++)
		set_bytes(res, 0, c, card[c], card[c] == NULL ? -1 : (int)strlen(card[c]));
	for (int i = 0; i < BIG_SLOTS + BIG_INTENTS; i++) {
		int intent = i >= BIG_SLOTS, k = intent ? i - BIG_SLOTS : i;
		char aid[16], keyno[4], seq[16], line[512];
		big_slot(k, aid, keyno);
		/* every slot has an open intent: the intents name the slots
		 * backwards, so that no slot finds its own nearby */
		if (intent)
			big_slot(BIG_INTENTS - 1 - k, aid, keyno);
		snprintf(seq, sizeof(seq), "%d", k + 1);
		snprintf(line, sizeof(line), "seq=%d time=2026-11-25T08:44:49Z type=intent uid=04782E21801D80 aid=%06lX "
		    "keyno=%s old_version=0 new_version=1 key_label=app1-master key_objid=- key_gen=1 "
		    "div_input=04782E21801D80 station=s", k + 1, strtoul(aid, NULL, 10), keyno);
		const char *slot[] = { "slot", aid, keyno, "2", "0", "1", "0", ORIGIN, NULL };
		const char *in[] = { "intent", aid, keyno, seq, "0", "0", ORIGIN, line, NULL };
		for (int c = 0; c < 9; c++) {
			const char *v = intent ? in[c] : slot[c];
			set_bytes(res, 1 + i, c, v, v == NULL ? -1 : (int)strlen(v));
		}
	}
	ck_assert_int_eq(PQntuples(res), n);
	struct seen x = { 0, 0, 0 };
	struct dfi_reg_visit v = { v_slot, NULL, &x };
	struct dfi_reg_card out;
	uint64_t open[4];
	unsigned nopen;
	double t0 = now_s();
	ck_assert_int_eq(pg_rows_lookup(res, 0, uid7, sizeof(uid7), ORIGIN, &out, &v, open, 4, &nopen), 0);
	double took = now_s() - t0;
	printf("lookup_rows_linear: %d slots x %d intents decoded in %.4f s\n", BIG_SLOTS, BIG_INTENTS, took);
	ck_assert_uint_eq(out.slots, BIG_SLOTS);
	ck_assert_uint_eq(out.open_intents, BIG_INTENTS);
	ck_assert_uint_eq(x.slots, BIG_SLOTS);
	ck_assert_uint_eq(x.marked, BIG_SLOTS);
	ck_assert_uint_eq(nopen, 4);
	ck_assert_msg(took < LOOKUP_BOUND_S, "%d slots x %d intents took %.3f s (bound %.2f s): quadratic again?",
	    BIG_SLOTS, BIG_INTENTS, took, LOOKUP_BOUND_S);
	PQclear(res);
}
END_TEST

START_TEST(claim_answers)
{
	const char *taken[] = { "claim", NULL, NULL, NULL, NULL, NULL, "f", NULL, NULL };
	PGresult *res = rows(9, 1, taken);
	int t;
	char who[32];
	ck_assert_int_eq(pg_row_claim(res, &t, who, sizeof(who)), 0);
	ck_assert_int_eq(t, 0);
	ck_assert_str_eq(who, "another station");
	/* anything but t or f was "claimed by another" before */
	set_bytes(res, 0, 6, "x", 1);
	ck_assert_int_ne(pg_row_claim(res, &t, who, sizeof(who)), 0);
	set_bytes(res, 0, 6, "t", 1);
	ck_assert_int_eq(pg_row_claim(res, &t, who, sizeof(who)), 0);
	ck_assert_int_eq(t, 1);
	/* the claim row comes first */
	set_bytes(res, 0, 0, "card", 4);
	ck_assert_int_ne(pg_row_claim(res, &t, who, sizeof(who)), 0);
	PQclear(res);
}
END_TEST

/* witnessed(): a NULL note was an empty one, a second row ignored. */
START_TEST(witnessed_answers)
{
	const char *one[] = { "5", ROOT, "note" };
	PGresult *res = rows(3, 1, one);
	uint64_t size;
	uint8_t root[DFI_HASH_LEN], note[8];
	size_t nl;
	ck_assert_int_eq(pg_row_witnessed(res, &size, root, note, sizeof(note), &nl), DFI_OK);
	ck_assert_uint_eq(size, 5);
	ck_assert_uint_eq(nl, 4);
	ck_assert_int_eq(pg_row_witnessed(res, &size, root, note, 3, &nl), DFI_E_BUFFER_TOO_SMALL);
	set_bytes(res, 0, 2, NULL, -1);
	ck_assert_int_eq(pg_row_witnessed(res, &size, root, note, sizeof(note), &nl), DFI_E_REGISTRY);
	PQclear(res);
	const char *two[] = { "5", ROOT, "note", "6", ROOT, "note" };
	res = rows(3, 2, two);
	ck_assert_int_eq(pg_row_witnessed(res, &size, root, note, sizeof(note), &nl), DFI_E_REGISTRY);
	PQclear(res);
	res = rows(3, 0, NULL);
	ck_assert_int_eq(pg_row_witnessed(res, &size, root, note, sizeof(note), &nl), DFI_E_NOT_FOUND);
	PQclear(res);
}
END_TEST

/* schema_migrations with a row deleted: migrate took the last row's
 * version as current and skipped the deleted one's migration. */
/* Lower-case hex of SHA-256, as schema_migrations holds it. */
static void
sha_hex(const unsigned char *p, size_t n, char out[65])
{
	uint8_t h[SHA256_DIGEST_LENGTH];
	SHA256(p, n, h);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

START_TEST(migrations_have_no_gap)
{
	/* two migrations of this test's own (their SHA-256 below) */
	static const unsigned char one[] = "SELECT 1;", two[] = "SELECT 2;";
	const struct pgmig m[] = { { 1, "001_one", one, 9 }, { 2, "002_two", two, 9 } };
	char s1[65], s2[65];
	sha_hex(one, 9, s1);
	sha_hex(two, 9, s2);
	char why[600];
	int cur;
	const char *both[] = { "1", "001_one", s1, "2", "002_two", s2 };
	PGresult *res = rows(3, 2, both);
	ck_assert_int_eq(pg_rows_migrations(res, m, 2, &cur, why, sizeof(why)), DFI_OK);
	ck_assert_int_eq(cur, 2);
	PQclear(res);
	const char *gap[] = { "2", "002_two", s2 };
	res = rows(3, 1, gap);
	ck_assert_int_eq(pg_rows_migrations(res, m, 2, &cur, why, sizeof(why)), DFI_E_REGISTRY_SCHEMA);
	ck_assert_ptr_nonnull(strstr(why, "version 2 where 1 belongs"));
	PQclear(res);
	const char *edited[] = { "1", "001_one", s2 };
	res = rows(3, 1, edited);
	ck_assert_int_eq(pg_rows_migrations(res, m, 2, &cur, why, sizeof(why)), DFI_E_REGISTRY_SCHEMA);
	PQclear(res);
	const char *newer[] = { "1", "001_one", s1, "2", "002_two", s2, "3", "003_three", s2 };
	res = rows(3, 3, newer);
	ck_assert_int_eq(pg_rows_migrations(res, m, 2, &cur, why, sizeof(why)), DFI_E_REGISTRY_SCHEMA);
	ck_assert_ptr_nonnull(strstr(why, "newer"));
	PQclear(res);
}
END_TEST

/* role_grants edited by hand: a kind other than station was granted as an
 * auditor, and a role name long enough to cut the GRANT statement in
 * apply_grant's buffer went to the server cut. */
START_TEST(grant_rows)
{
	const char *g[] = { "dfi_station", "station", "dfi_auditor", "auditor", "dfi_owner", "owner", "", "station" };
	PGresult *res = rows(2, 4, g);
	char role[64];
	int st;
	ck_assert_int_eq(pg_row_grant(res, 0, role, &st), 0);
	ck_assert_int_eq(st, 1);
	ck_assert_int_eq(pg_row_grant(res, 1, role, &st), 0);
	ck_assert_int_eq(st, 0);
	ck_assert_int_ne(pg_row_grant(res, 2, role, &st), 0);
	ck_assert_int_ne(pg_row_grant(res, 3, role, &st), 0);
	char longer[600];
	memset(longer, 'r', sizeof(longer));
	set_bytes(res, 0, 0, longer, 64);
	ck_assert_int_ne(pg_row_grant(res, 0, role, &st), 0);
	set_bytes(res, 0, 0, longer, 63);
	ck_assert_int_eq(pg_row_grant(res, 0, role, &st), 0);
	ck_assert_uint_eq(strlen(role), 63);
	PQclear(res);
}
END_TEST

START_TEST(sdm_and_schema_answers)
{
	const char *sdm[] = { "t", "-1" };
	PGresult *res = rows(2, 1, sdm);
	int acc = 5;
	int64_t last = 5;
	ck_assert_int_eq(pg_row_sdm(res, &acc, &last), 0);
	ck_assert_int_eq(acc, 1);
	ck_assert_int_eq(last, -1);
	set_bytes(res, 0, 1, "16777216", 8);
	acc = 5;
	ck_assert_int_ne(pg_row_sdm(res, &acc, &last), 0);
	ck_assert_int_eq(acc, 5); /* nothing written on a refusal */
	PQclear(res);
	const char *ver[] = { "100001" };
	res = rows(1, 1, ver);
	int v, missing;
	ck_assert_int_ne(pg_row_schema_version(res, &v), 0);
	set_bytes(res, 0, 0, "7", 1);
	ck_assert_int_eq(pg_row_schema_version(res, &v), 0);
	ck_assert_int_eq(v, 7);
	/* the presence check's answer is "-1" or "0", nothing else */
	ck_assert_int_ne(pg_row_schema_missing(res, &missing), 0);
	set_bytes(res, 0, 0, "-1", 2);
	ck_assert_int_eq(pg_row_schema_missing(res, &missing), 0);
	ck_assert_int_eq(missing, 1);
	PQclear(res);
}
END_TEST

int
main(void)
{
	return dfi_test_main("registry_rows", NULL,
	    (const TTest *[]){ slot_rows_in_range, missing_columns_are_refused, origins_are_required,
	    open_intent_lines_match_their_rows, refusal_rows_are_cut, lookup_rows, lookup_rows_linear, claim_answers, witnessed_answers, migrations_have_no_gap,
	    grant_rows, sdm_and_schema_answers, NULL });
}
