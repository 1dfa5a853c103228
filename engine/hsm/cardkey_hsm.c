/*
 * Card keys whose operations run in the HSM: the base key itself, or a
 * per-card key diversified with AN10922 into a session object on one of
 * the derivation paths (derive.c). The only function that puts key bytes
 * on the host is dfi_hkey_with_bytes (derive.c, see SECURITY.md): it gets
 * the diversified key into locked memory for the caller's ChangeKey
 * cryptogram and wipes it when the callback returns.
 */
#include <stdlib.h>
#include <string.h>

#include "dfissue/util.h"
#include "cardkey_int.h"

/* The handle cipher and CMAC use now. */
static CK_RV
hkey_obj(dfi_hsm *h, CK_SESSION_HANDLE s, struct hkey *k, CK_OBJECT_HANDLE *out)
{
	if (!k->derived)
		return dfi_hsm_ref_get(h, s, &k->master, out);
	pthread_mutex_lock(&h->refmu);
	unsigned gen = atomic_load(&h->gen);
	if (k->dobj != CK_INVALID_HANDLE && k->dgen == gen) {
		*out = k->dobj;
		pthread_mutex_unlock(&h->refmu);
		return CKR_OK;
	}
	pthread_mutex_unlock(&h->refmu);
	CK_OBJECT_HANDLE m, d;
	CK_RV rv = dfi_hsm_ref_get(h, s, &k->master, &m);
	if (rv == CKR_OK)
		rv = dfi_hkey_derive(h, s, k, m, &d);
	if (rv != CKR_OK)
		return rv;
	pthread_mutex_lock(&h->refmu);
	if (k->dobj != CK_INVALID_HANDLE && k->dgen == gen) {
		/* another thread derived it meanwhile: keep one */
		pthread_mutex_unlock(&h->refmu);
		(void)P11(h, C_DestroyObject, s, d);
		pthread_mutex_lock(&h->refmu);
	} else {
		k->dobj = d;
		k->dgen = gen;
	}
	*out = k->dobj;
	pthread_mutex_unlock(&h->refmu);
	return CKR_OK;
}

static CK_MECHANISM_TYPE
mech_for(dfi_keytype t, int cbc)
{
	if (t == DFI_KT_AES128)
		return cbc ? CKM_AES_CBC : CKM_AES_ECB;
	return cbc ? CKM_DES3_CBC : CKM_DES3_ECB;
}

struct cipher_arg {
	struct hkey *k;
	int encrypt;
	const uint8_t *iv;
	const uint8_t *in;
	uint8_t *out;
	size_t len;
};

static CK_RV
op_cipher(dfi_hsm *h, CK_SESSION_HANDLE s, void *argp)
{
	struct cipher_arg *a = argp;
	size_t bl = dfi_keytype_blocklen(a->k->type);
	CK_OBJECT_HANDLE key;
	CK_RV rv = hkey_obj(h, s, a->k, &key);
	if (rv != CKR_OK)
		return rv;
	return dfi_hsm_cipher(h, s, key, a->encrypt, mech_for(a->k->type, a->iv != NULL), a->iv,
	    a->iv != NULL ? bl : 0, a->in, a->out, a->len);
}

static dfi_err
hkey_cipher(void *ctx, int encrypt, uint8_t *iv, const uint8_t *in, uint8_t *out, size_t len)
{
	struct hkey *k = ctx;
	size_t bl = dfi_keytype_blocklen(k->type);
	if (len == 0)
		return DFI_OK;
	if (in == NULL || out == NULL || len % bl != 0)
		return DFI_E_INVALID_ARG;
	/* in and out may alias: keep what the next IV must be before writing. */
	uint8_t next_iv[DFI_MAX_BLOCK];
	if (iv != NULL && !encrypt)
		memcpy(next_iv, in + len - bl, bl);
	/* Authentication ciphers a few blocks: keep those off the heap. */
	uint8_t small[4 * DFI_MAX_BLOCK];
	uint8_t *tmp = len <= sizeof(small) ? small : malloc(len);
	if (tmp == NULL)
		return DFI_E_NOMEM;
	struct cipher_arg a = { k, encrypt, iv, in, tmp, len };
	dfi_err e = dfi_hsm_run(k->h, encrypt ? "C_Encrypt" : "C_Decrypt", op_cipher, &a);
	if (e == DFI_OK) {
		memcpy(out, tmp, len);
		if (iv != NULL)
			memcpy(iv, encrypt ? out + len - bl : next_iv, bl);
	}
	dfi_wipe(tmp, len);
	if (tmp != small)
		free(tmp);
	return e;
}

