/*
 * The journal's signing key: an Ed25519 (CKM_EDDSA) or ECDSA P-256
 * (CKM_ECDSA over a host SHA-256) key pair in the HSM. OpenSSL builds the
 * SubjectPublicKeyInfo from CKA_EC_POINT and CKA_EC_PARAMS.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "dfissue/util.h"
#include "hsm_int.h"
#include "core/unconst.h"
#include "core/nelem.h"
#include "crypto/signer_int.h"

/* DER OIDs as CKA_EC_PARAMS carries them. */
static const uint8_t oid_ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
static const uint8_t oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
/* PKCS#11 3.0 also allows the curve name as a PrintableString. */
static const uint8_t str_ed25519[] = { 0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's', '2', '5', '5', '1', '9' };

struct pub_arg {
	CK_OBJECT_HANDLE obj;
	uint8_t *params, *point;
	size_t params_len, point_len;
};

static CK_RV
op_pub(dfi_hsm *h, CK_SESSION_HANDLE s, void *argp)
{
	struct pub_arg *a = argp;
	free(a->params);
	free(a->point);
	a->params = a->point = NULL;
	CK_RV rv = dfi_hsm_attr(h, s, a->obj, CKA_EC_PARAMS, &a->params, &a->params_len);
	return rv == CKR_OK ? dfi_hsm_attr(h, s, a->obj, CKA_EC_POINT, &a->point, &a->point_len) : rv;
}

/* CKA_EC_POINT is a DER OCTET STRING around the point (some tokens give the
 * bare point): the inner bytes when the whole value is one OCTET STRING
 * (OpenSSL's DER decoder), else the value itself. */
static void
unwrap_point(const uint8_t *p, size_t len, const uint8_t **pt, size_t *ptlen)
{
	*pt = p;
	*ptlen = len;
	const unsigned char *q = p;
	ASN1_OCTET_STRING *os = len <= LONG_MAX ? d2i_ASN1_OCTET_STRING(NULL, &q, (long)len) : NULL;
	if (os != NULL && q == p + len) {
		/* The inner bytes lie within p: point there, not into os. */
		size_t inner = (size_t)ASN1_STRING_length(os);
		*pt = p + len - inner;
		*ptlen = inner;
	}
	ASN1_OCTET_STRING_free(os);
}

static dfi_err
spki_der(const struct pub_arg *a, dfi_sigalg *alg, uint8_t *der, size_t cap, size_t *len)
{
	const uint8_t *pt;
	size_t ptlen;
	unwrap_point(a->point, a->point_len, &pt, &ptlen);
	EVP_PKEY *pk = NULL;
	if ((a->params_len == sizeof(oid_ed25519) && memcmp(a->params, oid_ed25519, a->params_len) == 0) ||
	    (a->params_len == sizeof(str_ed25519) && memcmp(a->params, str_ed25519, a->params_len) == 0)) {
		if (ptlen != 32)
			return DFI_E_HSM_KEY_TYPE;
		pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pt, ptlen);
		*alg = DFI_SIG_ED25519;
	} else if (a->params_len == sizeof(oid_p256) && memcmp(a->params, oid_p256, a->params_len) == 0) {
		if (ptlen != 65 || pt[0] != 0x04)
			return DFI_E_HSM_KEY_TYPE;
		EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
		OSSL_PARAM prm[] = {
			OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0),
			OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, dfi_unconst(pt), ptlen),
			OSSL_PARAM_construct_end(),
		};
		if (pc == NULL || EVP_PKEY_fromdata_init(pc) <= 0 ||
		    EVP_PKEY_fromdata(pc, &pk, EVP_PKEY_PUBLIC_KEY, prm) <= 0)
			pk = NULL;
		EVP_PKEY_CTX_free(pc);
		*alg = DFI_SIG_ECDSA_P256;
	} else {
		return DFI_E_HSM_KEY_TYPE;
	}
	if (pk == NULL)
		return DFI_E_CRYPTO;
	int n = i2d_PUBKEY(pk, NULL);
	dfi_err e = DFI_OK;
	if (n <= 0) {
		e = DFI_E_CRYPTO;
	} else if ((size_t)n > cap) {
		e = DFI_E_BUFFER_TOO_SMALL;
	} else {
		uint8_t *p = der;
		i2d_PUBKEY(pk, &p);
		*len = (size_t)n;
	}
	EVP_PKEY_free(pk);
	return e;
}

/* The public key object for a URI naming the public or the private key:
 * first as a public key, else the public key with the private key's id. */
