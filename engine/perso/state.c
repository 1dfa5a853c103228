/* Reading the card's state: version, key versions (confirmed by
 * authentication where it matters), applications, files. Nothing is
 * written to the card here, so a card with unknown keys is left as found. */
#include <stdio.h>
#include <string.h>

#include "core/nelem.h"
#include "perso_int.h"

static struct key_state *
slot(struct tap *tp, int app, uint8_t keyno)
{
	return app < 0 ? &tp->picc : &tp->apps[app].keys[keyno];
}

static const dfi_cardkey *
target_of(const struct tap *tp, int app, uint8_t keyno)
{
	return app < 0 ? tp->picc_target : tp->apps[app].target[keyno];
}

static void
add_cand(const dfi_cardkey **c, size_t *n, const dfi_cardkey *k)
{
	if (k == NULL)
		return;
	for (size_t i = 0; i < *n; i++)
		if (c[i] == k)
			return;
	c[(*n)++] = k;
}

/* 1 when the registry (the journal's index) records slot (aid, keyno)
 * as changed to the profile's target: its version and generation. */
static int
journal_says_target(const struct tap *tp, int app, uint32_t aid, uint8_t keyno)
{
	const struct perso_role *r = perso_role(tp->p, app, keyno);
	if (r == NULL || target_of(tp, app, keyno) == NULL)
		return 0;
	for (size_t i = 0; i < tp->nrslots; i++) {
		const struct reg_slot *rs = &tp->rslots[i];
		if (rs->aid == aid && rs->keyno == keyno)
			return rs->state == DFI_REG_SLOT_CHANGED && rs->version == r->pk->version &&
			    rs->generation == r->pk->generation;
	}
	return 0;
}

/* The seq of the journal's record that slot (app, keyno) was changed to
 * its target by (version and generation), when it is known and no intent
 * of it is open; 0 otherwise. */
static uint64_t
target_changed_by(const struct tap *tp, int app, uint8_t keyno)
{
	uint32_t aid = app < 0 ? 0 : perso_aid(tp->p->spec->apps[app].aid);
	if (!journal_says_target(tp, app, aid, keyno))
		return 0;
	for (size_t i = 0; i < tp->nintents; i++)
		if (!tp->intents[i].done && tp->intents[i].rec.type != DFI_JREC_CHANGE &&
		    tp->intents[i].rec.key.aid == aid && tp->intents[i].rec.key.keyno == keyno)
			return 0; /* open: the next tap settles it */
	for (size_t i = 0; i < tp->nrslots; i++)
		if (tp->rslots[i].aid == aid && tp->rslots[i].keyno == keyno)
			return tp->rslots[i].changed_by;
	return 0;
}

/* 1 when the journal knows the card (key slots of its applications are
 * recorded: an issue that a tear interrupted) but never recorded its PICC
 * master key as changed, no intent of it is open, the card arrived with
 * the factory key and the profile names no older PICC generation: the
 * candidates are the factory key and the target, and the factory key is
 * by far the likelier. A first tap (nothing recorded) keeps the
 * GetKeyVersion-first read, and so the factory card's APDU sequence. */
static int
picc_arrival_likely(const struct tap *tp)
{
	const struct perso_role *r = perso_role(tp->p, -1, 0);
	if (tp->readonly || tp->nrslots == 0 || r == NULL || r->nprev > 0 ||
	    tp->p->spec->picc.transport.kind != DFI_TRANSPORT_FACTORY)
		return 0;
	for (size_t i = 0; i < tp->nrslots; i++)
		if (tp->rslots[i].aid == 0 && tp->rslots[i].state != DFI_REG_SLOT_INITIAL)
			return 0;
	return 1;
}

/* 1 when key keyno of application app (on the card) most likely still
 * holds the factory key it was created with: the journal knows the card
 * (an earlier tap of an issue recorded key slots) but never recorded this
 * slot as changed, and the profile names no older generation of it. As
 * for the PICC (picc_arrival_likely), the factory key and the target are
 * then tried by authentication alone, without GetKeyVersion first. */
