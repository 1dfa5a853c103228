/* Executing the plan. Every ChangeKey is journaled: intent (durable and
 * signed) -> APDU -> commit, or abort on a definite card refusal; a tear
 * leaves the intent open for the next tap to resolve. */
#include <stdio.h>
#include <string.h>

#include "core/errclass.h"
#include "perso_int.h"

static size_t step_rank(const struct tap *tp, const struct step *st);

/* The intent for ChangeKey of key keyno of app (-1: the PICC), from the
 * card's state as the plan left it. */
static dfi_err
build_intent(struct tap *tp, int app, uint8_t keyno, dfi_jrec *rec)
{
	const struct perso_role *r = perso_role(tp->p, app, keyno);
	uint32_t aid = app < 0 ? 0 : perso_aid(tp->p->spec->apps[app].aid);
	uint8_t a[3] = { (uint8_t)aid, (uint8_t)(aid >> 8), (uint8_t)(aid >> 16) };
	int v = app < 0 ? tp->picc.version : tp->apps[app].keys[keyno].version;

	memset(rec, 0, sizeof(*rec));
	rec->type = DFI_JREC_INTENT;
	memcpy(rec->key.uid, tp->uid, DFI_PROFILE_UID_LEN);
	rec->key.uid_len = DFI_PROFILE_UID_LEN;
	rec->key.aid = aid;
	rec->key.keyno = keyno;
	rec->old_version = (uint8_t)(v < 0 ? 0 : v);
	rec->new_version = r->pk->version;
	snprintf(rec->key_label, sizeof(rec->key_label), "%s", dfi_hsm_key_label(r->base));
	memcpy(rec->key_objid, r->objid, r->objid_len);
	rec->key_objid_len = r->objid_len;
	rec->key_gen = r->pk->generation;
	/* Rotation: the generation the slot leaves, when it is one of the
	 * profile's (docs/JOURNAL.md, old_key_gen). */
	rec->has_old_gen = perso_key_generation(tp, app, keyno,
	    app < 0 ? tp->picc.cur : tp->apps[app].keys[keyno].cur, &rec->old_key_gen);
	rec->has_profile = 1;
	memcpy(rec->profile, tp->digest, sizeof(rec->profile));
	return dfi_profile_div_input(r->pk, tp->uid, a, tp->row, rec->div_input,
	    sizeof(rec->div_input), &rec->div_input_len, NULL);
}

/* The tap stops on a failed journal append e: the detail says what failed
 * (the journal's own account: which file or key, and the reason), that
 * nothing more goes to any card, what to do, and what becomes of this
 * card (card: "its ChangeKey not sent", "a key change sent, its outcome
 * not journaled"). what names the record for a failure the journal has
 * no account of (it refused the records themselves). */
static void
journal_failed(struct tap *tp, dfi_err e, const char *what, const char *card)
{
	struct dfi_journal_failure f;
	char uid[2 * DFI_PROFILE_UID_LEN + 1] = "?";

	tp->journal_failed = 1;
	/* perso_append wrote the records and the registry did not take them:
	 * registry_failed (admit.c) put the registry's account in the detail,
	 * and "journal: ... not written" would be false. The other sites that
	 * say so keep it the same way. */
	if (dfi_err_is_registry(e))
		return;
	(void)dfi_hex_encode(tp->uid, DFI_PROFILE_UID_LEN, uid, sizeof(uid));
	if (dfi_journal_last_failure(tp->p->journal, &f) != DFI_OK || f.kind == DFI_JFAIL_NONE ||
	    f.code != e) {
		perso_detail(tp, "journal: %s not written (%s): nothing more is sent to any card; "
		    "card %s (%s) is finished by its next tap", what, dfi_strerror(e), uid, card);
		return;
	}
	if (f.kind == DFI_JFAIL_SIGNER)
		perso_detail(tp, "%s: nothing more is sent to any card; %s and run personalize again "
		    "on this journal: the open intents (card %s: %s) are resolved by the cards' next "
		    "taps", f.what, f.todo, uid, card);
	else
		perso_detail(tp, "%s: nothing more is sent to any card; %s and run personalize again "
		    "on this journal; card %s (%s) is finished by its next tap", f.what, f.todo, uid,
		    card);
}

