/* Signer handles: an algorithm and a table of operations; calls are
 * serialized per handle so several reader threads may share one signer. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "dfissue/signer.h"
#include "core/owned.h"
#include "signer_int.h"

struct dfi_signer {
	dfi_sigalg alg;
	const struct dfi_signer_ops *ops;
	void *ctx;
	pthread_mutex_t mu;
	char why[320]; /* under mu: as much as an HSM handle's detail */
};

dfi_err
dfi_signer_new(dfi_signer **out, dfi_sigalg alg, const struct dfi_signer_ops *ops, void *ctx)
{
	int ok = out != NULL && ops != NULL && ops->sign != NULL && ops->public_key_der != NULL &&
	    (alg == DFI_SIG_ED25519 || alg == DFI_SIG_ECDSA_P256);
	dfi_err e;
	dfi_signer *s = dfi_owned_new(sizeof(*s), ok, ops != NULL ? ops->destroy : NULL, ctx, &e);
	if (s == NULL)
		return e;
	if (pthread_mutex_init(&s->mu, NULL) != 0) {
		dfi_owned_free(s, ops->destroy, ctx);
		return DFI_E_NOMEM;
	}
	s->alg = alg;
	s->ops = ops;
	s->ctx = ctx;
	*out = s;
	return DFI_OK;
}

void
dfi_signer_free(dfi_signer *s)
{
	if (s == NULL)
		return;
	pthread_mutex_destroy(&s->mu);
	dfi_owned_free(s, s->ops->destroy, s->ctx);
}

/* error.h, "NULL and unknown values": 0, which names no algorithm. */
dfi_sigalg dfi_signer_alg(const dfi_signer *s) { return s != NULL ? s->alg : (dfi_sigalg)0; }

dfi_err
dfi_signer_sign(dfi_signer *s, const uint8_t *msg, size_t len, uint8_t *sig, size_t *siglen)
{
	if (s == NULL || (msg == NULL && len > 0) || sig == NULL || siglen == NULL)
		return DFI_E_INVALID_ARG;
	pthread_mutex_lock(&s->mu);
	s->why[0] = '\0'; /* never a reason left from an earlier signature */
	dfi_err e = s->ops->sign(s->ctx, msg, len, sig, siglen);
	pthread_mutex_unlock(&s->mu);
	if (e == DFI_OK && *siglen > DFI_SIG_MAX)
		return DFI_E_INTERNAL;
	return e;
}

dfi_err
dfi_signer_public_key_der(dfi_signer *s, uint8_t *der, size_t cap, size_t *len)
{
	if (s == NULL || der == NULL || len == NULL)
		return DFI_E_INVALID_ARG;
	pthread_mutex_lock(&s->mu);
	dfi_err e = s->ops->public_key_der(s->ctx, der, cap, len);
	pthread_mutex_unlock(&s->mu);
	return e;
}

void
dfi_signer_why_set(dfi_signer *s, const char *why)
{
	snprintf(s->why, sizeof(s->why), "%s", why != NULL ? why : "");
}

void
dfi_signer_why(dfi_signer *s, char *buf, size_t cap)
{
	if (buf == NULL || cap == 0)
		return;
	buf[0] = '\0';
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	snprintf(buf, cap, "%s", s->why);
	pthread_mutex_unlock(&s->mu);
}