static int
app_arrival_likely(const struct tap *tp, int app, uint32_t aid, uint8_t keyno)
{
	const struct perso_role *r = perso_role(tp->p, app, keyno);
	if (tp->readonly || tp->nrslots == 0 || r == NULL || r->nprev > 0)
		return 0;
	for (size_t i = 0; i < tp->nrslots; i++)
		if (tp->rslots[i].aid == aid && tp->rslots[i].keyno == keyno)
			return tp->rslots[i].state == DFI_REG_SLOT_INITIAL;
	return 1;
}

/* 1 when the registry's slot (aid, keyno) got its state from an intent
 * of this tap's profile digest: the same target for this card. */
static int
slot_same_profile(const struct tap *tp, uint32_t aid, uint8_t keyno)
{
	for (size_t i = 0; i < tp->nrslots; i++) {
		const struct reg_slot *rs = &tp->rslots[i];
		if (rs->aid == aid && rs->keyno == keyno)
			return rs->has_profile &&
			    memcmp(rs->profile, tp->digest, sizeof(tp->digest)) == 0;
	}
	return 0;
}

/* 1 when the journal shows that application i was verified on an earlier
 * tap, after its last change: every key of it was changed to its target,
 * and since then a key of a later application or the PICC's (to its
 * target) was journaled: a committed change, an open intent, or an
 * intent aborted before that slot was ever changed. A tap
 * journals a later slot's intent only after it verified every application
 * before it (exec.c, verify_before), and an application's keys change
 * before anything else of it (plan.c), so nothing of it changed since.
 * Every one of those intents must carry this tap's profile digest
 * (digest.c): what was verified is then what this tap would verify, the
 * same keys, settings and contents for this card. A card issued with
 * another profile or batch row (an application added later, a file
 * changed) is read again; so is a journal written before the digest. */
static int
verified_earlier(const struct tap *tp, int i)
{
	const struct dfi_profile_spec *s = tp->p->spec;
	const struct dfi_profile_app *a = &s->apps[i];
	uint32_t aid_i = perso_aid(a->aid);
	uint64_t last = 0;

	for (size_t k = 0; k < a->nkeys; k++) {
		uint64_t by = target_changed_by(tp, i, a->keys[k].number);
		if (by == 0 || !slot_same_profile(tp, aid_i, a->keys[k].number))
			return 0;
		last = by > last ? by : last;
	}
	for (int j = i + 1; j <= (int)s->napps; j++) {
		int app = j == (int)s->napps ? -1 : j;
		size_t nk = app < 0 ? 1 : s->apps[app].nkeys;
		for (size_t k = 0; k < nk; k++) {
			uint8_t kn = app < 0 ? 0 : s->apps[app].keys[k].number;
			uint32_t aid = app < 0 ? 0 : perso_aid(s->apps[app].aid);
			const struct perso_role *r = perso_role(tp->p, app, kn);
			int same = slot_same_profile(tp, aid, kn);
			if (same && target_changed_by(tp, app, kn) > last)
				return 1;
			/* An intent aborted (or resolved old) before the slot was
			 * ever changed: written after application i reached its
			 * target, as every later intent is. */
			for (size_t n = 0; same && n < tp->nrslots; n++)
				if (tp->rslots[n].aid == aid && tp->rslots[n].keyno == kn &&
				    tp->rslots[n].state == DFI_REG_SLOT_INITIAL)
					return 1;
			for (size_t n = 0; r != NULL && n < tp->nintents; n++) {
				const dfi_jrec *in = &tp->intents[n].rec;
				if (in->type != DFI_JREC_CHANGE && in->key.aid == aid && in->key.keyno == kn &&
				    in->seq > last &&
				    in->new_version == r->pk->version && in->key_gen == r->pk->generation &&
				    in->has_profile && memcmp(in->profile, tp->digest, sizeof(tp->digest)) == 0)
					return 1;
			}
		}
	}
	return 0;
}

/* Application i as its verification on an earlier tap left it: nothing is
 * read or sent for it (the card showed it among its applications). */
