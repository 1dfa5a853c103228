/*
 * Finding keys by pkcs11: URI, key check values, listing and the key
 * ceremony's import. Master keys are only ever referred to by handle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/uri.h>

#include "dfissue/util.h"
#include "hsm_int.h"
#include "core/unconst.h"
#include "core/nelem.h"

CK_RV
dfi_hsm_cipher(dfi_hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, int encrypt,
    CK_MECHANISM_TYPE mech, const uint8_t *iv, size_t ivlen, const uint8_t *in, uint8_t *out,
    size_t len)
{
	CK_MECHANISM m = { mech, dfi_unconst(iv), ivlen };
	CK_ULONG outlen = len;
	CK_RV rv;
	if (encrypt) {
		rv = P11(h, C_EncryptInit, s, &m, key);
		if (rv == CKR_OK)
			rv = P11(h, C_Encrypt, s, dfi_unconst(in), len, out, &outlen);
	} else {
		rv = P11(h, C_DecryptInit, s, &m, key);
		if (rv == CKR_OK)
			rv = P11(h, C_Decrypt, s, dfi_unconst(in), len, out, &outlen);
	}
	if (rv == CKR_OK)
		rv = dfi_hsm_check_len(h, encrypt ? "C_Encrypt" : "C_Decrypt", outlen, len);
	return rv;
}

CK_RV
dfi_hsm_sign(dfi_hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, CK_MECHANISM_TYPE mech,
    const uint8_t *msg, size_t len, uint8_t *sig, CK_ULONG *siglen)
{
	CK_MECHANISM m = { mech, NULL, 0 };
	CK_RV rv = P11(h, C_SignInit, s, &m, key);
	if (rv != CKR_OK)
		return rv;
	/* An empty message still gets a valid pointer: modules may refuse NULL. */
	uint8_t dummy = 0;
	return P11(h, C_Sign, s, len > 0 ? (CK_BYTE *)dfi_unconst(msg) : &dummy, len, sig, siglen);
}

/* ---- object search ------------------------------------------------------ */

struct find_arg {
	CK_ATTRIBUTE *tmpl;
	CK_ULONG ntmpl;
	CK_OBJECT_HANDLE *objs;
	size_t max;
	size_t n;
};

static CK_RV
op_find(dfi_hsm *h, CK_SESSION_HANDLE s, void *argp)
{
	struct find_arg *a = argp;
	CK_RV rv = P11(h, C_FindObjectsInit, s, a->tmpl, a->ntmpl);
	if (rv != CKR_OK)
		return rv;
	CK_ULONG got = 0;
	rv = P11(h, C_FindObjects, s, a->objs, a->max, &got);
	CK_RV rv2 = P11(h, C_FindObjectsFinal, s);
	if (rv == CKR_OK)
		rv = rv2;
	if (rv == CKR_OK)
		rv = dfi_hsm_check_count(h, "C_FindObjects", got, a->max);
	a->n = rv == CKR_OK ? got : 0;
	return rv;
}

