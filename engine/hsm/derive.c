/*
 * The derivation paths (hsm.h, dfi_hsm_path): how a per-card key object
 * K = AN10922(master, M) is made in the HSM, and how its bytes reach the
 * one audited host function that builds a ChangeKey cryptogram.
 *
 * AN10922 for AES-128 is CMAC(master, 0x01 || M) with 0x01 || M padded to
 * two blocks, which is E(master, E(master, B1) XOR B2') where B2' is the
 * second block XORed with the CMAC subkey (an10922.c). The DES variants
 * concatenate two or three such CMACs with 8-byte blocks. So:
 *   ECB   C_Encrypt(B1) on the host side, then CKM_*_ECB_ENCRYPT_DATA over
 *         E(B1) XOR B2' (every block at once for the DES variants);
 *   CBC   CKM_AES_CBC_ENCRYPT_DATA with IV = E(B1) over B2';
 *   SP 800-108  CMAC(master, [i]_8 || M) for i = 1 is the AES CMAC itself
 *         whenever CMAC's own padding equals AN10922's (M of 16..31 bytes);
 *   HOST  the ECB path's last step as C_Encrypt into locked memory, then
 *         a session key object made from those bytes.
 */
#include <string.h>

#include "cardkey_int.h"
#include "dfissue/util.h"
#include "core/unconst.h"
#include "core/nelem.h"

/* The per-card key's template: a sensitive, non-extractable session key
 * that may encrypt, decrypt and CMAC (DESFire authentication). extractable
 * and sensitive are changed only for the SP 800-108 ChangeKey copy. */
struct dtmpl {
	struct dfi_hsm_secret head;
	CK_ULONG vlen;
	CK_BBOOL yes;
	CK_ATTRIBUTE t[DFI_HSM_SECRET_NATTRS + 4];
	CK_ULONG n;
};

static void
dtmpl_init(struct dtmpl *d, const struct hkey *k, int for_bytes, int readable)
{
	d->vlen = dfi_keytype_keylen(k->type);
	d->yes = CK_TRUE;
	CK_ULONG n = dfi_hsm_secret_attrs(&d->head, k->master.kt, 0, !readable, for_bytes, d->t);
	if (!for_bytes) {
		d->t[n++] = (CK_ATTRIBUTE){ CKA_ENCRYPT, &d->yes, sizeof(d->yes) };
		d->t[n++] = (CK_ATTRIBUTE){ CKA_DECRYPT, &d->yes, sizeof(d->yes) };
		d->t[n++] = (CK_ATTRIBUTE){ CKA_SIGN, &d->yes, sizeof(d->yes) };
	}
	/* DES-family key types fix their length: CKA_VALUE_LEN is only for AES. */
	if (d->head.kt == CKK_AES)
		d->t[n++] = (CK_ATTRIBUTE){ CKA_VALUE_LEN, &d->vlen, sizeof(d->vlen) };
	d->n = n;
}

/* C_DeriveKey of k on its path (not HOST) into a new object. */
static CK_RV
derive_obj(dfi_hsm *h, CK_SESSION_HANDLE s, const struct hkey *k, CK_OBJECT_HANDLE master,
    const struct dtmpl *d, CK_OBJECT_HANDLE *out)
{
	CK_MECHANISM m;
	CK_KEY_DERIVATION_STRING_DATA sd;
	CK_AES_CBC_ENCRYPT_DATA_PARAMS cp;
	CK_SP800_108_COUNTER_FORMAT ctr = { CK_FALSE, 8 };
	CK_PRF_DATA_PARAM dp[2];
	CK_SP800_108_KDF_PARAMS kp;

	switch (k->path) {
	case DFI_HSM_PATH_ECB:
		sd = (CK_KEY_DERIVATION_STRING_DATA){ dfi_unconst(k->data), k->datalen };
		m = (CK_MECHANISM){ k->type == DFI_KT_AES128 ? CKM_AES_ECB_ENCRYPT_DATA
							    : CKM_DES3_ECB_ENCRYPT_DATA,
			&sd, sizeof(sd) };
		break;
	case DFI_HSM_PATH_CBC:
		memcpy(cp.iv, k->iv, sizeof(cp.iv));
		cp.data_params = dfi_unconst(k->b2);
		cp.length = sizeof(k->b2);
		m = (CK_MECHANISM){ CKM_AES_CBC_ENCRYPT_DATA, &cp, sizeof(cp) };
		break;
	case DFI_HSM_PATH_SP800_108:
		/* PRF input for iteration 1: the counter 0x01, then M. */
		dp[0] = (CK_PRF_DATA_PARAM){ CK_SP800_108_ITERATION_VARIABLE, &ctr, sizeof(ctr) };
		dp[1] = (CK_PRF_DATA_PARAM){ CK_SP800_108_BYTE_ARRAY, dfi_unconst(k->m), k->mlen };
		kp = (CK_SP800_108_KDF_PARAMS){ CKM_AES_CMAC, 2, dp, 0, NULL };
		m = (CK_MECHANISM){ CKM_SP800_108_COUNTER_KDF, &kp, sizeof(kp) };
		break;
	default:
		return CKR_MECHANISM_INVALID;
	}
	return P11(h, C_DeriveKey, s, &m, master, dfi_unconst(d->t), d->n, out);
}

