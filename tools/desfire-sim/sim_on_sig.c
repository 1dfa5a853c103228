/*
 * Read_Sig (native 0x3C, one byte address 00): the originality signature of
 * a DESFire EV2/EV3/Light, 56 bytes r || s of ECDSA on secp224r1 over the
 * UID (the UID itself is the message representative, no hash). EV1 cards
 * do not know the command (ILLEGAL_COMMAND).
 *
 * The simulator signs with its OWN TEST key pair below, published here and
 * in tests/data/sim-originality.keys, and never with an NXP key: a genuine
 * dfissue deployment trusts NXP's keys (profiles/originality-nxp.keys) and
 * so never a simulated card. A second test key ("foreign") models a clone
 * chip that signs with a key of its own.
 *
 * Differences from a real card, on purpose or for now:
 *   - a real chip's signature is written once at manufacture; the
 *     simulator signs at each Read_Sig (ECDSA's random nonce makes the
 *     bytes differ between answers, each verifies the same way);
 *   - a real EV2 ends the answer with status 0x90 (SW 91 90), the frame
 *     code of sim.c gives every success status 0x00 (SW 91 00): dfissue
 *     accepts both;
 *   - authenticated, the answer is enciphered (CommMode.Full), as other
 *     reads of secret data; unauthenticated, plain.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "dfissue/util.h"
#include "sim_int.h"

#define SIG_LEN 56

/* secp224r1 TEST keys (private scalar, public point 04 || X || Y). */
static const char test_priv[] = "804DA432620D0A9D35B8911517BBE4BB36E9CAD87DE2DCE8704705DC";
static const char test_pub[] = "04199318FC3C1D2F5F64BEEE31A21D5222C88B8AAC249B29CD4A2867B494178B92"
			       "FE2C1A413D73BD0E1B75708A266270AB65673751211D65D2";
static const char foreign_priv[] = "6ADF7F6CD360E06F6ECFA624E59F492A0D0ACB37F192EAC0C8F7192E";
static const char foreign_pub[] = "04EF4E29500522DE9F987356C4DF29C9C0D278BB6673A9C3FAF2BF28A57FC50C5C"
				  "E2CF030A644B5893E574487AEE2B12DF041E2C35FE62ADC4";

static EVP_PKEY *
test_key(const char *priv_hex, const char *pub_hex)
{
	BIGNUM *priv = NULL;
	uint8_t pub[57];
	size_t n = 0;
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *pk = NULL;
	if (b != NULL && ctx != NULL && BN_hex2bn(&priv, priv_hex) > 0 &&
	    dfi_hex_decode(pub_hex, pub, sizeof(pub), &n) == DFI_OK && n == sizeof(pub) &&
	    OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "secp224r1", 0) == 1 &&
	    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, priv) == 1 &&
	    OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pub, n) == 1 &&
	    (params = OSSL_PARAM_BLD_to_param(b)) != NULL && EVP_PKEY_fromdata_init(ctx) == 1)
		(void)EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_KEYPAIR, params);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	EVP_PKEY_CTX_free(ctx);
	BN_clear_free(priv);
	return pk;
}

/* ECDSA over msg (no digest: msg is the representative), as r || s. */
static int
sign_raw(EVP_PKEY *pk, const uint8_t *msg, size_t len, uint8_t out[SIG_LEN])
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	uint8_t der[128];
	size_t dl = sizeof(der);
	int ok = ctx != NULL && EVP_PKEY_sign_init(ctx) == 1 &&
	    EVP_PKEY_sign(ctx, der, &dl, msg, len) == 1;
	EVP_PKEY_CTX_free(ctx);
	if (!ok)
		return 0;
	const unsigned char *p = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dl);
	ok = es != NULL && BN_bn2binpad(ECDSA_SIG_get0_r(es), out, 28) == 28 &&
	    BN_bn2binpad(ECDSA_SIG_get0_s(es), out + 28, 28) == 28;
	ECDSA_SIG_free(es);
	return ok;
}

uint8_t
sim_on_read_sig(dfi_sim *s, uint8_t cmd, const uint8_t *d, size_t n, struct sim_resp *r)
{
	(void)cmd;
	if (s->cfg.model == DFI_SIM_MODEL_EV1 || s->cfg.originality == DFI_SIM_ORIG_NONE)
		return ST_ILLEGAL_COMMAND;
	if (n != 1)
		return ST_LENGTH;
	if (d[0] != 0x00)
		return ST_PARAMETER; /* address 00 is the only signature */
	uint8_t msg[DFI_SIM_UID_LEN], sig[SIG_LEN];
	memcpy(msg, s->card->uid, sizeof(msg));
	if (s->cfg.originality == DFI_SIM_ORIG_CORRUPT)
		msg[DFI_SIM_UID_LEN - 1] ^= 0x01; /* a signature copied from another card */
	EVP_PKEY *pk = s->cfg.originality == DFI_SIM_ORIG_FOREIGN ? test_key(foreign_priv, foreign_pub) :
	    test_key(test_priv, test_pub);
	int ok = pk != NULL && sign_raw(pk, msg, sizeof(msg), sig);
	EVP_PKEY_free(pk);
	if (!ok)
		return 0xEE; /* as an EEPROM failure: the card could not answer */
	resp_put(r, sig, sizeof(sig));
	r->mode = s->sess.kind == SESS_NONE ? SM_PLAIN : SM_FULL;
	return ST_OK;
}