struct cmac_arg {
	struct hkey *k;
	const uint8_t *msg;
	size_t len;
	uint8_t *mac;
};

static CK_RV
op_cmac(dfi_hsm *h, CK_SESSION_HANDLE s, void *argp)
{
	struct cmac_arg *a = argp;
	size_t bl = dfi_keytype_blocklen(a->k->type);
	CK_MECHANISM_TYPE mech = a->k->type == DFI_KT_AES128 ? CKM_AES_CMAC : CKM_DES3_CMAC;
	CK_OBJECT_HANDLE key;
	CK_RV rv = hkey_obj(h, s, a->k, &key);
	if (rv != CKR_OK)
		return rv;
	CK_ULONG maclen = bl;
	rv = dfi_hsm_sign(h, s, key, mech, a->msg, a->len, a->mac, &maclen);
	if (rv == CKR_OK)
		rv = dfi_hsm_check_len(h, "C_Sign (card key CMAC)", maclen, bl);
	return rv;
}

/* SP 800-38B from the cipher: L = E(K, 0), subkeys, then CBC-MAC over the
 * message with the last block XORed with K1 (complete) or K2 (padded). */
static dfi_err
cmac_by_cbc(struct hkey *k, const uint8_t *msg, size_t len, uint8_t *mac)
{
	size_t bl = dfi_keytype_blocklen(k->type);
	uint8_t zero[DFI_MAX_BLOCK] = { 0 }, l[DFI_MAX_BLOCK], k1[DFI_MAX_BLOCK], k2[DFI_MAX_BLOCK];
	dfi_err e = hkey_cipher(k, 1, NULL, zero, l, bl);
	if (e != DFI_OK)
		return e;
	dfi_cmac_subkeys(l, bl, k1, k2);
	size_t nblk = len == 0 ? 1 : (len + bl - 1) / bl;
	if (nblk > SIZE_MAX / bl)
		return DFI_E_OVERFLOW;
	size_t total = nblk * bl;
	/* A card key may serve several sessions (threads) at once, so no
	 * per-key scratch: the stack for what is MACed with card keys (the
	 * 32-byte EV2 session vectors), the heap only above that. */
	uint8_t small[4 * DFI_MAX_BLOCK];
	uint8_t *buf = total <= sizeof(small) ? small : malloc(total);
	if (buf == NULL)
		return DFI_E_NOMEM;
	if (len > 0)
		memcpy(buf, msg, len);
	memset(buf + len, 0, total - len);
	const int complete = len > 0 && len % bl == 0;
	if (!complete)
		buf[len] = 0x80;
	for (size_t j = 0; j < bl; j++)
		buf[total - bl + j] ^= complete ? k1[j] : k2[j];
	uint8_t iv[DFI_MAX_BLOCK] = { 0 };
	e = hkey_cipher(k, 1, iv, buf, buf, total);
	if (e == DFI_OK)
		memcpy(mac, iv, bl);
	dfi_wipe(buf, total);
	if (buf != small)
		free(buf);
	return e;
}

static dfi_err
hkey_cmac(void *ctx, const uint8_t *msg, size_t len, uint8_t *mac)
{
	struct hkey *k = ctx;
	if ((msg == NULL && len > 0) || mac == NULL)
		return DFI_E_INVALID_ARG;
	if (!atomic_load(&k->no_cmac_mech)) {
		struct cmac_arg a = { k, msg, len, mac };
		dfi_err e = dfi_hsm_run(k->h, "C_Sign", op_cmac, &a);
		if (e != DFI_E_HSM_MECHANISM && e != DFI_E_HSM_KEY_TYPE)
			return e;
		atomic_store(&k->no_cmac_mech, 1);
	}
	return cmac_by_cbc(k, msg, len, mac);
}