dfi_err
dfi_hsm_find(dfi_hsm *h, const char *uristr, CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE *objs,
    size_t max, size_t *n)
{
	if (h == NULL || uristr == NULL || objs == NULL || n == NULL)
		return DFI_E_INVALID_ARG;
	*n = 0;
	P11KitUri *uri = p11_kit_uri_new();
	if (uri == NULL)
		return DFI_E_NOMEM;
	dfi_err e = DFI_OK;
	CK_ATTRIBUTE *tmpl = NULL;
	char why[300];
	if ((e = dfi_hsm_uri_parse(uristr, "key", uri, why, sizeof(why))) != DFI_OK) {
		if (e == DFI_E_HSM_URI)
			dfi_hsm_detail_set(h, e, "'%s': %s", uristr, why);
		goto out;
	}
	if (!p11_kit_uri_match_token_info(uri, &h->token)) {
		e = dfi_hsm_set_detail(h, DFI_E_HSM_TOKEN_NOT_FOUND,
		    "'%s' names another token than the open one ('%s')", uristr, h->token_label);
		goto out;
	}
	CK_ULONG na = 0;
	CK_ATTRIBUTE *attrs = p11_kit_uri_get_attributes(uri, &na);
	tmpl = calloc(na + 1, sizeof(*tmpl));
	if (tmpl == NULL) {
		e = DFI_E_NOMEM;
		goto out;
	}
	CK_ULONG nt = 0;
	int have_class = 0;
	for (CK_ULONG i = 0; i < na; i++) {
		if (attrs[i].type == CKA_CLASS) {
			CK_OBJECT_CLASS c;
			if (attrs[i].ulValueLen != sizeof(c)) {
				e = DFI_E_HSM_URI;
				goto out;
			}
			memcpy(&c, attrs[i].pValue, sizeof(c));
			if (cls != (CK_OBJECT_CLASS)-1 && c != cls) {
				e = dfi_hsm_set_detail(h, DFI_E_HSM_KEY_TYPE,
				    "'%s': wrong object type for this use", uristr);
				goto out;
			}
			have_class = 1;
		}
		tmpl[nt++] = attrs[i];
	}
	if (!have_class && cls != (CK_OBJECT_CLASS)-1) {
		tmpl[nt].type = CKA_CLASS;
		tmpl[nt].pValue = &cls;
		tmpl[nt].ulValueLen = sizeof(cls);
		nt++;
	}
	struct find_arg a = { tmpl, nt, objs, max, 0 };
	e = dfi_hsm_run(h, "C_FindObjects", op_find, &a);
	*n = a.n;
out:
	free(tmpl);
	p11_kit_uri_free(uri);
	return e;
}

/* ---- one key ------------------------------------------------------------ */

CK_RV
dfi_hsm_block_encrypt(dfi_hsm *h, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, CK_MECHANISM_TYPE mech,
    dfi_keytype t, const uint8_t *in, uint8_t *out, size_t len)
{
	if (mech == CKM_AES_ECB || mech == CKM_DES3_ECB)
		return dfi_hsm_cipher(h, s, key, 1, mech, NULL, 0, in, out, len);
	/* CBC with a zero IV over one block is ECB of that block. */
	static const uint8_t zero_iv[DFI_MAX_BLOCK];
	size_t bl = dfi_keytype_blocklen(t);
	CK_RV rv = CKR_OK;
	for (size_t i = 0; rv == CKR_OK && i < len; i += bl)
		rv = dfi_hsm_cipher(h, s, key, 1, mech, zero_iv, bl, in + i, out + i, bl);
	return rv;
}

struct ecb_arg {
	struct dfi_hsm_ref *key;
	CK_MECHANISM_TYPE mech;
	dfi_keytype type;
	const uint8_t *in;
	uint8_t *out;
	size_t len;
};

static CK_RV
op_ecb(dfi_hsm *h, CK_SESSION_HANDLE s, void *argp)
{
	struct ecb_arg *a = argp;
	CK_OBJECT_HANDLE key;
	CK_RV rv = dfi_hsm_ref_get(h, s, a->key, &key);
	if (rv != CKR_OK)
		return rv;
	return dfi_hsm_block_encrypt(h, s, key, a->mech, a->type, a->in, a->out, a->len);
}

dfi_err
dfi_hsm_ecb_encrypt(dfi_hsm *h, struct dfi_hsm_ref *key, CK_MECHANISM_TYPE mech, dfi_keytype t,
    const uint8_t *in, uint8_t *out, size_t len)
{
	if (mech == 0)
		return DFI_E_HSM_KEY_TYPE;
	struct ecb_arg a = { key, mech, t, in, out, len };
	return dfi_hsm_run(h, "C_Encrypt", op_ecb, &a);
}

static CK_RV
op_destroy_obj(dfi_hsm *h, CK_SESSION_HANDLE s, void *argp)
{
	return P11(h, C_DestroyObject, s, *(CK_OBJECT_HANDLE *)argp);
}

