/* Recovery: the journal's open intents for this card, settled by what the
 * card shows (GetKeyVersion and trial authentication, state.c) before any
 * plan is made. */
#include <string.h>

#include "perso_int.h"

struct collect {
	struct tap *tp;
	size_t dropped;
};

static void
collect_one(void *ctx, const dfi_jrec *in)
{
	struct collect *c = ctx;
	struct tap *tp = c->tp;
	if (in->key.uid_len != DFI_PROFILE_UID_LEN ||
	    memcmp(in->key.uid, tp->uid, DFI_PROFILE_UID_LEN) != 0)
		return;
	if (tp->nintents >= PERSO_MAX_INTENTS) {
		c->dropped++;
		return;
	}
	tp->intents[tp->nintents].rec = *in;
	tp->intents[tp->nintents].done = 0;
	tp->nintents++;
}

dfi_err
perso_collect_intents(struct tap *tp)
{
	struct collect c = { tp, 0 };
	tp->nintents = 0;
	if (tp->p->journal == NULL)
		return DFI_OK;
	dfi_journal_open_intents(tp->p->journal, collect_one, &c);
	if (tp->nintents > 0)
		perso_event(tp, "%zu open intent(s) for this card: resolving by probing the card",
		    tp->nintents);
	if (c.dropped > 0) {
		perso_detail(tp, "more than %d open intents for one card", PERSO_MAX_INTENTS);
		return DFI_E_OVERFLOW;
	}
	return DFI_OK;
}

/* The newest open intent for a key (a key has at most one in a journal
 * that pairs intents with outcomes before the next). */
struct open_intent *
perso_find_intent(struct tap *tp, uint32_t aid, uint8_t keyno)
{
	for (size_t i = tp->nintents; i-- > 0;) {
		struct open_intent *oi = &tp->intents[i];
		if (!oi->done && oi->rec.key.aid == aid && oi->rec.key.keyno == keyno)
			return oi;
	}
	return NULL;
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
	oi->done = 1;
	if (tp->readonly)
		return DFI_OK;
	e = dfi_journal_resolve(tp->p->journal, oi->rec.seq, observed, m);
	if (e != DFI_OK) {
		tp->journal_failed = 1;
		perso_detail(tp, "journal: resolve of intent %llu: %s",
		    (unsigned long long)oi->rec.seq, dfi_strerror(e));
		return e;
	}
	tp->res->intents_resolved++;
	tp->progressed = 1;
	perso_event(tp, "intent %llu resolved: card shows the %s key (version %d)",
	    (unsigned long long)oi->rec.seq,
	    m == DFI_JMATCH_NEW ? "new" : m == DFI_JMATCH_OLD ? "old" : "neither", observed);
	return DFI_OK;
}
