/* LRP in personalization (issue 20, docs/PERSONALIZATION.md "LRP"): a
 * profile with "secure_messaging": "lrp" switches an EV3 card to LRP mode
 * (SetConfiguration option 05, irreversible) as a journaled change step,
 * and from then on authenticates with AuthenticateLRPFirst/NonFirst, so
 * every command runs under LRP secure messaging.
 *
 * Which mode the card is in is never assumed: the tap's first AES
 * authentication asks for LRP (AuthenticateLRPFirst). A card in LRP mode
 * answers it (with this key or, for a wrong key, with an LRP refusal); a
 * card in AES mode answers in AES, which the protocol layer reports as
 * DFI_E_UNSUPPORTED, and the tap goes on with AuthenticateEV2First. That
 * probe also settles a switch a torn tap left open in the journal. */
#include <string.h>

#include "core/errclass.h"
#include "perso_int.h"

/* The data of SetConfiguration option 05 (PICC capabilities): PDCap2.1
 * (byte 4) = 02 asks for LRP mode; the other bytes keep their defaults. */
static const uint8_t lrp_caps[10] = { 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0 };

int
perso_lrp_wanted(const struct tap *tp)
{
	return tp->p->spec->secure_messaging == DFI_PROFILE_SM_LRP;
}

dfi_err
perso_lrp_card_check(struct tap *tp)
{
	if (!perso_lrp_wanted(tp) || dfi_df_generation(&tp->ver) >= 3)
		return DFI_OK;
	perso_detail(tp, "the profile asks for LRP (\"secure_messaging\": \"lrp\"), which needs a "
	    "DESFire EV3; this card reports hardware %02X.%02X (DESFire EV%d): nothing was sent to it",
	    tp->ver.hw_major, tp->ver.hw_minor, dfi_df_generation(&tp->ver));
	return DFI_E_UNSUPPORTED;
}

/* Records what the probe found for every open "lrp" change of the card: the
 * card is in LRP mode (the switch happened) or it is not. */
static dfi_err
settle_switch(struct tap *tp)
{
	for (size_t i = 0; i < tp->nintents; i++) {
		struct open_intent *oi = &tp->intents[i];
		if (oi->done || oi->rec.type != DFI_JREC_CHANGE || strcmp(oi->rec.what, "lrp") != 0 ||
		    oi->rec.key.aid != 0)
			continue;
		oi->done = 1;
		dfi_jmatch m = tp->lrp == PERSO_LRP_ON ? DFI_JMATCH_NEW : DFI_JMATCH_OLD;
		if (tp->readonly)
			continue;
		dfi_err e = perso_append_outcome(tp, DFI_JREC_RESOLVE, oi->rec.seq, DFI_OK, -1, m,
		    "change");
		if (e != DFI_OK)
			return e;
		tp->res->intents_resolved++;
		tp->progressed = 1;
		perso_event(tp, "change %llu resolved: the card is %s LRP mode",
		    (unsigned long long)oi->rec.seq, m == DFI_JMATCH_NEW ? "in" : "not in");
	}
	return DFI_OK;
}

