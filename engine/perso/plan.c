/* The plan: the steps from what the card holds to the profile's target,
 * in the order that keeps risk low and proves the most with the fewest
 * commands (docs/PERSONALIZATION.md): application by application, its
 * keys (other keys before the master key), its files, their contents and
 * its settings, the application verified before the next one begins
 * (exec.c); the PICC master key, its configuration and its settings last. */
#include <stdio.h>

#include "perso_int.h"

static dfi_err
add(struct tap *tp, enum step_kind kind, int app, int file, uint8_t keyno)
{
	if (tp->nsteps >= PERSO_MAX_STEPS)
		return DFI_E_OVERFLOW;
	struct step *s = &tp->steps[tp->nsteps++];
	s->kind = kind;
	s->app = app;
	s->file = file;
	s->keyno = keyno;
	return DFI_OK;
}

static int
content_needed(const struct tap *tp, int app, int file)
{
	const struct app_state *as = &tp->apps[app];
	const struct dfi_file_data *fd = &tp->cd->apps[app].files[file];
	const struct dfi_profile_file *f = fd->file;

	if (f->type == DFI_DF_FILE_VALUE)
		return 0; /* the value is given at creation */
	if (!as->exists || !as->file_exists[f->number]) {
		if (f->type == DFI_DF_FILE_LINEAR_RECORD || f->type == DFI_DF_FILE_CYCLIC_RECORD)
			return fd->nrecords > 0;
		return fd->content_len > 0;
	}
	return !as->content_ok[file];
}

static dfi_err
key_change_allowed(struct tap *tp, int app, uint8_t keyno)
{
	const struct app_state *as = &tp->apps[app];
	uint8_t cak = as->ks >> 4;
	if (!as->exists)
		return DFI_OK; /* created with permissive settings */
	if ((keyno == 0 && !(as->ks & DFI_KS_ALLOW_CHANGE_MK)) ||
	    (keyno != 0 && cak == DFI_KS_CHANGE_KEY_FROZEN)) {
		perso_detail(tp, "application " DFI_AID_FMT " key %u must change but its key settings %02X "
		    "forbid it", DFI_AID_ARGS(perso_aid(tp->p->spec->apps[app].aid)), keyno, as->ks);
		return DFI_E_CARD_CONFLICT;
	}
	return DFI_OK;
}

/* Writes of one application, in three groups: what the master key may
 * write (the session that made the files, before the final settings),
 * then what another key writes, then what anyone may write (plain, no
 * session). */
static dfi_err
plan_writes(struct tap *tp, int i, int group, const int *early)
{
	const struct dfi_profile_app *a = &tp->p->spec->apps[i];
	dfi_err e = DFI_OK;

	for (size_t f = 0; e == DFI_OK && f < a->nfiles; f++) {
		int k = perso_write_key(&a->files[f]);
		int g = k == 0 ? 0 : k >= 0 ? 1 : 2;
		if (g == group && !early[f] && content_needed(tp, i, (int)f))
			e = add(tp, STEP_WRITE_CONTENT, i, (int)f, 0);
	}
	return e;
}

/* Writes to files the card has that the session the state read left
 * (this application's, its keys unchanged by this plan) may make: they
 * come first, before that session is given up for another key's (a
 * recovery tap then authenticates that key once, not twice). The key
 * settings do not govern file access, so the final settings may follow. */
static dfi_err
plan_early_writes(struct tap *tp, int i, int *early)
{
	const struct dfi_profile_app *a = &tp->p->spec->apps[i];
	const struct app_state *as = &tp->apps[i];
	dfi_err e = DFI_OK;

	/* Only while that session is still in hand when the step runs: no
	 * step planned before, no earlier application left to verify. */
	if (tp->nsteps > 0)
		return DFI_OK;
	for (int j = 0; j < i; j++)
		if (!tp->apps[j].verified)
			return DFI_OK;
	for (size_t k = 0; k < a->nkeys; k++)
		if (!as->keys[a->keys[k].number].at_target)
			return DFI_OK;
	for (size_t f = 0; e == DFI_OK && f < a->nfiles; f++) {
		const struct dfi_profile_file *pf = &a->files[f];
		if (!as->exists || !as->file_exists[pf->number] || perso_write_key(pf) <= 0 ||
		    !perso_file_session_right(tp, i, pf, 1) || !content_needed(tp, i, (int)f))
			continue;
		early[f] = 1;
		e = add(tp, STEP_WRITE_CONTENT, i, (int)f, 0);
	}
	return e;
}

