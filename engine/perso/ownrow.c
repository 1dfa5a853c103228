/* The batch row a card began with. A run hands out a batch's rows in
 * arrival order, from the first one: a card torn in one run and presented
 * in the next, or a card already issued and presented again, would be
 * given whatever row comes next, and a row other than the one its files
 * were written with stops the tap (conflicts.c: "holds records other than
 * the profile's"). The journal does not name rows, but every intent
 * carries the profile digest of what its tap made of the card (digest.c),
 * and that covers the row's file contents and diversification inputs:
 * the row whose digest for this UID is one of those the journal (or the
 * registry) holds for the card is the row it began with. The search reads
 * the batch file again, only for a card whose history of this profile's
 * key changes carries a digest that the row given does not give. */
#include <string.h>

#include "perso_int.h"

/* 1 when a key change to (version, generation) of slot (aid, keyno) is
 * one this profile makes: history another profile wrote (a card issued
 * with generation 1, tapped with a rotation profile) names no row of this
 * run, and is not searched for. */
static int
this_profiles(const struct tap *tp, uint32_t aid, uint8_t keyno, int version, uint32_t generation)
{
	int app = aid == 0 ? -1 : perso_app_index(tp, aid);
	const struct perso_role *r = aid != 0 && app < 0 ? NULL : perso_role(tp->p, app, keyno);
	return r != NULL && version == (int)r->pk->version && generation == r->pk->generation;
}

/* Each digest the card's history holds for this profile's key changes:
 * the slots' (the intent behind each state) and the open intents'. With
 * d NULL: 1 when there is one; else 1 when d is one of them. */
static int
history_has(const struct tap *tp, const uint8_t *d)
{
	for (size_t i = 0; i < tp->nrslots; i++) {
		const struct reg_slot *rs = &tp->rslots[i];
		if (rs->has_profile && this_profiles(tp, rs->aid, rs->keyno, rs->version, rs->generation) &&
		    (d == NULL || memcmp(rs->profile, d, DFI_J_PROFILE_LEN) == 0))
			return 1;
	}
	for (size_t i = 0; i < tp->nintents; i++) {
		const dfi_jrec *in = &tp->intents[i].rec;
		if (in->type != DFI_JREC_CHANGE && in->has_profile &&
		    this_profiles(tp, in->key.aid, in->key.keyno, in->new_version, in->key_gen) &&
		    (d == NULL || memcmp(in->profile, d, DFI_J_PROFILE_LEN) == 0))
			return 1;
	}
	return 0;
}

/* 1 when row gives this card a digest its history holds; a row the
 * profile cannot use gives none. */
static int
row_matches(const struct tap *tp, const dfi_batch_row *row, dfi_err *err)
{
	struct dfi_card_data *cd = NULL;
	struct dfi_diag diag;
	uint8_t d[DFI_J_PROFILE_LEN];
	int match = 0;

	dfi_err e = dfi_profile_card_data(tp->p->profile, row, &cd, &diag);
	if (e == DFI_OK) {
		e = perso_digest_of(tp, row, cd, d);
		match = e == DFI_OK && history_has(tp, d);
	}
	dfi_card_data_free(cd);
	/* Out of memory or a crypto failure is the tap's; a row that does
	 * not fit the profile is only not the card's. */
	if (e == DFI_E_NOMEM || e == DFI_E_CRYPTO)
		*err = e;
	return match;
}

dfi_err
perso_own_row(struct tap *tp)
{
	dfi_err e = DFI_OK;

	if (tp->batch_path == NULL || tp->row == NULL || !history_has(tp, NULL))
		return DFI_OK;
	if (row_matches(tp, tp->row, &e) || e != DFI_OK)
		return e;
	struct dfi_diag diag;
	memset(&diag, 0, sizeof(diag));
	dfi_batch *b = NULL;
	dfi_batch_row *row = NULL;
	int given = dfi_batch_row_line(tp->row);
	if ((e = dfi_batch_open(&b, tp->batch_path, &diag)) != DFI_OK) {
		perso_detail(tp, "%s", diag.message[0] ? diag.message : dfi_strerror(e));
		return e;
	}
	while ((e = dfi_batch_next(b, &row, &diag)) == DFI_OK && row != NULL) {
		if (dfi_batch_row_line(row) != given && row_matches(tp, row, &e))
			break;
		dfi_batch_row_free(row);
		row = NULL;
		if (e != DFI_OK)
			break;
	}
	dfi_batch_free(b);
	if (e == DFI_E_PROFILE) {
		/* A row the run's check did not reach (personalize checks only
		 * the rows it may hand out) or the file changed since: said, so
		 * that the operator mends the file, rather than given a row
		 * that may not be the card's. */
		perso_detail(tp, "%s", diag.message);
		return e;
	}
	if (e != DFI_OK)
		return e;
	if (row == NULL) {
		perso_event(tp, "the journal shows this card begun with a batch row that %s does not "
		    "hold: it is given line %d", tp->batch_path, given);
		return DFI_OK;
	}
	perso_event(tp, "this card began with line %d of %s: it is given that row again (line %d "
	    "stays for the next card)", dfi_batch_row_line(row), tp->batch_path, given);
	tp->own = row;
	tp->row = row;
	return DFI_OK;
}