static CK_RV
op_destroy(dfi_hsm *h, CK_SESSION_HANDLE s, void *argp)
{
	struct hkey *k = argp;
	pthread_mutex_lock(&h->refmu);
	CK_OBJECT_HANDLE d = k->dobj;
	/* after a re-login the old handle may name nothing, or another object */
	int live = d != CK_INVALID_HANDLE && k->dgen == atomic_load(&h->gen);
	k->dobj = CK_INVALID_HANDLE;
	pthread_mutex_unlock(&h->refmu);
	return live ? P11(h, C_DestroyObject, s, d) : CKR_OK;
}

static void
hkey_destroy(void *ctx)
{
	struct hkey *k = ctx;
	if (k == NULL)
		return;
	if (k->derived)
		(void)dfi_hsm_run(k->h, "C_DestroyObject", op_destroy, k);
	dfi_wipe(k, sizeof(*k));
	free(k);
}

static const struct dfi_cardkey_ops base_ops = {
	.cipher = hkey_cipher,
	.cmac = hkey_cmac,
	.with_bytes = NULL,
	.destroy = hkey_destroy,
};

static const struct dfi_cardkey_ops derived_ops = {
	.cipher = hkey_cipher,
	.cmac = hkey_cmac,
	.with_bytes = dfi_hkey_with_bytes,
	.destroy = hkey_destroy,
};

/* A card key on the master key's object; the reference is copied under the
 * lock because another thread may be refreshing it. */
static struct hkey *
hkey_new(dfi_hsm *h, const dfi_hsm_key *master, dfi_keytype type)
{
	struct hkey *k = calloc(1, sizeof(*k));
	if (k == NULL)
		return NULL;
	k->h = h;
	k->type = type;
	pthread_mutex_lock(&h->refmu);
	k->master = master->ref;
	pthread_mutex_unlock(&h->refmu);
	return k;
}

dfi_err
dfi_hsm_cardkey_base(dfi_hsm *h, const dfi_hsm_key *key, dfi_keytype type, uint8_t version,
    dfi_cardkey **out)
{
	if (h == NULL || key == NULL || out == NULL)
		return DFI_E_INVALID_ARG;
	if (key->h != h)
		return dfi_hsm_bad_arg(h, "key '%s' was found on another HSM handle", key->label);
	if (type != key->type)
		return DFI_E_HSM_KEY_TYPE;
	struct hkey *k = hkey_new(h, key, type);
	if (k == NULL)
		return DFI_E_NOMEM;
	return dfi_cardkey_new(out, type, version, &base_ops, k);
}

static CK_RV
op_derive(dfi_hsm *h, CK_SESSION_HANDLE s, void *argp)
{
	CK_OBJECT_HANDLE o;
	return hkey_obj(h, s, argp, &o);
}

/* The per-card key of m under master, made on path p (which the caller
 * has checked applies). */
