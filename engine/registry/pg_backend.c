/* The registry's PostgreSQL backend behind dfi_registry (registry.h): the
 * SQL functions of schema/002_issuance.sql for claims, lookups and the
 * records the engine journaled, and dfi_pgwitness for checkpoints.
 *
 * What the station sends is read back from its own journal: a record the
 * engine tells (with its seq) is looked up as the journal holds the line
 * (dfi_pgwitness_line), parsed, checked against what the engine said, and
 * sent as that line with its fields. So the registry holds the journal's
 * own bytes, which the auditor compares with the journal.
 *
 * At open, after witnessing the journal's head, the station tells the
 * registry again every card record from RECONCILE_WINDOW records before
 * the highest one the registry has of this journal: what a crash between
 * the journal's commit and the registry's update left untold (the tail of
 * the journal; records of the station threads of one process may have been
 * told out of order, within far fewer records than the window). Telling a
 * record twice is telling it once (the registry keys records by origin and
 * seq). */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "../journal/journal_int.h"
#include "dfissue/util.h"
#include "pg_int.h"
#include "registry_int.h"

#define RECONCILE_WINDOW 4096
#define BATCH_MAX 256

struct batch;

struct pgbe {
	dfi_pgreg *pg;
	dfi_journal *j;       /* NULL: lookups only (inspect) */
	dfi_pgwitness *w;
	char origin[DFI_J_STR_MAX];
	char token[40];       /* this handle's claims */
	unsigned lease_ms;    /* the lease of this handle's last claim (intents extend it); mu */
	pthread_mutex_t mu;   /* last */
	char last[600];       /* the last failure's reason (dfi_registry_last_error) */
	struct batch *pend;   /* outcomes told but not sent yet (deferred); mu */
};

/* Each call writes its reason into a buffer of its own thread, and a failed
 * call keeps a copy for dfi_registry_last_error(). */
static _Thread_local char why_tls[600];
#define WHY why_tls, sizeof(why_tls)

static dfi_err
keep(struct pgbe *be, dfi_err e)
{
	if (e != DFI_OK && e != DFI_E_UID_CLAIMED) {
		pthread_mutex_lock(&be->mu);
		snprintf(be->last, sizeof(be->last), "%s", why_tls[0] ? why_tls : dfi_strerror(e));
		pthread_mutex_unlock(&be->mu);
	}
	return e;
}

/* ---- text arrays for the journaled() call --------------------------------------- */

struct arr {
	char *p;
	size_t len, cap;
	int n;
};

static int
arr_put(struct arr *a, const char *s, size_t n)
{
	if (a->len + n + 4 > a->cap) {
		size_t nc = (a->len + n + 4) * 2 + 256;
		char *p = realloc(a->p, nc);
		if (p == NULL)
			return -1;
		a->p = p;
		a->cap = nc;
	}
	memcpy(a->p + a->len, s, n);
	a->len += n;
	a->p[a->len] = '\0';
	return 0;
}

/* Appends one element, quoted (array literal syntax: " and \ escaped), or
 * NULL when s is NULL. */
static int
arr_add(struct arr *a, const char *s)
{
	if (arr_put(a, a->n++ == 0 ? "{" : ",", 1) != 0)
		return -1;
	if (s == NULL)
		return arr_put(a, "NULL", 4);
	if (arr_put(a, "\"", 1) != 0)
		return -1;
	for (const char *c = s; *c; c++)
		if ((*c == '"' || *c == '\\') ? arr_put(a, "\\", 1) != 0 || arr_put(a, c, 1) != 0 : arr_put(a, c, 1) != 0)
			return -1;
	return arr_put(a, "\"", 1);
}

static int
arr_addu(struct arr *a, uint64_t v)
{
	char b[24];
	snprintf(b, sizeof(b), "%" PRIu64, v);
	return arr_add(a, b);
}

static const char *
arr_end(struct arr *a)
{
	if (a->n == 0)
		return arr_put(a, "{", 1) != 0 || arr_put(a, "}", 1) != 0 ? NULL : a->p;
	return arr_put(a, "}", 1) != 0 ? NULL : a->p;
}

enum { A_SEQ, A_TYPE, A_UID, A_AID, A_KEYNO, A_OLD, A_NEW, A_GEN, A_INTENT, A_MATCH, A_LINE, A_N };