static void
take_verified(struct tap *tp, int i)
{
	const struct dfi_profile_app *a = &tp->p->spec->apps[i];
	struct app_state *as = &tp->apps[i];

	as->ks = a->key_settings;
	as->nkeys = (uint8_t)a->nkeys;
	as->keytype = a->key_type;
	for (size_t k = 0; k < a->nkeys; k++) {
		struct key_state *ks = &as->keys[a->keys[k].number];
		ks->cur = as->target[a->keys[k].number];
		ks->version = dfi_cardkey_version(ks->cur);
		ks->confirmed = 1;
		ks->at_target = 1;
	}
	for (size_t f = 0; f < a->nfiles; f++) {
		as->file_exists[a->files[f].number] = 1;
		as->fs_proven[a->files[f].number] = 1;
		as->content_ok[f] = 1;
		as->content_proven[f] = 1;
	}
	as->verified = 1;
}

/* Open intents of an application the card does not have: the ChangeKey
 * cannot have been made (the application's keys would be gone with it), so
 * each gets an abort. They are left by a tap that queued an application's
 * first key change while creating it (exec.c) and was killed before its
 * own abort; the intent still tells this tap that the applications before
 * it were verified (verified_earlier, read before this). */
static dfi_err
settle_absent(struct tap *tp, uint32_t aid)
{
	for (size_t n = 0; n < tp->nintents; n++) {
		struct open_intent *oi = &tp->intents[n];
		if (oi->done || oi->rec.key.aid != aid)
			continue;
		dfi_err e = perso_close_intent(tp, oi, DFI_JREC_ABORT,
		    "application not on the card: the key change was not made", -1, (dfi_jmatch)0);
		if (e != DFI_OK)
			return e;
		if (tp->readonly)
			continue;
		tp->progressed = 1;
		perso_event(tp, "intent %llu aborted: application " DFI_AID_FMT " is not on the card",
		    (unsigned long long)oi->rec.seq, DFI_AID_ARGS(aid));
	}
	return DFI_OK;
}

/* The first of c[0..n) the card authenticates (*found NULL: none): the
 * card is sent nothing but these authentications. */
static dfi_err
first_that_opens(struct tap *tp, uint32_t aid, uint8_t keyno, const dfi_cardkey *const *c, size_t n,
    const dfi_cardkey **found)
{
	*found = NULL;
	for (size_t i = 0; i < n && *found == NULL; i++) {
		int ok;
		dfi_err e = perso_try_auth(tp, aid, keyno, c[i], &ok);
		if (e != DFI_OK)
			return e;
		if (ok)
			*found = c[i];
	}
	return DFI_OK;
}

static void
set_found(struct key_state *ks, const dfi_cardkey *found, const dfi_cardkey *target)
{
	ks->cur = found;
	ks->confirmed = found != NULL;
	ks->at_target = found != NULL && found == target;
}

/* Which key does slot (app, keyno) hold? GetKeyVersion first (free on a
 * real card); the candidates are the key the card arrived with (factory, or
 * for the PICC the transport key when the profile names one: never the
 * public zero key then), the profile's target and an open intent's new key. The version picks the likely one; an
 * authentication confirms it when confirm is set, when an intent is open,
 * or when the version matches no candidate or several. */