void
dfi_hsm_destroy(dfi_hsm *h, CK_OBJECT_HANDLE obj)
{
	char keep[DFI_HSM_DETAIL_MAX];
	/* Cleanup must not hide the failure being reported, nor the error
	 * its detail is for. */
	dfi_err e = dfi_hsm_detail_get(h, keep, sizeof(keep));
	(void)dfi_hsm_run(h, "C_DestroyObject", op_destroy_obj, &obj);
	dfi_hsm_detail_put(h, e, keep);
}

struct keyattr_arg {
	CK_OBJECT_HANDLE obj;
	struct dfi_hsm_ref ref;
	CK_KEY_TYPE kt;
	CK_ULONG vlen; /* 0 when the token does not report CKA_VALUE_LEN */
	CK_BBOOL sensitive, extractable;
	char label[65];
	struct dfi_hsm_key_caps caps;
	uint8_t check[3];
	int have_check;
};

static CK_RV
op_keyattr(dfi_hsm *h, CK_SESSION_HANDLE s, void *argp)
{
	struct keyattr_arg *a = argp;
	CK_BBOOL enc = CK_FALSE, der = CK_FALSE;
	CK_ATTRIBUTE t[] = {
		{ CKA_KEY_TYPE, &a->kt, sizeof(a->kt) },
		{ CKA_SENSITIVE, &a->sensitive, sizeof(a->sensitive) },
		{ CKA_EXTRACTABLE, &a->extractable, sizeof(a->extractable) },
		{ CKA_LABEL, a->label, sizeof(a->label) - 1 },
		{ CKA_VALUE_LEN, &a->vlen, sizeof(a->vlen) },
		{ CKA_ENCRYPT, &enc, sizeof(enc) },
		{ CKA_DERIVE, &der, sizeof(der) },
		{ CKA_ALLOWED_MECHANISMS, a->caps.allowed, sizeof(a->caps.allowed) },
		{ CKA_CHECK_VALUE, a->check, sizeof(a->check) },
	};
	/* One call: PKCS#11 (C_GetAttributeValue) has a token fill every
	 * attribute it has and mark the others unavailable, so absent optional
	 * ones are no error; the first three must be there. */
	CK_RV rv = dfi_hsm_getattrs(h, s, a->obj, t, DFI_NELEM(t));
	if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE &&
	    rv != CKR_BUFFER_TOO_SMALL)
		return rv;
#define HAVE(i) (t[i].ulValueLen != CK_UNAVAILABLE_INFORMATION)
	if (!HAVE(0) || !HAVE(1) || !HAVE(2))
		return rv != CKR_OK ? rv : CKR_ATTRIBUTE_TYPE_INVALID;
	/* A key type or flag of another size is no such value. */
	if (!dfi_hsm_attr_is(&t[0], sizeof(a->kt)) || !dfi_hsm_attr_is(&t[1], sizeof(CK_BBOOL)) ||
	    !dfi_hsm_attr_is(&t[2], sizeof(CK_BBOOL)))
		return dfi_hsm_bad_answer(h, "C_GetAttributeValue gave CKA_KEY_TYPE, CKA_SENSITIVE, "
		    "CKA_EXTRACTABLE in %lu, %lu, %lu bytes", (unsigned long)t[0].ulValueLen,
		    (unsigned long)t[1].ulValueLen, (unsigned long)t[2].ulValueLen);
	a->label[HAVE(3) && t[3].ulValueLen < sizeof(a->label) ? t[3].ulValueLen : 0] = '\0';
	dfi_hsm_printable(a->label); /* it is printed, and recorded in the journal */
	if (!dfi_hsm_attr_is(&t[4], sizeof(a->vlen)))
		a->vlen = 0;
	a->caps.encrypt = HAVE(5) && t[5].ulValueLen == 1 && enc;
	a->caps.derive = HAVE(6) && t[6].ulValueLen == 1 && der;
	CK_ULONG na = HAVE(7) && t[7].ulValueLen <= sizeof(a->caps.allowed) ? t[7].ulValueLen : 0;
	/* Absent or empty: no restriction (PKCS#11 2.40 §4.4). */
	a->caps.have_allowed = na > 0 && na % sizeof(CK_MECHANISM_TYPE) == 0;
	a->caps.nallowed = a->caps.have_allowed ? na / sizeof(CK_MECHANISM_TYPE) : 0;
	a->have_check = HAVE(8) && t[8].ulValueLen == 3;
