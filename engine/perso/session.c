/* Selection and authentication, tracked so no SelectApplication or
 * Authenticate is sent twice. */
#include "perso_int.h"

/* The authentication for key type t on this card (dfi_df_auth_choose): on
 * an EV2 or later card AES keys use AuthenticateEV2First (NonFirst inside
 * the EV2 session of the selected application), so every command after
 * it runs under EV2 secure messaging (transaction identifier, command
 * counter); AuthenticateAES (EV1 messaging) on an EV1 card or when the
 * profile asks for EV1 ("secure_messaging": "ev1"); DES keys 0x0A and
 * 3K3DES 0x1A as the card requires. */
static dfi_df_authcmd
auth_cmd(const struct tap *tp, dfi_keytype t)
{
	unsigned flags = tp->p->spec->secure_messaging == DFI_PROFILE_SM_EV1 ? DFI_DF_SM_EV1 : 0;
	int in_ev2 = dfi_desfire_scheme(tp->d) == DFI_DF_SCHEME_EV2 && !dfi_desfire_lrp(tp->d);
	return dfi_df_auth_choose(dfi_df_generation(&tp->ver), t, flags, in_ev2);
}

dfi_err
perso_select(struct tap *tp, uint32_t aid)
{
	if (dfi_desfire_selected_aid(tp->d) == aid)
		return DFI_OK;
	tp->authed = NULL;
	return dfi_desfire_select_application(tp->d, aid);
}

static int
authed_with(const struct tap *tp, uint32_t aid, uint8_t keyno, const dfi_cardkey *k)
{
	return tp->authed == k && dfi_desfire_scheme(tp->d) != DFI_DF_SCHEME_NONE &&
	    dfi_desfire_auth_keyno(tp->d) == keyno && dfi_desfire_selected_aid(tp->d) == aid;
}

/* An authentication that succeeded proves the slot holds k: whatever the
 * tap authenticates with (to write a file, to change keys or settings)
 * counts for the final verification, which then does not authenticate
 * with that key again. */
static void
prove_key(struct tap *tp, uint32_t aid, uint8_t keyno, const dfi_cardkey *k)
{
	struct key_state *ks = NULL;
	const dfi_cardkey *target = NULL;
	int app;

	if (aid == 0 && keyno == 0) {
		ks = &tp->picc;
		target = tp->picc_target;
	} else if (aid != 0 && keyno < DFI_PROFILE_MAX_KEYS && (app = perso_app_index(tp, aid)) >= 0) {
		ks = &tp->apps[app].keys[keyno];
		target = tp->apps[app].target[keyno];
	}
	if (ks == NULL || ks->cur != k)
		return;
	ks->confirmed = 1;
	ks->at_target = k == target;
}

int
perso_app_index(const struct tap *tp, uint32_t aid)
{
	for (size_t i = 0; i < tp->p->spec->napps; i++)
		if (perso_aid(tp->p->spec->apps[i].aid) == aid)
			return (int)i;
	return -1;
}

int
perso_proven(const struct tap *tp, dfi_df_comm comm)
{
	switch (dfi_desfire_scheme(tp->d)) {
	case DFI_DF_SCHEME_EV1:
		/* Every answer carries a CMAC chained through the command's own
		 * CMAC: it verifies only if the card MACed the same command. */
		return 1;
	case DFI_DF_SCHEME_EV2:
		/* The answer's MAC binds the command counter; the command itself
		 * is MACed (and checked by the card) unless it is plain. */
		return comm != DFI_DF_COMM_PLAIN;
	default:
		return 0; /* D40 answers to writes carry no MAC */
	}
}

dfi_err
perso_auth(struct tap *tp, uint32_t aid, uint8_t keyno, const dfi_cardkey *k)
{
	dfi_err e;
	if (k == NULL)
		return DFI_E_UNKNOWN_KEYS;
	e = perso_select(tp, aid);
	if (e != DFI_OK)
		return e;
	if (authed_with(tp, aid, keyno, k))
		return DFI_OK;
	tp->authed = NULL;
	e = dfi_desfire_authenticate(tp->d, auth_cmd(tp, dfi_cardkey_type(k)), keyno, k);
	if (e == DFI_OK) {
		tp->authed = k;
		prove_key(tp, aid, keyno, k);
	}
	return e;
}

dfi_err
perso_try_auth(struct tap *tp, uint32_t aid, uint8_t keyno, const dfi_cardkey *k, int *ok)
{
	dfi_err e = perso_auth(tp, aid, keyno, k);
	*ok = e == DFI_OK;
	/* The card refusing the key (wrong key, wrong key type) is an answer,
	 * not an error; a tear or a host failure is. */
	if (e == DFI_E_CARD_AUTH || (e >= DFI_E_DF_NO_CHANGES && e <= DFI_E_DF_UNKNOWN_STATUS))
		return DFI_OK;
	return e;
}

/* Authenticated with the master key the card holds now. */
dfi_err
perso_ensure_master(struct tap *tp, int app)
{
	if (app < 0)
		return perso_auth(tp, 0, 0, tp->picc.cur);
	return perso_auth(tp, perso_aid(tp->p->spec->apps[app].aid), 0, tp->apps[app].keys[0].cur);
}
