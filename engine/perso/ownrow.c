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
 * the batch file again, only for a card whose history carries a digest
 * that the row given does not give. */
#include <string.h>

#include "perso_int.h"

/* 1 when d is the digest behind one of the card's slots or open intents. */
static int
known_digest(const struct tap *tp, const uint8_t d[DFI_J_PROFILE_LEN])
{
	for (size_t i = 0; i < tp->nrslots; i++)
		if (tp->rslots[i].has_profile && memcmp(tp->rslots[i].profile, d, DFI_J_PROFILE_LEN) == 0)
			return 1;
	for (size_t i = 0; i < tp->nintents; i++)
		if (tp->intents[i].rec.has_profile &&
		    memcmp(tp->intents[i].rec.profile, d, DFI_J_PROFILE_LEN) == 0)
			return 1;
	return 0;
}

static int
has_history(const struct tap *tp)
{
	for (size_t i = 0; i < tp->nrslots; i++)
		if (tp->rslots[i].has_profile)
			return 1;
	for (size_t i = 0; i < tp->nintents; i++)
		if (tp->intents[i].rec.has_profile)
			return 1;
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
		match = e == DFI_OK && known_digest(tp, d);
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

	if (tp->batch_path == NULL || tp->row == NULL || tp->readonly || !has_history(tp))
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
		/* The file changed since the run checked it. */
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
