/* The registry handle: argument checks and claim handles in front of a
 * backend (registry_int.h). */
#include <stdlib.h>
#include <string.h>

#include "registry_int.h"
#include "core/owned.h"

struct dfi_registry {
	const struct dfi_registry_ops *ops;
	void *be;
};

struct dfi_reg_claim {
	dfi_registry *r;
	uint8_t uid[DFI_J_UID_MAX];
	size_t uid_len;
	char holder[REG_HOLDER_MAX];
};

dfi_err
dfi_registry_new_backend(dfi_registry **out, const struct dfi_registry_ops *ops, void *be)
{
	if (out != NULL)
		*out = NULL;
	dfi_err e;
	dfi_registry *r = dfi_owned_new(sizeof(*r), out != NULL && ops != NULL,
	    ops != NULL ? ops->destroy : NULL, be, &e);
	if (r == NULL)
		return e;
	r->ops = ops;
	r->be = be;
	*out = r;
	return DFI_OK;
}

void
dfi_registry_free(dfi_registry *r)
{
	if (r != NULL)
		dfi_owned_free(r, r->ops->destroy, r->be);
}

dfi_err
dfi_registry_close(dfi_registry *r, char *why, size_t cap)
{
	if (why != NULL && cap > 0)
		why[0] = '\0';
	if (r == NULL)
		return DFI_OK;
	dfi_err e = r->ops->drain != NULL ? r->ops->drain(r->be) : DFI_OK;
	if (e != DFI_OK)
		dfi_registry_last_error(r, why, cap);
	dfi_registry_free(r);
	return e;
}

void
dfi_registry_abandon(dfi_registry *r)
{
	if (r != NULL && r->ops->abandon != NULL)
		r->ops->abandon(r->be);
}

const char *
dfi_registry_backend(const dfi_registry *r)
{
	return r != NULL ? r->ops->name : "none";
}

static int
uid_ok(const uint8_t *uid, size_t len)
{
	return uid != NULL && len > 0 && len <= DFI_J_UID_MAX;
}

dfi_err
dfi_registry_claim(dfi_registry *r, const uint8_t *uid, size_t uid_len, const char *holder,
    unsigned lease_ms, dfi_reg_claim **out, char *who, size_t who_cap)
{
	if (out != NULL)
		*out = NULL;
	if (who != NULL && who_cap > 0)
		who[0] = '\0';
	if (r == NULL || out == NULL || !uid_ok(uid, uid_len) || holder == NULL ||
	    holder[0] == '\0' || strlen(holder) >= REG_HOLDER_MAX)
		return DFI_E_INVALID_ARG;
	/* no new card after a refused witnessing */
	dfi_err e = dfi_registry_witness_failed(r);
	if (e != DFI_OK)
		return e;
	dfi_reg_claim *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return DFI_E_NOMEM;
	e = r->ops->claim(r->be, uid, uid_len, holder, lease_ms, who, who_cap);
	if (e != DFI_OK) {
		free(c);
		return e;
	}
	c->r = r;
	memcpy(c->uid, uid, uid_len);
	c->uid_len = uid_len;
	memcpy(c->holder, holder, strlen(holder) + 1);
	*out = c;
	return DFI_OK;
}

dfi_err
dfi_registry_renew(dfi_reg_claim *c, unsigned lease_ms)
{
	if (c == NULL)
		return DFI_E_INVALID_ARG;
	return c->r->ops->renew(c->r->be, c->uid, c->uid_len, c->holder, lease_ms);
}

void
dfi_registry_release(dfi_reg_claim *c)
{
	if (c == NULL)
		return;
	c->r->ops->release(c->r->be, c->uid, c->uid_len, c->holder);
	free(c);
}

dfi_err
dfi_registry_lookup(dfi_registry *r, const uint8_t *uid, size_t uid_len, struct dfi_reg_card *out,
    const struct dfi_reg_visit *visit)
{
	static const struct dfi_reg_visit none;
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (r == NULL || out == NULL || !uid_ok(uid, uid_len))
		return DFI_E_INVALID_ARG;
	return r->ops->lookup(r->be, uid, uid_len, out, visit != NULL ? visit : &none);
}

dfi_err
dfi_registry_journaled(dfi_registry *r, const dfi_jrec *recs, size_t n)
{
	if (r == NULL || (recs == NULL && n > 0))
		return DFI_E_INVALID_ARG;
	/* no key change announced after a refused witnessing */
	dfi_err e = dfi_registry_witness_failed(r);
	if (e != DFI_OK)
		return e;
	return n == 0 ? DFI_OK : r->ops->journaled(r->be, recs, n);
}

dfi_err
dfi_registry_witness(dfi_registry *r, const uint8_t *note, size_t len)
{
	if (r == NULL || note == NULL || len == 0 || len > DFI_J_NOTE_MAX)
		return DFI_E_INVALID_ARG;
	return r->ops->witness(r->be, note, len);
}

dfi_err
dfi_registry_witness_async(dfi_registry *r, const uint8_t *note, size_t len)
{
	if (r == NULL || note == NULL || len == 0 || len > DFI_J_NOTE_MAX)
		return DFI_E_INVALID_ARG;
	return r->ops->witness_async != NULL ? r->ops->witness_async(r->be, note, len) : r->ops->witness(r->be, note, len);
}

dfi_err
dfi_registry_witness_failed(dfi_registry *r)
{
	if (r == NULL)
		return DFI_E_INVALID_ARG;
	return r->ops->witness_failed != NULL ? r->ops->witness_failed(r->be) : DFI_OK;
}

void
dfi_registry_last_error(dfi_registry *r, char *buf, size_t cap)
{
	if (buf == NULL || cap == 0)
		return;
	buf[0] = '\0';
	if (r != NULL && r->ops->last_error != NULL)
		r->ops->last_error(r->be, buf, cap);
}
