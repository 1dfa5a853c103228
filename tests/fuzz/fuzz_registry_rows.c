/* libFuzzer harness: arbitrary bytes as a PostgreSQL result, built with
 * libpq's own result-construction API (PQmakeEmptyPGresult, PQsetResultAttrs,
 * PQsetvalue), fed to every decoder of the registry's rows
 * (engine/registry/pg_rows.h) at every row, as a station, the auditor and
 * the schema migration would read them from a registry someone else wrote.
 *
 * Input format (close to PostgreSQL's COPY text format, so that a
 * mutation can shorten or lengthen a field without fixing up a length):
 *   byte 0      number of columns (mod 12)
 *   byte 1      the UID the lookup asks for: its length, 4 + (mod 7), then
 *               that many bytes
 *   then up to 16 rows, each ended by LF (the last one may not be), cells
 *   separated by TAB: a cell "\N" is NULL; in a cell "\\", "\t", "\n" and
 *   "\0" are a backslash, TAB, LF and NUL, any other byte is itself (so a
 *   bytea is written "\x0478..."). A row's missing cells are NULL, extra
 *   ones are dropped; an input that ends with LF has no empty last row.
 *
 * Oracles beyond "no crash": every decoder that accepts a row gives values
 * within their documented ranges, numbers that print back to exactly their
 * field's text, bytea that encodes back to the field, strings NUL-terminated
 * within their buffers, and the journal lines it accepts parse and format
 * back to themselves (dfi_jrec_parse/dfi_jrec_format). Seeds in
 * corpus/registry_rows are one valid result of each shape. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "dfissue/journal.h"
#include "dfissue/util.h"
#include "registry/pg_rows.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ORIGIN "fuzz.example/station-a"

static void
fail(const char *what, int row)
{
	fprintf(stderr, "fuzz_registry_rows: %s (row %d)\n", what, row);
	abort();
}

#define CHECK(c, what, row) \
	do { \
		if (!(c)) \
			fail(what, row); \
	} while (0)

/* a NUL within the buffer */
#define TERMINATED(s) (memchr((s), '\0', sizeof(s)) != NULL)

/* The field's exact text and length (NULL for a NULL field). */
static const char *
text_of(const PGresult *res, int row, int col, size_t *len)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	*len = (size_t)PQgetlength(res, row, col);
	return PQgetvalue(res, row, col);
}

/* A number decoded from (row, col) prints back to the field exactly. */
static void
check_number(const PGresult *res, int row, int col, uint64_t v)
{
	char buf[24];
	size_t len = 0;
	const char *t = text_of(res, row, col, &len);
	int n = snprintf(buf, sizeof(buf), "%" PRIu64, v);
	CHECK(t != NULL && (size_t)n == len && memcmp(buf, t, len) == 0, "a number is not its field's text", row);
}

/* Bytes decoded from a bytea field encode back to it (either case). */
static void
check_bytea(const PGresult *res, int row, int col, const uint8_t *p, size_t n)
{
	char hex[2 * 64 + 1];
	size_t len = 0;
	const char *t = text_of(res, row, col, &len);
	CHECK(n <= 64 && dfi_hex_encode(p, n, hex, sizeof(hex)) == DFI_OK, "bytea too long", row);
	CHECK(t != NULL && len == 2 + 2 * n && t[0] == '\\' && t[1] == 'x' && strncasecmp(t + 2, hex, 2 * n) == 0,
	    "a bytea is not its field", row);
}

/* An accepted journal line formats back to itself, and r is what it says. */
static void
check_line(const PGresult *res, int row, int col, const dfi_jrec *r)
{
	size_t len = 0, flen = 0;
	const char *t = text_of(res, row, col, &len);
	dfi_jrec again;
	static char buf[DFI_J_LINE_MAX + 1];
	CHECK(t != NULL && dfi_jrec_parse(t, len, &again) == DFI_OK, "an accepted line does not parse", row);
	CHECK(dfi_jrec_format(&again, buf, sizeof(buf), &flen) == DFI_OK && flen == len && memcmp(buf, t, len) == 0,
	    "an accepted line does not format back to itself", row);
	CHECK(dfi_jrec_format(r, buf, sizeof(buf), &flen) == DFI_OK && flen == len && memcmp(buf, t, len) == 0,
	    "a decoded record is not its line", row);
	CHECK(r->type == DFI_JREC_INTENT || r->type == DFI_JREC_CHANGE, "an open intent of another type", row);
}