static int
step_key(const struct step *st, int *app, uint8_t *keyno)
{
	if (st->kind == STEP_CHANGE_APP_KEY) {
		*app = st->app;
		*keyno = st->keyno;
		return 1;
	}
	if (st->kind == STEP_CHANGE_PICC_KEY) {
		*app = -1;
		*keyno = 0;
		return 1;
	}
	return 0;
}

/* The pending commits, then extra (if any), as one batch. */
static size_t
with_commits(struct tap *tp, const dfi_jrec *extra, size_t nextra, dfi_jrec *out)
{
	size_t n = 0;
	for (size_t i = 0; i < tp->ncommits; i++)
		if (dfi_jrec_outcome(&out[n], DFI_JREC_COMMIT, tp->commits[i], NULL, -1, 0) == DFI_OK)
			n++; /* cannot fail: a commit without a reason */
	for (size_t i = 0; i < nextra; i++)
		out[n++] = extra[i];
	return n;
}

static int
queued(const struct tap *tp, size_t step)
{
	for (size_t k = 0; k < PERSO_MAX_PREFETCH; k++)
		if (tp->pf[k].valid && tp->pf[k].step == step)
			return 1;
	return 0;
}

/* Queues, as one journal batch with the pending commits, the intents of
 * step i (when a ChangeKey) and of the ChangeKeys that follow it in the
 * same rank (an application's key changes are consecutive steps). The
 * first of those ChangeKeys waits until the batch is durable and tells
 * the registry every intent of it in one round trip: the registry knows
 * each intent before its ChangeKey, and the later ones wait on nothing.
 * An intent queued and never sent is aborted at its step (superseded) or
 * at the tap's end; one a killed station left open means "old or new
 * key" to the next tap, as any open intent (state.c, recover.c). Never
 * one of a later rank: an intent tells the next tap that the
 * applications before its own were verified (verify_before). Best
 * effort: when the journal refuses, nothing is queued and each step
 * writes its intent itself (and meets the error). */
static void
prefetch_run(struct tap *tp, size_t i, size_t rank)
{
	int slots[PERSO_MAX_PREFETCH], app;
	size_t steps[PERSO_MAX_PREFETCH], nfree = 0, nq = 0;
	uint8_t keyno;
	uint64_t *seqs = tp->jb.seqs, ticket;

	if (tp->journal_failed)
		return;
	for (int k = 0; k < PERSO_MAX_PREFETCH; k++)
		if (!tp->pf[k].valid)
			slots[nfree++] = k;
	for (size_t j = i; j < tp->nsteps && nq < nfree; j++) {
		if (!step_key(&tp->steps[j], &app, &keyno)) {
			if (j == i)
				continue;
			break;
		}
		if (j > i && step_rank(tp, &tp->steps[j]) != rank)
			break;
		if (!queued(tp, j))
			steps[nq++] = j;
	}
	if (nq == 0)
		return;
	/* Up to 30 records of 1 KB: in the tap, not a station thread's stack. */
	dfi_jrec *recs = tp->jb.recs;
	size_t nc = with_commits(tp, NULL, 0, recs), n = nc;
	for (size_t q = 0; q < nq; q++) {
		(void)step_key(&tp->steps[steps[q]], &app, &keyno);
		if (build_intent(tp, app, keyno, &recs[n]) != DFI_OK)
			break;
		n++;
	}
	if (n > nc && dfi_journal_append_async(tp->p->journal, recs, n, seqs, &ticket) == DFI_OK) {
		perso_note_queued(tp, recs, seqs, n, ticket);
		tp->ncommits = 0;
		for (size_t q = 0; q < n - nc; q++) {
			int k = slots[q];
			tp->pf[k].valid = 1;
			tp->pf[k].step = steps[q];
			tp->pf[k].seq = seqs[nc + q];
			tp->pf[k].ticket = ticket;
			tp->pf[k].rec = recs[nc + q];
		}
	}
}