CK_RV
dfi_hkey_host_bytes(dfi_hsm *h, CK_SESSION_HANDLE s, struct hkey *k, CK_OBJECT_HANDLE master,
    uint8_t *out)
{
	return dfi_hsm_block_encrypt(h, s, master, k->enc_mech, k->type, k->data, out, k->datalen);
}

/* HOST: K into locked memory, then a session key object from it. */
static CK_RV
host_obj(dfi_hsm *h, CK_SESSION_HANDLE s, struct hkey *k, CK_OBJECT_HANDLE master,
    CK_OBJECT_HANDLE *out)
{
	uint8_t *key = dfi_hsm_scratch_get(h, DFI_MAX_KEY_LEN);
	if (key == NULL)
		return CKR_HOST_MEMORY;
	CK_RV rv = dfi_hkey_host_bytes(h, s, k, master, key);
	if (rv == CKR_OK) {
		struct dtmpl d;
		dtmpl_init(&d, k, 0, 0);
		CK_ATTRIBUTE t[12];
		memcpy(t, d.t, d.n * sizeof(t[0]));
		/* C_CreateObject takes the length from CKA_VALUE: no CKA_VALUE_LEN. */
		CK_ULONG n = d.head.kt == CKK_AES ? d.n - 1 : d.n;
		t[n++] = (CK_ATTRIBUTE){ CKA_VALUE, key, k->datalen };
		rv = P11(h, C_CreateObject, s, t, n, out);
	}
	dfi_hsm_scratch_put(h, key, DFI_MAX_KEY_LEN);
	return rv;
}

CK_RV
dfi_hkey_derive(dfi_hsm *h, CK_SESSION_HANDLE s, struct hkey *k, CK_OBJECT_HANDLE master,
    CK_OBJECT_HANDLE *out)
{
	if (k->path == DFI_HSM_PATH_HOST)
		return host_obj(h, s, k, master, out);
	struct dtmpl d;
	dtmpl_init(&d, k, 0, 0);
	return derive_obj(h, s, k, master, &d, out);
}

/* ---- ChangeKey bytes ------------------------------------------------------ */

struct bytes_arg {
	struct hkey *k;
	uint8_t *key;  /* locked, DFI_MAX_KEY_LEN */
	uint8_t *wrap; /* locked scratch, 64 bytes */
	enum dfi_sp800_bytes how;
};

static CK_RV
op_host_bytes(dfi_hsm *h, CK_SESSION_HANDLE s, void *argp)
{
	struct bytes_arg *a = argp;
	CK_OBJECT_HANDLE master;
	CK_RV rv = dfi_hsm_ref_get(h, s, &a->k->master, &master);
	if (rv == CKR_OK)
		rv = dfi_hkey_host_bytes(h, s, a->k, master, a->key);
	return rv;
}

/* Wraps x under a fresh session key w and decrypts the result with w into
 * a->key: the token's own cipher unwraps it, straight into locked memory. */