dfi_err
perso_resolve_key(struct tap *tp, int app, uint8_t keyno, int confirm)
{
	uint32_t aid = app < 0 ? 0 : perso_aid(tp->p->spec->apps[app].aid);
	struct key_state *ks = slot(tp, app, keyno);
	const dfi_cardkey *target = target_of(tp, app, keyno), *newk = NULL, *found = NULL;
	const dfi_cardkey *cand[3 + DFI_PROFILE_MAX_PREVIOUS], *order[3 + DFI_PROFILE_MAX_PREVIOUS];
	uint32_t gen;
	size_t nc = 0, no = 0, nmatch = 0;
	struct open_intent *oi;
	uint8_t v;
	dfi_err e;

	oi = perso_find_intent(tp, aid, keyno);
	/* The journal says the slot holds its target (a committed change to
	 * this version and generation, nothing open): the authentication that
	 * must prove it comes first and GetKeyVersion is not needed. A refusal
	 * falls back to the full resolution below. */
	if (oi == NULL && journal_says_target(tp, app, aid, keyno)) {
		int ok;
		e = perso_try_auth(tp, aid, keyno, target, &ok);
		if (e != DFI_OK)
			return e;
		if (ok) {
			const struct perso_role *r = perso_role(tp->p, app, keyno);
			ks->version = dfi_cardkey_version(target);
			ks->cur = target;
			ks->confirmed = 1;
			ks->at_target = 1;
			if (r != NULL && r->nprev > 0)
				tp->slots_target++;
			return DFI_OK;
		}
	}
	/* The PICC of a torn first issue: its arrival key, then the target,
	 * each by an authentication and nothing else. GetKeyVersion only
	 * chose the order of these two candidates, and a card that refused an
	 * authentication is sent nothing but authentications. */
	if (oi == NULL && confirm &&
	    (app < 0 ? picc_arrival_likely(tp) : app_arrival_likely(tp, app, aid, keyno))) {
		const dfi_cardkey *two[2] = { perso_initial(tp, app), target };
		e = first_that_opens(tp, aid, keyno, two, 2, &found);
		if (e != DFI_OK)
			return e;
		set_found(ks, found, target);
		ks->version = found != NULL ? dfi_cardkey_version(found) : -1;
		if (found == NULL) {
			tp->unknown_keys = 1;
			tp->unknown_picc = app < 0;
			if (app < 0)
				snprintf(tp->unknown_what, sizeof(tp->unknown_what),
				    "PICC master key (neither the factory key nor the target)");
			else
				snprintf(tp->unknown_what, sizeof(tp->unknown_what),
				    "application " DFI_AID_FMT " key %u (neither the factory key nor the target)",
				    DFI_AID_ARGS(aid), keyno);
		}
		return DFI_OK;
	}
	e = perso_select(tp, aid);
	if (e == DFI_OK)
		e = dfi_desfire_get_key_version(tp->d, keyno, &v);
	if (e != DFI_OK)
		return e;
	ks->version = v;
	if (oi != NULL) {
		e = perso_intent_key(tp, &oi->rec, app, &newk);
		if (e != DFI_OK)
			return e;
	}
	add_cand(cand, &nc, target);
	add_cand(cand, &nc, perso_initial(tp, app));
	add_cand(cand, &nc, newk);
	/* Rotation: the older generations the operator still holds (probe.c). */
	e = perso_prev_candidates(tp, app, keyno, v, cand, &nc, DFI_NELEM(cand));
	if (e != DFI_OK)
		return e;
	for (size_t i = 0; i < nc; i++)
		if (dfi_cardkey_version(cand[i]) == v) {
			order[no++] = cand[i];
			nmatch++;
		}
	if (!confirm && oi == NULL && nmatch == 1) {
		ks->cur = order[0];
		ks->confirmed = 0;
		ks->at_target = ks->cur == target;
		return DFI_OK;
	}
	for (size_t i = 0; i < nc; i++)
		if (dfi_cardkey_version(cand[i]) != v)
			order[no++] = cand[i];
	/* With an intent open, these authentications settle it. */
	unsigned ph = oi != NULL ? perso_phase(tp, DFI_PERSO_PHASE_RECOVERY) : 0;
	e = first_that_opens(tp, aid, keyno, order, no, &found);
	if (e != DFI_OK)
		return e;
	if (oi != NULL)
		perso_phase(tp, ph);
	set_found(ks, found, target);
	if (ks->at_target) {
		const struct perso_role *r = perso_role(tp->p, app, keyno);
		if (r != NULL && r->nprev > 0) /* a slot this profile rotates */
			tp->slots_target++;
	}
	else if (perso_key_generation(tp, app, keyno, found, &gen)) {
		tp->slots_prev++;
		perso_event(tp, "%s" DFI_AID_FMT " key %u: generation %u (version %u): to rotate",
		    app < 0 ? "PICC " : "app ", DFI_AID_ARGS(aid), keyno, (unsigned)gen, v);
	}
	if (found != NULL && oi == NULL && nmatch == 0)
		perso_event(tp, "%s" DFI_AID_FMT " key %u: version %u matches no record here (changed at "
		    "another station?); authenticated with the %s key", app < 0 ? "PICC " : "app ",
		    DFI_AID_ARGS(aid), keyno, v, found == target ? "target" :
		    perso_initial(tp, app) == perso_factory(tp->p, app) ? "factory" : "transport");
	if (oi != NULL) {
		e = perso_settle_intent(tp, oi, v, found, newk);
		if (e != DFI_OK)
			return e;
	}
	if (found == NULL) {
		tp->unknown_keys = 1;
		tp->unknown_picc = app < 0;
		if (app < 0)
			snprintf(tp->unknown_what, sizeof(tp->unknown_what),
			    "PICC master key (version %u)", v);
		else
			snprintf(tp->unknown_what, sizeof(tp->unknown_what),
			    "application " DFI_AID_FMT " key %u (version %u)", DFI_AID_ARGS(aid), keyno, v);
	}
	return DFI_OK;
}

