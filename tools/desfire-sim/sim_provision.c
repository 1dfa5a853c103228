/* Cards as a supplier delivers them: a transport PICC master key instead of
 * the factory DES zero key (desfire_sim.h, dfi_sim_set_picc_key). */
#include <stdlib.h>
#include <string.h>

#include "dfissue/util.h"
#include "sim_int.h"

static int
factory_picc(const struct sim_card *c)
{
	static const uint8_t zero[DFI_MAX_KEY_LEN];
	return c->picc_kfam == KF_2K3DES && dfi_ct_memcmp(c->picc_key.k, zero, sizeof(zero)) == 0 &&
	    c->napps == 0;
}

dfi_err
dfi_sim_set_picc_key(dfi_sim *s, dfi_keytype type, const uint8_t *key, size_t keylen,
    uint8_t version)
{
	uint8_t kfam;
	if (s == NULL || key == NULL || s->card == NULL || !factory_picc(s->card))
		return DFI_E_INVALID_ARG;
	switch (type) {
	case DFI_KT_AES128: kfam = KF_AES; break;
	case DFI_KT_2K3DES: kfam = KF_2K3DES; break;
	case DFI_KT_3K3DES: kfam = KF_3K3DES; break;
	default: return DFI_E_INVALID_ARG;
	}
	if (keylen != dfi_keytype_keylen(type))
		return DFI_E_INVALID_ARG;
	struct sim_key *k = &s->card->picc_key;
	memset(k->k, 0, sizeof(k->k));
	memcpy(k->k, key, keylen);
	if (kfam == KF_AES)
		k->aes_ver = version;
	else
		dfi_des_set_key_version(k->k, keylen, version); /* parity bits, as the card stores it */
	s->card->picc_kfam = kfam;
	/* Keep it as a command's commit would (the image file and the encoded
	 * state an insertion reloads), without counting a command's commit. */
	return sim_keep_state(s, true);
}