struct id_arg {
	CK_OBJECT_HANDLE obj;
	uint8_t *id;
	size_t len;
};

static CK_RV
op_id(dfi_hsm *h, CK_SESSION_HANDLE s, void *argp)
{
	struct id_arg *a = argp;
	free(a->id);
	a->id = NULL;
	return dfi_hsm_attr(h, s, a->obj, CKA_ID, &a->id, &a->len);
}

struct findid_arg {
	const uint8_t *id;
	size_t len;
	CK_OBJECT_HANDLE obj;
	CK_ULONG n;
};

static CK_RV
op_find_pub_by_id(dfi_hsm *h, CK_SESSION_HANDLE s, void *argp)
{
	struct findid_arg *a = argp;
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_ID, dfi_unconst(a->id), a->len } };
	CK_RV rv = P11(h, C_FindObjectsInit, s, t, DFI_NELEM(t));
	if (rv != CKR_OK)
		return rv;
	CK_OBJECT_HANDLE o[2];
	rv = P11(h, C_FindObjects, s, o, 2, &a->n);
	CK_RV rv2 = P11(h, C_FindObjectsFinal, s);
	if (rv == CKR_OK)
		rv = rv2;
	if (rv == CKR_OK)
		rv = dfi_hsm_check_count(h, "C_FindObjects", a->n, 2);
	if (rv == CKR_OK && a->n > 0)
		a->obj = o[0];
	return rv;
}

static dfi_err
find_one(dfi_hsm *h, const char *uri, CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE *obj)
{
	CK_OBJECT_HANDLE o[2];
	size_t n = 0;
	dfi_err e = dfi_hsm_find(h, uri, cls, o, 2, &n);
	if (e != DFI_OK)
		return e;
	if (n == 0) {
		return dfi_hsm_set_detail(h, DFI_E_HSM_KEY_NOT_FOUND,
		    "no %s key matches '%s' on token '%s'",
		    cls == CKO_PUBLIC_KEY ? "public" : "private", uri, h->token_label);
	}
	if (n > 1) {
		return dfi_hsm_set_detail(h, DFI_E_HSM_KEY_AMBIGUOUS, "several keys match '%s'", uri);
	}
	*obj = o[0];
	return DFI_OK;
}

static dfi_err
public_der(dfi_hsm *h, const char *uri, CK_OBJECT_HANDLE priv, int have_priv, dfi_sigalg *alg,
    uint8_t *der, size_t cap, size_t *len)
{
	CK_OBJECT_HANDLE pub;
	dfi_err e = have_priv ? DFI_E_HSM_KEY_NOT_FOUND : find_one(h, uri, CKO_PUBLIC_KEY, &pub);
	if (e == DFI_E_HSM_KEY_NOT_FOUND || e == DFI_E_HSM_KEY_TYPE) {
		if (!have_priv) {
			e = find_one(h, uri, CKO_PRIVATE_KEY, &priv);
			if (e != DFI_OK)
				return e;
		}
		struct id_arg ia = { priv, NULL, 0 };
		e = dfi_hsm_run(h, "C_GetAttributeValue(CKA_ID)", op_id, &ia);
		if (e == DFI_OK && ia.len == 0)
			e = DFI_E_HSM_KEY_NOT_FOUND;
		struct findid_arg fa = { ia.id, ia.len, CK_INVALID_HANDLE, 0 };
		if (e == DFI_OK)
			e = dfi_hsm_run(h, "C_FindObjects", op_find_pub_by_id, &fa);
		free(ia.id);
		if (e == DFI_OK && fa.n != 1) {
			e = dfi_hsm_set_detail(h, DFI_E_HSM_KEY_NOT_FOUND,
			    "no single public key has the id of '%s'", uri);
		}
		if (e != DFI_OK)
			return e;
		pub = fa.obj;
	} else if (e != DFI_OK) {
		return e;
	}
	struct pub_arg pa = { pub, NULL, NULL, 0, 0 };
	e = dfi_hsm_run(h, "C_GetAttributeValue(CKA_EC_POINT)", op_pub, &pa);
	if (e == DFI_OK)
		e = spki_der(&pa, alg, der, cap, len);
	if (e == DFI_E_HSM_KEY_TYPE || e == DFI_E_CRYPTO)
		dfi_hsm_detail_set(h, e, "'%s': CKA_EC_PARAMS (%zu bytes) and CKA_EC_POINT (%zu "
		    "bytes) are not an Ed25519 or P-256 public key", uri, pa.params_len, pa.point_len);
	free(pa.params);
	free(pa.point);
	return e;
}