static CK_RV
wrap_out(dfi_hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE x, struct bytes_arg *a)
{
	static const uint8_t zero_iv[16];
	static const struct {
		enum dfi_mech m;
		CK_MECHANISM_TYPE type;
		int iv;
	} mechs[] = { { DFI_M_AES_ECB, CKM_AES_ECB, 0 }, { DFI_M_AES_CBC, CKM_AES_CBC, 1 },
		{ DFI_M_AES_KEY_WRAP, CKM_AES_KEY_WRAP, 0 } };
	struct dfi_hsm_secret head;
	CK_ULONG vlen = 16;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE t[DFI_HSM_SECRET_NATTRS + 4];
	CK_ULONG n = dfi_hsm_secret_attrs(&head, CKK_AES, 0, 1, 0, t);
	t[n++] = (CK_ATTRIBUTE){ CKA_VALUE_LEN, &vlen, sizeof(vlen) };
	t[n++] = (CK_ATTRIBUTE){ CKA_WRAP, &yes, sizeof(yes) };
	t[n++] = (CK_ATTRIBUTE){ CKA_DECRYPT, &yes, sizeof(yes) };
	t[n++] = (CK_ATTRIBUTE){ CKA_ENCRYPT, &no, sizeof(no) };
	CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_OBJECT_HANDLE w;
	CK_RV rv = P11(h, C_GenerateKey, s, &gen, t, n, &w);
	if (rv != CKR_OK)
		return rv;
	rv = CKR_MECHANISM_INVALID;
	size_t keylen = a->k->datalen;
	for (size_t i = 0; rv != CKR_OK && i < DFI_NELEM(mechs); i++) {
		if (!dfi_hsm_mech_ok(h, mechs[i].m, CKF_WRAP | CKF_DECRYPT))
			continue;
		CK_MECHANISM m = { mechs[i].type, mechs[i].iv ? dfi_unconst(zero_iv) : NULL,
			mechs[i].iv ? sizeof(zero_iv) : 0 };
		CK_ULONG wl = 64, out = DFI_MAX_KEY_LEN;
		rv = P11(h, C_WrapKey, s, &m, w, x, a->wrap, &wl);
		/* wl is what C_Decrypt reads from the 64-byte scratch. */
		if (rv == CKR_OK && wl > 64)
			rv = dfi_hsm_bad_answer(h, "C_WrapKey reported %lu bytes into a buffer of 64",
			    (unsigned long)wl);
		if (rv == CKR_OK)
			rv = P11(h, C_DecryptInit, s, &m, w);
		if (rv == CKR_OK)
			rv = P11(h, C_Decrypt, s, a->wrap, wl, a->key, &out);
		if (rv == CKR_OK)
			rv = dfi_hsm_check_len(h, "C_Decrypt (unwrapping a ChangeKey key)", out, keylen);
	}
	(void)P11(h, C_DestroyObject, s, w);
	return rv;
}

/* NSS: the same derivation into a data object (CKO_DATA), read at once. */
static CK_RV
nss_data_obj(dfi_hsm *h, CK_SESSION_HANDLE s, const struct hkey *k, CK_OBJECT_HANDLE master,
    CK_OBJECT_HANDLE *out)
{
	CK_SP800_108_COUNTER_FORMAT ctr = { CK_FALSE, 8 };
	CK_PRF_DATA_PARAM dp[2] = {
		{ CK_SP800_108_ITERATION_VARIABLE, &ctr, sizeof(ctr) },
		{ CK_SP800_108_BYTE_ARRAY, dfi_unconst(k->m), k->mlen },
	};
	CK_SP800_108_KDF_PARAMS kp = { CKM_AES_CMAC, 2, dp, 0, NULL };
	CK_MECHANISM m = { dfi_hsm_mech_type(DFI_M_NSS_SP800_DATA), &kp, sizeof(kp) };
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ULONG vlen = k->datalen;
	CK_BBOOL no = CK_FALSE;
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_TOKEN, &no, sizeof(no) },
		{ CKA_VALUE_LEN, &vlen, sizeof(vlen) } };
	return P11(h, C_DeriveKey, s, &m, master, t, 3, out);
}