static void
check_origin(const char *o, int row)
{
	size_t l = strnlen(o, DFI_J_STR_MAX);
	CHECK(l > 0 && l < DFI_J_STR_MAX, "an origin out of range", row);
}

/* The field getters on every cell. */
static void
fields(const PGresult *res, int i)
{
	for (int c = 0; c < PQnfields(res) + 1; c++) {
		uint64_t v;
		int f;
		char s[16];
		uint8_t b[4];
		if (pg_get_u64(res, i, c, &v) == 0)
			check_number(res, i, c, v);
		if (pg_get_flag(res, i, c, &f) == 0)
			CHECK(f == 0 || f == 1, "a flag out of range", i);
		if (pg_get_text(res, i, c, 0, s, sizeof(s)) == 0)
			CHECK(strlen(s) < sizeof(s) && strlen(s) == (size_t)PQgetlength(res, i, c), "a text not its field", i);
		if (pg_get_bytea(res, i, c, b, sizeof(b)) == 0)
			check_bytea(res, i, c, b, sizeof(b));
	}
}

/* The auditor's rows. */
static void
audit_rows(const PGresult *res, int i)
{
	struct dfi_pgreg_checkpoint cp;
	if (pg_row_checkpoint(res, i, &cp) == 0) {
		check_origin(cp.origin, i);
		check_number(res, i, 1, cp.size);
		check_bytea(res, i, 2, cp.root, DFI_HASH_LEN);
		CHECK(cp.note_len <= DFI_J_NOTE_MAX && cp.note_len == (size_t)PQgetlength(res, i, 3) &&
		    memcmp(cp.note, PQgetvalue(res, i, 3), cp.note_len) == 0, "a checkpoint's note", i);
		CHECK(TERMINATED(cp.station) && TERMINATED(cp.when) && (cp.latest == 0 || cp.latest == 1),
		    "a checkpoint's station, time or head", i);
	}
	struct dfi_pgreg_refusal rf;
	if (pg_row_refusal(res, i, &rf) == 0) {
		CHECK(TERMINATED(rf.origin) && TERMINATED(rf.station) && TERMINATED(rf.db_user) && TERMINATED(rf.reason) &&
		    TERMINATED(rf.when), "a refusal's text", i);
		if (rf.new_size != 0)
			check_number(res, i, 3, rf.new_size);
	}
	char origin[DFI_J_STR_MAX], station[DFI_J_STR_MAX];
	dfi_jrec r;
	if (pg_row_open_intent(res, i, origin, &r, station) == 0) {
		check_origin(origin, i);
		check_number(res, i, 1, r.seq);
		check_line(res, i, 2, &r);
		CHECK(TERMINATED(station), "an open intent's station", i);
	}
	uint64_t seq;
	const char *line;
	size_t len;
	if (pg_row_record(res, i, origin, &seq, &line, &len) == 0) {
		check_origin(origin, i);
		check_number(res, i, 1, seq);
		CHECK(len > 0 && len <= DFI_J_LINE_MAX && line == PQgetvalue(res, i, 2) &&
		    len == (size_t)PQgetlength(res, i, 2), "a record's line", i);
	}
	if (pg_row_late(res, i, origin, &seq) == 0) {
		check_origin(origin, i);
		check_number(res, i, 1, seq);
	}
	struct dfi_pgreg_slot s;
	if (pg_row_slot(res, i, &s) == 0) {
		CHECK(s.uid_len >= 4 && s.uid_len <= DFI_J_UID_MAX, "a slot's UID length", i);
		check_bytea(res, i, 0, s.uid, s.uid_len);
		CHECK(s.aid <= 0xFFFFFF && s.keyno <= 13 && s.state >= 0 && s.state <= 2 && s.version >= -1 &&
		    s.version <= 255 && (s.has_profile == 0 || s.has_profile == 1), "a slot out of range", i);
		if (s.has_profile)
			check_bytea(res, i, 5, s.profile, DFI_J_PROFILE_LEN);
	}
	char role[64];
	int st;
	if (pg_row_grant(res, i, role, &st) == 0)
		CHECK(strlen(role) >= 1 && strlen(role) <= 63 && (st == 0 || st == 1), "a role grant", i);
}

/* ---- lookup visitors: every slot and intent in range ---- */

struct seen {
	const uint8_t *uid;
	size_t len;
	unsigned slots, changed, intents;
};

