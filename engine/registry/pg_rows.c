/* The registry's rows turned into C values (pg_rows.h): every field read
 * through field(), which checks the row, the column and NULL, so that no
 * decoder ever reads PQgetvalue()'s NULL for a missing column or trusts a
 * length it did not check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../journal/journal_int.h"
#include "core/hexdigit.h"
#include "pg_rows.h"

/* A non-NULL field of res: its text and length. */
static int
field(const PGresult *res, int row, int col, const char **v, size_t *len)
{
	if (res == NULL || row < 0 || col < 0 || row >= PQntuples(res) || col >= PQnfields(res) ||
	    PQgetisnull(res, row, col))
		return -1;
	int l = PQgetlength(res, row, col);
	const char *p = PQgetvalue(res, row, col);
	if (l < 0 || p == NULL)
		return -1;
	*v = p;
	*len = (size_t)l;
	return 0;
}

/* Row i of a result of ncols columns. */
static int
shape(const PGresult *res, int i, int ncols)
{
	return res != NULL && i >= 0 && i < PQntuples(res) && PQnfields(res) == ncols ? 0 : -1;
}

int
pg_get_bytea(const PGresult *res, int row, int col, uint8_t *out, size_t n)
{
	const char *v;
	size_t len;
	/* exactly "\x" and 2n hex digits */
	if (field(res, row, col, &v, &len) != 0 || len != 2 + 2 * n || v[0] != '\\' || v[1] != 'x')
		return -1;
	for (size_t i = 0; i < n; i++) {
		int h = dfi_hex_digit(v[2 + 2 * i]), l = dfi_hex_digit(v[3 + 2 * i]);
		if (h < 0 || l < 0)
			return -1;
		out[i] = (uint8_t)(h << 4 | l);
	}
	return 0;
}

int
pg_get_u64(const PGresult *res, int row, int col, uint64_t *out)
{
	const char *v;
	size_t len;
	return field(res, row, col, &v, &len) != 0 ? -1 : jparse_u64(v, v + len, out);
}

/* A number 0..max. */
static int
get_max(const PGresult *res, int row, int col, uint64_t max, uint64_t *v)
{
	return pg_get_u64(res, row, col, v) != 0 || *v > max ? -1 : 0;
}

/* A key version: "-1" (unknown) or 0..255. */
static int
get_version(const PGresult *res, int row, int col, int *ver)
{
	const char *v;
	size_t len;
	uint64_t d;
	if (field(res, row, col, &v, &len) != 0)
		return -1;
	if (len == 2 && v[0] == '-' && v[1] == '1')
		*ver = -1;
	else if (get_max(res, row, col, 255, &d) == 0)
		*ver = (int)d;
	else
		return -1;
	return 0;
}

int
pg_get_flag(const PGresult *res, int row, int col, int *v)
{
	const char *p;
	size_t len;
	if (field(res, row, col, &p, &len) != 0 || len != 1 || (p[0] != 't' && p[0] != 'f'))
		return -1;
	*v = p[0] == 't';
	return 0;
}

const char *
pg_peek_text(const PGresult *res, int row, int col, size_t max)
{
	const char *v;
	size_t len;
	return field(res, row, col, &v, &len) != 0 || len > max || memchr(v, '\0', len) != NULL ? NULL : v;
}

