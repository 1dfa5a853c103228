/* Recovery: the journal's open intents for this card (from the registry
 * lookup, admit.c), settled by what the card shows (GetKeyVersion and trial
 * authentication, state.c) before any plan is made. */
#include <string.h>

#include "core/errclass.h"
#include "perso_int.h"

/* The newest open intent for a key (a key has at most one in a journal
 * that pairs intents with outcomes before the next). */
struct open_intent *
perso_find_intent(struct tap *tp, uint32_t aid, uint8_t keyno)
{
	for (size_t i = tp->nintents; i-- > 0;) {
		struct open_intent *oi = &tp->intents[i];
		if (!oi->done && oi->rec.type != DFI_JREC_CHANGE && oi->rec.key.aid == aid &&
		    oi->rec.key.keyno == keyno)
			return oi;
	}
	return NULL;
}

/* Appends outcome t of intent or change seq, with reason (abort only);
 * on failure the tap stops (journal_failed). */
static dfi_err
append_outcome(struct tap *tp, dfi_jrec_type t, uint64_t seq, const char *reason, int observed,
    dfi_jmatch m, const char *what)
{
	dfi_jrec r;
	dfi_err e = dfi_jrec_outcome(&r, t, seq, reason, observed, m);
	if (e == DFI_OK)
		e = perso_append(tp, &r, 1, NULL);
	if (e != DFI_OK) {
		tp->journal_failed = 1;
		if (!dfi_err_is_registry(e))
			perso_detail(tp, "journal: %s of %s %llu not written: %s", dfi_jrec_type_name(t),
			    what, (unsigned long long)seq, dfi_strerror(e));
	}
	return e;
}

dfi_err
perso_append_outcome(struct tap *tp, dfi_jrec_type t, uint64_t seq, dfi_err cause, int observed,
    dfi_jmatch m, const char *what)
{
	return append_outcome(tp, t, seq, t == DFI_JREC_ABORT ? dfi_errname(cause) : NULL, observed, m,
	    what);
}

/* Marks an open intent settled on this tap and, unless read-only, appends
 * its outcome (type t: resolve or abort). */
dfi_err
perso_close_intent(struct tap *tp, struct open_intent *oi, dfi_jrec_type t, const char *reason,
    int observed, dfi_jmatch m)
{
	oi->done = 1;
	if (tp->readonly)
		return DFI_OK;
	return append_outcome(tp, t, oi->rec.seq, reason, observed, m, "intent");
}

/* Records what the card showed: the intent's new key (the ChangeKey
 * happened), its old key (it did not), or neither. */
dfi_err
perso_settle_intent(struct tap *tp, struct open_intent *oi, int observed, const dfi_cardkey *found,
    const dfi_cardkey *newkey)
{
	dfi_jmatch m;
	dfi_err e;

	if (found != NULL && found == newkey)
		m = DFI_JMATCH_NEW;
	else if (found != NULL && dfi_cardkey_version(found) == oi->rec.old_version)
		m = DFI_JMATCH_OLD;
	else
		m = DFI_JMATCH_NONE;
	e = perso_close_intent(tp, oi, DFI_JREC_RESOLVE, NULL, observed, m);
	if (e != DFI_OK || tp->readonly)
		return e;
	tp->res->intents_resolved++;
	tp->progressed = 1;
	perso_event(tp, "intent %llu resolved: card shows the %s key (version %d)",
	    (unsigned long long)oi->rec.seq,
	    m == DFI_JMATCH_NEW ? "new" : m == DFI_JMATCH_OLD ? "old" : "neither", observed);
	return DFI_OK;
}