static void
v_slot(void *ctx, const struct dfi_reg_slot *s)
{
	struct seen *x = ctx;
	x->slots++;
	x->changed += s->state == DFI_REG_SLOT_CHANGED;
	CHECK(s->aid <= 0xFFFFFF && s->keyno <= 13 && (int)s->state >= 0 && s->state <= 2 && s->version >= -1 &&
	    s->version <= 255 && (s->has_open_intent == 0 || s->has_open_intent == 1), "a lookup slot out of range", -1);
	CHECK(s->origin != NULL && strlen(s->origin) < DFI_J_STR_MAX, "a lookup slot's origin", -1);
}

static void
v_intent(void *ctx, const dfi_jrec *r, int local)
{
	struct seen *x = ctx;
	x->intents++;
	CHECK((r->type == DFI_JREC_INTENT || r->type == DFI_JREC_CHANGE) && r->key.uid_len == x->len &&
	    memcmp(r->key.uid, x->uid, x->len) == 0 && (local == 0 || local == 1), "a lookup intent", -1);
}

static void
lookup(const PGresult *res, int first, const uint8_t *uid, size_t len)
{
	struct seen x = { uid, len, 0, 0, 0 };
	struct dfi_reg_visit v = { v_slot, v_intent, &x };
	struct dfi_reg_card out;
	uint64_t open[4];
	unsigned nopen = 99;
	if (pg_rows_lookup(res, first, uid, len, ORIGIN, &out, &v, open, 4, &nopen) != 0)
		return;
	CHECK(out.slots == x.slots && out.changed == x.changed && out.open_intents == x.intents &&
	    out.issued == (out.changed > 0) && nopen <= 4 && nopen <= x.intents && out.authorization_pending >= 0 &&
	    out.authorization_pending <= 1 && out.last_refusal <= INT64_MAX && out.last_authorization <= INT64_MAX,
	    "a lookup's counts", first);
	/* every row is a card, slot or intent; every intent's line round
	 * trips and its seq is the row's */
	for (int i = first; i < PQntuples(res); i++) {
		size_t l = 0;
		const char *k = text_of(res, i, 0, &l);
		CHECK(k != NULL && (strcmp(k, "card") == 0 || strcmp(k, "slot") == 0 || strcmp(k, "intent") == 0),
		    "a lookup accepted a row of another kind", i);
		dfi_jrec r;
		const char *line = strcmp(k, "intent") == 0 ? text_of(res, i, 7, &l) : NULL;
		if (line != NULL) {
			CHECK(dfi_jrec_parse(line, l, &r) == DFI_OK, "a lookup accepted a line that does not parse", i);
			check_line(res, i, 7, &r);
			check_number(res, i, 3, r.seq);
		}
	}
}

/* The answers of single-row calls. */
static void
answers(const PGresult *res)
{
	int taken = 7;
	char who[16];
	memset(who, 'x', sizeof(who));
	if (pg_row_claim(res, &taken, who, sizeof(who)) == 0) {
		CHECK(taken == 0 || taken == 1, "a claim's flag", 0);
		CHECK(taken || TERMINATED(who), "a claim's holder", 0);
	}
	int held = 7;
	if (pg_row_renew(res, &held) == 0)
		CHECK((held == 0 || held == 1) && PQntuples(res) == 1, "a renew answer", 0);
	struct dfi_pgreg_witness w;
	if (pg_row_witness(res, &w) == 0) {
		CHECK(w.status >= DFI_PGREG_W_REGISTERED && w.status <= DFI_PGREG_W_REFUSED && TERMINATED(w.reason),
		    "a witness answer", 0);
		if (w.status != DFI_PGREG_W_REFUSED) {
			check_number(res, 0, 1, w.w_size);
			check_bytea(res, 0, 2, w.w_root, DFI_HASH_LEN);
		}
	}
	static uint8_t note[DFI_J_NOTE_MAX];
	static const size_t caps[] = { 0, 16, sizeof(note) };
	for (size_t k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
		uint64_t size;
		uint8_t root[DFI_HASH_LEN];
		size_t nl = SIZE_MAX;
		dfi_err e = pg_row_witnessed(res, &size, root, note, caps[k], &nl);
		CHECK(e == DFI_OK || e == DFI_E_NOT_FOUND || e == DFI_E_REGISTRY || e == DFI_E_BUFFER_TOO_SMALL,
		    "witnessed's error", 0);
		CHECK(e != DFI_E_NOT_FOUND || PQntuples(res) == 0, "witnessed not found with rows", 0);
		if (e == DFI_OK) {
			CHECK(nl <= caps[k] && nl == (size_t)PQgetlength(res, 0, 2), "witnessed note length", 0);
			check_number(res, 0, 0, size);
			check_bytea(res, 0, 1, root, DFI_HASH_LEN);
		}
	}
	int missing = 7, version = -7;
	if (pg_row_schema_missing(res, &missing) == 0)
		CHECK(missing == 0 || missing == 1, "the schema's presence", 0);
	if (pg_row_schema_version(res, &version) == 0) {
		CHECK(version >= 0 && version <= 100000, "the schema's version", 0);
		check_number(res, 0, 0, (uint64_t)version);
	}
	int current = -1;
	char why[600];
	dfi_err e = pg_rows_migrations(res, pg_migrations, pg_nmigrations, &current, why, sizeof(why));
	CHECK(e == DFI_OK || e == DFI_E_REGISTRY_SCHEMA, "migrations' error", 0);
	if (e == DFI_OK)
		CHECK(current == PQntuples(res) && (size_t)current <= pg_nmigrations, "the migrations applied", 0);
	int acc = 7;
	int64_t last = -7;
	if (pg_row_sdm(res, &acc, &last) == 0)
		CHECK((acc == 0 || acc == 1) && last >= -1 && last <= 0xFFFFFF, "an SDM answer", 0);
}