struct batch {
	struct arr a[A_N];
	int n;
	int intents; /* how many of the n are intents */
};

static void
batch_clear(struct batch *b)
{
	for (int i = 0; i < A_N; i++) {
		free(b->a[i].p);
		memset(&b->a[i], 0, sizeof(b->a[i]));
	}
	b->n = 0;
	b->intents = 0;
}

/* Appends src's records to dst's (arrays of the same columns). */
static int
batch_merge(struct batch *dst, const struct batch *src)
{
	for (int i = 0; i < A_N && src->n > 0; i++) {
		const struct arr *a = &src->a[i];
		struct arr *d = &dst->a[i];
		/* a->p is "{x,y,...": its elements after the brace */
		if (arr_put(d, d->n == 0 ? "{" : ",", 1) != 0 || arr_put(d, a->p + 1, a->len - 1) != 0)
			return -1;
		d->n += a->n;
	}
	dst->n += src->n;
	dst->intents += src->intents;
	return 0;
}

/* Takes the deferred records out of be (NULL when none). */
static struct batch *
pend_take(struct pgbe *be)
{
	pthread_mutex_lock(&be->mu);
	struct batch *p = be->pend;
	be->pend = NULL;
	pthread_mutex_unlock(&be->mu);
	return p;
}

/* Puts b's records back in front of what was deferred since (a send that
 * failed: they go with the next one). Frees b. */
static void
pend_return(struct pgbe *be, struct batch *b)
{
	if (b == NULL)
		return;
	pthread_mutex_lock(&be->mu);
	if (be->pend != NULL && batch_merge(b, be->pend) == 0) {
		batch_clear(be->pend);
		free(be->pend);
		be->pend = NULL;
	}
	if (be->pend == NULL) {
		be->pend = b;
		b = NULL;
	}
	pthread_mutex_unlock(&be->mu);
	if (b != NULL) { /* out of memory: reconciliation at the next start tells them */
		batch_clear(b);
		free(b);
	}
}

static int
is_card_record(dfi_jrec_type t)
{
	return t == DFI_JREC_INTENT || t == DFI_JREC_COMMIT || t == DFI_JREC_ABORT || t == DFI_JREC_RESOLVE ||
	    t == DFI_JREC_REFUSAL || t == DFI_JREC_AUTHORIZATION;
}

/* Adds record r (parsed from line) to the batch. The UID of an outcome is
 * its intent's: the registry knows it, the batch sends an empty one. */
static int
batch_add(struct batch *b, const dfi_jrec *r, const char *line)
{
	char uid[2 * DFI_J_UID_MAX + 3] = "\\x";
	if (r->type == DFI_JREC_INTENT || r->type == DFI_JREC_REFUSAL || r->type == DFI_JREC_AUTHORIZATION)
		(void)dfi_hex_encode(r->key.uid, r->key.uid_len, uid + 2, sizeof(uid) - 2);
	int in = r->type == DFI_JREC_INTENT, out = !in && r->type != DFI_JREC_REFUSAL && r->type != DFI_JREC_AUTHORIZATION;
	const char *match = r->type != DFI_JREC_RESOLVE ? NULL : r->matched == DFI_JMATCH_NEW ? "new" :
	    r->matched == DFI_JMATCH_OLD ? "old" : "none";
	int bad = arr_addu(&b->a[A_SEQ], r->seq) | arr_add(&b->a[A_TYPE], dfi_jrec_type_name(r->type)) |
	    arr_add(&b->a[A_UID], uid[2] ? uid : NULL) | (in ? arr_addu(&b->a[A_AID], r->key.aid) : arr_add(&b->a[A_AID], NULL)) |
	    (in ? arr_addu(&b->a[A_KEYNO], r->key.keyno) : arr_add(&b->a[A_KEYNO], NULL)) |
	    (in ? arr_addu(&b->a[A_OLD], r->old_version) : arr_add(&b->a[A_OLD], NULL)) |
	    (in ? arr_addu(&b->a[A_NEW], r->new_version) : arr_add(&b->a[A_NEW], NULL)) |
	    (in ? arr_addu(&b->a[A_GEN], r->key_gen) : arr_add(&b->a[A_GEN], NULL)) |
	    (out ? arr_addu(&b->a[A_INTENT], r->intent) : arr_add(&b->a[A_INTENT], NULL)) | arr_add(&b->a[A_MATCH], match) |
	    arr_add(&b->a[A_LINE], line);
	if (bad)
		return -1;
	b->n++;
	b->intents += in;
	return 0;
}