static dfi_err
plan_app(struct tap *tp, int i)
{
	const struct dfi_profile_app *a = &tp->p->spec->apps[i];
	struct app_state *as = &tp->apps[i];
	int early[DFI_PROFILE_MAX_FILES] = { 0 };
	dfi_err e = plan_early_writes(tp, i, early);

	if (e == DFI_OK && !as->exists)
		e = add(tp, STEP_CREATE_APP, i, -1, 0);
	/* Keys first, in the session of the master key the card holds (a new
	 * application's factory key): the files are then made and written
	 * with the new keys, whose authentications prove them. Other keys
	 * before the master key: while the master key is the old one, a
	 * failure leaves the application reachable as before. */
	for (size_t k = 0; e == DFI_OK && k < a->nkeys; k++) {
		uint8_t kn = a->keys[k].number;
		if (kn != 0 && !as->keys[kn].at_target) {
			e = key_change_allowed(tp, i, kn);
			if (e == DFI_OK)
				e = add(tp, STEP_CHANGE_APP_KEY, i, -1, kn);
		}
	}
	if (e == DFI_OK && !as->keys[0].at_target) {
		e = key_change_allowed(tp, i, 0);
		if (e == DFI_OK)
			e = add(tp, STEP_CHANGE_APP_KEY, i, -1, 0);
	}
	for (size_t f = 0; e == DFI_OK && f < a->nfiles; f++)
		if (!as->exists || !as->file_exists[a->files[f].number])
			e = add(tp, STEP_CREATE_FILE, i, (int)f, 0);
	if (e == DFI_OK)
		e = plan_writes(tp, i, 0, early);
	if (e == DFI_OK && (as->exists ? as->ks : PERSO_CREATE_KS) != a->key_settings) {
		if (as->exists && !(as->ks & DFI_KS_CONFIG_CHANGEABLE)) {
			perso_detail(tp, "application " DFI_AID_FMT " key settings are %02X (frozen), the "
			    "profile wants %02X", DFI_AID_ARGS(perso_aid(a->aid)), as->ks, a->key_settings);
			return DFI_E_CARD_CONFLICT;
		}
		e = add(tp, STEP_APP_SETTINGS, i, -1, 0);
	}
	if (e == DFI_OK)
		e = plan_writes(tp, i, 1, early);
	if (e == DFI_OK)
		e = plan_writes(tp, i, 2, early);
	/* SDM last: the file made and written, its mirrors go on (sdm.c). */
	int sdm[DFI_PROFILE_MAX_FILES];
	if (e == DFI_OK)
		e = perso_sdm_plan(tp, i, sdm, DFI_PROFILE_MAX_FILES);
	for (size_t f = 0; e == DFI_OK && f < a->nfiles; f++)
		if (sdm[f])
			e = add(tp, STEP_FILE_SDM, i, (int)f, 0);
	return e;
}

uint8_t
perso_config_byte(const struct dfi_profile_config *c)
{
	return (uint8_t)((c->format_disabled ? 0x01 : 0) | (c->random_uid ? 0x02 : 0));
}

