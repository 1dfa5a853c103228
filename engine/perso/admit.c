/*
 * Admission: may this card get keys? (docs/PERSONALIZATION.md, "Refusals")
 *
 * Before the first key leaves for a card:
 *   - its UID is claimed in the registry (one reader/station per UID);
 *   - the registry says what was issued for the UID; a card that shows the
 *     factory (or transport) key where the journal recorded a committed
 *     key change, or lacks an application whose keys were issued, is
 *     refused unless an operator authorized the re-issue (journaled first);
 *   - the originality signature is checked as the profile's policy says.
 * A refusal sends nothing more to the card and is journaled (refusal
 * record), then told to the registry. Every append of the engine goes
 * through perso_append / perso_note_*: the journal first, the registry
 * only once the records are durable.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfissue/util.h"
#include "perso_int.h"
#include "core/unconst.h"
#include "core/nelem.h"

/* ---- set-up ------------------------------------------------------------------- */

static dfi_err
copy_reissue(dfi_perso *p, const struct dfi_perso_config *cfg)
{
	if (cfg->nreissue == 0)
		return DFI_OK;
	if (cfg->reissue == NULL)
		return DFI_E_INVALID_ARG;
	p->reissue = calloc(cfg->nreissue, sizeof(*p->reissue));
	if (p->reissue == NULL)
		return DFI_E_NOMEM;
	for (size_t i = 0; i < cfg->nreissue; i++) {
		const struct dfi_perso_reissue *r = &cfg->reissue[i];
		if (r->uid_len == 0 || r->uid_len > sizeof(r->uid) || r->reason == NULL ||
		    r->reason[0] == '\0' || strlen(r->reason) >= DFI_J_STR_MAX) {
			snprintf(p->err, sizeof(p->err), "re-issue authorization %zu: a UID of 1..10 bytes "
			    "and a reason of 1..%d characters are needed", i + 1, DFI_J_STR_MAX - 1);
			return DFI_E_INVALID_ARG;
		}
		p->reissue[i] = *r;
		if ((p->reissue[i].reason = strdup(r->reason)) == NULL)
			return DFI_E_NOMEM;
		p->nreissue = i + 1;
	}
	return DFI_OK;
}

static dfi_err
load_trust(dfi_perso *p, const struct dfi_perso_config *cfg)
{
	const struct dfi_profile_originality *o = &p->spec->originality;
	struct dfi_diag d;
	dfi_err e;
	if (o->policy == DFI_ORIGINALITY_OFF)
		return DFI_OK;
	e = dfi_orig_keys_new(&p->orig, o->trusted_keys == NULL);
	if (e == DFI_OK && o->trusted_keys != NULL)
		e = dfi_orig_keys_load(p->orig, o->trusted_keys, &d);
	if (e == DFI_OK && cfg->originality_keys != NULL)
		e = dfi_orig_keys_load(p->orig, cfg->originality_keys, &d);
	if (e == DFI_E_PARSE || e == DFI_E_IO)
		snprintf(p->err, sizeof(p->err), "originality: %.230s", d.message);
	else if (e != DFI_OK)
		snprintf(p->err, sizeof(p->err), "originality: trusted keys: %s", dfi_strerror(e));
	return e;
}

/* The claim lease: long enough for the longest tap (a lease that runs out
 * mid-tap stops the station at its next key change: claim lost), short
 * enough that a card torn at a station that died is soon free elsewhere. */
static dfi_err
claim_lease(dfi_perso *p, const struct dfi_perso_config *cfg)
{
	unsigned ms = cfg->claim_lease_ms;
	if (ms == 0) {
		p->claim_lease_ms = DFI_PERSO_CLAIM_LEASE_DEFAULT_MS;
		return DFI_OK;
	}
	if (ms < DFI_PERSO_CLAIM_LEASE_MIN_MS || ms > DFI_PERSO_CLAIM_LEASE_MAX_MS) {
		snprintf(p->err, sizeof(p->err), "claim lease %u ms: give %u to %u ms (1 s to 1 h), "
		    "or 0 for the default %u ms", ms, DFI_PERSO_CLAIM_LEASE_MIN_MS,
		    DFI_PERSO_CLAIM_LEASE_MAX_MS, DFI_PERSO_CLAIM_LEASE_DEFAULT_MS);
		return DFI_E_INVALID_ARG;
	}
	p->claim_lease_ms = ms;
	return DFI_OK;
}