/* held: the engine's live records, whose intents announce a ChangeKey:
 * the registry takes them only while this handle holds each intent's
 * claim, and extends it (journaled_held, schema/003_held_intents.sql). The
 * start-up reconciliation tells past records without a claim. */
static dfi_err
batch_send(struct pgbe *be, struct batch *b, int held)
{
	if (b->n == 0)
		return DFI_OK;
	held = held && b->intents > 0;
	char st[160], lease[16];
	snprintf(st, sizeof(st), "%s", be->pg->station);
	pthread_mutex_lock(&be->mu);
	snprintf(lease, sizeof(lease), "%u", be->lease_ms);
	pthread_mutex_unlock(&be->mu);
	const char *vals[4 + A_N] = { be->token, lease, be->origin, st };
	for (int i = 0; i < A_N; i++)
		if ((vals[4 + i] = arr_end(&b->a[i])) == NULL) {
			batch_clear(b);
			return DFI_E_NOMEM;
		}
	/* Idempotent: a record told twice is told once (and a claim this
	 * handle holds is held again). */
	dfi_err e = held ? pg_call(be->pg,
	    "SELECT " DFI_PGREG_SCHEMA ".journaled_held($1, $2::integer, $3, $4, $5, $6, $7::bytea[], $8, $9, $10, $11, $12, "
	    "$13, $14, $15)", 4 + A_N, vals, NULL, 1, WHY) : pg_call(be->pg,
	    "SELECT " DFI_PGREG_SCHEMA ".journaled($1, $2, $3, $4, $5::bytea[], $6, $7, $8, $9, $10, $11, $12, $13)",
	    2 + A_N, vals + 2, NULL, 1, WHY);
	batch_clear(b);
	return e;
}

/* The outcome of an intent names the intent's UID (the registry takes it
 * from the intent row); an outcome's own key fields are empty. */
static dfi_err
tell_line(struct pgbe *be, struct batch *b, const char *line, size_t len, uint64_t seq, const dfi_jrec *expect)
{
	dfi_jrec r;
	if (dfi_jrec_parse(line, len, &r) != DFI_OK)
		return pg_why(WHY, DFI_E_JOURNAL_FORMAT, "journal record %" PRIu64 " does not parse", seq);
	r.seq = seq;
	if (expect != NULL && (r.type != expect->type ||
	    ((r.type == DFI_JREC_INTENT || r.type == DFI_JREC_REFUSAL || r.type == DFI_JREC_AUTHORIZATION) &&
		(r.key.uid_len != expect->key.uid_len || memcmp(r.key.uid, expect->key.uid, r.key.uid_len) != 0)) ||
	    (r.type != DFI_JREC_INTENT && r.type != DFI_JREC_REFUSAL && r.type != DFI_JREC_AUTHORIZATION &&
		r.intent != expect->intent)))
		return pg_why(WHY, DFI_E_INVALID_ARG,
		    "journal record %" PRIu64 " is not the record the engine says it appended", seq);
	if (!is_card_record(r.type))
		return DFI_OK;
	/* scanned lines are not NUL-terminated */
	char *z = malloc(len + 1);
	if (z == NULL)
		return DFI_E_NOMEM;
	memcpy(z, line, len);
	z[len] = '\0';
	int bad = batch_add(b, &r, z);
	free(z);
	if (bad)
		return DFI_E_NOMEM;
	return b->n >= BATCH_MAX ? batch_send(be, b, expect != NULL) : DFI_OK;
}

static _Thread_local unsigned claims_held;

