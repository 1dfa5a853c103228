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
 * seq).
 *
 * No thread-local or static mutable state: what a call needs lives in the
 * call (its reason buffer) or in the handle under its mutex (the claims it
 * holds, the lookup each claim brought, the outcomes deferred), so the
 * handle is thread-safe and two handles never share anything. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "../journal/journal_int.h"
#include "core/monitor.h"
#include "dfissue/util.h"
#include "pg_batch.h"
#include "pg_be.h"
#include "pg_int.h"
#include "pg_rows.h"
#include "registry_int.h"

#define RECONCILE_WINDOW 4096
#define BATCH_MAX 256


/* A failed call keeps its reason for dfi_registry_last_error(). */
static dfi_err
keep(struct pgbe *be, dfi_err e, const char *why)
{
	if (e != DFI_OK && e != DFI_E_UID_CLAIMED) {
		pthread_mutex_lock(&be->mu);
		snprintf(be->last, sizeof(be->last), "%s", why[0] ? why : dfi_strerror(e));
		pthread_mutex_unlock(&be->mu);
	}
	return e;
}

/* The 4 + A_N parameters of journaled_held() / journaled_release(): first,
 * second, the origin, the station, then b's arrays (closed: the caller
 * reopens them with pgb_reopen when b is kept). */
dfi_err
pgbe_batch_params(struct pgbe *be, struct batch *b, const char *first, const char *second, char st[160],
    const char *vals[4 + A_N])
{
	snprintf(st, 160, "%s", be->pg->station);
	vals[0] = first;
	vals[1] = second;
	vals[2] = be->origin;
	vals[3] = st;
	for (int i = 0; i < A_N; i++)
		if ((vals[4 + i] = pgb_arr_end(&b->a[i])) == NULL)
			return DFI_E_NOMEM;
	return DFI_OK;
}

/* ---- deferred outcomes --------------------------------------------------------------- */

/* Takes the deferred records out of be (NULL when none); a batch taken is
 * in flight until pgbe_pend_done. A release waits for batches in flight (see
 * pgbe_release), so the caller must call pgbe_pend_done whenever this returns one. */
struct batch *
pgbe_pend_take_locked(struct pgbe *be)
{
	struct batch *p = be->pend;
	be->pend = NULL;
	if (p != NULL)
		be->sending++;
	return p;
}

static struct batch *
pend_take(struct pgbe *be)
{
	pthread_mutex_lock(&be->mu);
	struct batch *p = pgbe_pend_take_locked(be);
	pthread_mutex_unlock(&be->mu);
	return p;
}

/* The end of a send of p (NULL: none was taken). When it failed, p's records
 * go back in front of what was deferred since (they go with the next send),
 * before a release waiting on them looks again. Frees p. */
void
pgbe_pend_done(struct pgbe *be, struct batch *p, int sent)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&be->mu);
	if (!sent) {
		if (be->pend != NULL && pgb_merge(p, be->pend) == 0) {
			pgb_free(be->pend);
			be->pend = NULL;
		}
		if (be->pend == NULL) {
			be->pend = p;
			p = NULL;
		}
	}
	be->sending--;
	pthread_cond_broadcast(&be->cv);
	pthread_mutex_unlock(&be->mu);
	/* sent, or out of memory: reconciliation at the next start tells them */
	pgb_free(p);
}

/* ---- claims held (under mu) ---------------------------------------------------------- */

static struct held *
held_find(struct pgbe *be, const uint8_t *uid, size_t len)
{
	for (struct held *h = be->held; h != NULL; h = h->next)
		if (h->len == len && memcmp(h->uid, uid, len) == 0)
			return h;
	return NULL;
}

/* The claim whose card intent seq is of, or NULL. */
static struct held *
held_of_intent(struct pgbe *be, uint64_t seq)
{
	for (struct held *h = be->held; h != NULL; h = h->next)
		for (unsigned i = 0; i < h->nseqs; i++)
			if (h->seqs[i] == seq)
				return h;
	return NULL;
}

static void
held_drop_pre(struct held *h)
{
	PQclear(h->pre);
	h->pre = NULL;
}

/* Under mu: one claim of uid by this handle ends (the claim is idempotent
 * per handle: the last one drops what it held). */
void
pgbe_held_release_locked(struct pgbe *be, const uint8_t *uid, size_t len)
{
	for (struct held **hp = &be->held; *hp != NULL; hp = &(*hp)->next)
		if ((*hp)->len == len && memcmp((*hp)->uid, uid, len) == 0) {
			struct held *h = *hp;
			if (--h->refs == 0) {
				*hp = h->next;
				held_drop_pre(h);
				free(h);
			}
			break;
		}
}