dfi_err
perso_admission_init(dfi_perso *p, const struct dfi_perso_config *cfg)
{
	dfi_err e = claim_lease(p, cfg);
	if (e != DFI_OK)
		return e;
	if (cfg->registry != NULL) {
		p->reg = cfg->registry;
	} else if (p->journal != NULL) {
		e = dfi_registry_new_local(&p->reg, p->journal);
		if (e != DFI_OK)
			return e;
		p->own_reg = 1;
	}
	p->run_start = p->journal != NULL ? dfi_journal_size(p->journal) : 0;
	e = copy_reissue(p, cfg);
	if (e == DFI_OK)
		e = load_trust(p, cfg);
	return e;
}

void
perso_admission_free(dfi_perso *p)
{
	if (p->own_reg)
		dfi_registry_free(p->reg);
	p->reg = NULL;
	dfi_orig_keys_free(p->orig);
	for (size_t i = 0; i < p->nreissue; i++)
		free(dfi_unconst(p->reissue[i].reason));
	free(p->reissue);
}

/* ---- the journal, then the registry ----------------------------------------------- */

/* A registry that does not take what the journal holds: fail closed,
 * nothing more for any card until someone looks (as a journal failure). */
static dfi_err
registry_failed(struct tap *tp, const char *what, dfi_err e)
{
	if (e != DFI_OK) {
		char why[300];
		dfi_registry_last_error(tp->p->reg, why, sizeof(why));
		tp->journal_failed = 1;
		perso_detail(tp, "registry (%s): %s: %s%s%s", dfi_registry_backend(tp->p->reg), what,
		    dfi_strerror(e), why[0] ? ": " : "", why);
	}
	return e;
}

static dfi_err
told(struct tap *tp, const dfi_jrec *recs, size_t n)
{
	return registry_failed(tp, "the journaled records were not taken",
	    dfi_registry_journaled(tp->p->reg, recs, n));
}

dfi_err
perso_append(struct tap *tp, dfi_jrec *recs, size_t n, uint64_t *seqs)
{
	uint64_t local[PERSO_MAX_COMMITS + 4];
	if (seqs == NULL) {
		if (n > DFI_NELEM(local))
			return DFI_E_OVERFLOW;
		seqs = local;
	}
	dfi_err e = dfi_journal_append(tp->p->journal, recs, n, seqs);
	if (e != DFI_OK) {
		tp->journal_failed = 1;
		return e;
	}
	tp->appended = 1;
	for (size_t i = 0; i < n; i++)
		recs[i].seq = seqs[i];
	if (tp->p->reg == NULL)
		return DFI_OK;
	/* Batches become durable in order: what was queued before is too. */
	e = perso_note_durable(tp, UINT64_MAX);
	return e != DFI_OK ? e : told(tp, recs, n);
}

void
perso_note_queued(struct tap *tp, const dfi_jrec *recs, const uint64_t *seqs, size_t n,
    uint64_t ticket)
{
	tp->appended = 1;
	for (size_t i = 0; i < n; i++) {
		if (tp->nnotes == PERSO_MAX_NOTES) {
			/* Cannot happen with the engine's batch sizes; if it did,
			 * the registry would miss records: stop, loudly. */
			tp->journal_failed = 1;
			return;
		}
		tp->notes[tp->nnotes].rec = recs[i];
		tp->notes[tp->nnotes].rec.seq = seqs[i];
		tp->notes[tp->nnotes].ticket = ticket;
		tp->nnotes++;
	}
}

dfi_err
perso_note_durable(struct tap *tp, uint64_t ticket)
{
	if (tp->p->reg == NULL) {
		tp->nnotes = 0;
		return DFI_OK;
	}
	if (tp->journal_failed && tp->nnotes == PERSO_MAX_NOTES) {
		perso_detail(tp, "internal: more than %d records queued for the registry", PERSO_MAX_NOTES);
		return DFI_E_INTERNAL;
	}
	size_t k = 0;
	while (k < tp->nnotes && tp->notes[k].ticket <= ticket)
		k++;
	if (k == 0)
		return DFI_OK;
	dfi_jrec *batch = malloc(k * sizeof(*batch));
	if (batch == NULL)
		return DFI_E_NOMEM;
	for (size_t i = 0; i < k; i++)
		batch[i] = tp->notes[i].rec;
	dfi_err e = told(tp, batch, k);
	free(batch);
	memmove(tp->notes, tp->notes + k, (tp->nnotes - k) * sizeof(tp->notes[0]));
	tp->nnotes -= k;
	return e;
}