static int
same_intent(const dfi_jrec *a, const dfi_jrec *b)
{
	return memcmp(&a->key, &b->key, sizeof(a->key)) == 0 && a->old_version == b->old_version &&
	    a->new_version == b->new_version && strcmp(a->key_label, b->key_label) == 0 &&
	    a->key_objid_len == b->key_objid_len &&
	    memcmp(a->key_objid, b->key_objid, a->key_objid_len) == 0 && a->key_gen == b->key_gen &&
	    a->div_input_len == b->div_input_len &&
	    memcmp(a->div_input, b->div_input, a->div_input_len) == 0;
}

/* The intent for this ChangeKey, durable: the one queued ahead when it
 * matches, else written now (with the pending commits). */
static dfi_err
durable_intent(struct tap *tp, const dfi_jrec *rec, uint64_t *seq)
{
	dfi_jrec *recs = tp->jb.recs, *extra = tp->jb.extra;
	uint64_t *seqs = tp->jb.seqs;
	size_t nextra = 0;
	int hit = -1;
	dfi_err e = DFI_OK;

	for (int k = 0; k < PERSO_MAX_PREFETCH; k++)
		if (tp->pf[k].valid && tp->pf[k].step == tp->cur_step &&
		    same_intent(&tp->pf[k].rec, rec))
			hit = k;
	for (int k = 0; k < PERSO_MAX_PREFETCH; k++)
		if (k != hit && tp->pf[k].valid && tp->pf[k].step <= tp->cur_step) {
			/* Queued for a state the plan no longer has: never sent. */
			tp->pf[k].valid = 0;
			if ((e = dfi_jrec_outcome(&extra[nextra++], DFI_JREC_ABORT, tp->pf[k].seq,
			    "not sent: superseded", -1, 0)) != DFI_OK)
				return e;
		}
	if (hit >= 0) {
		tp->pf[hit].valid = 0;
		*seq = tp->pf[hit].seq;
		e = dfi_journal_wait(tp->p->journal, tp->pf[hit].ticket);
		if (e == DFI_OK)
			e = perso_note_durable(tp, tp->pf[hit].ticket);
		if (e == DFI_OK && nextra > 0)
			e = perso_append(tp, extra, nextra, NULL);
		return e;
	}
	extra[nextra++] = *rec;
	size_t n = with_commits(tp, extra, nextra, recs);
	e = perso_append(tp, recs, n, seqs);
	if (e == DFI_OK) {
		tp->ncommits = 0;
		*seq = seqs[n - 1];
	}
	return e;
}

/* The pending commits, now (the list is full). */
static dfi_err
commits_now(struct tap *tp)
{
	dfi_jrec *recs = tp->jb.recs;
	size_t n = with_commits(tp, NULL, 0, recs);
	dfi_err e = n == 0 ? DFI_OK : perso_append(tp, recs, n, NULL);
	if (e == DFI_OK)
		tp->ncommits = 0;
	return e;
}