/* ---- telling records ------------------------------------------------------------------- */
/* held: the engine's live records, whose intents announce a card command
 * (a ChangeKey, a change): the registry takes them only while this handle
 * holds each intent's claim, and extends it (journaled_held,
 * schema/003_held_intents.sql). The start-up reconciliation tells past
 * records without a claim. */
static dfi_err
batch_send(struct pgbe *be, struct batch *b, int held, char *why)
{
	if (b->n == 0)
		return DFI_OK;
	held = held && b->intents > 0;
	char st[160], lease[16];
	pthread_mutex_lock(&be->mu);
	snprintf(lease, sizeof(lease), "%u", be->lease_ms);
	pthread_mutex_unlock(&be->mu);
	const char *vals[4 + A_N];
	dfi_err e = pgbe_batch_params(be, b, be->token, lease, st, vals);
	/* Idempotent: a record told twice is told once (and a claim this
	 * handle holds is held again). */
	if (e == DFI_OK)
		e = held ? pg_call(be->pg,
		    "SELECT " DFI_PGREG_SCHEMA ".journaled_held($1, $2::integer, $3, $4, $5, $6, $7::bytea[], $8, $9, $10, "
		    "$11, $12, $13, $14, $15, $16::bytea[], $17)", 4 + A_N, vals, NULL, 1, WHY) : pg_call(be->pg,
		    "SELECT " DFI_PGREG_SCHEMA ".journaled($1, $2, $3, $4, $5::bytea[], $6, $7, $8, $9, $10, $11, $12, $13, "
		    "$14::bytea[], $15)", 2 + A_N, vals + 2, NULL, 1, WHY);
	pgb_clear(b);
	return e;
}

/* The outcome of an intent names the intent's UID (the registry takes it
 * from the intent row); an outcome's own key fields are empty. */
static dfi_err
tell_line(struct pgbe *be, struct batch *b, const char *line, size_t len, uint64_t seq, const dfi_jrec *expect,
    char *why)
{
	dfi_jrec r;
	if (dfi_jrec_parse(line, len, &r) != DFI_OK)
		return dfi_why(WHY, DFI_E_JOURNAL_FORMAT, "journal record %" PRIu64 " does not parse", seq);
	r.seq = seq;
	if (expect != NULL && (r.type != expect->type ||
	    (pgb_names_uid(r.type) &&
		(r.key.uid_len != expect->key.uid_len || memcmp(r.key.uid, expect->key.uid, r.key.uid_len) != 0)) ||
	    (!pgb_names_uid(r.type) && r.intent != expect->intent)))
		return dfi_why(WHY, DFI_E_INVALID_ARG,
		    "journal record %" PRIu64 " is not the record the engine says it appended", seq);
	if (!pgb_is_card_record(r.type))
		return DFI_OK;
	/* scanned lines are not NUL-terminated */
	char *z = malloc(len + 1);
	if (z == NULL)
		return DFI_E_NOMEM;
	memcpy(z, line, len);
	z[len] = '\0';
	int bad = pgb_add(b, &r, z);
	free(z);
	if (bad)
		return DFI_E_NOMEM;
	return b->n >= BATCH_MAX ? batch_send(be, b, expect != NULL, why) : DFI_OK;
}

/* Under mu: what recs tell of a card makes a lookup its claim brought
 * stale. An outcome names its intent, whose claim holds the intents told
 * under it. (Only the thread holding a card tells its records, and the
 * engine tells none between a claim and its lookup: this is for safety;
 * another thread's records never drop this card's lookup.) */
static void
held_told_locked(struct pgbe *be, const dfi_jrec *recs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct held *h = NULL;
		if (pgb_names_uid(recs[i].type))
			h = held_find(be, recs[i].key.uid, recs[i].key.uid_len);
		else if (pgb_is_outcome(recs[i].type))
			h = held_of_intent(be, recs[i].intent);
		if (h != NULL)
			held_drop_pre(h);
	}
}

/* Under mu, after the registry took recs with the claims checked: their
 * intents are now under their card's claim. */
static void
held_note_intents_locked(struct pgbe *be, const dfi_jrec *recs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct held *h;
		if ((recs[i].type == DFI_JREC_INTENT || recs[i].type == DFI_JREC_CHANGE) &&
		    (h = held_find(be, recs[i].key.uid, recs[i].key.uid_len)) != NULL && h->nseqs < HELD_SEQS)
			h->seqs[h->nseqs++] = recs[i].seq;
	}
}