/* The registry witnesses the journal's newest checkpoint off the card's
 * path (dfi_registry_witness_async): the card is done when its records
 * are durable and told. A witnessing refused (or failed) later is kept by
 * the registry handle: every reader's next claim fails with it, before
 * anything but the UID read reached its card, and stops the station. */
dfi_err
perso_witness(struct tap *tp)
{
	uint8_t note[DFI_J_NOTE_MAX];
	size_t len;
	if (tp->p->reg == NULL || !tp->appended || tp->journal_failed || tp->readonly)
		return DFI_OK;
	dfi_err e = dfi_journal_checkpoint(tp->p->journal, note, sizeof(note), &len);
	if (e == DFI_OK)
		e = dfi_registry_witness_async(tp->p->reg, note, len);
	return registry_failed(tp, "the journal's checkpoint was not witnessed", e);
}

/* ---- claim and lookup ----------------------------------------------------------- */

dfi_err
perso_claim(struct tap *tp)
{
	char holder[128], who[128] = "", uid[2 * DFI_PROFILE_UID_LEN + 1];
	if (tp->p->reg == NULL || tp->readonly)
		return DFI_OK;
	/* an earlier card's checkpoint refused: no new card, the station stops */
	dfi_err e = registry_failed(tp, "an earlier checkpoint was not witnessed",
	    dfi_registry_witness_failed(tp->p->reg));
	if (e != DFI_OK)
		return e;
	snprintf(holder, sizeof(holder), "%s/%s", tp->p->station, dfi_transport_name(tp->t));
	e = dfi_registry_claim(tp->p->reg, tp->uid, DFI_PROFILE_UID_LEN, holder,
	    tp->p->claim_lease_ms, &tp->claim, who, sizeof(who));
	if (e == DFI_E_UID_CLAIMED) {
		dfi_hex_encode(tp->uid, sizeof(tp->uid), uid, sizeof(uid));
		perso_detail(tp, "card %s is being personalized at %s: present it again when that is done",
		    uid, who[0] ? who : "another station");
	}
	return e;
}

void
perso_release(struct tap *tp)
{
	dfi_registry_release(tp->claim);
	tp->claim = NULL;
}

static void
on_slot(void *ctx, const struct dfi_reg_slot *s)
{
	struct tap *tp = ctx;
	if (tp->nrslots >= PERSO_MAX_REG_SLOTS)
		return; /* more slots than a DESFire card has: the rest cannot be on it */
	struct reg_slot *r = &tp->rslots[tp->nrslots++];
	r->aid = s->aid;
	r->keyno = s->keyno;
	r->state = (uint8_t)s->state;
	r->version = s->version;
	r->generation = s->generation;
	r->changed_by = s->changed_by;
	r->has_profile = s->has_profile;
	memcpy(r->profile, s->profile, sizeof(r->profile));
}

struct icollect {
	struct tap *tp;
	size_t dropped;
	/* intents another station's journal left open (a shared registry) */
	dfi_jrec remote[PERSO_MAX_INTENTS];
	size_t nremote;
};

static void
on_intent(void *ctx, const dfi_jrec *in, int local)
{
	struct icollect *c = ctx;
	struct tap *tp = c->tp;
	/* Only this journal's intents get an outcome here; another station's
	 * are adopted first (adopt_remote). */
	if (!local) {
		if (c->nremote < PERSO_MAX_INTENTS)
			c->remote[c->nremote++] = *in;
		else
			c->dropped++;
		return;
	}
	if (tp->nintents >= PERSO_MAX_INTENTS) {
		c->dropped++;
		return;
	}
	tp->intents[tp->nintents].rec = *in;
	tp->intents[tp->nintents].done = 0;
	tp->nintents++;
}

static void
visit_slot(void *ctx, const struct dfi_reg_slot *s)
{
	on_slot(((struct icollect *)ctx)->tp, s);
}

/* A torn card put aside at another station and presented here (a shared
 * registry): that station's open intent is taken over. The same key change
 * is journaled here as an intent of this journal (the key it names, its
 * versions and generation), told to the registry, which closes the other
 * station's intent with it, and then resolved here like any intent of this
 * journal: the card is probed with the intent's old and new keys, derived
 * in this HSM, and a resolve records what it showed. No ChangeKey is sent
 * for it. Not in inspect (nothing is written). */