static CK_RV
op_derived_bytes(dfi_hsm *h, CK_SESSION_HANDLE s, void *argp)
{
	struct bytes_arg *a = argp;
	CK_OBJECT_HANDLE master, x;
	CK_RV rv = dfi_hsm_ref_get(h, s, &a->k->master, &master);
	if (rv != CKR_OK)
		return rv;
	if (a->how == DFI_SP800_BYTES_NSS_DATA) {
		rv = nss_data_obj(h, s, a->k, master, &x);
	} else {
		struct dtmpl d;
		dtmpl_init(&d, a->k, 1, a->how == DFI_SP800_BYTES_EXTRACTABLE);
		rv = derive_obj(h, s, a->k, master, &d, &x);
	}
	if (rv != CKR_OK)
		return rv;
	if (a->how == DFI_SP800_BYTES_WRAP) {
		rv = wrap_out(h, s, x, a);
	} else {
		CK_ATTRIBUTE v = { CKA_VALUE, a->key, DFI_MAX_KEY_LEN };
		rv = dfi_hsm_getattrs(h, s, x, &v, 1);
		if (rv == CKR_OK)
			rv = dfi_hsm_check_len(h, "C_GetAttributeValue(CKA_VALUE)", v.ulValueLen,
			    a->k->datalen);
	}
	(void)P11(h, C_DestroyObject, s, x);
	return rv;
}

/* The SP 800-108 path's ChangeKey bytes, from the derived object only:
 * wrapped under an ephemeral key, else a readable copy where the token's
 * policy allows only that, else NSS's data-object derivation. The first
 * way that works is kept for the handle. */
static dfi_err
sp800_bytes(struct hkey *k, struct bytes_arg *a)
{
	static const char *const what[] = {
		[DFI_SP800_BYTES_WRAP] = "C_WrapKey",
		[DFI_SP800_BYTES_EXTRACTABLE] = "C_GetAttributeValue(CKA_VALUE)",
		[DFI_SP800_BYTES_NSS_DATA] = "C_DeriveKey(CKM_NSS_SP800_108_COUNTER_KDF_DERIVE_DATA)",
	};
	dfi_hsm *h = k->h;
	int known = atomic_load(&h->sp800_bytes);
	if (known == DFI_SP800_BYTES_NONE) {
		return dfi_hsm_set_detail(h, DFI_E_HSM_MECHANISM, "the token lets no per-card key "
		    "derived on the sp800-108 path out for a ChangeKey: use another derivation path");
	}
	dfi_err e = DFI_E_HSM_MECHANISM;
	for (int how = known != 0 ? known : DFI_SP800_BYTES_WRAP; how < DFI_SP800_BYTES_NONE; how++) {
		if (how == DFI_SP800_BYTES_NSS_DATA && !dfi_hsm_mech_ok(h, DFI_M_NSS_SP800_DATA, CKF_DERIVE))
			continue;
		a->how = (enum dfi_sp800_bytes)how;
		e = dfi_hsm_run(h, what[how], op_derived_bytes, a);
		if (e == DFI_OK) {
			atomic_store(&h->sp800_bytes, how);
			return DFI_OK;
		}
		/* A way that worked before: its failure now is the answer. */
		if (known != 0 || (e != DFI_E_HSM_MECHANISM && e != DFI_E_HSM_KEY_TYPE &&
				      e != DFI_E_HSM_GENERAL && e != DFI_E_INVALID_ARG))
			return e;
	}
	atomic_store(&h->sp800_bytes, DFI_SP800_BYTES_NONE);
	return e;
}

dfi_err
dfi_hkey_with_bytes(void *ctx, dfi_cardkey_bytes_fn fn, void *arg)
{
	struct hkey *k = ctx;
	if (k->datalen == 0)
		return DFI_E_UNSUPPORTED;
	uint8_t *mem = dfi_hsm_scratch_get(k->h, DFI_MAX_KEY_LEN + 64);
	if (mem == NULL)
		return DFI_E_NOMEM;
	struct bytes_arg a = { k, mem, mem + DFI_MAX_KEY_LEN, DFI_SP800_BYTES_UNKNOWN };
	dfi_err e;
	if (k->path != DFI_HSM_PATH_SP800_108) {
		/* The master encrypts the last AN10922 block: it may encrypt on
		 * these paths anyway. */
		e = dfi_hsm_run(k->h, "C_Encrypt", op_host_bytes, &a);
	} else {
		/* From the derived object: never C_Encrypt with the master. */
		e = sp800_bytes(k, &a);
	}
	if (e == DFI_OK)
		e = fn(arg, mem, k->datalen);
	dfi_hsm_scratch_put(k->h, mem, DFI_MAX_KEY_LEN + 64);
	return e;
}