/* ---- signer ------------------------------------------------------------- */

struct hsigner {
	dfi_hsm *h;
	dfi_signer *signer; /* the handle over this context: told why a signature failed */
	struct dfi_hsm_ref priv;
	dfi_sigalg alg;
	uint8_t der[DFI_PUBKEY_DER_MAX];
	size_t derlen;
};

struct sign_arg {
	struct hsigner *sg;
	const uint8_t *msg;
	size_t len;
	uint8_t *sig;
	size_t siglen;
};

static CK_RV
op_sign(dfi_hsm *h, CK_SESSION_HANDLE s, void *argp)
{
	struct sign_arg *a = argp;
	CK_MECHANISM_TYPE mech = a->sg->alg == DFI_SIG_ED25519 ? CKM_EDDSA : CKM_ECDSA;
	CK_OBJECT_HANDLE key;
	CK_RV rv = dfi_hsm_ref_get(h, s, &a->sg->priv, &key);
	if (rv != CKR_OK)
		return rv;
	CK_ULONG siglen = DFI_SIG_MAX;
	rv = dfi_hsm_sign(h, s, key, mech, a->msg, a->len, a->sig, &siglen);
	/* Both algorithms sign in 64 bytes (Ed25519; P-256's r || s). */
	if (rv == CKR_OK)
		rv = dfi_hsm_check_len(h, "C_Sign (journal checkpoint)", siglen, 64);
	a->siglen = siglen;
	return rv;
}

static CK_RV
op_refinit(dfi_hsm *h, CK_SESSION_HANDLE s, void *argp)
{
	struct dfi_hsm_ref *r = argp;
	return dfi_hsm_ref_init(h, s, r->obj, r);
}

static dfi_err
hs_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t *sig, size_t *siglen)
{
	struct hsigner *sg = ctx;
	uint8_t digest[SHA256_DIGEST_LENGTH];
	struct sign_arg a = { sg, msg, len, sig, 0 };
	if (sg->alg == DFI_SIG_ECDSA_P256) {
		if (SHA256(msg, len, digest) == NULL)
			return DFI_E_CRYPTO;
		a.msg = digest;
		a.len = sizeof(digest);
	}
	dfi_err e = dfi_hsm_run(sg->h, "C_Sign", op_sign, &a);
	if (e != DFI_OK) {
		/* The journal signs with only the signer at hand: the call
		 * and its CK_RV travel with it (crypto/signer_int.h). */
		char d[320];
		dfi_hsm_detail_for(sg->h, e, d, sizeof(d));
		dfi_signer_why_set(sg->signer, d);
		return e;
	}
	*siglen = a.siglen;
	return DFI_OK;
}

static dfi_err
hs_public_key_der(void *ctx, uint8_t *der, size_t cap, size_t *len)
{
	struct hsigner *sg = ctx;
	if (cap < sg->derlen)
		return DFI_E_BUFFER_TOO_SMALL;
	memcpy(der, sg->der, sg->derlen);
	*len = sg->derlen;
	return DFI_OK;
}

static const struct dfi_signer_ops hsigner_ops = {
	.sign = hs_sign,
	.public_key_der = hs_public_key_der,
	.destroy = free, /* the context is one plain allocation */
};

struct flags_arg {
	CK_OBJECT_HANDLE obj;
	CK_BBOOL v[4]; /* sensitive, extractable, always sensitive, never extractable */
	int have[4];
	char label[65];
};

static CK_RV
op_flags(dfi_hsm *h, CK_SESSION_HANDLE s, void *argp)
{
	struct flags_arg *a = argp;
	CK_ATTRIBUTE t[] = {
		{ CKA_SENSITIVE, &a->v[0], sizeof(a->v[0]) },
		{ CKA_EXTRACTABLE, &a->v[1], sizeof(a->v[1]) },
		{ CKA_ALWAYS_SENSITIVE, &a->v[2], sizeof(a->v[2]) },
		{ CKA_NEVER_EXTRACTABLE, &a->v[3], sizeof(a->v[3]) },
		{ CKA_LABEL, a->label, sizeof(a->label) - 1 },
	};
	/* One call: attributes a token does not keep come back unavailable. */
	CK_RV rv = dfi_hsm_getattrs(h, s, a->obj, t, DFI_NELEM(t));
	if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE &&
	    rv != CKR_BUFFER_TOO_SMALL)
		return rv;
	for (int i = 0; i < 4; i++)
		a->have[i] = t[i].ulValueLen == sizeof(CK_BBOOL);
	a->label[t[4].ulValueLen < sizeof(a->label) ? t[4].ulValueLen : 0] = '\0';
	dfi_hsm_printable(a->label); /* printed in the refusal */
	/* CKA_SENSITIVE and CKA_EXTRACTABLE are required of a private key. */
	return a->have[0] && a->have[1] ? CKR_OK : CKR_ATTRIBUTE_TYPE_INVALID;
}