static dfi_err
journaled_change_key(struct tap *tp, int app, uint8_t keyno, const dfi_cardkey *newk,
    const dfi_cardkey *oldk)
{
	uint32_t aid = app < 0 ? 0 : perso_aid(tp->p->spec->apps[app].aid);
	dfi_jrec rec;
	uint64_t seq = 0;
	dfi_err e, je;

	e = build_intent(tp, app, keyno, &rec);
	if (e != DFI_OK)
		return e;
	/* Nothing leaves for the card unless the intent is on stable storage
	 * under a signed checkpoint. */
	e = durable_intent(tp, &rec, &seq);
	if (e != DFI_OK) {
		/* The batch carried the commits still pending: those key changes
		 * reached the card, their outcome did not reach the journal. */
		char card[128];
		if (tp->ncommits > 0)
			snprintf(card, sizeof(card), "%zu key change(s) sent, their outcome not "
			    "journaled; its next ChangeKey not sent", tp->ncommits);
		else
			snprintf(card, sizeof(card), "its next ChangeKey not sent");
		journal_failed(tp, e, "intent", card);
		return e;
	}
	e = dfi_desfire_change_key(tp->d, keyno, newk, oldk);
	if (e == DFI_OK) {
		je = tp->ncommits == PERSO_MAX_COMMITS ? commits_now(tp) : DFI_OK;
		if (je == DFI_OK)
			tp->commits[tp->ncommits++] = seq;
	} else if (perso_is_tear(e) || e == DFI_E_CARD_MAC || e == DFI_E_CARD_PROTOCOL) {
		/* Outcome unknown: the intent stays open, the next tap probes. */
		perso_event(tp, "ChangeKey " DFI_AID_FMT "/%u: %s: intent %llu left open", DFI_AID_ARGS(aid), keyno,
		    dfi_errname(e), (unsigned long long)seq);
		return e;
	} else {
		dfi_jrec ab;
		je = dfi_jrec_outcome(&ab, DFI_JREC_ABORT, seq, dfi_errname(e), -1, 0);
		if (je == DFI_OK)
			je = perso_append(tp, &ab, 1, NULL);
	}
	if (je != DFI_OK) {
		journal_failed(tp, je, "outcome", "a key change sent, its outcome not journaled");
		return je;
	}
	if (e == DFI_OK)
		tp->res->key_changes++;
	return e;
}

dfi_err
perso_flush_begin(struct tap *tp)
{
	dfi_jrec *recs = tp->jb.recs, *extra = tp->jb.extra;
	uint64_t *seqs = tp->jb.seqs;
	size_t nextra = 0, n;
	dfi_err e = DFI_OK;

	tp->flush_ticket = 0;
	if (tp->journal_failed || tp->p->journal == NULL)
		return DFI_OK; /* after a failed append the journal takes nothing more */
	for (int k = 0; k < PERSO_MAX_PREFETCH && e == DFI_OK; k++)
		if (tp->pf[k].valid) {
			/* The tap ended before that ChangeKey: it never left the host. */
			tp->pf[k].valid = 0;
			e = dfi_jrec_outcome(&extra[nextra++], DFI_JREC_ABORT, tp->pf[k].seq,
			    "not sent: the tap ended before it", -1, 0);
		}
	n = with_commits(tp, extra, nextra, recs);
	if (e == DFI_OK && n == 0)
		return DFI_OK;
	if (e == DFI_OK)
		e = dfi_journal_append_async(tp->p->journal, recs, n, seqs, &tp->flush_ticket);
	if (e == DFI_OK)
		perso_note_queued(tp, recs, seqs, n, tp->flush_ticket);
	if (e != DFI_OK) {
		journal_failed(tp, e, "outcome", "a key change sent, its outcome not journaled");
		return e;
	}
	tp->ncommits = 0;
	return DFI_OK;
}

dfi_err
perso_flush_end(struct tap *tp)
{
	if (tp->flush_ticket == 0)
		return DFI_OK;
	uint64_t ticket = tp->flush_ticket;
	dfi_err e = dfi_journal_wait(tp->p->journal, ticket);
	tp->flush_ticket = 0;
	if (e == DFI_OK)
		return perso_note_durable(tp, ticket);
	journal_failed(tp, e, "outcome", "a key change sent, its outcome not journaled");
	return e;
}