/* Outcomes only (no intent: no card command waits on them), each of an
 * intent told under a claim this handle still holds: deferred, sent with
 * this station's next intents or the release of a claim, in the same round
 * trip. Other stations cannot miss them: the card stays claimed until a
 * release has told them (pgbe_release); a station that dies first tells them
 * at its next start (reconciliation). Returns 1 when b went into pend. */
static int
defer_outcomes(struct pgbe *be, const dfi_jrec *recs, size_t n, struct batch *b)
{
	int deferred = 0;
	pthread_mutex_lock(&be->mu);
	int ok = b->n > 0;
	for (size_t i = 0; i < n && ok; i++)
		if (pgb_is_card_record(recs[i].type) && (!pgb_is_outcome(recs[i].type) || held_of_intent(be, recs[i].intent) == NULL))
			ok = 0;
	if (ok && be->pend == NULL)
		be->pend = calloc(1, sizeof(*be->pend));
	if (ok && be->pend != NULL)
		deferred = be->pend->n + b->n <= BATCH_MAX / 2 && pgb_merge(be->pend, b) == 0;
	pthread_mutex_unlock(&be->mu);
	return deferred;
}

static dfi_err
b_journaled_do(struct pgbe *be, const dfi_jrec *recs, size_t n, char *why)
{
	if (be->j == NULL)
		return DFI_E_INVALID_ARG;
	pthread_mutex_lock(&be->mu);
	held_told_locked(be, recs, n);
	pthread_mutex_unlock(&be->mu);
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
		if (!pgb_is_card_record(recs[i].type))
			continue;
		e = dfi_pgwitness_line(be->w, recs[i].seq, line, DFI_J_LINE_MAX + 1, &len);
		if (e == DFI_OK)
			e = tell_line(be, &b, line, len, recs[i].seq, &recs[i], why);
	}
	free(line);
	if (e == DFI_OK && defer_outcomes(be, recs, n, &b)) {
		pgb_clear(&b);
		return DFI_OK;
	}
	if (e == DFI_OK) {
		struct batch *p = pend_take(be), m;
		memset(&m, 0, sizeof(m));
		if ((p != NULL && pgb_merge(&m, p) != 0) || pgb_merge(&m, &b) != 0)
			e = DFI_E_NOMEM;
		else
			e = batch_send(be, &m, 1, why);
		pgb_clear(&m);
		if (e == DFI_OK) {
			pthread_mutex_lock(&be->mu);
			held_note_intents_locked(be, recs, n);
			pthread_mutex_unlock(&be->mu);
		}
		pgbe_pend_done(be, p, e == DFI_OK);
	}
	pgb_clear(&b);
	return e;
}

/* ---- reconciliation at open ------------------------------------------------------ */

struct recon {
	struct pgbe *be;
	struct batch b;
	uint64_t from;
	dfi_err e;
	char *why;
};

/* A torn tail is not passed: the journal quarantined it at open. */
static int
recon_record(void *ctx, uint64_t seq, const char *line, size_t len)
{
	struct recon *x = ctx;
	if (seq < x->from || line == NULL)
		return 0;
	x->e = tell_line(x->be, &x->b, line, len, seq, NULL, x->why);
	return x->e != DFI_OK;
}

static dfi_err
reconcile(struct pgbe *be, const char *path, char *why)
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
		return dfi_why(WHY, DFI_E_REGISTRY, "the registry's told() answered something unexpected");
	/* Records are told only once the journal holds them: a registry ahead
	 * of the journal means this is not the journal that told them (rolled
	 * back, restored from a backup, or a copy), even when the checkpoint
	 * witnessed last is still in it. Its lookups would show another
	 * history's intents as this journal's, and its claims (schema 7) would
	 * succeed the process that told them. */
	uint64_t size = dfi_journal_size(be->j);
	if (told >= size)
		return dfi_why(WHY, DFI_E_REGISTRY_REFUSED,
		    "the registry holds record %" PRIu64 " of journal %s, which ends at record %" PRIu64
		    ": the journal was rolled back, restored from a backup or copied; run 'dfissue audit' before going on",
		    told, be->origin, size > 0 ? size - 1 : 0);
	struct recon x;
	memset(&x, 0, sizeof(x));
	x.be = be;
	x.why = why;
	x.from = told > RECONCILE_WINDOW ? told - RECONCILE_WINDOW : 1;
	static const struct jreplay_fn fn = { recon_record, NULL };
	if ((e = jreplay_file(path, &fn, &x)) != DFI_OK)
		e = dfi_why(WHY, e, "cannot read the journal %s", path);
	else
		e = x.e;
	if (e == DFI_OK)
		e = batch_send(be, &x.b, 0, why);
	pgb_clear(&x.b);
	return e;
}