/* One cell from *p (up to TAB, LF or end), unescaped into out: its
 * length, or -1 for "\N" (NULL). */
static int
cell(const uint8_t **p, const uint8_t *end, char *out)
{
	const uint8_t *q = *p;
	int n = 0;
	if (end - q >= 2 && q[0] == '\\' && q[1] == 'N' && (end - q == 2 || q[2] == '\t' || q[2] == '\n')) {
		*p = q + 2;
		return -1;
	}
	while (q < end && *q != '\t' && *q != '\n') {
		if (*q == '\\' && end - q >= 2 && strchr("\\tn0", q[1]) != NULL && q[1] != '\0') {
			out[n++] = q[1] == 't' ? '\t' : q[1] == 'n' ? '\n' : q[1] == '0' ? '\0' : '\\';
			q += 2;
		} else {
			out[n++] = (char)*q++;
		}
	}
	*p = q;
	return n;
}

/* The result the input describes (see the top); NULL when it is too short. */
static PGresult *
build(const uint8_t *data, size_t size, const uint8_t **uid, size_t *ulen)
{
	if (size < 2 || size < 2 + 4 + (size_t)(data[1] % 7))
		return NULL;
	int ncols = data[0] % 12;
	*ulen = 4 + data[1] % 7;
	*uid = data + 2;
	const uint8_t *p = data + 2 + *ulen, *end = data + size;
	PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	/* a cell is never longer than the input */
	char *buf = malloc(size + 1);
	if (res == NULL || buf == NULL)
		goto bad;
	PGresAttDesc att[12];
	char names[12][4];
	for (int c = 0; c < ncols; c++) {
		snprintf(names[c], sizeof(names[c]), "c%d", c);
		att[c] = (PGresAttDesc){ .name = names[c], .format = 0, .typid = 25, .typlen = -1, .atttypmod = -1 };
	}
	if (PQsetResultAttrs(res, ncols, ncols > 0 ? att : NULL) == 0)
		goto bad;
	/* a result of no columns has no rows: PQsetvalue adds a row only
	 * with one of its fields */
	for (int i = 0; i < 16 && p < end; i++) {
		for (int c = 0; c < ncols || (p < end && *p != '\n'); c++) {
			int len = p < end && *p != '\n' ? cell(&p, end, buf) : -1;
			if (p < end && *p == '\t')
				p++;
			if (c < ncols && PQsetvalue(res, i, c, len < 0 ? NULL : buf, len) == 0)
				goto bad;
		}
		if (p < end)
			p++; /* the LF */
	}
	free(buf);
	return res;
bad:
	free(buf);
	PQclear(res);
	return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *uid;
	size_t ulen;
	PGresult *res = build(data, size, &uid, &ulen);
	if (res == NULL)
		return 0;
	for (int i = -1; i <= PQntuples(res); i++) {
		if (i >= 0 && i < PQntuples(res))
			fields(res, i);
		audit_rows(res, i);
	}
	lookup(res, 0, uid, ulen);
	lookup(res, 1, uid, ulen);
	answers(res);
	PQclear(res);
	return 0;
}