dfi_err
perso_lrp_auth(struct tap *tp, uint8_t keyno, const dfi_cardkey *k, int *done)
{
	*done = 0;
	if (!perso_lrp_wanted(tp) || tp->lrp != PERSO_LRP_UNKNOWN)
		return DFI_OK;
	/* Before the first authentication, nothing written yet: a card that
	 * cannot do LRP is not begun (inspect still shows it). */
	if (!tp->readonly && perso_lrp_card_check(tp) != DFI_OK)
		return DFI_E_UNSUPPORTED;
	if (dfi_cardkey_type(k) != DFI_KT_AES128 || dfi_df_generation(&tp->ver) < 3)
		return DFI_OK;
	dfi_err e = dfi_desfire_authenticate(tp->d, DFI_DF_AUTH_LRP_FIRST, keyno, k);
	if (e == DFI_E_UNSUPPORTED) {
		/* answered in AES: not switched; the caller authenticates in AES */
		tp->lrp = PERSO_LRP_OFF;
		perso_event(tp, "LRP probe: the card answers in AES mode (not switched to LRP)");
		return settle_switch(tp);
	}
	/* A status instead of the exchange (a refused key in LRP mode, or a
	 * first frame refused in either mode) says nothing of the mode: the
	 * key counts as refused (perso_try_auth) and the next authentication
	 * probes again; so does a tear or a host failure. An AES-mode card
	 * always answers the first frame in AES, so it never gets here. */
	if (e != DFI_OK && e != DFI_E_CARD_AUTH)
		return e;
	/* The card went through AuthenticateLRPFirst's exchange: it is in LRP
	 * mode (DFI_E_CARD_AUTH: its LRP proof did not match this key). */
	tp->lrp = PERSO_LRP_ON;
	perso_event(tp, "LRP probe: the card is in LRP mode");
	*done = 1;
	dfi_err se = settle_switch(tp);
	return e != DFI_OK ? e : se;
}

dfi_err
perso_lrp_plan(struct tap *tp)
{
	/* Unknown when the tap authenticated no AES key yet (a factory PICC
	 * key is DES): the step's own authentication decides. */
	if (!perso_lrp_wanted(tp) || tp->lrp == PERSO_LRP_ON)
		return DFI_OK;
	if (tp->nsteps >= PERSO_MAX_STEPS)
		return DFI_E_OVERFLOW;
	tp->steps[tp->nsteps++] = (struct step){ STEP_LRP_SWITCH, -1, -1, 0 };
	return DFI_OK;
}

dfi_err
perso_lrp_switch(struct tap *tp)
{
	dfi_jrec r;
	uint64_t seq;
	dfi_err e = perso_ensure_master(tp, -1);
	if (e != DFI_OK)
		return e;
	if (tp->lrp == PERSO_LRP_ON)
		return DFI_OK; /* the authentication's probe found it switched */
	if (dfi_desfire_scheme(tp->d) != DFI_DF_SCHEME_EV2) {
		perso_detail(tp, "LRP: the PICC master key must be an AES key authenticated with "
		    "AuthenticateEV2First to switch the card to LRP");
		return DFI_E_UNSUPPORTED;
	}
	/* The intent is durable before the card hears of the switch. */
	e = dfi_jrec_change(&r, tp->uid, DFI_PROFILE_UID_LEN, 0, "lrp", lrp_caps, sizeof(lrp_caps));
	if (e == DFI_OK)
		e = perso_append(tp, &r, 1, &seq);
	if (e != DFI_OK && dfi_err_is_registry(e)) {
		tp->journal_failed = 1;
		return e; /* journaled, not told: the registry's account stays */
	}
	if (e != DFI_OK) {
		tp->journal_failed = 1;
		perso_detail(tp, "journal: the LRP switch's change record was not written (%s)%s: "
		    "nothing was sent", dfi_strerror(e), e == DFI_E_UNSUPPORTED ?
		    "; the journal's format predates change records: start a new journal" : "");
		return e;
	}
	e = dfi_desfire_set_configuration(tp->d, 0x05, lrp_caps, sizeof(lrp_caps));
	if (perso_is_tear(e))
		return e; /* no answer: the next tap's probe resolves the change */
	dfi_err je = perso_append_outcome(tp, e == DFI_OK ? DFI_JREC_COMMIT : DFI_JREC_ABORT, seq, e,
	    -1, 0, "the LRP switch's change");
	if (je != DFI_OK || e != DFI_OK)
		return je != DFI_OK ? je : e;
	/* Switched: the AES session ends here; every authentication from now
	 * on is LRP. */
	tp->lrp = PERSO_LRP_ON;
	tp->authed = NULL;
	dfi_desfire_reset(tp->d);
	perso_event(tp, "card switched to LRP mode (change %llu committed)", (unsigned long long)seq);
	return DFI_OK;
}