/* ---- claims ---------------------------------------------------------------------- */

void
pgbe_uid_hex(const uint8_t *uid, size_t len, char out[2 * DFI_J_UID_MAX + 3])
{
	pg_bytea_hex(uid, len, out);
}

static unsigned
lease_of(unsigned lease_ms)
{
	return lease_ms > 0 ? (lease_ms > 86400000u ? 86400000u : lease_ms) : 60000u;
}


static dfi_err
b_claim_do(struct pgbe *be, const uint8_t *uid, size_t len, const char *holder, unsigned lease_ms, char *who,
    size_t who_cap, char *why)
{
	char u[2 * DFI_J_UID_MAX + 3], lease[16];
	pgbe_uid_hex(uid, len, u);
	unsigned ms = lease_of(lease_ms);
	snprintf(lease, sizeof(lease), "%u", ms);
	struct held *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return DFI_E_NOMEM;
	pthread_mutex_lock(&be->mu);
	be->lease_ms = ms;
	dfi_err e = pgbe_rel_wait_locked(be, uid, len, why);
	pthread_mutex_unlock(&be->mu);
	if (e != DFI_OK) {
		free(h);
		return e;
	}
	const char *vals[] = { u, holder, be->token, be->pg->station, lease, be->origin };
	PGresult *q = NULL;
	/* Idempotent: a claim this token already holds is taken again. The
	 * lookup comes with it (claim_lookup, schema 4): one round trip. The
	 * origin (schema 7) lets this handle succeed a dead process of the
	 * same journal at once: the journal's writer lock keeps two live
	 * processes off one journal, so a claim held under this origin by
	 * another token is a predecessor's (schema/007_claim_origin.sql says
	 * what a journal copied to another host does). No journal (inspect,
	 * the origin empty): nobody's successor. */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	e = pg_call(be->pg, "SELECT kind, a, b, c, d, e, f, g, h FROM " DFI_PGREG_SCHEMA
	    ".claim_lookup($1, $2, $3, $4, $5, $6)", 6, vals, &q, 1, WHY);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pg_note_claim(be->pg, (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000);
	int taken = 0;
	if (e == DFI_OK && pg_row_claim(q, &taken, who, who_cap) != 0)
		e = dfi_why(WHY, DFI_E_REGISTRY, "the registry's claim_lookup() answered something unexpected");
	if (e == DFI_OK && !taken)
		e = DFI_E_UID_CLAIMED;
	if (e != DFI_OK) {
		PQclear(q);
		free(h);
		return e;
	}
	/* kept for the engine's lookup of this UID, its next call for it */
	pthread_mutex_lock(&be->mu);
	struct held *had = held_find(be, uid, len);
	if (had != NULL) {
		had->refs++;
		held_drop_pre(had);
		had->pre = q;
	} else {
		memcpy(h->uid, uid, len);
		h->len = len;
		h->pre = q;
		h->refs = 1;
		h->next = be->held;
		be->held = h;
		h = NULL;
	}
	pthread_mutex_unlock(&be->mu);
	free(h);
	return DFI_OK;
}

static dfi_err
b_renew_do(struct pgbe *be, const uint8_t *uid, size_t len, unsigned lease_ms, char *why)
{
	char u[2 * DFI_J_UID_MAX + 3], lease[16];
	pgbe_uid_hex(uid, len, u);
	snprintf(lease, sizeof(lease), "%u", lease_of(lease_ms));
	const char *vals[] = { u, be->token, lease };
	PGresult *q = NULL;
	dfi_err e = pg_call(be->pg, "SELECT " DFI_PGREG_SCHEMA ".renew($1, $2, $3)", 3, vals, &q, 1, WHY);
	if (e != DFI_OK)
		return e;
	/* anything but one row of "t": the claim is lost (fail closed) */
	int kept = 0;
	e = pg_row_renew(q, &kept) == 0 && kept ? DFI_OK : DFI_E_UID_CLAIMED;
	PQclear(q);
	return e;
}

/* ---- lookup ------------------------------------------------------------------------ */

/* The lookup its claim brought, when this handle holds uid's claim and
 * nothing of the card was told since (NULL otherwise). */
static PGresult *
pre_take(struct pgbe *be, const uint8_t *uid, size_t len)
{
	pthread_mutex_lock(&be->mu);
	struct held *h = held_find(be, uid, len);
	PGresult *q = h != NULL ? h->pre : NULL;
	if (h != NULL)
		h->pre = NULL;
	pthread_mutex_unlock(&be->mu);
	return q;
}

static dfi_err
b_lookup_do(struct pgbe *be, const uint8_t *uid, size_t len, struct dfi_reg_card *out, const struct dfi_reg_visit *v,
    char *why)
{
	PGresult *q = pre_take(be, uid, len);
	int first = 0; /* the row lookup()'s rows start at */
	uint64_t open[HELD_SEQS];
	unsigned nopen = 0;
	if (q != NULL) {
		first = 1;
	} else {
		char u[2 * DFI_J_UID_MAX + 3];
		pgbe_uid_hex(uid, len, u);
		const char *vals[] = { u, be->origin };
		dfi_err e = pg_call(be->pg, "SELECT kind, a, b, c, d, e, f, g, h FROM " DFI_PGREG_SCHEMA ".lookup($1, $2)",
		    2, vals, &q, 1, WHY);
		if (e != DFI_OK)
			return e;
	}
	/* rows are untrusted: every number in range, every line a record */
	int bad = pg_rows_lookup(q, first, uid, len, be->origin, out, v, open, HELD_SEQS, &nopen);
	PQclear(q);
	if (bad == PG_ROWS_NOMEM)
		return DFI_E_NOMEM;
	if (bad)
		return dfi_why(WHY, DFI_E_REGISTRY, "the registry's lookup() returned a malformed row");
	/* This journal's open intents of a card this handle holds: their
	 * outcomes (this tap resolves them) may wait for the release too. */
	pthread_mutex_lock(&be->mu);
	struct held *h = held_find(be, uid, len);
	for (unsigned i = 0; h != NULL && i < nopen && h->nseqs < HELD_SEQS; i++)
		h->seqs[h->nseqs++] = open[i];
	pthread_mutex_unlock(&be->mu);
	return DFI_OK;
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
b_witness_do(struct pgbe *be, const uint8_t *note, size_t len, int async, char *why)
{
	dfi_err e = note_ours(be, note, len);
	if (e != DFI_OK)
		return e;
	/* A witnessing now (a closing station's last) comes after the
	 * releases queued before it, and reports their failure. */
	if (!async && (e = pgbe_rel_drain(be, why)) != DFI_OK)
		return e;
	/* The witness reads the journal itself up to its newest checkpoint
	 * (this one or a later one) and proves it from the registry's. */
	e = async ? dfi_pgwitness_request(be->w, WHY) : dfi_pgwitness_sync(be->w, WHY);
	return e == DFI_E_REGISTRY_REFUSED ? DFI_E_JOURNAL_ROLLBACK : e;
}

/* ---- the vtable: each call with its own reason buffer ------------------------------ */

static dfi_err
b_claim(void *vbe, const uint8_t *uid, size_t len, const char *holder, unsigned lease_ms, char *who, size_t who_cap)
{
	char why[WHY_CAP] = "";
	return keep(vbe, b_claim_do(vbe, uid, len, holder, lease_ms, who, who_cap, why), why);
}

static dfi_err
b_renew(void *vbe, const uint8_t *uid, size_t len, const char *holder, unsigned lease_ms)
{
	char why[WHY_CAP] = "";
	(void)holder;
	return keep(vbe, b_renew_do(vbe, uid, len, lease_ms, why), why);
}

static dfi_err
b_lookup(void *vbe, const uint8_t *uid, size_t len, struct dfi_reg_card *out, const struct dfi_reg_visit *v)
{
	char why[WHY_CAP] = "";
	return keep(vbe, b_lookup_do(vbe, uid, len, out, v, why), why);
}

static dfi_err
b_journaled(void *vbe, const dfi_jrec *recs, size_t n)
{
	char why[WHY_CAP] = "";
	return keep(vbe, b_journaled_do(vbe, recs, n, why), why);
}

static dfi_err
b_witness(void *vbe, const uint8_t *note, size_t len)
{
	char why[WHY_CAP] = "";
	return keep(vbe, b_witness_do(vbe, note, len, 0, why), why);
}

static dfi_err
b_witness_async(void *vbe, const uint8_t *note, size_t len)
{
	char why[WHY_CAP] = "";
	return keep(vbe, b_witness_do(vbe, note, len, 1, why), why);
}

static dfi_err
b_witness_failed(void *vbe)
{
	struct pgbe *be = vbe;
	char why[WHY_CAP] = "";
	/* a failed release stops the station as a refused witnessing does */
	pthread_mutex_lock(&be->mu);
	dfi_err e = pgbe_rel_failed_locked(be, why);
	pthread_mutex_unlock(&be->mu);
	if (e != DFI_OK)
		return keep(vbe, e, why);
	if (be->w == NULL)
		return DFI_OK; /* no journal (inspect): nothing witnessed */
	e = dfi_pgwitness_failed(be->w, WHY);
	return keep(vbe, e == DFI_E_REGISTRY_REFUSED ? DFI_E_JOURNAL_ROLLBACK : e, why);
}

/* What was deferred and is still in pend (claims not released, or a
 * failed release's outcomes), told before the station goes. A failure
 * leaves it to the next start's reconciliation. */
static dfi_err
pend_flush(struct pgbe *be, char *why)
{
	struct batch *p = pend_take(be);
	if (p == NULL)
		return DFI_OK;
	dfi_err e = batch_send(be, p, 0, why);
	pgbe_pend_done(be, p, 1);
	return e;
}

/* dfi_registry_close: the queued releases sent (the release thread
 * stopped once the queue is empty: the owner closes the handle alone),
 * then the deferred outcomes; the first failure. */
static dfi_err
b_drain(void *vbe)
{
	struct pgbe *be = vbe;
	char why[WHY_CAP] = "", pwhy[WHY_CAP] = "";
	pgbe_rel_stop(be);
	dfi_err e = pgbe_rel_drain(be, why), pe = pend_flush(be, pwhy);
	if (e == DFI_OK && pe != DFI_OK)
		e = dfi_why(WHY, pe, "telling the registry the station's last outcomes failed: %s; the station's next "
		    "start tells them again: check the registry first", pwhy[0] ? pwhy : dfi_strerror(pe));
	return keep(be, e, why);
}

static void
b_destroy(void *vbe)
{
	struct pgbe *be = vbe;
	if (be == NULL)
		return;
	/* the queued releases sent first; then no thread uses the handle any
	 * more: nothing is in flight */
	pgbe_rel_stop(be);
	while (be->held != NULL) {
		struct held *h = be->held;
		be->held = h->next;
		held_drop_pre(h);
		free(h);
	}
	char why[WHY_CAP];
	(void)pend_flush(be, why);
	dfi_pgwitness_free(be->w);
	dfi_monitor_destroy(&be->mu, &be->cv);
	free(be);
}

/* The handle's calls all go through its dfi_pgreg (the release and witness
 * threads' own connections too): abandoning it ends them. */
static void
b_abandon(void *vbe)
{
	dfi_pgreg_abandon(((struct pgbe *)vbe)->pg);
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
	.release = pgbe_release,
	.lookup = b_lookup,
	.journaled = b_journaled,
	.witness = b_witness,
	.witness_async = b_witness_async,
	.witness_failed = b_witness_failed,
	.drain = b_drain,
	.abandon = b_abandon,
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
	be->rq_tail = &be->rq;
	if (dfi_monitor_init(&be->mu, &be->cv) != DFI_OK) {
		free(be);
		return DFI_E_NOMEM;
	}
	uint8_t rnd[8] = { 0 };
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		b_destroy(be);
		return dfi_why(why, cap, DFI_E_INTERNAL, "no random bytes for the claim token");
	}
	char hex[17];
	(void)dfi_hex_encode(rnd, sizeof(rnd), hex, sizeof(hex));
	snprintf(be->token, sizeof(be->token), "%ld-%s", (long)getpid(), hex);
	dfi_err e = DFI_OK;
	if (j != NULL) {
		char rwhy[WHY_CAP] = "";
		snprintf(be->origin, sizeof(be->origin), "%s", dfi_journal_origin(j));
		/* witnessed first: a rolled-back journal tells the registry nothing */
		e = dfi_pgwitness_new(&be->w, pg, journal_path, key, why, cap);
		if (e == DFI_OK && (e = reconcile(be, journal_path, rwhy)) != DFI_OK)
			dfi_why(why, cap, e, "telling the registry what the journal holds: %s", rwhy);
	}
	if (e != DFI_OK) {
		b_destroy(be);
		return e;
	}
	return dfi_registry_new_backend(out, &pg_ops, be);
}