/* A file that exists must have the profile's settings: it is never
 * deleted or changed behind the operator's back. The plan (before) and
 * the verification (after) both ask this one question. */
int
perso_file_settings_match(const struct dfi_profile_file *f, const struct dfi_df_file_settings *fs)
{
	if (fs->type != f->type || fs->comm != f->comm ||
	    dfi_df_access_encode(&fs->access) != dfi_df_access_encode(&f->access))
		return 0;
	switch (f->type) {
	case DFI_DF_FILE_STD:
	case DFI_DF_FILE_BACKUP:
		return fs->size == f->size;
	case DFI_DF_FILE_VALUE:
		return fs->lower == f->lower_limit && fs->upper == f->upper_limit &&
		    (fs->limited_credit_enabled & 1) == (f->limited_credit ? 1 : 0);
	case DFI_DF_FILE_LINEAR_RECORD:
	case DFI_DF_FILE_CYCLIC_RECORD:
		return fs->record_size == f->record_size && fs->max_records == f->max_records;
	}
	return 0;
}

/* 1 when anyone may read file f and no key but the master key may (a
 * read right is read, read&write, and for GetValue write too): no later
 * session of the state read could read it. */
static int
free_read_only(const struct dfi_profile_file *f)
{
	uint8_t r[3] = { f->access.read, f->access.read_write,
		f->type == DFI_DF_FILE_VALUE ? f->access.write : DFI_DF_ACCESS_NEVER };
	int anyone = 0;
	for (size_t k = 0; k < 3; k++) {
		if (r[k] != 0 && r[k] <= 0xD)
			return 0;
		anyone |= r[k] == DFI_DF_ACCESS_FREE;
	}
	return anyone;
}

/* 1 when the state read need not compare file f of application i: a
 * standard or backup file the plan writes whole anyway when it differs,
 * in an application whose key settings are not the profile's final ones
 * yet. Every tap's plan writes the files of the other keys after those
 * settings (plan.c), so there they were not written, and the read would
 * only find that out; a file the master key writes, written before the
 * settings, is skipped only when one write costs what its read costs (a
 * standard file in MAC or full mode, which the write's authenticated
 * answer proves; a plain one is read back after its write). The file's
 * existence and settings are still read: what the plan writes to is
 * what the card holds. */
static int
write_blind(const struct tap *tp, int i, const struct dfi_profile_file *f, size_t fi)
{
	const struct dfi_profile_app *a = &tp->p->spec->apps[i];
	int k = perso_write_key(f);

	if (tp->readonly || tp->apps[i].ks == a->key_settings || f->sdm != NULL || k < 0 ||
	    tp->cd->apps[i].files[fi].content_len == 0 ||
	    (f->type != DFI_DF_FILE_STD && f->type != DFI_DF_FILE_BACKUP))
		return 0;
	return k != 0 || (f->type == DFI_DF_FILE_STD && f->comm != DFI_DF_COMM_PLAIN);
}

