/*
 * Known-answer tests of the derivation paths: the public AN10922 vectors
 * run through a path with temporary session keys (CKA_TOKEN false, gone
 * with the session), so `dfissue hsm check` can prove a path on a token
 * without touching its token objects.
 */
#include <stdio.h>
#include <string.h>

#include "dfissue/util.h"
#include "hsm_int.h"
#include "core/nelem.h"

struct kat {
	dfi_keytype type;
	const char *master, *m, *derived;
};

/* NXP AN10922 §2.2.1 (AES-128), and the 2TDEA/3TDEA examples (§2.3, §2.4)
 * as libfreefare's test_mifare_key_deriver_an10922.c reproduces them.
 * DES keys are compared without their parity bits (libfreefare stores the
 * key version there). */
static const struct kat kats[] = {
	{ DFI_KT_AES128, "00112233445566778899AABBCCDDEEFF", "04782E21801D803042F54E585020416275",
		"A8DD63A3B89D54B37CA802473FDA9175" },
	{ DFI_KT_2K3DES, "00112233445566778899AABBCCDDEEFF", "04782E21801D803042F54E58502041",
		"16F9587D9E8910C96B9649D007107DD6" },
	{ DFI_KT_3K3DES, "00112233445566778899AABBCCDDEEFF0102030405060708",
		"04782E21801D803042F54E5850",
		"2E0DD03774D3FA9B5705AB0BDA91CA0B55B8E07FCDBF10EC" },
};

struct grab {
	uint8_t *key;
	size_t len;
};

static dfi_err
grab(void *arg, const uint8_t *key, size_t len)
{
	struct grab *g = arg;
	if (len > DFI_MAX_KEY_LEN)
		return DFI_E_INTERNAL;
	memcpy(g->key, key, len);
	g->len = len;
	return DFI_OK;
}

/* why: msg, and the detail of e (the step's error) when it recorded one. */
static void
say(char *why, size_t cap, const char *msg, dfi_hsm *h, dfi_err e)
{
	char d[DFI_HSM_DETAIL_MAX];
	if (why == NULL || cap == 0)
		return;
	dfi_hsm_detail_for(h, e, d, sizeof(d));
	snprintf(why, cap, "%s%s%s", msg, d[0] ? ": " : "", d);
}

static dfi_err
run_kat(dfi_hsm *h, const struct kat *v, dfi_hsm_path p, uint8_t kcv[3], char *why, size_t cap)
{
	uint8_t *mem = dfi_secure_alloc(3 * DFI_MAX_KEY_LEN);
	if (mem == NULL)
		return DFI_E_NOMEM;
	uint8_t *master = mem, *want = mem + DFI_MAX_KEY_LEN, *got = mem + 2 * DFI_MAX_KEY_LEN;
	uint8_t m[32], zero[DFI_MAX_BLOCK] = { 0 }, blk[DFI_MAX_BLOCK], hkcv[3];
	size_t ml, mlen, wl;
	size_t bl = dfi_keytype_blocklen(v->type);
	CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
	dfi_hsm_key *k = NULL;
	dfi_cardkey *ck = NULL;
	dfi_err e = DFI_OK;
	if (dfi_hex_decode(v->master, master, DFI_MAX_KEY_LEN, &ml) != DFI_OK ||
	    dfi_hex_decode(v->m, m, sizeof(m), &mlen) != DFI_OK ||
	    dfi_hex_decode(v->derived, want, DFI_MAX_KEY_LEN, &wl) != DFI_OK)
		e = DFI_E_INTERNAL;
	if (e == DFI_OK) {
		e = dfi_hsm_key_create(h, v->type, master, ml, "dfissue-selftest", NULL, 0, p, 0, &obj,
		    NULL);
		if (e != DFI_OK) {
			/* Not a wrong result: the vector cannot run on this token. */
			say(why, cap, "the token makes no session key from bytes (C_CreateObject)", h,
			    e);
			e = DFI_E_UNSUPPORTED;
		}
	}
	if (e == DFI_OK) {
		e = dfi_hsm_key_from_object(h, obj, "dfissue-selftest", &k);
		if (e != DFI_OK)
			say(why, cap, "reading the temporary key back", h, e);
	}
	if (e == DFI_OK) {
		e = dfi_hsm_cardkey_on_path(h, k, v->type, m, mlen, 0, p, &ck);
		if (e != DFI_OK)
			say(why, cap, "deriving", h, e);
	}
	/* In the HSM: the derived key's KCV. */
	if (e == DFI_OK) {
		e = dfi_hsm_cardkey_kcv(ck, kcv);
		if (e != DFI_OK)
			say(why, cap, "encrypting with the derived key", h, e);
	}
	if (e == DFI_OK) {
		e = dfi_cipher(v->type, want, 1, NULL, zero, blk, bl);
		memcpy(hkcv, blk, 3);
	}
	if (e == DFI_OK && memcmp(hkcv, kcv, 3) != 0) {
		if (why != NULL && cap > 0)
			snprintf(why, cap, "derived key KCV %02X%02X%02X, the vector's is %02X%02X%02X",
			    kcv[0], kcv[1], kcv[2], hkcv[0], hkcv[1], hkcv[2]);
		e = DFI_E_CRYPTO;
	}
	/* The bytes a ChangeKey would get, where the key leaves the HSM. */
	struct grab g = { got, 0 };
	if (e == DFI_OK) {
		e = dfi_cardkey_with_bytes(ck, grab, &g);
		if (e != DFI_OK)
			say(why, cap, "getting the ChangeKey bytes", h, e);
	}
	if (e == DFI_OK) {
		uint8_t mask = v->type == DFI_KT_AES128 ? 0xff : 0xfe;
		int same = g.len == wl;
		for (size_t i = 0; same && i < wl; i++)
			same = (got[i] & mask) == (want[i] & mask);
		if (!same) {
			if (why != NULL && cap > 0)
				snprintf(why, cap, "the ChangeKey bytes differ from the vector's key");
			e = DFI_E_CRYPTO;
		}
	}
	dfi_cardkey_free(ck);
	dfi_hsm_key_free(k);
	if (obj != CK_INVALID_HANDLE)
		dfi_hsm_destroy(h, obj);
	dfi_secure_free(mem, 3 * DFI_MAX_KEY_LEN);
	return e;
}

dfi_err
dfi_hsm_selftest(dfi_hsm *h, dfi_keytype t, dfi_hsm_path p, uint8_t kcv[3], char *why, size_t cap)
{
	uint8_t k3[3];
	if (why != NULL && cap > 0)
		why[0] = '\0';
	if (h == NULL)
		return DFI_E_INVALID_ARG;
	if (p == DFI_HSM_PATH_AUTO || (unsigned)p >= DFI_HSM_PATH_COUNT)
		return dfi_hsm_bad_arg(h, "self-test: name one derivation path, not %u", (unsigned)p);
	/* The host path's opt-in protects real keys; these are public. */
	dfi_err e = dfi_hsm_path_check_optin(h, t, p, 1, why, cap);
	if (e != DFI_OK)
		return e;
	for (size_t i = 0; i < DFI_NELEM(kats); i++) {
		if (kats[i].type != t)
			continue;
		e = run_kat(h, &kats[i], p, kcv != NULL ? kcv : k3, why, cap);
		if (e != DFI_OK)
			return e;
	}
	return DFI_OK;
}
