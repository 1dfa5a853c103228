/*
 * Secure Dynamic Messaging in personalization (docs/PERSONALIZATION.md,
 * "SDM files"): a standard data file the profile gives an "sdm" object is
 * created and written like any other, then ChangeFileSettings turns SDM on
 * with the profile's settings (EV3). The state read sees the settings in
 * GetFileSettings, so a card that has them plans nothing; the verification
 * reads them again in an authenticated session (a MAC'd answer) and makes
 * one read without a key, whose mirrors it checks with the card's SDM keys
 * derived in the HSM, as a backend would.
 *
 * Journaled (docs/JOURNAL.md, change records): a change intent (what
 * "sdm:file=NN", target the SHA-256 of the encoded SDM settings) is durable
 * before ChangeFileSettings is sent, a commit follows the card's answer, an
 * abort its definite refusal; a tear leaves it open and the next tap's
 * state read (GetFileSettings) resolves it: new when the card has the
 * target settings, old otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "dfissue/hsm.h"
#include "dfissue/sdm.h"
#include "core/errclass.h"
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
 * since) are the profile's SDM settings, or the application is verified:
 * on this tap, or on an earlier one of the same profile digest (state.c's
 * take_verified), whose verification proved the SDM settings too. */
static int
sdm_on_card(const struct tap *tp, int app, const struct dfi_profile_file *f)
{
	const struct app_state *as = &tp->apps[app];
	const struct dfi_df_file_settings *fs = &as->fs[f->number];
	if (as->verified)
		return 1;
	return as->exists && as->file_exists[f->number] && as->fs_known[f->number] &&
	    fs->sdm_enabled && perso_sdm_equal(&fs->sdm, &f->sdm->settings);
}

/* The change record's what= and target= for an SDM file's settings. */
static dfi_err
sdm_target(uint8_t fileno, const struct dfi_df_sdm *s, char what[DFI_J_WHAT_MAX],
    uint8_t dg[32])
{
	uint8_t enc[64];
	size_t n;
	unsigned int dl = 0;
	snprintf(what, DFI_J_WHAT_MAX, "sdm:file=%02u", fileno);
	dfi_err e = dfi_df_sdm_encode(s, enc, sizeof(enc), &n);
	if (e != DFI_OK)
		return e;
	if (EVP_Digest(enc, n, dg, &dl, EVP_sha256(), NULL) != 1 || dl != 32)
		return DFI_E_CRYPTO;
	return DFI_OK;
}

/* Open change intents of this application's SDM files, settled by the
 * settings the state read found: the card has the intent's target (new),
 * or not (old). A file the card does not have never got them. */
static dfi_err
sdm_resolve(struct tap *tp, int app)
{
	const struct dfi_profile_app *a = &tp->p->spec->apps[app];
	const struct app_state *as = &tp->apps[app];
	for (size_t i = 0; i < tp->nintents; i++) {
		struct open_intent *oi = &tp->intents[i];
		unsigned fno;
		char what[DFI_J_WHAT_MAX];
		uint8_t dg[32];
		if (oi->done || oi->rec.type != DFI_JREC_CHANGE || oi->rec.key.aid != perso_aid(a->aid) ||
		    sscanf(oi->rec.what, "sdm:file=%2u", &fno) != 1 || fno > DFI_PROFILE_MAX_FILE_NO)
			continue;
		if (!as->exists || (as->file_exists[fno] && !as->fs_known[fno]))
			continue; /* not seen on this tap: stays open */
		int now = as->file_exists[fno] && as->fs[fno].sdm_enabled &&
		    sdm_target((uint8_t)fno, &as->fs[fno].sdm, what, dg) == DFI_OK &&
		    oi->rec.target_len == sizeof(dg) && memcmp(oi->rec.target, dg, sizeof(dg)) == 0;
		oi->done = 1;
		if (tp->readonly)
			continue;
		dfi_err e = perso_append_outcome(tp, DFI_JREC_RESOLVE, oi->rec.seq, DFI_OK, -1,
		    now ? DFI_JMATCH_NEW : DFI_JMATCH_OLD, "change");
		if (e != DFI_OK)
			return e;
		tp->res->intents_resolved++;
		tp->progressed = 1;
		perso_event(tp, "change %llu (%s of " DFI_AID_FMT ") resolved: the card shows the %s "
		    "settings", (unsigned long long)oi->rec.seq, oi->rec.what,
		    DFI_AID_ARGS(perso_aid(a->aid)), now ? "new" : "old");
	}
	return DFI_OK;
}