static dfi_err
create_app(struct tap *tp, int i)
{
	const struct dfi_profile_app *a = &tp->p->spec->apps[i];
	struct app_state *as = &tp->apps[i];
	dfi_err e;

	if (tp->picc_ks & DFI_KS_FREE_CREATE_DELETE)
		e = perso_select(tp, 0);
	else
		e = perso_ensure_master(tp, -1);
	if (e == DFI_OK)
		e = dfi_desfire_create_application(tp->d, perso_aid(a->aid), PERSO_CREATE_KS,
		    (uint8_t)a->nkeys, a->key_type);
	if (e != DFI_OK)
		return e;
	as->exists = 1;
	as->created = 1;
	as->ks = PERSO_CREATE_KS;
	as->nkeys = (uint8_t)a->nkeys;
	for (size_t k = 0; k < DFI_PROFILE_MAX_KEYS; k++) {
		as->keys[k].cur = perso_factory(tp->p, i);
		as->keys[k].version = 0;
		as->keys[k].confirmed = 0;
		as->keys[k].at_target = 0;
	}
	return DFI_OK;
}

static dfi_err
create_file(struct tap *tp, int i, int fi)
{
	const struct dfi_profile_file *f = &tp->p->spec->apps[i].files[fi];
	struct app_state *as = &tp->apps[i];
	struct dfi_df_access acc = { f->access.read, f->access.write, f->access.read_write,
		f->access.change };
	dfi_df_comm comm = f->comm;
	dfi_err e;

	/* In a session of this application (the master key's when there is
	 * none, even where creating is free; any key's while creating is
	 * free): its authenticated answer proves the card made the file as
	 * sent, so its settings (and a value file's value) need no reading
	 * back. The master key's session is the one the final key settings
	 * need next. */
	uint32_t aid = perso_aid(tp->p->spec->apps[i].aid);
	if (tp->authed != NULL && dfi_desfire_scheme(tp->d) != DFI_DF_SCHEME_NONE &&
	    dfi_desfire_selected_aid(tp->d) == aid &&
	    ((as->ks & DFI_KS_FREE_CREATE_DELETE) || dfi_desfire_auth_keyno(tp->d) == 0))
		e = DFI_OK;
	else
		e = perso_ensure_master(tp, i);
	if (e != DFI_OK)
		return e;
	int proven = perso_proven(tp, DFI_DF_COMM_MAC);
	switch (f->type) {
	case DFI_DF_FILE_STD:
		e = dfi_desfire_create_std_file(tp->d, f->number, comm, &acc, f->size);
		break;
	case DFI_DF_FILE_BACKUP:
		e = dfi_desfire_create_backup_file(tp->d, f->number, comm, &acc, f->size);
		break;
	case DFI_DF_FILE_VALUE:
		e = dfi_desfire_create_value_file(tp->d, f->number, comm, &acc, f->lower_limit,
		    f->upper_limit, f->value, f->limited_credit ? 1 : 0);
		break;
	case DFI_DF_FILE_LINEAR_RECORD:
		e = dfi_desfire_create_linear_record_file(tp->d, f->number, comm, &acc,
		    f->record_size, f->max_records);
		break;
	case DFI_DF_FILE_CYCLIC_RECORD:
		e = dfi_desfire_create_cyclic_record_file(tp->d, f->number, comm, &acc,
		    f->record_size, f->max_records);
		break;
	}
	if (e == DFI_OK) {
		as->file_exists[f->number] = 1;
		as->fs_known[f->number] = 0;
		as->file_created[f->number] = 1;
		as->fs_proven[f->number] = proven;
		as->have_records[fi] = 0;
		if (f->type == DFI_DF_FILE_VALUE)
			as->content_proven[fi] = proven;
	}
	return e;
}

