/* Card key handles: a type, a version and a table of operations. */
#include <stdlib.h>
#include <string.h>

#include "dfissue/cardkey.h"
#include "dfissue/util.h"
#include "core/owned.h"

struct dfi_cardkey {
	dfi_keytype type;
	uint8_t version;
	const struct dfi_cardkey_ops *ops;
	void *ctx;
};

dfi_err
dfi_cardkey_new(dfi_cardkey **out, dfi_keytype type, uint8_t version,
    const struct dfi_cardkey_ops *ops, void *ctx)
{
	int ok = out != NULL && ops != NULL && ops->cipher != NULL && ops->cmac != NULL &&
	    dfi_keytype_keylen(type) != 0;
	dfi_err e;
	dfi_cardkey *k = dfi_owned_new(sizeof(*k), ok, ops != NULL ? ops->destroy : NULL, ctx, &e);
	if (k == NULL)
		return e;
	k->type = type;
	k->version = version;
	k->ops = ops;
	k->ctx = ctx;
	*out = k;
	return DFI_OK;
}

void
dfi_cardkey_free(dfi_cardkey *k)
{
	if (k != NULL)
		dfi_owned_free(k, k->ops->destroy, k->ctx);
}

/* error.h, "NULL and unknown values": 0 for no key. */
dfi_keytype dfi_cardkey_type(const dfi_cardkey *k) { return k != NULL ? k->type : (dfi_keytype)0; }
uint8_t dfi_cardkey_version(const dfi_cardkey *k) { return k != NULL ? k->version : 0; }

dfi_err
dfi_cardkey_cipher(const dfi_cardkey *k, int encrypt, uint8_t *iv,
    const uint8_t *in, uint8_t *out, size_t len)
{
	if (k == NULL || len % dfi_keytype_blocklen(k->type) != 0)
		return DFI_E_INVALID_ARG;
	return k->ops->cipher(k->ctx, encrypt, iv, in, out, len);
}

dfi_err
dfi_cardkey_cmac(const dfi_cardkey *k, const uint8_t *msg, size_t len, uint8_t *mac)
{
	if (k == NULL)
		return DFI_E_INVALID_ARG;
	return k->ops->cmac(k->ctx, msg, len, mac);
}

dfi_err
dfi_cardkey_with_bytes(const dfi_cardkey *k, dfi_cardkey_bytes_fn fn, void *arg)
{
	if (k == NULL || fn == NULL)
		return DFI_E_INVALID_ARG;
	if (k->ops->with_bytes == NULL)
		return DFI_E_UNSUPPORTED;
	return k->ops->with_bytes(k->ctx, fn, arg);
}

/* ---- host-held keys ---------------------------------------------------- */

struct plain {
	dfi_keytype type;
	size_t len;
	uint8_t key[DFI_MAX_KEY_LEN];
};

static dfi_err
plain_cipher(void *ctx, int encrypt, uint8_t *iv, const uint8_t *in, uint8_t *out, size_t len)
{
	struct plain *p = ctx;
	return dfi_cipher(p->type, p->key, encrypt, iv, in, out, len);
}

static dfi_err
plain_cmac(void *ctx, const uint8_t *msg, size_t len, uint8_t *mac)
{
	struct plain *p = ctx;
	return dfi_cmac(p->type, p->key, NULL, msg, len, mac);
}

static dfi_err
plain_with_bytes(void *ctx, dfi_cardkey_bytes_fn fn, void *arg)
{
	struct plain *p = ctx;
	return fn(arg, p->key, p->len);
}

static void
plain_destroy(void *ctx)
{
	dfi_secure_free(ctx, sizeof(struct plain));
}

static const struct dfi_cardkey_ops plain_ops = {
	.cipher = plain_cipher,
	.cmac = plain_cmac,
	.with_bytes = plain_with_bytes,
	.destroy = plain_destroy,
};

dfi_err
dfi_cardkey_new_plain(dfi_cardkey **out, dfi_keytype type, const uint8_t *key,
    size_t keylen, uint8_t version)
{
	if (out == NULL || key == NULL || keylen == 0 || keylen != dfi_keytype_keylen(type))
		return DFI_E_INVALID_ARG;
	struct plain *p = dfi_secure_alloc(sizeof(*p));
	if (p == NULL)
		return DFI_E_NOMEM;
	p->type = type;
	p->len = keylen;
	memcpy(p->key, key, keylen);
	return dfi_cardkey_new(out, type, version, &plain_ops, p);
}
