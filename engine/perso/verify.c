/* The verification: every key the profile names authenticates on the
 * card, every file has the profile's settings and reads back as written.
 * Each application is verified right after its own steps (exec.c), the
 * rest and the PICC at the end of the tap. The first difference is named. */
#include <string.h>

#include "perso_int.h"

static dfi_err
fail(struct tap *tp, const char *what, uint32_t aid, unsigned n)
{
	perso_detail(tp, "verification: application " DFI_AID_FMT " %s %u differs from the profile", DFI_AID_ARGS(aid),
	    what, n);
	return DFI_E_VERIFY_FAILED;
}

static dfi_err
verify_key(struct tap *tp, int app, uint8_t kn)
{
	struct key_state *ks = app < 0 ? &tp->picc : &tp->apps[app].keys[kn];
	const dfi_cardkey *target = app < 0 ? tp->picc_target : tp->apps[app].target[kn];
	uint32_t aid = app < 0 ? 0 : perso_aid(tp->p->spec->apps[app].aid);
	int ok;
	dfi_err e;

	if (ks->cur == target && ks->confirmed)
		return DFI_OK;
	e = perso_try_auth(tp, aid, kn, target, &ok);
	if (e != DFI_OK)
		return e;
	if (!ok) {
		if (app < 0)
			perso_detail(tp, "verification: the PICC master key does not authenticate");
		else
			perso_detail(tp, "verification: application " DFI_AID_FMT " key %u does not "
			    "authenticate", DFI_AID_ARGS(aid), kn);
		return DFI_E_VERIFY_FAILED;
	}
	ks->cur = target;
	ks->confirmed = 1;
	return DFI_OK;
}

dfi_err
perso_verify_app(struct tap *tp, int i)
{
	const struct dfi_profile_app *a = &tp->p->spec->apps[i];
	struct app_state *as = &tp->apps[i];
	uint32_t aid = perso_aid(a->aid);
	dfi_err e;

	if (as->ks != a->key_settings) {
		perso_detail(tp, "verification: application " DFI_AID_FMT " key settings %02X, want %02X", DFI_AID_ARGS(aid),
		    as->ks, a->key_settings);
		return DFI_E_VERIFY_FAILED;
	}
	/* Settings of files made on this tap (the others were read at the
	 * start) unless the CreateFile's authenticated answer proved them:
	 * listing needs the master key unless listing is free. */
	for (size_t f = 0; f < a->nfiles; f++) {
		uint8_t fno = a->files[f].number;
		if (as->fs_known[fno] || as->fs_proven[fno])
			continue;
		if (as->ks & DFI_KS_FREE_LISTING)
			e = perso_select(tp, aid);
		else
			e = perso_ensure_master(tp, i);
		if (e == DFI_OK)
			e = dfi_desfire_get_file_settings(tp->d, fno, &as->fs[fno]);
		if (e != DFI_OK)
			return e;
		as->fs_known[fno] = 1;
		if (!perso_file_settings_match(&a->files[f], &as->fs[fno]))
			return fail(tp, "settings of file", aid, fno);
	}
	for (size_t f = 0; f < a->nfiles; f++) {
		int same;
		size_t have;
		/* Written whole on this tap, every answer authenticated: read
		 * back, it could only repeat what those answers proved. */
		if (as->content_proven[f])
			continue;
		/* The record count comes from the card, not from the start. */
		if (a->files[f].type == DFI_DF_FILE_LINEAR_RECORD || a->files[f].type == DFI_DF_FILE_CYCLIC_RECORD)
			as->fs_known[a->files[f].number] = 0;
		e = perso_file_compare(tp, i, (int)f, &same, &have);
		if (e == DFI_E_CARD_CONFLICT)
			return fail(tp, "records of file", aid, a->files[f].number);
		if (e != DFI_OK)
			return e;
		if (!same)
			return fail(tp, "content of file", aid, a->files[f].number);
	}
	for (size_t k = 0; k < a->nkeys; k++) {
		e = verify_key(tp, i, a->keys[k].number);
		if (e != DFI_OK)
			return e;
	}
	as->verified = 1;
	return DFI_OK;
}

dfi_err
perso_verify(struct tap *tp)
{
	const struct dfi_profile_spec *s = tp->p->spec;
	dfi_err e;

	/* The applications the execution did not verify before a later
	 * step (the last one, those without steps on this tap). */
	for (size_t i = 0; i < s->napps; i++) {
		if (tp->apps[i].verified)
			continue;
		e = perso_verify_app(tp, (int)i);
		if (e != DFI_OK)
			return e;
	}
	if (tp->picc_ks != s->picc.key_settings) {
		perso_detail(tp, "verification: PICC key settings %02X, want %02X", tp->picc_ks,
		    s->picc.key_settings);
		return DFI_E_VERIFY_FAILED;
	}
	return verify_key(tp, -1, 0);
}