#undef HAVE
	return dfi_hsm_ref_init(h, s, a->obj, &a->ref);
}

/* Secret key types dfissue derives from. An AES key whose token does not
 * report CKA_VALUE_LEN (opencryptoki's soft token, for imported keys) is
 * taken as AES-128: DESFire has no other AES size, and the key ceremony's
 * check through the derivation path (import.c) proves the length of every
 * key it creates. */
static int
keytype_from_ck(CK_KEY_TYPE kt, CK_ULONG vlen, dfi_keytype *out)
{
	switch (kt) {
	case CKK_AES:
		if (vlen != 16 && vlen != 0)
			return 0;
		*out = DFI_KT_AES128;
		return 1;
	case CKK_DES2:
		*out = DFI_KT_2K3DES;
		return 1;
	case CKK_DES3:
		*out = DFI_KT_3K3DES;
		return 1;
	default:
		return 0;
	}
}

dfi_err
dfi_hsm_key_from_object(dfi_hsm *h, CK_OBJECT_HANDLE obj, const char *name, dfi_hsm_key **out)
{
	struct keyattr_arg ka = { .obj = obj };
	dfi_err e = dfi_hsm_run(h, "C_GetAttributeValue", op_keyattr, &ka);
	if (e != DFI_OK)
		return e;
	dfi_keytype t;
	if (!keytype_from_ck(ka.kt, ka.vlen, &t)) {
		if (ka.kt == CKK_AES)
			return dfi_hsm_set_detail(h, DFI_E_HSM_KEY_TYPE,
			    "'%s' is an AES-%lu key: DESFire keys are AES-128", name,
			    (unsigned long)ka.vlen * 8);
		return dfi_hsm_set_detail(h, DFI_E_HSM_KEY_TYPE,
		    "'%s' is not an AES-128, 2K3DES or 3K3DES key", name);
	}
	if (ka.extractable || !ka.sensitive) {
		if (!h->allow_insecure_keys) {
			return dfi_hsm_set_detail(h, DFI_E_HSM_KEY_INSECURE, "'%s' is %s: refused", name,
			    ka.extractable ? "extractable" : "not sensitive");
		}
		dfi_hsm_log(h, DFI_LOG_WARNING, "using insecure key '%s' (%s): test tokens only",
		    ka.label, ka.extractable ? "extractable" : "not sensitive");
	}
	dfi_hsm_key *k = calloc(1, sizeof(*k));
	if (k == NULL)
		return DFI_E_NOMEM;
	k->h = h;
	k->ref = ka.ref;
	k->type = t;
	k->ck_type = ka.kt;
	memcpy(k->label, ka.label, sizeof(k->label));
	dfi_hsm_key_choose(h, k, &ka.caps);
	if (k->enc_mech != 0) {
		static const uint8_t zero[DFI_MAX_BLOCK];
		size_t bl = dfi_keytype_blocklen(t);
		e = dfi_hsm_ecb_encrypt(h, &k->ref, k->enc_mech, t, zero, k->l, bl);
		if (e != DFI_OK) {
			free(k);
			return e;
		}
		k->have_l = 1;
		memcpy(k->kcv, k->l, 3);
		k->have_kcv = 1;
	} else if (ka.have_check) {
		memcpy(k->kcv, ka.check, 3);
		k->have_kcv = 1;
	}
	*out = k;
	return DFI_OK;
}