static dfi_err
write_content(struct tap *tp, int i, int fi)
{
	const struct dfi_file_data *fd = &tp->cd->apps[i].files[fi];
	const struct dfi_profile_file *f = fd->file;
	struct app_state *as = &tp->apps[i];
	dfi_df_comm mode;
	dfi_err e = perso_file_auth(tp, i, f, 1, &mode);
	if (e != DFI_OK)
		return e;
	/* The answers of this session prove what the card wrote: a record file
	 * made on this tap holds exactly what is written now; one whose
	 * records this tap read (the profile's first ones) holds those and
	 * what is written now. */
	int proven = perso_proven(tp, mode) &&
	    (f->type == DFI_DF_FILE_STD || f->type == DFI_DF_FILE_BACKUP ||
	    (as->file_created[f->number] && as->have_records[fi] == 0) || as->records_read[fi]);
	switch (f->type) {
	case DFI_DF_FILE_STD:
	case DFI_DF_FILE_BACKUP: {
		/* A file made on this tap holds zeros: the content is enough. An
		 * older one is rewritten whole. */
		size_t len = as->file_created[f->number] ? fd->content_len : fd->len;
		e = dfi_desfire_write_data(tp->d, f->number, mode, 0, fd->data, (uint32_t)len);
		if (e == DFI_OK && f->type == DFI_DF_FILE_BACKUP)
			e = dfi_desfire_commit_transaction(tp->d);
		break;
	}
	case DFI_DF_FILE_LINEAR_RECORD:
	case DFI_DF_FILE_CYCLIC_RECORD:
		/* One record per transaction: a second WriteRecord before the
		 * commit would extend the same record. */
		for (size_t r = as->have_records[fi]; e == DFI_OK && r < fd->nrecords; r++) {
			e = dfi_desfire_write_record(tp->d, f->number, mode, 0,
			    fd->data + r * f->record_size, f->record_size);
			if (e == DFI_OK)
				e = dfi_desfire_commit_transaction(tp->d);
			if (e == DFI_OK)
				as->have_records[fi] = r + 1;
		}
		break;
	case DFI_DF_FILE_VALUE:
		break;
	}
	if (e == DFI_OK) {
		as->content_ok[fi] = 1;
		as->content_proven[fi] = proven;
	}
	return e;
}

static dfi_err
change_app_key(struct tap *tp, int i, uint8_t kn)
{
	struct app_state *as = &tp->apps[i];
	uint32_t aid = perso_aid(tp->p->spec->apps[i].aid);
	uint8_t cak = as->ks >> 4, by;
	dfi_err e;

	/* Who may change key kn: the master key for itself; for the others as
	 * the key settings say (the master key, a given key, or the key itself). */
	if (kn == 0 || cak == 0)
		by = 0;
	else if (cak == DFI_KS_CHANGE_KEY_SAME)
		by = kn;
	else
		by = cak;
	e = perso_auth(tp, aid, by, as->keys[by].cur);
	if (e != DFI_OK)
		return e;
	e = journaled_change_key(tp, i, kn, as->target[kn], by == kn ? NULL : as->keys[kn].cur);
	if (e != DFI_OK)
		return e;
	as->keys[kn].cur = as->target[kn];
	as->keys[kn].version = dfi_cardkey_version(as->target[kn]);
	as->keys[kn].at_target = 1;
	as->keys[kn].confirmed = 0;
	return DFI_OK;
}

