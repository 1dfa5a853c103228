/*
 * Random-ID cards. With random ID on, a card answers anticollision (and
 * the reader's GET DATA) with a fresh 4-byte ID beginning 08 at each
 * activation; its real 7-byte UID, which every diversified key needs, is
 * given only by GetCardUID after an authentication. The engine opens such
 * a card with a key that does not depend on the UID: the profile's UID key
 * (picc.uid_key, diversified with the AID and a system identifier only) at
 * its target or an older generation, or the factory key of its application;
 * failing that, the PICC's factory or static transport key (a card
 * delivered with random ID on). Nothing is written here: a card no
 * candidate opens is left as found.
 */
#include <stdio.h>
#include <string.h>

#include "core/nelem.h"
#include "dfissue/util.h"
#include "perso_int.h"

/* ISO/IEC 14443-3: a random ID is 4 bytes with 08 as its first byte. */
int
perso_uid_is_random(const uint8_t *id, size_t n)
{
	return n == 4 && id[0] == 0x08;
}

/* GetCardUID in the session just opened: the answer is enciphered and its
 * CRC (EV1/D40) or MAC (EV2) checked by the DESFire layer; 7 bytes only. */
static dfi_err
get_card_uid(struct tap *tp, const char *with)
{
	uint8_t uid[10];
	size_t n = 0;
	dfi_err e = dfi_desfire_get_card_uid(tp->d, uid, sizeof(uid), &n);
	if (e != DFI_OK) {
		char why[400];
		perso_err_text(tp->p->hsm, e, why, sizeof(why)); /* the MAC is the HSM's */
		perso_detail(tp, "random-ID card: GetCardUID after authenticating with %s: %s", with,
		    why);
		return e;
	}
	if (n != DFI_PROFILE_UID_LEN) {
		perso_detail(tp, "random-ID card: GetCardUID gave a %zu-byte UID: 7 bytes needed", n);
		dfi_wipe(uid, sizeof(uid));
		return DFI_E_UNSUPPORTED;
	}
	memcpy(tp->uid, uid, n);
	memcpy(tp->res->uid, uid, n);
	tp->res->uid_len = n;
	snprintf(tp->uid_via, sizeof(tp->uid_via), "%s", with);
	return DFI_OK;
}

/* Candidates whose version is v first: one authentication in the usual
 * case, the others only when the version names none (or several). */
static size_t
order_by_version(const dfi_cardkey **cand, size_t n, uint8_t v, const dfi_cardkey **order)
{
	size_t no = 0;
	for (size_t i = 0; i < n; i++)
		if (dfi_cardkey_version(cand[i]) == v)
			order[no++] = cand[i];
	for (size_t i = 0; i < n; i++)
		if (dfi_cardkey_version(cand[i]) != v)
			order[no++] = cand[i];
	return no;
}

/* Selects aid and reads key keyno's version; *present 0 when the card
 * has no such application or key (then its key opens nothing). */
static dfi_err
slot_version(struct tap *tp, uint32_t aid, uint8_t keyno, uint8_t *v, int *present)
{
	dfi_err e = perso_select(tp, aid);
	*present = 0;
	if (e == DFI_E_DF_APPLICATION_NOT_FOUND)
		return DFI_OK;
	if (e == DFI_OK)
		e = dfi_desfire_get_key_version(tp->d, keyno, v);
	if (e == DFI_E_DF_NO_SUCH_KEY)
		return DFI_OK;
	*present = e == DFI_OK;
	return e;
}

static dfi_err
open_and_read(struct tap *tp, uint32_t aid, uint8_t keyno, const dfi_cardkey **cand, size_t nc,
    uint8_t v, const char *what, int *ok)
{
	const dfi_cardkey *order[4 + DFI_PROFILE_MAX_PREVIOUS];
	char with[64];
	dfi_err e = DFI_OK;

	*ok = 0;
	size_t no = order_by_version(cand, nc, v, order);
	for (size_t i = 0; i < no; i++) {
		e = perso_try_auth(tp, aid, keyno, order[i], ok);
		if (e != DFI_OK || *ok)
			break;
	}
	if (e != DFI_OK || !*ok)
		return e;
	snprintf(with, sizeof(with), "%s, version %u", what, dfi_cardkey_version(tp->authed));
	return get_card_uid(tp, with);
}

/* The profile's UID key: its target, its older generations, the factory
 * key of its application (a card torn before the key was changed). */