dfi_err
perso_sdm_plan(struct tap *tp, int app, int *need, size_t nneed)
{
	const struct dfi_profile_app *a = &tp->p->spec->apps[app];
	int any = 0;
	dfi_err e = sdm_resolve(tp, app);
	if (e != DFI_OK)
		return e;
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

/* The durable intent before ChangeFileSettings (*seq 0: not journaled,
 * a journal of a format without change records, which the event says). */
static dfi_err
sdm_intent(struct tap *tp, int app, const struct dfi_profile_file *f, uint64_t *seq)
{
	char what[DFI_J_WHAT_MAX];
	uint8_t dg[32];
	dfi_jrec rec;
	*seq = 0;
	if (tp->readonly || tp->p->journal == NULL)
		return DFI_OK;
	dfi_err e = sdm_target(f->number, &f->sdm->settings, what, dg);
	if (e == DFI_OK)
		e = dfi_jrec_change(&rec, tp->uid, DFI_PROFILE_UID_LEN,
		    perso_aid(tp->p->spec->apps[app].aid), what, dg, sizeof(dg));
	if (e == DFI_OK)
		e = perso_append(tp, &rec, 1, seq);
	if (e == DFI_E_UNSUPPORTED) {
		/* Refused before anything was written: the journal is sound. */
		tp->journal_failed = 0;
		*seq = 0;
		perso_event(tp, "journal format 1/2 has no change records: the SDM settings of file %u "
		    "are not journaled (a new journal is format 3)", f->number);
		return DFI_OK;
	}
	if (e != DFI_OK) {
		tp->journal_failed = 1;
		if (!dfi_err_is_registry(e))
			perso_detail(tp, "journal: change intent not written (%s): ChangeFileSettings "
			    "not sent", dfi_strerror(e));
	}
	return e;
}

/* The outcome of the intent after the card's answer e (returned). */
static dfi_err
sdm_outcome(struct tap *tp, uint64_t seq, dfi_err e)
{
	dfi_jrec r;
	dfi_err je;
	if (perso_is_tear(e) || e == DFI_E_CARD_MAC || e == DFI_E_CARD_PROTOCOL) {
		perso_event(tp, "ChangeFileSettings: %s: change %llu left open", dfi_errname(e),
		    (unsigned long long)seq);
		return e;
	}
	if (e == DFI_OK && tp->ncommits < PERSO_MAX_COMMITS) {
		/* With the tap's other commits, before the verification. */
		tp->commits[tp->ncommits++] = seq;
		return DFI_OK;
	}
	je = dfi_jrec_outcome(&r, e == DFI_OK ? DFI_JREC_COMMIT : DFI_JREC_ABORT, seq,
	    e == DFI_OK ? NULL : dfi_errname(e), -1, 0);
	if (je == DFI_OK)
		je = perso_append(tp, &r, 1, NULL);
	if (je != DFI_OK) {
		if (!dfi_err_is_registry(je))
			perso_detail(tp, "journal: outcome of change %llu not written: %s",
			    (unsigned long long)seq, dfi_strerror(je));
		return je;
	}
	return e;
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
	uint64_t seq = 0;
	if (e == DFI_OK)
		e = sdm_intent(tp, app, f, &seq);
	if (e == DFI_OK)
		e = dfi_desfire_change_file_settings_sdm(tp->d, f->number, send, f->comm, &f->access,
		    &f->sdm->settings);
	if (seq != 0)
		e = sdm_outcome(tp, seq, e);
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
	/* The card's mode now, not the profile's: an LRP profile's
	 * applications are verified before the switch (lrp.c), in AES mode. */
	int lrp = tp->lrp == PERSO_LRP_ON;
	e = dfi_sdm_layout_parse(s->tmpl, lrp ? DFI_SDM_LRP : DFI_SDM_AES, s->ndef, l, why,
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