static dfi_err
b_journaled_do(void *vbe, const dfi_jrec *recs, size_t n)
{
	struct pgbe *be = vbe;
	if (be->j == NULL)
		return DFI_E_INVALID_ARG;
	struct batch b;
	memset(&b, 0, sizeof(b));
	char *line = malloc(DFI_J_LINE_MAX + 1);
	if (line == NULL)
		return DFI_E_NOMEM;
	dfi_err e = DFI_OK;
	uint64_t size = dfi_journal_size(be->j);
	for (size_t i = 0; i < n && e == DFI_OK; i++) {
		size_t len;
		if (recs[i].seq >= size || recs[i].seq == 0) {
			e = DFI_E_INVALID_ARG; /* not (yet) in the journal: never told before it is */
			break;
		}
		if (!is_card_record(recs[i].type))
			continue;
		e = dfi_pgwitness_line(be->w, recs[i].seq, line, DFI_J_LINE_MAX + 1, &len);
		if (e == DFI_OK)
			e = tell_line(be, &b, line, len, recs[i].seq, &recs[i]);
	}
	/* Outcomes only (no intent: no ChangeKey waits on them), told by a
	 * thread that holds a claim: deferred, sent with this station's next
	 * intents or the release of the claim, in the same round trip. Other
	 * stations cannot miss them: the card stays claimed until its release
	 * has told them; a station that dies first tells them at its next
	 * start (reconciliation). */
	int outcomes = claims_held > 0;
	for (size_t i = 0; i < n; i++)
		if (is_card_record(recs[i].type) && recs[i].type != DFI_JREC_COMMIT && recs[i].type != DFI_JREC_ABORT &&
		    recs[i].type != DFI_JREC_RESOLVE)
			outcomes = 0;
	if (e == DFI_OK && outcomes && b.n > 0) {
		pthread_mutex_lock(&be->mu);
		if (be->pend == NULL)
			be->pend = calloc(1, sizeof(*be->pend));
		int deferred = be->pend != NULL && be->pend->n + b.n <= BATCH_MAX / 2 && batch_merge(be->pend, &b) == 0;
		pthread_mutex_unlock(&be->mu);
		if (deferred) {
			batch_clear(&b);
			free(line);
			return DFI_OK;
		}
	}
	if (e == DFI_OK) {
		struct batch *p = pend_take(be), m;
		memset(&m, 0, sizeof(m));
		if ((p != NULL && batch_merge(&m, p) != 0) || batch_merge(&m, &b) != 0)
			e = DFI_E_NOMEM;
		else
			e = batch_send(be, &m, 1);
		batch_clear(&m);
		if (e != DFI_OK)
			pend_return(be, p);
		else if (p != NULL) {
			batch_clear(p);
			free(p);
		}
	}
	batch_clear(&b);
	free(line);
	return e;
}

/* ---- reconciliation at open ------------------------------------------------------ */

struct recon {
	struct pgbe *be;
	struct batch b;
	uint64_t n, from;
	dfi_err e;
};

static int
recon_line(void *ctx, const char *line, size_t len, int complete, uint64_t off)
{
	(void)off;
	struct recon *x = ctx;
	if (!complete)
		return 1; /* a torn tail: the journal quarantined it at open */
	if (line != NULL && len >= JCP_PREFIX_LEN && memcmp(line, JCP_PREFIX, JCP_PREFIX_LEN) == 0)
		return 0;
	uint64_t seq = x->n++;
	if (seq < x->from || line == NULL)
		return 0;
	x->e = tell_line(x->be, &x->b, line, len, seq, NULL);
	return x->e != DFI_OK;
}

static dfi_err
reconcile(struct pgbe *be, const char *path)
{
	const char *vals[] = { be->origin };
	PGresult *q = NULL;
	dfi_err e = pg_call(be->pg, "SELECT " DFI_PGREG_SCHEMA ".told($1)", 1, vals, &q, 1, WHY);
	if (e != DFI_OK)
		return e;
	uint64_t told = 0;
	int bad = pg_get_u64(q, 0, 0, &told) != 0;
	PQclear(q);
	if (bad)
		return pg_why(WHY, DFI_E_REGISTRY, "the registry's told() answered something unexpected");
	struct recon x;
	memset(&x, 0, sizeof(x));
	x.be = be;
	x.from = told > RECONCILE_WINDOW ? told - RECONCILE_WINDOW : 1;
	int fd = -1;
	if ((e = open_journal(path, &fd)) != DFI_OK)
		return pg_why(WHY, e, "cannot read the journal %s", path);
	e = jscan_fd(dfi_journal_io_posix(), fd, UINT64_MAX, recon_line, &x);
	close(fd);
	if (e == DFI_OK)
		e = x.e;
	if (e == DFI_OK)
		e = batch_send(be, &x.b, 0);
	batch_clear(&x.b);
	return e;
}