enum cmp_which {
	CMP_ALL,        /* every file not compared yet */
	CMP_SESSION,    /* those the session in hand may read */
	CMP_FREE,       /* those only anyone may read (free_read_only) */
};

/* Compares the application's files on the card not compared yet, the
 * ones `which` names. */
static dfi_err
compare_files(struct tap *tp, int i, int *compared, enum cmp_which which)
{
	const struct dfi_profile_app *a = &tp->p->spec->apps[i];
	struct app_state *as = &tp->apps[i];

	for (size_t f = 0; f < a->nfiles; f++) {
		const struct dfi_profile_file *pf = &a->files[f];
		size_t have;
		int same;
		int in_session = perso_file_session_right(tp, i, pf, 0);
		if (!compared[f] && write_blind(tp, i, pf, f)) {
			compared[f] = 1; /* content_ok stays 0: the plan writes it */
			continue;
		}
		if (compared[f] || !as->file_exists[pf->number] ||
		    (which == CMP_SESSION && !in_session) ||
		    (which == CMP_FREE && (in_session || !free_read_only(pf))))
			continue;
		dfi_err e = perso_file_compare(tp, i, (int)f, &same, &have);
		if (e != DFI_OK)
			return e;
		compared[f] = 1;
		/* A value is given at creation and never written again: a
		 * difference is the verification's to name. */
		as->content_ok[f] = same || pf->type == DFI_DF_FILE_VALUE;
		as->content_proven[f] = same;
		as->have_records[f] = have;
		as->records_read[f] = 1;
	}
	return DFI_OK;
}

/* 1 when application i's files need neither GetFileIDs nor
 * GetFileSettings: the card shows the profile's final key settings, which
 * forbid creating and deleting files without the master key; that key
 * just authenticated as the per-card target, and the journal records
 * every key of the application changed to its target (committed) by
 * intents of this tap's profile digest. The plan sets the final settings
 * only after every file of the profile exists with the profile's settings
 * (made, or read and matched: plan.c), in that key's session; since then
 * only a holder of the per-card master key could create or delete a
 * file, and a file's settings change only under its change right, which
 * here is never free and is not one the engine uses (no SDM file). So the
 * files are exactly as that tap left them. The contents are still read:
 * they were written after the final settings, or may have been. */
static int
files_locked(const struct tap *tp, int i)
{
	const struct dfi_profile_app *a = &tp->p->spec->apps[i];
	const struct app_state *as = &tp->apps[i];
	uint32_t aid = perso_aid(a->aid);

	if (tp->readonly || as->ks != a->key_settings || (as->ks & DFI_KS_FREE_CREATE_DELETE) ||
	    !as->keys[0].confirmed || !as->keys[0].at_target)
		return 0;
	for (size_t k = 0; k < a->nkeys; k++)
		if (target_changed_by(tp, i, a->keys[k].number) == 0 ||
		    !slot_same_profile(tp, aid, a->keys[k].number))
			return 0;
	for (size_t f = 0; f < a->nfiles; f++)
		if (a->files[f].access.change == DFI_DF_ACCESS_FREE || a->files[f].sdm != NULL)
			return 0;
	return 1;
}

