/* "secure_messaging": which authentication and secure messaging
 * personalization uses with AES keys (issue 20). "lrp" switches the card to
 * LRP (irreversible) and then uses LRP everywhere: the whole profile must be
 * AES, since LRP is defined for AES keys only and a DES-keyed application
 * on an LRP card could not be personalized the same way. */
#include "validate_int.h"

static const char *
kt_name(dfi_keytype t)
{
	switch (t) {
	case DFI_KT_DES: return "DES";
	case DFI_KT_2K3DES: return "2K3DES";
	case DFI_KT_3K3DES: return "3K3DES";
	default: return "AES";
	}
}

dfi_err
pv_secure_messaging(struct vctx *c, json_t *root, struct dfi_profile_spec *s)
{
	static const struct choice sms[] = { { "auto", DFI_PROFILE_SM_AUTO, 0 },
		{ "ev1", DFI_PROFILE_SM_EV1, 0 }, { "lrp", DFI_PROFILE_SM_LRP, 0 }, { NULL, 0, 0 } };
	const struct choice *sm;
	dfi_err e = pv_get_choice(c, root, "", "secure_messaging", 0, sms,
	    "\"auto\", \"ev1\" or \"lrp\"", &sm);
	if (e != DFI_OK)
		return e;
	s->secure_messaging = sm != NULL ? (enum dfi_profile_sm)sm->value : DFI_PROFILE_SM_AUTO;
	return DFI_OK;
}

dfi_err
pv_secure_messaging_keys(struct vctx *c, const struct dfi_profile_spec *s)
{
	if (s->secure_messaging != DFI_PROFILE_SM_LRP)
		return DFI_OK;
	if (s->picc.key.type != DFI_KT_AES128)
		return verr(c, "secure_messaging", "\"lrp\" needs AES keys: picc.key is %s "
		    "(LRP authenticates AES keys only)", kt_name(s->picc.key.type));
	for (size_t i = 0; i < s->napps; i++)
		if (s->apps[i].key_type != DFI_KT_AES128)
			return verr(c, "secure_messaging", "\"lrp\" needs AES keys: applications[%zu] "
			    "has %s keys (LRP authenticates AES keys only)", i,
			    kt_name(s->apps[i].key_type));
	return DFI_OK;
}