dfi_err
dfi_hsm_key_find(dfi_hsm *h, const char *uri, dfi_hsm_key **out)
{
	if (h == NULL || uri == NULL || out == NULL)
		return DFI_E_INVALID_ARG;
	*out = NULL;
	CK_OBJECT_HANDLE objs[2];
	size_t n;
	dfi_err e = dfi_hsm_find(h, uri, CKO_SECRET_KEY, objs, 2, &n);
	if (e != DFI_OK)
		return e;
	if (n == 0) {
		return dfi_hsm_set_detail(h, DFI_E_HSM_KEY_NOT_FOUND,
		    "no secret key matches '%s' on token '%s'", uri, h->token_label);
	}
	if (n > 1) {
		return dfi_hsm_set_detail(h, DFI_E_HSM_KEY_AMBIGUOUS, "several secret keys match '%s'",
		    uri);
	}
	dfi_hsm_key *k = NULL;
	e = dfi_hsm_key_from_object(h, objs[0], uri, &k);
	if (e != DFI_OK)
		return e;
	/* A base key no path can serve is refused here, before any card. */
	if (k->paths == 0) {
		e = dfi_hsm_set_detail(h, DFI_E_HSM_MECHANISM, "'%s': no derivation path: %s", uri,
		    k->why);
		dfi_hsm_key_free(k);
		return e;
	}
	*out = k;
	return DFI_OK;
}

void
dfi_hsm_key_free(dfi_hsm_key *k)
{
	if (k == NULL)
		return;
	dfi_wipe(k, sizeof(*k));
	free(k);
}

/* error.h, "NULL and unknown values": 0 and "" for no key. */
dfi_keytype dfi_hsm_key_type(const dfi_hsm_key *k) { return k != NULL ? k->type : (dfi_keytype)0; }
const char *dfi_hsm_key_label(const dfi_hsm_key *k) { return k != NULL ? k->label : ""; }

dfi_err
dfi_hsm_kcv(dfi_hsm *h, const dfi_hsm_key *key, uint8_t kcv[3])
{
	if (h == NULL || key == NULL || kcv == NULL)
		return DFI_E_INVALID_ARG;
	if (key->h != h)
		return dfi_hsm_bad_arg(h, "key '%s' was found on another HSM handle", key->label);
	if (!key->have_kcv) {
		return dfi_hsm_set_detail(h, DFI_E_UNSUPPORTED,
		    "'%s' may not encrypt and the token reports no CKA_CHECK_VALUE", key->label);
	}
	/* Computed in the HSM when the key was found. */
	memcpy(kcv, key->kcv, 3);
	return DFI_OK;
}

dfi_err
dfi_hsm_cardkey_kcv(const dfi_cardkey *k, uint8_t kcv[3])
{
	if (k == NULL || kcv == NULL)
		return DFI_E_INVALID_ARG;
	uint8_t zero[DFI_MAX_BLOCK] = { 0 }, out[DFI_MAX_BLOCK];
	size_t bl = dfi_keytype_blocklen(dfi_cardkey_type(k));
	dfi_err e = dfi_cardkey_cipher(k, 1, NULL, zero, out, bl);
	if (e == DFI_OK)
		memcpy(kcv, out, 3);
	return e;
}

/* ---- listing ------------------------------------------------------------ */

struct list_arg {
	struct dfi_hsm_key_info *info;
	CK_OBJECT_HANDLE obj;
};

static const char *
ck_type_name(CK_KEY_TYPE kt)
{
	switch (kt) {
	case CKK_AES: return "aes";
	case CKK_DES: return "des";
	case CKK_DES2: return "2k3des";
	case CKK_DES3: return "3k3des";
	case CKK_EC: return "ec";
	case CKK_EC_EDWARDS: return "ec-edwards";
	case CKK_RSA: return "rsa";
	case CKK_GENERIC_SECRET: return "generic";
	default: return "other";
	}
}