static dfi_err
via_uid_key(struct tap *tp, int *ok)
{
	const struct dfi_profile_uid_key *uk = &tp->p->spec->uid_key;
	uint32_t aid = perso_aid(uk->aid);
	int app = perso_app_index(tp, aid);
	const struct perso_role *r = app < 0 ? NULL : perso_role(tp->p, app, uk->number);
	const dfi_cardkey *cand[2 + DFI_PROFILE_MAX_PREVIOUS];
	size_t nc = 0;
	char what[48];
	int present;
	uint8_t v = 0;
	dfi_err e;

	*ok = 0;
	if (r == NULL)
		return DFI_OK; /* validation makes this impossible */
	e = slot_version(tp, aid, uk->number, &v, &present);
	if (e != DFI_OK || !present)
		return e;
	e = perso_derive(tp, r, aid, &tp->uid_target);
	if (e != DFI_OK)
		return e;
	cand[nc++] = tp->uid_target;
	cand[nc++] = perso_factory(tp->p, app);
	/* The older generations with this version (all when none has it). */
	e = perso_prev_candidates(tp, app, uk->number, v, cand, &nc, DFI_NELEM(cand));
	if (e != DFI_OK)
		return e;
	snprintf(what, sizeof(what), "UID key " DFI_AID_FMT "/%u", DFI_AID_ARGS(aid), uk->number);
	return open_and_read(tp, aid, uk->number, cand, nc, v, what, ok);
}

/* The PICC master key when it does not depend on the UID: factory or a
 * static transport key (cards delivered with random ID on). */
static dfi_err
via_picc(struct tap *tp, int *ok)
{
	const dfi_cardkey *cand[2];
	size_t nc = 0;
	int present;
	uint8_t v = 0;
	dfi_err e = slot_version(tp, 0, 0, &v, &present);
	*ok = 0;
	if (e != DFI_OK || !present)
		return e;
	cand[nc++] = perso_factory(tp->p, -1);
	if (tp->p->transport_static != NULL)
		cand[nc++] = tp->p->transport_static;
	return open_and_read(tp, 0, 0, cand, nc, v, "the PICC's factory or transport key", ok);
}

dfi_err
perso_uid_random(struct tap *tp, const uint8_t *rid, size_t n)
{
	char hex[9] = "";
	int ok = 0;
	dfi_err e = DFI_OK;

	dfi_hex_encode(rid, n, hex, sizeof(hex));
	tp->res->random_id = 1;
	if (tp->p->spec->uid_key.present)
		e = via_uid_key(tp, &ok);
	if (e == DFI_OK && !ok)
		e = via_picc(tp, &ok);
	if (e != DFI_OK)
		return e;
	if (!ok) {
		if (tp->p->spec->uid_key.present)
			perso_detail(tp, "random-ID card (ID %s): neither the UID key " DFI_AID_FMT "/%u nor the "
			    "PICC's factory or transport key opens it: its UID cannot be read, card "
			    "left untouched", hex, DFI_AID_ARGS(perso_aid(tp->p->spec->uid_key.aid)),
			    tp->p->spec->uid_key.number);
		else
			perso_detail(tp, "random-ID card (ID %s): the PICC's factory or transport key "
			    "does not open it and the profile names no picc.uid_key: its UID cannot "
			    "be read, card left untouched", hex);
		return DFI_E_UNKNOWN_KEYS;
	}
	perso_event(tp, "random ID %s: UID read with GetCardUID (%s)", hex, tp->uid_via);
	return DFI_OK;
}

/* Where SetConfiguration goes in the plan when the profile sets random ID
 * early (picc.configuration.random_uid_early): right after the UID key's
 * change, or first when the UID key is already at its target. From then
 * on a torn card shows random IDs, and the UID key, at its target and
 * journaled, reads its UID on the next tap. A card that already shows a
 * random ID, when random ID is all the configuration sets, needs no step. */
void
perso_uid_plan(struct tap *tp)
{
	const struct dfi_profile_spec *s = tp->p->spec;
	const struct dfi_profile_uid_key *uk = &s->uid_key;
	size_t cfg = tp->nsteps, at = 0;

	for (size_t i = 0; i < tp->nsteps; i++)
		if (tp->steps[i].kind == STEP_PICC_CONFIG)
			cfg = i;
	if (cfg == tp->nsteps)
		return;
	if (tp->res->random_id && perso_config_byte(&s->picc.config) == 0x02) {
		memmove(&tp->steps[cfg], &tp->steps[cfg + 1],
		    (tp->nsteps - cfg - 1) * sizeof(tp->steps[0]));
		tp->nsteps--;
		return;
	}
	if (!s->picc.config.random_uid_early || !uk->present)
		return;
	int app = perso_app_index(tp, perso_aid(uk->aid));
	for (size_t i = 0; i < cfg; i++)
		if (tp->steps[i].kind == STEP_CHANGE_APP_KEY && tp->steps[i].app == app &&
		    tp->steps[i].keyno == uk->number)
			at = i + 1;
	struct step st = tp->steps[cfg];
	memmove(&tp->steps[at + 1], &tp->steps[at], (cfg - at) * sizeof(tp->steps[0]));
	tp->steps[at] = st;
}