static dfi_err
adopt_remote(struct tap *tp, struct icollect *c)
{
	for (size_t i = 0; i < c->nremote; i++) {
		if (tp->readonly)
			break;
		if (tp->nintents >= PERSO_MAX_INTENTS) {
			c->dropped++;
			break;
		}
		dfi_jrec r = c->remote[i];
		uint64_t other = r.seq;
		r.seq = 0;
		r.time = 0;
		r.station[0] = '\0';
		dfi_err e = perso_append(tp, &r, 1, NULL);
		if (e != DFI_OK) {
			perso_detail(tp, "another station's open intent %llu was not taken over: %s",
			    (unsigned long long)other, dfi_strerror(e));
			return e;
		}
		perso_event(tp, "open intent %llu of another station (app " DFI_AID_FMT " key %u, version %u -> %u) "
		    "taken over as intent %llu", (unsigned long long)other, DFI_AID_ARGS(r.key.aid), r.key.keyno,
		    r.old_version, r.new_version, (unsigned long long)r.seq);
		tp->intents[tp->nintents].rec = r;
		tp->intents[tp->nintents].done = 0;
		tp->nintents++;
	}
	return DFI_OK;
}

dfi_err
perso_lookup(struct tap *tp)
{
	tp->nintents = 0;
	tp->nrslots = 0;
	if (tp->p->reg == NULL)
		return DFI_OK;
	struct icollect *c = calloc(1, sizeof(*c)); /* 32 records: not on a station thread's stack */
	if (c == NULL)
		return DFI_E_NOMEM;
	c->tp = tp;
	struct dfi_reg_visit v = { visit_slot, on_intent, c };
	tp->tap_from = tp->p->journal != NULL ? dfi_journal_size(tp->p->journal) : 0;
	dfi_err e = dfi_registry_lookup(tp->p->reg, tp->uid, DFI_PROFILE_UID_LEN, &tp->reg, &v);
	if (e != DFI_OK) {
		char why[300];
		dfi_registry_last_error(tp->p->reg, why, sizeof(why));
		perso_detail(tp, "registry (%s): lookup failed: %s%s%s", dfi_registry_backend(tp->p->reg),
		    dfi_strerror(e), why[0] ? ": " : "", why);
		free(c);
		return e;
	}
	/* Intents left open for these keys are sorted by seq: the newest of a
	 * key is the one an outcome may still follow. */
	for (size_t i = 1; i < tp->nintents; i++)
		for (size_t j = i; j > 0 && tp->intents[j - 1].rec.seq > tp->intents[j].rec.seq; j--) {
			struct open_intent t = tp->intents[j];
			tp->intents[j] = tp->intents[j - 1];
			tp->intents[j - 1] = t;
		}
	/* Taken over after this journal's own (their seqs come after). The
	 * tap proper begins after them: a refusal of this tap follows them
	 * without contradicting them (they were begun elsewhere). */
	if (c->dropped == 0 && (e = adopt_remote(tp, c)) == DFI_OK && c->nremote > 0 && tp->p->journal != NULL)
		tp->tap_from = dfi_journal_size(tp->p->journal);
	if (e == DFI_OK && tp->nintents > 0)
		perso_event(tp, "%zu open intent(s) for this card: resolving by probing the card",
		    tp->nintents);
	if (e == DFI_OK && c->dropped > 0) {
		perso_detail(tp, "more than %d open intents for one card", PERSO_MAX_INTENTS);
		e = DFI_E_OVERFLOW;
	}
	free(c);
	return e;
}

/* ---- refusals and authorizations ------------------------------------------------- */