static CK_RV
op_info(dfi_hsm *h, CK_SESSION_HANDLE s, void *argp)
{
	struct list_arg *a = argp;
	struct dfi_hsm_key_info *ki = a->info;
	CK_KEY_TYPE kt = (CK_KEY_TYPE)-1;
	CK_BBOOL sens = CK_FALSE, extr = CK_FALSE, tok = CK_FALSE, enc = CK_FALSE, der = CK_FALSE;
	CK_ULONG vlen = 0;
	uint8_t id[64], check[3];
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &ki->ck_class, sizeof(ki->ck_class) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_LABEL, ki->label, sizeof(ki->label) - 1 },
		{ CKA_ID, id, sizeof(id) },
		{ CKA_SENSITIVE, &sens, sizeof(sens) },
		{ CKA_EXTRACTABLE, &extr, sizeof(extr) },
		{ CKA_TOKEN, &tok, sizeof(tok) },
		{ CKA_ENCRYPT, &enc, sizeof(enc) },
		{ CKA_VALUE_LEN, &vlen, sizeof(vlen) },
		{ CKA_DERIVE, &der, sizeof(der) },
		{ CKA_CHECK_VALUE, check, sizeof(check) },
	};
	size_t nt = DFI_NELEM(t);
	CK_RV rv = dfi_hsm_getattrs(h, s, a->obj, t, nt);
	if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE &&
	    rv != CKR_BUFFER_TOO_SMALL)
		return rv;
	/* Attributes a class lacks come back unavailable: keep the defaults. */
	snprintf(ki->cls, sizeof(ki->cls), "%s",
	    ki->ck_class == CKO_SECRET_KEY    ? "secret"
	    : ki->ck_class == CKO_PRIVATE_KEY ? "private"
					      : "public");
	if (t[2].ulValueLen == CK_UNAVAILABLE_INFORMATION || t[2].ulValueLen >= sizeof(ki->label))
		ki->label[0] = '\0';
	else
		ki->label[t[2].ulValueLen] = '\0';
	dfi_hsm_printable(ki->label);
	ki->id_len = 0;
	if (t[3].ulValueLen != CK_UNAVAILABLE_INFORMATION && t[3].ulValueLen <= sizeof(id)) {
		ki->id_len = t[3].ulValueLen > sizeof(ki->id) ? sizeof(ki->id) : t[3].ulValueLen;
		memcpy(ki->id, id, ki->id_len);
	}
	if (!dfi_hsm_attr_is(&t[1], sizeof(kt)))
		kt = (CK_KEY_TYPE)-1;
	snprintf(ki->type, sizeof(ki->type), "%s", ck_type_name(kt));
	ki->sensitive = t[4].ulValueLen != CK_UNAVAILABLE_INFORMATION && sens;
	ki->extractable = t[5].ulValueLen != CK_UNAVAILABLE_INFORMATION && extr;
	ki->is_token = t[6].ulValueLen != CK_UNAVAILABLE_INFORMATION && tok;
	ki->value_len = dfi_hsm_attr_is(&t[8], sizeof(vlen)) ? vlen : 0;
	if (kt == CKK_DES2)
		ki->value_len = 16;
	else if (kt == CKK_DES3)
		ki->value_len = 24;
	ki->has_kcv = 0;
	ki->encrypt = t[7].ulValueLen != CK_UNAVAILABLE_INFORMATION && enc;
	ki->derive = t[9].ulValueLen != CK_UNAVAILABLE_INFORMATION && der;
	dfi_keytype dt;
	if (ki->ck_class != CKO_SECRET_KEY || !keytype_from_ck(kt, ki->value_len, &dt))
		return CKR_OK;
	if (kt == CKK_AES && ki->value_len == 0)
		ki->value_len_unknown = 1;
	if (ki->encrypt) {
		/* ECB, else CBC with a zero IV: the same block. */
		static const uint8_t zero[DFI_MAX_BLOCK];
		uint8_t l[DFI_MAX_BLOCK];
		const int aes = dt == DFI_KT_AES128;
		CK_MECHANISM_TYPE m = dfi_hsm_mech_ok(h, aes ? DFI_M_AES_ECB : DFI_M_DES3_ECB, CKF_ENCRYPT)
		    ? (aes ? CKM_AES_ECB : CKM_DES3_ECB)
		    : (aes ? CKM_AES_CBC : CKM_DES3_CBC);
		if (dfi_hsm_block_encrypt(h, s, a->obj, m, dt, zero, l, dfi_keytype_blocklen(dt)) == CKR_OK) {
			memcpy(ki->kcv, l, 3);
			ki->has_kcv = 1;
		}
	}
	if (!ki->has_kcv && t[10].ulValueLen == sizeof(check)) {
		memcpy(ki->kcv, check, 3);
		ki->has_kcv = 1;
	}
	return CKR_OK;
}