dfi_err
dfi_hsm_cardkey_on_path(dfi_hsm *h, const dfi_hsm_key *master, dfi_keytype type,
    const uint8_t *m, size_t mlen, uint8_t version, dfi_hsm_path p, dfi_cardkey **out)
{
	uint8_t b1[DFI_MAX_KEY_LEN], b2[DFI_MAX_KEY_LEN], c1[DFI_MAX_KEY_LEN];
	size_t len = dfi_keytype_keylen(type);
	size_t bl = dfi_keytype_blocklen(type);
	dfi_err e = DFI_OK;
	if (mlen == 0 || mlen > 2 * bl - 1 || mlen > DFI_AN10922_M_MAX)
		return dfi_hsm_bad_arg(h, "diversification input of %zu bytes: a %s key takes 1..%zu",
		    mlen, dfi_keytype_name(type), 2 * bl - 1 < DFI_AN10922_M_MAX ? 2 * bl - 1 : (size_t)DFI_AN10922_M_MAX);
	if (p != DFI_HSM_PATH_SP800_108) {
		if (!master->have_l)
			return DFI_E_HSM_KEY_TYPE;
		e = dfi_an10922_blocks(type, master->l, m, mlen, b1, b2, &len);
		if (e != DFI_OK)
			return e;
	}
	struct hkey *k = hkey_new(h, master, type);
	if (k == NULL)
		return DFI_E_NOMEM;
	k->derived = 1;
	k->path = p;
	k->enc_mech = master->enc_mech;
	k->dobj = CK_INVALID_HANDLE;
	k->datalen = len;
	if (p == DFI_HSM_PATH_SP800_108) {
		memcpy(k->m, m, mlen);
		k->mlen = mlen;
	} else {
		e = dfi_hsm_ecb_encrypt(h, &k->master, k->enc_mech, type, b1, c1, len);
		for (size_t i = 0; e == DFI_OK && i < len; i++)
			k->data[i] = c1[i] ^ b2[i];
		if (p == DFI_HSM_PATH_CBC) {
			memcpy(k->iv, c1, bl);
			memcpy(k->b2, b2, bl);
		}
	}
	int host_plain = p == DFI_HSM_PATH_HOST && atomic_load(&h->no_session_import);
	if (e == DFI_OK && !host_plain) {
		e = dfi_hsm_run(h, "C_DeriveKey", op_derive, k);
		/* HOST: a token that makes no session key from bytes. */
		host_plain = p == DFI_HSM_PATH_HOST && (e == DFI_E_HSM_GENERAL ||
			e == DFI_E_HSM_KEY_TYPE || e == DFI_E_HSM_MECHANISM || e == DFI_E_INVALID_ARG);
	}
	if (host_plain) {
		/* The per-card key stays in locked host memory for this card
		 * (SECURITY.md §2.4). */
		atomic_store(&h->no_session_import, 1);
		uint8_t *key = dfi_secure_alloc(DFI_MAX_KEY_LEN);
		e = key == NULL ? DFI_E_NOMEM : dfi_hsm_ecb_encrypt(h, &k->master, k->enc_mech, type, k->data, key, len);
		if (e == DFI_OK)
			e = dfi_cardkey_new_plain(out, type, key, len, version);
		dfi_secure_free(key, DFI_MAX_KEY_LEN);
		dfi_wipe(k, sizeof(*k));
		free(k);
		return e;
	}
	if (e != DFI_OK) {
		dfi_wipe(k, sizeof(*k));
		free(k);
		return e;
	}
	return dfi_cardkey_new(out, type, version, &derived_ops, k);
}

dfi_err
dfi_hsm_cardkey_diversified(dfi_hsm *h, const dfi_hsm_key *master, dfi_keytype type,
    const uint8_t *m, size_t mlen, uint8_t version, dfi_cardkey **out)
{
	if (h == NULL || master == NULL || m == NULL || out == NULL)
		return DFI_E_INVALID_ARG;
	if (master->h != h)
		return dfi_hsm_bad_arg(h, "key '%s' was found on another HSM handle", master->label);
	if (type != master->type)
		return DFI_E_HSM_KEY_TYPE;
	size_t bl = dfi_keytype_blocklen(type);
	if (mlen == 0 || mlen > 2 * bl - 1)
		return dfi_hsm_bad_arg(h, "diversification input of %zu bytes: a %s key takes 1..%zu",
		    mlen, dfi_keytype_name(type), 2 * bl - 1);
	dfi_hsm_path p;
	dfi_err e = dfi_hsm_key_path(master, mlen, &p);
	if (e != DFI_OK)
		return e;
	e = dfi_hsm_cardkey_on_path(h, master, type, m, mlen, version, p, out);
	if (e == DFI_E_HSM_MECHANISM && p == DFI_HSM_PATH_SP800_108 &&
	    dfi_hsm_key_path_skip(master, mlen, 1u << p, &p) == DFI_OK) {
		/* A KDF listed but refusing the CMAC PRF: the next path the key
		 * allows, if any (`dfissue hsm check` shows which). */
		e = dfi_hsm_cardkey_on_path(h, master, type, m, mlen, version, p, out);
	}
	return e;
}
