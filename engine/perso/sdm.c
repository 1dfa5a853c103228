/*
 * Secure Dynamic Messaging in personalization (docs/PERSONALIZATION.md,
 * "SDM files"): a standard data file the profile gives an "sdm" object is
 * created and written like any other, then ChangeFileSettings turns SDM on
 * with the profile's settings (EV3). The state read sees the settings in
 * GetFileSettings, so a card that has them plans nothing; the verification
 * reads them again in an authenticated session (a MAC'd answer) and makes
 * one read without a key, whose mirrors it checks with the card's SDM keys
 * derived in the HSM, as a backend would.
 */
#include <stdlib.h>
#include <string.h>

#include "dfissue/hsm.h"
#include "dfissue/sdm.h"
#include "perso_int.h"

int
perso_sdm_equal(const struct dfi_df_sdm *a, const struct dfi_df_sdm *b)
{
	uint8_t ea[64], eb[64];
	size_t na, nb;
	/* The encoding holds exactly the fields the options make present. */
	if (dfi_df_sdm_encode(a, ea, sizeof(ea), &na) != DFI_OK ||
	    dfi_df_sdm_encode(b, eb, sizeof(eb), &nb) != DFI_OK)
		return 0;
	return na == nb && memcmp(ea, eb, na) == 0;
}

/* 1 when the card's settings of the file (read at the start of the tap or
 * since) are the profile's SDM settings. */
static int
sdm_on_card(const struct tap *tp, int app, const struct dfi_profile_file *f)
{
	const struct app_state *as = &tp->apps[app];
	const struct dfi_df_file_settings *fs = &as->fs[f->number];
	return as->exists && as->file_exists[f->number] && as->fs_known[f->number] &&
	    fs->sdm_enabled && perso_sdm_equal(&fs->sdm, &f->sdm->settings);
}

dfi_err
perso_sdm_plan(struct tap *tp, int app, int *need, size_t nneed)
{
	const struct dfi_profile_app *a = &tp->p->spec->apps[app];
	int any = 0;
	for (size_t f = 0; f < a->nfiles && f < nneed; f++) {
		need[f] = a->files[f].sdm != NULL && !sdm_on_card(tp, app, &a->files[f]);
		any |= need[f];
	}
	/* SDM is an EV3 feature (and NTAG 424 DNA's): an older card would
	 * refuse the settings after its file was made; refuse it first. */
	if (any && dfi_df_generation(&tp->ver) < 3) {
		perso_detail(tp, "application " DFI_AID_FMT " has an SDM file: SDM needs a DESFire "
		    "EV3, this card reports hardware %02X.%02X", DFI_AID_ARGS(perso_aid(a->aid)),
		    tp->ver.hw_major, tp->ver.hw_minor);
		return DFI_E_CARD_CONFLICT;
	}
	return DFI_OK;
}

dfi_err
perso_sdm_step(struct tap *tp, int app, int file)
{
	const struct dfi_profile_file *f = &tp->p->spec->apps[app].files[file];
	struct app_state *as = &tp->apps[app];
	uint32_t aid = perso_aid(tp->p->spec->apps[app].aid);
	uint8_t ch = f->access.change;
	dfi_df_comm send;
	dfi_err e;

	/* The change right's session; the settings then travel enciphered
	 * (full mode) as ChangeFileSettings requires. A free right sends them
	 * plain, without a session. */
	if (ch <= 0xD) {
		e = perso_auth(tp, aid, ch, as->keys[ch].cur);
		send = DFI_DF_COMM_ENC;
	} else {
		tp->authed = NULL;
		e = dfi_desfire_select_application(tp->d, aid);
		send = DFI_DF_COMM_PLAIN;
	}
	if (e == DFI_OK)
		e = dfi_desfire_change_file_settings_sdm(tp->d, f->number, send, f->comm, &f->access,
		    &f->sdm->settings);
	if (e != DFI_OK)
		return e;
	/* The verification reads the settings back in a MAC'd answer. */
	as->fs_known[f->number] = 0;
	as->fs_proven[f->number] = 0;
	return DFI_OK;
}

struct file_key_arg {
	struct tap *tp;
	int app;
	uint8_t keyno;
};

/* The SDM file-read key for the tap's card, derived in the HSM. */
static dfi_err
file_key(void *arg, const uint8_t *uid, dfi_cardkey **out)
{
	struct file_key_arg *a = arg;
	/* The mirrored UID is the card's, or the MAC check below refuses. */
	if (uid != NULL && memcmp(uid, a->tp->uid, DFI_SDM_UID_LEN) != 0)
		return DFI_E_CARD_MAC;
	return perso_derive(a->tp, perso_role(a->tp->p, a->app, a->keyno),
	    perso_aid(a->tp->p->spec->apps[a->app].aid), out);
}