/* ---- claims ---------------------------------------------------------------------- */

/* The lookup that came with this thread's last claim (claim_lookup): the
 * engine's next call on the station thread is the lookup of that UID, which
 * takes it instead of a round trip. Any other call of the thread drops it,
 * so it is only ever used right after its claim. */
static _Thread_local struct {
	const struct pgbe *be;
	PGresult *q;
	uint8_t uid[DFI_J_UID_MAX];
	size_t len;
} pre;

/* claims_held: claims this thread took and has not released; while it
 * holds one, the outcomes it tells may wait for its release. */

static void
prefetch_drop(void)
{
	PQclear(pre.q);
	pre.q = NULL;
	pre.be = NULL;
}

static void
uid_hex(const uint8_t *uid, size_t len, char out[2 * DFI_J_UID_MAX + 3])
{
	pg_bytea_hex(uid, len, out);
}

static dfi_err
b_claim_do(void *vbe, const uint8_t *uid, size_t len, const char *holder, unsigned lease_ms, char *who, size_t who_cap)
{
	struct pgbe *be = vbe;
	char u[2 * DFI_J_UID_MAX + 3], lease[16];
	uid_hex(uid, len, u);
	unsigned ms = lease_ms > 0 ? (lease_ms > 86400000u ? 86400000u : lease_ms) : 60000u;
	snprintf(lease, sizeof(lease), "%u", ms);
	pthread_mutex_lock(&be->mu);
	be->lease_ms = ms;
	pthread_mutex_unlock(&be->mu);
	const char *vals[] = { u, holder, be->token, be->pg->station, lease, be->origin };
	PGresult *q = NULL;
	prefetch_drop();
	/* Idempotent: a claim this token already holds is taken again. The
	 * lookup comes with it (claim_lookup, schema 4): one round trip. */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	dfi_err e = pg_call(be->pg, "SELECT kind, a, b, c, d, e, f, g FROM " DFI_PGREG_SCHEMA
	    ".claim_lookup($1, $2, $3, $4, $5, $6)", 6, vals, &q, 1, WHY);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pg_note_claim(be->pg, (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000);
	if (e != DFI_OK)
		return e;
	if (PQntuples(q) < 1 || PQnfields(q) != 8 || strcmp(PQgetvalue(q, 0, 0), "claim") != 0) {
		PQclear(q);
		return pg_why(WHY, DFI_E_REGISTRY, "the registry's claim_lookup() answered something unexpected");
	}
	if (strcmp(PQgetvalue(q, 0, 6), "t") != 0) {
		if (who != NULL && who_cap > 0)
			snprintf(who, who_cap, "%s", PQgetisnull(q, 0, 7) ? "another station" : PQgetvalue(q, 0, 7));
		PQclear(q);
		return DFI_E_UID_CLAIMED;
	}
	claims_held++;
	/* kept for this thread's next call, the engine's lookup of this UID */
	if (len > sizeof(pre.uid)) {
		PQclear(q);
		return DFI_OK;
	}
	pre.be = be;
	pre.q = q;
	pre.len = len;
	memcpy(pre.uid, uid, len);
	return DFI_OK;
}

static dfi_err
b_renew_do(void *vbe, const uint8_t *uid, size_t len, const char *holder, unsigned lease_ms)
{
	struct pgbe *be = vbe;
	(void)holder;
	char u[2 * DFI_J_UID_MAX + 3], lease[16];
	uid_hex(uid, len, u);
	snprintf(lease, sizeof(lease), "%u", lease_ms > 0 ? (lease_ms > 86400000u ? 86400000u : lease_ms) : 60000u);
	const char *vals[] = { u, be->token, lease };
	PGresult *q = NULL;
	dfi_err e = pg_call(be->pg, "SELECT " DFI_PGREG_SCHEMA ".renew($1, $2, $3)", 3, vals, &q, 1, WHY);
	if (e != DFI_OK)
		return e;
	e = PQntuples(q) == 1 && strcmp(PQgetvalue(q, 0, 0), "t") == 0 ? DFI_OK : DFI_E_UID_CLAIMED;
	PQclear(q);
	return e;
}

/* A release that does not reach the registry leaves the claim to expire
 * with its lease. */
static void
b_release(void *vbe, const uint8_t *uid, size_t len, const char *holder)
{
	struct pgbe *be = vbe;
	(void)holder;
	prefetch_drop();
	if (claims_held > 0)
		claims_held--;
	char u[2 * DFI_J_UID_MAX + 3], ignore[200], st[160];
	uid_hex(uid, len, u);
	struct batch *p = pend_take(be);
	if (p == NULL) {
		const char *vals[] = { u, be->token };
		(void)pg_call(be->pg, "SELECT " DFI_PGREG_SCHEMA ".release($1, $2)", 2, vals, NULL, 1, ignore,
		    sizeof(ignore));
		return;
	}
	/* the deferred outcomes first, then the claim, in one round trip */
	snprintf(st, sizeof(st), "%s", be->pg->station);
	const char *vals[4 + A_N] = { u, be->token, be->origin, st };
	dfi_err e = DFI_OK;
	for (int i = 0; i < A_N && e == DFI_OK; i++)
		if ((vals[4 + i] = arr_end(&p->a[i])) == NULL)
			e = DFI_E_NOMEM;
	if (e == DFI_OK)
		e = pg_call(be->pg, "SELECT " DFI_PGREG_SCHEMA ".journaled_release($1, $2, $3, $4, $5, $6, $7::bytea[], $8, "
		    "$9, $10, $11, $12, $13, $14, $15)", 4 + A_N, vals, NULL, 1, ignore, sizeof(ignore));
	if (e == DFI_OK) {
		batch_clear(p);
		free(p);
	} else {
		/* arr_end closed the arrays: reopen them for more elements */
		for (int i = 0; i < A_N; i++)
			if (p->a[i].len > 0 && p->a[i].p[p->a[i].len - 1] == '}')
				p->a[i].p[--p->a[i].len] = '\0';
		pend_return(be, p);
	}
}

/* ---- lookup ------------------------------------------------------------------------ */

static int
get_int(const PGresult *q, int i, int col, uint64_t max, uint64_t *v)
{
	return pg_get_u64(q, i, col, v) != 0 || *v > max ? -1 : 0;
}

static dfi_err
b_lookup_do(void *vbe, const uint8_t *uid, size_t len, struct dfi_reg_card *out, const struct dfi_reg_visit *v)
{
	struct pgbe *be = vbe;
	PGresult *q = NULL;
	int first = 0; /* the row lookup()'s rows start at */
	if (pre.q != NULL && pre.be == be && pre.len == len && memcmp(pre.uid, uid, len) == 0) {
		q = pre.q;
		pre.q = NULL;
		first = 1;
	} else {
		prefetch_drop();
		char u[2 * DFI_J_UID_MAX + 3];
		uid_hex(uid, len, u);
		const char *vals[] = { u, be->origin };
		dfi_err e = pg_call(be->pg, "SELECT kind, a, b, c, d, e, f, g FROM " DFI_PGREG_SCHEMA ".lookup($1, $2)", 2,
		    vals, &q, 1, WHY);
		if (e != DFI_OK)
			return e;
	}
	prefetch_drop();
	int n = PQntuples(q);
	if (PQnfields(q) != 8)
		n = -1;
	/* rows are untrusted: every number in range, every line a record */
	for (int pass = 0; pass < 2 && n >= 0; pass++)
		for (int i = first; i < n; i++) {
			const char *kind = PQgetvalue(q, i, 0);
			uint64_t a, b, c, d, x;
			if (strcmp(kind, "card") == 0 && pass == 0) {
				if (get_int(q, i, 1, UINT32_MAX, &a) || get_int(q, i, 2, UINT32_MAX, &b) || get_int(q, i, 3, 1, &c) ||
				    get_int(q, i, 4, INT64_MAX, &d) || get_int(q, i, 5, INT64_MAX, &x))
					goto bad;
				out->refusals = (unsigned)a;
				out->authorizations = (unsigned)b;
				out->authorization_pending = (int)c;
				out->last_refusal = d;
				out->last_authorization = x;
			} else if (strcmp(kind, "slot") == 0 && pass == 1) {
				uint64_t gen, by;
				const char *byt = PQgetvalue(q, i, 6);
				if (get_int(q, i, 1, 0xFFFFFF, &a) || get_int(q, i, 2, 13, &b) || get_int(q, i, 3, 2, &c) ||
				    get_int(q, i, 5, UINT32_MAX, &gen) || jparse_u64(byt, byt + strlen(byt), &by) != 0)
					goto bad;
				/* version: -1 .. 255 */
				const char *vs = PQgetvalue(q, i, 4);
				int ver = strcmp(vs, "-1") == 0 ? -1 : get_int(q, i, 4, 255, &d) == 0 ? (int)d : -2;
				if (ver == -2)
					goto bad;
				struct dfi_reg_slot s = { .aid = (uint32_t)a, .keyno = (uint8_t)b,
					.state = (enum dfi_reg_slot_state)c, .version = ver, .generation = (uint32_t)gen,
					.changed_by = by, .origin = PQgetvalue(q, i, 7) };
				for (int k = first; k < n; k++)
					if (strcmp(PQgetvalue(q, k, 0), "intent") == 0 &&
					    strcmp(PQgetvalue(q, k, 1), PQgetvalue(q, i, 1)) == 0 &&
					    strcmp(PQgetvalue(q, k, 2), PQgetvalue(q, i, 2)) == 0)
						s.has_open_intent = 1;
				out->slots++;
				out->changed += c == DFI_REG_SLOT_CHANGED;
				if (v->slot != NULL)
					v->slot(v->ctx, &s);
			} else if (strcmp(kind, "intent") == 0 && pass == 1) {
				dfi_jrec r;
				if (get_int(q, i, 3, INT64_MAX, &a) ||
				    dfi_jrec_parse(PQgetvalue(q, i, 7), (size_t)PQgetlength(q, i, 7), &r) != DFI_OK ||
				    r.type != DFI_JREC_INTENT || r.key.uid_len != len || memcmp(r.key.uid, uid, len) != 0)
					goto bad;
				r.seq = a;
				out->open_intents++;
				if (v->intent != NULL)
					v->intent(v->ctx, &r, strcmp(PQgetvalue(q, i, 6), be->origin) == 0);
			} else if (strcmp(kind, "card") != 0 && strcmp(kind, "slot") != 0 && strcmp(kind, "intent") != 0) {
				goto bad;
			}
		}
	PQclear(q);
	if (n < 0)
		return pg_why(WHY, DFI_E_REGISTRY, "the registry's lookup() answered something unexpected");
	out->issued = out->changed > 0;
	return DFI_OK;
bad:
	PQclear(q);
	return pg_why(WHY, DFI_E_REGISTRY, "the registry's lookup() returned a malformed row");
}

/* ---- witnessing ------------------------------------------------------------------- */

/* A note of this handle's journal? */
static dfi_err
note_ours(struct pgbe *be, const uint8_t *note, size_t len)
{
	dfi_checkpoint cp;
	if (be->w == NULL)
		return DFI_E_INVALID_ARG;
	if (dfi_note_open(note, len, NULL, &cp) != DFI_OK || strcmp(cp.origin, be->origin) != 0)
		return DFI_E_JOURNAL_FORMAT;
	return DFI_OK;
}

/* async: off the card's path, the witness's thread does the work (a note
 * of another journal fails here all the same) */
static dfi_err
b_witness_do(void *vbe, const uint8_t *note, size_t len, int async)
{
	struct pgbe *be = vbe;
	dfi_err e = note_ours(be, note, len);
	if (e != DFI_OK)
		return e;
	/* The witness reads the journal itself up to its newest checkpoint
	 * (this one or a later one) and proves it from the registry's. */
	e = async ? dfi_pgwitness_request(be->w, WHY) : dfi_pgwitness_sync(be->w, WHY);
	return e == DFI_E_REGISTRY_REFUSED ? DFI_E_JOURNAL_ROLLBACK : e;
}

static dfi_err
b_claim(void *vbe, const uint8_t *uid, size_t len, const char *holder, unsigned lease_ms, char *who, size_t who_cap)
{
	why_tls[0] = '\0';
	return keep(vbe, b_claim_do(vbe, uid, len, holder, lease_ms, who, who_cap));
}

static dfi_err
b_renew(void *vbe, const uint8_t *uid, size_t len, const char *holder, unsigned lease_ms)
{
	prefetch_drop();
	why_tls[0] = '\0';
	return keep(vbe, b_renew_do(vbe, uid, len, holder, lease_ms));
}

static dfi_err
b_lookup(void *vbe, const uint8_t *uid, size_t len, struct dfi_reg_card *out, const struct dfi_reg_visit *v)
{
	why_tls[0] = '\0';
	return keep(vbe, b_lookup_do(vbe, uid, len, out, v));
}

static dfi_err
b_journaled(void *vbe, const dfi_jrec *recs, size_t n)
{
	prefetch_drop();
	why_tls[0] = '\0';
	return keep(vbe, b_journaled_do(vbe, recs, n));
}

static dfi_err
b_witness(void *vbe, const uint8_t *note, size_t len)
{
	prefetch_drop();
	why_tls[0] = '\0';
	return keep(vbe, b_witness_do(vbe, note, len, 0));
}

static dfi_err
b_witness_async(void *vbe, const uint8_t *note, size_t len)
{
	why_tls[0] = '\0';
	return keep(vbe, b_witness_do(vbe, note, len, 1));
}

static dfi_err
b_witness_failed(void *vbe)
{
	struct pgbe *be = vbe;
	if (be->w == NULL)
		return DFI_OK; /* no journal (inspect): nothing witnessed */
	why_tls[0] = '\0';
	dfi_err e = dfi_pgwitness_failed(be->w, WHY);
	return keep(vbe, e == DFI_E_REGISTRY_REFUSED ? DFI_E_JOURNAL_ROLLBACK : e);
}

static void
b_destroy(void *vbe)
{
	struct pgbe *be = vbe;
	if (be == NULL)
		return;
	if (pre.be == be)
		prefetch_drop();
	struct batch *p = pend_take(be);
	if (p != NULL) {
		/* what was deferred, told before the station goes (a failure here
		 * leaves it to the next start's reconciliation) */
		(void)batch_send(be, p, 0);
		batch_clear(p);
		free(p);
	}
	dfi_pgwitness_free(be->w);
	pthread_mutex_destroy(&be->mu);
	free(be);
}

static void
b_last_error(void *vbe, char *buf, size_t cap)
{
	struct pgbe *be = vbe;
	pthread_mutex_lock(&be->mu);
	snprintf(buf, cap, "%s", be->last);
	pthread_mutex_unlock(&be->mu);
}

static const struct dfi_registry_ops pg_ops = {
	.name = "postgresql",
	.claim = b_claim,
	.renew = b_renew,
	.release = b_release,
	.lookup = b_lookup,
	.journaled = b_journaled,
	.witness = b_witness,
	.witness_async = b_witness_async,
	.witness_failed = b_witness_failed,
	.destroy = b_destroy,
	.last_error = b_last_error,
};

dfi_err
dfi_registry_new_pg(dfi_registry **out, dfi_pgreg *pg, dfi_journal *j, const char *journal_path,
    const dfi_jpubkey *key, char *why, size_t cap)
{
	if (out != NULL)
		*out = NULL;
	if (out == NULL || pg == NULL || (j != NULL && (journal_path == NULL || key == NULL)))
		return DFI_E_INVALID_ARG;
	struct pgbe *be = calloc(1, sizeof(*be));
	if (be == NULL)
		return DFI_E_NOMEM;
	be->pg = pg;
	be->j = j;
	be->lease_ms = 60000;
	pthread_mutex_init(&be->mu, NULL);
	uint8_t rnd[8] = { 0 };
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		free(be);
		return pg_why(why, cap, DFI_E_INTERNAL, "no random bytes for the claim token");
	}
	char hex[17];
	(void)dfi_hex_encode(rnd, sizeof(rnd), hex, sizeof(hex));
	snprintf(be->token, sizeof(be->token), "%ld-%s", (long)getpid(), hex);
	dfi_err e = DFI_OK;
	if (j != NULL) {
		snprintf(be->origin, sizeof(be->origin), "%s", dfi_journal_origin(j));
		/* witnessed first: a rolled-back journal tells the registry nothing */
		e = dfi_pgwitness_new(&be->w, pg, journal_path, key, why, cap);
		if (e == DFI_OK && (e = reconcile(be, journal_path)) != DFI_OK)
			pg_why(why, cap, e, "telling the registry what the journal holds: %s", why_tls);
	}
	if (e != DFI_OK) {
		b_destroy(be);
		return e;
	}
	return dfi_registry_new_backend(out, &pg_ops, be);
}