dfi_err
dfi_hsm_key_list(dfi_hsm *h, const char *uri, struct dfi_hsm_key_info **out, size_t *n)
{
	if (h == NULL || out == NULL || n == NULL)
		return DFI_E_INVALID_ARG;
	*out = NULL;
	*n = 0;
	static const CK_OBJECT_CLASS classes[] = { CKO_SECRET_KEY, CKO_PRIVATE_KEY, CKO_PUBLIC_KEY };
	enum { MAXOBJ = 1024 };
	CK_OBJECT_HANDLE *objs = calloc(MAXOBJ, sizeof(*objs));
	if (objs == NULL)
		return DFI_E_NOMEM;
	size_t total = 0;
	dfi_err e = DFI_OK;
	for (size_t c = 0; c < 3 && e == DFI_OK; c++) {
		size_t got = 0;
		e = dfi_hsm_find(h, uri != NULL ? uri : "pkcs11:", classes[c], objs + total,
		    MAXOBJ - total, &got);
		if (e == DFI_E_HSM_KEY_TYPE) { /* the URI names another class */
			e = DFI_OK;
			got = 0;
		}
		total += got;
	}
	struct dfi_hsm_key_info *info = NULL;
	if (e == DFI_OK && total > 0) {
		info = calloc(total, sizeof(*info));
		if (info == NULL)
			e = DFI_E_NOMEM;
	}
	for (size_t i = 0; e == DFI_OK && i < total; i++) {
		struct list_arg a = { &info[i], objs[i] };
		e = dfi_hsm_run(h, "C_GetAttributeValue", op_info, &a);
	}
	free(objs);
	if (e != DFI_OK) {
		free(info);
		return e;
	}
	*out = info;
	*n = total;
	return DFI_OK;
}

/* ---- labels ------------------------------------------------------------- */

/* Builds "pkcs11:object=<label>" with the label percent-encoded by p11-kit. */
static dfi_err
label_uri(const char *label, CK_OBJECT_CLASS cls, char **out)
{
	P11KitUri *uri = p11_kit_uri_new();
	if (uri == NULL)
		return DFI_E_NOMEM;
	CK_ATTRIBUTE a[2] = {
		{ CKA_LABEL, dfi_unconst(label), strlen(label) },
		{ CKA_CLASS, &cls, sizeof(cls) },
	};
	int r = p11_kit_uri_set_attribute(uri, &a[0]);
	if (r == P11_KIT_URI_OK)
		r = p11_kit_uri_set_attribute(uri, &a[1]);
	if (r == P11_KIT_URI_OK)
		r = p11_kit_uri_format(uri, P11_KIT_URI_FOR_OBJECT, out);
	p11_kit_uri_free(uri);
	return r == P11_KIT_URI_OK ? DFI_OK : DFI_E_NOMEM;
}

dfi_err
dfi_hsm_secret_key_uri(const char *label, char **uri)
{
	if (label == NULL || uri == NULL)
		return DFI_E_INVALID_ARG;
	return label_uri(label, CKO_SECRET_KEY, uri);
}

dfi_err
dfi_hsm_label_unused(dfi_hsm *h, const char *label, CK_OBJECT_CLASS cls)
{
	char *u = NULL;
	dfi_err e = label_uri(label, cls, &u);
	if (e != DFI_OK)
		return e;
	CK_OBJECT_HANDLE o;
	size_t n = 0;
	e = dfi_hsm_find(h, u, cls, &o, 1, &n);
	free(u);
	if (e != DFI_OK)
		return e;
	if (n > 0) {
		return dfi_hsm_bad_arg(h, "a %s key labelled '%s' already exists",
		    cls == CKO_SECRET_KEY ? "secret" : "private", label);
	}
	return DFI_OK;
}
