/*
 * The key ceremony's import: a base key created with only the usages its
 * derivation path needs (issue 17: no CKA_DECRYPT, CKA_SIGN or CKA_VERIFY;
 * no CKA_ENCRYPT on the SP 800-108 path), checked through that path
 * against the host's computation from the same bytes, and destroyed again
 * when anything after its creation fails, so a retry finds no stale label.
 * Also the temporary session keys of dfi_hsm_selftest.
 */
#include <stdlib.h>
#include <string.h>

#include "dfissue/util.h"
#include "hsm_int.h"
#include "core/unconst.h"

/* A base-key template; every pointer refers into the struct itself, the
 * caller's value, label and id. */
struct ktmpl {
	struct dfi_hsm_secret head;
	CK_BBOOL yes, no, enc, der;
	CK_MECHANISM_TYPE mechs[4];
	CK_ATTRIBUTE t[18];
	CK_ULONG n;
	CK_ULONG allowed_at; /* index of CKA_ALLOWED_MECHANISMS, or n */
};

static void
ktmpl_init(struct ktmpl *k, dfi_hsm *h, dfi_keytype type, dfi_hsm_path path, unsigned usage,
    int token, const uint8_t *value, size_t len, const char *label, const uint8_t *id,
    size_t id_len)
{
	k->yes = CK_TRUE;
	k->no = CK_FALSE;
	/* Only what the path uses: SP 800-108 derives; ECB and CBC encrypt
	 * the first block and derive; HOST encrypts. */
	k->enc = path != DFI_HSM_PATH_SP800_108 ? CK_TRUE : CK_FALSE;
	k->der = path != DFI_HSM_PATH_HOST ? CK_TRUE : CK_FALSE;
	/* An SDM key used as it is (not diversified) by `sdm verify`: ECB
	 * decryption of the PICC data (AES mode), ECB encryption (the LRP
	 * plaintexts, a CMAC by CBC-MAC), CMAC (the SDM session keys). */
	const int sdm = (usage & DFI_HSM_USAGE_SDM) != 0;
	if (sdm)
		k->enc = CK_TRUE;
	CK_KEY_TYPE kt = type == DFI_KT_AES128 ? CKK_AES : type == DFI_KT_2K3DES ? CKK_DES2 : CKK_DES3;
	CK_ULONG n = dfi_hsm_secret_attrs(&k->head, kt, token, 1, 0, k->t);
	k->t[n++] = (CK_ATTRIBUTE){ CKA_ENCRYPT, &k->enc, sizeof(k->enc) };
	k->t[n++] = (CK_ATTRIBUTE){ CKA_DECRYPT, sdm ? &k->yes : &k->no, sizeof(k->no) };
	k->t[n++] = (CK_ATTRIBUTE){ CKA_SIGN, sdm ? &k->yes : &k->no, sizeof(k->no) };
	k->t[n++] = (CK_ATTRIBUTE){ CKA_VERIFY, &k->no, sizeof(k->no) };
	k->t[n++] = (CK_ATTRIBUTE){ CKA_DERIVE, &k->der, sizeof(k->der) };
	k->t[n++] = (CK_ATTRIBUTE){ CKA_WRAP, &k->no, sizeof(k->no) };
	k->t[n++] = (CK_ATTRIBUTE){ CKA_UNWRAP, &k->no, sizeof(k->no) };
	k->t[n++] = (CK_ATTRIBUTE){ CKA_LABEL, dfi_unconst(label), strlen(label) };
	k->t[n++] = (CK_ATTRIBUTE){ CKA_VALUE, dfi_unconst(value), len };
	if (id_len > 0)
		k->t[n++] = (CK_ATTRIBUTE){ CKA_ID, dfi_unconst(id), id_len };
	size_t nm = dfi_hsm_path_mechs(h, type, path, k->mechs, sizeof(k->mechs) / sizeof(k->mechs[0]));
	if (sdm && nm > 0) {
		static const CK_MECHANISM_TYPE more[] = { CKM_AES_ECB, CKM_AES_CMAC };
		for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++) {
			size_t j = 0;
			while (j < nm && k->mechs[j] != more[i])
				j++;
			if (j == nm && nm < sizeof(k->mechs) / sizeof(k->mechs[0]))
				k->mechs[nm++] = more[i];
		}
	}
	k->allowed_at = n;
	if (nm > 0)
		k->t[n++] = (CK_ATTRIBUTE){ CKA_ALLOWED_MECHANISMS, k->mechs, nm * sizeof(k->mechs[0]) };
	k->n = n;
}