dfi_err
perso_refuse(struct tap *tp, dfi_jcause cause, const char *fmt, ...)
{
	char reason[DFI_J_STR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	tp->refused = 1;
	tp->res->outcome = DFI_PERSO_REFUSED;
	tp->res->err = DFI_E_REFUSED;
	tp->res->refusal_cause = cause;
	if (tp->readonly) {
		snprintf(tp->would_refuse, sizeof(tp->would_refuse), "%s: %s", dfi_jcause_name(cause),
		    reason);
		return DFI_OK;
	}
	dfi_jrec r;
	dfi_err e = dfi_jrec_card_event(&r, DFI_JREC_REFUSAL, tp->uid, DFI_PROFILE_UID_LEN, cause,
	    tp->tap_from, reason);
	if (e == DFI_OK)
		e = perso_append(tp, &r, 1, NULL);
	if (e != DFI_OK) {
		perso_detail(tp, "refused (%s: %s), but the refusal record was not written: %s",
		    dfi_jcause_name(cause), reason, dfi_strerror(e));
		return e;
	}
	tp->res->refusal_seq = r.seq;
	perso_detail(tp, "%s: %s (journal record %llu)", dfi_jcause_name(cause), reason,
	    (unsigned long long)r.seq);
	return DFI_OK;
}

/* ---- originality ----------------------------------------------------------------- */

dfi_err
perso_originality(struct tap *tp)
{
	static const uint8_t readsig[] = { 0x90, 0x3C, 0x00, 0x00, 0x01, 0x00, 0x00 };
	const struct dfi_profile_originality *o = &tp->p->spec->originality;
	char *st = tp->res->originality;
	size_t cap = sizeof(tp->res->originality);
	uint8_t r[DFI_ORIG_SIG_LEN + 16];
	size_t n = 0;
	const char *key = NULL;
	dfi_err e;

	if (o->policy == DFI_ORIGINALITY_OFF || tp->p->orig == NULL) {
		snprintf(st, cap, "off");
		return DFI_OK;
	}
	/* NXP lists the originality check from DESFire EV2 on (major version
	 * 0x12 EV2, 0x33 EV3); EV1 (0x01) has no Read_Sig at all. */
	if ((tp->ver.hw_major & 0x0F) < 2) {
		snprintf(st, cap, "not supported (DESFire hardware %02X.%02X: EV1 or older)",
		    tp->ver.hw_major, tp->ver.hw_minor);
	} else {
		e = dfi_transport_transmit(tp->t, readsig, sizeof(readsig), r, sizeof(r), &n);
		if (e != DFI_OK)
			return e;
		/* A real EV2 ends it with status 0x90, some answer 0x00. */
		if (n == DFI_ORIG_SIG_LEN + 2 && r[n - 2] == 0x91 && (r[n - 1] == 0x90 || r[n - 1] == 0x00)) {
			if (dfi_orig_verify(tp->p->orig, tp->uid, DFI_PROFILE_UID_LEN, r, &key) == DFI_OK) {
				snprintf(st, cap, "verified by %s", key);
				perso_event(tp, "originality: signature verified by %s", key);
				return DFI_OK;
			}
			snprintf(st, cap, "bad signature (no trusted key verifies it)");
		} else if (n == 2 && r[0] == 0x91 && r[1] == 0x1C) {
			snprintf(st, cap, "no signature (Read_Sig refused)");
		} else if (n >= 2) {
			snprintf(st, cap, "no signature (card answered %02X %02X, %zu bytes)", r[n - 2],
			    r[n - 1], n - 2);
		} else {
			return DFI_E_CARD_PROTOCOL;
		}
	}
	if (o->policy == DFI_ORIGINALITY_REQUIRE)
		return perso_refuse(tp, DFI_JCAUSE_ORIGINALITY, "%s; the profile requires a valid signature",
		    st);
	perso_event(tp, "originality: %s: continuing (policy warn)", st);
	return DFI_OK;
}

/* ---- one issuance per UID --------------------------------------------------------- */

static int
app_on_card(const struct tap *tp, uint32_t aid)
{
	for (size_t i = 0; i < tp->naids; i++)
		if (tp->aids[i] == aid)
			return 1;
	return 0;
}

/* Does the card show less than the journal recorded? A slot the journal
 * says was changed must not hold the key cards arrive with, and its
 * application must exist. 1 with why filled, 0 when the card is consistent
 * with what was issued (a genuine card, possibly torn). */
static int
shows_less(const struct tap *tp, char *why, size_t cap)
{
	for (size_t i = 0; i < tp->nrslots; i++) {
		const struct reg_slot *s = &tp->rslots[i];
		if (s->state != DFI_REG_SLOT_CHANGED)
			continue;
		if (s->aid == 0) {
			if (s->keyno == 0 && tp->picc.cur != NULL && tp->picc.cur == perso_initial(tp, -1)) {
				snprintf(why, cap, "the PICC master key is the %s key, the journal recorded "
				    "version %d", tp->picc_initial == perso_factory(tp->p, -1) ? "factory" :
				    "transport", s->version);
				return 1;
			}
			continue;
		}
		if (!app_on_card(tp, s->aid)) {
			snprintf(why, cap, "application " DFI_AID_FMT ", whose key %u was issued, is missing", DFI_AID_ARGS(s->aid),
			    s->keyno);
			return 1;
		}
		int a = perso_app_index(tp, s->aid);
		if (a < 0 || s->keyno >= DFI_PROFILE_MAX_KEYS || !tp->apps[a].exists)
			continue;
		const struct key_state *ks = &tp->apps[a].keys[s->keyno];
		if (ks->cur != NULL && ks->cur == perso_factory(tp->p, a)) {
			snprintf(why, cap, "application " DFI_AID_FMT " key %u is the factory key, the journal "
			    "recorded version %d", DFI_AID_ARGS(s->aid), s->keyno, s->version);
			return 1;
		}
	}
	return 0;
}

/* The operator's reason to re-issue this UID, if any is usable on this tap:
 * the run's (each once per run: not when an authorization of the UID was
 * journaled since the run began) or the batch row's, for this UID only. A
 * row whose re-issue fields are malformed authorizes nothing; bad says why
 * (the CLI refuses such a row before the first card, dfi_profile_check_row). */
static const char *
reissue_reason(const struct tap *tp, char *src, size_t cap, char *bad, size_t badcap)
{
	const dfi_perso *p = tp->p;
	for (size_t i = 0; i < p->nreissue; i++) {
		if (p->reissue[i].uid_len != DFI_PROFILE_UID_LEN ||
		    memcmp(p->reissue[i].uid, tp->uid, DFI_PROFILE_UID_LEN) != 0)
			continue;
		if (tp->reg.authorizations > 0 && tp->reg.last_authorization >= p->run_start)
			continue; /* used once in this run already */
		snprintf(src, cap, "operator (--reissue)");
		return p->reissue[i].reason;
	}
	uint8_t uid[DFI_PROFILE_UID_LEN];
	const char *why = NULL;
	struct dfi_diag d;
	if (dfi_batch_row_reissue(tp->row, uid, &why, &d) != DFI_OK) {
		/* Short: the journal keeps 127 characters of the whole reason. */
		snprintf(bad, badcap, "batch line %d: %s not valid; ", dfi_batch_row_line(tp->row),
		    d.field);
		return NULL;
	}
	if (why == NULL || memcmp(uid, tp->uid, DFI_PROFILE_UID_LEN) != 0)
		return NULL;
	snprintf(src, cap, "batch %s:%d", dfi_batch_row_file(tp->row), dfi_batch_row_line(tp->row));
	return why;
}

dfi_err
perso_admit(struct tap *tp)
{
	char why[160], src[300], bad[DFI_DIAG_FIELD_MAX + 64] = "";
	if (tp->p->reg == NULL || !tp->reg.issued || !shows_less(tp, why, sizeof(why)))
		return DFI_OK;
	const char *reason = reissue_reason(tp, src, sizeof(src), bad, sizeof(bad));
	if (reason == NULL)
		return perso_refuse(tp, DFI_JCAUSE_ISSUED, "UID already issued (%u key slot(s) changed); %s%s",
		    tp->reg.changed, bad, why);
	if (tp->readonly) {
		snprintf(tp->would_refuse, sizeof(tp->would_refuse), "re-issue, authorized by %.60s: %.110s", src,
		    reason);
		return DFI_OK;
	}
	/* Journaled before it is used: the authorization record comes before
	 * any key change of the re-issue. */
	dfi_jrec r;
	dfi_err e = dfi_jrec_card_event(&r, DFI_JREC_AUTHORIZATION, tp->uid, DFI_PROFILE_UID_LEN, 0, 0,
	    reason);
	if (e == DFI_OK)
		e = perso_append(tp, &r, 1, NULL);
	if (e != DFI_OK) {
		perso_detail(tp, "re-issue authorization not written: %s", dfi_strerror(e));
		return e;
	}
	tp->res->authorization_seq = r.seq;
	perso_event(tp, "UID already issued (%s): re-issue authorized by %s, reason \"%s\" "
	    "(journal record %llu)", why, src, reason, (unsigned long long)r.seq);
	return DFI_OK;
}