dfi_err
perso_plan(struct tap *tp)
{
	const struct dfi_profile_spec *s = tp->p->spec;
	const struct dfi_profile_picc *pc = &s->picc;
	dfi_err e = DFI_OK;

	tp->nsteps = 0;
	for (size_t i = 0; e == DFI_OK && i < s->napps; i++)
		e = plan_app(tp, (int)i);
	if (e != DFI_OK)
		return e;
	if (!tp->picc.at_target) {
		if (!(tp->picc_ks & DFI_KS_ALLOW_CHANGE_MK)) {
			perso_detail(tp, "the PICC master key must change but the PICC key settings "
			    "%02X forbid it", tp->picc_ks);
			return DFI_E_CARD_CONFLICT;
		}
		e = add(tp, STEP_CHANGE_PICC_KEY, -1, -1, 0);
	}
	/* LRP after the PICC master key change (lrp.c, PERSONALIZATION.md) */
	if (e == DFI_OK)
		e = perso_lrp_plan(tp);
	/* The configuration cannot be read back. It is set before the final
	 * PICC key settings, so final settings (other than the factory's)
	 * prove it was set; otherwise it is sent again (it only sets bits). */
	if (e == DFI_OK && pc->config.present && perso_config_byte(&pc->config) != 0 &&
	    !(tp->picc_ks == pc->key_settings && pc->key_settings != 0x0F))
		e = add(tp, STEP_PICC_CONFIG, -1, -1, 0);
	if (e == DFI_OK && tp->picc_ks != pc->key_settings) {
		if (!(tp->picc_ks & DFI_KS_CONFIG_CHANGEABLE)) {
			perso_detail(tp, "PICC key settings are %02X (frozen), the profile wants %02X",
			    tp->picc_ks, pc->key_settings);
			return DFI_E_CARD_CONFLICT;
		}
		e = add(tp, STEP_PICC_SETTINGS, -1, -1, 0);
	}
	if (e == DFI_OK)
		perso_uid_plan(tp); /* random ID set early (uid.c) */
	return e;
}

void
perso_step_name(const struct tap *tp, const struct step *st, char *buf, size_t cap)
{
	const struct dfi_profile_spec *s = tp->p->spec;
	uint32_t aid = st->app >= 0 ? perso_aid(s->apps[st->app].aid) : 0;
	unsigned fno = st->file >= 0 ? s->apps[st->app].files[st->file].number : 0;
	switch (st->kind) {
	case STEP_CREATE_APP:
		snprintf(buf, cap, "create application " DFI_AID_FMT, DFI_AID_ARGS(aid));
		break;
	case STEP_CREATE_FILE:
		snprintf(buf, cap, "create file %u in " DFI_AID_FMT, fno, DFI_AID_ARGS(aid));
		break;
	case STEP_WRITE_CONTENT:
		snprintf(buf, cap, "write file %u in " DFI_AID_FMT, fno, DFI_AID_ARGS(aid));
		break;
	case STEP_CHANGE_APP_KEY:
		snprintf(buf, cap, "change key %u of " DFI_AID_FMT " to version %u", st->keyno, DFI_AID_ARGS(aid),
		    perso_role(tp->p, st->app, st->keyno)->pk->version);
		break;
	case STEP_APP_SETTINGS:
		snprintf(buf, cap, "set key settings of " DFI_AID_FMT " to %02X", DFI_AID_ARGS(aid),
		    s->apps[st->app].key_settings);
		break;
	case STEP_CHANGE_PICC_KEY:
		snprintf(buf, cap, "change PICC master key to version %u", s->picc.key.version);
		break;
	case STEP_PICC_CONFIG:
		snprintf(buf, cap, "set PICC configuration %02X", perso_config_byte(&s->picc.config));
		break;
	case STEP_PICC_SETTINGS:
		snprintf(buf, cap, "set PICC key settings to %02X", s->picc.key_settings);
		break;
	case STEP_LRP_SWITCH:
		snprintf(buf, cap, "switch the card to LRP mode (irreversible)");
		break;
	case STEP_FILE_SDM:
		snprintf(buf, cap, "set SDM of file %u in " DFI_AID_FMT, fno, DFI_AID_ARGS(aid));
		break;
	}
}