static dfi_err
read_app(struct tap *tp, int i)
{
	const struct dfi_profile_app *a = &tp->p->spec->apps[i];
	struct app_state *as = &tp->apps[i];
	uint32_t aid = perso_aid(a->aid);
	struct dfi_df_key_settings ks;
	uint8_t ids[DFI_PROFILE_MAX_FILES];
	size_t n;
	dfi_err e = DFI_OK; /* the key loop below may not run */

	/* The master key first: its authentication lets us list the files.
	 * Last when the journal says it is still the factory key (a torn
	 * first issue, before its ChangeKey): the plan then changes keys in
	 * its session, which the read leaves in hand; the files (none yet,
	 * the plan makes them after that ChangeKey) are listed in it too. */
	int key0_last = app_arrival_likely(tp, i, aid, 0) && perso_find_intent(tp, aid, 0) == NULL;
	for (size_t k = 0; key0_last && k < a->nkeys; k++) {
		if (a->keys[k].number == 0)
			continue;
		e = perso_resolve_key(tp, i, a->keys[k].number, 1);
		if (e != DFI_OK)
			return e;
		if (tp->unknown_keys)
			break;
	}
	if (!tp->unknown_keys)
		e = perso_resolve_key(tp, i, 0, 1);
	if (e != DFI_OK)
		return e;
	if (tp->unknown_keys) {
		/* An application of another key type fails every candidate: say
		 * so when the card lets its settings be read without a key. */
		if (dfi_desfire_get_key_settings(tp->d, &ks) == DFI_OK &&
		    (ks.max_keys != a->nkeys || !dfi_keytype_card_match(a->key_type, ks.keytype))) {
			tp->unknown_keys = 0;
			goto conflict;
		}
		return DFI_OK;
	}
	e = perso_ensure_master(tp, i);
	if (e == DFI_OK)
		e = dfi_desfire_get_key_settings(tp->d, &ks);
	if (e != DFI_OK)
		return e;
	as->ks = ks.settings;
	as->nkeys = ks.max_keys;
	as->keytype = ks.keytype;
	if (ks.max_keys != a->nkeys || !dfi_keytype_card_match(a->key_type, ks.keytype)) {
		/* Key count and type are fixed at creation. Its files are
		 * still compared (their conflicts named too), its keys not. */
		as->conflict = 1;
conflict:
		perso_conflict(tp, "application " DFI_AID_FMT " has %u key(s) of type %s, the profile %zu of "
		    "type %s: only deleting the application would change that", DFI_AID_ARGS(aid), ks.max_keys,
		    dfi_keytype_name(ks.keytype), a->nkeys, dfi_keytype_name(a->key_type));
		if (!as->conflict) {
			as->conflict = 1;
			return DFI_OK; /* its master key unknown: nothing more to list */
		}
	}
	/* Locked by its final settings: the files are the profile's. */
	int locked = !as->conflict && files_locked(tp, i);
	for (size_t f = 0; locked && f < a->nfiles; f++) {
		as->file_exists[a->files[f].number] = 1;
		as->fs_proven[a->files[f].number] = 1;
	}
	n = 0;
	if (!locked)
		e = dfi_desfire_get_file_ids(tp->d, ids, sizeof(ids), &n);
	if (e != DFI_OK)
		return e;
	for (size_t k = 0; k < n; k++)
		if (ids[k] <= DFI_PROFILE_MAX_FILE_NO)
			as->file_exists[ids[k]] = 1;
	for (size_t f = 0; !locked && f < a->nfiles; f++) {
		const struct dfi_profile_file *pf = &a->files[f];
		if (!as->file_exists[pf->number])
			continue;
		e = dfi_desfire_get_file_settings(tp->d, pf->number, &as->fs[pf->number]);
		if (e != DFI_OK)
			return e;
		as->fs_known[pf->number] = 1;
		if (!perso_file_settings_match(pf, &as->fs[pf->number])) {
			char diff[112];
			perso_file_diff(pf, &as->fs[pf->number], diff, sizeof(diff));
			perso_conflict(tp, "application " DFI_AID_FMT " file %u: %s: only deleting the file would "
			    "change that", DFI_AID_ARGS(aid), pf->number, diff);
			as->conflict = 1;
		}
	}
	/* The card is refused for its conflicts: its keys need no probing. */
	if (as->conflict)
		return DFI_OK;
	/* The other keys, each confirmed by an authentication before anything
	 * is written: a key that matches no candidate leaves the card as found.
	 * (The final verification then needs no new authentication for them.)
	 * Every file is compared now, before anything is sent, and a match
	 * proves it for this tap: within a tap only the engine talks to the
	 * card, so the verification does not read it again. A key at its
	 * target proves nothing of the contents: keys change first in an
	 * application (docs/PERSONALIZATION.md, "Plan order"), so a file that
	 * differs is written again with the keys the card holds. Each file is
	 * read in the first session that may read it (the master key's, then
	 * each key's as it is confirmed), so no session is opened twice. */
	int compared[DFI_PROFILE_MAX_FILES] = { 0 };
	e = compare_files(tp, i, compared, CMP_SESSION);
	/* Files anyone may read are read plain after a SelectApplication,
	 * which ends the session in hand: before the other keys are
	 * authenticated, so the read ends in the last key's session, which
	 * the plan's first writes may use (plan.c, plan_early_writes). The
	 * next authentication is a first one rather than a non-first one:
	 * the same two APDUs. */
	if (e == DFI_OK && !key0_last && a->nkeys > 1)
		e = compare_files(tp, i, compared, CMP_FREE);
	for (size_t k = 0; !key0_last && e == DFI_OK && k < a->nkeys; k++) {
		uint8_t kn = a->keys[k].number;
		if (kn == 0)
			continue;
		e = perso_resolve_key(tp, i, kn, 1);
		if (e != DFI_OK || tp->unknown_keys)
			return e;
		e = compare_files(tp, i, compared, CMP_SESSION);
	}
	if (e == DFI_OK)
		e = compare_files(tp, i, compared, CMP_ALL);
	return e;
}