int
pg_get_text(const PGresult *res, int row, int col, int null_ok, char *out, size_t cap)
{
	if (cap == 0)
		return -1;
	if (null_ok && res != NULL && row >= 0 && col >= 0 && row < PQntuples(res) && col < PQnfields(res) &&
	    PQgetisnull(res, row, col)) {
		out[0] = '\0';
		return 0;
	}
	const char *v = pg_peek_text(res, row, col, cap - 1);
	if (v == NULL)
		return -1;
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

/* A text cut to fit (a reason written by whoever refused): NULL gives dflt. */
static void
cut_text(const PGresult *res, int row, int col, const char *dflt, char *out, size_t cap)
{
	const char *v;
	size_t len;
	/* %.*s stops at an embedded NUL too */
	if (field(res, row, col, &v, &len) != 0)
		snprintf(out, cap, "%s", dflt);
	else
		snprintf(out, cap, "%.*s", len > (size_t)cap ? (int)cap : (int)len, v);
}

/* An origin: a journal's checkpoint origin, 1..DFI_J_STR_MAX - 1 bytes. */
static int
get_origin(const PGresult *res, int row, int col, char origin[DFI_J_STR_MAX])
{
	return pg_get_text(res, row, col, 0, origin, DFI_J_STR_MAX) != 0 || origin[0] == '\0' ? -1 : 0;
}

/* A journal line of type intent or change whose own seq is seq. */
static int
get_intent_line(const PGresult *res, int row, int col, uint64_t seq, dfi_jrec *r)
{
	const char *v;
	size_t len;
	if (field(res, row, col, &v, &len) != 0 || dfi_jrec_parse(v, len, r) != DFI_OK ||
	    (r->type != DFI_JREC_INTENT && r->type != DFI_JREC_CHANGE) || r->seq != seq)
		return -1;
	return 0;
}

/* ---- the auditor's reads ----------------------------------------------------------- */

int
pg_row_checkpoint(const PGresult *res, int i, struct dfi_pgreg_checkpoint *cp)
{
	const char *note;
	size_t nl;
	memset(cp, 0, sizeof(*cp));
	if (shape(res, i, 7) != 0 || get_origin(res, i, 0, cp->origin) != 0 || pg_get_u64(res, i, 1, &cp->size) != 0 ||
	    pg_get_bytea(res, i, 2, cp->root, DFI_HASH_LEN) != 0 || field(res, i, 3, &note, &nl) != 0 ||
	    nl > sizeof(cp->note) || pg_get_text(res, i, 5, 1, cp->when, sizeof(cp->when)) != 0 ||
	    pg_get_flag(res, i, 6, &cp->latest) != 0)
		return -1;
	/* the witnessing station's name as it gave it: only shown */
	cut_text(res, i, 4, "", cp->station, sizeof(cp->station));
	memcpy(cp->note, note, nl);
	cp->note_len = nl;
	return 0;
}

int
pg_row_refusal(const PGresult *res, int i, struct dfi_pgreg_refusal *rf)
{
	memset(rf, 0, sizeof(*rf));
	if (shape(res, i, 6) != 0)
		return -1;
	/* witness() keeps what it refused as it came (an origin of any length,
	 * a size below 1): a refusal row is never malformed, only cut */
	cut_text(res, i, 0, "", rf->origin, sizeof(rf->origin));
	cut_text(res, i, 1, "", rf->station, sizeof(rf->station));
	cut_text(res, i, 2, "", rf->db_user, sizeof(rf->db_user));
	if (pg_get_u64(res, i, 3, &rf->new_size) != 0)
		rf->new_size = 0;
	cut_text(res, i, 4, "", rf->reason, sizeof(rf->reason));
	cut_text(res, i, 5, "", rf->when, sizeof(rf->when));
	return 0;
}

int
pg_row_open_intent(const PGresult *res, int i, char origin[DFI_J_STR_MAX], dfi_jrec *r, char station[DFI_J_STR_MAX])
{
	uint64_t seq;
	if (shape(res, i, 4) != 0 || get_origin(res, i, 0, origin) != 0 || pg_get_u64(res, i, 1, &seq) != 0 ||
	    get_intent_line(res, i, 2, seq, r) != 0 || pg_get_text(res, i, 3, 0, station, DFI_J_STR_MAX) != 0)
		return -1;
	return 0;
}

int
pg_row_record(const PGresult *res, int i, char origin[DFI_J_STR_MAX], uint64_t *seq, const char **line, size_t *len)
{
	if (shape(res, i, 3) != 0 || get_origin(res, i, 0, origin) != 0 || pg_get_u64(res, i, 1, seq) != 0 ||
	    field(res, i, 2, line, len) != 0 || *len == 0 || *len > DFI_J_LINE_MAX)
		return -1;
	return 0;
}

int
pg_row_late(const PGresult *res, int i, char origin[DFI_J_STR_MAX], uint64_t *seq)
{
	return shape(res, i, 2) != 0 || get_origin(res, i, 0, origin) != 0 || pg_get_u64(res, i, 1, seq) != 0 ? -1 : 0;
}

/* A UID bytea: 4..DFI_J_UID_MAX bytes. */
static int
get_uid(const PGresult *res, int row, int col, uint8_t uid[DFI_J_UID_MAX], size_t *len)
{
	const char *v;
	size_t l;
	if (field(res, row, col, &v, &l) != 0 || l < 2 + 2 * 4 || l > 2 + 2 * DFI_J_UID_MAX || l % 2 != 0 ||
	    pg_get_bytea(res, row, col, uid, (l - 2) / 2) != 0)
		return -1;
	*len = (l - 2) / 2;
	return 0;
}

/* A slot's profile digest, of the intent behind its state (schema 6):
 * NULL (*has 0) or exactly DFI_J_PROFILE_LEN bytes. */
static int
get_profile(const PGresult *res, int row, int col, uint8_t profile[DFI_J_PROFILE_LEN], int *has)
{
	*has = 0;
	if (PQgetisnull(res, row, col))
		return 0;
	if (pg_get_bytea(res, row, col, profile, DFI_J_PROFILE_LEN) != 0)
		return -1;
	*has = 1;
	return 0;
}

int
pg_row_slot(const PGresult *res, int i, struct dfi_pgreg_slot *s)
{
	uint64_t aid, keyno, state;
	memset(s, 0, sizeof(*s));
	if (shape(res, i, 6) != 0 || get_uid(res, i, 0, s->uid, &s->uid_len) != 0 ||
	    get_max(res, i, 1, 0xFFFFFF, &aid) != 0 || get_max(res, i, 2, 13, &keyno) != 0 ||
	    get_max(res, i, 3, 2, &state) != 0 || get_version(res, i, 4, &s->version) != 0)
		return -1;
	s->aid = (uint32_t)aid;
	s->keyno = (uint8_t)keyno;
	s->state = (int)state;
	return get_profile(res, i, 5, s->profile, &s->has_profile);
}

/* ---- the backend's answers --------------------------------------------------------- */

/* The kind column (a) of a claim_lookup()/lookup() row. */
static int
kind_is(const PGresult *res, int i, const char *kind)
{
	const char *v = pg_peek_text(res, i, 0, 16);
	return v != NULL && strcmp(v, kind) == 0;
}

int
pg_row_claim(const PGresult *res, int *taken, char *who, size_t who_cap)
{
	if (shape(res, 0, 9) != 0 || !kind_is(res, 0, "claim") || pg_get_flag(res, 0, 6, taken) != 0)
		return -1;
	if (!*taken && who != NULL && who_cap > 0)
		cut_text(res, 0, 7, "another station", who, who_cap);
	return 0;
}

int
pg_row_renew(const PGresult *res, int *held)
{
	return shape(res, 0, 1) != 0 || PQntuples(res) != 1 || pg_get_flag(res, 0, 0, held) != 0 ? -1 : 0;
}

/* A lookup 'slot' row. */
static int
lookup_slot(const PGresult *res, int i, struct dfi_reg_slot *s)
{
	uint64_t a, b, c, gen, by;
	int ver;
	const char *origin = pg_peek_text(res, i, 7, DFI_J_STR_MAX - 1);
	if (get_max(res, i, 1, 0xFFFFFF, &a) || get_max(res, i, 2, 13, &b) || get_max(res, i, 3, 2, &c) ||
	    get_version(res, i, 4, &ver) || get_max(res, i, 5, UINT32_MAX, &gen) || pg_get_u64(res, i, 6, &by) ||
	    origin == NULL)
		return -1;
	*s = (struct dfi_reg_slot){ .aid = (uint32_t)a, .keyno = (uint8_t)b, .state = (enum dfi_reg_slot_state)c,
		.version = ver, .generation = (uint32_t)gen, .changed_by = by, .origin = origin };
	return get_profile(res, i, 8, s->profile, &s->has_profile);
}

/* A lookup 'intent' row's slot: aid, and keyno (NULL for a change intent,
 * which names no key: *keyno -1). */
static int
intent_slot(const PGresult *res, int i, uint64_t *aid, int *keyno)
{
	uint64_t k;
	if (get_max(res, i, 1, 0xFFFFFF, aid) != 0)
		return -1;
	if (PQgetisnull(res, i, 2))
		*keyno = -1;
	else if (get_max(res, i, 2, 13, &k) == 0)
		*keyno = (int)k;
	else
		return -1;
	return 0;
}

/* An intent's slot as one number, to sort and search: aid above, keyno
 * (0..13) in the low 4 bits. */
static uint64_t
slot_key(uint64_t aid, int keyno)
{
	return aid << 4 | (uint64_t)keyno;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

int
pg_rows_lookup(const PGresult *res, int first, const uint8_t *uid, size_t len, const char *origin,
    struct dfi_reg_card *out, const struct dfi_reg_visit *v, uint64_t *open, unsigned ocap, unsigned *nopen)
{
	memset(out, 0, sizeof(*out));
	*nopen = 0;
	if (res == NULL || PQnfields(res) != 9 || first < 0)
		return -1;
	int n = PQntuples(res);
	/* The intents' slots, sorted, so that each slot row finds whether it
	 * has one in log n: searching every intent row for each slot row was
	 * quadratic in one UID's rows, which a restored backup or the owner
	 * role can make thousands (test_registry_rows: lookup_rows_linear). */
	uint64_t *keys = NULL;
	size_t nkeys = 0;
	if (n > first && (keys = malloc((size_t)(n - first) * sizeof(*keys))) == NULL)
		return PG_ROWS_NOMEM;
	int rc = -1;
	/* the card first, so that the visitors see its counts' row checked;
	 * then slots and intents, every row's kind (and an intent's slot)
	 * checked in the first pass */
	for (int i = first; i < n; i++) {
		uint64_t a, b, c, d, x;
		int keyno;
		if (kind_is(res, i, "card")) {
			if (get_max(res, i, 1, UINT32_MAX, &a) || get_max(res, i, 2, UINT32_MAX, &b) ||
			    get_max(res, i, 3, 1, &c) || get_max(res, i, 4, INT64_MAX, &d) || get_max(res, i, 5, INT64_MAX, &x))
				goto out;
			out->refusals = (unsigned)a;
			out->authorizations = (unsigned)b;
			out->authorization_pending = (int)c;
			out->last_refusal = d;
			out->last_authorization = x;
		} else if (kind_is(res, i, "intent")) {
			if (intent_slot(res, i, &a, &keyno) != 0)
				goto out;
			if (keyno >= 0) /* a change intent names no key: it marks no slot */
				keys[nkeys++] = slot_key(a, keyno);
		} else if (!kind_is(res, i, "slot")) {
			goto out;
		}
	}
	if (nkeys > 1)
		qsort(keys, nkeys, sizeof(*keys), cmp_u64);
	for (int i = first; i < n; i++) {
		if (kind_is(res, i, "slot")) {
			struct dfi_reg_slot s;
			if (lookup_slot(res, i, &s) != 0)
				goto out;
			uint64_t k = slot_key(s.aid, s.keyno);
			s.has_open_intent = nkeys > 0 && bsearch(&k, keys, nkeys, sizeof(*keys), cmp_u64) != NULL;
			out->slots++;
			out->changed += s.state == DFI_REG_SLOT_CHANGED;
			if (v != NULL && v->slot != NULL)
				v->slot(v->ctx, &s);
		} else if (kind_is(res, i, "intent")) {
			dfi_jrec r;
			uint64_t aid, seq;
			int keyno;
			const char *o = pg_peek_text(res, i, 6, DFI_J_STR_MAX - 1);
			if (intent_slot(res, i, &aid, &keyno) != 0 || get_max(res, i, 3, INT64_MAX, &seq) != 0 || o == NULL ||
			    get_intent_line(res, i, 7, seq, &r) != 0 || r.key.uid_len != len || memcmp(r.key.uid, uid, len) != 0)
				goto out;
			out->open_intents++;
			int local = origin != NULL && strcmp(o, origin) == 0;
			if (local && *nopen < ocap)
				open[(*nopen)++] = r.seq;
			if (v != NULL && v->intent != NULL)
				v->intent(v->ctx, &r, local);
		}
	}
	out->issued = out->changed > 0;
	rc = 0;
out:
	free(keys);
	return rc;
}

/* ---- witnessing -------------------------------------------------------------------- */

int
pg_row_witness(const PGresult *res, struct dfi_pgreg_witness *w)
{
	static const struct {
		const char *name;
		dfi_pgreg_wstatus s;
	} names[] = { { "registered", DFI_PGREG_W_REGISTERED }, { "witnessed", DFI_PGREG_W_WITNESSED },
		{ "same", DFI_PGREG_W_SAME }, { "stale", DFI_PGREG_W_STALE }, { "refused", DFI_PGREG_W_REFUSED } };
	memset(w, 0, sizeof(*w));
	if (shape(res, 0, 4) != 0 || PQntuples(res) != 1)
		return -1;
	const char *st = pg_peek_text(res, 0, 0, 16);
	for (size_t i = 0; st != NULL && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(st, names[i].name) == 0)
			w->status = names[i].s;
	if (w->status == 0)
		return -1;
	if (w->status != DFI_PGREG_W_REFUSED)
		return pg_get_u64(res, 0, 1, &w->w_size) != 0 || pg_get_bytea(res, 0, 2, w->w_root, DFI_HASH_LEN) != 0 ? -1 : 0;
	/* refused: what the registry holds, when it says */
	if (pg_get_u64(res, 0, 1, &w->w_size) != 0)
		w->w_size = 0;
	if (pg_get_bytea(res, 0, 2, w->w_root, DFI_HASH_LEN) != 0)
		memset(w->w_root, 0, sizeof(w->w_root));
	cut_text(res, 0, 3, "refused", w->reason, sizeof(w->reason));
	return 0;
}

dfi_err
pg_row_witnessed(const PGresult *res, uint64_t *size, uint8_t root[DFI_HASH_LEN], uint8_t *note, size_t ncap,
    size_t *note_len)
{
	if (res != NULL && PQntuples(res) == 0)
		return DFI_E_NOT_FOUND;
	const char *v;
	size_t l;
	if (shape(res, 0, 3) != 0 || PQntuples(res) != 1 || pg_get_u64(res, 0, 0, size) != 0 ||
	    pg_get_bytea(res, 0, 1, root, DFI_HASH_LEN) != 0 || field(res, 0, 2, &v, &l) != 0)
		return DFI_E_REGISTRY;
	if (note != NULL) {
		if (l > ncap)
			return DFI_E_BUFFER_TOO_SMALL;
		memcpy(note, v, l);
		*note_len = l;
	}
	return DFI_OK;
}

/* ---- the schema -------------------------------------------------------------------- */

int
pg_row_schema_missing(const PGresult *res, int *missing)
{
	const char *v;
	size_t l;
	if (shape(res, 0, 1) != 0 || PQntuples(res) != 1 || field(res, 0, 0, &v, &l) != 0)
		return -1;
	if (l == 2 && memcmp(v, "-1", 2) == 0)
		*missing = 1;
	else if (l == 1 && v[0] == '0')
		*missing = 0;
	else
		return -1;
	return 0;
}

int
pg_row_schema_version(const PGresult *res, int *version)
{
	uint64_t v;
	if (shape(res, 0, 1) != 0 || PQntuples(res) != 1 || get_max(res, 0, 0, 100000, &v) != 0)
		return -1;
	*version = (int)v;
	return 0;
}

int
pg_row_grant(const PGresult *res, int i, char role[64], int *station)
{
	char kind[8];
	if (shape(res, i, 2) != 0 || pg_get_text(res, i, 0, 0, role, 64) != 0 || role[0] == '\0' ||
	    pg_get_text(res, i, 1, 0, kind, sizeof(kind)) != 0)
		return -1;
	if (strcmp(kind, "station") == 0)
		*station = 1;
	else if (strcmp(kind, "auditor") == 0)
		*station = 0;
	else
		return -1;
	return 0;
}

/* ---- SDM --------------------------------------------------------------------------- */

int
pg_row_sdm(const PGresult *res, int *accepted, int64_t *last)
{
	const char *v;
	size_t l;
	uint64_t prev = 0;
	int acc;
	if (shape(res, 0, 2) != 0 || PQntuples(res) != 1 || pg_get_flag(res, 0, 0, &acc) != 0 ||
	    field(res, 0, 1, &v, &l) != 0)
		return -1;
	int none = l == 2 && memcmp(v, "-1", 2) == 0;
	if (!none && get_max(res, 0, 1, 0xFFFFFF, &prev) != 0)
		return -1;
	*accepted = acc;
	*last = none ? -1 : (int64_t)prev;
	return 0;
}