struct create_arg {
	struct ktmpl *k;
	CK_OBJECT_HANDLE obj;
	int without_allowed; /* the token refused CKA_ALLOWED_MECHANISMS */
};

static CK_RV
op_create(dfi_hsm *h, CK_SESSION_HANDLE s, void *argp)
{
	struct create_arg *a = argp;
	CK_RV rv = P11(h, C_CreateObject, s, a->k->t, a->k->n, &a->obj);
	/* CKA_ALLOWED_MECHANISMS is PKCS#11 2.40: older tokens refuse it,
	 * not always with CKR_ATTRIBUTE_TYPE_INVALID (NSS's database says
	 * CKR_GENERAL_ERROR): any failure is retried once without it. */
	if (rv != CKR_OK && rv != CKR_SESSION_HANDLE_INVALID && rv != CKR_SESSION_CLOSED &&
	    rv != CKR_USER_NOT_LOGGED_IN && a->k->allowed_at < a->k->n) {
		a->without_allowed = 1;
		rv = P11(h, C_CreateObject, s, a->k->t, a->k->allowed_at, &a->obj);
	}
	return rv;
}

/* Checks obj (just created from value) through path: the AN10922 key of a
 * test M derived in the HSM must have the KCV the host computes. */
static dfi_err
check_created(dfi_hsm *h, CK_OBJECT_HANDLE obj, const char *name, dfi_keytype type,
    dfi_hsm_path path, const uint8_t *value)
{
	/* 16..31 bytes (the SP 800-108 path's range) for AES, at most 15 for
	 * the DES family; any M would do. */
	static const uint8_t m[20] = { 0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x01, 0x02, 0x03,
		'd', 'f', 'i', 's', 's', 'u', 'e', 'k', 'e', 'y' };
	size_t mlen = type == DFI_KT_AES128 ? sizeof(m) : 10;
	size_t bl = dfi_keytype_blocklen(type);
	dfi_hsm_key *k = NULL;
	dfi_cardkey *ck = NULL;
	uint8_t *want = dfi_secure_alloc(DFI_MAX_KEY_LEN + DFI_MAX_BLOCK);
	if (want == NULL)
		return DFI_E_NOMEM;
	uint8_t *blk = want + DFI_MAX_KEY_LEN, kcv[3];
	static const uint8_t zero[DFI_MAX_BLOCK];
	dfi_err e = dfi_hsm_key_from_object(h, obj, name, &k);
	if (e == DFI_OK && !(k->paths & (1u << path))) {
		e = dfi_hsm_set_detail(h, DFI_E_HSM_KEY_TYPE,
		    "'%s' was created for %s, but reads back without it: %s", name,
		    dfi_hsm_path_name(path), k->why);
	}
	/* The key's own KCV, where the token gives one, and the derived key's. */
	if (e == DFI_OK && k->have_kcv) {
		e = dfi_cipher(type, value, 1, NULL, zero, blk, bl);
		if (e == DFI_OK && memcmp(blk, k->kcv, 3) != 0) {
			e = dfi_hsm_set_detail(h, DFI_E_CRYPTO, "'%s': the token's KCV %02X%02X%02X "
			    "differs from the components' %02X%02X%02X", name, k->kcv[0], k->kcv[1],
			    k->kcv[2], blk[0], blk[1], blk[2]);
		}
	}
	if (e == DFI_OK)
		e = dfi_hsm_cardkey_on_path(h, k, type, m, mlen, 0, path, &ck);
	if (e == DFI_OK)
		e = dfi_hsm_cardkey_kcv(ck, kcv);
	if (e == DFI_OK)
		e = dfi_an10922_host(type, value, m, mlen, want);
	if (e == DFI_OK)
		e = dfi_cipher(type, want, 1, NULL, zero, blk, bl);
	if (e == DFI_OK && memcmp(blk, kcv, 3) != 0) {
		e = dfi_hsm_set_detail(h, DFI_E_CRYPTO, "'%s': a key derived on %s has KCV "
		    "%02X%02X%02X in the HSM, %02X%02X%02X on the host", name,
		    dfi_hsm_path_name(path), kcv[0], kcv[1], kcv[2], blk[0], blk[1], blk[2]);
	}
	dfi_cardkey_free(ck);
	dfi_hsm_key_free(k);
	dfi_secure_free(want, DFI_MAX_KEY_LEN + DFI_MAX_BLOCK);
	return e;
}

/* Creates the key on the token (token = 1) or as a session object, for
 * path p and the extra usages in usage. *obj receives the handle. */