/* The journal key gets the base keys' rule (issue 17, finding 6): a private
 * key that can leave the HSM in the clear could sign a rewritten journal
 * anywhere. It is refused when extractable or not sensitive and, where the
 * token reports them, when it ever was (CKA_NEVER_EXTRACTABLE or
 * CKA_ALWAYS_SENSITIVE false: a copy may exist outside the HSM); a key
 * generated in the HSM by 'dfissue journal-key generate' passes. */
static dfi_err
check_private(dfi_hsm *h, const char *uri, CK_OBJECT_HANDLE priv)
{
	struct flags_arg a = { .obj = priv };
	dfi_err e = dfi_hsm_run(h, "C_GetAttributeValue", op_flags, &a);
	if (e != DFI_OK)
		return e;
	const char *what = a.v[1] ? "CKA_EXTRACTABLE is true"
	    : !a.v[0]		   ? "CKA_SENSITIVE is false"
	    : a.have[3] && !a.v[3] ? "CKA_NEVER_EXTRACTABLE is false (it was extractable once)"
	    : a.have[2] && !a.v[2] ? "CKA_ALWAYS_SENSITIVE is false (it was not sensitive once)"
				   : NULL;
	if (what == NULL)
		return DFI_OK;
	if (!h->allow_insecure_keys) {
		return dfi_hsm_set_detail(h, DFI_E_HSM_KEY_INSECURE, "journal key '%s' (label '%s'): "
		    "%s: refused; generate one in the HSM with 'dfissue journal-key generate' "
		    "(--allow-insecure-keys: test tokens only)", uri, a.label, what);
	}
	dfi_hsm_log(h, DFI_LOG_WARNING, "using insecure journal key '%s' (label '%s'; %s): test tokens only",
	    uri, a.label, what);
	return DFI_OK;
}

dfi_err
dfi_hsm_signer_new(dfi_hsm *h, const char *uri, dfi_signer **out)
{
	if (h == NULL || uri == NULL || out == NULL)
		return DFI_E_INVALID_ARG;
	*out = NULL;
	struct hsigner *sg = calloc(1, sizeof(*sg));
	if (sg == NULL)
		return DFI_E_NOMEM;
	sg->h = h;
	CK_OBJECT_HANDLE priv;
	dfi_err e = find_one(h, uri, CKO_PRIVATE_KEY, &priv);
	if (e == DFI_OK)
		e = check_private(h, uri, priv);
	if (e == DFI_OK) {
		sg->priv.obj = priv;
		e = dfi_hsm_run(h, "C_GetAttributeValue", op_refinit, &sg->priv);
	}
	if (e == DFI_OK)
		e = public_der(h, uri, priv, 1, &sg->alg, sg->der, sizeof(sg->der), &sg->derlen);
	if (e != DFI_OK) {
		free(sg);
		return e;
	}
	e = dfi_signer_new(out, sg->alg, &hsigner_ops, sg);
	if (e == DFI_OK)
		sg->signer = *out; /* no signature is made before this returns */
	return e;
}

/* ---- generation and export ---------------------------------------------- */

struct gen_arg {
	dfi_sigalg alg;
	const char *label;
	const uint8_t *params;
	size_t params_len;
	uint8_t id[8];
};

/* The key pair gets only what signing checkpoints needs (issue 17,
 * finding 6): the private key signs, the public key verifies; every other
 * usage a token may default to TRUE (SoftHSM2 does: decrypt, unwrap) is set
 * FALSE. */