dfi_err
perso_read_state(struct tap *tp)
{
	const struct dfi_profile_spec *s = tp->p->spec;
	struct dfi_df_key_settings ks;
	int factory;
	dfi_err e;

	tp->state_begun = 1;
	/* A card that stayed in the field keeps the session of an earlier
	 * connection (PC/SC does not reset it): selecting the PICC level ends
	 * it, so the card answers unprotected as this session expects. */
	e = dfi_desfire_select_application(tp->d, 0);
	if (e == DFI_OK)
		e = dfi_desfire_get_version(tp->d, &tp->ver);
	if (e != DFI_OK)
		return e;
	if (tp->ver.hw_type != 0x01) {
		perso_detail(tp, "not a MIFARE DESFire (hardware type %02X)", tp->ver.hw_type);
		return DFI_E_UNSUPPORTED;
	}
	/* Before any authentication: a card that cannot show originality
	 * where the profile requires it is refused with nothing else sent. */
	e = perso_originality(tp);
	if (e != DFI_OK || tp->refused)
		return e;
	e = perso_resolve_key(tp, -1, 0, 1);
	if (e != DFI_OK || tp->unknown_keys)
		return e;
	e = perso_ensure_master(tp, -1);
	if (e == DFI_OK)
		e = dfi_desfire_get_key_settings(tp->d, &ks);
	if (e == DFI_OK)
		e = dfi_desfire_get_application_ids(tp->d, tp->aids, DFI_PROFILE_MAX_APPS, &tp->naids);
	if (e != DFI_OK)
		return e;
	tp->picc_ks = ks.settings;
	factory = tp->picc.cur == perso_initial(tp, -1);
	for (size_t i = 0; i < s->napps; i++) {
		uint32_t aid = perso_aid(s->apps[i].aid);
		for (size_t k = 0; k < tp->naids; k++)
			if (tp->aids[k] == aid)
				tp->apps[i].exists = 1;
		if (!tp->apps[i].exists) {
			e = settle_absent(tp, aid);
			if (e != DFI_OK)
				return e;
			continue;
		}
		factory = 0;
		/* inspect shows what the card holds: it reads everything. */
		if (!tp->readonly && verified_earlier(tp, (int)i)) {
			take_verified(tp, (int)i);
			continue;
		}
		e = read_app(tp, (int)i);
		if (e != DFI_OK || tp->unknown_keys)
			return e;
	}
	/* Intents for keys this profile does not name stay open. A card
	 * whose every key still holds an older generation starts a rotation:
	 * nothing of it was begun before (docs/PERSONALIZATION.md). */
	tp->progressed |= !factory;
	if (tp->slots_prev > 0 && tp->slots_target == 0 && tp->res->intents_resolved == 0)
		tp->progressed = 0;
	if (perso_adding_apps(tp))
		tp->progressed = 0; /* an addition starts (conflicts.c) */
	return DFI_OK;
}