static dfi_err
key_create(dfi_hsm *h, dfi_keytype type, const uint8_t *key, size_t keylen, const char *label,
    const uint8_t *id, size_t id_len, dfi_hsm_path p, unsigned usage, int token,
    CK_OBJECT_HANDLE *obj, int *without_allowed)
{
	struct ktmpl k;
	ktmpl_init(&k, h, type, p, usage, token, key, keylen, label, id, id_len);
	struct create_arg a = { &k, CK_INVALID_HANDLE, 0 };
	dfi_err e = dfi_hsm_run(h, "C_CreateObject", op_create, &a);
	*obj = a.obj;
	if (without_allowed != NULL)
		*without_allowed = a.without_allowed;
	return e;
}

dfi_err
dfi_hsm_key_create(dfi_hsm *h, dfi_keytype type, const uint8_t *key, size_t keylen,
    const char *label, const uint8_t *id, size_t id_len, dfi_hsm_path p, int token,
    CK_OBJECT_HANDLE *obj, int *without_allowed)
{
	return key_create(h, type, key, keylen, label, id, id_len, p, 0, token, obj,
	    without_allowed);
}

dfi_err
dfi_hsm_key_import_usage(dfi_hsm *h, dfi_keytype type, const uint8_t *key, size_t keylen,
    const char *label, const uint8_t *id, size_t id_len, dfi_hsm_path path, unsigned usage,
    dfi_hsm_path *used)
{
	if (h == NULL || key == NULL || label == NULL || (id == NULL && id_len > 0))
		return DFI_E_INVALID_ARG;
	if (label[0] == '\0')
		return dfi_hsm_bad_arg(h, "key import: the label is empty");
	if (type == DFI_KT_DES || keylen != dfi_keytype_keylen(type))
		return dfi_hsm_bad_arg(h, "key import: %zu key bytes for a %s key (single DES is not imported)",
		    keylen, dfi_keytype_name(type));
	if ((unsigned)path >= DFI_HSM_PATH_COUNT)
		return dfi_hsm_bad_arg(h, "key import: derivation path %u does not exist", (unsigned)path);
	if ((usage & ~(unsigned)DFI_HSM_USAGE_SDM) != 0)
		return dfi_hsm_bad_arg(h, "key import: unknown usage bits 0x%x", usage);
	if ((usage & DFI_HSM_USAGE_SDM) && type != DFI_KT_AES128)
		return dfi_hsm_bad_arg(h, "key import: an SDM key is AES-128, not %s", dfi_keytype_name(type));
	if (path == DFI_HSM_PATH_AUTO) {
		path = dfi_hsm_token_path(h, type);
		if (path == DFI_HSM_PATH_NONE) {
			char why[200];
			dfi_hsm_token_path_check(h, type, h->derivation != DFI_HSM_PATH_AUTO ? h->derivation
				: DFI_HSM_PATH_ECB, why, sizeof(why));
			return dfi_hsm_set_detail(h, DFI_E_HSM_MECHANISM, "no derivation path for %s "
			    "keys on this token (%s): see 'dfissue hsm check'", dfi_keytype_name(type),
			    why);
		}
	} else {
		char why[200];
		if (dfi_hsm_token_path_check(h, type, path, why, sizeof(why)) != DFI_OK) {
			return dfi_hsm_set_detail(h, DFI_E_HSM_MECHANISM, "%s: %s",
			    dfi_hsm_path_name(path), why);
		}
	}
	dfi_err e = dfi_hsm_label_unused(h, label, CKO_SECRET_KEY);
	if (e != DFI_OK)
		return e;
	CK_OBJECT_HANDLE obj;
	e = key_create(h, type, key, keylen, label, id, id_len, path, usage, 1, &obj, NULL);
	if (e != DFI_OK)
		return e;
	e = check_created(h, obj, label, type, path, key);
	if (e != DFI_OK) {
		/* Nothing half-made stays on the token. */
		dfi_hsm_destroy(h, obj);
		return e;
	}
	if (used != NULL)
		*used = path;
	return DFI_OK;
}

dfi_err
dfi_hsm_key_import_path(dfi_hsm *h, dfi_keytype type, const uint8_t *key, size_t keylen,
    const char *label, const uint8_t *id, size_t id_len, dfi_hsm_path path, dfi_hsm_path *used)
{
	return dfi_hsm_key_import_usage(h, type, key, keylen, label, id, id_len, path, 0, used);
}

dfi_err
dfi_hsm_key_import(dfi_hsm *h, dfi_keytype type, const uint8_t *key, size_t keylen,
    const char *label, const uint8_t *id, size_t id_len)
{
	return dfi_hsm_key_import_path(h, type, key, keylen, label, id, id_len, DFI_HSM_PATH_AUTO,
	    NULL);
}