static CK_RV
op_generate(dfi_hsm *h, CK_SESSION_HANDLE s, void *argp)
{
	struct gen_arg *a = argp;
	CK_MECHANISM m = { a->alg == DFI_SIG_ED25519 ? CKM_EC_EDWARDS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN,
		NULL, 0 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE pub[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &no, sizeof(no) },
		{ CKA_VERIFY, &yes, sizeof(yes) },
		{ CKA_EC_PARAMS, dfi_unconst(a->params), a->params_len },
		{ CKA_LABEL, dfi_unconst(a->label), strlen(a->label) },
		{ CKA_ID, a->id, sizeof(a->id) },
		{ CKA_ENCRYPT, &no, sizeof(no) },
		{ CKA_WRAP, &no, sizeof(no) },
		{ CKA_DERIVE, &no, sizeof(no) },
	};
	CK_ATTRIBUTE priv[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_SIGN, &yes, sizeof(yes) },
		{ CKA_LABEL, dfi_unconst(a->label), strlen(a->label) },
		{ CKA_ID, a->id, sizeof(a->id) },
		{ CKA_DECRYPT, &no, sizeof(no) },
		{ CKA_UNWRAP, &no, sizeof(no) },
		{ CKA_DERIVE, &no, sizeof(no) },
	};
	CK_OBJECT_HANDLE hp, hk;
	return P11(h, C_GenerateKeyPair, s, &m, pub, DFI_NELEM(pub), priv, DFI_NELEM(priv), &hp, &hk);
}

dfi_err
dfi_hsm_journal_key_generate(dfi_hsm *h, const char *label, dfi_sigalg alg)
{
	if (h == NULL || label == NULL)
		return DFI_E_INVALID_ARG;
	if (label[0] == '\0')
		return dfi_hsm_bad_arg(h, "journal key: the label is empty");
	if (alg != DFI_SIG_ED25519 && alg != DFI_SIG_ECDSA_P256)
		return dfi_hsm_bad_arg(h, "journal key: algorithm %d is neither Ed25519 nor ECDSA P-256", (int)alg);
	dfi_err e = dfi_hsm_label_unused(h, label, CKO_PRIVATE_KEY);
	if (e != DFI_OK)
		return e;
	struct gen_arg a = { alg, label, NULL, 0, { 0 } };
	e = dfi_random(a.id, sizeof(a.id));
	if (e != DFI_OK)
		return e;
	if (alg == DFI_SIG_ED25519) {
		a.params = oid_ed25519;
		a.params_len = sizeof(oid_ed25519);
		e = dfi_hsm_run(h, "C_GenerateKeyPair(Ed25519)", op_generate, &a);
		if (e == DFI_E_HSM_MECHANISM || e == DFI_E_HSM_GENERAL) {
			/* Some tokens only take the curve name form. */
			a.params = str_ed25519;
			a.params_len = sizeof(str_ed25519);
			dfi_err e2 = dfi_hsm_run(h, "C_GenerateKeyPair(Ed25519)", op_generate, &a);
			if (e2 == DFI_OK)
				e = e2;
		}
	} else {
		a.params = oid_p256;
		a.params_len = sizeof(oid_p256);
		e = dfi_hsm_run(h, "C_GenerateKeyPair(P-256)", op_generate, &a);
	}
	return e;
}

dfi_err
dfi_pubkey_der_to_pem(const uint8_t *der, size_t len, char **pem)
{
	if (der == NULL || pem == NULL || len == 0 || len > DFI_PUBKEY_DER_MAX * 16)
		return DFI_E_INVALID_ARG;
	*pem = NULL;
	const uint8_t *p = der;
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)len);
	if (pk == NULL || p != der + len) {
		EVP_PKEY_free(pk);
		return DFI_E_PARSE;
	}
	dfi_err e = DFI_E_CRYPTO;
	BIO *bio = BIO_new(BIO_s_mem());
	if (bio != NULL && PEM_write_bio_PUBKEY(bio, pk) == 1) {
		char *data;
		long n = BIO_get_mem_data(bio, &data);
		if (n > 0) {
			*pem = malloc((size_t)n + 1);
			if (*pem == NULL) {
				e = DFI_E_NOMEM;
			} else {
				memcpy(*pem, data, (size_t)n);
				(*pem)[n] = '\0';
				e = DFI_OK;
			}
		}
	}
	BIO_free(bio);
	EVP_PKEY_free(pk);
	return e;
}

dfi_err
dfi_hsm_public_key_pem(dfi_hsm *h, const char *uri, char **pem)
{
	if (h == NULL || uri == NULL || pem == NULL)
		return DFI_E_INVALID_ARG;
	uint8_t der[DFI_PUBKEY_DER_MAX];
	size_t len = 0;
	dfi_sigalg alg;
	dfi_err e = public_der(h, uri, CK_INVALID_HANDLE, 0, &alg, der, sizeof(der), &len);
	if (e != DFI_OK)
		return e;
	return dfi_pubkey_der_to_pem(der, len, pem);
}