static dfi_err
run_step(struct tap *tp, const struct step *st)
{
	const struct dfi_profile_spec *s = tp->p->spec;
	dfi_err e;

	switch (st->kind) {
	case STEP_CREATE_APP:
		return create_app(tp, st->app);
	case STEP_CREATE_FILE:
		return create_file(tp, st->app, st->file);
	case STEP_WRITE_CONTENT:
		return write_content(tp, st->app, st->file);
	case STEP_CHANGE_APP_KEY:
		return change_app_key(tp, st->app, st->keyno);
	case STEP_APP_SETTINGS:
		e = perso_ensure_master(tp, st->app);
		if (e == DFI_OK)
			e = dfi_desfire_change_key_settings(tp->d, s->apps[st->app].key_settings);
		if (e == DFI_OK)
			tp->apps[st->app].ks = s->apps[st->app].key_settings;
		return e;
	case STEP_CHANGE_PICC_KEY:
		e = perso_ensure_master(tp, -1);
		if (e == DFI_OK)
			e = journaled_change_key(tp, -1, 0, tp->picc_target, NULL);
		if (e == DFI_OK) {
			tp->picc.cur = tp->picc_target;
			tp->picc.version = dfi_cardkey_version(tp->picc_target);
			tp->picc.at_target = 1;
			tp->picc.confirmed = 0;
		}
		return e;
	case STEP_PICC_CONFIG: {
		uint8_t b = perso_config_byte(&s->picc.config);
		e = perso_ensure_master(tp, -1);
		if (e == DFI_OK)
			e = dfi_desfire_set_configuration(tp->d, 0x00, &b, 1);
		return e;
	}
	case STEP_PICC_SETTINGS:
		e = perso_ensure_master(tp, -1);
		if (e == DFI_OK)
			e = dfi_desfire_change_key_settings(tp->d, s->picc.key_settings);
		if (e == DFI_OK)
			tp->picc_ks = s->picc.key_settings;
		return e;
	case STEP_LRP_SWITCH:
		return perso_lrp_switch(tp);
	case STEP_FILE_SDM:
		return perso_sdm_step(tp, st->app, st->file);
	}
	return DFI_E_INTERNAL;
}

/* Where a step stands in the profile's order: its application, the PICC
 * after every application. */
static size_t
step_rank(const struct tap *tp, const struct step *st)
{
	/* SetConfiguration moved early for random ID (uid.c) changes no key
	 * and journals nothing: it waits for no verification, and the
	 * applications it comes before are verified as their own steps end. */
	if (st->kind == STEP_PICC_CONFIG)
		for (const struct step *n = st + 1; n < tp->steps + tp->nsteps; n++)
			if (n->app >= 0)
				return 0;
	return st->app >= 0 ? (size_t)st->app : tp->p->spec->napps;
}

/* Every application before rank is verified before anything of a later
 * one (or of the PICC) is sent or journaled: a key change recorded for a
 * later slot then tells the next tap that the applications before it were
 * verified (state.c). */
static dfi_err
verify_before(struct tap *tp, size_t rank)
{
	for (size_t i = 0; i < rank && i < tp->p->spec->napps; i++) {
		if (tp->apps[i].verified)
			continue;
		unsigned ph = perso_phase(tp, DFI_PERSO_PHASE_VERIFY);
		dfi_err e = perso_verify_app(tp, (int)i);
		perso_phase(tp, ph);
		if (e != DFI_OK)
			return e;
	}
	return DFI_OK;
}

dfi_err
perso_execute(struct tap *tp)
{
	char name[96];
	for (size_t i = 0; i < tp->nsteps; i++) {
		const struct step *st = &tp->steps[i];
		size_t rank = step_rank(tp, st);
		dfi_err e = verify_before(tp, rank);
		if (e != DFI_OK)
			return e;
		perso_step_name(tp, st, name, sizeof(name));
		perso_event(tp, "step %zu/%zu: %s", i + 1, tp->nsteps, name);
		tp->cur_step = i;
		/* The intents of the next ChangeKeys of this rank are queued
		 * while this step works, unless an application must be verified
		 * before them: they are then queued as the first one's step
		 * begins, while it selects and authenticates. Also while this
		 * step creates their application:
		 * a tap torn there aborts them at its end, and one killed there
		 * leaves them open for slots the card may not have, which the
		 * next tap aborts (state.c, settle_absent); either way the
		 * journal shows the applications before them verified. */
		prefetch_run(tp, i, rank);
		e = run_step(tp, st);
		if (e != DFI_OK) {
			if (tp->res->detail[0] == '\0') {
				char why[400];
				perso_err_text(tp->p->hsm, e, why, sizeof(why));
				perso_detail(tp, "step %zu/%zu (%s): %s", i + 1, tp->nsteps, name, why);
			}
			return e;
		}
		tp->res->steps_done++;
	}
	return DFI_OK;
}