/* One read without a key, checked as a backend checks a tap. */
static dfi_err
check_tap(struct tap *tp, int app, const struct dfi_profile_file *f)
{
	const struct dfi_profile_sdm *s = f->sdm;
	struct app_state *as = &tp->apps[app];
	uint32_t aid = perso_aid(tp->p->spec->apps[app].aid);
	uint8_t buf[DFI_PROFILE_CARD_MEMORY];
	char why[160];
	dfi_err e;

	struct dfi_sdm_layout *l = calloc(1, sizeof(*l));
	struct dfi_sdm_tap *t = calloc(1, sizeof(*t));
	struct dfi_sdm_result *r = calloc(1, sizeof(*r));
	char *hex = malloc(2 * (size_t)f->size + 1);
	if (l == NULL || t == NULL || r == NULL || hex == NULL) {
		e = DFI_E_NOMEM;
		goto out;
	}
	e = dfi_sdm_layout_parse(s->tmpl, s->lrp ? DFI_SDM_LRP : DFI_SDM_AES, s->ndef, l, why,
	    sizeof(why));
	if (e != DFI_OK)
		goto out;
	l->sdm = s->settings;
	/* Selecting again ends the session: the read is a phone's. */
	tp->authed = NULL;
	e = dfi_desfire_select_application(tp->d, aid);
	if (e == DFI_OK)
		e = dfi_desfire_read_data(tp->d, f->number, DFI_DF_COMM_PLAIN, 0, f->size, buf);
	if (e == DFI_OK)
		e = dfi_hex_encode(buf, f->size, hex, 2 * (size_t)f->size + 1);
	if (e != DFI_OK)
		goto out;
	if (dfi_sdm_tap_parse(l, hex, DFI_SDM_IN_HEX, t, why, sizeof(why)) != DFI_OK) {
		perso_detail(tp, "verification: application " DFI_AID_FMT " file %u: the read without "
		    "a key does not fit the template: %s", DFI_AID_ARGS(aid), f->number, why);
		e = DFI_E_VERIFY_FAILED;
		goto out;
	}
	struct file_key_arg fa = { tp, app, s->settings.file_read };
	const dfi_cardkey *meta = s->settings.meta_read <= 0xD ? as->target[s->settings.meta_read] :
	    NULL;
	e = dfi_sdm_verify(l, t, meta, file_key, &fa, r);
	if (e == DFI_OK && (!r->has_uid || memcmp(r->uid, tp->uid, DFI_SDM_UID_LEN) != 0))
		e = DFI_E_CARD_MAC;
	if (e == DFI_E_CARD_MAC || e == DFI_E_PARSE) {
		perso_detail(tp, "verification: application " DFI_AID_FMT " file %u: the SDM mirrors "
		    "do not verify with the profile's keys (%s)", DFI_AID_ARGS(aid), f->number,
		    dfi_strerror(e));
		e = DFI_E_VERIFY_FAILED;
	} else if (e == DFI_OK) {
		perso_event(tp, "SDM file %u of " DFI_AID_FMT ": a read without a key verifies "
		    "(counter %u)", f->number, DFI_AID_ARGS(aid), (unsigned)r->ctr);
	}
out:
	free(l);
	free(t);
	free(r);
	free(hex);
	return e;
}

dfi_err
perso_sdm_verify(struct tap *tp, int app)
{
	const struct dfi_profile_file *files = tp->p->spec->apps[app].files;
	struct dfi_df_file_settings *fs = tp->apps[app].fs;

	for (size_t i = 0; i < tp->p->spec->apps[app].nfiles; i++) {
		const struct dfi_profile_file *f = &files[i];
		dfi_err e;
		if (f->sdm == NULL)
			continue;
		/* In the master key's session the answer is MAC'd (EV2 and
		 * later), so it proves the settings the card applies. */
		e = perso_ensure_master(tp, app);
		if (e == DFI_OK)
			e = dfi_desfire_get_file_settings(tp->d, f->number, &fs[f->number]);
		if (e != DFI_OK)
			return e;
		tp->apps[app].fs_known[f->number] = 1;
		if (!perso_file_settings_match(f, &fs[f->number]) || !fs[f->number].sdm_enabled ||
		    !perso_sdm_equal(&fs[f->number].sdm, &f->sdm->settings)) {
			perso_detail(tp, "verification: application " DFI_AID_FMT " file %u: the SDM "
			    "settings differ from the profile",
			    DFI_AID_ARGS(perso_aid(tp->p->spec->apps[app].aid)), f->number);
			return DFI_E_VERIFY_FAILED;
		}
		e = check_tap(tp, app, f);
		if (e != DFI_OK)
			return e;
	}
	return DFI_OK;
}
